//! What every example does first: `RUST_LOG` tracing, and the port from `PORT` (default 3000).

/// Logs to stderr as `RUST_LOG` says (`RUST_LOG=debug` shows handshakes and disconnects).
pub(crate) fn init_tracing() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
}

/// `127.0.0.1:$PORT`, 3000 by default.
pub(crate) fn addr() -> String {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    format!("127.0.0.1:{port}")
}
