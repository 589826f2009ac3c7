//! Action fields from Python: any integer dtype for indices, any float (or integer) dtype for weights, any
//! memory layout, read with one conversion in Rust. Arrays already in the core's dtype and layout are read
//! in place. Anything that is not a plain ndarray (lists, masked arrays, other array types) goes through
//! `mcia._actions.coerce_field` once, which explains what is wrong when it cannot be read.

use ndarray::{ArrayView2, ArrayViewMut2};
use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::errors::ActionError_;

/// Kind of an action field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Version or cut: integers (integral floats accepted).
    Index,
    /// Share weight: numbers.
    Weight,
}

fn field_error(label: &str, field: &str, message: impl std::fmt::Display) -> PyErr {
    ActionError_::new_err(format!("{label}: action field '{field}' {message}"))
}

/// A plain ndarray for `obj`: itself when it is one, else what `mcia._actions.coerce_field` makes of it.
fn as_ndarray<'py>(obj: &Bound<'py, PyAny>, label: &str, field: &str, kind: Kind) -> PyResult<Bound<'py, PyUntypedArray>> {
    if obj.is_exact_instance_of::<PyUntypedArray>() {
        return Ok(obj.cast::<PyUntypedArray>()?.clone());
    }
    coerce(obj, label, field, kind)
}

/// `mcia._actions.coerce_field(obj, ...)`: an int64 / float64 ndarray, or an ActionError explaining why not.
fn coerce<'py>(obj: &Bound<'py, PyAny>, label: &str, field: &str, kind: Kind) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = obj.py();
    let coerce = py.import("mcia._actions")?.getattr("coerce_field")?;
    let arr = coerce.call1((obj, field, label, kind == Kind::Index))?;
    Ok(arr.cast_into::<PyUntypedArray>()?)
}

/// Checks the shape of `arr` against `shape`.
fn check_shape(arr: &Bound<'_, PyUntypedArray>, shape: &[usize], label: &str, field: &str) -> PyResult<()> {
    if arr.shape() != shape {
        let what = if shape.len() == 2 { "(num_envs, num_devices)" } else { "(num_devices,)" };
        return Err(field_error(label, field, format!("must have shape {shape:?} = {what}, got {:?}", arr.shape())));
    }
    Ok(())
}

/// Copies `src` (already checked to have `dst`'s number of elements, in any layout) into `dst` in logical
/// order with `conv`; fails when `conv` refuses an entry.
fn convert<S: Copy, D>(src: ndarray::ArrayViewD<'_, S>, mut dst: ArrayViewMut2<'_, D>, conv: impl Fn(S) -> Option<D>) -> Result<(), ()> {
    let mut ok = true;
    let mut put = |d: &mut D, s: S| match conv(s) {
        Some(v) => *d = v,
        None => ok = false,
    };
    // Contiguous input (the usual case) as plain slices: iterating a dynamic-dimension view costs an index
    // computation per element.
    match (src.as_slice(), dst.as_slice_mut()) {
        (Some(s), Some(d)) => d.iter_mut().zip(s).for_each(|(d, &s)| put(d, s)),
        (_, Some(d)) => d.iter_mut().zip(src.iter()).for_each(|(d, &s)| put(d, s)),
        _ => dst.iter_mut().zip(src.iter()).for_each(|(d, &s)| put(d, s)),
    }
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

macro_rules! read_as {
    ($arr:expr, $dst:expr, $label:expr, $field:expr, $fail:expr, [$($t:ty => $conv:expr),* $(,)?]) => {
        $(
            if let Ok(a) = $arr.cast::<PyArrayDyn<$t>>() {
                let r = a.try_readonly()?;
                return convert(r.as_array(), $dst, $conv).map(|_| None).map_err(|_| field_error($label, $field, $fail));
            }
        )*
    };
}

/// An integral float that fits an i64, or None.
fn integral(x: f64) -> Option<i64> {
    (x.is_finite() && x == x.trunc() && x.abs() < 9.2e18).then_some(x as i64)
}

/// Reads index field `field` of shape `shape` into `dst` (which has that shape, as 2-D). Returns the array
/// itself instead when it is already a C-contiguous int64 array of that shape (nothing is copied then).
pub(crate) fn read_indices<'py>(obj: &Bound<'py, PyAny>, shape: &[usize], mut dst: ArrayViewMut2<'_, i64>, label: &str, field: &str) -> PyResult<Option<PyReadonlyArray2<'py, i64>>> {
    let arr = as_ndarray(obj, label, field, Kind::Index)?;
    check_shape(&arr, shape, label, field)?;
    if shape.len() == 2 {
        if let Ok(a) = arr.cast::<numpy::PyArray2<i64>>() {
            if a.is_c_contiguous() {
                return Ok(Some(a.try_readonly()?));
            }
        }
    }
    let fail = "must hold integer indices (integral, finite values)";
    read_as!(arr, dst.view_mut(), label, field, fail, [
        i64 => Some, i32 => |x| Some(x as i64), u8 => |x| Some(x as i64), i16 => |x| Some(x as i64), i8 => |x| Some(x as i64),
        u16 => |x| Some(x as i64), u32 => |x| Some(x as i64),
        // Above i64::MAX an index is out of range anyway: map it to -1, which validation rejects.
        u64 => |x| Some(i64::try_from(x).unwrap_or(-1)),
        bool => |x| Some(x as i64),
        f64 => integral, f32 => |x| integral(x as f64),
    ]);
    // Rare dtypes (float16, longdouble, ...): converted by NumPy, or refused with the reason.
    let arr = coerce(arr.as_any(), label, field, Kind::Index)?;
    read_as!(arr, dst.view_mut(), label, field, fail, [i64 => Some]);
    Err(field_error(label, field, format!("must hold integer indices, got dtype {}", arr.dtype())))
}

/// Reads weight field `field` like [`read_indices`]; float64 C-contiguous arrays are read in place.
pub(crate) fn read_weights<'py>(obj: &Bound<'py, PyAny>, shape: &[usize], mut dst: ArrayViewMut2<'_, f64>, label: &str, field: &str) -> PyResult<Option<PyReadonlyArray2<'py, f64>>> {
    let arr = as_ndarray(obj, label, field, Kind::Weight)?;
    check_shape(&arr, shape, label, field)?;
    if shape.len() == 2 {
        if let Ok(a) = arr.cast::<numpy::PyArray2<f64>>() {
            if a.is_c_contiguous() {
                return Ok(Some(a.try_readonly()?));
            }
        }
    }
    let fail = "must hold numbers";
    read_as!(arr, dst.view_mut(), label, field, fail, [
        f64 => Some, f32 => |x| Some(x as f64),
        i64 => |x| Some(x as f64), i32 => |x| Some(x as f64), u8 => |x| Some(x as f64), i16 => |x| Some(x as f64),
        i8 => |x| Some(x as f64), u16 => |x| Some(x as f64), u32 => |x| Some(x as f64), u64 => |x| Some(x as f64),
        bool => |x| Some(x as u8 as f64),
    ]);
    let arr = coerce(arr.as_any(), label, field, Kind::Weight)?;
    read_as!(arr, dst.view_mut(), label, field, fail, [f64 => Some]);
    Err(field_error(label, field, format!("must hold numbers, got dtype {}", arr.dtype())))
}

/// The `cloud_partition` field when the scenario takes one: required with the cloud tier, refused without it
/// (an extra key would otherwise be silently ignored).
pub(crate) fn check_cloud_key<'a, 'py>(cloud: bool, field: Option<&'a Bound<'py, PyAny>>, label: &str) -> PyResult<Option<&'a Bound<'py, PyAny>>> {
    match (cloud, field) {
        (true, None) => Err(field_error(label, "cloud_partition", "is missing: the cloud tier is enabled (MCIA-Cloud-v0), so the action needs the second cut")),
        (false, Some(_)) => Err(field_error(label, "cloud_partition", "is given, but this environment has no cloud tier (use MCIA-Cloud-v0 or cloud.enabled = true)")),
        (_, f) => Ok(f),
    }
}

/// A 2-D view of either the array read in place or the scratch it was converted into.
pub(crate) fn view_of<'a, T: numpy::Element>(borrowed: &'a Option<PyReadonlyArray2<'_, T>>, scratch: &'a ndarray::Array2<T>) -> ArrayView2<'a, T> {
    match borrowed {
        Some(b) => b.as_array(),
        None => scratch.view(),
    }
}
