"""The ``mcia`` command line: ``mcia train``, ``mcia evaluate``, ``mcia compare``, ``mcia ablate``,
``mcia sweep``, ``mcia static``, ``mcia scenarios``, ``mcia bench``, ``mcia soak``.

Every command takes the scenario as ``--scenario NAME`` (a preset, see ``mcia scenarios``) or
``--config FILE`` (a .json / .toml file), not both, and the environment as ``--env MCIA-v0`` (default) or
``--env MCIA-Cloud-v0`` (the cloud tier over that scenario). Run ``mcia --help`` or ``mcia COMMAND --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import _core


def _config(args: argparse.Namespace):
    """The scenario of ``--scenario NAME`` or ``--config FILE`` (the defaults without either), for the
    environment ``--env`` (``MCIA-Cloud-v0`` enables the cloud tier)."""
    from . import env_config
    from .config import Config

    scenario, path = getattr(args, "scenario", None), getattr(args, "config", None)
    if scenario and path:
        raise _core.ConfigError(f"give either --scenario {scenario} or --config {path}, not both")
    if scenario:
        if os.path.exists(scenario):
            raise _core.ConfigError(f"--scenario {scenario!r} is also a file here; rename the file (scenario files end in .toml or .json) or run elsewhere")
        cfg = Config.preset(scenario)
    elif path:
        cfg = Config.from_file(path)
    else:
        cfg = Config()
    return env_config(getattr(args, "env", None) or "MCIA-v0", cfg)


def _env_id(cfg) -> str:
    """The environment id a scenario runs as."""
    return "MCIA-Cloud-v0" if cfg["cloud"]["enabled"] else "MCIA-v0"


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """``--scenario NAME`` / ``--config FILE``, shared by every command."""
    p.add_argument("--scenario", help="preset scenario name (see `mcia scenarios`); default: the default scenario")
    p.add_argument("--config", help="scenario file (.json or .toml) instead of a preset")
    p.add_argument("--env", default="MCIA-v0", choices=["MCIA-v0", "MCIA-Cloud-v0"], help="environment id (default MCIA-v0; MCIA-Cloud-v0 adds the cloud tier)")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, write_csv

    res = evaluate(args.policy, _config(args), episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
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
    from .policies import names_for

    cfg = _config(args)
    policies: List[str] = list(args.policies or names_for(cfg)) + list(args.agents or [])
    comp = compare(policies, cfg, episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
    print(f"{_env_id(cfg)}, {cfg.num_devices} devices, versions {cfg['zoo']['versions']}; {args.episodes} paired episodes "
          f"(seeds {args.seed}..{args.seed + args.episodes - 1}), {cfg['time']['episode_slots']} slots each.")
    print("return = summed reward of an episode; score = (U - U_random) / (U_optimizer - U_random); "
          "adaptivity = (U - U_static) / (U_optimizer - U_static).\n")
    print(comp.table())
    if args.out:
        paths = comp.save(args.out)
        print("\nwrote " + ", ".join(paths))
    if args.plot:
        if os.path.dirname(args.plot):
            os.makedirs(os.path.dirname(args.plot), exist_ok=True)
        print(f"wrote {comp.plot(args.plot)}")
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    from .evaluation import agents_table

    cfg = _config(args)
    table = agents_table(args.runs, cfg, episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
    print(f"{_env_id(cfg)}; {args.episodes} paired evaluation episodes (seeds {args.seed}..{args.seed + args.episodes - 1}); "
          "score and adaptivity intervals: paired bootstrap over the seeds.\n")
    print(table)
    if args.out:
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")
        print(f"\nwrote {args.out}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from .ablation import ablate, ablate_sweep
    from .sweep import parse_value

    cfg = _config(args)
    out = args.out or os.path.join("runs", "ablation")
    if args.sweep:
        if not args.values:
            raise ValueError("--sweep needs --values")
        res = ablate_sweep(args.sweep, [parse_value(v) for v in args.values], cfg, episodes=args.episodes, seed=args.seed,
                           policies=args.policy, num_threads=args.threads, progress=not args.quiet)
        print(f"share of the random-to-optimizer range lost when one decision is frozen, {args.episodes} paired episodes:\n")
        print(res.table())
        paths = res.save(out) + [res.plot(os.path.join(out, "ablation_sweep.png"))]
    else:
        res = ablate(cfg, episodes=args.episodes, seed=args.seed, policies=args.policy, num_threads=args.threads, progress=not args.quiet)
        print(f"decision ablation, {args.episodes} paired episodes (seeds {args.seed}..{args.seed + args.episodes - 1}); "
              f"random {res.random_return:.2f}, optimizer {res.optimizer_return:.2f}:\n")
        print(res.table())
        paths = res.save(out) + [res.plot(os.path.join(out, "ablation.png"))]
    print("\nwrote " + ", ".join(paths))
    return 0


def cmd_static(args: argparse.Namespace) -> int:
    from .policies import static_search, static_table_text

    cfg = _config(args)
    found = static_search(cfg, refresh=args.refresh, progress=not args.quiet)
    print(static_table_text(found, cfg))
    print(f"\nmean return on the {found['episodes']} calibration episodes (seeds {found['seed']}..): "
          f"{found['calibration_return']:.3f} (start: the optimizer's most frequent choices, {found['start_return']:.3f}); "
          f"{found['passes']} coordinate-ascent passes, {found['evaluations']} tables evaluated.")
    if args.out:
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(found, f, indent=1)
        print(f"wrote {args.out}")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from .config import preset_toml, scenarios

    if args.show:
        print(preset_toml(args.show), end="")
        if args.full:
            from .config import Config

            print("\n# --- every field of the scenario ---\n" + Config.preset(args.show).to_toml(), end="")
        return 0
    width = max(len(n) for n in scenarios())
    for name, desc in scenarios().items():
        print(f"{name:<{width}}  {desc}")
    print("\nuse with --scenario NAME, gym.make('MCIA-v0', config=NAME) or mcia.Config.preset(NAME); "
          "`mcia scenarios --show NAME` prints one.")
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from .soak import soak

    res = soak(_config(args), device_steps=args.device_steps, num_envs=args.envs, num_threads=args.threads, cycle_steps=args.cycle_steps,
               seed=args.seed, progress=not args.quiet)
    print(res.summary())
    if args.out:
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(res.to_dict(), f, indent=1)
        print(f"wrote {args.out}")
    return 0 if res.ok else 1


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    result = bench.run(_config(args), num_envs=args.envs, threads=args.threads_list, engines=args.engines, seconds=args.seconds, repeats=args.repeats, progress=not args.quiet)
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
    res = sweep(args.param, values, args.policies, _config(args), episodes=args.episodes, seed=args.seed, num_threads=args.threads, progress=not args.quiet)
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
        add_scenario_args(p)
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

    ag = sub.add_parser("agents", help="trained agents beside the baselines: env-steps, wall time, scores with 95%% intervals")
    ag.add_argument("runs", nargs="+", help="checkpoint directories of mcia train")
    common(ag, 20)
    ag.add_argument("--out", help="also write the Markdown table to this file")
    ag.set_defaults(func=cmd_agents)

    sw = sub.add_parser("sweep", help="evaluate policies across values of one scenario parameter (CSV + PNG)")
    sw.add_argument("--param", required=True, help="dotted config path (radio.bandwidth_hz, edge.edge_gflops, tasks.as_ratio, ...) "
                    "or a shortcut: num_devices, bandwidth_mhz, heterogeneity")
    sw.add_argument("--values", required=True, nargs="+", help="values (JSON numbers or lists; comma-separated names for class lists)")
    sw.add_argument("--policies", nargs="+", default=["random", "neurosurgeon", "greedy", "optimizer"], help="built-in policies or checkpoint directories")
    common(sw, 10)
    sw.add_argument("--out", help="output directory (default runs/sweep_PARAM)")
    sw.add_argument("--choices-of", dest="choices_of", help="policy whose versions and cuts are plotted (default: the last)")
    sw.set_defaults(func=cmd_sweep)

    ab = sub.add_parser("ablate", help="the return lost when each decision (version, cut, bandwidth, compute) is frozen")
    ab.add_argument("--policy", nargs="+", default=["optimizer", "greedy"], choices=["optimizer", "greedy"], help="policies to ablate (default both)")
    common(ab, 20)
    ab.add_argument("--sweep", metavar="PARAM", help="ablate across the values of one scenario parameter (as mcia sweep)")
    ab.add_argument("--values", nargs="+", help="values of --sweep PARAM")
    ab.add_argument("--out", help="output directory (default runs/ablation)")
    ab.set_defaults(func=cmd_ablate)

    st = sub.add_parser("static", help="print the static baseline's table (searched once per scenario, then cached)")
    add_scenario_args(st)
    st.add_argument("--refresh", action="store_true", help="search again instead of reading the cache")
    st.add_argument("--out", help="write the search result as JSON")
    st.add_argument("--quiet", action="store_true", help="no message when a search runs")
    st.set_defaults(func=cmd_static)

    sc = sub.add_parser("scenarios", help="list the preset scenarios")
    sc.add_argument("--show", metavar="NAME", help="print one preset's TOML")
    sc.add_argument("--full", action="store_true", help="with --show: also every field of the resulting scenario")
    sc.set_defaults(func=cmd_scenarios)

    so = sub.add_parser("soak", help="step random valid actions at scale; check finiteness, bounds and memory (exit 1 on a violation)")
    add_scenario_args(so)
    so.add_argument("--device-steps", type=float, default=1e9, help="device decisions to step (default 1e9)")
    so.add_argument("--envs", type=int, default=4096, help="environments per vector env (default 4096)")
    so.add_argument("--cycle-steps", type=int, default=500, help="steps before the vector env is closed and made again (default 500)")
    so.add_argument("--threads", type=int, default=None, help="Rust threads (default: every core)")
    so.add_argument("--seed", type=int, default=0)
    so.add_argument("--out", help="write the summary as JSON")
    so.add_argument("--quiet", action="store_true", help="no progress bar")
    so.set_defaults(func=cmd_soak)

    from .train import add_train_parser

    add_train_parser(sub)

    from .bench import ENGINES

    bp = sub.add_parser("bench", help="env-steps/s of MCIA-v0 from Python beside the NumPy reference, Gymnasium and EnvPool anchors")
    add_scenario_args(bp)
    bp.add_argument("--envs", type=int, nargs="+", default=[1, 16, 256, 4096], help="batch sizes (default 1 16 256 4096)")
    bp.add_argument("--threads", dest="threads_list", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    bp.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES, help="engines to measure (default: all)")
    bp.add_argument("--seconds", type=float, default=0.4, help="duration of one timed run (default 0.4)")
    bp.add_argument("--repeats", type=int, default=5, help="timed runs per cell; the median is reported (default 5)")
    bp.add_argument("--out", help="write the result as JSON")
    bp.add_argument("--quiet", action="store_true", help="no progress bar")
    bp.set_defaults(func=cmd_bench)

    from .torch_profile import add_zoo_parser  # torch is imported only when `mcia zoo build` runs

    add_zoo_parser(sub)
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
