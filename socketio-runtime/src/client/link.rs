//! The handles' way to the client's task, and a new task once the last one ended.
//!
//! A task ends when its manager is closed for good: `close()`, or reconnection gave up. As
//! the reference's `socket.connect()` reopens its manager, connecting a socket again then
//! starts a new task, with the same handlers and settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_channel::mpsc;
use socketio_proto::{Namespace, Payload};

use super::Command;
use crate::EmitError;

/// Starts a task and returns its command channel; the task gets the link for the handles
/// it gives handlers, and the auth set last on each namespace.
pub(super) type Launch = Box<
    dyn Fn(&Arc<Link>, &HashMap<Namespace, Option<Payload>>) -> mpsc::UnboundedSender<Command> + Send + Sync,
>;

/// Shared by every handle of one client.
pub(super) struct Link {
    sender: Mutex<mpsc::UnboundedSender<Command>>,
    /// The auth set last on each namespace ([`super::ClientSocket::set_auth`]), which a new
    /// task starts with.
    auths: Mutex<HashMap<Namespace, Option<Payload>>>,
    launch: Launch,
}

impl Link {
    /// A link whose first task `launch` starts now.
    pub(super) fn start(launch: Launch) -> Arc<Link> {
        let link =
            Arc::new(Link { sender: Mutex::new(mpsc::unbounded().0), auths: Mutex::default(), launch });
        let first = (link.launch)(&link, &HashMap::new());
        *lock(&link.sender) = first;
        link
    }

    /// Sends `command` to the task. A task that ended gets nothing; an `Open` then starts a
    /// new one.
    pub(super) fn send(self: &Arc<Self>, command: Command) -> Result<(), EmitError> {
        if let Command::SetAuth(namespace, auth) = &command {
            lock(&self.auths).insert(namespace.clone(), auth.clone());
        }
        let mut sender = lock(&self.sender);
        let Err(refused) = sender.unbounded_send(command) else {
            return Ok(());
        };
        match refused.into_inner() {
            open @ Command::Open(..) => {
                // Spawning needs the runtime (tokio's panics outside it): a connect from
                // elsewhere is refused, not a panic in the caller.
                let launched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    (self.launch)(self, &lock(&self.auths))
                }));
                let Ok(launched) = launched else {
                    tracing::error!("a closed client was connected outside its runtime; it stays closed");
                    return Err(EmitError::Disconnected);
                };
                *sender = launched;
                sender.unbounded_send(open).map_err(|_| EmitError::Disconnected)
            }
            // Kept above for the next task.
            Command::SetAuth(..) => Ok(()),
            _ => Err(EmitError::Disconnected),
        }
    }

    /// The current task's channel, for a message sent later (an ack, a dropped wait).
    pub(super) fn sender(&self) -> mpsc::UnboundedSender<Command> {
        lock(&self.sender).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
