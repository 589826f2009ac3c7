//! Baseline policies that decide from the true state (SPEC section 7): random, device-only, edge-only,
//! Neurosurgeon-style, per-device greedy, the non-adaptive `static` table and the slot-wise optimizer.
//!
//! A policy decides for one environment at a time ([`Policy::act_env`]); [`VecEnv::act`] runs it over a
//! whole batch in parallel. Every policy is deterministic: the same state (and seed) gives the same action.
//! Greedy and the optimizer also come in restricted variants ([`Freeze`]) for the decision ablation.
//! [`ShareStep`] is the optimizer's share step alone: the weights for (version, cut) decisions made
//! elsewhere, such as a learning agent's.

mod heuristics;
mod optimizer;
pub mod static_table;

use crate::action::ActionsMut;
use crate::env::Env;
use crate::error::PolicyError;
use crate::scenario::Scenario;
use crate::sim::tasks;
use crate::vec_env::VecEnv;

pub use heuristics::{CloudOnly, DeviceOnly, EdgeOnly, Greedy, Neurosurgeon, RandomPolicy};
pub use optimizer::{Optimizer, ShareStep};
pub use static_table::{StaticSearch, StaticTable};

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
    /// Second cut per device (read only with the cloud tier; L, no cloud, from every policy without it).
    pub cloud_partition: &'a mut [i64],
}

/// A decision rule over the true state of one environment.
pub trait Policy: Send + Sync {
    /// Writes the action of environment `env_index` in state `env`.
    fn act_env(&self, env_index: usize, env: &Env, out: ActionMut<'_>);
}

/// Names of the built-in policies accepted by [`by_name`].
pub const POLICY_NAMES: [&str; 8] = ["random", "device_only", "edge_only", "cloud_only", "neurosurgeon", "greedy", "static", "optimizer"];

/// Names of the decision dimensions a [`Freeze`] can fix, in the order of SPEC section 7.
pub const FREEZE_DIMENSIONS: [&str; 4] = ["version", "cut", "bandwidth", "compute"];

/// The fifth decision dimension of the cloud tier: the second cut, frozen at L (no cloud).
pub const CLOUD_DIMENSION: &str = "cloud";

/// Decisions a policy may not vary (SPEC section 7's decision ablation). The default freezes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freeze {
    /// One fixed version per task type, `[AS, LS]`; `None` leaves the version free.
    pub version: Option<[usize; 2]>,
    /// Cuts restricted to {0, L} (everything on the edge or everything on the device).
    pub cut: bool,
    /// Equal bandwidth shares among the offloading devices.
    pub bandwidth: bool,
    /// Equal edge compute shares among the offloading devices.
    pub compute: bool,
    /// The second cut held at L: nothing runs in the cloud (a no-op without the cloud tier).
    pub cloud: bool,
}

impl Freeze {
    /// Freezes one dimension by name (one of [`FREEZE_DIMENSIONS`]); `versions` is the fixed `[AS, LS]`
    /// version of a frozen `version`.
    pub fn dimension(name: &str, versions: [usize; 2]) -> Result<Self, PolicyError> {
        let mut f = Freeze::default();
        match name {
            "version" => f.version = Some(versions),
            "cut" => f.cut = true,
            "bandwidth" => f.bandwidth = true,
            "compute" => f.compute = true,
            CLOUD_DIMENSION => f.cloud = true,
            other => return Err(PolicyError::new("freeze", format!("unknown decision dimension {other:?}; one of {FREEZE_DIMENSIONS:?} or {CLOUD_DIMENSION:?}"))),
        }
        Ok(f)
    }

    /// Whether anything is frozen.
    pub fn any(&self) -> bool {
        self.version.is_some() || self.cut || self.bandwidth || self.compute || self.cloud
    }

    /// The (version, cut, second cut) triples a device with task `task` may choose, version-major. The
    /// second cut is the effective one, `p2' >= p1`: every `p2'` in p1..=L with the cloud tier (p1 < L), L
    /// alone without it, when the cloud is frozen, or when p1 = L.
    pub fn choices(&self, sc: &Scenario, task: u8) -> impl Iterator<Item = (usize, usize, usize)> + Clone {
        let versions = match self.version {
            Some(fixed) if task != tasks::TASK_NONE => fixed[task as usize - 1]..fixed[task as usize - 1] + 1,
            _ => 0..sc.m,
        };
        let (l, cut, cloud) = (sc.l, self.cut, sc.cloud && !self.cloud);
        versions.flat_map(move |v| {
            (0..=l).filter(move |&p| !cut || p == 0 || p == l).flat_map(move |p| (if cloud && p < l { p } else { l }..=l).map(move |p2| (v, p, p2)))
        })
    }

    fn check(&self, sc: &Scenario) -> Result<(), PolicyError> {
        if let Some(vs) = self.version {
            if let Some(&v) = vs.iter().find(|&&v| v >= sc.m) {
                return Err(PolicyError::new("freeze.version", format!("must be in 0..{}, got {v}", sc.m)));
            }
        }
        Ok(())
    }
}

/// How to build a built-in policy with [`by_name`].
#[derive(Clone, Debug, Default)]
pub struct PolicyOptions {
    /// The fixed version index of `device_only` / `edge_only` (default: the most accurate deployed one).
    pub version: Option<usize>,
    /// Seed of `random`'s draws.
    pub seed: u64,
    /// Restriction of `greedy` / `optimizer` (the decision ablation); other policies reject one.
    pub freeze: Freeze,
    /// The table of `static` (default: searched now with [`StaticTable::search`], which takes seconds).
    pub table: Option<StaticTable>,
}

/// A built-in policy by name (one of [`POLICY_NAMES`]).
pub fn by_name(name: &str, sc: &Scenario, opts: &PolicyOptions) -> Result<Box<dyn Policy>, PolicyError> {
    if let Some(v) = opts.version {
        if v >= sc.m {
            return Err(PolicyError::new("version", format!("must be in 0..{}, got {v}", sc.m)));
        }
    }
    opts.freeze.check(sc)?;
    if opts.freeze.any() && !matches!(name, "greedy" | "optimizer") {
        return Err(PolicyError::new("freeze", format!("only greedy and optimizer have restricted variants, not {name:?}")));
    }
    let fixed = opts.version.unwrap_or_else(|| most_accurate(sc));
    Ok(match name {
        "random" => Box::new(RandomPolicy { seed: opts.seed }),
        "device_only" => Box::new(DeviceOnly { version: fixed }),
        "edge_only" => Box::new(EdgeOnly { version: fixed }),
        "cloud_only" => {
            if !sc.cloud {
                return Err(PolicyError::new("name", "cloud_only needs the cloud tier (MCIA-Cloud-v0, or cloud.enabled = true)"));
            }
            Box::new(CloudOnly { version: fixed })
        }
        "neurosurgeon" => Box::new(Neurosurgeon),
        "greedy" => Box::new(Greedy { freeze: opts.freeze }),
        "optimizer" => Box::new(Optimizer { freeze: opts.freeze, ..Optimizer::default() }),
        "static" => {
            let table = match &opts.table {
                Some(t) => {
                    t.check(sc)?;
                    t.clone()
                }
                None => StaticTable::search(sc, &static_table::SearchOptions::default()).table,
            };
            Box::new(table)
        }
        other => return Err(PolicyError::new("name", format!("unknown policy {other:?}; built-in policies: {POLICY_NAMES:?}"))),
    })
}

/// Index of the most accurate deployed version (the first one on ties).
pub fn most_accurate(sc: &Scenario) -> usize {
    (0..sc.m).fold(0, |best, v| if sc.accuracy[v] > sc.accuracy[best] { v } else { best })
}

impl VecEnv {
    /// Runs `policy` on every environment's current state, writing the batch's action into `out`
    /// (`(B, N)` each, C-contiguous: an [`crate::ActionsBuf`]'s `view_mut()`, say).
    pub fn act(&mut self, policy: &dyn Policy, out: ActionsMut<'_>) -> Result<(), PolicyError> {
        let (b, n) = (self.num_envs(), self.scenario().n);
        for (field, dim, contiguous) in [
            ("version", out.version.dim(), out.version.is_standard_layout()),
            ("partition", out.partition.dim(), out.partition.is_standard_layout()),
            ("bandwidth", out.bandwidth.dim(), out.bandwidth.is_standard_layout()),
            ("compute", out.compute.dim(), out.compute.is_standard_layout()),
            ("cloud_partition", out.cloud_partition.dim(), out.cloud_partition.is_standard_layout()),
        ] {
            if dim != (b, n) || !contiguous {
                return Err(PolicyError::new(field, format!("buffer must be a C-contiguous ({b}, {n}) array, got {dim:?}")));
            }
        }
        self.for_each_env(out, &|i, env, (version, partition, bandwidth, compute, cloud_partition)| policy.act_env(i, env, ActionMut { version, partition, bandwidth, compute, cloud_partition }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn freeze_restricts_the_choices() {
        let sc = Scenario::new(&Config::default()).unwrap();
        let all: Vec<_> = Freeze::default().choices(&sc, 1).collect();
        assert_eq!(all.len(), sc.m * (sc.l + 1));
        assert!(all.iter().all(|&(_, _, p2)| p2 == sc.l));
        let cut = Freeze { cut: true, ..Freeze::default() };
        assert!(cut.choices(&sc, 2).all(|(_, p, _)| p == 0 || p == sc.l));
        assert_eq!(cut.choices(&sc, 2).count(), 2 * sc.m);
        let ver = Freeze::dimension("version", [0, 3]).unwrap();
        assert!(ver.choices(&sc, 1).all(|(v, _, _)| v == 0));
        assert!(ver.choices(&sc, 2).all(|(v, _, _)| v == 3));
        // With the cloud tier every second cut from p1 to L; frozen, L alone.
        let mut cfg = Config::default();
        cfg.cloud.enabled = true;
        let cloud = Scenario::new(&cfg).unwrap();
        let l = cloud.l;
        assert_eq!(Freeze::default().choices(&cloud, 1).count(), cloud.m * ((l + 1) * (l + 2) / 2));
        assert!(Freeze::default().choices(&cloud, 1).all(|(_, p, p2)| p2 >= p && (p < l || p2 == l)));
        let frozen = Freeze::dimension("cloud", [0, 0]).unwrap();
        assert_eq!(frozen.choices(&cloud, 1).count(), cloud.m * (l + 1));
        assert!(Freeze::dimension("colour", [0, 0]).is_err());
        assert!(by_name("random", &sc, &PolicyOptions { freeze: cut, ..Default::default() }).is_err());
        assert!(by_name("greedy", &sc, &PolicyOptions { freeze: Freeze { version: Some([0, 9]), ..Freeze::default() }, ..Default::default() }).is_err());
    }
}
