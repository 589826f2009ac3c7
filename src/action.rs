//! Actions: per device a model version, a cut point and two share weights.

use crate::error::ActionError;
use crate::scenario::Scenario;

/// A borrowed action for one environment (slices of length N) or a batch (length B * N, env-major).
#[derive(Clone, Copy, Debug)]
pub struct ActionRef<'a> {
    /// Version index per device, in 0..M.
    pub version: &'a [i64],
    /// Cut point per device, in 0..=L (units 1..p on the device).
    pub partition: &'a [i64],
    /// Bandwidth weight per device, finite and >= 0 (normalised over the offloading devices).
    pub bandwidth: &'a [f64],
    /// Edge compute weight per device, finite and >= 0.
    pub compute: &'a [f64],
}

impl<'a> ActionRef<'a> {
    /// The action of environment `i` out of a batch with `n` devices per environment.
    #[inline]
    pub fn row(&self, i: usize, n: usize) -> ActionRef<'a> {
        let r = i * n..(i + 1) * n;
        ActionRef { version: &self.version[r.clone()], partition: &self.partition[r.clone()], bandwidth: &self.bandwidth[r.clone()], compute: &self.compute[r] }
    }

    /// Checks that every field has `len` entries.
    pub fn check_len(&self, env: usize, len: usize) -> Result<(), ActionError> {
        for (field, got) in [("version", self.version.len()), ("partition", self.partition.len()), ("bandwidth", self.bandwidth.len()), ("compute", self.compute.len())] {
            if got != len {
                return Err(ActionError { env, device: None, field, message: format!("must have {len} entries, got {got}") });
            }
        }
        Ok(())
    }
}

/// Checks one environment's action against the scenario: lengths, index ranges, finite non-negative
/// weights. Every device is checked, with or without a task. The error names `env` and the device.
pub fn validate_action(sc: &Scenario, env: usize, a: &ActionRef<'_>) -> Result<(), ActionError> {
    a.check_len(env, sc.n)?;
    for k in 0..sc.n {
        let err = |field, message: String| Err(ActionError { env, device: Some(k), field, message });
        let v = a.version[k];
        if v < 0 || v as usize >= sc.m {
            return err("version", format!("must be in 0..{} (the deployed versions {:?}), got {v}", sc.m, sc.version_names));
        }
        let p = a.partition[k];
        if p < 0 || p as usize > sc.l {
            return err("partition", format!("must be in 0..={} (cut after unit p; {} = fully local), got {p}", sc.l, sc.l));
        }
        let b = a.bandwidth[k];
        if !(b.is_finite() && b >= 0.0) {
            return err("bandwidth", format!("weight must be finite and >= 0, got {b}"));
        }
        let c = a.compute[k];
        if !(c.is_finite() && c >= 0.0) {
            return err("compute", format!("weight must be finite and >= 0, got {c}"));
        }
    }
    Ok(())
}

/// Whether every entry of a (batched) action is valid, as one branch-free pass over the flat arrays that
/// the compiler vectorises; lengths are not checked. Callers locate the first error with
/// [`validate_action`] only when this says no.
pub fn all_entries_valid(sc: &Scenario, a: &ActionRef<'_>) -> bool {
    let (m, l) = (sc.m as u64, sc.l as u64);
    // A negative index wraps to a huge u64, so one unsigned comparison checks both bounds.
    let versions = a.version.iter().fold(true, |ok, &v| ok & ((v as u64) < m));
    let partitions = a.partition.iter().fold(true, |ok, &p| ok & ((p as u64) <= l));
    // NaN fails both comparisons; infinity fails the second.
    let weights = a.bandwidth.iter().chain(a.compute.iter()).fold(true, |ok, &w| ok & (0.0..=f64::MAX).contains(&w));
    versions & partitions & weights
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn errors_name_env_device_and_field() {
        let sc = Scenario::new(&Config::preset("v0-light").unwrap()).unwrap();
        let v = [0i64, 1, 2, 3, 0];
        let p = [0i64, 16, 5, 5, 0];
        let w = [0.5; 5];
        let ok = ActionRef { version: &v, partition: &p, bandwidth: &w, compute: &w };
        validate_action(&sc, 0, &ok).unwrap();

        let bad_v = [0i64, 1, 2, 4, 0];
        let e = validate_action(&sc, 3, &ActionRef { version: &bad_v, ..ok }).unwrap_err();
        assert_eq!((e.env, e.device, e.field), (3, Some(3), "version"));
        assert!(e.to_string().starts_with("env 3, device 3: action field 'version' must be in 0..4"), "{e}");

        let bad_p = [0i64, 17, 5, 5, 0];
        let e = validate_action(&sc, 0, &ActionRef { partition: &bad_p, ..ok }).unwrap_err();
        assert_eq!((e.device, e.field), (Some(1), "partition"));
        let neg = [0i64, 1, -1, 5, 0];
        assert_eq!(validate_action(&sc, 0, &ActionRef { partition: &neg, ..ok }).unwrap_err().device, Some(2));

        let nan = [0.5, 0.5, 0.5, 0.5, f64::NAN];
        let e = validate_action(&sc, 0, &ActionRef { bandwidth: &nan, ..ok }).unwrap_err();
        assert_eq!((e.device, e.field), (Some(4), "bandwidth"));
        let negw = [0.5, -0.1, 0.5, 0.5, 0.5];
        assert_eq!(validate_action(&sc, 0, &ActionRef { compute: &negw, ..ok }).unwrap_err().field, "compute");
        let inf = [0.5, f64::INFINITY, 0.5, 0.5, 0.5];
        assert_eq!(validate_action(&sc, 0, &ActionRef { compute: &inf, ..ok }).unwrap_err().field, "compute");

        assert!(all_entries_valid(&sc, &ok));
        for (i, bad) in [ActionRef { version: &bad_v, ..ok }, ActionRef { partition: &bad_p, ..ok }, ActionRef { partition: &neg, ..ok }, ActionRef { bandwidth: &nan, ..ok }, ActionRef { compute: &negw, ..ok }, ActionRef { compute: &inf, ..ok }].iter().enumerate() {
            assert!(!all_entries_valid(&sc, bad), "case {i}");
        }

        let short = [0i64; 4];
        let e = validate_action(&sc, 2, &ActionRef { version: &short, ..ok }).unwrap_err();
        assert_eq!((e.env, e.device, e.field), (2, None, "version"));
        assert!(e.to_string().contains("must have 5 entries, got 4"));
    }
}
