"""Evaluate checkpoints that act for any number of devices (HybridPPO ``arch="set"``) across N.

    python examples/eval_any_n.py runs/set --values 4 6 8 10 15 20 --episodes 10

For each N (the default device mix, ``mcia.sweep.mix_classes``) it compares the checkpoints with greedy,
static, the optimizer and random on the same evaluation seeds and prints the return, the normalised score
and the adaptivity score with paired-bootstrap 95% intervals, and how many seeds each agent wins against
greedy. Checkpoints tied to one N (``arch="mlp"``) are evaluated only at their own N. ``RUN+shares``
evaluates a checkpoint's (version, cut) with the optimizer's shares (:class:`mcia.agents.SolverShares`).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

import mcia
from mcia.evaluation import compare, split_shares
from mcia.sweep import mix_classes


def _fixed_n(run: str):
    """The N a checkpoint is tied to, or None when it acts for any N."""
    run = split_shares(run)[0]  # RUN+shares: the same checkpoint with the optimizer's shares
    with open(os.path.join(run, "agent.json"), encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("arch") == "set":
        return None
    return mcia.Config(os.path.join(run, "config.json")).num_devices


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="checkpoint directories (with '+shares' for the optimizer's shares)")
    ap.add_argument("--values", type=int, nargs="+", default=[4, 6, 8, 10, 15, 20], help="numbers of devices")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--out", help="JSON file for the results")
    args = ap.parse_args(argv)

    rows = []
    print("| N | policy | return (95% CI) | score [95% CI] | adaptivity [95% CI] | seeds won vs greedy |\n|---|---|---|---|---|---|")
    for n in args.values:
        cfg = mcia.Config().replace({"devices.device_classes": mix_classes(n)})
        runs = [r for r in args.runs if _fixed_n(r) in (None, n)]
        comp = compare(runs + ["greedy", "static", "optimizer", "random"], cfg, episodes=args.episodes)
        by = {r.policy: r for r in comp.results}
        greedy = np.asarray(by["greedy"].episode_returns)
        for res in comp.results:
            if res.policy in ("random", "static"):
                continue
            iv = comp.score_intervals(res)
            won = int((np.asarray(res.episode_returns) > greedy).sum())
            print(f"| {n} | {res.policy} | {res.mean_return:.2f} ± {res.ci95:.2f} | {comp.score(res):.3f} [{iv['score'][0]:.3f}, {iv['score'][1]:.3f}] "
                  f"| {comp.adaptivity(res):.3f} [{iv['adaptivity'][0]:.3f}, {iv['adaptivity'][1]:.3f}] | "
                  f"{'-' if res.policy == 'greedy' else f'{won}/{len(greedy)}'} |", flush=True)
            rows.append({"n": n, "policy": res.policy, "return": res.mean_return, "ci95": res.ci95, "score": comp.score(res),
                         "adaptivity": comp.adaptivity(res), "score_ci": iv["score"], "adaptivity_ci": iv["adaptivity"], "won_vs_greedy": won})
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
