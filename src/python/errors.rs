//! The exception family: every error mcia raises is an `mcia.MciaError` (a `ValueError`), one subclass per
//! kind, and each core error type maps to its class.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::{PyErr, PyResult};

use crate::error::{ActionError as CoreActionError, ConfigError as CoreConfigError, PolicyError as CorePolicyError, SnapshotError as CoreSnapshotError, StepError};

create_exception!(mcia, MciaError, PyValueError, "Base class of every error raised by mcia (a ValueError).");
create_exception!(mcia, ConfigError, MciaError, "An invalid scenario; the message names the field.");
create_exception!(mcia, ActionError, MciaError, "An invalid action; the message names the environment, device and field.");
create_exception!(mcia, ResetNeeded, MciaError, "step() called before reset() or after the episode ended.");
create_exception!(mcia, SnapshotError, MciaError, "A state snapshot that does not fit the environment.");
create_exception!(mcia, PolicyError, MciaError, "An invalid policy request: unknown name, option out of range, a table that does not fit.");

/// Older names used inside the bindings.
pub(crate) use ActionError as ActionError_;

pub(crate) fn config_err(e: CoreConfigError) -> PyErr {
    ConfigError::new_err(e.to_string())
}

pub(crate) fn policy_err(e: CorePolicyError) -> PyErr {
    PolicyError::new_err(e.to_string())
}

pub(crate) fn snapshot_err(e: CoreSnapshotError) -> PyErr {
    SnapshotError::new_err(e.to_string())
}

/// A step or reset error; action errors are described as `label` (e.g. "MciaEnv") when given.
pub(crate) fn step_err(e: StepError, label: Option<&str>) -> PyErr {
    let message = e.describe(label);
    match e {
        StepError::Action(_) => ActionError::new_err(message),
        StepError::NeedsReset { .. } => ResetNeeded::new_err(message),
        StepError::Shape { .. } => MciaError::new_err(message),
        StepError::OutOfMemory { .. } => pyo3::Python::attach(|py| out_of_memory(py, message)),
    }
}

pub(crate) fn action_err(e: CoreActionError, label: Option<&str>) -> PyErr {
    step_err(StepError::Action(e), label)
}

create_exception!(mcia, InternalError, MciaError, "A bug in mcia (a Rust panic caught at the boundary); please report it with the message.");
create_exception!(mcia, ConcurrentUseError, MciaError, "An environment used from two threads at once: each environment serves one call at a time.");

/// Runs `f`, turning a panic into an [`InternalError`] that says it is a bug, so that no panic reaches Python
/// as a `BaseException`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!("internal error, a bug in mcia (please report it): {what}")))
        }
    }
}

/// The exclusive borrow of a pyclass, or a [`ConcurrentUseError`] naming `what` when another thread holds it.
pub(crate) fn borrow_mut<'py, T: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::False>>(obj: &pyo3::Bound<'py, T>, what: &str) -> PyResult<pyo3::PyRefMut<'py, T>> {
    obj.try_borrow_mut().map_err(|_| ConcurrentUseError::new_err(format!("{what} is in use by another call (another thread is stepping or resetting it); an environment serves one call at a time")))
}

/// `mcia.OutOfMemoryError`: both an [`MciaError`] and a `MemoryError`, for allocations that fail. Made once
/// (a class with two bases), then cached.
pub(crate) fn out_of_memory_type(py: pyo3::Python<'_>) -> PyResult<pyo3::Bound<'_, pyo3::types::PyType>> {
    use pyo3::types::{PyAnyMethods, PyDictMethods};
    static TYPE: pyo3::sync::PyOnceLock<pyo3::Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();
    let ty = TYPE.get_or_try_init(py, || -> PyResult<_> {
        let bases = (py.get_type::<MciaError>(), py.get_type::<pyo3::exceptions::PyMemoryError>());
        let dict = pyo3::types::PyDict::new(py);
        dict.set_item("__module__", "mcia")?;
        dict.set_item("__doc__", "Memory for an environment could not be allocated (an mcia.MciaError and a MemoryError).")?;
        let t = py.get_type::<pyo3::types::PyType>().call1(("OutOfMemoryError", bases, dict))?;
        Ok(t.cast_into::<pyo3::types::PyType>()?.unbind())
    })?;
    Ok(ty.bind(py).clone())
}

/// An `mcia.OutOfMemoryError` with `message`.
pub(crate) fn out_of_memory(py: pyo3::Python<'_>, message: String) -> PyErr {
    match out_of_memory_type(py) {
        Ok(t) => PyErr::from_type(t, message),
        Err(e) => e,
    }
}
