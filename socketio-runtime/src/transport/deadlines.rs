//! Time limits on HTTP connections: hyper's timer on the runtime's clock (for its
//! header-read timeout), and a connection wrapper that fails writes making no progress.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use engineio_proto::deadline_after;
use hyper::rt::{Read, ReadBufCursor, Sleep, Timer, Write};

use crate::Runtime;

type BoxSleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// hyper's [`Timer`] on the runtime `R`.
pub(crate) struct RuntimeTimer<R>(PhantomData<fn() -> R>);

impl<R> RuntimeTimer<R> {
    pub(crate) fn new() -> Self {
        RuntimeTimer(PhantomData)
    }
}

impl<R: Runtime> Timer for RuntimeTimer<R> {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(deadline_after(Instant::now(), duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(RuntimeSleep(Mutex::new(Box::pin(R::sleep_until(deadline)))))
    }
}

/// A runtime sleep as hyper's [`Sleep`], which must be `Sync`: the lock is only ever taken
/// by the one task that polls it.
struct RuntimeSleep(Mutex<BoxSleep>);

impl Future for RuntimeSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).as_mut().poll(cx)
    }
}

impl Sleep for RuntimeSleep {}

/// A connection whose writes fail with [`io::ErrorKind::TimedOut`] when the peer takes
/// nothing for `timeout` (a client that stopped reading): the connection ends and frees
/// what it holds instead of waiting forever. It wraps upgraded WebSockets too.
pub(crate) struct WriteDeadline<R, S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write waits on the peer.
    stalled: Option<BoxSleep>,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime, S> WriteDeadline<R, S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline { inner, timeout, stalled: None, runtime: PhantomData }
    }

    /// Passes a write's result through; while it is pending, fails it once the peer has
    /// taken nothing for the timeout.
    fn watch<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(R::sleep_until(deadline_after(Instant::now(), timeout))));
        ready!(stalled.as_mut().poll(cx));
        self.stalled = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer took nothing within the write timeout",
        )))
    }
}

impl<R: Runtime, S: Read + Unpin> Read for WriteDeadline<R, S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<R: Runtime, S: Write + Unpin> Write for WriteDeadline<R, S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, result)
    }
}
