"""Does ``torch.compile`` pay for HybridPPO's networks on this CPU? Times one forward and backward pass of a
PPO minibatch, eager against compiled, for every network the agent can use.

    python examples/compile_networks.py                  # N = 10, minibatches of 4096, 2 torch threads
    python examples/compile_networks.py --devices 5 --batch 2048 --reps 10

Prints the first call (compilation included) and the median of ``--reps`` timed calls after it, per network:
the per-N actor and critic (``arch="mlp"``), the any-N actor and both any-N critics (``arch="set"``). The
inputs are random normalised observations; the time of a pass does not depend on their values.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mcia.agents.hppo import CriticNet, PolicyNet
from mcia.agents.set_policy import PooledCriticNet, SetCriticNet, SetPolicyNet

VERSIONS, UNITS, SHARED = 3, 16, 3  # the default scenario's M, L and shared observation entries


def networks(n: int, hidden: int):
    """``{label: (module, takes_n)}`` at the agent's default widths."""
    return {
        "mlp actor": (PolicyNet(n, VERSIONS, UNITS, hidden, "relu", True, SHARED), False),
        "mlp critic": (CriticNet(7 * n + SHARED, n, 128, "relu"), False),
        "set actor": (SetPolicyNet(VERSIONS, UNITS, SHARED, hidden, "relu"), True),
        "set critic (equivariant)": (SetCriticNet(SHARED, 64, "relu"), True),
        "set critic (pooled)": (PooledCriticNet(SHARED, 64, "relu"), True),
    }


def forward_backward(net, x: torch.Tensor, n: int, takes_n: bool) -> None:
    out = net(x, n) if takes_n else net(x)
    outs = out if isinstance(out, tuple) else (out,)
    sum(o.sum() for o in outs).backward()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=_positive, default=10, help="N (default 10)")
    ap.add_argument("--batch", type=_positive, default=4096, help="observations per minibatch (default 4096, the agent's)")
    ap.add_argument("--threads", type=_positive, default=2, help="torch threads (default 2, the agent's)")
    ap.add_argument("--reps", type=_positive, default=6, help="timed calls after the first (default 6)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.devices
    x = torch.randn(args.batch, 7 * n + SHARED)
    print(f"N = {n}, minibatch {args.batch}, torch {torch.__version__}, {args.threads} threads; "
          f"one forward + backward pass, ms (median of {args.reps})\n")
    print("| network | eager | compiled | compiled / eager | first compiled call, s |\n|---|---|---|---|---|")
    for label, (net, takes_n) in networks(n, 64).items():
        compiled = torch.compile(net)
        t = time.perf_counter()
        forward_backward(compiled, x, n, takes_n)
        first = time.perf_counter() - t
        forward_backward(net, x, n, takes_n)
        times = {"eager": [], "compiled": []}
        for _ in range(args.reps):  # alternate, so that load on the machine hits both alike
            for kind, f in (("eager", net), ("compiled", compiled)):
                t = time.perf_counter()
                forward_backward(f, x, n, takes_n)
                times[kind].append((time.perf_counter() - t) * 1e3)
        e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
        print(f"| {label} | {e:.1f} | {c:.1f} | {c / e:.2f} | {first:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
