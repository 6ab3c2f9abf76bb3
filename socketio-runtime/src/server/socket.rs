//! A connected client, as the application holds it: [`Socket`].

use std::any::Any;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::server::Handshake;
use futures_channel::oneshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::server::{DisconnectReason, DisconnectScope, Room, Selector, SocketId};
use socketio_proto::{Args, Namespace, Payload};

use super::{BroadcastOperator, NamespaceRef, SocketIo, lock};
use crate::ack::{AckFuture, Forget};
use crate::handler::{BoxFuture, EventHandler, HandlerOutput, Listeners, contained, guarded, start_each};
use crate::{EmitError, Error, Message, Runtime};

type AnyHook<R> = Arc<dyn Fn(&Socket<R>, &Message) + Send + Sync>;
type OutgoingHook<R> = Arc<dyn Fn(&Socket<R>, &Payload) + Send + Sync>;
type DisconnectHandler<R> = Arc<dyn Fn(Socket<R>, DisconnectReason) -> BoxFuture + Send + Sync>;

struct Handlers<R> {
    events: Listeners<EventHandler<Socket<R>>>,
    any: Vec<AnyHook<R>>,
    any_outgoing: Vec<OutgoingHook<R>>,
    disconnect: Vec<DisconnectHandler<R>>,
}

impl<R> Default for Handlers<R> {
    fn default() -> Self {
        Handlers {
            events: Listeners::default(),
            any: Vec::new(),
            any_outgoing: Vec::new(),
            disconnect: Vec::new(),
        }
    }
}

/// The application's value for a socket, and how to serialize it (what
/// [`fetch_sockets`](super::BroadcastOperator::fetch_sockets) carries).
pub(crate) struct StoredData {
    value: Box<dyn Any + Send>,
    serialize: fn(&dyn Any) -> Option<Payload>,
}

impl StoredData {
    fn new<T: Serialize + Any + Send>(value: T) -> Self {
        fn serialize<T: Serialize + Any>(value: &dyn Any) -> Option<Payload> {
            value.downcast_ref::<T>().and_then(|value| Payload::from_serialize(value).ok())
        }
        StoredData { value: Box::new(value), serialize: serialize::<T> }
    }

    /// Data read back from a cluster's store, typed at its first read.
    pub(crate) fn serialized(data: Payload) -> Self {
        fn serialize(value: &dyn Any) -> Option<Payload> {
            value.downcast_ref::<Serialized>().map(|Serialized(data)| data.clone())
        }
        StoredData { value: Box::new(Serialized(data)), serialize }
    }

    /// Its serialized form.
    pub(crate) fn to_payload(&self) -> Option<Payload> {
        (self.serialize)(&*self.value)
    }

    /// The value as a `T`, read from its serialized form first when it came from a store.
    fn typed<T: Serialize + DeserializeOwned + Any + Send>(&mut self) -> Option<&mut T> {
        if let Some(Serialized(data)) = self.value.downcast_ref::<Serialized>() {
            *self = StoredData::new(data.deserialize::<T>().ok()?);
        }
        self.value.downcast_mut::<T>()
    }
}

/// Socket data as another server stored it.
struct Serialized(Payload);

/// What the server keeps per socket.
pub(crate) struct SocketInner<R> {
    id: SocketId,
    namespace: Namespace,
    handshake: Arc<Handshake>,
    auth: Option<Payload>,
    handlers: Mutex<Handlers<R>>,
    /// Shared with its session while it is away (connection state recovery).
    data: SharedData,
    /// The rooms it was in, once it disconnected.
    rooms_at_disconnect: Mutex<Option<Vec<Room>>>,
    /// Whether it came back from a network drop (connection state recovery).
    recovered: bool,
}

/// A socket's data, as its recovered self gets it back.
pub(crate) type SharedData = Arc<Mutex<Option<StoredData>>>;

/// Stores `value` in `data`, replacing what was there.
pub(crate) fn store_data<T: Serialize + Any + Send>(data: &SharedData, value: T) {
    *data.lock().unwrap_or_else(PoisonError::into_inner) = Some(StoredData::new(value));
}

/// Runs `f` on the value in `data`, if it is a `T` (read from its serialized form first
/// when it came from a store).
pub(crate) fn with_stored_data<T: Serialize + DeserializeOwned + Any + Send, U>(
    data: &SharedData,
    f: impl FnOnce(&mut T) -> U,
) -> Option<U> {
    let mut data = data.lock().unwrap_or_else(PoisonError::into_inner);
    data.as_mut().and_then(StoredData::typed).map(f)
}

impl<R> SocketInner<R> {
    pub(crate) fn new(
        id: SocketId,
        namespace: Namespace,
        handshake: Arc<Handshake>,
        auth: Option<Payload>,
    ) -> Self {
        SocketInner {
            id,
            namespace,
            handshake,
            auth,
            handlers: Mutex::default(),
            data: SharedData::default(),
            rooms_at_disconnect: Mutex::default(),
            recovered: false,
        }
    }

    /// Marks it as a socket back from a network drop, with its data as it was.
    pub(crate) fn restore(&mut self, data: Option<SharedData>) {
        self.recovered = true;
        if let Some(data) = data {
            self.data = data;
        }
    }

    /// Its data, shared.
    pub(crate) fn shared_data(&self) -> SharedData {
        self.data.clone()
    }

    fn handlers(&self) -> MutexGuard<'_, Handlers<R>> {
        self.handlers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn has_outgoing_hooks(&self) -> bool {
        !self.handlers().any_outgoing.is_empty()
    }
}

/// A client connected to a namespace. Cheap to clone; clones are the same socket.
///
/// ```no_run
/// # fn f<R: socketio_runtime::Runtime>(socket: socketio_runtime::server::Socket<R>) {
/// socket.join("lobby");
/// socket.on("chat message", async |socket, message| {
///     let text: String = message.args()?;
///     socket.to("lobby").emit("chat message", &text)?;
///     Ok(())
/// });
/// # }
/// ```
pub struct Socket<R> {
    pub(crate) inner: Arc<SocketInner<R>>,
    pub(crate) io: SocketIo<R>,
    timeout: Option<Duration>,
}

impl<R> Clone for Socket<R> {
    fn clone(&self) -> Self {
        Socket { inner: self.inner.clone(), io: self.io.clone(), timeout: self.timeout }
    }
}

impl<R: Runtime> Socket<R> {
    pub(crate) fn new(inner: Arc<SocketInner<R>>, io: SocketIo<R>) -> Self {
        Socket { inner, io, timeout: None }
    }

    /// The socket id (also the name of a room only this socket is in).
    pub fn id(&self) -> SocketId {
        self.inner.id
    }

    /// Whether this socket came back from a network drop with connection state recovery:
    /// the same id, rooms and data as before, and the events it missed already sent
    /// (`socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.namespace
    }

    /// The request that opened its connection: headers, query, remote address.
    pub fn handshake(&self) -> &Arc<Handshake> {
        &self.inner.handshake
    }

    /// The auth object the client sent to join the namespace (`socket.handshake.auth`),
    /// read as `T`; a missing one reads as JSON `null` (so `Option<T>` is `None`).
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.inner.auth {
            Some(auth) => auth.deserialize(),
            None => serde_json::from_str("null"),
        }
    }

    /// The auth payload as received.
    pub(crate) fn auth_payload(&self) -> Option<&Payload> {
        self.inner.auth.as_ref()
    }

    /// The server.
    pub fn io(&self) -> &SocketIo<R> {
        &self.io
    }

    /// Its namespace, to broadcast to all of it (`socket.nsp`).
    pub fn nsp(&self) -> NamespaceRef<R> {
        NamespaceRef { io: self.io.clone(), namespace: self.inner.namespace.clone() }
    }

    /// Handles event `event`: `handler` gets this socket and the [`Message`], and may
    /// return `()` or a `Result` (an error is logged). Several handlers of one name all
    /// run, in the order they were added, as the reference's listeners; the first ack any
    /// of them sends is the answer.
    ///
    /// Handlers of one socket start in the order its events arrived; while one awaits,
    /// the next can start, and other sockets are never held up.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: FnOnce(Socket<R>, Message) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let handler: EventHandler<Socket<R>> = Arc::new(move |socket, message| {
            contained("event", {
                let handler = handler.clone();
                move || handler(socket, message)
            })
        });
        self.inner.handlers().events.add(event, handler);
    }

    /// Removes every handler of `event` (`removeAllListeners(event)`).
    pub fn off(&self, event: &str) {
        self.inner.handlers().events.remove(event);
    }

    /// Sees every incoming event before its handler (`onAny`).
    pub fn on_any(&self, hook: impl Fn(&Socket<R>, &Message) + Send + Sync + 'static) {
        self.inner.handlers().any.push(Arc::new(hook));
    }

    /// Sees every event sent to this socket, its own emits and broadcasts that reach it
    /// (`onAnyOutgoing`); it gets the event payload, `[name, ...args]`.
    pub fn on_any_outgoing(&self, hook: impl Fn(&Socket<R>, &Payload) + Send + Sync + 'static) {
        let first = {
            let mut handlers = self.inner.handlers();
            handlers.any_outgoing.push(Arc::new(hook));
            handlers.any_outgoing.len() == 1
        };
        if first {
            self.io.outgoing_hooks(1);
        }
    }

    /// Runs when the socket disconnects, with the reason; [`Socket::rooms`] still gives
    /// the rooms it was in.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: FnOnce(Socket<R>, DisconnectReason) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let handler: DisconnectHandler<R> = Arc::new(move |socket, reason| {
            contained("disconnect", {
                let handler = handler.clone();
                move || handler(socket, reason)
            })
        });
        self.inner.handlers().disconnect.push(handler);
    }

    /// Emits `event` to this socket; `args` follow the [arguments rule](socketio_proto::args):
    /// one value is one argument, a tuple several, `()` none.
    ///
    /// With connection state recovery on the streams adapter, the event goes through the
    /// cluster's stream, as the reference sends it, so that it reaches the socket on
    /// whichever server it comes back to. It then comes after what is sent directly later
    /// (acks, `emit_with_ack`, a disconnect); while Redis is unreachable the socket gets it
    /// directly and the result is [`Error::Cluster`].
    pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        if self.io.session_store().is_some() {
            // Logged in the cluster's stream, as the reference does: it reaches the socket
            // on whichever server it comes back to.
            let selector = Selector::to(Room::from(self.id()));
            return BroadcastOperator::new(self.io.clone(), self.namespace().clone(), selector)
                .emit(event, args);
        }
        let payload = args.event_payload(event)?;
        self.outgoing(&payload);
        let id = self.id();
        Ok(self.io.shared.with_state(|state| state.endpoint.emit(id, payload))?)
    }

    /// This socket with a deadline for [`Socket::emit_with_ack`] (`socket.timeout(ms)`).
    pub fn timeout(&self, timeout: Duration) -> Socket<R> {
        Socket { timeout: Some(timeout), ..self.clone() }
    }

    /// Emits and waits for the client's ack, read as `T`; fails after the
    /// [timeout](Socket::timeout), if one is set, or when the socket disconnects first.
    ///
    /// ```no_run
    /// # async fn f<R: socketio_runtime::Runtime>(socket: socketio_runtime::server::Socket<R>) -> Result<(), socketio_runtime::AckError> {
    /// let answer: String = socket.timeout(std::time::Duration::from_secs(5)).emit_with_ack("question", &42).await?;
    /// # Ok(()) }
    /// ```
    pub fn emit_with_ack<T: DeserializeOwned>(
        &self,
        event: &str,
        args: &(impl Args + ?Sized),
    ) -> AckFuture<T> {
        let payload = match args.event_payload(event) {
            Ok(payload) => payload,
            Err(error) => return AckFuture::failed(error),
        };
        self.outgoing(&payload);
        let (waiter, answer) = oneshot::channel();
        let (id, timeout, acks) = (self.id(), self.timeout, self.io.acks.clone());
        let sent = self.io.shared.with_state(|state| {
            let ack = state.endpoint.emit_with_ack(Instant::now(), id, payload, timeout)?;
            // Registered under the state lock: the answer cannot be dispatched before.
            lock(&acks).wait_single(id, ack, waiter);
            Ok::<_, EmitError>(ack)
        });
        match sent {
            Ok(ack) => {
                let io = self.io.clone();
                AckFuture::waiting(
                    answer,
                    Forget::with(move || {
                        io.shared.with_state(|state| state.endpoint.forget_ack(id, ack));
                        lock(&io.acks).forget_single(id, ack);
                    }),
                )
            }
            Err(error) => AckFuture::failed(error),
        }
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

    /// The rooms this socket is in (its own id among them); once disconnected, the rooms
    /// it was in.
    pub fn rooms(&self) -> Vec<Room> {
        if let Some(rooms) = &*self.inner.rooms_at_disconnect.lock().unwrap_or_else(PoisonError::into_inner) {
            return rooms.clone();
        }
        let id = self.id();
        self.io.shared.with_state(|state| state.endpoint.rooms(id))
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        let id = self.id();
        self.io.shared.with_state(|state| state.endpoint.namespace_of(id).is_some())
    }

    /// The other sockets in `room` (a socket id is a room): `socket.to(room).emit(...)`.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator<R> {
        self.broadcast().to(room)
    }

    /// Every other socket of the namespace, minus those in `room`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator<R> {
        self.broadcast().except(room)
    }

    /// Every other socket of this socket's namespace (`socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator<R> {
        let selector = Selector { except_socket: Some(self.id()), ..Selector::all() };
        BroadcastOperator::new(self.io.clone(), self.namespace().clone(), selector)
    }

    /// Disconnects the socket from its namespace (the client gets DISCONNECT and does not
    /// reconnect it); its connection stays for other namespaces.
    pub fn disconnect(&self) {
        let id = self.id();
        self.io
            .shared
            .with_state(|state| state.endpoint.disconnect(Instant::now(), id, DisconnectScope::Namespace));
    }

    /// Closes the socket's whole connection (`socket.disconnect(true)`): every namespace
    /// of that client.
    pub fn close(&self) {
        let id = self.id();
        self.io
            .shared
            .with_state(|state| state.endpoint.disconnect(Instant::now(), id, DisconnectScope::Connection));
    }

    /// Stores the application's value for this socket (`socket.data = value`), replacing
    /// any earlier one. It is serializable so that
    /// [`fetch_sockets`](BroadcastOperator::fetch_sockets) can carry it (across a cluster
    /// too): [`RemoteSocket::data`](super::RemoteSocket::data) reads it back.
    pub fn set_data<T: Serialize + Any + Send>(&self, value: T) {
        store_data(&self.inner.data, value);
    }

    /// The stored value in its serialized form.
    pub(crate) fn serialized_data(&self) -> Option<Payload> {
        let data = self.inner.data.lock().unwrap_or_else(PoisonError::into_inner);
        data.as_ref().and_then(StoredData::to_payload)
    }

    /// A copy of the stored value, if one of type `T` is there.
    pub fn data<T: Serialize + DeserializeOwned + Any + Send + Clone>(&self) -> Option<T> {
        self.with_data(|value: &mut T| value.clone())
    }

    /// Runs `f` on the stored value, if one of type `T` is there. A socket recovered on
    /// another server of a cluster brings its data serialized; it becomes a `T` here, at
    /// its first read.
    pub fn with_data<T: Serialize + DeserializeOwned + Any + Send, U>(
        &self,
        f: impl FnOnce(&mut T) -> U,
    ) -> Option<U> {
        with_stored_data(&self.inner.data, f)
    }

    pub(crate) fn outgoing(&self, payload: &Payload) {
        let hooks = self.inner.handlers().any_outgoing.clone();
        for hook in hooks {
            // A hook that panics must not take down whoever emitted (the cluster's task
            // among them).
            guarded("on_any_outgoing", || hook(self, payload));
        }
    }

    /// Runs the catch-all hooks, then returns the event's handlers, started (none: the
    /// event is ignored, as in the reference).
    pub(crate) fn dispatch(&self, message: Message) -> Vec<BoxFuture> {
        let (any, handlers) = {
            let handlers = self.inner.handlers();
            (handlers.any.clone(), handlers.events.of(&message.name()))
        };
        for hook in any {
            guarded("on_any", || hook(self, &message));
        }
        handlers.map(|handlers| start_each(&handlers, self, message)).unwrap_or_default()
    }

    /// Records the final rooms and returns the disconnect handlers, started.
    pub(crate) fn disconnected(&self, reason: DisconnectReason, rooms: Vec<Room>) -> Vec<BoxFuture> {
        *self.inner.rooms_at_disconnect.lock().unwrap_or_else(PoisonError::into_inner) = Some(rooms);
        let handlers = std::mem::take(&mut *self.inner.handlers());
        if !handlers.any_outgoing.is_empty() {
            self.io.outgoing_hooks(-1);
        }
        handlers.disconnect.iter().map(|handler| handler(self.clone(), reason)).collect()
    }
}
