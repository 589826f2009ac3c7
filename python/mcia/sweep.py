"""Parameter sweeps of the paper's kind: how every policy fares as one scenario parameter changes.

>>> res = mcia.sweep("radio.bandwidth_hz", [2e6, 5e6, 10e6, 20e6], ["greedy", "optimizer"], episodes=5)
>>> res.save("out/"); res.plot("out/")

``param`` is a dotted config path (``radio.bandwidth_hz``, ``edge.edge_gflops``, ``tasks.as_ratio``,
``devices.device_classes``, ...) or one of the shortcuts:

- ``num_devices``: N devices in the default mix (a fifth Pi Zero 2 W, two fifths Pi 4, a fifth Pi 5, a fifth
  N100; :func:`mix_classes`), so that N = 10 is the default scenario;
- ``bandwidth_mhz``: ``radio.bandwidth_hz`` in MHz;
- ``heterogeneity``: 0 gives N identical pi4-class devices, 1 the default spread (pi_zero_2w .. n100); in
  between, each device's GFLOPS is interpolated geometrically between the two (same total order).

Every point is evaluated on the same seeds for every policy (paired), with :func:`mcia.evaluate`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

from .config import Config, ConfigLike, as_config
from .evaluation import PolicyLike, evaluate, policy_label, write_csv

#: The default device mix: the share of each class among the devices (SPEC section 3: 2, 4, 2, 2 of 10).
DEFAULT_MIX = (("pi_zero_2w", 0.2), ("pi4", 0.4), ("pi5", 0.2), ("n100", 0.2))


def mix_classes(n: int) -> list:
    """N devices in the default mix, grouped by class in the default order: counts by largest remainder, so
    N = 10 is the default scenario's list and N = 5 the revision-1 one."""
    exact = [share * n for _, share in DEFAULT_MIX]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))[: n - sum(counts)]:
        counts[i] += 1
    return [name for (name, _), c in zip(DEFAULT_MIX, counts) for _ in range(c)]
SHORTCUTS = {
    "num_devices": "number of devices N",
    "bandwidth_mhz": "uplink bandwidth (MHz)",
    "heterogeneity": "device heterogeneity (0 identical .. 1 default spread)",
}


def apply_param(config: Config, param: str, value: Any) -> Config:
    """The scenario with ``param`` set to ``value`` (shortcuts included)."""
    if param == "num_devices":
        n = int(value)
        if n < 1:
            raise ValueError(f"num_devices must be >= 1, got {value}")
        return config.replace({"devices.device_classes": mix_classes(n)})
    if param == "bandwidth_mhz":
        return config.replace({"radio.bandwidth_hz": float(value) * 1e6})
    if param == "heterogeneity":
        h = float(value)
        if not 0.0 <= h <= 1.0:
            raise ValueError(f"heterogeneity must be in [0, 1], got {value}")
        catalog = config["devices"]["class_gflops"]
        classes = config["devices"]["device_classes"]
        mid = catalog["pi4"]
        mixed = {f"h{h:g}_{i}": mid ** (1 - h) * catalog[c] ** h for i, c in enumerate(classes)}
        return config.replace({"devices": {"device_classes": list(mixed), "class_gflops": {**catalog, **mixed}}})
    return config.replace({param: value})


def parse_value(text: str) -> Any:
    """A command-line value: JSON if it parses (numbers, lists), a comma-separated list of names if it has
    commas, else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text.split(",") if "," in text else text


@dataclass
class SweepResult:
    """Rows of (value, policy, metrics) with the choices each policy made."""

    param: str
    values: List[Any]
    policies: List[str]
    rows: List[Dict[str, Any]]
    version_names: List[List[str]]

    def table(self) -> str:
        """Mean reward per slot, policy by value."""
        head = f"| {self.param} | " + " | ".join(self.policies) + " |"
        lines = [head, "|" + "---|" * (len(self.policies) + 1)]
        for v in self.values:
            cells = [f"{r['mean_reward']:.3f}" for p in self.policies for r in self.rows if r["value_label"] == _label(v) and r["policy"] == p]
            lines.append(f"| {_label(v)} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def save(self, out_dir: str) -> List[str]:
        """Writes ``sweep.csv`` and ``sweep.json``."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, "sweep.csv"), os.path.join(out_dir, "sweep.json")]
        flat = [{k: v for k, v in r.items() if not isinstance(v, list)} for r in self.rows]
        write_csv(paths[0], flat)
        with open(paths[1], "w", encoding="utf-8") as f:
            json.dump({"param": self.param, "values": [_label(v) for v in self.values], "rows": self.rows}, f, indent=1)
        return paths

    def plot(self, out_dir: str, choices_of: str | None = None) -> List[str]:
        """Writes ``sweep_metrics.png`` (reward, latency, accuracy, deadline-met per task type against the
        parameter) and ``sweep_choices.png`` (versions chosen and mean cut of ``choices_of``, default the
        last policy)."""
        # A bare Figure (no pyplot) leaves the user's backend alone, e.g. inline plots in notebooks.
        from matplotlib.figure import Figure

        os.makedirs(out_dir, exist_ok=True)
        labels = [_label(v) for v in self.values]
        numeric = all(isinstance(v, (int, float)) for v in self.values)
        xs = np.array(self.values, dtype=float) if numeric else np.arange(len(self.values))
        panels = [("mean_reward", "mean reward per slot"), ("AS_latency_s", "AS latency (s)"), ("LS_latency_s", "LS latency (s)"),
                  ("AS_accuracy", "AS accuracy"), ("LS_accuracy", "LS accuracy"), ("AS_deadline_met", "AS deadline met"),
                  ("LS_deadline_met", "LS deadline met"), ("offload_ratio", "offload ratio")]
        fig = Figure(figsize=(16, 7))
        axes = fig.subplots(2, 4)
        for ax, (key, title) in zip(axes.ravel(), panels):
            for p in self.policies:
                ys = [next(r[key] for r in self.rows if r["policy"] == p and r["value_label"] == lab) for lab in labels]
                ax.plot(xs, ys, marker="o", label=p)
            if "latency" in key:
                ax.set_yscale("log")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(SHORTCUTS.get(self.param, self.param), fontsize=8)
            if not numeric:
                ax.set_xticks(xs, labels, rotation=30, ha="right", fontsize=7)
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"MCIA-v0 sweep over {self.param}", fontsize=12)
        fig.tight_layout()
        metrics = os.path.join(out_dir, "sweep_metrics.png")
        fig.savefig(metrics, dpi=100)

        who = choices_of or self.policies[-1]
        mine = [next(r for r in self.rows if r["policy"] == who and r["value_label"] == lab) for lab in labels]
        fig = Figure(figsize=(11, 4))
        a1, a2 = fig.subplots(1, 2)
        width = float(np.min(np.diff(np.sort(xs)))) * 0.6 if len(xs) > 1 and numeric else 0.6
        bottom = np.zeros(len(xs))
        names = self.version_names[0]
        for j, name in enumerate(names):
            share = np.array([r["version_share"][j] if j < len(r["version_share"]) else 0.0 for r in mine])
            a1.bar(xs, share, width, bottom=bottom, label=name)
            bottom += share
        a1.set_title(f"versions chosen by {who}", fontsize=10)
        a1.set_ylabel("share of tasks")
        a1.legend(fontsize=7)
        a2.plot(xs, [r["mean_cut"] for r in mine], marker="o", label="mean cut p")
        a2.plot(xs, [r["offload_ratio"] * r["num_units"] for r in mine], marker="s", linestyle="--", label="offload ratio x L")
        a2.set_title(f"cuts chosen by {who}", fontsize=10)
        a2.legend(fontsize=7)
        for ax in (a1, a2):
            ax.set_xlabel(SHORTCUTS.get(self.param, self.param), fontsize=8)
            if not numeric:
                ax.set_xticks(xs, labels, rotation=30, ha="right", fontsize=7)
        fig.tight_layout()
        choices = os.path.join(out_dir, "sweep_choices.png")
        fig.savefig(choices, dpi=100)
        return [metrics, choices]


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def sweep(
    param: str,
    values: Sequence[Any],
    policies: Sequence[PolicyLike] = ("random", "neurosurgeon", "greedy", "optimizer"),
    config: ConfigLike = None,
    episodes: int = 10,
    seed: int = 0,
    num_threads: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Evaluates every policy at every value of ``param`` on the same seeds."""
    if not values:
        raise ValueError("values must not be empty")
    base = as_config(config)
    configs = [apply_param(base, param, v) for v in values]  # validates every point before any work
    names = [policy_label(p) for p in policies]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(values) * len(policies), desc=f"sweep {param}", leave=False)
    rows: List[Dict[str, Any]] = []
    for v, cfg in zip(values, configs):
        for p, name in zip(policies, names):
            r = evaluate(p, cfg, episodes=episodes, seed=seed, num_threads=num_threads, name=name)
            tasks = max(int(r.version_hist.sum()), 1)
            l = len(r.cut_hist) - 1
            row: Dict[str, Any] = {"param": param, "value_label": _label(v), "value": v if not isinstance(v, list) else _label(v), "num_units": l}
            row.update(r.summary_row())
            row["version_share"] = (r.version_hist / tasks).tolist()
            row["cut_hist"] = r.cut_hist.tolist()
            row["mean_cut"] = float((np.arange(l + 1) * r.cut_hist).sum() / tasks)
            rows.append(row)
            if bar is not None:
                bar.set_postfix_str(f"{_label(v)} {name}")
                bar.update(1)
    if bar is not None:
        bar.close()
    return SweepResult(param, list(values), names, rows, [list(c["zoo"]["versions"]) for c in configs])


__all__ = ["sweep", "SweepResult", "apply_param", "parse_value", "SHORTCUTS"]
