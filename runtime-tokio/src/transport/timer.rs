//! The timer task: sleeps until the endpoint's next deadline.

use std::sync::{Arc, Weak};
use std::time::Instant;

use engineio_proto::server::Endpoint;
use tokio::sync::Notify;

use super::{Shared, Traced};

/// Runs the endpoint's timers until the server is dropped.
pub(super) async fn run<D>(shared: Weak<Shared<D>>, wake: Arc<Notify>)
where
    D: Endpoint + Send + 'static,
    D::Event: Traced + Send + 'static,
{
    loop {
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
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline.into()) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}
