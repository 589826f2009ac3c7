//! Uplink radio: 3GPP macro path loss, Gauss-Markov Rayleigh fading, FDMA Shannon rate, mobility.

use super::lanes;

/// Noise power spectral density `N0`, W/Hz, from thermal density (dBm/Hz) and noise figure (dB):
/// `10^((noise_dbm_per_hz + noise_figure_db - 30) / 10)`.
pub fn noise_psd_w_per_hz(noise_dbm_per_hz: f64, noise_figure_db: f64) -> f64 {
    10f64.powf((noise_dbm_per_hz + noise_figure_db - 30.0) / 10.0)
}

/// Path loss in dB at distance `d_m` metres: `pl_1km + slope * log10(d_km)`.
#[inline]
pub fn path_loss_db(d_m: f64, pl_1km_db: f64, slope_db: f64) -> f64 {
    pl_1km_db + slope_db * (d_m * 1e-3).log10()
}

/// Channel power gain `g = 10^(-PL/10) * |h|^2`.
#[inline]
pub fn channel_gain(d_m: f64, h_re: f64, h_im: f64, pl_1km_db: f64, slope_db: f64) -> f64 {
    10f64.powf(-path_loss_db(d_m, pl_1km_db, slope_db) / 10.0) * (h_re * h_re + h_im * h_im)
}

/// `log2(1 + x)` for `x >= 0`, accurate for weak links too (relative error of a few ulp). It runs the
/// lane code of [`lanes`], so a rate computed alone equals the same rate computed in a batch.
#[inline]
pub fn log2_1p(x: f64) -> f64 {
    lanes::scalar(x, lanes::log2_1p_lanes::<lanes::Portable>)
}

/// Signal-to-noise ratio `P g / (W N0)` of a link `width_hz` wide.
#[inline]
pub fn snr(width_hz: f64, power_w: f64, gain: f64, n0: f64) -> f64 {
    power_w * gain / (width_hz * n0)
}

/// Achievable rate, bit/s, of a device holding share `b` of bandwidth `bw_hz`:
/// `b B log2(1 + P g / (b B N0))`. Zero for a zero share.
#[inline]
pub fn rate_bps(share: f64, bw_hz: f64, power_w: f64, gain: f64, n0: f64) -> f64 {
    rate_from_log2(share, share * bw_hz, log2_1p(snr(share * bw_hz, power_w, gain, n0)))
}

/// The rate `W log2(1 + snr)` of share `b` (width `W = b B`) from its already computed `log2(1 + snr)`:
/// the last step of [`rate_bps`], for callers that evaluate the logarithms of many links at once.
#[inline]
pub fn rate_from_log2(share: f64, width_hz: f64, log2_1p_snr: f64) -> f64 {
    if share <= 0.0 {
        0.0
    } else {
        width_hz * log2_1p_snr
    }
}

/// Full-band spectral efficiency `log2(1 + P g / (B N0))`, bit/s/Hz.
#[inline]
pub fn spectral_efficiency(bw_hz: f64, power_w: f64, gain: f64, n0: f64) -> f64 {
    log2_1p(power_w * gain / (bw_hz * n0))
}

/// One Gauss-Markov step of a complex fading coefficient: `h' = a h + sqrt(1 - a^2) e` with
/// `e = (z_re + i z_im) / sqrt(2)`, `z` standard normal, so `e ~ CN(0, 1)` and `E|h'|^2 = 1` in steady state.
/// `scale` is [`fading_innovation_scale`]`(a)`, computed once per scenario rather than a square root per step.
#[inline]
pub fn fading_step(h_re: f64, h_im: f64, a: f64, scale: f64, z_re: f64, z_im: f64) -> (f64, f64) {
    (a * h_re + scale * z_re, a * h_im + scale * z_im)
}

/// The factor `sqrt(1 - a^2) / sqrt(2)` of the standard normals in a fading step with correlation `a`.
pub fn fading_innovation_scale(a: f64) -> f64 {
    (1.0 - a * a).sqrt() * std::f64::consts::FRAC_1_SQRT_2
}

/// A `CN(0, 1)` draw from two standard normals.
#[inline]
pub fn cn01(z_re: f64, z_im: f64) -> (f64, f64) {
    (z_re * std::f64::consts::FRAC_1_SQRT_2, z_im * std::f64::consts::FRAC_1_SQRT_2)
}

/// One random-walk step of the device-edge distance, `u` uniform in [0, 1): `d += (2u - 1) v slot`,
/// reflected at the bounds (`d < lo -> 2 lo - d`, `d > hi -> 2 hi - d`) and, should a step longer than the
/// interval overshoot the reflection, clamped into `[lo, hi]`.
#[inline]
pub fn mobility_step(d: f64, u: f64, speed_mps: f64, slot_s: f64, lo: f64, hi: f64) -> f64 {
    let mut x = d + (2.0 * u - 1.0) * speed_mps * slot_s;
    if x < lo {
        x = 2.0 * lo - x;
    }
    if x > hi {
        x = 2.0 * hi - x;
    }
    x.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn noise_and_path_loss_hand_values() {
        // -174 + 5 - 30 = -199 dB -> 10^-19.9 W/Hz.
        assert!(close(noise_psd_w_per_hz(-174.0, 5.0), 1.2589254117941662e-20, 1e-12));
        assert!(close(path_loss_db(1000.0, 128.1, 37.6), 128.1, 1e-15));
        assert!(close(path_loss_db(100.0, 128.1, 37.6), 90.5, 1e-12));
        // |h|^2 = 2 doubles the linear gain.
        let g = channel_gain(100.0, 1.0, 1.0, 128.1, 37.6);
        assert!(close(g, 2.0 * 10f64.powf(-9.05), 1e-12));
    }

    #[test]
    fn rate_hand_value_and_limits() {
        // b = 0.5 of 10 MHz, SNR over the share = 0.1 * 1e-9 / (5e6 * 1e-20) = 2e3 -> 5e6 * log2(1 + 2e3).
        let r = rate_bps(0.5, 10e6, 0.1, 1e-9, 1e-20);
        assert!(close(r, 5e6 * (1.0f64 + 2e3).log2(), 1e-12));
        assert_eq!(rate_bps(0.0, 10e6, 0.1, 1e-9, 1e-20), 0.0);
        // Rate grows with the share.
        assert!(rate_bps(0.6, 10e6, 0.1, 1e-9, 1e-20) > r);
        assert!(close(spectral_efficiency(10e6, 0.1, 1e-9, 1e-20), (1.0f64 + 1e3).log2(), 1e-12));
    }

    #[test]
    fn log2_1p_is_accurate_on_both_branches() {
        for x in [0.0f64, 1e-12, 1e-5, 1e-4, 1.0001e-4, 0.5, 1e3, 1e12] {
            let exact = x.ln_1p() / std::f64::consts::LN_2;
            assert!((log2_1p(x) - exact).abs() <= 1e-12 * exact.max(1e-300), "x = {x}");
        }
    }

    #[test]
    fn fading_keeps_unit_power_in_expectation_form() {
        // With a = 0 the new coefficient is the innovation alone.
        let (re, im) = fading_step(5.0, -3.0, 0.0, fading_innovation_scale(0.0), 1.0, 2.0);
        assert!(close(re, std::f64::consts::FRAC_1_SQRT_2, 1e-15) && close(im, 2.0 * std::f64::consts::FRAC_1_SQRT_2, 1e-15));
        // With a = 1 it never changes.
        assert_eq!(fading_step(0.3, 0.4, 1.0, fading_innovation_scale(1.0), 9.0, 9.0), (0.3, 0.4));
    }

    #[test]
    fn mobility_reflects_and_stays_in_bounds() {
        assert_eq!(mobility_step(50.2, 0.0, 1.0, 0.5, 50.0, 300.0), 50.0 + (50.0 - 49.7));
        assert_eq!(mobility_step(299.9, 1.0, 1.0, 0.5, 50.0, 300.0), 300.0 - 0.4);
        assert_eq!(mobility_step(100.0, 0.75, 1.0, 0.5, 50.0, 300.0), 100.25);
        let x = mobility_step(60.0, 0.0, 1000.0, 1.0, 50.0, 300.0);
        assert!((50.0..=300.0).contains(&x));
    }
}
