"""Uplink throughput traces for trace-driven scenarios (``radio.trace_file``).

A trace file is CSV, one sample per row: ``trace_id,time_s,throughput_bps`` (a header row is optional, rows of
several traces may be interleaved, ``#`` starts a comment). Within a trace, times increase strictly and
throughputs are finite and >= 0 bit/s (0 is an outage). A trace holds each sample until the next one and
repeats after its last sample (period ``t_last - t_first`` plus the last sampling interval).

With ``radio.trace_file`` set, each device replays one trace, chosen at reset together with a random offset
into it (both drawn from the environment's RNG, so seeds still fix everything), and its uplink rate is
``R_n = b_n * trace(offset_n + t * slot_s)``: the trace gives the throughput of the whole band, and the device
gets its bandwidth share of it. The observation's ``spectral_eff`` entry becomes the current throughput per
Hz of band, ``min(trace / bandwidth_hz / 20, 2)``, on the scale of the spectral efficiency it replaces.

Public 4G/5G throughput datasets (per-second logs of a drive or walk test) convert by writing one trace per
log: the log's name as ``trace_id``, seconds since its start as ``time_s``, and the uplink throughput in bit/s.

>>> from mcia import traces
>>> path = traces.example_path()               # the shipped LTE-like set (4 traces, 10 minutes each)
>>> env = gym.make("MCIA-v0", config={"radio": {"trace_file": path}})
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
#: File name of the shipped example set.
EXAMPLE = "lte_markov.csv"


def example_path() -> str:
    """Absolute path of the shipped example trace set (``python -m mcia.traces`` regenerates it)."""
    return os.path.join(HERE, EXAMPLE)


def markov_modulated(
    num_traces: int = 4,
    duration_s: float = 600.0,
    dt_s: float = 1.0,
    mean_bps: Sequence[float] = (8e6, 1.5e6),
    stay: Sequence[float] = (0.9, 0.7),
    sigma: float = 0.35,
    seed: int = 0,
) -> List[Tuple[str, float, float]]:
    """An LTE-like two-state Markov-modulated throughput process, as ``(trace_id, time_s, throughput_bps)``
    rows.

    Each trace starts in a uniformly drawn state (0 good, 1 bad), stays in state s for the next sample with
    probability ``stay[s]``, and draws each sample from a log-normal of median ``mean_bps[s]`` and log
    standard deviation ``sigma``. Deterministic for a given ``seed``.
    """
    if num_traces < 1 or duration_s <= 0 or dt_s <= 0:
        raise ValueError("num_traces must be >= 1, duration_s and dt_s > 0")
    rng = np.random.default_rng(seed)
    steps = int(round(duration_s / dt_s))
    rows = []
    for i in range(num_traces):
        state = int(rng.integers(0, 2))
        for k in range(steps):
            bps = float(mean_bps[state] * np.exp(sigma * rng.standard_normal()))
            rows.append((f"ue{i}", round(k * dt_s, 6), round(bps, 1)))
            if rng.random() >= stay[state]:
                state = 1 - state
    return rows


def write_csv(path: str, rows: Sequence[Tuple[str, float, float]], comment: Optional[str] = None) -> str:
    """Writes rows as a trace file (with a header row and an optional ``#`` comment line)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        if comment:
            f.write(f"# {comment}\n")
        w = csv.writer(f)
        w.writerow(["trace_id", "time_s", "throughput_bps"])
        w.writerows(rows)
    return path


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m mcia.traces [--out FILE]``: writes the example set (the shipped file by default)."""
    p = argparse.ArgumentParser(description="write the LTE-like two-state Markov-modulated example trace set")
    p.add_argument("--out", default=example_path(), help=f"output CSV (default: the shipped {EXAMPLE})")
    p.add_argument("--traces", type=int, default=4)
    p.add_argument("--duration", type=float, default=600.0, help="seconds per trace")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rows = markov_modulated(args.traces, args.duration, seed=args.seed)
    write_csv(args.out, rows, comment=f"mcia.traces.markov_modulated(num_traces={args.traces}, duration_s={args.duration}, seed={args.seed})")
    print(f"wrote {args.out}: {len(rows)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
