"""Baseline policies (SPEC section 7), implemented in Rust and deciding from the true state.

>>> import mcia
>>> venv = mcia.MciaVectorEnv(8)
>>> obs, info = venv.reset(seed=0)
>>> policy = mcia.policies.RustPolicy("optimizer", venv.config)
>>> obs, reward, *_ = venv.step(policy(venv))

Policies: ``random``, ``device_only`` (p = L, fixed version), ``edge_only`` (p = 0, fixed version, equal
shares), ``neurosurgeon`` (most accurate version, latency-optimal cut, equal shares), ``greedy`` (each
device's best own utility with an equal share) and ``optimizer`` (alternates each device's best
(version, cut) with KKT-optimal shares, keeping only improvements of the slot's summed utility; never worse
than greedy on a slot).
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from . import _core
from .config import ConfigLike, as_config

#: Names of the built-in policies.
NAMES = tuple(_core.POLICY_NAMES)

#: One-line descriptions, for tables and ``--help``.
DESCRIPTIONS = {
    "random": "uniform version, cut and weights",
    "device_only": "everything on the device (p = L), most accurate version",
    "edge_only": "raw input to the edge (p = 0), most accurate version, equal shares",
    "neurosurgeon": "most accurate version, latency-optimal cut, equal shares",
    "greedy": "each device's best own (version, cut) with an equal share",
    "optimizer": "slot-wise optimum: alternating (version, cut) and KKT shares",
}


class RustPolicy:
    """A built-in policy for a :class:`mcia.MciaVectorEnv` of a given scenario.

    Calling it with the vector env returns the batch's action as a dict of ``(B, N)`` arrays (reused
    between calls: copy them to keep them). The decision runs in Rust on the env's thread pool with the
    GIL released.

    Args:
        name: one of :data:`NAMES`.
        config: the scenario (must match the vector env's).
        version: the fixed version index of ``device_only`` / ``edge_only`` (default: the most accurate).
        seed: seed of ``random``.
    """

    needs_state = True

    def __init__(self, name: str, config: ConfigLike = None, version: Optional[int] = None, seed: int = 0) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown policy {name!r}; built-in policies: {list(NAMES)}")
        self.name = name
        self.config = as_config(config)
        self._core = _core.CorePolicy(name, self.config.to_json(), version, seed)
        self._buffers: Dict[str, np.ndarray] = {}

    def __call__(self, venv) -> Dict[str, np.ndarray]:
        core = venv.unwrapped._core if hasattr(venv, "unwrapped") and not hasattr(venv, "_core") else venv._core
        b, n = core.num_envs, core.num_devices
        if not self._buffers or self._buffers["version"].shape != (b, n):
            self._buffers = {
                "version": np.zeros((b, n), np.int64),
                "partition": np.zeros((b, n), np.int64),
                "bandwidth": np.zeros((b, n), np.float64),
                "compute": np.zeros((b, n), np.float64),
            }
        buf = self._buffers
        self._core.act_into(core, buf["version"], buf["partition"], buf["bandwidth"], buf["compute"])
        return buf

    def __repr__(self) -> str:
        return f"RustPolicy({self.name!r})"
