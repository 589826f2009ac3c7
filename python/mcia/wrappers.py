"""Flat action wrappers for learning libraries that do not take Dict actions.

MCIA's native action is a ``Dict`` (``version``, ``partition``, ``bandwidth``, ``compute``, one entry per
device; with the cloud tier, ``MCIA-Cloud-v0`` or ``cloud.enabled = true``, also ``cloud_partition``, the
second cut). Most RL libraries want a single ``Box`` or ``MultiDiscrete``. The wrappers here expose such a
flat space and translate it into the Dict the environment reads:

- :class:`BoxAction` / :class:`BoxActionVector`: ``Box(low, 1, (4N,), float32)`` (``(5N,)`` with the cloud
  tier; continuous policies: PPO, SAC, TD3 ...). Use ``low=-1.0`` with Stable-Baselines3, whose Gaussian
  policies assume ``[-1, 1]``.
- :class:`MultiDiscreteAction` / :class:`MultiDiscreteActionVector`:
  ``MultiDiscrete([M]*N + [L+1]*N + [K]*N + [K]*N)`` (categorical policies); with the cloud tier
  ``[L+1]*N`` more for the second cut.

Flat layout (both kinds), with N devices, M versions and L units::

    x[0   : N ]  version   of device 0..N-1
    x[N   : 2N]  partition of device 0..N-1
    x[2N  : 3N]  bandwidth weight of device 0..N-1
    x[3N  : 4N]  compute weight   of device 0..N-1
    x[4N  : 5N]  cloud_partition  of device 0..N-1   (cloud tier only)

The wrappers tell a cloud environment by its Dict action space (a ``cloud_partition`` key) and then use the
5N layout; without the cloud tier the layout is 4N, unchanged. :class:`Dims` carries the choice
(``dims.cloud``; :func:`env_dims` finds it, ``dims.with_cloud()`` sets it).

Box mapping (per entry; ``u`` is ``x`` moved affinely from ``[low, 1]`` onto ``[0, 1]``, then clipped):

- ``version   = min(floor(u * M),       M - 1)``
- ``partition = min(floor(u * (L + 1)), L)``, and ``cloud_partition`` the same way
- ``bandwidth = u`` and ``compute = u`` (weights; the environment floors them at ``action.min_share_weight``
  and normalises them over the offloading devices, so only ratios matter).

So ``u`` in ``[k / M, (k + 1) / M)`` selects version ``k``. A value less than ``1e-6`` of a bin below a
boundary counts as on it, so ``k / M`` rounded to float32 still selects ``k``. Inputs outside
``[low, 1]`` are clipped, not rejected: Stable-Baselines3's PPO samples unbounded Gaussians and clips them to
the space itself, and other code may not. Non-finite inputs raise :class:`mcia.ActionError`.

MultiDiscrete mapping: version, partition and cloud_partition are taken as they are; weight bin ``j`` in
``0..K-1`` becomes the weight ``(j + 1) / K``, so no bin gives a zero weight (the top bin is 1, the bottom
``1 / K``).

The mapping functions :func:`box_to_dict` and :func:`multidiscrete_to_dict` work on any leading batch
shape and are shared by the single and vector wrappers and by :mod:`mcia.sb3`.
"""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Tuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorActionWrapper, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _core
from ._actions import _index_array
from .spaces import ACTION_KEYS, CLOUD_ACTION_KEYS

DEFAULT_SHARE_BINS = 5
_BIN_TOL = 1e-6


class Dims(NamedTuple):
    """The sizes an action mapping needs: devices N, versions M and units L, and whether the environment has
    the cloud tier (``cloud``, a class attribute: ``Dims`` has it False, :class:`CloudDims` True; the tuple
    stays ``(N, M, L)``). Build one with the cloud tier by ``Dims(n, m, l).with_cloud()``."""

    num_devices: int
    num_versions: int
    num_units: int

    #: Whether the action has the cloud tier's ``cloud_partition`` (the 5N flat layout).
    cloud = False

    @property
    def num_blocks(self) -> int:
        """Blocks of N entries in the flat action: 4, or 5 with the cloud tier."""
        return 5 if self.cloud else 4

    @property
    def flat_size(self) -> int:
        """Length of the flat action: 4N, or 5N with the cloud tier."""
        return self.num_blocks * self.num_devices

    def with_cloud(self, cloud: bool = True) -> "Dims":
        """The same sizes with (or, ``cloud=False``, without) the cloud tier."""
        return (CloudDims if cloud else Dims)(self.num_devices, self.num_versions, self.num_units)


class CloudDims(Dims):
    """:class:`Dims` of an environment with the cloud tier (``cloud`` is True): flat actions are 5N long."""

    __slots__ = ()
    cloud = True


def _layout(dims: Dims) -> str:
    return "[" + ", ".join(CLOUD_ACTION_KEYS if dims.cloud else ACTION_KEYS) + "] x N"


# -- dimensions and validation -------------------------------------------------------------------------


def _dims_of(obj: Any) -> Dims | None:
    try:
        return Dims(int(obj.num_devices), int(obj.num_versions), int(obj.num_units))
    except (AttributeError, TypeError, ValueError):
        return None


def _has_cloud_key(space: Any) -> bool:
    return isinstance(space, spaces.Dict) and "cloud_partition" in space.spaces


def _cloud_of(env: Any) -> bool:
    """Whether the environment's Dict action space (its own, else the unwrapped one's) has the second cut."""
    for candidate in (env, getattr(env, "unwrapped", None)):
        if candidate is None:
            continue
        for attr in ("single_action_space", "action_space"):
            space = getattr(candidate, attr, None)
            if isinstance(space, spaces.Dict):
                return _has_cloud_key(space)
    return False


def env_dims(env: Any, where: str) -> Dims:
    """``Dims`` of an MCIA environment (single or vector, wrapped or not), with ``cloud`` set when its Dict
    action space has the cloud tier's ``cloud_partition``; a clear ``TypeError`` otherwise."""
    for candidate in (env, getattr(env, "unwrapped", None)):
        if candidate is None:
            continue
        dims = _dims_of(candidate)
        if dims is not None:
            return dims.with_cloud(_cloud_of(env))
    raise TypeError(
        f"{where}: expected an MCIA environment (mcia.MciaEnv, gym.make('MCIA-v0'), mcia.MciaVectorEnv or a "
        f"wrapper around one, exposing num_devices / num_versions / num_units), got {type(env).__name__}"
    )


def _check_dict_action_space(space: Any, where: str, single: bool) -> bool:
    """Checks that ``space`` is MCIA's Dict action space; returns whether it has the cloud tier."""
    if not isinstance(space, spaces.Dict) or set(space.spaces) not in (set(ACTION_KEYS), set(CLOUD_ACTION_KEYS)):
        kind = "action_space" if single else "single_action_space"
        raise TypeError(
            f"{where}: the wrapped environment's {kind} must be MCIA's Dict action space with keys "
            f"{list(ACTION_KEYS)} (and 'cloud_partition' with the cloud tier), got {space}; is it already "
            f"wrapped by a flat action wrapper?"
        )
    return _has_cloud_key(space)


def _check_share_bins(share_bins: Any, where: str) -> int:
    if isinstance(share_bins, (bool, np.bool_)) or not isinstance(share_bins, (int, np.integer)) or share_bins < 1:
        raise ValueError(f"{where}: share_bins must be a positive integer, got {share_bins!r}")
    return int(share_bins)


def _check_low(low: Any, where: str) -> float:
    low = float(low)
    if not (np.isfinite(low) and low < 1.0):
        raise ValueError(f"{where}: low must be a finite number below 1 (0.0 or -1.0), got {low}")
    return low


def _flat(action: Any, dims: Dims, where: str) -> np.ndarray:
    arr = np.asarray(action)
    size = dims.flat_size
    if arr.ndim == 0 or arr.shape[-1] != size:
        raise _core.ActionError(
            f"{where}: flat action must have last axis of length {dims.num_blocks}N = {size} "
            f"({_layout(dims)}), got shape {arr.shape}"
        )
    return arr


# -- spaces --------------------------------------------------------------------------------------------


def box_space(dims: Dims, low: float = 0.0) -> spaces.Box:
    """``Box(low, 1, (4N,), float32)`` (``(5N,)`` with the cloud tier): the flat continuous action space."""
    return spaces.Box(np.float32(low), np.float32(1.0), (dims.flat_size,), dtype=np.float32)


def multidiscrete_space(dims: Dims, share_bins: int = DEFAULT_SHARE_BINS) -> spaces.MultiDiscrete:
    """``MultiDiscrete([M]*N + [L+1]*N + [K]*N + [K]*N)``, with ``+ [L+1]*N`` for the cloud tier's second
    cut: the flat discrete action space."""
    n, m, l = dims
    blocks = [np.full(n, m), np.full(n, l + 1), np.full(n, share_bins), np.full(n, share_bins)]
    if dims.cloud:
        blocks.append(np.full(n, l + 1))
    return spaces.MultiDiscrete(np.concatenate(blocks).astype(np.int64))


# -- mappings (shared by every wrapper and by mcia.sb3) ------------------------------------------------


def _bins(u: np.ndarray, count: int) -> np.ndarray:
    idx = np.floor(u * count + _BIN_TOL).astype(np.int64)
    np.minimum(idx, count - 1, out=idx)
    return idx


def box_to_dict(action: Any, dims: Dims, low: float = 0.0, where: str = "BoxAction") -> Dict[str, np.ndarray]:
    """Maps flat Box actions ``(..., 4N)`` (``(..., 5N)`` with the cloud tier) to MCIA's Dict action (arrays
    ``(..., N)``); see the module doc."""
    x = _flat(action, dims, where)
    if x.dtype.kind not in "fiub":
        raise _core.ActionError(f"{where}: flat action must hold numbers, got dtype {x.dtype}")
    u = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(u)):
        raise _core.ActionError(f"{where}: flat action holds non-finite values: {x!r}")
    if low != 0.0:
        u = (u - low) * (1.0 / (1.0 - low))
    u = np.clip(u, 0.0, 1.0)
    n = dims.num_devices
    out = {
        "version": _bins(u[..., :n], dims.num_versions),
        "partition": _bins(u[..., n : 2 * n], dims.num_units + 1),
        "bandwidth": np.ascontiguousarray(u[..., 2 * n : 3 * n]),
        "compute": np.ascontiguousarray(u[..., 3 * n : 4 * n]),
    }
    if dims.cloud:
        out["cloud_partition"] = _bins(u[..., 4 * n : 5 * n], dims.num_units + 1)
    return out


def multidiscrete_to_dict(
    action: Any, dims: Dims, share_bins: int = DEFAULT_SHARE_BINS, where: str = "MultiDiscreteAction"
) -> Dict[str, np.ndarray]:
    """Maps flat MultiDiscrete actions ``(..., 4N)`` (``(..., 5N)`` with the cloud tier) to MCIA's Dict
    action; bin j gives weight (j + 1) / K.

    Version, partition and cloud_partition indices are passed through (the environment checks their range);
    share bins outside ``0..K-1`` raise :class:`mcia.ActionError`.
    """
    x = _index_array("flat action", _flat(action, dims, where), where)
    n = dims.num_devices
    w = x[..., 2 * n : 4 * n]
    if w.size and (w.min() < 0 or w.max() >= share_bins):
        bad = np.argwhere((w < 0) | (w >= share_bins))[0]
        raise _core.ActionError(
            f"{where}: share bin at flat index {tuple(int(i) for i in bad[:-1]) + (2 * n + int(bad[-1]),)} "
            f"is {int(w[tuple(bad)])}, outside 0..{share_bins - 1}"
        )
    weights = (w + 1.0) * (1.0 / share_bins)
    out = {
        "version": np.ascontiguousarray(x[..., :n]),
        "partition": np.ascontiguousarray(x[..., n : 2 * n]),
        "bandwidth": np.ascontiguousarray(weights[..., :n]),
        "compute": np.ascontiguousarray(weights[..., n:]),
    }
    if dims.cloud:
        out["cloud_partition"] = np.ascontiguousarray(x[..., 4 * n : 5 * n])
    return out


def dict_to_box(action: Dict[str, Any], dims: Dims, low: float = 0.0) -> np.ndarray:
    """A flat Box action that :func:`box_to_dict` maps back to ``action`` (bin centres for the indices,
    weights clipped to [0, 1]); handy to express heuristics in the flat space. With the cloud tier
    (``dims.cloud``) ``action`` needs ``cloud_partition`` too and the result is 5N long."""
    m, l1 = dims.num_versions, dims.num_units + 1
    blocks = [
        (np.asarray(action["version"], dtype=np.float64) + 0.5) / m,
        (np.asarray(action["partition"], dtype=np.float64) + 0.5) / l1,
        np.clip(np.asarray(action["bandwidth"], dtype=np.float64), 0.0, 1.0),
        np.clip(np.asarray(action["compute"], dtype=np.float64), 0.0, 1.0),
    ]
    if dims.cloud:
        if "cloud_partition" not in action:
            raise _core.ActionError("dict_to_box: the cloud tier's action needs 'cloud_partition' (the second cut)")
        blocks.append((np.asarray(action["cloud_partition"], dtype=np.float64) + 0.5) / l1)
    u = np.concatenate(blocks, axis=-1)
    return (low + u * (1.0 - low)).astype(np.float32)


# -- single-environment wrappers -----------------------------------------------------------------------


class BoxAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Exposes ``Box(low, 1, (4N,), float32)`` (``(5N,)`` with the cloud tier) over an MCIA environment; see
    the module doc for the layout.

    Args:
        env: ``mcia.MciaEnv``, ``gym.make("MCIA-v0")`` or ``gym.make("MCIA-Cloud-v0")`` (possibly wrapped).
        low: ``0.0`` (default, the space is ``[0, 1]``) or ``-1.0`` (``[-1, 1]``, mapped affinely onto
            ``[0, 1]``; recommended for Stable-Baselines3).

    Out-of-range inputs are clipped; non-finite inputs raise :class:`mcia.ActionError`.
    """

    def __init__(self, env: gym.Env, low: float = 0.0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, low=low)
        gym.ActionWrapper.__init__(self, env)
        cloud = _check_dict_action_space(env.action_space, "BoxAction", single=True)
        self.dims = env_dims(env, "BoxAction").with_cloud(cloud)
        self.low = _check_low(low, "BoxAction")
        self.action_space = box_space(self.dims, self.low)

    def action(self, action: Any) -> Dict[str, np.ndarray]:
        """The Dict action for a flat ``(4N,)`` (cloud tier: ``(5N,)``) action."""
        return box_to_dict(action, self.dims, self.low, "BoxAction")


class MultiDiscreteAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Exposes ``MultiDiscrete([M]*N + [L+1]*N + [K]*N + [K]*N)`` (cloud tier: ``+ [L+1]*N``) over an MCIA
    environment.

    Args:
        env: ``mcia.MciaEnv``, ``gym.make("MCIA-v0")`` or ``gym.make("MCIA-Cloud-v0")`` (possibly wrapped).
        share_bins: K, the number of levels of each bandwidth and compute weight; bin j gives (j + 1) / K.
    """

    def __init__(self, env: gym.Env, share_bins: int = DEFAULT_SHARE_BINS) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, share_bins=share_bins)
        gym.ActionWrapper.__init__(self, env)
        cloud = _check_dict_action_space(env.action_space, "MultiDiscreteAction", single=True)
        self.dims = env_dims(env, "MultiDiscreteAction").with_cloud(cloud)
        self.share_bins = _check_share_bins(share_bins, "MultiDiscreteAction")
        self.action_space = multidiscrete_space(self.dims, self.share_bins)

    def action(self, action: Any) -> Dict[str, np.ndarray]:
        """The Dict action for a flat ``(4N,)`` (cloud tier: ``(5N,)``) action."""
        return multidiscrete_to_dict(action, self.dims, self.share_bins, "MultiDiscreteAction")


# -- vector wrappers -----------------------------------------------------------------------------------


def _check_vector(venv: Any, where: str) -> Dims:
    if not isinstance(venv, VectorEnv):
        raise TypeError(
            f"{where}: expected a gymnasium VectorEnv such as mcia.MciaVectorEnv, got {type(venv).__name__} "
            f"(use {where.replace('Vector', '')} for a single environment)"
        )
    cloud = _check_dict_action_space(venv.single_action_space, where, single=False)
    return env_dims(venv, where).with_cloud(cloud)


class BoxActionVector(VectorActionWrapper):
    """Vector form of :class:`BoxAction`: actions ``(B, 4N)``, ``single_action_space`` ``Box(low, 1, (4N,))``
    (``5N`` with the cloud tier).

    Args:
        venv: ``mcia.MciaVectorEnv`` or ``gym.make_vec("MCIA-v0" / "MCIA-Cloud-v0")`` (possibly wrapped).
        low: ``0.0`` or ``-1.0``, as for :class:`BoxAction`.
    """

    def __init__(self, venv: VectorEnv, low: float = 0.0) -> None:
        self.dims = _check_vector(venv, "BoxActionVector")
        super().__init__(venv)
        self.low = _check_low(low, "BoxActionVector")
        self.single_action_space = box_space(self.dims, self.low)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def actions(self, actions: Any) -> Dict[str, np.ndarray]:
        """The Dict action (arrays ``(B, N)``) for flat ``(B, 4N)`` (cloud tier: ``(B, 5N)``) actions."""
        return box_to_dict(actions, self.dims, self.low, "BoxActionVector")


class MultiDiscreteActionVector(VectorActionWrapper):
    """Vector form of :class:`MultiDiscreteAction`: actions ``(B, 4N)`` integers (``(B, 5N)`` with the cloud
    tier).

    Args:
        venv: ``mcia.MciaVectorEnv`` or ``gym.make_vec("MCIA-v0" / "MCIA-Cloud-v0")`` (possibly wrapped).
        share_bins: K, as for :class:`MultiDiscreteAction`.
    """

    def __init__(self, venv: VectorEnv, share_bins: int = DEFAULT_SHARE_BINS) -> None:
        self.dims = _check_vector(venv, "MultiDiscreteActionVector")
        super().__init__(venv)
        self.share_bins = _check_share_bins(share_bins, "MultiDiscreteActionVector")
        self.single_action_space = multidiscrete_space(self.dims, self.share_bins)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def actions(self, actions: Any) -> Dict[str, np.ndarray]:
        """The Dict action (arrays ``(B, N)``) for flat ``(B, 4N)`` (cloud tier: ``(B, 5N)``) actions."""
        return multidiscrete_to_dict(actions, self.dims, self.share_bins, "MultiDiscreteActionVector")


def flat_action_wrapper(env: Any, kind: str = "box", **kwargs: Any) -> Any:
    """Wraps a single or vector MCIA environment (with or without the cloud tier) with the flat ``kind``
    (``"box"`` or ``"multidiscrete"``)."""
    vector = isinstance(env, VectorEnv)
    table: Dict[str, Tuple[type, type]] = {
        "box": (BoxAction, BoxActionVector),
        "multidiscrete": (MultiDiscreteAction, MultiDiscreteActionVector),
    }
    if kind not in table:
        raise ValueError(f"kind must be 'box' or 'multidiscrete', got {kind!r}")
    return table[kind][1 if vector else 0](env, **kwargs)


__all__ = [
    "BoxAction",
    "BoxActionVector",
    "CloudDims",
    "DEFAULT_SHARE_BINS",
    "Dims",
    "MultiDiscreteAction",
    "MultiDiscreteActionVector",
    "box_space",
    "box_to_dict",
    "dict_to_box",
    "env_dims",
    "flat_action_wrapper",
    "multidiscrete_space",
    "multidiscrete_to_dict",
]
