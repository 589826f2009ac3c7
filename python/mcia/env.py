"""The single environment, :class:`MciaEnv` (``gym.make("MCIA-v0")``)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import gymnasium as gym
import numpy as np

from . import _core
from ._actions import action_fields
from .config import Config, ConfigLike, as_config
from .spaces import (
    INFO_F64_FIELDS,
    INFO_I64_FIELDS,
    OBS_DEVICE_FIELDS,
    OBS_DEVICE_HIGH,
    action_space,
    observation_space,
)


def check_seed(seed: Any, where: str) -> Optional[int]:
    """``seed`` as a Python int, or None: a non-negative Python or NumPy integer below 2**64 (not a bool).
    Anything else raises :class:`mcia.MciaError` (a ValueError) naming the seed and ``where``."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise _core.MciaError(f"{where}: seed must be None or a non-negative integer below 2**64, got {seed!r}")
    return int(seed)


def entropy_seed() -> int:
    """A fresh seed from OS entropy, for a first reset without a seed."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


class MciaEnv(gym.Env):
    """Multi-Compression-scale DNN Inference Acceleration: one edge server, N heterogeneous end devices.

    ## Description

    Each slot every end device may hold one inference task, accuracy-sensitive (AS) or latency-sensitive
    (LS). Several compressed versions of one DNN (by default MobileNet v1 at widths 1.0 / 0.75 / 0.5 / 0.25)
    are deployed everywhere. The agent decides per device which version runs, after which unit the model is
    cut (units 1..p on the device, the rest on the edge), and the device's share of the uplink bandwidth and
    of the edge compute. Latency = backlog wait + local compute + upload (FDMA Shannon rate with path loss and
    Rayleigh fading) + the edge's queue + edge compute; the edge carries unfinished work over to the next
    slot. With the cloud tier (``MCIA-Cloud-v0``) a second cut sends the model's tail on to an elastic cloud
    behind a shared WAN. See SPEC.md for every formula.

    ## Action Space

    ``Dict(version=MultiDiscrete([M]*N), partition=MultiDiscrete([L+1]*N), bandwidth=Box(0,1,(N,)),
    compute=Box(0,1,(N,)))``, plus ``cloud_partition=MultiDiscrete([L+1]*N)`` on MCIA-Cloud-v0 (the second
    cut; ``L`` never uses the cloud). ``partition = L`` runs everything on the device; ``0`` uploads the raw image.
    Weights are normalised over the devices that offload (each floored at ``action.min_share_weight``);
    weights above 1 are accepted (only ratios matter). Devices without a task are ignored, but every entry
    must be valid: out-of-range indices and negative or non-finite weights raise :class:`mcia.ActionError`.

    ## Observation Space

    ``Box(0, high, (7N + 3,), float32)`` (``7N + 4`` on MCIA-Cloud-v0), device-major (``obs[7n + k]``):

    | k | name         | value                                          | range  |
    |---|--------------|------------------------------------------------|--------|
    | 0 | task_as      | 1 if an AS task waits                           | {0, 1} |
    | 1 | task_ls      | 1 if an LS task waits                           | {0, 1} |
    | 2 | spectral_eff | min(log2(1 + P g / (B N0)) / 20, 2)             | [0, 2] |
    | 3 | compute      | min(log10(1 + F_n / 1e9) / 2, 2)                | [0, 2] |
    | 4 | load         | background load rho_n                           | [0, 1] |
    | 5 | backlog      | min(q_n / slot_s, 10) / 10                      | [0, 1] |
    | 6 | distance     | d_n / distance_max_m                            | [0, 1] |

    then ``edge_load`` (rho_E), ``edge_backlog`` (min(q_E / slot_s, 10) / 10), ``wan_load`` (rho_W, MCIA-Cloud-v0
    only) and ``time`` (t / episode_slots). With ``radio.trace_file``, ``spectral_eff`` is the trace's current
    throughput, ``min(trace / bandwidth_hz / 20, 2)``.

    ## Rewards

    The mean over devices with a task of
    ``u = w A_hat - (1 - w) min(T / tau, latency_cap) - deadline_penalty [T > tau] - accuracy_penalty [A < a_min]``
    with the task type's weight w, deadline tau and minimum accuracy; 0 when no device has a task.

    ## Starting State

    Distances uniform in [distance_min_m, distance_max_m], fading CN(0, 1), uniformly drawn load levels,
    slot-0 tasks drawn, backlogs (device and edge) 0, t = 0; with the cloud tier a uniform WAN load level;
    with traces, each device's trace and offset.

    ## Episode End

    Never terminated (a continuing task); truncated after ``time.episode_slots`` steps (default 100).
    ``gym.make("MCIA-v0")`` also adds a ``TimeLimit`` of 100 steps; when you change ``time.episode_slots``
    pass the same value as ``max_episode_steps`` to ``gym.make``.

    ## Info

    Per device, arrays of length N: ``task_type`` (0 none, 1 AS, 2 LS), ``channel_gain``, ``device_flops``,
    ``backlog_s`` (the state the step used), and the decision and outcome (NaN or -1 for devices without a
    task): ``version``, ``partition``, ``bandwidth_share``, ``compute_share``, ``t_wait``, ``t_local``,
    ``t_tx``, ``t_edge``, ``latency``, ``accuracy``, ``utility``, ``deadline_met``, ``accuracy_met``; and the
    scalars ``edge_flops`` and ``edge_backlog_s`` (the edge's queued work before the step); on MCIA-Cloud-v0
    also ``cloud_partition``, ``t_wan``, ``t_cloud`` per device and the scalar ``wan_bps``. ``reset`` returns the state fields of the first slot (decision fields NaN / -1).

    ## Arguments

    - ``config``: a :class:`mcia.Config`, a (partial) dict, or a path to a JSON / TOML file (default scenario).
    - ``render_mode``: ``"ansi"`` (a text table of the slot) or ``"rgb_array"`` (a matplotlib figure).
    - ``info``: set False to skip building the info dict (faster; ``info`` is then ``{}``).
    - ``copy``: True (default) returns arrays the caller owns: they never change afterwards (the arrays are
      reused only once Python holds none of them, so this costs no copy). False returns the same arrays
      every step, overwritten in place.

    ## Version History

    - v0: initial release (SPEC v0).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}

    def __init__(self, config: ConfigLike = None, render_mode: Optional[str] = None, info: bool = True, copy: bool = True) -> None:
        self.config: Config = as_config(config)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self._with_info = bool(info)
        self.copy = bool(copy)
        # Rendering needs the info of the last slot even when the caller does not want it.
        self._core = _core.CoreEnv(self.config.to_json(), 0, self._with_info or render_mode is not None, self.copy, "MciaEnv")
        self.num_devices: int = self._core.num_devices
        self.num_versions: int = self._core.num_versions
        self.num_units: int = self._core.num_units
        #: Whether the cloud tier is enabled (``MCIA-Cloud-v0``): a ``cloud_partition`` action and ``wan_load``.
        self.cloud: bool = bool(self.config["cloud"]["enabled"])
        self.observation_space = observation_space(self.num_devices, self.cloud)
        self.action_space = action_space(self.num_devices, self.num_versions, self.num_units, self.cloud)
        self._seeded = False
        self._last: Dict[str, Any] = {}

    # -- Gymnasium API ---------------------------------------------------------------------------------

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None) -> Tuple[np.ndarray, Dict[str, Any]]:
        """Starts an episode. ``seed`` reseeds the environment (the episode then depends on it alone)."""
        core_seed = check_seed(seed, "MciaEnv.reset")
        super().reset(seed=core_seed)
        if core_seed is None and not self._seeded:
            core_seed = int(self.np_random.integers(0, 2**63))
        self._seeded = True
        obs, info = self._core.reset(core_seed)
        if self.render_mode is not None:
            self._last = {"obs": obs, "info": info, "reward": None, "action": None}
        return obs, (info if self._with_info else {})

    def step(self, action: Dict[str, Any]) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        """Advances one slot. Raises :class:`mcia.ActionError` for invalid actions and
        :class:`mcia.ResetNeeded` before ``reset`` or after the episode ended; the state is then unchanged."""
        # Any dtype and layout goes straight to Rust, which converts once; errors name MciaEnv and the field.
        if type(action) is dict and len(action) == 4 and "version" in action and "partition" in action and "bandwidth" in action and "compute" in action and not self.cloud:
            out = self._core.step(action["version"], action["partition"], action["bandwidth"], action["compute"])
        else:
            out = self._core.step(*action_fields(action, "MciaEnv", self.cloud))
        if self.render_mode is None:
            return out
        obs, reward, terminated, truncated, info = out
        self._last = {"obs": obs, "info": info, "reward": reward}
        return obs, reward, terminated, truncated, (info if self._with_info else {})

    def render(self) -> Any:
        """Renders the last slot: a text table (``"ansi"``) or an RGB array (``"rgb_array"``)."""
        if self.render_mode is None:
            gym.logger.warn("MciaEnv.render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'.")
            return None
        from . import render

        if self.render_mode == "ansi":
            return render.ansi(self)
        return render.rgb_array(self)

    # -- extras ----------------------------------------------------------------------------------------

    @property
    def t(self) -> int:
        """Slot index of the current state."""
        return self._core.t

    def snapshot(self) -> str:
        """The full state (RNG included) as JSON; :meth:`restore` continues bit-identically."""
        return self._core.snapshot()

    def restore(self, snapshot: str) -> None:
        """Restores a state taken by :meth:`snapshot` on an environment of the same scenario."""
        self._core.restore(snapshot)
        self._seeded = True

    def peek_noise(self) -> dict:
        """The exogenous random draws the next step will take (for the NumPy reference model)."""
        import json

        return json.loads(self._core.peek_noise())

    def __getstate__(self) -> dict:
        return {
            "config": self.config.self_contained().to_dict(),
            "snapshot": self._core.snapshot(),
            "render_mode": self.render_mode,
            "with_info": self._with_info,
            "copy": self.copy,
            "seeded": self._seeded,
            "np_random": self._np_random,
            "np_random_seed": getattr(self, "_np_random_seed", None),
            "spec": getattr(self, "spec", None),
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(Config(state["config"]), render_mode=state["render_mode"], info=state["with_info"], copy=state.get("copy", True))
        self._core.restore(state["snapshot"])
        self._seeded = state["seeded"]
        self._np_random = state["np_random"]
        self._np_random_seed = state["np_random_seed"]
        if state["spec"] is not None:
            self.spec = state["spec"]


class MciaCloudEnv(MciaEnv):
    """``MCIA-Cloud-v0``: :class:`MciaEnv` with the cloud tier of SPEC section 8 enabled.

    The given scenario (default: the default scenario) with ``cloud.enabled = true``: the action gains
    ``cloud_partition`` (the second cut, ``MultiDiscrete([L+1]*N)``), the observation gains ``wan_load``
    before ``time`` (``7N + 4`` entries), and the info gains ``cloud_partition``, ``t_wan``, ``t_cloud`` and
    ``wan_bps``. Every other argument is :class:`MciaEnv`'s.
    """

    def __init__(self, config: ConfigLike = None, render_mode: Optional[str] = None, info: bool = True, copy: bool = True) -> None:
        super().__init__(as_config(config).replace({"cloud.enabled": True}), render_mode=render_mode, info=info, copy=copy)
