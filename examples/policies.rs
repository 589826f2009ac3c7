//! Decisions per second of every baseline policy at a batch size:
//!
//! ```text
//! cargo run --release --example policies -- --envs 4096 --threads 2 --steps 5
//! ```

use std::sync::Arc;
use std::time::Instant;

use mcia::env::{info_f64_len, info_i64_len};
use mcia::policies::{by_name, ActionBuffers, PolicyOptions, POLICY_NAMES};
use mcia::{ActionRef, AutoresetMode, Config, InfoMut, Scenario, VecBuffers, VecEnv};

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
        let mut venv = VecEnv::new(sc.clone(), b, 0, AutoresetMode::NextStep, threads);
        let (mut obs, mut rew, mut te, mut tr) = (vec![0.0f32; b * sc.obs_dim()], vec![0.0; b], vec![false; b], vec![false; b]);
        let (mut inf_f, mut inf_i) = (vec![0.0; b * info_f64_len(n)], vec![0; b * info_i64_len(n)]);
        let seeds: Vec<u64> = (0..b as u64).collect();
        venv.reset(Some(&seeds), None, VecBuffers { obs: &mut obs, rewards: &mut rew, terminated: &mut te, truncated: &mut tr, info: None, final_obs: None, final_info: None });
        let (mut v, mut p, mut bw, mut cpu) = (vec![0i64; b * n], vec![0i64; b * n], vec![0.0; b * n], vec![0.0; b * n]);
        let (mut acting, mut reward) = (0.0, 0.0);
        for _ in 0..steps {
            let t = Instant::now();
            venv.act(policy.as_ref(), ActionBuffers { version: &mut v, partition: &mut p, bandwidth: &mut bw, compute: &mut cpu });
            acting += t.elapsed().as_secs_f64();
            let a = ActionRef { version: &v, partition: &p, bandwidth: &bw, compute: &cpu };
            let bufs = VecBuffers { obs: &mut obs, rewards: &mut rew, terminated: &mut te, truncated: &mut tr, info: Some(InfoMut { f: &mut inf_f, i: &mut inf_i }), final_obs: None, final_info: None };
            venv.step(&a, bufs).expect("policies act validly");
            reward += rew.iter().sum::<f64>() / b as f64;
        }
        let rate = (b * steps) as f64 / acting;
        println!("{:<14} {:>16.0} {:>16.0} {:>12.4}", name, rate, rate * n as f64, reward / steps as f64);
    }
}
