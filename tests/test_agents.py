"""HybridPPO: short real training runs, checkpoints, seeding, evaluation through checkpoint directories,
and the ``train`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import re

import numpy as np
import pytest

pytest.importorskip("torch")

import mcia  # noqa: E402
from mcia.agents import HybridPPO, detect_algo, load_agent  # noqa: E402
from mcia.sweep import mix_classes  # noqa: E402

SHORT = {"time": {"episode_slots": 20}}
# warm start: two short rounds (cloning and one DAgger round) of the default teacher, the optimizer
TINY = dict(num_envs=16, n_steps=25, minibatch_size=200, n_epochs=2, eval_every=1, eval_episodes=4, teacher_steps=640,
            teacher_epochs=5, teacher_rounds=2)
LOSSES = ("policy_loss", "value_loss", "entropy", "share_entropy", "approx_kl", "clip_frac")


def _tiny_agent(seed=0, **kw):
    params = dict(TINY)
    params.update(kw)
    return HybridPPO(SHORT, seed=seed, **params)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny agent trained for 8 iterations (3200 steps, truncations inside rollouts), saved."""
    agent = _tiny_agent(seed=0)
    agent.learn(8 * 16 * 25, progress_bar=False)
    path = str(tmp_path_factory.mktemp("hppo") / "agent")
    agent.save(path)
    return agent, path


def test_training_losses_and_returns_are_finite(trained):
    agent, _ = trained
    # the first row is the warm start by imitation (0 PPO steps, validated), then one row per iteration
    warm, curve = agent.curve[0], agent.curve[1:]
    assert warm["timesteps"] == 0 and warm["iteration"] == 0 and math.isfinite(warm["validation_return"])
    assert 0 < warm["wall_s"] <= curve[0]["wall_s"]
    assert len(curve) == 8 and agent.num_timesteps == 3200
    assert [r["timesteps"] for r in curve] == [400 * (i + 1) for i in range(8)]
    for row in curve:
        for k in LOSSES + ("lr", "steps_per_s", "explained_variance"):
            assert math.isfinite(row[k]), (k, row)
    # 20-slot episodes end inside the rollouts: training returns and validation returns exist
    assert all(math.isfinite(r["episode_return"]) for r in curve[1:])
    assert all(math.isfinite(r["validation_return"]) for r in curve)
    assert curve[-1]["lr"] < curve[0]["lr"]  # linear decay
    assert agent.best_validation == max(r["validation_return"] for r in agent.curve)


def test_act_shapes_and_dtypes(trained):
    agent, _ = trained
    venv = mcia.MciaVectorEnv(5, SHORT)
    obs, _ = venv.reset(seed=3)
    for det in (True, False):
        act = agent.act(obs, deterministic=det)
        assert set(act) == {"version", "partition", "bandwidth", "compute"}
        for k in ("version", "partition"):
            assert act[k].shape == (5, 10) and act[k].dtype == np.int64
        for k in ("bandwidth", "compute"):
            assert act[k].shape == (5, 10) and act[k].dtype == np.float64
            assert np.all((act[k] > 0) & (act[k] < 1))
        assert act["version"].max() < venv.num_versions and act["partition"].max() <= venv.num_units
        venv.step(act)  # valid for the env
    one = agent.act(obs[0])
    assert one["version"].shape == (10,)
    assert np.array_equal(one["partition"], agent.act(obs)["partition"][0])


def test_checkpoint_round_trip(trained):
    agent, path = trained
    for f in ("hppo.pt", "hparams.json", "config.json", "agent.json", "learning_curve.csv"):
        assert os.path.exists(os.path.join(path, f)), f
    assert mcia.Config(os.path.join(path, "config.json")) == agent.config
    assert detect_algo(path) == "hppo"
    loaded = HybridPPO.load(path)
    assert loaded.params == agent.params and loaded.num_timesteps == agent.num_timesteps
    assert isinstance(load_agent(path), HybridPPO)
    # the saved weights are the best validation ones: restore them in the original for the comparison
    agent.use_best()
    np.testing.assert_array_equal(loaded.obs_rms.mean, agent.obs_rms.mean)
    venv = mcia.MciaVectorEnv(8, SHORT)
    obs, _ = venv.reset(seed=11)
    for _ in range(5):
        a, b = agent.act(obs), loaded.act(obs)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
        obs, *_ = venv.step(a)


def test_final_selection_keeps_the_best_revalidated_candidate(trained):
    from mcia.agents.hppo import REVALIDATION_SEED, VALIDATION_SEED

    agent, path = trained
    sel = agent.final_selection
    k = agent.params.final_candidates
    vals = sorted((r["validation_return"] for r in agent.curve), reverse=True)
    # the candidates are the k best validations of the curve, re-validated on fresh seeds
    assert [c["validation_return"] for c in sel["candidates"]] == vals[:k]
    assert sel["seed"] == REVALIDATION_SEED and REVALIDATION_SEED >= VALIDATION_SEED + agent.params.eval_episodes
    assert sel["kept_revalidation_return"] == max(c["revalidation_return"] for c in sel["candidates"])
    # the training weights are untouched; the checkpoint holds the kept ones, which re-validate to the same score
    assert agent.num_timesteps == 3200
    loaded = HybridPPO.load(path)
    assert loaded.validate(sel["episodes"], seed=REVALIDATION_SEED) == sel["kept_revalidation_return"]
    with open(os.path.join(path, "agent.json")) as f:
        meta = json.load(f)
    assert meta["weights_at_timesteps"] == sel["kept_timesteps"] and meta["final_selection"] == sel
    with pytest.raises(ValueError, match="candidate index"):
        agent.use_candidate(len(sel["candidates"]))


def test_continued_training_keeps_the_loaded_weights_as_a_candidate(trained):
    from mcia.agents.hppo import REVALIDATION_SEED

    _, path = trained
    loaded = HybridPPO.load(path)
    with open(os.path.join(path, "agent.json")) as f:
        kept = json.load(f)["weights_at_timesteps"]
    score = loaded.validate(loaded.params.final_episodes, seed=REVALIDATION_SEED)
    loaded.learn(2 * 16 * 25, progress_bar=False)
    # the loaded weights competed in the final re-validation with their own score
    assert [c["revalidation_return"] for c in loaded.final_selection["candidates"] if c["timesteps"] == kept] == [score]
    assert loaded.num_timesteps == 3200 + 800  # the training weights, not a candidate's


def test_one_final_candidate_keeps_the_best_validation(tmp_path):
    agent = _tiny_agent(final_candidates=1, teacher_steps=0)
    agent.learn(3 * 16 * 25, progress_bar=False)
    assert agent.final_selection is None
    with pytest.raises(ValueError, match="no final candidates"):
        agent.use_candidate(0)
    best = max(agent.curve, key=lambda r: r["validation_return"])
    agent.save(str(tmp_path / "a"))
    with open(tmp_path / "a" / "agent.json") as f:
        assert json.load(f)["weights_at_timesteps"] == best["timesteps"]


@pytest.mark.parametrize("field,value", [("final_candidates", 0), ("final_episodes", -1), ("eval_episodes", 0), ("final_candidates", 2.5)])
def test_selection_sizes_must_be_positive_integers(field, value):
    with pytest.raises(ValueError, match=field):
        _tiny_agent(**{field: value})


def test_same_seed_same_first_iteration_different_seed_differs():
    rows = []
    for seed in (7, 7, 8):
        agent = _tiny_agent(seed=seed, eval_every=0)
        agent.learn(400, progress_bar=False)
        rows.append(agent.curve[-1])  # the first PPO iteration, after the imitation's row
    for k in LOSSES:
        assert rows[0][k] == rows[1][k], k
    assert rows[0]["policy_loss"] != rows[2]["policy_loss"]


def test_same_seed_same_run_without_time_limit():
    """Without a time limit the whole run, the final re-validation included, is a function of the seed."""
    runs = []
    for _ in range(2):
        agent = _tiny_agent(seed=5, teacher_steps=320, final_candidates=2, final_episodes=3)
        agent.learn(3 * 16 * 25, progress_bar=False)
        runs.append(agent)
    timing = {"wall_s", "steps_per_s", "rollout_s", "update_s"}
    # JSON, so that the NaN returns of rows without a finished episode compare equal
    strip = lambda curve: json.dumps([{k: v for k, v in r.items() if k not in timing} for r in curve], sort_keys=True)
    assert strip(runs[0].curve) == strip(runs[1].curve)
    assert runs[0].final_selection == runs[1].final_selection is not None


def test_learn_leaves_global_torch_rng_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _tiny_agent(eval_every=0).learn(400, progress_bar=False)
    assert torch.equal(torch.rand(3), expected)


def test_evaluate_and_compare_checkpoint_dir(trained):
    _, path = trained
    res = mcia.evaluate(path, SHORT, episodes=3, seed=0)
    assert res.policy == "agent" and res.episodes == 3 and np.all(np.isfinite(res.episode_returns))
    comp = mcia.compare([path, "greedy"], SHORT, episodes=2)
    assert {r.policy for r in comp.results} == {"agent", "greedy", "random", "static", "optimizer"}


def test_load_agent_rejects_other_dirs(tmp_path):
    with pytest.raises(ValueError, match="not an agent checkpoint"):
        load_agent(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_agent(str(tmp_path / "missing"))


def test_bad_hyper_parameters():
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        HybridPPO(SHORT, bogus=1)


def _run_train(argv):
    import mcia.train as t

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    t.add_train_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_train_takes_the_number_of_environments_from_envs_or_num_envs_once(tmp_path):
    """``--hparam num_envs=N`` is HybridPPO's ``--envs N``: either works, and two different values are an
    error naming both (it used to end in a TypeError about a repeated keyword)."""
    from mcia.train import train

    tiny = dict(n_steps=25, minibatch_size=200, eval_every=0, teacher_steps=0, final_candidates=1)
    train("hppo", timesteps=200, out=str(tmp_path / "a"), config=SHORT, evaluate=False, progress=False, tensorboard=False,
          hparams=dict(tiny, num_envs=8))
    with open(os.path.join(tmp_path, "a", "hparams.json"), encoding="utf-8") as f:
        assert json.load(f)["num_envs"] == 8
    with pytest.raises(ValueError, match="given twice"):
        train("hppo", timesteps=200, envs=16, out=str(tmp_path / "b"), config=SHORT, evaluate=False, progress=False,
              tensorboard=False, hparams=dict(tiny, num_envs=8))
    for bad in (0, -3, True, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            train("hppo", timesteps=200, out=str(tmp_path / "c"), config=SHORT, evaluate=False, progress=False,
                  tensorboard=False, hparams=dict(tiny, num_envs=bad))


def test_train_command_writes_everything_and_evaluates(tmp_path, capsys):
    cfg = tmp_path / "short.json"
    cfg.write_text(json.dumps(SHORT))
    out = tmp_path / "run"
    rc = _run_train(["train", "--algo", "hppo", "--timesteps", "800", "--envs", "16", "--seed", "3", "--out", str(out),
                     "--config", str(cfg), "--eval-episodes", "2", "--quiet", "--no-tensorboard",
                     "--hparam", "n_steps=25", "--hparam", "minibatch_size=200", "--hparam", "eval_episodes=2",
                     "--hparam", "teacher_steps=640", "--hparam", "teacher_epochs=5"])
    assert rc == 0
    for f in ("hppo.pt", "config.json", "learning_curve.csv", "learning_curve.png", "compare.json", "compare.csv", "agent.json"):
        assert (out / f).exists(), f
    text = capsys.readouterr().out
    assert "normalised score" in text and "| optimizer |" in text and "wall time" in text
    header = (out / "learning_curve.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["timesteps", "wall_s", "iteration", "episode_return"]
    meta = json.loads((out / "agent.json").read_text())
    assert meta["algo"] == "hppo" and math.isfinite(meta["eval_score"])
    # the same agent with the optimizer's shares is evaluated beside it
    assert "| run+shares |" in text and "with the optimizer's shares" in text
    assert math.isfinite(meta["eval_shares_adaptivity"]) and math.isfinite(meta["eval_shares_mean_return"])
    assert mcia.Config(str(out / "config.json"))["time"]["episode_slots"] == 20

    from mcia.cli import main as cli_main

    assert cli_main(["evaluate", "--policy", str(out), "--config", str(cfg), "--episodes", "2", "--quiet"]) == 0
    assert "policy run" in capsys.readouterr().out


def _agreement(agent, teacher_name, seeds=(50, 51)):
    """Share of (device, slot) decisions with a task where the agent's deterministic (version, cut) is the
    teacher's, on the agent's own trajectories."""
    from mcia.policies import RustPolicy

    same = total = 0
    for seed in seeds:
        venv = mcia.MciaVectorEnv(8, SHORT, info=True)
        teacher = RustPolicy(teacher_name, SHORT)
        obs, _ = venv.reset(seed=seed)
        for _ in range(20):
            t = teacher(venv)
            a = agent.act(obs)
            task = (obs[:, 0:70:7] + obs[:, 1:70:7]) > 0
            same += int(((a["version"] == t["version"]) & (a["partition"] == t["partition"]) & task).sum())
            total += int(task.sum())
            obs, *_ = venv.step(a)
    return same / total


def test_imitation_with_dagger_rounds_learns_the_teacher():
    """The warm start: behaviour cloning, then DAgger rounds on the agent's own states, labelled by the
    teacher. The imitated agent takes the optimizer's (version, cut) far more often than before imitating,
    and the DAgger round adds data (the loss is over both rounds)."""
    agent = _tiny_agent(seed=4)
    before = _agreement(agent, "optimizer")
    losses = agent.imitate("optimizer", 16 * 20 * 2, epochs=40, rounds=2)
    assert all(math.isfinite(v) for v in losses.values())
    after = _agreement(agent, "optimizer")
    assert after > before + 0.3 and after > 0.6, (before, after)
    with pytest.raises(ValueError, match="teacher_rounds"):
        _tiny_agent(teacher_rounds=0)
    with pytest.raises(ValueError, match="teacher must be"):
        _tiny_agent(teacher="oracle")


def test_dagger_refits_take_their_own_number_of_epochs(monkeypatch):
    """``teacher_refit_epochs`` sets the epochs of the DAgger rounds' refits; the first round keeps
    ``teacher_epochs``. A bad value names the field."""
    agent = _tiny_agent(seed=4, teacher_epochs=7, teacher_refit_epochs=2)
    seen = []
    fit = agent._fit_teacher
    monkeypatch.setattr(agent, "_fit_teacher", lambda raw, epochs: seen.append(epochs) or fit(raw, epochs))
    agent.imitate("optimizer", 16 * 20, agent.params.teacher_epochs, rounds=3)
    assert seen == [7, 2, 2]
    for bad in (0, -1, 2.5, True, "ten"):
        with pytest.raises(ValueError, match="teacher_refit_epochs"):
            _tiny_agent(teacher_refit_epochs=bad)


def test_validation_weighs_the_sizes_as_training_does():
    """A multi-N agent's validation return is the mean over its validation sizes weighted like its training
    environments: ``focus_share`` at the scenario's N, the rest split evenly; an even mean without it."""
    even = _tiny_agent(arch="set", num_devices="4,8,10,12,20")
    assert even.validation_sizes() == [4, 10, 20]
    assert even.validation_weights() == pytest.approx({4: 1 / 3, 10: 1 / 3, 20: 1 / 3})
    focused = _tiny_agent(arch="set", num_devices="4,8,10,12,20", focus_share=0.7, eval_episodes=2)
    w = focused.validation_weights()
    assert w == pytest.approx({4: 0.15, 10: 0.7, 20: 0.15})
    mean, per_n = focused._validate_mean()
    assert mean == pytest.approx(sum(w[n] * r for n, r in per_n.items()))
    assert _tiny_agent().validation_weights() == {10: 1.0}


def test_imitation_has_its_own_learning_rate():
    """``teacher_lr`` sets the imitation's step size apart from PPO's ``learning_rate``: with a tiny one the
    imitation leaves the policy where it was, with the default (PPO's rate) it learns the teacher."""
    moved = {}
    for label, kw in (("tiny", dict(teacher_lr=1e-9)), ("default", {})):
        agent = _tiny_agent(seed=4, **kw)
        w0 = [t.detach().clone() for t in agent.policy.parameters()]
        agent.imitate("optimizer", 16 * 20, epochs=10, rounds=1)
        moved[label] = max(float((t - t0).abs().max()) for t, t0 in zip(agent.policy.parameters(), w0))
    assert moved["tiny"] < 1e-6 < 1e-3 < moved["default"], moved
    for bad in (0.0, -1e-3, float("nan"), float("inf"), "fast", True):
        with pytest.raises(ValueError, match="teacher_lr"):
            _tiny_agent(teacher_lr=bad)


def test_set_policy_trains_on_several_n_and_acts_for_any_n(tmp_path):
    """arch="set": one set of weights, trained on N drawn from a range, acts and evaluates at any N, also after
    a save / load round trip, and its decisions do not depend on the order of the devices."""
    import torch

    agent = _tiny_agent(seed=1, arch="set", num_devices="3-5")
    agent.learn(4 * 16 * 25, progress_bar=False)
    assert all(math.isfinite(r["policy_loss"]) for r in agent.curve[1:])
    path = str(tmp_path / "set")
    agent.save(path)
    loaded = HybridPPO.load(path)
    for n in (2, 7, 12):
        cfg = mcia.Config(SHORT).replace({"devices.device_classes": mix_classes(n)})
        venv = mcia.MciaVectorEnv(3, cfg)
        obs, _ = venv.reset(seed=n)
        a, b = agent.act(obs, deterministic=True), loaded.act(obs, deterministic=True)
        for key in ("version", "partition", "bandwidth", "compute"):
            assert a[key].shape == (3, n)
            np.testing.assert_array_equal(a[key], b[key])
        venv.step(a)
        # Permutation equivariance: permuting the devices permutes the decisions.
        perm = np.random.default_rng(n).permutation(n)
        dev = obs[:, : 7 * n].reshape(3, n, 7)[:, perm].reshape(3, 7 * n)
        permuted = np.concatenate([dev, obs[:, 7 * n :]], axis=1)
        p = agent.act(permuted, deterministic=True)
        with torch.no_grad():
            for key in ("version", "partition"):
                np.testing.assert_array_equal(p[key], a[key][:, perm])
            for key in ("bandwidth", "compute"):
                np.testing.assert_allclose(p[key], a[key][:, perm], rtol=1e-5, atol=1e-6)
        res = mcia.evaluate(path, cfg, episodes=2, scores=False)
        assert np.isfinite(res.mean_return)


def test_size_envs_puts_the_focus_share_at_the_scenario_n():
    from mcia.agents.set_policy import size_envs

    sizes = [4, 6, 8, 10, 12, 15, 20]
    assert size_envs(256, sizes, 10, 0.0) == [37, 37, 37, 37, 36, 36, 36]
    assert size_envs(256, sizes, 10, 0.5) == [22, 22, 21, 128, 21, 21, 21]
    # every size keeps at least one environment; a focus outside the sizes gives the even split
    assert size_envs(8, sizes, 10, 0.99) == [1, 1, 1, 2, 1, 1, 1]
    assert size_envs(256, [4, 20], 10, 0.5) == [128, 128]
    for total in (7, 16, 255, 256):
        assert sum(size_envs(total, sizes, 10, 0.3)) == total


def test_focus_share_trains_most_envs_at_the_scenario_n():
    """Half the environments run at the scenario's N (4 here), the rest evenly at the other sizes."""
    cfg = mcia.Config(SHORT).replace({"devices.device_classes": mix_classes(4)})
    agent = HybridPPO(cfg, seed=2, **{**TINY, "arch": "set", "num_devices": "3-5", "num_envs": 12, "focus_share": 0.5})
    agent.learn(2 * 12 * 25, progress_bar=False)
    assert {g.n: g.venv.num_envs for g in agent._groups} == {3: 3, 4: 6, 5: 3}
    assert all(math.isfinite(r["policy_loss"]) for r in agent.curve[1:])


@pytest.mark.parametrize("value", [-0.1, 1.0, True, "half"])
def test_focus_share_must_be_a_share(value):
    with pytest.raises(ValueError, match="focus_share"):
        _tiny_agent(arch="set", num_devices="3-5", focus_share=value)


@pytest.mark.parametrize("num_devices", ["6-8", "5", None])
def test_focus_share_needs_several_sizes_including_the_scenario_n(num_devices):
    """SHORT has N = 10: a focus share that cannot apply is an error, not a silent even split."""
    with pytest.raises(ValueError, match="focus_share"):
        _tiny_agent(arch="set", num_devices=num_devices, focus_share=0.5)


def test_focus_share_accepts_numpy_scalars():
    agent = _tiny_agent(arch="set", num_devices="9-11", focus_share=np.float32(0.5))
    assert type(agent.params.focus_share) is float and agent._size_envs() == [4, 8, 4]


@pytest.mark.parametrize("critic", ["equivariant", "pooled"])
def test_set_critics_are_equivariant_and_the_pooled_one_trains_and_reloads(tmp_path, critic):
    """Both critics of arch="set" give each device's part of the value for any N, permuted with the devices;
    an agent with the pooled critic trains, saves and loads it (``set_critic`` is in the checkpoint)."""
    import torch

    agent = _tiny_agent(seed=2, arch="set", num_devices="3,5", set_critic=critic)
    for n in (2, 5, 9):
        x = torch.randn(4, 7 * n + agent.tail, generator=torch.Generator().manual_seed(n))
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(n + 1))
        xp = torch.cat([x[:, : 7 * n].reshape(4, n, 7)[:, perm].reshape(4, 7 * n), x[:, 7 * n :]], dim=1)
        with torch.no_grad():
            v, vp = agent.critic(x, n), agent.critic(xp, n)
        assert v.shape == (4, n)
        torch.testing.assert_close(vp, v[:, perm], rtol=1e-5, atol=1e-6)
    if critic == "pooled":
        agent.learn(3 * 16 * 25, progress_bar=False)
        assert all(math.isfinite(r["value_loss"]) for r in agent.curve[1:])
        agent.save(str(tmp_path / "pooled"))
        loaded = HybridPPO.load(str(tmp_path / "pooled"))
        assert loaded.params.set_critic == "pooled"
        for a, b in zip(agent.critic.state_dict().values(), loaded.critic.state_dict().values()):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="set_critic"):
        _tiny_agent(arch="set", set_critic="deep")


def test_agents_table_lists_the_run_beside_the_baselines_with_intervals(trained):
    from mcia.evaluation import agents_table

    _, path = trained
    table = agents_table([path], SHORT, episodes=3)
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert set(rows) == {"agent", "optimizer", "greedy", "static", "random"}
    assert "3,200" in rows["agent"] and "min" in rows["agent"] and "/3)" in rows["agent"]
    assert "1.000 [1.000, 1.000]" in rows["optimizer"]
    # the paired differences to greedy and to the optimizer, each with the seeds won; none against itself
    cells = {name: [c.strip() for c in line.split("|")[1:-1]] for name, line in rows.items()}
    assert cells["greedy"][6] == "-" and cells["optimizer"][7] == "-"
    assert re.fullmatch(r"[+-]\d+\.\d\d ± \d+\.\d\d \(\d/3\)", cells["agent"][7])
    shared = agents_table([path + "+shares"], SHORT, episodes=3)
    row = next(line for line in shared.splitlines() if line.startswith("| agent+shares |"))
    assert "3,200" in row  # the training run's env-steps, read from the checkpoint without the suffix


def test_progress_bar_never_shows_nan_and_counts_seconds_under_a_time_limit(capsys):
    """Before the first episode ends the bar says so (not ``return nan``); with ``time_limit_s`` it counts
    seconds out of the limit and shows the steps, since the step budget is then only a cap."""
    agent = _tiny_agent(n_steps=10, minibatch_size=160, eval_every=0, teacher_steps=0)
    agent.learn(2 * 16 * 10, progress_bar=True)  # episodes of 20 slots: none ends in the first iteration
    err = capsys.readouterr().err
    assert "no episode finished yet" in err and re.search(r"return -?\d+\.\d\d", err)
    assert "nan" not in err
    _tiny_agent(eval_every=0, teacher_steps=0).learn(10**9, time_limit_s=1.0, progress_bar=True)
    err = capsys.readouterr().err
    assert " s [" in err and " steps, " in err and "nan" not in err
    assert "/1000000000" not in err and "1.00G" not in err
