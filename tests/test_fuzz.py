"""Property-based fuzzing of the Python API (Hypothesis): configs, actions of every dtype, shape and layout,
call sequences, tampered snapshots and seeds.

Every property checks the guarantees of the README's "What is guaranteed": no panic reaches Python (no
``BaseException`` that is not an ``Exception``), every error is an :class:`mcia.MciaError` of the right class,
a rejected call leaves the state unchanged, and every output is finite and inside its space.

The budget is fixed by the Hypothesis profile: ``ci`` (the default, about a minute for the whole file) or
``long`` for local runs: ``python -m pytest tests/test_fuzz.py --hypothesis-profile=long``.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mcia

SMALL = {"devices": {"device_classes": ["pi_zero_2w", "pi4", "n100"]}, "time": {"episode_slots": 6}}

# -- helpers ---------------------------------------------------------------------------------------------


def assert_outputs_valid(space, obs, reward, info=None):
    """Observation inside the space (finite), rewards finite, float info finite where a task exists."""
    obs = np.asarray(obs)
    assert np.all(np.isfinite(obs)), obs
    assert space.contains(obs) if obs.ndim == 1 else all(space.contains(o) for o in obs)
    assert np.all(np.isfinite(np.asarray(reward, dtype=float)))
    if info:
        tasked = np.asarray(info["version"]) >= 0  # a decision was made (autoreset rows have none)
        for key in ("latency", "utility", "t_wait", "t_local", "t_tx", "t_edge"):
            assert np.all(np.isfinite(np.asarray(info[key])[tasked])), key
        assert np.all(np.isfinite(info["edge_backlog_s"]))


def call(fn, *args, **kwargs):
    """Runs ``fn``; returns ``(result, None)`` or ``(None, error)`` for an :class:`mcia.MciaError`. Anything
    else (another exception, a panic surfacing as a BaseException) fails the test."""
    try:
        return fn(*args, **kwargs), None
    except mcia.MciaError as e:
        assert type(e).__name__ in {"ConfigError", "ActionError", "ResetNeeded", "SnapshotError", "PolicyError", "MciaError", "ConcurrentUseError", "OutOfMemoryError"}, type(e)
        assert "_" not in type(e).__name__
        return None, e


# -- values --------------------------------------------------------------------------------------------

nasty_floats = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-320, 5e-324, 1e-12, 1e12, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), 3.0, 255.0])
any_number = st.one_of(nasty_floats, st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70))
weird_value = st.one_of(any_number, st.text(max_size=5), st.booleans(), st.none(), st.lists(any_number, max_size=3), st.dictionaries(st.text(max_size=4), any_number, max_size=2))

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.float16, np.float32, np.float64, np.bool_, np.complex64, object]

# -- configs ---------------------------------------------------------------------------------------------

FIELDS = [
    ("time", "slot_s"), ("time", "episode_slots"), ("radio", "bandwidth_hz"), ("radio", "tx_power_w"), ("radio", "noise_dbm_per_hz"),
    ("radio", "noise_figure_db"), ("radio", "path_loss_at_1km_db"), ("radio", "path_loss_slope_db"), ("radio", "distance_min_m"),
    ("radio", "distance_max_m"), ("radio", "mobility_mps"), ("radio", "fading_correlation"), ("edge", "edge_gflops"), ("edge", "edge_efficiency"),
    ("devices", "device_efficiency"), ("tasks", "arrival_prob"), ("tasks", "as_ratio"), ("reward", "acc_lo"), ("reward", "acc_hi"),
    ("reward", "latency_cap"), ("reward", "deadline_penalty"), ("reward", "accuracy_penalty"), ("action", "min_share_weight"),
    ("zoo", "feature_bytes_per_element"),
]


@st.composite
def configs(draw):
    cfg = json.loads(json.dumps(SMALL))
    for group, field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        cfg.setdefault(group, {})[field] = draw(st.one_of(any_number, weird_value))
    if draw(st.booleans()):
        cfg[draw(st.sampled_from(["radio", "load", "tasks", "zoo", "bogus"]))] = draw(weird_value)
    if draw(st.booleans()):
        cfg["devices"]["class_gflops"] = {"pi4": draw(any_number)}
    return cfg


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.integers(0, 2**32))
def test_any_config_is_valid_and_runs_finite_or_is_a_config_error(cfg, seed):
    config, err = call(mcia.Config, cfg)
    if err is not None:
        assert isinstance(err, mcia.ConfigError)
        return
    env = mcia.MciaEnv(config)
    obs, info = env.reset(seed=seed)
    assert_outputs_valid(env.observation_space, obs, 0.0)
    assert np.all(np.isnan(info["latency"]))  # no decision yet
    env.action_space.seed(seed)
    for _ in range(8):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert_outputs_valid(env.observation_space, obs, r, info)
        if trunc:
            obs, info = env.reset()


# -- actions ---------------------------------------------------------------------------------------------


@st.composite
def field_values(draw, shape, high, kind):
    """An action field: any dtype, a right or wrong shape, any memory layout, valid or not."""
    form = draw(st.sampled_from(["valid", "valid", "valid", "dtype", "shape", "values", "list", "masked", "scalar", "ragged"]))
    dtype = draw(st.sampled_from(DTYPES)) if form in ("dtype", "values") else (np.int64 if kind == "index" else np.float32)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    base = rng.integers(0, high, size=shape) if kind == "index" else rng.random(shape)
    if form == "shape":
        bad = draw(st.sampled_from([(), (1,), shape + (1,), (shape[0] + 1,) + shape[1:]]))
        return np.zeros(bad)
    if form == "values":
        base = base.astype(float)
        base.flat[draw(st.integers(0, base.size - 1))] = draw(nasty_floats) if kind == "weight" else draw(st.sampled_from([-1, high, 1e20, 0.5, float("nan")]))
    if form == "list":
        return base.tolist()
    if form == "scalar":
        return draw(any_number)
    if form == "ragged":
        return [[1, 2], [3]]
    with np.errstate(all="ignore"):
        arr = base.astype(dtype) if dtype is not object else base.astype(object)
    order = draw(st.sampled_from(["C", "F", "strided"]))
    if order == "F":
        arr = np.asfortranarray(arr)
    elif order == "strided" and arr.ndim >= 1:
        wide = np.repeat(arr, 2, axis=-1)
        arr = wide[..., ::2]
    if form == "masked":
        mask = np.zeros(arr.shape, bool)
        if draw(st.booleans()) and arr.size:
            mask.flat[0] = True
        arr = np.ma.MaskedArray(arr, mask=mask)
    return arr


@st.composite
def actions(draw, n, m, l, b=None):
    shape = (n,) if b is None else (b, n)
    a = {
        "version": draw(field_values(shape, m, "index")),
        "partition": draw(field_values(shape, l + 1, "index")),
        "bandwidth": draw(field_values(shape, 1, "weight")),
        "compute": draw(field_values(shape, 1, "weight")),
    }
    change = draw(st.sampled_from(["none"] * 6 + ["drop", "extra", "not_a_dict"]))
    if change == "drop":
        del a[draw(st.sampled_from(list(a)))]
    elif change == "extra":
        a["colour"] = 1
    elif change == "not_a_dict":
        return draw(st.sampled_from([None, 3, "version", list(a.values())]))
    return a


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_action_steps_validly_or_is_rejected_without_changing_the_state(data):
    env = mcia.MciaEnv(SMALL)
    env.reset(seed=data.draw(st.integers(0, 1000)))
    for _ in range(3):
        before = env.snapshot()
        action = data.draw(actions(env.num_devices, env.num_versions, env.num_units))
        out, err = call(env.step, action)
        if err is not None:
            assert isinstance(err, mcia.ActionError), err
            assert env.snapshot() == before
            assert "MciaEnv" in str(err)
            continue
        obs, r, term, trunc, info = out
        assert_outputs_valid(env.observation_space, obs, r, info)
        if trunc:
            env.reset()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_batch_action_steps_validly_or_is_rejected_without_changing_the_state(data):
    b = data.draw(st.sampled_from([1, 3, 70]))
    venv = mcia.MciaVectorEnv(b, SMALL, copy=data.draw(st.booleans()), autoreset_mode=data.draw(st.sampled_from(["next_step", "same_step"])))
    venv.reset(seed=data.draw(st.integers(0, 1000)))
    for _ in range(3):
        before = venv.snapshot()
        action = data.draw(actions(venv.num_devices, venv.num_versions, venv.num_units, b))
        out, err = call(venv.step, action)
        if err is not None:
            assert isinstance(err, mcia.ActionError), err
            assert venv.snapshot() == before
            continue
        obs, r, term, trunc, info = out
        assert_outputs_valid(venv.single_observation_space, obs, r, info)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
@given(st.data())
def test_the_share_step_takes_any_decisions_or_rejects_them_without_changing_anything(data):
    """``RustPolicy("optimizer").shares`` on any action: valid weights for the decisions given, which it keeps,
    or an ActionError; the env is never changed."""
    b = data.draw(st.sampled_from([1, 3, 20]))
    venv = mcia.MciaVectorEnv(b, SMALL)
    venv.reset(seed=data.draw(st.integers(0, 1000)))
    opt = mcia.policies.RustPolicy("optimizer", SMALL)
    before = venv.snapshot()
    action = data.draw(actions(venv.num_devices, venv.num_versions, venv.num_units, b))
    out, err = call(opt.shares, venv, action)
    assert venv.snapshot() == before
    if err is not None:
        assert isinstance(err, mcia.ActionError), err
        return
    for k in ("version", "partition"):
        assert np.array_equal(out[k], np.asarray(action[k]).astype(np.int64))
    for k in ("bandwidth", "compute"):
        assert np.all(np.isfinite(out[k])) and np.all((out[k] >= 0) & (out[k] <= 1))
    venv.step(out)


# -- call sequences --------------------------------------------------------------------------------------

OPS = ["reset", "reset_seed", "reset_mask", "step", "bad_step", "pickle", "snapshot_restore", "policy"]


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.sampled_from(OPS), min_size=1, max_size=14), st.integers(0, 2**20))
def test_call_sequences_match_a_twin_and_keep_outputs_valid(ops, seed):
    """Two vector envs given the same valid calls stay bit-identical, whatever pickling, snapshots and
    rejected calls happen in between on the first."""
    b = 4
    a, twin = mcia.MciaVectorEnv(b, SMALL), mcia.MciaVectorEnv(b, SMALL)
    space = a.action_space
    space.seed(seed)
    started = False
    for i, op in enumerate(ops):
        if op == "reset" and started:
            oa, _ = a.reset()
            ob, _ = twin.reset()
        elif op in ("reset", "reset_seed"):
            oa, _ = a.reset(seed=seed + i)
            ob, _ = twin.reset(seed=seed + i)
            started = True
        elif op == "reset_mask" and started:
            mask = np.arange(b) % 2 == i % 2
            oa, _ = a.reset(options={"reset_mask": mask})
            ob, _ = twin.reset(options={"reset_mask": mask})
        elif op in ("step", "policy"):
            act = mcia.policies.RustPolicy("greedy", SMALL)(a) if op == "policy" and started else space.sample()
            act = {k: np.array(v) for k, v in act.items()}
            ra, ea = call(a.step, act)
            rb, eb = call(twin.step, act)
            assert (ea is None) == (eb is None)
            if ea is None:
                oa, ob = ra[0], rb[0]
                np.testing.assert_array_equal(ra[1], rb[1])
                assert_outputs_valid(a.single_observation_space, ra[0], ra[1], ra[4])
            else:
                assert isinstance(ea, mcia.ResetNeeded) and not started
            continue
        elif op == "bad_step":
            bad = space.sample()
            bad["version"] = np.full_like(bad["version"], 99)
            before = a.snapshot()
            _, err = call(a.step, bad)
            assert err is not None and a.snapshot() == before
            continue
        elif op == "pickle":
            a = pickle.loads(pickle.dumps(a))
            continue
        elif op == "snapshot_restore":
            twin_snap = twin.snapshot()
            fresh = mcia.MciaVectorEnv(b, SMALL)
            fresh.restore(a.snapshot())
            a = fresh
            assert a.snapshot() == twin_snap
            continue
        else:
            continue
        np.testing.assert_array_equal(oa, ob)
    assert a.snapshot() == twin.snapshot()


# -- tampered snapshots ----------------------------------------------------------------------------------


@st.composite
def tampered(draw, snap):
    s = json.loads(snap)
    what = draw(st.sampled_from(["t", "edge_load", "edge_backlog_s", "status", "rng", "device", "drop", "extra", "devices_len"]))
    if what == "t":
        s["t"] = draw(st.sampled_from([0, 1, 5, 6, 7, 10**9, -1]))
    elif what == "edge_load":
        s["edge_load"] = draw(st.sampled_from([0, 2, 3, 255, -1]))
    elif what == "edge_backlog_s":
        s["edge_backlog_s"] = draw(nasty_floats)
    elif what == "status":
        s["status"] = draw(st.sampled_from(["Running", "Ended", "NeverReset", "Flying", 3]))
    elif what == "rng":
        s["rng"] = draw(st.sampled_from([{"s": [0, 0, 0, 0]}, {"s": [1, 0, 0, 0]}, {"s": [1, 2]}, {}, None]))
    elif what == "device":
        d = s["devices"][draw(st.integers(0, len(s["devices"]) - 1))]
        key = draw(st.sampled_from(["task", "load", "distance_m", "h_re", "h_im", "backlog_s"]))
        d[key] = draw(st.one_of(nasty_floats, st.sampled_from([-1, 3, 7, 255, 1e200])))
    elif what == "drop":
        del s[draw(st.sampled_from(sorted(s)))]
    elif what == "extra":
        s["colour"] = 1
    else:
        s["devices"] = s["devices"][:-1]
    return json.dumps(s)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tampered_snapshots_are_snapshot_errors_or_restore_to_a_valid_state(data):
    env = mcia.MciaEnv(SMALL)
    env.reset(seed=data.draw(st.integers(0, 100)))
    env.step(env.action_space.sample())
    good = env.snapshot()
    bad = data.draw(tampered(good))
    _, err = call(env.restore, bad)
    if err is not None:
        assert isinstance(err, mcia.SnapshotError)
        assert env.snapshot() == good
        return
    for _ in range(3):
        out, err = call(env.step, env.action_space.sample())
        if err is not None:
            assert isinstance(err, mcia.ResetNeeded)
            break
        assert_outputs_valid(env.observation_space, out[0], out[1], out[4])


# -- seeds -----------------------------------------------------------------------------------------------

seeds = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.floats(), st.text(max_size=4), st.none(),
    st.lists(st.one_of(st.integers(-5, 2**65), st.none(), st.floats(), st.booleans()), max_size=4),
    st.sampled_from([np.int64(5), np.uint64(2**64 - 1), np.int8(-1), np.float64(1.0), np.bool_(True), np.array([1, 2, 3, 4])]),
)


@given(seeds)
def test_seeds_are_non_negative_integers_or_a_value_error_naming_the_seed(seed):
    env = mcia.MciaEnv(SMALL)
    _, err = call(env.reset, seed=seed)
    ok = seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and 0 <= int(seed) < 2**64)
    assert (err is None) == ok, (seed, err)
    if err is not None:
        assert isinstance(err, ValueError) and "seed" in str(err)
    venv = mcia.MciaVectorEnv(4, SMALL)
    _, err = call(venv.reset, seed=seed)
    if err is not None:
        assert "seed" in str(err)
    else:
        assume(True)


# -- misuse ----------------------------------------------------------------------------------------------


def test_error_classes_have_clean_names_and_one_family():
    for cls in (mcia.ConfigError, mcia.ActionError, mcia.ResetNeeded, mcia.SnapshotError, mcia.PolicyError, mcia.InternalError,
                mcia.ConcurrentUseError, mcia.OutOfMemoryError):
        assert issubclass(cls, mcia.MciaError) and issubclass(cls, ValueError)
        assert cls.__module__ == "mcia" and not cls.__name__.endswith("_")
    assert issubclass(mcia.OutOfMemoryError, MemoryError)


def test_a_vector_env_too_large_is_an_out_of_memory_error():
    with pytest.raises(mcia.OutOfMemoryError, match="num_envs=100000000000"):
        mcia.MciaVectorEnv(10**11)
    with pytest.raises(MemoryError):
        mcia.MciaVectorEnv(10**11)


def test_two_threads_on_one_vector_env_get_an_error_never_a_torn_batch():
    import threading

    venv = mcia.MciaVectorEnv(2048, SMALL, num_threads=2)
    venv.reset(seed=0)
    action = venv.action_space.sample()
    errors, torn, done = [], [], threading.Event()

    def worker():
        while not done.is_set():
            try:
                obs, *_ = venv.step(action)
            except mcia.ConcurrentUseError as e:
                errors.append(e)
                continue
            # Every environment is at the same slot, so one batch holds one time value.
            if len(np.unique(obs[:, -1])) != 1:
                torn.append(obs[:, -1].copy())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    import time

    time.sleep(1.5)
    done.set()
    for t in threads:
        t.join()
    assert not torn
    assert errors, "two threads stepping for 1.5 s never collided"
    assert "another call" in str(errors[0])
