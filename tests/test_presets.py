"""Named preset scenarios: mcia.scenarios(), Config.preset, config=NAME everywhere a config is accepted,
the ambiguity and unknown-name errors, and the CLI's --scenario and `mcia scenarios`."""

import gymnasium as gym
import numpy as np
import pytest

import mcia
from mcia.cli import main

PRESETS = ["default", "v0-light", "iot", "dense", "fast-edge"]


def test_scenarios_lists_every_preset_with_a_description():
    listed = mcia.scenarios()
    assert list(listed) == PRESETS
    for name, desc in listed.items():
        assert isinstance(desc, str) and len(desc) > 20 and "\n" not in desc, name
    assert "revision-1" in listed["v0-light"] and "20 devices" in listed["dense"]
    assert mcia.scenarios is mcia.config.scenarios


def test_preset_contents():
    default = mcia.Config()
    assert mcia.Config.preset("default") == default
    light = mcia.Config.preset("v0-light")
    assert light.num_devices == 5 and light["devices"]["device_classes"] == ["pi_zero_2w", "pi4", "pi4", "pi5", "n100"]
    assert light["radio"]["bandwidth_hz"] == 10e6 and light["radio"]["distance_max_m"] == 300.0
    assert light["load"]["device_levels"] == [0.0, 0.3, 0.6] and light["load"]["edge_levels"] == [0.0, 0.25, 0.5]
    assert light["tasks"]["accuracy_sensitive"]["deadline_s"] == 0.5
    assert light["tasks"]["latency_sensitive"] == {"weight": 0.2, "deadline_s": 0.1, "min_accuracy": 0.4}
    assert light["zoo"]["feature_bytes_per_element"] == 1.0
    assert mcia.Config.preset("iot") == default.replace({"radio.bandwidth_hz": 1e6})
    assert mcia.Config.preset("fast-edge") == default.replace({"edge.edge_gflops": 1000.0})
    dense = mcia.Config.preset("dense")
    assert dense.num_devices == 20 and dense["devices"]["device_classes"] == default["devices"]["device_classes"] * 2
    assert dense == default.replace({"devices.device_classes": default["devices"]["device_classes"] * 2})
    # A preset is a plain config: it round-trips and takes overrides.
    assert mcia.Config.from_toml(light.to_toml()) == light
    assert light.replace({"time.episode_slots": 7})["time"]["episode_slots"] == 7
    assert "bandwidth_hz = 1e6" in mcia.config.preset_toml("iot")


@pytest.mark.parametrize("name", PRESETS)
def test_config_name_is_accepted_wherever_a_config_is(name):
    cfg = mcia.Config.preset(name)
    n = cfg.num_devices
    assert mcia.Config(name) == cfg
    env = gym.make("MCIA-v0", config=name)
    assert env.unwrapped.config == cfg
    obs, _ = env.reset(seed=0)
    assert obs.shape == (7 * n + 3,)
    venv = mcia.MciaVectorEnv(3, name)
    assert venv.config == cfg and venv.num_devices == n
    vobs, _ = venv.reset(seed=0)
    np.testing.assert_array_equal(vobs[0], obs)  # same scenario, same seed
    assert mcia.MciaEnv(name).observation_space.shape == (7 * n + 3,)


def test_iot_in_gym_make_changes_the_dynamics():
    iot = gym.make("MCIA-v0", config="iot")
    default = gym.make("MCIA-v0")
    a, _ = iot.reset(seed=5)
    b, _ = default.reset(seed=5)
    # Same draws; only the bandwidth differs, so only the spectral efficiencies (obs[7n + 2]) change.
    n = 10
    se = np.arange(n) * 7 + 2
    assert np.all(a[se] > b[se])  # the full-band SNR is higher on a narrower band (less noise)
    rest = np.setdiff1d(np.arange(7 * n + 3), se)
    np.testing.assert_array_equal(a[rest], b[rest])


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(mcia.ConfigError, match="unknown preset 'v1-heavy'") as err:
        mcia.Config("v1-heavy")
    for name in PRESETS:
        assert name in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(mcia.ConfigError, match="unknown preset") as err:
        mcia.Config.preset("v1-heavy")
    for name in PRESETS:
        assert name in str(err.value)
    with pytest.raises(mcia.ConfigError, match="unknown preset"):
        gym.make("MCIA-v0", config="v1-heavy")
    # Something that looks like a path is reported as a missing file, not as an unknown preset.
    with pytest.raises(mcia.ConfigError, match="does not exist"):
        mcia.Config("v1-heavy.toml")


def test_a_preset_name_that_is_also_a_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "iot").write_text("[radio]\nbandwidth_hz = 3e6\n")
    with pytest.raises(mcia.ConfigError, match="both a preset and a file"):
        mcia.Config("iot")
    with pytest.raises(mcia.ConfigError, match="both a preset and a file"):
        gym.make("MCIA-v0", config="iot")
    with pytest.raises(mcia.ConfigError, match="both a preset and a file"):
        mcia.MciaVectorEnv(2, "iot")
    # Saying which one is meant works.
    assert mcia.Config.preset("iot")["radio"]["bandwidth_hz"] == 1e6
    (tmp_path / "mine.toml").write_text("[radio]\nbandwidth_hz = 3e6\n")
    assert mcia.Config("mine.toml")["radio"]["bandwidth_hz"] == 3e6


def test_cli_scenario_and_config_together_is_an_error(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[time]\nepisode_slots = 4\n")
    code = main(["evaluate", "--policy", "random", "--scenario", "iot", "--config", str(cfg), "--episodes", "2", "--quiet"])
    assert code == 2
    captured = capsys.readouterr()
    assert "not both" in captured.err and "--scenario iot" in captured.err and captured.out == ""
    assert main(["static", "--scenario", "v0-light", "--config", str(cfg), "--quiet"]) == 2
    assert "not both" in capsys.readouterr().err


def test_cli_scenario_selects_the_preset(tmp_path, capsys, monkeypatch):
    out = tmp_path / "e"
    assert main(["evaluate", "--policy", "greedy", "--scenario", "v0-light", "--episodes", "2", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "policy greedy" in text
    direct = mcia.evaluate("greedy", "v0-light", episodes=2, seed=0, scores=False)
    assert f"return {direct.mean_return:.3f}" in text
    assert (out / "evaluate.json").exists()
    assert main(["evaluate", "--policy", "greedy", "--scenario", "nosuch", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown preset" in err and "fast-edge" in err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dense").write_text("")
    assert main(["evaluate", "--policy", "random", "--scenario", "dense", "--episodes", "2", "--quiet"]) == 2
    assert "also a file" in capsys.readouterr().err


def test_cli_scenarios_command(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name, desc in mcia.scenarios().items():
        assert any(line.startswith(name + " ") and line.endswith(desc) for line in lines), name
    assert "--scenario NAME" in out
    assert main(["scenarios", "--show", "iot"]) == 0
    shown = capsys.readouterr().out
    assert shown == mcia.config.preset_toml("iot") and "bandwidth_hz = 1e6" in shown
    assert main(["scenarios", "--show", "v0-light", "--full"]) == 0
    full = capsys.readouterr().out
    assert "every field" in full and "episode_slots = 100" in full and "device_classes" in full
    assert main(["scenarios", "--show", "nosuch"]) == 2
    assert "unknown preset" in capsys.readouterr().err
