//! A wake-up for one waiting task that coalesces: many notifications before it runs are one.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use futures_util::task::AtomicWaker;

#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Wakes the waiting task, or the next one to wait.
    pub(crate) fn notify(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Completes once notified since the last completion.
    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            self.waker.register(cx.waker());
            if self.raised.swap(false, Ordering::AcqRel) { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
    }
}
