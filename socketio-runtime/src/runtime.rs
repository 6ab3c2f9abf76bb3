//! What a runtime crate provides: spawning, a clock to sleep on, and TCP.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// An async executor with timers and TCP sockets. Everything else the servers and the client
/// need is written once, in this crate, against this trait.
///
/// An implementation is a zero-sized marker type (`socketio_tokio::Tokio`,
/// `socketio_smol::Smol`); the public types of a runtime crate are this crate's types with
/// the marker filled in.
pub trait Runtime: Clone + Copy + Send + Sync + 'static {
    /// A listening TCP socket.
    type Listener: Send + Sync + 'static;
    /// A TCP connection, as hyper reads and writes it.
    type Stream: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static;

    /// Runs `task` in the background.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);

    /// Completes at `deadline`.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static;

    /// Binds a listener to `addr` (`host:port`).
    fn bind(addr: String) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Accepts the next connection, with Nagle's algorithm off.
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// Opens a connection to `addr` (`host:port`), with Nagle's algorithm off.
    fn connect(addr: String) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Runs `future` until `deadline`; `None` if the deadline came first.
pub(crate) async fn until<R: Runtime, T>(deadline: Instant, future: impl Future<Output = T>) -> Option<T> {
    use futures_util::future::{Either, select};
    let future = std::pin::pin!(future);
    let sleep = std::pin::pin!(R::sleep_until(deadline));
    match select(future, sleep).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(((), _)) => None,
    }
}
