//! `CoreVecEnv`: many environments stepped in parallel, wrapped by Python's `mcia.MciaVectorEnv`.

use numpy::{PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::actions::{read_indices, read_weights, view_of};
use super::buffers::{Ring, StepOut, VecSet};
use super::errors::{borrow_mut, guard, out_of_memory, snapshot_err, step_err, MciaError, SnapshotError};
use super::scenario_from_json;
use crate::action::{Actions, ActionsBuf};
use crate::env::Snapshot;
use crate::vec_env::{AutoresetMode, VecEnv};

/// How errors and contention messages name the vector env.
const LABEL: &str = "MciaVectorEnv";

/// Refuses up front a vector env that would not fit in the memory available now (Linux: `MemAvailable`), so
/// that a huge `num_envs` is an `OutOfMemoryError`, not an aborted process.
fn check_memory(py: Python<'_>, sc: &crate::scenario::Scenario, num_envs: usize) -> PyResult<()> {
    let need = crate::vec_env::estimated_bytes(sc, num_envs);
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines().find(|l| l.starts_with("MemAvailable:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 1024)
    });
    match (need, available) {
        (None, _) => Err(out_of_memory(py, format!("MciaVectorEnv(num_envs={num_envs}): more memory than can be addressed"))),
        (Some(need), Some(avail)) if need > avail => Err(out_of_memory(
            py,
            format!("MciaVectorEnv(num_envs={num_envs}) needs about {:.1} GB, only {:.1} GB of memory are available", need as f64 / 1e9, avail as f64 / 1e9),
        )),
        _ => Ok(()),
    }
}

/// Many environments stepped in parallel into numpy arrays handed out without copying. Python's
/// `mcia.MciaVectorEnv` wraps it.
#[pyclass(module = "mcia._core")]
pub(crate) struct CoreVecEnv {
    pub(crate) vec: VecEnv,
    ring: Ring<VecSet>,
    with_info: bool,
    /// The set written by the last call.
    last: Option<usize>,
    /// Conversion targets for actions not given as C-contiguous int64 / float64 arrays.
    scratch: ActionsBuf,
}


#[pymethods]
impl CoreVecEnv {
    /// `num_envs` environments of the scenario `config_json`; env i's RNG is seeded with `seed + i`.
    /// `autoreset` is `"next_step"` or `"same_step"`; `num_threads = 0` uses every core. With `copy=False`
    /// every call returns the same arrays, overwritten in place.
    #[new]
    #[pyo3(signature = (config_json, num_envs, seed = 0, autoreset = "next_step", num_threads = 0, with_info = true, copy = true))]
    fn new(py: Python<'_>, config_json: &str, num_envs: usize, seed: u64, autoreset: &str, num_threads: usize, with_info: bool, copy: bool) -> PyResult<Self> {
        guard(|| Self::create(py, config_json, num_envs, seed, autoreset, num_threads, with_info, copy))
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

    /// Whether the info is written.
    #[getter]
    fn get_with_info(&self) -> bool {
        self.with_info
    }

    /// Turns info writing on or off (new output arrays are made on the next call).
    #[setter]
    fn set_with_info(&mut self, on: bool) {
        if on != self.with_info {
            self.with_info = on;
            self.ring.clear();
            self.last = None;
        }
    }

    /// Resets every environment (or those where `mask` is true), reseeding env i with `seeds[i]` when given.
    /// Returns `(obs, info)`; rows of environments left alone keep their last values.
    #[pyo3(signature = (seeds = None, mask = None))]
    fn reset<'py>(slf: &Bound<'py, Self>, seeds: Option<PyReadonlyArray1<'_, u64>>, mask: Option<PyReadonlyArray1<'_, bool>>) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyDict>)> {
        guard(|| borrow_mut(slf, LABEL)?.reset_impl(slf.py(), seeds, mask))
    }

    /// Steps every environment; each action field is `(B, N)` (any integer dtype for indices, any number
    /// dtype for weights, any layout). The whole batch is validated first: on ActionError no environment
    /// changes. Returns `(obs, rewards, terminated, truncated, info)`, and in SAME_STEP mode also the final
    /// observations `(B, 7N + 3)` and the final info dict (rows of environments that ended are valid).
    /// `cloud_partition` `(B, N)` is required with the cloud tier and refused without it.
    #[pyo3(signature = (version, partition, bandwidth, compute, cloud_partition = None))]
    fn step<'py>(
        slf: &Bound<'py, Self>,
        version: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
        bandwidth: &Bound<'py, PyAny>,
        compute: &Bound<'py, PyAny>,
        cloud_partition: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        guard(|| borrow_mut(slf, LABEL)?.step_impl(slf.py(), version, partition, bandwidth, compute, cloud_partition))
    }
    /// The outputs of the last call, `(obs, rewards, terminated, truncated, info)`, or None before any.
    fn last_outputs<'py>(&self, py: Python<'py>) -> PyResult<Option<StepOut<'py>>> {
        self.ring.last(self.last).map(|s| s.outputs(py)).transpose()
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
    fn restore(slf: &Bound<'_, Self>, snapshot_json: &str) -> PyResult<()> {
        guard(|| {
            let snaps: Vec<Snapshot> = serde_json::from_str(snapshot_json).map_err(|e| SnapshotError::new_err(format!("snapshot: invalid JSON: {e}")))?;
            borrow_mut(slf, LABEL)?.vec.restore(&snaps).map_err(snapshot_err)
        })
    }

    /// The random draws env i's next step will take, as JSON.
    fn peek_noise(&self, i: usize) -> PyResult<String> {
        let env = self.vec.envs().get(i).ok_or_else(|| MciaError::new_err(format!("env index {i} out of range 0..{}", self.vec.num_envs())))?;
        Ok(serde_json::to_string(&env.peek_noise()).expect("noise serialises"))
    }
}

impl CoreVecEnv {
    fn reset_impl<'py>(&mut self, py: Python<'py>, seeds: Option<PyReadonlyArray1<'_, u64>>, mask: Option<PyReadonlyArray1<'_, bool>>) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyDict>)> {
        let seeds_slice = seeds.as_ref().map(|s| s.as_slice()).transpose()?;
        let mask_slice = mask.as_ref().map(|m| m.as_slice()).transpose()?;
        let i = acquire(py, &mut self.ring, &self.vec, self.with_info, self.last, mask_slice.is_some())?;
        let set = self.ring.get(i);
        let vec = &mut self.vec;
        set.with_outputs(py, self.ring.exclusive(), |out| py.detach(|| vec.reset_into(seeds_slice, mask_slice, out)))?.map_err(|e| step_err(e, None))?;
        self.last = Some(i);
        let (obs, _, _, _, info) = set.outputs(py)?;
        Ok((obs, info))
    }

    fn step_impl<'py>(
        &mut self,
        py: Python<'py>,
        version: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
        bandwidth: &Bound<'py, PyAny>,
        compute: &Bound<'py, PyAny>,
        cloud_partition: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (b, n) = (self.vec.num_envs(), self.vec.scenario().n);
        let (label, shape) = ("MciaVectorEnv", [b, n]);
        let cloud = super::actions::check_cloud_key(self.vec.scenario().cloud, cloud_partition, label)?;
        let s = &mut self.scratch;
        let v = read_indices(version, &shape, s.version.view_mut(), label, "version")?;
        let p = read_indices(partition, &shape, s.partition.view_mut(), label, "partition")?;
        let bw = read_weights(bandwidth, &shape, s.bandwidth.view_mut(), label, "bandwidth")?;
        let c = read_weights(compute, &shape, s.compute.view_mut(), label, "compute")?;
        let p2 = cloud.map(|obj| read_indices(obj, &shape, s.cloud_partition.view_mut(), label, "cloud_partition")).transpose()?;
        let s = &self.scratch;
        let action = Actions {
            version: view_of(&v, &s.version),
            partition: view_of(&p, &s.partition),
            bandwidth: view_of(&bw, &s.bandwidth),
            compute: view_of(&c, &s.compute),
            cloud_partition: p2.as_ref().map(|p2| view_of(p2, &s.cloud_partition)),
        };
        let same = self.vec.autoreset() == AutoresetMode::SameStep;
        let i = acquire(py, &mut self.ring, &self.vec, self.with_info, self.last, false)?;
        let set = self.ring.get(i);
        let vec = &mut self.vec;
        set.with_outputs(py, self.ring.exclusive(), |out| py.detach(|| vec.step_into(&action, out)))?.map_err(|e| step_err(e, None))?;
        self.last = Some(i);
        let (obs, rew, term, trunc, info) = set.outputs(py)?;
        if same {
            let final_obs = set.final_obs.as_ref().map(|f| f.bind(py).clone().into_any()).unwrap_or_else(|| py.None().into_bound(py));
            let final_info = match &set.final_dict {
                Some(d) => d.bind(py).copy()?.into_any(),
                None => PyDict::new(py).into_any(),
            };
            return PyTuple::new(py, [obs.into_any(), rew.into_any(), term.into_any(), trunc.into_any(), info.into_any(), final_obs, final_info]);
        }
        PyTuple::new(py, [obs.into_any(), rew.into_any(), term.into_any(), trunc.into_any(), info.into_any()])
    }

    #[allow(clippy::too_many_arguments)]
    fn create(py: Python<'_>, config_json: &str, num_envs: usize, seed: u64, autoreset: &str, num_threads: usize, with_info: bool, copy: bool) -> PyResult<Self> {
        let mode = match autoreset {
            "next_step" => AutoresetMode::NextStep,
            "same_step" => AutoresetMode::SameStep,
            other => return Err(PyValueError::new_err(format!("autoreset must be 'next_step' or 'same_step', got {other:?}"))),
        };
        let sc = scenario_from_json(config_json)?;
        let n = sc.n;
        check_memory(py, &sc, num_envs)?;
        let mut vec = VecEnv::new(sc, num_envs, seed, mode, num_threads).map_err(|e| step_err(e, None))?;
        // The arrays written are the ring's; the core's own outputs would only take memory.
        vec.set_with_info(false);
        Ok(Self { vec, ring: Ring::new(!copy), with_info, last: None, scratch: ActionsBuf::zeros(num_envs, n) })
    }
}

/// A set of output arrays to write (module `buffers`). A partial (masked) reset keeps the other rows, so it
/// writes over the last call's values: they are copied into the set first when it is another one.
fn acquire(py: Python<'_>, ring: &mut Ring<VecSet>, vec: &VecEnv, with_info: bool, last: Option<usize>, keep_rows: bool) -> PyResult<usize> {
    let (b, n, od) = (vec.num_envs(), vec.scenario().n, vec.scenario().obs_dim());
    let same = vec.autoreset() == AutoresetMode::SameStep;
    let cloud = vec.scenario().cloud;
    let i = ring.acquire(py, || VecSet::new(py, b, n, od, with_info, same, cloud))?;
    if keep_rows {
        if let Some(last) = last.filter(|&l| l != i) {
            copy_set(py, ring.get(last), ring.get(i))?;
        }
    }
    Ok(i)
}

/// Copies every array of `from` into `to` (sets of the same shapes).
fn copy_set(py: Python<'_>, from: &VecSet, to: &VecSet) -> PyResult<()> {
    let (src, dst) = (from.outputs(py)?, to.outputs(py)?);
    let all = py.Ellipsis();
    for (d, s) in [(dst.0.into_any(), src.0.into_any()), (dst.1.into_any(), src.1.into_any()), (dst.2.into_any(), src.2.into_any()), (dst.3.into_any(), src.3.into_any())] {
        d.set_item(&all, s)?;
    }
    for (k, v) in src.4.iter() {
        if let Some(d) = dst.4.get_item(&k)? {
            d.set_item(&all, v)?;
        }
    }
    Ok(())
}
