"""The Rust core and the NumPy reference (``mcia.reference``) agree on thousands of random states and actions.

Random draws are not compared statistically: the reference is fed the exact exogenous values the Rust step
will use (``peek_noise``), so every output of a step can be compared number by number. Floats agree to 1e-9
relative (they are the same formulas, evaluated in a different order); float32 observations agree to one
unit in the last place.
"""

import json

import numpy as np
import pytest

import mcia
from mcia.reference import ReferenceModel, noise_from_list, state_from_snapshots

CONFIGS = [
    {},
    "v0-light",
    # A slow edge and short slots: the edge queue q_E builds up and carries over between slots.
    {"edge": {"edge_gflops": 10.0}, "time": {"slot_s": 0.1}},
    {"radio": {"bandwidth_hz": 2e6, "mobility_mps": 20.0, "fading_correlation": 0.3}, "tasks": {"as_ratio": 0.8}},
    {
        "devices": {"device_classes": ["pi4", "jetson", "pi_zero_2w"], "class_gflops": {"jetson": 120.0}},
        "zoo": {"versions": ["1.0_128", "0.25_224", "0.5_160"], "feature_bytes_per_element": 2.0},
        "edge": {"edge_gflops": 40.0},
        "load": {"edge_levels": [0.1, 0.9], "edge_transition": [[0.5, 0.5], [0.2, 0.8]]},
        "time": {"slot_s": 0.2},
    },
]


def random_action(rng, b, n, m, l):
    return {
        "version": rng.integers(0, m, size=(b, n)),
        "partition": rng.integers(0, l + 1, size=(b, n)),
        # Exact zeros exercise the eps floor; values above 1 are legal weights.
        "bandwidth": np.where(rng.random((b, n)) < 0.15, 0.0, rng.random((b, n)) * 2.0),
        "compute": np.where(rng.random((b, n)) < 0.15, 0.0, rng.random((b, n)) * 2.0),
    }


def assert_close(name, rust, ref, rtol=1e-9):
    rust, ref = np.asarray(rust, dtype=float), np.asarray(ref, dtype=float)
    assert rust.shape == ref.shape, name
    np.testing.assert_array_equal(np.isnan(rust), np.isnan(ref), err_msg=name)
    ok = ~np.isnan(rust)
    np.testing.assert_allclose(rust[ok], ref[ok], rtol=rtol, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("cfg_index", range(len(CONFIGS)))
def test_rust_and_reference_agree_step_by_step(cfg_index):
    cfg = mcia.Config(CONFIGS[cfg_index])
    b = 256
    venv = mcia.MciaVectorEnv(b, cfg, num_threads=2)
    ref = ReferenceModel(json.loads(cfg.to_json()))
    n, m, l = venv.num_devices, venv.num_versions, venv.num_units
    rng = np.random.default_rng(cfg_index)
    obs, _ = venv.reset(seed=100 * cfg_index)
    compared = 0
    max_edge_backlog = 0.0
    for step in range(12):
        state = state_from_snapshots(json.loads(venv.snapshot()))
        noise = noise_from_list([venv.peek_noise(i) for i in range(b)])
        np.testing.assert_array_equal(ref.observe(state), obs)
        action = random_action(rng, b, n, m, l)
        obs, reward, terminated, truncated, info = venv.step(action)
        nxt, ref_reward, ref_info, ref_obs, ref_trunc = ref.step(state, action, noise)

        assert_close("reward", reward, ref_reward)
        for key in ("channel_gain", "device_flops", "backlog_s", "bandwidth_share", "compute_share", "t_wait",
                    "t_local", "t_tx", "t_edge", "latency", "accuracy", "utility", "edge_flops", "edge_backlog_s"):
            assert_close(key, info[key], ref_info[key])
        for key in ("task_type", "version", "partition", "deadline_met", "accuracy_met"):
            np.testing.assert_array_equal(info[key], ref_info[key], err_msg=key)
        np.testing.assert_array_equal(truncated, ref_trunc)
        np.testing.assert_allclose(obs, ref_obs, rtol=1.2e-7, atol=0)

        after = state_from_snapshots(json.loads(venv.snapshot()))
        for key in ("backlog_s", "edge_backlog_s", "distance_m", "h_re", "h_im"):
            assert_close(key, after[key], nxt[key])
        max_edge_backlog = max(max_edge_backlog, float(after["edge_backlog_s"].max()))
        for key in ("task", "load", "edge_load", "t"):
            np.testing.assert_array_equal(after[key], nxt[key], err_msg=key)
        compared += b
    assert compared >= 3000
    if cfg_index == 2:
        assert max_edge_backlog > 0.1  # the edge queue was exercised, not only its empty state


def test_reference_zoo_matches_rust_zoo():
    from mcia import zoo
    from mcia.reference import mobilenet_v1_family

    rust = zoo.family("mobilenet_v1").to_dict()
    ref = mobilenet_v1_family()
    assert [v["name"] for v in rust["versions"]] == [v["name"] for v in ref["versions"]]
    for rv, pv in zip(rust["versions"], ref["versions"]):
        assert rv["accuracy"] == pv["accuracy"] and rv["input_bytes"] == pv["input_bytes"]
        assert [u["flops"] for u in rv["units"]] == [u["flops"] for u in pv["units"]]
        assert [u["out_elems"] for u in rv["units"]] == [u["out_elems"] for u in pv["units"]]


def test_reset_distribution_matches_the_reference_statistically():
    """Reset draws use different generators, so they are compared in distribution."""
    b = 4000
    venv = mcia.MciaVectorEnv(b, info=True)
    _, info = venv.reset(seed=1)
    state = state_from_snapshots(json.loads(venv.snapshot()))
    ref = ReferenceModel({})
    rstate = ref.reset(np.random.default_rng(1), b)
    for key in ("distance_m", "h_re", "h_im"):
        assert abs(state[key].mean() - rstate[key].mean()) < 0.05 * max(1.0, abs(rstate[key].mean()))
        assert abs(state[key].std() / rstate[key].std() - 1) < 0.05
    for key in ("task", "load"):
        rust_freq = np.bincount(state[key].ravel(), minlength=3) / state[key].size
        ref_freq = np.bincount(rstate[key].ravel(), minlength=3) / rstate[key].size
        np.testing.assert_allclose(rust_freq, ref_freq, atol=0.02)
