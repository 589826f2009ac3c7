"""Pickling mid-episode continues identically; AsyncVectorEnv works across processes."""

import pickle

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest

import mcia


def continue_for(env, steps, action_seed):
    env.action_space.seed(action_seed)
    out = []
    for _ in range(steps):
        obs, r, *_ = env.step(env.action_space.sample())
        out.append(np.concatenate([np.ravel(obs), np.ravel(r)]))
    return np.concatenate(out)


@pytest.mark.parametrize("dumps,loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)])
def test_single_env_pickles_mid_episode(dumps, loads):
    env = mcia.MciaEnv({"radio": {"bandwidth_hz": 4e6}})
    env.reset(seed=3)
    continue_for(env, 17, 0)
    clone = loads(dumps(env))
    assert clone.config == env.config
    np.testing.assert_array_equal(continue_for(env, 40, 1), continue_for(clone, 40, 1))
    # The Gymnasium RNG travels too.
    assert env.np_random.integers(1 << 30) == clone.np_random.integers(1 << 30)


def test_made_env_pickles():
    env = gym.make("MCIA-v0")
    env.reset(seed=1)
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(continue_for(env, 10, 2), continue_for(clone, 10, 2))


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_vector_env_pickles_mid_episode(mode):
    venv = mcia.MciaVectorEnv(70, {"time": {"episode_slots": 9}}, autoreset_mode=mode, num_threads=2)
    venv.reset(seed=5)
    continue_for(venv, 13, 0)
    clone = cloudpickle.loads(cloudpickle.dumps(venv))
    assert clone.num_threads == 2 and clone.autoreset_mode == venv.autoreset_mode
    np.testing.assert_array_equal(continue_for(venv, 25, 1), continue_for(clone, 25, 1))


def test_async_vector_env_over_processes():
    venv = gym.make_vec("MCIA-v0", num_envs=2, vectorization_mode="async")
    sync = gym.make_vec("MCIA-v0", num_envs=2, vectorization_mode="sync")
    venv.reset(seed=8)
    sync.reset(seed=8)
    np.testing.assert_array_equal(continue_for(venv, 12, 3), continue_for(sync, 12, 3))
    venv.close()


def test_vector_env_survives_fork_with_its_pool():
    """The rayon pool is rebuilt in a forked child instead of deadlocking."""
    import multiprocessing as mp

    venv = mcia.MciaVectorEnv(256, num_threads=2)
    venv.reset(seed=0)
    venv.step(venv.action_space.sample())  # start the pool in the parent
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_child_steps, (venv,))
        assert result.get(timeout=60) == 256


def _child_steps(venv):
    venv.action_space.seed(0)
    obs, *_ = venv.step(venv.action_space.sample())
    return obs.shape[0]


def test_sb3_subproc_vec_env_over_wrapped_single_envs():
    """SB3's SubprocVecEnv (fork start method) runs MCIA envs in worker processes."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from mcia.wrappers import BoxAction

    def make(i):
        return lambda: BoxAction(mcia.MciaEnv({"time": {"episode_slots": 5}}))

    sub = SubprocVecEnv([make(i) for i in range(2)], start_method="fork")
    dummy = DummyVecEnv([make(i) for i in range(2)])
    sub.seed(3)
    dummy.seed(3)
    a, b = sub.reset(), dummy.reset()
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    for _ in range(7):
        act = rng.random((2, 4 * 10)).astype(np.float32)  # 4N, N = 10 devices by default
        ra, rb = sub.step(act), dummy.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        np.testing.assert_allclose(ra[1], rb[1])
    sub.close()
