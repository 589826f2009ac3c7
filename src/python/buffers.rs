//! Output arrays handed to Python without copying.
//!
//! A step writes into numpy arrays that Rust allocated once, and returns those very arrays. With
//! `copy=False` the same set is written every step (documented zero-copy: the caller sees it change). With
//! `copy=True` the caller must own what it gets, so a small ring of sets is kept and a set is reused only when
//! Python holds no reference to any of its arrays or views: each watched object's reference count is back to
//! what it was when only the set held it. A caller that keeps results gets a fresh set instead, so nothing it
//! holds ever changes, and a caller that drops them (the usual training loop) costs no allocation or copy.

use numpy::{PyArray1, PyArray2, PyArray3, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::outputs::{info_field_applies, padded_blocks, EnvInfoMut, FloatField, InfoViewMut, IntField, OutputsMut, ScalarField};

/// Objects given to Python and their reference counts while only their set holds them.
struct Watched {
    objs: Vec<Py<PyAny>>,
    baseline: Vec<isize>,
}

/// The reference count of `o`.
fn refcount(_py: Python<'_>, o: &Py<PyAny>) -> isize {
    // SAFETY: `o` is an owned reference, so the pointer is a live object, and the GIL is held (`_py`).
    unsafe { pyo3::ffi::Py_REFCNT(o.as_ptr()) }
}

impl Watched {
    fn new(py: Python<'_>, objs: Vec<Py<PyAny>>) -> Self {
        let baseline = objs.iter().map(|o| refcount(py, o)).collect();
        Self { objs, baseline }
    }

    /// Whether Python holds none of the objects.
    fn is_free(&self, py: Python<'_>) -> bool {
        self.objs.iter().zip(&self.baseline).all(|(o, &b)| refcount(py, o) == b)
    }
}

/// A set of output arrays that can be handed out.
pub(crate) trait OutputSet: Sized {
    /// Whether Python holds no reference to any of the set's arrays or views.
    fn is_free(&self, py: Python<'_>) -> bool;
}

/// A few sets of output arrays, reused when Python lets go of them (module docs).
pub(crate) struct Ring<S> {
    sets: Vec<S>,
    next: usize,
    /// Hand out the same set every time (`copy=False`).
    shared: bool,
}

/// Sets kept for reuse with `copy=True`: the current one, the previous one a caller may still hold (as in
/// `obs, next_obs`), and one spare.
const RING_SETS: usize = 3;

impl<S: OutputSet> Ring<S> {
    pub(crate) fn new(shared: bool) -> Self {
        Self { sets: Vec::new(), next: 0, shared }
    }

    /// The index of a set that may be written now, made with `make` when none is free.
    pub(crate) fn acquire(&mut self, py: Python<'_>, make: impl FnOnce() -> PyResult<S>) -> PyResult<usize> {
        let len = self.sets.len();
        if self.shared && len == 1 {
            return Ok(0);
        }
        for j in 0..len {
            let i = (self.next + j) % len;
            if self.sets[i].is_free(py) {
                self.next = (i + 1) % len.max(1);
                return Ok(i);
            }
        }
        let fresh = make()?;
        if len < RING_SETS {
            self.sets.push(fresh);
            self.next = 0;
            return Ok(len);
        }
        // Every set is held by the caller: replace one (the caller keeps its arrays; they are never written again).
        let i = self.next % len;
        self.sets[i] = fresh;
        self.next = (i + 1) % len;
        Ok(i)
    }

    pub(crate) fn get(&self, i: usize) -> &S {
        &self.sets[i]
    }

    /// Whether a set handed out by [`Ring::acquire`] is written by this call alone: true unless the same set
    /// is shared across calls (`copy=False`), where the caller may hold the arrays while we write them.
    pub(crate) fn exclusive(&self) -> bool {
        !self.shared
    }

    /// The set written last, if any.
    pub(crate) fn last(&self, last: Option<usize>) -> Option<&S> {
        last.and_then(|i| self.sets.get(i))
    }

    /// Forgets every set (the next call makes new ones).
    pub(crate) fn clear(&mut self) {
        self.sets.clear();
        self.next = 0;
    }
}

/// The info arrays of a batch: `(F, B, N)`, `(I, B, N)` and `(S, B)`.
pub(crate) struct InfoArrays {
    float: Py<PyArray3<f64>>,
    int: Py<PyArray3<i64>>,
    scalar: Py<PyArray2<f64>>,
}

impl InfoArrays {
    fn new(py: Python<'_>, b: usize, n: usize) -> Self {
        // Field blocks padded apart, as the core's own info (`outputs::FIELD_PAD`: cache-set conflicts).
        Self {
            float: PyArray3::from_owned_array(py, padded_blocks(FloatField::ALL.len(), b, n)).unbind(),
            int: PyArray3::from_owned_array(py, padded_blocks(IntField::ALL.len(), b, n)).unbind(),
            scalar: PyArray2::zeros(py, [ScalarField::ALL.len(), b], false).unbind(),
        }
    }

    /// A dict of views, one per field of the scenario (`cloud`: with the cloud tier's): `(B, N)` per
    /// device field, `(B,)` per scalar.
    fn views<'py>(&self, py: Python<'py>, cloud: bool) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for f in FloatField::ALL.into_iter().filter(|f| info_field_applies(f.name(), cloud)) {
            d.set_item(f.name(), self.float.bind(py).get_item(f as usize)?)?;
        }
        for f in IntField::ALL.into_iter().filter(|f| info_field_applies(f.name(), cloud)) {
            d.set_item(f.name(), self.int.bind(py).get_item(f as usize)?)?;
        }
        for f in ScalarField::ALL.into_iter().filter(|f| info_field_applies(f.name(), cloud)) {
            d.set_item(f.name(), self.scalar.bind(py).get_item(f as usize)?)?;
        }
        Ok(d)
    }

    /// The three arrays, bound.
    #[allow(clippy::type_complexity)]
    fn bind<'py>(&self, py: Python<'py>) -> (&Bound<'py, PyArray3<f64>>, &Bound<'py, PyArray3<i64>>, &Bound<'py, PyArray2<f64>>) {
        (self.float.bind(py), self.int.bind(py), self.scalar.bind(py))
    }

    fn objects(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        vec![self.float.clone_ref(py).into_any(), self.int.clone_ref(py).into_any(), self.scalar.clone_ref(py).into_any()]
    }
}

/// What a vector-env call returns: `(obs, rewards, terminated, truncated, info)`.
pub(crate) type StepOut<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<bool>>, Bound<'py, PyArray1<bool>>, Bound<'py, PyDict>);

/// The output arrays of one vector-env call.
pub(crate) struct VecSet {
    pub(crate) obs: Py<PyArray2<f32>>,
    pub(crate) rewards: Py<PyArray1<f64>>,
    pub(crate) terminated: Py<PyArray1<bool>>,
    pub(crate) truncated: Py<PyArray1<bool>>,
    info: Option<InfoArrays>,
    pub(crate) final_obs: Option<Py<PyArray2<f32>>>,
    final_info: Option<InfoArrays>,
    /// Views of `info`, built once; each call returns a copy of the dict (the views themselves are shared).
    pub(crate) info_dict: Py<PyDict>,
    pub(crate) final_dict: Option<Py<PyDict>>,
    watched: Watched,
}

impl OutputSet for VecSet {
    fn is_free(&self, py: Python<'_>) -> bool {
        self.watched.is_free(py)
    }
}

impl VecSet {
    /// Zeroed arrays for `b` environments, `n` devices, observation length `od`.
    pub(crate) fn new(py: Python<'_>, b: usize, n: usize, od: usize, with_info: bool, same_step: bool, cloud: bool) -> PyResult<Self> {
        let info = with_info.then(|| InfoArrays::new(py, b, n));
        let final_info = (with_info && same_step).then(|| InfoArrays::new(py, b, n));
        let info_dict = match &info {
            Some(i) => i.views(py, cloud)?,
            None => PyDict::new(py),
        };
        let final_dict = final_info.as_ref().map(|i| i.views(py, cloud)).transpose()?;
        let set = Self {
            obs: PyArray2::zeros(py, [b, od], false).unbind(),
            rewards: PyArray1::zeros(py, b, false).unbind(),
            terminated: PyArray1::zeros(py, b, false).unbind(),
            truncated: PyArray1::zeros(py, b, false).unbind(),
            final_obs: same_step.then(|| PyArray2::zeros(py, [b, od], false).unbind()),
            info,
            final_info,
            info_dict: info_dict.unbind(),
            final_dict: final_dict.map(Bound::unbind),
            watched: Watched { objs: vec![], baseline: vec![] },
        };
        let mut objs = vec![set.obs.clone_ref(py).into_any(), set.rewards.clone_ref(py).into_any(), set.terminated.clone_ref(py).into_any(), set.truncated.clone_ref(py).into_any()];
        if let Some(f) = &set.final_obs {
            objs.push(f.clone_ref(py).into_any());
        }
        for (arrays, dict) in [(&set.info, Some(&set.info_dict)), (&set.final_info, set.final_dict.as_ref())] {
            if let (Some(a), Some(d)) = (arrays, dict) {
                objs.extend(a.objects(py));
                objs.extend(d.bind(py).values().iter().map(Bound::unbind));
            }
        }
        // The watched list holds one more reference to each object: part of the baseline.
        let watched = Watched::new(py, objs);
        Ok(Self { watched, ..set })
    }

    /// Runs `f` with the arrays as the core's output views. With `exclusive` (a free set of a `copy=True`
    /// ring) the arrays are viewed directly; otherwise through numpy's borrow checking.
    pub(crate) fn with_outputs<R>(&self, py: Python<'_>, exclusive: bool, f: impl FnOnce(OutputsMut<'_>) -> R) -> PyResult<R> {
        let (obs, rewards, terminated, truncated) = (self.obs.bind(py), self.rewards.bind(py), self.terminated.bind(py), self.truncated.bind(py));
        let final_obs = self.final_obs.as_ref().map(|a| a.bind(py));
        let info = self.info.as_ref().map(|i| i.bind(py));
        let final_info = self.final_info.as_ref().map(|i| i.bind(py));
        if exclusive {
            // SAFETY: the set was free (`Ring::acquire`): every array and view of it has the reference count it
            // had when only the set held it, so no Python object, and hence no other borrow, refers to this
            // memory while we write it (the GIL is held until the caller releases it for the step, and the
            // arrays are not reachable from Python meanwhile). Skipping numpy's borrow tracking saves about
            // a tenth of a microsecond per array on every call.
            let out = unsafe {
                OutputsMut {
                    obs: obs.as_array_mut(),
                    rewards: rewards.as_array_mut(),
                    terminated: terminated.as_array_mut(),
                    truncated: truncated.as_array_mut(),
                    info: info.as_ref().map(|(f, i, s)| InfoViewMut { float: f.as_array_mut(), int: i.as_array_mut(), scalar: s.as_array_mut() }),
                    final_obs: final_obs.as_ref().map(|a| a.as_array_mut()),
                    final_info: final_info.as_ref().map(|(f, i, s)| InfoViewMut { float: f.as_array_mut(), int: i.as_array_mut(), scalar: s.as_array_mut() }),
                }
            };
            return Ok(f(out));
        }
        let (mut o, mut r, mut te, mut tr) = (obs.try_readwrite()?, rewards.try_readwrite()?, terminated.try_readwrite()?, truncated.try_readwrite()?);
        let mut fo = final_obs.map(|a| a.try_readwrite()).transpose()?;
        let mut ig = info.as_ref().map(|(f, i, s)| Ok::<_, PyErr>((f.try_readwrite()?, i.try_readwrite()?, s.try_readwrite()?))).transpose()?;
        let mut fg = final_info.as_ref().map(|(f, i, s)| Ok::<_, PyErr>((f.try_readwrite()?, i.try_readwrite()?, s.try_readwrite()?))).transpose()?;
        let out = OutputsMut {
            obs: o.as_array_mut(),
            rewards: r.as_array_mut(),
            terminated: te.as_array_mut(),
            truncated: tr.as_array_mut(),
            info: ig.as_mut().map(|(f, i, s)| InfoViewMut { float: f.as_array_mut(), int: i.as_array_mut(), scalar: s.as_array_mut() }),
            final_obs: fo.as_mut().map(|a| a.as_array_mut()),
            final_info: fg.as_mut().map(|(f, i, s)| InfoViewMut { float: f.as_array_mut(), int: i.as_array_mut(), scalar: s.as_array_mut() }),
        };
        Ok(f(out))
    }

    /// `(obs, rewards, terminated, truncated, info)` as Python values (the info dict is a fresh copy).
    pub(crate) fn outputs<'py>(&self, py: Python<'py>) -> PyResult<StepOut<'py>> {
        Ok((self.obs.bind(py).clone(), self.rewards.bind(py).clone(), self.terminated.bind(py).clone(), self.truncated.bind(py).clone(), self.info_dict.bind(py).copy()?))
    }
}

/// The output arrays of one single-env call: the observation `(7N + 3,)` and the info of one environment.
pub(crate) struct EnvSet {
    pub(crate) obs: Py<PyArray1<f32>>,
    float: Option<Py<PyArray2<f64>>>,
    int: Option<Py<PyArray2<i64>>>,
    scalar: Option<Py<PyArray1<f64>>>,
    /// Views of the per-device fields, `(N,)` each, built once.
    pub(crate) info_dict: Py<PyDict>,
    watched: Watched,
    /// Whether the scenario has the cloud tier (its info fields are included).
    cloud: bool,
}

impl OutputSet for EnvSet {
    fn is_free(&self, py: Python<'_>) -> bool {
        self.watched.is_free(py)
    }
}

impl EnvSet {
    pub(crate) fn new(py: Python<'_>, n: usize, od: usize, with_info: bool, cloud: bool) -> PyResult<Self> {
        let obs = PyArray1::<f32>::zeros(py, od, false).unbind();
        let dict = PyDict::new(py);
        let (mut float, mut int, mut scalar) = (None, None, None);
        let mut objs = vec![obs.clone_ref(py).into_any()];
        if with_info {
            let f = PyArray2::<f64>::zeros(py, [FloatField::ALL.len(), n], false);
            let i = PyArray2::<i64>::zeros(py, [IntField::ALL.len(), n], false);
            for field in FloatField::ALL.into_iter().filter(|f| info_field_applies(f.name(), cloud)) {
                dict.set_item(field.name(), f.get_item(field as usize)?)?;
            }
            for field in IntField::ALL.into_iter().filter(|f| info_field_applies(f.name(), cloud)) {
                dict.set_item(field.name(), i.get_item(field as usize)?)?;
            }
            objs.push(f.clone().unbind().into_any());
            objs.push(i.clone().unbind().into_any());
            objs.extend(dict.values().iter().map(Bound::unbind));
            float = Some(f.unbind());
            int = Some(i.unbind());
            scalar = Some(PyArray1::<f64>::zeros(py, ScalarField::ALL.len(), false).unbind());
        }
        let watched = Watched::new(py, objs);
        Ok(Self { obs, float, int, scalar, info_dict: dict.unbind(), watched, cloud })
    }

    /// Runs `f` with the observation slice and the info view of this set; `exclusive` as in
    /// [`VecSet::with_outputs`].
    pub(crate) fn with_views<R>(&self, py: Python<'_>, exclusive: bool, f: impl FnOnce(&mut [f32], Option<EnvInfoMut<'_>>) -> R) -> PyResult<R> {
        if exclusive {
            let (obs, fl, it, sc) = (self.obs.bind(py), self.float.as_ref().map(|a| a.bind(py)), self.int.as_ref().map(|a| a.bind(py)), self.scalar.as_ref().map(|a| a.bind(py)));
            // SAFETY: as in `VecSet::with_outputs`: the set is free, so nothing else refers to its memory.
            let (obs, info) = unsafe {
                let info = match (fl, it, sc) {
                    (Some(f), Some(i), Some(s)) => EnvInfoMut::new(f.as_array_mut(), i.as_array_mut(), s.as_array_mut()),
                    _ => None,
                };
                (obs.as_array_mut(), info)
            };
            let mut obs = obs;
            return Ok(f(obs.as_slice_mut().expect("a fresh 1-D array is contiguous"), info));
        }
        let mut obs = self.obs.bind(py).try_readwrite()?;
        let mut guards = match (&self.float, &self.int, &self.scalar) {
            (Some(fl), Some(it), Some(sc)) => Some((fl.bind(py).try_readwrite()?, it.bind(py).try_readwrite()?, sc.bind(py).try_readwrite()?)),
            _ => None,
        };
        let info = guards.as_mut().and_then(|(fl, it, sc)| EnvInfoMut::new(fl.as_array_mut(), it.as_array_mut(), sc.as_array_mut()));
        Ok(f(obs.as_slice_mut()?, info))
    }

    /// `(obs, info)`: the info a fresh dict of the field views plus the scalars as Python floats.
    pub(crate) fn outputs<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyDict>)> {
        let info = self.info_dict.bind(py).copy()?;
        if let Some(sc) = &self.scalar {
            let values = sc.bind(py).try_readonly()?;
            let values = values.as_slice()?;
            for f in ScalarField::ALL.into_iter().filter(|f| info_field_applies(f.name(), self.cloud)) {
                info.set_item(f.name(), values[f as usize])?;
            }
        }
        Ok((self.obs.bind(py).clone(), info))
    }
}
