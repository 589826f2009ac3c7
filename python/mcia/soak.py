"""``mcia soak``: step random valid actions at scale and check that nothing degrades.

Random actions include the extremes an action may legally hold (weights of 0, 1e-300, 1 and 1e308; every
version and cut). Every step checks that observations are finite and inside the observation space, rewards
finite, and every latency, utility and backlog of the info finite. The vector env is closed and created again
every ``cycle_steps`` steps; the resident memory after each cycle is recorded, and growth beyond
``rss_slack`` of the first cycle's is a leak. The command exits with status 1 on any violation.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .config import ConfigLike, as_config


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; the peak elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class SoakResult:
    """What :func:`soak` saw."""

    device_steps: int
    env_steps: int
    cycles: int
    wall_s: float
    violations: List[str] = field(default_factory=list)
    rss_mb: List[float] = field(default_factory=list)
    leaked: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations and not self.leaked

    def summary(self) -> str:
        rate = self.device_steps / max(self.wall_s, 1e-9)
        lines = [
            f"soak: {self.device_steps:.3g} device-steps ({self.env_steps:.3g} env-steps) in {self.wall_s:.1f} s ({rate / 1e6:.1f} M device-steps/s), "
            f"{self.cycles} create/close cycles",
            f"resident memory after each cycle (MB): first {self.rss_mb[0]:.1f}, last {self.rss_mb[-1]:.1f}, max {max(self.rss_mb):.1f}" if self.rss_mb else "",
            f"violations: {len(self.violations)}" + ("" if not self.violations else " - " + "; ".join(self.violations[:5])),
            "memory: " + ("GROWING (leak?)" if self.leaked else "flat"),
            "result: " + ("OK" if self.ok else "FAILED"),
        ]
        return "\n".join(line for line in lines if line)

    def to_dict(self) -> Dict[str, object]:
        return dict(asdict(self), ok=self.ok)


def _actions(rng: np.random.Generator, b: int, n: int, m: int, l: int, count: int = 8) -> List[Dict[str, np.ndarray]]:
    extremes = np.array([0.0, 1e-300, 1e-12, 0.5, 1.0, 1e12, 1e308])
    out = []
    for _ in range(count):
        w = lambda: np.where(rng.random((b, n)) < 0.2, extremes[rng.integers(0, len(extremes), (b, n))], rng.random((b, n)))  # noqa: E731
        out.append({
            "version": rng.integers(0, m, (b, n)),
            "partition": rng.integers(0, l + 1, (b, n)),
            "bandwidth": w(),
            "compute": w(),
        })
    return out


def soak(
    config: ConfigLike = None,
    device_steps: float = 1e9,
    num_envs: int = 4096,
    num_threads: Optional[int] = None,
    cycle_steps: int = 500,
    rss_slack: float = 0.10,
    seed: int = 0,
    progress: bool = True,
) -> SoakResult:
    """Steps ``device_steps`` device decisions (env-steps x N) of random valid actions; see the module docs."""
    from .vector import MciaVectorEnv

    cfg = as_config(config)
    n = cfg.num_devices
    total_env_steps = int(device_steps // n)
    rng = np.random.default_rng(seed)
    result = SoakResult(0, 0, 0, 0.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_env_steps * n, desc="soak", unit="device-step", unit_scale=True, leave=False)
    start = time.perf_counter()
    while result.env_steps < total_env_steps and len(result.violations) < 20:
        venv = MciaVectorEnv(num_envs, cfg, num_threads=num_threads, copy=False, info=True)
        low, high = venv.single_observation_space.low, venv.single_observation_space.high
        actions = _actions(rng, num_envs, n, venv.num_versions, venv.num_units)
        venv.reset(seed=seed + result.cycles * num_envs)
        for k in range(cycle_steps):
            if result.env_steps >= total_env_steps:
                break
            obs, rew, _, _, info = venv.step(actions[k % len(actions)])
            where = f"cycle {result.cycles} step {k}"
            if not (np.all(np.isfinite(obs)) and np.all(obs >= low) and np.all(obs <= high)):
                result.violations.append(f"{where}: observation outside its space")
            if not np.all(np.isfinite(rew)):
                result.violations.append(f"{where}: non-finite reward")
            tasked = info["version"] >= 0  # a decision was made (not an autoreset row)
            for key in ("latency", "utility", "t_tx", "t_edge"):
                if not np.all(np.isfinite(info[key][tasked])):
                    result.violations.append(f"{where}: non-finite {key}")
            if not (np.all(np.isfinite(info["backlog_s"])) and np.all(np.isfinite(info["edge_backlog_s"]))):
                result.violations.append(f"{where}: non-finite backlog")
            result.env_steps += num_envs
            if bar is not None:
                bar.update(num_envs * n)
        venv.close()
        del venv, actions
        gc.collect()
        result.cycles += 1
        result.rss_mb.append(rss_bytes() / 1e6)
    result.wall_s = time.perf_counter() - start
    result.device_steps = result.env_steps * n
    if bar is not None:
        bar.close()
    # Memory after the second cycle (allocator and caches warmed up) is the baseline; later cycles must stay near it.
    if len(result.rss_mb) >= 3:
        base = result.rss_mb[1]
        result.leaked = max(result.rss_mb[2:]) > base * (1 + rss_slack) + 5.0
    return result


__all__ = ["SoakResult", "rss_bytes", "soak"]
