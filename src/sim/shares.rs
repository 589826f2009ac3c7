//! Resource shares (SPEC section 4): every offloading device bids its weight, floored at `eps` (and capped
//! at [`MAX_WEIGHT`]), and gets its bid divided by the sum of the bids of all offloading devices.
//!
//! The environment and every policy that predicts its outcome go through these functions, so that they
//! normalise exactly alike.

/// Largest weight a device can bid: larger weights count as this. Weights only matter as ratios, and with
/// this cap (and `eps >= 1e-12`, see the config) the smallest possible share of N <= 1e5 devices is 1e-29, so
/// every rate, latency and sum of bids stays finite whatever finite weights an action holds.
pub const MAX_WEIGHT: f64 = 1e12;

/// The bid of a device with weight `w`: `w` clamped into `[eps, MAX_WEIGHT]`.
#[inline(always)]
pub fn bid(w: f64, eps: f64) -> f64 {
    w.max(eps).min(MAX_WEIGHT)
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

/// Sums of the bandwidth bids over the uploading devices (`uploads(k)`, the set S) and of the compute bids
/// over the devices the edge computes for (`edge_computes(k)`, S_E): with the cloud tier the two sets differ
/// (SPEC section 8), without it they are the same and this equals [`bid_sums`].
#[inline(always)]
pub fn bid_sums_over(bandwidth: &[f64], compute: &[f64], eps: f64, uploads: impl Fn(usize) -> bool, edge_computes: impl Fn(usize) -> bool) -> (f64, f64) {
    let (mut sum_b, mut sum_c) = (0.0, 0.0);
    for (k, (&b, &c)) in bandwidth.iter().zip(compute).enumerate() {
        if uploads(k) {
            sum_b += bid(b, eps);
        }
        if edge_computes(k) {
            sum_c += bid(c, eps);
        }
    }
    (sum_b, sum_c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_follow_the_formula_and_never_overflow() {
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
        // One absurd weight among small ones: every share stays positive.
        let mixed = [f64::MAX, 0.0, 1e-300];
        let (sb, _) = bid_sums(&mixed, &mixed, 1e-12, all);
        assert!(share(0.0, 1e-12, sb) > 0.99e-24 && share(f64::MAX, 1e-12, sb) <= 1.0);
        // Devices that do not offload bid nothing.
        let (sb, _) = bid_sums(&w, &w, eps, |k| k == 2);
        assert_eq!(share(3.0, eps, sb), 1.0);
    }
}
