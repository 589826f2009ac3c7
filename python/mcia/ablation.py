"""The decision ablation of SPEC section 7: what each decision dimension is worth.

Each dimension (version, cut, bandwidth, compute) is frozen in turn in the Rust greedy and optimizer
(:data:`mcia.policies.FREEZE_DIMENSIONS`):

- ``version``: one version per task type, the static table's most used one;
- ``cut``: cuts restricted to {0, L} (all on the edge or all on the device);
- ``bandwidth`` / ``compute``: equal bandwidth / edge-compute shares among the offloading devices;
- ``cloud`` (``MCIA-Cloud-v0`` only): the second cut frozen at L, nothing runs in the cloud.

The loss of a dimension is the free policy's return minus the restricted policy's, episode by episode on the
same seeds (a paired difference), reported with its 95% interval and as a share of the random-to-optimizer
range.

>>> res = mcia.ablate(episodes=20)            # the optimizer and greedy on the default scenario
>>> print(res.table()); res.save("out/"); res.plot("out/ablation.png")
>>> sw = mcia.ablate_sweep("bandwidth_mhz", [1, 2, 5])
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .config import ConfigLike, as_config
from .evaluation import EvalResult, anchor_returns, evaluate, t95, write_csv
from .policies import CLOUD_DIMENSION, FREEZE_DIMENSIONS, RustPolicy, freeze_dimensions_for

#: Policies with restricted variants.
ABLATABLE = ("optimizer", "greedy")


@dataclass
class AblationRow:
    """The value of one decision dimension to one policy."""

    policy: str
    dimension: str
    #: Mean return of the free policy and of the restricted one.
    base_return: float
    frozen_return: float
    #: Mean paired loss (free minus frozen) and its 95% half-width.
    loss: float
    loss_ci95: float
    #: The loss as a share of the random-to-optimizer range, and its 95% half-width.
    share: float
    share_ci95: float

    @property
    def significant(self) -> bool:
        """Whether the 95% interval of the loss lies above zero."""
        return self.loss - self.loss_ci95 > 0


@dataclass
class AblationResult:
    """The ablation of every dimension for every policy on one scenario."""

    rows: List[AblationRow]
    episodes: int
    seed: int
    random_return: float
    optimizer_return: float
    base: Dict[str, EvalResult]

    def table(self) -> str:
        """Markdown table: per policy and dimension, the return lost and its share of the range."""
        lines = ["| policy | frozen | return | return lost (95% CI) | share of random-to-optimizer range (95% CI) |", "|---|---|---|---|---|"]
        for p in dict.fromkeys(r.policy for r in self.rows):
            lines.append(f"| {p} | nothing | {self.base[p].mean_return:.2f} | | |")
            for r in (r for r in self.rows if r.policy == p):
                lines.append(f"| {p} | {r.dimension} | {r.frozen_return:.2f} | {r.loss:.2f} ± {r.loss_ci95:.2f} | {100 * r.share:.2f}% ± {100 * r.share_ci95:.2f}% |")
        return "\n".join(lines)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict."""
        return {
            "episodes": self.episodes,
            "seed": self.seed,
            "random_return": self.random_return,
            "optimizer_return": self.optimizer_return,
            "rows": [asdict(r) for r in self.rows],
        }

    def save(self, out_dir: str) -> List[str]:
        """Writes ``ablation.json`` and ``ablation.csv``; returns the paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, "ablation.json"), os.path.join(out_dir, "ablation.csv")]
        with open(paths[0], "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        write_csv(paths[1], [asdict(r) for r in self.rows])
        return paths

    def plot(self, path: str) -> str:
        """Bars of the share of the range lost per dimension, one group per policy, with 95% intervals."""
        # A bare Figure (no pyplot) leaves the user's backend alone, e.g. inline plots in notebooks.
        from matplotlib.figure import Figure

        policies = list(dict.fromkeys(r.policy for r in self.rows))
        dims = list(dict.fromkeys(r.dimension for r in self.rows))
        x = np.arange(len(dims))
        width = 0.8 / max(len(policies), 1)
        fig = Figure(figsize=(7, 3.6))
        ax = fig.subplots()
        for j, p in enumerate(policies):
            rows = {r.dimension: r for r in self.rows if r.policy == p}
            ax.bar(x + (j - (len(policies) - 1) / 2) * width, [100 * rows[d].share for d in dims], width,
                   yerr=[100 * rows[d].share_ci95 for d in dims], capsize=3, label=p)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, [f"{d} frozen" for d in dims])
        ax.set_ylabel("return lost, % of random-to-optimizer range")
        ax.set_title(f"Decision ablation, {self.episodes} paired episodes (95% intervals)", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        fig.savefig(path, dpi=110)
        return path


def _paired(base: np.ndarray, frozen: np.ndarray) -> tuple:
    diff = base - frozen
    n = len(diff)
    half = t95(n - 1) * float(diff.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return float(diff.mean()), half


def ablate(
    config: ConfigLike = None,
    episodes: int = 20,
    seed: int = 0,
    policies: Sequence[str] = ABLATABLE,
    dimensions: Optional[Sequence[str]] = None,
    num_threads: Optional[int] = None,
    progress: bool = False,
) -> AblationResult:
    """Freezes each decision dimension of each policy in turn and measures the return lost (module docs).

    Args:
        config: the scenario.
        episodes: paired evaluation episodes (episode i on seed ``seed + i``).
        seed: first evaluation seed.
        policies: policies with restricted variants (:data:`ABLATABLE`).
        dimensions: dimensions to freeze (default: every dimension of the scenario,
            :func:`mcia.policies.freeze_dimensions_for`; ``cloud`` only with the cloud tier).
        num_threads: Rust threads.
        progress: show a progress bar.
    """
    cfg = as_config(config)
    bad = [p for p in policies if p not in ABLATABLE]
    if bad:
        raise ValueError(f"ablate: only {list(ABLATABLE)} have restricted variants, got {bad}")
    allowed = freeze_dimensions_for(cfg)
    dimensions = list(allowed if dimensions is None else dimensions)
    bad = [d for d in dimensions if d not in allowed]
    if bad:
        hint = f" ({CLOUD_DIMENSION!r} needs the cloud tier)" if CLOUD_DIMENSION in bad else ""
        raise ValueError(f"ablate: unknown dimension(s) {bad}; choose from {list(allowed)}{hint}")
    if episodes < 2:
        raise ValueError(f"ablate: needs at least 2 episodes for an interval, got {episodes}")
    anchors = anchor_returns(cfg, episodes, seed, num_threads)
    span = anchors["optimizer"] - anchors["random"]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(policies) * (len(dimensions) + 1), desc="ablate", leave=False)
    rows: List[AblationRow] = []
    base: Dict[str, EvalResult] = {}
    for p in policies:
        base[p] = evaluate(p, cfg, episodes, seed, num_threads, scores=False)
        if bar is not None:
            bar.update(1)
        for d in dimensions:
            frozen = evaluate(RustPolicy(p, cfg, freeze=[d]), cfg, episodes, seed, num_threads, scores=False)
            loss, half = _paired(base[p].episode_returns, frozen.episode_returns)
            rows.append(AblationRow(p, d, base[p].mean_return, frozen.mean_return, loss, half, loss / span, half / abs(span)))
            if bar is not None:
                bar.set_postfix_str(f"{p} {d}")
                bar.update(1)
    if bar is not None:
        bar.close()
    return AblationResult(rows, episodes, seed, anchors["random"], anchors["optimizer"], base)


@dataclass
class AblationSweep:
    """Ablations across the values of one scenario parameter."""

    param: str
    values: List[Any]
    results: List[AblationResult]

    def table(self) -> str:
        """Share of the range lost, per value (rows) and policy / dimension (columns)."""
        cols = [(r.policy, r.dimension) for r in self.results[0].rows]
        head = f"| {self.param} | " + " | ".join(f"{p} {d}" for p, d in cols) + " |"
        lines = [head, "|" + "---|" * (len(cols) + 1)]
        for v, res in zip(self.values, self.results):
            cells = [f"{100 * r.share:.1f}% ± {100 * r.share_ci95:.1f}" for r in res.rows]
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dict(self) -> Dict[str, Any]:
        return {"param": self.param, "values": self.values, "results": [r.to_dict() for r in self.results]}

    def save(self, out_dir: str) -> List[str]:
        """Writes ``ablation_sweep.json`` and ``ablation_sweep.csv``."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, "ablation_sweep.json"), os.path.join(out_dir, "ablation_sweep.csv")]
        with open(paths[0], "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        write_csv(paths[1], [dict(asdict(r), param=self.param, value=v) for v, res in zip(self.values, self.results) for r in res.rows])
        return paths

    def plot(self, path: str) -> str:
        """One panel per policy: the share of the range each frozen dimension loses against the parameter."""
        from matplotlib.figure import Figure

        from .sweep import SHORTCUTS

        policies = list(dict.fromkeys(r.policy for r in self.results[0].rows))
        numeric = all(isinstance(v, (int, float)) for v in self.values)
        xs = np.array(self.values, dtype=float) if numeric else np.arange(len(self.values))
        fig = Figure(figsize=(5.5 * len(policies), 3.8))
        axes = np.atleast_1d(fig.subplots(1, len(policies)))
        for ax, p in zip(axes, policies):
            for d in dict.fromkeys(r.dimension for r in self.results[0].rows):
                rows = [next(r for r in res.rows if r.policy == p and r.dimension == d) for res in self.results]
                ax.errorbar(xs, [100 * r.share for r in rows], yerr=[100 * r.share_ci95 for r in rows], marker="o", capsize=3, label=f"{d} frozen")
            ax.axhline(0, color="black", linewidth=0.8)
            ax.set_xlabel(SHORTCUTS.get(self.param, self.param))
            ax.set_ylabel("% of random-to-optimizer range lost")
            ax.set_title(p, fontsize=10)
            if not numeric:
                ax.set_xticks(xs, [str(v) for v in self.values])
            ax.legend(fontsize=7)
        fig.tight_layout()
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        fig.savefig(path, dpi=110)
        return path


def ablate_sweep(
    param: str,
    values: Sequence[Any],
    config: ConfigLike = None,
    episodes: int = 20,
    seed: int = 0,
    policies: Sequence[str] = ABLATABLE,
    dimensions: Optional[Sequence[str]] = None,
    num_threads: Optional[int] = None,
    progress: bool = False,
) -> AblationSweep:
    """:func:`ablate` at every value of ``param`` (a dotted config path or a :mod:`mcia.sweep` shortcut)."""
    from .sweep import apply_param

    if not values:
        raise ValueError("ablate_sweep: values must not be empty")
    base = as_config(config)
    configs = [apply_param(base, param, v) for v in values]  # validates every point before any work
    results = []
    for v, cfg in zip(values, configs):
        if progress:
            print(f"ablate {param} = {v}", flush=True)
        results.append(ablate(cfg, episodes, seed, policies, dimensions, num_threads, progress))
    return AblationSweep(param, list(values), results)


__all__ = ["ABLATABLE", "AblationResult", "AblationRow", "AblationSweep", "ablate", "ablate_sweep"]
