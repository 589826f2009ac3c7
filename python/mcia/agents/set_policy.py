"""Permutation-equivariant actor and critic for any number of devices (``HybridPPO(arch="set")``).

The MCIA observation is a set of devices (7 features each, ``obs[7n:7n+7]``) plus a few shared entries
(``obs[7N:]``: edge load, edge backlog, time, and whatever else the scenario adds). Nothing in the problem
depends on a device's index, so the networks here treat the devices as a set:

- **Per-device encoder.** Each device's 7 features and the shared entries go through one MLP (shared by
  all devices); no device identity is given.
- **Pooling.** The encoded devices are pooled (mean and max over devices, plus ``N / 10`` so the network
  knows how many devices share the uplink and the edge), and each device's embedding is mixed with the
  pooled context: ``z_n = act(W h_n + U pool(h) + b)``. ``rounds`` of this (deep sets) or, with
  ``pool="attention"``, multi-head self-attention over the devices followed by the same pooled mixing.
- **Per-device heads.** The (version, cut) logits (one categorical over the ``M (L + 1)`` pairs) and the
  Beta parameters of the two share weights come out of each ``z_n`` through heads shared by all devices.
- **Critic.** A network of the same shape (its own weights, :class:`SetCriticNet`) gives one
  value per device, each device's part of the state value; their sum is the value of the state. Each part
  is divided by ``N`` (a device's part of the mean-utility reward shrinks as ``1 / N``), so the head works
  in the same units for every N. :class:`PooledCriticNet` is a cheaper one whose deep layers run once per
  observation on the pooled devices.

The networks are equivariant: permuting the devices in the observation permutes the outputs the same way
(tested), so one set of weights decides for any N and any order of the devices.
"""

from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .option_prior import DEVICE_FEATURES, add_prior_layers, prior_input, prior_size, with_prior


def _act_fn(name: str):
    return {"tanh": torch.tanh, "relu": torch.relu, "silu": F.silu}[name]


def _linear(i: int, o: int, gain: float, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(i, o, bias=bias)
    nn.init.orthogonal_(layer.weight, gain)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def _first_layer(net: nn.Module, x: torch.Tensor, n: int, extra=0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """The per-device first layer shared by the set networks: ``(act(dev_in x_n + tail_in g + extra), g)``
    with ``g`` the shared entries and ``N / 10`` (``extra``: the option prior's part, if any). ``g`` enters
    every device's first layer, so its product is computed once per observation and broadcast."""
    b = x.shape[0]
    dev = x[:, : DEVICE_FEATURES * n].reshape(b, n, DEVICE_FEATURES)
    glob = torch.cat([x[:, DEVICE_FEATURES * n :], x.new_full((b, 1), n / 10.0)], dim=1)
    return net.act(net.dev_in(dev) + net.tail_in(glob).unsqueeze(1) + extra), glob


class SetEncoder(nn.Module):
    """Per-device embeddings ``(B, N, hidden)`` of a batch of normalised observations ``(B, 7N + G)``."""

    def __init__(self, tail: int, hidden: int, activation: str, rounds: int = 1, pool: str = "meanmax", heads: int = 4,
                 prior_size: int = 0) -> None:
        super().__init__()
        if pool not in ("meanmax", "mean", "attention"):
            raise ValueError(f"set pool must be 'meanmax', 'mean' or 'attention', got {pool!r}")
        g = math.sqrt(2)
        self.tail, self.hidden, self.pool, self.heads = tail, hidden, pool, heads
        self.act = _act_fn(activation)
        self.dev_in = _linear(DEVICE_FEATURES, hidden, g)
        self.tail_in = _linear(tail + 1, hidden, g, bias=False)  # shared entries and N / 10
        self.enc2 = _linear(hidden, hidden, g)
        add_prior_layers(self, prior_size > 0, prior_size, hidden)
        pooled = 2 * hidden if pool != "mean" else hidden
        self.mix_self = nn.ModuleList([_linear(hidden, hidden, g) for _ in range(rounds)])
        self.mix_ctx = nn.ModuleList([_linear(pooled + 1, hidden, g, bias=False) for _ in range(rounds)])
        if pool == "attention":
            if hidden % heads:
                raise ValueError(f"hidden ({hidden}) must be a multiple of the attention heads ({heads})")
            self.qkv = nn.ModuleList([_linear(hidden, 3 * hidden, 1.0) for _ in range(rounds)])
            self.att_out = nn.ModuleList([_linear(hidden, hidden, 1.0) for _ in range(rounds)])

    def forward(self, x: torch.Tensor, n: int, prior: Optional[torch.Tensor] = None) -> torch.Tensor:
        b = x.shape[0]
        h, glob = _first_layer(self, x, n, prior_input(self, prior))
        size = glob[:, -1:]
        h = self.act(self.enc2(h))
        for r in range(len(self.mix_self)):
            if self.pool == "attention":
                q, k, v = self.qkv[r](h).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, self.hidden)
                h = h + self.att_out[r](a)
            pooled = h.mean(1) if self.pool == "mean" else torch.cat([h.mean(1), h.amax(1)], dim=1)
            ctx = self.mix_ctx[r](torch.cat([pooled, size], dim=1))
            h = self.act(self.mix_self[r](h) + ctx.unsqueeze(1))
        return h


class SetPolicyNet(nn.Module):
    """Actor: per-device (version, cut) logits ``(B, N, M (L + 1))`` and Beta parameters ``(B, N, 2)``
    (alpha, beta) for the bandwidth (index 0) and compute (index 1) weights, for any N."""

    def __init__(self, m: int, l: int, tail: int, hidden: int, activation: str, rounds: int = 1, pool: str = "meanmax",
                 prior: bool = False) -> None:
        super().__init__()
        self.m, self.l = m, l
        self.body = SetEncoder(tail, hidden, activation, rounds, pool, prior_size=prior_size(m, l) if prior else 0)
        self.choice = _linear(hidden, m * (l + 1), 0.01)
        self.share = _linear(hidden, 4, 0.01)

    def forward(self, x: torch.Tensor, n: int, prior: Optional[torch.Tensor] = None):
        """Logits and Beta parameters of normalised observations ``x`` (``prior``: the option prior
        ``(B, N, 2 M (L + 1))`` of an actor built with ``prior=True``, see ``mcia.agents.option_prior``)."""
        z = self.body(x, n, prior)
        ab = F.softplus(self.share(z)) + 1.0
        return with_prior(self.body, self.choice(z), prior), ab[..., :2], ab[..., 2:]


class SetCriticNet(nn.Module):
    """Critic: each device's part of the state value ``(B, N)`` (the state value is their sum)."""

    def __init__(self, tail: int, hidden: int, activation: str, rounds: int = 1, pool: str = "meanmax") -> None:
        super().__init__()
        self.body = SetEncoder(tail, hidden, activation, rounds, pool)
        self.value = _linear(hidden, 1, 1.0)

    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        return self.value(self.body(x, n)).squeeze(-1) / n


class PooledCriticNet(nn.Module):
    """A cheaper critic for any N: one per-device layer, pooled, then an MLP per observation.

    ``h_n = act(W x_n + U g)`` (``x_n`` the device's features, ``g`` the shared entries and ``N / 10``);
    ``c = MLP([mean h, max h, g])``; device ``n``'s part of the value is ``(w . h_n + v . c + b) / N``.
    The deep per-device layers of :class:`SetCriticNet` cost as much as the actor (per device and per
    sample); here the deep part runs once per observation: 2.5x cheaper at N = 10 (forward and backward,
    ``examples/compile_networks.py``). The critic is only used in training, and its value of a state is still a function of the set of devices."""

    def __init__(self, tail: int, hidden: int, activation: str) -> None:
        super().__init__()
        g = math.sqrt(2)
        self.act = _act_fn(activation)
        self.dev_in = _linear(DEVICE_FEATURES, hidden, g)
        self.tail_in = _linear(tail + 1, hidden, g, bias=False)
        self.body1 = _linear(2 * hidden + tail + 1, hidden, g)
        self.body2 = _linear(hidden, hidden, g)
        self.value_dev = _linear(hidden, 1, 1.0, bias=False)
        self.value_obs = _linear(hidden, 1, 1.0)

    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        h, glob = _first_layer(self, x, n)
        c = self.act(self.body1(torch.cat([h.mean(1), h.amax(1), glob], dim=1)))
        c = self.act(self.body2(c))
        return (self.value_dev(h).squeeze(-1) + self.value_obs(c)) / n


NumDevices = Union[None, int, str, Sequence[int]]


def parse_num_devices(spec: NumDevices, default: int) -> List[int]:
    """The device counts to train on: ``None`` (the scenario's N), an int, ``"4-20"`` (every N in the range),
    ``"4,8,12"`` or a list of ints."""
    if spec is None or spec == "":
        return [int(default)]
    if isinstance(spec, bool):
        raise ValueError(f"num_devices must be an int, a range 'A-B', a list or None, got {spec!r}")
    if isinstance(spec, int):
        values = [spec]
    elif isinstance(spec, str):
        text = spec.replace(" ", "")
        m = re.fullmatch(r"(\d+)-(\d+)", text)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise ValueError(f"num_devices range {spec!r} is empty")
            values = list(range(lo, hi + 1))
        elif re.fullmatch(r"\d+(,\d+)*", text):
            values = [int(v) for v in text.split(",")]
        else:
            raise ValueError(f"num_devices must look like '4-20', '4,8,12' or '10', got {spec!r}")
    else:
        values = [int(v) for v in spec]
    if not values or min(values) < 1:
        raise ValueError(f"num_devices must be positive, got {spec!r}")
    return sorted(set(values))


def split_envs(total: int, groups: int) -> List[int]:
    """``total`` environments over ``groups`` groups as evenly as possible (at least one each)."""
    base, extra = divmod(max(total, groups), groups)
    return [base + (1 if i < extra else 0) for i in range(groups)]


def size_envs(total: int, sizes: Sequence[int], focus: int, focus_share: float) -> List[int]:
    """Environments per size of ``sizes`` (sorted): with ``focus_share`` > 0 and ``focus`` among the sizes,
    ``round(focus_share * total)`` of them (at least one, leaving at least one per other size) run at
    ``focus`` and the rest are split evenly over the other sizes; otherwise an even split."""
    sizes = list(sizes)
    if focus_share <= 0 or focus not in sizes or len(sizes) == 1:
        return split_envs(total, len(sizes))
    others = len(sizes) - 1
    total = max(total, len(sizes))
    at_focus = min(max(1, round(focus_share * total)), total - others)
    rest = iter(split_envs(total - at_focus, others))
    return [at_focus if n == focus else next(rest) for n in sizes]


def size_weights(sizes: Sequence[int], focus: int, focus_share: float) -> Dict[int, float]:
    """The share of each size of ``sizes`` under the rule of :func:`size_envs`, before rounding to whole
    environments: ``focus_share`` at ``focus`` (when it is among several sizes) and the rest split evenly
    over the other sizes; otherwise an even split. Validation weighs its sizes this way."""
    sizes = list(sizes)
    if focus_share <= 0 or focus not in sizes or len(sizes) == 1:
        return {n: 1.0 / len(sizes) for n in sizes}
    return {n: focus_share if n == focus else (1.0 - focus_share) / (len(sizes) - 1) for n in sizes}


def validation_sizes(sizes: Sequence[int], default: int) -> List[int]:
    """The device counts a multi-N agent is validated on: the smallest, the scenario's own N (or the middle
    of the range) and the largest."""
    lo, hi = min(sizes), max(sizes)
    mid = default if lo <= default <= hi else sizes[len(sizes) // 2]
    return sorted({lo, mid, hi})


def infer_n(obs_dim: int, tail: int) -> Tuple[int, int]:
    """``(N, remainder)`` of an observation length for ``tail`` shared entries."""
    return divmod(obs_dim - tail, DEVICE_FEATURES)


__all__ = ["PooledCriticNet", "SetCriticNet", "SetEncoder", "SetPolicyNet", "infer_n", "parse_num_devices", "size_envs", "size_weights", "split_envs", "validation_sizes"]
