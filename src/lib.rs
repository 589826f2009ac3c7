//! # mcia: Multi-Compression-scale DNN Inference Acceleration, simulated
//!
//! Several compressed versions of a DNN run on heterogeneous end devices and one edge server. Every slot an
//! agent picks, per device, the model version, the layer after which the model is cut, and the device's
//! share of the uplink bandwidth and of the edge compute. This crate is the simulator core: the scenario
//! ([`Config`]), the model zoo ([`zoo`]), the physics ([`sim`]), one environment ([`Env`]) and many stepped
//! in parallel into caller-owned buffers ([`VecEnv`]). The contract is `SPEC.md` (sections 2 to 6).
//!
//! ```
//! use std::sync::Arc;
//! use mcia::{ActionRef, Config, Env, Scenario};
//!
//! let scenario = Arc::new(Scenario::new(&Config::default()).unwrap());
//! let mut env = Env::new(scenario.clone(), 0);
//! let mut obs = vec![0.0f32; scenario.obs_dim()];
//! env.reset(Some(42), &mut obs, None).unwrap();
//! let n = scenario.n;
//! let (version, partition, weights) = (vec![0i64; n], vec![scenario.l as i64; n], vec![1.0; n]);
//! let action = ActionRef { version: &version, partition: &partition, bandwidth: &weights, compute: &weights, cloud_partition: &[] };
//! let out = env.step(&action, &mut obs, None).unwrap();
//! assert!(out.reward.is_finite());
//! ```
//!
//! Many environments at once, with the info read by field name:
//!
//! ```
//! use std::sync::Arc;
//! use mcia::{ActionsBuf, AutoresetMode, Config, FloatField, Scenario, VecEnv};
//!
//! let sc = Arc::new(Scenario::new(&Config::preset("iot").unwrap()).unwrap());
//! let mut venv = VecEnv::new(sc.clone(), 8, 0, AutoresetMode::NextStep, 1).unwrap();
//! venv.reset(None, None).unwrap();
//! let mut action = ActionsBuf::zeros(8, sc.n);
//! action.partition.fill(0); // upload the raw image, equal shares
//! action.bandwidth.fill(1.0);
//! action.compute.fill(1.0);
//! let out = venv.step(&action.view()).unwrap();
//! let t_tx = out.info.as_ref().unwrap().float(FloatField::TTx); // (8, N), NaN without a task
//! assert!(t_tx.iter().all(|t| t.is_nan() || *t > 0.0));
//! ```
//!
//! The Python bindings (`--features python`) live in `src/python/` and are the only code that knows pyo3.

#![warn(missing_docs)]

pub mod action;
pub mod config;
pub mod env;
pub mod error;
pub mod outputs;
pub mod policies;
pub mod presets;
pub mod rollout;
pub mod scenario;
pub mod sim;
pub mod slot;
pub mod vec_env;
pub mod zoo;

#[cfg(feature = "python")]
mod python;

pub use action::{validate_action, ActionRef, Actions, ActionsBuf, ActionsMut};
pub use config::Config;
pub use env::{DeviceNoise, DeviceState, Env, Snapshot, Status, StepNoise, StepOutcome};
pub use outputs::{EnvInfo, EnvInfoMut, FloatField, Info, InfoField, IntField, Outputs, OutputsMut, ScalarField, INFO_F64_FIELDS, INFO_F64_SCALARS, INFO_I64_FIELDS};
pub use error::{ActionError, ConfigError, PolicyError, SnapshotError, StepError};
pub use scenario::Scenario;
pub use vec_env::{AutoresetMode, VecEnv};
