//! The slot-wise optimizer: the strongest myopic baseline (SPEC section 7).
//!
//! Starting from the greedy decision with equal weights, it alternates two steps. It searches on the slot's
//! true summed utility (evaluated exactly as the environment does, weight floor included) minus the cost of
//! the work it leaves queued (the backlog delays the device's next task: each second costs the expected
//! latency weight of a task, `arrival_prob * E[(1 - w) / tau]`), and it accepts a change only when that
//! improves and the slot's true utility stays at or above greedy's. So it is never worse than greedy on any
//! slot, and it does not buy this slot's utility by starving a device whose latency is already past the cap
//! (a purely myopic search would push such a device to compute locally and its queue would grow without end).
//!
//! 1. **Shares.** With every (version, cut) fixed, the latency part of the utility is the convex problem
//!    `min sum_n alpha_n (T_tx,n(b_n) + T_edge,n(c_n))` with `alpha_n = (1 - w_n) / tau_n`, subject to the
//!    shares summing to 1 over the offloading devices. It separates: compute shares have the closed form
//!    `c_n ~ sqrt(alpha_n E_n)`; bandwidth shares meet the KKT condition `-d/db (alpha_n T_tx,n) = lambda`
//!    for every device, found by a root search (Illinois regula falsi) on `lambda` around per-device root
//!    searches on `b_n`.
//! 2. **Decisions.** With the weights fixed, each device in turn takes the (version, cut) that maximises the
//!    summed utility (devices that stay offloading change only their own term; joining or leaving the set
//!    of offloading devices re-evaluates everyone).
//!
//! With the cloud tier (SPEC section 8) the decision is (version, cut, second cut): compute shares are
//! solved over the devices the edge computes for (S_E), bandwidth over the uploading ones (S), and a change
//! that moves a device into or out of S, S_E or the WAN users S_C re-evaluates everyone.

use super::heuristics::equal_share;
use super::{ActionMut, Freeze, Greedy, Policy};
use crate::env::Env;
use crate::scenario::Scenario;
use crate::sim::compute::next_edge_backlog;
use crate::sim::shares;
use crate::sim::tasks::TASK_NONE;
use crate::slot::{CloudContext, DeviceContext, EdgeContext};

/// The slot-wise optimizer. Deterministic.
#[derive(Clone, Copy, Debug)]
pub struct Optimizer {
    /// Maximum alternations of the share and decision steps (stops early when nothing improves).
    pub rounds: usize,
    /// Iteration cap of the outer (lambda) and inner (share) root searches.
    pub solver_steps: usize,
    /// Decisions it may not vary (the decision ablation).
    pub freeze: Freeze,
}

impl Default for Optimizer {
    fn default() -> Self {
        Self { rounds: 3, solver_steps: 24, freeze: Freeze::default() }
    }
}

/// A decision's value: the slot's true summed utility and the search objective (utility minus the cost of
/// the work left queued on the devices and on the edge).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Score {
    utility: f64,
    search: f64,
}

impl std::ops::Add for Score {
    type Output = Score;
    fn add(self, o: Score) -> Score {
        Score { utility: self.utility + o.utility, search: self.search + o.search }
    }
}

impl std::ops::Sub for Score {
    type Output = Score;
    fn sub(self, o: Score) -> Score {
        Score { utility: self.utility - o.utility, search: self.search - o.search }
    }
}

const ZERO: Score = Score { utility: 0.0, search: 0.0 };

/// One environment's decision: per device (version, cut, effective second cut) and the two weights.
#[derive(Clone, Debug)]
struct Decision {
    v: Vec<usize>,
    p: Vec<usize>,
    /// Effective second cut `p2' >= p` (L: no cloud; always L without the cloud tier).
    p2: Vec<usize>,
    wb: Vec<f64>,
    wc: Vec<f64>,
}

/// One environment's slot as the optimizer sees it.
struct Slot<'a> {
    sc: &'a Scenario,
    ctx: Vec<DeviceContext>,
    edge: EdgeContext,
    eps: f64,
    freeze: Freeze,
    /// Cost per second of backlog a device is left with (it delays the device's next task).
    backlog_cost: f64,
    /// Cost per second of work left on the edge (it delays every task offloaded next slot).
    edge_cost: f64,
    /// The slot utility of the greedy start: no accepted change may go below it.
    floor: f64,
}

impl Slot<'_> {
    /// Whether `cand` is an acceptable improvement over `best`.
    fn better(&self, cand: Score, best: Score) -> bool {
        cand.search > best.search + 1e-12 && cand.utility >= self.floor - 1e-12
    }

    /// Whether device k uploads (is in S) when it cuts at p.
    fn offloads(&self, k: usize, p: usize) -> bool {
        self.ctx[k].task != TASK_NONE && p < self.sc.l
    }

    /// Whether the edge computes for device k (S_E) with cuts (p, p2).
    fn edge_computes(&self, k: usize, p: usize, p2: usize) -> bool {
        self.ctx[k].task != TASK_NONE && p < p2
    }

    /// Whether device k's task crosses the WAN (S_C) with second cut p2.
    fn uses_cloud(&self, k: usize, p2: usize) -> bool {
        self.ctx[k].task != TASK_NONE && p2 < self.sc.l
    }

    /// `|S_C|` of a decision.
    fn wan_users(&self, d: &Decision) -> usize {
        (0..d.p.len()).filter(|&k| self.uses_cloud(k, d.p2[k])).count()
    }

    /// Score of device k's task for one decision (the edge's share of the search objective is separate);
    /// `wan_users` is `|S_C|` (unused without the cloud tier).
    #[allow(clippy::too_many_arguments)]
    fn device_score(&self, k: usize, v: usize, p: usize, p2: usize, b: f64, c: f64, wan_users: usize) -> Score {
        let o = if self.sc.cloud {
            let cloud = CloudContext { wan_bps: self.edge.wan_bps, wan_users: wan_users as f64 };
            let rate = self.sc.uplink_rate(&self.ctx[k], p < self.sc.l, b);
            self.sc.device_outcome_cloud(&self.ctx[k], &self.edge, &cloud, &crate::slot::Decision { v, p1: p, p2, b, c }, rate)
        } else {
            self.sc.device_outcome(&self.ctx[k], &self.edge, v, p, b, c)
        };
        let queued = (self.ctx[k].backlog_s + o.latency.local + o.latency.tx - self.sc.config.time.slot_s).max(0.0);
        Score { utility: o.utility, search: o.utility - self.backlog_cost * queued }
    }

    /// Edge FLOPs device k brings when it runs (v, p, p2).
    fn edge_work(&self, k: usize, v: usize, p: usize, p2: usize) -> f64 {
        if self.edge_computes(k, p, p2) {
            self.sc.flops_until(v, p2) - self.sc.flops_until(v, p)
        } else {
            0.0
        }
    }

    /// The search cost of leaving the edge with the backlog that `work` FLOPs of new edge work cause.
    fn edge_score(&self, work: f64) -> Score {
        let left = next_edge_backlog(self.edge.backlog_s, work, self.edge.flops, self.sc.config.time.slot_s);
        Score { utility: 0.0, search: -self.edge_cost * left }
    }

    /// Bid sums: bandwidth over the uploading devices, compute over those the edge computes for.
    fn bid_sums(&self, d: &Decision) -> (f64, f64) {
        shares::bid_sums_over(&d.wb, &d.wc, self.eps, |k| self.offloads(k, d.p[k]), |k| self.edge_computes(k, d.p[k], d.p2[k]))
    }

    /// Device k's shares under decision `d` (0 where it does not take part).
    fn shares_of(&self, d: &Decision, k: usize, (sb, sc): (f64, f64)) -> (f64, f64) {
        let b = if self.offloads(k, d.p[k]) { shares::share(d.wb[k], self.eps, sb) } else { 0.0 };
        let c = if self.edge_computes(k, d.p[k], d.p2[k]) { shares::share(d.wc[k], self.eps, sc) } else { 0.0 };
        (b, c)
    }

    /// The score of the slot for a decision, normalising weights as the environment does.
    fn objective(&self, d: &Decision) -> Score {
        let sums = self.bid_sums(d);
        let users = self.wan_users(d);
        let mut total = ZERO;
        let mut work = 0.0;
        for k in 0..self.ctx.len() {
            if self.ctx[k].task == TASK_NONE {
                continue;
            }
            let (b, c) = self.shares_of(d, k, sums);
            total = total + self.device_score(k, d.v[k], d.p[k], d.p2[k], b, c, users);
            work += self.edge_work(k, d.v[k], d.p[k], d.p2[k]);
        }
        total + self.edge_score(work)
    }

    /// Latency weight of device k's task in the utility, `(1 - w) / tau`.
    fn alpha(&self, k: usize) -> f64 {
        let pr = &self.sc.prefs[self.ctx[k].task as usize];
        (1.0 - pr.weight) / pr.deadline_s
    }

    /// `-d/db` of `alpha * 8 D / R(b)` with `R(b) = b B log2(1 + s / b)`: the marginal latency saving of
    /// bandwidth for a device with weighted upload `a8d = alpha * 8 D` and full-band SNR `s`.
    fn marginal_tx(&self, a8d: f64, s: f64, b: f64) -> f64 {
        let bw = self.sc.config.radio.bandwidth_hz;
        let x = s / b;
        let log = crate::sim::radio::log2_1p(x);
        let rate = b * bw * log;
        let d_rate = bw * (log - x / ((1.0 + x) * std::f64::consts::LN_2));
        a8d * d_rate / (rate * rate)
    }

    /// KKT-optimal shares for the weighted-latency problem over the offloading devices; writes weights
    /// (shares) into `d.wb` / `d.wc` for them and leaves the others alone. A frozen dimension keeps equal
    /// weights.
    fn solve_shares(&self, d: &mut Decision, steps: usize) {
        let sc = self.sc;
        let offloading: Vec<usize> = (0..self.ctx.len()).filter(|&k| self.offloads(k, d.p[k])).collect();
        if offloading.is_empty() {
            return;
        }
        let computing: Vec<usize> = offloading.iter().copied().filter(|&k| self.edge_computes(k, d.p[k], d.p2[k])).collect();
        if self.freeze.compute {
            offloading.iter().for_each(|&k| d.wc[k] = 1.0);
        } else if !computing.is_empty() {
            // Compute: c ~ sqrt(alpha E) over the devices the edge computes for.
            let root: Vec<f64> = computing.iter().map(|&k| (self.alpha(k) * (sc.flops_until(d.v[k], d.p2[k]) - sc.flops_until(d.v[k], d.p[k]))).max(0.0).sqrt()).collect();
            let sum: f64 = root.iter().sum();
            for (j, &k) in computing.iter().enumerate() {
                d.wc[k] = if sum > 0.0 { root[j] / sum } else { 1.0 / computing.len() as f64 };
            }
        }

        if self.freeze.bandwidth {
            offloading.iter().for_each(|&k| d.wb[k] = 1.0);
        } else {
            self.solve_bandwidth(d, &offloading, steps);
        }
    }

    /// Bandwidth: devices that upload something share by the KKT condition; the others keep the floor.
    fn solve_bandwidth(&self, d: &mut Decision, offloading: &[usize], steps: usize) {
        let sc = self.sc;
        let radio = &sc.config.radio;
        let snr_scale = radio.tx_power_w / (radio.bandwidth_hz * sc.n0);
        let uploads: Vec<(usize, f64, f64)> = offloading
            .iter()
            .filter_map(|&k| {
                let bytes = sc.bytes_at(d.v[k], d.p[k]);
                (bytes > 0.0).then(|| (k, self.alpha(k) * 8.0 * bytes, snr_scale * self.ctx[k].gain))
            })
            .collect();
        for &k in offloading {
            d.wb[k] = 0.0;
        }
        if uploads.is_empty() {
            for &k in offloading {
                d.wb[k] = 1.0;
            }
            return;
        }
        let (b_min, b_max) = (1e-9f64, 1.0f64);
        // Share of one device at marginal price lambda: the b in [b_min, 1] where the marginal equals lambda
        // (the marginal decreases in b, the problem being convex).
        let share_at = |a8d: f64, s: f64, lambda: f64| -> f64 {
            let g = |y: f64| self.marginal_tx(a8d, s, y.exp()).ln() - lambda.ln();
            root_decreasing(g, b_min.ln(), b_max.ln(), steps).exp()
        };
        // Bracket lambda around the marginals at an equal split, then solve sum(shares) = 1 in log lambda.
        let equal = 1.0 / uploads.len() as f64;
        let marg: Vec<f64> = uploads.iter().map(|&(_, a, s)| self.marginal_tx(a, s, equal)).collect();
        let (lo, hi) = (marg.iter().cloned().fold(f64::INFINITY, f64::min).ln() - 2.0, marg.iter().cloned().fold(0.0, f64::max).ln() + 2.0);
        if !(lo.is_finite() && hi.is_finite()) {
            for &(k, _, _) in &uploads {
                d.wb[k] = equal;
            }
            return;
        }
        let excess = |x: f64| uploads.iter().map(|&(_, a, s)| share_at(a, s, x.exp())).sum::<f64>() - 1.0;
        let log_lambda = root_decreasing(excess, lo, hi, steps);
        let lambda = log_lambda.exp();
        let found: Vec<f64> = uploads.iter().map(|&(_, a, s)| share_at(a, s, lambda)).collect();
        let total: f64 = found.iter().sum();
        for (j, &(k, _, _)) in uploads.iter().enumerate() {
            d.wb[k] = found[j] / total;
        }
    }

    /// Mean weight of the offloading devices other than `skip` (1 when there are none): the weights of a
    /// device that joins the offloaders.
    fn joining_weights(&self, d: &Decision, skip: usize) -> (f64, f64) {
        let (mut sb, mut sc, mut count) = (0.0, 0.0, 0usize);
        for k in 0..d.p.len() {
            if k != skip && self.offloads(k, d.p[k]) {
                sb += d.wb[k].max(self.eps);
                sc += d.wc[k].max(self.eps);
                count += 1;
            }
        }
        if count == 0 {
            (1.0, 1.0)
        } else {
            (sb / count as f64, sc / count as f64)
        }
    }

    /// Scales one offloading device's bandwidth or compute weight at a time by a few factors and keeps each
    /// change that improves the search objective; returns whether anything changed (and updates `best`).
    /// Weights stay in the action space's [0, 1]: a candidate whose largest weight exceeds 1 is divided by it
    /// before it is evaluated, so what is scored is exactly what the action will hold.
    fn refine_weights(&self, d: &mut Decision, best: &mut Score) -> bool {
        const FACTORS: [f64; 4] = [0.25, 0.5, 2.0, 4.0];
        let mut changed = false;
        for dim in [0, 1] {
            if (dim == 0 && self.freeze.bandwidth) || (dim == 1 && self.freeze.compute) {
                continue;
            }
            for k in 0..d.p.len() {
                if !self.offloads(k, d.p[k]) {
                    continue;
                }
                let original = if dim == 0 { d.wb.clone() } else { d.wc.clone() };
                let (mut best_w, mut best_value) = (None, *best);
                for f in FACTORS {
                    let mut cand = original.clone();
                    cand[k] = cand[k].max(self.eps) * f;
                    let top = cand.iter().cloned().fold(0.0, f64::max);
                    if top > 1.0 {
                        cand.iter_mut().for_each(|w| *w /= top);
                    }
                    if dim == 0 {
                        d.wb = cand;
                    } else {
                        d.wc = cand;
                    }
                    let value = self.objective(d);
                    let cand = if dim == 0 { std::mem::take(&mut d.wb) } else { std::mem::take(&mut d.wc) };
                    if self.better(value, best_value) {
                        (best_w, best_value) = (Some(cand), value);
                    }
                }
                let chosen = match best_w {
                    Some(w) => {
                        *best = best_value;
                        changed = true;
                        w
                    }
                    None => original,
                };
                if dim == 0 {
                    d.wb = chosen;
                } else {
                    d.wc = chosen;
                }
            }
        }
        changed
    }

    /// One share step for the decisions in `d`: the KKT shares when they improve on the weights `d` has,
    /// then the single-weight refinement. Returns whether anything changed (and updates `d` and `best`).
    fn share_round(&self, d: &mut Decision, best: &mut Score, steps: usize) -> bool {
        let mut trial = d.clone();
        self.solve_shares(&mut trial, steps);
        let value = self.objective(&trial);
        let mut improved = self.better(value, *best);
        if improved {
            (*best, *d) = (value, trial);
        }
        // The solver's proxy has no deadline step: scaling single weights finds deadlines it can meet.
        improved |= self.refine_weights(d, best);
        improved
    }

    /// Device k's best (version, cut, second cut) with the others' decisions and the weights fixed; returns
    /// whether it changed (and updates `best`).
    fn improve_device(&self, d: &mut Decision, k: usize, best: &mut Score) -> bool {
        let sums = self.bid_sums(d);
        let users = self.wan_users(d);
        let (b_k, c_k) = self.shares_of(d, k, sums);
        let current = (d.v[k], d.p[k], d.p2[k]);
        let own = self.device_score(k, d.v[k], d.p[k], d.p2[k], b_k, c_k, users);
        let work: f64 = (0..d.p.len()).map(|j| self.edge_work(j, d.v[j], d.p[j], d.p2[j])).sum();
        let own_work = self.edge_work(k, d.v[k], d.p[k], d.p2[k]);
        let rest = *best - own - self.edge_score(work);
        // Which of the sets S, S_E, S_C a choice puts device k in: the others' shares and WAN share only stay
        // put while these do.
        let sets = |p: usize, p2: usize| (self.offloads(k, p), self.edge_computes(k, p, p2), self.uses_cloud(k, p2));
        let (mut best_choice, mut best_value) = (current, *best);
        for (cv, cp, cp2) in self.freeze.choices(self.sc, self.ctx[k].task) {
            if (cv, cp, cp2) == current {
                continue;
            }
            let value = if sets(cp, cp2) == sets(d.p[k], d.p2[k]) {
                // The sets are unchanged: only device k's term and the edge work move.
                let (b, c) = (if cp < self.sc.l { b_k } else { 0.0 }, if cp < cp2 { c_k } else { 0.0 });
                rest + self.device_score(k, cv, cp, cp2, b, c, users) + self.edge_score(work - own_work + self.edge_work(k, cv, cp, cp2))
            } else {
                let saved = (d.v[k], d.p[k], d.p2[k], d.wb[k], d.wc[k]);
                (d.v[k], d.p[k], d.p2[k]) = (cv, cp, cp2);
                if self.offloads(k, cp) && !self.offloads(k, saved.1) {
                    (d.wb[k], d.wc[k]) = self.joining_weights(d, k);
                }
                let value = self.objective(d);
                (d.v[k], d.p[k], d.p2[k], d.wb[k], d.wc[k]) = saved;
                value
            };
            if self.better(value, best_value) {
                (best_choice, best_value) = ((cv, cp, cp2), value);
            }
        }
        if best_choice == current {
            return false;
        }
        let joins = self.offloads(k, best_choice.1) && !self.offloads(k, d.p[k]);
        (d.v[k], d.p[k], d.p2[k]) = best_choice;
        if joins {
            (d.wb[k], d.wc[k]) = self.joining_weights(d, k);
        }
        // Re-evaluate exactly rather than trusting the incremental value.
        *best = self.objective(d);
        true
    }
}

impl Optimizer {
    /// The slot as the search sees it, with the costs of queued work.
    fn slot<'a>(&self, env: &'a Env, greedy: &Decision) -> Slot<'a> {
        let sc = env.scenario();
        let t = &sc.config.tasks;
        let alpha = |i: usize| (1.0 - sc.prefs[i].weight) / sc.prefs[i].deadline_s;
        // Expected latency weight of a task, and of the next slot on one device (a task arrives with
        // probability arrival_prob).
        let mean_alpha = t.as_ratio * alpha(1) + (1.0 - t.as_ratio) * alpha(2);
        let ctx: Vec<DeviceContext> = (0..sc.n).map(|k| env.device_context(k)).collect();
        // Work left on the edge delays every task offloaded next slot: about as many as offload now.
        let offloading = (0..sc.n).filter(|&k| ctx[k].task != TASK_NONE && greedy.p[k] < sc.l).count().max(1);
        Slot {
            sc,
            ctx,
            edge: env.edge_context(),
            eps: sc.config.action.min_share_weight,
            freeze: self.freeze,
            backlog_cost: t.arrival_prob * mean_alpha,
            edge_cost: mean_alpha * offloading as f64,
            floor: f64::NEG_INFINITY,
        }
    }
}

impl Optimizer {
    /// One alternating search from the greedy start, with `freeze` (a superset of `self.freeze`) holding.
    /// Returns the decision and its score.
    fn search(&self, env: &Env, freeze: Freeze) -> (Decision, Score) {
        let sc = env.scenario();
        let n = sc.n;
        // Start from the (equally restricted) greedy decision with equal weights.
        let greedy = Greedy { freeze };
        let (share, edge) = (equal_share(env), env.edge_context());
        let mut d = Decision { v: vec![0; n], p: vec![sc.l; n], p2: vec![sc.l; n], wb: vec![1.0; n], wc: vec![1.0; n] };
        for k in 0..n {
            (d.v[k], d.p[k], d.p2[k]) = greedy.choice(env, k, share, &edge);
        }
        let mut slot = self.slot(env, &d);
        slot.freeze = freeze;
        let mut best = slot.objective(&d);
        slot.floor = best.utility;
        let slot = slot;
        let tasked: Vec<usize> = (0..n).filter(|&k| slot.ctx[k].task != TASK_NONE).collect();

        for _ in 0..self.rounds {
            // 1. Shares for the current decisions.
            let mut improved = slot.share_round(&mut d, &mut best, self.solver_steps);
            // 2. Each device's (version, cut) with the weights fixed.
            for &k in &tasked {
                improved |= slot.improve_device(&mut d, k, &mut best);
            }
            if !improved {
                break;
            }
        }
        (d, best)
    }
}

impl Optimizer {
    /// The restrictions every search runs under, keeping the best result. The search is local, so a wider
    /// search space does not always end higher. Searching again with each share dimension held equal and
    /// keeping the best makes freedom never hurt: the result is at least as good (in the search objective)
    /// as the optimizer with any of its shares frozen.
    fn variants(&self) -> Vec<Freeze> {
        let f = self.freeze;
        let mut variants = vec![f];
        for extra in [Freeze { compute: true, ..f }, Freeze { bandwidth: true, ..f }, Freeze { bandwidth: true, compute: true, ..f }] {
            if !variants.contains(&extra) {
                variants.push(extra);
            }
        }
        variants
    }

    /// The best of `search` over [`Optimizer::variants`].
    fn best_of(&self, search: impl Fn(Freeze) -> (Decision, Score)) -> Decision {
        let mut best: Option<(Decision, Score)> = None;
        for freeze in self.variants() {
            let (d, score) = search(freeze);
            if best.as_ref().is_none_or(|(_, b)| score.search > b.search + 1e-12) {
                best = Some((d, score));
            }
        }
        best.expect("at least one search ran").0
    }

    /// The share step of [`Optimizer::search`] alone, for a decision made elsewhere: from equal weights,
    /// the KKT shares and the single-weight refinement, alternated up to `rounds` times on the same search
    /// objective. There is no greedy floor: the decision is given, so only its shares are searched.
    fn share_search(&self, env: &Env, decision: &Decision, freeze: Freeze) -> (Decision, Score) {
        let mut d = decision.clone();
        d.wb.fill(1.0);
        d.wc.fill(1.0);
        let mut slot = self.slot(env, &d);
        slot.freeze = freeze;
        let slot = slot;
        let mut best = slot.objective(&d);
        for _ in 0..self.rounds {
            if !slot.share_round(&mut d, &mut best, self.solver_steps) {
                break;
            }
        }
        (d, best)
    }
}

/// The optimizer's share step for decisions made elsewhere (a learning agent's (version, cut), say).
///
/// As a [`Policy`] it reads each device's version, cut and (with the cloud tier) second cut from the
/// action it is handed and overwrites only the bandwidth and compute weights, with the weights the
/// optimizer's share step finds for exactly that decision. Check the decisions before
/// ([`crate::action::validate_action`]): an index out of range is clamped into it here, never trusted.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShareStep(pub Optimizer);

impl Policy for ShareStep {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let index = |x: i64, top: usize| (x.max(0) as usize).min(top);
        let v: Vec<usize> = out.version.iter().map(|&x| index(x, sc.m - 1)).collect();
        let p: Vec<usize> = out.partition.iter().map(|&x| index(x, sc.l)).collect();
        // The effective second cut is never before the first; without the cloud tier it is L.
        let p2: Vec<usize> = if sc.cloud { out.cloud_partition.iter().zip(&p).map(|(&x, &p)| index(x, sc.l).max(p)).collect() } else { vec![sc.l; sc.n] };
        let given = Decision { v, p, p2, wb: vec![1.0; sc.n], wc: vec![1.0; sc.n] };
        let d = self.0.best_of(|freeze| self.0.share_search(env, &given, freeze));
        out.bandwidth.copy_from_slice(&d.wb);
        out.compute.copy_from_slice(&d.wc);
    }
}

impl Policy for Optimizer {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let d = self.best_of(|freeze| self.search(env, freeze));
        for k in 0..env.scenario().n {
            out.version[k] = d.v[k] as i64;
            out.partition[k] = d.p[k] as i64;
            out.bandwidth[k] = d.wb[k];
            out.compute[k] = d.wc[k];
            out.cloud_partition[k] = d.p2[k] as i64;
        }
    }
}

/// Root of a decreasing function on `[lo, hi]` by the Illinois variant of regula falsi (superlinear, and
/// never leaves the bracket); returns the nearer end when the sign does not change.
fn root_decreasing(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64, max_steps: usize) -> f64 {
    let (mut f_lo, mut f_hi) = (f(lo), f(hi));
    // NaN counts as "no sign change": fall back to the nearer end.
    if f_lo.is_nan() || f_lo <= 0.0 {
        return lo;
    }
    if f_hi.is_nan() || f_hi >= 0.0 {
        return hi;
    }
    let mut side = 0i8;
    for _ in 0..max_steps {
        let x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
        let fx = f(x);
        if !fx.is_finite() || fx.abs() < 1e-10 || (hi - lo).abs() < 1e-12 {
            return if fx.is_finite() { x } else { 0.5 * (lo + hi) };
        }
        if fx > 0.0 {
            lo = x;
            f_lo = fx;
            if side == 1 {
                f_hi *= 0.5;
            }
            side = 1;
        } else {
            hi = x;
            f_hi = fx;
            if side == -1 {
                f_lo *= 0.5;
            }
            side = -1;
        }
    }
    (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
}

#[cfg(test)]
mod tests {
    use super::root_decreasing;

    #[test]
    fn illinois_finds_roots_of_decreasing_functions() {
        let r = root_decreasing(|x| 2.0 - x * x * x, 0.0, 5.0, 60);
        assert!((r - 2f64.cbrt()).abs() < 1e-9);
        let r = root_decreasing(|x| (-x).exp() - 0.5, -3.0, 10.0, 60);
        assert!((r - 2f64.ln()).abs() < 1e-9);
        assert_eq!(root_decreasing(|x| -1.0 - x, 0.0, 1.0, 10), 0.0);
        assert_eq!(root_decreasing(|x| 5.0 - x, 0.0, 1.0, 10), 1.0);
    }
}
