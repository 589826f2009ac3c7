//! Timed rollouts of a fixed random policy: the Rust-native throughput that the `rollout` example, the
//! criterion benchmark and `mcia bench` report.

use std::sync::Arc;
use std::time::Instant;

use rand::{RngExt, SeedableRng};

use crate::action::ActionRef;
use crate::env::{info_f64_len, info_i64_len, EnvRng, InfoMut};
use crate::scenario::Scenario;
use crate::vec_env::{AutoresetMode, VecBuffers, VecEnv};

/// A fixed table of uniformly random actions for a batch, cycled through during a rollout so that the
/// policy costs nothing inside the timed loop.
pub struct RandomActions {
    version: Vec<i64>,
    partition: Vec<i64>,
    bandwidth: Vec<f64>,
    compute: Vec<f64>,
    batch_len: usize,
    batches: usize,
}

impl RandomActions {
    /// `batches` random actions for `num_envs` environments: version uniform in 0..M, cut uniform in 0..=L,
    /// weights uniform in [0, 1).
    pub fn new(sc: &Scenario, num_envs: usize, batches: usize, seed: u64) -> Self {
        let mut rng = EnvRng::seed_from_u64(seed);
        let len = num_envs * sc.n * batches;
        Self {
            version: (0..len).map(|_| rng.random_range(0..sc.m as i64)).collect(),
            partition: (0..len).map(|_| rng.random_range(0..=sc.l as i64)).collect(),
            bandwidth: (0..len).map(|_| rng.random()).collect(),
            compute: (0..len).map(|_| rng.random()).collect(),
            batch_len: num_envs * sc.n,
            batches: batches.max(1),
        }
    }

    /// The k-th batch (cyclic).
    pub fn batch(&self, k: usize) -> ActionRef<'_> {
        let r = (k % self.batches) * self.batch_len..(k % self.batches + 1) * self.batch_len;
        ActionRef { version: &self.version[r.clone()], partition: &self.partition[r.clone()], bandwidth: &self.bandwidth[r.clone()], compute: &self.compute[r] }
    }
}

/// Throughput of one timed rollout.
#[derive(Clone, Copy, Debug)]
pub struct RolloutStats {
    /// Environment steps taken (num_envs x steps).
    pub env_steps: u64,
    /// Wall time of the timed loop, seconds.
    pub seconds: f64,
    /// Environment steps per second.
    pub env_steps_per_s: f64,
    /// Device decisions per second (environment steps x N).
    pub device_steps_per_s: f64,
    /// Mean reward seen (a checksum that the work was done).
    pub mean_reward: f64,
}

/// A vector env with its buffers and a random action table, ready to be timed.
pub struct Rollout {
    vec: VecEnv,
    actions: RandomActions,
    obs: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    info_f: Vec<f64>,
    info_i: Vec<i64>,
    with_info: bool,
    k: usize,
}

impl Rollout {
    /// `num_envs` environments seeded from `seed`, stepped on `num_threads` threads, writing info if asked.
    pub fn new(scenario: Arc<Scenario>, num_envs: usize, num_threads: usize, seed: u64, with_info: bool) -> Self {
        let (n, od) = (scenario.n, scenario.obs_dim());
        let actions = RandomActions::new(&scenario, num_envs, 16, seed ^ 0x5eed);
        let mut r = Self {
            vec: VecEnv::new(scenario, num_envs, seed, AutoresetMode::NextStep, num_threads),
            actions,
            obs: vec![0.0; num_envs * od],
            rewards: vec![0.0; num_envs],
            terminated: vec![false; num_envs],
            truncated: vec![false; num_envs],
            info_f: vec![0.0; if with_info { num_envs * info_f64_len(n) } else { 0 }],
            info_i: vec![0; if with_info { num_envs * info_i64_len(n) } else { 0 }],
            with_info,
            k: 0,
        };
        let bufs = VecBuffers {
            obs: &mut r.obs,
            rewards: &mut r.rewards,
            terminated: &mut r.terminated,
            truncated: &mut r.truncated,
            info: None,
            final_obs: None,
            final_info: None,
        };
        let seeds: Vec<u64> = (0..num_envs as u64).map(|i| seed + i).collect();
        r.vec.reset(Some(&seeds), None, bufs);
        r
    }

    /// One batched step; returns the sum of rewards.
    pub fn step(&mut self) -> f64 {
        let info = if self.with_info { Some(InfoMut { f: &mut self.info_f, i: &mut self.info_i }) } else { None };
        let bufs = VecBuffers {
            obs: &mut self.obs,
            rewards: &mut self.rewards,
            terminated: &mut self.terminated,
            truncated: &mut self.truncated,
            info,
            final_obs: None,
            final_info: None,
        };
        self.vec.step(&self.actions.batch(self.k), bufs).expect("random actions are valid");
        self.k += 1;
        self.rewards.iter().sum()
    }

    /// Times `steps` batched steps.
    pub fn run(&mut self, steps: usize) -> RolloutStats {
        let start = Instant::now();
        let mut total = 0.0;
        for _ in 0..steps {
            total += self.step();
        }
        let seconds = start.elapsed().as_secs_f64();
        let env_steps = (steps * self.vec.num_envs()) as u64;
        let rate = env_steps as f64 / seconds;
        RolloutStats { env_steps, seconds, env_steps_per_s: rate, device_steps_per_s: rate * self.vec.scenario().n as f64, mean_reward: total / env_steps.max(1) as f64 }
    }

    /// The observations of the last step, `[B, 7N + 3]`.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }
}
