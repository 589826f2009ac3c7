"""RLlib PPO (new API stack) on the Dict action space of MCIA: used by ``mcia train --algo rllib-ppo``
(``examples/train_rllib.py`` is the same recipe as a script, with the multi-node instructions).

What the recipe adds to RLlib's defaults, each measured (README, "Training with Stable-Baselines3"):

- **Native vector env in every env runner.** The env creator returns an :class:`mcia.MciaVectorEnv` of
  ``num_envs_per_env_runner`` environments (``gym_env_vectorize_mode="vector_entry_point"``), stepped in one
  call into the Rust core instead of one Python env at a time. The runners' environments run on training seeds
  (``TRAINING_SEED + 10_000 seed + B worker_index + i``), disjoint from the evaluation and validation seeds.
- **An RLModule for the hybrid action**, :class:`MciaPPOModule`: HybridPPO's per-device actor (weights shared
  by all devices, a mean-pooled context; :class:`mcia.agents.hppo.PolicyNet`) and its critic, with the
  observation normalised inside the module (statistics of the warm-start data, kept in the checkpoint).
- **An action distribution for the Dict space**, :func:`action_dist_class`: a joint categorical over (version,
  cut) per device, so the cut can depend on the version, and Beta share weights, bounded in (0, 1) without
  clipping (RLlib's default catalog gives independent categoricals and a Gaussian that RLlib clips into the
  bounds). Decisions that cannot matter (no task; the shares of a device that runs locally) are left out of
  the log-probability, the entropy and the KL.
- **Warm start by imitation** of the slot-wise optimizer on training seeds (one round of its own episodes;
  HybridPPO adds DAgger rounds), then PPO.
- **The weights with the best validation return kept** (validation seeds, disjoint from the evaluation seeds).
"""

from __future__ import annotations

import copy
import logging
import json
import math
import os
import time
from typing import Any, Dict, List, Optional

import gymnasium as gym
import numpy as np

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule

from ..config import ConfigLike, as_config
from .hppo import TRAINING_SEED, VALIDATION_SEED, CriticNet, PolicyNet, _beta_logp_entropy
from .loading import quiet_ray

ENV_NAME = "mcia-rllib-v0"
MODULE_PATH = ["learner_group", "learner", "rl_module", "default_policy"]

#: ``PPOConfig.training`` arguments of the recipe (``--hparam`` overrides them).
TRAINING: Dict[str, Any] = dict(
    train_batch_size_per_learner=8192,
    minibatch_size=2048,
    num_epochs=4,
    lr=3e-4,
    gamma=0.9,
    lambda_=0.9,
    entropy_coeff=0.002,
    clip_param=0.2,
    use_kl_loss=False,
    vf_clip_param=100.0,
    grad_clip=0.5,
)

#: Settings of the recipe around RLlib's PPO (``--hparam`` overrides them too): environments per env
#: runner, the module's widths, the warm start by imitation of a built-in policy and the validation.
RECIPE: Dict[str, Any] = dict(
    envs_per_runner=64,
    hidden=64,
    critic_hidden=128,
    activation="relu",
    share_entropy_weight=0.25,  # weight of the Beta entropies against the (version, cut) entropy
    teacher="optimizer",  # the stronger teacher (README, agents table); "greedy" is cheaper, "" skips the warm start
    teacher_steps=25_600,
    teacher_epochs=10,
    teacher_lr=1e-3,
    eval_every=1,  # iterations between validations (0: never); the best validated weights are kept
    eval_episodes=64,
)

_BETA_EPS = 1e-5


# -- environments ----------------------------------------------------------------------------------------


def make_env(env_config: Dict[str, Any]):
    """The RLlib env creator. With ``env_config["num_envs"]`` (RLlib's ``vector_entry_point`` mode) an
    :class:`mcia.MciaVectorEnv` of that many environments whose seeded resets land on training seeds;
    otherwise one :class:`mcia.MciaEnv`. The scenario is ``env_config["config"]``."""
    num_envs = env_config.get("num_envs")
    if num_envs is None:
        from ..env import MciaEnv

        return MciaEnv(env_config.get("config"), info=False)
    from ..vector import MciaVectorEnv

    venv = MciaVectorEnv(int(num_envs), env_config.get("config"), num_threads=1, info=False)
    return _TrainingSeeds(venv, int(env_config.get("seed", 0) or 0))


class _TrainingSeeds(gym.vector.VectorWrapper):
    """Moves seeded resets onto training seeds. RLlib resets env runner k's vector env once with the seed
    ``seed + k``; environment i of that runner then starts on ``TRAINING_SEED + 10_000 seed + B k + i``
    (B environments per runner), disjoint from the evaluation and validation seeds and across runners."""

    def __init__(self, env: Any, seed: int) -> None:
        super().__init__(env)
        self.seed = int(seed)

    def reset(self, *, seed: Any = None, options: Any = None):
        if seed is not None:
            runner = int(seed) - self.seed
            seed = TRAINING_SEED + 10_000 * self.seed + self.env.num_envs * max(runner, 0)
        return self.env.reset(seed=seed, options=options)


# -- the action distribution -----------------------------------------------------------------------------


def action_dist_class(n: int, m: int, l: int, share_entropy_weight: float = 0.25):
    """The RLlib ``Distribution`` class of MCIA's Dict action for N devices, M versions and L units.

    Its inputs (``ACTION_DIST_INPUTS``) are ``(B, N * (M (L + 1) + 5))``: per device the logits of the joint
    (version, cut) categorical, the Beta parameters alpha (bandwidth, compute) and beta (bandwidth, compute),
    and a task flag (1 where the device has a task). Samples are the Dict action in RLlib's normalised form
    (share weights ``2 w - 1`` in ``[-1, 1]``, which RLlib maps onto the space's ``[0, 1]``)."""
    j = m * (l + 1)
    width = j + 5

    class MciaActionDist(Distribution):
        def __init__(self, inputs: "torch.Tensor") -> None:
            super().__init__()
            x = inputs.reshape(*inputs.shape[:-1], n, width)
            self.inputs = inputs
            self.logsm = torch.log_softmax(x[..., :j], -1)
            self.alpha = x[..., j : j + 2]
            self.beta = x[..., j + 2 : j + 4]
            self.task = x[..., j + 4]

        @classmethod
        def from_logits(cls, logits: "torch.Tensor", **kwargs: Any) -> "MciaActionDist":
            return cls(logits)

        @staticmethod
        def required_input_dim(space: Any = None, **kwargs: Any) -> int:
            return n * width

        def _offload_prob(self) -> "torch.Tensor":
            local = self.logsm.reshape(*self.logsm.shape[:-1], m, l + 1)[..., l].exp().sum(-1)
            return (1.0 - local).detach()

        def sample(self, *, sample_shape: Any = None) -> Dict[str, "torch.Tensor"]:
            joint = torch.distributions.Categorical(logits=self.logsm).sample()
            w = torch.distributions.Beta(self.alpha, self.beta).sample().clamp(_BETA_EPS, 1 - _BETA_EPS)
            return _action(joint, w, l)

        def rsample(self, *, sample_shape: Any = None, **kwargs: Any):
            raise NotImplementedError("MciaActionDist has discrete parts and no reparameterised sample")

        def logp(self, value: Dict[str, "torch.Tensor"], **kwargs: Any) -> "torch.Tensor":
            version, partition = value["version"].long(), value["partition"].long()
            joint = version * (l + 1) + partition
            lp_choice = self.logsm.gather(-1, joint.unsqueeze(-1)).squeeze(-1)
            w = torch.stack([value["bandwidth"], value["compute"]], -1).float()
            w = ((w + 1.0) * 0.5).clamp(_BETA_EPS, 1 - _BETA_EPS)
            lp_w, _ = _beta_logp_entropy(self.alpha, self.beta, w)
            offload = self.task * (partition < l).float()
            return (lp_choice * self.task + lp_w.sum(-1) * offload).sum(-1)

        def entropy(self, **kwargs: Any) -> "torch.Tensor":
            ent_c = -(self.logsm.exp() * self.logsm).sum(-1)
            _, ent_w = _beta_logp_entropy(self.alpha, self.beta, (self.alpha / (self.alpha + self.beta)).detach())
            share = share_entropy_weight * ent_w.sum(-1) * self._offload_prob()
            return ((ent_c + share) * self.task).sum(-1)

        def kl(self, other: "MciaActionDist", **kwargs: Any) -> "torch.Tensor":
            p = self.logsm.exp()
            kl_c = (p * (self.logsm - other.logsm)).sum(-1)
            kl_w = torch.distributions.kl_divergence(
                torch.distributions.Beta(self.alpha, self.beta), torch.distributions.Beta(other.alpha, other.beta)
            ).sum(-1)
            return ((kl_c + kl_w * self._offload_prob()) * self.task).sum(-1)

        def to_deterministic(self) -> "MciaDeterministic":
            return MciaDeterministic(self)

    class MciaDeterministic(Distribution):
        """The mode of the (version, cut) choice and the mean share weights."""

        def __init__(self, dist: MciaActionDist) -> None:
            super().__init__()
            self.dist = dist

        def sample(self, *, sample_shape: Any = None) -> Dict[str, "torch.Tensor"]:
            d = self.dist
            w = (d.alpha / (d.alpha + d.beta)).clamp(_BETA_EPS, 1 - _BETA_EPS)
            return _action(d.logsm.argmax(-1), w, l)

        def rsample(self, *, sample_shape: Any = None, **kwargs: Any):
            return self.sample()

        def logp(self, value: Any, **kwargs: Any) -> "torch.Tensor":
            return torch.zeros(self.dist.task.shape[:-1])

        def entropy(self, **kwargs: Any) -> "torch.Tensor":
            return torch.zeros(self.dist.task.shape[:-1])

        def kl(self, other: Any, **kwargs: Any) -> "torch.Tensor":
            raise NotImplementedError

        @staticmethod
        def required_input_dim(space: Any = None, **kwargs: Any) -> int:
            return n * width

        @classmethod
        def from_logits(cls, logits: "torch.Tensor", **kwargs: Any) -> "MciaDeterministic":
            return cls(MciaActionDist(logits))

        def to_deterministic(self) -> "MciaDeterministic":
            return self

    return MciaActionDist


def _action(joint: Any, w: Any, l: int) -> Dict[str, Any]:
    return {"version": joint // (l + 1), "partition": joint % (l + 1),
            "bandwidth": 2.0 * w[..., 0] - 1.0, "compute": 2.0 * w[..., 1] - 1.0}


# -- the RLModule ----------------------------------------------------------------------------------------


class MciaPPOModule(TorchRLModule, ValueFunctionAPI):
    """HybridPPO's actor and critic as an RLModule for RLlib's PPO (module docstring). ``model_config``
    keys: ``hidden``, ``critic_hidden``, ``activation``, ``share_entropy_weight``."""

    def setup(self) -> None:
        space = self.action_space
        self.n = int(len(space["version"].nvec))
        self.m = int(space["version"].nvec[0])
        self.l = int(space["partition"].nvec[0]) - 1
        cfg = dict(self.model_config or {})
        obs_dim = int(self.observation_space.shape[0])
        act = cfg.get("activation", "relu")
        self.policy_net = PolicyNet(self.n, self.m, self.l, int(cfg.get("hidden", 64)), act, True)
        self.critic_net = CriticNet(obs_dim, 1, int(cfg.get("critic_hidden", 128)), act)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.action_dist_cls = action_dist_class(self.n, self.m, self.l, float(cfg.get("share_entropy_weight", 0.25)))

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """The observation as the networks see it (the warm-start data's statistics)."""
        return ((obs - self.obs_mean) / self.obs_std).clamp(-10.0, 10.0)

    def _dist_inputs(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.float()
        logits, a, b = self.policy_net(self.normalize(obs))
        n = self.n
        task = ((obs[:, 0 : 7 * n : 7] + obs[:, 1 : 7 * n : 7]) > 0).float().unsqueeze(-1)
        return torch.cat([logits, a, b, task], -1).reshape(obs.shape[0], -1)

    def _forward(self, batch: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self._dist_inputs(batch[Columns.OBS])}

    def compute_values(self, batch: Dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        return self.critic_net(self.normalize(batch[Columns.OBS].float())).squeeze(-1)


# -- warm start and validation ---------------------------------------------------------------------------


def imitate(module: Any, config: ConfigLike = None, teacher: str = RECIPE["teacher"], steps: int = RECIPE["teacher_steps"],
            epochs: int = RECIPE["teacher_epochs"], lr: float = RECIPE["teacher_lr"], gamma: float = 0.9, seed: int = 0, minibatch_size: int = 2048) -> Dict[str, float]:
    """Warm start of a :class:`MciaPPOModule` by imitation of the built-in policy ``teacher`` on whole
    episodes on training seeds (:func:`mcia.sb3.teacher_rollouts`'s seeds): the module's observation
    statistics become those of the data, the (version, cut) head learns the teacher's choices (cross-entropy),
    the Beta heads its share weights (scaled so the largest is 0.9) and the critic its discounted returns.
    Returns the final losses."""
    from ..policies import RustPolicy
    from ..vector import MciaVectorEnv

    cfg = as_config(config)
    slots = int(cfg["time"]["episode_slots"])
    b = max(1, steps // slots)
    venv = MciaVectorEnv(b, cfg, num_threads=1, info=False, copy=True)
    n, l = module.n, module.l
    policy = RustPolicy(teacher, cfg)
    obs, _ = venv.reset(seed=TRAINING_SEED + 10_000 * seed + 5_000)
    xs, joints, ws, tasks, offl, rews = [], [], [], [], [], []
    for _ in range(slots):
        a = policy(venv)
        xs.append(obs.copy())
        joints.append(a["version"] * (l + 1) + a["partition"])
        bw, cw = np.array(a["bandwidth"], np.float64), np.array(a["compute"], np.float64)
        for w in (bw, cw):
            w /= np.maximum(w.max(axis=1, keepdims=True), 1e-12) / 0.9
        ws.append(np.stack([bw, cw], -1).clip(1e-4, 1 - 1e-4))
        task = (obs[:, 0 : 7 * n : 7] + obs[:, 1 : 7 * n : 7]) > 0
        tasks.append(task)
        offl.append(task & (a["partition"] < l))
        obs, rew, *_ = venv.step(a)
        rews.append(np.asarray(rew, np.float64))
    ret = np.zeros((slots, b))
    acc = np.zeros(b)
    for t in reversed(range(slots)):
        acc = rews[t] + gamma * acc
        ret[t] = acc
    x = np.concatenate(xs).astype(np.float32)
    with torch.no_grad():
        module.obs_mean.copy_(torch.from_numpy(x.mean(0)))
        module.obs_std.copy_(torch.from_numpy(np.sqrt(x.var(0) + 1e-8).astype(np.float32)))
    X = torch.from_numpy(x)
    J = torch.from_numpy(np.concatenate(joints)).long()
    W = torch.from_numpy(np.concatenate(ws)).float()
    T = torch.from_numpy(np.concatenate(tasks)).float()
    O = torch.from_numpy(np.concatenate(offl)).float()
    R = torch.from_numpy(ret.reshape(-1)).float()
    params = list(module.policy_net.parameters()) + list(module.critic_net.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    mcount = X.shape[0]
    losses: Dict[str, float] = {}
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(mcount, generator=gen)
        for s in range(0, mcount, minibatch_size):
            idx = perm[s : s + minibatch_size]
            xn = module.normalize(X[idx])
            logits, a_, b_ = module.policy_net(xn)
            logsm = torch.log_softmax(logits, -1)
            ce = -(logsm.gather(-1, J[idx].unsqueeze(-1)).squeeze(-1) * T[idx]).sum() / T[idx].sum().clamp(min=1.0)
            lp_w, _ = _beta_logp_entropy(a_, b_, W[idx])
            share = -(lp_w.sum(-1) * O[idx]).sum() / O[idx].sum().clamp(min=1.0)
            v_loss = 0.5 * (module.critic_net(xn).squeeze(-1) - R[idx]).pow(2).mean()
            loss = ce + 0.1 * share + 0.5 * v_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            losses = {"imitation_ce": ce.item(), "imitation_share_nll": share.item(), "imitation_value_loss": v_loss.item()}
    module.eval()
    return losses


def module_action(module: Any, obs: np.ndarray, deterministic: bool = True) -> Dict[str, np.ndarray]:
    """The Dict action of an MCIA RLModule for a batch of raw observations (share weights in ``[0, 1]``)."""
    with torch.no_grad():
        out = module.forward_inference({Columns.OBS: torch.as_tensor(np.asarray(obs, np.float32))})
        dist = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        a = (dist.to_deterministic() if deterministic else dist).sample()
    res = {k: np.ascontiguousarray(np.asarray(a[k]), dtype=np.int64) for k in ("version", "partition")}
    for k in ("bandwidth", "compute"):
        res[k] = np.ascontiguousarray(np.clip((np.asarray(a[k], np.float64) + 1.0) / 2.0, 0.0, 1.0))
    return res


def validation_return(module: Any, config: ConfigLike = None, episodes: int = 64, seed: Optional[int] = None) -> float:
    """Mean return of the deterministic policy of an MCIA RLModule on ``episodes`` whole episodes, episode i
    on seed ``seed + i`` (default: the validation seeds, disjoint from the evaluation seeds)."""
    from ..vector import MciaVectorEnv

    cfg = as_config(config)
    venv = MciaVectorEnv(episodes, cfg, num_threads=1, info=False, copy=True)
    obs, _ = venv.reset(seed=VALIDATION_SEED if seed is None else seed)
    total = np.zeros(episodes)
    for _ in range(int(cfg["time"]["episode_slots"])):
        obs, r, *_ = venv.step(module_action(module, obs))
        total += r
    return float(total.mean())


# -- the algorithm ---------------------------------------------------------------------------------------


def ppo_config(config: ConfigLike = None, env_runners: int = 2, envs_per_runner: Optional[int] = None, seed: int = 0,
               training: Optional[Dict[str, Any]] = None, module: Optional[Dict[str, Any]] = None):
    """The recipe's ``PPOConfig`` (new API stack): ``env_runners`` remote env runners each stepping a native
    vector env of ``envs_per_runner`` environments (default :data:`RECIPE`), :class:`MciaPPOModule` with
    ``module`` as its ``model_config`` (default: the widths of :data:`RECIPE`), and :data:`TRAINING`
    updated with ``training``."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    cfg = as_config(config)
    envs_per_runner = int(envs_per_runner or RECIPE["envs_per_runner"])
    train_kwargs = dict(TRAINING)
    train_kwargs.update(training or {})
    model_config = {k: RECIPE[k] for k in ("hidden", "critic_hidden", "activation", "share_entropy_weight")}
    model_config.update(module or {})
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config={"config": cfg.to_dict(), "seed": int(seed)})
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner, num_cpus_per_env_runner=1,
                     gym_env_vectorize_mode="vector_entry_point")
        .learners(num_learners=0)
        .training(**train_kwargs)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=MciaPPOModule, model_config=model_config))
        .debugging(seed=seed)
        .reporting(metrics_num_episodes_for_smoothing=100)
    )


def _set_weights(algo: Any, state: Dict[str, Any]) -> None:
    """Loads module weights into the learner(s) and sends them to the env runners."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    def load(learner: Any) -> None:
        learner.module[DEFAULT_MODULE_ID].load_state_dict(state)

    algo.learner_group.foreach_learner(load)
    algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group, timeout_seconds=60.0)


def _get_weights(algo: Any) -> Dict[str, Any]:
    from ray.rllib.core import DEFAULT_MODULE_ID

    res = algo.learner_group.foreach_learner(
        lambda learner: {k: v.detach().cpu().clone() for k, v in learner.module[DEFAULT_MODULE_ID].state_dict().items()})
    return list(res)[0].get() if hasattr(list(res)[0], "get") else list(res)[0]


def train_rllib_ppo(
    config: ConfigLike = None,
    timesteps: int = 200_000,
    env_runners: int = 2,
    seed: int = 0,
    out: Optional[str] = None,
    *,
    envs_per_runner: Optional[int] = None,
    time_limit_s: Optional[float] = None,
    verbose: int = 1,
    training: Optional[Dict[str, Any]] = None,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    shutdown: bool = True,
) -> List[Dict[str, Any]]:
    """Trains the recipe (module docstring) until ``timesteps`` environment steps were sampled (at least one
    iteration) or ``time_limit_s`` passed, keeps the weights with the best validation return, saves the
    algorithm under ``out/rllib_checkpoint`` with ``agent.json`` and returns the learning curve rows.

    ``training`` overrides keys of :data:`TRAINING` (``PPOConfig.training``) and of :data:`RECIPE`.
    ``address=None`` starts a local Ray instance (with ``num_cpus`` logical CPUs, default: enough for the
    env runners and the learner); ``address="auto"`` joins a running cluster (``ray start --head``).
    """
    import ray

    from ..vector import MciaVectorEnv  # noqa: F401  (fail early without the core)

    hp = dict(training or {})
    recipe = {k: hp.pop(k, v) for k, v in RECIPE.items()}
    if envs_per_runner is not None:
        recipe["envs_per_runner"] = envs_per_runner
    module_cfg = {k: recipe[k] for k in ("hidden", "critic_hidden", "activation", "share_entropy_weight")}
    cfg = as_config(config)
    t0 = time.perf_counter()
    # Ray's driver-side notices (new API stack, deprecations, missing GPU monitoring) are noise to a user of
    # the recipe; verbose >= 2 shows them.
    with quiet_ray(verbose <= 1):
        ray_log_level = logging.INFO if verbose > 1 else logging.ERROR
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=verbose > 1, logging_level=ray_log_level)
            else:
                ray.init(num_cpus=num_cpus or env_runners + 1, include_dashboard=False, log_to_driver=verbose > 1, logging_level=ray_log_level)
        ppo = ppo_config(cfg, env_runners, int(recipe["envs_per_runner"]), seed, hp, module_cfg)
        algo = ppo.build_algo()
        curve: List[Dict[str, Any]] = []
        best: Dict[str, Any] = {"value": -math.inf, "state": None}
        try:
            local = _local_module(algo, module_cfg)
            eval_every = int(recipe["eval_every"])

            def validate(state: Dict[str, Any]) -> float:
                local.load_state_dict(state)
                value = validation_return(local, cfg, int(recipe["eval_episodes"]))
                if value > best["value"]:
                    best["value"], best["state"] = value, state
                return value

            if recipe["teacher"] and int(recipe["teacher_steps"]) > 0:
                losses = imitate(local, cfg, recipe["teacher"], int(recipe["teacher_steps"]), int(recipe["teacher_epochs"]),
                                 float(recipe["teacher_lr"]), float(ppo.gamma), seed)
                state = {k: v.detach().clone() for k, v in local.state_dict().items()}
                _set_weights(algo, state)
                if verbose:
                    print("[rllib-ppo] imitated " + recipe["teacher"] + ": " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()),
                          flush=True)
                if eval_every:
                    v0 = validate(state)
                    curve.append({"timesteps": 0, "wall_s": round(time.perf_counter() - t0, 3), "episode_return": float("nan"),
                                  "validation_return": v0, "iteration": 0})
            steps = 0
            while steps < timesteps:
                res = algo.train()
                runners = res.get("env_runners", {})
                steps = int(runners.get("num_env_steps_sampled_lifetime", res.get("num_env_steps_sampled_lifetime", 0)))
                it = len([r for r in curve if r["iteration"] > 0]) + 1
                row = {"timesteps": steps, "wall_s": round(time.perf_counter() - t0, 3),
                       "episode_return": float(runners.get("episode_return_mean", float("nan"))),
                       "validation_return": float("nan"), "iteration": it}
                last = steps >= timesteps or (time_limit_s is not None and time.perf_counter() - t0 >= time_limit_s)
                if eval_every and (it % eval_every == 0 or last):
                    row["validation_return"] = validate(_get_weights(algo))
                curve.append(row)
                if verbose:
                    print(f"[rllib-ppo] iteration {it:4d} {steps:>9d} steps {row['wall_s']:7.1f}s "
                          f"episode return {_fmt(row['episode_return'])} validation {_fmt(row['validation_return'])} "
                          f"(best {best['value']:.2f})", flush=True)
                if last:
                    break
            if best["state"] is not None:
                _set_weights(algo, best["state"])
            if out:
                os.makedirs(out, exist_ok=True)
                algo.save_to_path(os.path.abspath(os.path.join(out, "rllib_checkpoint")))
                with open(os.path.join(out, "agent.json"), "w", encoding="utf-8") as f:
                    json.dump({"algo": "rllib-ppo", "module_path": MODULE_PATH, "timesteps": steps,
                               "wall_s": round(time.perf_counter() - t0, 2), "seed": seed, "env_runners": env_runners,
                               "envs_per_runner": int(recipe["envs_per_runner"]),
                               "best_validation_return": best["value"] if math.isfinite(best["value"]) else None,
                               "teacher": recipe["teacher"] or None}, f, indent=1)
                cfg.save(os.path.join(out, "config.json"))
        finally:
            algo.stop()
            if shutdown and not address:
                ray.shutdown()
    return curve


def _fmt(x: float) -> str:
    """A return for the progress line: ``-`` for an iteration without a finished episode or validation."""
    return f"{x:8.2f}" if math.isfinite(x) else f"{'-':>8}"


def _local_module(algo: Any, module_cfg: Dict[str, Any]):
    """A module of the algorithm's class in the driver, for the warm start and the validation."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    env = make_env({"config": algo.config.env_config["config"], "num_envs": 1})
    spec = RLModuleSpec(module_class=MciaPPOModule, observation_space=env.single_observation_space,
                        action_space=env.single_action_space, model_config=copy.deepcopy(module_cfg))
    module = spec.build()
    module.eval()
    return module


__all__ = ["ENV_NAME", "MciaPPOModule", "RECIPE", "TRAINING", "action_dist_class", "imitate", "make_env", "module_action", "ppo_config",
           "train_rllib_ppo", "validation_return"]
