"""How far is the slot-wise optimizer from the best decision of its own slot? A search above it.

    python examples/headroom.py                    # 16 validation episodes, default scenario
    python examples/headroom.py --seed 0 --episodes 20 --baselines static   # on the evaluation seeds

The optimizer (SPEC section 7) starts from greedy and alternates a share step (a convex proxy of the
latency term ``sum_n (1 - w_n) / tau_n * T_n``, which has no deadline step, then single weights scaled by
1/4 .. 4) with a (version, cut) step per device, for at most 3 rounds, and accepts a change only when its
search objective improves and the slot's utility stays at or above greedy's. None of this is exhaustive.

This script plays the optimizer and, in every slot, searches further on the same objective (summed utility
minus the cost of the work left queued on the devices and on the edge, :class:`mcia.queue_relief.SlotObjective`),
without the floor, starting from the optimizer's decision. Each round tries, with ``--decisions``, every
single-device change of (version, cut), then every offloading device's weights scaled by 1/8 .. 8 and
``--samples`` random log-normal perturbations of all of them; every candidate is evaluated with the NumPy
reference model (:class:`mcia.reference.ReferenceModel`, the simulator's independent twin) on the state the
environment is in, and the best is kept. It then steps the real environment with the result. Beside it plays
``optimizer+relief`` (:class:`mcia.queue_relief.QueueRelief`: only the floor-free change of a device left with
work queued). All policies play the same episodes (paired), so the difference of returns measures how much a
better slot decision is worth: a lower bound on the headroom above the optimizer that any policy, learned or
not, has on the scenario. Nothing here trains or tunes an agent; the default seeds are the validation seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mcia
from mcia.evaluation import resolve_policy, t95
from mcia.queue_relief import QueueRelief

FACTORS = (0.125, 0.25, 0.5, 2.0, 4.0, 8.0)


class SharePolish:
    """The optimizer's decision with its shares searched on the slot's true objective (see the module doc).

    Args:
        config: the scenario.
        rounds: search rounds per slot; each starts from the best found so far.
        samples: random perturbations per round and environment.
        sigma: standard deviation of the log-weight perturbations in the first round (halved each round).
        seed: seed of the perturbations.
    """

    def __init__(self, config: mcia.Config, rounds: int = 3, samples: int = 64, sigma: float = 1.0, seed: int = 0,
                 decisions: bool = False):
        self.relief = QueueRelief(config)   # reads the slot as the relief does: optimizer, state, edge cost
        self.slot = self.relief.objective
        self.model = self.slot.model
        self.rounds, self.samples, self.sigma, self.decisions = rounds, samples, sigma, decisions
        self.rng = np.random.default_rng(seed)
        n = self.model.n
        # Each device's weights scaled by each factor: the same candidates in every slot.
        self.structured = np.zeros((n * len(FACTORS), n, 2))
        for i, (k, f) in enumerate((k, f) for k in range(n) for f in FACTORS):
            self.structured[i, k] = np.log(f)
        self.c = 0
        self.gain = []   # per slot: best objective minus the optimizer's, per env (summed utility units)

    def objective(self, state: dict, version: np.ndarray, partition: np.ndarray, logw: np.ndarray,
                  edge_cost: np.ndarray) -> np.ndarray:
        """The optimizer's search objective (:class:`mcia.queue_relief.SlotObjective`) of candidates
        ``(E, C, ...)`` on the states ``state`` (E rows). Returns ``(E, C)``."""
        e, c, n = version.shape
        rows = np.repeat(np.arange(e), c)
        value, _ = self.slot(state, version.reshape(e * c, n), partition.reshape(e * c, n), logw.reshape(e * c, n, 2),
                             edge_cost, rows=rows)
        return value.reshape(e, c)

    def _keep(self, obj, best, cands):
        """Per environment, the best candidate if it beats ``best``: ``(improved mask, new best, picked rows)``."""
        e = len(best)
        pick = obj.argmax(1)
        top = obj[np.arange(e), pick]
        better = top > best + 1e-12
        return better, np.where(better, top, best), [c[np.arange(e), pick] for c in cands]

    def _decision_candidates(self, version, partition, logw, task):
        """Every single-device change of (version, cut), the others kept: ``(E, C, N)`` and ``(E, C, N, 2)``.
        A device that starts to offload bids the mean weights of the offloading devices, as in the optimizer."""
        e, n = version.shape
        m, l1 = self.model.m, self.model.l + 1
        ks, vs, ps = np.meshgrid(np.arange(n), np.arange(m), np.arange(l1), indexing="ij")
        ks, vs, ps = ks.ravel(), vs.ravel(), ps.ravel()
        c = len(ks)
        ver = np.repeat(version[:, None], c, 1)
        par = np.repeat(partition[:, None], c, 1)
        ver[:, np.arange(c), ks] = vs
        par[:, np.arange(c), ks] = ps
        lw = self.slot.joining_log_weights(logw, (task > 0) & (partition < self.model.l))
        return ver, par, np.repeat(lw[:, None], c, 1)

    def __call__(self, venv: mcia.MciaVectorEnv) -> dict:
        base, state, edge_cost = self.relief.read_slot(venv)
        e, n = base["version"].shape
        version, partition = base["version"].astype(np.int64), base["partition"].astype(np.int64)
        logw = self.slot.log_weights(base)
        structured = self.structured
        best = start = self.objective(state, version[:, None], partition[:, None], logw[:, None], edge_cost)[:, 0]
        sigma = self.sigma
        for _ in range(self.rounds):
            if self.decisions:
                ver, par, lw = self._decision_candidates(version, partition, logw, state["task"])
                _, best, (version, partition, logw) = self._keep(self.objective(state, ver, par, lw, edge_cost), best, (ver, par, lw))
            offload = ((state["task"] > 0) & (partition < self.model.l))[:, None, :, None]
            noise = self.rng.standard_normal((e, self.samples, n, 2)) * sigma
            deltas = np.concatenate([np.broadcast_to(structured, (e,) + structured.shape), noise], 1)
            cand = logw[:, None] + deltas * offload
            c = cand.shape[1]
            ver, par = np.repeat(version[:, None], c, 1), np.repeat(partition[:, None], c, 1)
            _, best, (logw,) = self._keep(self.objective(state, ver, par, cand, edge_cost), best, (cand,))
            sigma *= 0.5
        self.c = structured.shape[0] + self.samples + (n * self.model.m * (self.model.l + 1) if self.decisions else 0)
        self.gain.append(best - start)
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        return {"version": version.astype(base["version"].dtype), "partition": partition.astype(base["partition"].dtype),
                "bandwidth": w[..., 0].astype(base["bandwidth"].dtype), "compute": w[..., 1].astype(base["compute"].dtype)}


def play(act, config: mcia.Config, episodes: int, seed: int):
    """Per-episode returns, deadline misses and tasks of ``act(venv, obs)``."""
    venv = mcia.MciaVectorEnv(episodes, config, num_threads=1, info=True, copy=True)
    obs, _ = venv.reset(seed=seed)
    ret = np.zeros(episodes)
    missed = np.zeros(episodes)
    tasks = np.zeros(episodes)
    for _ in range(config["time"]["episode_slots"]):
        obs, reward, _, trunc, info = venv.step(act(venv, obs))
        src = info.get("final_info", info) if trunc.any() else info
        ret += reward
        missed += (np.asarray(src["deadline_met"]) == 0).sum(1)
        tasks += (np.asarray(src["task_type"]) > 0).sum(1)
    return ret, missed / np.maximum(tasks, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1_000_000, help="first seed (default: the validation seeds)")
    ap.add_argument("--config", default=None, help="scenario file (default: the default scenario)")
    ap.add_argument("--rounds", type=int, default=3, help="search rounds per slot")
    ap.add_argument("--samples", type=int, default=64, help="random weight perturbations per round")
    ap.add_argument("--decisions", action="store_true", help="also try every single-device change of (version, cut) each round")
    ap.add_argument("--baselines", nargs="*", default=[], help="more built-in policies or checkpoints to play on the same seeds")
    args = ap.parse_args(argv)
    if args.episodes < 2:
        ap.error("--episodes must be at least 2 (the interval needs two)")
    if args.rounds < 1 or args.samples < 0:
        ap.error("--rounds must be at least 1 and --samples at least 0")
    config = mcia.Config(args.config)
    polish = SharePolish(config, rounds=args.rounds, samples=args.samples, decisions=args.decisions)
    rows = {}
    for name in ["optimizer", *args.baselines]:
        label, act = resolve_policy(name, config, seed=args.seed)
        rows[label] = play(act, config, args.episodes, args.seed)
    relief = QueueRelief(config)
    rows[relief.name] = play(lambda venv, obs: relief(venv), config, args.episodes, args.seed)
    t0 = time.perf_counter()
    rows["optimizer + search"] = play(lambda venv, obs: polish(venv), config, args.episodes, args.seed)
    took = time.perf_counter() - t0
    opt = rows["optimizer"][0]
    half = lambda x: t95(len(x) - 1) * np.std(x, ddof=1) / np.sqrt(len(x))   # noqa: E731
    ref = rows.get("static", (None,))[0]
    print(f"{args.episodes} paired episodes from seed {args.seed}; search: {args.rounds} rounds of up to "
          f"{polish.c} candidates per environment and slot ({took:.0f} s)\n")
    print("| policy | return (95% CI) | vs optimizer (95% CI) | episodes won / tied / lost | deadline missed |"
          + (" adaptivity |" if ref is not None else ""))
    print("|---|---|---|---|---|" + ("---|" if ref is not None else ""))
    for label, (ret, miss) in rows.items():
        d = ret - opt
        won, lost = int((d > 1e-9).sum()), int((d < -1e-9).sum())
        line = (f"| {label} | {ret.mean():.2f} ± {half(ret):.2f} | {d.mean():+.2f} ± {half(d):.2f} "
                f"| {won} / {len(d) - won - lost} / {lost} | {miss.mean():.3f} |")
        if ref is not None:
            line += f" {(ret.mean() - ref.mean()) / (opt.mean() - ref.mean()):.3f} |"
        print(line)
    gain = np.concatenate(polish.gain)
    print(f"\nslots where the search beat the optimizer's objective: {np.mean(gain > 1e-9):.1%}; "
          f"mean gain there {gain[gain > 1e-9].mean() if (gain > 1e-9).any() else 0.0:.3f} (summed utility)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
