//! Hashing for maps keyed by ids: session and socket ids (128 random bits from the sid
//! source) and connection, poll and ack ids (counters). They need no SipHash; one multiply
//! spreads them over the table. Ids a peer sends are only looked up, never inserted, so a
//! peer cannot crowd a table with colliding keys.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for integer ids: the folded value times a 64-bit odd constant (Fibonacci hashing).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let word = chunk.iter().rev().fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
            self.write_u64(word);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u128(&mut self, value: u128) {
        let folded = (value >> 64) ^ (value & u128::from(u64::MAX));
        self.write_u64(u64::try_from(folded).unwrap_or_default());
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

/// A `HashMap` keyed by ids.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` of ids.
pub type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn counters_spread_over_the_high_bits_too() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let tops: IdSet<u64> = (0u64..128).map(|n| build.hash_one(n) >> 57).collect();
        // hashbrown filters on the top 7 bits: sequential ids must not share them all.
        assert!(tops.len() > 64, "{}", tops.len());
    }

    #[test]
    fn maps_work() {
        let mut map: IdMap<u128, &str> = IdMap::default();
        map.insert(1 << 100, "a");
        map.insert(7, "b");
        assert_eq!(map.get(&(1 << 100)), Some(&"a"));
        assert_eq!(map.get(&7), Some(&"b"));
    }
}
