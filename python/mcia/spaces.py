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
#: :data:`OBS_GLOBAL_FIELDS` with the cloud tier (SPEC section 8): ``wan_load`` before ``time``.
OBS_GLOBAL_FIELDS_CLOUD = tuple(_core.OBS_GLOBAL_FIELDS_CLOUD)
#: Upper bounds of the per-device observation entries (lower bounds are 0).
OBS_DEVICE_HIGH = np.array(_core.OBS_DEVICE_HIGH, dtype=np.float32)
#: Per-device float info fields, each ``(..., N)``.
INFO_F64_FIELDS = tuple(_core.INFO_F64_FIELDS)
#: Scalar float info fields, each ``(...)``.
INFO_F64_SCALARS = tuple(_core.INFO_F64_SCALARS)
#: Per-device integer info fields, each ``(..., N)``.
INFO_I64_FIELDS = tuple(_core.INFO_I64_FIELDS)
#: Info fields only the cloud tier has (``t_wan``, ``t_cloud``, ``cloud_partition``, ``wan_bps``).
CLOUD_INFO_FIELDS = tuple(_core.CLOUD_INFO_FIELDS)
#: Keys of the Dict action.
ACTION_KEYS = ("version", "partition", "bandwidth", "compute")
#: Keys of the Dict action with the cloud tier: the second cut last.
CLOUD_ACTION_KEYS = ACTION_KEYS + ("cloud_partition",)


def obs_global_fields(cloud: bool = False) -> tuple:
    """Names of the observation entries after the per-device ones (with the cloud tier's ``wan_load``)."""
    return OBS_GLOBAL_FIELDS_CLOUD if cloud else OBS_GLOBAL_FIELDS


def action_keys(cloud: bool = False) -> tuple:
    """Keys of the Dict action (with the cloud tier's ``cloud_partition``)."""
    return CLOUD_ACTION_KEYS if cloud else ACTION_KEYS


def obs_dim(n: int, cloud: bool = False) -> int:
    """Observation length for N devices, ``7 N + 3`` (``7 N + 4`` with the cloud tier)."""
    return len(OBS_DEVICE_FIELDS) * n + len(obs_global_fields(cloud))


def observation_space(n: int, cloud: bool = False) -> spaces.Box:
    """``Box(0, high, (7N + 3,), float32)`` (``7N + 4`` with the cloud tier) with the bounds of SPEC
    section 5 (built in float32, so Gymnasium has no precision to warn about)."""
    high = np.concatenate([np.tile(OBS_DEVICE_HIGH, n), np.ones(len(obs_global_fields(cloud)), dtype=np.float32)])
    return spaces.Box(low=np.zeros_like(high), high=high, dtype=np.float32)


def action_space(n: int, m: int, l: int, cloud: bool = False) -> spaces.Dict:
    """The Dict action space for N devices, M versions and L units; with the cloud tier it adds
    ``cloud_partition = MultiDiscrete([L+1]*N)``, the second cut."""
    zeros, ones = np.zeros(n, dtype=np.float32), np.ones(n, dtype=np.float32)
    fields = {
        "version": spaces.MultiDiscrete(np.full(n, m, dtype=np.int64)),
        "partition": spaces.MultiDiscrete(np.full(n, l + 1, dtype=np.int64)),
        "bandwidth": spaces.Box(zeros, ones, dtype=np.float32),
        "compute": spaces.Box(zeros.copy(), ones.copy(), dtype=np.float32),
    }
    if cloud:
        fields["cloud_partition"] = spaces.MultiDiscrete(np.full(n, l + 1, dtype=np.int64))
    return spaces.Dict(fields)


__all__ = [
    "ACTION_KEYS",
    "CLOUD_ACTION_KEYS",
    "CLOUD_INFO_FIELDS",
    "OBS_GLOBAL_FIELDS_CLOUD",
    "action_keys",
    "obs_global_fields",
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
