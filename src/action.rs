//! Actions: per device a model version, a cut point, two share weights and, with the cloud tier, a second
//! cut point.
//!
//! One environment's action is an [`ActionRef`] of slices (length N); a batch's is an [`Actions`] of
//! `(B, N)` ndarray views, in any memory layout. [`ActionsBuf`] owns a batch's action (what policies write).

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

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
    /// Second cut per device, in 0..=L (SPEC section 8): required with the cloud tier, empty without it
    /// (and ignored there).
    pub cloud_partition: &'a [i64],
}

impl<'a> ActionRef<'a> {
    /// The action of environment `i` out of a batch with `n` devices per environment.
    #[inline]
    pub fn row(&self, i: usize, n: usize) -> ActionRef<'a> {
        let r = i * n..(i + 1) * n;
        let cloud_partition = if self.cloud_partition.is_empty() { &[][..] } else { &self.cloud_partition[r.clone()] };
        ActionRef { version: &self.version[r.clone()], partition: &self.partition[r.clone()], bandwidth: &self.bandwidth[r.clone()], compute: &self.compute[r], cloud_partition }
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

/// A batch's action: `(B, N)` views of the four fields, in any memory layout.
#[derive(Clone, Copy, Debug)]
pub struct Actions<'a> {
    /// Version index per environment and device, in 0..M.
    pub version: ArrayView2<'a, i64>,
    /// Cut point per environment and device, in 0..=L.
    pub partition: ArrayView2<'a, i64>,
    /// Bandwidth weight per environment and device, finite and >= 0.
    pub bandwidth: ArrayView2<'a, f64>,
    /// Edge compute weight per environment and device, finite and >= 0.
    pub compute: ArrayView2<'a, f64>,
    /// Second cut per environment and device (cloud tier only; `None` without it).
    pub cloud_partition: Option<ArrayView2<'a, i64>>,
}

impl<'a> Actions<'a> {
    /// A batch of `b` environments from flat env-major slices of `b * n` entries each.
    pub fn from_flat(b: usize, n: usize, a: &ActionRef<'a>) -> Result<Self, ActionError> {
        let batch = |mut e: ActionError| {
            e.message = format!("{} (batch of {b} envs x {n} devices)", e.message);
            e
        };
        a.check_len(0, b * n).map_err(batch)?;
        if !a.cloud_partition.is_empty() && a.cloud_partition.len() != b * n {
            let got = a.cloud_partition.len();
            return Err(batch(ActionError { env: 0, device: None, field: "cloud_partition", message: format!("must have {} entries, got {got}", b * n) }));
        }
        fn view<T>(b: usize, n: usize, x: &[T]) -> ArrayView2<'_, T> {
            ArrayView2::from_shape((b, n), x).expect("length checked")
        }
        let cloud_partition = (!a.cloud_partition.is_empty()).then(|| view(b, n, a.cloud_partition));
        Ok(Self { version: view(b, n, a.version), partition: view(b, n, a.partition), bandwidth: view(b, n, a.bandwidth), compute: view(b, n, a.compute), cloud_partition })
    }

    /// The flat slices, when every field is in standard (C) layout.
    pub fn as_flat(&self) -> Option<ActionRef<'a>> {
        let cloud_partition = match &self.cloud_partition {
            Some(c) => c.to_slice()?,
            None => &[],
        };
        Some(ActionRef { version: self.version.to_slice()?, partition: self.partition.to_slice()?, bandwidth: self.bandwidth.to_slice()?, compute: self.compute.to_slice()?, cloud_partition })
    }

    /// Rows `[start, end)` of the batch (the action of environments start..end).
    pub fn slice_rows(&self, start: usize, end: usize) -> Actions<'a> {
        use ndarray::s;
        Actions {
            version: self.version.slice_move(s![start..end, ..]),
            partition: self.partition.slice_move(s![start..end, ..]),
            bandwidth: self.bandwidth.slice_move(s![start..end, ..]),
            compute: self.compute.slice_move(s![start..end, ..]),
            cloud_partition: self.cloud_partition.map(|c| c.slice_move(s![start..end, ..])),
        }
    }

    /// Checks that every field is `(b, n)`.
    pub fn check_shape(&self, b: usize, n: usize) -> Result<(), ActionError> {
        let cloud = self.cloud_partition.as_ref().map(|c| ("cloud_partition", c.dim()));
        for (field, dim) in [("version", self.version.dim()), ("partition", self.partition.dim()), ("bandwidth", self.bandwidth.dim()), ("compute", self.compute.dim())].into_iter().chain(cloud) {
            if dim != (b, n) {
                return Err(ActionError { env: 0, device: None, field, message: format!("must have shape ({b}, {n}) = (num_envs, num_devices), got {dim:?}") });
            }
        }
        Ok(())
    }
}

/// A batch's action, owned, in standard layout: what policies write and what non-contiguous actions are
/// copied into.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionsBuf {
    /// Version indices, `(B, N)`.
    pub version: Array2<i64>,
    /// Cut points, `(B, N)`.
    pub partition: Array2<i64>,
    /// Bandwidth weights, `(B, N)`.
    pub bandwidth: Array2<f64>,
    /// Compute weights, `(B, N)`.
    pub compute: Array2<f64>,
    /// Second cuts, `(B, N)` (read only with the cloud tier; policies write L, no cloud, without it).
    pub cloud_partition: Array2<i64>,
}

impl ActionsBuf {
    /// Zeros for `b` environments with `n` devices.
    pub fn zeros(b: usize, n: usize) -> Self {
        Self {
            version: Array2::zeros((b, n)),
            partition: Array2::zeros((b, n)),
            bandwidth: Array2::zeros((b, n)),
            compute: Array2::zeros((b, n)),
            cloud_partition: Array2::zeros((b, n)),
        }
    }

    /// The batch as views (the second cut included; an environment without the cloud tier ignores it).
    pub fn view(&self) -> Actions<'_> {
        Actions {
            version: self.version.view(),
            partition: self.partition.view(),
            bandwidth: self.bandwidth.view(),
            compute: self.compute.view(),
            cloud_partition: Some(self.cloud_partition.view()),
        }
    }

    /// Mutable views, for a policy to write.
    pub fn view_mut(&mut self) -> ActionsMut<'_> {
        ActionsMut {
            version: self.version.view_mut(),
            partition: self.partition.view_mut(),
            bandwidth: self.bandwidth.view_mut(),
            compute: self.compute.view_mut(),
            cloud_partition: self.cloud_partition.view_mut(),
        }
    }

    /// Copies `a` (any layout, same shape) into the buffer; without a second cut, the buffer's is left alone.
    pub fn assign(&mut self, a: &Actions<'_>) {
        self.version.assign(&a.version);
        self.partition.assign(&a.partition);
        self.bandwidth.assign(&a.bandwidth);
        self.compute.assign(&a.compute);
        if let Some(c) = &a.cloud_partition {
            self.cloud_partition.assign(c);
        }
    }
}

/// Mutable `(B, N)` views of a batch's action, written by [`crate::VecEnv::act`]. Rows must be contiguous.
#[derive(Debug)]
pub struct ActionsMut<'a> {
    /// Version indices.
    pub version: ArrayViewMut2<'a, i64>,
    /// Cut points.
    pub partition: ArrayViewMut2<'a, i64>,
    /// Bandwidth weights.
    pub bandwidth: ArrayViewMut2<'a, f64>,
    /// Compute weights.
    pub compute: ArrayViewMut2<'a, f64>,
    /// Second cuts (cloud tier).
    pub cloud_partition: ArrayViewMut2<'a, i64>,
}

/// Checks one environment's action against the scenario: lengths, index ranges, finite non-negative
/// weights. Every device is checked, with or without a task. The error names `env` and the device.
pub fn validate_action(sc: &Scenario, env: usize, a: &ActionRef<'_>) -> Result<(), ActionError> {
    a.check_len(env, sc.n)?;
    if sc.cloud && a.cloud_partition.len() != sc.n {
        let got = a.cloud_partition.len();
        let hint = if got == 0 { " (the cloud tier is enabled: the action needs its 'cloud_partition')" } else { "" };
        return Err(ActionError { env, device: None, field: "cloud_partition", message: format!("must have {} entries, got {got}{hint}", sc.n) });
    }
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
        if sc.cloud {
            let p2 = a.cloud_partition[k];
            if p2 < 0 || p2 as usize > sc.l {
                return err("cloud_partition", format!("must be in 0..={} (the second cut: units after it run in the cloud; {} = no cloud), got {p2}", sc.l, sc.l));
            }
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
    // Without the cloud tier the second cut is ignored, whatever it holds.
    let second = !sc.cloud || a.cloud_partition.iter().fold(true, |ok, &p| ok & ((p as u64) <= l));
    // NaN fails both comparisons; infinity fails the second.
    let weights = a.bandwidth.iter().chain(a.compute.iter()).fold(true, |ok, &w| ok & (0.0..=f64::MAX).contains(&w));
    versions & partitions & weights & second
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
        let ok = ActionRef { version: &v, partition: &p, bandwidth: &w, compute: &w, cloud_partition: &[] };
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
