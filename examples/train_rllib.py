"""Train RLlib PPO (new API stack) on the Dict action space of MCIA-v0 with several env runners.

    python examples/train_rllib.py --timesteps 200000 --envs 2 --seed 0 --out runs/rllib-ppo

``--envs`` is the number of env runners (Ray actors, one CPU each), each stepping ``--envs-per-runner``
:class:`mcia.MciaEnv` instances. RLlib's default catalog gives the Dict action a multi-distribution
(multi-categorical ``version`` / ``partition``, Gaussian ``bandwidth`` / ``compute`` squashed into the
``[0, 1]`` bounds). The output directory (``rllib_checkpoint/``, ``config.json``, ``agent.json``,
``learning_curve.csv``) is what ``mcia evaluate --policy DIR`` and ``mcia.agents.load_agent`` read.

Scaling out on a multi-node Ray cluster
---------------------------------------
Every node needs the same Python environment with ``mcia-gym`` and ``ray[rllib]`` installed.

1. On the head node::

       ray start --head --port=6379

2. On every worker node (the address is printed by the head)::

       ray start --address=HEAD_IP:6379

3. On the head node (or any node of the cluster), run the recipe with ``--address auto``, which calls
   ``ray.init(address="auto")`` and so joins the running cluster instead of starting a local instance;
   raise ``--envs`` to the number of CPUs you want sampling::

       python examples/train_rllib.py --address auto --envs 64 --envs-per-runner 8 --timesteps 20000000

   (``mcia train --algo rllib-ppo --ray-address auto --envs 64`` does the same.) Ray places the env
   runners on the cluster's CPUs; the learner stays in the driver process (``num_learners=0``; raise it in
   ``PPOConfig.learners`` for learner actors, e.g. on GPU nodes). ``ray status`` shows the nodes and
   ``ray stop`` on each node ends the cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import List, Optional

import mcia

ENV_NAME = "mcia-rllib-v0"


def make_env(env_config):
    """RLlib env creator: a single MCIA environment of the scenario dict in ``env_config["config"]``."""
    return mcia.MciaEnv(env_config.get("config"), info=False)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=200_000, help="environment steps")
    parser.add_argument("--envs", type=int, default=2, help="env runners (Ray actors)")
    parser.add_argument("--envs-per-runner", type=int, default=4, help="environments per env runner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/rllib-ppo", help="output directory")
    parser.add_argument("--config", default=None, help="scenario file (.json or .toml)")
    parser.add_argument("--address", default=None, help="Ray cluster address; 'auto' joins a running cluster")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance (default: envs + 1)")
    parser.add_argument("--batch", type=int, default=None, help="train batch size (default 100 * runners * envs per runner)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes (seeds 0..episodes-1); 0 skips")
    args = parser.parse_args(argv)

    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    config = mcia.Config(args.config) if args.config else mcia.Config()
    if args.address:
        ray.init(address=args.address)  # an existing (multi-node) cluster
    else:
        ray.init(num_cpus=args.num_cpus or args.envs + 1, include_dashboard=False)
    register_env(ENV_NAME, make_env)

    batch = args.batch or max(400, 100 * args.envs * args.envs_per_runner)
    ppo = (
        PPOConfig()  # the new API stack (RLModule, Learner, EnvRunner) is RLlib's default
        .environment(ENV_NAME, env_config={"config": config.to_dict()})
        .env_runners(num_env_runners=args.envs, num_envs_per_env_runner=args.envs_per_runner, num_cpus_per_env_runner=1)
        .learners(num_learners=0)
        .training(train_batch_size_per_learner=batch, minibatch_size=min(256, batch), num_epochs=5, lr=3e-4,
                  gamma=0.9, lambda_=0.9)
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[128, 128], fcnet_activation="tanh"))
        .debugging(seed=args.seed)
    )
    algo = ppo.build_algo()
    rows, steps, start = [], 0, time.perf_counter()
    try:
        while steps < args.timesteps:
            result = algo.train()
            runners = result["env_runners"]
            steps = int(runners["num_env_steps_sampled_lifetime"])
            rows.append({"timesteps": steps, "wall_s": round(time.perf_counter() - start, 3),
                         "episode_return": float(runners.get("episode_return_mean", float("nan")))})
            print(f"iteration {len(rows)}: {steps} steps, {rows[-1]['wall_s']:.1f} s, "
                  f"mean episode return {rows[-1]['episode_return']:.2f}", flush=True)
        os.makedirs(args.out, exist_ok=True)
        algo.save_to_path(os.path.abspath(os.path.join(args.out, "rllib_checkpoint")))
    finally:
        algo.stop()
        ray.shutdown()

    config.save(os.path.join(args.out, "config.json"))
    with open(os.path.join(args.out, "agent.json"), "w", encoding="utf-8") as f:
        json.dump({"algo": "rllib-ppo", "module_path": ["learner_group", "learner", "rl_module", "default_policy"],
                   "timesteps": steps, "seed": args.seed}, f, indent=1)
    from mcia.agents.hppo import write_curve

    write_curve(os.path.join(args.out, "learning_curve.csv"), rows)
    if args.episodes:
        print(mcia.evaluate(args.out, config, episodes=args.episodes, seed=0).table())  # via load_agent
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
