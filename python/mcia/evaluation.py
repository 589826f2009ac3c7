"""The evaluation harness: :func:`evaluate` one policy and :func:`compare` several on the same seeds.

Every policy is evaluated on the same fixed seeds: episode i runs environment ``seed + i``. The exogenous
processes (channels, loads, tasks) of an environment depend on its seed alone, never on the actions, so
two policies face exactly the same slots and their per-episode returns are paired.

Two scores of SPEC section 7 place a policy between anchors evaluated on the same seeds:

- the normalised score ``(U - U_random) / (U_optimizer - U_random)`` (random 0, optimizer 1);
- the adaptivity score ``(U - U_static) / (U_optimizer - U_static)``: the share of what adapting to the
  state is worth that a policy captures (the non-adaptive ``static`` table 0, the optimizer 1; a policy that
  plans ahead can exceed 1).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._core import ActionError
from .config import Config, ConfigLike, as_config
from .policies import RustPolicy, names_for
from .queue_relief import teacher_names, teacher_policy
from .vector import MciaVectorEnv

#: Suffix of a checkpoint directory or built-in policy named as a policy: its (version, cut) with the
#: optimizer's shares (:class:`mcia.agents.SolverShares`).
SHARES_SUFFIX = "+shares"

PolicyLike = Union[str, Callable[[np.ndarray], Dict[str, np.ndarray]], RustPolicy, Any]

TASK_TYPES = {1: "AS", 2: "LS"}

# Two-sided 95% Student-t quantiles for small samples (df = n - 1); the normal 1.96 beyond.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    """Two-sided 95% Student-t quantile (the next tabulated df at or below ``df``)."""
    if df < 1:
        return float("nan")
    keys = [k for k in sorted(_T95) if k <= df]
    return _T95[keys[-1]] if df <= 120 else 1.96


@dataclass
class TypeMetrics:
    """Outcome of one task type over all evaluated slots."""

    tasks: int
    latency_s: float
    accuracy: float
    utility: float
    deadline_met: float
    accuracy_met: float
    #: Share of the type's tasks that ran a tail in the cloud (second cut below L; NaN without the cloud tier).
    cloud: float = float("nan")


@dataclass
class EvalResult:
    """What :func:`evaluate` measures. ``episode_returns[i]`` is the return of the episode on seed ``seeds[i]``."""

    policy: str
    episodes: int
    seeds: List[int]
    episode_returns: np.ndarray
    mean_return: float
    ci95: float
    mean_reward: float
    per_type: Dict[str, TypeMetrics]
    offload_ratio: float
    version_hist: np.ndarray
    cut_hist: np.ndarray
    wall_s: float
    decisions_per_s: float
    version_names: List[str] = field(default_factory=list)
    #: Normalised score on the same seeds (NaN when the anchors were not evaluated).
    score: float = float("nan")
    #: Adaptivity score on the same seeds (NaN when the anchors were not evaluated).
    adaptivity: float = float("nan")
    #: Share of tasks that used the cloud (NaN without the cloud tier).
    cloud_ratio: float = float("nan")

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready dict of every metric."""
        d = asdict(self)
        d["episode_returns"] = self.episode_returns.tolist()
        d["version_hist"] = self.version_hist.tolist()
        d["cut_hist"] = self.cut_hist.tolist()
        return d

    def summary_row(self) -> Dict[str, Any]:
        """One flat row (for tables and CSV)."""
        row: Dict[str, Any] = {"policy": self.policy, "mean_return": self.mean_return, "ci95": self.ci95, "score": self.score,
                               "adaptivity": self.adaptivity, "mean_reward": self.mean_reward, "offload_ratio": self.offload_ratio,
                               "cloud_ratio": self.cloud_ratio}
        for t, m in self.per_type.items():
            for k in ("latency_s", "accuracy", "utility", "deadline_met", "accuracy_met", "cloud"):
                row[f"{t}_{k}"] = getattr(m, k)
        return row

    def table(self) -> str:
        """A readable report."""
        lines = [f"policy {self.policy}: {self.episodes} episodes, seeds {self.seeds[0]}..{self.seeds[-1]}",
                 f"  return {self.mean_return:.3f} +- {self.ci95:.3f} (95% CI), reward per slot {self.mean_reward:.4f}, offload ratio {self.offload_ratio:.2f}",
                 f"  normalised score {self.score:.3f} (random 0, optimizer 1), adaptivity {self.adaptivity:.3f} (static 0, optimizer 1)",
                 f"  {'type':<4} {'tasks':>7} {'latency s':>10} {'accuracy':>9} {'utility':>8} {'deadline':>9} {'acc. met':>9}"]
        for t, m in self.per_type.items():
            lines.append(f"  {t:<4} {m.tasks:>7} {m.latency_s:>10.4f} {m.accuracy:>9.4f} {m.utility:>8.4f} {m.deadline_met:>9.3f} {m.accuracy_met:>9.3f}")
        vh = ", ".join(f"{n}: {c}" for n, c in zip(self.version_names, self.version_hist.tolist()))
        lines.append(f"  versions chosen: {vh}")
        lines.append(f"  cuts chosen (p = 0..L): {self.cut_hist.tolist()}")
        return "\n".join(lines)


def split_shares(policy: str) -> Tuple[str, bool]:
    """A policy name as ``(policy, with the optimizer's shares)``: ``NAME+shares`` for a built-in policy or a
    checkpoint directory NAME gives ``(NAME, True)``; anything else, a directory whose own name ends in
    ``+shares`` included, is itself."""
    base = policy[: -len(SHARES_SUFFIX)]
    if policy.endswith(SHARES_SUFFIX) and (base in teacher_names() or os.path.isdir(base)):
        return base, True
    return policy, False


def policy_label(policy: PolicyLike) -> str:
    """The name a policy argument gets in tables, without loading anything: a checkpoint directory's base
    name (with ``+shares`` kept), a built-in name as is, a callable's ``name``."""
    if isinstance(policy, str):
        base, shares = split_shares(policy)
        return os.path.basename(os.path.normpath(base)) + (SHARES_SUFFIX if shares else "") if os.path.isdir(base) else policy
    return str(getattr(policy, "name", None) or getattr(policy, "__name__", None) or type(policy).__name__)


def resolve_policy(policy: PolicyLike, config: Config, seed: int = 0):
    """Turns a policy argument into ``(name, act)`` where ``act(venv, obs) -> action dict``.

    A policy is a built-in name (or ``optimizer+relief``), a :class:`RustPolicy`, a checkpoint directory of
    ``mcia train``, either with ``+shares`` appended (its version and cut with the optimizer's shares:
    :class:`mcia.agents.SolverShares`), an object with ``act_with_state(venv, obs)``, or a
    batched callable ``obs -> action``."""
    if isinstance(policy, RustPolicy):
        return policy.name, lambda venv, obs: policy(venv)
    if hasattr(policy, "act_with_state"):  # a policy of the env's state and the observation
        return str(getattr(policy, "name", type(policy).__name__)), policy.act_with_state
    if isinstance(policy, str):
        if policy in teacher_names():  # the built-in policies and optimizer+relief
            rp = teacher_policy(policy, config, seed=seed)
            return policy, lambda venv, obs: rp(venv)
        base, shares = split_shares(policy)
        if base in teacher_names():  # a built-in policy's decisions, with the optimizer's shares
            inner: Any = teacher_policy(base, config, seed=seed)
        elif os.path.isdir(base):
            from .agents import load_agent  # trained agents (mcia train)

            inner = load_agent(base)
            # an agent trained with share_solver plays with the optimizer's shares, whether named so or not
            shares = shares or bool(getattr(getattr(inner, "params", None), "share_solver", False))
        else:
            raise ValueError(f"unknown policy {policy!r}: not one of {list(teacher_names())} nor a checkpoint directory "
                             f"(either may end in {SHARES_SUFFIX!r} for the optimizer's shares)")
        if not shares:
            return policy_label(policy), lambda venv, obs: inner.act(obs, deterministic=True)
        from .agents.solver_shares import SolverShares

        wrapped = SolverShares(inner, config, name=policy_label(policy))
        return wrapped.name, wrapped.act_with_state
    if callable(policy):
        name = policy_label(policy)
        return name, lambda venv, obs: _checked_batch(name, policy(obs), venv)
    raise TypeError(f"policy must be a name, a callable obs -> action, or a checkpoint directory; got {type(policy).__name__}")


def _checked_batch(name: str, action: Any, venv) -> Any:
    """A batched callable's action, checked for shape so that a per-observation policy gets told what to do
    (the core would only say which field has the wrong number of dimensions)."""
    keys = list(venv.single_action_space.spaces)
    want = (venv.num_envs, venv.num_devices)
    if not isinstance(action, Mapping):
        raise ActionError(f"policy {name}: must return a dict action with keys {keys}, got {type(action).__name__}")
    for key in keys:
        if key in action:
            shape = np.shape(action[key])
            if shape != want:
                hint = (" It looks like a policy of one observation: wrap it with mcia.policies.per_env(fn)."
                        if shape == (venv.num_devices,) or len(shape) < 2 else "")
                raise ActionError(f"policy {name}: action field '{key}' has shape {shape}; a batched policy gets observations "
                                  f"(B, obs_dim) = {(venv.num_envs, venv.single_observation_space.shape[0])} and returns (B, N) = {want} per field.{hint}")
    return action


#: The policies the scores are measured against.
ANCHORS = ("random", "static", "optimizer")

_ANCHOR_MEMO: Dict[tuple, Dict[str, float]] = {}


def anchor_returns(config: ConfigLike = None, episodes: int = 20, seed: int = 0, num_threads: Optional[int] = None) -> Dict[str, float]:
    """Mean returns of the score anchors (:data:`ANCHORS`) on the given seeds (memoised per process)."""
    cfg = as_config(config)
    key = (cfg.to_json(), episodes, seed)
    if key not in _ANCHOR_MEMO:
        _ANCHOR_MEMO[key] = {a: evaluate(a, cfg, episodes, seed, num_threads, scores=False).mean_return for a in ANCHORS}
    return dict(_ANCHOR_MEMO[key])


def scores_of(mean_return: float, anchors: Dict[str, float]) -> tuple:
    """``(normalised score, adaptivity score)`` of a mean return against the anchors' mean returns."""
    lo, st, hi = anchors["random"], anchors["static"], anchors["optimizer"]
    score = (mean_return - lo) / (hi - lo) if hi != lo else float("nan")
    adapt = (mean_return - st) / (hi - st) if hi != st else float("nan")
    return score, adapt


def evaluate(
    policy: PolicyLike,
    config: ConfigLike = None,
    episodes: int = 20,
    seed: int = 0,
    num_threads: Optional[int] = None,
    progress: bool = False,
    name: Optional[str] = None,
    scores: bool = True,
) -> EvalResult:
    """Evaluates ``policy`` on ``episodes`` full episodes, episode i on seed ``seed + i``.

    Args:
        policy: a built-in policy name (``mcia.policies.NAMES``) or ``"optimizer+relief"``
            (:class:`mcia.queue_relief.QueueRelief`), a :class:`RustPolicy`, a callable mapping
            a batch of observations ``(B, 7N + 3)`` to a Dict action of ``(B, N)`` arrays, or a checkpoint
            directory written by ``mcia train``.
        config: the scenario.
        episodes: number of episodes (run in parallel, one environment each).
        seed: first evaluation seed.
        num_threads: Rust threads (default: every core).
        progress: show a progress bar.
        name: label for the result (default: derived from ``policy``).
        scores: also evaluate the anchors (random, static, optimizer; memoised) on the same seeds and fill
            in ``score`` and ``adaptivity``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    cfg = as_config(config)
    label, act = resolve_policy(policy, cfg, seed)
    label = name or label
    venv = MciaVectorEnv(episodes, cfg, num_threads=num_threads, copy=False, info=True)
    n, m, l = venv.num_devices, venv.num_versions, venv.num_units
    slots = cfg["time"]["episode_slots"]
    obs, _ = venv.reset(seed=seed)
    returns = np.zeros(episodes)
    sums = {t: np.zeros(7) for t in TASK_TYPES}  # tasks, latency, accuracy, utility, deadline, acc_met, cloud
    cloud = bool(cfg["cloud"]["enabled"])
    offload = np.zeros(2)
    version_hist = np.zeros(m, np.int64)
    cut_hist = np.zeros(l + 1, np.int64)
    bar = _progress(slots, f"evaluate {label}") if progress else None
    start = time.perf_counter()
    for _ in range(slots):
        action = act(venv, obs)
        obs, reward, terminated, truncated, info = venv.step(action)
        returns += reward
        tt = info["task_type"]
        for t in TASK_TYPES:
            mask = tt == t
            k = int(mask.sum())
            if k:
                in_cloud = np.count_nonzero(info["cloud_partition"][mask] < l) if cloud else 0
                sums[t] += (k, info["latency"][mask].sum(), info["accuracy"][mask].sum(), info["utility"][mask].sum(),
                            info["deadline_met"][mask].sum(), info["accuracy_met"][mask].sum(), in_cloud)
        tasked = tt > 0
        offload += (np.count_nonzero(info["partition"][tasked] < l), np.count_nonzero(tasked))
        version_hist += np.bincount(info["version"][tasked], minlength=m)
        cut_hist += np.bincount(info["partition"][tasked], minlength=l + 1)
        if bar is not None:
            bar.update(1)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    per_type = {}
    for t, label_t in TASK_TYPES.items():
        k, lat, acc, util, dl, am, cl = sums[t]
        d = max(k, 1)
        per_type[label_t] = TypeMetrics(int(k), lat / d, acc / d, util / d, dl / d, am / d, cl / d if cloud else float("nan"))
    std = float(returns.std(ddof=1)) if episodes > 1 else float("nan")
    score = adapt = float("nan")
    if scores:
        score, adapt = scores_of(float(returns.mean()), anchor_returns(cfg, episodes, seed, num_threads))
    return EvalResult(
        policy=label,
        episodes=episodes,
        seeds=list(range(seed, seed + episodes)),
        episode_returns=returns,
        mean_return=float(returns.mean()),
        ci95=t95(episodes - 1) * std / math.sqrt(episodes) if episodes > 1 else float("nan"),
        mean_reward=float(returns.mean() / slots),
        per_type=per_type,
        offload_ratio=float(offload[0] / max(offload[1], 1)),
        cloud_ratio=float(sum(sums[t][6] for t in TASK_TYPES) / max(offload[1], 1)) if cloud else float("nan"),
        version_hist=version_hist,
        cut_hist=cut_hist,
        wall_s=wall,
        decisions_per_s=episodes * slots / wall if wall > 0 else float("inf"),
        version_names=list(cfg["zoo"]["versions"]),
        score=score,
        adaptivity=adapt,
    )


@dataclass
class Comparison:
    """Results of several policies on the same seeds, with the scores of SPEC section 7 (module docs)."""

    results: List[EvalResult]

    def _anchors(self) -> Optional[Dict[str, float]]:
        by = {r.policy: r.mean_return for r in self.results}
        return by if all(a in by for a in ANCHORS) else None

    def score(self, result: EvalResult) -> float:
        """Normalised score of one result: ``(U - U_random) / (U_optimizer - U_random)``."""
        anchors = self._anchors()
        return scores_of(result.mean_return, anchors)[0] if anchors else float("nan")

    def adaptivity(self, result: EvalResult) -> float:
        """Adaptivity score of one result: ``(U - U_static) / (U_optimizer - U_static)``."""
        anchors = self._anchors()
        return scores_of(result.mean_return, anchors)[1] if anchors else float("nan")

    def score_intervals(self, result: EvalResult, resamples: int = 4000, seed: int = 0) -> Dict[str, tuple]:
        """95% intervals of the normalised and adaptivity scores of ``result``: a paired bootstrap over the
        evaluation seeds (the same resampled seeds for the policy and the anchors, so the anchors' episode to
        episode variation is shared, as in the paired comparison). ``{"score": (lo, hi), "adaptivity": (lo, hi)}``;
        NaN without the anchors or with fewer than 2 episodes."""
        by = {r.policy: r for r in self.results}
        nan = (float("nan"), float("nan"))
        if not all(a in by for a in ANCHORS) or result.episodes < 2:
            return {"score": nan, "adaptivity": nan}
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, result.episodes, size=(resamples, result.episodes))
        mean = {k: np.asarray(v.episode_returns)[idx].mean(1) for k, v in {**{a: by[a] for a in ANCHORS}, "_": result}.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            score = (mean["_"] - mean["random"]) / (mean["optimizer"] - mean["random"])
            adapt = (mean["_"] - mean["static"]) / (mean["optimizer"] - mean["static"])
        q = lambda x: tuple(float(v) for v in np.nanpercentile(x, [2.5, 97.5]))  # noqa: E731
        return {"score": q(score), "adaptivity": q(adapt)}

    def ranked(self) -> List[EvalResult]:
        """Results from best to worst mean return."""
        return sorted(self.results, key=lambda r: -r.mean_return)

    def table(self) -> str:
        """The ranking as a text table (Markdown)."""
        cloud = not math.isnan(self.results[0].cloud_ratio)
        head = "| rank | policy | return (95% CI) | score | adaptivity | AS latency s | AS accuracy | AS deadline met | LS latency s | LS accuracy | LS deadline met | offload |"
        if cloud:
            head += " AS cloud | LS cloud |"
        lines = [head, "|" + "---|" * (head.count("|") - 1)]
        for i, r in enumerate(self.ranked(), 1):
            a, s = r.per_type["AS"], r.per_type["LS"]
            row = (
                f"| {i} | {r.policy} | {r.mean_return:.2f} ± {r.ci95:.2f} | {self.score(r):.3f} | {self.adaptivity(r):.3f} | {a.latency_s:.3f} | {a.accuracy:.3f} | "
                f"{a.deadline_met:.2f} | {s.latency_s:.3f} | {s.accuracy:.3f} | {s.deadline_met:.2f} | {r.offload_ratio:.2f} |"
            )
            if cloud:
                row += f" {a.cloud:.2f} | {s.cloud:.2f} |"
            lines.append(row)
        return "\n".join(lines)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready dict: per policy its metrics and scores."""
        return {"results": [dict(r.to_dict(), score=self.score(r), adaptivity=self.adaptivity(r)) for r in self.results]}

    def save(self, out_dir: str) -> List[str]:
        """Writes ``compare.json`` and ``compare.csv`` into ``out_dir``; returns the paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = [os.path.join(out_dir, "compare.json"), os.path.join(out_dir, "compare.csv")]
        with open(paths[0], "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        write_csv(paths[1], [dict(r.summary_row(), score=self.score(r), adaptivity=self.adaptivity(r)) for r in self.ranked()])
        return paths

    def plot(self, path: str) -> str:
        """Bars of per-type latency, accuracy and utility for every policy, saved to ``path``."""
        # A bare Figure (no pyplot) leaves the user's backend alone, e.g. inline plots in notebooks.
        from matplotlib.figure import Figure

        ranked = self.ranked()
        names = [r.policy for r in ranked]
        x = np.arange(len(names))
        fig = Figure(figsize=(16, 4))
        axes = fig.subplots(1, 4)
        for ax, (key, label) in zip(axes, [("latency_s", "mean latency (s)"), ("accuracy", "mean top-1 accuracy"), ("utility", "mean utility"), ("deadline_met", "deadline met ratio")]):
            for j, t in enumerate(("AS", "LS")):
                ax.bar(x + (j - 0.5) * 0.4, [getattr(r.per_type[t], key) for r in ranked], 0.4, label=t)
            ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
            ax.set_title(label, fontsize=10)
            if key == "latency_s":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
        # cloud_ratio is NaN exactly when the scenario has no cloud tier.
        env_id = "MCIA-v0" if np.isnan(self.results[0].cloud_ratio) else "MCIA-Cloud-v0"
        fig.suptitle(f"{env_id} policies on {ranked[0].episodes} paired episodes", fontsize=11)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        return path


def compare(
    policies: Optional[Sequence[PolicyLike]] = None,
    config: ConfigLike = None,
    episodes: int = 20,
    seed: int = 0,
    num_threads: Optional[int] = None,
    progress: bool = False,
) -> Comparison:
    """Evaluates every policy on the same seeds (default: every built-in policy that applies to the
    scenario, :func:`mcia.policies.names_for`). The anchors ``random``, ``static`` and ``optimizer`` are
    added when missing, as the scores need them."""
    cfg = as_config(config)
    todo = list(names_for(cfg) if policies is None else policies)
    for anchor in ANCHORS:
        if anchor not in [p for p in todo if isinstance(p, str)]:
            todo.append(anchor)
    results = []
    bar = _progress(len(todo), "policies") if progress else None
    for p in todo:
        results.append(evaluate(p, cfg, episodes=episodes, seed=seed, num_threads=num_threads, scores=False))
        if bar is not None:
            bar.set_postfix_str(results[-1].policy)
            bar.update(1)
    if bar is not None:
        bar.close()
    comp = Comparison(results)
    for r in results:
        r.score, r.adaptivity = comp.score(r), comp.adaptivity(r)
    return comp


def write_csv(path: str, rows: List[Dict[str, Any]]) -> None:
    """Writes rows of dicts as CSV (columns from the first row)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def _paired_difference(a: np.ndarray, b: np.ndarray) -> str:
    """``mean ± t-interval (seeds won/seeds)`` of the paired differences ``a - b``."""
    d = a - b
    half = t95(len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return f"{d.mean():+.2f} ± {half:.2f} ({int((d > 0).sum())}/{len(d)})"


def agents_table(runs: Sequence[str], config: ConfigLike = None, episodes: int = 20, seed: int = 0,
                 num_threads: Optional[int] = None, progress: bool = False) -> str:
    """A Markdown table of trained agents (checkpoint directories of ``mcia train``) beside the baselines on the
    same evaluation seeds: env-steps and wall time of training (from each run's ``agent.json``), the mean
    return with its 95% interval, the normalised and adaptivity scores with paired-bootstrap 95% intervals
    (:meth:`Comparison.score_intervals`), and the paired differences to greedy and to the optimizer with the
    seeds won. A run given as ``DIR+shares`` is the same checkpoint with the optimizer's shares."""
    runs = list(runs)
    baselines = ["optimizer", "greedy", "static", "random"]
    comp = compare(runs + baselines, config, episodes=episodes, seed=seed, num_threads=num_threads, progress=progress)
    by = {r.policy: r for r in comp.results}
    greedy = np.asarray(by["greedy"].episode_returns)
    optimizer = np.asarray(by["optimizer"].episode_returns)
    lines = ["| policy | env-steps | training wall time | return (95% CI) | score (95% CI) | adaptivity (95% CI) | vs greedy (95% CI, seeds won) "
             "| vs optimizer (95% CI, seeds won) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in [policy_label(r) for r in runs] + baselines:
        res = by[name]
        meta: Dict[str, Any] = {}
        run = next((r for r in runs if policy_label(r) == name), None)
        if run:  # DIR+shares: the same training run, played with the optimizer's shares
            run = split_shares(run)[0]
        if run and os.path.exists(os.path.join(run, "agent.json")):
            with open(os.path.join(run, "agent.json"), encoding="utf-8") as f:
                meta = json.load(f)
        steps = f"{int(meta['timesteps']):,}" if "timesteps" in meta else "-"
        wall = meta.get("train_wall_s", meta.get("wall_s"))
        wall_s = f"{wall / 60:.1f} min" if wall is not None else "-"
        iv = comp.score_intervals(res)
        mine = np.asarray(res.episode_returns)
        vs_greedy = _paired_difference(mine, greedy) if name != "greedy" else "-"
        vs_optimizer = _paired_difference(mine, optimizer) if name != "optimizer" else "-"
        lines.append(f"| {name} | {steps} | {wall_s} | {res.mean_return:.2f} ± {res.ci95:.2f} | {comp.score(res):.3f} "
                     f"[{iv['score'][0]:.3f}, {iv['score'][1]:.3f}] | {comp.adaptivity(res):.3f} [{iv['adaptivity'][0]:.3f}, "
                     f"{iv['adaptivity'][1]:.3f}] | {vs_greedy} | {vs_optimizer} |")
    return "\n".join(lines)
