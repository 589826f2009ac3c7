"""The training recipes in examples/ (SB3 PPO, RLlib PPO, HybridPPO) run a tiny iteration each, and what
they write loads with ``mcia.agents.load_agent`` and evaluates with ``mcia.evaluate``."""

from __future__ import annotations

import importlib.util
import json
import math
import os

import numpy as np
import pytest

import mcia
from mcia.reference import state_from_snapshots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT = {"time": {"episode_slots": 20}}


def _recipe(name):
    path = os.path.join(ROOT, "examples", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"mcia_recipe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def short_config_file(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps(SHORT))
    return str(path)


def _check_agent_dir(out, algo):
    from mcia.agents import detect_algo, load_agent

    assert detect_algo(out) == algo
    agent = load_agent(out)
    venv = mcia.MciaVectorEnv(3, SHORT)
    obs, _ = venv.reset(seed=0)
    act = agent.act(obs, deterministic=True)
    assert act["version"].shape == (3, 10) and act["version"].dtype == np.int64
    assert act["bandwidth"].shape == (3, 10) and act["bandwidth"].dtype == np.float64
    venv.step(act)
    res = mcia.evaluate(out, SHORT, episodes=2)
    assert np.all(np.isfinite(res.episode_returns))


def test_sb3_recipe(tmp_path, short_config_file, capsys):
    pytest.importorskip("stable_baselines3")
    out = str(tmp_path / "sb3")
    rc = _recipe("train_sb3").main(["--timesteps", "256", "--envs", "4", "--n-steps", "64", "--seed", "1",
                                    "--out", out, "--config", short_config_file, "--episodes", "2"])
    assert rc == 0
    for f in ("model.zip", "vecnormalize.pkl", "config.json", "agent.json", "learning_curve.csv"):
        assert os.path.exists(os.path.join(out, f)), f
    assert "policy sb3" in capsys.readouterr().out
    _check_agent_dir(out, "sb3-ppo")


def test_train_sb3_ppo_algo(tmp_path):
    pytest.importorskip("stable_baselines3")
    from mcia.train import train

    res = train("sb3-ppo", timesteps=256, envs=4, seed=0, out=str(tmp_path / "s"), config=SHORT, evaluate=False,
                progress=False, tensorboard=False, hparams={"n_steps": 64, "batch_size": 128})
    assert res.timesteps >= 256 and res.curve
    assert os.path.exists(os.path.join(res.out, "learning_curve.png"))
    _check_agent_dir(res.out, "sb3-ppo")


def test_hppo_recipe(tmp_path, short_config_file, capsys):
    pytest.importorskip("torch")
    out = str(tmp_path / "hppo")
    rc = _recipe("train_hppo").main(["--timesteps", "800", "--envs", "16", "--seed", "0", "--out", out,
                                     "--config", short_config_file, "--episodes", "2", "--teacher-steps", "640"])
    assert rc == 0
    assert "| greedy |" in capsys.readouterr().out
    _check_agent_dir(out, "hppo")


def test_rllib_recipe(tmp_path, short_config_file, capsys):
    pytest.importorskip("ray.rllib", reason="ray[rllib] is not installed: pip install 'ray[rllib]'")
    out = str(tmp_path / "rllib")
    rc = _recipe("train_rllib").main(["--timesteps", "100", "--envs", "2", "--envs-per-runner", "1", "--num-cpus", "3",
                                      "--batch", "100", "--seed", "0", "--out", out, "--config", short_config_file,
                                      "--episodes", "2"])
    assert rc == 0
    assert os.path.isdir(os.path.join(out, "rllib_checkpoint"))
    assert "iteration 1:" in capsys.readouterr().out
    rows = open(os.path.join(out, "learning_curve.csv")).read().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("timesteps,wall_s,episode_return")
    _check_agent_dir(out, "rllib-ppo")
    assert math.isfinite(float(rows[-1].split(",")[0]))


def test_train_rllib_ppo_algo(tmp_path):
    pytest.importorskip("ray.rllib", reason="ray[rllib] is not installed: pip install 'ray[rllib]'")
    from mcia.train import train

    res = train("rllib-ppo", timesteps=100, envs=2, seed=0, out=str(tmp_path / "r"), config=SHORT, evaluate=False,
                progress=False, verbose=0, tensorboard=False,
                hparams={"train_batch_size_per_learner": 100, "minibatch_size": 50, "num_epochs": 1})
    assert res.curve and res.curve[-1]["timesteps"] >= 100
    _check_agent_dir(res.out, "rllib-ppo")


def test_profiling_scripts_time_every_part_and_every_network(capsys):
    """examples/profile_training.py (with a hyper-parameter) and examples/compile_networks.py run at a tiny
    size and print a row for every part of an iteration and every network, with finite times."""
    pytest.importorskip("torch")
    rc = _recipe("profile_training").main(["--devices", "3", "--iterations", "1", "--arch", "set", "--hparam", "set_critic=pooled"])
    assert rc in (0, None)
    out = capsys.readouterr().out
    for part in ("env step", "rollout forward", "update forward", "backward", "optimizer"):
        assert f"| {part} |" in out
    with pytest.raises(SystemExit):
        _recipe("compile_networks").main(["--devices", "0"])
    assert "--devices: must be a positive integer" in capsys.readouterr().err
    assert _recipe("compile_networks").main(["--devices", "3", "--batch", "32", "--reps", "1"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "ms" not in line]
    labels = {r[1].strip() for r in rows}
    assert {"mlp actor", "set actor", "set critic (pooled)"} <= labels
    for r in rows[1:]:
        assert all(math.isfinite(float(v)) and float(v) > 0 for v in r[2:6]), r


def test_check_selection_scores_every_final_candidate(tmp_path, short_config_file, capsys):
    """examples/check_selection.py trains a tiny agent, keeps the re-validated candidate and scores every
    candidate on the evaluation seeds after training."""
    pytest.importorskip("torch")
    out = str(tmp_path / "a")
    hp = ["num_envs=8", "n_steps=20", "minibatch_size=80", "eval_every=1", "eval_episodes=2", "final_candidates=3",
          "final_episodes=2", "teacher_steps=160", "teacher_rounds=1", "teacher_epochs=1"]
    argv = ["--out", out, "--timesteps", "480", "--max-minutes", "0", "--config", short_config_file]
    assert _recipe("check_selection").main(argv + [a for h in hp for a in ("--hparam", h)]) == 0
    with open(os.path.join(out, "selection_check.json")) as f:
        rows = json.load(f)["candidates"]
    assert len(rows) == 3 and all(math.isfinite(r["evaluation_return"]) for r in rows)
    assert "kept by re-validation" in capsys.readouterr().out
    _check_agent_dir(out, "hppo")


def test_gap_by_device_splits_the_return_gap_exactly(short_config_file, capsys):
    """examples/gap_by_device.py: the per-device parts of an episode add up to its return, and the table has a
    row per device and task type."""
    gap = _recipe("gap_by_device")
    config = mcia.Config(SHORT)
    _, rec = gap.play("greedy", config, 3, 7)
    np.testing.assert_allclose(gap.device_parts(rec).sum(1), rec["reward"].sum(0), rtol=1e-9, atol=1e-9)
    assert gap.main(["greedy", "--against", "optimizer", "--episodes", "2", "--config", short_config_file]) == 0
    out = capsys.readouterr().out
    assert "greedy against optimizer: 2 episodes" in out
    assert sum(line.startswith("| ") and ("| AS |" in line or "| LS |" in line) for line in out.splitlines()) == 2 * config.num_devices
    with pytest.raises(SystemExit):
        gap.main(["greedy", "--episodes", "1"])


def test_headroom_searches_above_the_optimizer(short_config_file, capsys):
    """examples/headroom.py: the table has a row per policy, and the gain the search records in a slot is the
    objective of the action it returns minus that of the optimizer's action."""
    head = _recipe("headroom")
    assert head.main(["--episodes", "2", "--rounds", "1", "--samples", "4", "--decisions", "--config", short_config_file,
                      "--baselines", "greedy"]) == 0
    out = capsys.readouterr().out
    for row in ("| optimizer |", "| greedy |", "| optimizer+relief |", "| optimizer + search |"):
        assert row in out
    # The gain it records is the objective of the action it returns minus that of the optimizer's action.
    config = mcia.Config(SHORT)
    polish = head.SharePolish(config, rounds=1, samples=4, decisions=True)
    venv = mcia.MciaVectorEnv(3, config, num_threads=1)
    venv.reset(seed=1_000_000)
    obj = polish.slot
    for _ in range(10):
        state = state_from_snapshots(json.loads(venv.snapshot()))
        base = {k: np.array(v, copy=True) for k, v in polish.relief.optimizer(venv).items()}
        act = polish(venv)
        edge_cost = obj.edge_cost(state, polish.relief.greedy(venv))
        val = [obj(state, a["version"].astype(np.int64), a["partition"].astype(np.int64), obj.log_weights(a), edge_cost)[0]
               for a in (base, act)]
        np.testing.assert_allclose(val[1] - val[0], polish.gain[-1], rtol=1e-7, atol=1e-7)
        venv.step(act)
    assert np.concatenate(polish.gain).max() > 0, "in 3 x 10 slots the search finds something better"
    with pytest.raises(SystemExit):
        head.main(["--episodes", "1"])
