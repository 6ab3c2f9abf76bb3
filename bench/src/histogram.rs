//! A latency histogram with about 1% precision, filled from many tasks without locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SUB_BITS: u32 = 7;
const BUCKETS: usize = 64 << SUB_BITS;

/// Counts of durations in nanoseconds, in log-linear buckets.
pub struct Histogram {
    counts: Vec<AtomicU64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

fn bucket(nanos: u64) -> usize {
    let top = 63 - (nanos | 1).leading_zeros();
    if top < SUB_BITS {
        return usize::try_from(nanos).unwrap_or(0);
    }
    let sub = (nanos >> (top - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    usize::try_from(((top - SUB_BITS + 1) << SUB_BITS) as u64 + sub).unwrap_or(BUCKETS - 1)
}

/// The smallest duration that falls in bucket `index`.
fn floor(index: usize) -> u64 {
    let row = u32::try_from(index >> SUB_BITS).unwrap_or(63);
    let sub = (index & ((1 << SUB_BITS) - 1)) as u64;
    if row == 0 { sub } else { ((1 << SUB_BITS) | sub) << (row - 1) }
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&self, nanos: u64) {
        if let Some(count) = self.counts.get(bucket(nanos)) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many durations were counted.
    pub fn len(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The duration below which `per_mille` thousandths of the counts fall (500 for the
    /// median, 990 for p99), `None` when empty.
    pub fn quantile(&self, per_mille: u64) -> Option<Duration> {
        let total = self.len();
        if total == 0 {
            return None;
        }
        let rank = u64::try_from((u128::from(total) * u128::from(per_mille.min(1000))).div_ceil(1000))
            .unwrap_or(total)
            .clamp(1, total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(Duration::from_nanos(floor(index)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_precise_to_one_percent() {
        let mut last = 0;
        for nanos in [1, 100, 127, 128, 129, 1_000, 65_432, 1_000_000, 123_456_789, 10_000_000_000] {
            let index = bucket(nanos);
            assert!(index >= last, "{nanos}");
            last = index;
            let low = floor(index);
            assert!(low <= nanos && nanos - low <= nanos / 100 + 1, "{nanos} in [{low}, ...)");
        }
    }

    #[test]
    fn quantiles() {
        let histogram = Histogram::default();
        for micros in 1..=1000u64 {
            histogram.record(micros * 1000);
        }
        let p50 = histogram.quantile(500).unwrap().as_micros();
        let p99 = histogram.quantile(990).unwrap().as_micros();
        assert!((495..=500).contains(&p50), "{p50}");
        assert!((980..=990).contains(&p99), "{p99}");
    }
}
