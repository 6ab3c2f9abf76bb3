//! The timer task: sleeps until the endpoint's next deadline.

use std::pin::pin;
use std::sync::Weak;
use std::time::Instant;

use futures_channel::mpsc;
use futures_util::future::{Either, select};
use futures_util::{FutureExt, StreamExt};

use super::{Served, Shared};
use crate::Runtime;

/// Runs the endpoint's timers until the server is dropped (which closes `wake`).
pub(super) async fn run<R, D>(shared: Weak<Shared<D>>, mut wake: mpsc::UnboundedReceiver<()>)
where
    R: Runtime,
    D: Served,
{
    loop {
        // Wake-ups sent before the deadline is read below are accounted for by it.
        while wake.try_recv().is_ok() {}
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let deadline = strong.with_state(|state| {
            state.endpoint.handle_timeout(Instant::now());
            let next = state.endpoint.poll_timeout();
            state.timer_armed = next;
            next
        });
        // Hold no strong reference while asleep, so dropping the server ends this task.
        drop(strong);
        let woken = match deadline {
            Some(deadline) => match select(pin!(R::sleep_until(deadline)), wake.next()).await {
                Either::Left(_) => true,
                Either::Right((woken, _)) => woken.is_some(),
            },
            None => wake.next().map(|woken| woken.is_some()).await,
        };
        if !woken {
            return;
        }
    }
}
