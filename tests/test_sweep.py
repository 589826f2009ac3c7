"""Parameter sweeps: shortcuts, values, outputs, and the CLI."""

import json

import pytest

import mcia
from mcia.sweep import apply_param, parse_value, sweep


def test_shortcuts_build_the_intended_scenarios():
    base = mcia.Config()
    # The default mix (2:4:2:2), grouped by class; N = 10 is the default scenario.
    assert apply_param(base, "num_devices", 7)["devices"]["device_classes"] == ["pi_zero_2w", "pi_zero_2w", "pi4", "pi4", "pi4", "pi5", "n100"]
    assert apply_param(base, "num_devices", 10)["devices"]["device_classes"] == base["devices"]["device_classes"]
    assert apply_param(base, "num_devices", 5)["devices"]["device_classes"] == mcia.Config.preset("v0-light")["devices"]["device_classes"]
    assert apply_param(base, "bandwidth_mhz", 2)["radio"]["bandwidth_hz"] == 2e6
    flat = apply_param(base, "heterogeneity", 0.0)
    gflops = [flat["devices"]["class_gflops"][c] for c in flat["devices"]["device_classes"]]
    assert gflops == pytest.approx([11.889] * 10)  # the default scenario's 10 devices, all pi4-class
    full = apply_param(base, "heterogeneity", 1.0)
    gflops = [full["devices"]["class_gflops"][c] for c in full["devices"]["device_classes"]]
    assert gflops == pytest.approx([0.370] * 2 + [11.889] * 4 + [35.169] * 2 + [62.851] * 2)
    half = apply_param(base, "heterogeneity", 0.5)
    gflops = [half["devices"]["class_gflops"][c] for c in half["devices"]["device_classes"]]
    assert gflops[0] == pytest.approx((11.889 * 0.370) ** 0.5) and gflops[-1] == pytest.approx((11.889 * 62.851) ** 0.5)
    assert apply_param(base, "tasks.as_ratio", 0.2)["tasks"]["as_ratio"] == 0.2
    with pytest.raises(mcia.ConfigError, match="radio.bandwidth_hz"):
        apply_param(base, "radio.bandwidth_hz", -5)
    assert parse_value("2e6") == 2e6 and parse_value("[1, 2]") == [1, 2] and parse_value("pi4,pi5") == ["pi4", "pi5"]


def test_sweep_rows_match_direct_evaluations(tmp_path):
    cfg = mcia.Config({"time": {"episode_slots": 6}})
    res = sweep("edge.edge_gflops", [50.0, 200.0], ["greedy", "optimizer"], cfg, episodes=3, progress=False)
    assert len(res.rows) == 4
    direct = mcia.evaluate("greedy", cfg.replace({"edge.edge_gflops": 50.0}), episodes=3)
    row = next(r for r in res.rows if r["policy"] == "greedy" and r["value"] == 50.0)
    assert row["mean_return"] == pytest.approx(direct.mean_return, rel=1e-12)
    assert sum(row["version_share"]) == pytest.approx(1.0)
    paths = res.save(str(tmp_path)) + res.plot(str(tmp_path))
    for p in paths:
        assert (tmp_path / p.split("/")[-1]).stat().st_size > 100
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["values"] == ["50", "200"]


def test_sweep_cli(tmp_path, capsys):
    from mcia.cli import main

    cfg = tmp_path / "s.json"
    cfg.write_text('{"time": {"episode_slots": 4}}')
    code = main(["sweep", "--param", "num_devices", "--values", "2", "6", "--policies", "random", "greedy", "--episodes", "2",
                 "--config", str(cfg), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 0
    assert "| num_devices | random | greedy |" in capsys.readouterr().out
    assert (tmp_path / "o" / "sweep_metrics.png").exists() and (tmp_path / "o" / "sweep.csv").exists()
    assert main(["sweep", "--param", "radio.bandwidth_hz", "--values", "-1", "--quiet", "--out", str(tmp_path / "x")]) == 2
