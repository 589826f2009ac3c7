"""Where a HybridPPO training iteration spends its time.

    python examples/profile_training.py                      # default scenario (N = 10), 12 iterations
    python examples/profile_training.py --devices 5 --iterations 20 --arch set
    python examples/profile_training.py --arch set --hparam set_critic=pooled

Times, per iteration, with wall-clock timers around the parts (no change to the agent's code):

- ``env step``: the Rust vector env's ``step`` (GIL released, all environments of the batch);
- ``rollout forward``: the policy and critic forward passes while collecting (inference mode);
- ``rollout other``: the rest of collecting: sampling, log-probabilities, normalisation, copies into the
  rollout buffers, reward bookkeeping (the data movement between NumPy and torch);
- ``update forward``: policy and critic forward passes of the PPO epochs;
- ``backward``: ``loss.backward()``;
- ``optimizer``: gradient clipping and ``Adam.step``;
- ``update other``: advantages, minibatch indexing, losses.

The first two iterations (imitation warm start, allocation) are left out. Run it on an idle machine: the
numbers are wall-clock.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch

import mcia
from mcia.agents import HybridPPO
from mcia.sweep import mix_classes
from mcia.train import parse_hparams


class Timers:
    """Accumulated wall time per label; ``active`` switches accumulation on after the warm-up."""

    def __init__(self) -> None:
        self.total = defaultdict(float)
        self.active = False

    def wrap(self, label, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.active:
                    self.total[label] += time.perf_counter() - t

        return timed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=10, help="N, in the default device mix (default 10)")
    ap.add_argument("--iterations", type=int, default=12, help="iterations measured after 2 warm-up ones")
    ap.add_argument("--arch", default="mlp", choices=["mlp", "set"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the agent's torch_threads)")
    ap.add_argument("--hparam", action="append", metavar="KEY=VALUE", help="any HybridPPO hyper-parameter, as in mcia train")
    args = ap.parse_args(argv)

    cfg = mcia.Config().replace({"devices.device_classes": mix_classes(args.devices)})
    extra = parse_hparams(args.hparam)
    if args.threads:
        extra["torch_threads"] = args.threads
    # PPO iterations only: no warm start (it runs once, before the first iteration)
    agent = HybridPPO(cfg, seed=0, arch=args.arch, eval_every=0, teacher="", **extra)
    timers = Timers()

    # Env steps: the class method, so every vector env the agent builds is timed.
    step = mcia.MciaVectorEnv.step
    mcia.MciaVectorEnv.step = timers.wrap("env step", step)
    # Forward passes, split by inference mode (rollout) or not (update).
    for net in (agent.policy, agent.critic):
        fwd = net.forward

        def timed_forward(*a, _fwd=fwd, **k):
            label = "rollout forward" if torch.is_inference_mode_enabled() else "update forward"
            t = time.perf_counter()
            out = _fwd(*a, **k)
            if timers.active:
                timers.total[label] += time.perf_counter() - t
            return out

        net.forward = timed_forward
    backward = torch.Tensor.backward
    torch.Tensor.backward = timers.wrap("backward", backward)
    opt_step = agent.optimizer.step
    agent.optimizer.step = timers.wrap("optimizer", opt_step)
    clip = torch.nn.utils.clip_grad_norm_
    torch.nn.utils.clip_grad_norm_ = timers.wrap("optimizer", clip)

    per_iter = agent.params.num_envs * agent.params.n_steps
    try:
        agent.learn(2 * per_iter, progress_bar=False)  # warm-up: imitation and allocation
        timers.active = True
        t0 = time.perf_counter()
        start_rows = len(agent.curve)
        agent.learn(args.iterations * per_iter, progress_bar=False)  # learn() continues training
        wall = time.perf_counter() - t0
    finally:
        mcia.MciaVectorEnv.step = step
        torch.Tensor.backward = backward
        torch.nn.utils.clip_grad_norm_ = clip
    rows = agent.curve[start_rows:]
    rollout = sum(r["rollout_s"] for r in rows)
    update = sum(r["update_s"] for r in rows)
    t = timers.total
    parts = {
        "env step": t["env step"],
        "rollout forward": t["rollout forward"],
        "rollout other": max(rollout - t["env step"] - t["rollout forward"], 0.0),
        "update forward": t["update forward"],
        "backward": t["backward"],
        "optimizer": t["optimizer"],
        "update other": max(update - t["update forward"] - t["backward"] - t["optimizer"], 0.0),
    }
    steps = len(rows) * per_iter
    print(f"HybridPPO arch={args.arch}, N = {args.devices}, {agent.params.num_envs} envs x {agent.params.n_steps} steps per iteration, "
          f"torch threads {agent.params.torch_threads}; {len(rows)} iterations, {steps:,} env-steps in {wall:.1f} s "
          f"= {steps / wall:,.0f} env-steps/s of training ({steps * args.devices / wall:,.0f} device-steps/s)\n")
    print("| part | s per iteration | share |\n|---|---|---|")
    total = sum(parts.values())
    for k, v in parts.items():
        print(f"| {k} | {v / len(rows):.3f} | {v / total:.0%} |")
    print(f"| (unaccounted: validation, logging) | {(wall - total) / len(rows):.3f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
