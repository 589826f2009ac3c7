//! A validated [`Config`] turned into the constants the hot path reads: per-version cumulative FLOPs and
//! upload sizes per cut, per-device peak FLOP/s, cumulative load-chain rows, noise power. Everything here
//! is derived from the config when the scenario is built; nothing is a default of its own.

use crate::config::Config;
use crate::error::ConfigError;
use crate::sim::trace::TraceSet;
use crate::sim::{lanes, load, radio, tasks};

/// Preferences of one task type as the hot path uses them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskPrefs {
    /// Accuracy weight `w`.
    pub weight: f64,
    /// Deadline `tau`, seconds.
    pub deadline_s: f64,
    /// Minimum accuracy.
    pub min_accuracy: f64,
}

/// Derived, immutable constants of one scenario, shared by every environment built from it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The validated config this scenario was built from.
    pub config: Config,
    /// Number of end devices N.
    pub n: usize,
    /// Number of deployed versions M.
    pub m: usize,
    /// Number of units L (cut points are 0..=L).
    pub l: usize,
    /// Deployed version names, in action order.
    pub version_names: Vec<String>,
    /// Top-1 accuracy per deployed version, `[M]`.
    pub accuracy: Vec<f64>,
    /// Normalised accuracy `A_hat` per version, `[M]`.
    pub accuracy_hat: Vec<f64>,
    /// FLOPs of units 1..p, `[M * (L + 1)]`, index `v * (L + 1) + p`.
    pub cum_flops: Vec<f64>,
    /// Bytes uploaded when cutting after unit p, `[M * (L + 1)]` (input bytes at p = 0, 0 at p = L).
    pub upload_bytes: Vec<f64>,
    /// Peak FLOP/s of each device, `class_gflops * 1e9 * device_efficiency`, `[N]`.
    pub device_peak_flops: Vec<f64>,
    /// Peak FLOP/s of the edge, `edge_gflops * 1e9 * edge_efficiency`.
    pub edge_peak_flops: f64,
    /// Device load levels, `[K_d]`.
    pub device_levels: Vec<f64>,
    /// Cumulative rows of the device load chain, `[K_d * K_d]`.
    pub device_cum: Vec<f64>,
    /// Edge load levels, `[K_e]`.
    pub edge_levels: Vec<f64>,
    /// Cumulative rows of the edge load chain, `[K_e * K_e]`.
    pub edge_cum: Vec<f64>,
    /// Observation `compute` entry per device and load level, `[N * K_d]` (the load is the only thing it varies with).
    pub obs_compute: Vec<f64>,
    /// Noise spectral density N0, W/Hz.
    pub n0: f64,
    /// `10^(-path_loss_at_1km_db / 10)`: linear path gain at 1 km.
    pub path_gain_1km: f64,
    /// Exponent of distance in the path gain, `-path_loss_slope_db / 10`.
    pub path_gain_exponent: f64,
    /// Task preferences indexed by task code (0 unused, 1 AS, 2 LS).
    pub prefs: [TaskPrefs; 3],
    /// `sqrt(1 - a^2) / sqrt(2)`, the innovation factor of a fading step.
    pub fading_scale: f64,
    /// Whether the cloud tier is enabled (SPEC section 8).
    pub cloud: bool,
    /// Cloud FLOP/s every task gets, `F_C = cloud_gflops * 1e9 * cloud_efficiency`.
    pub cloud_flops: f64,
    /// WAN load levels `rho_W`, `[K_W]`.
    pub wan_levels: Vec<f64>,
    /// Cumulative rows of the WAN chain, `[K_W * K_W]`.
    pub wan_cum: Vec<f64>,
    /// The uplink throughput traces, when `radio.trace_file` is set.
    pub traces: Option<TraceSet>,
}

impl Scenario {
    /// Validates `config` and derives the constants.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let family = config.zoo.resolve_family()?;
        let n = config.num_devices();
        let m = config.zoo.versions.len();
        let versions: Vec<_> = config.zoo.versions.iter().map(|name| family.version(name).expect("validated").clone()).collect();
        let l = versions[0].units.len();
        let (lo, hi) = (config.reward.acc_lo, config.reward.acc_hi);

        let mut cum_flops = Vec::with_capacity(m * (l + 1));
        let mut upload_bytes = Vec::with_capacity(m * (l + 1));
        for v in &versions {
            // A quantised version never sends more bytes per element than its own element size.
            let fb = v.feature_bytes_per_element.map_or(config.zoo.feature_bytes_per_element, |own| own.min(config.zoo.feature_bytes_per_element));
            let mut acc = 0.0;
            cum_flops.push(0.0);
            upload_bytes.push(v.input_bytes);
            for (k, u) in v.units.iter().enumerate() {
                acc += u.flops;
                cum_flops.push(acc);
                upload_bytes.push(if k + 1 == l { 0.0 } else { u.out_elems * fb });
            }
        }

        let device_peak_flops: Vec<f64> =
            config.devices.device_classes.iter().map(|c| config.devices.class_gflops[c] * 1e9 * config.devices.device_efficiency).collect();
        let device_levels = config.load.device_levels.clone();
        let obs_compute =
            device_peak_flops.iter().flat_map(|&peak| device_levels.iter().map(move |&rho| ((1.0 + peak * (1.0 - rho) / 1e9).log10() / 2.0).min(2.0))).collect();
        let r = &config.radio;
        let t = &config.tasks;
        let pref = |c: &crate::config::TaskTypeConfig| TaskPrefs { weight: c.weight, deadline_s: c.deadline_s, min_accuracy: c.min_accuracy };
        Ok(Self {
            n,
            m,
            l,
            version_names: config.zoo.versions.clone(),
            accuracy: versions.iter().map(|v| v.accuracy).collect(),
            accuracy_hat: versions.iter().map(|v| tasks::normalised_accuracy(v.accuracy, lo, hi)).collect(),
            cum_flops,
            upload_bytes,
            device_peak_flops,
            edge_peak_flops: config.edge.edge_gflops * 1e9 * config.edge.edge_efficiency,
            device_cum: load::cumulative_rows(&config.load.device_transition),
            device_levels,
            edge_levels: config.load.edge_levels.clone(),
            edge_cum: load::cumulative_rows(&config.load.edge_transition),
            obs_compute,
            n0: radio::noise_psd_w_per_hz(r.noise_dbm_per_hz, r.noise_figure_db),
            path_gain_1km: 10f64.powf(-r.path_loss_at_1km_db / 10.0),
            path_gain_exponent: -r.path_loss_slope_db / 10.0,
            prefs: [pref(&t.latency_sensitive), pref(&t.accuracy_sensitive), pref(&t.latency_sensitive)],
            fading_scale: radio::fading_innovation_scale(r.fading_correlation),
            cloud: config.cloud.enabled,
            cloud_flops: config.cloud.cloud_gflops * 1e9 * config.cloud.cloud_efficiency,
            wan_levels: config.cloud.wan_levels.clone(),
            wan_cum: load::cumulative_rows(&config.cloud.wan_transition),
            traces: match &r.trace_file {
                Some(path) => Some(TraceSet::from_file(path)?),
                None => None,
            },
            config: config.clone(),
        })
    }

    /// Length of the observation vector, `7 N + 3` (`7 N + 4` with the cloud tier).
    pub fn obs_dim(&self) -> usize {
        OBS_PER_DEVICE * self.n + self.obs_global_fields().len()
    }

    /// Names of the observation entries after the per-device ones.
    pub fn obs_global_fields(&self) -> &'static [&'static str] {
        if self.cloud {
            &OBS_GLOBAL_FIELDS_CLOUD
        } else {
            &OBS_GLOBAL_FIELDS
        }
    }

    /// FLOPs of units 1..p of version v.
    #[inline]
    pub fn flops_until(&self, v: usize, p: usize) -> f64 {
        self.cum_flops[v * (self.l + 1) + p]
    }

    /// Bytes uploaded when version v is cut after unit p.
    #[inline]
    pub fn bytes_at(&self, v: usize, p: usize) -> f64 {
        self.upload_bytes[v * (self.l + 1) + p]
    }

    /// Linear path gain `10^(-PL(d)/10)` at distance `d_m` metres (equals `radio::channel_gain` with |h| = 1).
    #[inline]
    pub fn path_gain(&self, d_m: f64) -> f64 {
        lanes::scalar(d_m, |d| self.path_gain_lanes::<lanes::Portable>(d))
    }

    /// [`Scenario::path_gain`] of a group of distances at once (bit-identical to one call each).
    #[inline(always)]
    pub fn path_gain_lanes<V: lanes::Vector>(&self, d_m: lanes::Lanes) -> lanes::Lanes {
        lanes::scaled_pow_lanes::<V>(d_m.map(|d| d * 1e-3), self.path_gain_exponent, self.path_gain_1km)
    }
}

/// Observation entries per device.
pub const OBS_PER_DEVICE: usize = 7;

/// Names of the per-device observation entries, in order (`obs[7 n + k]`).
pub const OBS_DEVICE_FIELDS: [&str; OBS_PER_DEVICE] = ["task_as", "task_ls", "spectral_eff", "compute", "load", "backlog", "distance"];

/// Names of the observation entries after the per-device ones, in order.
pub const OBS_GLOBAL_FIELDS: [&str; 3] = ["edge_load", "edge_backlog", "time"];

/// [`OBS_GLOBAL_FIELDS`] with the cloud tier: the WAN load `rho_W` before the time.
pub const OBS_GLOBAL_FIELDS_CLOUD: [&str; 4] = ["edge_load", "edge_backlog", "wan_load", "time"];

/// Upper bounds of the per-device observation entries (lower bounds are all 0).
pub const OBS_DEVICE_HIGH: [f32; OBS_PER_DEVICE] = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_constants_of_the_default_scenario() {
        let s = Scenario::new(&Config::preset("v0-light").unwrap()).unwrap();
        assert_eq!((s.n, s.m, s.l), (5, 4, 16));
        assert_eq!(s.obs_dim(), 7 * s.n + 3);
        assert_eq!(s.flops_until(0, 0), 0.0);
        assert_eq!(s.bytes_at(0, 0), 224.0 * 224.0 * 3.0);
        assert_eq!(s.bytes_at(0, 16), 0.0);
        assert_eq!(s.bytes_at(0, 1), 112.0 * 112.0 * 32.0);
        assert!((s.flops_until(0, 16) / 2.0 / 569e6 - 1.0).abs() < 0.01);
        assert_eq!(s.device_peak_flops[0], 0.370e9 * 0.5);
        assert_eq!(s.edge_peak_flops, 229e9 * 0.5);
        // Path gain agrees with the dB formula.
        let g = s.path_gain(123.0);
        let want = radio::channel_gain(123.0, 1.0, 0.0, 128.1, 37.6);
        assert!((g / want - 1.0).abs() < 1e-12);
    }
}
