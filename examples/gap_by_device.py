"""Where does a policy lose (or win) against another? The return gap split by device and task type.

    python examples/gap_by_device.py runs/hppo                      # against the optimizer
    python examples/gap_by_device.py runs/hppo --against greedy --episodes 32

The return of an episode is the sum over slots of the mean utility of the devices with a task, so it splits
exactly into per-device parts: device n contributes ``sum_t u_n,t / K_t`` (``K_t`` devices with a task in slot
t). Both policies play the same episodes (channels, loads and tasks depend on the seed only), so the
per-device difference of these parts is paired. For each device and task type the table gives that
difference (with a 95% interval over the episodes), and each policy's deadline miss rate, mean latency,
offload share and the share of its slots that start with work queued on the device; the last lines give how
often the edge had work queued. By default the episodes run on the validation seeds (1,000,000 on), not on
the evaluation seeds, so that looking at the gap does not tune anything to the evaluation episodes.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import mcia
from mcia.evaluation import resolve_policy, t95

TYPES = ((1, "AS"), (2, "LS"))


def play(policy: str, config: mcia.Config, episodes: int, seed: int):
    """``(name, records)`` of ``policy`` on ``episodes`` episodes from seed ``seed``: the step info's per-device
    arrays (T, E, N), ``edge_backlog_s`` (T, E) and the rewards ``reward`` (T, E)."""
    name, act = resolve_policy(policy, config, seed=seed)
    venv = mcia.MciaVectorEnv(episodes, config, num_threads=1, info=True, copy=True)
    obs, _ = venv.reset(seed=seed)
    keys = ("task_type", "utility", "latency", "deadline_met", "partition", "backlog_s")
    rec = {k: [] for k in keys + ("edge_backlog_s", "reward")}
    slots = config["time"]["episode_slots"]
    for _ in range(slots):
        obs, reward, _, trunc, info = venv.step(act(venv, obs))
        src = info.get("final_info", info) if trunc.any() else info  # the last slot (SAME_STEP autoreset moves it)
        for k in keys + ("edge_backlog_s",):
            rec[k].append(np.asarray(src[k]))
        rec["reward"].append(np.asarray(reward, np.float64))
    return name, {k: np.stack(v) for k, v in rec.items()}


def device_parts(r) -> np.ndarray:
    """Each device's part of each episode's return, (E, N)."""
    has = r["task_type"] > 0
    k = np.maximum(has.sum(-1, keepdims=True), 1)
    return (np.where(has, np.nan_to_num(r["utility"]), 0.0) / k).sum(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policy", help="a checkpoint directory (mcia train) or a built-in policy name")
    ap.add_argument("--against", default="optimizer", help="the policy to compare with (default: optimizer)")
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1_000_000, help="first seed (default: the validation seeds)")
    ap.add_argument("--config", default=None, help="scenario file (default: the checkpoint's scenario, else the default one)")
    args = ap.parse_args(argv)
    if args.episodes < 2:
        ap.error("--episodes must be at least 2 (the intervals need two episodes)")
    saved = os.path.join(args.policy, "config.json")
    config = mcia.Config(args.config if args.config or not os.path.exists(saved) else saved)
    name_a, a = play(args.policy, config, args.episodes, args.seed)
    name_b, b = play(args.against, config, args.episodes, args.seed)
    pa, pb = device_parts(a), device_parts(b)
    e = args.episodes
    half = t95(e - 1) / np.sqrt(e)
    ra, rb = pa.sum(1), pb.sum(1)
    d = ra - rb
    print(f"{name_a} against {name_b}: {e} episodes from seed {args.seed}; return {ra.mean():.2f} against {rb.mean():.2f}, "
          f"difference {d.mean():+.2f} [{d.mean() - half * d.std(ddof=1):+.2f}, {d.mean() + half * d.std(ddof=1):+.2f}]\n")
    print("| device | class | type | return part, difference (95% CI) | deadline missed | mean latency s | offloads | slots with a queue |")
    print("|---|---|---|---|---|---|---|---|")
    classes = config["devices"]["device_classes"]
    units = mcia.MciaVectorEnv(1, config, num_threads=1, info=False).num_units  # cut L: the device runs it all
    tasks = [np.maximum((r["task_type"] > 0).sum(-1), 1) for r in (a, b)]  # K_t per slot and episode
    for n, cls in enumerate(classes):
        for code, label in TYPES:
            parts = []
            stats = []
            for r, k in zip((a, b), tasks):
                m = r["task_type"][:, :, n] == code
                parts.append((np.where(m, np.nan_to_num(r["utility"][:, :, n]), 0.0) / k).sum(0))
                stats.append((1.0 - r["deadline_met"][:, :, n][m].mean(), r["latency"][:, :, n][m].mean(),
                              (r["partition"][:, :, n][m] < units).mean(), (r["backlog_s"][:, :, n][m] > 0).mean()))
            dd = parts[0] - parts[1]
            lo, hi = dd.mean() - half * dd.std(ddof=1), dd.mean() + half * dd.std(ddof=1)
            (ma, la, oa, qa), (mb, lb, ob, qb) = stats
            print(f"| {n} | {cls} | {label} | {dd.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] | {ma:.3f} / {mb:.3f} | {la:.3f} / {lb:.3f} "
                  f"| {oa:.2f} / {ob:.2f} | {qa:.2f} / {qb:.2f} |")
    print(f"\n(pairs are {name_a} / {name_b}.) Slots with work queued on the edge: {(a['edge_backlog_s'] > 0).mean():.3f} / "
          f"{(b['edge_backlog_s'] > 0).mean():.3f}; on any device: {(a['backlog_s'] > 0).mean():.3f} / {(b['backlog_s'] > 0).mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
