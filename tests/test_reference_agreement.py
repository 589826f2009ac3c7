"""The Rust core and the NumPy reference (``mcia.reference``) agree on thousands of random states and actions.

Random draws are not compared statistically: the reference is fed the exact exogenous values the Rust step
will use (``peek_noise``), so every output of a step can be compared number by number. Floats agree to 1e-12
relative (they are the same formulas, evaluated in a different order); float32 observations agree to one
unit in the last place. Every case runs on both env ids (MCIA-v0 and MCIA-Cloud-v0, SPEC section 8), with
synthetic channels and with trace-driven uplinks (section 8.1).

The reset draws of the cloud tier and the traces, and the order of a step's last draws, are checked against
the Rust RNG stream itself: a few lines below replay xoshiro256++ (the core's generator) from a snapshot's
RNG state, forwards and backwards.
"""

import json

import numpy as np
import pytest

import mcia
from mcia import traces
from mcia.reference import ReferenceModel, noise_from_list, state_from_snapshots

ENV_IDS = list(mcia.ENV_IDS)

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
        # Only read by MCIA-Cloud-v0: a congested two-level WAN with a long round trip.
        "cloud": {"backhaul_bps": 20e6, "wan_rtt_s": 0.1, "wan_levels": [0.2, 0.9], "wan_transition": [[0.6, 0.4], [0.3, 0.7]]},
    },
]

#: Short traces (periods of 1.5, 2 and 1 s) so that 12 slots wrap around them: interleaved rows, a header, a
#: comment, a trace starting at t = 100 s, outages (0 bit/s), a one-sample trace, and 9e7 bit/s on a 1 MHz
#: band, which saturates the observation at 2.
SHORT_TRACES = """trace_id,time_s,throughput_bps
# fast: period 1.1 + 0.4 = 1.5 s; slow: period 1.25 + 0.75 = 2 s; flat: constant
fast,100.0,4.0e6
slow,0.0,2.5e5
fast,100.25,0
fast,100.7,9.0e7
slow,0.5,1.2e6
flat,3.0,3.0e6
fast,101.1,1.5e6
slow,1.25,0
"""


def trace_config(case, tmp_path):
    """The config of a trace-driven case: the shipped example set on the default scenario, or the short set."""
    if case == "example":
        return {"radio": {"trace_file": traces.example_path()}}
    path = tmp_path / "short.csv"
    path.write_text(SHORT_TRACES)
    return {"radio": {"trace_file": str(path), "bandwidth_hz": 1e6}, "time": {"slot_s": 0.3}, "edge": {"edge_gflops": 40.0}}


def random_action(rng, b, n, m, l, cloud):
    action = {
        "version": rng.integers(0, m, size=(b, n)),
        "partition": rng.integers(0, l + 1, size=(b, n)),
        # Exact zeros exercise the eps floor; values above 1 are legal weights.
        "bandwidth": np.where(rng.random((b, n)) < 0.15, 0.0, rng.random((b, n)) * 2.0),
        "compute": np.where(rng.random((b, n)) < 0.15, 0.0, rng.random((b, n)) * 2.0),
    }
    if cloud:
        # Uniform over 0..L: p2 <= p1 (the edge relays), p1 < p2 < L (all three sites) and p2 = L (no cloud);
        # a fifth of the devices go cloud-only (p1 = p2 = 0).
        action["cloud_partition"] = rng.integers(0, l + 1, size=(b, n))
        cloud_only = rng.random((b, n)) < 0.2
        action["partition"] = np.where(cloud_only, 0, action["partition"])
        action["cloud_partition"] = np.where(cloud_only, 0, action["cloud_partition"])
    return action


def assert_close(name, rust, ref, rtol=1e-12, atol=1e-300):
    rust, ref = np.asarray(rust, dtype=float), np.asarray(ref, dtype=float)
    assert rust.shape == ref.shape, name
    np.testing.assert_array_equal(np.isnan(rust), np.isnan(ref), err_msg=name)
    ok = ~np.isnan(rust)
    np.testing.assert_allclose(rust[ok], ref[ok], rtol=rtol, atol=atol, err_msg=name)


FLOAT_INFO = ("channel_gain", "device_flops", "backlog_s", "bandwidth_share", "compute_share", "t_wait",
              "t_local", "t_tx", "t_edge", "latency", "accuracy", "edge_flops", "edge_backlog_s")
INT_INFO = ("task_type", "version", "partition", "deadline_met", "accuracy_met")


def run_agreement(cfg, seed, rng_seed, b=256, steps=12):
    """Steps a Rust vector env and the reference side by side with random actions and the Rust draws;
    asserts that every output agrees. Returns counts of what the steps exercised."""
    venv = mcia.MciaVectorEnv(b, cfg, num_threads=2)
    ref = ReferenceModel(json.loads(cfg.to_json()))
    assert ref.cloud == venv.cloud and ref.obs_dim == venv.single_observation_space.shape[0]
    n, m, l = venv.num_devices, venv.num_versions, venv.num_units
    rng = np.random.default_rng(rng_seed)
    obs, _ = venv.reset(seed=seed)
    seen = {"compared": 0, "max_edge_backlog": 0.0, "wan": 0, "relay": 0, "three_sites": 0, "cloud_only": 0}
    for step in range(steps):
        state = state_from_snapshots(json.loads(venv.snapshot()))
        noise = noise_from_list([venv.peek_noise(i) for i in range(b)])
        assert ("u_wan_load" in noise) == ref.cloud
        np.testing.assert_array_equal(ref.observe(state), obs)
        action = random_action(rng, b, n, m, l, ref.cloud)
        obs, reward, terminated, truncated, info = venv.step(action)
        nxt, ref_reward, ref_info, ref_obs, ref_trunc = ref.step(state, action, noise)

        assert set(info) == set(ref_info)
        # Utilities and rewards are differences of terms: near 0 only an absolute tolerance makes sense.
        assert_close("reward", reward, ref_reward, atol=1e-14)
        assert_close("utility", info["utility"], ref_info["utility"], atol=1e-14)
        for key in FLOAT_INFO + (("t_wan", "t_cloud", "wan_bps") if ref.cloud else ()):
            assert_close(key, info[key], ref_info[key])
        for key in INT_INFO + (("cloud_partition",) if ref.cloud else ()):
            np.testing.assert_array_equal(info[key], ref_info[key], err_msg=key)
        np.testing.assert_array_equal(truncated, ref_trunc)
        np.testing.assert_allclose(obs, ref_obs, rtol=1.2e-7, atol=0)

        after = state_from_snapshots(json.loads(venv.snapshot()))
        for key in ("distance_m", "h_re", "h_im"):
            assert_close(key, after[key], nxt[key])
        # Backlogs are q + busy - slot_s: their rounding is absolute, at the scale of the slot.
        for key in ("backlog_s", "edge_backlog_s"):
            assert_close(key, after[key], nxt[key], atol=1e-14)
        for key in ("task", "load", "edge_load", "wan_load", "t", "trace", "trace_offset_s"):
            np.testing.assert_array_equal(after[key], nxt[key], err_msg=key)

        seen["compared"] += b
        seen["max_edge_backlog"] = max(seen["max_edge_backlog"], float(after["edge_backlog_s"].max()))
        if ref.cloud:
            p1, p2 = info["partition"], info["cloud_partition"]
            has = info["task_type"] != 0
            seen["wan"] += int(np.sum(has & (p2 < l)))
            seen["relay"] += int(np.sum(has & (p1 < l) & (p1 == p2)))
            seen["three_sites"] += int(np.sum(has & (p1 < p2) & (p2 < l)))
            seen["cloud_only"] += int(np.sum(has & (p2 == 0)))
    assert seen["compared"] >= 3000
    if ref.cloud:   # every kind of second cut was stepped, not only p2 = L
        assert min(seen["wan"], seen["relay"], seen["three_sites"], seen["cloud_only"]) > 50, seen
    return seen


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("cfg_index", range(len(CONFIGS)))
def test_rust_and_reference_agree_step_by_step(cfg_index, env_id):
    seen = run_agreement(mcia.env_config(env_id, CONFIGS[cfg_index]), seed=100 * cfg_index, rng_seed=cfg_index)
    if cfg_index == 2:
        assert seen["max_edge_backlog"] > 0.1  # the edge queue was exercised, not only its empty state


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("case", ["example", "short"])
def test_trace_driven_uplinks_agree_step_by_step(case, env_id, tmp_path):
    cfg = mcia.env_config(env_id, trace_config(case, tmp_path))
    ref = ReferenceModel(json.loads(cfg.to_json()))
    assert ref.traces is not None
    run_agreement(cfg, seed=7, rng_seed=70)
    if case == "short":
        # The rate and the observation follow the traces: saturated (2) and outage (0) entries occur, and the
        # 12 slots of 0.3 s wrapped around every period (checked above through the observations).
        venv = mcia.MciaVectorEnv(64, cfg)
        obs, _ = venv.reset(seed=3)
        spectral = obs[:, 2:7 * ref.n:7]
        assert np.any(spectral == 2.0) and np.any(spectral == 0.0)
        assert [tr.period for tr in ref.traces] == pytest.approx([1.5, 2.0, 1.0], rel=1e-12)   # 101.1 - 100 rounds


# ---------------------------------------------------------------------------------------------------------
# The Rust RNG stream: reset draws of the cloud tier and the traces, and the order of a step's last draws
# ---------------------------------------------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & _MASK


class RustRng:
    """xoshiro256++ as the Rust core uses it (``rand_xoshiro``), from a snapshot's ``{"s": [4 words]}``."""

    def __init__(self, snapshot_rng):
        self.s = list(snapshot_rng["s"])

    def next_u64(self):
        s = self.s
        out = (_rotl((s[0] + s[3]) & _MASK, 23) + s[0]) & _MASK
        t = (s[1] << 17) & _MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return out

    def uniform(self):
        """``rng.random::<f64>()`` of rand 0.10: the top 53 bits times 2^-53."""
        return (self.next_u64() >> 11) * 2.0 ** -53

    def undo(self):
        """Steps the state back by one draw (the xoshiro update is a bijection)."""
        a1, b1, c2, d2 = self.s
        d1 = _rotl(d2, 64 - 45)
        a = a1 ^ d1                      # a1 = a ^ b ^ d, d1 = d ^ b
        x = b1 ^ c2                      # = b ^ (b << 17): invert the xorshift
        b = x
        for _ in range(4):
            b = x ^ ((b << 17) & _MASK)
        self.s = [a, b, c2 ^ a ^ ((b << 17) & _MASK), d1 ^ b]


def test_rust_rng_replay_round_trips():
    rng = RustRng({"s": [1, 2, 3, 4]})
    first = rng.next_u64()
    assert first == 41943041  # xoshiro256++ reference output for the state (1, 2, 3, 4)
    rng.undo()
    assert rng.s == [1, 2, 3, 4]


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("with_traces", [False, True], ids=["synthetic", "traces"])
def test_tier_reset_draws_follow_the_rust_stream(env_id, with_traces):
    """SPEC sections 8 and 8.1: at reset the WAN level, then each device's (u_trace, u_offset), come after
    every MCIA-v0 draw. A synthetic MCIA-v0 env reset with the same seed stops right before them: replaying
    the RNG from its snapshot must give the cloud / trace env's state and RNG exactly."""
    b = 16
    extra = {"radio": {"trace_file": traces.example_path()}} if with_traces else {}
    cfg = mcia.env_config(env_id, extra)
    ref = ReferenceModel(json.loads(cfg.to_json()))
    assert ref.tier_reset_draws == int(ref.cloud) + (2 * ref.n if with_traces else 0)
    plain = mcia.MciaVectorEnv(b, mcia.env_config("MCIA-v0", {}))
    venv = mcia.MciaVectorEnv(b, cfg)
    plain.reset(seed=11)
    obs, _ = venv.reset(seed=11)
    plain_snaps, snaps = json.loads(plain.snapshot()), json.loads(venv.snapshot())

    rngs = [RustRng(s["rng"]) for s in plain_snaps]
    u = np.array([[r.uniform() for _ in range(ref.tier_reset_draws)] for r in rngs]).reshape(b, ref.tier_reset_draws)
    want = ref.apply_tier_reset_draws(state_from_snapshots(plain_snaps), u)
    got = state_from_snapshots(snaps)
    for key in got:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert [r.s for r in rngs] == [s["rng"]["s"] for s in snaps]   # nothing else was drawn
    np.testing.assert_array_equal(ref.observe(want), obs)
    if ref.cloud:
        assert len(set(got["wan_load"].tolist())) > 1
    if with_traces:
        assert len(set(got["trace"].ravel().tolist())) == len(ref.traces)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_draws_the_wan_chain_last(env_id):
    """SPEC section 8: the WAN chain steps after the edge load chain. Running the RNG back from the state
    after a step gives ``u_wan_load`` (cloud tier), then ``u_edge_load``, as ``peek_noise`` announced."""
    b = 8
    cfg = mcia.env_config(env_id, {})
    ref = ReferenceModel(json.loads(cfg.to_json()))
    venv = mcia.MciaVectorEnv(b, cfg)
    venv.reset(seed=21)
    peeked = [venv.peek_noise(i) for i in range(b)]
    venv.step(random_action(np.random.default_rng(0), b, ref.n, ref.m, ref.l, ref.cloud))
    for i, snap in enumerate(json.loads(venv.snapshot())):
        rng = RustRng(snap["rng"])
        last = []
        for _ in range(2):
            rng.undo()
            last.append(RustRng({"s": rng.s}).uniform())
        want = [peeked[i]["u_wan_load"], peeked[i]["u_edge_load"]] if ref.cloud else [peeked[i]["u_edge_load"]]
        assert last[: len(want)] == want


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
