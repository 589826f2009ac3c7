"""The option prior (``mcia.agents.option_prior``): the utility estimate it computes from the observation
is the simulator's utility whenever its equal-share assumption holds, and agents built with it train, act
for any N, save and load."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mcia  # noqa: E402
from mcia import traces  # noqa: E402
from mcia.agents import HybridPPO  # noqa: E402
from mcia.agents.option_prior import OptionPrior  # noqa: E402
from mcia.sweep import mix_classes  # noqa: E402

SHORT = {"time": {"episode_slots": 20}}
TINY = dict(num_envs=16, n_steps=25, minibatch_size=200, n_epochs=2, eval_every=1, eval_episodes=4, teacher_steps=640,
            teacher_epochs=5, teacher_rounds=2, option_prior=True)


def _config(n=None, **over):
    cfg = mcia.Config(over or None)
    return cfg if n is None else cfg.replace({"devices.device_classes": mix_classes(n)})


@pytest.mark.parametrize("n,over", [(None, {}), (4, {}), (17, {}), (None, {"radio": {"bandwidth_hz": 1e7}, "edge": {"edge_gflops": 40.0}})])
def test_prior_is_the_simulators_utility_when_every_task_offloads_with_equal_weights(n, over):
    """With every device that has a task offloading (cut < L) with equal weights, each gets 1 / K of the
    uplink and the edge, which is what the prior assumes: then its estimate of the chosen (version, cut)
    must be the utility the step reports (up to float32 rounding), queues included, and the share it says the
    option needs must be at most 1 / K exactly when the deadline is met."""
    cfg = _config(n, **over)
    prior = OptionPrior(cfg)
    n = cfg.num_devices
    venv = mcia.MciaVectorEnv(32, cfg, info=True)
    obs, _ = venv.reset(seed=3)
    rng = np.random.default_rng(0)
    errors, agree, checked, queued = [], [], 0, 0
    for t in range(40):
        out = prior(torch.from_numpy(obs), n).numpy()
        assert out.shape == (32, n, 2 * prior.options) == (32, n, prior.size) and out.dtype == np.float32
        u_hat, need = out[..., : prior.options], out[..., prior.options :]
        assert np.all((need >= 0) & (need <= 2))
        has = (obs[:, 0 : 7 * n : 7] + obs[:, 1 : 7 * n : 7]) > 0
        assert np.all(out[~has] == 0.0)
        version = rng.integers(0, prior.m, (32, n))
        # every other slot some devices run locally, so that queues build up on the devices and the edge
        cut = rng.integers(0, prior.l if t % 2 == 0 else prior.l + 1, (32, n))
        ones = np.ones((32, n))
        obs_next, _, _, _, info = venv.step({"version": version, "partition": cut, "bandwidth": ones, "compute": ones})
        if t % 2 == 0:
            est = np.take_along_axis(u_hat, (version * (prior.l + 1) + cut)[..., None], -1)[..., 0]
            u = info["utility"]
            errors.append(np.abs(est - u)[has])
            chosen_need = np.take_along_axis(need, (version * (prior.l + 1) + cut)[..., None], -1)[..., 0]
            k = has.sum(1, keepdims=True)
            agree.append(((chosen_need <= 1.0 / k) == (info["deadline_met"] == 1))[has])
            checked += int(has.sum())
            queued += int(((info["backlog_s"] > 0) & has).sum())
        obs = obs_next
    err = np.concatenate(errors)
    assert checked > 1000 and queued > 0
    # float32 observations: the estimate may land on the other side of a deadline in rare near-ties
    assert np.median(err) < 1e-5 and np.mean(err > 1e-3) < 0.002
    # the needed share comes from a few fixed-point steps: it may err right at the deadline
    assert np.concatenate(agree).mean() > 0.995


def test_prior_ranks_like_the_latency_formula():
    """A device with a fast uplink prefers offloading its heaviest version more than a device with none."""
    cfg = _config()
    prior = OptionPrior(cfg)
    n = cfg.num_devices
    obs = np.zeros((1, 7 * n + 3), np.float32)
    obs[0, 0 : 7 * n : 7] = 1.0  # every device has an AS task
    obs[0, 3 : 7 * n : 7] = 0.6  # the same speed
    obs[0, 2] = 0.5   # device 0: 10 bit/s/Hz
    obs[0, 9] = 0.0   # device 1: no uplink at all
    out = prior(torch.from_numpy(obs), n).numpy()[0]
    u, need = out[:, : prior.options], out[:, prior.options :]
    k = prior.l + 1
    best_edge0, best_edge1 = u[0].reshape(prior.m, k)[:, : prior.l].max(), u[1].reshape(prior.m, k)[:, : prior.l].max()
    assert best_edge0 > best_edge1
    np.testing.assert_allclose(u[0, prior.l :: k], u[1, prior.l :: k])  # running locally does not use the uplink
    assert np.all(need[1].reshape(prior.m, k)[:, : prior.l] == 2.0)  # no share of a dead uplink meets a deadline
    assert need[0].reshape(prior.m, k)[:, : prior.l].min() < 1.0


@pytest.mark.parametrize("over,match", [({"cloud": {"enabled": True}}, "cloud"), ({"radio": {"trace_file": None}}, "trace")])
def test_prior_rejects_scenarios_whose_observation_it_cannot_read(over, match):
    if match == "trace":
        over = {"radio": {"trace_file": traces.example_path()}}
    with pytest.raises(ValueError, match=match):
        HybridPPO(over, option_prior=True)
    HybridPPO(over)  # the agent without the prior is fine there


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_option_prior_must_be_a_bool(value):
    with pytest.raises(ValueError, match="option_prior"):
        HybridPPO(SHORT, option_prior=value)


@pytest.mark.parametrize("arch,extra", [("mlp", {}), ("set", {"num_devices": "3,5"})])
def test_agents_with_the_prior_train_act_and_reload(tmp_path, arch, extra):
    """Both actors learn with the prior (its weight moves off 0), and a checkpoint acts as the agent did;
    the set actor stays equivariant with the prior as an input."""
    agent = HybridPPO(SHORT, seed=0, arch=arch, **TINY, **extra)
    gain = (agent.policy if arch == "mlp" else agent.policy.body).prior_gain
    agent.learn(3 * 16 * 25, progress_bar=False)
    assert float(gain.detach()) != 0.0
    assert all(np.isfinite(r["policy_loss"]) for r in agent.curve[1:])
    path = str(tmp_path / arch)
    agent.save(path, best=False)
    loaded = HybridPPO.load(path)
    assert loaded.params.option_prior
    sizes = (None,) if arch == "mlp" else (2, 5, 9)
    for n in sizes:
        cfg = mcia.Config(SHORT) if n is None else mcia.Config(SHORT).replace({"devices.device_classes": mix_classes(n)})
        n = cfg.num_devices
        venv = mcia.MciaVectorEnv(4, cfg)
        obs, _ = venv.reset(seed=5)
        a, b = agent.act(obs), loaded.act(obs)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
        if arch == "set":
            perm = np.random.default_rng(n).permutation(n)
            permuted = np.concatenate([obs[:, : 7 * n].reshape(4, n, 7)[:, perm].reshape(4, 7 * n), obs[:, 7 * n :]], axis=1)
            p = agent.act(permuted)
            for key in ("version", "partition"):
                np.testing.assert_array_equal(p[key], a[key][:, perm])
            for key in ("bandwidth", "compute"):
                np.testing.assert_allclose(p[key], a[key][:, perm], rtol=1e-5, atol=1e-6)


def test_checkpoints_from_before_the_prior_load_without_it(tmp_path):
    agent = HybridPPO(SHORT, seed=0, num_envs=8, teacher="")
    path = str(tmp_path / "old")
    agent.save(path)
    with open(os.path.join(path, "hparams.json"), encoding="utf-8") as f:
        params = json.load(f)
    del params["option_prior"]
    with open(os.path.join(path, "hparams.json"), "w", encoding="utf-8") as f:
        json.dump(params, f)
    loaded = HybridPPO.load(path)
    assert loaded.params.option_prior is False and loaded.policy.prior_in is None
    obs = np.zeros((2, agent.obs_dim), np.float32)
    np.testing.assert_array_equal(loaded.act(obs)["version"], agent.act(obs)["version"])
