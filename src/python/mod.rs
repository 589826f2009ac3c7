//! The `mcia._core` extension module: thin wrappers that check inputs, call one core function and return.
//! This is the only place that knows pyo3. Rust work runs with the GIL released (`py.detach`).
//!
//! - [`errors`]: the exception family and the mapping from core errors;
//! - [`actions`]: reading action fields of any dtype and layout;
//! - [`buffers`]: the numpy output arrays handed out without copying;
//! - [`env`], [`vec_env`], [`policy`]: the three classes.

mod actions;
mod buffers;
mod env;
mod errors;
mod policy;
mod vec_env;

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::config::{Config, Format};
use crate::policies::static_table::SearchOptions;
use crate::policies::{self, StaticTable};
use crate::rollout::Rollout;
use crate::scenario::Scenario;
use crate::zoo;
use errors::{config_err, ActionError, ConfigError, MciaError, PolicyError, ResetNeeded, SnapshotError};

fn scenario_from_json(config_json: &str) -> PyResult<Arc<Scenario>> {
    let cfg = Config::from_json_str(config_json).map_err(config_err)?;
    Ok(Arc::new(Scenario::new(&cfg).map_err(config_err)?))
}

/// Parses `text` (JSON or TOML), fills in defaults, validates, and returns the full config as JSON.
#[pyfunction]
#[pyo3(signature = (text, format = "json"))]
fn normalize_config(text: &str, format: &str) -> PyResult<String> {
    let fmt = match format {
        "json" => Format::Json,
        "toml" => Format::Toml,
        other => return Err(PyValueError::new_err(format!("format must be 'json' or 'toml', got {other:?}"))),
    };
    Ok(Config::from_str_format(text, fmt).map_err(config_err)?.to_json())
}

/// Loads a JSON or TOML config file (by extension) and returns the full config as JSON.
#[pyfunction]
fn load_config_file(path: &str) -> PyResult<String> {
    Ok(Config::from_file(path).map_err(config_err)?.to_json())
}

/// The full config (given as JSON) as TOML text.
#[pyfunction]
fn config_to_toml(config_json: &str) -> PyResult<String> {
    Ok(Config::from_json_str(config_json).map_err(config_err)?.to_toml())
}

/// The family a config selects (inline profile, profile file or built-in), as JSON.
#[pyfunction]
fn resolve_family(config_json: &str) -> PyResult<String> {
    let cfg = Config::from_json_str(config_json).map_err(config_err)?;
    let fam = cfg.zoo.resolve_family().map_err(config_err)?;
    Ok(serde_json::to_string(&fam).expect("families serialise"))
}

/// A built-in family by name (e.g. `"mobilenet_v1"`), as JSON.
#[pyfunction]
fn builtin_family(name: &str) -> PyResult<String> {
    let fam = zoo::builtin_family(name)
        .ok_or_else(|| ConfigError::new_err(format!("zoo.family unknown family {name:?}; built-in families: {:?}", zoo::BUILTIN_FAMILIES)))?;
    Ok(serde_json::to_string(&fam).expect("families serialise"))
}

/// Validates a JSON profile file and returns the family as JSON.
#[pyfunction]
fn load_family_file(path: &str) -> PyResult<String> {
    let fam = zoo::FamilyProfile::from_json_file(path).map_err(config_err)?;
    Ok(serde_json::to_string(&fam).expect("families serialise"))
}

/// Searches the `static` baseline's table for the scenario (SPEC section 7; seconds of work, GIL
/// released). Returns the search result as JSON: `table`, `start`, `start_return`, `calibration_return`,
/// `passes`, `evaluations`, `episodes`, `seed`.
#[pyfunction]
#[pyo3(signature = (config_json, episodes = 20, seed = 1_000_000, num_threads = 0))]
fn static_search(py: Python<'_>, config_json: &str, episodes: usize, seed: u64, num_threads: usize) -> PyResult<String> {
    if episodes == 0 {
        return Err(PyValueError::new_err("episodes must be >= 1"));
    }
    let sc = scenario_from_json(config_json)?;
    let opts = SearchOptions { episodes, seed, num_threads, ..SearchOptions::default() };
    let found = py.detach(|| StaticTable::search(&sc, &opts));
    Ok(serde_json::to_string(&found).expect("search results serialise"))
}

/// The names of the scenario presets, in listing order.
#[pyfunction]
fn preset_names() -> Vec<&'static str> {
    crate::presets::names()
}

/// A preset as `(description, TOML text, full config JSON)`.
#[pyfunction]
fn preset(name: &str) -> PyResult<(&'static str, &'static str, String)> {
    let desc = crate::presets::description(name).map_err(config_err)?;
    let text = crate::presets::text(name).map_err(config_err)?;
    Ok((desc, text, Config::preset(name).map_err(config_err)?.to_json()))
}

/// Rust-native env-steps per second of a fixed random policy (median of `repeats` timed runs).
#[pyfunction]
#[pyo3(signature = (config_json, num_envs, steps, num_threads, repeats = 3, seed = 0))]
fn rollout_rate(py: Python<'_>, config_json: &str, num_envs: usize, steps: usize, num_threads: usize, repeats: usize, seed: u64) -> PyResult<Vec<f64>> {
    if num_envs == 0 || steps == 0 || repeats == 0 {
        return Err(PyValueError::new_err("num_envs, steps and repeats must be >= 1"));
    }
    let sc = scenario_from_json(config_json)?;
    Ok(py.detach(|| {
        let mut r = Rollout::new(sc, num_envs, num_threads, seed, false);
        r.run((steps / 10).max(1));
        (0..repeats).map(|_| r.run(steps).env_steps_per_s).collect()
    }))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MciaError", py.get_type::<MciaError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("ActionError", py.get_type::<ActionError>())?;
    m.add("ResetNeeded", py.get_type::<ResetNeeded>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("InternalError", py.get_type::<errors::InternalError>())?;
    m.add("ConcurrentUseError", py.get_type::<errors::ConcurrentUseError>())?;
    m.add("OutOfMemoryError", errors::out_of_memory_type(py)?)?;
    m.add_class::<env::CoreEnv>()?;
    m.add_class::<vec_env::CoreVecEnv>()?;
    m.add_class::<policy::CorePolicy>()?;
    m.add("POLICY_NAMES", policies::POLICY_NAMES.to_vec())?;
    m.add_function(wrap_pyfunction!(normalize_config, m)?)?;
    m.add_function(wrap_pyfunction!(load_config_file, m)?)?;
    m.add_function(wrap_pyfunction!(config_to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_family, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_family, m)?)?;
    m.add_function(wrap_pyfunction!(load_family_file, m)?)?;
    m.add_function(wrap_pyfunction!(rollout_rate, m)?)?;
    m.add_function(wrap_pyfunction!(static_search, m)?)?;
    m.add_function(wrap_pyfunction!(preset_names, m)?)?;
    m.add_function(wrap_pyfunction!(preset, m)?)?;
    m.add("FREEZE_DIMENSIONS", policies::FREEZE_DIMENSIONS.to_vec())?;
    m.add("INFO_F64_FIELDS", crate::outputs::INFO_F64_FIELDS.to_vec())?;
    m.add("INFO_I64_FIELDS", crate::outputs::INFO_I64_FIELDS.to_vec())?;
    m.add("INFO_F64_SCALARS", crate::outputs::INFO_F64_SCALARS.to_vec())?;
    m.add("OBS_DEVICE_FIELDS", crate::scenario::OBS_DEVICE_FIELDS.to_vec())?;
    m.add("OBS_GLOBAL_FIELDS", crate::scenario::OBS_GLOBAL_FIELDS.to_vec())?;
    m.add("OBS_GLOBAL_FIELDS_CLOUD", crate::scenario::OBS_GLOBAL_FIELDS_CLOUD.to_vec())?;
    m.add("CLOUD_INFO_FIELDS", crate::outputs::CLOUD_INFO_FIELDS.to_vec())?;
    m.add("CLOUD_DIMENSION", policies::CLOUD_DIMENSION)?;
    m.add("OBS_DEVICE_HIGH", crate::scenario::OBS_DEVICE_HIGH.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
