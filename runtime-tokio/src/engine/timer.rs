//! The timer task: sleeps until the state machine's next deadline.

use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::sync::Notify;

use super::{EngineIo, Inner};

/// Runs the state machine's timers until the engine is dropped.
pub(super) async fn run(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let engine = EngineIo { inner: strong };
        let deadline = engine.with_state(|state| {
            state.server.handle_timeout(Instant::now());
            let next = state.server.poll_timeout();
            state.timer_armed = next;
            next
        });
        // Hold no strong reference while asleep, so dropping the engine ends this task.
        drop(engine);
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
