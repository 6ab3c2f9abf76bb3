//! The dispatcher task: starts every handler in the order the events happened, and drives
//! the ones that wait (an ack, a database) together, so none holds up another.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_channel::mpsc;
use futures_util::{FutureExt, StreamExt, select_biased};
use socketio_proto::Payload;
use socketio_proto::cluster::redis::streams::{Restoring, SessionRestore, StoredSession};
use socketio_proto::server::{Connecting, Corked, Event, Held};

use super::socket::{SharedData, StoredData};
use super::{ConnectError, ConnectRequest, NamespaceHandlers, Socket, SocketInner, SocketIo, lock};
use crate::cluster::Relayed;
use crate::handler::{BoxFuture, Running, start};
use crate::runtime::until;
use crate::{Message, Runtime};

/// A namespace connection whose middleware finished.
struct Decided<R> {
    connecting: Connecting,
    verdict: Result<(), ConnectError>,
    handlers: NamespaceHandlers<R>,
    /// Its session, read back from the cluster's store (connection state recovery).
    restored: Option<SessionRestore>,
    /// The data its middleware set, if any ran.
    data: Option<SharedData>,
}

/// Runs until the server is gone.
pub(super) async fn run<R: Runtime>(io: SocketIo<R>, mut events: mpsc::UnboundedReceiver<Event>) {
    let (decided_tx, mut decided) = mpsc::unbounded::<Decided<R>>();
    let mut running = Running::new();
    let handled = Handled::default();
    loop {
        let started = select_biased! {
            // Middleware verdicts first: a verdict precedes any event of its socket.
            done = decided.select_next_some() => finish_connect(&io, &decided_tx, done),
            event = events.next() => match event {
                Some(event) => on_event(&io, &decided_tx, &handled, event),
                None => return,
            },
            () = running.select_next_some() => Vec::new(),
        };
        for handler in started {
            start(&mut running, handler).await;
        }
        handled.give_back(&io);
    }
}

/// Events whose handlers are all done, to give back to their clients
/// ([`socketio_proto::server::Server::handled`]) in one pass.
#[derive(Default, Clone)]
struct Handled(Arc<Mutex<Vec<Held>>>);

impl Handled {
    fn give_back<R>(&self, io: &SocketIo<R>) {
        let done = std::mem::take(&mut *lock(&self.0));
        if !done.is_empty() {
            io.shared.with_state(|state| done.into_iter().for_each(|held| state.endpoint.handled(held)));
        }
    }
}

/// An event's hold on its client, given back when the last of its handlers is done.
struct HeldUntilHandled {
    held: Held,
    handled: Handled,
}

impl Drop for HeldUntilHandled {
    fn drop(&mut self) {
        lock(&self.handled.0).push(self.held);
    }
}

/// Handles one event; returns the handlers it started.
fn on_event<R: Runtime>(
    io: &SocketIo<R>,
    decided: &mpsc::UnboundedSender<Decided<R>>,
    handled: &Handled,
    event: Event,
) -> Vec<BoxFuture> {
    match event {
        Event::Connecting(connecting) => {
            let handlers = io.registry().handlers(connecting.namespace());
            let skip = io.recovery.is_some_and(|r| r.skip_middlewares);
            let restoring = start_restore(io, &connecting);
            if restoring.is_none() && (handlers.middleware.is_empty() || (skip && connecting.is_recovering()))
            {
                return finish_connect(
                    io,
                    decided,
                    Decided { connecting, verdict: Ok(()), handlers, restored: None, data: None },
                );
            }
            let request = ConnectRequest::of(&connecting);
            let (io, decided) = (io.clone(), decided.clone());
            R::spawn(async move {
                let restored = match restoring {
                    Some((restore, first)) => restore_session(&io, restore, first).await,
                    None => None,
                };
                let verdict = match restored.is_some() && skip {
                    true => Ok(()),
                    false => run_middleware(&handlers, &request).await,
                };
                let data = Some(request.data);
                let _ = decided.unbounded_send(Decided { connecting, verdict, handlers, restored, data });
            });
            Vec::new()
        }
        Event::Message { socket, payload, ack, held } => {
            // Given back when every handler of the event is done (or at once without one).
            let held = Arc::new(HeldUntilHandled { held, handled: handled.clone() });
            let Some(inner) = io.live().get(&socket).cloned() else {
                return Vec::new();
            };
            let responder = ack.map(|id| {
                let shared = io.shared.clone();
                Box::new(move |args| shared.with_state(|state| state.endpoint.ack(socket, id, args)))
                    as crate::message::Responder
            });
            let handlers = Socket::new(inner, io.clone()).dispatch(Message::new(payload, responder));
            handlers
                .into_iter()
                .map(|handler| {
                    let held = held.clone();
                    Box::pin(async move {
                        handler.await;
                        drop(held);
                    }) as BoxFuture
                })
                .collect()
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
        Event::NamespaceClosed { namespace } => {
            if let Some(cluster) = &io.cluster {
                cluster.relay(Relayed::NamespaceClosed(namespace));
            }
            Vec::new()
        }
        Event::Disconnected { socket, reason, rooms, pid, .. } => match io.live_remove(socket) {
            Some(inner) => {
                // A session kept for recovery: its data goes with it.
                match (pid, io.session_store()) {
                    (Some(pid), Some(store)) => {
                        let data = lock(&inner.shared_data()).as_ref().and_then(StoredData::to_payload);
                        let data = data.and_then(|data| data.to_value().ok());
                        let session =
                            StoredSession::new(socket.to_string(), pid.to_string(), rooms.clone(), data);
                        let ttl = io.recovery.map(|r| r.max_disconnection_duration).unwrap_or_default();
                        match store.command(session.store_command(ttl)) {
                            Ok(write) => io.kept.add(write),
                            Err(error) => {
                                tracing::warn!(%socket, %error, "the session of a dropped socket was not kept");
                            }
                        }
                    }
                    (Some(_), None) => {
                        // Shared, not moved: the disconnect handlers still see it.
                        let data = inner.shared_data();
                        io.shared
                            .with_state(|state| state.endpoint.keep_session_data(socket, Box::new(data)));
                    }
                    (None, _) => {}
                }
                io.kept.departed();
                Socket::new(inner, io.clone()).disconnected(reason, rooms)
            }
            None => Vec::new(),
        },
    }
}

/// With recovery on the streams adapter: starts reading the session a CONNECT claims from
/// the cluster's store, with the first command to send.
fn start_restore<R>(io: &SocketIo<R>, connecting: &Connecting) -> Option<(SessionRestore, Restoring)> {
    let store = io.session_store()?;
    let stream = store.stream()?;
    let (pid, offset) = connecting.recovery_request()?;
    let (restore, first) = SessionRestore::start(&stream, connecting.namespace().clone(), pid, offset?)?;
    // A dynamic namespace's first socket: its entries are read from now on, so none that
    // the restored socket needs is skipped while its session is read.
    store.add_namespace(connecting.namespace());
    Some((restore, Restoring::Send(first)))
}

/// Reads a session from the cluster's store, each command within the adapter's requests
/// timeout; `None` when it is not there (or Redis is unreachable).
async fn restore_session<R: Runtime>(
    io: &SocketIo<R>,
    mut restore: SessionRestore,
    mut next: Restoring,
) -> Option<SessionRestore> {
    let store = io.session_store()?.clone();
    loop {
        match next {
            Restoring::Send(command) => {
                let deadline = engineio_proto::deadline_after(Instant::now(), store.requests_timeout);
                let Some(Ok(reply)) = until::<R, _>(deadline, store.query(command)).await else {
                    tracing::warn!(
                        "a session could not be read back from Redis; the client gets a new socket"
                    );
                    return None;
                };
                next = restore.handle_reply(reply);
            }
            Restoring::Ready => return Some(restore),
            Restoring::Refused => return None,
        }
    }
}

/// Runs the namespace's middleware in order; the first refusal stops them.
async fn run_middleware<R>(
    handlers: &NamespaceHandlers<R>,
    request: &ConnectRequest,
) -> Result<(), ConnectError> {
    for middleware in &handlers.middleware {
        // A middleware that panics refuses the connection; the server goes on.
        let run = AssertUnwindSafe(async { middleware(request.clone()).await }).catch_unwind();
        run.await.unwrap_or_else(|_| {
            tracing::error!(namespace = %request.namespace, "middleware panicked");
            Err(ConnectError::new("server error"))
        })?;
    }
    Ok(())
}

/// The data of a socket back from a network drop.
enum Restored {
    /// Read back from the cluster's store.
    Data(Option<StoredData>),
    /// Kept by this server.
    Shared(Option<SharedData>),
}

/// What became of a connection, decided under the state lock.
enum Accepted<R> {
    /// Its connection corked while its connection handler starts, if it has one.
    Socket(Arc<SocketInner<R>>, Option<Corked>),
    Refused,
    /// Its session was read from the store up to an offset this server already went past:
    /// it reads on.
    ReadOn(Box<(Connecting, SessionRestore)>),
}

/// Accepts or rejects after the middleware, then starts the connection handler before
/// anything else: the client cannot send an event before it got the CONNECT answer.
fn finish_connect<R: Runtime>(
    io: &SocketIo<R>,
    decided_tx: &mpsc::UnboundedSender<Decided<R>>,
    decided: Decided<R>,
) -> Vec<BoxFuture> {
    let Decided { connecting, verdict, handlers, restored, data: set_by_middleware } = decided;
    let namespace = connecting.namespace().clone();
    let auth = connecting.auth().cloned();
    let handshake = connecting.handshake().clone();
    if let Some(cluster) = &io.cluster {
        // A dynamic namespace's first socket: the cluster's channels of it.
        cluster.add_namespace(&namespace);
    }
    let live = io.live.clone();
    let has_handler = !handlers.on_connection.is_empty();
    let accepted = io.shared.with_state(|state| {
        if let Err(error) = verdict {
            state.endpoint.reject(connecting, &error.message, error.data.as_ref());
            return Accepted::Refused;
        }
        // Its answer waits until its connection handler started (see `Server::cork`).
        let corked = has_handler.then(|| state.endpoint.cork(&connecting));
        let accepted = 'accept: {
            let (id, data) = match restored {
                Some(restore) if state.endpoint.lost_after(&namespace, restore.through()) => {
                    break 'accept Accepted::ReadOn(Box::new((connecting, restore)));
                }
                Some(restore) => {
                    let Some((session, data)) = restore.finish() else {
                        break 'accept Accepted::Refused;
                    };
                    let Some(id) = state.endpoint.accept_restored(connecting, session) else {
                        break 'accept Accepted::Refused;
                    };
                    // Stored serialized by whichever server kept the session.
                    let data = data.map(|data| StoredData::serialized(Payload::from_value(&data)));
                    (id, Some(Restored::Data(data)))
                }
                None => match state.endpoint.accept_recovering(connecting) {
                    Some((id, Some(recovered))) => {
                        // Kept in memory: the very value, shared with the session.
                        let shared = recovered.data.and_then(|data| data.downcast::<SharedData>().ok());
                        (id, Some(Restored::Shared(shared.map(|shared| *shared))))
                    }
                    Some((id, None)) => (id, None),
                    None => break 'accept Accepted::Refused,
                },
            };
            // Registered under the state lock: its first event finds it.
            let mut inner = SocketInner::new(id, namespace, handshake, auth);
            match data {
                Some(Restored::Data(data)) => inner.restore(Some(Arc::new(Mutex::new(data)))),
                Some(Restored::Shared(shared)) => inner.restore(shared),
                None => {}
            }
            // What a middleware set wins over recovered data (its `socket.data = ...` in
            // the reference runs on the restored socket).
            if let Some(set) = set_by_middleware.as_ref().and_then(|data| lock(data).take()) {
                *lock(&inner.shared_data()) = Some(set);
            }
            let inner = Arc::new(inner);
            lock(&live).insert(id, inner.clone());
            Accepted::Socket(inner, None)
        };
        match (accepted, corked) {
            (Accepted::Socket(inner, _), corked) => Accepted::Socket(inner, corked),
            (other, Some(corked)) => {
                state.endpoint.uncork(corked);
                other
            }
            (other, None) => other,
        }
    });
    match accepted {
        Accepted::Socket(inner, corked) => {
            let socket = Socket::new(inner, io.clone());
            let mut started: Vec<BoxFuture> =
                handlers.on_connection.iter().map(|on_connection| on_connection(socket.clone())).collect();
            // The dispatcher polls them in order: the answer goes once the last one started.
            if let (Some(corked), Some(last)) = (corked, started.pop()) {
                started.push(uncorked_after_first_poll(io.clone(), corked, last));
            }
            started
        }
        Accepted::ReadOn(read_on) => {
            let (connecting, mut restore) = *read_on;
            let (io, decided) = (io.clone(), decided_tx.clone());
            R::spawn(async move {
                let next = restore.read_on();
                let restored = restore_session(&io, restore, next).await;
                // Not restored after all: the middleware it skipped decides.
                let skipped = io.recovery.is_some_and(|r| r.skip_middlewares);
                let (verdict, data) = match (&restored, skipped) {
                    (None, true) => {
                        let request = ConnectRequest::of(&connecting);
                        (run_middleware(&handlers, &request).await, Some(request.data))
                    }
                    _ => (Ok(()), set_by_middleware),
                };
                let _ = decided.unbounded_send(Decided { connecting, verdict, handlers, restored, data });
            });
            Vec::new()
        }
        Accepted::Refused => Vec::new(),
    }
}

/// `handler`, whose first poll (the dispatcher's, at once) ends by sending what its
/// connection held meanwhile: the CONNECT answer, then what the handler sent.
fn uncorked_after_first_poll<R: Runtime>(
    io: SocketIo<R>,
    corked: Corked,
    mut handler: BoxFuture,
) -> BoxFuture {
    let mut corked = Some(corked);
    Box::pin(std::future::poll_fn(move |cx| {
        let poll = handler.as_mut().poll(cx);
        if let Some(corked) = corked.take() {
            io.shared.with_state(|state| state.endpoint.uncork(corked));
        }
        poll
    }))
}

impl ConnectRequest {
    /// What the middleware sees of `connecting`.
    fn of(connecting: &Connecting) -> Self {
        ConnectRequest {
            namespace: connecting.namespace().clone(),
            auth: connecting.auth().cloned(),
            handshake: connecting.handshake().clone(),
            data: SharedData::default(),
        }
    }
}
