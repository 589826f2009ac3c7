"""Queue relief (``mcia.queue_relief``): its objective is the simulator's, it only ever improves on the
optimizer's objective, with one change of a device the optimizer leaves with work queued, and it works as a
teacher of HybridPPO."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mcia
from mcia import queue_relief
from mcia.policies import RustPolicy
from mcia.queue_relief import QueueRelief, SlotObjective, teacher_names, teacher_policy
from mcia.reference import state_from_snapshots

SLOTS = 40


def _drive(policy, config, envs=12, seed=1_000_000):
    """Yields ``(venv, state, optimizer action, policy action)`` for each slot of an episode driven by ``policy``."""
    venv = mcia.MciaVectorEnv(envs, config, num_threads=1, info=True, copy=True)
    venv.reset(seed=seed)
    opt = RustPolicy("optimizer", config)
    for _ in range(SLOTS):
        state = state_from_snapshots(json.loads(venv.snapshot()))
        base = {k: np.array(v, copy=True) for k, v in opt(venv).items()}
        act = {k: np.array(v, copy=True) for k, v in policy(venv).items()}
        yield venv, state, base, act
        venv.step(act)


def _value(obj, state, act, edge_cost):
    return obj(state, act["version"].astype(np.int64), act["partition"].astype(np.int64), obj.log_weights(act), edge_cost)


def test_objective_is_the_simulators_utility_and_queues():
    """The objective is what the Rust environment does: summed utility (the step's reward times the devices with
    a task) minus the queue costs on the backlogs the env is left with, on a slow edge where both queues grow."""
    config = mcia.Config({"edge": {"edge_gflops": 15.0}})
    obj = SlotObjective(config)
    relief = QueueRelief(config)
    edge_queued = device_queued = 0
    for venv, state, _, act in _drive(relief, config):
        edge_cost = obj.edge_cost(state, relief.greedy(venv))
        value, queued = _value(obj, state, act, edge_cost)
        snap = venv.snapshot()
        _, reward, _, _, info = venv.step(act)
        after = state_from_snapshots(json.loads(venv.snapshot()))
        venv.restore(snap)
        has = np.asarray(info["task_type"]) > 0
        np.testing.assert_allclose(queued, np.where(has, after["backlog_s"], 0.0), rtol=1e-9, atol=1e-9)
        want = reward * has.sum(1) - obj.backlog_cost * queued.sum(1) - edge_cost * after["edge_backlog_s"]
        np.testing.assert_allclose(value, want, rtol=1e-9, atol=1e-9)
        edge_queued += int((after["edge_backlog_s"] > 0).sum())
        device_queued += int((queued > 0).sum())
    assert edge_queued > 0 and device_queued > 0, "the slow edge must leave both queues with work"


def test_relief_improves_on_the_optimizer_with_one_change_of_a_queued_device():
    config = mcia.Config()
    relief = QueueRelief(config)
    obj = relief.objective
    changed = 0
    for venv, state, base, act in _drive(relief, config):
        vb, pb = base["version"].astype(np.int64), base["partition"].astype(np.int64)
        va, pa = act["version"].astype(np.int64), act["partition"].astype(np.int64)
        edge_cost = obj.edge_cost(state, relief.greedy(venv))
        before, queued = _value(obj, state, base, edge_cost)
        after, _ = _value(obj, state, act, edge_cost)
        assert np.all(after >= before - 1e-9)
        has = state["task"] > 0
        diff = has & ((va != vb) | (pa != pb))
        assert np.all(diff.sum(1) <= 1)
        assert np.all(queued[diff] > 0), "only a device the optimizer leaves with work queued may change"
        # Where nothing changed, the action is the optimizer's.
        same = ~diff.any(1)
        for key in ("version", "partition", "bandwidth", "compute"):
            np.testing.assert_array_equal(act[key][same], base[key][same])
        changed += int(diff.sum())
    assert changed == relief.relieved
    assert changed > 0, "over 12 x 40 slots of the default scenario the Pi Zeros leave work queued"


def test_relief_is_deterministic_and_rejects_what_it_cannot_model():
    config = mcia.Config()
    a = [act for *_, act in _drive(QueueRelief(config), config, envs=4)]
    b = [act for *_, act in _drive(QueueRelief(config), config, envs=4)]
    for x, y in zip(a, b):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    with pytest.raises(ValueError, match="queue relief"):
        QueueRelief({"cloud": {"enabled": True}})
    # The optimizer acts on the env's own scenario, so a policy built for another one must refuse it.
    other = mcia.MciaVectorEnv(2, config.replace({"radio.bandwidth_hz": 1e6}), num_threads=1)
    other.reset(seed=0)
    with pytest.raises(ValueError, match="another scenario"):
        QueueRelief(config)(other)
    assert "optimizer+relief" in teacher_names() and "optimizer" in teacher_names()
    assert isinstance(teacher_policy("greedy", config), RustPolicy)


def test_hybrid_ppo_imitates_queue_relief(monkeypatch):
    pytest.importorskip("torch")
    from mcia.agents import HybridPPO

    short = {"time": {"episode_slots": 20}}
    agent = HybridPPO(short, teacher="optimizer+relief", num_envs=8, n_steps=20, minibatch_size=160, n_epochs=1,
                      eval_every=1, eval_episodes=2, teacher_steps=320, teacher_epochs=2, teacher_rounds=2,
                      final_candidates=1, final_episodes=2)
    made = []
    real = queue_relief.teacher_policy

    def spy(name, config):
        made.append(real(name, config))
        return made[-1]

    monkeypatch.setattr(queue_relief, "teacher_policy", spy)
    agent.learn(320)
    assert agent.num_timesteps >= 320
    assert made and all(isinstance(t, QueueRelief) for t in made), "the warm start must use the relief teacher"
    with pytest.raises(ValueError, match="optimizer\\+relief"):
        HybridPPO({"cloud": {"enabled": True}}, teacher="optimizer+relief")
    with pytest.raises(ValueError, match="teacher must be one of"):
        HybridPPO(short, teacher="optimizer+plus")


def test_evaluate_accepts_optimizer_plus_relief():
    from mcia.evaluation import evaluate

    short = mcia.Config({"time": {"episode_slots": 20}})
    res = evaluate("optimizer+relief", short, episodes=2, seed=1_000_000, scores=False)
    ref = evaluate("optimizer", short, episodes=2, seed=1_000_000, scores=False)
    assert res.policy == "optimizer+relief"
    assert np.all(np.isfinite(res.episode_returns)) and res.episode_returns.shape == ref.episode_returns.shape
    with pytest.raises(ValueError, match="optimizer\\+relief"):
        evaluate("optimizer+plus", short, episodes=2)
