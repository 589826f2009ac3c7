//! Baseline policies: valid actions on random scenarios, the optimizer never below greedy on a slot,
//! determinism across thread counts, the optimizer's share step for decisions made elsewhere.

mod common;

use std::sync::Arc;

use common::seeds;
use mcia::policies::{by_name, Optimizer, Policy, PolicyOptions, ShareStep, StaticTable, POLICY_NAMES};
use mcia::{validate_action, ActionsBuf, AutoresetMode, Config, Scenario, VecEnv};

fn scenarios() -> Vec<Arc<Scenario>> {
    let mut out = vec![Arc::new(Scenario::new(&Config::default()).unwrap())];
    let mut c = Config::default();
    c.radio.bandwidth_hz = 1e6;
    c.devices.device_classes = vec!["pi4".into(), "pi_zero_2w".into(), "n100".into()];
    c.zoo.versions = vec!["0.25_128".into(), "1.0_224".into(), "0.5_160".into()];
    out.push(Arc::new(Scenario::new(&c).unwrap()));
    let mut c = Config::default();
    c.edge.edge_gflops = 20.0;
    c.tasks.as_ratio = 0.9;
    c.devices.device_classes = vec!["pi5".into(); 9];
    out.push(Arc::new(Scenario::new(&c).unwrap()));
    // The cloud tier, with a slow WAN so that the cloud is sometimes worth it and sometimes not.
    let mut c = Config::default();
    c.cloud.enabled = true;
    c.cloud.backhaul_bps = 20e6;
    c.devices.device_classes = vec!["pi_zero_2w".into(), "pi4".into(), "pi4".into(), "n100".into(), "pi_zero_2w".into()];
    out.push(Arc::new(Scenario::new(&c).unwrap()));
    out
}

/// The built-in policies that apply to `sc` (`cloud_only` needs the cloud tier).
fn names(sc: &Scenario) -> impl Iterator<Item = &'static str> + '_ {
    POLICY_NAMES.into_iter().filter(move |&n| sc.cloud || n != "cloud_only")
}

/// A built-in policy; `static` gets a fixed table (searching one takes seconds even in release builds).
fn policy(name: &str, sc: &Scenario, seed: u64) -> Box<dyn Policy> {
    let mut table = StaticTable { accuracy_sensitive: (0..sc.n).map(|k| [0, k % (sc.l + 1)]).collect(), latency_sensitive: vec![[sc.m - 1, 0]; sc.n], cloud_partition: None };
    if sc.cloud {
        table.cloud_partition = Some(mcia::policies::static_table::SecondCuts { accuracy_sensitive: (0..sc.n).map(|k| (3 * k) % (sc.l + 1)).collect(), latency_sensitive: vec![0; sc.n] });
    }
    by_name(name, sc, &PolicyOptions { seed, table: Some(table), ..Default::default() }).unwrap()
}

/// This slot's reward of every running environment under action `a` and under action `b`, each played on a
/// copy of the environment (the batch does not move).
fn slot_rewards(venv: &VecEnv, a: &ActionsBuf, b: &ActionsBuf) -> Vec<(f64, f64)> {
    let n = venv.scenario().n;
    let mut obs = vec![0.0f32; venv.scenario().obs_dim()];
    let (af, bf) = (a.view().as_flat().unwrap(), b.view().as_flat().unwrap());
    let mut out = vec![];
    for (i, env) in venv.envs().iter().enumerate() {
        if env.status() == mcia::Status::Running {
            let ra = env.clone().step(&af.row(i, n), &mut obs, None).unwrap().reward;
            let rb = env.clone().step(&bf.row(i, n), &mut obs, None).unwrap().reward;
            out.push((ra, rb));
        }
    }
    out
}

#[test]
fn every_policy_gives_valid_actions_on_every_scenario() {
    for sc in scenarios() {
        let b = 32;
        let mut venv = VecEnv::new(sc.clone(), b, 5, AutoresetMode::NextStep, 2).unwrap();
        venv.reset(Some(&seeds(5, b)), None).unwrap();
        for name in names(&sc) {
            let policy = policy(name, &sc, 1);
            let mut act = ActionsBuf::zeros(b, sc.n);
            for _ in 0..10 {
                venv.act(policy.as_ref(), act.view_mut()).unwrap();
                let flat = act.view().as_flat().unwrap();
                for i in 0..b {
                    validate_action(&sc, i, &flat.row(i, sc.n)).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                venv.step(&act.view()).unwrap();
            }
        }
    }
}

#[test]
fn optimizer_is_never_worse_than_greedy_on_a_slot() {
    for sc in scenarios() {
        let b = 48;
        let mut venv = VecEnv::new(sc.clone(), b, 17, AutoresetMode::NextStep, 2).unwrap();
        venv.reset(Some(&seeds(17, b)), None).unwrap();
        let greedy = policy("greedy", &sc, 0);
        let opt = policy("optimizer", &sc, 0);
        let (mut ga, mut oa) = (ActionsBuf::zeros(b, sc.n), ActionsBuf::zeros(b, sc.n));
        let (mut better, mut slots) = (0, 0);
        for _ in 0..25 {
            venv.act(greedy.as_ref(), ga.view_mut()).unwrap();
            venv.act(opt.as_ref(), oa.view_mut()).unwrap();
            for (rg, ro) in slot_rewards(&venv, &ga, &oa) {
                assert!(ro >= rg - 1e-9, "slot utility {ro} < greedy {rg}");
                better += (ro > rg + 1e-9) as usize;
                slots += 1;
            }
            venv.step(&oa.view()).unwrap();
        }
        // It must actually optimise, not merely copy greedy.
        assert!(better * 10 > slots, "optimizer improved only {better} of {slots} slots");
    }
}

#[test]
fn share_step_keeps_the_decisions_and_improves_their_shares() {
    for sc in scenarios() {
        let b = 48;
        let mut venv = VecEnv::new(sc.clone(), b, 23, AutoresetMode::NextStep, 2).unwrap();
        venv.reset(Some(&seeds(23, b)), None).unwrap();
        let greedy = policy("greedy", &sc, 0);
        let step = ShareStep(Optimizer::default());
        let (mut decided, mut shared) = (ActionsBuf::zeros(b, sc.n), ActionsBuf::zeros(b, sc.n));
        let (mut equal_total, mut shared_total, mut offloads) = (0.0, 0.0, 0usize);
        for _ in 0..20 {
            // Greedy's decisions with equal weights, then the same decisions through the share step.
            venv.act(greedy.as_ref(), decided.view_mut()).unwrap();
            shared.assign(&decided.view());
            shared.bandwidth.fill(f64::NAN); // the step must overwrite every weight it is handed
            shared.compute.fill(f64::NAN);
            venv.act(&step, shared.view_mut()).unwrap();
            assert_eq!((&shared.version, &shared.partition, &shared.cloud_partition), (&decided.version, &decided.partition, &decided.cloud_partition));
            let sf = shared.view().as_flat().unwrap();
            for i in 0..b {
                validate_action(&sc, i, &sf.row(i, sc.n)).unwrap_or_else(|e| panic!("share step: {e}"));
            }
            for (re, rs) in slot_rewards(&venv, &decided, &shared) {
                equal_total += re;
                shared_total += rs;
            }
            offloads += decided.partition.iter().filter(|&&p| (p as usize) < sc.l).count();
            venv.step(&decided.view()).unwrap();
        }
        // Shares only matter where devices offload, which greedy need not do on every scenario here.
        assert!(shared_total >= equal_total - 1e-9, "share step {shared_total} below equal shares {equal_total}");
        assert!(offloads == 0 || shared_total > equal_total, "share step {shared_total} not above equal shares {equal_total} with {offloads} offloads");
    }
}

#[test]
fn policies_are_deterministic_across_threads() {
    let sc = scenarios().pop().expect("the cloud scenario");
    assert!(sc.cloud);
    let b = 200;
    for name in names(&sc) {
        let run = |threads: usize| {
            let mut venv = VecEnv::new(sc.clone(), b, 3, AutoresetMode::NextStep, threads).unwrap();
            venv.reset(Some(&seeds(3, b)), None).unwrap();
            let policy = policy(name, &sc, 9);
            let mut act = ActionsBuf::zeros(b, sc.n);
            let mut rewards: Vec<f64> = vec![];
            for _ in 0..6 {
                venv.act(policy.as_ref(), act.view_mut()).unwrap();
                rewards.extend(venv.step(&act.view()).unwrap().rewards.iter());
            }
            (act, rewards)
        };
        assert_eq!(run(1), run(2), "{name}");
    }
}

#[test]
fn unknown_policy_and_version_are_errors() {
    let sc = scenarios().remove(0);
    let e = by_name("oracle", &sc, &PolicyOptions::default()).err().unwrap();
    assert_eq!(e.field, "name");
    assert!(e.to_string().contains("unknown policy"), "{e}");
    let e = by_name("device_only", &sc, &PolicyOptions { version: Some(4), ..Default::default() }).err().unwrap();
    assert_eq!(e.field, "version");
}

#[test]
fn every_policy_acts_inside_the_action_space() {
    // Weights in [0, 1] and indices in range: what the Gymnasium action space declares.
    for sc in scenarios() {
        let b = 24;
        let mut venv = VecEnv::new(sc.clone(), b, 11, AutoresetMode::NextStep, 2).unwrap();
        venv.reset(Some(&seeds(11, b)), None).unwrap();
        for name in names(&sc) {
            let policy = policy(name, &sc, 2);
            let mut act = ActionsBuf::zeros(b, sc.n);
            for _ in 0..15 {
                venv.act(policy.as_ref(), act.view_mut()).unwrap();
                assert!(act.bandwidth.iter().chain(act.compute.iter()).all(|w| (0.0..=1.0).contains(w)), "{name} weights outside [0, 1]");
                venv.step(&act.view()).unwrap();
            }
        }
    }
}
