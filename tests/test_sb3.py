"""Stable-Baselines3 adapter: SB3's env checker, VecEnv conventions at truncation, seeding, and a short
PPO run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import VecMonitor  # noqa: E402

import mcia  # noqa: E402
from mcia.sb3 import Sb3VecEnv, make_sb3_env  # noqa: E402
from mcia.wrappers import BoxAction, MultiDiscreteAction, box_to_dict, multidiscrete_to_dict  # noqa: E402

SLOTS = 5
SHORT = {"time": {"episode_slots": SLOTS}}


@pytest.mark.parametrize(
    "make",
    [lambda: BoxAction(mcia.MciaEnv(), low=-1.0), lambda: MultiDiscreteAction(mcia.MciaEnv())],
    ids=["box_symmetric", "multidiscrete"],
)
def test_sb3_check_env_clean(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(make(), warn=True)
    assert not caught, [str(w.message) for w in caught]


def test_sb3_check_env_asymmetric_box_only_warns_about_range():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(BoxAction(mcia.MciaEnv()), warn=True)
    assert caught and all("symmetric" in str(w.message) for w in caught)


def test_spaces_shapes_dtypes():
    env = Sb3VecEnv(8, seed=0)
    n = env.dims.num_devices
    assert env.num_envs == 8
    assert env.action_space == spaces.Box(-1.0, 1.0, (4 * n,), np.float32)
    assert n == 10  # the default scenario
    assert env.observation_space.shape == (7 * n + 3,)
    obs = env.reset()
    assert obs.shape == (8, 7 * n + 3) and obs.dtype == np.float32
    env.action_space.seed(0)
    obs, rewards, dones, infos = env.step(np.stack([env.action_space.sample() for _ in range(8)]))
    assert obs.shape == (8, 7 * n + 3) and obs.dtype == np.float32
    assert rewards.shape == (8,) and rewards.dtype == np.float32 and np.isfinite(rewards).all()
    assert dones.shape == (8,) and dones.dtype == np.bool_ and not dones.any()
    assert isinstance(infos, list) and infos == [{} for _ in range(8)]
    assert all(env.observation_space.contains(o) for o in obs)
    md = Sb3VecEnv(3, action="multidiscrete", share_bins=3)
    assert isinstance(md.action_space, spaces.MultiDiscrete)
    assert md.action_space.nvec[2 * n :].tolist() == [3] * (2 * n)
    md.reset()
    md.action_space.seed(1)
    obs, rewards, dones, infos = md.step(np.stack([md.action_space.sample() for _ in range(3)]))
    assert obs.shape == (3, 7 * n + 3) and np.isfinite(rewards).all()


def _drive_against_reference(env: Sb3VecEnv, kind: str, seed: int, steps: int) -> list:
    """Steps ``env`` and a NEXT_STEP MciaVectorEnv with the same seed and actions, checking SB3's
    conventions; returns the step indices where episodes ended."""
    b = env.num_envs
    ref = mcia.MciaVectorEnv(b, SHORT, info=False)
    env.seed(seed)
    np.testing.assert_array_equal(env.reset(), ref.reset(seed=seed)[0])
    env.action_space.seed(seed)
    ends = []
    for t in range(steps):
        actions = np.stack([env.action_space.sample() for _ in range(b)])
        if kind == "box":
            actions = actions * 1.5  # SB3 clips Box actions itself, but out-of-range input must work too
            ref_action = box_to_dict(actions, env.dims, -1.0)
        else:
            ref_action = multidiscrete_to_dict(actions, env.dims, env.share_bins)
        obs, rewards, dones, infos = env.step(actions)
        ref_obs, ref_rew, ref_term, ref_trunc, _ = ref.step(ref_action)
        np.testing.assert_array_equal(rewards, ref_rew.astype(np.float32))
        np.testing.assert_array_equal(dones, ref_term | ref_trunc)
        if dones.any():
            ends.append(t)
            for i in range(b):
                assert set(infos[i]) == {"terminal_observation", "TimeLimit.truncated"}
                assert infos[i]["TimeLimit.truncated"] is True
                np.testing.assert_array_equal(infos[i]["terminal_observation"], ref_obs[i])
                assert infos[i]["terminal_observation"][-1] == 1.0  # time feature at the horizon
            # the reference resets on its next step (ignoring the action, reward 0)
            ref_obs, ref_rew, _, ref_trunc, _ = ref.step(ref_action)
            assert not ref_trunc.any() and (ref_rew == 0).all()
            assert (obs[:, -1] == 0).all()  # obs returned with done is the new episode's first
        else:
            assert infos == [{} for _ in range(b)]
        np.testing.assert_array_equal(obs, ref_obs)
    return ends


@pytest.mark.parametrize("kind", ["box", "multidiscrete"])
def test_truncation_matches_next_step_reference(kind):
    env = Sb3VecEnv(4, SHORT, action=kind)
    ends = _drive_against_reference(env, kind, seed=3, steps=3 * SLOTS + 2)
    assert ends == [SLOTS - 1, 2 * SLOTS - 1, 3 * SLOTS - 1]


@pytest.mark.parametrize("copy", [True, False])
def test_given_next_step_venv_behaves_the_same(copy):
    venv = mcia.MciaVectorEnv(3, SHORT, autoreset_mode=AutoresetMode.NEXT_STEP, copy=copy, info=False)
    env = Sb3VecEnv(venv=venv)
    assert env.num_envs == 3
    ends = _drive_against_reference(env, "box", seed=8, steps=2 * SLOTS + 1)
    assert ends == [SLOTS - 1, 2 * SLOTS - 1]


def test_given_same_step_venv_with_info():
    venv = mcia.MciaVectorEnv(2, SHORT, autoreset_mode=AutoresetMode.SAME_STEP, info=True)
    env = Sb3VecEnv(venv=venv)
    ends = _drive_against_reference(env, "box", seed=1, steps=SLOTS + 1)
    assert ends == [SLOTS - 1]


def test_seeding_reproducible():
    def rollout(env: Sb3VecEnv, seed=None):
        if seed is not None:
            env.seed(seed)
        first = env.reset()
        rng = np.random.default_rng(0)
        rows = [first]
        for _ in range(SLOTS + 2):
            obs, rewards, dones, _ = env.step(rng.uniform(-1, 1, (env.num_envs,) + env.action_space.shape))
            rows += [obs, rewards[:, None]]
        return first, rows

    first_a, a = rollout(Sb3VecEnv(4, SHORT), seed=7)
    first_b, b = rollout(Sb3VecEnv(4, SHORT, seed=7))  # constructor seed == env.seed(seed)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for i in range(4):  # env i behaves like MciaEnv reset with seed + i
        single, _ = mcia.MciaEnv(SHORT).reset(seed=7 + i)
        np.testing.assert_array_equal(first_a[i], single)
    first_c, _ = rollout(Sb3VecEnv(4, SHORT), seed=8)
    assert not np.array_equal(first_a, first_c)
    env = Sb3VecEnv(4, SHORT, seed=7)
    np.testing.assert_array_equal(env.reset(), first_a)
    assert not np.array_equal(env.reset(), first_a)  # seeds are used once; later resets continue the streams
    assert env._seeds == [None] * 4


def test_vecenv_attribute_api():
    env = Sb3VecEnv(3, SHORT, num_threads=1)
    assert env.get_attr("num_devices") == [10, 10, 10]
    assert env.get_attr("num_versions", indices=[1]) == [4]
    assert env.get_attr("render_mode") == [None] * 3
    assert env.get_attr("action_space")[0] == env.action_space
    assert env.has_attr("config") and not env.has_attr("no_such_attribute")
    with pytest.raises(AttributeError):
        env.get_attr("no_such_attribute")
    env.set_attr("num_threads", 2)
    assert env.unwrapped_venv.num_threads == 2
    with pytest.raises(ValueError, match="every index"):
        env.set_attr("num_threads", 1, indices=[0])
    env.reset()
    assert env.env_method("statuses") == [[1, 1, 1]] * 3
    assert env.env_is_wrapped(Monitor) == [False] * 3
    assert env.render() is None
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 40), dtype=np.float32))
    with pytest.raises(mcia.ActionError):
        env.step(np.full((3, 40), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="action"):
        Sb3VecEnv(2, action="tuple")
    with pytest.raises(TypeError, match="MciaVectorEnv"):
        Sb3VecEnv(venv=mcia.MciaEnv())
    env.close()


def test_vec_monitor_on_top():
    env = make_sb3_env(6, SHORT, seed=0)
    assert isinstance(env, VecMonitor)
    env.reset()
    total = np.zeros(6)
    for t in range(SLOTS):
        obs, rewards, dones, infos = env.step(np.zeros((6, 4 * 10), dtype=np.float32))
        total += rewards
    assert dones.all()
    for i in range(6):
        assert infos[i]["episode"]["l"] == SLOTS
        assert infos[i]["episode"]["r"] == pytest.approx(total[i], abs=1e-4)
        assert "terminal_observation" in infos[i]
    assert (obs[:, -1] == 0).all()


def test_ppo_short_training():
    env = make_sb3_env(64, SHORT, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=16,
        batch_size=256,
        n_epochs=2,
        policy_kwargs=dict(net_arch=[32, 32]),
        device="cpu",
        seed=0,
        verbose=0,
    )
    model.learn(total_timesteps=2 * 64 * 16)
    logged = model.logger.name_to_value
    for key in ("train/loss", "train/value_loss", "train/policy_gradient_loss", "train/entropy_loss"):
        assert key in logged and np.isfinite(logged[key]), key
    returns = [ep["r"] for ep in model.ep_info_buffer]
    assert len(returns) > 0 and np.isfinite(returns).all()
    assert all(ep["l"] == SLOTS for ep in model.ep_info_buffer)
    obs = env.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (64, 4 * 10) and np.isfinite(actions).all()
    assert (actions >= -1).all() and (actions <= 1).all()
    env.step(actions)
    single = BoxAction(mcia.MciaEnv(SHORT), low=-1.0)
    o, _ = single.reset(seed=0)
    a, _ = model.predict(o, deterministic=True)
    single.step(a)


def test_ppo_multidiscrete_runs():
    env = make_sb3_env(16, SHORT, seed=1, action="multidiscrete")
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=64, n_epochs=1, policy_kwargs=dict(net_arch=[16]),
                device="cpu", seed=1)
    model.learn(total_timesteps=16 * 8)
    actions, _ = model.predict(env.reset())
    assert actions.shape == (16, 4 * 10) and env.action_space.contains(actions[0])
    env.step(actions)


# -- the cloud tier (MCIA-Cloud-v0): flat actions gain the second cut ---------------------------------------

CLOUD_SHORT = {"time": {"episode_slots": SLOTS}, "cloud": {"enabled": True}}


def test_cloud_check_env_clean():
    import gymnasium as gym

    for env in (BoxAction(gym.make("MCIA-Cloud-v0"), low=-1.0), MultiDiscreteAction(mcia.MciaCloudEnv())):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sb3_check_env(env, warn=True)
        assert not caught, [str(w.message) for w in caught]


@pytest.mark.parametrize("kind", ["box", "multidiscrete"])
def test_cloud_spaces_and_reference(kind):
    b = 4
    env = Sb3VecEnv(b, CLOUD_SHORT, action=kind)
    n, m, l = env.dims
    assert env.dims.cloud and env.observation_space.shape == (7 * n + 4,)
    if kind == "box":
        assert env.action_space == spaces.Box(-1.0, 1.0, (5 * n,), np.float32)
    else:
        assert env.action_space.nvec.tolist() == [m] * n + [l + 1] * n + [5] * (2 * n) + [l + 1] * n
    ref = mcia.MciaCloudVectorEnv(b, SHORT, info=False)
    env.seed(2)
    np.testing.assert_array_equal(env.reset(), ref.reset(seed=2)[0])
    env.action_space.seed(2)
    for t in range(SLOTS):
        actions = np.stack([env.action_space.sample() for _ in range(b)])
        if kind == "box":
            ref_action = box_to_dict(actions, env.dims, -1.0)
        else:
            ref_action = multidiscrete_to_dict(actions, env.dims, env.share_bins)
        assert "cloud_partition" in ref_action
        obs, rewards, dones, infos = env.step(actions)
        ref_obs, ref_rew, *_ = ref.step(ref_action)
        np.testing.assert_array_equal(rewards, ref_rew.astype(np.float32))
        if t < SLOTS - 1:
            np.testing.assert_array_equal(obs, ref_obs)
    assert dones.all()
    np.testing.assert_array_equal(np.stack([i["terminal_observation"] for i in infos]), ref_obs)
    with pytest.raises(ValueError, match=f"{5 * n}"):
        env.step(np.zeros((b, 4 * n), dtype=np.float32))


def test_cloud_given_make_vec():
    import gymnasium as gym

    venv = gym.make_vec("MCIA-Cloud-v0", num_envs=3, config=SHORT, max_episode_steps=SLOTS, info=False)
    env = Sb3VecEnv(venv=venv, action="multidiscrete")
    assert env.dims.cloud and env.action_space.shape == (5 * env.dims.num_devices,)
    env.reset()
    env.action_space.seed(0)
    for _ in range(SLOTS):
        obs, rewards, dones, infos = env.step(np.stack([env.action_space.sample() for _ in range(3)]))
    assert dones.all() and np.isfinite(rewards).all() and obs.shape == (3, 7 * env.dims.num_devices + 4)


@pytest.mark.parametrize("kind", ["box", "multidiscrete"])
def test_ppo_cloud_smoke(kind):
    import gymnasium as gym

    env = make_sb3_env(16, CLOUD_SHORT, seed=0, action=kind)
    model = PPO("MlpPolicy", env, n_steps=8, batch_size=64, n_epochs=1, policy_kwargs=dict(net_arch=[16]),
                device="cpu", seed=0)
    model.learn(total_timesteps=2 * 16 * 8)
    assert all(ep["l"] == SLOTS and np.isfinite(ep["r"]) for ep in model.ep_info_buffer)
    actions, _ = model.predict(env.reset(), deterministic=True)
    assert actions.shape == (16, 5 * 10) and env.action_space.contains(actions[0])
    env.step(actions)
    wrap = BoxAction if kind == "box" else MultiDiscreteAction
    single = wrap(gym.make("MCIA-Cloud-v0", config=SHORT), **({"low": -1.0} if kind == "box" else {}))
    o, _ = single.reset(seed=0)
    a, _ = model.predict(o, deterministic=True)
    single.step(a)


def test_recipe_on_cloud(tmp_path):
    from mcia.sb3 import train_sb3_ppo

    hparams = dict(teacher_steps=8 * SLOTS, teacher_epochs=1, eval_every=1, eval_episodes=4, n_steps=8,
                   batch_size=64, n_epochs=1, policy_kwargs=dict(net_arch=[16]))
    curve = train_sb3_ppo(CLOUD_SHORT, timesteps=2 * 8 * 8, num_envs=8, out=str(tmp_path), hparams=hparams)
    assert curve and all(np.isfinite(row["validation_return"]) for row in curve if row["timesteps"] == 0)
    assert np.isfinite(curve[-1]["validation_return"])
    assert (tmp_path / "model.zip").exists()
