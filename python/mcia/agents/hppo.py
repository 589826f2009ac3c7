"""Hybrid-action PPO for MCIA: :class:`HybridPPO`.

The MCIA action is hybrid: per device a discrete model version and cut point, and two continuous weights
(uplink bandwidth and edge compute). :class:`HybridPPO` is a PPO agent built for that structure and trained
directly on the native :class:`mcia.MciaVectorEnv`:

- **Per-device factorised policy with shared weights.** Two architectures (``arch``):

  - ``"mlp"`` (default): each device's slice of the observation (7 features), a one-hot device identity
    and the shared entries (edge load, edge backlog, time) go through a small MLP shared by all devices;
    the mean of the device embeddings is a context vector mixed into each device's embedding, so a
    device's decision sees the others' load on the shared uplink and edge. Tied to the N it was built for.
  - ``"set"``: the permutation-equivariant actor-critic of :mod:`mcia.agents.set_policy` (no device ids,
    mean and max pooling, per-device heads, a pooled critic). One set of weights decides for any N; with
    ``num_devices="4-20"`` it trains on a vector env per N in the range (the default device mix), so the
    N of the training episodes is spread evenly over the range. ``set_critic="pooled"`` swaps in a cheaper
    critic (measured worse on the default scenario; see the README).

  Either way the same network decides for every device in one batched forward pass.
- **Joint (version, cut) head.** One categorical over the ``M * (L + 1)`` pairs per device, so the best cut
  can depend on the chosen version.
- **Beta share weights.** Bandwidth and compute weights per device are Beta distributed on ``(0, 1)``; the
  deterministic action is the Beta mean.
- **Masked log-probabilities.** Parts of the action that cannot change anything are left out of the policy
  gradient and of the entropy: every decision of a device without a task, and the share weights of a device
  that runs its model fully locally (``p = L``).
- **Device credit.** The reward is the mean utility over the devices with a task, so it splits exactly
  into per-device parts ``u_n / k``. The critic predicts one value per device (their sum is the state
  value) and GAE runs per device. With ``device_credit > 0`` (default 0, the team advantage throughout,
  which suits the warm start from the optimizer) a device's (version, cut) is first trained on its own advantage, which
  is free of the other devices' exploration noise and learns several times faster; the weight moves
  linearly to the team advantage (the sum over devices, which also counts what an offloading device costs
  the others) by ``credit_decay_frac`` of training. The share weights, whose whole effect is on the
  others, always use the team advantage.
- **PPO.** GAE, a clipped surrogate per device and part (each device's (version, cut) ratio and share
  ratio are clipped separately, as in multi-agent PPO with shared parameters), entropy bonuses, a separate
  critic, Adam with a linearly decaying learning rate, observation normalisation (running mean / std,
  saved in the checkpoint) and reward scaling by the running standard deviation of the discounted return.
- **Correct truncation.** The vector env runs with ``autoreset_mode="same_step"``; at a truncation the
  critic's values of ``info["final_obs"]`` are bootstrapped into the last reward of the episode (and the
  per-device utilities of that step are read from ``info["final_info"]``).
- **Warm start by imitation.** Before PPO the agent imitates a built-in ``teacher`` (default: the slot-wise
  optimizer, which reads the true state): (version, cut) cross-entropy, share-weight Beta likelihood and the
  critic on the returns earned, then DAgger rounds (Ross et al. 2011) in which the agent's own sampled
  policy drives the episodes and the teacher labels the states it reaches. The result is validated as the
  first row of the curve, so PPO only replaces it with weights that validate better.
- **Validation.** Every ``eval_every`` iterations the deterministic policy plays ``eval_episodes`` episodes
  on seeds from 1,000,000 on (disjoint from the evaluation seeds 0..19); with ``keep_best`` the checkpoint
  holds the weights with the best validation return, as SB3's ``EvalCallback`` does, except that at the end
  of :meth:`learn` the ``final_candidates`` best validated snapshots play ``final_episodes`` fresh episodes
  (seeds from 1,500,000 on) and the best of those is kept: the best of some 500 noisy validations is
  partly luck (:attr:`final_selection` records the scores).

Throughput: rollouts run under ``torch.inference_mode`` on the env's own output arrays (``copy=False``,
viewed with ``torch.from_numpy``), into preallocated tensors; the (version, cut) draw is one uniform per
device (inverse CDF); the Beta log-densities use a shifted Stirling series instead of ``torch.lgamma``;
the first layer and the context mixing of the ``mlp`` network are computed per observation where they do
not depend on the device. The update reuses every sample ``n_epochs`` times in minibatches of
``minibatch_size`` observations.

>>> from mcia.agents import HybridPPO
>>> agent = HybridPPO(seed=0)
>>> agent.learn(8_000_000)             # about 10 minutes on 2 cores, the warm start included
>>> agent.save("runs/hppo")
>>> mcia.evaluate("runs/hppo")           # or HybridPPO.load("runs/hppo").act(obs)
>>> anyn = HybridPPO(seed=0, arch="set", num_devices="4-20")   # one policy for any N
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import heapq
import json
import math
import numbers
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config, ConfigLike, as_config
from ..spaces import OBS_DEVICE_FIELDS
from ..vector import MciaVectorEnv
from .option_prior import OptionPrior, add_prior_layers, prior_input, prior_size, with_prior
from .set_policy import PooledCriticNet, SetCriticNet, SetPolicyNet, infer_n, parse_num_devices, size_envs, size_weights, validation_sizes

CHECKPOINT_FILE = "hppo.pt"
HPARAMS_FILE = "hparams.json"
CONFIG_FILE = "config.json"
AGENT_FILE = "agent.json"
CURVE_FILE = "learning_curve.csv"

#: Seeds of the validation episodes used during training (disjoint from the evaluation seeds 0..19).
VALIDATION_SEED = 1_000_000
#: Seeds of the final re-validation of the best validated snapshots (``HPPOParams.final_candidates``), disjoint
#: from the evaluation, validation and training seeds.
REVALIDATION_SEED = 1_500_000
#: First seed of the training environments (environment i of a run with agent seed s: TRAINING_SEED +
#: 10_000 s + i), disjoint from the evaluation and the validation seeds.
TRAINING_SEED = 2_000_000

_DEV = len(OBS_DEVICE_FIELDS)


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
    # Two epochs of 4096-observation minibatches train as well as four of 2048 on the default scenario, in
    # 42% of the wall time (paired evaluations in the README); the update is most of an iteration's time.
    n_epochs: int = 2
    minibatch_size: int = 4096
    clip_range: float = 0.2
    # Weight of the device's own advantage for its (version, cut) at the start. After a warm start from the
    # optimizer, own credit pulls devices back towards greedy's selfish choices (validation fell from 11.2
    # to 9.1 in the first PPO iterations), so the default is the team advantage throughout; 1.0 learns
    # faster from scratch or from greedy.
    device_credit: float = 0.0
    device_credit_final: float = 0.0  # ... and at credit_decay_frac of training (the team advantage has the rest)
    credit_decay_frac: float = 0.5
    # Potential-based shaping of each device's reward by its queue, Phi_n = -backlog_shaping * E[alpha] / N *
    # q_n (alpha = (1 - w) / tau): a queue that grows is felt at once, not only when later tasks wait for it.
    # It leaves the optimal policy unchanged (Ng et al. 1999); 0 turns it off.
    backlog_shaping: float = 1.0
    # Warm start: imitate a built-in policy (its (version, cut) and share weights, and the critic its
    # returns) on this many environment steps per round before PPO; "" or 0 steps to start from scratch.
    # The teacher's episodes run on training seeds. The slot-wise optimizer as teacher, with two DAgger
    # rounds after the cloning, lifts the final agent from adaptivity 0.72 (greedy teacher) to about 0.97.
    # "optimizer+relief" (mcia.queue_relief: +0.18 +- 0.26 return above the optimizer on the evaluation seeds,
    # +0.39 +- 0.41 on validation) imitates better (11.73 against 11.50 on validation) but scored 0.963, inside
    # the optimizer teacher's spread.
    teacher: str = "optimizer"
    teacher_steps: int = 25_600
    teacher_epochs: int = 30
    teacher_rounds: int = 3  # 1: plain behaviour cloning; more: DAgger rounds on the agent's own states
    # Epochs of each DAgger round's refit on everything gathered so far; None: teacher_epochs. The refits are
    # most of the warm start's time (each round refits on all rounds' decisions): at 30 epochs the any-N
    # agent's 3 rounds took 24 + 65 + 111 s of fitting beside 65 s of the teacher's search.
    teacher_refit_epochs: Optional[int] = None
    # Adam's learning rate of the imitation; None: learning_rate. Separate so that a lower PPO rate does not
    # leave the imitation unfinished (learning_rate=3e-4 with 10 imitation epochs left the any-N agent at -21).
    teacher_lr: Optional[float] = None
    ent_coef: float = 0.002  # entropy bonus of the (version, cut) categorical
    ent_coef_share: float = 0.0005  # entropy bonus of the Beta share weights
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: Optional[float] = None
    hidden: int = 64
    critic_hidden: int = 128
    activation: str = "relu"
    device_onehot: bool = True
    # "mlp": the per-N network above; "set": permutation-equivariant, any N (mcia.agents.set_policy)
    arch: str = "mlp"
    # arch "set": the device counts to train on ("4-20", "4,10,20", an int; None: the scenario's N), a vector
    # env per N with the scenario's other settings and the default device mix (mcia.sweep.mix_classes)
    num_devices: Union[None, int, str, List[int]] = None
    # arch "set" with several sizes: the share of the training envs (and of the warm start's teacher steps) at
    # the scenario's own N, the rest split evenly over the other sizes; 0: an even split over all sizes.
    # Validation weighs its sizes the same way (HybridPPO.validation_weights). 0.7 scored 0.934-0.939 at N = 10 in
    # three runs, 0.5 with an even validation mean 0.887-0.925 in four (README, "One policy for any N").
    focus_share: float = 0.0
    set_pool: str = "meanmax"  # arch "set": "meanmax" or "mean" (deep sets) or "attention"
    set_rounds: int = 1  # arch "set": rounds of pooling and mixing
    # arch "set": the critic, "equivariant" (deep per-device layers, as the actor) or "pooled" (one
    # per-device layer, then an MLP over the pooled devices: 2.5x cheaper at N = 10)
    set_critic: str = "equivariant"
    # The actor also sees, per device and (version, cut), the utility that choice would earn with equal shares
    # and the share it needs to meet its deadline, computed from the observation (mcia.agents.option_prior), as
    # extra inputs; the utility also enters the logits with a learned weight. The edge tier with the Shannon
    # uplink only. Off by default: it scored 0.939 against the default's 0.954-0.975 (README).
    option_prior: bool = False
    # The agent learns (version, cut) only and every action's share weights come from the optimizer's share
    # step for those decisions in the env's state (mcia.agents.SolverShares), in training, validation and
    # wherever the checkpoint is evaluated; the share heads stay as the imitation left them and are unused.
    share_solver: bool = False
    norm_obs: bool = True
    norm_reward: bool = True
    obs_clip: float = 10.0
    eval_every: int = 2  # iterations between validation evaluations (0: never)
    eval_episodes: int = 64
    keep_best: bool = True  # the saved weights are those with the best validation return
    # With keep_best, the final_candidates best validated snapshots are validated again at the end of learn on
    # final_episodes fresh episodes (REVALIDATION_SEED) and the best of those is kept: the single best of ~500
    # noisy 64-episode validations is biased towards lucky snapshots (winner's curse). 1: the best validation.
    final_candidates: int = 8
    final_episodes: int = 256
    torch_threads: int = 2  # the update's matrix products use both cores of the reference machine (+9% at N = 5)
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

    # observation statistics of the "mlp" network: one entry per observation index
    def update_obs(self, obs: np.ndarray, n: int) -> None:
        self.update(obs)

    def mean_var(self, n: int):
        return self.mean, self.var

    def state_dict(self) -> Dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": float(self.count)}

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        self.mean = np.asarray(d["mean"], np.float64)
        self.var = np.asarray(d["var"], np.float64)
        self.count = float(d["count"])


class FeatureMeanStd:
    """Observation statistics of the ``set`` network: per device feature (pooled over devices and N) and
    per shared entry, so they apply to any N."""

    def __init__(self, tail: int) -> None:
        self.dev = RunningMeanStd((_DEV,))
        self.tail = RunningMeanStd((tail,))

    def update_obs(self, obs: np.ndarray, n: int) -> None:
        self.dev.update(obs[:, : _DEV * n].reshape(-1, _DEV))
        self.tail.update(obs[:, _DEV * n :])

    def mean_var(self, n: int):
        return (np.concatenate([np.tile(self.dev.mean, n), self.tail.mean]), np.concatenate([np.tile(self.dev.var, n), self.tail.var]))

    @property
    def mean(self) -> np.ndarray:
        return np.concatenate([self.dev.mean, self.tail.mean])

    def state_dict(self) -> Dict[str, Any]:
        return {"dev": self.dev.state_dict(), "tail": self.tail.state_dict()}

    def load_state_dict(self, d: Dict[str, Any]) -> None:
        self.dev.load_state_dict(d["dev"])
        self.tail.load_state_dict(d["tail"])


def _act_fn(name: str) -> Callable[[], nn.Module]:
    return {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}[name]


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class PolicyNet(nn.Module):
    """Per-device actor with weights shared across devices and a mean-pooled context (``arch="mlp"``)."""

    def __init__(self, n: int, m: int, l: int, hidden: int, activation: str, device_onehot: bool, tail: int = 3, prior: bool = False) -> None:
        super().__init__()
        self.n, self.m, self.l, self.tail = n, m, l, tail
        self.device_onehot = device_onehot
        self.hidden = hidden
        act = _act_fn(activation)
        self._act = {"tanh": torch.tanh, "relu": torch.relu, "silu": F.silu}[activation]
        g = math.sqrt(2)
        in_dim = _DEV + tail + (n if device_onehot else 0)
        self.encoder = nn.Sequential(_init(nn.Linear(in_dim, hidden), g), act(), _init(nn.Linear(hidden, hidden), g), act())
        self.mixer = nn.Sequential(_init(nn.Linear(2 * hidden, hidden), g), act())
        self.choice = _init(nn.Linear(hidden, m * (l + 1)), 0.01)
        self.share = _init(nn.Linear(hidden, 4), 0.01)
        add_prior_layers(self, prior, prior_size(m, l), hidden)

    def forward(self, obs: torch.Tensor, n: Optional[int] = None, prior: Optional[torch.Tensor] = None):
        """``obs`` (B, 7N + G), normalised. Returns choice logits (B, N, M(L+1)) and Beta parameters
        (B, N, 2) alpha and beta for bandwidth (index 0) and compute (index 1). ``prior`` (B, N, 2 M(L+1)):
        the option prior (``mcia.agents.option_prior``) of a network built with ``prior=True``.

        The function is that of an MLP on ``[device features, shared entries, one-hot id]`` followed by a
        layer on ``[embedding, mean embedding]``; the parts that are the same for every device of an
        observation (the shared entries, the mean embedding) are multiplied once per observation."""
        b, n = obs.shape[0], self.n
        w1, b1 = self.encoder[0].weight, self.encoder[0].bias
        dev = obs[:, : _DEV * n].reshape(b, n, _DEV)
        shared = F.linear(obs[:, _DEV * n :], w1[:, _DEV : _DEV + self.tail], b1)  # (B, H)
        h = F.linear(dev, w1[:, :_DEV]) + shared.unsqueeze(1)
        if self.device_onehot:
            h = h + w1[:, _DEV + self.tail :].t()  # the one-hot id selects a column: a per-device bias
        h = h + prior_input(self, prior)
        h = self._act(self.encoder[2](self._act(h)))
        wm, bm = self.mixer[0].weight, self.mixer[0].bias
        ctx = F.linear(h.mean(dim=1), wm[:, self.hidden :], bm)
        z = self._act(F.linear(h, wm[:, : self.hidden]) + ctx.unsqueeze(1))
        logits = with_prior(self, self.choice(z), prior)
        ab = F.softplus(self.share(z)) + 1.0
        return logits, ab[..., :2], ab[..., 2:]


class CriticNet(nn.Module):
    """Value MLP over the whole normalised observation: one value per device (the discounted sum of the
    device's part of the reward); the state value is their sum (``arch="mlp"``)."""

    def __init__(self, obs_dim: int, n: int, hidden: int, activation: str) -> None:
        super().__init__()
        act = _act_fn(activation)
        g = math.sqrt(2)
        self.net = nn.Sequential(_init(nn.Linear(obs_dim, hidden), g), act(), _init(nn.Linear(hidden, hidden), g), act(), _init(nn.Linear(hidden, n), 1.0))

    def forward(self, obs: torch.Tensor, n: Optional[int] = None) -> torch.Tensor:
        return self.net(obs)


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _lgamma1(x: torch.Tensor) -> torch.Tensor:
    """``lgamma(x)`` for ``x >= 1``: the Stirling series at ``x + 6`` (error below 1e-9) shifted back by
    the recurrence. Elementwise arithmetic (vectorised, differentiable), several times faster on CPU than
    ``torch.lgamma``, whose backward also needs ``digamma``."""
    z = x + 6.0
    zi = 1.0 / z
    zi2 = zi * zi
    series = zi * (1.0 / 12 - zi2 * (1.0 / 360 - zi2 * (1.0 / 1260 - zi2 / 1680)))
    shift = torch.log(x * (x + 1.0)) + torch.log((x + 2.0) * (x + 3.0)) + torch.log((x + 4.0) * (x + 5.0))
    return (z - 0.5) * torch.log(z) - z + _HALF_LOG_2PI + series - shift


def _digamma1(x: torch.Tensor) -> torch.Tensor:
    """``digamma(x)`` for ``x >= 1``, the same way (asymptotic series at ``x + 6``)."""
    z = x + 6.0
    zi = 1.0 / z
    zi2 = zi * zi
    series = torch.log(z) - 0.5 * zi - zi2 * (1.0 / 12 - zi2 * (1.0 / 120 - zi2 * (1.0 / 252 - zi2 / 240)))
    return series - (1.0 / x + 1.0 / (x + 1.0) + 1.0 / (x + 2.0) + 1.0 / (x + 3.0) + 1.0 / (x + 4.0) + 1.0 / (x + 5.0))


def _beta_logp_entropy(alpha: torch.Tensor, beta: torch.Tensor, x: torch.Tensor, entropy: bool = True):
    """Log-density and entropy of Beta(alpha, beta) at x, elementwise (alpha, beta >= 1)."""
    g = _lgamma1(torch.stack([alpha, beta, alpha + beta]))
    lbeta = g[0] + g[1] - g[2]
    logp = (alpha - 1) * torch.log(x) + (beta - 1) * torch.log1p(-x) - lbeta
    if not entropy:
        return logp, None
    d = _digamma1(torch.stack([alpha, beta, alpha + beta]))
    ent = lbeta - (alpha - 1) * d[0] - (beta - 1) * d[1] + (alpha + beta - 2) * d[2]
    return logp, ent


_BETA_EPS = 1e-5


class _Group:
    """The environments of one N during training: the vector env, its current observation, running episode
    returns and the rollout buffers."""

    def __init__(self, n: int, config: Config, num_envs: int, first_seed: int) -> None:
        self.n, self.config, self.num_envs, self.first_seed = n, config, num_envs, first_seed
        self.venv: Optional[MciaVectorEnv] = None
        self.obs: Optional[np.ndarray] = None
        self.ep_ret = np.zeros(num_envs)
        self.disc_ret = np.zeros(num_envs)
        self.bufs: Dict[str, torch.Tensor] = {}


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
        if p.teacher:
            from ..queue_relief import QueueRelief, SlotObjective, teacher_names

            if p.teacher not in teacher_names():
                raise ValueError(f"HybridPPO: teacher must be one of {list(teacher_names())} or '', got {p.teacher!r}")
            if p.teacher == QueueRelief.name:
                try:
                    SlotObjective(config)   # what the relief models; raises for what it cannot
                except ValueError as e:
                    raise ValueError(f"HybridPPO: teacher {p.teacher!r}: {e}") from None
        refit = p.teacher_refit_epochs
        if refit is not None and (isinstance(refit, (bool, np.bool_)) or not isinstance(refit, numbers.Integral) or refit < 1):
            raise ValueError(f"HybridPPO: teacher_refit_epochs must be a whole number of epochs >= 1 or None, got {refit!r}")
        if int(p.teacher_rounds) < 1:
            raise ValueError(f"HybridPPO: teacher_rounds must be at least 1, got {p.teacher_rounds!r}")
        if p.teacher_lr is not None and (isinstance(p.teacher_lr, bool) or not isinstance(p.teacher_lr, (int, float))
                                         or not 0 < p.teacher_lr < math.inf):
            raise ValueError(f"HybridPPO: teacher_lr must be a positive number or None, got {p.teacher_lr!r}")
        for name in ("final_candidates", "final_episodes", "eval_episodes"):
            v = getattr(p, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"HybridPPO: {name} must be a positive integer, got {v!r}")
        if p.arch not in ("mlp", "set"):
            raise ValueError(f"HybridPPO: arch must be 'mlp' or 'set', got {p.arch!r}")
        if isinstance(p.focus_share, (bool, np.bool_)) or not isinstance(p.focus_share, numbers.Real) or not 0 <= p.focus_share < 1:
            raise ValueError(f"HybridPPO: focus_share must be a number in [0, 1), got {p.focus_share!r}")
        p.focus_share = float(p.focus_share)  # a NumPy scalar would not go into hparams.json
        if not isinstance(p.option_prior, (bool, np.bool_)):
            raise ValueError(f"HybridPPO: option_prior must be True or False, got {p.option_prior!r}")
        p.option_prior = bool(p.option_prior)
        if not isinstance(p.share_solver, (bool, np.bool_)):
            raise ValueError(f"HybridPPO: share_solver must be True or False, got {p.share_solver!r}")
        p.share_solver = bool(p.share_solver)
        if p.set_critic not in ("equivariant", "pooled"):
            raise ValueError(f"HybridPPO: set_critic must be 'equivariant' or 'pooled', got {p.set_critic!r}")
        self.config: Config = as_config(config)
        self._prior: Optional[OptionPrior] = OptionPrior(self.config) if p.option_prior else None
        self.seed = int(seed)
        self.tensorboard_log = tensorboard_log
        self.verbose = verbose
        self.n = self.config.num_devices
        self.m = self.config.num_versions
        probe = MciaVectorEnv(1, self.config, num_threads=1, info=False)
        self.l = probe.num_units
        self.obs_dim = int(probe.single_observation_space.shape[0])
        self.tail = self.obs_dim - _DEV * self.n  # shared entries after the devices' (edge load, backlog, time, ...)
        self.sizes = parse_num_devices(p.num_devices, self.n)
        if p.arch == "mlp" and self.sizes != [self.n]:
            raise ValueError(f"HybridPPO: arch 'mlp' is tied to the scenario's N = {self.n}; train on several N "
                             f"({p.num_devices!r}) with arch='set'")
        if p.focus_share > 0 and (len(self.sizes) == 1 or self.n not in self.sizes):
            # otherwise it would silently train on an even split (or on one size)
            raise ValueError(f"HybridPPO: focus_share puts training environments at the scenario's N = {self.n}, which "
                             f"needs several sizes including it; num_devices gives {self.sizes}")
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, caller's random state untouched
            torch.manual_seed(self.seed)
            if p.arch == "mlp":
                self.policy: nn.Module = PolicyNet(self.n, self.m, self.l, p.hidden, p.activation, p.device_onehot, self.tail, p.option_prior)
                self.critic: nn.Module = CriticNet(self.obs_dim, self.n, p.critic_hidden, p.activation)
            else:
                self.policy = SetPolicyNet(self.m, self.l, self.tail, p.hidden, p.activation, p.set_rounds, p.set_pool, p.option_prior)
                if p.set_critic == "pooled":
                    self.critic = PooledCriticNet(self.tail, p.critic_hidden, p.activation)
                else:
                    self.critic = SetCriticNet(self.tail, p.critic_hidden, p.activation, p.set_rounds, p.set_pool)
        self.optimizer = torch.optim.Adam(list(self.policy.parameters()) + list(self.critic.parameters()), lr=p.learning_rate, eps=1e-5)
        self.obs_rms: Union[RunningMeanStd, FeatureMeanStd] = RunningMeanStd((self.obs_dim,)) if p.arch == "mlp" else FeatureMeanStd(self.tail)
        self.ret_rms = RunningMeanStd(())
        self._norm_cache: Dict[int, tuple] = {}
        self.num_timesteps = 0
        self.iterations = 0
        self.wall_s = 0.0
        self.curve: List[Dict[str, Any]] = []
        self.best_validation = -math.inf
        self._best_state: Optional[Dict[str, Any]] = None
        # (validation return, order, snapshot) of the best validated weights, for the final re-validation
        self._candidates: List[Tuple[float, int, Dict[str, Any]]] = []
        #: The last final re-validation: its seeds, every candidate's scores, and the one kept (None before).
        self.final_selection: Optional[Dict[str, Any]] = None
        self._ranked: List[Dict[str, Any]] = []  # the candidates' snapshots, in final_selection's order
        self._groups: Optional[List[_Group]] = None
        self._recent: List[float] = []
        self._gen = torch.Generator().manual_seed(self.seed)
        self._solvers: Dict[Tuple[int, bool], Any] = {}  # share_solver: the share step per (N, cloud tier)

    # -- inference -------------------------------------------------------------------------------------

    def _n_of(self, dim: int) -> int:
        if self.params.arch == "mlp":
            if dim != self.obs_dim:
                raise ValueError(f"HybridPPO (arch 'mlp') was built for N = {self.n} devices (observations of length {self.obs_dim}), "
                                 f"got length {dim}; an agent for any N is trained with arch='set'")
            return self.n
        n, rest = infer_n(dim, self.tail)
        if rest or n < 1:
            raise ValueError(f"HybridPPO: an observation of length {dim} is not 7 N + {self.tail}")
        return n

    def _norm_stats(self, n: int):
        st = self._norm_cache.get(n)
        if st is None:
            mean, var = self.obs_rms.mean_var(n)
            st = (torch.from_numpy(mean.astype(np.float32)), torch.from_numpy((1.0 / np.sqrt(var + 1e-8)).astype(np.float32)))
            self._norm_cache[n] = st
        return st

    def _update_obs_rms(self, obs: np.ndarray, n: int) -> None:
        self.obs_rms.update_obs(obs, n)
        self._norm_cache.clear()

    def _normalize_t(self, raw: torch.Tensor, n: int) -> torch.Tensor:
        if not self.params.norm_obs:
            return raw.float()
        mean, inv = self._norm_stats(n)
        c = self.params.obs_clip
        return ((raw - mean) * inv).clamp_(-c, c)

    def _prior_of(self, raw: torch.Tensor, n: int) -> Optional[torch.Tensor]:
        """The option prior of raw observations ``(B, 7N + G)``, or None for an agent without it."""
        return None if self._prior is None else self._prior(raw, n)

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """The observation as the networks see it (normalised and clipped when ``norm_obs``)."""
        obs = np.asarray(obs, np.float32)
        x = obs.reshape(-1, obs.shape[-1])
        return self._normalize_t(torch.from_numpy(np.ascontiguousarray(x)), self._n_of(x.shape[1])).numpy().reshape(obs.shape)

    def _decode(self, joint: torch.Tensor, w: torch.Tensor) -> Dict[str, np.ndarray]:
        """The Dict action as arrays that share memory with the tensors (the env converts any dtype and
        layout once)."""
        k = self.l + 1
        return {"version": torch.div(joint, k, rounding_mode="floor").numpy(), "partition": torch.remainder(joint, k).numpy(),
                "bandwidth": w[..., 0].numpy(), "compute": w[..., 1].numpy()}

    def with_shares(self, venv, action: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``action`` as the agent plays it in ``venv``: with ``share_solver``, its (version, cut) with the
        optimizer's share weights for them in ``venv``'s state (:meth:`mcia.policies.RustPolicy.shares`);
        otherwise ``action`` itself."""
        if not self.params.share_solver:
            return action
        # The share step searches on the env's own scenario; the policy object only fixes N and the tier.
        key = (int(venv.num_devices), bool(venv.cloud))
        if key not in self._solvers:
            from ..policies import RustPolicy

            self._solvers[key] = RustPolicy("optimizer", venv.config)
        return self._solvers[key].shares(venv, action)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> Dict[str, np.ndarray]:
        """The Dict action for a batch of observations ``(B, 7N + 3)`` (or one observation ``(7N + 3,)``):
        ``version`` / ``partition`` int64 and ``bandwidth`` / ``compute`` float64, each ``(B, N)`` (or
        ``(N,)``). Deterministic: the most likely (version, cut) and the mean share weights. An agent with
        ``arch="set"`` takes observations of any N. An agent with ``share_solver`` plays
        ``with_shares(venv, act(obs))``: the weights here are its unused share heads' (``mcia.evaluate(DIR)``
        and the other evaluation commands apply the solver themselves)."""
        with _threads(self.params.torch_threads), torch.inference_mode():
            obs = np.asarray(obs, np.float32)
            single = obs.ndim == 1
            x = np.ascontiguousarray(obs.reshape(-1, obs.shape[-1]))
            n = self._n_of(x.shape[1])
            raw = torch.from_numpy(x)
            logits, a, b = self.policy(self._normalize_t(raw, n), n, self._prior_of(raw, n))
            if deterministic:
                joint = logits.argmax(-1)
                w = a / (a + b)
            else:
                joint = torch.distributions.Categorical(logits=logits).sample()
                w = torch.distributions.Beta(a, b).sample()
            k = self.l + 1
            out = {"version": (joint // k).numpy().astype(np.int64), "partition": (joint % k).numpy().astype(np.int64),
                   "bandwidth": w[..., 0].numpy().astype(np.float64), "compute": w[..., 1].numpy().astype(np.float64)}
        if single:
            out = {k_: v[0] for k_, v in out.items()}
        return out

    def __call__(self, obs: np.ndarray) -> Dict[str, np.ndarray]:
        return self.act(obs, deterministic=True)

    # -- training --------------------------------------------------------------------------------------

    def _config_for(self, n: int) -> Config:
        if n == self.n:
            return self.config
        from ..sweep import apply_param  # the default device mix for N devices

        return apply_param(self.config, "num_devices", n)

    def _size_envs(self) -> List[int]:
        """Training environments per size of ``self.sizes`` (``focus_share`` of them at the scenario's N)."""
        return size_envs(self.params.num_envs, self.sizes, self.n, float(self.params.focus_share))

    def _make_groups(self) -> List[_Group]:
        p = self.params
        counts = self._size_envs()
        groups, first = [], TRAINING_SEED + 10_000 * self.seed
        for n, b in zip(self.sizes, counts):
            g = _Group(n, self._config_for(n), b, first)
            g.venv = MciaVectorEnv(b, g.config, num_threads=p.env_threads, autoreset_mode="same_step", info=True, copy=False)
            g.obs, _ = g.venv.reset(seed=first)
            first += b
            groups.append(g)
        return groups

    def _sample(self, logits: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
        # (version, cut): one uniform per device against the cumulative probabilities
        probs = torch.softmax(logits, -1)
        cdf = probs.cumsum_(-1)
        u = torch.rand(cdf.shape[:-1] + (1,), generator=self._gen) * cdf[..., -1:]
        joint = (cdf < u).sum(-1).clamp_(max=cdf.shape[-1] - 1)
        # Beta via two Gamma draws; torch's Gamma sampler takes no generator, so these use the global one,
        # which learn() forks and seeds from the agent's generator
        ga = torch._standard_gamma(a)
        gb = torch._standard_gamma(b)
        w = (ga / (ga + gb)).clamp_(_BETA_EPS, 1 - _BETA_EPS)
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

        Reproducibility: without ``time_limit_s`` the same seed gives the same run. With it, the learning
        rate and the credit follow the larger of the step and the time fraction (so a run that the clock
        stops still ends on the small final rate), which makes the run depend on the machine's speed: two
        runs of ``mcia train`` with the same seed differ (best validation 13.4 to 13.9 in three runs).
        """
        p = self.params
        seed = int(torch.randint(0, 2**62, (1,), generator=self._gen))
        # The Beta draws use torch's global generator: fork it, so training is reproducible from the
        # agent's seed and leaves the caller's random state alone.
        with _threads(p.torch_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._learn(int(total_timesteps), progress_bar, time_limit_s, callback)

    def _alloc(self, g: _Group, T: int) -> None:
        B, n, d = g.num_envs, g.n, g.obs.shape[1]
        g.bufs = {
            "obs": torch.zeros((T, B, d)),
            "joint": torch.zeros((T, B, n), dtype=torch.long),
            "w": torch.zeros((T, B, n, 2)),
            "lpc": torch.zeros((T, B, n)),
            "lps": torch.zeros((T, B, n)),
            "val": torch.zeros((T + 1, B, n)),
            "rew": torch.zeros((T, B, n)),
            "done": torch.zeros((T, B)),
            "task": torch.zeros((T, B, n)),
            "share": torch.zeros((T, B, n)),
        }
        if self._prior is not None:
            g.bufs["prior"] = torch.zeros((T, B, n, self._prior.size))

    def _rollout_step(self, g: _Group, t: int, finished: List[float]) -> None:
        """One step of group ``g``'s environments with the stochastic policy, into the buffers at ``t``."""
        p, n, bufs = self.params, g.n, g.bufs
        raw_np = g.obs
        if p.norm_obs:
            self._update_obs_rms(raw_np, n)
        raw = torch.from_numpy(raw_np)
        with torch.inference_mode():
            x = self._normalize_t(raw, n)
            prior = self._prior_of(raw, n)
            logits, a, b = self.policy(x, n, prior)
            joint, w = self._sample(logits, a, b)
            lpc = logits.gather(-1, joint.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
            lps = _beta_logp_entropy(a, b, w, entropy=False)[0].sum(-1)
            task = (raw[:, 0 : _DEV * n : _DEV] + raw[:, 1 : _DEV * n : _DEV]) > 0
            bufs["obs"][t].copy_(x)
            if prior is not None:
                bufs["prior"][t].copy_(prior)
            bufs["val"][t].copy_(self.critic(x, n))
            bufs["joint"][t].copy_(joint)
            bufs["w"][t].copy_(w)
            bufs["lpc"][t].copy_(lpc)
            bufs["lps"][t].copy_(lps)
            bufs["task"][t].copy_(task)
            # With share_solver the weights are not the agent's: no share term in the loss.
            bufs["share"][t].copy_(task & (joint % (self.l + 1) != self.l) & (not p.share_solver))
        k_tasks = np.maximum(task.sum(1).numpy(), 1).astype(np.float64)
        obs, rew, term, trunc, info = g.venv.step(self.with_shares(g.venv, self._decode(joint, w)))
        done = np.logical_or(term, trunc)
        any_done = bool(done.any())
        util = info["utility"]
        if any_done:
            util = np.where(done[:, None], info["final_info"]["utility"], util)
        # per-device shares of the reward: u_n / (devices with a task), summing to the reward
        r_dev = np.nan_to_num(util, nan=0.0) / k_tasks[:, None]
        if p.backlog_shaping:
            r_dev = r_dev + self._backlog_shaping(info, done, g.config, n)
        g.ep_ret += rew
        if p.norm_reward:
            g.disc_ret = g.disc_ret * p.gamma + rew
            self.ret_rms.update(g.disc_ret)
            r_dev = r_dev / math.sqrt(self.ret_rms.var + 1e-8)
        if any_done:
            idx = np.flatnonzero(done)
            boot = idx[~term[idx]]
            if boot.size:
                final = np.stack([np.asarray(info["final_obs"][i], np.float32) for i in boot])
                with torch.inference_mode():
                    v_final = self.critic(self._normalize_t(torch.from_numpy(final), n), n).numpy()
                r_dev[boot] += p.gamma * v_final
            finished.extend(g.ep_ret[idx].tolist())
            g.ep_ret[idx] = 0.0
            g.disc_ret[idx] = 0.0
        bufs["rew"][t].copy_(torch.from_numpy(r_dev))
        bufs["done"][t].copy_(torch.from_numpy(done))
        g.obs = obs

    def _learn(self, total_timesteps, progress_bar, time_limit_s, callback):
        p = self.params
        T = p.n_steps
        # The warm start counts as training time: in the wall time, the curve and the time limit.
        start = time.perf_counter()
        wall0 = self.wall_s
        writer = _tb_writer(self.tensorboard_log)
        if self._groups is None:
            self._groups = self._make_groups()
            if p.teacher and p.teacher_steps > 0 and self.num_timesteps == 0:
                self._warm_start(start, wall0, writer)
        groups = self._groups
        batch = sum(g.num_envs for g in groups) * T
        iters = max(1, math.ceil(total_timesteps / batch))
        # With a time limit the bar counts seconds (the step budget is then only a cap, often a huge one).
        bar = _bar(iters * batch, progress_bar, time_limit_s)
        bar_s = 0.0
        start_steps = self.num_timesteps
        target_steps = start_steps + iters * batch
        for g in groups:
            self._alloc(g, T)
        n_envs = sum(g.num_envs for g in groups)

        for it in range(iters):
            t_iter = time.perf_counter()
            progress = (self.num_timesteps - start_steps) / max(target_steps - start_steps, 1)
            if time_limit_s:
                progress = max(progress, (time.perf_counter() - start) / time_limit_s)
            lr = self._lr(progress)
            credit = self._credit(progress)
            for pg in self.optimizer.param_groups:
                pg["lr"] = lr
            finished: List[float] = []
            # ---- rollout
            for t in range(T):
                for g in groups:
                    self._rollout_step(g, t, finished)
            t_roll = time.perf_counter()
            # ---- GAE per device (the team advantage is their sum: GAE is linear in rewards and values)
            data = []
            for g in groups:
                bufs, n, B = g.bufs, g.n, g.num_envs
                with torch.inference_mode():
                    x = self._normalize_t(torch.from_numpy(g.obs), n)
                    bufs["val"][T].copy_(self.critic(x, n))
                val, rew = bufs["val"], bufs["rew"]
                nonterm = (1.0 - bufs["done"]).unsqueeze(-1)
                adv = torch.zeros((T, B, n))
                last = torch.zeros(B, n)
                for t in reversed(range(T)):
                    delta = rew[t] + p.gamma * val[t + 1] * nonterm[t] - val[t]
                    last = delta + p.gamma * p.gae_lambda * nonterm[t] * last
                    adv[t] = last
                rows = T * B
                data.append({
                    "n": n, "obs": bufs["obs"].reshape(rows, -1), "joint": bufs["joint"].reshape(rows, n),
                    "w": bufs["w"].reshape(rows, n, 2), "lpc": bufs["lpc"].reshape(rows, n), "lps": bufs["lps"].reshape(rows, n),
                    "adv": adv.reshape(rows, n), "ret": (adv + val[:T]).reshape(rows, n), "val": val[:T].reshape(rows, n),
                    "task": bufs["task"].reshape(rows, n), "share": bufs["share"].reshape(rows, n),
                })
                if "prior" in bufs:
                    data[-1]["prior"] = bufs["prior"].reshape(rows, n, -1)
            # ---- update
            stats = self._update(data, credit)
            self.num_timesteps += batch
            self.iterations += 1
            self._recent = (self._recent + finished)[-max(n_envs, 100):]
            now = time.perf_counter()
            self.wall_s = wall0 + (now - start)
            row: Dict[str, Any] = {
                "timesteps": self.num_timesteps,
                "wall_s": round(self.wall_s, 3),
                "iteration": self.iterations,
                "episode_return": float(np.mean(self._recent)) if self._recent else float("nan"),
                "validation_return": float("nan"),
                "steps_per_s": batch / max(now - t_iter, 1e-9),
                "rollout_s": round(t_roll - t_iter, 4),
                "update_s": round(now - t_roll, 4),
                "lr": lr,
                "device_credit": credit,
            }
            row.update(stats)
            if p.eval_every and (self.iterations % p.eval_every == 0 or it == iters - 1):
                self._validate_into(row)
                if self.verbose:
                    print(f"[hppo] {self.num_timesteps:>10d} steps {self.wall_s:7.1f}s train return {row['episode_return']:8.2f} "
                          f"validation {row['validation_return']:8.2f} (best {self.best_validation:.2f})", flush=True)
            self._record(row, writer)
            if bar is not None:
                if time_limit_s:
                    elapsed = min(now - start, float(time_limit_s))
                    bar.update(elapsed - bar_s)
                    bar_s = elapsed
                else:
                    bar.update(batch)
                ret = row["episode_return"]
                best = self.best_validation
                # Before the first training episode ends (100 steps per env) there is no return to show yet.
                bar.set_postfix_str((f"{self.num_timesteps:,} steps, " if time_limit_s else "")
                                    + ("return " + (f"{ret:.2f}" if math.isfinite(ret) else "(no episode finished yet)"))
                                    + (f", best validation {best:.2f}" if math.isfinite(best) else ""))
            if callback is not None and callback(row) is False:
                break
            if time_limit_s is not None and now - start >= time_limit_s:
                break
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        self._select_final()
        return self

    def _warm_start(self, start: float, wall0: float, writer) -> None:
        """Imitates the teacher, then validates the result as the first row of the curve (0 PPO steps),
        so the kept weights are the imitation's if PPO never does better."""
        p = self.params
        losses = self.imitate(p.teacher, p.teacher_steps, p.teacher_epochs)
        self.wall_s = wall0 + (time.perf_counter() - start)
        row: Dict[str, Any] = {"timesteps": 0, "wall_s": round(self.wall_s, 3), "iteration": 0,
                               "episode_return": float("nan"), "validation_return": float("nan")}
        row.update(losses)
        if p.eval_every:
            self._validate_into(row)
            if self.verbose:
                print(f"[hppo] after imitating {p.teacher}: {self.wall_s:7.1f}s validation {row['validation_return']:8.2f}", flush=True)
        self._record(row, writer)

    def _validate_into(self, row: Dict[str, Any]) -> None:
        """Validates at every N of :meth:`validation_sizes` into ``row`` and keeps the weights if they are
        the best so far."""
        v, per_n = self._validate_mean()
        row["validation_return"] = v
        row.update(self._per_n_keys("validation", per_n))
        k = self.params.final_candidates
        best = v > self.best_validation
        candidate = self.params.keep_best and k > 1 and (len(self._candidates) < k or v > self._candidates[0][0])
        if not (best or candidate):
            return
        snap = self._snapshot()
        if best:
            self.best_validation, self._best_state = v, snap
        if candidate:
            item = (v, len(self.curve), snap)  # the row's index: unique, so snapshots are never compared
            (heapq.heappush if len(self._candidates) < k else heapq.heapreplace)(self._candidates, item)

    def _validate_mean(self, episodes: Optional[int] = None, seed: int = VALIDATION_SEED) -> Tuple[float, Dict[int, float]]:
        """:meth:`validate_sizes` and their mean weighted by :meth:`validation_weights` (the number
        validation ranks weights by)."""
        per_n = self.validate_sizes(episodes, seed)
        w = self.validation_weights()
        return float(sum(w[n] * r for n, r in per_n.items())), per_n

    def validation_weights(self) -> Dict[int, float]:
        """Weight of each size of :meth:`validation_sizes` in the validation return: as training weighs
        them, ``focus_share`` at the scenario's N and the rest split evenly over the other sizes (an even
        split without ``focus_share``), so the kept snapshot is the best where most of the training went."""
        return size_weights(self.validation_sizes(), self.n, float(self.params.focus_share))

    @staticmethod
    def _per_n_keys(prefix: str, per_n: Dict[int, float]) -> Dict[str, float]:
        """``{prefix}_N{n}`` entries for a multi-N agent (none for one N, whose mean is the number)."""
        return {f"{prefix}_N{n}": r for n, r in per_n.items()} if len(per_n) > 1 else {}

    def _select_final(self) -> None:
        """Re-validates the ``final_candidates`` best validated snapshots on ``final_episodes`` fresh episodes
        (seeds from :data:`REVALIDATION_SEED`) and keeps the best as the checkpoint's weights; the weights
        being trained are left as they were, so :meth:`learn` can continue."""
        p = self.params
        if not (p.keep_best and p.final_candidates > 1 and len(self._candidates) > 1):
            return
        t0 = time.perf_counter()
        current = self._snapshot()
        scored = []
        for v, _, snap in sorted(self._candidates, key=lambda c: (-c[0], c[1])):
            self._restore(snap)
            scored.append((*self._validate_mean(p.final_episodes, REVALIDATION_SEED), v, snap))
        self._restore(current)
        self._ranked = [snap for *_, snap in scored]
        kept, _, kept_val, self._best_state = max(scored, key=lambda c: c[0])  # ties: the better first validation
        self.final_selection = {
            "episodes": p.final_episodes, "seed": REVALIDATION_SEED,
            "kept_timesteps": self._best_state["num_timesteps"], "kept_revalidation_return": kept,
            "candidates": [{"timesteps": snap["num_timesteps"], "validation_return": v, "revalidation_return": r,
                            **self._per_n_keys("revalidation", per_n)} for r, per_n, v, snap in scored],
        }
        if self.verbose:
            print(f"[hppo] re-validated the {len(scored)} best snapshots on {p.final_episodes} episodes in "
                  f"{time.perf_counter() - t0:.1f}s: kept {self._best_state['num_timesteps']:,} steps "
                  f"(validation {kept_val:.2f}, re-validation {kept:.2f})", flush=True)

    def _record(self, row: Dict[str, Any], writer) -> None:
        """Appends ``row`` to the curve and its finite numbers to TensorBoard at the current step count."""
        self.curve.append(row)
        if writer is not None:
            for k_, v_ in row.items():
                if k_ != "timesteps" and isinstance(v_, (int, float)) and not math.isnan(v_):
                    writer.add_scalar(f"hppo/{k_}", v_, self.num_timesteps)

    def _backlog_shaping(self, info: Dict[str, Any], done: np.ndarray, config: Optional[Config] = None, n: Optional[int] = None) -> np.ndarray:
        """``gamma * Phi(s') - Phi(s)`` per device, with ``Phi_n = -beta q_n`` (``HPPOParams.backlog_shaping``).
        ``q_n`` is the queue the step started from and ``q_n'`` the one it leaves, both read from the step's
        info (the final info of an episode that ended)."""
        config = config or self.config
        if done.any():
            info = {k: np.where(done[:, None], info["final_info"][k], info[k]) for k in ("backlog_s", "t_local", "t_tx")}
        slot = config["time"]["slot_s"]
        q = info["backlog_s"]
        busy = np.nan_to_num(info["t_local"], nan=0.0) + np.nan_to_num(info["t_tx"], nan=0.0)
        q_next = np.maximum(q + busy - slot, 0.0)
        return (self._beta_for(config, n or self.n) * (q - self.params.gamma * q_next)).astype(np.float32)

    def _beta_for(self, config: Config, n: int) -> float:
        """Shaping weight per second of queue: the expected latency weight of a task, shared by the devices."""
        t = config["tasks"]
        alpha = lambda c: (1.0 - c["weight"]) / c["deadline_s"]
        mean_alpha = t["as_ratio"] * alpha(t["accuracy_sensitive"]) + (1.0 - t["as_ratio"]) * alpha(t["latency_sensitive"])
        return self.params.backlog_shaping * mean_alpha / n

    @property
    def _beta(self) -> float:
        return self._beta_for(self.config, self.n)

    def _chunks(self, data: List[Dict[str, Any]], size: int):
        """Minibatches over several groups: each epoch's rows of every group in a random order, cut into
        the same number of pieces, so that piece j of every group forms minibatch j (about ``size`` rows)."""
        rows = sum(d["obs"].shape[0] for d in data)
        k = max(1, math.ceil(rows / max(size, 1)))
        perms = [torch.tensor_split(torch.randperm(d["obs"].shape[0], generator=self._gen), k) for d in data]
        for j in range(k):
            yield [(d, perm[j]) for d, perm in zip(data, perms) if perm[j].numel()]

    def _update(self, data: List[Dict[str, Any]], credit: float):
        p = self.params
        params = list(self.policy.parameters()) + list(self.critic.parameters())
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "share_entropy": 0.0, "approx_kl": 0.0, "clip_frac": 0.0}
        count = 0
        stop = False
        eps = p.clip_range
        # advantages normalised over the whole batch: the team advantage per observation, the device's own
        # over the devices with a task
        team = torch.cat([d["adv"].sum(-1) for d in data])
        t_mean, t_std = team.mean(), team.std()
        act_all = sum(d["task"].sum() for d in data).clamp(min=1.0)
        mean_dev = sum((d["adv"] * d["task"]).sum() for d in data) / act_all
        std_dev = (sum((((d["adv"] - mean_dev) ** 2) * d["task"]).sum() for d in data) / act_all).sqrt()
        for d in data:
            tn = ((d["adv"].sum(-1) - t_mean) / (t_std + 1e-8))[:, None]
            d["adv_c"] = (1.0 - credit) * tn + credit * (d["adv"] - mean_dev) / (std_dev + 1e-8)
            d["adv_s"] = tn.expand_as(d["adv"])

        for _ in range(p.n_epochs):
            for parts in self._chunks(data, p.minibatch_size):
                acc = dict.fromkeys(("sc", "mc", "fc", "kc", "ss", "ms", "fs", "ks", "v", "ec", "es"), 0.0)
                rows = 0
                for d, idx in parts:
                    n = d["n"]
                    x = d["obs"][idx]
                    logits, a, b = self.policy(x, n, d["prior"][idx] if "prior" in d else None)
                    lpc, lps, ent_c, ent_w = self._logp_entropy(logits, a, b, d["joint"][idx], d["w"][idx])
                    tm, sm = d["task"][idx], d["share"][idx]
                    for key, logr, adv, mask in (("c", lpc - d["lpc"][idx], d["adv_c"][idx], tm), ("s", lps - d["lps"][idx], d["adv_s"][idx], sm)):
                        ratio = logr.exp()
                        surr = torch.min(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
                        acc["s" + key] = acc["s" + key] + (surr * mask).sum()
                        acc["m" + key] = acc["m" + key] + mask.sum()
                        with torch.no_grad():
                            acc["f" + key] = acc["f" + key] + (((ratio - 1).abs() > eps).float() * mask).sum()
                            acc["k" + key] = acc["k" + key] + (((ratio - 1) - logr) * mask).sum()
                    v = self.critic(x, n)
                    acc["v"] = acc["v"] + (v - d["ret"][idx]).pow(2).sum()
                    acc["ec"] = acc["ec"] + (ent_c * tm).sum()
                    acc["es"] = acc["es"] + (ent_w * sm).sum()
                    rows += idx.numel()
                mc, ms = max(float(acc["mc"]), 1.0), max(float(acc["ms"]), 1.0)
                pg_loss = -acc["sc"] / mc - acc["ss"] / ms
                v_loss = 0.5 * acc["v"] / rows
                ent_choice, ent_share = acc["ec"] / rows, acc["es"] / rows
                loss = pg_loss + p.vf_coef * v_loss - p.ent_coef * ent_choice - p.ent_coef_share * ent_share
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, p.max_grad_norm)
                self.optimizer.step()
                kl = float(acc["kc"]) / mc + float(acc["ks"]) / ms
                sums["policy_loss"] += pg_loss.item()
                sums["value_loss"] += v_loss.item()
                sums["entropy"] += ent_choice.item()
                sums["share_entropy"] += ent_share.item()
                sums["approx_kl"] += kl
                sums["clip_frac"] += 0.5 * (float(acc["fc"]) / mc + float(acc["fs"]) / ms)
                count += 1
                if p.target_kl is not None and kl > 1.5 * p.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: v / max(count, 1) for k, v in sums.items()}
        y = torch.cat([d["ret"].sum(-1) for d in data])
        yhat = torch.cat([d["val"].sum(-1) for d in data])
        out["explained_variance"] = float(1 - (y - yhat).var() / (y.var() + 1e-12))
        return out

    # -- warm start ------------------------------------------------------------------------------------

    def imitate(self, teacher: str, steps: int, epochs: int, rounds: Optional[int] = None) -> Dict[str, float]:
        """Behaviour cloning of the built-in policy ``teacher`` on ``steps`` environment steps of its own
        episodes (training seeds; split over the device counts of a multi-N agent): the (version, cut) head
        learns the teacher's choices (cross-entropy), the share head its weights (Beta likelihood), and the
        critic the per-device discounted returns earned. With ``rounds`` > 1 (default
        ``params.teacher_rounds``) the later rounds are DAgger (Ross et al. 2011): the agent's own sampled
        policy drives ``steps`` more environment steps, the teacher labels the states the agent reached, and
        the agent is refitted on everything gathered, so it learns to recover from its own mistakes. Counts
        as training time but not as training steps. Returns the final losses."""
        p = self.params
        rounds = max(1, p.teacher_rounds if rounds is None else rounds)
        raw: List[Tuple] = []
        losses: Dict[str, float] = {}
        refit = epochs if p.teacher_refit_epochs is None else p.teacher_refit_epochs
        for r in range(rounds):
            raw += self._teacher_episodes(teacher, steps, r)
            if r == 0 and p.norm_reward:
                self.ret_rms.update(np.concatenate([x[-1].sum(-1).ravel() for x in raw]))
            losses = self._fit_teacher(raw, epochs if r == 0 else refit)
            if self.verbose:
                m = sum(x[1].shape[0] for x in raw)
                print(f"[hppo] imitated {teacher} on {m} decisions (round {r + 1}/{rounds}): "
                      + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()), flush=True)
        return losses

    def _teacher_episodes(self, teacher: str, steps: int, round_: int) -> List[Tuple]:
        """``steps`` environment steps labelled by ``teacher`` per device count. Round 0 follows the
        teacher; later rounds follow the agent's sampled policy (DAgger) on fresh training seeds."""
        from ..queue_relief import teacher_policy

        p, L = self.params, self.l
        slots_ep = self.config["time"]["episode_slots"]
        counts = self._size_envs()
        total = sum(counts)
        out = []
        for gi, (n, envs) in enumerate(zip(self.sizes, counts)):
            cfg = self._config_for(n)
            steps_g = max(1, steps * envs // total)
            b = min(envs, max(1, steps_g // slots_ep))
            slots = max(1, steps_g // b)
            # The teacher's search dominates this loop; it runs on the env's pool (results do not depend on it).
            venv = MciaVectorEnv(b, cfg, num_threads=max(p.env_threads, p.torch_threads), info=True, copy=False)
            policy = teacher_policy(teacher, cfg)
            obs, _ = venv.reset(seed=TRAINING_SEED + 10_000 * self.seed + 5_000 + 100 * gi + 1_000 * round_)
            xs, joints, ws, tasks, offl, rews = [], [], [], [], [], []
            for _ in range(slots):
                a = policy(venv)
                x = np.asarray(obs, np.float32).copy()
                xs.append(x)
                joints.append(a["version"] * (L + 1) + a["partition"])
                # The env normalises weights over the offloading devices, so only ratios matter: scale each
                # row's weights to a maximum of 0.9 as Beta targets.
                bw, cw = a["bandwidth"].copy(), a["compute"].copy()
                for w in (bw, cw):
                    w /= np.maximum(w.max(axis=1, keepdims=True), 1e-12) / 0.9
                ws.append(np.stack([bw, cw], -1).clip(_BETA_EPS * 10, 1 - _BETA_EPS * 10))
                task = (x[:, 0 : _DEV * n : _DEV] + x[:, 1 : _DEV * n : _DEV]) > 0
                tasks.append(task)
                offl.append(task & (a["partition"] < L))
                if round_ > 0:
                    if p.norm_obs:
                        self._update_obs_rms(x, n)
                    a = self.with_shares(venv, self.act(x, deterministic=False))
                obs, rew, term, trunc, info = venv.step(a)
                util = np.nan_to_num(info["utility"], nan=0.0)
                r = util / np.maximum(task.sum(1), 1)[:, None]
                if p.backlog_shaping:
                    r = r + self._backlog_shaping(info, np.zeros(b, bool), cfg, n)
                rews.append(r)
            x = np.concatenate(xs)
            if p.norm_obs and round_ == 0:
                self._update_obs_rms(x, n)
            # Per-device discounted returns of the episodes driven (the segment ends at its last slot).
            ret = np.zeros((slots, b, n))
            acc = np.zeros((b, n))
            for t in reversed(range(slots)):
                acc = rews[t] + p.gamma * acc
                ret[t] = acc
            out.append((n, x, joints, ws, tasks, offl, ret))
        return out

    def _fit_teacher(self, raw: List[Tuple], epochs: int) -> Dict[str, float]:
        """Fits the policy heads and the critic to the labelled steps ``raw`` for ``epochs`` epochs."""
        p = self.params
        data = []
        for n, x, joints, ws, tasks, offl, ret in raw:
            if p.norm_reward:
                ret = ret / math.sqrt(self.ret_rms.var + 1e-8)
            data.append({"n": n, "obs": torch.from_numpy(self.normalize(x)), "joint": torch.from_numpy(np.concatenate(joints)).long(),
                         "w": torch.from_numpy(np.concatenate(ws)).float(), "task": torch.from_numpy(np.concatenate(tasks)).float(),
                         "offl": torch.from_numpy(np.concatenate(offl)).float(), "ret": torch.from_numpy(ret.reshape(-1, n)).float()})
            if self._prior is not None:
                data[-1]["prior"] = self._prior(torch.from_numpy(x), n)
        params = list(self.policy.parameters()) + list(self.critic.parameters())
        opt = torch.optim.Adam(params, lr=p.learning_rate if p.teacher_lr is None else p.teacher_lr)
        losses: Dict[str, float] = {}
        with _threads(p.torch_threads):
            for _ in range(epochs):
                for parts in self._chunks(data, p.minibatch_size):
                    ce_sum = t_sum = sh_sum = o_sum = v_sum = 0.0
                    rows = 0
                    for d, idx in parts:
                        n = d["n"]
                        logits, a_, b_ = self.policy(d["obs"][idx], n, d["prior"][idx] if "prior" in d else None)
                        logsm = torch.log_softmax(logits, -1)
                        tm, om = d["task"][idx], d["offl"][idx]
                        ce_sum = ce_sum - (logsm.gather(-1, d["joint"][idx].unsqueeze(-1)).squeeze(-1) * tm).sum()
                        t_sum = t_sum + tm.sum()
                        lp_w, _ = _beta_logp_entropy(a_, b_, d["w"][idx], entropy=False)
                        sh_sum = sh_sum - (lp_w.sum(-1) * om).sum()
                        o_sum = o_sum + om.sum()
                        v_sum = v_sum + (self.critic(d["obs"][idx], n) - d["ret"][idx]).pow(2).sum()
                        rows += idx.numel()
                    ce = ce_sum / max(float(t_sum), 1.0)
                    share = sh_sum / max(float(o_sum), 1.0)
                    v_loss = 0.5 * v_sum / rows
                    loss = ce + 0.1 * share + p.vf_coef * v_loss
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(params, p.max_grad_norm)
                    opt.step()
                    losses = {"imitation_ce": ce.item(), "imitation_share_nll": share.item(), "imitation_value_loss": v_loss.item()}
        return losses

    # -- validation ------------------------------------------------------------------------------------

    def validate(self, episodes: Optional[int] = None, seed: int = VALIDATION_SEED, config: ConfigLike = None) -> float:
        """Mean return of the deterministic policy over ``episodes`` full episodes on seeds ``seed + i``
        (by default seeds disjoint from the evaluation seeds 0..19) of ``config`` (default: the scenario)."""
        k = episodes or self.params.eval_episodes
        cfg = self.config if config is None else as_config(config)
        venv = MciaVectorEnv(k, cfg, num_threads=1, info=False, copy=True)
        obs, _ = venv.reset(seed=seed)
        total = np.zeros(k)
        for _ in range(cfg["time"]["episode_slots"]):
            obs, r, *_ = venv.step(self.with_shares(venv, self.act(obs, deterministic=True)))
            total += r
        return float(total.mean())

    def validation_sizes(self) -> List[int]:
        """The device counts validation runs on: the scenario's N, or for a multi-N agent the smallest, the
        scenario's (or the middle one) and the largest of the training range."""
        return [self.n] if self.sizes == [self.n] else validation_sizes(self.sizes, self.n)

    def validate_sizes(self, episodes: Optional[int] = None, seed: int = VALIDATION_SEED) -> Dict[int, float]:
        """:meth:`validate` at every N of :meth:`validation_sizes`."""
        return {n: self.validate(episodes, seed, self._config_for(n)) for n in self.validation_sizes()}

    # -- checkpoints -----------------------------------------------------------------------------------

    def _snapshot(self) -> Dict[str, Any]:
        return {
            "policy": copy.deepcopy(self.policy.state_dict()),
            "critic": copy.deepcopy(self.critic.state_dict()),
            "obs_rms": self.obs_rms.state_dict(),
            "ret_rms": self.ret_rms.state_dict(),
            "num_timesteps": self.num_timesteps,
        }

    def use_candidate(self, i: int) -> None:
        """Loads the weights of ``final_selection["candidates"][i]`` (for analyses of the selection, e.g.
        ``examples/check_selection.py``); :meth:`use_best` loads the kept ones."""
        if not self._ranked:
            raise ValueError("HybridPPO: no final candidates: learn() with validation and final_candidates > 1 first")
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(self._ranked):
            raise ValueError(f"HybridPPO: candidate index must be an integer in 0..{len(self._ranked) - 1}, got {i!r}")
        self._restore(self._ranked[int(i)])

    def use_best(self) -> bool:
        """Loads the weights (and observation statistics) that had the best validation return (after
        :meth:`learn`, the best re-validated of the ``final_candidates`` best); False if there was no validation."""
        if self._best_state is None:
            return False
        self._restore(self._best_state)
        return True

    def _restore(self, s: Dict[str, Any]) -> None:
        self.policy.load_state_dict(s["policy"])
        self.critic.load_state_dict(s["critic"])
        self.obs_rms.load_state_dict(s["obs_rms"])
        self.ret_rms.load_state_dict(s["ret_rms"])
        self._norm_cache.clear()

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
            json.dump({"algo": "hppo", "class": "mcia.agents.HybridPPO", "arch": self.params.arch,
                       "num_devices": self.sizes if self.params.arch == "set" else self.n,
                       "timesteps": self.num_timesteps,
                       "weights_at_timesteps": state["num_timesteps"], "wall_s": round(self.wall_s, 2),
                       "best_validation_return": self.best_validation if self.best_validation > -math.inf else None,
                       "final_selection": self.final_selection if use_best else None,
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
        params.setdefault("option_prior", False)  # checkpoints from before the option prior have none
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
        if math.isfinite(agent.best_validation):
            # Training on keeps the loaded weights unless new ones validate better, and they are a final
            # candidate (ranked by the run's best validation; the re-validation decides).
            snap = agent._snapshot()
            try:
                with open(os.path.join(path, AGENT_FILE), encoding="utf-8") as f:
                    snap["num_timesteps"] = int(json.load(f).get("weights_at_timesteps", snap["num_timesteps"]))
            except (OSError, ValueError, TypeError, AttributeError):  # no or a damaged agent.json: the run's count
                pass
            agent._best_state = snap
            if agent.params.keep_best and agent.params.final_candidates > 1:
                agent._candidates.append((agent.best_validation, -1, snap))
        return agent


# -- helpers ---------------------------------------------------------------------------------------------


class _threads:
    """Context manager: torch uses ``n`` intra-op threads inside, the previous count after."""

    def __init__(self, n: Optional[int]) -> None:
        self.n = n

    def __enter__(self):
        self.prev = torch.get_num_threads()
        if self.n and self.n != self.prev:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc):
        if torch.get_num_threads() != self.prev:
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


def _bar(total: int, on: bool, time_limit_s: Optional[float] = None):
    """The training progress bar: environment steps out of ``total``, or seconds out of ``time_limit_s``."""
    if not on:
        return None
    from tqdm.auto import tqdm

    if time_limit_s:
        return tqdm(total=float(time_limit_s), desc="hppo", unit="s", dynamic_ncols=True,
                    bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")
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


__all__ = ["FeatureMeanStd", "HPPOParams", "HybridPPO", "RunningMeanStd", "write_curve"]
