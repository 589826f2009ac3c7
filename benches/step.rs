//! Criterion benchmarks of batched stepping through the ndarray API with a fixed random policy:
//! `cargo bench --bench step`. Throughput is reported per environment step.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mcia::rollout::{RandomActions, Rollout};
use mcia::{Actions, AutoresetMode, Config, Scenario, VecEnv};

fn step_throughput(c: &mut Criterion) {
    let sc = Arc::new(Scenario::new(&Config::default()).expect("default config is valid"));
    let mut group = c.benchmark_group("vec_env_step");
    for &num_envs in &[1usize, 64, 1024, 16384] {
        for &threads in &[1usize, 2] {
            group.throughput(Throughput::Elements(num_envs as u64));
            let mut r = Rollout::new(sc.clone(), num_envs, threads, 0, false);
            group.bench_with_input(BenchmarkId::new(format!("{threads}t"), num_envs), &num_envs, |b, _| b.iter(|| r.step()));
        }
    }
    group.finish();

    // The info written into `Outputs`, field-major.
    let mut group = c.benchmark_group("vec_env_step_with_info");
    for &num_envs in &[64usize, 1024, 4096] {
        group.throughput(Throughput::Elements(num_envs as u64));
        let mut r = Rollout::new(sc.clone(), num_envs, 1, 0, true);
        group.bench_with_input(BenchmarkId::new("1t", num_envs), &num_envs, |b, _| b.iter(|| r.step()));
    }
    group.finish();

    // Actions given as F-order (B, N) views: copied once into the scratch buffer, then stepped.
    let mut group = c.benchmark_group("vec_env_step_f_order_actions");
    let b = 1024;
    group.throughput(Throughput::Elements(b as u64));
    let table = RandomActions::new(&sc, b, 4, 1);
    let owned: Vec<_> = (0..4)
        .map(|k| {
            let a = table.batch(k);
            let f = |x: ndarray::ArrayView2<'_, i64>| x.t().as_standard_layout().reversed_axes().to_owned();
            let g = |x: ndarray::ArrayView2<'_, f64>| x.t().as_standard_layout().reversed_axes().to_owned();
            (f(a.version), f(a.partition), g(a.bandwidth), g(a.compute))
        })
        .collect();
    let mut venv = VecEnv::new(sc.clone(), b, 0, AutoresetMode::NextStep, 1).expect("valid batch");
    venv.set_with_info(false);
    venv.reset(None, None).expect("reset");
    let mut k = 0;
    group.bench_function("1t/1024", |bench| {
        bench.iter(|| {
            let (v, p, bw, cw) = &owned[k % 4];
            k += 1;
            venv.step(&Actions { version: v.view(), partition: p.view(), bandwidth: bw.view(), compute: cw.view(), cloud_partition: None }).expect("valid actions").rewards.sum()
        })
    });
    group.finish();
}

criterion_group!(benches, step_throughput);
criterion_main!(benches);
