//! Shutting a server down: the signal that stops its listeners and asks its connections to
//! finish, and the count of connections still open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use futures_util::future::{FutureExt, Shared};

/// The server's lifecycle as its IO tasks see it.
pub(crate) struct Lifecycle {
    /// Fires once, when the server starts shutting down.
    signal: Shared<oneshot::Receiver<()>>,
    trigger: Mutex<Option<oneshot::Sender<()>>>,
    /// Connections (HTTP and WebSocket) still open.
    open: AtomicUsize,
    /// A word every time a connection ends, for the one waiting for the last.
    ended: mpsc::UnboundedSender<()>,
    ended_rx: Mutex<Option<mpsc::UnboundedReceiver<()>>>,
}

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        let (trigger, signal) = oneshot::channel();
        let (ended, ended_rx) = mpsc::unbounded();
        Arc::new(Lifecycle {
            signal: signal.shared(),
            trigger: Mutex::new(Some(trigger)),
            open: AtomicUsize::new(0),
            ended,
            ended_rx: Mutex::new(Some(ended_rx)),
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

    /// Completes when no connection is open (once: the first caller waits).
    pub(crate) async fn all_closed(&self) {
        let ended = self.ended_rx.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(mut ended) = ended else {
            return;
        };
        while self.open_connections() > 0 {
            if ended.next().await.is_none() {
                return;
            }
        }
    }
}

/// One open connection, counted by its [`Lifecycle`].
pub(crate) struct ConnectionGuard(Arc<Lifecycle>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        let _ = self.0.ended.unbounded_send(());
    }
}
