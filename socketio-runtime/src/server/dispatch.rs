//! The dispatcher task: starts every handler in the order the events happened, and drives
//! the ones that wait (an ack, a database) together, so none holds up another.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_channel::mpsc;
use futures_util::{FutureExt, StreamExt, select_biased};
use socketio_proto::server::{Connecting, Event};

use super::{ConnectError, ConnectRequest, NamespaceHandlers, Socket, SocketInner, SocketIo, lock};
use crate::cluster::Relayed;
use crate::handler::{BoxFuture, Running, start};
use crate::{Message, Runtime};

/// A namespace connection whose middleware finished.
struct Decided<R> {
    connecting: Connecting,
    verdict: Result<(), ConnectError>,
    handlers: NamespaceHandlers<R>,
}

/// Runs until the server is gone.
pub(super) async fn run<R: Runtime>(io: SocketIo<R>, mut events: mpsc::UnboundedReceiver<Event>) {
    let (decided_tx, mut decided) = mpsc::unbounded::<Decided<R>>();
    let mut running = Running::new();
    loop {
        let started = select_biased! {
            // Middleware verdicts first: a verdict precedes any event of its socket.
            done = decided.select_next_some() => finish_connect(&io, done),
            event = events.next() => match event {
                Some(event) => on_event(&io, &decided_tx, event),
                None => return,
            },
            () = running.select_next_some() => Vec::new(),
        };
        for handler in started {
            start(&mut running, handler).await;
        }
    }
}

/// Handles one event; returns the handlers it started.
fn on_event<R: Runtime>(
    io: &SocketIo<R>,
    decided: &mpsc::UnboundedSender<Decided<R>>,
    event: Event,
) -> Vec<BoxFuture> {
    match event {
        Event::Connecting(connecting) => {
            let handlers = io.registry().handlers(connecting.namespace());
            let skip = connecting.is_recovering() && io.recovery.is_some_and(|r| r.skip_middlewares);
            if handlers.middleware.is_empty() || skip {
                return finish_connect(io, Decided { connecting, verdict: Ok(()), handlers });
            }
            let request = ConnectRequest {
                namespace: connecting.namespace().clone(),
                auth: connecting.auth().cloned(),
                handshake: connecting.handshake().clone(),
            };
            let decided = decided.clone();
            R::spawn(async move {
                let mut verdict = Ok(());
                for middleware in &handlers.middleware {
                    // A middleware that panics refuses the connection; the server goes on.
                    let run = AssertUnwindSafe(async { middleware(request.clone()).await }).catch_unwind();
                    verdict = run.await.unwrap_or_else(|_| {
                        tracing::error!(namespace = %request.namespace, "middleware panicked");
                        Err(ConnectError::new("server error"))
                    });
                    if verdict.is_err() {
                        break;
                    }
                }
                let _ = decided.unbounded_send(Decided { connecting, verdict, handlers });
            });
            Vec::new()
        }
        Event::Message { socket, payload, ack } => {
            let Some(inner) = io.live().get(&socket).cloned() else {
                return Vec::new();
            };
            let responder = ack.map(|id| {
                let shared = io.shared.clone();
                Box::new(move |args| shared.with_state(|state| state.endpoint.ack(socket, id, args)))
                    as crate::message::Responder
            });
            Socket::new(inner, io.clone()).dispatch(Message::new(payload, responder)).into_iter().collect()
        }
        Event::Ack { socket, id, payload } => {
            lock(&io.acks).settle(socket, id, Ok(payload));
            Vec::new()
        }
        Event::AckFailed { socket, id, reason } => {
            lock(&io.acks).settle(socket, id, Err(reason));
            Vec::new()
        }
        Event::Room { namespace, room, exists } => {
            if let Some(cluster) = &io.cluster {
                cluster.relay(Relayed::Room { namespace, room, exists });
            }
            Vec::new()
        }
        Event::Disconnected { socket, reason, rooms, pid, .. } => match io.live().remove(&socket) {
            Some(inner) => {
                // A session kept for recovery: its data goes with it.
                if pid.is_some() {
                    // Shared, not moved: the disconnect handlers still see it.
                    let data = inner.shared_data();
                    io.shared.with_state(|state| state.endpoint.keep_session_data(socket, Box::new(data)));
                }
                Socket::new(inner, io.clone()).disconnected(reason, rooms)
            }
            None => Vec::new(),
        },
    }
}

/// Accepts or rejects after the middleware, then starts the connection handler before
/// anything else: the client cannot send an event before it got the CONNECT answer.
fn finish_connect<R: Runtime>(io: &SocketIo<R>, decided: Decided<R>) -> Vec<BoxFuture> {
    let Decided { connecting, verdict, handlers } = decided;
    let namespace = connecting.namespace().clone();
    let auth = connecting.auth().cloned();
    let handshake = connecting.handshake().clone();
    if let Some(cluster) = &io.cluster {
        // A dynamic namespace's first socket: the cluster's channels of it.
        cluster.add_namespace(&namespace);
    }
    let live = io.live.clone();
    let accepted = io.shared.with_state(|state| match verdict {
        Ok(()) => {
            let (id, recovered) = state.endpoint.accept_recovering(connecting)?;
            // Registered under the state lock: its first event finds it.
            let mut inner = SocketInner::new(id, namespace, handshake, auth);
            if let Some(recovered) = recovered {
                inner.restore(recovered.data.and_then(|data| data.downcast().ok()).map(|data| *data));
            }
            let inner = Arc::new(inner);
            lock(&live).insert(id, inner.clone());
            Some(inner)
        }
        Err(error) => {
            state.endpoint.reject(connecting, &error.message, error.data.as_ref());
            None
        }
    });
    match (accepted, handlers.on_connection) {
        (Some(inner), Some(on_connection)) => vec![on_connection(Socket::new(inner, io.clone()))],
        _ => Vec::new(),
    }
}
