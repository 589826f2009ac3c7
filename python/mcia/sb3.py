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

from .config import ConfigLike, as_config
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


# -- the training recipe (``mcia train --algo sb3-ppo``, examples/train_sb3.py) ---------------------------

#: Keyword arguments of SB3's ``PPO`` in the recipe (``mcia train --algo sb3-ppo``); ``--hparam`` overrides them.
PPO_KWARGS: dict = dict(
    n_steps=64,
    batch_size=2048,
    n_epochs=4,
    gamma=0.9,
    gae_lambda=0.9,
    learning_rate=1e-4,
    ent_coef=0.0,
    clip_range=0.2,
    max_grad_norm=0.5,
    policy_kwargs=dict(net_arch=dict(pi=[256, 256], vf=[256, 256])),
)

#: Settings of the recipe around PPO (``--hparam`` overrides them too): the flat action kind and its share
#: bins, the environments' threads, the warm start by imitation of a built-in policy, and the validation.
RECIPE: dict = dict(
    action="multidiscrete",
    share_bins=DEFAULT_SHARE_BINS,
    env_threads=1,
    torch_threads=1,
    # The slot-wise optimizer (it reads the true state) is the stronger teacher: 11.44 against greedy's 7.81 on the
    # evaluation seeds (README, agents table); "greedy" is cheaper per step, "" skips the warm start.
    teacher="optimizer",
    teacher_steps=25_600,
    teacher_epochs=10,
    teacher_lr=1e-3,
    eval_every=2,  # rollouts between validations (0: never); the best validated weights are kept
    eval_episodes=64,
)


def _seeds():
    from .agents.hppo import TRAINING_SEED, VALIDATION_SEED

    return TRAINING_SEED, VALIDATION_SEED


def teacher_rollouts(
    config: ConfigLike = None,
    teacher: str = RECIPE["teacher"],
    steps: int = RECIPE["teacher_steps"],
    seed: int = 0,
    share_bins: int = DEFAULT_SHARE_BINS,
) -> dict:
    """Whole episodes of the built-in policy ``teacher`` on training seeds (``TRAINING_SEED + 10_000 seed +
    5_000 + i``, disjoint from the evaluation and validation seeds), as flat MultiDiscrete actions.

    Returns a dict of arrays over the ``S`` decisions: ``obs`` ``(S, 7N + 3)`` (raw), ``actions`` ``(S, 4N)``
    (share weights in the bin that holds them; with the cloud tier ``7N + 4`` and ``5N``, the second cut
    last), ``task`` ``(S, N)`` (the device has a task), ``offload``
    ``(S, N)`` (it offloads, so its shares matter), ``rewards`` and ``dones`` ``(S,)`` in time order per
    environment (``(T, B)`` flattened, ``B`` environments)."""
    from .policies import RustPolicy

    training_seed, _ = _seeds()
    cfg = as_config(config)
    slots = int(cfg["time"]["episode_slots"])
    b = max(1, steps // slots)
    venv = MciaVectorEnv(b, cfg, num_threads=1, info=False, copy=True)
    dims = env_dims(venv, "teacher_rollouts")
    n, l = dims.num_devices, dims.num_units
    policy = RustPolicy(teacher, cfg)
    obs, _ = venv.reset(seed=training_seed + 10_000 * seed + 5_000)
    rows: dict = {k: [] for k in ("obs", "actions", "task", "offload", "rewards", "dones")}
    for _ in range(slots):
        a = policy(venv)
        shares = []
        for key in ("bandwidth", "compute"):
            w = np.asarray(a[key], np.float64)
            w = w / np.maximum(w.max(axis=1, keepdims=True), 1e-12)  # only ratios matter: the largest is 1
            shares.append(np.clip(np.ceil(w * share_bins - 1e-6) - 1, 0, share_bins - 1))
        cuts2 = [a["cloud_partition"]] if dims.cloud else []  # the cloud tier's second cut, last
        flat = np.concatenate([a["version"], a["partition"]] + shares + cuts2, axis=1).astype(np.int64)
        task = (obs[:, 0 : 7 * n : 7] + obs[:, 1 : 7 * n : 7]) > 0
        rows["obs"].append(obs.copy())
        rows["actions"].append(flat)
        rows["task"].append(task)
        rows["offload"].append(task & (a["partition"] < l))
        obs, rew, term, trunc, _ = venv.step(a)
        rows["rewards"].append(np.asarray(rew, np.float64))
        rows["dones"].append(np.logical_or(term, trunc))
    return {k: np.stack(v) for k, v in rows.items()}  # (T, B, ...)


def imitate(model: Any, data: dict, vec_normalize: Any = None, epochs: int = 10, lr: float = 1e-3,
            minibatch_size: int = 2048, seed: int = 0) -> dict:
    """Warm start of an SB3 ``PPO`` with a flat MultiDiscrete action (from :func:`teacher_rollouts`):
    the policy learns the teacher's version and cut of every device with a task and the share bins of every
    offloading device (cross-entropy, masked where a decision cannot matter), the critic the teacher's
    discounted returns. With ``vec_normalize`` (SB3's ``VecNormalize`` of the training env) its observation
    and return statistics start from the teacher's data and the targets are scaled as PPO will see them.
    Returns the final losses."""
    import torch

    policy = model.policy
    gamma = float(model.gamma)
    obs, rew, done = data["obs"], data["rewards"], data["dones"]
    t_len, b = rew.shape
    n = data["task"].shape[-1]
    # discounted returns from each slot to the end of its episode, and the running discounted return that
    # VecNormalize scales rewards by
    ret = np.zeros((t_len, b))
    acc = np.zeros(b)
    for t in reversed(range(t_len)):
        acc = rew[t] + gamma * acc * (1.0 - done[t])
        ret[t] = acc
    flat_obs = obs.reshape(t_len * b, -1)
    scale = 1.0
    if vec_normalize is not None:
        if vec_normalize.norm_obs:
            vec_normalize.obs_rms.update(flat_obs)
            flat_obs = vec_normalize.normalize_obs(flat_obs)
        if vec_normalize.norm_reward:
            running = np.zeros(b)
            for t in range(t_len):
                running = running * gamma + rew[t]
                vec_normalize.ret_rms.update(running)
                running[done[t]] = 0.0
            scale = 1.0 / np.sqrt(vec_normalize.ret_rms.var + vec_normalize.epsilon)
    x = torch.as_tensor(np.asarray(flat_obs, np.float32))
    acts = torch.as_tensor(data["actions"].reshape(t_len * b, -1))
    task = torch.as_tensor(data["task"].reshape(t_len * b, n), dtype=torch.float32)
    offl = torch.as_tensor(data["offload"].reshape(t_len * b, n), dtype=torch.float32)
    extra = [offl] * (acts.shape[1] // n - 4)  # the cloud tier's second cut matters where the device offloads
    mask = torch.cat([task, task, offl, offl] + extra, dim=1)  # per flat action dimension
    target = torch.as_tensor((ret * scale).reshape(-1), dtype=torch.float32)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    m = x.shape[0]
    losses: dict = {}
    policy.set_training_mode(True)
    for _ in range(epochs):
        perm = torch.randperm(m, generator=gen)
        for s in range(0, m, minibatch_size):
            idx = perm[s : s + minibatch_size]
            dist = policy.get_distribution(x[idx])
            logp = torch.stack([d.log_prob(acts[idx, j]) for j, d in enumerate(dist.distribution)], dim=1)
            mk = mask[idx]
            ce = -(logp * mk).sum() / mk[:, : 2 * n].sum().clamp(min=1.0)
            values = policy.predict_values(x[idx]).squeeze(-1)
            v_loss = 0.5 * (values - target[idx]).pow(2).mean()
            loss = ce + v_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            opt.step()
            losses = {"imitation_ce": float(ce.detach()), "imitation_value_loss": float(v_loss.detach())}
    policy.set_training_mode(False)
    return losses


def validation_return(model: Any, config: ConfigLike = None, vec_normalize: Any = None, episodes: int = 64,
                      seed: Optional[int] = None, action: str = "multidiscrete",
                      share_bins: int = DEFAULT_SHARE_BINS) -> float:
    """Mean return of the deterministic policy of an SB3 model on ``episodes`` whole episodes, episode i on
    seed ``seed + i`` (default: the validation seeds, disjoint from the evaluation seeds)."""
    from .wrappers import box_to_dict, multidiscrete_to_dict

    if seed is None:
        seed = _seeds()[1]
    cfg = as_config(config)
    venv = MciaVectorEnv(episodes, cfg, num_threads=1, info=False, copy=True)
    dims = env_dims(venv, "validation_return")
    obs, _ = venv.reset(seed=seed)
    total = np.zeros(episodes)
    for _ in range(int(cfg["time"]["episode_slots"])):
        x = vec_normalize.normalize_obs(obs) if vec_normalize is not None else obs
        flat, _ = model.predict(np.asarray(x, np.float32), deterministic=True)
        a = box_to_dict(flat, dims, -1.0) if action == "box" else multidiscrete_to_dict(flat, dims, share_bins)
        obs, r, *_ = venv.step(a)
        total += r
    return float(total.mean())


def train_sb3_ppo(
    config: ConfigLike = None,
    timesteps: int = 1_000_000,
    num_envs: int = 128,
    seed: int = 0,
    out: Optional[str] = None,
    *,
    time_limit_s: Optional[float] = None,
    progress: bool = False,
    verbose: int = 0,
    tensorboard_log: Optional[str] = None,
    hparams: Optional[dict] = None,
) -> List[dict]:
    """The SB3 recipe: PPO (:data:`PPO_KWARGS`) on :func:`make_sb3_env` with the flat MultiDiscrete action,
    ``VecNormalize``, a warm start by imitation of the optimizer (:func:`imitate`) and the weights with the best
    validation return kept (:data:`RECIPE`). The training environments run on seeds ``TRAINING_SEED +
    10_000 seed + i`` and the validation on ``VALIDATION_SEED + i``, both disjoint from the evaluation seeds.

    ``hparams`` overrides keys of :data:`RECIPE` and of :data:`PPO_KWARGS`. Writes ``out`` (``model.zip``,
    ``vecnormalize.pkl``, ``agent.json``; :func:`mcia.agents.load_agent` reads it) and returns the learning
    curve rows (``timesteps``, ``wall_s``, ``episode_return`` of the training episodes, ``validation_return``).
    """
    import copy
    import json
    import os
    import time

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecNormalize

    from .agents.loading import SB3_MODEL_FILE, SB3_VECNORM_FILE

    hp = dict(hparams or {})
    recipe = {k: hp.pop(k, v) for k, v in RECIPE.items()}
    kwargs = copy.deepcopy(PPO_KWARGS)
    kwargs.update(hp)
    cfg = as_config(config)
    training_seed, validation_seed = _seeds()
    torch.set_num_threads(int(recipe["torch_threads"]))
    t0 = time.perf_counter()
    env = VecNormalize(
        make_sb3_env(num_envs, cfg, seed=training_seed + 10_000 * seed, num_threads=int(recipe["env_threads"]),
                     action=recipe["action"], share_bins=int(recipe["share_bins"])),
        norm_obs=True, norm_reward=True, gamma=float(kwargs["gamma"]),
    )
    kwargs["batch_size"] = min(int(kwargs["batch_size"]), int(kwargs["n_steps"]) * num_envs)
    model = PPO("MlpPolicy", env, seed=seed, verbose=verbose, tensorboard_log=tensorboard_log, device="cpu", **kwargs)
    warm: dict = {}
    if recipe["teacher"] and int(recipe["teacher_steps"]) > 0:
        if recipe["action"] != "multidiscrete":
            raise ValueError("train_sb3_ppo: the warm start needs action='multidiscrete'")
        data = teacher_rollouts(cfg, recipe["teacher"], int(recipe["teacher_steps"]), seed, int(recipe["share_bins"]))
        warm = imitate(model, data, env, epochs=int(recipe["teacher_epochs"]), lr=float(recipe["teacher_lr"]), seed=seed)
        if verbose:
            print(f"[sb3-ppo] imitated {recipe['teacher']}: " + ", ".join(f"{k} {v:.3f}" for k, v in warm.items()), flush=True)
    curve: List[dict] = []
    state = {"best": -np.inf, "weights": None, "obs_rms": None, "rollouts": 0}
    eval_every = int(recipe["eval_every"])

    def validate() -> float:
        return validation_return(model, cfg, env, int(recipe["eval_episodes"]), validation_seed, recipe["action"],
                                 int(recipe["share_bins"]))

    def keep(value: float) -> None:
        if value > state["best"]:
            state["best"] = value
            state["weights"] = copy.deepcopy(model.policy.state_dict())
            state["obs_rms"] = copy.deepcopy(env.obs_rms)

    if eval_every and warm:
        v0 = validate()
        keep(v0)
        curve.append({"timesteps": 0, "wall_s": round(time.perf_counter() - t0, 3), "episode_return": float("nan"),
                      "validation_return": v0})

    class Curve(BaseCallback):
        def _on_rollout_end(self) -> None:
            state["rollouts"] += 1
            eps = [e["r"] for e in (self.model.ep_info_buffer or [])]
            row = {"timesteps": self.num_timesteps, "wall_s": round(time.perf_counter() - t0, 3),
                   "episode_return": float(np.mean(eps)) if eps else float("nan"), "validation_return": float("nan")}
            if eval_every and state["rollouts"] % eval_every == 0:
                row["validation_return"] = validate()
                keep(row["validation_return"])
                if verbose:
                    print(f"[sb3-ppo] {row['timesteps']:>10d} steps {row['wall_s']:7.1f}s train return "
                          f"{row['episode_return']:8.2f} validation {row['validation_return']:8.2f} "
                          f"(best {state['best']:.2f})", flush=True)
            curve.append(row)

        def _on_step(self) -> bool:
            return time_limit_s is None or time.perf_counter() - t0 < time_limit_s

    model.learn(timesteps, callback=Curve(), progress_bar=progress)
    if eval_every:
        final = validate()
        keep(final)
        curve.append({"timesteps": int(model.num_timesteps), "wall_s": round(time.perf_counter() - t0, 3),
                      "episode_return": curve[-1]["episode_return"] if curve else float("nan"), "validation_return": final})
    if state["weights"] is not None:
        model.policy.load_state_dict(state["weights"])
        env.obs_rms = state["obs_rms"]
    if out:
        os.makedirs(out, exist_ok=True)
        model.save(os.path.join(out, SB3_MODEL_FILE))
        env.save(os.path.join(out, SB3_VECNORM_FILE))
        meta = {"algo": "sb3-ppo", "sb3_class": "PPO", "action": recipe["action"], "low": -1.0,
                "share_bins": int(recipe["share_bins"]), "timesteps": int(model.num_timesteps),
                "wall_s": round(time.perf_counter() - t0, 2), "seed": seed,
                "best_validation_return": state["best"] if np.isfinite(state["best"]) else None,
                "teacher": recipe["teacher"] or None}
        with open(os.path.join(out, "agent.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        cfg.save(os.path.join(out, "config.json"))
    env.close()
    return curve


__all__ = ["ACTION_KINDS", "PPO_KWARGS", "RECIPE", "Sb3VecEnv", "imitate", "make_sb3_env", "teacher_rollouts",
           "train_sb3_ppo", "validation_return"]
