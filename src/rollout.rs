//! Timed rollouts of a fixed random policy: the Rust-native throughput that the `rollout` example, the
//! criterion benchmark and `mcia bench` report.

use std::sync::Arc;
use std::time::Instant;

use rand::{RngExt, SeedableRng};

use crate::action::{Actions, ActionsBuf};
use crate::env::EnvRng;
use crate::outputs::Outputs;
use crate::scenario::Scenario;
use crate::vec_env::{AutoresetMode, VecEnv};

/// A fixed table of uniformly random actions for a batch, cycled through during a rollout so that the
/// policy costs nothing inside the timed loop.
pub struct RandomActions {
    batches: Vec<ActionsBuf>,
}

impl RandomActions {
    /// `batches` random actions for `num_envs` environments: version uniform in 0..M, cut uniform in 0..=L,
    /// weights uniform in [0, 1), and with the cloud tier the second cut uniform in 0..=L (drawn last, so that
    /// MCIA-v0's tables are unchanged).
    pub fn new(sc: &Scenario, num_envs: usize, batches: usize, seed: u64) -> Self {
        let mut rng = EnvRng::seed_from_u64(seed);
        let batches = (0..batches.max(1))
            .map(|_| {
                let mut a = ActionsBuf::zeros(num_envs, sc.n);
                a.version.mapv_inplace(|_| rng.random_range(0..sc.m as i64));
                a.partition.mapv_inplace(|_| rng.random_range(0..=sc.l as i64));
                a.bandwidth.mapv_inplace(|_| rng.random());
                a.compute.mapv_inplace(|_| rng.random());
                if sc.cloud {
                    a.cloud_partition.mapv_inplace(|_| rng.random_range(0..=sc.l as i64));
                } else {
                    a.cloud_partition.fill(sc.l as i64);
                }
                a
            })
            .collect();
        Self { batches }
    }

    /// The k-th batch (cyclic).
    pub fn batch(&self, k: usize) -> Actions<'_> {
        self.batches[k % self.batches.len()].view()
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

/// A vector env and a random action table, ready to be timed.
pub struct Rollout {
    vec: VecEnv,
    actions: RandomActions,
    k: usize,
}

impl Rollout {
    /// `num_envs` environments seeded from `seed`, stepped on `num_threads` threads, writing info if asked.
    pub fn new(scenario: Arc<Scenario>, num_envs: usize, num_threads: usize, seed: u64, with_info: bool) -> Self {
        let actions = RandomActions::new(&scenario, num_envs, 16, seed ^ 0x5eed);
        let mut vec = VecEnv::new(scenario, num_envs.max(1), seed, AutoresetMode::NextStep, num_threads).expect("at least one environment");
        vec.set_with_info(with_info);
        let seeds: Vec<u64> = (0..vec.num_envs() as u64).map(|i| seed + i).collect();
        vec.reset(Some(&seeds), None).expect("one seed per environment");
        Self { vec, actions, k: 0 }
    }

    /// One batched step; returns the sum of rewards.
    pub fn step(&mut self) -> f64 {
        let out = self.vec.step(&self.actions.batch(self.k)).expect("random actions are valid");
        self.k += 1;
        out.rewards.sum()
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

    /// The outputs of the last step.
    pub fn outputs(&self) -> &Outputs {
        self.vec.outputs()
    }
}
