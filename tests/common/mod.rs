//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use mcia::{AutoresetMode, Config, Scenario, VecEnv};

pub fn default_scenario() -> Arc<Scenario> {
    Arc::new(Scenario::new(&Config::default()).unwrap())
}

/// A NEXT_STEP vector env with info.
pub fn vec_env(sc: &Arc<Scenario>, b: usize, seed: u64, threads: usize) -> VecEnv {
    VecEnv::new(sc.clone(), b, seed, AutoresetMode::NextStep, threads).unwrap()
}

/// Seeds `seed..seed + b`.
pub fn seeds(seed: u64, b: usize) -> Vec<u64> {
    (0..b as u64).map(|i| seed + i).collect()
}

/// The bits of floats (so that NaNs compare equal to themselves).
pub fn bits<'a>(x: impl IntoIterator<Item = &'a f64>) -> Vec<u64> {
    x.into_iter().map(|v| v.to_bits()).collect()
}
