//! How the examples stop: on Ctrl-C or SIGTERM, the server shuts down gracefully.

use std::future::Future;

/// Listens for Ctrl-C (SIGINT) and SIGTERM from now on; completes on the first. Called
/// before the server listens, so that neither ends the process the default way.
pub(crate) fn signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("shutting down");
    }
}
