//! How the examples stop: on Ctrl-C or SIGTERM, the server shuts down gracefully.

use std::future::Future;

use smol::stream::StreamExt;

/// Listens for Ctrl-C (SIGINT) and SIGTERM from now on; completes on the first. Called
/// before the server listens, so that neither ends the process the default way.
pub(crate) fn signal() -> impl Future<Output = ()> {
    use async_signal::{Signal, Signals};
    let mut signals = Signals::new([Signal::Int, Signal::Term]).expect("signal handlers");
    async move {
        signals.next().await;
        eprintln!("shutting down");
    }
}
