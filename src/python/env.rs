//! `CoreEnv`: one environment, wrapped by Python's `mcia.MciaEnv`.

use ndarray::Array2;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::actions::{read_indices, read_weights};
use super::buffers::{EnvSet, Ring};
use super::errors::{action_err, borrow_mut, guard, snapshot_err, step_err, SnapshotError};
use super::scenario_from_json;
use crate::action::ActionRef;
use crate::env::{Env, Snapshot};

/// One environment. Python's `mcia.MciaEnv` wraps it.
#[pyclass(module = "mcia._core")]
pub(crate) struct CoreEnv {
    env: Env,
    /// How errors name this environment.
    label: String,
    ring: Ring<EnvSet>,
    with_info: bool,
    /// Conversion targets for actions not given as contiguous int64 / float64 arrays, `(1, N)`.
    scratch_i: (Array2<i64>, Array2<i64>, Array2<i64>),
    scratch_f: (Array2<f64>, Array2<f64>),
}

#[pymethods]
impl CoreEnv {
    /// A new environment of the scenario `config_json` (full or partial JSON); the RNG is seeded with `seed`.
    /// `copy=False` returns the same observation and info arrays every call (overwritten in place); `label`
    /// names the environment in error messages.
    #[new]
    #[pyo3(signature = (config_json, seed, with_info = true, copy = true, label = "MciaEnv"))]
    fn new(config_json: &str, seed: u64, with_info: bool, copy: bool, label: &str) -> PyResult<Self> {
        guard(|| Self::create(config_json, seed, with_info, copy, label))
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

    /// Whether the info is written.
    #[getter]
    fn get_with_info(&self) -> bool {
        self.with_info
    }

    /// Starts an episode (reseeding first when `seed` is given). Returns `(obs, info)`.
    #[pyo3(signature = (seed = None))]
    fn reset<'py>(slf: &Bound<'py, Self>, seed: Option<u64>) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyDict>)> {
        guard(|| borrow_mut(slf, "MciaEnv")?.reset_impl(slf.py(), seed))
    }

    /// Steps one slot with an action given field by field (any integer dtype for the indices, any number
    /// dtype for the weights, any layout). Returns `(obs, reward, terminated, truncated, info)`. Raises
    /// ActionError or ResetNeeded, leaving the state unchanged. `cloud_partition` is required with the
    /// cloud tier and refused without it.
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (version, partition, bandwidth, compute, cloud_partition = None))]
    fn step<'py>(
        slf: &Bound<'py, Self>,
        version: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
        bandwidth: &Bound<'py, PyAny>,
        compute: &Bound<'py, PyAny>,
        cloud_partition: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64, bool, bool, Bound<'py, PyDict>)> {
        guard(|| borrow_mut(slf, "MciaEnv")?.step_impl(slf.py(), version, partition, bandwidth, compute, cloud_partition))
    }

    /// The full state (RNG included) as JSON.
    fn snapshot(&self) -> String {
        serde_json::to_string(&self.env.snapshot()).expect("snapshots serialise")
    }

    /// Restores a state from [`CoreEnv::snapshot`] JSON; on error nothing changes.
    fn restore(slf: &Bound<'_, Self>, snapshot_json: &str) -> PyResult<()> {
        guard(|| {
            let snap: Snapshot = serde_json::from_str(snapshot_json).map_err(|e| SnapshotError::new_err(format!("snapshot: invalid JSON: {e}")))?;
            borrow_mut(slf, "MciaEnv")?.env.restore(&snap).map_err(snapshot_err)
        })
    }

    /// The random draws the next step will take, as JSON (the state is not changed).
    fn peek_noise(&self) -> String {
        serde_json::to_string(&self.env.peek_noise()).expect("noise serialises")
    }
}

impl CoreEnv {
    fn create(config_json: &str, seed: u64, with_info: bool, copy: bool, label: &str) -> PyResult<Self> {
        let sc = scenario_from_json(config_json)?;
        let n = sc.n;
        Ok(Self {
            env: Env::new(sc, seed),
            label: label.to_string(),
            ring: Ring::new(!copy),
            with_info,
            scratch_i: (Array2::zeros((1, n)), Array2::zeros((1, n)), Array2::zeros((1, n))),
            scratch_f: (Array2::zeros((1, n)), Array2::zeros((1, n))),
        })
    }

    fn reset_impl<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyDict>)> {
        let i = acquire(py, &mut self.ring, &self.env, self.with_info)?;
        let env = &mut self.env;
        self.ring.get(i).with_views(py, self.ring.exclusive(), |obs, info| env.reset(seed, obs, info))?.map_err(|e| step_err(e, Some(&self.label)))?;
        self.ring.get(i).outputs(py)
    }

    #[allow(clippy::type_complexity)]
    fn step_impl<'py>(
        &mut self,
        py: Python<'py>,
        version: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
        bandwidth: &Bound<'py, PyAny>,
        compute: &Bound<'py, PyAny>,
        cloud_partition: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, f64, bool, bool, Bound<'py, PyDict>)> {
        let n = self.env.scenario().n;
        let (label, shape) = (self.label.as_str(), [n]);
        let cloud = super::actions::check_cloud_key(self.env.scenario().cloud, cloud_partition, label)?;
        if let Some(obj) = cloud {
            read_indices(obj, &shape, self.scratch_i.2.view_mut(), label, "cloud_partition")?;
        }
        let v = read_indices(version, &shape, self.scratch_i.0.view_mut(), label, "version")?;
        let p = read_indices(partition, &shape, self.scratch_i.1.view_mut(), label, "partition")?;
        let b = read_weights(bandwidth, &shape, self.scratch_f.0.view_mut(), label, "bandwidth")?;
        let c = read_weights(compute, &shape, self.scratch_f.1.view_mut(), label, "compute")?;
        debug_assert!(v.is_none() && p.is_none() && b.is_none() && c.is_none(), "1-D fields are always converted");
        let action = ActionRef {
            version: self.scratch_i.0.as_slice().expect("standard layout"),
            partition: self.scratch_i.1.as_slice().expect("standard layout"),
            bandwidth: self.scratch_f.0.as_slice().expect("standard layout"),
            compute: self.scratch_f.1.as_slice().expect("standard layout"),
            cloud_partition: if cloud.is_some() { self.scratch_i.2.as_slice().expect("standard layout") } else { &[] },
        };
        // Validate before taking a set, so that a rejected action leaves everything as it was.
        crate::action::validate_action(self.env.scenario(), 0, &action).map_err(|e| action_err(e, Some(label)))?;
        let i = acquire(py, &mut self.ring, &self.env, self.with_info)?;
        let env = &mut self.env;
        let out = self.ring.get(i).with_views(py, self.ring.exclusive(), |obs, info| env.step(&action, obs, info))?.map_err(|e| step_err(e, Some(label)))?;
        let (obs, info) = self.ring.get(i).outputs(py)?;
        Ok((obs, out.reward, out.terminated, out.truncated, info))
    }
}

/// A set of output arrays to write (module `buffers`).
fn acquire(py: Python<'_>, ring: &mut Ring<EnvSet>, env: &Env, with_info: bool) -> PyResult<usize> {
    let (n, od) = (env.scenario().n, env.scenario().obs_dim());
    let cloud = env.scenario().cloud;
    ring.acquire(py, || EnvSet::new(py, n, od, with_info, cloud))
}
