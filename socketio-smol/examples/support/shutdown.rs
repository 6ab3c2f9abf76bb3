//! How the examples stop: on Ctrl-C or SIGTERM, the server shuts down gracefully.

use smol::stream::StreamExt;

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn signal() {
    use async_signal::{Signal, Signals};
    let mut signals = Signals::new([Signal::Int, Signal::Term]).expect("signal handlers");
    signals.next().await;
    eprintln!("shutting down");
}
