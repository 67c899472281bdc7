//! How long a proxy should stall a failed client (`Auth-Wait`): grows with the number of failures
//! and levels off, `floor(max_delay · tanh(0.03 · failures))`, failures capped at `max_attempts`.

/// Seconds to wait after the `failures`-th failure.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
pub fn auth_wait_secs(failures: u64, max_delay: u64, max_attempts: u64) -> u64 {
    let n = failures.min(max_attempts) as f64;
    // tanh of a non-negative number is in [0, 1), so the product lies in [0, max_delay]: the
    // float-to-integer cast neither wraps nor loses a sign.
    (max_delay as f64 * (0.03 * n).tanh()).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_failures_wait_little_and_growth_levels_off() {
        assert_eq!(auth_wait_secs(1, 10, 15), 0);
        assert_eq!(auth_wait_secs(4, 10, 15), 1);
        assert_eq!(auth_wait_secs(15, 10, 15), 4);
        assert_eq!(auth_wait_secs(100, 10, 15), 4, "capped at max_attempts");
        assert_eq!(auth_wait_secs(100, 100, 255), 99);
        assert_eq!(auth_wait_secs(5, 0, 15), 0);
    }
}
