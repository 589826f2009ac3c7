//! Statistics of the exogenous processes over long fixed-seed runs. Tolerances are several standard
//! errors wide (never flaky for these seeds, and any seed is far inside them) yet catch a wrong formula.

mod common;

use common::{default_scenario, seeds, vec_env};
use mcia::sim::load::stationary;
use mcia::{ActionRef, Actions};

#[test]
fn exogenous_processes_match_their_parameters() {
    let sc = default_scenario();
    let (b, steps) = (256, 400);
    let n = sc.n;
    let mut v = vec_env(&sc, b, 2024, 2);
    v.reset(Some(&seeds(2024, b)), None).unwrap();
    let (ver, part, w) = (vec![3i64; b * n], vec![16i64; b * n], vec![1.0; b * n]);
    let a = Actions::from_flat(b, n, &ActionRef { version: &ver, partition: &part, bandwidth: &w, compute: &w, cloud_partition: &[] }).unwrap();

    let (mut power, mut count, mut lag_num, mut lag_den) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut arrivals, mut as_tasks, mut slots) = (0.0f64, 0.0f64, 0.0f64);
    let mut occupancy = [0.0; 3];
    let mut edge_occupancy = [0.0; 3];
    let mut prev: Vec<(f64, f64)> = v.envs().iter().flat_map(|e| e.devices().iter().map(|d| (d.h_re, d.h_im))).collect();
    for _ in 0..steps {
        v.step(&a).unwrap();
        for (ei, e) in v.envs().iter().enumerate() {
            if e.t() <= 1 {
                // A fresh episode: its fading is a new draw, not a continuation.
                for (k, d) in e.devices().iter().enumerate() {
                    prev[ei * n + k] = (d.h_re, d.h_im);
                }
                continue;
            }
            for (k, d) in e.devices().iter().enumerate() {
                let (pr, pi) = prev[ei * n + k];
                power += d.h_re * d.h_re + d.h_im * d.h_im;
                // Re E[h_t conj(h_{t-1})] / E|h|^2 estimates the lag-1 correlation a.
                lag_num += d.h_re * pr + d.h_im * pi;
                lag_den += pr * pr + pi * pi;
                count += 1.0;
                prev[ei * n + k] = (d.h_re, d.h_im);
                slots += 1.0;
                if d.task != 0 {
                    arrivals += 1.0;
                    if d.task == 1 {
                        as_tasks += 1.0;
                    }
                }
                occupancy[d.load as usize] += 1.0;
            }
            edge_occupancy[e.edge_load() as usize] += 1.0;
        }
    }
    let mean_power = power / count;
    assert!((mean_power - 1.0).abs() < 0.02, "E|h|^2 = {mean_power}");
    let rho = lag_num / lag_den;
    assert!((rho - 0.9).abs() < 0.01, "lag-1 correlation {rho}");
    let p_arrive = arrivals / slots;
    assert!((p_arrive - 0.9).abs() < 0.005, "arrival frequency {p_arrive}");
    let p_as = as_tasks / arrivals;
    assert!((p_as - 0.5).abs() < 0.01, "AS frequency {p_as}");
    let pi = stationary(&sc.config.load.device_transition);
    let total: f64 = occupancy.iter().sum();
    for j in 0..3 {
        assert!((occupancy[j] / total - pi[j]).abs() < 0.02, "device load level {j}: {} vs {}", occupancy[j] / total, pi[j]);
    }
    let total: f64 = edge_occupancy.iter().sum();
    for j in 0..3 {
        assert!((edge_occupancy[j] / total - pi[j]).abs() < 0.04, "edge load level {j}: {} vs {}", edge_occupancy[j] / total, pi[j]);
    }
}

#[test]
fn distances_stay_uniform_under_the_reflected_walk() {
    let sc = default_scenario();
    let b = 512;
    let mut v = vec_env(&sc, b, 9, 2);
    v.reset(Some(&seeds(9, b)), None).unwrap();
    let n = sc.n;
    let (ver, part, w) = (vec![0i64; b * n], vec![16i64; b * n], vec![1.0; b * n]);
    let a = Actions::from_flat(b, n, &ActionRef { version: &ver, partition: &part, bandwidth: &w, compute: &w, cloud_partition: &[] }).unwrap();
    for _ in 0..50 {
        v.step(&a).unwrap();
    }
    let d: Vec<f64> = v.envs().iter().flat_map(|e| e.devices().iter().map(|d| d.distance_m)).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let (lo, hi) = (sc.config.radio.distance_min_m, sc.config.radio.distance_max_m);
    assert!((mean - (lo + hi) / 2.0).abs() < 0.02 * (hi - lo), "mean distance {mean}");
    assert!(d.iter().all(|&x| (lo..=hi).contains(&x)));
}
