"""Trace-driven uplinks (radio.trace_file): the rate is b * trace(t), the observation shows the current
throughput, seeding still fixes everything, and bad trace files are ConfigErrors naming the line."""

import gymnasium as gym
import numpy as np
import pytest

import mcia
from mcia import traces


def _write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("env_id", ["MCIA-v0", "MCIA-Cloud-v0"])
def test_constant_trace_sets_rate_and_observation(tmp_path, env_id):
    bps = 3e6
    path = _write(tmp_path, f"trace_id,time_s,throughput_bps\nflat,0,{bps}\n")
    env = gym.make(env_id, config={"radio": {"trace_file": path}}).unwrapped
    obs, _ = env.reset(seed=2)
    n, l = env.num_devices, env.num_units
    bw = env.config["radio"]["bandwidth_hz"]
    assert np.allclose(obs[2 : 7 * n : 7], min(bps / bw / 20, 2), rtol=1e-6)
    a = env.action_space.sample()
    a["partition"] = np.zeros(n, int)  # everyone uploads the raw input
    a["bandwidth"] = np.ones(n, np.float32)
    _, _, _, _, info = env.step(a)
    tasked = info["task_type"] > 0
    share = info["bandwidth_share"][tasked]
    np.testing.assert_allclose(share, 1 / tasked.sum(), rtol=1e-12)
    np.testing.assert_allclose(info["t_tx"][tasked], 8 * 224 * 224 * 3 / (share * bps), rtol=1e-12)


def test_example_traces_replay_reproducibly():
    cfg = {"radio": {"trace_file": traces.example_path()}}
    runs = []
    for _ in range(2):
        envs = gym.make_vec("MCIA-v0", num_envs=4, config=cfg)
        obs, _ = envs.reset(seed=11)
        envs.action_space.seed(0)
        seq = [obs]
        for _ in range(30):
            a = {k: v for k, v in envs.action_space.sample().items()}
            obs, r, *_ = envs.step(a)
            seq.append(obs.copy())
        envs.close()
        runs.append(np.array(seq))
    assert np.array_equal(runs[0], runs[1])
    # The throughput entry moves with the trace (the process is not constant).
    se = runs[0][:, :, 2]
    assert np.unique(se).size > 10


def test_trace_state_survives_snapshots():
    env = mcia.MciaEnv(config={"radio": {"trace_file": traces.example_path()}})
    env.reset(seed=5)
    env.action_space.seed(1)
    for _ in range(7):
        env.step(env.action_space.sample())
    snap = env.snapshot()
    a = env.action_space.sample()
    first = env.step(a)[0].copy()
    env.restore(snap)
    assert np.array_equal(env.step(a)[0], first)


@pytest.mark.parametrize(
    "text, where",
    [
        ("", "no samples"),
        ("trace_id,time_s,throughput_bps\n", "no samples"),
        ("a,0,1e6\na,1,-5\n", "line 2"),
        ("a,0,1e6\na,1,nan\n", "line 2"),
        ("a,0,1e6\na,2,1e6\na,1,1e6\n", "line 3"),
        ("a,0,1e6\na,0,2e6\n", "line 2"),
        ("a,0\n", "line 1"),
    ],
)
def test_bad_traces_are_config_errors_naming_the_line(tmp_path, text, where):
    path = _write(tmp_path, text)
    with pytest.raises(mcia.ConfigError, match=f"radio.trace_file.*{where}"):
        mcia.MciaEnv(config={"radio": {"trace_file": path}})


def test_missing_trace_file_names_the_field(tmp_path):
    with pytest.raises(mcia.ConfigError, match="radio.trace_file"):
        mcia.MciaEnv(config={"radio": {"trace_file": str(tmp_path / "nope.csv")}})


def test_generator_is_deterministic_and_matches_the_shipped_file(tmp_path):
    out = str(tmp_path / "x.csv")
    traces.main(["--out", out])
    with open(out) as a, open(traces.example_path()) as b:
        assert a.read() == b.read()
    rows = traces.markov_modulated(num_traces=2, duration_s=50, seed=3)
    assert rows == traces.markov_modulated(num_traces=2, duration_s=50, seed=3)
    assert {r[0] for r in rows} == {"ue0", "ue1"} and all(r[2] > 0 for r in rows)
