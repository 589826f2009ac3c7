//! Many environments stepped together, in parallel with rayon, into ndarray outputs.
//!
//! Environment i of a vector env seeded with s is exactly a single [`Env`] reset with seed s + i: every
//! environment owns its RNG, so results do not depend on the thread count, the chunking or the batch size.
//! The rayon pool belongs to the vector env, is built lazily and is rebuilt after a `fork()` (a pool
//! inherited by a child process has no threads and would deadlock). Small batches and one thread take a
//! serial path that never touches the pool.
//!
//! ```
//! use std::sync::Arc;
//! use mcia::{ActionsBuf, AutoresetMode, Config, FloatField, Scenario, VecEnv};
//!
//! let sc = Arc::new(Scenario::new(&Config::default()).unwrap());
//! let mut venv = VecEnv::new(sc.clone(), 4, 0, AutoresetMode::NextStep, 1).unwrap();
//! venv.reset(None, None).unwrap();
//! let mut action = ActionsBuf::zeros(4, sc.n);
//! action.partition.fill(sc.l as i64); // every device runs the most accurate version locally
//! let out = venv.step(&action.view()).unwrap();
//! assert_eq!(out.obs.dim(), (4, sc.obs_dim()));
//! let latency = out.info.as_ref().unwrap().float(FloatField::Latency); // (4, N), NaN without a task
//! assert!(latency.iter().all(|t| t.is_nan() || *t > 0.0));
//! ```

use std::sync::Arc;

use rayon::prelude::*;

use crate::action::{all_entries_valid, validate_action, ActionRef, Actions, ActionsBuf, ActionsMut};
use crate::env::{Env, Snapshot, Status};
use crate::error::{ActionError, SnapshotError, StepError};
use crate::outputs::{InfoViewMut, Outputs, OutputsMut, Row};
use crate::scenario::Scenario;
use crate::sim::lanes::{Portable, Vector};

/// What the vector env does when an episode ends (Gymnasium 1.x `AutoresetMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoresetMode {
    /// The step after the one that ended an episode resets that environment, ignores its action and
    /// returns the first observation of the new episode with reward 0 (Gymnasium's default).
    NextStep,
    /// An environment whose episode ends is reset in the same step: the returned observation is the new
    /// episode's first; the final observation and info go to the `final_*` outputs.
    SameStep,
}

/// Below this many environments per thread the step runs serially: fork/join costs more than it saves.
pub const MIN_ENVS_PER_THREAD: usize = 32;

/// A batch of environments of one scenario, with the outputs it writes.
pub struct VecEnv {
    batch: Batch,
    outputs: Outputs,
}

/// The environments and everything a step needs besides the outputs.
struct Batch {
    scenario: Arc<Scenario>,
    envs: Vec<Env>,
    autoreset: AutoresetMode,
    pool: OwnedPool,
    ever_reset: bool,
    /// Where actions that are not in standard layout are copied before a step.
    scratch: ActionsBuf,
}

impl VecEnv {
    /// `num_envs` environments; environment i's RNG is seeded with `seed + i`. `num_threads = 0` means one
    /// thread per available core. The outputs include the info; turn it off with [`VecEnv::set_with_info`].
    pub fn new(scenario: Arc<Scenario>, num_envs: usize, seed: u64, autoreset: AutoresetMode, num_threads: usize) -> Result<Self, StepError> {
        if num_envs == 0 {
            return Err(StepError::Shape { message: "num_envs must be >= 1".into() });
        }
        let need = estimated_bytes(&scenario, num_envs).ok_or_else(|| StepError::OutOfMemory { message: format!("{num_envs} environments need more memory than can be addressed") })?;
        let mut envs = Vec::new();
        envs.try_reserve_exact(num_envs).map_err(|_| StepError::OutOfMemory { message: format!("{num_envs} environments need about {:.1} GB; allocating them failed", need as f64 / 1e9) })?;
        envs.extend((0..num_envs).map(|i| Env::new(scenario.clone(), seed.wrapping_add(i as u64))));
        let num_threads = if num_threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { num_threads };
        let outputs = Outputs::zeros(num_envs, scenario.n, scenario.obs_dim(), true, autoreset == AutoresetMode::SameStep);
        let scratch = ActionsBuf::zeros(num_envs, scenario.n);
        Ok(Self { batch: Batch { scenario, envs, autoreset, pool: OwnedPool { num_threads, pool: None }, ever_reset: false, scratch }, outputs })
    }

    /// Number of environments B.
    pub fn num_envs(&self) -> usize {
        self.batch.envs.len()
    }

    /// The scenario.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.batch.scenario
    }

    /// The autoreset mode.
    pub fn autoreset(&self) -> AutoresetMode {
        self.batch.autoreset
    }

    /// Threads used for large batches.
    pub fn num_threads(&self) -> usize {
        self.batch.pool.num_threads
    }

    /// Changes the thread count (the pool is rebuilt on the next parallel call).
    pub fn set_num_threads(&mut self, n: usize) {
        let n = n.max(1);
        if n != self.batch.pool.num_threads {
            self.batch.pool = OwnedPool { num_threads: n, pool: None };
        }
    }

    /// Whether [`VecEnv::step`] and [`VecEnv::reset`] write the info.
    pub fn with_info(&self) -> bool {
        self.outputs.info.is_some()
    }

    /// Turns writing the info into [`VecEnv::outputs`] on or off (allocating or freeing its arrays).
    pub fn set_with_info(&mut self, on: bool) {
        if on != self.with_info() {
            let (b, sc) = (self.num_envs(), &self.batch.scenario);
            let same = self.batch.autoreset == AutoresetMode::SameStep;
            let fresh = Outputs::zeros(b, sc.n, sc.obs_dim(), on, same);
            self.outputs.info = fresh.info;
            self.outputs.final_info = fresh.final_info;
        }
    }

    /// The environments (read-only).
    pub fn envs(&self) -> &[Env] {
        &self.batch.envs
    }

    /// The outputs of the last reset or step.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Resets every environment (or those with `mask[i]`); with `seeds`, environment i is reseeded with
    /// `seeds[i]` first. Rewards and flags of reset environments are zeroed; rows of environments left alone
    /// keep their values.
    pub fn reset(&mut self, seeds: Option<&[u64]>, mask: Option<&[bool]>) -> Result<&Outputs, StepError> {
        self.batch.reset(seeds, mask, self.outputs.view_mut())?;
        Ok(&self.outputs)
    }

    /// [`VecEnv::reset`] into caller-owned outputs (shapes as [`Outputs::zeros`] gives).
    pub fn reset_into(&mut self, seeds: Option<&[u64]>, mask: Option<&[bool]>, out: OutputsMut<'_>) -> Result<(), StepError> {
        self.batch.reset(seeds, mask, out)
    }

    /// Steps every environment with its row of `action` (`(B, N)` per field, any layout). Environments whose
    /// episode ended are autoreset as [`AutoresetMode`] says. The whole batch is validated first: on error no
    /// environment changes.
    pub fn step(&mut self, action: &Actions<'_>) -> Result<&Outputs, StepError> {
        self.batch.step(action, self.outputs.view_mut())?;
        Ok(&self.outputs)
    }

    /// [`VecEnv::step`] into caller-owned outputs (shapes as [`Outputs::zeros`] gives; the info is written
    /// when `out.info` is given).
    pub fn step_into(&mut self, action: &Actions<'_>, out: OutputsMut<'_>) -> Result<(), StepError> {
        self.batch.step(action, out)
    }

    /// Validates every environment's action and reports the first error. One vectorised pass over the
    /// whole batch decides; only an invalid batch is searched env by env for the message.
    pub fn validate(&self, action: &ActionRef<'_>) -> Result<(), ActionError> {
        self.batch.validate(action)
    }

    /// Runs `f(env_index, env, rows)` for every environment with its rows of the `(B, N)` action buffers
    /// (version, partition, bandwidth, compute, cloud_partition; policies use this to write actions).
    /// Parallel on the pool unless tiny.
    pub fn for_each_env<F>(&mut self, out: ActionsMut<'_>, f: &F)
    where
        F: Fn(usize, &Env, (&mut [i64], &mut [i64], &mut [f64], &mut [f64], &mut [i64])) + Sync,
    {
        self.batch.for_each_env(out, f)
    }

    /// Snapshots of every environment.
    pub fn snapshot(&self) -> Vec<Snapshot> {
        self.batch.envs.iter().map(|e| e.snapshot()).collect()
    }

    /// Restores every environment; all snapshots are checked before any is applied.
    pub fn restore(&mut self, snaps: &[Snapshot]) -> Result<(), SnapshotError> {
        let b = &mut self.batch;
        if snaps.len() != b.envs.len() {
            return Err(SnapshotError(format!("{} snapshots for {} environments", snaps.len(), b.envs.len())));
        }
        let mut trial = b.envs.clone();
        for (i, (env, s)) in trial.iter_mut().zip(snaps).enumerate() {
            env.restore(s).map_err(|e| SnapshotError(format!("env {i}: {}", e.0)))?;
        }
        b.envs = trial;
        b.ever_reset = b.envs.iter().all(|e| e.status() != Status::NeverReset);
        Ok(())
    }

    /// Whether [`VecEnv::reset`] has run (stepping before it is an error).
    pub fn ever_reset(&self) -> bool {
        self.batch.ever_reset
    }
}

/// About how many bytes a vector env of `num_envs` environments takes (its environments, its own outputs with
/// info, the action scratch, and three sets of output arrays a Python vector env may keep), or None when the
/// number does not fit in 64 bits.
pub fn estimated_bytes(sc: &Scenario, num_envs: usize) -> Option<u64> {
    let n = sc.n as u64;
    let per_env = std::mem::size_of::<Env>() as u64 + n * (std::mem::size_of::<crate::env::DeviceState>() as u64 + 8);
    let outputs = sc.obs_dim() as u64 * 4 * 2 + 16 + 2 * 8 * (17 * n + 2);
    let per_env = per_env.checked_add(4 * outputs)?.checked_add(4 * 8 * n)?;
    per_env.checked_mul(num_envs as u64)
}

impl Batch {
    fn serial(&self) -> bool {
        self.pool.num_threads <= 1 || self.envs.len() < 2 * MIN_ENVS_PER_THREAD
    }

    fn chunk_len(&self) -> usize {
        // A few chunks per thread balance the load; the floor keeps per-chunk overhead small.
        self.envs.len().div_ceil(self.pool.num_threads * 4).max(MIN_ENVS_PER_THREAD)
    }

    /// Checks the output views against the batch.
    fn check_outputs(&self, out: &OutputsMut<'_>) -> Result<(), StepError> {
        let (b, n, od) = (self.envs.len(), self.scenario.n, self.scenario.obs_dim());
        let bad = |what: &str, want: String, got: String| Err(StepError::Shape { message: format!("{what} must be {want}, got {got}") });
        if out.obs.dim() != (b, od) || out.obs.strides()[1] != 1 {
            return bad("the obs buffer", format!("({b}, {od}) with contiguous rows"), format!("{:?} with strides {:?}", out.obs.dim(), out.obs.strides()));
        }
        for (what, len) in [("the rewards buffer", out.rewards.len()), ("the terminated buffer", out.terminated.len()), ("the truncated buffer", out.truncated.len())] {
            if len != b {
                return bad(what, format!("({b},)"), format!("({len},)"));
            }
        }
        for (what, info) in [("the info buffers", &out.info), ("the final_info buffers", &out.final_info)] {
            if let Some(i) = info {
                if !i.has_shape(b, n) {
                    return bad(what, format!("(F, {b}, {n}), (I, {b}, {n}) and (S, {b})"), format!("{:?}, {:?}, {:?}", i.float.dim(), i.int.dim(), i.scalar.dim()));
                }
            }
        }
        let same = self.autoreset == AutoresetMode::SameStep;
        match &out.final_obs {
            Some(f) if f.dim() != (b, od) || f.strides()[1] != 1 => bad("the final_obs buffer", format!("({b}, {od}) with contiguous rows"), format!("{:?}", f.dim())),
            None if same => bad("the final_obs buffer", "given in SAME_STEP mode".into(), "none".into()),
            _ if same && out.info.is_some() && out.final_info.is_none() => bad("the final_info buffers", "given in SAME_STEP mode with info".into(), "none".into()),
            _ => Ok(()),
        }
    }

    fn reset(&mut self, seeds: Option<&[u64]>, mask: Option<&[bool]>, out: OutputsMut<'_>) -> Result<(), StepError> {
        let b = self.envs.len();
        if let Some(s) = seeds.filter(|s| s.len() != b) {
            return Err(StepError::Shape { message: format!("seeds must have {b} entries (one per environment), got {}", s.len()) });
        }
        if let Some(m) = mask.filter(|m| m.len() != b) {
            return Err(StepError::Shape { message: format!("the reset mask must have {b} entries, got {}", m.len()) });
        }
        self.check_outputs(&out)?;
        self.for_each_row(out, &ResetRows { seeds, mask });
        self.ever_reset = self.envs.iter().all(|e| e.status() != Status::NeverReset);
        Ok(())
    }

    fn validate(&self, action: &ActionRef<'_>) -> Result<(), ActionError> {
        let (nb, n) = (self.envs.len(), self.scenario.n);
        action.check_len(0, nb * n).map_err(|mut e| {
            e.message = format!("{} (batch of {nb} envs x {n} devices)", e.message);
            e
        })?;
        if all_entries_valid(&self.scenario, action) {
            return Ok(());
        }
        (0..nb).try_for_each(|i| validate_action(&self.scenario, i, &action.row(i, n)))
    }

    fn step(&mut self, action: &Actions<'_>, out: OutputsMut<'_>) -> Result<(), StepError> {
        // `ever_reset` is cached: scanning every environment's status each step costs a cache miss per env.
        if !self.ever_reset {
            let i = self.envs.iter().position(|e| e.status() == Status::NeverReset).unwrap_or(0);
            return Err(StepError::NeedsReset { env: i, ever_reset: false });
        }
        action.check_shape(self.envs.len(), self.scenario.n)?;
        self.check_outputs(&out)?;
        let (serial, chunk) = (self.serial(), self.chunk_len());
        // Contiguous actions are read in place; others are copied once into the scratch buffer.
        let flat = match action.as_flat() {
            Some(flat) => flat,
            None => {
                self.scratch.assign(action);
                let s = &self.scratch;
                ActionRef {
                    version: s.version.as_slice().expect("standard layout"),
                    partition: s.partition.as_slice().expect("standard layout"),
                    bandwidth: s.bandwidth.as_slice().expect("standard layout"),
                    compute: s.compute.as_slice().expect("standard layout"),
                    cloud_partition: if action.cloud_partition.is_some() { s.cloud_partition.as_slice().expect("standard layout") } else { &[] },
                }
            }
        };
        self.validate(&flat)?;
        let rows = StepRows { action: flat, n: self.scenario.n, mode: self.autoreset };
        // `rows` may borrow the scratch buffer; the environments and the pool are other fields.
        run_rows(&mut self.envs, &mut self.pool, serial, chunk, out, &rows);
        Ok(())
    }

    /// Applies `op` to every environment and its rows, serially or on the pool in chunks.
    fn for_each_row<O: RowOp>(&mut self, out: OutputsMut<'_>, op: &O) {
        let (serial, chunk) = (self.serial(), self.chunk_len());
        run_rows(&mut self.envs, &mut self.pool, serial, chunk, out, op);
    }

    fn for_each_env<F>(&mut self, out: ActionsMut<'_>, f: &F)
    where
        F: Fn(usize, &Env, (&mut [i64], &mut [i64], &mut [f64], &mut [f64], &mut [i64])) + Sync,
    {
        let (nb, n) = (self.envs.len(), self.scenario.n);
        let ActionsMut { mut version, mut partition, mut bandwidth, mut compute, mut cloud_partition } = out;
        let (a, b, c, d, e) = (
            version.as_slice_mut().expect("action buffers are C-contiguous"),
            partition.as_slice_mut().expect("action buffers are C-contiguous"),
            bandwidth.as_slice_mut().expect("action buffers are C-contiguous"),
            compute.as_slice_mut().expect("action buffers are C-contiguous"),
            cloud_partition.as_slice_mut().expect("action buffers are C-contiguous"),
        );
        let run = |start: usize, envs: &[Env], a: &mut [i64], b: &mut [i64], c: &mut [f64], d: &mut [f64], e: &mut [i64]| {
            for (j, env) in envs.iter().enumerate() {
                let r = j * n..(j + 1) * n;
                f(start + j, env, (&mut a[r.clone()], &mut b[r.clone()], &mut c[r.clone()], &mut d[r.clone()], &mut e[r]));
            }
        };
        if self.pool.num_threads <= 1 || nb < 8 || n == 0 {
            run(0, &self.envs, a, b, c, d, e);
            return;
        }
        // Policies cost far more per environment than a step, so small chunks pay off.
        let chunk = nb.div_ceil(self.pool.num_threads * 8).max(1);
        let envs = &self.envs;
        let Some(pool) = self.pool.get() else {
            run(0, envs, a, b, c, d, e);
            return;
        };
        pool.install(|| {
            (envs.par_chunks(chunk), a.par_chunks_mut(chunk * n), b.par_chunks_mut(chunk * n), c.par_chunks_mut(chunk * n), d.par_chunks_mut(chunk * n), e.par_chunks_mut(chunk * n))
                .into_par_iter()
                .enumerate()
                .for_each(|(ci, (envs, a, b, c, d, e))| run(ci * chunk, envs, a, b, c, d, e));
        });
    }
}

/// Runs `op` over every environment and its output rows: serially, or by splitting the rows in halves
/// (ndarray `split_at`) down to `chunk` environments and joining on the pool.
fn run_rows<O: RowOp>(envs: &mut [Env], pool: &mut OwnedPool, serial: bool, chunk: usize, out: OutputsMut<'_>, op: &O) {
    if serial || envs.len() <= chunk {
        return run_chunk_dispatch(op, 0, envs, out);
    }
    match pool.get() {
        Some(pool) => pool.install(|| split_run(op, 0, envs, out, chunk)),
        // A pool that cannot start (no threads left, say) costs speed, never correctness.
        None => run_chunk_dispatch(op, 0, envs, out),
    }
}

fn split_run<O: RowOp>(op: &O, start: usize, envs: &mut [Env], out: OutputsMut<'_>, chunk: usize) {
    if envs.len() <= chunk {
        run_chunk_dispatch(op, start, envs, out);
        return;
    }
    // Split on a chunk boundary so the leaves are `chunk` environments (the last one possibly fewer).
    let mid = envs.len().div_ceil(chunk).div_ceil(2) * chunk;
    let (e0, e1) = envs.split_at_mut(mid);
    let (o0, o1) = out.split_at(mid);
    rayon::join(|| split_run(op, start, e0, o0, chunk), || split_run(op, start + mid, e1, o1, chunk));
}

/// Runs one chunk with the widest lane math this CPU has.
fn run_chunk_dispatch<O: RowOp>(op: &O, start: usize, envs: &mut [Env], out: OutputsMut<'_>) {
    #[cfg(target_arch = "x86_64")]
    if simd_level::has_v3() {
        // SAFETY: the CPU supports every feature `run_chunk_v3` enables.
        return unsafe { simd_level::run_chunk_v3(op, start, envs, out) };
    }
    run_chunk::<O, Portable>(op, start, envs, out)
}

/// Applies `op` to environments `start..` and their rows, walking every output array once in step.
#[inline(always)]
fn run_chunk<O: RowOp, V: Vector>(op: &O, start: usize, envs: &mut [Env], out: OutputsMut<'_>) {
    let OutputsMut { mut obs, mut rewards, mut terminated, mut truncated, mut info, mut final_obs, mut final_info } = out;
    let rows = obs.outer_iter_mut().zip(rewards.iter_mut()).zip(terminated.iter_mut()).zip(truncated.iter_mut());
    let mut infos = info.as_mut().map(InfoViewMut::envs);
    let mut final_obs = final_obs.as_mut().map(|f| f.outer_iter_mut());
    let mut final_infos = final_info.as_mut().map(InfoViewMut::envs);
    for (j, (env, (((obs, reward), terminated), truncated))) in envs.iter_mut().zip(rows).enumerate() {
        let row = Row {
            obs: obs.into_slice().expect("observation rows are contiguous"),
            reward,
            terminated,
            truncated,
            info: infos.as_mut().and_then(Iterator::next),
            final_obs: final_obs.as_mut().and_then(Iterator::next).map(|f| f.into_slice().expect("observation rows are contiguous")),
            final_info: final_infos.as_mut().and_then(Iterator::next),
        };
        op.apply::<V>(start + j, env, row);
    }
}

/// What [`run_rows`] does to one environment and its rows. `apply` is `#[inline(always)]` so that the
/// whole step is compiled into each chunk runner, the x86-64-v3 one included.
trait RowOp: Sync {
    /// Works on environment `env_index` with lane math `V`.
    fn apply<V: Vector>(&self, env_index: usize, env: &mut Env, row: Row<'_>);
}

/// Resets the environments selected by `mask` (all without one), reseeding from `seeds` if given.
struct ResetRows<'a> {
    seeds: Option<&'a [u64]>,
    mask: Option<&'a [bool]>,
}

impl RowOp for ResetRows<'_> {
    #[inline(always)]
    fn apply<V: Vector>(&self, i: usize, env: &mut Env, row: Row<'_>) {
        if self.mask.is_some_and(|m| !m[i]) {
            // Left alone, but its observation row is written from its state: a batch's observation is always
            // complete, whatever buffers the caller brings (after unpickling, say).
            if env.status() != Status::NeverReset {
                env.write_obs(row.obs);
            }
            return;
        }
        env.reset_prevalidated(self.seeds.map(|s| s[i]), row.obs, row.info);
        *row.reward = 0.0;
        *row.terminated = false;
        *row.truncated = false;
    }
}

/// Steps every environment with its row of a validated batch action, autoresetting as `mode` says.
struct StepRows<'a> {
    action: ActionRef<'a>,
    n: usize,
    mode: AutoresetMode,
}

impl RowOp for StepRows<'_> {
    #[inline(always)]
    fn apply<V: Vector>(&self, i: usize, env: &mut Env, row: Row<'_>) {
        if env.status() != Status::Running {
            // NEXT_STEP: the previous step ended this episode; this step starts the next one.
            env.reset_prevalidated(None, row.obs, row.info);
            *row.reward = 0.0;
            *row.terminated = false;
            *row.truncated = false;
            return;
        }
        let mut info = row.info;
        let out = env.step_prevalidated::<V>(&self.action.row(i, self.n), row.obs, info.as_mut().map(|x| x.reborrow()));
        *row.reward = out.reward;
        *row.terminated = out.terminated;
        *row.truncated = out.truncated;
        if self.mode == AutoresetMode::SameStep && (out.terminated || out.truncated) {
            if let Some(fo) = row.final_obs {
                fo.copy_from_slice(row.obs);
            }
            if let (Some(mut fi), Some(info)) = (row.final_info, info.as_ref()) {
                fi.assign(info);
            }
            env.reset_prevalidated(None, row.obs, info);
        }
    }
}

/// Runtime dispatch of the hot loop to x86-64-v3 (AVX2, FMA, BMI) code.
///
/// The step code is `#[inline(always)]` down to the lane math, so calling it through [`simd_level::run_chunk_v3`]
/// compiles a second copy of it with wider instructions. Only instruction selection changes: Rust never fuses
/// a multiply and an add on its own, so both copies compute bit-identical results (the determinism tests
/// compare a vector env, which takes this path, with single envs, which do not).
#[cfg(target_arch = "x86_64")]
mod simd_level {
    use crate::env::Env;
    use crate::outputs::OutputsMut;

    /// Whether this CPU runs x86-64-v3 code (detected once, then a cached load).
    #[inline]
    pub fn has_v3() -> bool {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("lzcnt")
    }

    /// [`super::run_chunk`] compiled for x86-64-v3.
    ///
    /// # Safety
    /// The CPU must support the enabled features ([`has_v3`]).
    #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    pub(super) unsafe fn run_chunk_v3<O: super::RowOp>(op: &O, start: usize, envs: &mut [Env], out: OutputsMut<'_>) {
        super::run_chunk::<O, crate::sim::lanes::Avx2>(op, start, envs, out)
    }
}

/// A rayon pool owned by one vector env: built on first use, rebuilt in a forked child.
struct OwnedPool {
    num_threads: usize,
    pool: Option<(u32, rayon::ThreadPool)>,
}

impl OwnedPool {
    /// The pool, or `None` when one cannot be started (callers then run serially).
    fn get(&mut self) -> Option<&rayon::ThreadPool> {
        let pid = std::process::id();
        if matches!(&self.pool, Some((owner, _)) if *owner != pid) {
            // Inherited across fork(): its worker threads do not exist in this process, and dropping it
            // could wait for them, so it is leaked deliberately.
            std::mem::forget(self.pool.take());
        }
        if self.pool.is_none() {
            let built = rayon::ThreadPoolBuilder::new().num_threads(self.num_threads).thread_name(|i| format!("mcia-{i}")).build();
            self.pool = built.ok().map(|p| (pid, p));
        }
        self.pool.as_ref().map(|(_, p)| p)
    }
}
