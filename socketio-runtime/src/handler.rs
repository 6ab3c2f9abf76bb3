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

/// A handler of events of sockets `S` (the server's, the client's).
pub(crate) type EventHandler<S> = std::sync::Arc<dyn Fn(S, crate::Message) -> BoxFuture + Send + Sync>;

/// The handlers of each event name, in the order they were added (the reference's
/// listeners): an event runs all of its name's. Read once per event, so each name's list is
/// shared, not copied.
pub(crate) struct Listeners<H> {
    by_name: std::collections::HashMap<String, std::sync::Arc<[H]>>,
}

impl<H> Default for Listeners<H> {
    fn default() -> Self {
        Listeners { by_name: std::collections::HashMap::new() }
    }
}

impl<H: Clone> Listeners<H> {
    /// Adds `handler` after the ones `event` already has.
    pub(crate) fn add(&mut self, event: &str, handler: H) {
        let list = match self.by_name.remove(event) {
            Some(list) => list.iter().cloned().chain(std::iter::once(handler)).collect(),
            None => std::sync::Arc::from([handler]),
        };
        self.by_name.insert(event.to_owned(), list);
    }

    /// Removes every handler of `event`.
    pub(crate) fn remove(&mut self, event: &str) {
        self.by_name.remove(event);
    }

    /// The handlers of `event`, if it has any.
    pub(crate) fn of(&self, event: &str) -> Option<std::sync::Arc<[H]>> {
        self.by_name.get(event).cloned()
    }
}

/// Starts each of `handlers` on `socket`, each with its own clone of `message` (the last
/// gets the message itself).
pub(crate) fn start_each<S: Clone>(
    handlers: &[EventHandler<S>],
    socket: &S,
    message: crate::Message,
) -> Vec<BoxFuture> {
    let mut started = Vec::with_capacity(handlers.len());
    if let Some((last, others)) = handlers.split_last() {
        started.extend(others.iter().map(|handler| handler(socket.clone(), message.clone())));
        started.push(last(socket.clone(), message));
    }
    started
}
