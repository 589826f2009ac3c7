"""The cloud tier (SPEC section 8): MCIA-v0 unchanged bit for bit, MCIA-Cloud-v0's spaces, info and
physics, and the baselines that use the cloud."""

import os

import gymnasium as gym
import numpy as np
import pytest

import mcia

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = np.load(os.path.join(HERE, "data", "v0_trajectories.npz"))


@pytest.mark.parametrize("scenario", ["default", "v0-light"])
@pytest.mark.parametrize("seed", [0, 7, 123])
def test_mcia_v0_trajectories_are_bit_identical_to_the_recorded_ones(scenario, seed):
    # The recording script, rerun on this build: every number must equal what was recorded before the cloud
    # tier existed.
    import importlib.util

    spec = importlib.util.spec_from_file_location("record_v0", os.path.join(HERE, "data", "record_v0.py"))
    rec = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rec)
    config = None if scenario == "default" else scenario
    env = mcia.MciaEnv(config=config)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    key = f"{scenario}_{seed}"
    assert np.array_equal(obs, RECORDED[key + "_obs"][0])
    for t in range(rec.STEPS):
        action = {
            "version": rng.integers(0, env.num_versions, env.num_devices),
            "partition": rng.integers(0, env.num_units + 1, env.num_devices),
            "bandwidth": rng.random(env.num_devices),
            "compute": rng.random(env.num_devices),
        }
        obs, r, _, _, info = env.step(action)
        assert np.array_equal(obs, RECORDED[key + "_obs"][t + 1])
        assert r == RECORDED[key + "_reward"][t]
        assert np.array_equal(info["latency"], RECORDED[key + "_latency"][t], equal_nan=True)
        assert np.array_equal(info["partition"], RECORDED[key + "_partition"][t])
    assert not set(info) & set(mcia._core.CLOUD_INFO_FIELDS)


@pytest.mark.parametrize("policy", ["random", "neurosurgeon", "greedy", "optimizer"])
def test_mcia_v0_baseline_returns_are_unchanged(policy):
    got = np.array(mcia.evaluate(policy, episodes=3, scores=False).episode_returns)
    assert np.array_equal(got, RECORDED[f"{policy}_returns"])


def test_cloud_env_spaces_and_info():
    env = gym.make("MCIA-Cloud-v0")
    n, l = env.unwrapped.num_devices, env.unwrapped.num_units
    assert env.observation_space.shape == (7 * n + 4,)
    assert set(env.action_space.spaces) == {"version", "partition", "bandwidth", "compute", "cloud_partition"}
    assert list(env.action_space["cloud_partition"].nvec) == [l + 1] * n
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    for _ in range(5):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(r)
    for field in ["cloud_partition", "t_wan", "t_cloud"]:
        assert info[field].shape == (n,)
    assert info["wan_bps"] > 0
    tasked = info["task_type"] > 0
    # p2' = max(p1, p2), -1 without a task; T adds the WAN and cloud terms.
    assert np.all(info["cloud_partition"][~tasked] == -1)
    assert np.all(info["cloud_partition"][tasked] >= info["partition"][tasked])
    total = info["t_wait"] + info["t_local"] + info["t_tx"] + info["t_edge"] + info["t_wan"] + info["t_cloud"]
    np.testing.assert_allclose(info["latency"][tasked], total[tasked], rtol=1e-12)


def test_cloud_only_sends_the_raw_input_through_the_edge_to_the_cloud():
    cfg = mcia.env_config("MCIA-Cloud-v0")
    env = mcia.MciaEnv(config=cfg)
    env.reset(seed=1)
    n, l = env.num_devices, env.num_units
    action = {"version": np.zeros(n, int), "partition": np.zeros(n, int), "bandwidth": np.ones(n), "compute": np.ones(n), "cloud_partition": np.zeros(n, int)}
    _, _, _, _, info = env.step(action)
    tasked = info["task_type"] > 0
    users = tasked.sum()
    c = env.config["cloud"]
    wan = info["wan_bps"]
    raw = 224 * 224 * 3
    # The edge only relays: no edge time; the WAN is split equally among the tasks crossing it.
    assert np.all(info["t_edge"][tasked] == 0.0)
    np.testing.assert_allclose(info["t_wan"][tasked], 8 * raw * users / wan + c["wan_rtt_s"], rtol=1e-12)
    f_c = c["cloud_gflops"] * 1e9 * c["cloud_efficiency"]
    work = mcia.zoo.deployed_versions(env.config)[0].total_flops
    np.testing.assert_allclose(info["t_cloud"][tasked], work / f_c, rtol=1e-12)
    assert np.all(info["compute_share"][tasked] == 0.0)


def test_second_cut_at_l_is_the_edge_only_outcome():
    # p2 = L on the cloud env gives MCIA-v0's outcome in the same state. The state after reset is the same
    # (the WAN level is drawn after everything else); later slots differ, the WAN chain taking a draw per step.
    cloud = mcia.MciaEnv(config={"cloud": {"enabled": True}})
    plain = mcia.MciaEnv()
    n, l = plain.num_devices, plain.num_units
    rng = np.random.default_rng(0)
    for seed in range(10):
        cloud.reset(seed=seed)
        plain.reset(seed=seed)
        a = {"version": rng.integers(0, 4, n), "partition": rng.integers(0, l + 1, n), "bandwidth": rng.random(n), "compute": rng.random(n)}
        _, r1, _, _, i1 = plain.step(a)
        _, r2, _, _, i2 = cloud.step({**a, "cloud_partition": np.full(n, l)})
        assert r1 == r2
        np.testing.assert_array_equal(i1["latency"], i2["latency"])


def test_cloud_action_key_errors_name_the_field():
    plain = mcia.MciaEnv()
    plain.reset(seed=0)
    a = plain.action_space.sample()
    with pytest.raises(mcia.ActionError, match="cloud_partition"):
        plain.step({**a, "cloud_partition": np.zeros(plain.num_devices, int)})
    cloud = mcia.MciaEnv(config={"cloud": {"enabled": True}})
    cloud.reset(seed=0)
    with pytest.raises(mcia.ActionError, match="cloud_partition"):
        cloud.step(a)
    bad = {**a, "cloud_partition": np.full(cloud.num_devices, cloud.num_units + 1)}
    before = cloud.snapshot()
    with pytest.raises(mcia.ActionError, match="device 0: action field 'cloud_partition'"):
        cloud.step(bad)
    assert cloud.snapshot() == before


def test_cloud_vector_env_and_baselines():
    envs = gym.make_vec("MCIA-Cloud-v0", num_envs=16)
    obs, info = envs.reset(seed=0)
    assert obs.shape[1] == 7 * 10 + 4
    for _ in range(3):
        obs, r, te, tr, info = envs.step(envs.action_space.sample())
    assert info["cloud_partition"].shape == (16, 10)
    envs.close()
    for name in ["cloud_only", "greedy", "neurosurgeon"]:
        res = mcia.evaluate(name, config={"cloud": {"enabled": True}}, episodes=2, scores=False)
        assert np.all(np.isfinite(res.episode_returns))
    with pytest.raises(mcia.PolicyError, match="cloud tier"):
        mcia.evaluate("cloud_only", episodes=1, scores=False)
