//! Task arrivals and types.

/// No task in the slot.
pub const TASK_NONE: u8 = 0;
/// Accuracy-sensitive task.
pub const TASK_AS: u8 = 1;
/// Latency-sensitive task.
pub const TASK_LS: u8 = 2;

/// The task of a device in a slot from two uniform draws: it arrives when `u_arrive < arrival_prob` and
/// is accuracy-sensitive when `u_type < as_ratio`. Branch-free: the type is a coin flip no predictor can learn.
#[inline]
pub fn draw_task(u_arrive: f64, u_type: f64, arrival_prob: f64, as_ratio: f64) -> u8 {
    let arrives = (u_arrive < arrival_prob) as u8;
    let latency_sensitive = (u_type >= as_ratio) as u8;
    arrives * (TASK_AS + latency_sensitive)
}

/// Normalised accuracy `clip((A - lo) / (hi - lo), 0, 1)`.
#[inline]
pub fn normalised_accuracy(acc: f64, lo: f64, hi: f64) -> f64 {
    ((acc - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Utility of one task:
/// `w A_hat - (1 - w) min(T / tau, cap) - deadline_penalty [T > tau] - accuracy_penalty [A < a_min]`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn utility(weight: f64, acc_hat: f64, latency: f64, deadline: f64, cap: f64, deadline_penalty: f64, accuracy_penalty: f64, acc: f64, min_acc: f64) -> f64 {
    let late = if latency > deadline { deadline_penalty } else { 0.0 };
    let inaccurate = if acc < min_acc { accuracy_penalty } else { 0.0 };
    weight * acc_hat - (1.0 - weight) * (latency / deadline).min(cap) - late - inaccurate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_and_types() {
        assert_eq!(draw_task(0.95, 0.1, 0.9, 0.5), TASK_NONE);
        assert_eq!(draw_task(0.1, 0.1, 0.9, 0.5), TASK_AS);
        assert_eq!(draw_task(0.1, 0.6, 0.9, 0.5), TASK_LS);
        assert_eq!(draw_task(0.0, 0.0, 0.0, 0.5), TASK_NONE);
    }

    #[test]
    fn utility_hand_values() {
        // AS task, 1.0_224 (0.707): A_hat = 0.307/0.35; 0.25 s of a 0.5 s deadline; no penalties.
        let ah = normalised_accuracy(0.707, 0.4, 0.75);
        assert!((ah - 0.307 / 0.35).abs() < 1e-15);
        let u = utility(0.8, ah, 0.25, 0.5, 3.0, 1.0, 1.0, 0.707, 0.65);
        assert!((u - (0.8 * ah - 0.2 * 0.5)).abs() < 1e-15);
        // LS task missing its deadline by far: latency term capped, deadline penalty.
        let u = utility(0.2, 0.0, 10.0, 0.1, 3.0, 1.0, 1.0, 0.413, 0.40);
        assert!((u - (-0.8 * 3.0 - 1.0)).abs() < 1e-15);
        // Accuracy below the minimum.
        let u = utility(0.8, 0.0, 0.0, 0.5, 3.0, 1.0, 1.0, 0.3, 0.65);
        assert!((u + 1.0).abs() < 1e-15);
        assert_eq!(normalised_accuracy(0.9, 0.4, 0.75), 1.0);
        assert_eq!(normalised_accuracy(0.1, 0.4, 0.75), 0.0);
    }
}
