//! `CorePolicy`: a built-in baseline deciding for every environment of a `CoreVecEnv`.

use numpy::{PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use super::errors::{action_err, borrow_mut, guard, policy_err};
use super::scenario_from_json;
use super::vec_env::CoreVecEnv;
use crate::action::{validate_action, ActionRef, ActionsMut};
use crate::error::PolicyError;
use crate::policies::{self, Freeze, Optimizer, Policy, PolicyOptions, ShareStep, StaticTable};

/// A built-in baseline policy deciding from the true state of a `CoreVecEnv`.
#[pyclass(module = "mcia._core")]
pub(crate) struct CorePolicy {
    name: String,
    policy: Box<dyn Policy>,
    /// The optimizer's share step alone (the `optimizer` policy only).
    share_step: Option<ShareStep>,
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
        guard(|| Self::create(name, config_json, version, seed, freeze, frozen_versions, table_json))
    }

    /// The policy's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Writes the action for every environment of `venv` into the C-contiguous `(B, N)` arrays given (GIL
    /// released); `cloud_partition` receives the second cuts (L without the cloud tier).
    ///
    /// With `shares_only` (the `optimizer` policy only) it runs the optimizer's share step alone: it reads
    /// the decisions already in `version`, `partition` (and `cloud_partition` with the cloud tier) and
    /// overwrites `bandwidth` and `compute` with the weights the optimizer finds for exactly those decisions
    /// in each environment's state. A decision out of range raises `ActionError` naming the environment and
    /// device, and nothing is written.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (venv, version, partition, bandwidth, compute, cloud_partition, shares_only = false))]
    fn act_into(
        &self,
        py: Python<'_>,
        venv: &Bound<'_, CoreVecEnv>,
        version: &Bound<'_, PyArray2<i64>>,
        partition: &Bound<'_, PyArray2<i64>>,
        bandwidth: &Bound<'_, PyArray2<f64>>,
        compute: &Bound<'_, PyArray2<f64>>,
        cloud_partition: &Bound<'_, PyArray2<i64>>,
        shares_only: bool,
    ) -> PyResult<()> {
        guard(|| self.act_impl(py, venv, version, partition, bandwidth, compute, cloud_partition, shares_only))
    }
}

impl CorePolicy {
    #[allow(clippy::too_many_arguments)]
    fn create(name: &str, config_json: &str, version: Option<usize>, seed: u64, freeze: Option<Vec<String>>, frozen_versions: Option<[usize; 2]>, table_json: Option<&str>) -> PyResult<Self> {
        let sc = scenario_from_json(config_json)?;
        let mut opts = PolicyOptions { version, seed, ..PolicyOptions::default() };
        for dim in freeze.unwrap_or_default() {
            if dim == "version" && frozen_versions.is_none() {
                return Err(policy_err(PolicyError::new("frozen_versions", "must give the [AS, LS] version of a frozen version")));
            }
            let one = Freeze::dimension(&dim, frozen_versions.unwrap_or([0, 0])).map_err(policy_err)?;
            opts.freeze = Freeze {
                version: one.version.or(opts.freeze.version),
                cut: one.cut || opts.freeze.cut,
                bandwidth: one.bandwidth || opts.freeze.bandwidth,
                compute: one.compute || opts.freeze.compute,
                cloud: one.cloud || opts.freeze.cloud,
            };
        }
        if let Some(t) = table_json {
            opts.table = Some(serde_json::from_str::<StaticTable>(t).map_err(|e| policy_err(PolicyError::new("table", format!("is not a static table: {e}"))))?);
        }
        let policy = policies::by_name(name, &sc, &opts).map_err(policy_err)?;
        let share_step = (name == "optimizer").then(|| ShareStep(Optimizer { freeze: opts.freeze, ..Optimizer::default() }));
        Ok(Self { name: name.to_string(), policy, share_step, n: sc.n })
    }

    #[allow(clippy::too_many_arguments)]
    fn act_impl(
        &self,
        py: Python<'_>,
        venv: &Bound<'_, CoreVecEnv>,
        version: &Bound<'_, PyArray2<i64>>,
        partition: &Bound<'_, PyArray2<i64>>,
        bandwidth: &Bound<'_, PyArray2<f64>>,
        compute: &Bound<'_, PyArray2<f64>>,
        cloud_partition: &Bound<'_, PyArray2<i64>>,
        shares_only: bool,
    ) -> PyResult<()> {
        let mut venv = borrow_mut(venv, "MciaVectorEnv")?;
        if venv.vec.scenario().n != self.n {
            return Err(policy_err(PolicyError::new("venv", format!("the policy was built for {} devices, the vector env has {}", self.n, venv.vec.scenario().n))));
        }
        let (mut v, mut p, mut bw, mut c, mut p2) = (version.try_readwrite()?, partition.try_readwrite()?, bandwidth.try_readwrite()?, compute.try_readwrite()?, cloud_partition.try_readwrite()?);
        let out = ActionsMut { version: v.as_array_mut(), partition: p.as_array_mut(), bandwidth: bw.as_array_mut(), compute: c.as_array_mut(), cloud_partition: p2.as_array_mut() };
        let policy: &dyn Policy = if shares_only {
            let step = self.share_step.as_ref().ok_or_else(|| policy_err(PolicyError::new("name", format!("only the optimizer has a share step, not {:?}", self.name))))?;
            check_decisions(venv.vec.scenario(), &out)?;
            step
        } else {
            &*self.policy
        };
        let vec = &mut venv.vec;
        py.detach(|| vec.act(policy, out)).map_err(policy_err)
    }
}

/// Checks the decisions (version, cut, second cut) of a batch before the share step reads them; the
/// weights are outputs there, so they are not checked.
fn check_decisions(sc: &crate::scenario::Scenario, out: &ActionsMut<'_>) -> PyResult<()> {
    let n = sc.n;
    let b = out.version.nrows();
    let slices = (out.version.as_slice(), out.partition.as_slice(), out.cloud_partition.as_slice());
    let (Some(v), Some(p), Some(p2)) = slices else {
        return Err(policy_err(PolicyError::new("buffers", "must be C-contiguous")));
    };
    for (field, got) in [("version", out.version.dim()), ("partition", out.partition.dim()), ("bandwidth", out.bandwidth.dim()), ("compute", out.compute.dim()), ("cloud_partition", out.cloud_partition.dim())] {
        if got != (b, n) {
            return Err(policy_err(PolicyError::new(field, format!("buffer must be a C-contiguous ({b}, {n}) array, got {got:?}"))));
        }
    }
    let ones = vec![1.0; n];
    for i in 0..b {
        let r = i * n..(i + 1) * n;
        let row = ActionRef { version: &v[r.clone()], partition: &p[r.clone()], bandwidth: &ones, compute: &ones, cloud_partition: if sc.cloud { &p2[r] } else { &[] } };
        validate_action(sc, i, &row).map_err(|e| action_err(e, None))?;
    }
    Ok(())
}
