"""Unit tests of the NumPy reference model (mcia.reference) on its own, without the compiled core."""

import importlib.util
import json
import math
import pathlib
import sys

import numpy as np
import pytest

_PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1] / "python"


def _load_reference():
    """Imports mcia.reference; falls back to the source file when the package (or its compiled core) is missing."""
    try:
        import mcia  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(_PYTHON_DIR))
    try:
        import mcia.reference as ref

        return ref
    except ImportError:
        path = _PYTHON_DIR / "mcia" / "reference.py"
        spec = importlib.util.spec_from_file_location("mcia_reference_standalone", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


ref = _load_reference()
ReferenceModel = ref.ReferenceModel
mobilenet_v1_family = ref.mobilenet_v1_family
state_from_snapshots = ref.state_from_snapshots
noise_from_list = ref.noise_from_list


def _merge(base: dict, override: dict) -> dict:
    """``base`` with ``override`` merged in, nested dicts key by key (neither argument is modified)."""
    out = json.loads(json.dumps(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = json.loads(json.dumps(value))
    return out


def _v0_light() -> dict:
    """The ``v0-light`` preset (the revision-1 defaults: 5 devices, 10 MHz, 1 byte per feature element) as a
    full config dict: from the package when it imports, else from the preset's TOML file."""
    try:
        import mcia

        return json.loads(mcia.Config.preset("v0-light").to_json())
    except (ImportError, AttributeError):
        import tomllib

        with open(_PYTHON_DIR / "mcia" / "scenarios" / "v0-light.toml", "rb") as f:
            return _merge(ref.DEFAULT_CONFIG, tomllib.load(f))


#: The hand-computed values below were worked out on the revision-1 scenario.
V0_LIGHT = _v0_light()


# ---------------------------------------------------------------------------------------------------------
# Section 2: the MobileNet v1 profile
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, macs",
    [
        ("1.0_224", 569e6),
        ("0.75_224", 325e6),
        ("0.5_224", 149e6),
        ("0.25_224", 41e6),
        ("1.0_192", 418e6),
        ("1.0_160", 290e6),
        ("1.0_128", 186e6),
    ],
)
def test_mac_totals_match_the_paper(name, macs):
    fam = mobilenet_v1_family()
    version = next(v for v in fam["versions"] if v["name"] == name)
    got = sum(u["flops"] for u in version["units"]) / 2.0
    assert abs(got / macs - 1.0) < 0.01, f"{name}: {got} MACs vs {macs}"


def test_family_layout():
    fam = mobilenet_v1_family()
    assert fam["name"] == "mobilenet_v1"
    names = [v["name"] for v in fam["versions"]]
    assert len(names) == 16
    assert names[:5] == ["1.0_224", "1.0_192", "1.0_160", "1.0_128", "0.75_224"]
    assert names[-1] == "0.25_128"
    v = fam["versions"][0]
    assert v["accuracy"] == 0.707 and v["input_bytes"] == 224 * 224 * 3
    units = v["units"]
    assert [u["name"] for u in units] == ["conv0"] + [f"block{i}" for i in range(1, 14)] + ["avgpool", "fc"]
    assert units[0]["flops"] == 2 * 112 * 112 * 27 * 32 and units[0]["out_elems"] == 112 * 112 * 32
    # block1: 112x112, 32 -> 64, stride 1.
    assert units[1]["flops"] == 2 * (112 * 112 * 9 * 32 + 112 * 112 * 32 * 64)
    # block2 has stride 2: 56x56, 64 -> 128.
    assert units[2]["flops"] == 2 * (56 * 56 * 9 * 64 + 56 * 56 * 64 * 128)
    assert units[13]["out_elems"] == 7 * 7 * 1024
    assert units[14]["flops"] == 2 * 7 * 7 * 1024 and units[14]["out_elems"] == 1024
    assert units[15]["flops"] == 2 * 1024 * 1000 and units[15]["out_elems"] == 1000
    # int(0.75 * 32) = 24 channels, 192 / 2 = 96.
    v = next(v for v in fam["versions"] if v["name"] == "0.75_192")
    assert v["units"][0]["out_elems"] == 96 * 96 * 24
    assert next(v for v in fam["versions"] if v["name"] == "0.25_128")["accuracy"] == 0.413


def test_default_derived_arrays():
    model = ReferenceModel({})
    assert (model.n, model.m, model.l, model.obs_dim) == (10, 4, 16, 73)
    assert model.cum_flops.shape == (4, 17) and model.upload_bytes.shape == (4, 17)
    assert model.cum_flops[0, 0] == 0.0
    assert model.upload_bytes[0, 0] == 150528.0                   # the raw uint8 image
    assert model.upload_bytes[0, 1] == 112 * 112 * 32 * 0.25     # 0.25 bytes per feature element
    assert model.upload_bytes[0, 15] == 1024.0 * 0.25  # output of unit 15 (avgpool)
    assert model.upload_bytes[0, 16] == 0.0
    assert model.device_classes == ["pi_zero_2w"] * 2 + ["pi4"] * 4 + ["pi5"] * 2 + ["n100"] * 2
    assert model.device_peak_flops[0] == 0.37e9 * 0.5 and model.device_peak_flops[-1] == 62.851e9 * 0.5
    assert model.edge_peak_flops == 229e9 * 0.5
    assert model.device_levels.tolist() == [0.0, 0.4, 0.7] and model.edge_levels.tolist() == [0.0, 0.4, 0.7]
    assert model.pref_deadline_s.tolist() == [0.15, 0.3, 0.15] and model.pref_weight.tolist() == [0.3, 0.8, 0.3]
    assert model.pref_min_accuracy.tolist() == [0.55, 0.65, 0.55]
    assert model.config["radio"]["bandwidth_hz"] == 2e6 and model.config["radio"]["distance_max_m"] == 400.0
    assert math.isclose(model.n0, 10 ** -19.9, rel_tol=1e-12)
    assert model.device_cum[0, -1] == 1.0
    # The revision-1 scenario (v0-light): 5 devices, one byte per feature element.
    light = ReferenceModel(V0_LIGHT)
    assert (light.n, light.m, light.l, light.obs_dim) == (5, 4, 16, 38)
    assert light.upload_bytes[0, 0] == 150528.0
    assert light.upload_bytes[0, 1] == 112 * 112 * 32
    assert light.upload_bytes[0, 15] == 1024.0
    assert light.device_peak_flops[0] == 0.37e9 * 0.5


def test_profile_precedence(tmp_path):
    toy = {"name": "toy", "versions": [{"name": "a", "accuracy": 0.6, "input_bytes": 10.0,
                                        "units": [{"name": "u", "flops": 5.0, "out_elems": 2.0}, {"flops": 7.0, "out_elems": 1.0}]}]}
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(toy))
    from_file = ReferenceModel(_merge(V0_LIGHT, {"zoo": {"profile_file": str(path), "versions": ["a"]}}))
    assert from_file.l == 2 and list(from_file.cum_flops[0]) == [0.0, 5.0, 12.0]
    assert list(from_file.upload_bytes[0]) == [10.0, 2.0, 0.0]
    other = json.loads(json.dumps(toy))
    other["versions"][0]["units"][0]["flops"] = 1.0
    inline = ReferenceModel(_merge(V0_LIGHT, {"zoo": {"profile": other, "profile_file": str(path), "versions": ["a"]}}))
    assert list(inline.cum_flops[0]) == [0.0, 1.0, 8.0]
    # Feature bytes follow zoo.feature_bytes_per_element (0.25 by default); the input is sent as is.
    assert list(ReferenceModel({"zoo": {"profile_file": str(path), "versions": ["a"]}}).upload_bytes[0]) == [10.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="zoo.versions"):
        ReferenceModel({"zoo": {"versions": ["nope"]}})
    with pytest.raises(ValueError, match="zoo.family"):
        ReferenceModel({"zoo": {"family": "resnet"}})


# ---------------------------------------------------------------------------------------------------------
# Section 4: one step by hand
# ---------------------------------------------------------------------------------------------------------

# A toy scenario with round numbers:
#   N0 = 10^((-170 + 0 - 30)/10) = 1e-20 W/Hz; at d = 1000 m the path gain is 10^(-100/10) = 1e-10;
#   SNR on share b with |h|^2 = G: 0.1 * 1e-10 * G / (b * 1e6 * 1e-20) = 1e3 * G / b.
#   toy_dev peak = 2 GFLOPS * 0.5 = 1e9 FLOP/s, toy_fast = 4 * 0.5 = 2e9; edge = 20 * 0.5 = 1e10.
TOY_FAMILY = {
    "name": "toy",
    "versions": [
        {"name": "big", "accuracy": 0.75, "input_bytes": 3e5,
         "units": [{"name": "u1", "flops": 1e8, "out_elems": 1.5e5},
                   {"name": "u2", "flops": 4e8, "out_elems": 5e4},
                   {"name": "u3", "flops": 5e8, "out_elems": 1e3}]},
        {"name": "small", "accuracy": 0.5, "input_bytes": 1e5,
         "units": [{"name": "u1", "flops": 5e7, "out_elems": 1e5},
                   {"name": "u2", "flops": 1e8, "out_elems": 2e4},
                   {"name": "u3", "flops": 5e7, "out_elems": 1e3}]},
    ],
}
#   Tasks, load levels and feature bytes are those of the revision-1 scenario (v0-light).
TOY_CONFIG = _merge(V0_LIGHT, {
    "devices": {"device_classes": ["toy_dev", "toy_dev", "toy_fast", "toy_dev"],
                "class_gflops": {"toy_dev": 2.0, "toy_fast": 4.0}, "device_efficiency": 0.5},
    "edge": {"edge_gflops": 20.0, "edge_efficiency": 0.5},
    "radio": {"bandwidth_hz": 1e6, "noise_dbm_per_hz": -170.0, "noise_figure_db": 0.0,
              "path_loss_at_1km_db": 100.0, "distance_max_m": 2000.0},
    "zoo": {"profile": TOY_FAMILY, "versions": ["big", "small"]},
})


def _toy_state():
    # Device 0: AS, offloads big after unit 1.   |h|^2 = 0.75 * 1.023 so that SNR over b = 0.75 is 1023.
    # Device 1: LS, offloads small at p = 0.      |h|^2 = 0.25 * 0.255 so that SNR over b = 0.25 is 255.
    # Device 2: AS, small fully local (p = 3), load level 0.3.
    # Device 3: no task, backlog 0.7.   The edge queue is empty.
    return {
        "t": np.array([0]),
        "edge_load": np.array([0]),
        "edge_backlog_s": np.array([0.0]),
        "task": np.array([[1, 2, 1, 0]]),
        "load": np.array([[0, 0, 1, 2]]),
        "distance_m": np.array([[1000.0, 1000.0, 1000.0, 1000.0]]),
        "h_re": np.array([[math.sqrt(0.75 * 1.023), 0.0, 1.0, 1.0]]),
        "h_im": np.array([[0.0, math.sqrt(0.25 * 0.255), 0.0, 0.0]]),
        "backlog_s": np.array([[0.1, 0.0, 0.4, 0.7]]),
    }


def _toy_action():
    return {
        "version": np.array([[0, 1, 1, 0]]),
        "partition": np.array([[1, 0, 3, 2]]),
        "bandwidth": np.array([[3.0, 1.0, 5.0, 5.0]]),   # devices 2 and 3 do not offload: ignored
        "compute": np.array([[1.0, 0.0, 5.0, 5.0]]),     # device 1's 0 is floored to eps = 1e-3
    }


def _toy_noise():
    return {
        "z_re": np.zeros((1, 4)), "z_im": np.zeros((1, 4)),
        "u_move": np.array([[0.5, 1.0, 0.0, 0.5]]),
        "u_load": np.array([[0.85, 0.0, 0.99, 0.5]]),
        "u_arrive": np.array([[0.1, 0.1, 0.95, 0.1]]),
        "u_type": np.array([[0.2, 0.7, 0.2, 0.5]]),
        "u_edge_load": np.array([0.97]),
    }


def _rel(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(abs(b), 1e-300)


def test_one_step_by_hand():
    model = ReferenceModel(TOY_CONFIG)
    assert (model.n, model.m, model.l) == (4, 2, 3)
    state = _toy_state()
    before = {k: v.copy() for k, v in state.items()}
    nxt, reward, info, obs, truncated = model.step(state, _toy_action(), _toy_noise())
    for k in state:
        np.testing.assert_array_equal(state[k], before[k])   # the input state is not modified

    # Shares over S = {0, 1}: b = 3/4, 1/4; c = 1/1.001, 0.001/1.001.
    b0, b1 = 0.75, 0.25
    c0, c1 = 1.0 / 1.001, 0.001 / 1.001
    # Device 0 (AS: w 0.8, tau 0.5, a_min 0.65), big, p = 1:
    #   R = 0.75e6 * log2(1024) = 7.5e6 bit/s; t_local = 1e8/1e9 = 0.1; t_tx = 8 * 1.5e5 / 7.5e6 = 0.16;
    #   t_edge = 9e8 / (c0 * 1e10) = 0.09 * 1.001 = 0.09009; latency = 0.1 + 0.1 + 0.16 + 0.09009 = 0.45009.
    #   A_hat = (0.75 - 0.4)/0.35 = 1; u = 0.8 - 0.2 * 0.45009/0.5 = 0.8 - 0.180036 = 0.619964 (deadline met).
    t_local0, t_tx0, t_edge0 = 0.1, 0.16, 0.09009
    lat0 = 0.45009
    u0 = 0.619964
    # Device 1 (LS: w 0.2, tau 0.1, a_min 0.4), small, p = 0:
    #   R = 0.25e6 * log2(256) = 2e6 bit/s; t_tx = 8 * 1e5 / 2e6 = 0.4; t_edge = 2e8 / (c1 * 1e10) = 20.02;
    #   latency = 20.42 > tau: term capped at 3, deadline penalty; acc 0.5 >= 0.4.
    #   u = 0.2 * (0.1/0.35) - 0.8 * 3 - 1 = 0.4/7 - 3.4.
    t_tx1, t_edge1 = 0.4, 20.02
    lat1 = 20.42
    u1 = 0.4 / 7.0 - 3.4
    # Device 2 (AS), small, local: F = 2e9 * 0.7 = 1.4e9; t_local = 2e8 / 1.4e9 = 1/7;
    #   latency = 0.4 + 1/7 > 0.5 and acc 0.5 < 0.65: both penalties.
    #   u = 0.8 * (0.1/0.35) - 0.2 * (0.4 + 1/7)/0.5 - 2 = 1.6/7 - 0.16 - 0.4/7 - 2 = 1.2/7 - 2.16.
    t_local2 = 1.0 / 7.0
    lat2 = 0.4 + 1.0 / 7.0
    u2 = 1.2 / 7.0 - 2.16

    exp = {
        "bandwidth_share": [b0, b1, 0.0, math.nan],
        "compute_share": [c0, c1, 0.0, math.nan],
        "t_wait": [0.1, 0.0, 0.4, math.nan],
        "t_local": [t_local0, 0.0, t_local2, math.nan],
        "t_tx": [t_tx0, t_tx1, 0.0, math.nan],
        "t_edge": [t_edge0, t_edge1, 0.0, math.nan],
        "latency": [lat0, lat1, lat2, math.nan],
        "accuracy": [0.75, 0.5, 0.5, math.nan],
        "utility": [u0, u1, u2, math.nan],
        "channel_gain": [1e-10 * 0.75 * 1.023, 1e-10 * 0.25 * 0.255, 1e-10, 1e-10],
        "device_flops": [1e9, 1e9, 1.4e9, 0.4e9],
        "backlog_s": [0.1, 0.0, 0.4, 0.7],
    }
    for key, want in exp.items():
        got = info[key][0]
        for k in range(4):
            if math.isnan(want[k]):
                assert math.isnan(got[k]), (key, k)
            else:
                assert _rel(got[k], want[k], 1e-11), (key, k, got[k], want[k])
    assert info["task_type"][0].tolist() == [1, 2, 1, 0]
    assert info["version"][0].tolist() == [0, 1, 1, -1]
    assert info["partition"][0].tolist() == [1, 0, 3, -1]
    assert info["deadline_met"][0].tolist() == [1, 0, 0, -1]
    assert info["accuracy_met"][0].tolist() == [1, 1, 0, -1]
    assert info["edge_flops"][0] == 1e10
    assert info["edge_backlog_s"].tolist() == [0.0]

    assert reward.shape == (1,) and reward.dtype == np.float64
    assert _rel(reward[0], (u0 + u1 + u2) / 3.0, 1e-12)

    # Next backlog: busy = t_local + t_tx for devices with a task.
    #   dev 0: max(0, 0.1 + 0.1 + 0.16 - 0.5) = 0; dev 1: max(0, 0 + 0.4 - 0.5) = 0;
    #   dev 2: 0.4 + 1/7 - 0.5 = 1/7 - 0.1; dev 3 (idle): 0.7 - 0.5 = 0.2.
    q = nxt["backlog_s"][0]
    assert q[0] == 0.0 and q[1] == 0.0
    assert _rel(q[2], 1.0 / 7.0 - 0.1, 1e-12) and _rel(q[3], 0.2, 1e-12)
    # Edge backlog: max(0, 0 + (9e8 + 2e8) / 1e10 - 0.5) = 0.
    assert nxt["edge_backlog_s"].tolist() == [0.0]

    # Exogenous transition: z = 0 scales h by 0.9; u_move 0.5 keeps d, 1.0 adds 0.5 m, 0.0 removes 0.5 m;
    # load rows [.8 .95 1], [.1 .9 1], [.05 .2 1]: 0.85 from 0 -> 1, 0.0 from 0 -> 0, 0.99 from 1 -> 2,
    # 0.5 from 2 -> 2; edge 0.97 from 0 -> 2; tasks AS, LS, none, LS.
    np.testing.assert_allclose(nxt["h_re"][0], 0.9 * _toy_state()["h_re"][0], rtol=1e-15)
    np.testing.assert_allclose(nxt["h_im"][0], 0.9 * _toy_state()["h_im"][0], rtol=1e-15)
    assert nxt["distance_m"][0].tolist() == [1000.0, 1000.5, 999.5, 1000.0]
    assert nxt["load"][0].tolist() == [1, 0, 2, 2]
    assert nxt["edge_load"].tolist() == [2]
    assert nxt["task"][0].tolist() == [1, 2, 0, 2]
    assert nxt["t"].tolist() == [1] and truncated.tolist() == [False]

    # Observation of the next state, a few entries by hand.
    assert obs.shape == (1, 31) and obs.dtype == np.float32
    o = obs[0].astype(np.float64)
    snr0 = 1e3 * 0.81 * 0.75 * 1.023      # full band, |h'|^2 = 0.81 |h|^2
    assert abs(o[0:2] - [1.0, 0.0]).max() == 0.0
    assert abs(o[2] - math.log2(1 + snr0) / 20) < 1e-6
    assert abs(o[3] - math.log10(1 + 0.7) / 2) < 1e-6     # device 0 now at load 0.3: F = 0.7e9
    assert abs(o[4] - 0.3) < 1e-7
    assert o[5] == 0.0 and abs(o[6] - 0.5) < 1e-7
    assert abs(o[7 * 2 + 5] - (1.0 / 7.0 - 0.1) / 0.5 / 10) < 1e-6
    assert abs(o[7 * 3 + 5] - 0.2 / 0.5 / 10) < 1e-6
    # Globals: edge load level 2 of v0-light's [0, 0.25, 0.5], edge backlog 0, t = 1 of 100.
    assert abs(o[28] - 0.5) < 1e-7 and o[29] == 0.0 and abs(o[30] - 0.01) < 1e-7


def test_edge_queue_by_hand():
    """The toy step with 0.6 s of work already queued at the edge (SPEC section 4)."""
    model = ReferenceModel(TOY_CONFIG)
    state = _toy_state()
    state["edge_backlog_s"] = np.array([0.6])
    nxt, reward, info, obs, _ = model.step(state, _toy_action(), _toy_noise())
    # Offloading devices wait for q_E first: t_edge = 0.6 + W / (c F_E); the local device 2 is unaffected.
    #   Device 0: t_edge = 0.6 + 0.09009 = 0.69009, latency = 0.1 + 0.1 + 0.16 + 0.69009 = 1.05009 > 0.5:
    #     u = 0.8 - 0.2 * 1.05009 / 0.5 - 1 = -0.620036.
    #   Device 1: t_edge = 0.6 + 20.02 = 20.62, latency 21.02: the latency term stays capped, u as before.
    #   Device 2: latency 0.4 + 1/7, u = 1.2/7 - 2.16 as before.
    t_edge = info["t_edge"][0]
    assert _rel(t_edge[0], 0.69009, 1e-11) and _rel(t_edge[1], 20.62, 1e-11) and t_edge[2] == 0.0
    assert _rel(info["latency"][0][0], 1.05009, 1e-11) and _rel(info["latency"][0][1], 21.02, 1e-11)
    u0, u1, u2 = -0.620036, 0.4 / 7.0 - 3.4, 1.2 / 7.0 - 2.16
    assert _rel(info["utility"][0][0], u0, 1e-11) and _rel(info["utility"][0][1], u1, 1e-11)
    assert _rel(info["utility"][0][2], u2, 1e-11)
    assert info["deadline_met"][0].tolist() == [0, 0, 0, -1]
    assert _rel(reward[0], (u0 + u1 + u2) / 3.0, 1e-12)
    assert info["edge_backlog_s"].tolist() == [0.6]   # q_E before the step
    # q_E' = max(0, 0.6 + (9e8 + 2e8) / 1e10 - 0.5) = 0.21, observed as min(0.21 / 0.5, 10) / 10 = 0.042.
    assert _rel(nxt["edge_backlog_s"][0], 0.21, 1e-12)
    assert abs(float(obs[0, 29]) - 0.042) < 1e-7
    # Device backlogs do not depend on q_E (the device is busy for t_local + t_tx only).
    plain, *_ = model.step(_toy_state(), _toy_action(), _toy_noise())
    np.testing.assert_array_equal(nxt["backlog_s"], plain["backlog_s"])
    # A long queue saturates the observation at 1.
    state["edge_backlog_s"] = np.array([30.0])
    nxt, _, _, obs, _ = model.step(state, _toy_action(), _toy_noise())
    assert _rel(nxt["edge_backlog_s"][0], 29.61, 1e-12) and obs[0, 29] == 1.0


def test_no_task_gives_zero_reward_and_truncation():
    cfg = dict(TOY_CONFIG, time={"episode_slots": 1})
    model = ReferenceModel(cfg)
    state = _toy_state()
    state["task"] = np.zeros((1, 4), dtype=np.int64)
    state["edge_backlog_s"] = np.array([0.7])
    nxt, reward, info, _, truncated = model.step(state, _toy_action(), _toy_noise())
    assert reward.tolist() == [0.0] and truncated.tolist() == [True]
    assert np.isnan(info["latency"]).all() and (info["partition"] == -1).all()
    # Without new work the edge queue drains by one slot: 0.7 - 0.5.
    assert _rel(nxt["edge_backlog_s"][0], 0.2, 1e-12)


def test_mobility_reflects_at_both_bounds():
    # v0-light bounds [50, 300], step (2u - 1) * 1 m/s * 0.5 s.
    #   50.2 - 0.5 = 49.7 -> 2*50 - 49.7 = 50.3;  299.9 + 0.5 = 300.4 -> 2*300 - 300.4 = 299.6;
    #   100 + 0.25 = 100.25;  60 - 0.25 = 59.75;  a huge step overshooting the reflection is clipped into the interval.
    model = ReferenceModel(V0_LIGHT)
    state = model.reset(np.random.default_rng(0), 1)
    state["distance_m"] = np.array([[50.2, 299.9, 100.0, 60.0, 200.0]])
    noise = {k: np.full((1, 5), 0.5) for k in ("u_move", "u_load", "u_arrive", "u_type")}
    noise.update(z_re=np.zeros((1, 5)), z_im=np.zeros((1, 5)), u_edge_load=np.array([0.5]))
    noise["u_move"] = np.array([[0.0, 1.0, 0.75, 0.25, 0.5]])
    action = {"version": np.zeros((1, 5), dtype=np.int64), "partition": np.full((1, 5), 16),
              "bandwidth": np.ones((1, 5)), "compute": np.ones((1, 5))}
    nxt, *_ = model.step(state, action, noise)
    np.testing.assert_allclose(nxt["distance_m"][0], [50.3, 299.6, 100.25, 59.75, 200.0], rtol=1e-13)
    # Steps of +-1000 m: 60 - 1000 = -940 -> 1040 -> -440 -> clip 50;  290 + 1000 = 1290 -> -690 -> clip 50.
    far = ReferenceModel(_merge(V0_LIGHT, {"radio": {"mobility_mps": 2000.0}}))
    state["distance_m"] = np.array([[60.0, 290.0, 100.0, 60.0, 200.0]])
    noise["u_move"] = np.array([[0.0, 1.0, 0.0, 1.0, 0.5]])
    nxt, *_ = far.step(state, action, noise)
    assert nxt["distance_m"][0].tolist() == [50.0, 50.0, 50.0, 50.0, 200.0]


def test_bad_action_is_rejected():
    model = ReferenceModel(TOY_CONFIG)
    action = _toy_action()
    action["partition"] = np.array([[1, 0, 4, 2]])
    with pytest.raises(ValueError, match="partition"):
        model.step(_toy_state(), action, _toy_noise())
    action = _toy_action()
    action["bandwidth"] = np.array([[1.0, -1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="bandwidth"):
        model.step(_toy_state(), action, _toy_noise())


def test_converters():
    snaps = [
        {"t": 3, "edge_load": 1, "edge_backlog_s": 0.25, "status": "Running", "rng": None,
         "devices": [{"task": 1, "load": 2, "distance_m": 60.0, "h_re": 0.1, "h_im": -0.2, "backlog_s": 0.3},
                     {"task": 0, "load": 0, "distance_m": 70.0, "h_re": 0.4, "h_im": 0.5, "backlog_s": 0.0}]},
        {"t": 4, "edge_load": 0, "edge_backlog_s": 0.0, "status": "Running", "rng": None,
         "devices": [{"task": 2, "load": 1, "distance_m": 80.0, "h_re": 0.6, "h_im": 0.7, "backlog_s": 1.0},
                     {"task": 1, "load": 1, "distance_m": 90.0, "h_re": 0.8, "h_im": 0.9, "backlog_s": 2.0}]},
    ]
    s = state_from_snapshots(snaps)
    assert s["t"].tolist() == [3, 4] and s["edge_load"].tolist() == [1, 0]
    assert s["edge_backlog_s"].tolist() == [0.25, 0.0] and s["edge_backlog_s"].dtype == np.float64
    assert s["task"].tolist() == [[1, 0], [2, 1]] and s["task"].dtype == np.int64
    assert s["distance_m"].tolist() == [[60.0, 70.0], [80.0, 90.0]] and s["h_im"][0, 0] == -0.2
    dev = {"z_re": 0.1, "z_im": 0.2, "u_move": 0.3, "u_load": 0.4, "u_arrive": 0.5, "u_type": 0.6}
    z = noise_from_list([{"devices": [dev, dev], "u_edge_load": 0.7}])
    assert z["u_type"].shape == (1, 2) and z["u_type"][0, 1] == 0.6 and z["u_edge_load"].tolist() == [0.7]


# ---------------------------------------------------------------------------------------------------------
# Section 8: one cloud slot by hand
# ---------------------------------------------------------------------------------------------------------

#   The toy scenario with the cloud tier: F_C = 100 GFLOPS * 0.5 = 5e10 FLOP/s; WAN levels [0, 0.5] of an
#   8 Mbit/s backhaul, so at level 1 R_W = 4e6 bit/s; 40 ms round trip.
CLOUD_TOY_CONFIG = _merge(TOY_CONFIG, {
    "cloud": {"enabled": True, "cloud_gflops": 100.0, "cloud_efficiency": 0.5, "backhaul_bps": 8e6,
              "wan_rtt_s": 0.04, "wan_levels": [0.0, 0.5], "wan_transition": [[0.9, 0.1], [0.3, 0.7]]},
})


def _cloud_toy_state():
    state = _toy_state()
    state["edge_backlog_s"] = np.array([0.6])   # the edge still holds 0.6 s of work
    state["wan_load"] = np.array([1])
    return state


def _cloud_toy_action():
    action = _toy_action()
    # Device 0: p1 = 1 < p2 = 2 < L = 3 (device, edge and cloud); device 1: p1 = p2 = 0 (cloud only, the edge
    # relays the image); device 2: p1 = L, so p2' = max(3, 1) = 3 (local); device 3 has no task.
    action["cloud_partition"] = np.array([[2, 0, 1, 0]])
    return action


def _cloud_toy_noise():
    noise = _toy_noise()
    noise["u_wan_load"] = np.array([0.2])      # WAN row of level 1: [0.3, 1] -> level 0
    return noise


def test_one_cloud_slot_by_hand():
    model = ReferenceModel(CLOUD_TOY_CONFIG)
    assert model.cloud and model.obs_dim == 7 * 4 + 4 and model.cloud_flops == 5e10
    nxt, reward, info, obs, _ = model.step(_cloud_toy_state(), _cloud_toy_action(), _cloud_toy_noise())

    # Sets over devices with a task: S = {0, 1} (p1 < L), S_E = {0} (p1 < p2'), S_C = {0, 1} (p2' < L).
    # Bandwidth over S as in section 4: b = 3/4, 1/4. Compute over S_E only: c0 = 1, and 0 for the others.
    # Backhaul split equally over |S_C| = 2: R_W / 2 = 2e6 bit/s each.
    #
    # Device 0 (AS: w 0.8, tau 0.5), big, p1 = 1, p2' = 2:
    #   T_wait = 0.1; T_loc = 1e8 / 1e9 = 0.1; T_tx = 8 * 1.5e5 / (0.75e6 * log2(1024)) = 1.2e6 / 7.5e6 = 0.16;
    #   T_edge = q_E + (cum(2) - cum(1)) / (c0 F_E) = 0.6 + 4e8 / 1e10 = 0.64;
    #   T_wan = 8 * D(2) / (R_W / |S_C|) + rtt = 8 * 5e4 / 2e6 + 0.04 = 0.2 + 0.04 = 0.24;
    #   T_cloud = (cum(3) - cum(2)) / F_C = 5e8 / 5e10 = 0.01;
    #   T = 0.1 + 0.1 + 0.16 + 0.64 + 0.24 + 0.01 = 1.25 > 0.5: u = 0.8 - 0.2 * 2.5 - 1 = -0.7.
    # Device 1 (LS: w 0.2, tau 0.1), small, p1 = p2' = 0: the edge only relays, so it neither waits for q_E
    #   nor computes (T_edge = 0). T_tx = 8 * 1e5 / (0.25e6 * log2(256)) = 0.4; the image crosses the WAN:
    #   T_wan = 8 * 1e5 / 2e6 + 0.04 = 0.44; T_cloud = 2e8 / 5e10 = 0.004; T = 0.4 + 0.44 + 0.004 = 0.844:
    #   latency term capped at 3, u = 0.2 * (0.1 / 0.35) - 0.8 * 3 - 1 = 0.4/7 - 3.4.
    # Device 2: local as in the section 4 toy step (p2' = L: no WAN, no cloud), u = 1.2/7 - 2.16.
    nan = math.nan
    u0, u1, u2 = -0.7, 0.4 / 7.0 - 3.4, 1.2 / 7.0 - 2.16
    exp = {
        "bandwidth_share": [0.75, 0.25, 0.0, nan],
        "compute_share": [1.0, 0.0, 0.0, nan],
        "t_wait": [0.1, 0.0, 0.4, nan],
        "t_local": [0.1, 0.0, 1.0 / 7.0, nan],
        "t_tx": [0.16, 0.4, 0.0, nan],
        "t_edge": [0.64, 0.0, 0.0, nan],
        "t_wan": [0.24, 0.44, 0.0, nan],
        "t_cloud": [0.01, 0.004, 0.0, nan],
        "latency": [1.25, 0.844, 0.4 + 1.0 / 7.0, nan],
        "utility": [u0, u1, u2, nan],
    }
    for key, want in exp.items():
        got = info[key][0]
        for k in range(4):
            if math.isnan(want[k]):
                assert math.isnan(got[k]), (key, k)
            else:
                assert _rel(got[k], want[k], 1e-11), (key, k, got[k], want[k])
    assert info["partition"][0].tolist() == [1, 0, 3, -1]
    assert info["cloud_partition"][0].tolist() == [2, 0, 3, -1]       # the effective p2' = max(p1, p2)
    assert info["deadline_met"][0].tolist() == [0, 0, 0, -1]
    assert info["wan_bps"].tolist() == [4e6]
    assert _rel(reward[0], (u0 + u1 + u2) / 3.0, 1e-12)

    # Edge backlog: only S_E's work reaches the edge (device 1's model runs in the cloud):
    #   q_E' = 0.6 + 4e8 / 1e10 - 0.5 = 0.14. Devices are busy for T_loc + T_tx only (not the WAN or cloud):
    #   device 0: 0.1 + 0.1 + 0.16 - 0.5 < 0 -> 0; device 1: 0.4 - 0.5 < 0 -> 0.
    assert _rel(nxt["edge_backlog_s"][0], 0.14, 1e-12)
    assert nxt["backlog_s"][0][0] == 0.0 and nxt["backlog_s"][0][1] == 0.0
    # The WAN chain steps (after the edge chain, which goes 0 -> 2 as in the section 4 toy step).
    assert nxt["wan_load"].tolist() == [0] and nxt["edge_load"].tolist() == [2]

    # Observation: 7N + 4 entries; wan_load sits between edge_backlog and time.
    assert obs.shape == (1, 32)
    o = obs[0].astype(np.float64)
    assert abs(o[28] - 0.5) < 1e-7 and abs(o[29] - 0.14 / 0.5 / 10) < 1e-7
    assert o[30] == 0.0 and abs(o[31] - 0.01) < 1e-7
    _, _, _, obs1, _ = model.step(_cloud_toy_state(), _cloud_toy_action(), dict(_cloud_toy_noise(), u_wan_load=np.array([0.9])))
    assert obs1[0, 30] == np.float32(0.5)                                # stayed at level 1 (0.9 >= 0.3)


def test_second_cut_at_l_is_mcia_v0():
    """SPEC section 8: p2 = L means no cloud, and the step is MCIA-v0's bit for bit."""
    cloud, plain = ReferenceModel(CLOUD_TOY_CONFIG), ReferenceModel(TOY_CONFIG)
    action = dict(_toy_action(), cloud_partition=np.full((1, 4), 3))
    state = _cloud_toy_state()
    c_next, c_reward, c_info, c_obs, _ = cloud.step(state, action, _cloud_toy_noise())
    p_next, p_reward, p_info, p_obs, _ = plain.step(state, _toy_action(), _toy_noise())
    assert set(c_info) - set(p_info) == {"cloud_partition", "t_wan", "t_cloud", "wan_bps"}
    for key, value in p_info.items():
        np.testing.assert_array_equal(c_info[key], value, err_msg=key)
    np.testing.assert_array_equal(c_reward, p_reward)
    assert c_info["cloud_partition"][0].tolist() == [3, 3, 3, -1]
    assert c_info["t_wan"][0][:3].tolist() == [0.0] * 3 and c_info["t_cloud"][0][:3].tolist() == [0.0] * 3
    for key in ("backlog_s", "edge_backlog_s", "h_re", "distance_m", "task", "load", "edge_load"):
        np.testing.assert_array_equal(c_next[key], p_next[key], err_msg=key)
    np.testing.assert_array_equal(np.delete(c_obs, 30, axis=1), p_obs)   # the same, less wan_load


def test_cloud_partition_is_checked():
    cloud, plain = ReferenceModel(CLOUD_TOY_CONFIG), ReferenceModel(TOY_CONFIG)
    with pytest.raises(ValueError, match="cloud_partition"):
        cloud.step(_cloud_toy_state(), _toy_action(), _cloud_toy_noise())             # missing
    with pytest.raises(ValueError, match="cloud_partition"):
        plain.step(_toy_state(), _cloud_toy_action(), _toy_noise())                   # MCIA-v0 has no second cut
    action = _cloud_toy_action()
    action["cloud_partition"] = np.array([[2, 0, 4, 0]])
    with pytest.raises(ValueError, match="cloud_partition"):
        cloud.step(_cloud_toy_state(), action, _cloud_toy_noise())                    # out of range


# ---------------------------------------------------------------------------------------------------------
# Section 8.1: trace-driven uplinks by hand
# ---------------------------------------------------------------------------------------------------------


def test_traces_hold_samples_and_repeat():
    a, b = ref.parse_traces("trace_id,time_s,throughput_bps\n# comment\na,10,1e6\nb,0,5\na,11,2e6\n\na,13,3e6\n")
    assert (a.id, b.id) == ("a", "b")
    assert a.times.tolist() == [0.0, 1.0, 3.0] and a.period == 5.0        # 3 + (3 - 1)
    assert a.at(np.array([0.0, 0.99, 1.0, 2.5, 3.0, 4.9, 5.0, 6.5])).tolist() == [1e6, 1e6, 2e6, 2e6, 3e6, 3e6, 1e6, 2e6]
    assert b.period == 1.0 and b.at(np.array([123.4])).tolist() == [5.0]  # one sample: constant
    for text, want in [
        ("", "no samples"),
        ("a,0,1\na,1,-5\n", "line 2: throughput_bps"),
        ("a,0,1\na,1,nan\n", "line 2: throughput_bps"),
        ("a,0,1\na,1,2\na,1,3\n", "line 3: time_s 1.0 of trace 'a' must be after"),
        ("a,0\n", "line 1: expected 3 columns"),
        ("a,inf,1\n", "line 1: time_s must be finite"),
        ("a,0,1\nb,x,3\n", "line 2"),
    ]:
        with pytest.raises(ValueError, match=want):
            ref.parse_traces(text)


#   Trace "up": 8e6 bit/s from 0 s, 2e6 from 1 s, an outage from 1.5 s; period 1.5 + 0.5 = 2 s.
#   Trace "flat": 5e7 bit/s, constant. The band is 1 MHz, slots 0.5 s (v0-light).
TOY_TRACES = "up,0,8e6\nup,1,2e6\nup,1.5,0\nflat,0,5e7\n"


def test_trace_driven_slot_by_hand(tmp_path):
    path = tmp_path / "toy.csv"
    path.write_text(TOY_TRACES)
    model = ReferenceModel(_merge(TOY_CONFIG, {"radio": {"trace_file": str(path)}}))
    assert [t.period for t in model.traces] == [2.0, 1.0] and model.tier_reset_draws == 8
    state = _toy_state()
    state["trace"] = np.array([[0, 0, 0, 1]])
    state["trace_offset_s"] = np.array([[0.25, 1.2, 1.9, 0.0]])
    # Slot 0: device 0 at 0.25 s of "up" (8e6), device 1 at 1.2 s (2e6), device 2 at 1.9 s (outage).
    np.testing.assert_array_equal(model.trace_throughput(state), [[8e6, 2e6, 0.0, 5e7]])
    _, _, info, obs, _ = model.step(state, _toy_action(), _toy_noise())
    # R_n = b_n * trace in place of the Shannon rate: device 0: 0.75 * 8e6 = 6e6, T_tx = 1.2e6 / 6e6 = 0.2;
    # device 1: 0.25 * 2e6 = 5e5, T_tx = 8e5 / 5e5 = 1.6. Device 2 computes locally: its outage does not matter.
    assert _rel(info["t_tx"][0][0], 0.2, 1e-12) and _rel(info["t_tx"][0][1], 1.6, 1e-12)
    assert info["t_tx"][0][2] == 0.0
    # Slot 1 (t * slot_s = 0.5 s): 0.75 s -> 8e6, 1.7 s -> outage, 2.4 s wraps to 0.4 s -> 8e6, flat 5e7.
    # spectral_eff = min(trace / B / 20, 2): 8e6 / 1e6 / 20 = 0.4, 0, 0.4 and 50 / 20 = 2.5 -> 2.
    np.testing.assert_allclose(obs[0, 2:28:7], [0.4, 0.0, 0.4, 2.0], rtol=1e-7)


def test_tier_reset_draws_by_hand(tmp_path):
    path = tmp_path / "toy.csv"
    path.write_text(TOY_TRACES)
    model = ReferenceModel(_merge(CLOUD_TOY_CONFIG, {"radio": {"trace_file": str(path)}}))
    assert model.tier_reset_draws == 1 + 2 * 4
    # Order: the WAN level, then (u_trace, u_offset) per device. K = 2 traces of periods 2 and 1 s.
    almost_one = 1.0 - 2.0 ** -53
    u = np.array([[0.7, 0.3, 0.5, 0.6, 0.25, 0.0, 0.0, 0.99, almost_one]])
    state = model.apply_tier_reset_draws(_toy_state(), u)
    assert state["wan_load"].tolist() == [1]                       # floor(0.7 * 2)
    assert state["trace"].tolist() == [[0, 1, 0, 1]]               # floor(u_trace * 2)
    # u_offset * period, clamped to at most period * (1 - 2^-52) as in the Rust core: the largest uniform,
    # 1 - 2^-53, on the 1 s trace gives 1 - 2^-53 s, which the clamp lowers to 1 - 2^-52 s.
    assert state["trace_offset_s"].tolist() == [[1.0, 0.25, 0.0, 1.0 - 2.0 ** -52]]


# ---------------------------------------------------------------------------------------------------------
# Section 5 and invariants over random rollouts
# ---------------------------------------------------------------------------------------------------------


_EXAMPLE_TRACES = str(_PYTHON_DIR / "mcia" / "traces" / "lte_markov.csv")


@pytest.mark.parametrize(
    "config",
    [{}, TOY_CONFIG, {"cloud": {"enabled": True}}, {"cloud": {"enabled": True}, "radio": {"trace_file": _EXAMPLE_TRACES}}],
    ids=["default", "toy", "cloud", "cloud-traces"],
)
def test_random_rollouts_respect_bounds(config):
    model = ReferenceModel(config)
    rng = np.random.default_rng(1234)
    batch = 64
    n, L = model.n, model.l
    high = np.array([1, 1, 2, 2, 1, 1, 1] * n + [1, 1] + [1] * model.cloud + [1], dtype=np.float32)
    np.testing.assert_array_equal(model.obs_high, high)
    state = model.reset(rng, batch)
    obs = model.observe(state)
    assert obs.shape == (batch, model.obs_dim) and obs.dtype == np.float32
    assert model.obs_dim == 7 * n + 3 + model.cloud
    assert np.all(state["edge_backlog_s"] == 0.0)
    if model.traces is not None:
        periods = np.array([t.period for t in model.traces])[state["trace"]]
        assert np.all((state["trace_offset_s"] >= 0.0) & (state["trace_offset_s"] < periods))
    for _ in range(30):
        assert np.all(obs >= 0.0) and np.all(obs <= high)
        action = {
            "version": rng.integers(0, model.m, size=(batch, n)),
            "partition": rng.integers(0, L + 1, size=(batch, n)),
            "bandwidth": rng.random((batch, n)) * (rng.random((batch, n)) < 0.8),   # some exact zeros
            "compute": rng.random((batch, n)),
        }
        if model.cloud:
            action["cloud_partition"] = rng.integers(0, L + 1, size=(batch, n))
        state, reward, info, obs, truncated = model.step(state, action, model.sample_noise(rng, batch))
        has_task = info["task_type"] != 0
        p2 = info["cloud_partition"] if model.cloud else np.full_like(info["partition"], L)
        in_s = has_task & (info["partition"] < L)            # bandwidth is shared over S
        in_se = has_task & (info["partition"] < p2)          # edge compute over S_E (= S without the cloud)
        for key, members in (("bandwidth_share", in_s), ("compute_share", in_se)):
            sums = np.where(members, info[key], 0.0).sum(axis=1)
            any_member = members.any(axis=1)
            np.testing.assert_allclose(sums[any_member], 1.0, rtol=1e-12)
            assert np.all(info[key][members] > 0.0)
            assert np.all(info[key][has_task & ~members] == 0.0)
        for key in ("latency", "t_wait", "t_local", "t_tx", "t_edge") + (("t_wan", "t_cloud") if model.cloud else ()):
            vals = info[key][has_task]
            assert np.all(np.isfinite(vals)) and np.all(vals >= 0.0), key
            assert np.all(np.isnan(info[key][~has_task]))
        if model.cloud:
            in_sc = has_task & (p2 < L)
            assert np.all(info["t_wan"][in_sc] >= model.config["cloud"]["wan_rtt_s"])
            assert np.all(info["t_wan"][has_task & ~in_sc] == 0.0) and np.all(info["t_cloud"][has_task & ~in_sc] == 0.0)
            assert np.all(p2[has_task] >= info["partition"][has_task]) and np.all(p2[~has_task] == -1)
        assert np.all(np.isfinite(reward))
        assert np.all(state["backlog_s"] >= 0.0) and np.all(state["edge_backlog_s"] >= 0.0)
        assert state["edge_backlog_s"].shape == (batch,)
        # q_E carries over: a device the edge computes for waits at least the queue it found.
        assert np.all(np.where(in_se, info["t_edge"] >= info["edge_backlog_s"][:, None], True))
        d = state["distance_m"]
        r = model.config["radio"]
        assert np.all((d >= r["distance_min_m"]) & (d <= r["distance_max_m"]))
        assert not truncated.any()
    assert np.all(obs >= 0.0) and np.all(obs <= high)
