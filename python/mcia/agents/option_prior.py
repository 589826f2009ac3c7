"""What each (version, cut) would earn, estimated from the observation alone (``HPPOParams.option_prior``).

The actor's hardest job is the (version, cut) choice near the deadline cliffs: a choice that finishes just
before the deadline and one that finishes just after differ by the deadline penalty, and where that line
falls depends on the channel, the device's speed and queue and the edge's load and queue through the
latency formula of SPEC section 4. A network can learn that formula from rewards, but only roughly. The
formula itself is known, and every quantity it needs is in the observation (inverting SPEC section 5):

- full-band SNR ``P g / (B N0) = 2^(20 spectral_eff) - 1``, device speed ``F_n = (10^(2 compute) - 1) 1e9``,
  device queue ``q_n = 10 slot_s backlog``;
- edge speed ``F_E = edge_peak (1 - edge_load)``, edge queue ``q_E = 10 slot_s edge_backlog``.

:class:`OptionPrior` turns a batch of raw observations into two numbers per device n and option
``j = v (L + 1) + p`` (version v cut after unit p), both 0 for devices without a task:

- ``u_hat[b, n, j]``: the utility the task would earn if every device with a task got an equal share
  ``1 / K`` of the uplink and of the edge (the assumption of the ``greedy`` baseline);
- ``need[b, n, j]``: the share ``s`` of both the uplink and the edge that the option needs to meet the
  task's deadline, ``T(s) = tau``, in [0, 2]: 0 for a local run that meets it, 2 when even the whole uplink
  and edge (or, locally, the device alone) would miss it. Where the deadline falls is what separates the
  optimizer from the agents (``examples/gap_by_device.py``: the misses of the slowest devices), and with
  ``need`` the network can compare what each device asks for with what there is to share.

The actor gets both as extra per-device inputs and adds ``gain * u_hat`` to its logits (``gain`` learned,
starting at 0): the network learns how the real choice departs from these estimates instead of the latency
arithmetic. Nothing here reads the simulator's state: the estimates are functions of the observation, so
the agent stays an observation-only policy.

Only the edge tier with the Shannon uplink is modelled (not ``MCIA-Cloud-v0`` or trace-driven uplinks,
whose observations mean something else); :func:`check_supported` says so for other scenarios.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn

from ..config import Config
from ..reference import ReferenceModel
from ..spaces import OBS_DEVICE_FIELDS

DEVICE_FEATURES = len(OBS_DEVICE_FIELDS)


def check_supported(config: Config) -> None:
    """Raises ``ValueError`` if the prior cannot be computed from this scenario's observation."""
    d = config.to_dict()
    if d.get("cloud", {}).get("enabled"):
        raise ValueError("HybridPPO: option_prior models the edge tier only; the cloud tier (MCIA-Cloud-v0) is not supported")
    if d.get("radio", {}).get("trace_file") is not None:
        raise ValueError("HybridPPO: option_prior needs the Shannon uplink; a trace-driven uplink (radio.trace_file) is not supported")


class OptionPrior:
    """Per-device, per-(version, cut) utility estimate from raw observations (module docstring).

    ``prior(raw, n)`` maps raw (unnormalised) observations ``(B, 7 N + G)`` to ``(B, N, 2 M (L + 1))``
    float32: ``u_hat`` for the ``M (L + 1)`` options, then ``need`` for them.
    The tables (FLOPs, upload bytes, accuracies, task preferences) come from the scenario's config and do
    not depend on N, so one prior serves every N of an any-N agent."""

    def __init__(self, config: Config) -> None:
        check_supported(config)
        ref = ReferenceModel(config.to_dict())
        cfg = ref.config
        f32 = torch.float32  # float32 keeps the rollouts' cost down; the estimates need no more
        self.m, self.l = ref.m, ref.l
        self.options = ref.m * (ref.l + 1)
        self.size = prior_size(ref.m, ref.l)
        self.slot_s = float(cfg["time"]["slot_s"])
        self.bandwidth_hz = float(cfg["radio"]["bandwidth_hz"])
        self.edge_peak = float(ref.edge_peak_flops)
        rw = cfg["reward"]
        self.cap, self.deadline_penalty = float(rw["latency_cap"]), float(rw["deadline_penalty"])
        cum = torch.tensor(ref.cum_flops)  # (M, L + 1), float64 while the tables are built
        self.cum = cum.to(f32)
        self.work_edge = (cum[:, -1:] - cum).to(f32)  # W = cum_v(L) - cum_v(p)
        self.x_tx = torch.tensor(8.0 * ref.upload_bytes / self.bandwidth_hz, dtype=f32)  # bits / B
        self.offload = torch.zeros((ref.m, ref.l + 1), dtype=torch.bool)
        self.offload[:, : ref.l] = True
        acc_hat = torch.tensor(ref.accuracy_hat)[:, None]  # (M, 1)
        acc = torch.tensor(ref.accuracy)[:, None]
        # per task type (AS, LS): weight, deadline, and each version's accuracy term and accuracy penalty
        t = cfg["tasks"]
        prefs = [(float(t[k]["weight"]), float(t[k]["deadline_s"]), float(t[k]["min_accuracy"])) for k in ("accuracy_sensitive", "latency_sensitive")]
        self.weight = torch.tensor([p[0] for p in prefs], dtype=f32)
        self.tau = torch.tensor([p[1] for p in prefs], dtype=f32)
        self.base = torch.stack([w * acc_hat - float(rw["accuracy_penalty"]) * (acc < a_min).double() for w, _, a_min in prefs]).to(f32)  # (2, M, 1)

    def __call__(self, raw: torch.Tensor, n: int) -> torch.Tensor:
        x = raw.to(torch.float32)
        b = x.shape[0]
        dev = x[:, : DEVICE_FEATURES * n].reshape(b, n, DEVICE_FEATURES)
        is_as, is_ls = dev[..., 0] > 0.5, dev[..., 1] > 0.5
        has = (is_as | is_ls)[..., None, None]
        kind = is_ls.long()  # 0 AS, 1 LS (rows of the preference tables); devices without a task are masked
        w, tau, base = self.weight[kind][..., None, None], self.tau[kind][..., None, None], self.base[kind]
        k = has.flatten(1).sum(1).clamp(min=1).to(torch.float32)  # devices with a task: each gets 1 / K
        share = (1.0 / k)[:, None, None, None]
        snr = (torch.exp2(20.0 * dev[..., 2]) - 1.0)[..., None, None]  # full-band P g / (B N0)
        flops = ((torch.pow(10.0, 2.0 * dev[..., 3]) - 1.0) * 1e9)[..., None, None]
        q = (dev[..., 5] * (10.0 * self.slot_s))[..., None, None]
        glob = x[:, DEVICE_FEATURES * n :]
        f_edge = (self.edge_peak * (1.0 - glob[:, 0]))[:, None, None, None]
        q_edge = (glob[:, 1] * (10.0 * self.slot_s))[:, None, None, None]
        tiny = 1e-30
        fixed = q + self.cum / flops.clamp(min=tiny) + torch.where(self.offload, q_edge, 0.0)  # what no share shortens
        y_edge = self.work_edge / f_edge.clamp(min=tiny)
        # T(s) = fixed + X / (s log2(1 + snr / s)) + Y / s with X = bits / B, Y = W / F_E, for offloading options
        shared_at = torch.where(self.offload, (self.x_tx / torch.log2(1.0 + snr / share).clamp(min=tiny) + y_edge) / share, 0.0)
        latency = fixed + shared_at
        u = base - (1.0 - w) * torch.clamp(latency / tau, max=self.cap) - self.deadline_penalty * (latency > tau).float()
        # The share s of both resources that meets the deadline, T(s) = tau. The rate's log term changes slowly
        # with s, so a few fixed-point steps s <- (X / log2(1 + snr / s) + Y) / (tau - fixed) from s = 1/2 converge.
        slack = (tau - fixed).clamp(min=tiny)
        s_need = torch.full_like(latency, 0.5)
        for _ in range(4):
            s_need = ((self.x_tx / torch.log2(1.0 + snr / s_need).clamp(min=tiny) + y_edge) / slack).clamp(1e-3, 2.0)
        reachable = fixed < tau
        need = torch.where(self.offload, s_need, 0.0).masked_fill(~reachable, 2.0)
        out = torch.cat([u.reshape(b, n, self.options), need.reshape(b, n, self.options)], dim=-1)
        return out.masked_fill(~has.reshape(b, n, 1), 0.0)


def prior_size(m: int, l: int) -> int:
    """Values per device of the prior of M versions with L units: ``u_hat`` and ``need`` for each option."""
    return 2 * m * (l + 1)


def add_prior_layers(net: nn.Module, on: bool, size: int, hidden: int) -> None:
    """Gives an actor the prior's two entries (or ``None`` when ``on`` is false): ``prior_in``, a linear map
    of a device's ``size`` prior values into its first hidden layer, and ``prior_gain``, the weight of the
    prior in the (version, cut) logits, starting at 0 so that a new actor's choices start where they would
    without the prior (uniform)."""
    if on:
        net.prior_in = nn.Linear(size, hidden, bias=False)
        nn.init.orthogonal_(net.prior_in.weight, math.sqrt(2) / 4)  # u_hat spans a few units: keep the layer's scale
        net.prior_gain = nn.Parameter(torch.zeros(()))
    else:
        net.prior_in = None
        net.prior_gain = None


def prior_input(net: nn.Module, prior: Optional[torch.Tensor]):
    """The prior's contribution to an actor's first hidden layer, ``(B, N, hidden)``, or 0 without the prior."""
    if net.prior_in is None:
        return 0.0
    if prior is None:
        raise ValueError("this actor was built with option_prior: it needs the prior of the observation")
    return net.prior_in(prior)


def with_prior(net: nn.Module, logits: torch.Tensor, prior: Optional[torch.Tensor]) -> torch.Tensor:
    """``logits + prior_gain * prior`` for an actor with the prior (which then requires ``prior``)."""
    if net.prior_gain is None:
        return logits
    if prior is None:
        raise ValueError("this actor was built with option_prior: it needs the prior of the observation")
    return logits + net.prior_gain * prior[..., : logits.shape[-1]]  # the u_hat part


__all__ = ["OptionPrior", "add_prior_layers", "check_supported", "prior_input", "prior_size", "with_prior"]
