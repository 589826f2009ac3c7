"""Does re-validating the best snapshots pick better weights than the single best validation?

Trains HybridPPO exactly as ``mcia train`` does (the default scenario and budget, ``--hparam`` overrides),
saves the checkpoint, then, as an analysis after training, scores each of the final candidates (the
``final_candidates`` best validated snapshots, see ``HPPOParams``) on the evaluation seeds 0..19. Training
never reads those seeds: this only measures how the two selection rules compare.

    python examples/check_selection.py --out runs/hppo-check
    python examples/check_selection.py --out runs/set-check --max-minutes 11.9 --timesteps 100000000 \\
        --hparam arch=set --hparam num_devices=4,6,8,10,12,15,20 --hparam focus_share=0.7 \\
        --hparam ent_coef=0 --hparam critic_hidden=64

Prints one line per candidate and writes ``OUT/selection_check.json``.
"""

from __future__ import annotations

import argparse
import json
import os

import mcia
from mcia.agents import HybridPPO
from mcia.train import DEFAULT_ENVS, DEFAULT_MAX_MINUTES, DEFAULT_TIMESTEPS, parse_hparams


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="checkpoint directory to write")
    ap.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS["hppo"])
    ap.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES["hppo"], help="0: no time limit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=None, help="scenario file (JSON / TOML; default: the default scenario)")
    ap.add_argument("--hparam", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    if args.timesteps < 1 or args.max_minutes < 0:
        ap.error("--timesteps must be positive and --max-minutes non-negative")

    agent = HybridPPO(args.config, seed=args.seed, **{"num_envs": DEFAULT_ENVS["hppo"], **parse_hparams(args.hparam)})
    agent.learn(args.timesteps, progress_bar=True, time_limit_s=args.max_minutes * 60 or None)
    agent.save(args.out)
    sel = agent.final_selection
    if sel is None:
        raise SystemExit("no final selection (fewer than two validations, or final_candidates=1)")
    rows = []
    for i, cand in enumerate(sel["candidates"]):
        agent.use_candidate(i)
        res = mcia.evaluate(lambda obs: agent.act(obs, deterministic=True), agent.config, episodes=20, seed=0, name=f"candidate {i}")
        rows.append({**cand, "evaluation_return": res.mean_return, "adaptivity": res.adaptivity})
        print(f"{cand['timesteps']:>11,} steps  validation {cand['validation_return']:7.3f}  "
              f"re-validation {cand['revalidation_return']:7.3f}  evaluation {res.mean_return:7.3f}", flush=True)
    by_val = max(rows, key=lambda r: r["validation_return"])
    kept = next(r for r in rows if r["timesteps"] == sel["kept_timesteps"])
    print(f"best single validation: evaluation {by_val['evaluation_return']:.3f}; "
          f"kept by re-validation: {kept['evaluation_return']:.3f} (difference {kept['evaluation_return'] - by_val['evaluation_return']:+.3f})")
    with open(os.path.join(args.out, "selection_check.json"), "w", encoding="utf-8") as f:
        json.dump({"selection": sel, "candidates": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
