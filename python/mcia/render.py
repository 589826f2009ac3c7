"""Rendering of one slot: a text table (``"ansi"``) and a matplotlib picture (``"rgb_array"``)."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

_TASK = {0: "-", 1: "AS", 2: "LS"}


def _rows(info: Dict[str, Any], obs: np.ndarray, n: int, version_names) -> list:
    rows = []
    for k in range(n):
        task = int(info["task_type"][k])
        has = task != 0 and int(info["version"][k]) >= 0
        gain_db = 10.0 * np.log10(max(float(info["channel_gain"][k]), 1e-300))
        rows.append(
            {
                "dev": k,
                "task": _TASK.get(task, "?"),
                "gain_db": gain_db,
                "gflops": float(info["device_flops"][k]) / 1e9,
                "backlog": float(info["backlog_s"][k]),
                "version": version_names[int(info["version"][k])] if has else "-",
                "cut": int(info["partition"][k]) if has else None,
                "bw": float(info["bandwidth_share"][k]) if has else float("nan"),
                "cpu": float(info["compute_share"][k]) if has else float("nan"),
                "latency": float(info["latency"][k]) if has else float("nan"),
                "utility": float(info["utility"][k]) if has else float("nan"),
                "met": int(info["deadline_met"][k]) if has else None,
            }
        )
    return rows


def _table(t: int, reward, info: Dict[str, Any], obs: np.ndarray, n: int, version_names) -> str:
    head = f"slot {t}" + ("" if reward is None else f"  reward {reward:+.3f}") + f"  edge {float(info['edge_flops']) / 1e9:.1f} GFLOP/s"
    lines = [head, "dev task  gain-dB  dev-GFLOP/s backlog-s  version   cut   bw    cpu   latency-s  utility  deadline"]
    for r in _rows(info, obs, n, version_names):
        cut = "-" if r["cut"] is None else str(r["cut"])
        met = "-" if r["met"] is None else ("met" if r["met"] else "MISSED")
        lines.append(
            f"{r['dev']:>3} {r['task']:<4} {r['gain_db']:>8.1f} {r['gflops']:>11.2f} {r['backlog']:>9.3f}  {r['version']:<9} {cut:>3} "
            f"{r['bw']:>5.2f} {r['cpu']:>5.2f} {r['latency']:>10.4f} {r['utility']:>8.3f}  {met}"
        )
    return "\n".join(lines) + "\n"


def ansi(env: Any) -> str:
    """The last slot of a :class:`mcia.MciaEnv` as a text table (per device: task, channel, compute,
    backlog, version, cut, shares, latency, utility, deadline)."""
    last = env._last
    if not last:
        return "(reset the environment first)\n"
    names = env.config["zoo"]["versions"]
    return _table(env.t, last["reward"], last["info"], last["obs"], env.num_devices, names)


def vector_ansi(venv: Any) -> str:
    """Environment 0 of a :class:`mcia.MciaVectorEnv` as a text table."""
    if not venv.with_info:
        return "(info is off: create the vector env with info=True to render)\n"
    last = venv._core.last_outputs()
    if last is None:
        return "(reset the environment first)\n"
    obs, rewards, _, _, info = last
    info = {k: v[0] for k, v in info.items()}
    names = venv.config["zoo"]["versions"]
    return _table(-1, float(rewards[0]), info, obs[0], venv.num_devices, names)


def rgb_array(env: Any) -> np.ndarray:
    """The last slot as an RGB image ``(H, W, 3)`` uint8: per-device latency terms against the deadline,
    the chosen cut, and the shares."""
    # A bare Figure on an Agg canvas: no pyplot state, the user's backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    last = env._last
    n = env.num_devices
    fig = Figure(figsize=(8, 3.2), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    if last:
        info = last["info"]
        x = np.arange(n)
        bottom = np.zeros(n)
        for key, color in (("t_wait", "#999999"), ("t_local", "#4c72b0"), ("t_tx", "#dd8452"), ("t_edge", "#55a868")):
            vals = np.nan_to_num(np.asarray(info[key], dtype=float))
            axes[0].bar(x, vals, bottom=bottom, color=color, label=key[2:])
            bottom += vals
        taus = np.where(info["task_type"] == 1, env.config["tasks"]["accuracy_sensitive"]["deadline_s"],
                        np.where(info["task_type"] == 2, env.config["tasks"]["latency_sensitive"]["deadline_s"], np.nan))
        axes[0].scatter(x, taus, marker="_", s=400, color="red", label="deadline")
        axes[0].set_xticks(x, [f"{k}\n{_TASK[int(t)]}" for k, t in enumerate(info["task_type"])])
        axes[0].set_ylabel("latency (s)")
        axes[0].legend(fontsize=6, loc="upper right")
        title = f"slot {env.t}" + ("" if last["reward"] is None else f", reward {last['reward']:+.3f}")
        axes[0].set_title(title, fontsize=9)
        w = 0.4
        axes[1].bar(x - w / 2, np.nan_to_num(np.asarray(info["bandwidth_share"], float)), w, label="bandwidth")
        axes[1].bar(x + w / 2, np.nan_to_num(np.asarray(info["compute_share"], float)), w, label="edge compute")
        for k in range(n):
            if info["partition"][k] >= 0:
                axes[1].annotate(f"cut {int(info['partition'][k])}\nv{int(info['version'][k])}", (k, 0.02), ha="center", fontsize=6)
        axes[1].set_ylim(0, 1)
        axes[1].set_xticks(x)
        axes[1].set_title("shares", fontsize=9)
        axes[1].legend(fontsize=6)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    return img
