//! Decisions per second of every baseline policy at a batch size:
//!
//! ```text
//! cargo run --release --example policies -- --envs 4096 --threads 2 --steps 5
//! ```

use std::sync::Arc;
use std::time::Instant;

use mcia::policies::{by_name, PolicyOptions, POLICY_NAMES};
use mcia::{ActionsBuf, AutoresetMode, Config, Scenario, VecEnv};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} needs an integer")))
}

fn main() {
    let (b, threads, steps) = (arg("--envs", 4096), arg("--threads", 2), arg("--steps", 5));
    let sc = Arc::new(Scenario::new(&Config::default()).expect("default config is valid"));
    let n = sc.n;
    println!("envs={b} threads={threads} steps={steps} devices={n}");
    println!("{:<14} {:>16} {:>16} {:>12}", "policy", "env-decisions/s", "device-dec/s", "mean reward");
    for name in POLICY_NAMES {
        // `static` searches its table first (a few seconds).
        let policy = by_name(name, &sc, &PolicyOptions::default()).expect("built-in policy");
        let mut venv = VecEnv::new(sc.clone(), b, 0, AutoresetMode::NextStep, threads).expect("at least one environment");
        let seeds: Vec<u64> = (0..b as u64).collect();
        venv.reset(Some(&seeds), None).expect("one seed per environment");
        let mut action = ActionsBuf::zeros(b, n);
        let (mut acting, mut reward) = (0.0, 0.0);
        for _ in 0..steps {
            let t = Instant::now();
            venv.act(policy.as_ref(), action.view_mut()).expect("buffers fit");
            acting += t.elapsed().as_secs_f64();
            reward += venv.step(&action.view()).expect("policies act validly").rewards.mean().unwrap_or(0.0);
        }
        let rate = (b * steps) as f64 / acting;
        println!("{:<14} {:>16.0} {:>16.0} {:>12.4}", name, rate, rate * n as f64, reward / steps as f64);
    }
}
