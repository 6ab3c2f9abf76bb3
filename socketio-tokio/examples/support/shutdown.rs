//! How the examples stop: on Ctrl-C or SIGTERM, the server shuts down gracefully.

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("shutting down");
}
