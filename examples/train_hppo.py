"""Train :class:`mcia.agents.HybridPPO` on MCIA-v0 from Python, save it, and compare it with the baselines.

    python examples/train_hppo.py --timesteps 8000000 --envs 256 --seed 0 --out runs/hppo

The same as ``mcia train --algo hppo``, written out with the Python API.
"""

from __future__ import annotations

import argparse
from typing import List, Optional

import torch

import mcia
from mcia.agents import HybridPPO, load_agent
from mcia.agents.hppo import HPPOParams
from mcia.train import DEFAULT_TIMESTEPS


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS["hppo"], help="environment steps (default: mcia train's)")
    parser.add_argument("--envs", type=int, default=256, help="parallel environments")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/hppo", help="checkpoint directory")
    parser.add_argument("--config", default=None, help="scenario file (.json or .toml)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes (seeds 0..episodes-1)")
    parser.add_argument("--teacher-steps", type=int, default=HPPOParams.teacher_steps,
                        help="environment steps per round of the warm start by imitation of the optimizer (0: none)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the Rust vector env uses the other core
    config = mcia.Config(args.config) if args.config else mcia.Config()

    agent = HybridPPO(config, seed=args.seed, num_envs=args.envs, teacher_steps=args.teacher_steps, verbose=1)
    agent.learn(args.timesteps)  # imitation of the optimizer, then PPO; tqdm bar with the training return and steps/s
    agent.save(args.out)  # best validation weights, obs normaliser, hyper-parameters, config.json

    # Any checkpoint directory is a policy for the evaluation harness ...
    comparison = mcia.compare([args.out, "greedy", "neurosurgeon"], config, episodes=args.episodes, seed=0)
    print(comparison.table())
    # ... and the agent itself maps observation batches to Dict actions.
    restored = load_agent(args.out)
    venv = mcia.MciaVectorEnv(4, config)
    obs, _ = venv.reset(seed=0)
    print({k: v[0] for k, v in restored.act(obs).items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
