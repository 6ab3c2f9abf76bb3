//! The dispatcher task: runs every handler, in the order the events happened.

use engineio_proto::IdMap;
use std::sync::Arc;

use futures_channel::mpsc;
use futures_util::{StreamExt, select_biased};
use socketio_proto::server::{Connecting, Event, SocketId};

use super::handle::{Message, Socket, SocketInner};
use super::{ConnectError, ConnectRequest, NamespaceHandlers, SocketIo};
use crate::Runtime;

/// A namespace connection whose middleware finished.
struct Decided<R> {
    connecting: Connecting,
    verdict: Result<(), ConnectError>,
    handlers: NamespaceHandlers<R>,
}

type Sockets<R> = IdMap<SocketId, Arc<SocketInner<R>>>;

/// Runs until the server is gone.
pub(super) async fn run<R: Runtime>(io: SocketIo<R>, mut events: mpsc::UnboundedReceiver<Event>) {
    let (decided_tx, mut decided) = mpsc::unbounded::<Decided<R>>();
    let mut sockets = Sockets::default();
    loop {
        select_biased! {
            // Middleware verdicts first: a verdict precedes any event of its socket.
            done = decided.select_next_some() => finish_connect(&io, &mut sockets, done),
            event = events.next() => match event {
                Some(event) => on_event(&io, &mut sockets, &decided_tx, event),
                None => return,
            },
        }
    }
}

fn on_event<R: Runtime>(
    io: &SocketIo<R>,
    sockets: &mut Sockets<R>,
    decided: &mpsc::UnboundedSender<Decided<R>>,
    event: Event,
) {
    match event {
        Event::Connecting(connecting) => {
            let handlers = io.registry().handlers(connecting.namespace());
            if handlers.middleware.is_empty() {
                return finish_connect(io, sockets, Decided { connecting, verdict: Ok(()), handlers });
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
                    verdict = middleware(request.clone()).await;
                    if verdict.is_err() {
                        break;
                    }
                }
                let _ = decided.unbounded_send(Decided { connecting, verdict, handlers });
            });
        }
        Event::Message { socket, payload, ack } => {
            if let Some(inner) = sockets.get(&socket) {
                let socket = Socket { inner: inner.clone(), io: io.clone() };
                socket.dispatch(Message::new(io.clone(), socket.id(), payload, ack));
            }
        }
        Event::Ack { socket, id, payload } => {
            if let Some(waiter) = io.acks.lock().ok().and_then(|mut acks| acks.remove(&(socket, id))) {
                let _ = waiter.send(Ok(payload));
            }
        }
        Event::AckFailed { socket, id, reason } => {
            if let Some(waiter) = io.acks.lock().ok().and_then(|mut acks| acks.remove(&(socket, id))) {
                let _ = waiter.send(Err(reason));
            }
        }
        Event::Disconnected { socket, reason, rooms, .. } => {
            if let Some(inner) = sockets.remove(&socket) {
                Socket { inner, io: io.clone() }.disconnected(reason, rooms);
            }
        }
    }
}

/// Accepts or rejects after the middleware, then runs the connection handler before
/// anything else: the client cannot send an event before it got the CONNECT answer.
fn finish_connect<R: Runtime>(io: &SocketIo<R>, sockets: &mut Sockets<R>, decided: Decided<R>) {
    let Decided { connecting, verdict, handlers } = decided;
    let namespace = connecting.namespace().clone();
    let auth = connecting.auth().cloned();
    let handshake = connecting.handshake().clone();
    let accepted = io.shared.with_state(|state| match verdict {
        Ok(()) => state.endpoint.accept(connecting),
        Err(error) => {
            state.endpoint.reject(connecting, &error.message, error.data.as_ref());
            None
        }
    });
    let Some(id) = accepted else {
        return;
    };
    let inner = Arc::new(SocketInner::new(id, namespace, handshake));
    sockets.insert(id, inner.clone());
    if let Some(on_connection) = handlers.on_connection {
        on_connection(Socket { inner, io: io.clone() }, auth);
    }
}
