"""mcia-gym: a fast, reproducible Gymnasium environment for Multi-Compression-scale DNN Inference
Acceleration (MCIA) between heterogeneous end devices and an edge server.

>>> import gymnasium as gym, mcia
>>> env = gym.make("MCIA-v0")
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

The simulator core is written in Rust (``mcia._core``); see ``SPEC.md`` for the model and the README for
the observation, action and reward tables.
"""

from __future__ import annotations

import gymnasium as _gym

from . import _core, policies, spaces, wrappers, zoo
from ._core import ActionError, ConcurrentUseError, ConfigError, InternalError, MciaError, OutOfMemoryError, PolicyError, ResetNeeded, SnapshotError
from .ablation import AblationResult, AblationSweep, ablate, ablate_sweep
from .config import Config, scenarios
from .env import MciaEnv
from .evaluation import Comparison, EvalResult, compare, evaluate
from .sweep import SweepResult, sweep
from .vector import MciaVectorEnv

__version__: str = _core.__version__

ENV_ID = "MCIA-v0"


def _register_envs() -> None:
    """Registers ``MCIA-v0`` with Gymnasium (idempotent)."""
    if ENV_ID in _gym.registry:
        return
    _gym.register(
        id=ENV_ID,
        entry_point="mcia.env:MciaEnv",
        vector_entry_point="mcia.vector:MciaVectorEnv",
        max_episode_steps=Config.default()["time"]["episode_slots"],
    )


_register_envs()

__all__ = [
    "AblationResult",
    "AblationSweep",
    "ActionError",
    "ConcurrentUseError",
    "Comparison",
    "Config",
    "ConfigError",
    "ENV_ID",
    "EvalResult",
    "MciaEnv",
    "InternalError",
    "MciaError",
    "MciaVectorEnv",
    "OutOfMemoryError",
    "PolicyError",
    "ResetNeeded",
    "SnapshotError",
    "__version__",
    "ablate",
    "ablate_sweep",
    "compare",
    "evaluate",
    "sweep",
    "policies",
    "scenarios",
    "spaces",
    "wrappers",
    "zoo",
]
