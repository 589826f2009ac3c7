//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use mcia::env::{info_f64_len, info_i64_len};
use mcia::{AutoresetMode, Config, InfoMut, Scenario, VecBuffers, VecEnv};

/// Output buffers of a vector env, owned.
pub struct Out {
    pub obs: Vec<f32>,
    pub rewards: Vec<f64>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub info_f: Vec<f64>,
    pub info_i: Vec<i64>,
}

impl Out {
    pub fn new(sc: &Scenario, b: usize) -> Self {
        Self {
            obs: vec![0.0; b * sc.obs_dim()],
            rewards: vec![0.0; b],
            terminated: vec![false; b],
            truncated: vec![false; b],
            info_f: vec![0.0; b * info_f64_len(sc.n)],
            info_i: vec![0; b * info_i64_len(sc.n)],
        }
    }

    pub fn bufs(&mut self) -> VecBuffers<'_> {
        VecBuffers {
            obs: &mut self.obs,
            rewards: &mut self.rewards,
            terminated: &mut self.terminated,
            truncated: &mut self.truncated,
            info: Some(InfoMut { f: &mut self.info_f, i: &mut self.info_i }),
            final_obs: None,
            final_info: None,
        }
    }
}

pub fn default_scenario() -> Arc<Scenario> {
    Arc::new(Scenario::new(&Config::default()).unwrap())
}

pub fn vec_env(sc: &Arc<Scenario>, b: usize, seed: u64, threads: usize) -> VecEnv {
    VecEnv::new(sc.clone(), b, seed, AutoresetMode::NextStep, threads)
}
