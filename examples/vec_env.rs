//! The Rust API in a few lines: step a vector env with a fixed action and read a named info field.
//!
//! ```text
//! cargo run --release --example vec_env
//! ```

use std::sync::Arc;

use mcia::{ActionsBuf, AutoresetMode, Config, FloatField, Scenario, VecEnv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = Arc::new(Scenario::new(&Config::preset("default")?)?);
    let (b, n) = (64, scenario.n);
    let mut venv = VecEnv::new(scenario.clone(), b, 0, AutoresetMode::NextStep, 2)?;
    venv.reset(None, None)?;
    let mut action = ActionsBuf::zeros(b, n); // version 0 (1.0_224) everywhere ...
    action.partition.fill(1); // ... cut after conv0, equal shares
    action.bandwidth.fill(1.0);
    action.compute.fill(1.0);
    for _ in 0..100 {
        let out = venv.step(&action.view())?;
        let latency = out.info.as_ref().expect("info is on by default").float(FloatField::Latency);
        let mean = latency.iter().filter(|t| !t.is_nan()).sum::<f64>() / latency.iter().filter(|t| !t.is_nan()).count().max(1) as f64;
        println!("reward {:+.3}  mean latency {:.3} s", out.rewards.mean().unwrap_or(0.0), mean);
    }
    Ok(())
}
