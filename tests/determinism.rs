//! Reproducibility contract: same seed and actions give bit-identical results whatever the thread count,
//! batch size or chunking, env i of a vector env equals a single env seeded s + i, and snapshots continue
//! bit-identically.

mod common;

use common::{default_scenario, vec_env, Out};
use mcia::env::{info_f64_len, info_i64_len};
use mcia::rollout::RandomActions;
use mcia::{Env, InfoMut};

/// Runs `steps` steps of a vector env and returns every observation, reward and info value.
fn trace(b: usize, threads: usize, seed: u64, steps: usize) -> (Vec<f32>, Vec<f64>, Vec<f64>, Vec<i64>) {
    let sc = default_scenario();
    let mut v = vec_env(&sc, b, seed, threads);
    let mut out = Out::new(&sc, b);
    let seeds: Vec<u64> = (0..b as u64).map(|i| seed + i).collect();
    v.reset(Some(&seeds), None, out.bufs());
    // Actions come from a 256-env table so that env i gets the same actions whatever the batch size.
    let actions = RandomActions::new(&sc, 256, 7, 99);
    let len = b * sc.n;
    let (mut obs, mut rew, mut inf, mut ii) = (out.obs.clone(), vec![], vec![], vec![]);
    for k in 0..steps {
        let a = actions.batch(k);
        let a = mcia::ActionRef { version: &a.version[..len], partition: &a.partition[..len], bandwidth: &a.bandwidth[..len], compute: &a.compute[..len] };
        v.step(&a, out.bufs()).unwrap();
        obs.extend_from_slice(&out.obs);
        rew.extend_from_slice(&out.rewards);
        inf.extend(out.info_f.iter().map(|x| if x.is_nan() { -7.0 } else { *x }));
        ii.extend_from_slice(&out.info_i);
    }
    (obs, rew, inf, ii)
}

#[test]
fn identical_with_one_and_two_threads() {
    // 256 envs are enough to take the parallel path with 2 threads.
    assert_eq!(trace(256, 1, 5, 120), trace(256, 2, 5, 120));
}

#[test]
fn env_i_of_a_batch_equals_a_single_env_seeded_s_plus_i() {
    let sc = default_scenario();
    let (b, seed, steps) = (64, 1000, 150);
    let mut v = vec_env(&sc, b, seed, 2);
    let mut out = Out::new(&sc, b);
    v.reset(Some(&(0..b as u64).map(|i| seed + i).collect::<Vec<_>>()), None, out.bufs());
    let actions = RandomActions::new(&sc, b, 5, 3);

    let od = sc.obs_dim();
    let (lf, li) = (info_f64_len(sc.n), info_i64_len(sc.n));
    let mut singles: Vec<Env> = (0..b).map(|_| Env::new(sc.clone(), 0)).collect();
    let mut sobs = vec![vec![0.0f32; od]; b];
    for (i, e) in singles.iter_mut().enumerate() {
        e.reset(Some(seed + i as u64), &mut sobs[i], None);
        assert_eq!(&sobs[i][..], &out.obs[i * od..(i + 1) * od]);
    }
    let (mut f, mut ii) = (vec![0.0; lf], vec![0i64; li]);
    for k in 0..steps {
        let batch = actions.batch(k);
        v.step(&batch, out.bufs()).unwrap();
        for (i, e) in singles.iter_mut().enumerate() {
            let r = if e.status() == mcia::Status::Ended {
                e.reset(None, &mut sobs[i], Some(InfoMut { f: &mut f, i: &mut ii }));
                0.0
            } else {
                e.step(&batch.row(i, sc.n), &mut sobs[i], Some(InfoMut { f: &mut f, i: &mut ii })).unwrap().reward
            };
            assert_eq!(&sobs[i][..], &out.obs[i * od..(i + 1) * od], "env {i} step {k}");
            assert_eq!(r.to_bits(), out.rewards[i].to_bits(), "env {i} step {k}");
            assert_eq!(&ii[..], &out.info_i[i * li..(i + 1) * li]);
            // Bit for bit, NaNs included: on x86-64-v3 CPUs the batch runs the AVX2 lane math, a single env the portable one.
            let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&f), bits(&out.info_f[i * lf..(i + 1) * lf]), "env {i} step {k}");
        }
    }
}

#[test]
fn batch_of_one_equals_row_of_batch_of_sixty_four() {
    let (_, r64, _, _) = trace(64, 2, 11, 80);
    let (_, r1, _, _) = trace(1, 1, 11, 80);
    let first: Vec<f64> = r64.iter().step_by(64).copied().collect();
    assert_eq!(first, r1);
}

#[test]
fn snapshot_restore_continues_bit_identically() {
    let sc = default_scenario();
    let b = 128;
    let mut v = vec_env(&sc, b, 42, 2);
    let mut out = Out::new(&sc, b);
    v.reset(Some(&(0..b as u64).map(|i| 42 + i).collect::<Vec<_>>()), None, out.bufs());
    let actions = RandomActions::new(&sc, b, 9, 1);
    for k in 0..37 {
        v.step(&actions.batch(k), out.bufs()).unwrap();
    }
    let snap = v.snapshot();
    // The snapshot survives JSON.
    let json = serde_json::to_string(&snap).unwrap();
    let snap2: Vec<mcia::Snapshot> = serde_json::from_str(&json).unwrap();
    let mut continued = vec![];
    for k in 37..137 {
        v.step(&actions.batch(k), out.bufs()).unwrap();
        continued.push((out.obs.clone(), out.rewards.clone()));
    }
    let mut w = vec_env(&sc, b, 0, 1);
    w.restore(&snap2).unwrap();
    let mut out2 = Out::new(&sc, b);
    for (j, k) in (37..137).enumerate() {
        w.step(&actions.batch(k), out2.bufs()).unwrap();
        assert_eq!(continued[j].0, out2.obs);
        assert_eq!(continued[j].1, out2.rewards);
    }
}

#[test]
fn reset_with_the_same_seed_repeats_the_episode() {
    let a = trace(8, 1, 77, 30);
    let b = trace(8, 1, 77, 30);
    assert_eq!(a, b);
    let c = trace(8, 1, 78, 30);
    assert_ne!(a.1, c.1);
}
