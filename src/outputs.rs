//! What a reset or a step writes, as ndarray arrays: observations, rewards, flags and the info (SPEC
//! section 6), batched over environments.
//!
//! The info is field-major: every field is one contiguous `(B, N)` block (`(B,)` for the scalars), so a
//! caller can hand each field out without copying. Fields are named by the enums [`FloatField`],
//! [`IntField`] and [`ScalarField`], never by offsets.

use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, ArrayViewMut3, Axis, ShapeBuilder};

macro_rules! field_enum {
    ($(#[$doc:meta])* $name:ident, $names:ident, [$($variant:ident => $text:literal, $vdoc:literal;)*]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum $name {
            $(#[doc = $vdoc] $variant,)*
        }

        /// The field names, in storage order.
        pub const $names: [&str; [$($text),*].len()] = [$($text),*];

        impl $name {
            /// Every field, in storage order.
            pub const ALL: [$name; [$($text),*].len()] = [$($name::$variant),*];

            /// The field's name in the info dict.
            pub fn name(self) -> &'static str {
                $names[self as usize]
            }

            /// The field called `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|f| f.name() == name)
            }
        }
    };
}

field_enum!(
    /// Per-device float info fields.
    FloatField, INFO_F64_FIELDS, [
    ChannelGain => "channel_gain", "Channel power gain `g_n` of the state the step used.";
    DeviceFlops => "device_flops", "Effective device FLOP/s `F_n`.";
    BacklogS => "backlog_s", "Queued local work `q_n` before the step, seconds.";
    BandwidthShare => "bandwidth_share", "Bandwidth share `b_n` (0 when running locally, NaN without a task).";
    ComputeShare => "compute_share", "Edge compute share `c_n` (0 when running locally, NaN without a task).";
    TWait => "t_wait", "Waiting for the device's queue, seconds.";
    TLocal => "t_local", "Local compute, seconds.";
    TTx => "t_tx", "Upload, seconds.";
    TEdge => "t_edge", "Edge queue plus edge compute, seconds.";
    Latency => "latency", "End-to-end latency `T_n`, seconds.";
    Accuracy => "accuracy", "Top-1 accuracy of the version run.";
    Utility => "utility", "Utility `u_n`.";
    TWan => "t_wan", "WAN transfer plus round trip, seconds (cloud tier only; 0 when the task stays off the cloud).";
    TCloud => "t_cloud", "Cloud compute, seconds (cloud tier only).";
]);

field_enum!(
    /// Per-device integer info fields.
    IntField, INFO_I64_FIELDS, [
    TaskType => "task_type", "Task of the slot: 0 none, 1 accuracy-sensitive, 2 latency-sensitive.";
    Version => "version", "Version index run (-1 without a task).";
    Partition => "partition", "Cut point (-1 without a task).";
    DeadlineMet => "deadline_met", "1 if `T <= tau` (-1 without a task).";
    AccuracyMet => "accuracy_met", "1 if the accuracy reaches the task's minimum (-1 without a task).";
    CloudPartition => "cloud_partition", "Effective second cut `p2' = max(p1, p2)` (cloud tier only; -1 without a task).";
]);

field_enum!(
    /// Scalar (per-environment) float info fields.
    ScalarField, INFO_F64_SCALARS, [
    EdgeFlops => "edge_flops", "Effective edge FLOP/s `F_E`.";
    EdgeBacklogS => "edge_backlog_s", "Work the edge held before the step, `q_E`, seconds.";
    WanBps => "wan_bps", "Available WAN capacity `R_W` of the step, bit/s (cloud tier only).";
]);

/// Info fields that only the cloud tier writes; an environment without it leaves them out of its info.
pub const CLOUD_INFO_FIELDS: [&str; 4] = ["t_wan", "t_cloud", "cloud_partition", "wan_bps"];

/// Whether the info of an environment with (`cloud`) or without the cloud tier carries field `name`.
pub fn info_field_applies(name: &str, cloud: bool) -> bool {
    cloud || !CLOUD_INFO_FIELDS.contains(&name)
}

/// One info field of a batch, by name ([`Info::get`]).
#[derive(Clone, Debug)]
pub enum InfoField<'a> {
    /// A per-device float field, `(B, N)`.
    Float(ArrayView2<'a, f64>),
    /// A per-device integer field, `(B, N)`.
    Int(ArrayView2<'a, i64>),
    /// A scalar field, `(B,)`.
    Scalar(ArrayView1<'a, f64>),
}

/// The info of a batch of B environments with N devices, field-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Info {
    /// Float fields, `(F, B, N)`: `float[[FloatField::Latency as usize, i, k]]`.
    pub float: Array3<f64>,
    /// Integer fields, `(I, B, N)`.
    pub int: Array3<i64>,
    /// Scalar fields, `(S, B)`.
    pub scalar: Array2<f64>,
}

/// Elements left between two field blocks of the info. Blocks whose starts are a multiple of 4 KiB apart
/// (any power-of-two batch, say) fall into the same L1 cache set, and a step's writes to 17 fields then evict
/// each other: padding every block by one cache line took the info-writing step from 0.96 M to about 1.5 M
/// env-steps/s on one core (4096 environments, 10 devices).
pub const FIELD_PAD: usize = 8;

/// Zeroed `(fields, b, n)` blocks, each contiguous and [`FIELD_PAD`] elements after the previous one.
pub fn padded_blocks<T: Clone + num_zero::Zero>(fields: usize, b: usize, n: usize) -> Array3<T> {
    let stride = b * n + FIELD_PAD;
    let len = if fields == 0 { 0 } else { (fields - 1) * stride + b * n };
    Array3::from_shape_vec((fields, b, n).strides((stride, n, 1)), vec![T::zero(); len]).expect("the strides fit the buffer")
}

/// The one trait [`padded_blocks`] needs of its element type.
pub mod num_zero {
    /// A type with a zero.
    pub trait Zero {
        /// Zero.
        fn zero() -> Self;
    }
    impl Zero for f64 {
        fn zero() -> Self {
            0.0
        }
    }
    impl Zero for i64 {
        fn zero() -> Self {
            0
        }
    }
}

impl Info {
    /// Zeroed info of `b` environments with `n` devices (field blocks padded apart, [`FIELD_PAD`]).
    pub fn zeros(b: usize, n: usize) -> Self {
        Self { float: padded_blocks(FloatField::ALL.len(), b, n), int: padded_blocks(IntField::ALL.len(), b, n), scalar: Array2::zeros((ScalarField::ALL.len(), b)) }
    }

    /// A float field, `(B, N)`.
    pub fn float(&self, f: FloatField) -> ArrayView2<'_, f64> {
        self.float.index_axis(Axis(0), f as usize)
    }

    /// An integer field, `(B, N)`.
    pub fn int(&self, f: IntField) -> ArrayView2<'_, i64> {
        self.int.index_axis(Axis(0), f as usize)
    }

    /// A scalar field, `(B,)`.
    pub fn scalar(&self, f: ScalarField) -> ArrayView1<'_, f64> {
        self.scalar.index_axis(Axis(0), f as usize)
    }

    /// Any field by its info-dict name (`"latency"`, `"task_type"`, `"edge_flops"`, ...).
    pub fn get(&self, name: &str) -> Option<InfoField<'_>> {
        if let Some(f) = FloatField::from_name(name) {
            return Some(InfoField::Float(self.float(f)));
        }
        if let Some(f) = IntField::from_name(name) {
            return Some(InfoField::Int(self.int(f)));
        }
        ScalarField::from_name(name).map(|f| InfoField::Scalar(self.scalar(f)))
    }

    /// A mutable view of the whole batch.
    pub fn view_mut(&mut self) -> InfoViewMut<'_> {
        InfoViewMut { float: self.float.view_mut(), int: self.int.view_mut(), scalar: self.scalar.view_mut() }
    }
}

/// A mutable view of a batch's info: `(F, B, N)`, `(I, B, N)` and `(S, B)`.
#[derive(Debug)]
pub struct InfoViewMut<'a> {
    /// Float fields.
    pub float: ArrayViewMut3<'a, f64>,
    /// Integer fields.
    pub int: ArrayViewMut3<'a, i64>,
    /// Scalar fields.
    pub scalar: ArrayViewMut2<'a, f64>,
}

impl<'a> InfoViewMut<'a> {
    /// Number of environments B.
    pub fn num_envs(&self) -> usize {
        self.float.len_of(Axis(1))
    }

    /// The info of environment `i`.
    pub fn env(&mut self, i: usize) -> EnvInfoMut<'_> {
        EnvInfoMut::new(self.float.index_axis_mut(Axis(1), i), self.int.index_axis_mut(Axis(1), i), self.scalar.index_axis_mut(Axis(1), i)).expect("the batch view has the info shape")
    }

    /// Environment `i`'s info, consuming the view (for a view of one row).
    pub fn into_env(self, i: usize) -> EnvInfoMut<'a> {
        EnvInfoMut::new(self.float.index_axis_move(Axis(1), i), self.int.index_axis_move(Axis(1), i), self.scalar.index_axis_move(Axis(1), i)).expect("the batch view has the info shape")
    }

    /// Every environment's info, in order.
    pub fn envs(&mut self) -> impl Iterator<Item = EnvInfoMut<'_>> {
        let float = self.float.axis_iter_mut(Axis(1));
        let int = self.int.axis_iter_mut(Axis(1));
        let scalar = self.scalar.axis_iter_mut(Axis(1));
        float.zip(int).zip(scalar).map(|((f, i), s)| EnvInfoMut::new(f, i, s).expect("the batch view has the info shape"))
    }

    /// Splits off environments `[0, at)` from `[at, B)`.
    pub fn split_at(self, at: usize) -> (InfoViewMut<'a>, InfoViewMut<'a>) {
        let (f0, f1) = self.float.split_at(Axis(1), at);
        let (i0, i1) = self.int.split_at(Axis(1), at);
        let (s0, s1) = self.scalar.split_at(Axis(1), at);
        (InfoViewMut { float: f0, int: i0, scalar: s0 }, InfoViewMut { float: f1, int: i1, scalar: s1 })
    }

    /// Shape check against `b` environments with `n` devices.
    pub fn has_shape(&self, b: usize, n: usize) -> bool {
        self.float.dim() == (FloatField::ALL.len(), b, n) && self.int.dim() == (IntField::ALL.len(), b, n) && self.scalar.dim() == (ScalarField::ALL.len(), b)
    }
}

/// The info of one environment: `(F, N)`, `(I, N)` and `(S,)`. Fields are written by name.
#[derive(Debug)]
pub struct EnvInfoMut<'a> {
    float: ArrayViewMut2<'a, f64>,
    int: ArrayViewMut2<'a, i64>,
    scalar: ArrayViewMut1<'a, f64>,
}

impl<'a> EnvInfoMut<'a> {
    /// Views of the float `(F, N)`, integer `(I, N)` and scalar `(S,)` fields of one environment, or None when
    /// the shapes do not fit together.
    pub fn new(float: ArrayViewMut2<'a, f64>, int: ArrayViewMut2<'a, i64>, scalar: ArrayViewMut1<'a, f64>) -> Option<Self> {
        let n = float.ncols();
        (float.nrows() == FloatField::ALL.len() && int.dim() == (IntField::ALL.len(), n) && scalar.len() == ScalarField::ALL.len()).then_some(Self { float, int, scalar })
    }
}

impl EnvInfoMut<'_> {
    /// Number of devices N the view holds.
    pub fn num_devices(&self) -> usize {
        self.float.ncols()
    }

    /// Whether the view has the shape of the info of one environment with `n` devices.
    pub fn has_shape(&self, n: usize) -> bool {
        self.float.dim() == (FloatField::ALL.len(), n) && self.int.dim() == (IntField::ALL.len(), n) && self.scalar.len() == ScalarField::ALL.len()
    }

    /// Writes float field `f` of device `k`. Panics if `k` is not a device of the view.
    #[inline(always)]
    pub fn set_float(&mut self, f: FloatField, k: usize, v: f64) {
        assert!(k < self.float.ncols(), "device {k} out of range");
        // SAFETY: `f` is a field enum, so `f < F` = the first axis length (every constructor makes `F` rows),
        // and `k` was just checked against the second axis. An unchecked write keeps this hot write at one
        // multiply-add: the info is written for every device of every step.
        unsafe { *self.float.uget_mut((f as usize, k)) = v }
    }

    /// Writes integer field `f` of device `k`. Panics if `k` is not a device of the view.
    #[inline(always)]
    pub fn set_int(&mut self, f: IntField, k: usize, v: i64) {
        assert!(k < self.int.ncols(), "device {k} out of range");
        // SAFETY: as in `set_float`.
        unsafe { *self.int.uget_mut((f as usize, k)) = v }
    }

    /// Writes scalar field `f`.
    #[inline(always)]
    pub fn set_scalar(&mut self, f: ScalarField, v: f64) {
        self.scalar[f as usize] = v;
    }

    /// Reborrows for a shorter lifetime.
    pub fn reborrow(&mut self) -> EnvInfoMut<'_> {
        EnvInfoMut { float: self.float.view_mut(), int: self.int.view_mut(), scalar: self.scalar.view_mut() }
    }

    /// Copies every field from `other` (of the same number of devices).
    pub fn assign(&mut self, other: &EnvInfoMut<'_>) {
        self.float.assign(&other.float);
        self.int.assign(&other.int);
        self.scalar.assign(&other.scalar);
    }
}

/// One environment's info, owned (what a single [`crate::Env`] user keeps between steps).
#[derive(Clone, Debug, PartialEq)]
pub struct EnvInfo {
    /// Float fields, `(F, N)`.
    pub float: Array2<f64>,
    /// Integer fields, `(I, N)`.
    pub int: Array2<i64>,
    /// Scalar fields, `(S,)`.
    pub scalar: Array1<f64>,
}

impl EnvInfo {
    /// Zeroed info of one environment with `n` devices.
    pub fn zeros(n: usize) -> Self {
        Self { float: Array2::zeros((FloatField::ALL.len(), n)), int: Array2::zeros((IntField::ALL.len(), n)), scalar: Array1::zeros(ScalarField::ALL.len()) }
    }

    /// A float field, `(N,)`.
    pub fn float(&self, f: FloatField) -> ArrayView1<'_, f64> {
        self.float.row(f as usize)
    }

    /// An integer field, `(N,)`.
    pub fn int(&self, f: IntField) -> ArrayView1<'_, i64> {
        self.int.row(f as usize)
    }

    /// A scalar field.
    pub fn scalar(&self, f: ScalarField) -> f64 {
        self.scalar[f as usize]
    }

    /// A mutable view, for [`crate::Env::step`] and [`crate::Env::reset`].
    pub fn view_mut(&mut self) -> EnvInfoMut<'_> {
        EnvInfoMut { float: self.float.view_mut(), int: self.int.view_mut(), scalar: self.scalar.view_mut() }
    }
}

/// Everything a batched reset or step writes, owned by a [`crate::VecEnv`].
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// Observations, `(B, 7N + 3)`.
    pub obs: Array2<f32>,
    /// Rewards, `(B,)`.
    pub rewards: Array1<f64>,
    /// Terminated flags, `(B,)` (always false in MCIA).
    pub terminated: Array1<bool>,
    /// Truncated flags, `(B,)`.
    pub truncated: Array1<bool>,
    /// The info, when the vector env writes it.
    pub info: Option<Info>,
    /// SAME_STEP autoreset only: the final observation of each environment whose episode ended in the last
    /// step (other rows hold older values), `(B, 7N + 3)`.
    pub final_obs: Option<Array2<f32>>,
    /// SAME_STEP autoreset with info: the final info of each environment whose episode ended.
    pub final_info: Option<Info>,
}

impl Outputs {
    /// Zeroed outputs of `b` environments with `n` devices and observation length `od`; the info blocks
    /// only `with_info`, the final ones only `same_step`.
    pub fn zeros(b: usize, n: usize, od: usize, with_info: bool, same_step: bool) -> Self {
        Self {
            obs: Array2::zeros((b, od)),
            rewards: Array1::zeros(b),
            terminated: Array1::from_elem(b, false),
            truncated: Array1::from_elem(b, false),
            info: with_info.then(|| Info::zeros(b, n)),
            final_obs: same_step.then(|| Array2::zeros((b, od))),
            final_info: (same_step && with_info).then(|| Info::zeros(b, n)),
        }
    }

    /// A mutable view of every array.
    pub fn view_mut(&mut self) -> OutputsMut<'_> {
        OutputsMut {
            obs: self.obs.view_mut(),
            rewards: self.rewards.view_mut(),
            terminated: self.terminated.view_mut(),
            truncated: self.truncated.view_mut(),
            info: self.info.as_mut().map(Info::view_mut),
            final_obs: self.final_obs.as_mut().map(|a| a.view_mut()),
            final_info: self.final_info.as_mut().map(Info::view_mut),
        }
    }

    /// Number of environments B.
    pub fn num_envs(&self) -> usize {
        self.rewards.len()
    }
}

/// Mutable views of a batch's outputs: what [`crate::VecEnv::step_into`] writes. Observation rows must be
/// contiguous (a C-order `(B, obs_dim)` array); the info views may have any strides.
#[derive(Debug)]
pub struct OutputsMut<'a> {
    /// Observations, `(B, 7N + 3)`.
    pub obs: ArrayViewMut2<'a, f32>,
    /// Rewards, `(B,)`.
    pub rewards: ArrayViewMut1<'a, f64>,
    /// Terminated flags, `(B,)`.
    pub terminated: ArrayViewMut1<'a, bool>,
    /// Truncated flags, `(B,)`.
    pub truncated: ArrayViewMut1<'a, bool>,
    /// The info, when wanted.
    pub info: Option<InfoViewMut<'a>>,
    /// SAME_STEP: final observations.
    pub final_obs: Option<ArrayViewMut2<'a, f32>>,
    /// SAME_STEP with info: final info.
    pub final_info: Option<InfoViewMut<'a>>,
}

impl<'a> OutputsMut<'a> {
    /// Splits off environments `[0, at)` from `[at, B)`.
    pub fn split_at(self, at: usize) -> (OutputsMut<'a>, OutputsMut<'a>) {
        let (o0, o1) = self.obs.split_at(Axis(0), at);
        let (r0, r1) = self.rewards.split_at(Axis(0), at);
        let (te0, te1) = self.terminated.split_at(Axis(0), at);
        let (tr0, tr1) = self.truncated.split_at(Axis(0), at);
        let (i0, i1) = split_opt(self.info, |v| v.split_at(at));
        let (fo0, fo1) = split_opt(self.final_obs, |v| v.split_at(Axis(0), at));
        let (fi0, fi1) = split_opt(self.final_info, |v| v.split_at(at));
        (
            OutputsMut { obs: o0, rewards: r0, terminated: te0, truncated: tr0, info: i0, final_obs: fo0, final_info: fi0 },
            OutputsMut { obs: o1, rewards: r1, terminated: te1, truncated: tr1, info: i1, final_obs: fo1, final_info: fi1 },
        )
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.rewards.len()
    }

    /// The rows of environment `j` of this view.
    #[inline(always)]
    pub fn row(&mut self, j: usize) -> Row<'_> {
        Row {
            obs: self.obs.row_mut(j).into_slice().expect("observation rows are contiguous"),
            reward: &mut self.rewards[j],
            terminated: &mut self.terminated[j],
            truncated: &mut self.truncated[j],
            info: self.info.as_mut().map(|i| i.env(j)),
            final_obs: self.final_obs.as_mut().map(|f| f.row_mut(j).into_slice().expect("observation rows are contiguous")),
            final_info: self.final_info.as_mut().map(|i| i.env(j)),
        }
    }

    /// A view of rows `[start, end)` (used to hand one row to a single step).
    pub fn slice_rows(&mut self, start: usize, end: usize) -> OutputsMut<'_> {
        OutputsMut {
            obs: self.obs.slice_mut(s![start..end, ..]),
            rewards: self.rewards.slice_mut(s![start..end]),
            terminated: self.terminated.slice_mut(s![start..end]),
            truncated: self.truncated.slice_mut(s![start..end]),
            info: self.info.as_mut().map(|i| InfoViewMut { float: i.float.slice_mut(s![.., start..end, ..]), int: i.int.slice_mut(s![.., start..end, ..]), scalar: i.scalar.slice_mut(s![.., start..end]) }),
            final_obs: self.final_obs.as_mut().map(|f| f.slice_mut(s![start..end, ..])),
            final_info: self.final_info.as_mut().map(|i| InfoViewMut { float: i.float.slice_mut(s![.., start..end, ..]), int: i.int.slice_mut(s![.., start..end, ..]), scalar: i.scalar.slice_mut(s![.., start..end]) }),
        }
    }
}

fn split_opt<T, U>(x: Option<T>, f: impl FnOnce(T) -> (U, U)) -> (Option<U>, Option<U>) {
    match x {
        Some(v) => {
            let (a, b) = f(v);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}

/// One environment's rows of a batch's outputs.
pub struct Row<'a> {
    /// Observation, `(7N + 3,)`.
    pub obs: &'a mut [f32],
    /// Reward.
    pub reward: &'a mut f64,
    /// Terminated flag.
    pub terminated: &'a mut bool,
    /// Truncated flag.
    pub truncated: &'a mut bool,
    /// Info, when written.
    pub info: Option<EnvInfoMut<'a>>,
    /// SAME_STEP final observation.
    pub final_obs: Option<&'a mut [f32]>,
    /// SAME_STEP final info.
    pub final_info: Option<EnvInfoMut<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_have_names_and_blocks_are_contiguous() {
        assert_eq!(FloatField::Latency.name(), "latency");
        assert_eq!(FloatField::from_name("utility"), Some(FloatField::Utility));
        assert_eq!(IntField::from_name("task_type"), Some(IntField::TaskType));
        assert_eq!(INFO_F64_SCALARS, ["edge_flops", "edge_backlog_s", "wan_bps"]);
        let mut info = Info::zeros(3, 4);
        {
            let mut v = info.view_mut();
            let mut e = v.env(2);
            e.set_float(FloatField::Latency, 1, 0.5);
            e.set_int(IntField::Version, 3, 7);
            e.set_scalar(ScalarField::EdgeBacklogS, 1.25);
        }
        assert!(info.float(FloatField::Latency).is_standard_layout());
        assert_eq!(info.float(FloatField::Latency)[[2, 1]], 0.5);
        assert_eq!(info.int(IntField::Version)[[2, 3]], 7);
        assert_eq!(info.scalar(ScalarField::EdgeBacklogS)[2], 1.25);
        assert!(matches!(info.get("edge_backlog_s"), Some(InfoField::Scalar(s)) if s[2] == 1.25));
        assert!(info.get("colour").is_none());
    }

    #[test]
    fn outputs_split_into_disjoint_rows() {
        let mut out = Outputs::zeros(5, 2, 3, true, true);
        {
            let (mut a, mut b) = out.view_mut().split_at(2);
            assert_eq!((a.num_envs(), b.num_envs()), (2, 3));
            *b.row(0).reward = 4.0;
            a.row(1).obs[2] = 1.5;
            b.row(2).info.unwrap().set_float(FloatField::Utility, 1, -1.0);
        }
        assert_eq!(out.rewards[2], 4.0);
        assert_eq!(out.obs[[1, 2]], 1.5);
        assert_eq!(out.info.as_ref().unwrap().float(FloatField::Utility)[[4, 1]], -1.0);
    }
}
