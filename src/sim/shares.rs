//! Resource shares (SPEC section 4): every offloading device bids its weight, floored at `eps`, and gets
//! its bid divided by the sum of the bids of all offloading devices.
//!
//! The environment and every policy that predicts its outcome go through these functions, so that they
//! normalise exactly alike.

/// Scale applied to every floored weight before bids are summed: 2^-64. Multiplying by a power of two is
/// exact, so every share is bit-identical to the unscaled `max(w, eps) / sum max(w, eps)`, yet N weights as
/// large as `f64::MAX` sum without overflow (and `eps` stays a normal number as long as it is >= 1e-270).
pub const WEIGHT_SCALE: f64 = 1.0 / 18_446_744_073_709_551_616.0;

/// The bid of a device with weight `w`: `max(w, eps)`, scaled by [`WEIGHT_SCALE`].
#[inline(always)]
pub fn bid(w: f64, eps: f64) -> f64 {
    w.max(eps) * WEIGHT_SCALE
}

/// The share of a device with weight `w` when the offloading devices' bids sum to `bid_sum`.
#[inline(always)]
pub fn share(w: f64, eps: f64, bid_sum: f64) -> f64 {
    bid(w, eps) / bid_sum
}

/// Sums of the bandwidth and compute bids of the devices for which `offloads(k)` holds.
#[inline(always)]
pub fn bid_sums(bandwidth: &[f64], compute: &[f64], eps: f64, offloads: impl Fn(usize) -> bool) -> (f64, f64) {
    let (mut sum_b, mut sum_c) = (0.0, 0.0);
    for (k, (&b, &c)) in bandwidth.iter().zip(compute).enumerate() {
        if offloads(k) {
            sum_b += bid(b, eps);
            sum_c += bid(c, eps);
        }
    }
    (sum_b, sum_c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_equal_the_unscaled_formula_and_never_overflow() {
        let eps = 1e-3;
        let w = [0.5, 0.0, 3.0, 1e-9, 0.25];
        let all = |_: usize| true;
        let (sb, _) = bid_sums(&w, &w, eps, all);
        let plain: f64 = w.iter().map(|x| x.max(eps)).sum();
        for &x in &w {
            assert_eq!(share(x, eps, sb), x.max(eps) / plain);
        }
        let huge = [f64::MAX; 8];
        let (sb, sc) = bid_sums(&huge, &huge, eps, all);
        assert!(sb.is_finite() && sc.is_finite());
        assert_eq!(share(f64::MAX, eps, sb), 0.125);
        // Devices that do not offload bid nothing.
        let (sb, _) = bid_sums(&w, &w, eps, |k| k == 2);
        assert_eq!(share(3.0, eps, sb), 1.0);
    }
}
