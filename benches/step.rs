//! Criterion benchmarks of batched stepping with a fixed random policy:
//! `cargo bench --bench step`. Throughput is reported per environment step.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mcia::rollout::Rollout;
use mcia::{Config, Scenario};

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

    let mut group = c.benchmark_group("vec_env_step_with_info");
    group.throughput(Throughput::Elements(1024));
    let mut r = Rollout::new(sc, 1024, 1, 0, true);
    group.bench_function("1t/1024", |b| b.iter(|| r.step()));
    group.finish();
}

criterion_group!(benches, step_throughput);
criterion_main!(benches);
