"""Config from dicts, files and overrides; every error names its field; the zoo is inspectable."""

import json

import numpy as np
import pytest

import mcia
from mcia import zoo


def test_defaults_match_the_spec():
    cfg = mcia.Config()
    assert cfg == mcia.Config.default()
    assert cfg["radio"]["bandwidth_hz"] == 2e6
    assert cfg["radio"]["distance_max_m"] == 400.0 and cfg["radio"]["distance_min_m"] == 50.0
    assert cfg["devices"]["device_classes"] == ["pi_zero_2w"] * 2 + ["pi4"] * 4 + ["pi5"] * 2 + ["n100"] * 2
    assert cfg["zoo"]["versions"] == ["1.0_224", "0.75_224", "0.5_224", "0.25_224"]
    assert cfg["zoo"]["feature_bytes_per_element"] == 0.25
    assert cfg["load"]["device_levels"] == [0.0, 0.4, 0.7] and cfg["load"]["edge_levels"] == [0.0, 0.4, 0.7]
    assert cfg["tasks"]["accuracy_sensitive"] == {"weight": 0.8, "deadline_s": 0.3, "min_accuracy": 0.65}
    assert cfg["tasks"]["latency_sensitive"] == {"weight": 0.3, "deadline_s": 0.15, "min_accuracy": 0.55}
    assert cfg.num_devices == 10 and cfg.num_versions == 4


def test_round_trip_through_json_and_toml_files(tmp_path):
    cfg = mcia.Config({"radio": {"bandwidth_hz": 3e6}, "tasks": {"as_ratio": 0.25}})
    for ext in ("json", "toml"):
        path = tmp_path / f"scenario.{ext}"
        cfg.save(path)
        assert mcia.Config(path) == cfg
        assert mcia.Config.from_file(str(path)) == cfg
    assert mcia.Config.from_toml(cfg.to_toml()) == cfg


def test_partial_toml_file_and_new_device_class(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[devices]\ndevice_classes = ["jetson", "pi4"]\n[devices.class_gflops]\njetson = 150.0\n')
    cfg = mcia.Config(path)
    assert cfg["devices"]["class_gflops"]["jetson"] == 150.0
    assert cfg["devices"]["class_gflops"]["pi4"] == 11.889
    env = mcia.MciaEnv(cfg)
    assert env.observation_space.shape == (7 * 2 + 3,)


def test_replace_with_dotted_paths_and_groups():
    cfg = mcia.Config().replace({"radio.bandwidth_hz": 3e6}, tasks={"as_ratio": 0.9})
    assert cfg["radio"]["bandwidth_hz"] == 3e6 and cfg["radio"]["tx_power_w"] == 0.1
    assert cfg["tasks"]["as_ratio"] == 0.9 and cfg["tasks"]["arrival_prob"] == 0.9
    assert mcia.Config()["radio"]["bandwidth_hz"] == 2e6  # the original is untouched
    with pytest.raises(mcia.ConfigError, match="radioo"):
        mcia.Config().replace({"radioo.x": 1})
    # numpy values are accepted
    assert mcia.Config().replace({"radio.bandwidth_hz": np.float32(5e6)})["radio"]["bandwidth_hz"] == 5e6


@pytest.mark.parametrize(
    "override,match",
    [
        ({"radio": {"bandwidth_hz": -1}}, r"radio.bandwidth_hz must be in \[1, 1e12\] \(Hz\), got -1"),
        ({"radio": {"bandwith_hz": 1}}, "unknown field `bandwith_hz`"),
        ({"tasks": {"arrival_prob": 2}}, "tasks.arrival_prob must be in \\[0, 1\\]"),
        ({"load": {"device_transition": [[1, 0, 0], [0, 1, 0], [0.5, 0, 0]]}}, "load.device_transition\\[2\\] must sum to 1"),
        ({"devices": {"device_classes": []}}, "devices.device_classes must name 1 to 100000 devices, got 0"),
        ({"devices": {"device_classes": ["cray"]}}, "devices.device_classes\\[0\\] unknown device class"),
        ({"zoo": {"versions": ["3.0_224"]}}, "zoo.versions\\[0\\] unknown version"),
        ({"time": {"slot_s": "fast"}}, "time.slot_s is invalid"),
    ],
)
def test_invalid_configs_name_the_field(override, match):
    with pytest.raises(mcia.ConfigError, match=match) as err:
        mcia.Config(override)
    assert isinstance(err.value, ValueError)


def test_bad_sources():
    with pytest.raises(mcia.ConfigError, match="does not exist"):
        mcia.Config("/nonexistent/scenario.toml")
    with pytest.raises(TypeError):
        mcia.Config(42)


def test_zoo_inspection_and_profile_files(tmp_path):
    fam = zoo.family("mobilenet_v1")
    assert len(fam) == 16
    v = fam["1.0_224"]
    assert abs(v.total_flops / 2 / 569e6 - 1) < 0.01
    assert v.cumulative_flops.shape == (17,) and v.cumulative_flops[0] == 0
    up = v.upload_bytes()
    # Features cost the default scenario's feature_bytes_per_element (0.25) per element; the raw input is uint8.
    assert up[0] == 224 * 224 * 3 and up[-1] == 0 and up[1] == 112 * 112 * 32 * 0.25
    assert v.upload_bytes(1.0)[1] == 112 * 112 * 32 and v.upload_bytes(1.0)[0] == 224 * 224 * 3
    assert [x.name for x in zoo.deployed_versions()] == ["1.0_224", "0.75_224", "0.5_224", "0.25_224"]
    assert "0.25_224" in zoo.table()
    with pytest.raises(KeyError, match="available"):
        fam["2.0_224"]
    # A user's own family: two versions of 3 units.
    mine = {"name": "tiny", "versions": [
        {"name": "big", "accuracy": 0.7, "input_bytes": 3000, "units": [{"flops": 1e8, "out_elems": 500}] * 3},
        {"name": "small", "accuracy": 0.5, "input_bytes": 3000, "units": [{"flops": 1e7, "out_elems": 100}] * 3},
    ]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(mine))
    assert len(zoo.load_profile(str(path))) == 2
    cfg = mcia.Config({"zoo": {"profile_file": str(path), "versions": ["small", "big"]}})
    env = mcia.MciaEnv(cfg)
    assert env.action_space["partition"].nvec[0] == 4 and env.action_space["version"].nvec[0] == 2
    env.reset(seed=0)
    env.step(env.action_space.sample())
    bad = dict(mine, versions=[dict(mine["versions"][0], accuracy=1.5)])
    path.write_text(json.dumps(bad))
    with pytest.raises(mcia.ConfigError, match="accuracy"):
        zoo.load_profile(str(path))
