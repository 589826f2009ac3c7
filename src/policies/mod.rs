//! Baseline policies that decide from the true state (SPEC section 7): random, device-only, edge-only,
//! Neurosurgeon-style, per-device greedy and the slot-wise optimizer.
//!
//! A policy decides for one environment at a time ([`Policy::act_env`]); [`VecEnv::act`] runs it over a
//! whole batch in parallel. Every policy is deterministic: the same state (and seed) gives the same action.

mod optimizer;

use rand::{RngExt, SeedableRng};

use crate::env::{Env, EnvRng};
use crate::scenario::Scenario;
use crate::slot::DeviceContext;
use crate::vec_env::VecEnv;

pub use optimizer::Optimizer;

/// One environment's action, written by a policy (slices of length N).
pub struct ActionMut<'a> {
    /// Version index per device.
    pub version: &'a mut [i64],
    /// Cut point per device.
    pub partition: &'a mut [i64],
    /// Bandwidth weight per device.
    pub bandwidth: &'a mut [f64],
    /// Edge compute weight per device.
    pub compute: &'a mut [f64],
}

/// A decision rule over the true state of one environment.
pub trait Policy: Send + Sync {
    /// Writes the action of environment `env_index` in state `env`.
    fn act_env(&self, env_index: usize, env: &Env, out: ActionMut<'_>);
}

/// Names of the built-in policies accepted by [`by_name`].
pub const POLICY_NAMES: [&str; 6] = ["random", "device_only", "edge_only", "neurosurgeon", "greedy", "optimizer"];

/// A built-in policy by name. `version` is the fixed version index of `device_only` / `edge_only`
/// (default: the most accurate deployed version); `seed` drives `random`.
pub fn by_name(name: &str, sc: &Scenario, version: Option<usize>, seed: u64) -> Result<Box<dyn Policy>, String> {
    if let Some(v) = version {
        if v >= sc.m {
            return Err(format!("version must be in 0..{}, got {v}", sc.m));
        }
    }
    let fixed = version.unwrap_or_else(|| most_accurate(sc));
    Ok(match name {
        "random" => Box::new(RandomPolicy { seed }),
        "device_only" => Box::new(DeviceOnly { version: fixed }),
        "edge_only" => Box::new(EdgeOnly { version: fixed }),
        "neurosurgeon" => Box::new(Neurosurgeon),
        "greedy" => Box::new(Greedy),
        "optimizer" => Box::new(Optimizer::default()),
        other => return Err(format!("unknown policy {other:?}; built-in policies: {POLICY_NAMES:?}")),
    })
}

/// Index of the most accurate deployed version (the first one on ties).
pub fn most_accurate(sc: &Scenario) -> usize {
    (0..sc.m).fold(0, |best, v| if sc.accuracy[v] > sc.accuracy[best] { v } else { best })
}

/// Number of devices holding a task.
fn tasks_waiting(env: &Env) -> usize {
    env.devices().iter().filter(|d| d.task != 0).count()
}

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
        fill(out, sc.n, |_| (self.version, sc.l));
    }
}

/// Everything on the edge (p = 0, the raw input uploaded) with one fixed version and equal shares.
pub struct EdgeOnly {
    /// Version index.
    pub version: usize,
}

impl Policy for EdgeOnly {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        fill(out, env.scenario().n, |_| (self.version, 0));
    }
}

/// Writes per-device (version, cut) from `choose` and equal weights.
fn fill(out: ActionMut<'_>, n: usize, mut choose: impl FnMut(usize) -> (usize, usize)) {
    for k in 0..n {
        let (v, p) = choose(k);
        out.version[k] = v as i64;
        out.partition[k] = p as i64;
        out.bandwidth[k] = 1.0;
        out.compute[k] = 1.0;
    }
}

/// The share a device expects when every device with a task offloads with equal weights.
fn equal_share(env: &Env) -> f64 {
    1.0 / tasks_waiting(env).max(1) as f64
}

/// Best (version, cut) for one device by `score` (higher is better) over the given versions, assuming
/// the bandwidth and compute share `share`.
fn best_cut(sc: &Scenario, ctx: &DeviceContext, f_edge: f64, share: f64, versions: impl Iterator<Item = usize>, score: impl Fn(usize, f64, f64) -> f64) -> (usize, usize) {
    let mut best = (0, sc.l);
    let mut best_score = f64::NEG_INFINITY;
    for v in versions {
        for p in 0..=sc.l {
            let o = sc.device_outcome(ctx, f_edge, v, p, share, share);
            let s = score(v, o.total, o.utility);
            if s > best_score {
                best_score = s;
                best = (v, p);
            }
        }
    }
    best
}

/// Neurosurgeon-style: the most accurate version, each device's latency-optimal cut assuming an equal
/// share of bandwidth and edge compute, equal weights.
pub struct Neurosurgeon;

impl Policy for Neurosurgeon {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let (v, share, f_edge) = (most_accurate(sc), equal_share(env), env.edge_flops());
        fill(out, sc.n, |k| {
            let ctx = env.device_context(k);
            if ctx.task == 0 {
                return (v, sc.l);
            }
            best_cut(sc, &ctx, f_edge, share, std::iter::once(v), |_, latency, _| -latency)
        });
    }
}

/// Per-device greedy: each device's best own utility over every (version, cut), assuming an equal share;
/// equal weights.
pub struct Greedy;

impl Greedy {
    /// The greedy (version, cut) of device k (devices without a task get the most accurate version, p = L).
    pub fn choice(env: &Env, k: usize, share: f64, f_edge: f64) -> (usize, usize) {
        let sc = env.scenario();
        let ctx = env.device_context(k);
        if ctx.task == 0 {
            return (most_accurate(sc), sc.l);
        }
        best_cut(sc, &ctx, f_edge, share, 0..sc.m, |_, _, utility| utility)
    }
}

impl Policy for Greedy {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let (share, f_edge) = (equal_share(env), env.edge_flops());
        fill(out, env.scenario().n, |k| Greedy::choice(env, k, share, f_edge));
    }
}

/// Caller-owned action buffers of a whole batch, env-major `[B * N]`.
pub struct ActionBuffers<'a> {
    /// Version indices.
    pub version: &'a mut [i64],
    /// Cut points.
    pub partition: &'a mut [i64],
    /// Bandwidth weights.
    pub bandwidth: &'a mut [f64],
    /// Compute weights.
    pub compute: &'a mut [f64],
}

impl VecEnv {
    /// Runs `policy` on every environment's current state, writing the batch's action into `out`.
    pub fn act(&mut self, policy: &dyn Policy, out: ActionBuffers<'_>) {
        let n = self.scenario().n;
        let len = self.num_envs() * n;
        assert!(out.version.len() == len && out.partition.len() == len && out.bandwidth.len() == len && out.compute.len() == len, "action buffers must hold num_envs x num_devices entries");
        self.for_each_env(
            (out.version, out.partition, out.bandwidth, out.compute),
            n,
            &|i, env, (version, partition, bandwidth, compute)| policy.act_env(i, env, ActionMut { version, partition, bandwidth, compute }),
        );
    }
}
