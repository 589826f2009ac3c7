"""Validation return against wall time of several `mcia train` runs, with greedy and the optimizer on the
same validation seeds: the README's learning-curve figure. Agents for any N (HybridPPO ``arch="set"``) are
drawn at the scenario's N.

    python scripts/plot_agents_curves.py runs/hppo runs/sb3 runs/rllib --labels HybridPPO SB3 RLlib --out docs/agents_learning_curves.png
"""

from __future__ import annotations

import argparse
import csv
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import mcia  # noqa: E402
from mcia.agents.hppo import HPPOParams, VALIDATION_SEED  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--labels", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    labels = args.labels or args.runs
    episodes = HPPOParams().eval_episodes
    fig, ax = plt.subplots(figsize=(8, 4.5))
    # An any-N agent's validation_return averages several N; its column at the scenario's N is comparable.
    own_n = f"validation_N{mcia.Config().num_devices}"
    for run, label in zip(args.runs, labels):
        with open(f"{run}/learning_curve.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        key = own_n if rows and own_n in rows[0] else "validation_return"
        pts = [(float(r["wall_s"]) / 60, float(r[key])) for r in rows
               if r.get(key) not in (None, "", "nan") and math.isfinite(float(r[key]))]
        ax.plot(*zip(*pts), marker="o", ms=2, lw=1, label=label)
    for name, style in (("greedy", "--"), ("optimizer", ":")):
        u = mcia.evaluate(name, episodes=episodes, seed=VALIDATION_SEED, scores=False).mean_return
        ax.axhline(u, ls=style, c="gray", lw=1)
        ax.text(0.2, u + 0.5, f"{name} ({u:.1f})", fontsize=8, color="gray")
    ys = [y for line in ax.get_lines() for _, y in line.get_xydata()]  # includes the baselines' lines
    ax.set_ylim(max(min(ys) - 2, -25), max(ys) + 1.5)  # room for the baselines' labels
    ax.set_xlabel("wall time of training (min), 2-core machine")
    ax.set_ylabel(f"validation return ({episodes} episodes)")
    ax.set_title("MCIA-v0 default scenario: validation return while training")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
