//! Error types. User input never panics: bad configs and bad actions come back as these values, and the
//! Python bindings map each type to its own exception class.

use std::fmt;

/// An invalid scenario: names the offending field by its dotted path (e.g. `radio.bandwidth_hz`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Dotted path of the field, e.g. `tasks.accuracy_sensitive.weight`.
    pub field: String,
    /// What is wrong, e.g. `must be > 0, got -1`.
    pub message: String,
}

impl ConfigError {
    /// A new error for `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into() }
    }

    /// The same error with `prefix.` put in front of the field path.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() || self.field == "." { prefix.to_string() } else { format!("{prefix}.{}", self.field) };
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() || self.field == "." {
            write!(f, "config: {}", self.message)
        } else {
            write!(f, "{} {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// An invalid action or call: names the environment and, where it applies, the device.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionError {
    /// Index of the environment in its vector env (0 for a single env).
    pub env: usize,
    /// Device index, when the problem is one device's entry.
    pub device: Option<usize>,
    /// Action field: `version`, `partition`, `bandwidth`, `compute` or `shape`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.device {
            Some(d) => write!(f, "env {}, device {}: action field '{}' {}", self.env, d, self.field, self.message),
            None => write!(f, "env {}: action field '{}' {}", self.env, self.field, self.message),
        }
    }
}

impl ActionError {
    /// The message with the environment called `label` (a single environment, e.g. `"MciaEnv"`).
    pub fn describe(&self, label: &str) -> String {
        match self.device {
            Some(d) => format!("{label}, device {d}: action field '{}' {}", self.field, self.message),
            None => format!("{label}: action field '{}' {}", self.field, self.message),
        }
    }
}

impl std::error::Error for ActionError {}

/// Why a step could not run. The environment state is unchanged whenever one of these is returned.
#[derive(Clone, Debug, PartialEq)]
pub enum StepError {
    /// The action is invalid.
    Action(ActionError),
    /// The environment must be reset first (never reset, or its episode ended).
    NeedsReset {
        /// Index of the environment.
        env: usize,
        /// Whether the environment was ever reset.
        ever_reset: bool,
    },
    /// An argument or output buffer of the wrong shape or layout (seeds, reset mask, observation or info
    /// buffers); nothing was changed.
    Shape {
        /// What is wrong, e.g. `obs buffer must be (64, 73), got (64, 72)`.
        message: String,
    },
    /// Memory for the environments could not be allocated.
    OutOfMemory {
        /// How much was asked for.
        message: String,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Action(e) => e.fmt(f),
            StepError::NeedsReset { env, ever_reset: false } => write!(f, "env {env}: step() called before reset()"),
            StepError::NeedsReset { env, ever_reset: true } => {
                write!(f, "env {env}: step() called after the episode ended (truncated); call reset() first")
            }
            StepError::Shape { message } | StepError::OutOfMemory { message } => f.write_str(message),
        }
    }
}

impl StepError {
    /// The message, with the environment called `label` when given (a single environment, e.g. `"MciaEnv"`).
    pub fn describe(&self, label: Option<&str>) -> String {
        match (self, label) {
            (StepError::Action(a), Some(l)) => a.describe(l),
            (StepError::NeedsReset { ever_reset: false, .. }, Some(l)) => format!("{l}: step() called before reset()"),
            (StepError::NeedsReset { ever_reset: true, .. }, Some(l)) => format!("{l}: step() called after the episode ended (truncated); call reset() first"),
            _ => self.to_string(),
        }
    }
}

impl std::error::Error for StepError {}

impl From<ActionError> for StepError {
    fn from(e: ActionError) -> Self {
        StepError::Action(e)
    }
}

/// A snapshot that does not fit the environment it is restored into.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotError(pub String);

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot: {}", self.0)
    }
}

impl std::error::Error for SnapshotError {}

/// An invalid policy request: an unknown name, an option out of range, a table that does not fit.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyError {
    /// The option at fault, e.g. `name`, `version` or `table`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    /// A new error for `field`.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), message: message.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {} {}", self.field, self.message)
    }
}

impl std::error::Error for PolicyError {}
