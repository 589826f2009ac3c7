"""Training entry point: ``mcia train --algo hppo|sb3-ppo|rllib-ppo`` and :func:`train`.

Every algorithm writes the same kind of output directory, which ``mcia evaluate --policy DIR``,
``mcia.evaluate(DIR)`` and :func:`mcia.agents.load_agent` read:

- the checkpoint (``hppo.pt`` + ``hparams.json`` for HybridPPO, ``model.zip`` (+ ``vecnormalize.pkl``) for
  Stable-Baselines3 PPO, ``rllib_checkpoint/`` for RLlib PPO) and ``agent.json`` naming the algorithm;
- ``config.json``, the scenario trained on;
- ``learning_curve.csv`` (timesteps, wall_s, mean training episode return, ...) and ``learning_curve.png``;
- after training (unless ``--no-eval``): ``compare.json`` / ``compare.csv``, the agent against the baselines
  on the evaluation seeds 0..19, which is also printed with the agent's normalised score and wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .config import Config, ConfigLike, as_config

ALGOS = ("hppo", "sb3-ppo", "rllib-ppo")

#: Default budgets of ``mcia train``: about the same wall time for every algorithm on the reference 2-core VM
#: (HybridPPO 8M steps in 11.9 minutes; SB3 2.1M and RLlib 2.7M steps in 11.9 minutes each), so the agents
#: table compares them at equal cost.
DEFAULT_TIMESTEPS = {"hppo": 8_000_000, "sb3-ppo": 2_000_000, "rllib-ppo": 2_500_000}
#: ``mcia train`` with the default budget also stops training after this many minutes, so that training and
#: the evaluation end within 15 minutes on a slow 2-core machine (the evaluation takes about 20 s). When the
#: cap ends a run early, its result depends on the machine's speed.
DEFAULT_MAX_MINUTES = {"hppo": 13.5, "sb3-ppo": 13.5, "rllib-ppo": 13.5}
DEFAULT_ENVS = {"hppo": 256, "sb3-ppo": 64, "rllib-ppo": 2}
CURVE_CSV = "learning_curve.csv"
CURVE_PNG = "learning_curve.png"
EVAL_EPISODES = 20
BASELINES = ("optimizer", "greedy", "static", "neurosurgeon", "edge_only", "device_only", "random")


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    algo: str
    out: str
    timesteps: int
    wall_s: float
    curve: List[Dict[str, Any]]
    comparison: Any = None  # mcia.Comparison of the agent and the baselines, when evaluated
    score: float = float("nan")
    adaptivity: float = float("nan")
    mean_return: float = float("nan")
    #: The same agent's (version, cut) with the optimizer's shares (``DIR+shares``), when evaluated.
    shares_adaptivity: float = float("nan")
    shares_mean_return: float = float("nan")
    files: List[str] = field(default_factory=list)


def train(
    algo: str = "hppo",
    timesteps: Optional[int] = None,
    envs: Optional[int] = None,
    seed: int = 0,
    out: Optional[str] = None,
    config: ConfigLike = None,
    *,
    time_limit_s: Optional[float] = None,
    evaluate: bool = True,
    eval_episodes: int = EVAL_EPISODES,
    progress: bool = True,
    verbose: int = 1,
    tensorboard: bool = True,
    hparams: Optional[Dict[str, Any]] = None,
    rllib_address: Optional[str] = None,
) -> TrainResult:
    """Trains an agent and writes its output directory (module docstring).

    Args:
        algo: ``"hppo"`` (:class:`mcia.agents.HybridPPO`), ``"sb3-ppo"`` (Stable-Baselines3 PPO on
            :func:`mcia.sb3.make_sb3_env`) or ``"rllib-ppo"`` (RLlib PPO, new API stack, Dict actions).
        timesteps: environment steps (default :data:`DEFAULT_TIMESTEPS`).
        envs: parallel environments (HybridPPO, SB3) or RLlib env runners (default :data:`DEFAULT_ENVS`).
        seed: seed of the networks, the sampling and the training environments.
        out: output directory (default ``runs/ALGO-seedS``).
        config: the scenario.
        time_limit_s: also stop training after this many seconds (HybridPPO and SB3).
        evaluate: compare the trained agent with the baselines on seeds ``0..eval_episodes-1``.
        tensorboard: write TensorBoard logs under ``out/tb`` when tensorboard is installed.
        hparams: extra hyper-parameters of the algorithm (HybridPPO: :class:`mcia.agents.HPPOParams`
            fields; SB3: ``PPO`` keyword arguments; RLlib: ``PPOConfig.training`` keyword arguments).
        rllib_address: Ray cluster address for ``rllib-ppo`` (``"auto"`` joins a running cluster).
    """
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose one of {list(ALGOS)}")
    cfg = as_config(config)
    timesteps = int(timesteps or DEFAULT_TIMESTEPS[algo])
    hparams = dict(hparams or {})
    if algo == "hppo" and "num_envs" in hparams:
        # HybridPPO's num_envs is what --envs sets: take it from either place, once
        given = hparams.pop("num_envs")
        if envs is not None and given != envs:
            raise ValueError(f"the number of environments is given twice ({envs} and num_envs={given!r}): give --envs or --hparam num_envs, not both")
        envs = given
    if isinstance(envs, bool) or (envs is not None and (not isinstance(envs, int) or envs < 1)):
        raise ValueError(f"the number of environments must be a positive integer, got {envs!r}")
    envs = int(envs or DEFAULT_ENVS[algo])
    out = out or os.path.join("runs", f"{algo}-seed{seed}")
    os.makedirs(out, exist_ok=True)
    tb = os.path.join(out, "tb") if tensorboard and _has_tensorboard() else None
    start = time.perf_counter()
    if algo == "hppo":
        curve = _train_hppo(cfg, timesteps, envs, seed, out, time_limit_s, progress, verbose, tb, hparams)
    elif algo == "sb3-ppo":
        curve = _train_sb3(cfg, timesteps, envs, seed, out, time_limit_s, progress, verbose, tb, hparams)
    else:
        curve = _train_rllib(cfg, timesteps, envs, seed, out, time_limit_s, verbose, hparams, rllib_address)
    wall = time.perf_counter() - start
    cfg.save(os.path.join(out, "config.json"))
    files = [os.path.join(out, "config.json")]
    if curve:
        from .agents.hppo import write_curve

        write_curve(os.path.join(out, CURVE_CSV), curve)
        files.append(os.path.join(out, CURVE_CSV))
    result = TrainResult(algo, out, int(curve[-1]["timesteps"]) if curve else timesteps, wall, curve, files=files)
    if evaluate:
        from .evaluation import SHARES_SUFFIX, compare

        # The agent as trained, and its (version, cut) with the optimizer's shares (SolverShares); an agent
        # trained with share_solver already plays that way, so it gets one row.
        solver = algo == "hppo" and bool(hparams.get("share_solver", False))
        comp = compare([out] + ([] if solver else [out + SHARES_SUFFIX]) + list(BASELINES), cfg, episodes=eval_episodes, seed=0)
        name = os.path.basename(os.path.normpath(out))
        mine = next(r for r in comp.results if r.policy == name)
        shared = mine if solver else next(r for r in comp.results if r.policy == name + SHARES_SUFFIX)
        result.comparison, result.score, result.mean_return = comp, comp.score(mine), mine.mean_return
        result.adaptivity = comp.adaptivity(mine)
        result.shares_adaptivity, result.shares_mean_return = comp.adaptivity(shared), shared.mean_return
        files += comp.save(out)
        with open(os.path.join(out, "agent.json"), encoding="utf-8") as f:
            meta = json.load(f)
        meta.update({"train_wall_s": round(wall, 2), "eval_mean_return": mine.mean_return, "eval_score": result.score,
                     "eval_adaptivity": result.adaptivity, "eval_shares_mean_return": shared.mean_return,
                     "eval_shares_adaptivity": result.shares_adaptivity,
                     "eval_seeds": [0, eval_episodes - 1]})
        with open(os.path.join(out, "agent.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
    if curve:
        lines, where = _baseline_returns(result.comparison), "evaluation seeds"
        if evaluate and any(math.isfinite(r.get("validation_return", math.nan)) for r in curve):
            # the validation curve is on its own seeds: draw the baselines on those same seeds
            from .agents.hppo import VALIDATION_SEED, HPPOParams
            from .evaluation import compare

            k = int((hparams or {}).get("eval_episodes", HPPOParams().eval_episodes))
            lines = _baseline_returns(compare(["optimizer", "greedy", "neurosurgeon", "random"], cfg, episodes=k, seed=VALIDATION_SEED))
            where = "validation seeds"
        png = plot_curve(curve, os.path.join(out, CURVE_PNG), title=f"{algo} on MCIA-v0 (seed {seed})", baselines=lines,
                         baseline_label=where)
        if png:
            files.append(png)
    result.files = files
    return result


# -- the three algorithms --------------------------------------------------------------------------------


def _train_hppo(cfg, timesteps, envs, seed, out, time_limit_s, progress, verbose, tb, hparams):
    from .agents import HybridPPO

    # the progress bar already shows the returns; the per-validation lines are for runs without it
    agent = HybridPPO(cfg, seed=seed, tensorboard_log=tb, verbose=0 if progress else verbose, num_envs=envs, **hparams)
    agent.learn(timesteps, progress_bar=progress, time_limit_s=time_limit_s)
    agent.save(out)
    return agent.curve


def _train_sb3(cfg, timesteps, envs, seed, out, time_limit_s, progress, verbose, tb, hparams):
    # the recipe (MultiDiscrete actions, VecNormalize, warm start by imitation, best validated weights) is
    # mcia.sb3.train_sb3_ppo; hparams override mcia.sb3.RECIPE and mcia.sb3.PPO_KWARGS
    from .sb3 import train_sb3_ppo

    return train_sb3_ppo(cfg, timesteps, envs, seed, out, time_limit_s=time_limit_s, progress=progress and _has_rich(),
                         verbose=0 if progress else verbose, tensorboard_log=tb, hparams=hparams)


def _train_rllib(cfg, timesteps, runners, seed, out, time_limit_s, verbose, hparams, address):
    from .agents.rllib_support import train_rllib_ppo

    return train_rllib_ppo(cfg, timesteps=timesteps, env_runners=runners, seed=seed, out=out, time_limit_s=time_limit_s,
                           verbose=verbose, training=hparams, address=address)


# -- output ----------------------------------------------------------------------------------------------


def _baseline_returns(comp) -> Dict[str, float]:
    if comp is None:
        return {}
    return {r.policy: r.mean_return for r in comp.results if r.policy in ("optimizer", "greedy", "neurosurgeon", "random")}


def plot_curve(rows: Sequence[Dict[str, Any]], path: str, title: str = "", baselines: Optional[Dict[str, float]] = None,
               baseline_label: str = "evaluation seeds") -> Optional[str]:
    """Plots a learning curve (mean training episode return, and the validation return when present,
    against environment steps), with the baselines' mean returns as horizontal lines. Returns the path,
    or None when matplotlib is missing."""
    try:
        # A bare Figure (no pyplot) leaves the user's backend alone, e.g. inline plots in notebooks.
        from matplotlib.figure import Figure
    except ImportError:
        return None
    steps = np.array([r["timesteps"] for r in rows], float)
    wall = np.array([r.get("wall_s", math.nan) for r in rows], float)
    ret = np.array([r.get("episode_return", math.nan) for r in rows], float)
    val = np.array([r.get("validation_return", math.nan) for r in rows], float)
    ok, okv = np.isfinite(ret), np.isfinite(val)
    colors = {"optimizer": "tab:green", "greedy": "tab:olive", "neurosurgeon": "tab:purple", "random": "tab:gray"}
    fig = Figure(figsize=(13, 4.5))
    axes = fig.subplots(1, 2)
    # left: the whole run against environment steps; right: the top of the range against wall time
    for ax, x, zoom in ((axes[0], steps, False), (axes[1], wall, True)):
        ax.plot(x[ok], ret[ok], label="training episodes (stochastic policy)", color="tab:blue", alpha=0.8)
        if okv.any():
            ax.plot(x[okv], val[okv], label="validation episodes (deterministic)", color="tab:orange")
        for name, value in (baselines or {}).items():
            ax.axhline(value, ls="--", lw=1, color=colors.get(name, "k"), label=f"{name} ({baseline_label})")
        finite = np.concatenate([ret[ok], val[okv], np.array(list((baselines or {}).values()), float)])
        if finite.size:
            hi = float(np.max(finite))
            lo = hi - 12.0 if zoom else max(float(np.min(finite)), hi - 160.0)
            ax.set_ylim(lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo) + 0.5)
        ax.set_xlabel("wall time (s)" if zoom else "environment steps")
        ax.set_ylabel("episode return (100 slots)" if not zoom else "episode return, top of the range")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    if rows and "wall_s" in rows[-1]:
        title = f"{title}  -  {rows[-1]['timesteps']:,} steps in {rows[-1]['wall_s']:.0f} s"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


# -- CLI -------------------------------------------------------------------------------------------------


def parse_hparams(items: Optional[List[str]]) -> Dict[str, Any]:
    """``["KEY=VALUE", ...]`` (``--hparam``) as a dict; each value is read as JSON where it parses
    (numbers, booleans, lists), else kept as a string."""
    out: Dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--hparam expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def cmd_train(args: argparse.Namespace) -> int:
    """``mcia train``: trains, writes the output directory, prints the evaluation against the baselines."""
    from .cli import _config

    cfg = _config(args)
    max_minutes = args.max_minutes
    if max_minutes is None and args.timesteps is None:
        max_minutes = DEFAULT_MAX_MINUTES.get(args.algo)
    res = train(
        args.algo,
        timesteps=args.timesteps,
        envs=args.envs,
        seed=args.seed,
        out=args.out,
        config=cfg,
        time_limit_s=max_minutes * 60 if max_minutes else None,
        evaluate=not args.no_eval,
        eval_episodes=args.eval_episodes,
        progress=not args.quiet,
        verbose=0 if args.quiet else 1,
        tensorboard=not args.no_tensorboard,
        hparams=parse_hparams(args.hparam),
        rllib_address=args.ray_address,
    )
    print(f"\n{res.algo}: {res.timesteps} environment steps in {res.wall_s:.1f} s wall time; wrote {res.out}/")
    if res.comparison is not None:
        print(f"\nEvaluation on seeds 0..{args.eval_episodes - 1} ({args.eval_episodes} paired episodes of "
              f"{cfg['time']['episode_slots']} slots); score = (U - U_random) / (U_optimizer - U_random), "
              f"adaptivity = (U - U_static) / (U_optimizer - U_static):\n")
        print(res.comparison.table())
        print(f"\nagent {os.path.basename(os.path.normpath(res.out))}: mean return {res.mean_return:.2f}, "
              f"normalised score {res.score:.3f}, adaptivity {res.adaptivity:.3f}, training wall time {res.wall_s:.1f} s")
        from .evaluation import SHARES_SUFFIX

        if not any(r.policy.endswith(SHARES_SUFFIX) for r in res.comparison.results):
            print("(trained with share_solver: it plays its (version, cut) with the optimizer's shares)")
        else:
            print(f"with the optimizer's shares for its (version, cut) ('{res.out}{SHARES_SUFFIX}'): mean return "
                  f"{res.shares_mean_return:.2f}, adaptivity {res.shares_adaptivity:.3f}")
    for f in res.files:
        print(f"wrote {f}")
    return 0


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Registers ``mcia train`` on an ``argparse`` sub-parser collection (``func`` set to :func:`cmd_train`)."""
    tp = subparsers.add_parser(
        "train",
        help="train an agent (HybridPPO, SB3 PPO or RLlib PPO), then evaluate it against the baselines",
        description="Train an agent on MCIA-v0 and write a checkpoint directory usable by "
                    "'mcia evaluate --policy DIR'; then compare it with the baselines on seeds 0..19.",
    )
    tp.add_argument("--algo", choices=ALGOS, default="hppo", help="algorithm (default hppo)")
    tp.add_argument("--timesteps", type=int, default=None,
                    help="environment steps (default: " + ", ".join(f"{a} {t:,}" for a, t in DEFAULT_TIMESTEPS.items()) + ")")
    tp.add_argument("--envs", type=int, default=None,
                    help="parallel environments; RLlib: env runners (default: " + ", ".join(f"{a} {e}" for a, e in DEFAULT_ENVS.items()) + ")")
    tp.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    tp.add_argument("--out", default=None, help="output directory (default runs/ALGO-seedS)")
    from .cli import add_scenario_args

    add_scenario_args(tp)
    tp.add_argument("--max-minutes", type=float, default=None, help="also stop training after this many minutes (default: none, except 13.5 with the default budget)")
    tp.add_argument("--eval-episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes on seeds 0.. (default 20)")
    tp.add_argument("--no-eval", action="store_true", help="skip the evaluation against the baselines")
    tp.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    tp.add_argument("--hparam", action="append", metavar="KEY=VALUE",
                    help="hyper-parameter override (repeatable; VALUE parsed as JSON), e.g. --hparam n_steps=64")
    tp.add_argument("--ray-address", default=None, help="rllib-ppo: Ray cluster address ('auto' joins a running cluster)")
    tp.add_argument("--quiet", action="store_true", help="no progress bar")
    tp.set_defaults(func=cmd_train)
    return tp


__all__ = ["ALGOS", "DEFAULT_ENVS", "DEFAULT_TIMESTEPS", "TrainResult", "add_train_parser", "cmd_train", "plot_curve", "train"]
