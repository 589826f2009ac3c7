//! The non-adaptive baseline `static` (SPEC section 7): one fixed (version, cut) per (task type, device)
//! and equal shares, whatever the channel, the loads and the backlogs.
//!
//! Its table is the best one coordinate ascent finds on the calibration episodes (seeds 1_000_000 on,
//! disjoint from the evaluation seeds): starting from the optimizer's most frequent choice per key, each
//! key in turn tries every (version, cut) and keeps the best mean return; passes repeat until one changes
//! nothing. The search is deterministic (every candidate is evaluated on its own, in parallel, and the first
//! best wins), so a scenario always gets the same table.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::heuristics::fill;
use super::{most_accurate, ActionMut, Optimizer, Policy};
use crate::action::ActionRef;
use crate::env::Env;
use crate::error::PolicyError;
use crate::scenario::Scenario;
use crate::sim::tasks::{TASK_AS, TASK_LS, TASK_NONE};

/// First seed of the calibration episodes (episode i runs on `CALIBRATION_SEED + i`).
pub const CALIBRATION_SEED: u64 = 1_000_000;

/// A fixed (version, cut) per task type and device, and with the cloud tier a fixed second cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticTable {
    /// `[version, cut]` of an accuracy-sensitive task on each device, `[N]`.
    pub accuracy_sensitive: Vec<[usize; 2]>,
    /// `[version, cut]` of a latency-sensitive task on each device, `[N]`.
    pub latency_sensitive: Vec<[usize; 2]>,
    /// The effective second cuts of a cloud-tier table (absent: L, no cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_partition: Option<SecondCuts>,
}

/// The second cuts of a static table, per task type and device (L: no cloud).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondCuts {
    /// Second cut of an accuracy-sensitive task on each device, `[N]`.
    pub accuracy_sensitive: Vec<usize>,
    /// Second cut of a latency-sensitive task on each device, `[N]`.
    pub latency_sensitive: Vec<usize>,
}

/// How [`StaticTable::search`] runs.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Calibration episodes per evaluated table (default 20).
    pub episodes: usize,
    /// Seed of the first calibration episode (default [`CALIBRATION_SEED`]).
    pub seed: u64,
    /// Cap on the coordinate-ascent passes (default 50; the search normally stops far earlier).
    pub max_passes: usize,
    /// Threads evaluating candidates (0: every core); the result does not depend on it.
    pub num_threads: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { episodes: 20, seed: CALIBRATION_SEED, max_passes: 50, num_threads: 0 }
    }
}

/// What [`StaticTable::search`] found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaticSearch {
    /// The best table.
    pub table: StaticTable,
    /// The starting table: the optimizer's most frequent choice per key.
    pub start: StaticTable,
    /// Mean calibration return of the starting table.
    pub start_return: f64,
    /// Mean calibration return of the best table.
    pub calibration_return: f64,
    /// Coordinate-ascent passes run (the last one changed nothing, unless `max_passes` stopped it).
    pub passes: usize,
    /// Tables evaluated.
    pub evaluations: usize,
    /// The table's most used version per task type, `[AS, LS]` (what the ablation freezes the version to).
    pub most_used_versions: [usize; 2],
    /// Calibration episodes per evaluation and the first seed.
    pub episodes: usize,
    /// Seed of the first calibration episode.
    pub seed: u64,
}

impl StaticTable {
    /// The entry of device k for task `task` (1 AS, 2 LS).
    #[inline]
    pub fn get(&self, task: u8, k: usize) -> [usize; 2] {
        if task == TASK_AS {
            self.accuracy_sensitive[k]
        } else {
            self.latency_sensitive[k]
        }
    }

    /// The (version, cut, second cut) of device k for task `task` (second cut `l` without one).
    #[inline]
    pub fn get3(&self, task: u8, k: usize, l: usize) -> (usize, usize, usize) {
        let [v, p] = self.get(task, k);
        let p2 = match &self.cloud_partition {
            Some(c) if task == TASK_AS => c.accuracy_sensitive[k],
            Some(c) => c.latency_sensitive[k],
            None => l,
        };
        (v, p, p2.max(p))
    }

    /// Sets the entry of device k for task `task`; a second cut other than `l` makes this a cloud table.
    fn set3(&mut self, task: u8, k: usize, (v, p, p2): (usize, usize, usize), l: usize) {
        let n = self.accuracy_sensitive.len();
        if task == TASK_AS {
            self.accuracy_sensitive[k] = [v, p];
        } else {
            self.latency_sensitive[k] = [v, p];
        }
        if p2 != l || self.cloud_partition.is_some() {
            let c = self.cloud_partition.get_or_insert_with(|| SecondCuts { accuracy_sensitive: vec![l; n], latency_sensitive: vec![l; n] });
            if task == TASK_AS {
                c.accuracy_sensitive[k] = p2;
            } else {
                c.latency_sensitive[k] = p2;
            }
        }
    }

    /// Checks that the table fits the scenario (N entries per type, versions and cuts in range).
    pub fn check(&self, sc: &Scenario) -> Result<(), PolicyError> {
        for (name, entries) in [("accuracy_sensitive", &self.accuracy_sensitive), ("latency_sensitive", &self.latency_sensitive)] {
            if entries.len() != sc.n {
                return Err(PolicyError::new(&format!("table.{name}"), format!("must have {} entries (one per device), got {}", sc.n, entries.len())));
            }
            for (k, &[v, p]) in entries.iter().enumerate() {
                if v >= sc.m || p > sc.l {
                    return Err(PolicyError::new(&format!("table.{name}[{k}]"), format!("must be [version < {}, cut <= {}], got [{v}, {p}]", sc.m, sc.l)));
                }
            }
        }
        if let Some(c) = &self.cloud_partition {
            if !sc.cloud {
                return Err(PolicyError::new("table.cloud_partition", "holds second cuts, but the scenario has no cloud tier"));
            }
            for (name, cuts) in [("accuracy_sensitive", &c.accuracy_sensitive), ("latency_sensitive", &c.latency_sensitive)] {
                if cuts.len() != sc.n {
                    return Err(PolicyError::new(&format!("table.cloud_partition.{name}"), format!("must have {} entries (one per device), got {}", sc.n, cuts.len())));
                }
                if let Some((k, p2)) = cuts.iter().enumerate().find(|(_, &p2)| p2 > sc.l) {
                    return Err(PolicyError::new(&format!("table.cloud_partition.{name}[{k}]"), format!("must be <= {}, got {p2}", sc.l)));
                }
            }
        }
        Ok(())
    }

    /// The most used version of each task type in the table, `[AS, LS]` (the lower index on ties): what the
    /// ablation's frozen version uses.
    pub fn most_used_versions(&self, m: usize) -> [usize; 2] {
        let most = |entries: &[[usize; 2]]| {
            let mut count = vec![0usize; m];
            entries.iter().for_each(|&[v, _]| count[v] += 1);
            (0..m).fold(0, |best, v| if count[v] > count[best] { v } else { best })
        };
        [most(&self.accuracy_sensitive), most(&self.latency_sensitive)]
    }

    /// Searches the best table for the scenario (module docs). Takes seconds: every pass evaluates
    /// `2 N M (L + 1)` tables on `opts.episodes` full episodes (`2 N M (L + 1)(L + 2) / 2` with the cloud
    /// tier, whose second cut is searched jointly).
    pub fn search(sc: &Scenario, opts: &SearchOptions) -> StaticSearch {
        let sc = Arc::new(sc.clone());
        let seeds = opts.seed..opts.seed + opts.episodes.max(1) as u64;
        let start = optimizer_modes(&sc, seeds.clone());
        let evaluate = |t: &StaticTable| mean_return(&sc, t, seeds.clone());
        let start_return = evaluate(&start);
        let (mut table, mut value, mut passes, mut evaluations) = (start.clone(), start_return, 0, 1);
        let keys: Vec<(u8, usize)> = [TASK_AS, TASK_LS].iter().flat_map(|&t| (0..sc.n).map(move |k| (t, k))).collect();
        let candidates: Vec<(usize, usize, usize)> = super::Freeze::default().choices(&sc, TASK_AS).collect();
        let l = sc.l;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.num_threads).build().ok();
        while passes < opts.max_passes {
            passes += 1;
            let mut changed = false;
            for &(task, k) in &keys {
                let current = table.get3(task, k, l);
                let score = |c: &(usize, usize, usize)| {
                    if *c == current {
                        return value;
                    }
                    let mut trial = table.clone();
                    trial.set3(task, k, *c, l);
                    evaluate(&trial)
                };
                let values: Vec<f64> = match &pool {
                    Some(pool) => pool.install(|| candidates.par_iter().map(score).collect()),
                    None => candidates.iter().map(score).collect(),
                };
                evaluations += candidates.len() - 1;
                // The first strictly better candidate in (version, cut) order wins ties.
                let (mut best, mut best_value) = (current, value);
                for (c, &v) in candidates.iter().zip(&values) {
                    if v > best_value + 1e-12 * best_value.abs().max(1.0) {
                        (best, best_value) = (*c, v);
                    }
                }
                if best != current {
                    table.set3(task, k, best, l);
                    value = best_value;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let most_used_versions = table.most_used_versions(sc.m);
        StaticSearch { table, start, start_return, calibration_return: value, passes, evaluations, most_used_versions, episodes: opts.episodes.max(1), seed: opts.seed }
    }
}

impl Policy for StaticTable {
    fn act_env(&self, _: usize, env: &Env, out: ActionMut<'_>) {
        let sc = env.scenario();
        let idle = most_accurate(sc);
        fill(out, sc.n, |k| match env.devices()[k].task {
            TASK_NONE => (idle, sc.l, sc.l),
            task => self.get3(task, k, sc.l),
        });
    }
}

/// Plays one full episode of `policy` on `seed` (as environment `seed` of a vector env seeded there) and
/// returns its return.
pub fn episode_return(sc: &Arc<Scenario>, policy: &dyn Policy, seed: u64) -> f64 {
    let n = sc.n;
    let mut env = Env::new(sc.clone(), seed);
    let mut obs = vec![0.0f32; sc.obs_dim()];
    env.reset(Some(seed), &mut obs, None).expect("buffers fit");
    let (mut v, mut p, mut b, mut c, mut p2) = (vec![0i64; n], vec![0i64; n], vec![0.0; n], vec![0.0; n], vec![0i64; n]);
    let mut total = 0.0;
    loop {
        policy.act_env(0, &env, ActionMut { version: &mut v, partition: &mut p, bandwidth: &mut b, compute: &mut c, cloud_partition: &mut p2 });
        let action = ActionRef { version: &v, partition: &p, bandwidth: &b, compute: &c, cloud_partition: &p2 };
        let out = env.step(&action, &mut obs, None).expect("built-in policies act validly");
        total += out.reward;
        if out.truncated || out.terminated {
            return total;
        }
    }
}

/// Mean return of `policy` over the episodes on `seeds`.
fn mean_return(sc: &Arc<Scenario>, policy: &dyn Policy, seeds: std::ops::Range<u64>) -> f64 {
    let count = seeds.end - seeds.start;
    seeds.map(|s| episode_return(sc, policy, s)).sum::<f64>() / count as f64
}

/// The optimizer's most frequent (version, cut, second cut) per (task type, device) over the episodes on
/// `seeds` (the lowest on ties; keys never seen get the most accurate version, run locally).
fn optimizer_modes(sc: &Arc<Scenario>, seeds: std::ops::Range<u64>) -> StaticTable {
    let (n, m, l) = (sc.n, sc.m, sc.l);
    let opt = Optimizer::default();
    // Per key, a count per (version, cut, second cut): second cuts only vary with the cloud tier.
    let cuts2 = if sc.cloud { l + 1 } else { 1 };
    let per_key = m * (l + 1) * cuts2;
    let mut counts = vec![0u64; 2 * n * per_key];
    let (mut v, mut p, mut b, mut c, mut p2) = (vec![0i64; n], vec![0i64; n], vec![0.0; n], vec![0.0; n], vec![0i64; n]);
    let mut obs = vec![0.0f32; sc.obs_dim()];
    for seed in seeds {
        let mut env = Env::new(sc.clone(), seed);
        env.reset(Some(seed), &mut obs, None).expect("buffers fit");
        loop {
            opt.act_env(0, &env, ActionMut { version: &mut v, partition: &mut p, bandwidth: &mut b, compute: &mut c, cloud_partition: &mut p2 });
            for (k, dev) in env.devices().iter().enumerate() {
                if dev.task != TASK_NONE {
                    let second = if sc.cloud { (p2[k].max(p[k])) as usize } else { 0 };
                    counts[((dev.task as usize - 1) * n + k) * per_key + (v[k] as usize * (l + 1) + p[k] as usize) * cuts2 + second] += 1;
                }
            }
            let action = ActionRef { version: &v, partition: &p, bandwidth: &b, compute: &c, cloud_partition: &p2 };
            if env.step(&action, &mut obs, None).expect("the optimizer acts validly").truncated {
                break;
            }
        }
    }
    let mode = |task: usize, k: usize| {
        let row = &counts[(task * n + k) * per_key..(task * n + k + 1) * per_key];
        let best = (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best });
        if row[best] == 0 {
            (most_accurate(sc), l, l)
        } else {
            let (vp, second) = (best / cuts2, best % cuts2);
            (vp / (l + 1), vp % (l + 1), if sc.cloud { second } else { l })
        }
    };
    let mut table = StaticTable { accuracy_sensitive: vec![[0, l]; n], latency_sensitive: vec![[0, l]; n], cloud_partition: None };
    for k in 0..n {
        table.set3(TASK_AS, k, mode(0, k), l);
        table.set3(TASK_LS, k, mode(1, k), l);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn search_improves_on_its_start_and_is_deterministic() {
        let mut cfg = Config::default();
        cfg.devices.device_classes = vec!["pi4".into(), "pi_zero_2w".into(), "n100".into()];
        cfg.zoo.versions = vec!["1.0_224".into(), "0.25_224".into()];
        cfg.time.episode_slots = 20;
        let sc = Scenario::new(&cfg).unwrap();
        let opts = SearchOptions { episodes: 4, ..SearchOptions::default() };
        let found = StaticTable::search(&sc, &opts);
        assert!(found.calibration_return >= found.start_return);
        assert!(found.passes >= 1 && found.evaluations > 1);
        found.table.check(&sc).unwrap();
        let again = StaticTable::search(&sc, &SearchOptions { num_threads: 1, ..opts });
        assert_eq!(found, again);
        // The table's value is what its episodes return.
        let sc = Arc::new(sc);
        let direct = mean_return(&sc, &found.table, CALIBRATION_SEED..CALIBRATION_SEED + 4);
        assert_eq!(direct, found.calibration_return);
        // Every single change of one key is no better (a coordinate-wise optimum).
        for k in 0..sc.n {
            for v in 0..sc.m {
                for p in 0..=sc.l {
                    let mut t = found.table.clone();
                    t.latency_sensitive[k] = [v, p];
                    assert!(mean_return(&sc, &t, CALIBRATION_SEED..CALIBRATION_SEED + 4) <= found.calibration_return + 1e-9);
                }
            }
        }
    }

    #[test]
    fn table_checks_and_most_used_versions() {
        let sc = Scenario::new(&Config::default()).unwrap();
        let n = sc.n;
        let t = StaticTable { accuracy_sensitive: vec![[0, 16]; n], latency_sensitive: (0..n).map(|k| [3 - (k % 2), 0]).collect(), cloud_partition: None };
        t.check(&sc).unwrap();
        assert_eq!(t.most_used_versions(sc.m), [0, 2]);
        let short = StaticTable { accuracy_sensitive: vec![[0, 0]; n - 1], ..t.clone() };
        assert!(short.check(&sc).unwrap_err().to_string().contains("accuracy_sensitive"));
        let bad = StaticTable { latency_sensitive: vec![[0, 17]; n], ..t };
        assert!(bad.check(&sc).unwrap_err().to_string().contains("latency_sensitive[0]"));
    }
}
