"""The native vector env: make_vec modes, determinism across threads and batch sizes, autoreset semantics,
copy semantics, Gymnasium vector wrappers, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

import mcia


def rollout(venv, steps, seed=0, action_seed=1):
    obs, _ = venv.reset(seed=seed)
    venv.action_space.seed(action_seed)
    out = [obs]
    rewards = []
    for _ in range(steps):
        obs, r, te, tr, info = venv.step(venv.action_space.sample())
        out.append(obs)
        rewards.append(r)
    return np.stack(out), np.stack(rewards)


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync", "async"])
def test_make_vec_in_every_mode(mode):
    venv = gym.make_vec("MCIA-v0", num_envs=3, vectorization_mode=mode)
    obs, info = venv.reset(seed=4)
    assert obs.shape == (3, 7 * 10 + 3) and obs.dtype == np.float32
    venv.action_space.seed(0)
    obs, r, te, tr, info = venv.step(venv.action_space.sample())
    assert r.shape == (3,) and te.shape == (3,) and tr.shape == (3,)
    assert info["latency"].shape == (3, 10)
    assert info["edge_backlog_s"].shape == (3,) and info["edge_flops"].shape == (3,)
    venv.close()


def test_native_vector_env_equals_sync_vector_env():
    """Env i seeded s + i: the native batch matches Gymnasium's SyncVectorEnv over single envs."""
    native = gym.make_vec("MCIA-v0", num_envs=4, vectorization_mode="vector_entry_point")
    sync = gym.make_vec("MCIA-v0", num_envs=4, vectorization_mode="sync")
    a = rollout(native, 130, seed=11)
    b = rollout(sync, 130, seed=11)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_identical_across_threads_and_batch_sizes():
    big1 = rollout(mcia.MciaVectorEnv(256, num_threads=1), 40, seed=3)
    big2 = rollout(mcia.MciaVectorEnv(256, num_threads=2), 40, seed=3)
    np.testing.assert_array_equal(big1[0], big2[0])
    np.testing.assert_array_equal(big1[1], big2[1])
    # Env 5 of the batch equals a single env seeded 3 + 5 given the same actions.
    venv = mcia.MciaVectorEnv(64, num_threads=2)
    single = mcia.MciaEnv()
    obs, _ = venv.reset(seed=3)
    sobs, _ = single.reset(seed=8)
    np.testing.assert_array_equal(obs[5], sobs)
    venv.action_space.seed(0)
    for _ in range(50):
        act = venv.action_space.sample()
        obs, r, *_ = venv.step(act)
        sobs, sr, *_ = single.step({k: v[5] for k, v in act.items()})
        np.testing.assert_array_equal(obs[5], sobs)
        assert r[5] == sr


def test_next_step_autoreset(small_config):
    venv = mcia.MciaVectorEnv(2, small_config)
    obs, _ = venv.reset(seed=0)
    venv.action_space.seed(0)
    for k in range(5):
        obs, r, te, tr, info = venv.step(venv.action_space.sample())
    assert tr.all() and not te.any()
    assert np.allclose(obs[:, -1], 1.0)
    obs, r, te, tr, info = venv.step(venv.action_space.sample())
    assert not tr.any() and np.all(r == 0.0) and np.allclose(obs[:, -1], 0.0)
    assert np.all(np.isnan(info["latency"]))  # a reset step carries no decision
    # The reset continued each env's own stream: a single env reproduces it.
    single = mcia.MciaEnv(small_config)
    single.reset(seed=1)
    single.action_space.seed(5)
    for _ in range(5):
        single.step(single.action_space.sample())
    np.testing.assert_array_equal(single.reset()[0], obs[1])


def test_same_step_autoreset(small_config):
    venv = mcia.MciaVectorEnv(3, small_config, autoreset_mode="same_step")
    ref = mcia.MciaVectorEnv(3, small_config)
    venv.reset(seed=0)
    ref.reset(seed=0)
    venv.action_space.seed(0)
    for k in range(5):
        act = venv.action_space.sample()
        obs, r, te, tr, info = venv.step(act)
        robs, rr, *_ , rinfo = ref.step(act)
        np.testing.assert_array_equal(r, rr)
    assert tr.all()
    assert info["_final_obs"].all()
    for i in range(3):
        np.testing.assert_array_equal(info["final_obs"][i], robs[i])
    np.testing.assert_array_equal(info["final_info"]["latency"], rinfo["latency"])
    assert np.allclose(obs[:, -1], 0.0)
    # The obs returned at the end is the one NEXT_STEP returns one step later.
    robs2, rr2, *_ = ref.step(act)
    np.testing.assert_array_equal(obs, robs2)


def test_copy_false_returns_the_in_place_buffers():
    venv = mcia.MciaVectorEnv(4, copy=False)
    o1, _ = venv.reset(seed=0)
    o2, *_ = venv.step(venv.action_space.sample())
    assert o1 is o2
    copying = mcia.MciaVectorEnv(4)
    c1, _ = copying.reset(seed=0)
    c2, *_ = copying.step(copying.action_space.sample())
    assert c1 is not c2 and not np.shares_memory(c1, c2)


def test_reset_seed_forms_and_mask():
    venv = mcia.MciaVectorEnv(3)
    a, _ = venv.reset(seed=[10, 11, 12])
    b, _ = venv.reset(seed=10)
    np.testing.assert_array_equal(a, b)
    c, _ = venv.reset(seed=[10, None, 12])
    np.testing.assert_array_equal(c[0], a[0])
    assert not np.array_equal(c[1], a[1])
    before = venv.step(venv.action_space.sample())[0]
    d, _ = venv.reset(seed=[99, 99, 99], options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(d[0], before[0])
    np.testing.assert_array_equal(d[1], mcia.MciaEnv().reset(seed=99)[0])
    with pytest.raises(ValueError, match="3 entries"):
        venv.reset(seed=[1, 2])


def test_vector_errors_name_env_and_device():
    venv = mcia.MciaVectorEnv(8)
    with pytest.raises(mcia.ResetNeeded):
        venv.step(venv.action_space.sample())
    venv.reset(seed=0)
    act = venv.action_space.sample()
    act["compute"] = act["compute"].astype(np.float64)
    act["compute"][6, 3] = -1.0
    snap = venv.snapshot()
    with pytest.raises(mcia.ActionError, match="env 6, device 3: action field 'compute'"):
        venv.step(act)
    assert venv.snapshot() == snap
    act = venv.action_space.sample()
    act["version"] = act["version"][:, :4]
    with pytest.raises(mcia.ActionError, match="shape"):
        venv.step(act)
    with pytest.raises(ValueError):
        mcia.MciaVectorEnv(0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        mcia.MciaVectorEnv(2, autoreset_mode="disabled")


def test_gymnasium_vector_wrappers():
    venv = RecordEpisodeStatistics(mcia.MciaVectorEnv(4, {"time": {"episode_slots": 6}}))
    venv.reset(seed=0)
    venv.action_space.seed(0)
    episodes = []
    for _ in range(14):
        *_, info = venv.step(venv.action_space.sample())
        if "episode" in info:
            episodes.append(info["episode"]["l"][info["_episode"]])
    assert episodes and all(np.all(l == 6) for l in episodes)
    norm = NormalizeObservation(mcia.MciaVectorEnv(4))
    obs, _ = norm.reset(seed=0)
    for _ in range(5):
        obs, *_ = norm.step(norm.action_space.sample())
    assert np.all(np.isfinite(obs))


def test_info_opt_out_and_threads_setting():
    venv = mcia.MciaVectorEnv(4, info=False, num_threads=1)
    _, info = venv.reset(seed=0)
    assert info == {}
    venv.num_threads = 2
    assert venv.num_threads == 2
    venv.with_info = True
    *_, info = venv.step(venv.action_space.sample())
    assert info["utility"].shape == (4, 10)
    with pytest.raises(ValueError):
        venv.num_threads = 0
