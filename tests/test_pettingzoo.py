"""The PettingZoo multi-agent view: PettingZoo's own API test, agreement with the single env, errors."""

import numpy as np
import pytest

pettingzoo = pytest.importorskip("pettingzoo")
from pettingzoo.test import parallel_api_test  # noqa: E402

import mcia  # noqa: E402
from mcia.pettingzoo import agent_observations, parallel_env  # noqa: E402

SMALL = {"time": {"episode_slots": 6}}


@pytest.mark.parametrize("env_id", mcia.ENV_IDS)
@pytest.mark.parametrize("reward", ["shared", "individual"])
def test_parallel_api_test_passes(env_id, reward):
    parallel_api_test(parallel_env(SMALL, env_id=env_id, reward=reward), num_cycles=20)


@pytest.mark.parametrize("env_id", mcia.ENV_IDS)
def test_joint_action_gives_the_single_envs_outcome(env_id):
    pz = parallel_env(SMALL, env_id=env_id, reward="individual")
    single = mcia.MciaEnv(mcia.env_config(env_id, SMALL))
    obs, _ = pz.reset(seed=4)
    sobs, _ = single.reset(seed=4)
    n = pz.num_devices
    assert len(pz.agents) == n and pz.observation_space("device_0").shape == (7 + sobs.size - 7 * n,)
    np.testing.assert_array_equal(np.stack([obs[a] for a in pz.possible_agents]), agent_observations(sobs, n))
    for agent in pz.agents:
        pz.action_space(agent).seed(int(agent.split("_")[1]))
    done = False
    while not done:
        actions = {a: pz.action_space(a).sample() for a in pz.agents}
        joint = {k: np.array([np.asarray(actions[a][k]).reshape(()) for a in pz.possible_agents]) for k in single.action_space.spaces}
        obs, rewards, terms, truncs, infos = pz.step(actions)
        sobs, sr, st, su, sinfo = single.step(joint)
        np.testing.assert_array_equal(pz.state(), sobs)
        u = np.nan_to_num(sinfo["utility"], nan=0.0)
        assert [rewards[a] for a in pz.possible_agents] == u.tolist()
        # The shared reward is the mean of the individual ones over the devices with a task.
        has_task = sinfo["task_type"] > 0  # 0 none, 1 AS, 2 LS
        assert sr == pytest.approx(u[has_task].mean() if has_task.any() else 0.0)
        assert infos["device_3"]["latency"] == sinfo["latency"][3] or np.isnan(sinfo["latency"][3])
        done = all(terms.values()) or all(truncs.values())
        assert done == (st or su)
    assert pz.agents == []
    with pytest.raises(mcia.ResetNeeded):
        pz.step(actions)


def test_bad_agent_actions_name_the_agent_and_change_nothing():
    pz = parallel_env(SMALL)
    pz.reset(seed=0)
    before = pz.env.snapshot()
    good = {a: pz.action_space(a).sample() for a in pz.agents}
    missing = dict(good)
    del missing["device_2"]
    with pytest.raises(mcia.ActionError, match="device_2"):
        pz.step(missing)
    with pytest.raises(mcia.ActionError, match="device_99"):
        pz.step({**good, "device_99": good["device_0"]})
    wrong = dict(good, device_1={**good["device_1"], "version": [0, 1]})
    with pytest.raises(mcia.ActionError, match="'version' of device_1"):
        pz.step(wrong)
    bad_range = dict(good, device_4={**good["device_4"], "partition": 999})
    with pytest.raises(mcia.ActionError, match="partition"):
        pz.step(bad_range)
    assert pz.env.snapshot() == before
    with pytest.raises(mcia.ConfigError, match="reward"):
        parallel_env(SMALL, reward="selfish")
    with pytest.raises(KeyError, match="unknown agent"):
        pz.action_space("edge")


def test_seeding_reproduces_episodes():
    def run(seed):
        pz = parallel_env(SMALL)
        obs, _ = pz.reset(seed=seed)
        for a in pz.agents:
            pz.action_space(a).seed(0)
        out = [np.stack(list(obs.values()))]
        while pz.agents:
            obs, r, *_ = pz.step({a: pz.action_space(a).sample() for a in pz.agents})
            out.append(np.stack(list(obs.values())))
        return np.stack(out)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))
