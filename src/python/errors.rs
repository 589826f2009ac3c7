//! The exception family: every error mcia raises is an `mcia.MciaError` (a `ValueError`), one subclass per
//! kind, and each core error type maps to its class.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

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
    }
}

pub(crate) fn action_err(e: CoreActionError, label: Option<&str>) -> PyErr {
    step_err(StepError::Action(e), label)
}
