//! One MCIA environment: state, reset, step (SPEC section 4), observation (section 5) and info (section 6).
//!
//! [`Env::step`] writes into caller-owned slices and never allocates. The random draws of a step
//! ([`StepNoise`]) are taken in a fixed order, after the reward is computed, so that [`Env::peek_noise`]
//! can tell a reference implementation exactly which exogenous values the next step will use.

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::action::{validate_action, ActionRef};
use crate::error::{SnapshotError, StepError};
use crate::outputs::{EnvInfoMut, FloatField as F, IntField as I, ScalarField};
use crate::scenario::{Scenario, OBS_PER_DEVICE};
use crate::sim::lanes::{Portable, Vector};
use crate::sim::{compute, lanes, load, radio, shares, tasks};

/// The random number generator of one environment: xoshiro256++, 32 bytes of state, serialisable, and
/// about 10% fewer instructions per step than ChaCha8 (measured with callgrind on the rollout example).
pub type EnvRng = Xoshiro256PlusPlus;

/// State of one end device.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceState {
    /// Task waiting this slot: 0 none, 1 accuracy-sensitive, 2 latency-sensitive.
    pub task: u8,
    /// Index of the background load level.
    pub load: u8,
    /// Distance to the edge, m.
    pub distance_m: f64,
    /// Real part of the fading coefficient h.
    pub h_re: f64,
    /// Imaginary part of the fading coefficient h.
    pub h_im: f64,
    /// Seconds of local work still queued, `q_n`.
    pub backlog_s: f64,
    /// Index of the throughput trace the device replays (0 on synthetic channels).
    #[serde(default)]
    pub trace: u32,
    /// Where in its trace the device started, seconds (0 on synthetic channels).
    #[serde(default)]
    pub trace_offset_s: f64,
}

/// Where an environment is in its episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Never reset: `step` is an error.
    NeverReset,
    /// In an episode.
    Running,
    /// The episode ended (truncated): `step` is an error until the next reset.
    Ended,
}

/// Full state of one environment, RNG included: restoring it continues bit-identically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Slot index t.
    pub t: u32,
    /// Index of the edge background load level.
    pub edge_load: u8,
    /// Work the edge still holds from earlier slots, `q_E`, seconds at full edge speed.
    pub edge_backlog_s: f64,
    /// Index of the WAN load level (0 without the cloud tier).
    #[serde(default)]
    pub wan_load: u8,
    /// Per-device state, `[N]`.
    pub devices: Vec<DeviceState>,
    /// Episode status.
    pub status: Status,
    /// The RNG, positioned at the next draw.
    pub rng: EnvRng,
}

/// Largest magnitude of a fading component a snapshot may hold: `|h|^2` of a unit-power Rayleigh channel
/// exceeds 1e6 with probability e^-1e6, so anything larger was not made by the simulator.
pub const MAX_FADING: f64 = 1e3;

impl Snapshot {
    /// Checks every field against the scenario `sc`: the number of devices, level indices, the slot index
    /// against the status (a running episode has t < episode_slots, an ended one t = episode_slots, a never
    /// reset environment t = 0), distances inside the configured range, finite fading components of
    /// magnitude at most [`MAX_FADING`], backlogs finite, non-negative and at most
    /// [`crate::sim::compute::MAX_TIME_S`], task codes, and an RNG state that is not all zeros (xoshiro never
    /// leaves that state, and the normal sampler would loop forever in it).
    pub fn check(&self, sc: &Scenario) -> Result<(), SnapshotError> {
        let bad = |what: String| Err(SnapshotError(what));
        if self.devices.len() != sc.n {
            return bad(format!("has {} devices, the scenario has {}", self.devices.len(), sc.n));
        }
        if self.edge_load as usize >= sc.edge_levels.len() {
            return bad(format!("edge_load level {} out of range 0..{}", self.edge_load, sc.edge_levels.len()));
        }
        let wan_levels = if sc.cloud { sc.wan_levels.len() } else { 1 };
        if self.wan_load as usize >= wan_levels {
            return bad(format!("wan_load level {} out of range 0..{wan_levels}", self.wan_load));
        }
        let time_ok = |x: f64| x.is_finite() && (0.0..=compute::MAX_TIME_S).contains(&x);
        if !time_ok(self.edge_backlog_s) {
            return bad(format!("edge_backlog_s = {} must be in [0, {:e}]", self.edge_backlog_s, compute::MAX_TIME_S));
        }
        let slots = sc.config.time.episode_slots;
        let t_ok = match self.status {
            Status::Running => self.t < slots,
            Status::Ended => self.t == slots,
            Status::NeverReset => self.t == 0,
        };
        if !t_ok {
            return bad(format!("t = {} does not fit status {:?} (episode_slots = {slots})", self.t, self.status));
        }
        let r = &sc.config.radio;
        for (k, d) in self.devices.iter().enumerate() {
            let field = |name: &str, v: String| bad(format!("device {k}: {name} = {v} out of range"));
            if d.task > tasks::TASK_LS {
                return field("task", format!("{} (0 none, 1 AS, 2 LS)", d.task));
            }
            if d.load as usize >= sc.device_levels.len() {
                return field("load", format!("{} (levels 0..{})", d.load, sc.device_levels.len()));
            }
            if !(d.distance_m >= r.distance_min_m && d.distance_m <= r.distance_max_m) {
                return field("distance_m", format!("{} (the scenario's range is [{}, {}])", d.distance_m, r.distance_min_m, r.distance_max_m));
            }
            for (name, v) in [("h_re", d.h_re), ("h_im", d.h_im)] {
                if !(v.is_finite() && v.abs() <= MAX_FADING) {
                    return field(name, format!("{v} (|h| components are at most {MAX_FADING})"));
                }
            }
            if !time_ok(d.backlog_s) {
                return field("backlog_s", format!("{}", d.backlog_s));
            }
            let traces = sc.traces.as_ref().map_or(1, |t| t.traces.len());
            if d.trace as usize >= traces {
                return field("trace", format!("{} (the scenario has {traces} traces)", d.trace));
            }
            let period = sc.traces.as_ref().map_or(0.0, |t| t.traces[d.trace as usize].period);
            if !(d.trace_offset_s.is_finite() && d.trace_offset_s >= 0.0 && (d.trace_offset_s < period || d.trace_offset_s == 0.0)) {
                return field("trace_offset_s", format!("{} (the trace's period is {period} s)", d.trace_offset_s));
            }
        }
        if self.rng == zero_rng() {
            return bad("the RNG state is all zeros, which the generator never reaches".into());
        }
        Ok(())
    }
}

/// The all-zero xoshiro state (only reachable by deserialising it).
fn zero_rng() -> EnvRng {
    serde_json::from_str(r#"{"s":[0,0,0,0]}"#).expect("a four-word xoshiro state")
}

/// The exogenous random draws of one device in one step, in the order they are taken.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceNoise {
    /// Standard normal for the real part of the fading innovation.
    pub z_re: f64,
    /// Standard normal for the imaginary part of the fading innovation.
    pub z_im: f64,
    /// Uniform [0, 1) for the mobility step.
    pub u_move: f64,
    /// Uniform [0, 1) for the load chain.
    pub u_load: f64,
    /// Uniform [0, 1) deciding whether a task arrives.
    pub u_arrive: f64,
    /// Uniform [0, 1) deciding the task type.
    pub u_type: f64,
}

/// A standard normal draw. Called through the distribution directly: the generic `Rng::sample` wrapper is
/// not always inlined into the step, and an outlined call costs about a tenth of the step (callgrind).
#[inline(always)]
fn normal(rng: &mut EnvRng) -> f64 {
    <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)
}

impl DeviceNoise {
    #[inline(always)]
    fn draw(rng: &mut EnvRng) -> Self {
        Self {
            z_re: normal(rng),
            z_im: normal(rng),
            u_move: rng.random(),
            u_load: rng.random(),
            u_arrive: rng.random(),
            u_type: rng.random(),
        }
    }
}

/// Every random draw of one step: the devices' in device order, then the edge load's, then (with the
/// cloud tier only) the WAN load's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepNoise {
    /// Per-device draws, `[N]`.
    pub devices: Vec<DeviceNoise>,
    /// Uniform [0, 1) for the edge load chain.
    pub u_edge_load: f64,
    /// Uniform [0, 1) for the WAN load chain (absent without the cloud tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u_wan_load: Option<f64>,
}

/// The observation's `task_as`, `task_ls` entries per task code, looked up rather than branched on (the
/// task is random, so a branch would be mispredicted often).
const TASK_ONE_HOT: [[f32; 2]; 3] = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];

/// What a step returns besides the buffers it wrote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// Mean utility over devices with a task (0 when none has one).
    pub reward: f64,
    /// Always false: MCIA is a continuing task.
    pub terminated: bool,
    /// True when the episode reached `episode_slots`.
    pub truncated: bool,
}

/// One MCIA environment.
#[derive(Clone, Debug)]
pub struct Env {
    scenario: Arc<Scenario>,
    devices: Vec<DeviceState>,
    edge_load: u8,
    edge_backlog_s: f64,
    wan_load: u8,
    t: u32,
    status: Status,
    rng: EnvRng,
    /// Each device's linear path gain `10^(-PL(d)/10)`, recomputed for all devices at once whenever the
    /// distances change (reset, transition, restore): the observation and the next step's rates both use it.
    path_gain: Vec<f64>,
}

impl Env {
    /// A new environment whose RNG is seeded with `seed`; call [`Env::reset`] before stepping.
    pub fn new(scenario: Arc<Scenario>, seed: u64) -> Self {
        let blank = DeviceState { task: 0, load: 0, distance_m: scenario.config.radio.distance_min_m, h_re: 1.0, h_im: 0.0, backlog_s: 0.0, trace: 0, trace_offset_s: 0.0 };
        let path_gain = vec![scenario.path_gain(blank.distance_m); scenario.n];
        Self {
            devices: vec![blank; scenario.n],
            edge_load: 0,
            edge_backlog_s: 0.0,
            wan_load: 0,
            t: 0,
            status: Status::NeverReset,
            rng: EnvRng::seed_from_u64(seed),
            path_gain,
            scenario,
        }
    }

    /// The scenario this environment simulates.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Episode status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Slot index t.
    pub fn t(&self) -> u32 {
        self.t
    }

    /// Per-device state.
    pub fn devices(&self) -> &[DeviceState] {
        &self.devices
    }

    /// Index of the edge load level.
    pub fn edge_load(&self) -> u8 {
        self.edge_load
    }

    /// Work the edge still holds from earlier slots, `q_E`, seconds.
    pub fn edge_backlog_s(&self) -> f64 {
        self.edge_backlog_s
    }

    /// Index of the WAN load level (0 without the cloud tier).
    pub fn wan_load(&self) -> u8 {
        self.wan_load
    }

    /// Available WAN capacity `R_W = backhaul_bps * (1 - rho_W)`, bit/s (with the cloud tier).
    #[inline]
    pub fn wan_bps(&self) -> f64 {
        let sc = &*self.scenario;
        if sc.cloud {
            sc.config.cloud.backhaul_bps * (1.0 - sc.wan_levels[self.wan_load as usize])
        } else {
            0.0
        }
    }

    /// Full-band uplink throughput of device k's trace in the current slot, bit/s (0 on synthetic channels).
    #[inline]
    pub fn trace_bps(&self, k: usize) -> f64 {
        match &self.scenario.traces {
            None => 0.0,
            Some(set) => {
                let dev = &self.devices[k];
                set.traces[dev.trace as usize].at(dev.trace_offset_s + self.t as f64 * self.scenario.config.time.slot_s)
            }
        }
    }

    /// Starts a new episode. With `Some(seed)` the RNG is reseeded first (so the episode depends on the seed
    /// alone); with `None` the RNG continues. Writes the observation (`[7N + 3]`) and, if given, the info
    /// (state fields of the new slot; decision fields NaN / -1).
    ///
    /// The buffers are checked first (`obs` of length `obs_dim`, `info` of this scenario's N): on error
    /// nothing changes.
    pub fn reset(&mut self, seed: Option<u64>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) -> Result<(), StepError> {
        self.check_buffers(obs, info.as_ref())?;
        self.reset_prevalidated(seed, obs, info);
        Ok(())
    }

    /// Checks output buffers against the scenario.
    fn check_buffers(&self, obs: &[f32], info: Option<&EnvInfoMut<'_>>) -> Result<(), StepError> {
        let sc = &*self.scenario;
        if obs.len() != sc.obs_dim() {
            return Err(StepError::Shape { message: format!("the obs buffer must have {} entries (7N + 3), got {}", sc.obs_dim(), obs.len()) });
        }
        if let Some(i) = info.filter(|i| i.num_devices() != sc.n) {
            return Err(StepError::Shape { message: format!("the info buffers must be for {} devices, got {}", sc.n, i.num_devices()) });
        }
        Ok(())
    }

    /// [`Env::reset`] with buffers already checked.
    pub(crate) fn reset_prevalidated(&mut self, seed: Option<u64>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) {
        if let Some(s) = seed {
            self.rng = EnvRng::seed_from_u64(s);
        }
        let sc = &*self.scenario;
        let r = &sc.config.radio;
        let kd = sc.device_levels.len();
        for dev in self.devices.iter_mut() {
            let u_dist: f64 = self.rng.random();
            let (h_re, h_im) = radio::cn01(normal(&mut self.rng), normal(&mut self.rng));
            let u_load: f64 = self.rng.random();
            let u_arrive: f64 = self.rng.random();
            let u_type: f64 = self.rng.random();
            *dev = DeviceState {
                task: tasks::draw_task(u_arrive, u_type, sc.config.tasks.arrival_prob, sc.config.tasks.as_ratio),
                load: load::uniform_state(kd, u_load),
                distance_m: r.distance_min_m + u_dist * (r.distance_max_m - r.distance_min_m),
                h_re,
                h_im,
                backlog_s: 0.0,
                trace: 0,
                trace_offset_s: 0.0,
            };
        }
        self.edge_load = load::uniform_state(sc.edge_levels.len(), self.rng.random());
        self.edge_backlog_s = 0.0;
        // The cloud tier's and the traces' draws come after every MCIA-v0 draw, so that without them the
        // RNG stream is unchanged.
        self.wan_load = if sc.cloud { load::uniform_state(sc.wan_levels.len(), self.rng.random()) } else { 0 };
        if let Some(set) = &sc.traces {
            for dev in self.devices.iter_mut() {
                let u_trace: f64 = self.rng.random();
                let u_offset: f64 = self.rng.random();
                dev.trace = ((u_trace * set.traces.len() as f64) as usize).min(set.traces.len() - 1) as u32;
                let period = set.traces[dev.trace as usize].period;
                dev.trace_offset_s = (u_offset * period).min(period * (1.0 - f64::EPSILON));
            }
        }
        self.t = 0;
        self.status = Status::Running;
        self.refresh_path_gain::<Portable>();
        self.write_obs(obs);
        if let Some(info) = info {
            self.write_state_info(info, true);
        }
    }

    /// The random draws the next step will take (the RNG is not advanced).
    pub fn peek_noise(&self) -> StepNoise {
        let mut rng = self.rng.clone();
        let devices = (0..self.scenario.n).map(|_| DeviceNoise::draw(&mut rng)).collect();
        let u_edge_load = rng.random();
        StepNoise { devices, u_edge_load, u_wan_load: self.scenario.cloud.then(|| rng.random()) }
    }

    /// Channel power gain `g_n` of device k in its current state.
    #[inline]
    pub fn gain(&self, k: usize) -> f64 {
        let dev = &self.devices[k];
        self.path_gain[k] * (dev.h_re * dev.h_re + dev.h_im * dev.h_im)
    }

    /// Advances one slot with `action` (already validated). Writes the next observation and, if given, the
    /// info of the slot. Dispatches once to a copy of the step specialised for the scenario's tiers, so that
    /// MCIA-v0's step carries no cloud or trace code.
    #[inline(always)]
    fn advance<V: Vector>(&mut self, a: &ActionRef<'_>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) -> StepOutcome {
        match (self.scenario.cloud, self.scenario.traces.is_some()) {
            (false, false) => self.advance_with::<V, false, false>(a, obs, info),
            (true, false) => self.advance_with::<V, true, false>(a, obs, info),
            (false, true) => self.advance_with::<V, false, true>(a, obs, info),
            (true, true) => self.advance_with::<V, true, true>(a, obs, info),
        }
    }

    /// The step of SPEC sections 4 and 8: `CLOUD` when the cloud tier is enabled, `TRACE` when uplinks
    /// replay throughput traces.
    #[inline(always)]
    fn advance_with<V: Vector, const CLOUD: bool, const TRACE: bool>(&mut self, a: &ActionRef<'_>, obs: &mut [f32], mut info: Option<EnvInfoMut<'_>>) -> StepOutcome {
        let sc = &*self.scenario;
        let cfg = &sc.config;
        let (n, l) = (sc.n, sc.l);
        let eps = cfg.action.min_share_weight;
        let edge = self.edge_context();
        let r = &cfg.radio;

        // Equal-length views let the compiler drop the bounds checks in the loops below.
        let (version, partition, bandwidth, compute) = (&a.version[..n], &a.partition[..n], &a.bandwidth[..n], &a.compute[..n]);
        let cloud_partition = if CLOUD { &a.cloud_partition[..n] } else { &[][..] };
        // The effective second cut p2' = max(p1, p2); L (no cloud) without the cloud tier.
        let second_cut = |k: usize| if CLOUD { (cloud_partition[k] as usize).max(partition[k] as usize) } else { l };
        // `&`, not `&&`: both halves are cheap, and a branch on random decisions is mispredicted often.
        let offloads = |k: usize, task: u8| (task != tasks::TASK_NONE) & ((partition[k] as usize) < l);
        // S_E: the edge computes for the device (always the offloading devices without the cloud).
        let edge_computes = |k: usize, task: u8| if CLOUD { (task != tasks::TASK_NONE) & ((partition[k] as usize) < second_cut(k)) } else { offloads(k, task) };

        // Share normalisers: bandwidth over S, compute over S_E.
        let devices = &self.devices;
        let (sum_b, sum_c) = if CLOUD {
            shares::bid_sums_over(bandwidth, compute, eps, |k| offloads(k, devices[k].task), |k| edge_computes(k, devices[k].task))
        } else {
            shares::bid_sums(bandwidth, compute, eps, |k| offloads(k, devices[k].task))
        };
        let cloud = if CLOUD {
            let users = (0..n).filter(|&k| (devices[k].task != tasks::TASK_NONE) & (second_cut(k) < l)).count();
            self.cloud_context(users)
        } else {
            crate::slot::CloudContext { wan_bps: 0.0, wan_users: 0.0 }
        };

        let (mut utility_sum, mut tasks_seen, mut edge_work) = (0.0, 0u32, 0.0);
        for g in 0..n.div_ceil(lanes::LANES) {
            let group = g * lanes::LANES..((g + 1) * lanes::LANES).min(n);
            // The uplink logarithms of the group's offloading devices at once (the others get a dummy 1).
            let mut snr = [1.0; lanes::LANES];
            if !TRACE {
                for (x, k) in snr.iter_mut().zip(group.clone()) {
                    if offloads(k, self.devices[k].task) {
                        *x = radio::snr(shares::share(bandwidth[k], eps, sum_b) * r.bandwidth_hz, r.tx_power_w, self.gain(k), sc.n0);
                    }
                }
            }
            let uplink_log2 = if TRACE { snr } else { lanes::log2_1p_lanes::<V>(snr) };

            for (k, log2_snr) in group.zip(uplink_log2) {
                let ctx = self.device_context(k);
                let busy = if ctx.task == tasks::TASK_NONE {
                    if let Some(info) = info.as_mut() {
                        write_idle_info(info, k, CLOUD);
                    }
                    0.0
                } else {
                    let (v, p) = (version[k] as usize, partition[k] as usize);
                    let p2 = second_cut(k);
                    let b = if p < l { shares::share(bandwidth[k], eps, sum_b) } else { 0.0 };
                    let c = if p < p2 { shares::share(compute[k], eps, sum_c) } else { 0.0 };
                    let rate = match (p < l, TRACE) {
                        (false, _) => 0.0,
                        (true, false) => radio::rate_from_log2(b, b * r.bandwidth_hz, log2_snr),
                        (true, true) => b * ctx.trace_bps,
                    };
                    let out = if CLOUD {
                        sc.device_outcome_cloud(&ctx, &edge, &cloud, &crate::slot::Decision { v, p1: p, p2, b, c }, rate)
                    } else {
                        sc.device_outcome_at_rate(&ctx, &edge, v, p, c, rate)
                    };
                    utility_sum += out.utility;
                    if p < p2 {
                        edge_work += sc.flops_until(v, p2) - sc.flops_until(v, p);
                    }
                    tasks_seen += 1;
                    if let Some(info) = info.as_mut() {
                        let pr = &sc.prefs[ctx.task as usize];
                        let acc = sc.accuracy[v];
                        info.set_float(F::BandwidthShare, k, b);
                        info.set_float(F::ComputeShare, k, c);
                        info.set_float(F::TWait, k, out.latency.wait);
                        info.set_float(F::TLocal, k, out.latency.local);
                        info.set_float(F::TTx, k, out.latency.tx);
                        info.set_float(F::TEdge, k, out.latency.edge);
                        info.set_float(F::Latency, k, out.total);
                        info.set_float(F::Accuracy, k, acc);
                        info.set_float(F::Utility, k, out.utility);
                        info.set_int(I::Version, k, v as i64);
                        info.set_int(I::Partition, k, p as i64);
                        info.set_int(I::DeadlineMet, k, (out.total <= pr.deadline_s) as i64);
                        info.set_int(I::AccuracyMet, k, (acc >= pr.min_accuracy) as i64);
                        if CLOUD {
                            info.set_float(F::TWan, k, out.latency.wan);
                            info.set_float(F::TCloud, k, out.latency.cloud);
                            info.set_int(I::CloudPartition, k, p2 as i64);
                        }
                    }
                    out.latency.local + out.latency.tx
                };
                if let Some(info) = info.as_mut() {
                    info.set_float(F::ChannelGain, k, ctx.gain);
                    info.set_float(F::DeviceFlops, k, ctx.f_dev);
                    info.set_float(F::BacklogS, k, ctx.backlog_s);
                    info.set_int(I::TaskType, k, ctx.task as i64);
                }
                self.devices[k].backlog_s = compute::next_backlog(ctx.backlog_s, busy, cfg.time.slot_s);
            }
        }
        if let Some(info) = info.as_mut() {
            info.set_scalar(ScalarField::EdgeFlops, edge.flops);
            info.set_scalar(ScalarField::EdgeBacklogS, edge.backlog_s);
            if CLOUD {
                info.set_scalar(ScalarField::WanBps, cloud.wan_bps);
            }
        }
        self.edge_backlog_s = compute::next_edge_backlog(edge.backlog_s, edge_work, edge.flops, cfg.time.slot_s);

        self.transition::<V>();
        let reward = if tasks_seen > 0 { utility_sum / tasks_seen as f64 } else { 0.0 };
        self.write_obs_with::<V>(obs);
        let truncated = self.t >= self.scenario.config.time.episode_slots;
        if truncated {
            self.status = Status::Ended;
        }
        StepOutcome { reward, terminated: false, truncated }
    }

    /// The exogenous part of the transition: fading, mobility, load chains, new tasks, t += 1.
    #[inline(always)]
    fn transition<V: Vector>(&mut self) {
        let sc = &*self.scenario;
        let cfg = &sc.config;
        let r = &cfg.radio;
        let kd = sc.device_levels.len();
        for dev in self.devices.iter_mut() {
            let z = DeviceNoise::draw(&mut self.rng);
            (dev.h_re, dev.h_im) = radio::fading_step(dev.h_re, dev.h_im, r.fading_correlation, sc.fading_scale, z.z_re, z.z_im);
            dev.distance_m = radio::mobility_step(dev.distance_m, z.u_move, r.mobility_mps, cfg.time.slot_s, r.distance_min_m, r.distance_max_m);
            dev.load = load::markov_step(&sc.device_cum, kd, dev.load, z.u_load);
            dev.task = tasks::draw_task(z.u_arrive, z.u_type, cfg.tasks.arrival_prob, cfg.tasks.as_ratio);
        }
        let u: f64 = self.rng.random();
        self.edge_load = load::markov_step(&sc.edge_cum, sc.edge_levels.len(), self.edge_load, u);
        if sc.cloud {
            let u: f64 = self.rng.random();
            self.wan_load = load::markov_step(&sc.wan_cum, sc.wan_levels.len(), self.wan_load, u);
        }
        self.t += 1;
        self.refresh_path_gain::<V>();
    }

    /// Steps one slot. On error nothing changes.
    ///
    /// `obs` receives the next observation (`[7N + 3]`); `info`, if given, the slot's info.
    pub fn step(&mut self, action: &ActionRef<'_>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) -> Result<StepOutcome, StepError> {
        self.step_indexed(0, action, obs, info)
    }

    /// [`Env::step`] reporting errors as environment `env_index` (used by the vector env).
    pub fn step_indexed(&mut self, env_index: usize, action: &ActionRef<'_>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) -> Result<StepOutcome, StepError> {
        match self.status {
            Status::Running => {}
            Status::NeverReset => return Err(StepError::NeedsReset { env: env_index, ever_reset: false }),
            Status::Ended => return Err(StepError::NeedsReset { env: env_index, ever_reset: true }),
        }
        self.check_buffers(obs, info.as_ref())?;
        validate_action(&self.scenario, env_index, action)?;
        Ok(self.advance::<Portable>(action, obs, info))
    }

    /// Steps with an action already validated by the caller (the vector env validates a whole batch first).
    #[inline(always)]
    /// `V` is the lane math (every implementation gives the same bits).
    pub(crate) fn step_prevalidated<V: Vector>(&mut self, action: &ActionRef<'_>, obs: &mut [f32], info: Option<EnvInfoMut<'_>>) -> StepOutcome {
        self.advance::<V>(action, obs, info)
    }

    /// Writes the observation of the current state into `obs` (`[7N + 3]`).
    pub fn write_obs(&self, obs: &mut [f32]) {
        self.write_obs_with::<Portable>(obs);
    }

    /// [`Env::write_obs`] with lane math `V`.
    #[inline(always)]
    fn write_obs_with<V: Vector>(&self, obs: &mut [f32]) {
        let sc = &*self.scenario;
        let cfg = &sc.config;
        let r = &cfg.radio;
        let kd = sc.device_levels.len();
        let inv_band_noise = r.tx_power_w / (r.bandwidth_hz * sc.n0);
        let inv_dmax = 1.0 / r.distance_max_m;
        let inv_slot = 1.0 / cfg.time.slot_s;
        let (devices, path_gain) = (&self.devices[..sc.n], &self.path_gain[..sc.n]);
        let obs_compute = &sc.obs_compute[..sc.n * kd];
        let groups = devices.chunks(lanes::LANES).zip(path_gain.chunks(lanes::LANES)).zip(obs[..OBS_PER_DEVICE * sc.n].chunks_mut(OBS_PER_DEVICE * lanes::LANES));
        for (g, ((devs, pgs), obs)) in groups.enumerate() {
            // Full-band spectral efficiency of the group's devices at once.
            let mut snr = [1.0; lanes::LANES];
            for ((x, dev), pg) in snr.iter_mut().zip(devs).zip(pgs) {
                *x = inv_band_noise * (pg * (dev.h_re * dev.h_re + dev.h_im * dev.h_im));
            }
            let spectral = lanes::log2_1p_lanes::<V>(snr);
            for (j, ((dev, o), se)) in devs.iter().zip(obs.chunks_exact_mut(OBS_PER_DEVICE)).zip(spectral).enumerate() {
                let k = g * lanes::LANES + j;
                [o[0], o[1]] = TASK_ONE_HOT[dev.task as usize];
                o[2] = (se / 20.0).min(2.0) as f32;
                o[3] = obs_compute[k * kd + dev.load as usize] as f32;
                o[4] = sc.device_levels[dev.load as usize] as f32;
                o[5] = ((dev.backlog_s * inv_slot).min(10.0) / 10.0) as f32;
                o[6] = (dev.distance_m * inv_dmax) as f32;
            }
        }
        if sc.traces.is_some() {
            // A trace-driven uplink: the normalised current throughput (bit/s per Hz of band, as the
            // spectral efficiency it replaces).
            for (k, o) in obs[..OBS_PER_DEVICE * sc.n].chunks_exact_mut(OBS_PER_DEVICE).enumerate() {
                o[2] = ((self.trace_bps(k) / r.bandwidth_hz) / 20.0).min(2.0) as f32;
            }
        }
        let tail = OBS_PER_DEVICE * sc.n;
        obs[tail] = sc.edge_levels[self.edge_load as usize] as f32;
        obs[tail + 1] = ((self.edge_backlog_s * inv_slot).min(10.0) / 10.0) as f32;
        let time = if sc.cloud {
            obs[tail + 2] = sc.wan_levels[self.wan_load as usize] as f32;
            tail + 3
        } else {
            tail + 2
        };
        obs[time] = (self.t as f64 / cfg.time.episode_slots as f64) as f32;
    }

    /// Writes the state fields of the info (the state the next step will use); with `clear_decisions` the
    /// decision and outcome fields are set to NaN / -1.
    pub fn write_state_info(&self, mut info: EnvInfoMut<'_>, clear_decisions: bool) {
        let sc = &*self.scenario;
        for (k, dev) in self.devices.iter().enumerate() {
            if clear_decisions {
                write_idle_info(&mut info, k, sc.cloud);
            }
            info.set_float(F::ChannelGain, k, self.gain(k));
            info.set_float(F::DeviceFlops, k, compute::effective_flops(sc.device_peak_flops[k], sc.device_levels[dev.load as usize]));
            info.set_float(F::BacklogS, k, dev.backlog_s);
            info.set_int(I::TaskType, k, dev.task as i64);
        }
        info.set_scalar(ScalarField::EdgeFlops, self.edge_flops());
        info.set_scalar(ScalarField::EdgeBacklogS, self.edge_backlog_s);
        if sc.cloud {
            info.set_scalar(ScalarField::WanBps, self.wan_bps());
        }
    }

    /// Recomputes every device's path gain from its distance, a lane group at a time.
    #[inline(always)]
    fn refresh_path_gain<V: Vector>(&mut self) {
        let sc = &*self.scenario;
        for (devs, pgs) in self.devices.chunks(lanes::LANES).zip(self.path_gain.chunks_mut(lanes::LANES)) {
            let mut d = [sc.config.radio.distance_min_m; lanes::LANES];
            for (x, dev) in d.iter_mut().zip(devs) {
                *x = dev.distance_m;
            }
            pgs.copy_from_slice(&sc.path_gain_lanes::<V>(d)[..pgs.len()]);
        }
    }

    /// The full state, RNG included.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            t: self.t,
            edge_load: self.edge_load,
            edge_backlog_s: self.edge_backlog_s,
            wan_load: self.wan_load,
            devices: self.devices.clone(),
            status: self.status,
            rng: self.rng.clone(),
        }
    }

    /// Restores a state taken by [`Env::snapshot`] (of an environment of the same scenario). The snapshot is
    /// checked against this scenario first; on error nothing changes.
    pub fn restore(&mut self, snap: &Snapshot) -> Result<(), SnapshotError> {
        snap.check(&self.scenario)?;
        self.t = snap.t;
        self.edge_load = snap.edge_load;
        self.edge_backlog_s = snap.edge_backlog_s;
        self.wan_load = snap.wan_load;
        self.devices.copy_from_slice(&snap.devices);
        self.refresh_path_gain::<Portable>();
        self.status = snap.status;
        self.rng = snap.rng.clone();
        Ok(())
    }
}

/// Marks device k's decision and outcome fields as absent (NaN / -1); the cloud tier's too when `cloud`.
#[inline]
fn write_idle_info(info: &mut EnvInfoMut<'_>, k: usize, cloud: bool) {
    for f in [F::BandwidthShare, F::ComputeShare, F::TWait, F::TLocal, F::TTx, F::TEdge, F::Latency, F::Accuracy, F::Utility] {
        info.set_float(f, k, f64::NAN);
    }
    for i in [I::Version, I::Partition, I::DeadlineMet, I::AccuracyMet] {
        info.set_int(i, k, -1);
    }
    if cloud {
        info.set_float(F::TWan, k, f64::NAN);
        info.set_float(F::TCloud, k, f64::NAN);
        info.set_int(I::CloudPartition, k, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::outputs::EnvInfo;

    /// The revision-1 scenario (5 devices), whose values the hand computations below use.
    fn scenario() -> Arc<Scenario> {
        Arc::new(Scenario::new(&Config::preset("v0-light").unwrap()).unwrap())
    }

    /// A hand-built state: every device holds a task, fixed channel and load.
    fn fixed_env() -> Env {
        let sc = scenario();
        let mut env = Env::new(sc, 0);
        let mut obs = vec![0.0; 38];
        env.reset(Some(0), &mut obs, None).unwrap();
        for (k, d) in env.devices.iter_mut().enumerate() {
            *d = DeviceState { task: if k % 2 == 0 { 1 } else { 2 }, load: 1, distance_m: 100.0, h_re: 1.0, h_im: 0.0, backlog_s: 0.1 * k as f64, trace: 0, trace_offset_s: 0.0 };
        }
        env.edge_load = 0;
        env.refresh_path_gain::<Portable>();
        env
    }

    #[test]
    fn one_step_matches_hand_computation() {
        let mut env = fixed_env();
        let sc = env.scenario().clone();
        let n = sc.n;
        // Device 0: full local with 1.0_224; devices 1-4: cut after unit 5 with weights 1, 1, 3, 0 (floored to eps).
        let version = [0i64, 1, 2, 3, 0];
        let partition = [16i64, 5, 5, 5, 0];
        let bandwidth = [0.5, 1.0, 1.0, 3.0, 0.0];
        let compute_w = [0.5, 1.0, 1.0, 1.0, 1.0];
        let a = ActionRef { version: &version, partition: &partition, bandwidth: &bandwidth, compute: &compute_w, cloud_partition: &[] };
        let mut obs = vec![0.0; 38];
        let mut info = EnvInfo::zeros(n);
        let before = env.devices.clone();
        let out = env.step(&a, &mut obs, Some(info.view_mut())).unwrap();
        let f = |field: F, k: usize| info.float(field)[k];

        let eps = 1e-3;
        let sum_b = 1.0 + 1.0 + 3.0 + eps;
        let sum_c = 1.0 + 1.0 + 1.0 + 1.0;
        let n0 = 10f64.powf(-19.9);
        let g = 10f64.powf(-(128.1 + 37.6 * (0.1f64).log10()) / 10.0);
        let mut utilities = vec![];
        for k in 0..n {
            let f_dev = sc.device_peak_flops[k] * 0.7;
            let (v, p) = (version[k] as usize, partition[k] as usize);
            let local = sc.flops_until(v, p) / f_dev;
            let (tx, edge) = if p < 16 {
                let b = bandwidth[k].max(eps) / sum_b;
                let c = compute_w[k] / sum_c;
                let rate = b * 10e6 * (1.0 + 0.1 * g / (b * 10e6 * n0)).log2();
                (8.0 * sc.bytes_at(v, p) / rate, (sc.flops_until(v, 16) - sc.flops_until(v, p)) / (c * 114.5e9))
            } else {
                (0.0, 0.0)
            };
            let latency = before[k].backlog_s + local + tx + edge;
            let (w, tau, amin) = if k % 2 == 0 { (0.8, 0.5, 0.65) } else { (0.2, 0.1, 0.40) };
            let acc = sc.accuracy[v];
            let ah = ((acc - 0.4) / 0.35f64).clamp(0.0, 1.0);
            let u = w * ah - (1.0 - w) * (latency / tau).min(3.0) - if latency > tau { 1.0 } else { 0.0 } - if acc < amin { 1.0 } else { 0.0 };
            let rel = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-12);
            assert!(rel(f(F::Latency, k), latency), "device {k}: {} vs {latency}", f(F::Latency, k));
            assert!(rel(f(F::Utility, k), u), "device {k}");
            assert!(rel(f(F::TTx, k), tx));
            assert!(rel(f(F::TEdge, k), edge));
            let q = (before[k].backlog_s + local + tx - 0.5).max(0.0);
            assert!(rel(env.devices[k].backlog_s.max(1e-300), q.max(1e-300)));
            utilities.push(u);
        }
        let reward: f64 = utilities.iter().sum::<f64>() / n as f64;
        assert!((out.reward - reward).abs() < 1e-12);
        // Shares of offloading devices sum to 1; the local device has none.
        let bsum: f64 = (1..n).map(|k| f(F::BandwidthShare, k)).sum();
        assert!((bsum - 1.0).abs() < 1e-12);
        assert_eq!(f(F::BandwidthShare, 0), 0.0);
        assert_eq!(info.int(I::Partition)[4], 0);
        assert_eq!(env.t(), 1);
        assert!(!out.truncated && !out.terminated);
    }

    #[test]
    fn observation_entries_hand_values() {
        let mut env = fixed_env();
        env.devices[0].backlog_s = 0.75;
        env.t = 50;
        let mut obs = vec![0.0; 38];
        env.write_obs(&mut obs);
        let g = 10f64.powf(-(128.1 + 37.6 * (0.1f64).log10()) / 10.0);
        let se = ((1.0 + 0.1 * g / (10e6 * 10f64.powf(-19.9))).log2() / 20.0).min(2.0);
        assert_eq!(&obs[0..2], &[1.0, 0.0]);
        assert!((obs[2] as f64 - se).abs() < 1e-6);
        assert!((obs[3] as f64 - (1.0f64 + 0.370 * 0.5 * 0.7).log10() / 2.0).abs() < 1e-6);
        assert_eq!(obs[4], 0.3);
        assert_eq!(obs[5], 0.15);
        assert_eq!(obs[6], (100.0 / 300.0) as f32);
        assert_eq!(&obs[7..9], &[0.0, 1.0]);
        assert_eq!(obs[35], 0.0);
        assert_eq!(obs[36], 0.0);
        assert_eq!(obs[37], 0.5);
    }

    #[test]
    fn episode_truncates_and_step_after_end_is_an_error() {
        let mut cfg = Config::preset("v0-light").unwrap();
        cfg.time.episode_slots = 3;
        let sc = Arc::new(Scenario::new(&cfg).unwrap());
        let mut env = Env::new(sc, 7);
        let mut obs = vec![0.0; 38];
        let zeros = [0i64; 5];
        let full = [16i64; 5];
        let w = [1.0; 5];
        let a = ActionRef { version: &zeros, partition: &full, bandwidth: &w, compute: &w, cloud_partition: &[] };
        assert!(matches!(env.step(&a, &mut obs, None), Err(StepError::NeedsReset { ever_reset: false, .. })));
        env.reset(None, &mut obs, None).unwrap();
        assert!(!env.step(&a, &mut obs, None).unwrap().truncated);
        assert!(!env.step(&a, &mut obs, None).unwrap().truncated);
        assert!(env.step(&a, &mut obs, None).unwrap().truncated);
        assert_eq!(obs[37], 1.0);
        let snap = env.snapshot();
        assert!(matches!(env.step(&a, &mut obs, None), Err(StepError::NeedsReset { ever_reset: true, .. })));
        assert_eq!(env.snapshot(), snap);
    }

    #[test]
    fn edge_carries_work_over_two_slots() {
        // Every device offloads the raw image (p = 0) of 1.0_224 with equal weights, twice, to an edge slowed
        // to 1 GFLOP/s (2 GFLOPS peak at efficiency 0.5, no background load): each slot brings 5 x 1.14 GFLOP,
        // 5.7 s of edge work, so the second slot's tasks wait for what the first slot left.
        let mut cfg = Config::preset("v0-light").unwrap();
        cfg.edge.edge_gflops = 2.0;
        cfg.load.edge_levels = vec![0.0];
        cfg.load.edge_transition = vec![vec![1.0]];
        cfg.tasks.arrival_prob = 1.0;
        let sc = Arc::new(Scenario::new(&cfg).unwrap());
        let n = sc.n;
        let mut env = Env::new(sc.clone(), 3);
        let mut obs = vec![0.0; sc.obs_dim()];
        env.reset(Some(3), &mut obs, None).unwrap();
        assert_eq!(obs[7 * n + 1], 0.0);
        let (zeros, w) = ([0i64; 5], [1.0; 5]);
        let a = ActionRef { version: &zeros, partition: &zeros, bandwidth: &w, compute: &w, cloud_partition: &[] };
        let work = sc.flops_until(0, sc.l);
        let f_edge = 2e9 * 0.5;
        assert_eq!(sc.edge_peak_flops, f_edge);
        let mut info = EnvInfo::zeros(n);

        // Slot 0: the edge is empty; each task runs on a fifth of the edge.
        env.step(&a, &mut obs, Some(info.view_mut())).unwrap();
        for k in 0..n {
            assert_eq!(info.float(F::TEdge)[k], work / (0.2 * f_edge));
        }
        assert_eq!(info.scalar(ScalarField::EdgeBacklogS), 0.0);
        let q1 = 5.0 * work / f_edge - 0.5;
        assert_eq!(env.edge_backlog_s(), (0.0 + 5.0 * work / f_edge - 0.5f64).max(0.0));
        assert!((env.edge_backlog_s() - q1).abs() < 1e-12 && q1 > 5.0);
        assert_eq!(obs[7 * n + 1], ((q1 / 0.5).min(10.0) / 10.0) as f32);

        // Slot 1: every task first waits for q1, and the edge ends with q1 + 5 W / F_E - slot.
        let q_held = env.edge_backlog_s();
        env.step(&a, &mut obs, Some(info.view_mut())).unwrap();
        assert_eq!(info.scalar(ScalarField::EdgeBacklogS), q_held);
        let f = |field: F, k: usize| info.float(field)[k];
        for k in 0..n {
            let want = q1 + work / (0.2 * f_edge);
            assert!((f(F::TEdge, k) - want).abs() < 1e-12 * want, "device {k}");
            assert!((f(F::Latency, k) - (f(F::TWait, k) + f(F::TLocal, k) + f(F::TTx, k) + want)).abs() < 1e-12 * want);
        }
        let q2 = q1 + 5.0 * work / f_edge - 0.5;
        assert!((env.edge_backlog_s() - q2).abs() < 1e-12 * q2);
        assert_eq!(obs[7 * n + 1], 1.0);

        // Running locally neither waits for the edge nor adds to it: it drains by one slot.
        let local = [sc.l as i64; 5];
        let a = ActionRef { version: &zeros, partition: &local, bandwidth: &w, compute: &w, cloud_partition: &[] };
        env.step(&a, &mut obs, Some(info.view_mut())).unwrap();
        assert!(info.float(F::TEdge).iter().all(|&x| x == 0.0));
        assert!((env.edge_backlog_s() - (q2 - 0.5)).abs() < 1e-12 * q2);
        // Snapshots carry the edge backlog.
        let snap = env.snapshot();
        let mut other = Env::new(sc, 0);
        other.restore(&snap).unwrap();
        assert_eq!(other.edge_backlog_s(), env.edge_backlog_s());
    }

    #[test]
    fn tampered_snapshots_are_rejected_and_change_nothing() {
        let mut env = fixed_env();
        let good = env.snapshot();
        let json = serde_json::to_string(&good).unwrap();
        assert!(json.contains(r#""rng":{"s":["#), "{json}");
        let cases: Vec<(Box<dyn Fn(&mut Snapshot)>, &str)> = vec![
            (Box::new(|s| s.rng = zero_rng()), "all zeros"),
            (Box::new(|s| s.t = 100), "does not fit status"),
            (Box::new(|s| s.devices[1].distance_m = 1e4), "distance_m"),
            (Box::new(|s| s.devices[0].h_re = 1e200), "h_re"),
            (Box::new(|s| s.devices[2].backlog_s = f64::NAN), "backlog_s"),
            (Box::new(|s| s.edge_backlog_s = -1.0), "edge_backlog_s"),
            (Box::new(|s| s.devices[3].task = 7), "task"),
        ];
        for (tamper, want) in cases {
            let mut bad = good.clone();
            tamper(&mut bad);
            let e = env.restore(&bad).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should mention {want}");
            assert_eq!(env.snapshot(), good);
        }
        // Unknown keys are refused when parsing.
        let extra = json.replacen("{", r#"{"colour":1,"#, 1);
        assert!(serde_json::from_str::<Snapshot>(&extra).is_err());
        env.restore(&good).unwrap();
    }

    #[test]
    fn peek_noise_predicts_the_transition() {
        let mut env = fixed_env();
        let noise = env.peek_noise();
        let before = env.devices.clone();
        let zeros = [0i64; 5];
        let full = [16i64; 5];
        let w = [1.0; 5];
        let a = ActionRef { version: &zeros, partition: &full, bandwidth: &w, compute: &w, cloud_partition: &[] };
        let mut obs = vec![0.0; 38];
        env.step(&a, &mut obs, None).unwrap();
        for (k, z) in noise.devices.iter().enumerate() {
            let (re, im) = radio::fading_step(before[k].h_re, before[k].h_im, 0.9, radio::fading_innovation_scale(0.9), z.z_re, z.z_im);
            assert_eq!((env.devices[k].h_re, env.devices[k].h_im), (re, im));
            assert_eq!(env.devices[k].task, tasks::draw_task(z.u_arrive, z.u_type, 0.9, 0.5));
        }
    }
}
