"""The shapes every part of the package shares: observation and action spaces, the observation layout and
the info layout (SPEC sections 5 and 6).

A leaf module: it imports only NumPy, Gymnasium and the core, so the environments, the vector env, the
renderer and the library adapters all read one definition, exported by the Rust core rather than retyped.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from . import _core

#: Names of the per-device observation entries, in order (``obs[7 n + k]``).
OBS_DEVICE_FIELDS = tuple(_core.OBS_DEVICE_FIELDS)
#: Names of the observation entries after the per-device ones, in order.
OBS_GLOBAL_FIELDS = tuple(_core.OBS_GLOBAL_FIELDS)
#: Upper bounds of the per-device observation entries (lower bounds are 0).
OBS_DEVICE_HIGH = np.array(_core.OBS_DEVICE_HIGH, dtype=np.float32)
#: Per-device float info fields, each ``(..., N)``.
INFO_F64_FIELDS = tuple(_core.INFO_F64_FIELDS)
#: Scalar float info fields, each ``(...)``.
INFO_F64_SCALARS = tuple(_core.INFO_F64_SCALARS)
#: Per-device integer info fields, each ``(..., N)``.
INFO_I64_FIELDS = tuple(_core.INFO_I64_FIELDS)
#: Keys of the Dict action.
ACTION_KEYS = ("version", "partition", "bandwidth", "compute")


def obs_dim(n: int) -> int:
    """Observation length for N devices, ``7 N + 3``."""
    return len(OBS_DEVICE_FIELDS) * n + len(OBS_GLOBAL_FIELDS)


def observation_space(n: int) -> spaces.Box:
    """``Box(0, high, (7N + 3,), float32)`` with the bounds of SPEC section 5 (built in float32, so
    Gymnasium has no precision to warn about)."""
    high = np.concatenate([np.tile(OBS_DEVICE_HIGH, n), np.ones(len(OBS_GLOBAL_FIELDS), dtype=np.float32)])
    return spaces.Box(low=np.zeros_like(high), high=high, dtype=np.float32)


def action_space(n: int, m: int, l: int) -> spaces.Dict:
    """The Dict action space for N devices, M versions and L units."""
    zeros, ones = np.zeros(n, dtype=np.float32), np.ones(n, dtype=np.float32)
    return spaces.Dict(
        {
            "version": spaces.MultiDiscrete(np.full(n, m, dtype=np.int64)),
            "partition": spaces.MultiDiscrete(np.full(n, l + 1, dtype=np.int64)),
            "bandwidth": spaces.Box(zeros, ones, dtype=np.float32),
            "compute": spaces.Box(zeros.copy(), ones.copy(), dtype=np.float32),
        }
    )


__all__ = [
    "ACTION_KEYS",
    "INFO_F64_FIELDS",
    "INFO_F64_SCALARS",
    "INFO_I64_FIELDS",
    "OBS_DEVICE_FIELDS",
    "OBS_DEVICE_HIGH",
    "OBS_GLOBAL_FIELDS",
    "action_space",
    "obs_dim",
    "observation_space",
]
