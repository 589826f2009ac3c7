"""The slot-wise optimizer with queue relief: a stronger teacher than the optimizer, and a measure of headroom.

The optimizer (SPEC section 7) accepts a change only when the slot's utility stays at or above greedy's.
That floor keeps a purely myopic search from starving a device, but it also refuses the one move that pays
later: when a slow device (a Pi Zero 2 W on the default scenario) is left with work queued, a lighter
(version, cut) costs utility now and spares the device's next tasks the wait. :class:`QueueRelief` takes the
optimizer's decision and, for every device it leaves with work queued, tries every other (version, cut) of
that device on the optimizer's own objective (:class:`SlotObjective`: summed utility minus the cost of queued
work on the devices and the edge) without the floor, and makes the best single change per environment when it
improves that objective. Candidates are evaluated by the NumPy reference model
(:class:`mcia.reference.ReferenceModel`) on the state the environment is in (read with ``snapshot()``).

On the default scenario it changes the optimizer's decision in under 1% of slots (on 16 validation
episodes: 12 changes in 1,600 slots, all for the two Pi Zeros) and gains +0.18 ± 0.26 return on the
evaluation seeds and +0.39 ± 0.41 on 16 validation episodes (``python examples/headroom.py``), most of what
one round of a broader search gains there; neither gain is outside the noise on its own. It is a lower bound
on what a policy that plans for the queues can gain over the myopic optimizer.
"""

from __future__ import annotations

import json
from typing import Dict

import numpy as np

from .config import ConfigLike, as_config
from .policies import RustPolicy
from .reference import ReferenceModel, state_from_snapshots


class SlotObjective:
    """The optimizer's search objective, evaluated on batches of candidate decisions with the NumPy reference
    model (the simulator's independent twin: the utility is the environment's, tested).

    ``objective = sum_n u_n - c_q * sum_n q_n' - c_E * q_E'``: summed utility of the devices with a task, minus
    the work each of them is left with (``q_n'``, seconds) at the expected latency weight of its next slot
    ``c_q = arrival_prob * E[(1 - w) / tau]``, minus the work left on the edge (``q_E'``) at
    ``c_E = E[(1 - w) / tau] * max(1, K_greedy)``, ``K_greedy`` being the number of devices that offload in
    greedy's decision of the slot. These are the terms and weights of the Rust optimizer's search
    (``src/policies/optimizer.rs``); the reference model caps a backlog at ``MAX_TIME_S``, the Rust search does
    not, which only matters past that cap.
    """

    def __init__(self, config: ConfigLike = None, seed: int = 0) -> None:
        cfg = as_config(config).to_dict()
        if cfg.get("cloud", {}).get("enabled") or cfg["radio"].get("trace_file"):
            raise ValueError("queue relief: only the edge tier with the Shannon uplink is modelled (no cloud, no traces)")
        self.model = ReferenceModel(cfg)
        t = cfg["tasks"]
        alpha = (1.0 - self.model.pref_weight) / self.model.pref_deadline_s   # indexed by task code
        self.mean_alpha = t["as_ratio"] * alpha[1] + (1.0 - t["as_ratio"]) * alpha[2]
        self.backlog_cost = t["arrival_prob"] * self.mean_alpha
        self.eps = cfg["action"]["min_share_weight"]
        # The step also draws the next state; those draws do not enter the objective, so any noise will do.
        self.rng = np.random.default_rng(seed)

    def edge_cost(self, state: dict, greedy: Dict[str, np.ndarray]) -> np.ndarray:
        """``c_E`` per environment ``(E,)`` from greedy's action for the states ``state``."""
        offloading = ((np.asarray(state["task"]) > 0) & (np.asarray(greedy["partition"]) < self.model.l)).sum(1)
        return self.mean_alpha * np.maximum(offloading, 1)

    def __call__(self, state: dict, version: np.ndarray, partition: np.ndarray, logw: np.ndarray,
                 edge_cost: np.ndarray, rows=None):
        """Objective of candidates ``version``, ``partition`` ``(R, N)`` and log-weights ``logw`` ``(R, N, 2)``
        on the states ``rows`` of ``state`` (default: row i on state i); ``edge_cost`` is :meth:`edge_cost` of
        the states. Also returns each device's queued work after the slot, ``(R, N)``."""
        if rows is not None:
            state = {key: val[rows] for key, val in state.items()}
            edge_cost = edge_cost[rows]
        w = np.exp(logw - logw.max(axis=1, keepdims=True))            # weights in (0, 1]
        act = {"version": version, "partition": partition, "bandwidth": w[..., 0], "compute": w[..., 1]}
        nxt, _, info, _, _ = self.model.step(state, act, self.model.sample_noise(self.rng, len(version)))
        has = info["task_type"] > 0
        queued = np.where(has, nxt["backlog_s"], 0.0)
        utility = np.where(has, np.nan_to_num(info["utility"]), 0.0).sum(1)
        value = utility - self.backlog_cost * queued.sum(1) - edge_cost * nxt["edge_backlog_s"]
        return value, queued

    def log_weights(self, action: Dict[str, np.ndarray]) -> np.ndarray:
        """``(E, N, 2)`` log of an action's (bandwidth, compute) weights, floored at ``min_share_weight``."""
        w = np.stack([action["bandwidth"], action["compute"]], -1).astype(np.float64)
        return np.log(np.maximum(w, self.eps))

    def joining_log_weights(self, logw: np.ndarray, offload: np.ndarray) -> np.ndarray:
        """``logw`` with every device outside the offloading set bidding the mean of the set's (floored) weights,
        as the Rust optimizer gives a device that starts to offload; weight 1 where no device offloads."""
        w = np.exp(logw)
        count = offload.sum(1)[:, None]
        mean = np.where(count > 0, (w * offload[..., None]).sum(1) / np.maximum(count, 1), 1.0)   # (E, 2)
        return np.where(offload[..., None], logw, np.log(mean)[:, None])


class QueueRelief:
    """The optimizer plus queue relief (see the module doc), for a :class:`mcia.MciaVectorEnv`.

    Called with the vector env, it returns the batch's action as a dict of ``(B, N)`` arrays, like
    :class:`mcia.policies.RustPolicy`. Deterministic. ``relieved`` counts the changes it made.
    """

    needs_state = True
    name = "optimizer+relief"

    def __init__(self, config: ConfigLike = None) -> None:
        self.config = as_config(config)
        self.objective = SlotObjective(self.config)
        self.optimizer = RustPolicy("optimizer", self.config)
        self.greedy = RustPolicy("greedy", self.config)   # sets the edge queue's weight, as in the optimizer
        self.relieved = 0
        self._checked = None   # the last vector env config object found equal to ours (a config is not mutated)
        model = self.objective.model
        self._options = np.array([(v, p) for v in range(model.m) for p in range(model.l + 1)])   # every (v, p)

    def read_slot(self, venv):
        """The slot as the search starts from it: the optimizer's action (a copy), the state dict read from
        the env's snapshot, and the edge queue's cost per environment (from greedy's action)."""
        base = {k: np.array(v, copy=True) for k, v in self.optimizer(venv).items()}
        state = state_from_snapshots(json.loads(venv.snapshot()))
        return base, state, self.objective.edge_cost(state, self.greedy(venv))

    def __call__(self, venv) -> Dict[str, np.ndarray]:
        # The optimizer decides on the env's own scenario; the objective must model that same scenario.
        if venv.config is not self._checked:
            if venv.config.to_dict() != self.config.to_dict():
                raise ValueError(f"{self.name}: the vector env runs another scenario than the one this policy was built for")
            self._checked = venv.config
        base, state, edge_cost = self.read_slot(venv)
        obj, model = self.objective, self.objective.model
        version, partition = base["version"].astype(np.int64), base["partition"].astype(np.int64)
        logw = obj.log_weights(base)
        start, queued = obj(state, version, partition, logw, edge_cost)
        pairs = np.argwhere(queued > 0)                                 # (env, device) left with work queued
        if len(pairs) == 0:
            return base
        options = self._options
        c = len(options)
        env_of, dev_of = np.repeat(pairs[:, 0], c), np.repeat(pairs[:, 1], c)
        rows = np.arange(len(env_of))
        ver, par = version[env_of].copy(), partition[env_of].copy()
        ver[rows, dev_of] = np.tile(options[:, 0], len(pairs))
        par[rows, dev_of] = np.tile(options[:, 1], len(pairs))
        offload = (state["task"] > 0) & (partition < model.l)
        lw = obj.joining_log_weights(logw, offload)[env_of]
        value, _ = obj(state, ver, par, lw, edge_cost, rows=env_of)
        # Per environment, its best candidate over all its queued devices.
        order = np.lexsort((-value, env_of))
        first = order[np.r_[True, env_of[order][1:] != env_of[order][:-1]]]
        for r in first:
            e = env_of[r]
            if value[r] > start[e] + 1e-12:
                base["version"][e] = ver[r].astype(base["version"].dtype)
                base["partition"][e] = par[r].astype(base["partition"].dtype)
                # Only the changed device's bid moves (to the joining bid if it starts to offload); the
                # others' bids are the optimizer's, and bids outside the offloading set do not matter.
                new_lw = logw[e].copy()
                new_lw[dev_of[r]] = lw[r][dev_of[r]]
                w = np.exp(new_lw - new_lw.max(axis=0, keepdims=True))
                base["bandwidth"][e] = w[:, 0].astype(base["bandwidth"].dtype)
                base["compute"][e] = w[:, 1].astype(base["compute"].dtype)
                self.relieved += 1
        return base


def teacher_names() -> tuple:
    """The policies a learning agent may imitate: the built-in ones and ``optimizer+relief``."""
    from .policies import NAMES

    return tuple(NAMES) + (QueueRelief.name,)


def teacher_policy(name: str, config: ConfigLike = None, seed: int = 0):
    """The policy called ``name`` (one of :func:`teacher_names`) for a vector env of scenario ``config``;
    ``seed`` seeds ``random``."""
    if name == QueueRelief.name:
        return QueueRelief(config)
    return RustPolicy(name, config, seed=seed)
