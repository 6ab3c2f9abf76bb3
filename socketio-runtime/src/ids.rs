//! Randomness for session and socket ids, and the client's reconnection jitter.

/// 128 bits from the operating system's CSPRNG, for session and socket ids. Fetched 64
/// ids at a time per thread: each id is still fresh OS randomness, used once, and a connect
/// costs no `getrandom` call of its own.
pub(crate) fn random_u128() -> u128 {
    thread_local! {
        static POOL: std::cell::RefCell<(Box<[u8; 1024]>, usize)> = std::cell::RefCell::new((Box::new([0; 1024]), 1024));
    }
    POOL.with_borrow_mut(|(pool, used)| {
        if *used + 16 > pool.len() {
            getrandom::fill(&mut pool[..]).expect("the operating system's random source is unavailable");
            *used = 0;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(pool.get(*used..*used + 16).unwrap_or(&[0; 16]));
        // Each id is handed out once.
        pool.get_mut(*used..*used + 16).into_iter().for_each(|taken| taken.fill(0));
        *used += 16;
        u128::from_ne_bytes(id)
    })
}

/// A uniform float in [0, 1) from the operating system's random source.
pub(crate) fn random_unit() -> f64 {
    (random_u128() >> 75) as f64 / (1u64 << 53) as f64
}
