"""Hybrid-action PPO for MCIA: :class:`HybridPPO`.

The MCIA action is hybrid: per device a discrete model version and cut point, and two continuous weights
(uplink bandwidth and edge compute). :class:`HybridPPO` is a PPO agent built for that structure and trained
directly on the native :class:`mcia.MciaVectorEnv`:

- **Per-device factorised policy with shared weights.** Each device's slice of the observation (7 features),
  a one-hot device identity and the global features (edge load, time) go through a small MLP shared by all
  devices; the mean of the device embeddings is a context vector appended to each device's embedding, so a
  device's decision sees the others' load on the shared uplink and edge. The same network therefore decides
  for every device in one batched forward pass.
- **Joint (version, cut) head.** One categorical over the ``M * (L + 1)`` pairs per device, so the best cut
  can depend on the chosen version.
- **Beta share weights.** Bandwidth and compute weights per device are Beta distributed on ``(0, 1)``; the
  deterministic action is the Beta mean.
- **Masked log-probabilities.** Parts of the action that cannot change anything are left out of the policy
  gradient and of the entropy: every decision of a device without a task, and the share weights of a device
  that runs its model fully locally (``p = L``).
- **Device credit.** The reward is the mean utility over the devices with a task, so it splits exactly
  into per-device parts ``u_n / k``. The critic predicts one value per device (their sum is the state
  value) and GAE runs per device. A device's (version, cut) is first trained on its own advantage, which
  is free of the other devices' exploration noise and learns several times faster; the weight moves
  linearly to the team advantage (the sum over devices, which also counts what an offloading device costs
  the others) by ``credit_decay_frac`` of training. The share weights, whose whole effect is on the
  others, always use the team advantage.
- **PPO.** GAE, a clipped surrogate per device and part (each device's (version, cut) ratio and share
  ratio are clipped separately, as in multi-agent PPO with shared parameters), entropy bonuses, a separate
  critic MLP over the whole observation, Adam with a linearly decaying learning rate, observation
  normalisation (running mean / std, saved in the checkpoint) and reward scaling by the running standard
  deviation of the discounted return.
- **Correct truncation.** The vector env runs with ``autoreset_mode="same_step"``; at a truncation the
  critic's values of ``info["final_obs"]`` are bootstrapped into the last reward of the episode (and the
  per-device utilities of that step are read from ``info["final_info"]``).
- **Validation.** Every ``eval_every`` iterations the deterministic policy plays ``eval_episodes`` episodes
  on seeds from 1,000,000 on (disjoint from the evaluation seeds 0..19); with ``keep_best`` the checkpoint
  holds the weights with the best validation return, as SB3's ``EvalCallback`` does.

>>> from mcia.agents import HybridPPO
>>> agent = HybridPPO(seed=0)
>>> agent.learn(4_000_000)             # about 7 minutes on 2 cores
>>> agent.save("runs/hppo")
>>> mcia.evaluate("runs/hppo")           # or HybridPPO.load("runs/hppo").act(obs)
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config, ConfigLike, as_config
from ..spaces import OBS_DEVICE_FIELDS, OBS_GLOBAL_FIELDS, obs_dim
from ..vector import MciaVectorEnv

CHECKPOINT_FILE = "hppo.pt"
HPARAMS_FILE = "hparams.json"
CONFIG_FILE = "config.json"
AGENT_FILE = "agent.json"
CURVE_FILE = "learning_curve.csv"

#: Seeds of the validation episodes used during training (disjoint from the evaluation seeds 0..19).
VALIDATION_SEED = 1_000_000
#: First seed of the training environments (environment i of a run with agent seed s: TRAINING_SEED +
#: 10_000 s + i), disjoint from the evaluation and the validation seeds.
TRAINING_SEED = 2_000_000


@dataclass
class HPPOParams:
    """Hyper-parameters of :class:`HybridPPO` (all saved in the checkpoint)."""

    num_envs: int = 256
    n_steps: int = 32
    gamma: float = 0.9
    gae_lambda: float = 0.9
    learning_rate: float = 1e-3
    lr_schedule: str = "linear"  # "linear" decay to lr_final_frac * learning_rate, or "constant"
    lr_final_frac: float = 0.1
    n_epochs: int = 4
    minibatch_size: int = 2048
    clip_range: float = 0.2
    device_credit: float = 1.0  # weight of the device's own advantage for its (version, cut) at the start
    device_credit_final: float = 0.0  # ... and at credit_decay_frac of training (the team advantage has the rest)
    credit_decay_frac: float = 0.5
    # Potential-based shaping of each device's reward by its queue, Phi_n = -backlog_shaping * E[alpha] / N *
    # q_n (alpha = (1 - w) / tau): a queue that grows is felt at once, not only when later tasks wait for it.
    # It leaves the optimal policy unchanged (Ng et al. 1999); 0 turns it off.
    backlog_shaping: float = 1.0
    # Warm start: imitate a built-in policy (its (version, cut) and share weights, and the critic its
    # returns) on this many environment steps before PPO; "" or 0 steps to start from scratch. The teacher's
    # episodes run on training seeds.
    teacher: str = "greedy"
    teacher_steps: int = 25_600
    teacher_epochs: int = 10
    ent_coef: float = 0.002  # entropy bonus of the (version, cut) categorical
    ent_coef_share: float = 0.0005  # entropy bonus of the Beta share weights
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: Optional[float] = None
    hidden: int = 64
    critic_hidden: int = 128
    activation: str = "relu"
    device_onehot: bool = True
    norm_obs: bool = True
    norm_reward: bool = True
    obs_clip: float = 10.0
    eval_every: int = 2  # iterations between validation evaluations (0: never)
    eval_episodes: int = 64
    keep_best: bool = True  # the saved weights are those with the best validation return
    torch_threads: int = 1
    env_threads: int = 1


class RunningMeanStd:
    """Running mean and variance (parallel Welford), float64."""

    def __init__(self, shape=()) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = 1e-4

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        b_mean, b_var, b_count = x.mean(axis=0), x.var(axis=0), x.shape[0]
        delta = b_mean - self.mean
        tot = self.count + b_count
        self.mean = self.mean + delta * b_count / tot
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / tot
        self.var = m2 / tot
        self.count = tot

    def state_dict(self) -> Dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": float(self.count)}

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        self.mean = np.asarray(d["mean"], np.float64)
        self.var = np.asarray(d["var"], np.float64)
        self.count = float(d["count"])


def _act_fn(name: str) -> Callable[[], nn.Module]:
    return {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}[name]


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class PolicyNet(nn.Module):
    """Per-device actor with weights shared across devices and a mean-pooled context."""

    def __init__(self, n: int, m: int, l: int, hidden: int, activation: str, device_onehot: bool) -> None:
        super().__init__()
        self.n, self.m, self.l = n, m, l
        self.device_onehot = device_onehot
        act = _act_fn(activation)
        g = math.sqrt(2)
        in_dim = len(OBS_DEVICE_FIELDS) + len(OBS_GLOBAL_FIELDS) + (n if device_onehot else 0)
        self.encoder = nn.Sequential(_init(nn.Linear(in_dim, hidden), g), act(), _init(nn.Linear(hidden, hidden), g), act())
        self.mixer = nn.Sequential(_init(nn.Linear(2 * hidden, hidden), g), act())
        self.choice = _init(nn.Linear(hidden, m * (l + 1)), 0.01)
        self.share = _init(nn.Linear(hidden, 4), 0.01)
        self.eye: torch.Tensor
        self.register_buffer("eye", torch.eye(n), persistent=False)

    def forward(self, obs: torch.Tensor):
        """``obs`` (B, 7N + 3), normalised. Returns choice logits (B, N, M(L+1)) and Beta parameters
        (B, N, 2) alpha and beta for bandwidth (index 0) and compute (index 1)."""
        b = obs.shape[0]
        dev = obs[:, : 7 * self.n].reshape(b, self.n, 7)
        glob = obs[:, 7 * self.n :].unsqueeze(1).expand(b, self.n, obs.shape[1] - 7 * self.n)
        parts = [dev, glob]
        if self.device_onehot:
            parts.append(self.eye.unsqueeze(0).expand(b, self.n, self.n))
        h = self.encoder(torch.cat(parts, dim=-1))
        ctx = h.mean(dim=1, keepdim=True).expand_as(h)
        z = self.mixer(torch.cat([h, ctx], dim=-1))
        logits = self.choice(z)
        ab = F.softplus(self.share(z)) + 1.0
        return logits, ab[..., :2], ab[..., 2:]


class CriticNet(nn.Module):
    """Value MLP over the whole normalised observation: one value per device (the discounted sum of the
    device's part of the reward); the state value is their sum."""

    def __init__(self, obs_dim: int, n: int, hidden: int, activation: str) -> None:
        super().__init__()
        act = _act_fn(activation)
        g = math.sqrt(2)
        self.net = nn.Sequential(_init(nn.Linear(obs_dim, hidden), g), act(), _init(nn.Linear(hidden, hidden), g), act(), _init(nn.Linear(hidden, n), 1.0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


def _beta_logp_entropy(alpha: torch.Tensor, beta: torch.Tensor, x: torch.Tensor):
    """Log-density and entropy of Beta(alpha, beta) at x, elementwise."""
    lbeta = torch.lgamma(alpha) + torch.lgamma(beta) - torch.lgamma(alpha + beta)
    logp = (alpha - 1) * torch.log(x) + (beta - 1) * torch.log1p(-x) - lbeta
    ent = (
        lbeta
        - (alpha - 1) * torch.digamma(alpha)
        - (beta - 1) * torch.digamma(beta)
        + (alpha + beta - 2) * torch.digamma(alpha + beta)
    )
    return logp, ent


_BETA_EPS = 1e-5


class HybridPPO:
    """PPO with a hybrid (categorical + Beta) per-device policy, trained on :class:`mcia.MciaVectorEnv`.

    Args:
        config: the scenario (a :class:`mcia.Config`, a partial dict, or a JSON / TOML path).
        seed: seeds torch, the action sampling and the environments (env i of the training batch starts
            on seed ``seed + i``).
        tensorboard_log: a folder for TensorBoard event files (used when ``tensorboard`` is installed).
        verbose: 1 prints a line per validation evaluation.
        **params: any field of :class:`HPPOParams`.

    Train with :meth:`learn`, decide with :meth:`act`, keep with :meth:`save` / :meth:`load`.
    """

    def __init__(self, config: ConfigLike = None, seed: int = 0, tensorboard_log: Optional[str] = None, verbose: int = 0, **params: Any) -> None:
        unknown = set(params) - {f.name for f in dataclasses.fields(HPPOParams)}
        if unknown:
            raise TypeError(f"HybridPPO: unknown hyper-parameter(s) {sorted(unknown)}")
        self.params = HPPOParams(**params)
        p = self.params
        if p.lr_schedule not in ("linear", "constant"):
            raise ValueError(f"HybridPPO: lr_schedule must be 'linear' or 'constant', got {p.lr_schedule!r}")
        self.config: Config = as_config(config)
        self.seed = int(seed)
        self.tensorboard_log = tensorboard_log
        self.verbose = verbose
        self.n = self.config.num_devices
        self.m = self.config.num_versions
        probe = MciaVectorEnv(1, self.config, num_threads=1, info=False)
        self.l = probe.num_units
        self.obs_dim = obs_dim(self.n)
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, caller's random state untouched
            torch.manual_seed(self.seed)
            self.policy = PolicyNet(self.n, self.m, self.l, p.hidden, p.activation, p.device_onehot)
            self.critic = CriticNet(self.obs_dim, self.n, p.critic_hidden, p.activation)
        self.optimizer = torch.optim.Adam(list(self.policy.parameters()) + list(self.critic.parameters()), lr=p.learning_rate, eps=1e-5)
        self.obs_rms = RunningMeanStd((self.obs_dim,))
        self.ret_rms = RunningMeanStd(())
        self.num_timesteps = 0
        self.iterations = 0
        self.wall_s = 0.0
        self.curve: List[Dict[str, Any]] = []
        self.best_validation = -math.inf
        self._best_state: Optional[Dict[str, Any]] = None
        self._venv: Optional[MciaVectorEnv] = None
        self._gen = torch.Generator().manual_seed(self.seed)

    # -- inference -------------------------------------------------------------------------------------

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """The observation as the networks see it (normalised and clipped when ``norm_obs``)."""
        obs = np.asarray(obs, np.float32)
        if not self.params.norm_obs:
            return obs
        c = self.params.obs_clip
        return np.clip((obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + 1e-8), -c, c).astype(np.float32)

    def _decode(self, joint: torch.Tensor, w: torch.Tensor) -> Dict[str, np.ndarray]:
        j = joint.numpy()
        wn = w.numpy().astype(np.float64)
        return {
            "version": np.ascontiguousarray(j // (self.l + 1), dtype=np.int64),
            "partition": np.ascontiguousarray(j % (self.l + 1), dtype=np.int64),
            "bandwidth": np.ascontiguousarray(wn[..., 0]),
            "compute": np.ascontiguousarray(wn[..., 1]),
        }

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> Dict[str, np.ndarray]:
        """The Dict action for a batch of observations ``(B, 7N + 3)`` (or one observation ``(7N + 3,)``):
        ``version`` / ``partition`` int64 and ``bandwidth`` / ``compute`` float64, each ``(B, N)`` (or
        ``(N,)``). Deterministic: the most likely (version, cut) and the mean share weights."""
        with _threads(self.params.torch_threads):
            obs = np.asarray(obs, np.float32)
            single = obs.ndim == 1
            x = torch.from_numpy(self.normalize(obs.reshape(-1, self.obs_dim)))
            logits, a, b = self.policy(x)
            if deterministic:
                joint = logits.argmax(-1)
                w = a / (a + b)
            else:
                joint = torch.distributions.Categorical(logits=logits).sample()
                w = torch.distributions.Beta(a, b).sample()
            out = self._decode(joint, w)
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out

    def __call__(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        return self.act(obs, deterministic=True)

    # -- training --------------------------------------------------------------------------------------

    def _make_env(self) -> MciaVectorEnv:
        p = self.params
        return MciaVectorEnv(p.num_envs, self.config, num_threads=p.env_threads, autoreset_mode="same_step", info=True, copy=True)

    def _sample(self, logits: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
        probs = torch.softmax(logits, -1)
        joint = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=self._gen).reshape(probs.shape[:-1])
        # Beta via two Gamma draws; torch's Gamma sampler takes no generator, so these use the global one,
        # which learn() forks and seeds from the agent's generator
        one = torch.ones_like(a)
        ga = torch.distributions.Gamma(a, one, validate_args=False).sample()
        gb = torch.distributions.Gamma(b, one, validate_args=False).sample()
        w = (ga / (ga + gb)).clamp(_BETA_EPS, 1 - _BETA_EPS)
        return joint, w

    def _logp_entropy(self, logits, a, b, joint, w):
        """Per device (B, N): log-probability of the taken (version, cut) and of the two share weights,
        and the entropies of both parts (unmasked)."""
        logsm = torch.log_softmax(logits, -1)
        lp_choice = logsm.gather(-1, joint.unsqueeze(-1)).squeeze(-1)
        ent_choice = -(logsm.exp() * logsm).sum(-1)
        lp_w, ent_w = _beta_logp_entropy(a, b, w)
        return lp_choice, lp_w.sum(-1), ent_choice, ent_w.sum(-1)

    def _credit(self, progress: float) -> float:
        p = self.params
        frac = min(max(progress, 0.0) / max(p.credit_decay_frac, 1e-9), 1.0)
        return p.device_credit + (p.device_credit_final - p.device_credit) * frac

    def _lr(self, progress: float) -> float:
        p = self.params
        if p.lr_schedule == "constant":
            return p.learning_rate
        return p.learning_rate * (1.0 - (1.0 - p.lr_final_frac) * min(max(progress, 0.0), 1.0))

    def learn(
        self,
        total_timesteps: int,
        progress_bar: bool = True,
        time_limit_s: Optional[float] = None,
        callback: Optional[Callable[[Dict[str, Any]], Any]] = None,
    ) -> "HybridPPO":
        """Trains for ``total_timesteps`` environment steps (rounded up to whole iterations of
        ``num_envs * n_steps``), or until ``time_limit_s`` seconds of training have passed.

        ``callback(row)`` is called after every iteration with that iteration's learning-curve row; a
        return value of ``False`` stops training. Calling :meth:`learn` again continues training.
        """
        p = self.params
        seed = int(torch.randint(0, 2**62, (1,), generator=self._gen))
        # The Beta draws use torch's global generator: fork it, so training is reproducible from the
        # agent's seed and leaves the caller's random state alone.
        with _threads(p.torch_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._learn(int(total_timesteps), progress_bar, time_limit_s, callback)

    def _learn(self, total_timesteps, progress_bar, time_limit_s, callback):
        p = self.params
        n, B, T = self.n, p.num_envs, p.n_steps
        batch = B * T
        iters = max(1, math.ceil(total_timesteps / batch))
        if self._venv is None:
            self._venv = self._make_env()
            self._obs, _ = self._venv.reset(seed=TRAINING_SEED + 10_000 * self.seed)
            if p.teacher and p.teacher_steps > 0 and self.num_timesteps == 0:
                self.imitate(p.teacher, p.teacher_steps, p.teacher_epochs)
            self._ep_ret = np.zeros(B)
            self._disc_ret = np.zeros(B)
            self._recent: List[float] = []
        venv = self._venv
        writer = _tb_writer(self.tensorboard_log)
        bar = _bar(iters * batch, progress_bar)
        start = time.perf_counter()
        wall0 = self.wall_s
        start_steps = self.num_timesteps
        target_steps = start_steps + iters * batch

        obs_buf = np.zeros((T, B, self.obs_dim), np.float32)
        joint_buf = torch.zeros((T, B, n), dtype=torch.long)
        w_buf = torch.zeros((T, B, n, 2))
        lpc_buf = torch.zeros((T, B, n))
        lps_buf = torch.zeros((T, B, n))
        val_buf = torch.zeros((T + 1, B, n))
        rew_buf = np.zeros((T, B, n), np.float32)
        done_buf = np.zeros((T, B), np.float32)
        task_buf = torch.zeros((T, B, n))
        share_buf = torch.zeros((T, B, n))

        for it in range(iters):
            t_iter = time.perf_counter()
            progress = (self.num_timesteps - start_steps) / max(target_steps - start_steps, 1)
            if time_limit_s:
                progress = max(progress, (time.perf_counter() - start) / time_limit_s)
            lr = self._lr(progress)
            credit = self._credit(progress)
            for g in self.optimizer.param_groups:
                g["lr"] = lr
            finished: List[float] = []
            # ---- rollout
            for t in range(T):
                raw = self._obs
                if p.norm_obs:
                    self.obs_rms.update(raw)
                x = self.normalize(raw)
                obs_buf[t] = x
                xt = torch.from_numpy(x)
                with torch.no_grad():
                    logits, a, b = self.policy(xt)
                    joint, w = self._sample(logits, a, b)
                    val_buf[t] = self.critic(xt)
                    task = torch.from_numpy((raw[:, 0 : 7 * n : 7] + raw[:, 1 : 7 * n : 7] > 0).astype(np.float32))
                    offl = task * (joint % (self.l + 1) != self.l).float()
                    lpc, lps, _, _ = self._logp_entropy(logits, a, b, joint, w)
                joint_buf[t], w_buf[t], task_buf[t], share_buf[t] = joint, w, task, offl
                lpc_buf[t], lps_buf[t] = lpc, lps
                obs, rew, term, trunc, info = venv.step(self._decode(joint, w))
                done = np.logical_or(term, trunc)
                util = info["utility"]
                if done.any():
                    util = np.where(done[:, None], info["final_info"]["utility"], util)
                # per-device shares of the reward: u_n / (devices with a task), summing to the reward
                util = np.nan_to_num(util, nan=0.0)
                k = np.maximum(task.numpy().sum(1), 1.0)
                r_dev = util / k[:, None]
                if p.backlog_shaping:
                    r_dev = r_dev + self._backlog_shaping(info, done)
                self._ep_ret += rew
                if p.norm_reward:
                    self._disc_ret = self._disc_ret * p.gamma + rew
                    self.ret_rms.update(self._disc_ret)
                    r_dev = r_dev / math.sqrt(self.ret_rms.var + 1e-8)
                if done.any():
                    idx = np.flatnonzero(done)
                    boot = idx[~term[idx]]
                    if boot.size:
                        final = np.stack([np.asarray(info["final_obs"][i], np.float32) for i in boot])
                        with torch.no_grad():
                            v_final = self.critic(torch.from_numpy(self.normalize(final))).numpy()
                        r_dev[boot] += p.gamma * v_final
                    finished.extend(self._ep_ret[idx].tolist())
                    self._ep_ret[idx] = 0.0
                    self._disc_ret[idx] = 0.0
                rew_buf[t] = r_dev
                done_buf[t] = done
                self._obs = obs
            with torch.no_grad():
                val_buf[T] = self.critic(torch.from_numpy(self.normalize(self._obs)))
            # ---- GAE per device (the team advantage is their sum: GAE is linear in rewards and values)
            rew_t = torch.from_numpy(rew_buf)
            nonterm = (1.0 - torch.from_numpy(done_buf)).unsqueeze(-1)
            adv = torch.zeros((T, B, n))
            last = torch.zeros(B, n)
            for t in reversed(range(T)):
                delta = rew_t[t] + p.gamma * val_buf[t + 1] * nonterm[t] - val_buf[t]
                last = delta + p.gamma * p.gae_lambda * nonterm[t] * last
                adv[t] = last
            ret = adv + val_buf[:T]
            # ---- update
            stats = self._update(
                torch.from_numpy(obs_buf.reshape(batch, -1)),
                joint_buf.reshape(batch, n),
                w_buf.reshape(batch, n, 2),
                lpc_buf.reshape(batch, n),
                lps_buf.reshape(batch, n),
                adv.reshape(batch, n),
                ret.reshape(batch, n),
                val_buf[:T].reshape(batch, n),
                task_buf.reshape(batch, n),
                share_buf.reshape(batch, n),
                credit,
            )
            self.num_timesteps += batch
            self.iterations += 1
            self._recent = (self._recent + finished)[-max(B, 100):]
            now = time.perf_counter()
            self.wall_s = wall0 + (now - start)
            row: Dict[str, Any] = {
                "timesteps": self.num_timesteps,
                "wall_s": round(self.wall_s, 3),
                "iteration": self.iterations,
                "episode_return": float(np.mean(self._recent)) if self._recent else float("nan"),
                "validation_return": float("nan"),
                "steps_per_s": batch / max(now - t_iter, 1e-9),
                "lr": lr,
                "device_credit": credit,
            }
            row.update(stats)
            if p.eval_every and (self.iterations % p.eval_every == 0 or it == iters - 1):
                row["validation_return"] = self.validate()
                if row["validation_return"] > self.best_validation:
                    self.best_validation = row["validation_return"]
                    self._best_state = self._snapshot()
                if self.verbose:
                    print(f"[hppo] {self.num_timesteps:>10d} steps {self.wall_s:7.1f}s train return {row['episode_return']:8.2f} "
                          f"validation {row['validation_return']:8.2f} (best {self.best_validation:.2f})", flush=True)
            self.curve.append(row)
            if writer is not None:
                for k_, v_ in row.items():
                    if k_ != "timesteps" and isinstance(v_, (int, float)) and not math.isnan(v_):
                        writer.add_scalar(f"hppo/{k_}", v_, self.num_timesteps)
            if bar is not None:
                bar.update(batch)
                ret = row["episode_return"]
                best = self.best_validation
                # Before the first training episode ends (100 steps per env) there is no return to show yet.
                bar.set_postfix_str(("return " + (f"{ret:.2f}" if math.isfinite(ret) else "(no episode finished yet)"))
                                    + (f", best validation {best:.2f}" if math.isfinite(best) else ""))
            if callback is not None and callback(row) is False:
                break
            if time_limit_s is not None and now - start >= time_limit_s:
                break
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        return self

    def _backlog_shaping(self, info: Dict[str, Any], done: np.ndarray) -> np.ndarray:
        """``gamma * Phi(s') - Phi(s)`` per device, with ``Phi_n = -beta q_n`` (``HPPOParams.backlog_shaping``).
        ``q_n`` is the queue the step started from and ``q_n'`` the one it leaves, both read from the step's
        info (the final info of an episode that ended)."""
        if done.any():
            info = {k: np.where(done[:, None], info["final_info"][k], info[k]) for k in ("backlog_s", "t_local", "t_tx")}
        slot = self.config["time"]["slot_s"]
        q = info["backlog_s"]
        busy = np.nan_to_num(info["t_local"], nan=0.0) + np.nan_to_num(info["t_tx"], nan=0.0)
        q_next = np.maximum(q + busy - slot, 0.0)
        return (self._beta * (q - self.params.gamma * q_next)).astype(np.float32)

    @property
    def _beta(self) -> float:
        """Shaping weight per second of queue: the expected latency weight of a task, shared by the devices."""
        t = self.config["tasks"]
        alpha = lambda c: (1.0 - c["weight"]) / c["deadline_s"]
        mean_alpha = t["as_ratio"] * alpha(t["accuracy_sensitive"]) + (1.0 - t["as_ratio"]) * alpha(t["latency_sensitive"])
        return self.params.backlog_shaping * mean_alpha / self.n

    def _update(self, obs, joint, w, old_lpc, old_lps, adv, ret, old_val, task, share, credit):
        p = self.params
        batch = obs.shape[0]
        mb = min(p.minibatch_size, batch)
        params = list(self.policy.parameters()) + list(self.critic.parameters())
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "share_entropy": 0.0, "approx_kl": 0.0, "clip_frac": 0.0}
        count = 0
        stop = False
        eps = p.clip_range
        team = adv.sum(-1)
        team = (team - team.mean()) / (team.std() + 1e-8)
        act_all = task.sum().clamp(min=1.0)
        mean_dev = (adv * task).sum() / act_all
        std_dev = (((adv - mean_dev) ** 2 * task).sum() / act_all).sqrt()
        dev = (adv - mean_dev) / (std_dev + 1e-8)
        adv_choice = (1.0 - credit) * team[:, None] + credit * dev
        adv_share = team[:, None].expand_as(adv)

        def clipped(logr, a, mask):
            ratio = logr.exp()
            surr = torch.min(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a)
            m = mask.sum().clamp(min=1.0)
            frac = (((ratio - 1).abs() > eps).float() * mask).sum() / m
            kl = (((ratio - 1) - logr) * mask).sum() / m
            return -(surr * mask).sum() / m, frac, kl

        for _ in range(p.n_epochs):
            perm = torch.randperm(batch, generator=self._gen)
            for s in range(0, batch, mb):
                idx = perm[s : s + mb]
                logits, a, b = self.policy(obs[idx])
                lpc, lps, ent_c, ent_w = self._logp_entropy(logits, a, b, joint[idx], w[idx])
                tm, sm = task[idx], share[idx]
                loss_c, frac_c, kl_c = clipped(lpc - old_lpc[idx], adv_choice[idx], tm)
                loss_s, frac_s, kl_s = clipped(lps - old_lps[idx], adv_share[idx], sm)
                pg_loss = loss_c + loss_s
                v = self.critic(obs[idx])
                v_loss = 0.5 * (v - ret[idx]).pow(2).sum(-1).mean()
                ent_choice = (ent_c * tm).sum(-1).mean()
                ent_share = (ent_w * sm).sum(-1).mean()
                loss = pg_loss + p.vf_coef * v_loss - p.ent_coef * ent_choice - p.ent_coef_share * ent_share
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, p.max_grad_norm)
                self.optimizer.step()
                kl = kl_c.item() + kl_s.item()
                sums["policy_loss"] += pg_loss.item()
                sums["value_loss"] += v_loss.item()
                sums["entropy"] += ent_choice.item()
                sums["share_entropy"] += ent_share.item()
                sums["approx_kl"] += kl
                sums["clip_frac"] += 0.5 * (frac_c.item() + frac_s.item())
                count += 1
                if p.target_kl is not None and kl > 1.5 * p.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: v / max(count, 1) for k, v in sums.items()}
        y, yhat = ret.sum(-1), old_val.sum(-1)
        out["explained_variance"] = float(1 - (y - yhat).var() / (y.var() + 1e-12))
        return out

    # -- warm start ------------------------------------------------------------------------------------

    def imitate(self, teacher: str, steps: int, epochs: int) -> Dict[str, float]:
        """Behaviour cloning of the built-in policy ``teacher`` on ``steps`` environment steps of its own
        episodes (training seeds): the (version, cut) head learns the teacher's choices (cross-entropy), the
        share head its weights (Beta likelihood), and the critic the per-device discounted returns the
        teacher earned. Counts as training time but not as training steps. Returns the final losses."""
        from ..policies import RustPolicy

        p, n, L = self.params, self.n, self.l
        b = min(p.num_envs, max(1, steps // self.config["time"]["episode_slots"]))
        slots = max(1, steps // b)
        venv = MciaVectorEnv(b, self.config, num_threads=p.env_threads, info=True, copy=False)
        policy = RustPolicy(teacher, self.config)
        obs, _ = venv.reset(seed=TRAINING_SEED + 10_000 * self.seed + 5_000)
        xs, joints, ws, tasks, offl, rews = [], [], [], [], [], []
        for _ in range(slots):
            a = policy(venv)
            xs.append(obs.copy())
            joints.append(a["version"] * (L + 1) + a["partition"])
            # The env normalises weights over the offloading devices, so only ratios matter: scale each row's
            # weights to a maximum of 0.9 as Beta targets.
            bw, cw = a["bandwidth"].copy(), a["compute"].copy()
            for w in (bw, cw):
                w /= np.maximum(w.max(axis=1, keepdims=True), 1e-12) / 0.9
            ws.append(np.stack([bw, cw], -1).clip(_BETA_EPS * 10, 1 - _BETA_EPS * 10))
            task = (obs[:, 0 : 7 * n : 7] + obs[:, 1 : 7 * n : 7]) > 0
            tasks.append(task)
            offl.append(task & (a["partition"] < L))
            obs, rew, term, trunc, info = venv.step(a)
            util = np.nan_to_num(info["utility"], nan=0.0)
            r = util / np.maximum(task.sum(1), 1)[:, None]
            if p.backlog_shaping:
                r = r + self._backlog_shaping(info, np.zeros(b, bool))
            rews.append(r)
        x = np.concatenate(xs)
        if p.norm_obs:
            self.obs_rms.update(x)
        # Per-device discounted returns of the teacher's episodes (the segment ends at its last slot).
        ret = np.zeros((slots, b, n))
        acc = np.zeros((b, n))
        for t in reversed(range(slots)):
            acc = rews[t] + p.gamma * acc
            ret[t] = acc
        if p.norm_reward:
            self.ret_rms.update(ret.sum(-1).ravel())
            ret = ret / math.sqrt(self.ret_rms.var + 1e-8)
        X = torch.from_numpy(self.normalize(x))
        J = torch.from_numpy(np.concatenate(joints)).long()
        W = torch.from_numpy(np.concatenate(ws)).float()
        T = torch.from_numpy(np.concatenate(tasks)).float()
        O = torch.from_numpy(np.concatenate(offl)).float()
        R = torch.from_numpy(ret.reshape(-1, n)).float()
        opt = torch.optim.Adam(list(self.policy.parameters()) + list(self.critic.parameters()), lr=p.learning_rate)
        m = X.shape[0]
        mb = min(p.minibatch_size, m)
        losses: Dict[str, float] = {}
        for _ in range(epochs):
            perm = torch.randperm(m, generator=self._gen)
            for s0 in range(0, m, mb):
                idx = perm[s0 : s0 + mb]
                logits, a_, b_ = self.policy(X[idx])
                logsm = torch.log_softmax(logits, -1)
                ce = -(logsm.gather(-1, J[idx].unsqueeze(-1)).squeeze(-1) * T[idx]).sum() / T[idx].sum().clamp(min=1.0)
                lp_w, _ = _beta_logp_entropy(a_, b_, W[idx])
                share = -(lp_w.sum(-1) * O[idx]).sum() / O[idx].sum().clamp(min=1.0)
                v_loss = 0.5 * (self.critic(X[idx]) - R[idx]).pow(2).sum(-1).mean()
                loss = ce + 0.1 * share + p.vf_coef * v_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(list(self.policy.parameters()) + list(self.critic.parameters()), p.max_grad_norm)
                opt.step()
                losses = {"imitation_ce": ce.item(), "imitation_share_nll": share.item(), "imitation_value_loss": v_loss.item()}
        if self.verbose:
            print(f"[hppo] imitated {teacher} on {m} decisions: " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()), flush=True)
        return losses

    # -- validation ------------------------------------------------------------------------------------

    def validate(self, episodes: Optional[int] = None, seed: int = VALIDATION_SEED) -> float:
        """Mean return of the deterministic policy over ``episodes`` full episodes on seeds ``seed + i``
        (by default seeds disjoint from the evaluation seeds 0..19)."""
        k = episodes or self.params.eval_episodes
        venv = MciaVectorEnv(k, self.config, num_threads=1, info=False, copy=True)
        obs, _ = venv.reset(seed=seed)
        total = np.zeros(k)
        for _ in range(self.config["time"]["episode_slots"]):
            obs, r, *_ = venv.step(self.act(obs, deterministic=True))
            total += r
        return float(total.mean())

    # -- checkpoints -----------------------------------------------------------------------------------

    def _snapshot(self) -> Dict[str, Any]:
        return {
            "policy": copy.deepcopy(self.policy.state_dict()),
            "critic": copy.deepcopy(self.critic.state_dict()),
            "obs_rms": self.obs_rms.state_dict(),
            "ret_rms": self.ret_rms.state_dict(),
            "num_timesteps": self.num_timesteps,
        }

    def use_best(self) -> bool:
        """Loads the weights (and observation statistics) that had the best validation return; False if
        there was no validation."""
        if self._best_state is None:
            return False
        self._restore(self._best_state)
        return True

    def _restore(self, s: Dict[str, Any]) -> None:
        self.policy.load_state_dict(s["policy"])
        self.critic.load_state_dict(s["critic"])
        self.obs_rms.load_state_dict(s["obs_rms"])
        self.ret_rms.load_state_dict(s["ret_rms"])

    def save(self, path: str, best: Optional[bool] = None) -> str:
        """Writes a checkpoint directory: ``hppo.pt`` (weights, observation and return statistics,
        optimiser), ``hparams.json``, ``config.json`` (the scenario), ``agent.json`` and, after training,
        ``learning_curve.csv``. With ``best`` (default: the ``keep_best`` hyper-parameter) the weights
        with the best validation return are written. Returns ``path``."""
        os.makedirs(path, exist_ok=True)
        use_best = self.params.keep_best if best is None else best
        state = self._best_state if (use_best and self._best_state is not None) else self._snapshot()
        torch.save(
            {
                "format": 1,
                "policy": state["policy"],
                "critic": state["critic"],
                "obs_rms": state["obs_rms"],
                "ret_rms": state["ret_rms"],
                "weights_at_timesteps": state["num_timesteps"],
                "optimizer": self.optimizer.state_dict(),
                "num_timesteps": self.num_timesteps,
                "iterations": self.iterations,
                "wall_s": self.wall_s,
                "best_validation": self.best_validation,
                "seed": self.seed,
            },
            os.path.join(path, CHECKPOINT_FILE),
        )
        with open(os.path.join(path, HPARAMS_FILE), "w", encoding="utf-8") as f:
            json.dump(dataclasses.asdict(self.params), f, indent=1)
        self.config.save(os.path.join(path, CONFIG_FILE))
        with open(os.path.join(path, AGENT_FILE), "w", encoding="utf-8") as f:
            json.dump({"algo": "hppo", "class": "mcia.agents.HybridPPO", "timesteps": self.num_timesteps,
                       "weights_at_timesteps": state["num_timesteps"], "wall_s": round(self.wall_s, 2),
                       "best_validation_return": self.best_validation if self.best_validation > -math.inf else None,
                       "seed": self.seed}, f, indent=1)
        if self.curve:
            write_curve(os.path.join(path, CURVE_FILE), self.curve)
        return path

    @classmethod
    def load(cls, path: str, **overrides: Any) -> "HybridPPO":
        """Loads a checkpoint directory written by :meth:`save` (``overrides`` replace hyper-parameters,
        e.g. ``num_envs`` to continue training with another batch)."""
        with open(os.path.join(path, HPARAMS_FILE), encoding="utf-8") as f:
            params = json.load(f)
        params.update(overrides)
        known = {f.name for f in dataclasses.fields(HPPOParams)}
        state = torch.load(os.path.join(path, CHECKPOINT_FILE), map_location="cpu", weights_only=False)
        agent = cls(Config(os.path.join(path, CONFIG_FILE)), seed=int(state.get("seed", 0)), **{k: v for k, v in params.items() if k in known})
        agent._restore(state)
        try:
            agent.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError):
            pass
        agent.num_timesteps = int(state.get("num_timesteps", 0))
        agent.iterations = int(state.get("iterations", 0))
        agent.wall_s = float(state.get("wall_s", 0.0))
        agent.best_validation = float(state.get("best_validation", -math.inf))
        return agent


# -- helpers ---------------------------------------------------------------------------------------------


class _threads:
    """Context manager: torch uses ``n`` intra-op threads inside, the previous count after."""

    def __init__(self, n: Optional[int]) -> None:
        self.n = n

    def __enter__(self):
        self.prev = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.prev)
        return False


def _tb_writer(log_dir: Optional[str]):
    if not log_dir:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(log_dir)


def _bar(total: int, on: bool):
    if not on:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="hppo", unit="step", unit_scale=True, dynamic_ncols=True)


def write_curve(path: str, rows: List[Dict[str, Any]]) -> None:
    """Writes learning-curve rows (dicts with the same keys) as CSV."""
    keys: List[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


__all__ = ["HPPOParams", "HybridPPO", "RunningMeanStd", "write_curve"]
