//! Rust-native rollout throughput with a fixed random policy.
//!
//! ```text
//! cargo run --release --example rollout -- --envs 4096 --steps 1000 --threads 2 [--config FILE] [--info] [--repeats 5]
//! ```
//! Prints env-steps/s and device-steps/s (median over repeats, with min and max).

use std::sync::Arc;

use mcia::rollout::Rollout;
use mcia::{Config, Scenario};

struct Args {
    envs: usize,
    steps: usize,
    threads: usize,
    repeats: usize,
    info: bool,
    config: Option<String>,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args { envs: 4096, steps: 1000, threads: 2, repeats: 5, info: false, config: None, seed: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--envs" => a.envs = value("--envs")?.parse().map_err(|e| format!("--envs: {e}"))?,
            "--steps" => a.steps = value("--steps")?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--threads" => a.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--repeats" => a.repeats = value("--repeats")?.parse().map_err(|e| format!("--repeats: {e}"))?,
            "--seed" => a.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--config" => a.config = Some(value("--config")?),
            "--info" => a.info = true,
            "-h" | "--help" => {
                println!("usage: rollout [--envs N] [--steps N] [--threads N] [--repeats N] [--seed N] [--config FILE] [--info]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if a.envs == 0 || a.steps == 0 || a.repeats == 0 {
        return Err("--envs, --steps and --repeats must be >= 1".into());
    }
    Ok(a)
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let cfg = match &args.config {
        Some(path) => Config::from_file(path),
        None => Ok(Config::default()),
    }
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let sc = Arc::new(Scenario::new(&cfg).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    }));
    let mut r = Rollout::new(sc.clone(), args.envs, args.threads, args.seed, args.info);
    r.run((args.steps / 10).max(1)); // warm-up: page in buffers, start the pool
    let mut rates: Vec<f64> = Vec::with_capacity(args.repeats);
    let mut reward = 0.0;
    for _ in 0..args.repeats {
        let s = r.run(args.steps);
        rates.push(s.env_steps_per_s);
        reward = s.mean_reward;
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    let n = sc.n as f64;
    println!(
        "envs={} steps={} threads={} info={} devices={} repeats={}",
        args.envs, args.steps, args.threads, args.info, sc.n, args.repeats
    );
    println!("env-steps/s    median {:>12.0}  min {:>12.0}  max {:>12.0}", median, rates[0], rates[rates.len() - 1]);
    println!("device-steps/s median {:>12.0}  min {:>12.0}  max {:>12.0}", median * n, rates[0] * n, rates[rates.len() - 1] * n);
    println!("mean reward {reward:.4}");
}
