"""``mcia bench``: environment steps per second of MCIA-v0 (or, with ``--env MCIA-Cloud-v0``, of the cloud
tier: the engines then run the scenario with ``cloud.enabled = true``) from Python beside the anchors.

Engines measured in the same run, with a fixed random policy (a table of pre-drawn actions cycled through, so
the policy costs nothing):

- ``mcia``: ``gym.make_vec("MCIA-v0", num_envs=B)`` with its defaults (``copy=True``, ``info=True``) and
  actions drawn by ``action_space.sample()`` (int64 indices, float32 weights): what a user gets;
- ``mcia-fast``: :class:`mcia.MciaVectorEnv` with ``copy=False``, ``info=False`` and float64 actions (timed
  alternately with ``mcia`` when both run, so their ratio is measured under the same conditions);
- ``sb3``: the Stable-Baselines3 VecEnv of :mod:`mcia.sb3` stepped with float32 flat actions, as SB3's PPO
  does (when Stable-Baselines3 is installed);
- ``rust``: the Rust-native rollout of the same scenario (no Python in the loop; ``cargo run --example
  rollout``), without info;
- ``reference``: :mod:`mcia.reference`, the vectorised NumPy model a researcher would otherwise write;
- ``gym-sync``: Gymnasium's ``SyncVectorEnv`` over ``gym.make("MCIA-v0")`` instances (defaults);
- ``cartpole-numpy``: Gymnasium's NumPy ``CartPoleVectorEnv`` (an engine anchor: one tiny system per env);
- ``envpool-cartpole``: EnvPool ``CartPole-v1`` (another engine anchor; reported as not installed otherwise).

Each cell is the median of ``repeats`` timed runs of about ``seconds`` each; the spread is min..max.
Also measured: microseconds per call of a single-env ``step`` through ``gym.make`` and of a 1-env vector step,
both with their defaults and ``action_space.sample()`` actions.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from . import _core
from .config import ConfigLike, as_config

ENGINES = ("mcia", "mcia-fast", "sb3", "rust", "reference", "gym-sync", "cartpole-numpy", "envpool-cartpole")

#: What each engine measures (printed under the table).
DESCRIPTIONS = {
    "mcia": "gym.make_vec defaults (copy=True, info=True), action_space.sample() actions",
    "mcia-fast": "MciaVectorEnv(copy=False, info=False), float64 actions",
    "sb3": "mcia.sb3 VecEnv, float32 flat actions (what SB3 PPO steps)",
    "rust": "Rust-native rollout, no Python, no info",
    "reference": "NumPy reference model (mcia.reference)",
    "gym-sync": "Gymnasium SyncVectorEnv of gym.make('MCIA-v0')",
    "cartpole-numpy": "Gymnasium CartPoleVectorEnv (NumPy), an anchor",
    "envpool-cartpole": "EnvPool CartPole-v1, an anchor",
}
#: Engines that run on several threads.
THREADED = ("mcia", "mcia-fast", "sb3", "rust", "envpool-cartpole")


@dataclass
class Cell:
    """One measurement: env-steps per second of an engine at a batch size and thread count."""

    engine: str
    num_envs: int
    threads: int
    median: float
    low: float
    high: float
    repeats: int


def _random_actions(n: int, m: int, l: int, b: int, count: int = 16, seed: int = 0, cloud: bool = False) -> List[Dict[str, np.ndarray]]:
    """``count`` uniformly random float64 / int64 actions of shape ``(b, n)`` (with the second cut when
    ``cloud``)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        a = {
            "version": rng.integers(0, m, (b, n), dtype=np.int64),
            "partition": rng.integers(0, l + 1, (b, n), dtype=np.int64),
            "bandwidth": rng.random((b, n)),
            "compute": rng.random((b, n)),
        }
        if cloud:
            a["cloud_partition"] = rng.integers(0, l + 1, (b, n), dtype=np.int64)
        out.append(a)
    return out


def _time_loop(step: Callable[[int], None], seconds: float, repeats: int, batch: int) -> List[float]:
    """Env-steps per second of ``repeats`` runs of ``step(k)``, each sized to take about ``seconds``."""
    step(0)
    t0 = time.perf_counter()
    calls = 0
    while time.perf_counter() - t0 < min(0.05, seconds):
        step(calls)
        calls += 1
    per_call = (time.perf_counter() - t0) / max(calls, 1)
    n_calls = max(2, int(seconds / max(per_call, 1e-9)))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for k in range(n_calls):
            step(k)
        rates.append(n_calls * batch / (time.perf_counter() - start))
    return rates


def _time_interleaved(steps: List[Callable[[int], None]], seconds: float, repeats: int, batch: int) -> List[List[float]]:
    """Like :func:`_time_loop` for several engines at once, their timed runs alternating (ABAB...), so that a
    noisy machine's drifts hit every engine alike and their ratio is fair."""
    sizes = []
    for step in steps:
        step(0)
        t0, calls = time.perf_counter(), 0
        while time.perf_counter() - t0 < min(0.05, seconds):
            step(calls)
            calls += 1
        sizes.append(max(2, int(seconds / max((time.perf_counter() - t0) / max(calls, 1), 1e-9))))
    rates: List[List[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for j, (step, n_calls) in enumerate(zip(steps, sizes)):
            start = time.perf_counter()
            for k in range(n_calls):
                step(k)
            rates[j].append(n_calls * batch / (time.perf_counter() - start))
    return rates


def _cell(engine: str, b: int, threads: int, rates: List[float]) -> Cell:
    return Cell(engine, b, threads, statistics.median(rates), min(rates), max(rates), len(rates))


def bench_mcia(cfg_json: str, b: int, threads: int, seconds: float, repeats: int) -> List[List[float]]:
    """``gym.make_vec`` with its defaults, stepped with ``action_space.sample()`` actions, and the fast path
    (``copy=False, info=False``, float64 actions), timed alternately: ``[defaults_rates, fast_rates]``."""
    import gymnasium as gym

    from .vector import MciaVectorEnv

    venv = gym.make_vec("MCIA-v0", num_envs=b, config=as_config_json(cfg_json), num_threads=threads)
    venv.reset(seed=0)
    venv.action_space.seed(0)
    actions = [venv.action_space.sample() for _ in range(16)]
    fast = MciaVectorEnv(b, as_config_json(cfg_json), num_threads=threads, copy=False, info=False)
    fast.reset(seed=0)
    fast_actions = _random_actions(fast.num_devices, fast.num_versions, fast.num_units, b, cloud=fast.cloud)
    rates = _time_interleaved([lambda k: venv.step(actions[k % len(actions)]), lambda k: fast.step(fast_actions[k % len(fast_actions)])], seconds, repeats, b)
    venv.close()
    fast.close()
    return rates


def bench_mcia_fast(cfg_json: str, b: int, threads: int, seconds: float, repeats: int) -> List[float]:
    """:class:`MciaVectorEnv` without copies or info, float64 actions: the fastest path."""
    from .vector import MciaVectorEnv

    venv = MciaVectorEnv(b, as_config_json(cfg_json), num_threads=threads, copy=False, info=False)
    venv.reset(seed=0)
    actions = _random_actions(venv.num_devices, venv.num_versions, venv.num_units, b, cloud=venv.cloud)
    return _time_loop(lambda k: venv.step(actions[k % len(actions)]), seconds, repeats, b)


def bench_sb3(cfg_json: str, b: int, threads: int, seconds: float, repeats: int) -> Optional[List[float]]:
    """The SB3 VecEnv adapter stepped with float32 flat actions in [-1, 1], as SB3's PPO does."""
    try:
        from .sb3 import make_sb3_env
    except ImportError:  # Stable-Baselines3 is optional
        return None
    env = make_sb3_env(b, as_config_json(cfg_json), seed=0, num_threads=threads)
    env.reset()
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, (b,) + env.action_space.shape).astype(np.float32) for _ in range(16)]
    rates = _time_loop(lambda k: env.step(actions[k % len(actions)]), seconds, repeats, b)
    env.close()
    return rates


def as_config_json(cfg_json: str):
    from .config import Config

    return Config(json.loads(cfg_json))


def bench_rust(cfg_json: str, b: int, threads: int, seconds: float, repeats: int) -> List[float]:
    probe = _core.rollout_rate(cfg_json, b, max(1, 2000 // b), threads, 1)[0]
    steps = max(2, int(seconds * probe / b))
    return list(_core.rollout_rate(cfg_json, b, steps, threads, repeats))


def bench_reference(cfg_json: str, b: int, seconds: float, repeats: int) -> List[float]:
    from .reference import ReferenceModel

    ref = ReferenceModel(json.loads(cfg_json))
    rng = np.random.default_rng(0)
    state = {"s": ref.reset(rng, b)}
    actions = _random_actions(ref.n, ref.m, ref.l, b, cloud=bool(ref.config.get("cloud", {}).get("enabled", False)))

    def step(k: int) -> None:
        noise = ref.sample_noise(rng, b)
        state["s"] = ref.step(state["s"], actions[k % len(actions)], noise)[0]

    return _time_loop(step, seconds, repeats, b)


def bench_gym_sync(cfg_json: str, b: int, seconds: float, repeats: int) -> List[float]:
    import gymnasium as gym

    venv = gym.vector.SyncVectorEnv([lambda: gym.make("MCIA-v0", config=as_config_json(cfg_json)) for _ in range(b)])
    venv.reset(seed=0)
    n, m, l = venv.envs[0].unwrapped.num_devices, venv.envs[0].unwrapped.num_versions, venv.envs[0].unwrapped.num_units
    actions = _random_actions(n, m, l, b, cloud=venv.envs[0].unwrapped.cloud)
    rates = _time_loop(lambda k: venv.step(actions[k % len(actions)]), seconds, repeats, b)
    venv.close()
    return rates


def bench_cartpole_numpy(b: int, seconds: float, repeats: int) -> List[float]:
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    venv = CartPoleVectorEnv(num_envs=b)
    venv.reset(seed=0)
    actions = [np.random.default_rng(i).integers(0, 2, b) for i in range(16)]
    rates = _time_loop(lambda k: venv.step(actions[k % 16]), seconds, repeats, b)
    venv.close()
    return rates


def bench_envpool_cartpole(b: int, threads: int, seconds: float, repeats: int) -> Optional[List[float]]:
    try:
        import envpool
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EnvPool's spaces warn about float64 bounds
        env = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=b, batch_size=b, num_threads=threads, seed=0)
    env.reset()
    actions = [np.random.default_rng(i).integers(0, 2, b) for i in range(16)]
    rates = _time_loop(lambda k: env.step(actions[k % 16]), seconds, repeats, b)
    env.close()
    return rates


def per_call_overheads(cfg_json: str, repeats: int) -> Dict[str, float]:
    """Microseconds per call (median) of a single-env step through ``gym.make`` and of a 1-env vector step
    through ``gym.make_vec``, both with their defaults (info on, ``copy=True``) and ``action_space.sample()``
    actions; and the same without info and with float64 actions (the fast path)."""
    import gymnasium as gym

    from .vector import MciaVectorEnv

    cfg = as_config_json(cfg_json)
    out = {}
    for suffix, kwargs, fast in (("", {}, False), ("_fast", {"info": False}, True)):
        env = gym.make("MCIA-v0", config=cfg, **kwargs)
        env.reset(seed=0)
        env.action_space.seed(0)
        n, m, l = env.unwrapped.num_devices, env.unwrapped.num_versions, env.unwrapped.num_units
        cloud = env.unwrapped.cloud
        single = [{k: v[0] for k, v in a.items()} for a in _random_actions(n, m, l, 1, cloud=cloud)] if fast else [env.action_space.sample() for _ in range(16)]

        def single_step(k: int) -> None:
            if env.step(single[k % len(single)])[3]:
                env.reset()

        venv = MciaVectorEnv(1, cfg, info=False, copy=False) if fast else gym.make_vec("MCIA-v0", num_envs=1, config=cfg)
        venv.reset(seed=0)
        venv.action_space.seed(0)
        batch = _random_actions(n, m, l, 1, cloud=cloud) if fast else [venv.action_space.sample() for _ in range(16)]
        for name, fn in (("single_env_step_us", single_step), ("vector_1env_step_us", lambda k: venv.step(batch[k % len(batch)]))):
            rates = _time_loop(fn, 0.3, repeats, 1)
            out[name + suffix] = 1e6 / statistics.median(rates)
    return out


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, numpy {np.__version__}"


def run(
    config: ConfigLike = None,
    num_envs: Sequence[int] = (1, 16, 256, 4096),
    threads: Sequence[int] = (1, 2),
    engines: Sequence[str] = ENGINES,
    seconds: float = 0.4,
    repeats: int = 5,
    progress: bool = True,
) -> Dict[str, object]:
    """Runs the benchmark; returns ``{"machine", "cells": [...], "overheads": {...}}``."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine(s) {unknown}; choose from {list(ENGINES)}")
    cfg_json = as_config(config).to_json()
    plan = []
    for b in num_envs:
        for e in engines:
            ts = threads if e in THREADED else (1,)
            plan += [(e, b, t) for t in ts]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan) + 1, desc="bench", leave=False)
    cells: List[Cell] = []
    missing: List[str] = []
    paired: Dict[tuple, List[float]] = {}  # the fast path timed alternately with the defaults
    for e, b, t in plan:
        if bar is not None:
            bar.set_postfix_str(f"{e} envs={b} threads={t}")
        rates: Optional[List[float]]
        if e in missing:
            rates = None
        elif e == "mcia":
            rates, paired[(b, t)] = bench_mcia(cfg_json, b, t, seconds, repeats)
        elif e == "mcia-fast":
            rates = paired.pop((b, t), None) or bench_mcia_fast(cfg_json, b, t, seconds, repeats)
        elif e == "sb3":
            rates = bench_sb3(cfg_json, b, t, seconds, repeats)
        elif e == "rust":
            rates = bench_rust(cfg_json, b, t, seconds, repeats)
        elif e == "reference":
            rates = bench_reference(cfg_json, b, seconds, repeats)
        elif e == "gym-sync":
            rates = bench_gym_sync(cfg_json, b, seconds, repeats)
        elif e == "cartpole-numpy":
            rates = bench_cartpole_numpy(b, seconds, repeats)
        else:
            rates = bench_envpool_cartpole(b, t, seconds, repeats)
        if rates is not None:
            cells.append(_cell(e, b, t, rates))
        elif e not in missing:
            missing.append(e)
        if bar is not None:
            bar.update(1)
    overheads = per_call_overheads(cfg_json, repeats)
    if bar is not None:
        bar.update(1)
        bar.close()
    return {"machine": machine(), "seconds": seconds, "repeats": repeats, "cells": [asdict(c) for c in cells], "overheads": overheads,
            "not_installed": missing, "env_id": "MCIA-Cloud-v0" if as_config(config)["cloud"]["enabled"] else "MCIA-v0"}


def table(result: Dict[str, object]) -> str:
    """The result as a Markdown table, what each engine measures, and the ratios the README quotes."""
    cells = [Cell(**c) for c in result["cells"]]  # type: ignore[arg-type]
    by = {(c.engine, c.num_envs, c.threads): c for c in cells}
    lines = [f"environment: {result.get('env_id', 'MCIA-v0')}", f"machine: {result['machine']}", f"median of {result['repeats']} runs of ~{result['seconds']} s; spread = min..max", "",
             "| engine | envs | threads | env-steps/s | spread | vs reference |", "|---|---|---|---|---|---|"]
    for c in cells:
        ref = by.get(("reference", c.num_envs, 1))
        ratio = f"{c.median / ref.median:.1f}x" if ref else "-"
        lines.append(f"| {c.engine} | {c.num_envs} | {c.threads} | {_si(c.median)} | {_si(c.low)}..{_si(c.high)} | {ratio} |")
    lines.append("")
    seen = list(dict.fromkeys(c.engine for c in cells))
    lines += [f"- {e}: {DESCRIPTIONS[e]}" for e in seen]
    for e in result.get("not_installed", []):  # type: ignore[union-attr]
        lines.append(f"- {e}: not measured ({'Stable-Baselines3' if e == 'sb3' else 'EnvPool'} is not installed)")
    oh = result["overheads"]
    lines += ["", f"per call, defaults with action_space.sample() actions: single-env step through gym.make "  # type: ignore[index]
              f"{oh['single_env_step_us']:.2f} us, 1-env vector step through gym.make_vec {oh['vector_1env_step_us']:.2f} us; "  # type: ignore[index]
              f"without info, float64 actions: {oh['single_env_step_us_fast']:.2f} us and {oh['vector_1env_step_us_fast']:.2f} us"]  # type: ignore[index]
    big = max((c.num_envs for c in cells if c.engine == "mcia"), default=None)
    if big is not None:
        t = max(c.threads for c in cells if c.engine == "mcia" and c.num_envs == big)
        m = by[("mcia", big, t)]
        checks = []
        fast = by.get(("mcia-fast", big, t))
        if fast:
            checks.append(f"{m.median / fast.median:.0%} of the fast path (copy=False, info=False)")
        for other, label in (("reference", "the NumPy reference"), ("envpool-cartpole", "EnvPool CartPole-v1"), ("cartpole-numpy", "Gymnasium CartPoleVectorEnv")):
            cands = [c for c in (by.get((other, big, 1)), by.get((other, big, 2)), by.get((other, big, t))) if c]
            if cands:
                best = max(cands, key=lambda c: c.median)
                checks.append(f"{m.median / best.median:.1f}x {label}" + (f" (its faster thread count, {best.threads})" if other == "envpool-cartpole" else ""))
        r = by.get(("rust", big, t))
        if r:
            # Rust-native steps without info; at large batches the defaults pay for writing the info.
            ratio = m.median / r.median
            note = " (no info there)"
            if ratio > 1.05:
                # Python cannot outrun the same core without Python; a ratio above 1 is the machine's noise
                # between the two measurements (they run one after the other), so say so instead of a claim.
                note = " (no info there; above 100% only through noise between the two runs: rerun with more --repeats)"
            checks.append(f"{ratio:.0%} of the Rust-native rate{note}")
        lines.append(f"gym.make_vec defaults at {big} envs, {t} threads: " + "; ".join(checks))
    small = [c for c in cells if c.engine == "mcia" and c.num_envs in (1, 16) and c.threads == 1]
    if len(small) == 2:
        lines.append(f"per env-step, 16 envs vs 1 env: {small[1].median / small[0].median:.1f}x faster")
    return "\n".join(lines)


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.2f} {unit}"
    return f"{x:.0f}"
