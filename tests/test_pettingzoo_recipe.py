"""examples/pettingzoo_ppo.py (parameter-shared PPO on mcia.pettingzoo.parallel_env) runs a tiny budget end to
end, writes finite evaluation returns for seeds 0..19 and trains on seeds disjoint from them; its evaluation
loop plays the same episodes as ``mcia.evaluate``."""

import importlib.util
import json
import math
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pettingzoo")

import mcia  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def recipe():
    import torch

    torch.set_num_threads(1)
    path = os.path.join(ROOT, "examples", "pettingzoo_ppo.py")
    spec = importlib.util.spec_from_file_location("mcia_recipe_pettingzoo_ppo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_main_tiny_budget(recipe, tmp_path, capsys):
    out = str(tmp_path / "pz")
    # 6-slot episodes, 4 envs, rollouts of 60 slots (10 episodes per env: episode ends inside a rollout).
    rc = recipe.main(["--timesteps", "2400", "--envs", "4", "--seed", "1", "--episode-slots", "6", "--num-steps", "60",
                      "--out", out, "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "greedy" in text and "optimizer" in text
    with open(os.path.join(out, "results.json")) as fh:
        res = json.load(fh)
    assert res["eval_seeds"] == list(range(20))
    assert res["env_steps"] == 2400 and res["agent_steps"] == 2400 * 10
    assert res["settings"]["config"]["time"]["episode_slots"] == 6
    for name in ("ppo", "greedy", "static", "optimizer"):
        row = res["results"][name]
        assert len(row["returns"]) == 20 and all(math.isfinite(r) for r in row["returns"]), name
        assert math.isfinite(row["mean"]) and math.isfinite(row["ci95"])
    seeds = res["train_seeds"]
    assert len(seeds) == len(set(seeds)) >= 2400 // 6
    assert not set(seeds) & set(res["eval_seeds"])
    assert min(seeds) >= recipe.TRAIN_SEED_BASE
    assert os.path.exists(os.path.join(out, "model.pt"))
    # The baselines' returns are those of mcia.evaluate on seeds 0..19 of the same scenario.
    cfg = mcia.Config({"time": {"episode_slots": 6}})
    greedy = mcia.evaluate("greedy", cfg, episodes=20, seed=0).episode_returns
    np.testing.assert_allclose(res["results"]["greedy"]["returns"], greedy)


def test_play_matches_single_agent_evaluation(recipe):
    """play() (fresh parallel_env per seed, reset(seed=s)) returns the same episode returns as mcia.evaluate
    on the vector env for a fixed policy: seeds and returns line up with the baselines'."""
    cfg = recipe.scenario_config("default", episode_slots=8)
    n = cfg.num_devices

    def policy(obs):  # (B, N, D) agent observations or (B, 7N + S) joint ones
        b = obs.shape[0]
        cut = np.where(np.arange(n) % 2 == 0, 0, 16)
        return {"version": np.full((b, n), 2), "partition": np.tile(cut, (b, 1)),
                "bandwidth": np.full((b, n), 0.5, np.float32), "compute": np.full((b, n), 0.5, np.float32)}

    ours = recipe.play(policy, cfg)
    ref = mcia.evaluate(policy, cfg, episodes=20, seed=0).episode_returns
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_train_evaluate_cloud_individual(recipe):
    """The functions the script is built from, on MCIA-Cloud-v0 (cloud cut head) with individual rewards."""
    cfg = recipe.scenario_config("default", env_id=mcia.CLOUD_ENV_ID, episode_slots=6)
    hp = recipe.HParams(num_steps=12, num_minibatches=2, update_epochs=2)
    res = recipe.train(cfg, env_id=mcia.CLOUD_ENV_ID, reward="individual", timesteps=96, envs=4, seed=2, hparams=hp, progress=False)
    assert res["env_steps"] == 96 and res["policy"].model.cloud_head is not None
    assert not set(res["train_seeds"]) & set(recipe.EVAL_SEEDS)
    returns = recipe.evaluate(res["policy"], cfg, env_id=mcia.CLOUD_ENV_ID, seeds=range(5))
    assert returns.shape == (5,) and np.all(np.isfinite(returns))
    act = res["policy"].act_batch(np.zeros((3, cfg.num_devices, 7 + 4), np.float32))
    assert set(act) == {"version", "partition", "bandwidth", "compute", "cloud_partition"}
    assert all(v.shape == (3, cfg.num_devices) for v in act.values())
