//! The `mcia._core` extension module: thin wrappers that check inputs, call one core function and return.
//! This is the only place that knows pyo3. Rust work runs with the GIL released (`py.detach`).

use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::config::{Config, Format};
use crate::env::{info_f64_len, info_i64_len, Env, InfoMut, Snapshot, INFO_F64_FIELDS, INFO_I64_FIELDS};
use crate::error::{ActionError, ConfigError, PolicyError, StepError};
use crate::policies::static_table::SearchOptions;
use crate::policies::{self, ActionBuffers, Freeze, Policy, PolicyOptions, StaticTable};
use crate::rollout::Rollout;
use crate::scenario::Scenario;
use crate::vec_env::{AutoresetMode, VecBuffers, VecEnv};
use crate::zoo;
use crate::ActionRef;

create_exception!(mcia._core, MciaError, PyValueError, "Base class of every error raised by mcia (a ValueError).");
create_exception!(mcia._core, ConfigError_, MciaError, "An invalid scenario; the message names the field.");
create_exception!(mcia._core, ActionError_, MciaError, "An invalid action; the message names the environment and device.");
create_exception!(mcia._core, ResetNeeded, MciaError, "step() called before reset() or after the episode ended.");
create_exception!(mcia._core, SnapshotError_, MciaError, "A state snapshot that does not fit the environment.");
create_exception!(mcia._core, PolicyError_, MciaError, "An invalid policy request: unknown name, option out of range, a table that does not fit.");

fn policy_err(e: PolicyError) -> PyErr {
    PolicyError_::new_err(e.to_string())
}

fn config_err(e: ConfigError) -> PyErr {
    ConfigError_::new_err(e.to_string())
}

fn action_err(e: ActionError) -> PyErr {
    ActionError_::new_err(e.to_string())
}

fn step_err(e: StepError) -> PyErr {
    match e {
        StepError::Action(a) => action_err(a),
        other => ResetNeeded::new_err(other.to_string()),
    }
}

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
        .ok_or_else(|| ConfigError_::new_err(format!("zoo.family unknown family {name:?}; built-in families: {:?}", zoo::BUILTIN_FAMILIES)))?;
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

/// Slices of a Dict action, checked for shape `expect` (the dtype is fixed by the signature).
fn action_slices<'a>(
    expect: &[usize],
    version: &'a PyReadonlyArray1<'_, i64>,
    partition: &'a PyReadonlyArray1<'_, i64>,
    bandwidth: &'a PyReadonlyArray1<'_, f64>,
    compute: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<ActionRef<'a>> {
    let shape_err = |field: &str, got: &[usize]| ActionError_::new_err(format!("env 0: action field '{field}' must have shape {expect:?}, got {got:?}"));
    for (field, shape) in [("version", version.shape()), ("partition", partition.shape()), ("bandwidth", bandwidth.shape()), ("compute", compute.shape())] {
        if shape != expect {
            return Err(shape_err(field, shape));
        }
    }
    // A TypeError, like a wrong dtype: the Python layer converts and retries.
    let contiguous = |r: Result<&'a [i64], numpy::AsSliceError>| r.map_err(|e| pyo3::exceptions::PyTypeError::new_err(format!("action arrays must be contiguous: {e}")));
    let contiguous_f = |r: Result<&'a [f64], numpy::AsSliceError>| r.map_err(|e| pyo3::exceptions::PyTypeError::new_err(format!("action arrays must be contiguous: {e}")));
    Ok(ActionRef { version: contiguous(version.as_slice())?, partition: contiguous(partition.as_slice())?, bandwidth: contiguous_f(bandwidth.as_slice())?, compute: contiguous_f(compute.as_slice())? })
}

/// One environment. Python's `mcia.MciaEnv` wraps it.
#[pyclass(module = "mcia._core")]
struct CoreEnv {
    env: Env,
}

#[pymethods]
impl CoreEnv {
    /// A new environment of the scenario `config_json` (full or partial JSON); the RNG is seeded with `seed`.
    #[new]
    fn new(config_json: &str, seed: u64) -> PyResult<Self> {
        Ok(Self { env: Env::new(scenario_from_json(config_json)?, seed) })
    }

    /// Number of end devices N.
    #[getter]
    fn num_devices(&self) -> usize {
        self.env.scenario().n
    }

    /// Number of deployed versions M.
    #[getter]
    fn num_versions(&self) -> usize {
        self.env.scenario().m
    }

    /// Number of units L.
    #[getter]
    fn num_units(&self) -> usize {
        self.env.scenario().l
    }

    /// Observation length 7N + 3.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.scenario().obs_dim()
    }

    /// The full config as JSON.
    #[getter]
    fn config_json(&self) -> String {
        self.env.scenario().config.to_json()
    }

    /// Slot index t.
    #[getter]
    fn t(&self) -> u32 {
        self.env.t()
    }

    /// Starts an episode (reseeding first when `seed` is given). Returns `(obs, info_f64, info_i64)`.
    #[pyo3(signature = (seed = None))]
    #[allow(clippy::type_complexity)]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>) {
        let n = self.env.scenario().n;
        let obs = PyArray1::<f32>::zeros(py, self.env.scenario().obs_dim(), false);
        let f = PyArray1::<f64>::zeros(py, info_f64_len(n), false);
        let i = PyArray1::<i64>::zeros(py, info_i64_len(n), false);
        {
            let (mut o, mut fw, mut iw) = (obs.readwrite(), f.readwrite(), i.readwrite());
            let info = InfoMut { f: fw.as_slice_mut().expect("fresh array"), i: iw.as_slice_mut().expect("fresh array") };
            self.env.reset(seed, o.as_slice_mut().expect("fresh array"), Some(info));
        }
        (obs, f, i)
    }

    /// Steps one slot. Returns `(obs, reward, terminated, truncated, info_f64, info_i64)`; the info arrays are
    /// `None` when `with_info` is false. Raises ActionError or ResetNeeded, leaving the state unchanged.
    #[pyo3(signature = (version, partition, bandwidth, compute, with_info = true))]
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        version: PyReadonlyArray1<'py, i64>,
        partition: PyReadonlyArray1<'py, i64>,
        bandwidth: PyReadonlyArray1<'py, f64>,
        compute: PyReadonlyArray1<'py, f64>,
        with_info: bool,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64, bool, bool, Option<Bound<'py, PyArray1<f64>>>, Option<Bound<'py, PyArray1<i64>>>)> {
        let n = self.env.scenario().n;
        let a = action_slices(&[n], &version, &partition, &bandwidth, &compute)?;
        let obs = PyArray1::<f32>::zeros(py, self.env.scenario().obs_dim(), false);
        let info = if with_info { Some((PyArray1::<f64>::zeros(py, info_f64_len(n), false), PyArray1::<i64>::zeros(py, info_i64_len(n), false))) } else { None };
        let out = {
            let mut o = obs.readwrite();
            let mut guards = info.as_ref().map(|(f, i)| (f.readwrite(), i.readwrite()));
            let info_mut = guards.as_mut().map(|(f, i)| InfoMut { f: f.as_slice_mut().expect("fresh array"), i: i.as_slice_mut().expect("fresh array") });
            self.env.step(&a, o.as_slice_mut().expect("fresh array"), info_mut).map_err(step_err)?
        };
        let (f, i) = match info {
            Some((f, i)) => (Some(f), Some(i)),
            None => (None, None),
        };
        Ok((obs, out.reward, out.terminated, out.truncated, f, i))
    }

    /// The full state (RNG included) as JSON.
    fn snapshot(&self) -> String {
        serde_json::to_string(&self.env.snapshot()).expect("snapshots serialise")
    }

    /// Restores a state from [`CoreEnv::snapshot`] JSON; on error nothing changes.
    fn restore(&mut self, snapshot_json: &str) -> PyResult<()> {
        let snap: Snapshot = serde_json::from_str(snapshot_json).map_err(|e| SnapshotError_::new_err(format!("snapshot: invalid JSON: {e}")))?;
        self.env.restore(&snap).map_err(|e| SnapshotError_::new_err(e.to_string()))
    }

    /// The random draws the next step will take, as JSON (the state is not changed).
    fn peek_noise(&self) -> String {
        serde_json::to_string(&self.env.peek_noise()).expect("noise serialises")
    }
}

/// Output arrays a vector env owns and writes in place.
struct Buffers {
    obs: Py<PyArray2<f32>>,
    rewards: Py<PyArray1<f64>>,
    terminated: Py<PyArray1<bool>>,
    truncated: Py<PyArray1<bool>>,
    info_f: Py<PyArray2<f64>>,
    info_i: Py<PyArray2<i64>>,
    final_obs: Py<PyArray2<f32>>,
    final_info_f: Py<PyArray2<f64>>,
    final_info_i: Py<PyArray2<i64>>,
}

/// The numpy borrows of one call: only the arrays that call writes (each borrow check costs a little).
struct Guards<'py> {
    obs: PyReadwriteArray2<'py, f32>,
    rewards: PyReadwriteArray1<'py, f64>,
    terminated: PyReadwriteArray1<'py, bool>,
    truncated: PyReadwriteArray1<'py, bool>,
    info: Option<InfoGuards<'py>>,
    final_obs: Option<PyReadwriteArray2<'py, f32>>,
    final_info: Option<InfoGuards<'py>>,
}

impl Buffers {
    /// Borrows the output arrays; the info arrays only `with_info`, the final ones only for SAME_STEP (`same`).
    fn borrow<'py>(&self, py: Python<'py>, with_info: bool, same: bool) -> PyResult<Guards<'py>> {
        let pair = |f: &Py<PyArray2<f64>>, i: &Py<PyArray2<i64>>| -> PyResult<_> { Ok((f.bind(py).try_readwrite()?, i.bind(py).try_readwrite()?)) };
        Ok(Guards {
            obs: self.obs.bind(py).try_readwrite()?,
            rewards: self.rewards.bind(py).try_readwrite()?,
            terminated: self.terminated.bind(py).try_readwrite()?,
            truncated: self.truncated.bind(py).try_readwrite()?,
            info: if with_info { Some(pair(&self.info_f, &self.info_i)?) } else { None },
            final_obs: if same { Some(self.final_obs.bind(py).try_readwrite()?) } else { None },
            final_info: if same && with_info { Some(pair(&self.final_info_f, &self.final_info_i)?) } else { None },
        })
    }
}

type InfoGuards<'py> = (PyReadwriteArray2<'py, f64>, PyReadwriteArray2<'py, i64>);

fn info_views<'a>(p: &'a mut InfoGuards<'_>) -> PyResult<InfoMut<'a>> {
    Ok(InfoMut { f: p.0.as_slice_mut()?, i: p.1.as_slice_mut()? })
}

impl Guards<'_> {
    /// The borrowed arrays as the core's buffers.
    fn views(&mut self) -> PyResult<VecBuffers<'_>> {
        Ok(VecBuffers {
            obs: self.obs.as_slice_mut()?,
            rewards: self.rewards.as_slice_mut()?,
            terminated: self.terminated.as_slice_mut()?,
            truncated: self.truncated.as_slice_mut()?,
            info: self.info.as_mut().map(info_views).transpose()?,
            final_obs: self.final_obs.as_mut().map(|f| f.as_slice_mut()).transpose()?,
            final_info: self.final_info.as_mut().map(info_views).transpose()?,
        })
    }
}

/// Many environments stepped in parallel into numpy arrays it owns. Python's `mcia.MciaVectorEnv` wraps it.
#[pyclass(module = "mcia._core")]
struct CoreVecEnv {
    vec: VecEnv,
    bufs: Buffers,
    with_info: bool,
}

#[pymethods]
impl CoreVecEnv {
    /// `num_envs` environments of the scenario `config_json`; env i's RNG is seeded with `seed + i`.
    /// `autoreset` is `"next_step"` or `"same_step"`; `num_threads = 0` uses every core.
    #[new]
    #[pyo3(signature = (config_json, num_envs, seed = 0, autoreset = "next_step", num_threads = 0, with_info = true))]
    fn new(py: Python<'_>, config_json: &str, num_envs: usize, seed: u64, autoreset: &str, num_threads: usize, with_info: bool) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be >= 1"));
        }
        let mode = match autoreset {
            "next_step" => AutoresetMode::NextStep,
            "same_step" => AutoresetMode::SameStep,
            other => return Err(PyValueError::new_err(format!("autoreset must be 'next_step' or 'same_step', got {other:?}"))),
        };
        let sc = scenario_from_json(config_json)?;
        let (b, od, n) = (num_envs, sc.obs_dim(), sc.n);
        let same = mode == AutoresetMode::SameStep;
        let rows = |r: usize| if same { r } else { 0 };
        let bufs = Buffers {
            obs: PyArray2::<f32>::zeros(py, [b, od], false).unbind(),
            rewards: PyArray1::<f64>::zeros(py, b, false).unbind(),
            terminated: PyArray1::<bool>::zeros(py, b, false).unbind(),
            truncated: PyArray1::<bool>::zeros(py, b, false).unbind(),
            info_f: PyArray2::<f64>::zeros(py, [b, info_f64_len(n)], false).unbind(),
            info_i: PyArray2::<i64>::zeros(py, [b, info_i64_len(n)], false).unbind(),
            final_obs: PyArray2::<f32>::zeros(py, [rows(b), od], false).unbind(),
            final_info_f: PyArray2::<f64>::zeros(py, [rows(b), info_f64_len(n)], false).unbind(),
            final_info_i: PyArray2::<i64>::zeros(py, [rows(b), info_i64_len(n)], false).unbind(),
        };
        Ok(Self { vec: VecEnv::new(sc, num_envs, seed, mode, num_threads), bufs, with_info })
    }

    /// Number of environments B.
    #[getter]
    fn num_envs(&self) -> usize {
        self.vec.num_envs()
    }

    /// Number of end devices N.
    #[getter]
    fn num_devices(&self) -> usize {
        self.vec.scenario().n
    }

    /// Number of deployed versions M.
    #[getter]
    fn num_versions(&self) -> usize {
        self.vec.scenario().m
    }

    /// Number of units L.
    #[getter]
    fn num_units(&self) -> usize {
        self.vec.scenario().l
    }

    /// Observation length 7N + 3.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.vec.scenario().obs_dim()
    }

    /// The full config as JSON.
    #[getter]
    fn config_json(&self) -> String {
        self.vec.scenario().config.to_json()
    }

    /// Threads used for large batches.
    #[getter]
    fn get_num_threads(&self) -> usize {
        self.vec.num_threads()
    }

    /// Sets the thread count (>= 1).
    #[setter]
    fn set_num_threads(&mut self, n: usize) -> PyResult<()> {
        if n == 0 {
            return Err(PyValueError::new_err("num_threads must be >= 1"));
        }
        self.vec.set_num_threads(n);
        Ok(())
    }

    /// Whether info arrays are written.
    #[getter]
    fn get_with_info(&self) -> bool {
        self.with_info
    }

    /// Turns info writing on or off.
    #[setter]
    fn set_with_info(&mut self, on: bool) {
        self.with_info = on;
    }

    /// The output arrays, written in place by every call:
    /// `(obs, rewards, terminated, truncated, info_f64, info_i64, final_obs, final_info_f64, final_info_i64)`.
    #[allow(clippy::type_complexity)]
    fn buffers<'py>(&self, py: Python<'py>) -> (
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray1<bool>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<i64>>,
        Bound<'py, PyArray2<f32>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<i64>>,
    ) {
        let b = &self.bufs;
        (
            b.obs.bind(py).clone(),
            b.rewards.bind(py).clone(),
            b.terminated.bind(py).clone(),
            b.truncated.bind(py).clone(),
            b.info_f.bind(py).clone(),
            b.info_i.bind(py).clone(),
            b.final_obs.bind(py).clone(),
            b.final_info_f.bind(py).clone(),
            b.final_info_i.bind(py).clone(),
        )
    }

    /// Resets every environment (or those where `mask` is true), reseeding env i with `seeds[i]` when given.
    #[pyo3(signature = (seeds = None, mask = None))]
    fn reset(&mut self, py: Python<'_>, seeds: Option<PyReadonlyArray1<'_, u64>>, mask: Option<PyReadonlyArray1<'_, bool>>) -> PyResult<()> {
        let b = self.vec.num_envs();
        let seeds = match &seeds {
            Some(s) if s.len() != b => return Err(PyValueError::new_err(format!("seeds must have {b} entries, got {}", s.len()))),
            Some(s) => Some(s.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?),
            None => None,
        };
        let mask = match &mask {
            Some(m) if m.len() != b => return Err(PyValueError::new_err(format!("reset mask must have {b} entries, got {}", m.len()))),
            Some(m) => Some(m.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?),
            None => None,
        };
        let mut guards = self.bufs.borrow(py, self.with_info, false)?;
        let bufs = guards.views()?;
        let vec = &mut self.vec;
        py.detach(|| vec.reset(seeds, mask, bufs));
        Ok(())
    }

    /// Steps every environment; actions are `[B, N]` arrays. The whole batch is validated first: on
    /// ActionError no environment changes.
    fn step(
        &mut self,
        py: Python<'_>,
        version: PyReadonlyArray2<'_, i64>,
        partition: PyReadonlyArray2<'_, i64>,
        bandwidth: PyReadonlyArray2<'_, f64>,
        compute: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let (b, n) = (self.vec.num_envs(), self.vec.scenario().n);
        for (field, shape) in [("version", version.shape()), ("partition", partition.shape()), ("bandwidth", bandwidth.shape()), ("compute", compute.shape())] {
            if shape != [b, n] {
                return Err(ActionError_::new_err(format!("vector env: action field '{field}' must have shape ({b}, {n}) = (num_envs, num_devices), got {shape:?}")));
            }
        }
        // A TypeError, like a wrong dtype: the Python layer converts and retries.
        let not_contig = |e: numpy::AsSliceError| pyo3::exceptions::PyTypeError::new_err(format!("action arrays must be C-contiguous: {e}"));
        let action = ActionRef {
            version: version.as_slice().map_err(not_contig)?,
            partition: partition.as_slice().map_err(not_contig)?,
            bandwidth: bandwidth.as_slice().map_err(not_contig)?,
            compute: compute.as_slice().map_err(not_contig)?,
        };
        let same = self.vec.autoreset() == AutoresetMode::SameStep;
        let mut guards = self.bufs.borrow(py, self.with_info, same)?;
        let bufs = guards.views()?;
        let vec = &mut self.vec;
        py.detach(|| vec.step(&action, bufs)).map_err(step_err)
    }

    /// Status of every environment: 0 never reset, 1 running, 2 ended (will autoreset on the next step).
    fn statuses(&self) -> Vec<u8> {
        self.vec.envs().iter().map(|e| e.status() as u8).collect()
    }

    /// The full state of every environment (RNG included) as JSON (a list of snapshots).
    fn snapshot(&self) -> String {
        serde_json::to_string(&self.vec.snapshot()).expect("snapshots serialise")
    }

    /// Restores every environment from [`CoreVecEnv::snapshot`] JSON; on error nothing changes.
    fn restore(&mut self, snapshot_json: &str) -> PyResult<()> {
        let snaps: Vec<Snapshot> = serde_json::from_str(snapshot_json).map_err(|e| SnapshotError_::new_err(format!("snapshot: invalid JSON: {e}")))?;
        self.vec.restore(&snaps).map_err(|e| SnapshotError_::new_err(e.to_string()))
    }

    /// The random draws env i's next step will take, as JSON.
    fn peek_noise(&self, i: usize) -> PyResult<String> {
        let env = self.vec.envs().get(i).ok_or_else(|| PyValueError::new_err(format!("env index {i} out of range")))?;
        Ok(serde_json::to_string(&env.peek_noise()).expect("noise serialises"))
    }
}

/// A built-in baseline policy deciding from the true state of a `CoreVecEnv`.
#[pyclass(module = "mcia._core")]
struct CorePolicy {
    name: String,
    policy: Box<dyn Policy>,
    n: usize,
}

#[pymethods]
impl CorePolicy {
    /// Policy `name` (see `POLICY_NAMES`) for the scenario `config_json`; `version` fixes the version of
    /// `device_only` / `edge_only` (default: the most accurate); `seed` drives `random`; `freeze` names the
    /// decision dimensions greedy / optimizer may not vary, with `frozen_versions` = `[AS, LS]` for a
    /// frozen version; `table_json` is the table of `static` (a `StaticTable` as JSON).
    #[new]
    #[pyo3(signature = (name, config_json, version = None, seed = 0, freeze = None, frozen_versions = None, table_json = None))]
    fn new(name: &str, config_json: &str, version: Option<usize>, seed: u64, freeze: Option<Vec<String>>, frozen_versions: Option<[usize; 2]>, table_json: Option<&str>) -> PyResult<Self> {
        let sc = scenario_from_json(config_json)?;
        let mut opts = PolicyOptions { version, seed, ..PolicyOptions::default() };
        for dim in freeze.unwrap_or_default() {
            let one = Freeze::dimension(&dim, frozen_versions.unwrap_or([0, 0])).map_err(policy_err)?;
            if dim == "version" && frozen_versions.is_none() {
                return Err(policy_err(PolicyError::new("frozen_versions", "must give the [AS, LS] version of a frozen version")));
            }
            opts.freeze = Freeze {
                version: one.version.or(opts.freeze.version),
                cut: one.cut || opts.freeze.cut,
                bandwidth: one.bandwidth || opts.freeze.bandwidth,
                compute: one.compute || opts.freeze.compute,
            };
        }
        if let Some(t) = table_json {
            opts.table = Some(serde_json::from_str::<StaticTable>(t).map_err(|e| policy_err(PolicyError::new("table", format!("is not a static table: {e}"))))?);
        }
        let policy = policies::by_name(name, &sc, &opts).map_err(policy_err)?;
        Ok(Self { name: name.to_string(), policy, n: sc.n })
    }

    /// The policy's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Writes the action for every environment of `venv` into the `[B, N]` arrays given (GIL released).
    fn act_into(
        &self,
        py: Python<'_>,
        mut venv: PyRefMut<'_, CoreVecEnv>,
        version: &Bound<'_, PyArray2<i64>>,
        partition: &Bound<'_, PyArray2<i64>>,
        bandwidth: &Bound<'_, PyArray2<f64>>,
        compute: &Bound<'_, PyArray2<f64>>,
    ) -> PyResult<()> {
        let b = venv.vec.num_envs();
        if venv.vec.scenario().n != self.n {
            return Err(PyValueError::new_err(format!("policy built for {} devices, vector env has {}", self.n, venv.vec.scenario().n)));
        }
        for (field, shape) in [("version", version.shape()), ("partition", partition.shape()), ("bandwidth", bandwidth.shape()), ("compute", compute.shape())] {
            if shape != [b, self.n] {
                return Err(PyValueError::new_err(format!("{field} buffer must have shape ({b}, {}), got {shape:?}", self.n)));
            }
        }
        let (mut v, mut p, mut bw, mut c) = (version.try_readwrite()?, partition.try_readwrite()?, bandwidth.try_readwrite()?, compute.try_readwrite()?);
        let out = ActionBuffers { version: v.as_slice_mut()?, partition: p.as_slice_mut()?, bandwidth: bw.as_slice_mut()?, compute: c.as_slice_mut()? };
        let policy = &*self.policy;
        let vec = &mut venv.vec;
        py.detach(|| vec.act(policy, out));
        Ok(())
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MciaError", py.get_type::<MciaError>())?;
    m.add("ConfigError", py.get_type::<ConfigError_>())?;
    m.add("ActionError", py.get_type::<ActionError_>())?;
    m.add("ResetNeeded", py.get_type::<ResetNeeded>())?;
    m.add("SnapshotError", py.get_type::<SnapshotError_>())?;
    m.add("PolicyError", py.get_type::<PolicyError_>())?;
    m.add_class::<CoreEnv>()?;
    m.add_class::<CoreVecEnv>()?;
    m.add_class::<CorePolicy>()?;
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
    m.add("INFO_F64_SCALARS", crate::env::INFO_F64_SCALARS.to_vec())?;
    m.add("OBS_GLOBAL_FIELDS", crate::scenario::OBS_GLOBAL_FIELDS.to_vec())?;
    m.add("OBS_DEVICE_HIGH", crate::scenario::OBS_DEVICE_HIGH.to_vec())?;
    m.add("INFO_F64_FIELDS", INFO_F64_FIELDS.to_vec())?;
    m.add("INFO_I64_FIELDS", INFO_I64_FIELDS.to_vec())?;
    m.add("OBS_DEVICE_FIELDS", crate::scenario::OBS_DEVICE_FIELDS.to_vec())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
