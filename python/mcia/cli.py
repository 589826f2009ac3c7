"""The ``mcia`` command line: ``mcia train``, ``mcia evaluate``, ``mcia compare``, ``mcia sweep``, ``mcia bench``.

Run ``mcia --help`` or ``mcia COMMAND --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import _core


def _config(path: Optional[str]):
    from .config import Config

    return Config(path) if path else Config()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, write_csv

    res = evaluate(args.policy, _config(args.config), episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
    print(res.table())
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "evaluate.json"), "w", encoding="utf-8") as f:
            json.dump(res.to_dict(), f, indent=1)
        write_csv(os.path.join(args.out, "evaluate.csv"), [res.summary_row()])
        write_csv(os.path.join(args.out, "episodes.csv"), [{"seed": s, "return": r} for s, r in zip(res.seeds, res.episode_returns.tolist())])
        print(f"wrote {args.out}/evaluate.json, evaluate.csv, episodes.csv")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .evaluation import compare
    from .policies import NAMES

    policies: List[str] = list(args.policies or NAMES) + list(args.agents or [])
    cfg = _config(args.config)
    comp = compare(policies, cfg, episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
    print(f"MCIA-v0, {cfg.num_devices} devices, versions {cfg['zoo']['versions']}; {args.episodes} paired episodes "
          f"(seeds {args.seed}..{args.seed + args.episodes - 1}), {cfg['time']['episode_slots']} slots each.")
    print("score = (U - U_random) / (U_optimizer - U_random); return = summed reward of an episode.\n")
    print(comp.table())
    if args.out:
        paths = comp.save(args.out)
        print("\nwrote " + ", ".join(paths))
    if args.plot:
        if os.path.dirname(args.plot):
            os.makedirs(os.path.dirname(args.plot), exist_ok=True)
        print(f"wrote {comp.plot(args.plot)}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    result = bench.run(_config(args.config), num_envs=args.envs, threads=args.threads_list, engines=args.engines, seconds=args.seconds, repeats=args.repeats, progress=not args.quiet)
    print(bench.table(result))
    if args.out:
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.out}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import parse_value, sweep

    values = [parse_value(v) for v in args.values]
    res = sweep(args.param, values, args.policies, _config(args.config), episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
    print(f"mean reward per slot over {args.episodes} paired episodes:\n")
    print(res.table())
    out = args.out or os.path.join("runs", f"sweep_{args.param.replace('.', '_')}")
    paths = res.save(out) + res.plot(out, choices_of=args.choices_of)
    print("\nwrote " + ", ".join(paths))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcia", description="MCIA-v0: multi-compression-scale DNN inference acceleration environment.")
    parser.add_argument("--version", action="version", version=f"mcia {_core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, episodes: int) -> None:
        p.add_argument("--config", help="scenario file (.json or .toml); default scenario if omitted")
        p.add_argument("--episodes", type=int, default=episodes, help=f"paired evaluation episodes (default {episodes})")
        p.add_argument("--seed", type=int, default=0, help="first evaluation seed (episode i uses seed + i)")
        p.add_argument("--threads", type=int, default=None, help="Rust threads (default: every core)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = sub.add_parser("evaluate", help="evaluate one policy or trained agent")
    ev.add_argument("--policy", required=True, help="built-in policy name or a checkpoint directory from mcia train")
    common(ev, 20)
    ev.add_argument("--out", help="directory for evaluate.json / evaluate.csv / episodes.csv")
    ev.set_defaults(func=cmd_evaluate)

    cp = sub.add_parser("compare", help="rank every baseline (and given agents) on the same seeds")
    cp.add_argument("--policies", nargs="+", help="built-in policies (default: all)")
    cp.add_argument("--agents", nargs="+", help="checkpoint directories of trained agents")
    common(cp, 20)
    cp.add_argument("--out", help="directory for compare.json / compare.csv")
    cp.add_argument("--plot", help="PNG of per-type latency / accuracy / utility bars")
    cp.set_defaults(func=cmd_compare)

    sw = sub.add_parser("sweep", help="evaluate policies across values of one scenario parameter (CSV + PNG)")
    sw.add_argument("--param", required=True, help="dotted config path (radio.bandwidth_hz, edge.edge_gflops, tasks.as_ratio, ...) "
                    "or a shortcut: num_devices, bandwidth_mhz, heterogeneity")
    sw.add_argument("--values", required=True, nargs="+", help="values (JSON numbers or lists; comma-separated names for class lists)")
    sw.add_argument("--policies", nargs="+", default=["random", "neurosurgeon", "greedy", "optimizer"], help="built-in policies or checkpoint directories")
    common(sw, 10)
    sw.add_argument("--out", help="output directory (default runs/sweep_PARAM)")
    sw.add_argument("--choices-of", dest="choices_of", help="policy whose versions and cuts are plotted (default: the last)")
    sw.set_defaults(func=cmd_sweep)

    from .train import add_train_parser

    add_train_parser(sub)

    from .bench import ENGINES

    bp = sub.add_parser("bench", help="env-steps/s of MCIA-v0 from Python beside the NumPy reference, Gymnasium and EnvPool anchors")
    bp.add_argument("--config", help="scenario file (.json or .toml)")
    bp.add_argument("--envs", type=int, nargs="+", default=[1, 16, 256, 4096], help="batch sizes (default 1 16 256 4096)")
    bp.add_argument("--threads", dest="threads_list", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    bp.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES, help="engines to measure (default: all)")
    bp.add_argument("--seconds", type=float, default=0.4, help="duration of one timed run (default 0.4)")
    bp.add_argument("--repeats", type=int, default=5, help="timed runs per cell; the median is reported (default 5)")
    bp.add_argument("--out", help="write the result as JSON")
    bp.add_argument("--quiet", action="store_true", help="no progress bar")
    bp.set_defaults(func=cmd_bench)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (_core.MciaError, ValueError, FileNotFoundError) as e:
        print(f"mcia {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
