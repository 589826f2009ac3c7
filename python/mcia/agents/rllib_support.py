"""RLlib PPO (new API stack) on the Dict action space of :class:`mcia.MciaEnv`: used by
``mcia train --algo rllib-ppo`` (``examples/train_rllib.py`` is the same recipe as a script, with the
multi-node instructions).

RLlib's default catalog gives the Dict action a multi-distribution: a multi-categorical for ``version`` and
``partition`` and a diagonal Gaussian for ``bandwidth`` and ``compute``, which RLlib's action normalisation
squashes into the ``[0, 1]`` bounds of the space before the environment sees them.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from ..config import ConfigLike, as_config

ENV_NAME = "mcia-rllib-v0"
MODULE_PATH = ["learner_group", "learner", "rl_module", "default_policy"]


def make_env(env_config: Dict[str, Any]):
    """The RLlib env creator: an :class:`mcia.MciaEnv` of ``env_config["config"]`` (a scenario dict)."""
    from ..env import MciaEnv

    return MciaEnv(env_config.get("config"), info=False)


def ppo_config(config: ConfigLike = None, env_runners: int = 2, envs_per_runner: int = 4, seed: int = 0,
               training: Optional[Dict[str, Any]] = None, hidden: Optional[List[int]] = None):
    """A ``PPOConfig`` for MCIA (new API stack), ``env_runners`` remote env runners each stepping
    ``envs_per_runner`` environments."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    cfg = as_config(config)
    train_kwargs: Dict[str, Any] = dict(
        train_batch_size_per_learner=max(400, 100 * env_runners * envs_per_runner),
        minibatch_size=256,
        num_epochs=5,
        lr=3e-4,
        gamma=0.9,
        lambda_=0.9,
        entropy_coeff=0.0,
    )
    train_kwargs.update(training or {})
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config={"config": cfg.to_dict()})
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner, num_cpus_per_env_runner=1)
        .learners(num_learners=0)
        .training(**train_kwargs)
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=hidden or [128, 128], fcnet_activation="tanh"))
        .debugging(seed=seed)
        .reporting(metrics_num_episodes_for_smoothing=20)
    )


def train_rllib_ppo(
    config: ConfigLike = None,
    timesteps: int = 200_000,
    env_runners: int = 2,
    seed: int = 0,
    out: Optional[str] = None,
    *,
    envs_per_runner: int = 4,
    time_limit_s: Optional[float] = None,
    verbose: int = 1,
    training: Optional[Dict[str, Any]] = None,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    shutdown: bool = True,
) -> List[Dict[str, Any]]:
    """Trains RLlib PPO until ``timesteps`` environment steps were sampled (at least one iteration), saves
    the algorithm under ``out/rllib_checkpoint`` with ``agent.json`` and returns the learning curve rows.

    ``address=None`` starts a local Ray instance (with ``num_cpus`` logical CPUs, default: enough for the
    env runners and the learner); ``address="auto"`` joins a running cluster (``ray start --head``).
    """
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=verbose > 1)
        else:
            ray.init(num_cpus=num_cpus or env_runners + 1, include_dashboard=False, log_to_driver=verbose > 1)
    algo = ppo_config(config, env_runners, envs_per_runner, seed, training).build_algo()
    curve: List[Dict[str, Any]] = []
    t0 = time.perf_counter()
    try:
        steps = 0
        while steps < timesteps:
            res = algo.train()
            runners = res.get("env_runners", {})
            steps = int(runners.get("num_env_steps_sampled_lifetime", res.get("num_env_steps_sampled_lifetime", 0)))
            row = {"timesteps": steps, "wall_s": round(time.perf_counter() - t0, 3),
                   "episode_return": float(runners.get("episode_return_mean", float("nan"))), "iteration": len(curve) + 1}
            curve.append(row)
            if verbose:
                print(f"[rllib-ppo] iteration {row['iteration']:4d} {steps:>9d} steps {row['wall_s']:7.1f}s "
                      f"episode return {row['episode_return']:8.2f}", flush=True)
            if time_limit_s is not None and time.perf_counter() - t0 >= time_limit_s:
                break
        if out:
            os.makedirs(out, exist_ok=True)
            algo.save_to_path(os.path.abspath(os.path.join(out, "rllib_checkpoint")))
            with open(os.path.join(out, "agent.json"), "w", encoding="utf-8") as f:
                json.dump({"algo": "rllib-ppo", "module_path": MODULE_PATH, "timesteps": steps,
                           "wall_s": round(time.perf_counter() - t0, 2), "seed": seed, "env_runners": env_runners}, f, indent=1)
            as_config(config).save(os.path.join(out, "config.json"))
    finally:
        algo.stop()
        if shutdown and not address:
            ray.shutdown()
    return curve


__all__ = ["ENV_NAME", "make_env", "ppo_config", "train_rllib_ppo"]
