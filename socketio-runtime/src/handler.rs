//! Handlers as the application writes them (async closures) and as the dispatcher stores
//! them (boxed), with panics contained.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

use futures_util::FutureExt;
use futures_util::stream::FuturesUnordered;

use crate::Error;

/// A running handler.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a handler may return: nothing, or a `Result` whose error is logged (at `warn`, with
/// the event) instead of being lost, so handlers can use `?`.
pub trait HandlerOutput: Send + 'static {
    /// Reports the outcome of the handler of `what`.
    fn report(self, what: &str);
}

impl HandlerOutput for () {
    fn report(self, _: &str) {}
}

impl HandlerOutput for Result<(), Error> {
    fn report(self, what: &str) {
        if let Err(error) = self {
            tracing::warn!(handler = what, %error, "handler failed");
        }
    }
}

/// Runs a synchronous application callback (a hook, a predicate); a panic is caught and
/// logged, and gives `None`, so it never takes the dispatcher, a connection task or the
/// state lock's bookkeeping down with it.
pub(crate) fn guarded<T>(what: &'static str, callback: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(callback)) {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::error!(callback = what, "application callback panicked");
            None
        }
    }
}

/// Runs the future `start` makes (the application's handler called with its arguments),
/// reporting its outcome; a panic, in the call or in the future, is caught and logged, so it
/// ends this handler only, never the dispatcher or other sockets.
pub(crate) fn contained<O: HandlerOutput, Fut: Future<Output = O> + Send + 'static>(
    what: &'static str,
    start: impl FnOnce() -> Fut + Send + 'static,
) -> BoxFuture {
    Box::pin(async move {
        let Some(future) = guarded(what, start) else {
            return;
        };
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(output) => output.report(what),
            Err(_) => tracing::error!(handler = what, "handler panicked"),
        }
    })
}

/// Handlers started and still running.
pub(crate) type Running = FuturesUnordered<BoxFuture>;

/// Polls a new handler once, here, so handlers start in the order of their events; one
/// that waits joins the running set, where it goes on beside the others.
pub(crate) async fn start(running: &mut Running, mut handler: BoxFuture) {
    let done = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut handler).poll(cx).is_ready())).await;
    if !done {
        running.push(handler);
    }
}
