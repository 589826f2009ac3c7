//! The heuristic baselines: random, device-only, edge-only, cloud-only, Neurosurgeon-style and per-device
//! greedy. With the cloud tier, Neurosurgeon and greedy choose the second cut jointly with the first.

use rand::{RngExt, SeedableRng};

use super::{most_accurate, ActionMut, Freeze, Policy};
use crate::env::{Env, EnvRng};
use crate::scenario::Scenario;
use crate::sim::tasks::TASK_NONE;
use crate::slot::{CloudContext, Decision, DeviceContext, DeviceOutcome, EdgeContext};

/// Uniformly random version, cut and weights. The draws depend only on (seed, environment index, slot,
/// state), so the policy needs no mutable state and is reproducible across thread counts.
pub struct RandomPolicy {
    /// Seed of the policy's draws.
    pub seed: u64,
}

impl Policy for RandomPolicy {
    fn act_env(&self, env_index: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let d0 = env.devices().first().map_or(0, |d| d.distance_m.to_bits());
        let key = self.seed ^ (env_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (env.t() as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ d0;
        let mut rng = EnvRng::seed_from_u64(key);
        for k in 0..sc.n {
            out.version[k] = rng.random_range(0..sc.m as i64);
            out.partition[k] = rng.random_range(0..=sc.l as i64);
            out.bandwidth[k] = rng.random();
            out.compute[k] = rng.random();
            // Drawn last, and only with the cloud tier, so that MCIA-v0's random actions are unchanged.
            out.cloud_partition[k] = if sc.cloud { rng.random_range(0..=sc.l as i64) } else { sc.l as i64 };
        }
    }
}

/// Everything on the device (p = L) with one fixed version.
pub struct DeviceOnly {
    /// Version index.
    pub version: usize,
}

impl Policy for DeviceOnly {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        fill(out, sc.n, |_| (self.version, sc.l, sc.l));
    }
}

/// Everything on the edge (p = 0, the raw input uploaded) with one fixed version and equal shares.
pub struct EdgeOnly {
    /// Version index.
    pub version: usize,
}

impl Policy for EdgeOnly {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let l = env.scenario().l;
        fill(out, env.scenario().n, |_| (self.version, 0, l));
    }
}

/// Everything in the cloud (p1 = p2 = 0: the raw input goes up the uplink and on over the WAN) with one
/// fixed version and equal shares. Only with the cloud tier.
pub struct CloudOnly {
    /// Version index.
    pub version: usize,
}

impl Policy for CloudOnly {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        fill(out, env.scenario().n, |_| (self.version, 0, 0));
    }
}

/// Writes per-device (version, cut, second cut) from `choose` and equal weights.
pub(super) fn fill(out: ActionMut<'_>, n: usize, mut choose: impl FnMut(usize) -> (usize, usize, usize)) {
    for k in 0..n {
        let (v, p, p2) = choose(k);
        out.version[k] = v as i64;
        out.partition[k] = p as i64;
        out.bandwidth[k] = 1.0;
        out.compute[k] = 1.0;
        out.cloud_partition[k] = p2 as i64;
    }
}

/// The share a device expects when every device with a task offloads with equal weights.
pub(super) fn equal_share(env: &Env) -> f64 {
    1.0 / env.devices().iter().filter(|d| d.task != TASK_NONE).count().max(1) as f64
}

/// The outcome a device expects from (v, p1, p2) when every device with a task gets the equal `share` of
/// bandwidth and edge compute and, with the cloud tier, of the WAN.
pub(super) fn equal_share_outcome(sc: &Scenario, ctx: &DeviceContext, edge: &EdgeContext, share: f64, (v, p, p2): (usize, usize, usize)) -> DeviceOutcome {
    if sc.cloud {
        let cloud = CloudContext { wan_bps: edge.wan_bps, wan_users: (1.0 / share).round() };
        let rate = sc.uplink_rate(ctx, p < sc.l, share);
        sc.device_outcome_cloud(ctx, edge, &cloud, &Decision { v, p1: p, p2, b: share, c: share }, rate)
    } else {
        sc.device_outcome(ctx, edge, v, p, share, share)
    }
}

/// Best (version, cut, second cut) for one device by `score` (higher is better) over `choices`, assuming
/// equal shares `share`. The first best wins ties.
fn best_choice(sc: &Scenario, ctx: &DeviceContext, edge: &EdgeContext, share: f64, choices: impl Iterator<Item = (usize, usize, usize)>, score: impl Fn(f64, f64) -> f64) -> (usize, usize, usize) {
    let mut best = (0, sc.l, sc.l);
    let mut best_score = f64::NEG_INFINITY;
    for choice in choices {
        let o = equal_share_outcome(sc, ctx, edge, share, choice);
        let s = score(o.total, o.utility);
        if s > best_score {
            best_score = s;
            best = choice;
        }
    }
    best
}

/// Neurosurgeon-style: the most accurate version, each device's latency-optimal cut (and second cut, with
/// the cloud tier) assuming an equal share of bandwidth and edge compute, equal weights.
pub struct Neurosurgeon;

impl Policy for Neurosurgeon {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let (v, share, edge) = (most_accurate(sc), equal_share(env), env.edge_context());
        fill(out, sc.n, |k| {
            let ctx = env.device_context(k);
            if ctx.task == TASK_NONE {
                return (v, sc.l, sc.l);
            }
            let only_v = Freeze { version: Some([v, v]), ..Freeze::default() };
            best_choice(sc, &ctx, &edge, share, only_v.choices(sc, ctx.task), |latency, _| -latency)
        });
    }
}

/// Per-device greedy: each device's best own utility over every allowed (version, cut), assuming an equal
/// share; equal weights.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greedy {
    /// Decisions it may not vary (the decision ablation); shares are equal in any case.
    pub freeze: Freeze,
}

impl Greedy {
    /// The greedy (version, cut, second cut) of device k (devices without a task get the most accurate
    /// version, p = L).
    pub fn choice(&self, env: &Env, k: usize, share: f64, edge: &EdgeContext) -> (usize, usize, usize) {
        let sc = env.scenario();
        let ctx = env.device_context(k);
        if ctx.task == TASK_NONE {
            return (most_accurate(sc), sc.l, sc.l);
        }
        best_choice(sc, &ctx, edge, share, self.freeze.choices(sc, ctx.task), |_, utility| utility)
    }
}

impl Policy for Greedy {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let (share, edge) = (equal_share(env), env.edge_context());
        fill(out, env.scenario().n, |k| self.choice(env, k, share, &edge));
    }
}
