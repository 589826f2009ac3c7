"""The optimizer's share step for decisions made elsewhere: ``RustPolicy("optimizer").shares``,
:class:`mcia.agents.SolverShares` and the ``+shares`` policy names."""

from __future__ import annotations

import numpy as np
import pytest

import mcia
from mcia.config import as_config
from mcia.evaluation import policy_label, resolve_policy
from mcia.policies import RustPolicy

SHORT = {"time": {"episode_slots": 20}}


def _venv(b=12, seed=4, threads=None):
    venv = mcia.MciaVectorEnv(b, SHORT, num_threads=threads)
    obs, _ = venv.reset(seed=seed)
    return venv, obs


def _copy(action):
    return {k: np.array(v, copy=True) for k, v in action.items()}


def test_shares_keep_the_decisions_and_beat_equal_weights():
    venv, _ = _venv()
    greedy, opt = RustPolicy("greedy", SHORT), RustPolicy("optimizer", SHORT)
    equal_total = shared_total = 0.0
    for _ in range(10):
        decided = _copy(greedy(venv))
        shared = _copy(opt.shares(venv, decided))
        assert np.array_equal(shared["version"], decided["version"]) and np.array_equal(shared["partition"], decided["partition"])
        for k in ("bandwidth", "compute"):
            assert shared[k].shape == decided[k].shape and np.all(np.isfinite(shared[k])) and np.all((shared[k] >= 0) & (shared[k] <= 1))
        # The same slot under both weightings, on snapshots of the batch.
        snap = venv.snapshot()
        _, r_equal, *_ = venv.step(decided)
        venv.restore(snap)
        _, r_shared, *_ = venv.step(shared)
        equal_total += float(r_equal.sum())
        shared_total += float(r_shared.sum())
    assert shared_total > equal_total


def test_shares_ignore_the_weights_they_are_given():
    venv, _ = _venv()
    opt = RustPolicy("optimizer", SHORT)
    decided = _copy(RustPolicy("greedy", SHORT)(venv))
    first = _copy(opt.shares(venv, decided))
    decided["bandwidth"][:] = 0.123
    decided["compute"][:] = 7.0
    assert all(np.array_equal(first[k], v) for k, v in opt.shares(venv, decided).items())


def test_shares_are_the_same_for_any_thread_count():
    out = []
    for threads in (1, 2):
        venv, _ = _venv(b=40, threads=threads)
        out.append(_copy(RustPolicy("optimizer", SHORT).shares(venv, RustPolicy("greedy", SHORT)(venv))))
    assert all(np.array_equal(out[0][k], out[1][k]) for k in out[0])


@pytest.mark.parametrize("field,value,message", [("version", 99, "device 3: action field 'version'"), ("partition", -1, "device 3: action field 'partition'")])
def test_a_bad_decision_names_env_and_device_and_changes_nothing(field, value, message):
    venv, obs = _venv()
    opt = RustPolicy("optimizer", SHORT)
    decided = _copy(RustPolicy("greedy", SHORT)(venv))
    before = _copy(opt.shares(venv, decided))
    decided[field][5, 3] = value
    with pytest.raises(mcia.ActionError, match=rf"env 5, {message}"):
        opt.shares(venv, decided)
    # Nothing was written and the env did not move: the same decisions give the same weights again.
    decided[field][5, 3] = before[field][5, 3]
    assert all(np.array_equal(before[k], v) for k, v in opt.shares(venv, decided).items())
    assert np.array_equal(venv.reset(seed=4)[0], obs)


def test_shares_reject_wrong_shapes_missing_fields_and_other_policies():
    venv, _ = _venv()
    decided = _copy(RustPolicy("greedy", SHORT)(venv))
    opt = RustPolicy("optimizer", SHORT)
    with pytest.raises(mcia.ActionError, match=r"'version' must be \(B, N\) = \(12, 10\), got \(12, 9\)"):
        opt.shares(venv, {**decided, "version": decided["version"][:, :9]})
    with pytest.raises(mcia.ActionError, match="no 'partition'"):
        opt.shares(venv, {"version": decided["version"]})
    with pytest.raises(mcia.PolicyError, match="only the optimizer has a share step"):
        RustPolicy("greedy", SHORT).shares(venv, decided)
    # Indices of another dtype: integral floats are read as the env reads them, anything else is an error.
    as_ints = _copy(opt.shares(venv, decided))
    as_floats = opt.shares(venv, {**decided, "version": decided["version"].astype(np.float32)})
    assert all(np.array_equal(as_ints[k], v) for k, v in as_floats.items())
    for bad in (decided["version"] + 0.5, np.full((12, 10), 1e308), np.full((12, 10), np.nan), decided["version"].astype(str)):
        with pytest.raises(mcia.ActionError, match="'version' must hold integer indices"):
            opt.shares(venv, {**decided, "version": bad})


def test_share_step_needs_the_second_cut_on_the_cloud_tier():
    cfg = {"cloud": {"enabled": True}, "time": {"episode_slots": 20}}
    venv = mcia.MciaVectorEnv(6, cfg)
    venv.reset(seed=1)
    decided = _copy(RustPolicy("greedy", cfg)(venv))
    opt = RustPolicy("optimizer", cfg)
    shared = opt.shares(venv, decided)
    assert np.array_equal(shared["cloud_partition"], decided["cloud_partition"])
    venv.step(shared)
    with pytest.raises(mcia.ActionError, match="cloud_partition"):
        opt.shares(venv, {k: v for k, v in decided.items() if k != "cloud_partition"})


def test_plus_shares_names_in_evaluate_and_compare():
    comp = mcia.compare(["optimizer", "optimizer+shares", "greedy", "greedy+shares", "static"], SHORT, episodes=3)
    by = {r.policy: r for r in comp.results}
    assert {"optimizer", "optimizer+shares", "greedy", "greedy+shares", "static"} <= set(by)  # and the random anchor
    # Greedy's decisions gain from the optimizer's weights; the optimizer's own decisions stay near it.
    assert by["greedy+shares"].mean_return > by["greedy"].mean_return
    assert abs(comp.adaptivity(by["optimizer+shares"]) - 1.0) < 0.05
    with pytest.raises(ValueError, match=r"either may end in '\+shares'"):
        mcia.evaluate("no-such-policy+shares", SHORT, episodes=1)


def test_policy_label_needs_no_loading(tmp_path):
    run = tmp_path / "my-run"
    run.mkdir()
    assert policy_label(str(run)) == "my-run"
    assert policy_label(str(run) + "/+shares") == "my-run+shares"
    assert policy_label(str(run) + "+shares") == "my-run+shares"
    assert policy_label("greedy+shares") == "greedy+shares"
    assert policy_label(RustPolicy("greedy", SHORT)) == "greedy"


def test_solver_shares_wraps_a_trained_agent(tmp_path):
    pytest.importorskip("torch")
    from mcia.agents import HybridPPO, SolverShares

    agent = HybridPPO(SHORT, seed=0, num_envs=8, n_steps=10, minibatch_size=80, n_epochs=1, eval_every=1, eval_episodes=2,
                      teacher_steps=160, teacher_epochs=1, teacher_rounds=1)
    agent.learn(80, progress_bar=False)
    path = str(tmp_path / "agent")
    agent.save(path)
    name, act = resolve_policy(path + "+shares", as_config(SHORT))
    assert name == "agent+shares"
    venv, obs = _venv()
    action = act(venv, obs)
    own = agent.act(obs, deterministic=True)
    assert np.array_equal(action["version"], own["version"]) and np.array_equal(action["partition"], own["partition"])
    res = mcia.evaluate(path + "+shares", SHORT, episodes=2)
    assert res.policy == "agent+shares" and np.isfinite(res.mean_return)
    with pytest.raises(TypeError, match="SolverShares needs"):
        SolverShares(object(), SHORT)


def test_an_agent_trained_with_the_share_solver(tmp_path):
    """``share_solver=True``: the rollouts, validation and every evaluation play the agent's (version, cut)
    with the optimizer's shares, and the loss has no share term (its share entropy is 0)."""
    pytest.importorskip("torch")
    from mcia.agents import HybridPPO, load_agent

    tiny = dict(num_envs=8, n_steps=10, minibatch_size=80, n_epochs=1, eval_every=1, eval_episodes=2, teacher_steps=160,
                teacher_epochs=1, teacher_rounds=2)
    agent = HybridPPO(SHORT, seed=1, share_solver=True, **tiny)
    agent.learn(160, progress_bar=False)
    assert all(row["share_entropy"] == 0.0 for row in agent.curve[1:])
    path = str(tmp_path / "solver")
    agent.save(path)
    loaded = load_agent(path)
    assert loaded.params.share_solver is True
    # The plain checkpoint name already plays with the solver's shares: the same returns as "+shares".
    plain, shared = mcia.evaluate(path, SHORT, episodes=2), mcia.evaluate(path + "+shares", SHORT, episodes=2)
    assert plain.policy == "solver" and np.array_equal(plain.episode_returns, shared.episode_returns)
    venv, obs = _venv()
    played = loaded.with_shares(venv, loaded.act(obs))
    assert np.array_equal(played["bandwidth"], RustPolicy("optimizer", SHORT).shares(venv, loaded.act(obs))["bandwidth"])
    # Without the option, with_shares is the action itself.
    other = HybridPPO(SHORT, seed=1, **tiny)
    a = other.act(obs)
    assert other.with_shares(venv, a) is a
    with pytest.raises(ValueError, match="share_solver must be True or False"):
        HybridPPO(SHORT, share_solver="yes")


def test_sweep_takes_plus_shares_names():
    from mcia.sweep import sweep

    res = sweep("bandwidth_mhz", [5, 20], ["greedy", "greedy+shares"], SHORT, episodes=1, progress=False)
    assert res.policies == ["greedy", "greedy+shares"]
    rows = {(r["value_label"], r["policy"]) for r in res.rows}
    assert rows == {(v, p) for v in ("5", "20") for p in ("greedy", "greedy+shares")}
