"""Stable-Baselines3 adapter: :class:`Sb3VecEnv`, an SB3 ``VecEnv`` backed by one native
:class:`mcia.MciaVectorEnv`.

>>> from stable_baselines3 import PPO
>>> from mcia.sb3 import make_sb3_env
>>> env = make_sb3_env(64, seed=0)                 # Sb3VecEnv inside SB3's VecMonitor
>>> model = PPO("MlpPolicy", env, n_steps=128).learn(10_000)

All B environments step in one call into the Rust core, so this is much faster than a ``DummyVecEnv`` of
single environments. Actions are flat (see :mod:`mcia.wrappers`): by default ``Box(-1, 1, (4N,), float32)``
(the symmetric range SB3's Gaussian policies and their clipping expect), or
``MultiDiscrete([M]*N + [L+1]*N + [K]*N + [K]*N)`` with ``action="multidiscrete"``. With the cloud tier
(``MCIA-Cloud-v0``, or a config with ``cloud.enabled = true``) the flat action has a fifth block of N, the
second cut ``cloud_partition``: ``Box(-1, 1, (5N,))`` or ``+ [L+1]*N``.

SB3 conventions it follows: when ``dones[i]`` is True, ``obs[i]`` is already the first observation of the
next episode, ``infos[i]["terminal_observation"]`` is the last observation of the finished one and
``infos[i]["TimeLimit.truncated"]`` is True (MCIA episodes end only by truncation); other steps give empty
info dicts. ``env.seed(s)`` followed by ``reset()`` gives environment i the seed ``s + i``, exactly like
``MciaVectorEnv.reset(seed=s)`` and ``MciaEnv.reset(seed=s + i)``; ``reset()`` without a pending seed
continues every environment's random stream. Rewards are float32.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Type, Union, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from stable_baselines3.common.vec_env import VecEnv, VecMonitor

from .config import ConfigLike
from .vector import MciaVectorEnv
from .wrappers import (
    DEFAULT_SHARE_BINS,
    _check_dict_action_space,
    _check_low,
    _check_share_bins,
    box_space,
    box_to_dict,
    env_dims,
    multidiscrete_space,
    multidiscrete_to_dict,
)

ACTION_KINDS = ("box", "multidiscrete")


class Sb3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` over one :class:`mcia.MciaVectorEnv` (module doc: conventions).

    Args:
        num_envs: number of environments B (ignored when ``venv`` is given).
        config: scenario (a :class:`mcia.Config`, a partial dict or a JSON / TOML path).
        seed: if given, the first ``reset()`` seeds environment i with ``seed + i`` (as ``env.seed(seed)``).
        num_threads: threads of the native vector env (default: every core).
        action: ``"box"`` (default) or ``"multidiscrete"``.
        share_bins: K for ``action="multidiscrete"``.
        low: lower bound of the Box action space, ``-1.0`` (default, recommended for SB3) or ``0.0``.
        venv: an existing ``MciaVectorEnv`` (possibly inside Gymnasium vector wrappers that keep its Dict
            action space) to use instead of creating one. Either autoreset mode works: a ``"same_step"`` env
            is used as it is; for a ``"next_step"`` env the finished environments are reset right away
            (with their continuing random streams, which gives the same episodes as ``"same_step"``).
            Create it with ``info=False`` for speed; the per-device info is not passed to SB3.

    ``get_attr`` of an attribute of the native env (``num_devices``, ``config``, ``render_mode`` ...) returns
    that value once per requested index; ``set_attr`` and ``env_method`` act once on the shared native env
    (so they need every index), ``env_method`` repeating the result per index.
    """

    def __init__(
        self,
        num_envs: int = 1,
        config: ConfigLike = None,
        seed: Optional[int] = None,
        num_threads: Optional[int] = None,
        action: str = "box",
        share_bins: int = DEFAULT_SHARE_BINS,
        low: float = -1.0,
        venv: Optional[VectorEnv] = None,
    ) -> None:
        if action not in ACTION_KINDS:
            raise ValueError(f"Sb3VecEnv: action must be one of {ACTION_KINDS}, got {action!r}")
        if venv is None:
            venv = MciaVectorEnv(
                num_envs, config, num_threads=num_threads, autoreset_mode=AutoresetMode.SAME_STEP, info=False
            )
        elif not isinstance(venv, VectorEnv) or not isinstance(venv.unwrapped, MciaVectorEnv):
            raise TypeError(f"Sb3VecEnv: venv must be an mcia.MciaVectorEnv, got {type(venv).__name__}")
        _check_dict_action_space(venv.single_action_space, "Sb3VecEnv", single=False)
        self.venv: VectorEnv = venv
        self.dims = env_dims(venv, "Sb3VecEnv")
        self.action_kind = action
        self.low = _check_low(low, "Sb3VecEnv")
        self.share_bins = _check_share_bins(share_bins, "Sb3VecEnv")
        mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
            raise ValueError(f"Sb3VecEnv: venv autoreset_mode must be SAME_STEP or NEXT_STEP, got {mode}")
        self._same_step = mode == AutoresetMode.SAME_STEP
        self._must_copy = not getattr(venv.unwrapped, "copy", True)
        if action == "box":
            action_space: gym.Space = box_space(self.dims, self.low)
        else:
            action_space = multidiscrete_space(self.dims, self.share_bins)
        self._actions: Optional[np.ndarray] = None
        super().__init__(venv.num_envs, venv.single_observation_space, action_space)
        if seed is not None:
            self.seed(seed)

    # -- actions ---------------------------------------------------------------------------------------

    def to_dict_actions(self, actions: np.ndarray) -> dict:
        """The native Dict action (arrays ``(B, N)``) for flat SB3 actions ``(B, 4N)`` (``(B, 5N)`` with the
        cloud tier)."""
        actions = np.asarray(actions)
        if actions.ndim == 1 and self.num_envs == 1:
            actions = actions[None]
        if actions.ndim != 2 or actions.shape[0] != self.num_envs:
            raise ValueError(
                f"Sb3VecEnv: actions must have shape ({self.num_envs}, {self.dims.flat_size}), "
                f"got {actions.shape}"
            )
        if self.action_kind == "box":
            return box_to_dict(actions, self.dims, self.low, "Sb3VecEnv")
        return multidiscrete_to_dict(actions, self.dims, self.share_bins, "Sb3VecEnv")

    # -- VecEnv API ------------------------------------------------------------------------------------

    def reset(self) -> np.ndarray:
        """Resets every environment; pending seeds from :meth:`seed` are used once, then cleared."""
        seeds: Optional[List[Optional[int]]] = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, _ = self.venv.reset(seed=cast(Any, seeds))  # MciaVectorEnv takes per-env seed lists
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._actions = None
        return self._out(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Stores the actions; :meth:`step_wait` steps every environment in one native call."""
        self._actions = actions

    def step_wait(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, List[dict]]:
        if self._actions is None:
            raise RuntimeError("Sb3VecEnv: step_wait() called without step_async()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(self.to_dict_actions(actions))
        # copies first: with copy=False these are the native env's buffers, which a reset below overwrites
        obs = self._out(obs)
        rewards = np.array(rewards, dtype=np.float32)
        dones = np.logical_or(terminated, truncated)
        infos: List[dict] = [{} for _ in range(self.num_envs)]
        if dones.any():
            idx = np.flatnonzero(dones)
            time_limit = np.logical_and(truncated, np.logical_not(terminated))
            if self._same_step:
                final_obs = info["final_obs"]
                finals = [np.asarray(final_obs[i], dtype=np.float32) for i in idx]
            else:
                finals = [obs[i].copy() for i in idx]
                reset_obs, _ = self.venv.reset(options={"reset_mask": dones})
                obs[idx] = reset_obs[idx]
            for i, last in zip(idx, finals):
                infos[i] = {
                    "terminal_observation": last,
                    "TimeLimit.truncated": bool(time_limit[i]),
                }
        return obs, rewards, dones, infos

    def _out(self, obs: np.ndarray) -> np.ndarray:
        if self._must_copy or obs.dtype != np.float32:
            return np.array(obs, dtype=np.float32)
        return obs

    def close(self) -> None:
        self.venv.close()

    def _all_indices(self, indices: Any, what: str) -> List[int]:
        idx = list(self._get_indices(indices))
        if sorted(idx) != list(range(self.num_envs)):
            raise ValueError(
                f"Sb3VecEnv: {what} acts on the single shared MciaVectorEnv, so it needs every index "
                f"(indices=None), got {idx}"
            )
        return idx

    def get_attr(self, attr_name: str, indices: Any = None) -> List[Any]:
        idx = list(self._get_indices(indices))
        if attr_name == "action_space":
            value: Any = self.action_space
        elif attr_name == "observation_space":
            value = self.observation_space
        else:
            value = _find_attr(self.venv, attr_name)
        return [value for _ in idx]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._all_indices(indices, "set_attr")
        setattr(self.venv.unwrapped, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> List[Any]:
        idx = self._all_indices(indices, "env_method")
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in idx]

    def env_is_wrapped(self, wrapper_class: Type[Any], indices: Any = None) -> List[bool]:
        idx = list(self._get_indices(indices))
        wrapped = False
        env: Any = self.venv
        while isinstance(env, VectorWrapper):
            if isinstance(env, wrapper_class):
                wrapped = True
                break
            env = env.env
        return [wrapped for _ in idx]

    def get_images(self) -> Sequence[Optional[np.ndarray]]:
        return [None for _ in range(self.num_envs)]

    def render(self, mode: Optional[str] = None) -> Any:
        """The native env's rendering (``render_mode="ansi"``: a text table of environment 0), else None."""
        return self.venv.render()

    # -- extras ----------------------------------------------------------------------------------------

    @property
    def unwrapped_venv(self) -> MciaVectorEnv:
        """The native :class:`mcia.MciaVectorEnv`."""
        return cast(MciaVectorEnv, self.venv.unwrapped)


def _find_attr(venv: Any, name: str) -> Any:
    env = venv
    while True:
        try:
            return getattr(env, name)
        except AttributeError:
            pass
        if isinstance(env, VectorWrapper):
            env = env.env
        else:
            raise AttributeError(f"Sb3VecEnv: the MCIA vector env has no attribute {name!r}")


def make_sb3_env(
    num_envs: int = 1,
    config: ConfigLike = None,
    seed: Optional[int] = None,
    *,
    monitor: bool = True,
    num_threads: Optional[int] = None,
    action: str = "box",
    share_bins: int = DEFAULT_SHARE_BINS,
    low: float = -1.0,
) -> Union[Sb3VecEnv, VecMonitor]:
    """An :class:`Sb3VecEnv`, inside SB3's ``VecMonitor`` (episode returns and lengths in the logs) unless
    ``monitor=False``."""
    env = Sb3VecEnv(
        num_envs, config, seed=seed, num_threads=num_threads, action=action, share_bins=share_bins, low=low
    )
    return VecMonitor(env) if monitor else env


__all__ = ["ACTION_KINDS", "Sb3VecEnv", "make_sb3_env"]
