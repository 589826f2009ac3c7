"""The single environment: Gymnasium conformance, spaces, seeding, info, errors, rendering."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mcia
from mcia.env import INFO_F64_FIELDS, INFO_I64_FIELDS
from mcia.spaces import CLOUD_INFO_FIELDS


def test_check_env_passes_without_warnings():
    env = gym.make("MCIA-v0").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=False)


def test_check_env_with_render_modes():
    for mode in ("ansi", "rgb_array"):
        env = gym.make("MCIA-v0", render_mode=mode).unwrapped
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env)


def test_make_registers_and_wraps():
    env = gym.make("MCIA-v0")
    assert env.spec.id == "MCIA-v0"
    assert env.spec.max_episode_steps == 100
    assert isinstance(env.unwrapped, mcia.MciaEnv)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    # The cloud fields (t_wan, t_cloud, cloud_partition, wan_bps) appear on MCIA-Cloud-v0 only.
    assert set(info) == (set(INFO_F64_FIELDS) | set(INFO_I64_FIELDS) | {"edge_flops", "edge_backlog_s"}) - set(CLOUD_INFO_FIELDS)
    assert info["edge_backlog_s"] == 0.0  # q_E before the first step: reset empties the edge queue


def test_spaces_match_the_spec():
    env = mcia.MciaEnv()
    n, m, l = 10, 4, 16
    assert env.observation_space.shape == (7 * n + 3,)
    assert env.observation_space.dtype == np.float32
    high = env.observation_space.high
    assert list(high[:7]) == [1, 1, 2, 2, 1, 1, 1] and list(high[-3:]) == [1, 1, 1]
    assert np.all(env.observation_space.low == 0)
    a = env.action_space
    assert list(a["version"].nvec) == [m] * n
    assert list(a["partition"].nvec) == [l + 1] * n
    assert a["bandwidth"].shape == (n,) and a["compute"].shape == (n,)


def test_step_types_and_info_contents():
    env = mcia.MciaEnv()
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
        assert env.observation_space.contains(obs)
        has = info["task_type"] > 0
        assert np.all(np.isnan(info["latency"][~has])) and np.all(info["version"][~has] == -1)
        assert np.all(info["version"][has] == action["version"][has])
        assert np.all(info["partition"][has] == action["partition"][has])
        lat = info["t_wait"] + info["t_local"] + info["t_tx"] + info["t_edge"]
        np.testing.assert_allclose(lat[has], info["latency"][has], rtol=1e-12)
        if has.any():
            assert reward == pytest.approx(info["utility"][has].mean(), rel=1e-12)
        else:
            assert reward == 0.0
        assert info["edge_flops"] > 0
        assert type(info["edge_backlog_s"]) is float and info["edge_backlog_s"] >= 0.0


def test_seeding_is_reproducible():
    def run(seed):
        env = mcia.MciaEnv()
        obs0, _ = env.reset(seed=seed)
        env.action_space.seed(1)
        out = [obs0]
        for _ in range(30):
            obs, r, *_ = env.step(env.action_space.sample())
            out.append(obs)
            out.append(np.array([r]))
        return np.concatenate(out)

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_reset_without_seed_continues_and_first_reset_is_random():
    a, b = mcia.MciaEnv(), mcia.MciaEnv()
    oa, _ = a.reset()
    ob, _ = b.reset()
    assert not np.array_equal(oa, ob)
    env = mcia.MciaEnv()
    first, _ = env.reset(seed=9)
    second, _ = env.reset()
    assert not np.array_equal(first, second)
    again = mcia.MciaEnv()
    again.reset(seed=9)
    assert np.array_equal(again.reset()[0], second)


def test_truncation_and_reset_needed(small_config):
    env = mcia.MciaEnv(small_config)
    with pytest.raises(mcia.ResetNeeded, match="MciaEnv: step\\(\\) called before reset"):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]
    snap = env.snapshot()
    with pytest.raises(mcia.ResetNeeded, match="episode ended"):
        env.step(env.action_space.sample())
    assert env.snapshot() == snap
    env.reset()
    assert env.t == 0


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("version", [0, 0, 4, 0, 0] + [0] * 5, "device 2: action field 'version'"),
        ("partition", [0, 0, 0, 0, 0, 0, 0, 0, 0, 17], "device 9: action field 'partition'"),
        ("partition", [-1, 0, 0, 0, 0] + [0] * 5, "device 0: action field 'partition'"),
        ("bandwidth", [0.1, -0.2, 0.1, 0.1, 0.1] + [0.1] * 5, "device 1: action field 'bandwidth'"),
        ("compute", [0.1, 0.1, np.nan, 0.1, 0.1] + [0.1] * 5, "device 2: action field 'compute'"),
        ("compute", [0.1, 0.1, 0.1, np.inf, 0.1] + [0.1] * 5, "device 3: action field 'compute'"),
        ("version", [0, 0, 0, 0], "action field 'version' must have shape \\[10\\]"),
        ("version", [0.5, 0, 0, 0, 0] + [0] * 5, "must hold integer indices"),
        ("bandwidth", ["a"] * 10, "must hold numbers"),
    ],
)
def test_bad_actions_raise_and_leave_state_unchanged(field, value, match):
    env = mcia.MciaEnv()
    env.reset(seed=0)
    n = 10  # the default scenario
    action = {"version": np.zeros(n, int), "partition": np.full(n, 3), "bandwidth": np.full(n, 0.5), "compute": np.full(n, 0.5)}
    action[field] = np.array(value)
    snap = env.snapshot()
    with pytest.raises(mcia.ActionError, match=match) as err:
        env.step(action)
    assert isinstance(err.value, ValueError) and isinstance(err.value, mcia.MciaError)
    assert env.snapshot() == snap


def test_action_dict_keys_checked():
    env = mcia.MciaEnv()
    env.reset(seed=0)
    good = env.action_space.sample()
    with pytest.raises(mcia.ActionError, match="missing field"):
        env.step({k: v for k, v in good.items() if k != "compute"})
    with pytest.raises(mcia.ActionError, match="unknown field"):
        env.step(dict(good, extra=1))
    with pytest.raises(mcia.ActionError, match="must be a dict"):
        env.step(np.zeros(20))


def test_weights_above_one_and_any_numeric_dtype_are_accepted():
    env = mcia.MciaEnv()
    env.reset(seed=0)
    n = 10  # the default scenario
    a = {"version": np.zeros(n, np.int32), "partition": np.zeros(n, np.uint8), "bandwidth": np.full(n, 7.0, np.float32), "compute": np.arange(n)}
    obs, r, *_ , info = env.step(a)
    has = info["task_type"] > 0
    np.testing.assert_allclose(info["bandwidth_share"][has].sum(), 1.0)


def test_info_off_is_empty_and_same_dynamics():
    a, b = mcia.MciaEnv(info=False), mcia.MciaEnv()
    oa, ia = a.reset(seed=2)
    ob, _ = b.reset(seed=2)
    b.action_space.seed(0)
    assert ia == {}
    for _ in range(10):
        act = b.action_space.sample()
        ra = a.step(act)
        rb = b.step(act)
        assert ra[4] == {} and np.array_equal(ra[0], rb[0]) and ra[1] == rb[1]


def test_render_ansi_and_rgb():
    env = mcia.MciaEnv(render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    text = env.render()
    assert "reward" in text and "latency" in text and text.count("\n") >= 7
    env = mcia.MciaEnv(render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.std() > 0


def test_time_limit_follows_make_argument():
    env = gym.make("MCIA-v0", config={"time": {"episode_slots": 7}}, max_episode_steps=7)
    env.reset(seed=0)
    env.action_space.seed(0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="render_mode"):
        mcia.MciaEnv(render_mode="human")
    with pytest.raises(mcia.ConfigError, match="radio.bandwidth_hz"):
        gym.make("MCIA-v0", config={"radio": {"bandwidth_hz": 0}})
    with pytest.raises(ValueError, match="seed"):
        mcia.MciaEnv().reset(seed=-1)
