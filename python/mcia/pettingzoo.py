"""A PettingZoo multi-agent view of MCIA: :func:`parallel_env`, one agent per end device.

The view runs on the same Rust core as ``gym.make("MCIA-v0")``: it wraps one :class:`mcia.MciaEnv`, turns
the agents' actions into the joint Dict action, and splits the joint observation, reward and info per
agent. Nothing of the model is recomputed here, so a joint action gives exactly the single environment's
outcome.

- **Agents**: ``"device_0"`` .. ``"device_{N-1}"``; every agent acts every slot (a device without a task
  still sends an action, which the environment ignores).
- **Observation** of ``device_n``: its own per-device features (``obs[7n:7n+7]``: task_as, task_ls,
  spectral_eff, compute, load, backlog, distance) followed by the shared entries of the joint observation
  (``obs[7N:]``: edge load, edge backlog, time, and ``wan_load`` with the cloud tier), a
  ``Box(0, high, (7 + S,), float32)`` with the joint space's bounds. :meth:`MciaParallelEnv.state` returns
  the joint observation (for centralised critics).
- **Action** of ``device_n``: a Dict with the keys of the joint action, each the device's component:
  ``Discrete`` for a ``MultiDiscrete`` key (``version``, ``partition``, ``cloud_partition``) and a
  ``Box`` of shape ``(1,)`` for a ``Box`` key (``bandwidth``, ``compute``). Share weights are still
  normalised over the devices that offload, so they only mean something relative to the other agents'.
- **Reward**: ``"shared"`` (default) gives every agent the environment's reward (the mean utility over
  the devices with a task); ``"individual"`` gives each agent its own utility ``info["utility"][n]``, and
  0 when it has no task, so the shared reward is the mean of the individual ones over the agents with a
  task.
- **Episode end**: terminations and truncations are the environment's, for every agent; after the last
  step ``agents`` is empty until the next ``reset``.
- **Info** of ``device_n``: entry n of every per-device info array (``task_type``, ``latency``,
  ``utility``, ...) as Python scalars, plus the scalar fields shared by all (``edge_flops``,
  ``edge_backlog_s``, ...).

>>> from mcia.pettingzoo import parallel_env
>>> env = parallel_env("iot", reward="individual")
>>> obs, infos = env.reset(seed=0)
>>> actions = {agent: env.action_space(agent).sample() for agent in env.agents}
>>> obs, rewards, terminations, truncations, infos = env.step(actions)

Needs the ``pettingzoo`` extra: ``pip install 'mcia-gym[pettingzoo]'``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
from gymnasium import spaces

try:
    from pettingzoo import ParallelEnv
except ImportError as e:  # an optional dependency: say how to get it
    raise ImportError("mcia.pettingzoo needs PettingZoo: pip install 'mcia-gym[pettingzoo]' (or pip install pettingzoo)") from e

from . import ENV_ID, env_config
from ._core import ActionError, ConfigError, ResetNeeded
from .config import ConfigLike
from .env import MciaEnv
from .spaces import OBS_DEVICE_FIELDS

#: Reward options of :func:`parallel_env`.
REWARD_MODES = ("shared", "individual")

#: Features of one device in the joint observation (``obs[7n:7n+7]``).
DEVICE_FEATURES = len(OBS_DEVICE_FIELDS)


def agent_name(n: int) -> str:
    """The agent id of device ``n``: ``"device_n"``."""
    return f"device_{n}"


def agent_observations(obs: np.ndarray, num_devices: int) -> np.ndarray:
    """Per-agent observations from joint ones: ``(..., 7N + S)`` to ``(..., N, 7 + S)``, row n being
    device n's features followed by the shared entries. The same layout :class:`MciaParallelEnv` hands each
    agent, so a policy trained on the view can act on batches of the vector env (for instance through
    :func:`mcia.evaluate`)."""
    obs = np.asarray(obs)
    split = DEVICE_FEATURES * num_devices
    if obs.shape[-1] <= split:
        raise ValueError(f"agent_observations: expected observations of length > {split} for {num_devices} devices, got shape {obs.shape}")
    lead = obs.shape[:-1]
    shared = obs[..., split:]
    out = np.empty(lead + (num_devices, DEVICE_FEATURES + shared.shape[-1]), dtype=obs.dtype)
    out[..., :DEVICE_FEATURES] = obs[..., :split].reshape(lead + (num_devices, DEVICE_FEATURES))
    out[..., DEVICE_FEATURES:] = shared[..., None, :]
    return out


def _agent_action_space(joint: spaces.Dict, n: int) -> spaces.Dict:
    """Device n's part of the joint Dict action space, key by key (so keys added to the joint action, such
    as the cloud tier's second cut, carry over without changes here)."""
    parts = {}
    for key, space in joint.spaces.items():
        if isinstance(space, spaces.MultiDiscrete):
            parts[key] = spaces.Discrete(int(space.nvec[n]), start=int(space.start[n]))
        elif isinstance(space, spaces.Box) and space.shape == (len(space.low),):
            parts[key] = spaces.Box(space.low[n : n + 1], space.high[n : n + 1], dtype=space.dtype)
        else:
            raise TypeError(f"mcia.pettingzoo: cannot split action field '{key}' ({space}) per device")
    return spaces.Dict(parts)


class MciaParallelEnv(ParallelEnv):
    """The PettingZoo ``ParallelEnv`` of :func:`parallel_env` (see the module documentation).

    Attributes:
        env: the wrapped single environment (:class:`mcia.MciaEnv`).
        num_devices: N, the number of agents.
        reward_mode: ``"shared"`` or ``"individual"``.
        possible_agents: ``["device_0", ..., "device_{N-1}"]``.
        agents: the agents still acting (all of them during an episode, none after its last step).
        state_space: the joint observation space (:meth:`state`).
    """

    metadata = {"name": "mcia_v0", "render_modes": ["ansi", "rgb_array"], "render_fps": 2, "is_parallelizable": True}

    def __init__(self, config: ConfigLike = None, *, env_id: str = ENV_ID, reward: str = "shared", render_mode: Optional[str] = None, **kwargs: Any) -> None:
        if reward not in REWARD_MODES:
            raise ConfigError(f"mcia.pettingzoo.parallel_env: reward must be one of {list(REWARD_MODES)}, got {reward!r}")
        if reward == "individual" and kwargs.get("info") is False:
            # The individual rewards are the per-device utilities of the info.
            raise ConfigError("mcia.pettingzoo.parallel_env: reward='individual' needs the info (info=False was given)")
        self.env = MciaEnv(env_config(env_id, config), render_mode=render_mode, **kwargs)
        self.env_id = env_id
        self.reward_mode = reward
        self.render_mode = render_mode
        self.num_devices: int = self.env.num_devices
        n = self.num_devices
        self.possible_agents: List[str] = [agent_name(i) for i in range(n)]
        self.agents: List[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}

        joint_obs = self.env.observation_space
        self.state_space = joint_obs
        low, high = agent_observations(joint_obs.low, n), agent_observations(joint_obs.high, n)
        self.observation_spaces: Dict[str, spaces.Box] = {
            a: spaces.Box(low[i], high[i], dtype=joint_obs.dtype) for i, a in enumerate(self.possible_agents)
        }
        self.action_spaces: Dict[str, spaces.Dict] = {a: _agent_action_space(self.env.action_space, i) for i, a in enumerate(self.possible_agents)}
        self._keys = tuple(self.env.action_space.spaces)
        self._key_set = frozenset(self._keys)
        self._state: Optional[np.ndarray] = None
        self.metadata = dict(self.metadata, name=env_id.lower().replace("-", "_"))

    # -- PettingZoo API --------------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Box:
        """Observation space of ``agent`` (the same object every call)."""
        return self.observation_spaces[self._check_agent(agent)]

    def action_space(self, agent: str) -> spaces.Dict:
        """Action space of ``agent`` (the same object every call)."""
        return self.action_spaces[self._check_agent(agent)]

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None) -> Tuple[Dict[str, np.ndarray], Dict[str, Dict[str, Any]]]:
        """Starts an episode; ``seed`` reseeds the environment (the episode then depends on it alone, exactly
        as ``MciaEnv.reset(seed=seed)``)."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._observations(obs), self._infos(info)

    def step(self, actions: Mapping[str, Mapping[str, Any]]):
        """Steps every agent at once: ``actions`` maps each agent to its Dict action. Raises
        :class:`mcia.ActionError` for a missing, unknown or malformed agent action (or an invalid value, from
        the core) and :class:`mcia.ResetNeeded` outside an episode; the state is then unchanged."""
        if not self.agents:
            raise ResetNeeded("MciaParallelEnv.step: the episode has ended (or never started); call reset() first")
        obs, reward, terminated, truncated, info = self.env.step(self._joint_action(actions))
        agents = self.possible_agents
        if self.reward_mode == "shared":
            rewards = dict.fromkeys(agents, float(reward))
        else:
            # A device without a task has utility NaN in the info and earns nothing.
            rewards = dict(zip(agents, [u if u == u else 0.0 for u in info["utility"].tolist()]))
        terminations = dict.fromkeys(agents, bool(terminated))
        truncations = dict.fromkeys(agents, bool(truncated))
        observations, infos = self._observations(obs), self._infos(info)
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> Any:
        """Renders the last slot through the single environment (``"ansi"`` text or an ``"rgb_array"``)."""
        return self.env.render()

    def close(self) -> None:
        """Closes the wrapped environment."""
        self.env.close()

    def state(self) -> np.ndarray:
        """The joint observation of the current slot (``Box(7N + S)``), for centralised training."""
        if self._state is None:
            raise ResetNeeded("MciaParallelEnv.state: call reset() first")
        return self._state.copy()

    # -- conversions -----------------------------------------------------------------------------------

    def _check_agent(self, agent: str) -> str:
        if agent not in self._index:
            raise KeyError(f"unknown agent {agent!r}; the agents are device_0 .. device_{self.num_devices - 1}")
        return agent

    def _observations(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        # One fresh (N, 7 + S) array per call: each agent gets a row that nothing overwrites later.
        self._state = obs
        return dict(zip(self.possible_agents, agent_observations(obs, self.num_devices)))

    def _infos(self, info: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
        if not info:
            return {a: {} for a in self.possible_agents}
        n = self.num_devices
        keys, columns, shared = [], [], {}
        for key, value in info.items():
            if isinstance(value, np.ndarray) and value.shape == (n,):
                keys.append(key)
                columns.append(value.tolist())
            else:
                shared[key] = value.item() if isinstance(value, np.generic) else value
        infos = {}
        for agent, row in zip(self.possible_agents, zip(*columns)):
            entry = dict(zip(keys, row))
            entry.update(shared)
            infos[agent] = entry
        return infos

    def _joint_action(self, actions: Mapping[str, Mapping[str, Any]]) -> Dict[str, np.ndarray]:
        where = "MciaParallelEnv.step"
        if not isinstance(actions, Mapping):
            raise ActionError(f"{where}: actions must be a dict from agent to its Dict action, got {type(actions).__name__}")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ActionError(f"{where}: no action for agent(s) {missing}; every agent acts every slot")
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ActionError(f"{where}: unknown agent(s) {unknown}; the agents are device_0 .. device_{self.num_devices - 1}")
        per_agent = [actions[a] for a in self.possible_agents]
        for agent, act in zip(self.possible_agents, per_agent):
            if not isinstance(act, Mapping) or act.keys() != self._key_set:
                got = sorted(act) if isinstance(act, Mapping) else type(act).__name__
                raise ActionError(f"{where}: the action of {agent} must be a dict with keys {list(self._keys)}, got {got}")
        n = self.num_devices
        joint = {}
        for key in self._keys:
            values = [act[key] for act in per_agent]
            try:
                arr = np.asarray(values)
            except (ValueError, TypeError):
                arr = None
            if arr is None or arr.dtype == object or arr.shape not in ((n,), (n, 1)):
                self._explain_shape(key, values)
            # The core checks ranges and dtypes and names the device (device n is agent device_n).
            joint[key] = arr.reshape(n)
        return joint

    def _explain_shape(self, key: str, values: List[Any]) -> None:
        for agent, value in zip(self.possible_agents, values):
            try:
                size = np.asarray(value).size
            except (ValueError, TypeError):
                size = -1
            if size != 1:
                raise ActionError(f"MciaParallelEnv.step: action field '{key}' of {agent} must be one number (a scalar or shape (1,)), got {value!r}")
        raise ActionError(f"MciaParallelEnv.step: action field '{key}' must hold one number per agent, got {values!r}")


def parallel_env(config: ConfigLike = None, *, env_id: str = ENV_ID, reward: str = "shared", render_mode: Optional[str] = None, **kwargs: Any) -> MciaParallelEnv:
    """The PettingZoo ``ParallelEnv`` view of an MCIA environment, one agent per end device.

    Args:
        config: the scenario, as the single environment takes it: a :class:`mcia.Config`, a (partial) dict,
            a JSON / TOML path or a preset name (``"iot"``, ``"dense"``, ...).
        env_id: ``"MCIA-v0"`` (default) or ``"MCIA-Cloud-v0"`` (the cloud tier over ``config``).
        reward: ``"shared"`` (every agent gets the environment's reward) or ``"individual"`` (each agent its
            own utility, 0 without a task).
        render_mode: ``"ansi"`` or ``"rgb_array"``, rendered by the single environment.
        **kwargs: passed on to :class:`mcia.MciaEnv` (``info``, ``copy``).

    Raises:
        mcia.ConfigError: an unknown ``reward`` option or ``env_id``, or an invalid scenario.
    """
    return MciaParallelEnv(config, env_id=env_id, reward=reward, render_mode=render_mode, **kwargs)


__all__ = ["DEVICE_FEATURES", "MciaParallelEnv", "REWARD_MODES", "agent_name", "agent_observations", "parallel_env"]
