//! Background load: a finite Markov chain over load levels.

/// Cumulative rows of a row-stochastic matrix, flattened `k x k`, with each row's last entry forced to
/// exactly 1 so that a uniform draw in [0, 1) always lands in a state.
pub fn cumulative_rows(matrix: &[Vec<f64>]) -> Vec<f64> {
    let k = matrix.len();
    let mut out = Vec::with_capacity(k * k);
    for row in matrix {
        let mut acc = 0.0;
        for &p in row {
            acc += p;
            out.push(acc);
        }
        *out.last_mut().expect("rows are non-empty") = 1.0;
    }
    out
}

/// Next state of the chain from `state` with uniform draw `u` in [0, 1): the first column `j` with
/// `u < cum[state][j]`.
///
/// Counted without branches: the row is non-decreasing, so that column is the number of entries before the
/// last that are `<= u`. A branch per entry would be mispredicted about as often as the chain moves.
#[inline]
pub fn markov_step(cum: &[f64], k: usize, state: u8, u: f64) -> u8 {
    let row = &cum[state as usize * k..(state as usize + 1) * k];
    row[..k - 1].iter().map(|&c| (c <= u) as u8).sum()
}

/// A uniformly drawn initial state from `u` in [0, 1).
#[inline]
pub fn uniform_state(k: usize, u: f64) -> u8 {
    ((u * k as f64) as usize).min(k - 1) as u8
}

/// Stationary distribution of a row-stochastic matrix by power iteration (for tests and reports).
pub fn stationary(matrix: &[Vec<f64>]) -> Vec<f64> {
    let k = matrix.len();
    let mut pi = vec![1.0 / k as f64; k];
    for _ in 0..10_000 {
        let mut next = vec![0.0; k];
        for i in 0..k {
            for j in 0..k {
                next[j] += pi[i] * matrix[i][j];
            }
        }
        pi = next;
    }
    pi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_cumulative_row() {
        let m = vec![vec![0.8, 0.15, 0.05], vec![0.1, 0.8, 0.1], vec![0.05, 0.15, 0.8]];
        let cum = cumulative_rows(&m);
        assert_eq!(markov_step(&cum, 3, 0, 0.0), 0);
        assert_eq!(markov_step(&cum, 3, 0, 0.79), 0);
        assert_eq!(markov_step(&cum, 3, 0, 0.81), 1);
        assert_eq!(markov_step(&cum, 3, 0, 0.96), 2);
        assert_eq!(markov_step(&cum, 3, 1, 0.05), 0);
        assert_eq!(markov_step(&cum, 3, 2, 0.9999999), 2);
        assert_eq!(uniform_state(3, 0.0), 0);
        assert_eq!(uniform_state(3, 0.5), 1);
        assert_eq!(uniform_state(3, 0.99), 2);
    }

    #[test]
    fn stationary_of_the_default_chain() {
        let m = vec![vec![0.8, 0.15, 0.05], vec![0.1, 0.8, 0.1], vec![0.05, 0.15, 0.8]];
        let pi = stationary(&m);
        assert!((pi.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for j in 0..3 {
            let back: f64 = (0..3).map(|i| pi[i] * m[i][j]).sum();
            assert!((back - pi[j]).abs() < 1e-12);
        }
    }
}
