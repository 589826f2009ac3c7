//! The scenario: every parameter of SPEC section 3 as a documented field with its unit and default.
//!
//! A [`Config`] is plain data: it (de)serialises with serde from JSON, TOML or a Python dict, every group
//! and field is optional in a file (missing ones take the defaults below), and unknown keys are rejected.
//! [`Config::validate`] checks every value and names the offending field by its dotted path. Derived
//! quantities (noise power, effective FLOP/s, ...) live in [`crate::scenario::Scenario`], never here.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ConfigError;
use crate::zoo::{self, FamilyProfile};

/// A complete MCIA scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Slot length and episode horizon.
    pub time: TimeConfig,
    /// End devices: their classes and compute.
    pub devices: DevicesConfig,
    /// The edge server's compute.
    pub edge: EdgeConfig,
    /// Uplink radio: bandwidth, power, noise, path loss, mobility, fading.
    pub radio: RadioConfig,
    /// Background load Markov chains of devices and edge.
    pub load: LoadConfig,
    /// Task arrivals and the two task types.
    pub tasks: TasksConfig,
    /// Reward shaping constants.
    pub reward: RewardConfig,
    /// Action post-processing.
    pub action: ActionConfig,
    /// Model family and the versions deployed.
    pub zoo: ZooConfig,
    /// The cloud tier (SPEC section 8; disabled by default, enabled by `MCIA-Cloud-v0`).
    pub cloud: CloudConfig,
}

/// Slot length and episode horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeConfig {
    /// Decision epoch length, seconds (default 0.5).
    pub slot_s: f64,
    /// Episode length in slots; the episode is truncated after this many steps (default 100).
    pub episode_slots: u32,
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self { slot_s: 0.5, episode_slots: 100 }
    }
}

/// The built-in device-class catalog: HPL GFLOPS (geerlingguy/top500-benchmark).
pub fn builtin_device_classes() -> BTreeMap<String, f64> {
    [("pi_zero_2w", 0.370), ("pi4", 11.889), ("pi5", 35.169), ("n100", 62.851)].into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// End devices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Class of each end device, by catalog name; its length is the number of devices N (default N = 10:
    /// `["pi_zero_2w", "pi_zero_2w", "pi4", "pi4", "pi4", "pi4", "pi5", "pi5", "n100", "n100"]`).
    pub device_classes: Vec<String>,
    /// Device-class catalog: name -> HPL peak GFLOPS. Entries given in a config are merged over the
    /// built-in catalog (pi_zero_2w 0.370, pi4 11.889, pi5 35.169, n100 62.851), so users add classes
    /// by name or override a built-in one.
    #[serde(deserialize_with = "merge_over_builtin_classes")]
    pub class_gflops: BTreeMap<String, f64>,
    /// Fraction of HPL peak a device achieves on DNN inference, in (0, 1] (default 0.5).
    pub device_efficiency: f64,
}

fn merge_over_builtin_classes<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let user = BTreeMap::<String, f64>::deserialize(d)?;
    let mut all = builtin_device_classes();
    all.extend(user);
    Ok(all)
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            device_classes: ["pi_zero_2w", "pi_zero_2w", "pi4", "pi4", "pi4", "pi4", "pi5", "pi5", "n100", "n100"].iter().map(|s| s.to_string()).collect(),
            class_gflops: builtin_device_classes(),
            device_efficiency: 0.5,
        }
    }
}

/// The edge server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Edge server HPL peak, GFLOPS (default 229.0, a Ryzen 5 5600X-class machine).
    pub edge_gflops: f64,
    /// Fraction of HPL peak the edge achieves on DNN inference, in (0, 1] (default 0.5).
    pub edge_efficiency: f64,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self { edge_gflops: 229.0, edge_efficiency: 0.5 }
    }
}

/// Uplink radio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadioConfig {
    /// Uplink bandwidth shared by all devices through FDMA, Hz (default 2e6, an IoT-grade LTE-M class uplink).
    pub bandwidth_hz: f64,
    /// Transmit power of each device, W (default 0.1).
    pub tx_power_w: f64,
    /// Thermal noise power spectral density, dBm/Hz (default -174).
    pub noise_dbm_per_hz: f64,
    /// Receiver noise figure, dB (default 5).
    pub noise_figure_db: f64,
    /// Path loss at 1 km, dB: `PL(d) = path_loss_at_1km_db + path_loss_slope_db * log10(d_km)` (default 128.1).
    pub path_loss_at_1km_db: f64,
    /// Path loss slope per decade of distance, dB (default 37.6).
    pub path_loss_slope_db: f64,
    /// Smallest device-edge distance, m; also the reflecting lower bound of mobility (default 50).
    pub distance_min_m: f64,
    /// Largest device-edge distance, m; the reflecting upper bound and the observation scale (default 400).
    pub distance_max_m: f64,
    /// Device speed of the random walk, m/s: per slot `d += U(-1, 1) * mobility_mps * slot_s` (default 1.0).
    pub mobility_mps: f64,
    /// Lag-1 correlation `a` of the Gauss-Markov Rayleigh fading, in [0, 1] (default 0.9).
    pub fading_correlation: f64,
    /// Path of a CSV file of measured uplink throughput traces (`trace_id,time_s,throughput_bps` rows; see
    /// [`crate::sim::trace`]). When set, each device replays a trace and its uplink rate is
    /// `R_n = b_n * trace(t)` instead of the Shannon rate; unset (the default) means synthetic channels.
    pub trace_file: Option<String>,
}

impl Default for RadioConfig {
    fn default() -> Self {
        Self {
            bandwidth_hz: 2e6,
            tx_power_w: 0.1,
            noise_dbm_per_hz: -174.0,
            noise_figure_db: 5.0,
            path_loss_at_1km_db: 128.1,
            path_loss_slope_db: 37.6,
            distance_min_m: 50.0,
            distance_max_m: 400.0,
            mobility_mps: 1.0,
            fading_correlation: 0.9,
            trace_file: None,
        }
    }
}

fn default_transition() -> Vec<Vec<f64>> {
    vec![vec![0.8, 0.15, 0.05], vec![0.1, 0.8, 0.1], vec![0.05, 0.15, 0.8]]
}

/// Background load: one Markov chain per device and one for the edge. A load level `rho` leaves
/// `1 - rho` of the compute to inference tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Device background load levels, each in [0, 1) (default [0.0, 0.4, 0.7]).
    pub device_levels: Vec<f64>,
    /// Row-stochastic transition matrix of the device chains, row = current level
    /// (default [[0.8,0.15,0.05],[0.1,0.8,0.1],[0.05,0.15,0.8]]).
    pub device_transition: Vec<Vec<f64>>,
    /// Edge background load levels, each in [0, 1) (default [0.0, 0.4, 0.7]).
    pub edge_levels: Vec<f64>,
    /// Row-stochastic transition matrix of the edge chain (default as `device_transition`).
    pub edge_transition: Vec<Vec<f64>>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            device_levels: vec![0.0, 0.4, 0.7],
            device_transition: default_transition(),
            edge_levels: vec![0.0, 0.4, 0.7],
            edge_transition: default_transition(),
        }
    }
}

/// The cloud tier of SPEC section 8: an elastic cloud behind a shared edge-to-cloud backhaul whose
/// available capacity follows a Markov chain of background load levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    /// Whether the cloud is a third execution site (default false; true for `MCIA-Cloud-v0`). Disabled, the
    /// simulator is MCIA-v0 bit for bit: no `cloud_partition` action, no `wan_load` observation entry, no
    /// WAN random draws.
    pub enabled: bool,
    /// Cloud HPL-equivalent peak, GFLOPS (default 8100.0, a T4-class FP32 peak).
    pub cloud_gflops: f64,
    /// Fraction of the peak one batch-1 inference achieves, in (0, 1] (default 0.1). The cloud is elastic:
    /// every task gets `F_C = cloud_gflops * 1e9 * cloud_efficiency`, unshared.
    pub cloud_efficiency: f64,
    /// Edge-to-cloud WAN capacity, bit/s, split equally among the tasks that cross it in a slot (default 100e6).
    pub backhaul_bps: f64,
    /// Round-trip propagation delay charged once per task that uses the cloud, seconds (default 0.04).
    pub wan_rtt_s: f64,
    /// WAN background load levels `rho_W`, each in [0, 1): the available capacity is
    /// `backhaul_bps * (1 - rho_W)` (default [0.0, 0.3, 0.6]).
    pub wan_levels: Vec<f64>,
    /// Row-stochastic transition matrix of the WAN chain (default as `load.device_transition`).
    pub wan_transition: Vec<Vec<f64>>,
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            cloud_gflops: 8100.0,
            cloud_efficiency: 0.1,
            backhaul_bps: 100e6,
            wan_rtt_s: 0.04,
            wan_levels: vec![0.0, 0.3, 0.6],
            wan_transition: default_transition(),
        }
    }
}

/// Preferences of one task type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTypeConfig {
    /// Weight `w` of accuracy against latency in the utility, in [0, 1].
    pub weight: f64,
    /// Deadline `tau`, seconds; latency is normalised by it.
    pub deadline_s: f64,
    /// Minimum acceptable top-1 accuracy, in [0, 1].
    pub min_accuracy: f64,
}

/// Task arrivals and types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksConfig {
    /// Probability that a device holds a task in a slot, in [0, 1] (default 0.9).
    pub arrival_prob: f64,
    /// Probability that a task is accuracy-sensitive, in [0, 1] (default 0.5).
    pub as_ratio: f64,
    /// Accuracy-sensitive tasks (default weight 0.8, deadline 0.3 s, min accuracy 0.65).
    pub accuracy_sensitive: TaskTypeConfig,
    /// Latency-sensitive tasks (default weight 0.3, deadline 0.15 s, min accuracy 0.55).
    pub latency_sensitive: TaskTypeConfig,
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self {
            arrival_prob: 0.9,
            as_ratio: 0.5,
            accuracy_sensitive: TaskTypeConfig { weight: 0.8, deadline_s: 0.3, min_accuracy: 0.65 },
            latency_sensitive: TaskTypeConfig { weight: 0.3, deadline_s: 0.15, min_accuracy: 0.55 },
        }
    }
}

/// Reward shaping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// Accuracy mapped to 0 by the normalisation `A_hat = clip((A - acc_lo) / (acc_hi - acc_lo), 0, 1)` (default 0.40).
    pub acc_lo: f64,
    /// Accuracy mapped to 1 by the normalisation (default 0.75).
    pub acc_hi: f64,
    /// Cap on the normalised latency `T / tau` in the utility (default 3.0).
    pub latency_cap: f64,
    /// Utility subtracted when the latency exceeds the deadline (default 1.0).
    pub deadline_penalty: f64,
    /// Utility subtracted when the accuracy is below the task's minimum (default 1.0).
    pub accuracy_penalty: f64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self { acc_lo: 0.40, acc_hi: 0.75, latency_cap: 3.0, deadline_penalty: 1.0, accuracy_penalty: 1.0 }
    }
}

/// Action post-processing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionConfig {
    /// Floor `eps` on share weights before normalisation, so no offloading device gets a zero share (default 1e-3).
    pub min_share_weight: f64,
}

impl Default for ActionConfig {
    fn default() -> Self {
        Self { min_share_weight: 1e-3 }
    }
}

/// The model family and the versions deployed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZooConfig {
    /// Built-in family name (default `"mobilenet_v1"`); ignored when `profile` or `profile_file` is set.
    pub family: String,
    /// Path of a JSON profile file with the user's own family (same layout as [`FamilyProfile`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_file: Option<String>,
    /// The user's own family given inline; takes precedence over `profile_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<FamilyProfile>,
    /// Ordered version names deployed; the action's `version` indexes this list
    /// (default `["1.0_224", "0.75_224", "0.5_224", "0.25_224"]`).
    pub versions: Vec<String>,
    /// Bytes per element of an intermediate feature map on the wire (default 0.25: int8 quantisation plus
    /// entropy coding of the sparse post-ReLU features, about 4x; the raw image stays uint8).
    pub feature_bytes_per_element: f64,
}

impl Default for ZooConfig {
    fn default() -> Self {
        Self {
            family: "mobilenet_v1".into(),
            profile_file: None,
            profile: None,
            versions: ["1.0_224", "0.75_224", "0.5_224", "0.25_224"].iter().map(|s| s.to_string()).collect(),
            feature_bytes_per_element: 0.25,
        }
    }
}

impl ZooConfig {
    /// The family this config selects: the inline profile, else the profile file, else the built-in family.
    pub fn resolve_family(&self) -> Result<FamilyProfile, ConfigError> {
        if let Some(p) = &self.profile {
            p.validate("zoo.profile")?;
            return Ok(p.clone());
        }
        if let Some(path) = &self.profile_file {
            return FamilyProfile::from_json_file(path);
        }
        zoo::builtin_family(&self.family).ok_or_else(|| {
            ConfigError::new("zoo.family", format!("unknown family {:?}; built-in families: {:?} (or set zoo.profile_file)", self.family, zoo::BUILTIN_FAMILIES))
        })
    }
}

// ---- validation helpers: each returns an error naming the field ----

/// Every number a config accepts lies in a physically plausible range. The ranges are wide (many orders of
/// magnitude around any real system), and they make every derived quantity of a step finite: together with
/// the cap on times ([`crate::sim::compute::MAX_TIME_S`]), no config can make a latency, a backlog or a
/// reward infinite or NaN.
fn in_range(field: &str, v: f64, lo: f64, hi: f64, what: &str) -> Result<(), ConfigError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be in [{}, {}] ({what}), got {v}", short(lo), short(hi))))
    }
}

/// A bound as people write it: `1`, `0.5`, `1e12`, `1e-6`.
fn short(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

fn unit_interval(field: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be in [0, 1], got {v}")))
    }
}

/// An efficiency: a fraction in [1e-6, 1] of the peak.
fn efficiency(field: &str, v: f64) -> Result<(), ConfigError> {
    if (1e-6..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::new(field, format!("must be in (0, 1] (at least 1e-6), got {v}")))
    }
}

fn load_chain(levels_field: &str, levels: &[f64], matrix_field: &str, matrix: &[Vec<f64>]) -> Result<(), ConfigError> {
    if levels.is_empty() || levels.len() > 255 {
        return Err(ConfigError::new(levels_field, format!("must hold 1 to 255 levels, got {}", levels.len())));
    }
    for (i, &l) in levels.iter().enumerate() {
        if !(0.0..1.0).contains(&l) {
            return Err(ConfigError::new(&format!("{levels_field}[{i}]"), format!("must be in [0, 1), got {l}")));
        }
    }
    let k = levels.len();
    if matrix.len() != k {
        return Err(ConfigError::new(matrix_field, format!("must be {k}x{k} (one row and column per level), got {} rows", matrix.len())));
    }
    for (i, row) in matrix.iter().enumerate() {
        if row.len() != k {
            return Err(ConfigError::new(&format!("{matrix_field}[{i}]"), format!("must have {k} entries, got {}", row.len())));
        }
        for (j, &p) in row.iter().enumerate() {
            unit_interval(&format!("{matrix_field}[{i}][{j}]"), p)?;
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(ConfigError::new(&format!("{matrix_field}[{i}]"), format!("must sum to 1 (row-stochastic), sums to {sum}")));
        }
    }
    Ok(())
}

fn task_type(prefix: &str, t: &TaskTypeConfig) -> Result<(), ConfigError> {
    unit_interval(&format!("{prefix}.weight"), t.weight)?;
    in_range(&format!("{prefix}.deadline_s"), t.deadline_s, 1e-6, 1e6, "seconds")?;
    unit_interval(&format!("{prefix}.min_accuracy"), t.min_accuracy)
}

/// Largest number of end devices in one scenario.
pub const MAX_DEVICES: usize = 100_000;
/// Longest episode, in slots.
pub const MAX_EPISODE_SLOTS: u32 = 100_000_000;

/// Which text format a config file or string is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// TOML.
    Toml,
}

impl Config {
    /// Number of end devices N.
    pub fn num_devices(&self) -> usize {
        self.devices.device_classes.len()
    }

    /// Checks every value; the error names the first offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("time.slot_s", self.time.slot_s, 1e-6, 1e6, "seconds")?;
        if !(1..=MAX_EPISODE_SLOTS).contains(&self.time.episode_slots) {
            return Err(ConfigError::new("time.episode_slots", format!("must be in [1, {MAX_EPISODE_SLOTS}], got {}", self.time.episode_slots)));
        }

        let d = &self.devices;
        if d.device_classes.is_empty() || d.device_classes.len() > MAX_DEVICES {
            return Err(ConfigError::new("devices.device_classes", format!("must name 1 to {MAX_DEVICES} devices, got {}", d.device_classes.len())));
        }
        for (name, &g) in &d.class_gflops {
            in_range(&format!("devices.class_gflops.{name}"), g, 1e-6, 1e9, "GFLOPS")?;
        }
        for (i, c) in d.device_classes.iter().enumerate() {
            if !d.class_gflops.contains_key(c) {
                let known: Vec<&String> = d.class_gflops.keys().collect();
                return Err(ConfigError::new(
                    &format!("devices.device_classes[{i}]"),
                    format!("unknown device class {c:?}; known classes: {known:?} (add one under devices.class_gflops)"),
                ));
            }
        }
        efficiency("devices.device_efficiency", d.device_efficiency)?;
        in_range("edge.edge_gflops", self.edge.edge_gflops, 1e-6, 1e9, "GFLOPS")?;
        efficiency("edge.edge_efficiency", self.edge.edge_efficiency)?;

        let r = &self.radio;
        in_range("radio.bandwidth_hz", r.bandwidth_hz, 1.0, 1e12, "Hz")?;
        in_range("radio.tx_power_w", r.tx_power_w, 1e-12, 1e6, "W")?;
        in_range("radio.noise_dbm_per_hz", r.noise_dbm_per_hz, -300.0, 0.0, "dBm/Hz")?;
        in_range("radio.noise_figure_db", r.noise_figure_db, 0.0, 100.0, "dB")?;
        in_range("radio.path_loss_at_1km_db", r.path_loss_at_1km_db, 0.0, 400.0, "dB")?;
        in_range("radio.path_loss_slope_db", r.path_loss_slope_db, 0.0, 100.0, "dB per decade")?;
        in_range("radio.distance_min_m", r.distance_min_m, 1e-3, 1e7, "m")?;
        in_range("radio.distance_max_m", r.distance_max_m, 1e-3, 1e7, "m")?;
        if r.distance_max_m < r.distance_min_m {
            return Err(ConfigError::new(
                "radio.distance_max_m",
                format!("must be >= radio.distance_min_m ({}), got {}", r.distance_min_m, r.distance_max_m),
            ));
        }
        in_range("radio.mobility_mps", r.mobility_mps, 0.0, 1e6, "m/s")?;
        unit_interval("radio.fading_correlation", r.fading_correlation)?;

        let l = &self.load;
        load_chain("load.device_levels", &l.device_levels, "load.device_transition", &l.device_transition)?;
        load_chain("load.edge_levels", &l.edge_levels, "load.edge_transition", &l.edge_transition)?;

        let t = &self.tasks;
        unit_interval("tasks.arrival_prob", t.arrival_prob)?;
        unit_interval("tasks.as_ratio", t.as_ratio)?;
        task_type("tasks.accuracy_sensitive", &t.accuracy_sensitive)?;
        task_type("tasks.latency_sensitive", &t.latency_sensitive)?;

        let w = &self.reward;
        unit_interval("reward.acc_lo", w.acc_lo)?;
        unit_interval("reward.acc_hi", w.acc_hi)?;
        if w.acc_hi <= w.acc_lo {
            return Err(ConfigError::new("reward.acc_hi", format!("must be > reward.acc_lo ({}), got {}", w.acc_lo, w.acc_hi)));
        }
        in_range("reward.latency_cap", w.latency_cap, 1e-6, 1e6, "multiples of the deadline")?;
        in_range("reward.deadline_penalty", w.deadline_penalty, 0.0, 1e6, "utility")?;
        in_range("reward.accuracy_penalty", w.accuracy_penalty, 0.0, 1e6, "utility")?;

        in_range("action.min_share_weight", self.action.min_share_weight, 1e-12, 1e12, "a weight")?;

        let c = &self.cloud;
        in_range("cloud.cloud_gflops", c.cloud_gflops, 1e-6, 1e12, "GFLOPS")?;
        efficiency("cloud.cloud_efficiency", c.cloud_efficiency)?;
        in_range("cloud.backhaul_bps", c.backhaul_bps, 1.0, 1e15, "bit/s")?;
        in_range("cloud.wan_rtt_s", c.wan_rtt_s, 0.0, 1e3, "seconds")?;
        load_chain("cloud.wan_levels", &c.wan_levels, "cloud.wan_transition", &c.wan_transition)?;
        if let Some(path) = &r.trace_file {
            crate::sim::trace::TraceSet::from_file(path)?;
        }

        let z = &self.zoo;
        in_range("zoo.feature_bytes_per_element", z.feature_bytes_per_element, 1e-6, 1e3, "bytes")?;
        if z.versions.is_empty() {
            return Err(ConfigError::new("zoo.versions", "must name at least one version"));
        }
        let family = z.resolve_family()?;
        for (i, v) in z.versions.iter().enumerate() {
            if family.version(v).is_none() {
                return Err(ConfigError::new(
                    &format!("zoo.versions[{i}]"),
                    format!("unknown version {v:?} of family {:?}; available: {:?}", family.name, family.version_names()),
                ));
            }
        }
        Ok(())
    }

    /// Parses a config from text; missing fields take their defaults, unknown keys are errors.
    /// The result is validated.
    pub fn from_str_format(text: &str, format: Format) -> Result<Self, ConfigError> {
        // Parsed into a generic value first: the whole text must be one document, and every group must be a
        // table (serde would otherwise fill a struct from a list, field by field).
        let value: serde_json::Value = match format {
            Format::Json => serde_json::from_str(text).map_err(|e| ConfigError::new("", format!("invalid JSON: {e}")))?,
            Format::Toml => {
                let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::new("", format!("invalid TOML: {e}")))?;
                serde_json::to_value(table).map_err(|e| ConfigError::new("", format!("invalid TOML: {e}")))?
            }
        };
        let defaults = serde_json::to_value(Config::default()).expect("the defaults serialise");
        check_tables(&value, &defaults, "")?;
        if let Some(profile) = value.get("zoo").and_then(|z| z.get("profile")) {
            zoo::check_profile_tables(profile, "zoo.profile")?;
        }
        let cfg: Config = serde_path_to_error::deserialize(value).map_err(|e| parse_error(e.path(), &e.inner().to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and validates a JSON config.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_str_format(text, Format::Json)
    }

    /// Parses and validates a TOML config.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_str_format(text, Format::Toml)
    }

    /// Loads a config file; the format comes from the extension (`.json` or `.toml`).
    pub fn from_file(path: &str) -> Result<Self, ConfigError> {
        let format = format_of(path)?;
        let text = read_small_file(path).map_err(|e| ConfigError::new("", format!("cannot read config file {path:?}: {e}")))?;
        Self::from_str_format(&text, format).map_err(|mut e| {
            e.message = format!("{} (in {path})", e.message);
            e
        })
    }

    /// The config as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Config always serialises to JSON")
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises to TOML")
    }

    /// Writes the config; the format comes from the extension.
    pub fn save(&self, path: &str) -> Result<(), ConfigError> {
        let text = match format_of(path)? {
            Format::Json => self.to_json(),
            Format::Toml => self.to_toml(),
        };
        std::fs::write(path, text).map_err(|e| ConfigError::new("", format!("cannot write {path:?}: {e}")))
    }
}

/// Largest config or profile file read, bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The text of a regular file of at most [`MAX_FILE_BYTES`]: a FIFO or a device would block or never end.
pub fn read_small_file(path: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes, more than the {MAX_FILE_BYTES} a scenario file may have", meta.len()));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// Every field that is a table in the defaults must be a table in `given` too.
fn check_tables(given: &serde_json::Value, defaults: &serde_json::Value, path: &str) -> Result<(), ConfigError> {
    use serde_json::Value;
    let (Value::Object(d), Some(g)) = (defaults, given.as_object()) else {
        return match (defaults, given) {
            (Value::Object(_), other) => Err(ConfigError::new(if path.is_empty() { "." } else { path }, format!("must be a table (an object of named fields), got {}", kind(other)))),
            _ => Ok(()),
        };
    };
    for (k, v) in g {
        if let Some(dv) = d.get(k) {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            check_tables(v, dv, &p)?;
        }
    }
    Ok(())
}

/// A word for the JSON type of `v`, for error messages.
pub(crate) fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
    }
}

fn format_of(path: &str) -> Result<Format, ConfigError> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Ok(Format::Json)
    } else if lower.ends_with(".toml") {
        Ok(Format::Toml)
    } else {
        Err(ConfigError::new("", format!("config file {path:?} must end in .json or .toml")))
    }
}

fn parse_error(path: &serde_path_to_error::Path, message: &str) -> ConfigError {
    let p = path.to_string();
    ConfigError::new(if p == "." { "" } else { &p }, format!("is invalid: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_spec() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.num_devices(), 10);
        assert_eq!(c.radio.bandwidth_hz, 2e6);
        assert_eq!(c.load.edge_levels, [0.0, 0.4, 0.7]);
        assert_eq!(c.tasks.latency_sensitive, TaskTypeConfig { weight: 0.3, deadline_s: 0.15, min_accuracy: 0.55 });
        assert_eq!(c.zoo.feature_bytes_per_element, 0.25);
        assert_eq!(c.class_gflops("pi5"), Some(35.169));
        assert_eq!(c.zoo.versions.len(), 4);
    }

    impl Config {
        fn class_gflops(&self, name: &str) -> Option<f64> {
            self.devices.class_gflops.get(name).copied()
        }
    }

    #[test]
    fn defaults_round_trip_through_json_and_toml() {
        let c = Config::default();
        assert_eq!(Config::from_json_str(&c.to_json()).unwrap(), c);
        assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn partial_files_take_defaults_and_merge_classes() {
        let c = Config::from_toml_str("[radio]\nbandwidth_hz = 5e6\n[devices]\ndevice_classes = [\"jetson\", \"pi4\"]\nclass_gflops = { jetson = 100.0 }\n").unwrap();
        assert_eq!(c.radio.bandwidth_hz, 5e6);
        assert_eq!(c.radio.tx_power_w, 0.1);
        assert_eq!(c.num_devices(), 2);
        assert_eq!(c.class_gflops("jetson"), Some(100.0));
        assert_eq!(c.class_gflops("pi4"), Some(11.889));
    }

    fn err_of(json: &str) -> String {
        Config::from_json_str(json).unwrap_err().to_string()
    }

    #[test]
    fn each_invalid_value_names_its_field() {
        let cases = [
            (r#"{"radio": {"bandwidth_hz": -1}}"#, "radio.bandwidth_hz must be in [1, 1e12] (Hz), got -1"),
            (r#"{"radio": {"tx_power_w": 5e-324}}"#, "radio.tx_power_w must be in [1e-12, 1e6]"),
            (r#"{"radio": {"noise_dbm_per_hz": -1e308}}"#, "radio.noise_dbm_per_hz"),
            (r#"{"devices": {"class_gflops": {"pi4": 1e-310}}}"#, "devices.class_gflops.pi4"),
            (r#"{"reward": {"deadline_penalty": 1e308}}"#, "reward.deadline_penalty"),
            (r#"{"radio": {"bandwith_hz": 1}}"#, "bandwith_hz"),
            (r#"{"radioo": {}}"#, "radioo"),
            (r#"{"tasks": {"arrival_prob": 1.5}}"#, "tasks.arrival_prob must be in [0, 1]"),
            (r#"{"tasks": {"as_ratio": -0.1}}"#, "tasks.as_ratio"),
            (r#"{"tasks": {"latency_sensitive": {"weight": 0.2, "deadline_s": 0, "min_accuracy": 0.4}}}"#, "tasks.latency_sensitive.deadline_s"),
            (r#"{"load": {"device_transition": [[0.5,0.5,0.5],[0.1,0.8,0.1],[0.05,0.15,0.8]]}}"#, "load.device_transition[0] must sum to 1"),
            (r#"{"load": {"edge_transition": [[1.0,0.0],[0.0,1.0]]}}"#, "load.edge_transition must be 3x3"),
            (r#"{"load": {"device_levels": [0.0, 1.0, 0.5]}}"#, "load.device_levels[1]"),
            (r#"{"load": {"edge_levels": [], "edge_transition": []}}"#, "load.edge_levels must hold 1 to 255 levels"),
            (r#"{"devices": {"device_classes": []}}"#, "devices.device_classes must name 1 to 100000 devices, got 0"),
            (r#"{"devices": {"device_classes": ["pi4", "cray"]}}"#, "devices.device_classes[1] unknown device class \"cray\""),
            (r#"{"devices": {"class_gflops": {"x": -3}}}"#, "devices.class_gflops.x must be in [1e-6, 1e9]"),
            (r#"{"devices": {"device_efficiency": 0}}"#, "devices.device_efficiency must be in (0, 1]"),
            (r#"{"zoo": {"versions": ["1.0_224", "2.0_224"]}}"#, "zoo.versions[1] unknown version \"2.0_224\""),
            (r#"{"zoo": {"family": "resnet"}}"#, "zoo.family unknown family"),
            (r#"{"zoo": {"profile_file": "/nonexistent/profile.json"}}"#, "zoo.profile_file cannot read"),
            (r#"{"radio": {"distance_min_m": 100, "distance_max_m": 50}}"#, "radio.distance_max_m must be >= radio.distance_min_m"),
            (r#"{"radio": {"fading_correlation": 1.1}}"#, "radio.fading_correlation"),
            (r#"{"reward": {"acc_lo": 0.8, "acc_hi": 0.7}}"#, "reward.acc_hi must be > reward.acc_lo"),
            (r#"{"action": {"min_share_weight": 0}}"#, "action.min_share_weight must be in [1e-12, 1e12]"),
            (r#"{"time": {"episode_slots": 0}}"#, "time.episode_slots must be in [1, 100000000], got 0"),
            (r#"{"time": {"slot_s": "fast"}}"#, "time.slot_s is invalid"),
            (r#"{"edge": {"edge_gflops": 0}}"#, "edge.edge_gflops must be in [1e-6, 1e9]"),
        ];
        for (json, want) in cases {
            let got = err_of(json);
            assert!(got.contains(want), "config {json}: error {got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn lists_in_place_of_tables_trailing_text_and_special_files_are_refused() {
        let e = Config::from_json_str(r#"{"radio": [123.0, 7.0]}"#).unwrap_err();
        assert_eq!(e.field, "radio");
        assert!(e.message.contains("must be a table"), "{e}");
        let e = Config::from_json_str(r#"{"tasks": {"latency_sensitive": [0.2, 0.1, 0.4]}}"#).unwrap_err();
        assert_eq!(e.field, "tasks.latency_sensitive");
        assert!(Config::from_json_str(r#"{"radio": {}} trailing"#).unwrap_err().to_string().contains("invalid JSON"));
        let e = Config::from_toml_str("radio = [1, 2]\n").unwrap_err();
        assert_eq!(e.field, "radio");
        let e = Config::from_json_str(r#"{"zoo": {"profile": {"name": "x", "versions": [["a", 0.5, 1.0, []]]}}}"#).unwrap_err();
        assert_eq!(e.field, "zoo.profile.versions[0]");
        // A directory (or a FIFO) is not read.
        let dir = std::env::temp_dir();
        let e = Config::from_json_str(&format!(r#"{{"zoo": {{"profile_file": {:?}}}}}"#, dir.to_str().unwrap())).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn toml_errors_name_the_field() {
        let e = Config::from_toml_str("[radio]\nbandwidth_hz = \"wide\"\n").unwrap_err();
        assert_eq!(e.field, "radio.bandwidth_hz");
        let e = Config::from_toml_str("[tasks]\narrival_prob = 2.0\n").unwrap_err();
        assert_eq!(e.field, "tasks.arrival_prob");
    }

    #[test]
    fn inline_profile_is_used() {
        let mut c = Config::default();
        let mut fam = crate::zoo::mobilenet_v1();
        fam.name = "mine".into();
        fam.versions.truncate(2);
        c.zoo.profile = Some(fam);
        c.zoo.versions = vec!["1.0_192".into()];
        c.validate().unwrap();
        c.zoo.versions = vec!["0.5_224".into()];
        assert!(c.validate().unwrap_err().to_string().contains("zoo.versions[0]"));
    }
}
