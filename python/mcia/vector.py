"""The native vector environment, :class:`MciaVectorEnv` (``gym.make_vec("MCIA-v0", num_envs=...)``)."""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _core
from ._actions import ACTION_KEYS, action_fields
from .config import Config, ConfigLike, as_config
from .env import check_seed, entropy_seed
from .spaces import action_space, observation_space


def _autoreset_mode(mode: Union[str, AutoresetMode]) -> AutoresetMode:
    if isinstance(mode, AutoresetMode):
        m = mode
    else:
        names = {"next_step": AutoresetMode.NEXT_STEP, "nextstep": AutoresetMode.NEXT_STEP, "same_step": AutoresetMode.SAME_STEP, "samestep": AutoresetMode.SAME_STEP}
        key = str(mode).lower()
        if key not in names:
            raise ValueError(f"autoreset_mode must be 'next_step' or 'same_step', got {mode!r}")
        m = names[key]
    if m not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"MciaVectorEnv supports autoreset_mode NEXT_STEP and SAME_STEP, got {m}")
    return m


class MciaVectorEnv(VectorEnv):
    """``num_envs`` MCIA environments stepped in parallel by the Rust core, with the GIL released.

    Environment i behaves exactly like ``MciaEnv`` reset with seed ``seed + i``, whatever ``num_threads`` or
    ``num_envs``. Observations, rewards, flags and the info are written by the core into numpy arrays it
    hands out without copying. With ``copy=True`` (default) the caller owns what it gets: the arrays are
    reused only once Python holds none of them (so a training loop that drops them costs no copy and no
    allocation), and anything kept never changes. With ``copy=False`` every call returns the same arrays,
    overwritten in place (including by a masked ``reset``, which zeroes the reward and flag rows of the
    environments it resets).

    Args:
        num_envs: number of environments B.
        config: a :class:`mcia.Config`, a (partial) dict, or a JSON / TOML path.
        num_threads: threads for large batches (default: every core). Batches under 64 environments run
            serially, where fork/join costs more than it saves.
        autoreset_mode: ``"next_step"`` (Gymnasium's default) or ``"same_step"`` (``final_obs`` and
            ``final_info`` in the info).
        copy: return arrays the caller owns (True) or the same in-place arrays every call (False).
        info: build the info dict (per-device arrays ``(B, N)`` and ``edge_flops`` ``(B,)``); False is faster.
        render_mode: ``"ansi"`` renders environment 0.
        max_episode_steps: accepted for ``gym.make_vec``; episodes always last ``time.episode_slots`` steps.

    Actions are a dict of ``(B, N)`` arrays with the keys ``version``, ``partition``, ``bandwidth`` and
    ``compute``, in any integer (indices) or number (weights) dtype and any memory layout: the core converts
    them once. An invalid entry raises :class:`mcia.ActionError` naming the environment and device, and no
    environment changes.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["ansi"]}

    def __init__(
        self,
        num_envs: int = 1,
        config: ConfigLike = None,
        *,
        num_threads: Optional[int] = None,
        autoreset_mode: Union[str, AutoresetMode] = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        info: bool = True,
        render_mode: Optional[str] = None,
        max_episode_steps: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"MciaVectorEnv got unexpected arguments {sorted(kwargs)}")
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"MciaVectorEnv render_mode must be 'ansi' or None, got {render_mode!r}")
        self.config: Config = as_config(config)
        slots = self.config["time"]["episode_slots"]
        if max_episode_steps is not None and max_episode_steps != slots:
            warnings.warn(
                f"{'MCIA-Cloud-v0' if self.config['cloud']['enabled'] else 'MCIA-v0'}: max_episode_steps={max_episode_steps} is ignored by the native vector env, whose "
                f"episodes last time.episode_slots={slots} steps; set time.episode_slots in the config instead.",
                stacklevel=2,
            )
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = dict(self.metadata, autoreset_mode=self.autoreset_mode)
        self.copy = bool(copy)
        self.render_mode = render_mode
        self.num_envs = int(num_envs)
        self._core = _core.CoreVecEnv(
            self.config.to_json(),
            self.num_envs,
            0,
            "same_step" if self.autoreset_mode == AutoresetMode.SAME_STEP else "next_step",
            int(num_threads or 0),
            bool(info),
            self.copy,
        )
        self.num_devices: int = self._core.num_devices
        self.num_versions: int = self._core.num_versions
        self.num_units: int = self._core.num_units
        #: Whether the cloud tier is enabled (``MCIA-Cloud-v0``): a ``cloud_partition`` action and ``wan_load``.
        self.cloud: bool = bool(self.config["cloud"]["enabled"])
        self.single_observation_space = observation_space(self.num_devices, self.cloud)
        self.single_action_space = action_space(self.num_devices, self.num_versions, self.num_units, self.cloud)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._with_info = bool(info)
        self._same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        self._seeded = False

    # -- settings --------------------------------------------------------------------------------------

    @property
    def num_threads(self) -> int:
        """Threads used for large batches."""
        return self._core.num_threads

    @num_threads.setter
    def num_threads(self, n: int) -> None:
        self._core.num_threads = int(n)

    @property
    def with_info(self) -> bool:
        """Whether the info dict is built."""
        return self._core.with_info

    @with_info.setter
    def with_info(self, on: bool) -> None:
        self._core.with_info = bool(on)
        self._with_info = bool(on)

    # -- Gymnasium API ---------------------------------------------------------------------------------

    def reset(self, *, seed: Union[int, Sequence[Optional[int]], None] = None, options: Optional[dict] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Resets environments. ``seed``: an int s (env i gets s + i), a list of per-env seeds (None keeps
        that env's stream), or None (continue; the very first reset draws from OS entropy).
        ``options={"reset_mask": mask}`` resets only the environments where ``mask`` is true."""
        mask = None
        if options and "reset_mask" in options:
            mask = np.ascontiguousarray(options["reset_mask"], dtype=np.bool_)
            if mask.shape != (self.num_envs,):
                raise _core.MciaError(f"MciaVectorEnv.reset: reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        if seed is None and not self._seeded:
            seed = entropy_seed() % (2**63 - self.num_envs)
        if seed is None:
            obs, info = self._core.reset(None, mask)
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            first = check_seed(seed, "MciaVectorEnv.reset")
            if first > 2**64 - self.num_envs:
                raise _core.MciaError(f"MciaVectorEnv.reset: seed {seed} + env index must stay below 2**64 for {self.num_envs} envs")
            seeds = np.arange(self.num_envs, dtype=np.uint64) + np.uint64(first)
            obs, info = self._core.reset(seeds, mask)
        else:
            if isinstance(seed, (str, bytes, bool, float, np.bool_, np.floating)) or not hasattr(seed, "__len__"):
                raise _core.MciaError(f"MciaVectorEnv.reset: seed must be an int, a sequence of per-env ints (or None), or None; got {seed!r}")
            seeds_list = [check_seed(s, f"MciaVectorEnv.reset (seed of env {i})") for i, s in enumerate(seed)]
            if len(seeds_list) != self.num_envs:
                raise _core.MciaError(f"MciaVectorEnv.reset: the seed list must have {self.num_envs} entries (one per env), got {len(seeds_list)}")
            given = np.array([s is not None for s in seeds_list])
            base = np.ones(self.num_envs, dtype=np.bool_) if mask is None else mask
            seeds = np.array([0 if s is None else s for s in seeds_list], dtype=np.uint64)
            obs = info = None
            if np.any(base & given):
                obs, info = self._core.reset(seeds, base & given)
            if np.any(base & ~given) or obs is None:
                obs, info = self._core.reset(None, base & ~given)
        self._seeded = True
        return obs, (info if self._with_info else {})

    def step(self, actions: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """Steps every environment with its row of ``actions`` (a dict of ``(B, N)`` arrays)."""
        # Any dtype and layout goes straight to Rust, which converts once.
        a = actions
        if type(a) is dict and len(a) == 4 and "version" in a and "partition" in a and "bandwidth" in a and "compute" in a and not self.cloud:
            out = self._core.step(a["version"], a["partition"], a["bandwidth"], a["compute"])
        else:
            out = self._core.step(*action_fields(a, "MciaVectorEnv", self.cloud))
        if not self._same_step:
            return out
        obs, rewards, terminated, truncated, info, final_obs, final_info = out
        done = terminated | truncated
        if np.any(done):
            # Gymnasium's SAME_STEP layout: per-env final observations (None where the episode goes on).
            finals = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                finals[i] = final_obs[i].copy()
            info["final_obs"] = finals
            info["_final_obs"] = done
            if self._with_info:
                info["final_info"] = {k: v.copy() for k, v in final_info.items()}
                info["_final_info"] = done.copy()
        return obs, rewards, terminated, truncated, info

    def render(self) -> Optional[str]:
        """Text table of environment 0's last slot (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        from . import render

        return render.vector_ansi(self)

    # -- extras ----------------------------------------------------------------------------------------

    def statuses(self) -> List[int]:
        """Per environment: 0 never reset, 1 running, 2 ended (autoresets on the next step)."""
        return list(self._core.statuses())

    def snapshot(self) -> str:
        """Every environment's full state (RNG included) as JSON."""
        return self._core.snapshot()

    def restore(self, snapshot: str) -> None:
        """Restores :meth:`snapshot` JSON (same scenario and num_envs)."""
        self._core.restore(snapshot)
        self._seeded = True

    def peek_noise(self, i: int) -> dict:
        """The random draws environment i's next step will take."""
        return json.loads(self._core.peek_noise(i))

    def __getstate__(self) -> dict:
        return {
            "config": self.config.self_contained().to_dict(),
            "num_envs": self.num_envs,
            "num_threads": self._core.num_threads,
            "autoreset_mode": self.autoreset_mode,
            "copy": self.copy,
            "info": self._core.with_info,
            "render_mode": self.render_mode,
            "snapshot": self._core.snapshot(),
            "seeded": self._seeded,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(
            state["num_envs"],
            Config(state["config"]),
            num_threads=state["num_threads"],
            autoreset_mode=state["autoreset_mode"],
            copy=state["copy"],
            info=state["info"],
            render_mode=state["render_mode"],
        )
        self._core.restore(state["snapshot"])
        self._seeded = state["seeded"]


__all__ = ["MciaVectorEnv", "ACTION_KEYS"]


class MciaCloudVectorEnv(MciaVectorEnv):
    """The native vector env of ``MCIA-Cloud-v0``: :class:`MciaVectorEnv` with ``cloud.enabled = true``
    (see :class:`mcia.env.MciaCloudEnv` for what the cloud tier adds)."""

    def __init__(self, num_envs: int = 1, config: ConfigLike = None, **kwargs: Any) -> None:
        super().__init__(num_envs, as_config(config).replace({"cloud.enabled": True}), **kwargs)
