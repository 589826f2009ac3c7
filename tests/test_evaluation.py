"""Policies from Python, the evaluation harness and the CLI."""

import json

import numpy as np
import pytest

import mcia
from mcia.evaluation import evaluate
from mcia.policies import NAMES, RustPolicy, names_for


def test_every_rust_policy_acts_validly_from_python():
    venv = mcia.MciaVectorEnv(6, {"time": {"episode_slots": 4}})
    venv.reset(seed=0)
    assert set(NAMES) - set(names_for(venv.config)) == {"cloud_only"}
    for name in names_for(venv.config):
        policy = RustPolicy(name, venv.config)
        for _ in range(6):
            action = policy(venv)
            assert venv.action_space.contains({k: v.astype(venv.action_space[k].dtype) for k, v in action.items()}), name
            venv.step(action)
    with pytest.raises(mcia.PolicyError, match="unknown policy") as err:
        RustPolicy("oracle")
    assert isinstance(err.value, mcia.MciaError) and isinstance(err.value, ValueError)
    with pytest.raises(mcia.PolicyError, match="cloud"):
        RustPolicy("cloud_only", venv.config)


def test_metrics_agree_with_a_plain_recomputation():
    cfg = mcia.Config({"time": {"episode_slots": 12}})
    n, l = cfg.num_devices, 16
    res = evaluate("greedy", cfg, episodes=5, seed=3)
    venv = mcia.MciaVectorEnv(5, cfg)
    obs, _ = venv.reset(seed=3)
    policy = RustPolicy("greedy", cfg)
    returns = np.zeros(5)
    lat, met, acc, n_as = 0.0, 0, 0.0, 0
    offload, tasks = 0, 0
    for _ in range(12):
        obs, r, te, tr, info = venv.step({k: v.copy() for k, v in policy(venv).items()})
        returns += r
        for i in range(5):
            for k in range(n):
                if info["task_type"][i, k] == 1:
                    lat += info["latency"][i, k]
                    acc += info["accuracy"][i, k]
                    met += info["deadline_met"][i, k]
                    n_as += 1
                if info["task_type"][i, k] > 0:
                    tasks += 1
                    offload += info["partition"][i, k] < l
    np.testing.assert_allclose(res.episode_returns, returns, rtol=1e-12)
    assert res.per_type["AS"].tasks == n_as
    assert res.per_type["AS"].latency_s == pytest.approx(lat / n_as, rel=1e-12)
    assert res.per_type["AS"].accuracy == pytest.approx(acc / n_as, rel=1e-12)
    assert res.per_type["AS"].deadline_met == pytest.approx(met / n_as, rel=1e-12)
    assert res.offload_ratio == pytest.approx(offload / tasks)
    assert res.version_hist.sum() == tasks and res.cut_hist.sum() == tasks
    assert res.mean_return == pytest.approx(returns.mean())
    assert res.ci95 > 0


def test_evaluation_is_identical_across_thread_counts_and_repeatable():
    a = evaluate("optimizer", {"time": {"episode_slots": 10}}, episodes=80, seed=1, num_threads=1)
    b = evaluate("optimizer", {"time": {"episode_slots": 10}}, episodes=80, seed=1, num_threads=2)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
    c = evaluate("random", {"time": {"episode_slots": 10}}, episodes=8, seed=1)
    d = evaluate("random", {"time": {"episode_slots": 10}}, episodes=8, seed=1)
    np.testing.assert_array_equal(c.episode_returns, d.episode_returns)


def test_callable_policy_and_comparison_scores():
    cfg = {"time": {"episode_slots": 8}}
    n = mcia.Config(cfg).num_devices

    def all_local(obs):
        b = obs.shape[0]
        assert obs.shape[1] == 7 * n + 3
        return {"version": np.zeros((b, n), int), "partition": np.full((b, n), 16), "bandwidth": np.ones((b, n)), "compute": np.ones((b, n))}

    comp = mcia.compare(["greedy", all_local], cfg, episodes=4, seed=0)
    names = [r.policy for r in comp.results]
    assert names == ["greedy", "all_local", "random", "static", "optimizer"]
    by = {r.policy: r for r in comp.results}
    assert comp.score(by["random"]) == 0.0 and comp.score(by["optimizer"]) == 1.0
    assert comp.adaptivity(by["static"]) == 0.0 and comp.adaptivity(by["optimizer"]) == 1.0
    for r in comp.results:  # compare fills in the result fields from the same anchors
        assert r.score == comp.score(r) and r.adaptivity == comp.adaptivity(r)
    # all_local is device_only with version 0.
    ref = evaluate("device_only", cfg, episodes=4, seed=0)
    np.testing.assert_array_equal(by["all_local"].episode_returns, ref.episode_returns)
    assert "| 1 |" in comp.table()


def test_optimizer_beats_greedy_over_episodes():
    comp = mcia.compare(["greedy"], {"time": {"episode_slots": 40}}, episodes=16, seed=0)
    by = {r.policy: r for r in comp.results}
    assert by["optimizer"].mean_return > by["greedy"].mean_return
    assert by["greedy"].mean_return > by["random"].mean_return


def test_cli_compare_and_evaluate(tmp_path, capsys):
    from mcia.cli import main

    cfg = tmp_path / "s.toml"
    cfg.write_text("[time]\nepisode_slots = 6\n")
    assert main(["compare", "--config", str(cfg), "--episodes", "3", "--quiet", "--out", str(tmp_path / "c"), "--plot", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "optimizer" in out and "score" in out
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert {r["policy"] for r in data["results"]} == set(NAMES) - {"cloud_only"}
    assert (tmp_path / "c.png").stat().st_size > 10_000
    assert main(["evaluate", "--policy", "neurosurgeon", "--config", str(cfg), "--episodes", "2", "--quiet", "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "episodes.csv").read_text().count("\n") == 3
    assert main(["evaluate", "--policy", "nonsense", "--quiet"]) == 2
    assert "unknown policy" in capsys.readouterr().err


def test_callables_are_batched_and_per_env_adapts_one_observation_policies():
    import gymnasium as gym

    space = gym.make("MCIA-v0").action_space
    space.seed(0)
    with pytest.raises(mcia.ActionError, match=r"shape \(10,\).*\(B, N\) = \(3, 10\).*per_env") as err:
        evaluate(lambda obs: space.sample(), episodes=3, scores=False)
    assert isinstance(err.value, ValueError)
    res = evaluate(mcia.policies.per_env(lambda obs: space.sample()), {"time": {"episode_slots": 5}}, episodes=3, scores=False)
    assert res.policy == "per_env" and np.isfinite(res.mean_return)
    # per_env gives the same episodes as the equivalent batched policy.
    greedy_row = mcia.policies.per_env(lambda obs: {"version": np.zeros(10, int), "partition": np.full(10, 16), "bandwidth": np.ones(10), "compute": np.ones(10)})
    batched = lambda obs: {"version": np.zeros((len(obs), 10), int), "partition": np.full((len(obs), 10), 16), "bandwidth": np.ones((len(obs), 10)), "compute": np.ones((len(obs), 10))}  # noqa: E731
    a = evaluate(greedy_row, {"time": {"episode_slots": 5}}, episodes=3, scores=False)
    b = evaluate(batched, {"time": {"episode_slots": 5}}, episodes=3, scores=False)
    np.testing.assert_array_equal(a.episode_returns, b.episode_returns)
    with pytest.raises(mcia.ActionError, match="dict action"):
        evaluate(lambda obs: np.zeros((len(obs), 40)), episodes=2, scores=False)
    with pytest.raises(TypeError, match="callable"):
        mcia.policies.per_env(42)
