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

from . import _core, policies, spaces, traces, wrappers, zoo
from ._core import ActionError, ConcurrentUseError, ConfigError, InternalError, MciaError, OutOfMemoryError, PolicyError, ResetNeeded, SnapshotError
from .ablation import AblationResult, AblationSweep, ablate, ablate_sweep
from .config import Config, scenarios
from .env import MciaCloudEnv, MciaEnv
from .evaluation import Comparison, EvalResult, compare, evaluate
from .sweep import SweepResult, sweep
from .vector import MciaCloudVectorEnv, MciaVectorEnv

__version__: str = _core.__version__

ENV_ID = "MCIA-v0"
#: The cloud-edge-end environment (SPEC section 8): MCIA-v0 with ``cloud.enabled = true``.
CLOUD_ENV_ID = "MCIA-Cloud-v0"
#: Every registered environment id and the config overrides that define it.
ENV_IDS = {ENV_ID: {}, CLOUD_ENV_ID: {"cloud.enabled": True}}


def _register_envs() -> None:
    """Registers ``MCIA-v0`` and ``MCIA-Cloud-v0`` with Gymnasium (idempotent)."""
    for env_id, (entry, vector_entry) in {
        ENV_ID: ("mcia.env:MciaEnv", "mcia.vector:MciaVectorEnv"),
        CLOUD_ENV_ID: ("mcia.env:MciaCloudEnv", "mcia.vector:MciaCloudVectorEnv"),
    }.items():
        if env_id in _gym.registry:
            continue
        _gym.register(
            id=env_id,
            entry_point=entry,
            vector_entry_point=vector_entry,
            max_episode_steps=Config.default()["time"]["episode_slots"],
        )


def env_config(env_id: str = ENV_ID, config: "ConfigLike" = None) -> Config:
    """The scenario of environment ``env_id`` (``MCIA-v0`` or ``MCIA-Cloud-v0``) over ``config``."""
    if env_id not in ENV_IDS:
        raise ConfigError(f"unknown environment id {env_id!r}; one of {list(ENV_IDS)}")
    from .config import as_config

    return as_config(config).replace(ENV_IDS[env_id])


_register_envs()

__all__ = [
    "AblationResult",
    "AblationSweep",
    "ActionError",
    "ConcurrentUseError",
    "Comparison",
    "Config",
    "ConfigError",
    "CLOUD_ENV_ID",
    "ENV_ID",
    "ENV_IDS",
    "MciaCloudEnv",
    "MciaCloudVectorEnv",
    "env_config",
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
