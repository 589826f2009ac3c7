"""Train Stable-Baselines3 PPO on MCIA-v0 through :func:`mcia.sb3.make_sb3_env`, then evaluate it.

    python examples/train_sb3.py --timesteps 1000000 --envs 64 --seed 0 --out runs/sb3-ppo

``make_sb3_env`` is an SB3 ``VecEnv`` backed by one native Rust vector env (all environments step in one
call), with the Dict action flattened to ``Box(-1, 1, (4N,))``. ``VecNormalize`` normalises observations
and scales rewards. The output directory (``model.zip``, ``vecnormalize.pkl``, ``config.json``,
``agent.json``, ``learning_curve.csv``) is what ``mcia evaluate --policy DIR`` and
``mcia.agents.load_agent`` read.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import List, Optional

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

import mcia
from mcia.sb3 import make_sb3_env


class LearningCurve(BaseCallback):
    """Records the mean return of the last finished episodes after each rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: List[dict] = []
        self.start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        returns = [ep["r"] for ep in self.model.ep_info_buffer]
        self.rows.append({"timesteps": self.num_timesteps, "wall_s": round(time.perf_counter() - self.start, 3),
                          "episode_return": float(np.mean(returns)) if returns else float("nan")})

    def _on_step(self) -> bool:
        return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=1_000_000, help="environment steps")
    parser.add_argument("--envs", type=int, default=64, help="parallel environments")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/sb3-ppo", help="output directory")
    parser.add_argument("--config", default=None, help="scenario file (.json or .toml)")
    parser.add_argument("--n-steps", type=int, default=128, help="rollout length per environment")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes (seeds 0..episodes-1); 0 skips")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    config = mcia.Config(args.config) if args.config else mcia.Config()
    env = make_sb3_env(args.envs, config, seed=args.seed, num_threads=1)  # VecMonitor(Sb3VecEnv)
    env = VecNormalize(env, norm_obs=True, norm_reward=True, gamma=0.9)
    model = PPO("MlpPolicy", env, n_steps=args.n_steps, batch_size=min(2048, args.n_steps * args.envs), n_epochs=5,
                gamma=0.9, gae_lambda=0.9, learning_rate=3e-4, seed=args.seed, device="cpu", verbose=0)
    curve = LearningCurve()
    model.learn(args.timesteps, callback=curve)

    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, "model.zip"))
    env.save(os.path.join(args.out, "vecnormalize.pkl"))  # observation statistics for evaluation
    config.save(os.path.join(args.out, "config.json"))
    with open(os.path.join(args.out, "agent.json"), "w", encoding="utf-8") as f:
        json.dump({"algo": "sb3-ppo", "sb3_class": "PPO", "action": "box", "low": -1.0,
                   "timesteps": int(model.num_timesteps), "seed": args.seed}, f, indent=1)
    if curve.rows:
        from mcia.agents.hppo import write_curve

        write_curve(os.path.join(args.out, "learning_curve.csv"), curve.rows)
        print(f"{model.num_timesteps} steps in {curve.rows[-1]['wall_s']:.1f} s; last mean episode return "
              f"{curve.rows[-1]['episode_return']:.2f}")

    if args.episodes:
        result = mcia.evaluate(args.out, config, episodes=args.episodes, seed=0)  # via mcia.agents.load_agent
        print(result.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
