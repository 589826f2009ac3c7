//! Property tests over random scenarios, states and actions: observations inside their declared bounds,
//! shares of offloading devices summing to 1, finite non-negative latencies and backlogs, and errors (never
//! panics) on bad actions with the state left unchanged.

use std::sync::Arc;

use mcia::scenario::{OBS_DEVICE_HIGH, OBS_PER_DEVICE};
use mcia::{ActionRef, Config, Env, EnvInfo, FloatField as F, IntField, Scenario, StepError};
use proptest::prelude::*;

const CLASSES: [&str; 4] = ["pi_zero_2w", "pi4", "pi5", "n100"];
const VERSIONS: [&str; 6] = ["1.0_224", "0.75_192", "0.5_160", "0.25_128", "1.0_128", "0.5_224"];

fn config_strategy() -> impl Strategy<Value = Config> {
    (
        prop::collection::vec(0usize..4, 1..9),
        prop::collection::vec(0usize..6, 1..5),
        (1e5f64..1e8, 0.01f64..2.0, 10.0f64..200.0, 0.0f64..300.0),
        (0.0f64..30.0, 0.0f64..=1.0, 0.0f64..=1.0, 0.0f64..=1.0),
        (0.05f64..2.0, 1u32..40, 1.0f64..1000.0, 0.1f64..=1.0),
    )
        .prop_map(|(classes, versions, (bw, power, dmin, dspan), (speed, fading, arrival, as_ratio), (slot, slots, edge, eff))| {
            let mut c = Config::default();
            c.devices.device_classes = classes.iter().map(|&i| CLASSES[i].to_string()).collect();
            c.zoo.versions = versions.iter().map(|&i| VERSIONS[i].to_string()).collect();
            c.radio.bandwidth_hz = bw;
            c.radio.tx_power_w = power;
            c.radio.distance_min_m = dmin;
            c.radio.distance_max_m = dmin + dspan;
            c.radio.mobility_mps = speed;
            c.radio.fading_correlation = fading;
            c.tasks.arrival_prob = arrival;
            c.tasks.as_ratio = as_ratio;
            c.time.slot_s = slot;
            c.time.episode_slots = slots;
            c.edge.edge_gflops = edge;
            c.devices.device_efficiency = eff;
            c
        })
}

/// Deterministic pseudo-random actions from a proptest-chosen seed.
fn actions(sc: &Scenario, seed: u64, step: usize) -> (Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>) {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add((step as u64).wrapping_mul(1442695040888963407) | 1);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let n = sc.n;
    let v = (0..n).map(|_| (next() % sc.m as u64) as i64).collect();
    let p = (0..n).map(|_| (next() % (sc.l as u64 + 1)) as i64).collect();
    // Weights include exact zeros (floored to eps) and values above 1.
    let w = |r: u64| if r.is_multiple_of(5) { 0.0 } else { (r % 1000) as f64 / 400.0 };
    let b = (0..n).map(|_| w(next())).collect();
    let c = (0..n).map(|_| w(next())).collect();
    (v, p, b, c)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn step_invariants(cfg in config_strategy(), seed in any::<u64>(), act_seed in any::<u64>()) {
        let sc = Arc::new(Scenario::new(&cfg).unwrap());
        let n = sc.n;
        let mut env = Env::new(sc.clone(), seed);
        let mut obs = vec![0.0f32; sc.obs_dim()];
        let mut info = EnvInfo::zeros(n);
        env.reset(None, &mut obs, None).unwrap();
        for step in 0..60 {
            for (k, &x) in obs.iter().enumerate() {
                let high = if k < OBS_PER_DEVICE * n { OBS_DEVICE_HIGH[k % OBS_PER_DEVICE] } else { 1.0 };
                prop_assert!(x.is_finite() && x >= 0.0 && x <= high, "obs[{}] = {} outside [0, {}]", k, x, high);
            }
            if env.status() == mcia::Status::Ended {
                env.reset(None, &mut obs, None).unwrap();
                continue;
            }
            let (v, p, b, c) = actions(&sc, act_seed, step);
            let a = ActionRef { version: &v, partition: &p, bandwidth: &b, compute: &c, cloud_partition: &[] };
            let out = env.step(&a, &mut obs, Some(info.view_mut())).unwrap();
            let f = |field: F, k: usize| info.float(field)[k];
            prop_assert!(out.reward.is_finite());
            let (mut bs, mut cs, mut offloaders) = (0.0, 0.0, 0);
            for (k, &pk) in p.iter().enumerate() {
                let task = info.int(IntField::TaskType)[k];
                let lat = f(F::Latency, k);
                if task == 0 {
                    prop_assert!(lat.is_nan());
                    continue;
                }
                prop_assert!(lat.is_finite() && lat >= 0.0, "latency {}", lat);
                for term in [F::TWait, F::TLocal, F::TTx, F::TEdge] { prop_assert!(f(term, k) >= 0.0 && f(term, k).is_finite()); }
                if (pk as usize) < sc.l {
                    offloaders += 1;
                    prop_assert!(f(F::BandwidthShare, k) > 0.0 && f(F::ComputeShare, k) > 0.0);
                    bs += f(F::BandwidthShare, k);
                    cs += f(F::ComputeShare, k);
                }
            }
            if offloaders > 0 {
                prop_assert!((bs - 1.0).abs() < 1e-9 && (cs - 1.0).abs() < 1e-9, "shares sum to {} and {}", bs, cs);
            }
            for d in env.devices() {
                prop_assert!(d.backlog_s >= 0.0 && d.backlog_s.is_finite());
                prop_assert!(d.distance_m >= cfg.radio.distance_min_m && d.distance_m <= cfg.radio.distance_max_m);
            }
        }
    }

    #[test]
    fn bad_actions_are_errors_and_change_nothing(seed in any::<u64>(), device in 0usize..10, which in 0usize..6) {
        let sc = Arc::new(Scenario::new(&Config::default()).unwrap());
        let n = sc.n;
        let mut env = Env::new(sc.clone(), seed);
        let mut obs = vec![0.0f32; sc.obs_dim()];
        env.reset(None, &mut obs, None).unwrap();
        let (mut v, mut p, mut b, mut c) = (vec![0i64; n], vec![3i64; n], vec![0.5; n], vec![0.5; n]);
        match which {
            0 => v[device] = 4,
            1 => p[device] = 17,
            2 => p[device] = -1,
            3 => b[device] = -0.5,
            4 => c[device] = f64::NAN,
            _ => b[device] = f64::INFINITY,
        }
        let before = env.snapshot();
        let obs_before = obs.clone();
        let err = env.step(&ActionRef { version: &v, partition: &p, bandwidth: &b, compute: &c, cloud_partition: &[] }, &mut obs, None).unwrap_err();
        match err {
            StepError::Action(e) => prop_assert_eq!(e.device, Some(device)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        prop_assert_eq!(env.snapshot(), before);
        prop_assert_eq!(obs, obs_before);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// A snapshot with any one field set to any value either restores (and then steps finitely) or is a
    /// SnapshotError that leaves the environment as it was.
    #[test]
    fn tampered_snapshots_restore_validly_or_change_nothing(seed in any::<u64>(), which in 0usize..9, device in 0usize..10, value in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(1e200), Just(-1.0), Just(0.0), Just(600.0)], int in any::<u32>()) {
        let sc = Arc::new(Scenario::new(&Config::default()).unwrap());
        let n = sc.n;
        let mut env = Env::new(sc.clone(), seed);
        let mut obs = vec![0.0f32; sc.obs_dim()];
        env.reset(None, &mut obs, None).unwrap();
        let good = env.snapshot();
        let mut snap = good.clone();
        let d = &mut snap.devices[device % n];
        match which {
            0 => snap.t = int,
            1 => snap.edge_load = (int % 300) as u8,
            2 => snap.edge_backlog_s = value,
            3 => d.distance_m = value,
            4 => d.h_re = value,
            5 => d.h_im = value,
            6 => d.backlog_s = value,
            7 => d.task = (int % 256) as u8,
            _ => d.load = (int % 256) as u8,
        }
        match env.restore(&snap) {
            Err(_) => prop_assert_eq!(env.snapshot(), good),
            Ok(()) => {
                let (v, p, b, c) = actions(&sc, seed, 0);
                let out = env.step(&ActionRef { version: &v, partition: &p, bandwidth: &b, compute: &c, cloud_partition: &[] }, &mut obs, None);
                if let Ok(out) = out {
                    prop_assert!(out.reward.is_finite());
                    prop_assert!(obs.iter().all(|x| x.is_finite()));
                    prop_assert!(env.devices().iter().all(|d| d.backlog_s.is_finite()));
                }
            }
        }
    }

    /// Weights of any finite size (1e308 included) give finite latencies and backlogs for good.
    #[test]
    fn absurd_but_valid_weights_never_poison_the_state(seed in any::<u64>(), big in prop_oneof![Just(f64::MAX), Just(1e308), Just(1e-320), Just(0.0), 1e-12f64..1e12]) {
        let sc = Arc::new(Scenario::new(&Config::default()).unwrap());
        let n = sc.n;
        let mut env = Env::new(sc.clone(), seed);
        let mut obs = vec![0.0f32; sc.obs_dim()];
        env.reset(None, &mut obs, None).unwrap();
        for step in 0..30 {
            let (v, p, _, _) = actions(&sc, seed, step);
            let w: Vec<f64> = (0..n).map(|k| if k % 2 == 0 { big } else { 1e-300 }).collect();
            let out = env.step(&ActionRef { version: &v, partition: &p, bandwidth: &w, compute: &w, cloud_partition: &[] }, &mut obs, None).unwrap();
            prop_assert!(out.reward.is_finite());
            prop_assert!(env.devices().iter().all(|d| d.backlog_s.is_finite()) && env.edge_backlog_s().is_finite());
            prop_assert!(obs.iter().all(|x| x.is_finite()));
        }
    }
}
