//! Reconnection delays: exponential backoff with jitter, as the reference client computes them.

use std::time::Duration;

/// Reconnection timing. The defaults are the reference client's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first delay (default 1000 ms).
    pub min: Duration,
    /// The largest delay (default 5000 ms).
    pub max: Duration,
    /// How much each delay may deviate, as a fraction of it (default 0.5).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { min: Duration::from_millis(1000), max: Duration::from_millis(5000), jitter: 0.5 }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (0 for the first), with `random` uniform in [0, 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// use socketio_proto::client::Backoff;
    ///
    /// let backoff = Backoff::default();
    /// // rand 0.0: the lower half of the jitter range, deviation 0.
    /// assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(1000));
    /// // rand 0.15: floor(1.5) is odd, so the delay grows by 0.15 * 0.5.
    /// assert_eq!(backoff.delay(1, 0.15), Duration::from_millis(2150));
    /// assert_eq!(backoff.delay(10, 0.0), Duration::from_millis(5000));
    /// ```
    // The float arithmetic mirrors the reference's; results are clamped to [0, max].
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let min = self.min.as_millis() as f64;
        let mut ms = min * 2f64.powi(i32::try_from(attempt).unwrap_or(i32::MAX));
        if self.jitter > 0.0 && self.jitter <= 1.0 {
            let deviation = (random * self.jitter * ms).floor();
            let odd = ((random * 10.0).floor() as u64) & 1 == 1;
            ms = if odd { ms + deviation } else { ms - deviation };
        }
        let ms = ms.min(self.max.as_millis() as f64).max(0.0);
        Duration::from_millis(ms as u64)
    }
}
