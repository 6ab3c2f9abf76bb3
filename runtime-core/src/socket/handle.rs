//! The application's handles: a connected [`Socket`] and an incoming [`Message`].

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::server::Handshake;
use futures_channel::oneshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::server::{DisconnectReason, Room, Selector, SocketId};
use socketio_proto::{Namespace, Payload, Value};

use super::{BroadcastOperator, SocketIo};
use crate::{Error, Runtime};

type EventHandler<R> = Arc<dyn Fn(Socket<R>, Message<R>) + Send + Sync>;
type AnyHandler<R> = Arc<dyn Fn(&Socket<R>, &Message<R>) + Send + Sync>;
type OutgoingHandler<R> = Arc<dyn Fn(&Socket<R>, &Payload) + Send + Sync>;
type DisconnectHandler<R> = Arc<dyn Fn(Socket<R>, DisconnectReason, Vec<Room>) + Send + Sync>;

struct Handlers<R> {
    events: HashMap<String, EventHandler<R>>,
    any: Vec<AnyHandler<R>>,
    any_outgoing: Vec<OutgoingHandler<R>>,
    disconnect: Vec<DisconnectHandler<R>>,
}

impl<R> Default for Handlers<R> {
    fn default() -> Self {
        Handlers { events: HashMap::new(), any: Vec::new(), any_outgoing: Vec::new(), disconnect: Vec::new() }
    }
}

/// What the dispatcher keeps per socket.
pub(crate) struct SocketInner<R> {
    id: SocketId,
    namespace: Namespace,
    handshake: Arc<Handshake>,
    handlers: Mutex<Handlers<R>>,
    data: Mutex<Option<Box<dyn Any + Send>>>,
}

impl<R> SocketInner<R> {
    pub(crate) fn new(id: SocketId, namespace: Namespace, handshake: Arc<Handshake>) -> Self {
        SocketInner { id, namespace, handshake, handlers: Mutex::default(), data: Mutex::default() }
    }

    fn handlers(&self) -> MutexGuard<'_, Handlers<R>> {
        self.handlers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A client connected to a namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket<R> {
    pub(crate) inner: Arc<SocketInner<R>>,
    pub(crate) io: SocketIo<R>,
}

impl<R: Runtime> Socket<R> {
    /// The socket id (also the name of its own room).
    pub fn id(&self) -> SocketId {
        self.inner.id
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.namespace
    }

    /// The request that opened its engine session: headers, query, remote address.
    pub fn handshake(&self) -> &Arc<Handshake> {
        &self.inner.handshake
    }

    /// The server.
    pub fn io(&self) -> &SocketIo<R> {
        &self.io
    }

    /// Handles event `event`. A later handler for the same name replaces the earlier one.
    pub fn on(&self, event: &str, handler: impl Fn(Socket<R>, Message<R>) + Send + Sync + 'static) {
        self.inner.handlers().events.insert(event.to_owned(), Arc::new(handler));
    }

    /// Sees every incoming event before its handler (`onAny`).
    pub fn on_any(&self, handler: impl Fn(&Socket<R>, &Message<R>) + Send + Sync + 'static) {
        self.inner.handlers().any.push(Arc::new(handler));
    }

    /// Sees every event this socket emits (`onAnyOutgoing`).
    pub fn on_any_outgoing(&self, handler: impl Fn(&Socket<R>, &Payload) + Send + Sync + 'static) {
        self.inner.handlers().any_outgoing.push(Arc::new(handler));
    }

    /// Runs when the socket disconnects, with the reason and the rooms it was in.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(Socket<R>, DisconnectReason, Vec<Room>) + Send + Sync + 'static,
    ) {
        self.inner.handlers().disconnect.push(Arc::new(handler));
    }

    /// Emits `event` with `args` (a tuple, slice or `Vec`; `()` for none).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), Error> {
        self.emit_payload(Payload::event(event, args)?)
    }

    /// Emits `event` with dynamic arguments, binary ones as attachments.
    pub fn emit_values(&self, event: &str, args: &[Value]) -> Result<(), Error> {
        self.emit_payload(Payload::event_values(event, args)?)
    }

    /// Emits a ready event payload (`[name, ...args]`) as it is.
    pub fn emit_payload(&self, payload: Payload) -> Result<(), Error> {
        self.outgoing(&payload);
        let id = self.id();
        Ok(self.io.shared.with_state(|state| state.endpoint.emit(id, payload))?)
    }

    /// Emits and waits for the client's ack; fails after `timeout` (if given) or when the
    /// socket disconnects first.
    pub async fn emit_with_ack(&self, payload: Payload, timeout: Option<Duration>) -> Result<Payload, Error> {
        self.outgoing(&payload);
        let (waiter, answer) = oneshot::channel();
        let id = self.id();
        let acks = self.io.acks.clone();
        self.io.shared.with_state(|state| {
            let ack = state.endpoint.emit_with_ack(Instant::now(), id, payload, timeout)?;
            // Registered under the state lock: the answer cannot be dispatched before.
            acks.lock().unwrap_or_else(PoisonError::into_inner).insert((id, ack), waiter);
            Ok::<_, Error>(())
        })?;
        answer
            .await
            .map_err(|_| Error::Ack(socketio_proto::server::AckError::Disconnected))?
            .map_err(Error::Ack)
    }

    /// Joins `room`.
    pub fn join(&self, room: impl Into<Room>) {
        let (id, room) = (self.id(), room.into());
        self.io.shared.with_state(|state| state.endpoint.join(id, room));
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        let id = self.id();
        self.io.shared.with_state(|state| state.endpoint.leave(id, room));
    }

    /// The rooms this socket is in.
    pub fn rooms(&self) -> Vec<Room> {
        let id = self.id();
        self.io.shared.with_state(|state| state.endpoint.rooms(id))
    }

    /// Targets the sockets in `room`, except this one.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator<R> {
        self.broadcast().to(room)
    }

    /// Targets every socket of the namespace except this one.
    pub fn broadcast(&self) -> BroadcastOperator<R> {
        let selector = Selector { except_socket: Some(self.id()), ..Selector::all() };
        BroadcastOperator::with_selector(self.io.clone(), self.namespace().clone(), selector)
    }

    /// Disconnects the socket from its namespace; with `close`, ends its whole session.
    pub fn disconnect(&self, close: bool) {
        let id = self.id();
        self.io.shared.with_state(|state| state.endpoint.disconnect(Instant::now(), id, close));
    }

    /// Stores a value of the application's with this socket (`socket.data`).
    pub fn set_data<T: Any + Send>(&self, value: T) {
        *self.inner.data.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(value));
    }

    /// Runs `f` on the stored value, if one of type `T` is there.
    pub fn with_data<T: Any + Send, U>(&self, f: impl FnOnce(&mut T) -> U) -> Option<U> {
        let mut data = self.inner.data.lock().unwrap_or_else(PoisonError::into_inner);
        data.as_mut().and_then(|d| d.downcast_mut::<T>()).map(f)
    }

    fn outgoing(&self, payload: &Payload) {
        let hooks = self.inner.handlers().any_outgoing.clone();
        for hook in hooks {
            hook(self, payload);
        }
    }

    /// Runs the catch-all handlers, then the event's handler (none: ignored, as in the reference).
    pub(crate) fn dispatch(&self, message: Message<R>) {
        let (any, handler) = {
            let handlers = self.inner.handlers();
            let name = message.name();
            (handlers.any.clone(), name.and_then(|n| handlers.events.get(&*n).cloned()))
        };
        for hook in any {
            hook(self, &message);
        }
        if let Some(handler) = handler {
            handler(self.clone(), message);
        }
    }

    pub(crate) fn disconnected(&self, reason: DisconnectReason, rooms: Vec<Room>) {
        let handlers = self.inner.handlers().disconnect.clone();
        for handler in handlers {
            handler(self.clone(), reason, rooms.clone());
        }
    }
}

/// An event from a client: its name, arguments, and the ack it may wait for.
pub struct Message<R> {
    io: SocketIo<R>,
    socket: SocketId,
    payload: Payload,
    ack: Option<u64>,
}

impl<R: Runtime> Message<R> {
    pub(crate) fn new(io: SocketIo<R>, socket: SocketId, payload: Payload, ack: Option<u64>) -> Self {
        Message { io, socket, payload, ack }
    }

    /// The event name.
    pub fn name(&self) -> Option<Cow<'_, str>> {
        self.payload.event_name()
    }

    /// The whole payload, `[name, ...args]`, as received (forward it without parsing).
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The arguments as an array payload, without parsing them.
    pub fn args_payload(&self) -> Payload {
        self.payload.args_or_empty()
    }

    /// The arguments, typed: `T` is usually a tuple with one element per argument.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.payload.args()
    }

    /// The arguments as dynamic values, binary attachments in place.
    pub fn values(&self) -> Result<Vec<Value>, socketio_proto::DecodeError> {
        self.payload.arg_values()
    }

    /// Whether the client waits for an ack.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Acks with `args` (a tuple, slice or `Vec`). Does nothing if no ack was asked.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        self.ack_payload(Payload::ack_args(args)?)
    }

    /// Acks with dynamic arguments, binary ones as attachments.
    pub fn ack_values(&self, args: &[Value]) -> Result<(), Error> {
        self.ack_payload(Payload::from_value(&Value::Array(args.to_vec())))
    }

    /// Acks with an array payload as it is (for example [`Message::args_payload`]).
    pub fn ack_payload(&self, args: Payload) -> Result<(), Error> {
        let Some(id) = self.ack else {
            return Ok(());
        };
        let socket = self.socket;
        Ok(self.io.shared.with_state(|state| state.endpoint.ack(socket, id, args))?)
    }
}
