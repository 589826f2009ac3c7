"""Records MCIA-v0 trajectories (observations, rewards, info) for the bit-identity test of the cloud tier.

    python tests/data/record_v0.py     # writes tests/data/v0_trajectories.npz

Recorded once with the build before the cloud tier existed; tests/test_cloud.py checks that MCIA-v0 (the
cloud tier disabled) still produces exactly these numbers.
"""

import os

import numpy as np

import mcia

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = [0, 7, 123]
STEPS = 60


def record():
    """{name: array} of every recorded quantity."""
    out = {}
    for scenario in ["default", "v0-light"]:
        config = None if scenario == "default" else scenario
        for seed in SEEDS:
            env = mcia.MciaEnv(config=config)
            obs, info = env.reset(seed=seed)
            rng = np.random.default_rng(seed)
            obs_l, rew_l, lat_l, part_l = [obs.copy()], [], [], []
            for _ in range(STEPS):
                action = {
                    "version": rng.integers(0, env.num_versions, env.num_devices),
                    "partition": rng.integers(0, env.num_units + 1, env.num_devices),
                    "bandwidth": rng.random(env.num_devices),
                    "compute": rng.random(env.num_devices),
                }
                obs, r, term, trunc, info = env.step(action)
                obs_l.append(obs.copy())
                rew_l.append(r)
                lat_l.append(np.asarray(info["latency"]).copy())
                part_l.append(np.asarray(info["partition"]).copy())
            key = f"{scenario}_{seed}"
            out[key + "_obs"] = np.array(obs_l)
            out[key + "_reward"] = np.array(rew_l)
            out[key + "_latency"] = np.array(lat_l)
            out[key + "_partition"] = np.array(part_l)
    # The baselines' episode returns (vector env, Rust policies).
    for policy in ["random", "neurosurgeon", "greedy", "optimizer"]:
        out[f"{policy}_returns"] = np.array(mcia.evaluate(policy, episodes=3, scores=False).episode_returns)
    return out


if __name__ == "__main__":
    np.savez_compressed(os.path.join(HERE, "v0_trajectories.npz"), **record())
    print("wrote", os.path.join(HERE, "v0_trajectories.npz"))
