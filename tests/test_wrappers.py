"""Flat action wrappers: spaces, the mappings at their edges, and agreement between single, vector and
unwrapped environments."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env

import mcia
from mcia.wrappers import (
    BoxAction,
    BoxActionVector,
    CloudDims,
    Dims,
    MultiDiscreteAction,
    MultiDiscreteActionVector,
    box_to_dict,
    dict_to_box,
    env_dims,
    flat_action_wrapper,
    multidiscrete_to_dict,
)

SHORT = {"time": {"episode_slots": 5}}


@pytest.fixture(scope="module")
def dims() -> Dims:
    return env_dims(mcia.MciaEnv(), "test")


def _rows(dims: Dims, version, partition, bandwidth, compute) -> np.ndarray:
    n = dims.num_devices
    return np.concatenate([np.full(n, version), np.full(n, partition), np.full(n, bandwidth), np.full(n, compute)])


# -- spaces --------------------------------------------------------------------------------------------


def test_single_spaces(dims):
    n, m, l = dims
    env = BoxAction(mcia.MciaEnv())
    assert env.action_space == spaces.Box(0.0, 1.0, (4 * n,), np.float32)
    assert BoxAction(mcia.MciaEnv(), low=-1.0).action_space == spaces.Box(-1.0, 1.0, (4 * n,), np.float32)
    md = MultiDiscreteAction(mcia.MciaEnv())
    assert isinstance(md.action_space, spaces.MultiDiscrete)
    assert md.action_space.nvec.tolist() == [m] * n + [l + 1] * n + [5] * n + [5] * n
    assert MultiDiscreteAction(mcia.MciaEnv(), share_bins=3).action_space.nvec[2 * n :].tolist() == [3] * (2 * n)
    assert env.observation_space == env.unwrapped.observation_space


def test_vector_spaces(dims):
    n, m, l = dims
    venv = BoxActionVector(mcia.MciaVectorEnv(3), low=-1.0)
    assert venv.single_action_space == spaces.Box(-1.0, 1.0, (4 * n,), np.float32)
    assert venv.action_space.shape == (3, 4 * n)
    assert venv.action_space.contains(venv.action_space.sample())
    md = MultiDiscreteActionVector(mcia.MciaVectorEnv(3), share_bins=4)
    assert md.single_action_space.nvec.tolist() == [m] * n + [l + 1] * n + [4] * n + [4] * n
    assert md.action_space.shape == (3, 4 * n)
    sample = md.action_space.sample()
    assert all(md.single_action_space.contains(row) for row in sample)
    assert venv.single_observation_space == venv.unwrapped.single_observation_space


def test_dispatch_helper():
    assert isinstance(flat_action_wrapper(mcia.MciaEnv()), BoxAction)
    assert isinstance(flat_action_wrapper(mcia.MciaVectorEnv(2), "multidiscrete"), MultiDiscreteActionVector)
    with pytest.raises(ValueError):
        flat_action_wrapper(mcia.MciaEnv(), "tuple")


# -- mappings ------------------------------------------------------------------------------------------


def test_box_edges(dims):
    n, m, l = dims
    d = box_to_dict(_rows(dims, 0.0, 0.0, 0.0, 0.0), dims)
    assert d["version"].tolist() == [0] * n and d["partition"].tolist() == [0] * n
    assert d["bandwidth"].tolist() == [0.0] * n and d["compute"].tolist() == [0.0] * n
    d = box_to_dict(_rows(dims, 1.0, 1.0, 1.0, 1.0), dims)
    assert d["version"].tolist() == [m - 1] * n and d["partition"].tolist() == [l] * n
    assert d["bandwidth"].tolist() == [1.0] * n
    for key in ("version", "partition"):
        assert d[key].dtype == np.int64 and d[key].flags.c_contiguous
    for key in ("bandwidth", "compute"):
        assert d[key].dtype == np.float64 and d[key].flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_bin_boundaries(dims, dtype):
    n, m, l = dims
    for count, key, offset in ((m, "version", 0), (l + 1, "partition", n)):
        for k in range(count):
            x = np.full(4 * n, 0.5, dtype=dtype)
            x[offset] = dtype(k / count)  # exactly on the lower boundary of bin k
            x[offset + 1] = dtype((k + 1) / count - 1e-3)  # just below the next boundary: still bin k
            if dtype is np.float64:
                x[offset + 2] = k / count - 1e-9 / count  # rounding error below a boundary: bin k
            got = box_to_dict(x, dims)[key]
            assert got[0] == k and got[1] == k, (key, k, got)
            if dtype is np.float64:
                assert got[2] == k, (key, k, got)


def test_box_out_of_range_is_clipped(dims):
    n, m, l = dims
    d = box_to_dict(_rows(dims, -0.5, -3.0, -1.0, -0.01), dims)
    assert d["version"].tolist() == [0] * n and d["partition"].tolist() == [0] * n
    assert d["bandwidth"].tolist() == [0.0] * n and d["compute"].tolist() == [0.0] * n
    d = box_to_dict(_rows(dims, 1.7, 5.0, 2.0, 1.01), dims)
    assert d["version"].tolist() == [m - 1] * n and d["partition"].tolist() == [l] * n
    assert d["bandwidth"].tolist() == [1.0] * n and d["compute"].tolist() == [1.0] * n


def test_box_symmetric_range(dims):
    n, m, l = dims
    d = box_to_dict(_rows(dims, -1.0, -1.0, -1.0, -1.0), dims, low=-1.0)
    assert d["version"].tolist() == [0] * n and d["bandwidth"].tolist() == [0.0] * n
    d = box_to_dict(_rows(dims, 0.0, 0.0, 0.0, 0.5), dims, low=-1.0)
    assert d["version"].tolist() == [m // 2] * n
    assert d["partition"].tolist() == [int(np.floor(0.5 * (l + 1)))] * n
    assert d["bandwidth"].tolist() == [0.5] * n and d["compute"].tolist() == [0.75] * n
    d = box_to_dict(_rows(dims, 1.0, 9.0, 1.0, -9.0), dims, low=-1.0)
    assert d["version"].tolist() == [m - 1] * n and d["partition"].tolist() == [l] * n
    assert d["compute"].tolist() == [0.0] * n
    for k in range(m):  # boundaries in [-1, 1]: -1 + 2 k / M
        x = np.zeros(4 * n, dtype=np.float32)
        x[0] = np.float32(-1.0 + 2.0 * k / m)
        assert box_to_dict(x, dims, low=-1.0)["version"][0] == k


def test_box_rejects_bad_input(dims):
    n = dims.num_devices
    bad = np.full(4 * n, 0.5)
    bad[3] = np.nan
    with pytest.raises(mcia.ActionError, match="non-finite"):
        box_to_dict(bad, dims)
    with pytest.raises(mcia.ActionError, match="4N"):
        box_to_dict(np.zeros(4 * n + 1), dims)
    with pytest.raises(mcia.ActionError):
        box_to_dict(np.array(["a"] * (4 * n)), dims)


def test_box_roundtrip(dims):
    rng = np.random.default_rng(1)
    n, m, l = dims
    act = {
        "version": rng.integers(0, m, (6, n)),
        "partition": rng.integers(0, l + 1, (6, n)),
        "bandwidth": rng.random((6, n)),
        "compute": rng.random((6, n)),
    }
    for low in (0.0, -1.0):
        back = box_to_dict(dict_to_box(act, dims, low), dims, low)
        np.testing.assert_array_equal(back["version"], act["version"])
        np.testing.assert_array_equal(back["partition"], act["partition"])
        np.testing.assert_allclose(back["bandwidth"], act["bandwidth"], atol=1e-6)
        np.testing.assert_allclose(back["compute"], act["compute"], atol=1e-6)


def test_multidiscrete_mapping(dims):
    n, m, l = dims
    k = 5
    x = np.concatenate([np.arange(n) % m, np.arange(n) % (l + 1), np.arange(n) % k, (np.arange(n) + 1) % k])
    d = multidiscrete_to_dict(x, dims, k)
    assert d["version"].tolist() == (np.arange(n) % m).tolist()
    assert d["partition"].tolist() == (np.arange(n) % (l + 1)).tolist()
    np.testing.assert_allclose(d["bandwidth"], (np.arange(n) % k + 1) / k)
    np.testing.assert_allclose(d["compute"], ((np.arange(n) + 1) % k + 1) / k)
    d = multidiscrete_to_dict(_rows(dims, 0, 0, 0, k - 1), dims, k)
    assert d["bandwidth"].min() == pytest.approx(1 / k) and d["compute"].tolist() == [1.0] * n  # no zero weight
    assert multidiscrete_to_dict(_rows(dims, 0, 0, 0, 0), dims, 1)["bandwidth"].tolist() == [1.0] * n
    batched = multidiscrete_to_dict(np.stack([x, x]), dims, k)
    assert batched["version"].shape == (2, n)
    for key in ("version", "partition"):
        assert d[key].dtype == np.int64
    from_floats = multidiscrete_to_dict(x.astype(np.float32), dims, k)
    assert from_floats["partition"].tolist() == (np.arange(n) % (l + 1)).tolist()


def test_multidiscrete_rejects_bad_bins(dims):
    n = dims.num_devices
    with pytest.raises(mcia.ActionError, match="share bin"):
        multidiscrete_to_dict(_rows(dims, 0, 0, 5, 0), dims, 5)
    with pytest.raises(mcia.ActionError, match="share bin"):
        multidiscrete_to_dict(_rows(dims, 0, 0, 0, -1), dims, 5)
    with pytest.raises(mcia.ActionError):
        multidiscrete_to_dict(_rows(dims, 0.5, 0, 0, 0), dims, 5)
    env = MultiDiscreteAction(mcia.MciaEnv())
    env.reset(seed=0)
    with pytest.raises(mcia.ActionError):  # version out of range: the environment itself refuses it
        env.step(_rows(dims, 99, 0, 0, 0).astype(np.int64))
    env.step(_rows(dims, 0, 0, 0, 0).astype(np.int64))  # state unchanged, still usable
    assert n > 0


# -- wrong environments --------------------------------------------------------------------------------


def test_not_an_mcia_env():
    with pytest.raises(TypeError, match="MCIA"):
        BoxAction(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match="MCIA"):
        MultiDiscreteAction(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match="VectorEnv"):
        BoxActionVector(mcia.MciaEnv())
    with pytest.raises(TypeError, match="Dict action space"):
        BoxAction(BoxAction(mcia.MciaEnv()))
    with pytest.raises(TypeError, match="Dict action space"):
        MultiDiscreteActionVector(BoxActionVector(mcia.MciaVectorEnv(2)))
    with pytest.raises(ValueError, match="share_bins"):
        MultiDiscreteAction(mcia.MciaEnv(), share_bins=0)
    with pytest.raises(ValueError, match="low"):
        BoxAction(mcia.MciaEnv(), low=1.0)


def test_wraps_gym_make():
    env = BoxAction(gym.make("MCIA-v0"), low=-1.0)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == env.observation_space.shape and np.isfinite(reward)


# -- checkers and agreement ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: BoxAction(mcia.MciaEnv()),
        lambda: BoxAction(mcia.MciaEnv(), low=-1.0),
        lambda: MultiDiscreteAction(mcia.MciaEnv(), share_bins=3),
        lambda: BoxAction(gym.make("MCIA-v0"), low=-1.0),
    ],
)
def test_gymnasium_check_env(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(make(), skip_render_check=True)
    relevant = [w for w in caught if "different from the unwrapped" not in str(w.message)]
    assert not relevant, [str(w.message) for w in relevant]


@pytest.mark.parametrize("kind", ["box", "box_sym", "multidiscrete"])
def test_single_and_vector_agree(kind):
    b, seed = 3, 11
    if kind == "multidiscrete":
        venv = MultiDiscreteActionVector(mcia.MciaVectorEnv(b, SHORT), share_bins=4)
        singles = [MultiDiscreteAction(mcia.MciaEnv(SHORT), share_bins=4) for _ in range(b)]
    else:
        low = -1.0 if kind == "box_sym" else 0.0
        venv = BoxActionVector(mcia.MciaVectorEnv(b, SHORT), low=low)
        singles = [BoxAction(mcia.MciaEnv(SHORT), low=low) for _ in range(b)]
    venv.action_space.seed(5)
    obs_v, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        obs_s, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs_s, obs_v[i])
    for _ in range(5):  # one whole episode
        actions = venv.action_space.sample()
        if kind != "multidiscrete":
            actions = actions * 1.3 - 0.1  # also exercise clipping
        obs_v, rew_v, term_v, trunc_v, _ = venv.step(actions)
        for i, env in enumerate(singles):
            obs_s, rew_s, term_s, trunc_s, _ = env.step(actions[i])
            np.testing.assert_array_equal(obs_s, obs_v[i])
            assert rew_s == rew_v[i] and term_s == term_v[i] and trunc_s == trunc_v[i]
    assert trunc_v.all()


@pytest.mark.parametrize("kind", ["box", "multidiscrete"])
def test_vector_wrapper_matches_unwrapped(kind):
    b = 4
    plain = mcia.MciaVectorEnv(b, SHORT)
    if kind == "box":
        wrapped = BoxActionVector(mcia.MciaVectorEnv(b, SHORT), low=-1.0)
        to_dict = lambda a: box_to_dict(a, wrapped.dims, -1.0)  # noqa: E731
    else:
        wrapped = MultiDiscreteActionVector(mcia.MciaVectorEnv(b, SHORT))
        to_dict = lambda a: multidiscrete_to_dict(a, wrapped.dims, 5)  # noqa: E731
    wrapped.action_space.seed(2)
    o1, _ = plain.reset(seed=3)
    o2, _ = wrapped.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    saw_truncation = False
    for _ in range(13):  # crosses two autoresets
        actions = wrapped.action_space.sample()
        o1, r1, te1, tr1, i1 = plain.step(to_dict(actions))
        o2, r2, te2, tr2, i2 = wrapped.step(actions)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(i1["utility"], i2["utility"])
        saw_truncation |= bool(tr2.any())
    assert saw_truncation
    assert np.isfinite(r2).all()


# -- the cloud tier (MCIA-Cloud-v0): a fifth block, the second cut ----------------------------------------


@pytest.fixture(scope="module")
def cloud_dims() -> Dims:
    return env_dims(mcia.MciaCloudEnv(), "test")


def test_cloud_dims(dims, cloud_dims):
    assert not dims.cloud and dims.num_blocks == 4 and dims.flat_size == 4 * dims.num_devices
    assert cloud_dims.cloud and cloud_dims.num_blocks == 5 and cloud_dims.flat_size == 5 * cloud_dims.num_devices
    assert isinstance(cloud_dims, CloudDims) and tuple(cloud_dims) == tuple(dims)  # still (N, M, L)
    n, m, l = cloud_dims
    assert cloud_dims.with_cloud(False) == (n, m, l) and not cloud_dims.with_cloud(False).cloud
    assert Dims(n, m, l).with_cloud().cloud
    assert env_dims(gym.make("MCIA-Cloud-v0"), "test").cloud
    assert env_dims(mcia.MciaCloudVectorEnv(2), "test").cloud
    assert env_dims(BoxAction(gym.make("MCIA-Cloud-v0")), "test").cloud  # found on the unwrapped env
    assert env_dims(mcia.MciaEnv({"cloud": {"enabled": True}}), "test").cloud
    assert not env_dims(gym.make("MCIA-v0"), "test").cloud


def test_cloud_spaces(cloud_dims):
    n, m, l = cloud_dims
    env = BoxAction(gym.make("MCIA-Cloud-v0"))
    assert env.dims.cloud
    assert env.action_space == spaces.Box(0.0, 1.0, (5 * n,), np.float32)
    assert BoxAction(mcia.MciaCloudEnv(), low=-1.0).action_space == spaces.Box(-1.0, 1.0, (5 * n,), np.float32)
    md = MultiDiscreteAction(gym.make("MCIA-Cloud-v0"), share_bins=3)
    assert md.action_space.nvec.tolist() == [m] * n + [l + 1] * n + [3] * n + [3] * n + [l + 1] * n
    assert env.observation_space.shape == (7 * n + 4,)
    venv = BoxActionVector(gym.make_vec("MCIA-Cloud-v0", num_envs=3), low=-1.0)
    assert venv.single_action_space == spaces.Box(-1.0, 1.0, (5 * n,), np.float32)
    assert venv.action_space.shape == (3, 5 * n)
    mdv = MultiDiscreteActionVector(mcia.MciaCloudVectorEnv(3))
    assert mdv.single_action_space.nvec.tolist() == [m] * n + [l + 1] * n + [5] * n + [5] * n + [l + 1] * n
    assert mdv.action_space.shape == (3, 5 * n)
    assert isinstance(flat_action_wrapper(gym.make("MCIA-Cloud-v0")), BoxAction)
    assert isinstance(flat_action_wrapper(mcia.MciaCloudVectorEnv(2), "multidiscrete"), MultiDiscreteActionVector)
    # the MCIA-v0 layout is untouched
    assert BoxAction(gym.make("MCIA-v0")).action_space.shape == (4 * n,)
    assert MultiDiscreteActionVector(mcia.MciaVectorEnv(2)).single_action_space.shape == (4 * n,)


def test_cloud_box_mapping_matches_partition(cloud_dims):
    n, m, l = cloud_dims
    for low in (0.0, -1.0):
        values = np.linspace(low - 0.3, 1.3, 4 * n)  # in range, on bin edges and clipped
        for start in range(0, values.size, n):
            block = values[start : start + n]
            x = np.concatenate([np.zeros(n), block, np.ones(n), np.ones(n), block]).astype(np.float32)
            d = box_to_dict(x, cloud_dims, low)
            assert set(d) == set(mcia.spaces.CLOUD_ACTION_KEYS)
            np.testing.assert_array_equal(d["cloud_partition"], d["partition"])
            assert d["cloud_partition"].dtype == np.int64 and d["cloud_partition"].shape == (n,)
        edges = np.arange(l + 1) / (l + 1)
        x = np.zeros((l + 1, 5 * n), np.float32)
        x[:, 4 * n :] = (low + edges * (1.0 - low)).astype(np.float32)[:, None]
        assert box_to_dict(x, cloud_dims, low)["cloud_partition"][:, 0].tolist() == list(range(l + 1))


def _cloud_dict_actions(env: gym.Env, count: int, share_bins: int | None = None) -> list:
    env.action_space.seed(4)
    out = []
    for _ in range(count):
        a = env.action_space.sample()
        if share_bins is not None:  # weights on the MultiDiscrete grid (j + 1) / K
            for key in ("bandwidth", "compute"):
                j = np.floor(a[key] * share_bins).clip(0, share_bins - 1)
                a[key] = ((j + 1.0) / share_bins).astype(np.float32)
        out.append(a)
    return out


@pytest.mark.parametrize("low", [0.0, -1.0])
def test_cloud_box_round_trip(cloud_dims, low):
    env = mcia.MciaCloudEnv()
    for act in _cloud_dict_actions(env, 20):
        flat = dict_to_box(act, cloud_dims, low)
        assert flat.shape == (cloud_dims.flat_size,) and BoxAction(env, low=low).action_space.contains(flat)
        back = box_to_dict(flat, cloud_dims, low)
        assert set(back) == set(act)
        for key in ("version", "partition", "cloud_partition"):
            np.testing.assert_array_equal(back[key], act[key], err_msg=key)
        for key in ("bandwidth", "compute"):
            np.testing.assert_allclose(back[key], act[key], atol=1e-6, err_msg=key)
    batch = {k: np.stack([a[k] for a in _cloud_dict_actions(env, 3)]) for k in env.action_space.spaces}
    back = box_to_dict(dict_to_box(batch, cloud_dims, low), cloud_dims, low)
    np.testing.assert_array_equal(back["cloud_partition"], batch["cloud_partition"])
    with pytest.raises(mcia.ActionError, match="cloud_partition"):
        dict_to_box({k: v for k, v in batch.items() if k != "cloud_partition"}, cloud_dims, low)


def test_cloud_multidiscrete_round_trip(cloud_dims):
    n, k = cloud_dims.num_devices, 4
    env = mcia.MciaCloudEnv()
    space = MultiDiscreteAction(env, share_bins=k).action_space
    for act in _cloud_dict_actions(env, 20, share_bins=k):
        bins = [np.rint(act[key] * k - 1).astype(np.int64) for key in ("bandwidth", "compute")]
        flat = np.concatenate([act["version"], act["partition"]] + bins + [act["cloud_partition"]])
        assert space.contains(flat)
        back = multidiscrete_to_dict(flat, cloud_dims, k)
        assert set(back) == set(act)
        for key in act:
            np.testing.assert_allclose(back[key], act[key], atol=1e-6, err_msg=key)
    space.seed(0)
    flat = np.stack([space.sample() for _ in range(5)])  # flat -> dict -> flat, batched
    d = multidiscrete_to_dict(flat, cloud_dims, k)
    again = np.concatenate(
        [d["version"], d["partition"]]
        + [np.rint(d[key] * k - 1) for key in ("bandwidth", "compute")]
        + [d["cloud_partition"]],
        axis=-1,
    ).astype(np.int64)
    np.testing.assert_array_equal(again, flat)
    # the share-bin check covers exactly the weight blocks: the second cut may exceed K - 1
    l = cloud_dims.num_units
    assert multidiscrete_to_dict([0] * (4 * n) + [l] * n, cloud_dims, 2)["cloud_partition"].tolist() == [l] * n


def test_cloud_wrong_widths(dims, cloud_dims):
    n = dims.num_devices
    with pytest.raises(mcia.ActionError, match="5N"):
        box_to_dict(np.zeros(4 * n), cloud_dims)
    with pytest.raises(mcia.ActionError, match="cloud_partition"):
        multidiscrete_to_dict(np.zeros(4 * n, np.int64), cloud_dims)
    with pytest.raises(mcia.ActionError, match="4N"):
        box_to_dict(np.zeros(5 * n), dims)
    env = MultiDiscreteAction(gym.make("MCIA-Cloud-v0"))
    env.reset(seed=0)
    with pytest.raises(mcia.ActionError):
        env.step(np.zeros(4 * n, np.int64))
    with pytest.raises(TypeError, match="Dict action space"):
        BoxAction(BoxAction(mcia.MciaCloudEnv()))


@pytest.mark.parametrize(
    "make",
    [
        lambda: BoxAction(gym.make("MCIA-Cloud-v0")),
        lambda: BoxAction(gym.make("MCIA-Cloud-v0"), low=-1.0),
        lambda: MultiDiscreteAction(gym.make("MCIA-Cloud-v0"), share_bins=3),
        lambda: MultiDiscreteAction(mcia.MciaCloudEnv()),
    ],
)
def test_cloud_gymnasium_check_env(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(make(), skip_render_check=True)
    relevant = [w for w in caught if "different from the unwrapped" not in str(w.message)]
    assert not relevant, [str(w.message) for w in relevant]


@pytest.mark.parametrize("kind", ["box", "multidiscrete"])
def test_cloud_vector_wrappers_step_make_vec(kind):
    b = 8

    def make():
        return gym.make_vec("MCIA-Cloud-v0", num_envs=b, config=SHORT, max_episode_steps=5)

    plain = make()
    if kind == "box":
        wrapped = BoxActionVector(make(), low=-1.0)
        to_dict = lambda a: box_to_dict(a, wrapped.dims, -1.0)  # noqa: E731
    else:
        wrapped = MultiDiscreteActionVector(make())
        to_dict = lambda a: multidiscrete_to_dict(a, wrapped.dims, 5)  # noqa: E731
    n = wrapped.dims.num_devices
    assert wrapped.dims.cloud and wrapped.action_space.shape == (b, 5 * n)
    assert wrapped.single_observation_space.shape == (7 * n + 4,)
    wrapped.action_space.seed(2)
    o1, _ = plain.reset(seed=3)
    o2, _ = wrapped.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    saw_truncation = saw_cloud = False
    for _ in range(13):  # crosses two autoresets
        actions = wrapped.action_space.sample()
        if kind == "box":
            actions = actions * 1.2  # also exercise clipping
        sent = to_dict(actions)
        o1, r1, te1, tr1, i1 = plain.step(sent)
        o2, r2, te2, tr2, i2 = wrapped.step(actions)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(te1, te2)
        np.testing.assert_array_equal(i1["cloud_partition"], i2["cloud_partition"])
        # the second cut reached the environment: p2' = max(p1, p2) for every device with a task
        has_task = i2["cloud_partition"] >= 0
        effective = np.maximum(sent["partition"], sent["cloud_partition"])
        np.testing.assert_array_equal(i2["cloud_partition"][has_task], effective[has_task])
        saw_cloud |= bool(has_task.any())
        saw_truncation |= bool(tr2.any())
    assert saw_truncation and saw_cloud
    assert np.isfinite(r2).all()


def test_cloud_single_and_vector_agree():
    b, seed = 3, 11
    venv = BoxActionVector(mcia.MciaCloudVectorEnv(b, SHORT), low=-1.0)
    singles = [BoxAction(gym.make("MCIA-Cloud-v0", config=SHORT), low=-1.0) for _ in range(b)]
    venv.action_space.seed(5)
    obs_v, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(env.reset(seed=seed + i)[0], obs_v[i])
    for _ in range(5):
        actions = venv.action_space.sample()
        obs_v, rew_v, _, trunc_v, _ = venv.step(actions)
        for i, env in enumerate(singles):
            obs_s, rew_s, _, trunc_s, _ = env.step(actions[i])
            np.testing.assert_array_equal(obs_s, obs_v[i])
            assert rew_s == rew_v[i] and trunc_s == trunc_v[i]
    assert trunc_v.all()
