//! Many environments stepped together into caller-owned buffers, in parallel with rayon.
//!
//! Environment i of a vector env seeded with s is exactly a single [`Env`] reset with seed s + i: every
//! environment owns its RNG, so results do not depend on the thread count, the chunking or the batch size.
//! The rayon pool belongs to the vector env, is built lazily and is rebuilt after a `fork()` (a pool
//! inherited by a child process has no threads and would deadlock). Small batches and one thread take a
//! serial path that never touches the pool.

use std::sync::Arc;

use rayon::iter::Either;
use rayon::prelude::*;

use crate::action::{all_entries_valid, validate_action, ActionRef};
use crate::env::{info_f64_len, info_i64_len, Env, InfoMut, Snapshot, Status};
use crate::error::{ActionError, SnapshotError, StepError};
use crate::scenario::Scenario;
use crate::sim::lanes::{Portable, Vector};

/// What the vector env does when an episode ends (Gymnasium 1.x `AutoresetMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoresetMode {
    /// The step after the one that ended an episode resets that environment, ignores its action and
    /// returns the first observation of the new episode with reward 0 (Gymnasium's default).
    NextStep,
    /// An environment whose episode ends is reset in the same step: the returned observation is the new
    /// episode's first; the final observation and info go to the `final_*` buffers.
    SameStep,
}

/// Below this many environments per thread the step runs serially: fork/join costs more than it saves.
pub const MIN_ENVS_PER_THREAD: usize = 32;

/// Caller-owned output buffers of one batched step or reset, env-major.
pub struct VecBuffers<'a> {
    /// Observations, `[B, 7N + 3]`.
    pub obs: &'a mut [f32],
    /// Rewards, `[B]`.
    pub rewards: &'a mut [f64],
    /// Terminated flags, `[B]` (always false in MCIA).
    pub terminated: &'a mut [bool],
    /// Truncated flags, `[B]`.
    pub truncated: &'a mut [bool],
    /// Info, `[B, info_f64_len(N)]` and `[B, info_i64_len(N)]`, when requested.
    pub info: Option<InfoMut<'a>>,
    /// SAME_STEP only: final observations of the environments that ended, `[B, 7N + 3]` (other rows untouched).
    pub final_obs: Option<&'a mut [f32]>,
    /// SAME_STEP only: final info of the environments that ended (other rows untouched).
    pub final_info: Option<InfoMut<'a>>,
}

/// The per-environment rows of [`VecBuffers`].
struct Row<'a> {
    obs: &'a mut [f32],
    reward: &'a mut f64,
    terminated: &'a mut bool,
    truncated: &'a mut bool,
    info: Option<InfoMut<'a>>,
    final_obs: Option<&'a mut [f32]>,
    final_info: Option<InfoMut<'a>>,
}

/// A batch of environments of one scenario.
pub struct VecEnv {
    scenario: Arc<Scenario>,
    envs: Vec<Env>,
    autoreset: AutoresetMode,
    pool: OwnedPool,
    ever_reset: bool,
}

impl VecEnv {
    /// `num_envs` environments; environment i's RNG is seeded with `seed + i`. `num_threads = 0` means one
    /// thread per available core.
    pub fn new(scenario: Arc<Scenario>, num_envs: usize, seed: u64, autoreset: AutoresetMode, num_threads: usize) -> Self {
        let envs = (0..num_envs).map(|i| Env::new(scenario.clone(), seed.wrapping_add(i as u64))).collect();
        let num_threads = if num_threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { num_threads };
        Self { scenario, envs, autoreset, pool: OwnedPool { num_threads, pool: None }, ever_reset: false }
    }

    /// Number of environments B.
    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// The scenario.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// The autoreset mode.
    pub fn autoreset(&self) -> AutoresetMode {
        self.autoreset
    }

    /// Threads used for large batches.
    pub fn num_threads(&self) -> usize {
        self.pool.num_threads
    }

    /// Changes the thread count (the pool is rebuilt on the next parallel call).
    pub fn set_num_threads(&mut self, n: usize) {
        let n = n.max(1);
        if n != self.pool.num_threads {
            self.pool = OwnedPool { num_threads: n, pool: None };
        }
    }

    /// The environments (read-only).
    pub fn envs(&self) -> &[Env] {
        &self.envs
    }

    fn serial(&self) -> bool {
        self.pool.num_threads <= 1 || self.envs.len() < 2 * MIN_ENVS_PER_THREAD
    }

    fn chunk_len(&self) -> usize {
        // A few chunks per thread balance the load; the floor keeps per-chunk overhead small.
        self.envs.len().div_ceil(self.pool.num_threads * 4).max(MIN_ENVS_PER_THREAD)
    }

    fn check_buffers(&self, b: &VecBuffers<'_>) {
        let (nb, n, od) = (self.envs.len(), self.scenario.n, self.scenario.obs_dim());
        assert_eq!(b.obs.len(), nb * od, "obs buffer must be [num_envs, obs_dim]");
        assert_eq!(b.rewards.len(), nb, "rewards buffer must be [num_envs]");
        assert_eq!(b.terminated.len(), nb, "terminated buffer must be [num_envs]");
        assert_eq!(b.truncated.len(), nb, "truncated buffer must be [num_envs]");
        for info in [&b.info, &b.final_info].into_iter().flatten() {
            assert_eq!(info.f.len(), nb * info_f64_len(n), "float info buffer has the wrong length");
            assert_eq!(info.i.len(), nb * info_i64_len(n), "integer info buffer has the wrong length");
        }
        if let Some(f) = &b.final_obs {
            assert_eq!(f.len(), nb * od, "final_obs buffer must be [num_envs, obs_dim]");
        }
    }

    /// Applies `op` to every environment and its rows, serially or on the pool in chunks.
    fn for_each_row<O: RowOp>(&mut self, bufs: VecBuffers<'_>, op: &O) {
        self.check_buffers(&bufs);
        let (n, od) = (self.scenario.n, self.scenario.obs_dim());
        let shape = ChunkShape { od, lf: info_f64_len(n), li: info_i64_len(n), chunk: if self.serial() { self.envs.len().max(1) } else { self.chunk_len() } };
        let nchunks = self.envs.len().div_ceil(shape.chunk);
        let run_chunk = |parts: (usize, ChunkParts<'_>)| {
            #[cfg(target_arch = "x86_64")]
            if simd_level::has_v3() {
                // SAFETY: the CPU supports every feature `run_chunk_v3` enables.
                return unsafe { simd_level::run_chunk_v3(op, &shape, parts) };
            }
            run_chunk::<O, Portable>(op, &shape, parts)
        };
        let (info_f, info_i) = split_info(bufs.info);
        let (final_f, final_i) = split_info(bufs.final_info);
        if nchunks <= 1 {
            run_chunk((0, (&mut self.envs[..], bufs.obs, bufs.rewards, bufs.terminated, bufs.truncated, info_f, info_i, bufs.final_obs, final_f, final_i)));
            return;
        }
        let chunk = shape.chunk;
        let (obs, rewards, terminated, truncated, final_obs) = (bufs.obs, bufs.rewards, bufs.terminated, bufs.truncated, bufs.final_obs);
        let envs = &mut self.envs;
        self.pool.get().install(|| {
            (
                envs.par_chunks_mut(chunk),
                obs.par_chunks_mut(chunk * od),
                rewards.par_chunks_mut(chunk),
                terminated.par_chunks_mut(chunk),
                truncated.par_chunks_mut(chunk),
                opt_chunks(info_f, chunk * shape.lf, nchunks),
                opt_chunks(info_i, chunk * shape.li, nchunks),
                opt_chunks(final_obs, chunk * od, nchunks),
                opt_chunks(final_f, chunk * shape.lf, nchunks),
                opt_chunks(final_i, chunk * shape.li, nchunks),
            )
                .into_par_iter()
                .enumerate()
                .for_each(run_chunk);
        });
    }

    /// Resets every environment (or those with `mask[i]`); with `seeds`, environment i is reseeded with
    /// `seeds[i]` first. Rewards, terminated and truncated rows of reset environments are zeroed. Rows of
    /// environments left alone are untouched.
    pub fn reset(&mut self, seeds: Option<&[u64]>, mask: Option<&[bool]>, bufs: VecBuffers<'_>) {
        if let Some(s) = seeds {
            assert_eq!(s.len(), self.envs.len(), "one seed per environment");
        }
        if let Some(m) = mask {
            assert_eq!(m.len(), self.envs.len(), "one mask entry per environment");
        } else {
            self.ever_reset = true;
        }
        self.for_each_row(bufs, &ResetRows { seeds, mask });
        if mask.is_some() {
            self.ever_reset = self.envs.iter().all(|e| e.status() != Status::NeverReset);
        }
    }

    /// Validates every environment's action and reports the first error. One vectorised pass over the
    /// whole batch decides; only an invalid batch is searched env by env for the message.
    pub fn validate(&self, action: &ActionRef<'_>) -> Result<(), ActionError> {
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

    /// Steps every environment with its row of `action` (env-major, `[B * N]` per field). Environments whose
    /// episode ended are autoreset as [`AutoresetMode`] says. The whole batch is validated first: on error
    /// no environment changes.
    pub fn step(&mut self, action: &ActionRef<'_>, bufs: VecBuffers<'_>) -> Result<(), StepError> {
        if !self.ever_reset {
            return Err(StepError::NeedsReset { env: 0, ever_reset: false });
        }
        self.validate(action)?;
        let rows = StepRows { action, n: self.scenario.n, mode: self.autoreset };
        self.for_each_row(bufs, &rows);
        Ok(())
    }

    /// Runs `f(env_index, env, rows)` for every environment with its rows of four output buffers holding
    /// `per_env` entries each (policies use this to write actions). Parallel on the pool unless tiny.
    pub fn for_each_env<A, B, C, D, F>(&mut self, outs: (&mut [A], &mut [B], &mut [C], &mut [D]), per_env: usize, f: &F)
    where
        A: Send,
        B: Send,
        C: Send,
        D: Send,
        F: Fn(usize, &Env, (&mut [A], &mut [B], &mut [C], &mut [D])) + Sync,
    {
        let nb = self.envs.len();
        let run = |start: usize, envs: &[Env], a: &mut [A], b: &mut [B], c: &mut [C], d: &mut [D]| {
            for (j, env) in envs.iter().enumerate() {
                let r = j * per_env..(j + 1) * per_env;
                f(start + j, env, (&mut a[r.clone()], &mut b[r.clone()], &mut c[r.clone()], &mut d[r]));
            }
        };
        let (a, b, c, d) = outs;
        if self.pool.num_threads <= 1 || nb < 8 || per_env == 0 {
            run(0, &self.envs, a, b, c, d);
            return;
        }
        // Policies cost far more per environment than a step, so small chunks pay off.
        let chunk = nb.div_ceil(self.pool.num_threads * 8).max(1);
        let envs = &self.envs;
        self.pool.get().install(|| {
            (envs.par_chunks(chunk), a.par_chunks_mut(chunk * per_env), b.par_chunks_mut(chunk * per_env), c.par_chunks_mut(chunk * per_env), d.par_chunks_mut(chunk * per_env))
                .into_par_iter()
                .enumerate()
                .for_each(|(ci, (e, a, b, c, d))| run(ci * chunk, e, a, b, c, d));
        });
    }

    /// Snapshots of every environment.
    pub fn snapshot(&self) -> Vec<Snapshot> {
        self.envs.iter().map(|e| e.snapshot()).collect()
    }

    /// Restores every environment; all snapshots are checked before any is applied.
    pub fn restore(&mut self, snaps: &[Snapshot]) -> Result<(), SnapshotError> {
        if snaps.len() != self.envs.len() {
            return Err(SnapshotError(format!("{} snapshots for {} environments", snaps.len(), self.envs.len())));
        }
        let mut trial = self.envs.clone();
        for (i, (env, s)) in trial.iter_mut().zip(snaps).enumerate() {
            env.restore(s).map_err(|e| SnapshotError(format!("env {i}: {}", e.0)))?;
        }
        self.envs = trial;
        self.ever_reset = self.envs.iter().all(|e| e.status() != Status::NeverReset);
        Ok(())
    }

    /// Whether [`VecEnv::reset`] has run (stepping before it is an error).
    pub fn ever_reset(&self) -> bool {
        self.ever_reset
    }
}

/// What [`VecEnv::for_each_row`] does to one environment and its rows. `apply` is `#[inline(always)]` so
/// that the whole step is compiled into each chunk runner, the x86-64-v3 one included.
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
            return;
        }
        env.reset(self.seeds.map(|s| s[i]), row.obs, row.info);
        *row.reward = 0.0;
        *row.terminated = false;
        *row.truncated = false;
    }
}

/// Steps every environment with its row of a validated batch action, autoresetting as `mode` says.
struct StepRows<'a> {
    action: &'a ActionRef<'a>,
    n: usize,
    mode: AutoresetMode,
}

impl RowOp for StepRows<'_> {
    #[inline(always)]
    fn apply<V: Vector>(&self, i: usize, env: &mut Env, row: Row<'_>) {
        if env.status() != Status::Running {
            // NEXT_STEP: the previous step ended this episode; this step starts the next one.
            env.reset(None, row.obs, row.info);
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
            if let (Some(fi), Some(info)) = (row.final_info, info.as_ref()) {
                fi.f.copy_from_slice(info.f);
                fi.i.copy_from_slice(info.i);
            }
            env.reset(None, row.obs, info);
        }
    }
}

/// Row lengths of one chunk's buffers.
struct ChunkShape {
    /// Observation length.
    od: usize,
    /// Float info length.
    lf: usize,
    /// Integer info length.
    li: usize,
    /// Environments per chunk.
    chunk: usize,
}

/// Applies `op` to the environments of chunk `ci` and their rows.
#[inline(always)]
fn run_chunk<O: RowOp, V: Vector>(op: &O, shape: &ChunkShape, (ci, parts): (usize, ChunkParts<'_>)) {
    let (envs, obs, rewards, terminated, truncated, info_f, info_i, final_obs, final_f, final_i) = parts;
    let ChunkShape { od, lf, li, chunk } = *shape;
    let mut info_parts = pair(info_f, info_i);
    let mut final_parts = pair(final_f, final_i);
    let mut final_obs = final_obs;
    for (j, env) in envs.iter_mut().enumerate() {
        let row = Row {
            obs: &mut obs[j * od..(j + 1) * od],
            reward: &mut rewards[j],
            terminated: &mut terminated[j],
            truncated: &mut truncated[j],
            info: info_parts.as_mut().map(|(fb, ib)| InfoMut { f: &mut fb[j * lf..(j + 1) * lf], i: &mut ib[j * li..(j + 1) * li] }),
            final_obs: final_obs.as_deref_mut().map(|fo| &mut fo[j * od..(j + 1) * od]),
            final_info: final_parts.as_mut().map(|(fb, ib)| InfoMut { f: &mut fb[j * lf..(j + 1) * lf], i: &mut ib[j * li..(j + 1) * li] }),
        };
        op.apply::<V>(ci * chunk + j, env, row);
    }
}

type ChunkParts<'a> = (
    &'a mut [Env],
    &'a mut [f32],
    &'a mut [f64],
    &'a mut [bool],
    &'a mut [bool],
    Option<&'a mut [f64]>,
    Option<&'a mut [i64]>,
    Option<&'a mut [f32]>,
    Option<&'a mut [f64]>,
    Option<&'a mut [i64]>,
);

/// Runtime dispatch of the hot loop to x86-64-v3 (AVX2, FMA, BMI) code.
///
/// The step code is `#[inline(always)]` down to the lane math, so calling it through [`simd_level::run_chunk_v3`]
/// compiles a second copy of it with wider instructions. Only instruction selection changes: Rust never fuses
/// a multiply and an add on its own, so both copies compute bit-identical results (the determinism tests
/// compare a vector env, which takes this path, with single envs, which do not).
#[cfg(target_arch = "x86_64")]
mod simd_level {
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
    pub(super) unsafe fn run_chunk_v3<O: super::RowOp>(op: &O, shape: &super::ChunkShape, parts: (usize, super::ChunkParts<'_>)) {
        super::run_chunk::<O, crate::sim::lanes::Avx2>(op, shape, parts)
    }
}

/// A rayon pool owned by one vector env: built on first use, rebuilt in a forked child.
struct OwnedPool {
    num_threads: usize,
    pool: Option<(u32, rayon::ThreadPool)>,
}

impl OwnedPool {
    fn get(&mut self) -> &rayon::ThreadPool {
        let pid = std::process::id();
        if matches!(&self.pool, Some((owner, _)) if *owner != pid) {
            // Inherited across fork(): its worker threads do not exist in this process, and dropping it
            // could wait for them, so it is leaked deliberately.
            std::mem::forget(self.pool.take());
        }
        let n = self.num_threads;
        &self
            .pool
            .get_or_insert_with(|| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("mcia-{i}")).build().expect("failed to start the rayon thread pool");
                (pid, pool)
            })
            .1
    }
}

fn split_info(info: Option<InfoMut<'_>>) -> (Option<&mut [f64]>, Option<&mut [i64]>) {
    match info {
        Some(InfoMut { f, i }) => (Some(f), Some(i)),
        None => (None, None),
    }
}

fn pair<'a>(f: Option<&'a mut [f64]>, i: Option<&'a mut [i64]>) -> Option<(&'a mut [f64], &'a mut [i64])> {
    match (f, i) {
        (Some(f), Some(i)) => Some((f, i)),
        _ => None,
    }
}

/// Chunks of an optional buffer, or `None` per chunk when the buffer is absent.
fn opt_chunks<T: Send>(buf: Option<&mut [T]>, size: usize, nchunks: usize) -> impl IndexedParallelIterator<Item = Option<&mut [T]>> {
    match buf {
        Some(b) => Either::Left(b.par_chunks_mut(size).map(Some)),
        None => Either::Right((0..nchunks).into_par_iter().map(|_| None)),
    }
}
