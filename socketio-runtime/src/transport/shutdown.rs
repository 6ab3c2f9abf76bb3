//! Shutting a server down: the signal that stops its listeners and asks its connections to
//! finish, and the count of connections still open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_channel::oneshot;
use futures_util::future::{FutureExt, Shared};
use futures_util::task::AtomicWaker;

/// The server's lifecycle as its IO tasks see it.
pub(crate) struct Lifecycle {
    /// Fires once, when the server starts shutting down.
    signal: Shared<oneshot::Receiver<()>>,
    trigger: Mutex<Option<oneshot::Sender<()>>>,
    /// Connections (HTTP and WebSocket) still open.
    open: AtomicUsize,
    /// Woken when the last connection ends, for the one waiting for it.
    last_closed: AtomicWaker,
}

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        let (trigger, signal) = oneshot::channel();
        Arc::new(Lifecycle {
            signal: signal.shared(),
            trigger: Mutex::new(Some(trigger)),
            open: AtomicUsize::new(0),
            last_closed: AtomicWaker::new(),
        })
    }

    /// Completes once the server is shutting down.
    pub(crate) fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.signal.clone().map(drop)
    }

    /// Starts the shutdown; `false` if it had started already.
    pub(crate) fn begin(&self) -> bool {
        let trigger = self.trigger.lock().unwrap_or_else(PoisonError::into_inner).take();
        trigger.is_some_and(|trigger| trigger.send(()).is_ok())
    }

    /// Counts a connection until the guard drops.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        ConnectionGuard(self.clone())
    }

    /// How many connections are open.
    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Completes when no connection is open (for one waiter at a time).
    pub(crate) async fn all_closed(&self) {
        std::future::poll_fn(|cx| {
            self.last_closed.register(cx.waker());
            match self.open_connections() {
                0 => std::task::Poll::Ready(()),
                _ => std::task::Poll::Pending,
            }
        })
        .await;
    }
}

/// One open connection, counted by its [`Lifecycle`].
pub(crate) struct ConnectionGuard(Arc<Lifecycle>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.last_closed.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll};

    use futures_util::task::{ArcWake, waker};

    use super::*;

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(this: &Arc<Self>) {
            this.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_waiter_is_woken_by_the_last_connection_only() {
        let lifecycle = Lifecycle::new();
        // Connections that came and went before anyone waits.
        for _ in 0..1000 {
            drop(lifecycle.connection());
        }
        let (first, second) = (lifecycle.connection(), lifecycle.connection());
        let wakes = Arc::new(Wakes::default());
        let waker = waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut all_closed = std::pin::pin!(lifecycle.all_closed());
        assert_eq!(all_closed.as_mut().poll(&mut cx), Poll::Pending);
        drop(first);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        drop(second);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(all_closed.as_mut().poll(&mut cx), Poll::Ready(()));
    }
}
