//! Logarithms and exponentials eight lanes at a time.
//!
//! A step needs about four of them per device (path gain, spectral efficiency, uplink rate); called one by
//! one through libm they were a third of the step's time. Here they are branch-free straight-line code on
//! [`wide::f64x8`] (SSE2, AVX or NEON as the target allows), with no call and no table.
//!
//! The kernels are the classic fdlibm algorithms (the reduction and the minimax coefficients of `e_log.c`,
//! a Cody-Waite reduction and a degree-13 Taylor polynomial for `exp`), accurate to about 1 ulp; the tests
//! compare them with libm. They assume what the simulator guarantees: arguments of [`ln`] are finite,
//! positive and normal, and [`exp`] saturates beyond |x| > 708 instead of overflowing.
//!
//! Batched and one-at-a-time evaluation agree bit for bit (every lane runs the same operations), so a
//! policy's view of a rate equals the environment's and a restored snapshot continues exactly.

use std::ops::{Add, Div, Mul, Sub};

use wide::{f64x8, u64x8};

/// Lanes per group.
pub const LANES: usize = 8;

/// One group of lane values.
pub type Lanes = [f64; LANES];

/// Eight f64 lanes: the operations the kernels need. Implementations must perform exactly the IEEE
/// operation named in every lane, so that all of them give bit-identical results.
pub trait Vector: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> {
    /// Every lane `x`.
    fn splat(x: f64) -> Self;
    /// The lanes of an array.
    fn from_array(x: Lanes) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> Lanes;
    /// Lane-wise maximum of non-NaN values.
    fn max(self, other: Self) -> Self;
    /// Lane-wise minimum of non-NaN values.
    fn min(self, other: Self) -> Self;
    /// Wrapping add of `c` to each lane's bit pattern as a `u64`.
    fn bits_add(self, c: u64) -> Self;
    /// Bitwise and of each lane's bit pattern with `c`.
    fn bits_and(self, c: u64) -> Self;
    /// Bitwise or of each lane's bit pattern with `c`.
    fn bits_or(self, c: u64) -> Self;
    /// Each lane's bit pattern shifted right by 52 (logical).
    fn bits_shr52(self) -> Self;
    /// Each lane's bit pattern shifted left by 52.
    fn bits_shl52(self) -> Self;
}

/// The portable implementation ([`wide`]: SSE2 on any x86-64, NEON on aarch64, AVX when compiled for it).
pub type Portable = f64x8;

impl Vector for f64x8 {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        f64x8::splat(x)
    }
    #[inline(always)]
    fn from_array(x: Lanes) -> Self {
        f64x8::from(x)
    }
    #[inline(always)]
    fn to_array(self) -> Lanes {
        f64x8::to_array(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        self.fast_max(other)
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        self.fast_min(other)
    }
    #[inline(always)]
    fn bits_add(self, c: u64) -> Self {
        float(bits(self) + u64x8::splat(c))
    }
    #[inline(always)]
    fn bits_and(self, c: u64) -> Self {
        float(bits(self) & u64x8::splat(c))
    }
    #[inline(always)]
    fn bits_or(self, c: u64) -> Self {
        float(bits(self) | u64x8::splat(c))
    }
    #[inline(always)]
    fn bits_shr52(self) -> Self {
        float(bits(self) >> 52)
    }
    #[inline(always)]
    fn bits_shl52(self) -> Self {
        float(bits(self) << 52)
    }
}

#[inline(always)]
fn bits(x: f64x8) -> u64x8 {
    wide::bytemuck::cast(x)
}

#[inline(always)]
fn float(b: u64x8) -> f64x8 {
    wide::bytemuck::cast(b)
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;

/// Eight lanes as two AVX2 registers, for code compiled with AVX2 enabled (see `vec_env::simd_level`).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::{Add, Div, Mul, Sub};

    use super::{Lanes, Vector};

    /// Eight f64 lanes in two `__m256d`.
    ///
    /// Its methods execute AVX2 instructions, so it may only be used inside functions compiled with
    /// `#[target_feature(enable = "avx2")]` that run after the CPU was checked; it is crate-private for that
    /// reason.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2([__m256d; 2]);

    /// Applies a two-operand intrinsic to both halves.
    macro_rules! both {
        ($f:ident, $a:expr, $b:expr) => {
            // SAFETY: only reached from AVX2-enabled code on a CPU that has it (see the type's docs).
            unsafe { Avx2([$f($a.0[0], $b.0[0]), $f($a.0[1], $b.0[1])]) }
        };
    }

    /// Applies an integer operation with a constant to both halves' bit patterns.
    macro_rules! bits_op {
        ($x:expr, |$v:ident| $e:expr) => {
            // SAFETY: as in `both!`.
            unsafe {
                let f = |h: __m256d| {
                    let $v = _mm256_castpd_si256(h);
                    _mm256_castsi256_pd($e)
                };
                Avx2([f($x.0[0]), f($x.0[1])])
            }
        };
    }

    /// The arithmetic operator `$trait::$method` as the intrinsic `$f` on both halves.
    macro_rules! arith {
        ($($trait:ident::$method:ident => $f:ident),*) => {$(
            impl $trait for Avx2 {
                type Output = Self;
                #[inline(always)]
                fn $method(self, o: Self) -> Self {
                    both!($f, self, o)
                }
            }
        )*};
    }
    arith!(Add::add => _mm256_add_pd, Sub::sub => _mm256_sub_pd, Mul::mul => _mm256_mul_pd, Div::div => _mm256_div_pd);

    impl Vector for Avx2 {
        #[inline(always)]
        fn splat(x: f64) -> Self {
            // SAFETY: as in `both!`.
            unsafe { Avx2([_mm256_set1_pd(x); 2]) }
        }
        #[inline(always)]
        fn from_array(x: Lanes) -> Self {
            // SAFETY: as in `both!`; the pointers cover 8 f64.
            unsafe { Avx2([_mm256_loadu_pd(x.as_ptr()), _mm256_loadu_pd(x.as_ptr().add(4))]) }
        }
        #[inline(always)]
        fn to_array(self) -> Lanes {
            let mut out = [0.0; 8];
            // SAFETY: as in `both!`; the pointers cover 8 f64.
            unsafe {
                _mm256_storeu_pd(out.as_mut_ptr(), self.0[0]);
                _mm256_storeu_pd(out.as_mut_ptr().add(4), self.0[1]);
            }
            out
        }
        #[inline(always)]
        fn max(self, other: Self) -> Self {
            both!(_mm256_max_pd, self, other)
        }
        #[inline(always)]
        fn min(self, other: Self) -> Self {
            both!(_mm256_min_pd, self, other)
        }
        #[inline(always)]
        fn bits_add(self, c: u64) -> Self {
            bits_op!(self, |v| _mm256_add_epi64(v, _mm256_set1_epi64x(c as i64)))
        }
        #[inline(always)]
        fn bits_and(self, c: u64) -> Self {
            bits_op!(self, |v| _mm256_and_si256(v, _mm256_set1_epi64x(c as i64)))
        }
        #[inline(always)]
        fn bits_or(self, c: u64) -> Self {
            bits_op!(self, |v| _mm256_or_si256(v, _mm256_set1_epi64x(c as i64)))
        }
        #[inline(always)]
        fn bits_shr52(self) -> Self {
            bits_op!(self, |v| _mm256_srli_epi64::<52>(v))
        }
        #[inline(always)]
        fn bits_shl52(self) -> Self {
            bits_op!(self, |v| _mm256_slli_epi64::<52>(v))
        }
    }
}

/// 1.5 * 2^52: adding it rounds a float of magnitude below 2^51 to an integer, kept in the low mantissa bits.
const ROUND_SHIFT: f64 = 6755399441055744.0;
/// ln 2 split so that `n * LN2_HI` is exact for |n| < 2^20 (fdlibm). The decimal constants here are
/// fdlibm's, digits beyond f64 precision included, so that they can be checked against the source.
#[allow(clippy::excessive_precision)]
const LN2_HI: f64 = 6.93147180369123816490e-01;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.90821492927058770002e-10;
/// Minimax coefficients of `(ln(1+f) - f + f^2/2) / s` in `z = s^2`, `s = f / (2 + f)` (fdlibm `e_log.c`).
#[allow(clippy::excessive_precision)]
const LG: [f64; 7] = [
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
];
/// Taylor coefficients of exp, highest degree (13) first.
const EXP_TAYLOR: [f64; 14] = [
    1.0 / 6227020800.0,
    1.0 / 479001600.0,
    1.0 / 39916800.0,
    1.0 / 3628800.0,
    1.0 / 362880.0,
    1.0 / 40320.0,
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// sqrt(2)/2 as bits: mantissas are reduced to [sqrt(2)/2, sqrt(2)).
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
const MANTISSA: u64 = 0x000f_ffff_ffff_ffff;
/// 2^52 + 1023 and its exponent bits: turn a biased exponent held in an integer into a float without an
/// integer-to-float conversion (which SSE2 and AVX2 lack for 64-bit lanes).
const EXP_MAGIC_BITS: u64 = 0x4330_0000_0000_0000;
const EXP_MAGIC: f64 = 4503599627370496.0 + 1023.0;

/// Natural logarithm of finite, positive, normal values.
#[inline(always)]
fn ln<V: Vector>(x: V) -> V {
    let c = V::splat;
    // x = 2^k * m with m in [sqrt(2)/2, sqrt(2)): offset the bits so that the exponent field gives k directly.
    let ix = x.bits_add(ONE_BITS - SQRT_HALF_BITS);
    let k = ix.bits_shr52().bits_or(EXP_MAGIC_BITS) - c(EXP_MAGIC);
    let m = ix.bits_and(MANTISSA).bits_add(SQRT_HALF_BITS);
    let f = m - c(1.0);
    let hfsq = c(0.5) * f * f;
    let s = f / (c(2.0) + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (c(LG[1]) + w * (c(LG[3]) + w * c(LG[5])));
    let t2 = z * (c(LG[0]) + w * (c(LG[2]) + w * (c(LG[4]) + w * c(LG[6]))));
    s * (hfsq + (t1 + t2)) + k * c(LN2_LO) - hfsq + f + k * c(LN2_HI)
}

/// `exp(x)`, saturating for |x| > 708.
#[inline(always)]
fn exp<V: Vector>(x: V) -> V {
    let c = V::splat;
    let x = x.max(c(-708.0)).min(c(708.0));
    // x = n ln2 + r, |r| <= ln2 / 2.
    let t = x * c(std::f64::consts::LOG2_E) + c(ROUND_SHIFT);
    let n = t - c(ROUND_SHIFT);
    let r = (x - n * c(LN2_HI)) - n * c(LN2_LO);
    // Taylor to degree 13 (the remainder is below 4e-18 relative on |r| <= 0.347), by Estrin's scheme:
    // the step is latency-bound, and this halves the chain of dependent operations of Horner's.
    let a = |i: usize| c(EXP_TAYLOR[13 - i]);
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q = |i: usize| a(i) + a(i + 1) * r;
    let s0 = q(0) + q(2) * r2;
    let s1 = q(4) + q(6) * r2;
    let s2 = q(8) + q(10) * r2;
    let s3 = q(12);
    let p = (s0 + s1 * r4) + (s2 + s3 * r4) * r8;
    // 2^n from the integer n in t's low bits: (t_bits - shift_bits + 1023) << 52.
    p * t.bits_add(1023u64.wrapping_sub(ROUND_SHIFT.to_bits())).bits_shl52()
}

/// `ln(1 + x)` of finite `x >= 0`, exact to rounding also where `1 + x` loses bits of a small `x`.
#[inline(always)]
fn ln_1p<V: Vector>(x: V) -> V {
    let one = V::splat(1.0);
    let u = one + x;
    // The rounding error of 1 + x, to first order: ln(1 + x) = ln(u) + (x - (u - 1)) / u.
    ln(u) + (x - (u - one)) / u
}

/// `log2(1 + x)` of a group of finite `x >= 0`, accurate for weak links (small `x`) and strong ones alike.
#[inline(always)]
pub fn log2_1p_lanes<V: Vector>(x: Lanes) -> Lanes {
    (ln_1p(V::from_array(x)) * V::splat(std::f64::consts::LOG2_E)).to_array()
}

/// `c * x^k` (as `c * exp(k ln x)`) of a group of finite, positive, normal `x`.
#[inline(always)]
pub fn scaled_pow_lanes<V: Vector>(x: Lanes, k: f64, c: f64) -> Lanes {
    (V::splat(c) * exp(V::splat(k) * ln(V::from_array(x)))).to_array()
}

/// Applies a lane function to one scalar (lane 0 of a splat): bit-identical to the batched result.
#[inline(always)]
pub fn scalar(x: f64, f: impl Fn(Lanes) -> Lanes) -> f64 {
    f([x; LANES])[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    fn samples() -> Vec<f64> {
        // Log-uniform over 600 decades plus the edges of the mantissa reduction.
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let mut xs: Vec<f64> = (0..200_000).map(|_| 10f64.powf(rng.random_range(-300.0..300.0))).collect();
        xs.extend([f64::MIN_POSITIVE, f64::MAX, 1.0, 2.0, 0.5, std::f64::consts::SQRT_2, std::f64::consts::FRAC_1_SQRT_2]);
        xs.extend([f64::from_bits(SQRT_HALF_BITS - 1), f64::from_bits(SQRT_HALF_BITS), f64::from_bits(SQRT_HALF_BITS + 1)]);
        xs
    }

    #[test]
    fn ln_is_within_one_ulp_of_libm() {
        for x in samples() {
            let (got, want) = (ln(Portable::splat(x)).to_array()[0], x.ln());
            assert!(ulps(got, want) <= 1 || (got - want).abs() < 1e-300, "ln({x:e}) = {got:e}, libm {want:e}");
        }
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(8);
        for _ in 0..200_000 {
            let x: f64 = rng.random_range(-708.0..708.0);
            let (got, want) = (exp(Portable::splat(x)).to_array()[0], x.exp());
            assert!(ulps(got, want) <= 2, "exp({x}) = {got:e}, libm {want:e}");
        }
        let e = |x: f64| exp(Portable::splat(x)).to_array()[0];
        assert_eq!(e(0.0), 1.0);
        assert_eq!(e(1e6), e(708.0));
        assert!(e(-1e6) > 0.0);
    }

    #[test]
    fn log2_1p_matches_libm_over_the_range_links_see() {
        let mut xs = samples();
        xs.extend([0.0, 1e-300, 1e-17, 1e-12, 1e-5, 1e-4, 0.3, 7.5]);
        for x in xs.into_iter().filter(|x| *x < 1e300) {
            let got = scalar(x, log2_1p_lanes::<Portable>);
            let want = x.ln_1p() / std::f64::consts::LN_2;
            assert!((got - want).abs() <= 3.0 * f64::EPSILON * want, "x = {x:e}: {got:e} vs {want:e}");
        }
    }

    #[test]
    fn scaled_pow_matches_powf() {
        for x in [1e-3, 0.05, 0.123, 0.3, 1.0, 4.0, 1e3] {
            let got = scalar(x, |v| scaled_pow_lanes::<Portable>(v, -3.76, 1.5e-13));
            let want = 1.5e-13 * x.powf(-3.76);
            assert!((got / want - 1.0).abs() <= 1e-14, "x = {x}: {got} vs {want}");
        }
    }

    #[test]
    fn batched_equals_scalar_bit_for_bit() {
        let xs: [f64; LANES] = std::array::from_fn(|i| 1e-6 * 10f64.powi(i as i32) + i as f64 * 0.37);
        for (x, y) in xs.iter().zip(log2_1p_lanes::<Portable>(xs)) {
            assert_eq!(y.to_bits(), scalar(*x, log2_1p_lanes::<Portable>).to_bits());
        }
        for (x, y) in xs.iter().zip(scaled_pow_lanes::<Portable>(xs, -3.76, 2.0)) {
            assert_eq!(y.to_bits(), scalar(*x, |v| scaled_pow_lanes::<Portable>(v, -3.76, 2.0)).to_bits());
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_equal_portable_lanes_bit_for_bit() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        #[target_feature(enable = "avx2")]
        fn with_avx2(x: Lanes) -> (Lanes, Lanes) {
            (log2_1p_lanes::<Avx2>(x), scaled_pow_lanes::<Avx2>(x, -3.76, 1.5e-13))
        }
        let xs = samples();
        for chunk in xs.chunks_exact(LANES) {
            let x: Lanes = chunk.try_into().unwrap();
            // SAFETY: the CPU has AVX2 (checked above).
            let (l, p) = unsafe { with_avx2(x) };
            let want = (log2_1p_lanes::<Portable>(x), scaled_pow_lanes::<Portable>(x, -3.76, 1.5e-13));
            assert_eq!(l.map(f64::to_bits), want.0.map(f64::to_bits), "log2_1p of {x:?}");
            assert_eq!(p.map(f64::to_bits), want.1.map(f64::to_bits), "scaled_pow of {x:?}");
        }
    }
}
