//! Deadlines that never overflow.

use std::time::{Duration, Instant};

/// About a century: what "never" becomes when a deadline does not fit in an `Instant`.
const FAR_AWAY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + after`, saturating: a configured `Duration::MAX` means "practically never", not a
/// panic.
///
/// ```
/// use std::time::{Duration, Instant};
/// let now = Instant::now();
/// assert!(engineio_proto::deadline_after(now, Duration::MAX) > now);
/// assert_eq!(engineio_proto::deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// ```
pub fn deadline_after(now: Instant, after: Duration) -> Instant {
    now.checked_add(after).or_else(|| now.checked_add(FAR_AWAY)).unwrap_or(now)
}
