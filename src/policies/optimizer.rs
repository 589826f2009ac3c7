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

use super::{equal_share, ActionMut, Greedy, Policy};
use crate::env::Env;
use crate::scenario::Scenario;
use crate::slot::DeviceContext;

/// The slot-wise optimizer. Deterministic.
#[derive(Clone, Copy, Debug)]
pub struct Optimizer {
    /// Maximum alternations of the share and decision steps (stops early when nothing improves).
    pub rounds: usize,
    /// Iteration cap of the outer (lambda) and inner (share) root searches.
    pub solver_steps: usize,
}

impl Default for Optimizer {
    fn default() -> Self {
        Self { rounds: 3, solver_steps: 24 }
    }
}

/// A decision's value: the slot's true summed utility and the search objective (utility minus backlog cost).
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

/// One environment's slot as the optimizer sees it.
struct Slot<'a> {
    sc: &'a Scenario,
    ctx: Vec<DeviceContext>,
    f_edge: f64,
    eps: f64,
    /// Cost per second of backlog left for the next slot.
    backlog_cost: f64,
    /// The slot utility of the greedy start: no accepted change may go below it.
    floor: f64,
}

impl Slot<'_> {
    /// Whether `cand` is an acceptable improvement over `best`.
    fn better(&self, cand: Score, best: Score) -> bool {
        cand.search > best.search + 1e-12 && cand.utility >= self.floor - 1e-12
    }

    /// Score of device k's task for one decision.
    fn device_score(&self, k: usize, v: usize, p: usize, b: f64, c: f64) -> Score {
        let o = self.sc.device_outcome(&self.ctx[k], self.f_edge, v, p, b, c);
        let queued = (self.ctx[k].backlog_s + o.latency.local + o.latency.tx - self.sc.config.time.slot_s).max(0.0);
        Score { utility: o.utility, search: o.utility - self.backlog_cost * queued }
    }

    /// The score of the slot for a decision, normalising weights as the environment does.
    fn objective(&self, v: &[usize], p: &[usize], wb: &[f64], wc: &[f64]) -> Score {
        let l = self.sc.l;
        let (mut sb, mut scpu) = (0.0, 0.0);
        for k in 0..self.ctx.len() {
            if self.ctx[k].task != 0 && p[k] < l {
                sb += wb[k].max(self.eps);
                scpu += wc[k].max(self.eps);
            }
        }
        let mut total = ZERO;
        for k in 0..self.ctx.len() {
            if self.ctx[k].task == 0 {
                continue;
            }
            let (b, c) = if p[k] < l { (wb[k].max(self.eps) / sb, wc[k].max(self.eps) / scpu) } else { (0.0, 0.0) };
            total = total + self.device_score(k, v[k], p[k], b, c);
        }
        total
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
    /// (shares) into `wb` / `wc` for them and leaves the others alone.
    fn solve_shares(&self, v: &[usize], p: &[usize], wb: &mut [f64], wc: &mut [f64], steps: usize) {
        let sc = self.sc;
        let (l, n) = (sc.l, self.ctx.len());
        let radio = &sc.config.radio;
        let snr_scale = radio.tx_power_w / (radio.bandwidth_hz * sc.n0);
        let offloading: Vec<usize> = (0..n).filter(|&k| self.ctx[k].task != 0 && p[k] < l).collect();
        if offloading.is_empty() {
            return;
        }
        // Compute: c ~ sqrt(alpha E).
        let root: Vec<f64> = offloading.iter().map(|&k| (self.alpha(k) * (sc.flops_until(v[k], l) - sc.flops_until(v[k], p[k]))).max(0.0).sqrt()).collect();
        let sum: f64 = root.iter().sum();
        for (j, &k) in offloading.iter().enumerate() {
            wc[k] = if sum > 0.0 { root[j] / sum } else { 1.0 / offloading.len() as f64 };
        }
        // Bandwidth: devices that upload something share by KKT; the others keep the floor.
        let uploads: Vec<(usize, f64, f64)> = offloading
            .iter()
            .filter_map(|&k| {
                let bytes = sc.bytes_at(v[k], p[k]);
                (bytes > 0.0).then(|| (k, self.alpha(k) * 8.0 * bytes, snr_scale * self.ctx[k].gain))
            })
            .collect();
        for &k in &offloading {
            wb[k] = 0.0;
        }
        if uploads.is_empty() {
            for &k in &offloading {
                wb[k] = 1.0;
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
                wb[k] = equal;
            }
            return;
        }
        let excess = |x: f64| uploads.iter().map(|&(_, a, s)| share_at(a, s, x.exp())).sum::<f64>() - 1.0;
        let log_lambda = root_decreasing(excess, lo, hi, steps);
        let lambda = log_lambda.exp();
        let shares: Vec<f64> = uploads.iter().map(|&(_, a, s)| share_at(a, s, lambda)).collect();
        let total: f64 = shares.iter().sum();
        for (j, &(k, _, _)) in uploads.iter().enumerate() {
            wb[k] = shares[j] / total;
        }
    }
}

impl Policy for Optimizer {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let (n, l, m) = (sc.n, sc.l, sc.m);
        let f_edge = env.edge_flops();
        let t = &sc.config.tasks;
        let weight = |i: usize| (1.0 - sc.prefs[i].weight) / sc.prefs[i].deadline_s;
        let backlog_cost = t.arrival_prob * (t.as_ratio * weight(1) + (1.0 - t.as_ratio) * weight(2));
        let mut slot = Slot { sc, ctx: (0..n).map(|k| env.device_context(k)).collect(), f_edge, eps: sc.config.action.min_share_weight, backlog_cost, floor: f64::NEG_INFINITY };
        let share = equal_share(env);
        let (mut v, mut p) = (vec![0usize; n], vec![l; n]);
        for k in 0..n {
            (v[k], p[k]) = Greedy::choice(env, k, share, f_edge);
        }
        let (mut wb, mut wc) = (vec![1.0; n], vec![1.0; n]);
        let mut best = slot.objective(&v, &p, &wb, &wc);
        slot.floor = best.utility;
        let slot = slot;
        let tasked: Vec<usize> = (0..n).filter(|&k| slot.ctx[k].task != 0).collect();

        for _ in 0..self.rounds {
            let mut improved = false;

            // 1. Shares for the current decisions.
            let (mut nb, mut nc) = (wb.clone(), wc.clone());
            slot.solve_shares(&v, &p, &mut nb, &mut nc, self.solver_steps);
            let value = slot.objective(&v, &p, &nb, &nc);
            if slot.better(value, best) {
                (best, wb, wc) = (value, nb, nc);
                improved = true;
            }

            // 2. Each device's (version, cut) with the weights fixed.
            for &k in &tasked {
                let (sb, scpu) = weight_sums(&slot, &p, &wb, &wc, l);
                let (b_k, c_k) = if p[k] < l { (wb[k].max(slot.eps) / sb, wc[k].max(slot.eps) / scpu) } else { (0.0, 0.0) };
                let own = slot.device_score(k, v[k], p[k], b_k, c_k);
                let (mut best_choice, mut best_value) = ((v[k], p[k]), best);
                for cv in 0..m {
                    for cp in 0..=l {
                        if (cv, cp) == (v[k], p[k]) {
                            continue;
                        }
                        let value = if (cp < l) == (p[k] < l) {
                            // The set of offloading devices is unchanged: only device k's term moves.
                            let (b, c) = if cp < l { (b_k, c_k) } else { (0.0, 0.0) };
                            best - own + slot.device_score(k, cv, cp, b, c)
                        } else {
                            let (ov, op, ob, oc) = (v[k], p[k], wb[k], wc[k]);
                            (v[k], p[k]) = (cv, cp);
                            if cp < l {
                                // A device joining the offloaders starts from the average weight.
                                (wb[k], wc[k]) = (average_weight(&slot, &p, &wb, l, k), average_weight(&slot, &p, &wc, l, k));
                            }
                            let value = slot.objective(&v, &p, &wb, &wc);
                            (v[k], p[k], wb[k], wc[k]) = (ov, op, ob, oc);
                            value
                        };
                        if slot.better(value, best_value) {
                            (best_choice, best_value) = ((cv, cp), value);
                        }
                    }
                }
                if best_choice != (v[k], p[k]) {
                    let joins = best_choice.1 < l && p[k] >= l;
                    (v[k], p[k]) = best_choice;
                    if joins {
                        (wb[k], wc[k]) = (average_weight(&slot, &p, &wb, l, k), average_weight(&slot, &p, &wc, l, k));
                    }
                    // Re-evaluate exactly rather than trusting the incremental value.
                    best = slot.objective(&v, &p, &wb, &wc);
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
        for k in 0..n {
            out.version[k] = v[k] as i64;
            out.partition[k] = p[k] as i64;
            out.bandwidth[k] = wb[k];
            out.compute[k] = wc[k];
        }
    }
}

fn weight_sums(slot: &Slot<'_>, p: &[usize], wb: &[f64], wc: &[f64], l: usize) -> (f64, f64) {
    let (mut sb, mut sc) = (0.0, 0.0);
    for k in 0..p.len() {
        if slot.ctx[k].task != 0 && p[k] < l {
            sb += wb[k].max(slot.eps);
            sc += wc[k].max(slot.eps);
        }
    }
    (sb, sc)
}

/// Mean weight of the offloading devices other than `skip` (1 when there are none).
fn average_weight(slot: &Slot<'_>, p: &[usize], w: &[f64], l: usize, skip: usize) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for k in 0..p.len() {
        if k != skip && slot.ctx[k].task != 0 && p[k] < l {
            sum += w[k].max(slot.eps);
            count += 1;
        }
    }
    if count == 0 {
        1.0
    } else {
        sum / count as f64
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
