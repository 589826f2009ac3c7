"""The native vector environment, :class:`MciaVectorEnv` (``gym.make_vec("MCIA-v0", num_envs=...)``)."""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _core
from ._actions import ACTION_KEYS, fast_fields, split_action
from .config import Config, ConfigLike, as_config
from .env import entropy_seed
from .spaces import action_space, info_dict, observation_space


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
    ``num_envs``. Observations, rewards and flags are written in place into arrays the core owns; with
    ``copy=True`` (default) every call returns fresh copies, with ``copy=False`` it returns those arrays
    themselves (zero-copy: they change on the next call, including a masked ``reset``, which zeroes the
    reward and flag rows of the environments it resets).

    Args:
        num_envs: number of environments B.
        config: a :class:`mcia.Config`, a (partial) dict, or a JSON / TOML path.
        num_threads: threads for large batches (default: every core). Batches under 64 environments run
            serially, where fork/join costs more than it saves.
        autoreset_mode: ``"next_step"`` (Gymnasium's default) or ``"same_step"`` (``final_obs`` and
            ``final_info`` in the info).
        copy: return copies (True) or the in-place arrays (False).
        info: build the info dict (per-device arrays ``(B, N)`` and ``edge_flops`` ``(B,)``); False is faster.
        render_mode: ``"ansi"`` renders environment 0.
        max_episode_steps: accepted for ``gym.make_vec``; episodes always last ``time.episode_slots`` steps.

    Actions are a dict of ``(B, N)`` arrays with the keys ``version``, ``partition``, ``bandwidth`` and
    ``compute``. An invalid entry raises :class:`mcia.ActionError` naming the environment and device, and no
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
                f"MCIA-v0: max_episode_steps={max_episode_steps} is ignored by the native vector env, whose "
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
        )
        self.num_devices: int = self._core.num_devices
        self.num_versions: int = self._core.num_versions
        self.num_units: int = self._core.num_units
        self.single_observation_space = observation_space(self.num_devices)
        self.single_action_space = action_space(self.num_devices, self.num_versions, self.num_units)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._with_info = bool(info)
        self._same_step = self.autoreset_mode == AutoresetMode.SAME_STEP
        self._bind_buffers()
        self._seeded = False

    def _bind_buffers(self) -> None:
        (self._obs, self._rewards, self._terminated, self._truncated, self._info_f, self._info_i,
         self._final_obs, self._final_info_f, self._final_info_i) = self._core.buffers()
        self._info_views = info_dict(self._info_f, self._info_i, self.num_devices)
        self._final_views = info_dict(self._final_info_f, self._final_info_i, self.num_devices)

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
                raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {mask.shape}")
        if seed is None and not self._seeded:
            seed = entropy_seed() % (2**63 - self.num_envs)
        if seed is None:
            self._core.reset(None, mask)
        elif isinstance(seed, (int, np.integer)):
            if not 0 <= int(seed) <= 2**64 - self.num_envs:
                raise ValueError(f"seed must be a non-negative integer, got {seed}")
            seeds = np.arange(self.num_envs, dtype=np.uint64) + np.uint64(seed)
            self._core.reset(seeds, mask)
        else:
            seeds_list = list(seed)
            if len(seeds_list) != self.num_envs:
                raise ValueError(f"seed list must have {self.num_envs} entries (one per env), got {len(seeds_list)}")
            given = np.array([s is not None for s in seeds_list])
            base = np.ones(self.num_envs, dtype=np.bool_) if mask is None else mask
            seeds = np.array([0 if s is None else int(s) for s in seeds_list], dtype=np.uint64)
            if np.any(base & given):
                self._core.reset(seeds, base & given)
            if np.any(base & ~given):
                self._core.reset(None, base & ~given)
        self._seeded = True
        return self._out_obs(), self._out_info(final=False)

    def step(self, actions: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        """Steps every environment with its row of ``actions`` (a dict of ``(B, N)`` arrays)."""
        fields = fast_fields(actions)
        try:
            # Fast path: int64 / float64 C-contiguous arrays go straight to Rust.
            if fields is None:
                raise TypeError
            self._core.step(*fields)
        except TypeError:
            self._core.step(*split_action(actions, "MciaVectorEnv"))
        info = self._out_info(final=True) if (self._with_info or self._same_step) else {}
        if self.copy:
            return self._obs.copy(), self._rewards.copy(), self._terminated.copy(), self._truncated.copy(), info
        return self._obs, self._rewards, self._terminated, self._truncated, info

    def _out_obs(self) -> np.ndarray:
        return self._obs.copy() if self.copy else self._obs

    def _out_info(self, final: bool) -> Dict[str, Any]:
        if not self._with_info:
            info: Dict[str, Any] = {}
        elif self.copy:
            info = {k: v.copy() for k, v in self._info_views.items()}
        else:
            info = dict(self._info_views)
        if final and self.autoreset_mode == AutoresetMode.SAME_STEP:
            done = self._terminated | self._truncated
            if np.any(done):
                final_obs = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(done):
                    final_obs[i] = self._final_obs[i].copy()
                info["final_obs"] = final_obs
                info["_final_obs"] = done.copy()
                if self._with_info:
                    info["final_info"] = {k: v.copy() for k, v in self._final_views.items()}
                    info["_final_info"] = done.copy()
        return info

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
            "config": self.config.to_dict(),
            "num_envs": self.num_envs,
            "num_threads": self._core.num_threads,
            "autoreset_mode": self.autoreset_mode,
            "copy": self.copy,
            "info": self._core.with_info,
            "render_mode": self.render_mode,
            "snapshot": self._core.snapshot(),
            "buffers": self._core.buffers(),
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
        for mine, saved in zip(self._core.buffers(), state["buffers"]):
            if mine.size:
                mine[...] = saved
        self._seeded = state["seeded"]


__all__ = ["MciaVectorEnv", "ACTION_KEYS"]
