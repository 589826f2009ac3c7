//! Reproducibility contract: same seed and actions give bit-identical results whatever the thread count,
//! batch size or chunking, env i of a vector env equals a single env seeded s + i, and snapshots continue
//! bit-identically.

mod common;

use common::{bits, default_scenario, seeds, vec_env};
use mcia::rollout::RandomActions;
use mcia::{EnvInfo, Env, FloatField};

/// Runs `steps` steps of a vector env and returns every observation, reward and info value.
fn trace(b: usize, threads: usize, seed: u64, steps: usize) -> (Vec<f32>, Vec<f64>, Vec<u64>, Vec<i64>) {
    let sc = default_scenario();
    let mut v = vec_env(&sc, b, seed, threads);
    let mut obs = v.reset(Some(&seeds(seed, b)), None).unwrap().obs.iter().copied().collect::<Vec<_>>();
    // Actions come from a 256-env table so that env i gets the same actions whatever the batch size.
    let actions = RandomActions::new(&sc, 256, 7, 99);
    let (mut rew, mut inf, mut ii) = (vec![], vec![], vec![]);
    for k in 0..steps {
        let out = v.step(&actions.batch(k).slice_rows(0, b)).unwrap();
        obs.extend(out.obs.iter());
        rew.extend(out.rewards.iter());
        let info = out.info.as_ref().unwrap();
        // Env-major order, so that row i of a batch is comparable across batch sizes.
        for i in 0..b {
            inf.extend(bits(info.float.index_axis(ndarray::Axis(1), i).iter()));
            ii.extend(info.int.index_axis(ndarray::Axis(1), i).iter());
            inf.extend(bits(info.scalar.index_axis(ndarray::Axis(1), i).iter()));
        }
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
    v.reset(Some(&seeds(seed, b)), None).unwrap();
    let actions = RandomActions::new(&sc, b, 5, 3);

    let od = sc.obs_dim();
    let mut singles: Vec<Env> = (0..b).map(|_| Env::new(sc.clone(), 0)).collect();
    let mut sobs = vec![vec![0.0f32; od]; b];
    for (i, e) in singles.iter_mut().enumerate() {
        e.reset(Some(seed + i as u64), &mut sobs[i], None).unwrap();
        assert_eq!(&sobs[i][..], v.outputs().obs.row(i).as_slice().unwrap());
    }
    let mut info = EnvInfo::zeros(sc.n);
    for k in 0..steps {
        let batch = actions.batch(k);
        let out = v.step(&batch).unwrap();
        let flat = batch.as_flat().unwrap();
        let binfo = out.info.as_ref().unwrap();
        for (i, e) in singles.iter_mut().enumerate() {
            let r = if e.status() == mcia::Status::Ended {
                e.reset(None, &mut sobs[i], Some(info.view_mut())).unwrap();
                0.0
            } else {
                e.step(&flat.row(i, sc.n), &mut sobs[i], Some(info.view_mut())).unwrap().reward
            };
            assert_eq!(&sobs[i][..], out.obs.row(i).as_slice().unwrap(), "env {i} step {k}");
            assert_eq!(r.to_bits(), out.rewards[i].to_bits(), "env {i} step {k}");
            assert_eq!(info.int, binfo.int.index_axis(ndarray::Axis(1), i));
            // Bit for bit, NaNs included: on x86-64-v3 CPUs the batch runs the AVX2 lane math, a single env the portable one.
            assert_eq!(bits(info.float.iter()), bits(binfo.float.index_axis(ndarray::Axis(1), i).iter()), "env {i} step {k}");
            assert_eq!(bits(info.scalar.iter()), bits(binfo.scalar.index_axis(ndarray::Axis(1), i).iter()), "env {i} step {k}");
        }
        assert!(binfo.float(FloatField::ChannelGain).iter().all(|g| *g > 0.0));
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
fn non_contiguous_actions_give_the_same_steps() {
    let sc = default_scenario();
    let b = 96;
    let actions = RandomActions::new(&sc, b, 4, 8);
    let (mut v, mut w) = (vec_env(&sc, b, 3, 2), vec_env(&sc, b, 3, 2));
    v.reset(Some(&seeds(3, b)), None).unwrap();
    w.reset(Some(&seeds(3, b)), None).unwrap();
    for k in 0..30 {
        let a = actions.batch(k);
        // The same action as F-order arrays.
        let (vf, pf) = (a.version.t().as_standard_layout().reversed_axes().to_owned(), a.partition.t().as_standard_layout().reversed_axes().to_owned());
        let (bf, cf) = (a.bandwidth.t().as_standard_layout().reversed_axes().to_owned(), a.compute.t().as_standard_layout().reversed_axes().to_owned());
        assert!(!vf.is_standard_layout());
        let f_order = mcia::Actions { version: vf.view(), partition: pf.view(), bandwidth: bf.view(), compute: cf.view(), cloud_partition: None };
        let r1 = v.step(&a).unwrap().clone();
        let r2 = w.step(&f_order).unwrap();
        assert_eq!((&r1.obs, &r1.rewards), (&r2.obs, &r2.rewards));
        let (i1, i2) = (r1.info.as_ref().unwrap(), r2.info.as_ref().unwrap());
        assert_eq!(bits(i1.float.iter()), bits(i2.float.iter()));
        assert_eq!(i1.int, i2.int);
    }
}

#[test]
fn snapshot_restore_continues_bit_identically() {
    let sc = default_scenario();
    let b = 128;
    let mut v = vec_env(&sc, b, 42, 2);
    v.reset(Some(&seeds(42, b)), None).unwrap();
    let actions = RandomActions::new(&sc, b, 9, 1);
    for k in 0..37 {
        v.step(&actions.batch(k)).unwrap();
    }
    let snap = v.snapshot();
    // The snapshot survives JSON.
    let json = serde_json::to_string(&snap).unwrap();
    let snap2: Vec<mcia::Snapshot> = serde_json::from_str(&json).unwrap();
    let mut continued = vec![];
    for k in 37..137 {
        let out = v.step(&actions.batch(k)).unwrap();
        continued.push((out.obs.clone(), out.rewards.clone()));
    }
    let mut w = vec_env(&sc, b, 0, 1);
    w.restore(&snap2).unwrap();
    for (j, k) in (37..137).enumerate() {
        let out = w.step(&actions.batch(k)).unwrap();
        assert_eq!(continued[j].0, out.obs);
        assert_eq!(continued[j].1, out.rewards);
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
