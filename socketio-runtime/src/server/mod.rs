//! The Socket.IO server: namespaces, middleware, events, acks, rooms, broadcast.
//!
//! ```no_run
//! use socketio_runtime::{Runtime, server::SocketIo};
//!
//! # async fn run<R: Runtime>() -> std::io::Result<()> {
//! let io = SocketIo::<R>::new();
//! io.on_connection(async |socket| {
//!     socket.on("chat message", async |socket, message| {
//!         let text: String = message.args()?;
//!         socket.io().emit("chat message", &text)?;
//!         Ok(())
//!     });
//! });
//! io.listen("127.0.0.1:3000").await
//! # }
//! ```

mod broadcast;
mod dispatch;
mod remote;
mod socket;

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use engineio_proto::IdMap;
use engineio_proto::server::{Handshake, ServerConfig};
use futures_channel::oneshot;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::cluster::resp::Reply;
pub use socketio_proto::server::RecoveryConfig;
use socketio_proto::server::{DisconnectReason, Event, Room, Selector, Server, SocketConfig, SocketId};
use socketio_proto::{Args, Namespace, Payload};

pub use crate::cluster::{ClusterError, RedisAdapter, SubscriptionMode};
pub use broadcast::BroadcastOperator;
pub use remote::RemoteSocket;
pub use socket::Socket;
pub(crate) use socket::SocketInner;

use crate::ack::{AckWaiters, BroadcastAckFuture, Forget};
use crate::cluster::Cluster;
use crate::cluster::signal::Signal;
use crate::handler::{BoxFuture, HandlerOutput, contained, guarded};
use crate::transport::{self, AllowRequest, AppEvent, HttpLimits, Options, Shared};
use crate::{Error, Runtime};

/// Locks `mutex`, whatever a panicking holder left behind.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connected sockets, by id.
type LiveSockets<R> = IdMap<SocketId, Arc<SocketInner<R>>>;

/// A running Socket.IO server. Cheap to clone.
///
/// Broadcasts from the server (`io.emit`, `io.to(room)`, ...) target the main namespace;
/// [`SocketIo::of`] gives the same operations on another.
pub struct SocketIo<R> {
    pub(crate) shared: Arc<Shared<Server>>,
    registry: Arc<Mutex<Registry<R>>>,
    pub(crate) acks: Arc<Mutex<AckWaiters>>,
    live: Arc<Mutex<LiveSockets<R>>>,
    /// How many sockets have `on_any_outgoing` hooks: broadcasts look for them only then.
    outgoing_hooks: Arc<AtomicIsize>,
    /// This server's part of a cluster, with a cluster adapter.
    pub(crate) cluster: Option<Arc<Cluster>>,
    /// Connection state recovery, when on.
    pub(crate) recovery: Option<RecoveryConfig>,
    /// Sessions handed to the cluster's store, for a shutdown to wait on.
    pub(crate) kept: Arc<KeptSessions>,
    runtime: PhantomData<R>,
}

/// The sessions of departed sockets being written to the cluster's store (connection
/// state recovery on the streams adapter).
#[derive(Default)]
pub(crate) struct KeptSessions {
    /// The replies to come, finished ones dropped as new ones arrive.
    writes: Mutex<Vec<oneshot::Receiver<Reply>>>,
    /// Raised each time the dispatcher handled a socket's departure.
    departed: Signal,
}

impl KeptSessions {
    /// A session write on its way.
    pub(crate) fn add(&self, write: oneshot::Receiver<Reply>) {
        let mut writes = lock(&self.writes);
        writes.retain_mut(|write| matches!(write.try_recv(), Ok(None)));
        writes.push(write);
    }

    /// A socket's departure was handled.
    pub(crate) fn departed(&self) {
        self.departed.notify();
    }
}

impl<R> SocketIo<R> {
    /// The cluster that keeps recovery sessions and the events they miss, when recovery is
    /// on with the streams adapter.
    pub(crate) fn session_store(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref().filter(|_| self.recovery.is_some_and(|recovery| recovery.external))
    }

    /// What [`close`](Self::close) waits for once the sessions are gone: with a cluster
    /// store, every departed socket's session handed to it and written, so that its client
    /// recovers on another server.
    async fn flush_before_close(&self) {
        if self.session_store().is_none() {
            return;
        }
        while !lock(&self.live).is_empty() {
            self.kept.departed.wait().await;
        }
        let writes = std::mem::take(&mut *lock(&self.kept.writes));
        for write in writes {
            let _ = write.await;
        }
    }
}

impl<R> Clone for SocketIo<R> {
    fn clone(&self) -> Self {
        SocketIo {
            shared: self.shared.clone(),
            registry: self.registry.clone(),
            acks: self.acks.clone(),
            live: self.live.clone(),
            outgoing_hooks: self.outgoing_hooks.clone(),
            cluster: self.cluster.clone(),
            recovery: self.recovery,
            kept: self.kept.clone(),
            runtime: PhantomData,
        }
    }
}

impl AppEvent for Event {
    fn trace(&self) {
        match self {
            Event::Connecting(connecting) => {
                tracing::debug!(namespace = %connecting.namespace(), "socket connecting");
            }
            Event::Disconnected { socket, namespace, reason, .. } => {
                if *reason == DisconnectReason::Transport(engineio_proto::server::CloseReason::BufferFull) {
                    tracing::warn!(%socket, %namespace, "socket dropped: its client reads too slowly (buffer full)");
                } else {
                    tracing::debug!(%socket, %namespace, %reason, "socket disconnected");
                }
            }
            Event::NamespaceClosed { namespace } => tracing::debug!(%namespace, "dynamic namespace closed"),
            Event::Message { .. } | Event::Ack { .. } | Event::AckFailed { .. } | Event::Room { .. } => {}
        }
    }
}

/// A middleware's refusal: the client gets CONNECT_ERROR with this message and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The error message (`err.message` on the client).
    pub message: String,
    /// Extra data (`err.data` on the client).
    pub data: Option<Payload>,
}

impl ConnectError {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), data: None }
    }

    /// The same refusal carrying `data` (any serializable value).
    pub fn with_data<T: Serialize + ?Sized>(self, data: &T) -> Self {
        match Payload::from_serialize(data) {
            Ok(data) => ConnectError { data: Some(data), ..self },
            Err(error) => {
                tracing::warn!(%error, "a connect error's data could not be encoded; sent without it");
                self
            }
        }
    }
}

/// What a middleware sees of a connecting client, and where it leaves the socket's data.
///
/// ```no_run
/// # async fn run<R: socketio_runtime::Runtime>(io: socketio_runtime::server::SocketIo<R>) {
/// use socketio_runtime::server::ConnectError;
///
/// // The reference's `socket.data.user = ...` in `io.use`: checked once, read by handlers.
/// io.of("/").use_middleware(async |request| {
///     let user = request.handshake.query("user").ok_or_else(|| ConnectError::new("who are you?"))?;
///     request.set_data(user);
///     Ok(())
/// });
/// io.on_connection(async |socket| {
///     let user: Option<String> = socket.data();
///     println!("{user:?} joined");
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct ConnectRequest {
    /// The namespace asked for.
    pub namespace: Namespace,
    /// The CONNECT packet's auth payload.
    pub auth: Option<Payload>,
    /// The request that opened the connection: headers, query, remote address.
    pub handshake: Arc<Handshake>,
    /// The socket's data, set by a middleware; shared by the clones every middleware gets.
    data: socket::SharedData,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("namespace", &self.namespace)
            .field("auth", &self.auth)
            .field("handshake", &self.handshake)
            .finish_non_exhaustive()
    }
}

impl ConnectRequest {
    /// Stores `value` as the data of the socket this request becomes once every middleware
    /// let it in (the reference's `socket.data = ...` in a middleware); see
    /// [`Socket::set_data`]. A later call replaces an earlier one; over a recovered
    /// session's data, it wins, as in the reference.
    pub fn set_data<T: Serialize + std::any::Any + Send>(&self, value: T) {
        socket::store_data(&self.data, value);
    }

    /// A copy of the data a middleware before stored, if it is a `T`.
    pub fn data<T: Serialize + DeserializeOwned + std::any::Any + Send + Clone>(&self) -> Option<T> {
        socket::with_stored_data(&self.data, |value: &mut T| value.clone())
    }

    /// The auth object read as `T`; a missing one reads as JSON `null`.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.auth {
            Some(auth) => auth.deserialize(),
            None => serde_json::from_str("null"),
        }
    }
}

type MiddlewareFuture = std::pin::Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>;
type Middleware = Arc<dyn Fn(ConnectRequest) -> MiddlewareFuture + Send + Sync>;
type ConnectionHandler<R> = Arc<dyn Fn(Socket<R>) -> BoxFuture + Send + Sync>;

/// Middleware and connection handler of a namespace.
pub(crate) struct NamespaceHandlers<R> {
    middleware: Vec<Middleware>,
    on_connection: Vec<ConnectionHandler<R>>,
}

impl<R> Default for NamespaceHandlers<R> {
    fn default() -> Self {
        NamespaceHandlers { middleware: Vec::new(), on_connection: Vec::new() }
    }
}

impl<R> Clone for NamespaceHandlers<R> {
    fn clone(&self) -> Self {
        NamespaceHandlers { middleware: self.middleware.clone(), on_connection: self.on_connection.clone() }
    }
}

/// Handlers of every namespace.
pub(crate) struct Registry<R> {
    namespaces: HashMap<Namespace, NamespaceHandlers<R>>,
    dynamic: Option<NamespaceHandlers<R>>,
}

impl<R> Default for Registry<R> {
    fn default() -> Self {
        Registry { namespaces: HashMap::new(), dynamic: None }
    }
}

impl<R> Registry<R> {
    fn handlers(&self, namespace: &Namespace) -> NamespaceHandlers<R> {
        self.namespaces.get(namespace).or(self.dynamic.as_ref()).cloned().unwrap_or_default()
    }
}

/// The broadcast operations of a namespace handle, written once for [`SocketIo`] (the
/// main namespace) and [`NamespaceRef`].
macro_rules! broadcast_operations {
    () => {
        /// Targets the sockets in `room` (a socket id is a room too).
        pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator<R> {
            self.operator().to(room)
        }

        /// Targets every socket except those in `room`.
        pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator<R> {
            self.operator().except(room)
        }

        /// Targets every socket, skipping those that cannot take an event right now.
        pub fn volatile(&self) -> BroadcastOperator<R> {
            self.operator().volatile()
        }

        /// Targets this server's sockets only (see [`BroadcastOperator::local`]).
        pub fn local(&self) -> BroadcastOperator<R> {
            self.operator().local()
        }

        /// Targets every socket, with a deadline for
        /// [`emit_with_ack`](BroadcastOperator::emit_with_ack).
        pub fn timeout(&self, timeout: Duration) -> BroadcastOperator<R> {
            self.operator().timeout(timeout)
        }

        /// Emits to every socket, encoded once; `args` follow the
        /// [arguments rule](socketio_proto::args).
        pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
            self.operator().emit(event, args)
        }

        /// Emits to every socket asking each for an ack (see
        /// [`BroadcastOperator::emit_with_ack`]).
        pub fn emit_with_ack<T: DeserializeOwned>(
            &self,
            event: &str,
            args: &(impl Args + ?Sized),
        ) -> BroadcastAckFuture<T> {
            self.operator().emit_with_ack(event, args)
        }

        /// Every socket (`fetchSockets`; see [`BroadcastOperator::fetch_sockets`]).
        pub async fn fetch_sockets(&self) -> Vec<RemoteSocket<R>> {
            self.operator().fetch_sockets().await
        }

        /// Makes every socket join `room`.
        pub fn sockets_join(&self, room: impl Into<Room>) {
            self.operator().sockets_join(room)
        }

        /// Makes every socket leave `room`.
        pub fn sockets_leave(&self, room: &str) {
            self.operator().sockets_leave(room)
        }

        /// Disconnects every socket from the namespace.
        pub fn disconnect_sockets(&self) {
            self.operator().disconnect_sockets()
        }
    };
}

impl<R: Runtime> SocketIo<R> {
    /// A server with the reference's defaults; its tasks start at once, so this must run
    /// inside the runtime. [`SocketIo::builder`] for settings.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts configuring a server.
    pub fn builder() -> Builder<R> {
        Builder::default()
    }

    /// A namespace, opened on first use: `"/admin"`, or `"admin"` which means the same.
    ///
    /// # Panics
    /// When `name` holds a `,`, which no namespace can.
    pub fn of(&self, name: &str) -> NamespaceRef<R> {
        let name = if name.starts_with('/') { name.to_owned() } else { format!("/{name}") };
        let namespace = match Namespace::new(name) {
            Ok(namespace) => namespace,
            Err(error) => panic!("{error}"),
        };
        let declared = namespace.clone();
        self.shared.with_state(|state| state.endpoint.declare(declared));
        if let Some(cluster) = &self.cluster {
            cluster.add_namespace(&namespace);
        }
        NamespaceRef { io: self.clone(), namespace }
    }

    /// Adds what runs when a socket joined the main namespace (`io.on("connection")`);
    /// the same as `io.of("/").on_connection(handler)`.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: FnOnce(Socket<R>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        self.of("/").on_connection(handler);
    }

    /// Namespaces created on demand when `allow` accepts their name; they share the
    /// middleware and connection handler set on the returned handle. One is forgotten, its
    /// rooms and (with a cluster) its subscriptions with it, once its last socket left and
    /// no session is kept for it, as the reference's `cleanupEmptyChildNamespaces` does; a
    /// client may open it again. `io.of(name)` declares a namespace, which then stays.
    pub fn dynamic_namespaces(&self, allow: impl Fn(&str) -> bool + Send + 'static) -> DynamicNamespaces<R> {
        let allow = move |name: &Namespace| {
            guarded("dynamic namespace predicate", || allow(name.as_str())).unwrap_or(false)
        };
        self.shared.with_state(|state| state.endpoint.allow_dynamic(Box::new(allow)));
        DynamicNamespaces { io: self.clone() }
    }

    broadcast_operations!();

    /// Closes every socket's whole connection.
    pub fn close_sockets(&self) {
        self.operator().close_sockets()
    }

    fn operator(&self) -> BroadcastOperator<R> {
        BroadcastOperator::new(self.clone(), Namespace::main(), Selector::all())
    }

    /// Handles event `event` of the other servers of the cluster (`io.on(event)` for a
    /// `serverSideEmit`): `handler` gets the [`Message`](crate::Message), and answers with
    /// [`Message::ack`](crate::Message::ack) when the sender waits for one. Several handlers
    /// of one name all run, in the order they were added; the first answer is this
    /// server's.
    ///
    /// ```no_run
    /// # fn f<R: socketio_runtime::Runtime>(io: socketio_runtime::server::SocketIo<R>) {
    /// io.on_server_side("hello", async |message| {
    ///     let text: String = message.args()?;
    ///     message.ack(&format!("node-1:{text}"))?;
    ///     Ok(())
    /// });
    /// # }
    /// ```
    pub fn on_server_side<F, Fut>(&self, event: &str, handler: F)
    where
        F: FnOnce(crate::Message) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        if let Some(cluster) = &self.cluster {
            let handler = Arc::new(move |message| {
                contained("server-side event", {
                    let handler = handler.clone();
                    move || handler(message)
                })
            });
            cluster.on_server_side(event, handler);
        }
    }

    /// Emits `event` to the other servers of the cluster (`serverSideEmit`); their
    /// [`on_server_side`](Self::on_server_side) handlers get it. Without a cluster adapter
    /// there is no other server, and this does nothing.
    pub fn server_side_emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        match &self.cluster {
            Some(cluster) => Ok(cluster.publish(|node| node.server_side_emit(&Namespace::main(), &payload))?),
            None => Ok(()),
        }
    }

    /// Emits `event` to the other servers and waits for each one's answer
    /// (`serverSideEmitWithAck`), up to the adapter's requests timeout: the answers that
    /// came, read as `T`, and whether a server is missing.
    pub fn server_side_emit_with_ack<T: DeserializeOwned>(
        &self,
        event: &str,
        args: &(impl Args + ?Sized),
    ) -> BroadcastAckFuture<T> {
        let payload = match args.event_payload(event) {
            Ok(payload) => payload,
            Err(error) => return BroadcastAckFuture::failed(error),
        };
        let Some(cluster) = &self.cluster else {
            return BroadcastAckFuture::waiting(None, None, Forget::default());
        };
        let now = std::time::Instant::now();
        let done = cluster.request(|node| node.server_side_emit_with_ack(now, &Namespace::main(), &payload));
        BroadcastAckFuture::waiting(None, Some(done), Forget::default())
    }

    /// How many servers the cluster has, this one included (1 without a cluster adapter).
    pub async fn server_count(&self) -> u64 {
        let Some(cluster) = &self.cluster else {
            return 1;
        };
        let now = std::time::Instant::now();
        let done = cluster.request(|node| node.server_count(now, &Namespace::main()));
        match done.await {
            Ok(crate::cluster::Done {
                answer: socketio_proto::cluster::redis::Answer::ServerCount(n),
                ..
            }) => n,
            _ => 1,
        }
    }

    /// The sockets of this server `selector` designates in `namespace`, with their rooms.
    pub(crate) fn local_sockets(
        &self,
        namespace: &Namespace,
        selector: &Selector,
    ) -> Vec<(Socket<R>, Vec<Room>)> {
        let found = self.shared.with_state(|state| {
            let ids = state.endpoint.select(namespace, selector);
            ids.into_iter().map(|id| (id, state.endpoint.rooms(id))).collect::<Vec<_>>()
        });
        let live = self.live();
        found
            .into_iter()
            .filter_map(|(id, rooms)| Some((Socket::new(live.get(&id)?.clone(), self.clone()), rooms)))
            .collect()
    }

    /// How many acks the server waits for (single emits and broadcasts): a gauge for
    /// metrics and leak tests. Answered, timed-out and dropped waits leave it at once.
    pub fn awaited_acks(&self) -> usize {
        let machine = self.shared.with_state(|state| state.endpoint.awaited_acks());
        machine.max(lock(&self.acks).len())
    }

    /// How many sockets are connected, across namespaces.
    pub fn socket_count(&self) -> usize {
        self.shared.with_state(|state| state.endpoint.socket_count())
    }

    /// How many clients are connected: their Engine.IO sessions, each carrying the sockets
    /// of its namespaces (the reference's `io.engine.clientsCount`). A gauge for metrics
    /// and leak tests.
    pub fn client_count(&self) -> usize {
        self.shared.with_state(|state| state.endpoint.engine().session_count())
    }

    /// How many dynamic namespaces are in use (a socket, a client connecting, or a session
    /// kept for recovery in each): a gauge for metrics and leak tests.
    pub fn dynamic_namespace_count(&self) -> usize {
        self.shared.with_state(|state| state.endpoint.dynamic_namespace_count())
    }

    fn registry(&self) -> MutexGuard<'_, Registry<R>> {
        lock(&self.registry)
    }

    /// Takes a departed socket out of the live ones (the lock released at once).
    pub(crate) fn live_remove(&self, socket: SocketId) -> Option<Arc<SocketInner<R>>> {
        self.live().remove(&socket)
    }

    pub(crate) fn live(&self) -> MutexGuard<'_, LiveSockets<R>> {
        lock(&self.live)
    }

    pub(crate) fn outgoing_hooks(&self, change: isize) {
        self.outgoing_hooks.fetch_add(change, Ordering::Relaxed);
    }

    /// Whether some socket has `on_any_outgoing` hooks.
    pub(crate) fn has_outgoing_hooks(&self) -> bool {
        self.outgoing_hooks.load(Ordering::Relaxed) > 0
    }

    /// Runs the `on_any_outgoing` hooks of a broadcast's recipients, if any socket has one.
    pub(crate) fn notify_outgoing(&self, namespace: &Namespace, selector: &Selector, payload: &Payload) {
        if self.has_outgoing_hooks() {
            let ids = self.shared.with_state(|state| state.endpoint.recipients(namespace, selector, None));
            self.notify_outgoing_to(&ids, payload);
        }
    }

    /// Runs the `on_any_outgoing` hooks of the sockets `ids` for `payload` sent to them.
    pub(crate) fn notify_outgoing_to(&self, ids: &[SocketId], payload: &Payload) {
        let hooked: Vec<_> = {
            let live = self.live();
            ids.iter().filter_map(|id| live.get(id)).filter(|s| s.has_outgoing_hooks()).cloned().collect()
        };
        for inner in hooked {
            Socket::new(inner, self.clone()).outgoing(payload);
        }
    }

    /// Runs the hooks of its recipients, then broadcasts `payload`, logged in an external
    /// store under `offset` if it has one (as the reference, a hook runs before its socket
    /// is written to, a volatile event's too).
    pub(crate) fn deliver(
        &self,
        namespace: &Namespace,
        selector: &Selector,
        payload: Payload,
        offset: Option<&str>,
    ) {
        if self.has_outgoing_hooks() {
            let recipients =
                self.shared.with_state(|state| state.endpoint.recipients(namespace, selector, offset));
            self.notify_outgoing_to(&recipients, &payload);
        }
        self.shared.with_state(|state| match offset {
            Some(offset) => state.endpoint.broadcast_at(namespace, selector, payload, offset),
            None => state.endpoint.broadcast(namespace, selector, payload),
        });
    }
}

transport::http_entry_points!(SocketIo);

/// A namespace of a [`SocketIo`] server: its middleware, its connection handler, and
/// broadcasts to its sockets. Cheap to clone.
#[derive(Clone)]
pub struct NamespaceRef<R> {
    io: SocketIo<R>,
    namespace: Namespace,
}

impl<R: Runtime> NamespaceRef<R> {
    /// Its name.
    pub fn name(&self) -> &Namespace {
        &self.namespace
    }

    /// Adds a middleware (`io.use`): it runs, in order with the others, before a client
    /// joins the namespace, and may refuse it with a [`ConnectError`] or leave the socket's
    /// data ([`ConnectRequest::set_data`]).
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: FnOnce(ConnectRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware = boxed_middleware(middleware);
        let mut registry = self.io.registry();
        registry.namespaces.entry(self.namespace.clone()).or_default().middleware.push(middleware);
        drop(registry);
        self
    }

    /// Adds what runs when a socket joined; several run in the order they were added, as
    /// the reference's listeners. A handler should register the socket's event handlers
    /// before its first `.await`: events that arrive earlier find none. What the handlers do
    /// before their first `.await` (joining rooms, emitting) is done when the client learns
    /// it is connected, as in the reference.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: FnOnce(Socket<R>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let handler = boxed_connection_handler(handler);
        self.io.registry().namespaces.entry(self.namespace.clone()).or_default().on_connection.push(handler);
        self
    }

    broadcast_operations!();

    fn operator(&self) -> BroadcastOperator<R> {
        BroadcastOperator::new(self.io.clone(), self.namespace.clone(), Selector::all())
    }
}

/// The namespaces [`SocketIo::dynamic_namespaces`] allows: their shared middleware and
/// connection handler.
pub struct DynamicNamespaces<R> {
    io: SocketIo<R>,
}

impl<R: Runtime> DynamicNamespaces<R> {
    /// Adds a middleware for every dynamic namespace (see [`NamespaceRef::use_middleware`]).
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: FnOnce(ConnectRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware = boxed_middleware(middleware);
        self.io.registry().dynamic.get_or_insert_with(Default::default).middleware.push(middleware);
        self
    }

    /// Adds what runs when a socket joined a dynamic namespace.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: FnOnce(Socket<R>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let handler = boxed_connection_handler(handler);
        self.io.registry().dynamic.get_or_insert_with(Default::default).on_connection.push(handler);
        self
    }
}

fn boxed_middleware<F, Fut>(middleware: F) -> Middleware
where
    F: FnOnce(ConnectRequest) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(middleware.clone()(request)))
}

fn boxed_connection_handler<R: Runtime, F, Fut>(handler: F) -> ConnectionHandler<R>
where
    F: FnOnce(Socket<R>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    Arc::new(move |socket| {
        contained("connection", {
            let handler = handler.clone();
            move || handler(socket)
        })
    })
}

/// Settings of a [`SocketIo`] server. The defaults are the reference server's.
pub struct Builder<R> {
    engine: ServerConfig,
    limits: HttpLimits,
    tls: Option<crate::ServerTls>,
    socket: SocketConfig,
    path: String,
    allow_request: Option<AllowRequest>,
    client_script: Option<bytes::Bytes>,
    adapter: Option<RedisAdapter>,
    runtime: PhantomData<R>,
}

impl<R> Default for Builder<R> {
    fn default() -> Self {
        Builder {
            engine: ServerConfig::default(),
            limits: HttpLimits::default(),
            tls: None,
            socket: SocketConfig::default(),
            path: "/socket.io/".into(),
            allow_request: None,
            client_script: None,
            adapter: None,
            runtime: PhantomData,
        }
    }
}

impl<R: Runtime> Builder<R> {
    transport::engine_builder_methods!();

    /// How long a connection may stay without joining a namespace (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.socket.connect_timeout = timeout;
        self
    }

    /// Connection state recovery (`connectionStateRecovery`): a client back from a network
    /// drop within `max_disconnection_duration` gets its socket again (same id, rooms and
    /// data, [`Socket::recovered`] true) and every event it missed, in order. Events carry
    /// an offset as their last argument, which the official client hands to listeners as an
    /// extra argument (ours strips it). Logs and sessions are bounded
    /// ([`RecoveryConfig::max_packets`], [`RecoveryConfig::max_sessions`]); a client whose
    /// missed events fell out of the log gets a new socket, `recovered` false, never one
    /// with a gap.
    ///
    /// With the [streams adapter](RedisAdapter::streams), sessions and the events they miss
    /// are kept in Redis, as Node's `@socket.io/redis-streams-adapter` keeps them: a client
    /// recovers on whichever server of the cluster it comes back to, Node ones included.
    /// Every logged event then goes through the stream, this server's sockets getting it as
    /// it is read back, and the socket's data is stored serialized: a server that did not
    /// set it reads it as whatever type [`Socket::data`] asks for.
    ///
    /// ```no_run
    /// # fn f<R: socketio_runtime::Runtime>() {
    /// use socketio_runtime::server::{RecoveryConfig, SocketIo};
    ///
    /// let io = SocketIo::<R>::builder().connection_state_recovery(RecoveryConfig::default()).build();
    /// io.on_connection(async |socket| {
    ///     if socket.recovered() {
    ///         // same id, rooms and data; the missed events are already sent
    ///     }
    /// });
    /// # }
    /// ```
    pub fn connection_state_recovery(mut self, config: RecoveryConfig) -> Self {
        self.socket.recovery = Some(config);
        self
    }

    /// Most binary attachments per packet (default 10).
    pub fn max_attachments(mut self, count: usize) -> Self {
        self.socket.limits.max_attachments = count;
        self
    }

    /// Most namespaces one client may be connected or connecting to at once (default
    /// 100); a CONNECT past it gets the connect error `Too many namespaces`. A dynamic
    /// namespace is forgotten once nothing is left in it (see
    /// [`dynamic_namespaces`](SocketIo::dynamic_namespaces)), so clients cannot make the
    /// server keep any number of them.
    pub fn max_namespaces(mut self, count: usize) -> Self {
        self.socket.max_namespaces = count;
        self
    }

    /// Serves this browser client script (`socket.io.min.js` of the `socket.io-client`
    /// package) at `<path>socket.io.js`, as the reference server does. The alternative is
    /// the CDN: `<script src="https://cdn.socket.io/4.8.1/socket.io.min.js">`.
    pub fn serve_client(mut self, script: impl Into<bytes::Bytes>) -> Self {
        self.client_script = Some(script.into());
        self
    }

    /// Joins a cluster of servers on Redis (`io.adapter(createAdapter(...))`): broadcasts,
    /// room operations, `fetch_sockets` and server-side events reach every server of it,
    /// Node servers on `@socket.io/redis-adapter` 8.3 included. The adapter connects in the
    /// background and reconnects by itself.
    pub fn adapter(mut self, adapter: RedisAdapter) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// Creates the server and starts its tasks. Must run inside the runtime.
    pub fn build(self) -> SocketIo<R> {
        let options = Options {
            path: self.path,
            allow_request: self.allow_request,
            max_payload: self.engine.max_payload,
            limits: self.limits.resolved(&self.engine),
            tls: self.tls,
            client_script: self.client_script,
        };
        let (mut socket, mut adapter) = (self.socket, self.adapter);
        if let Some(recovery) = socket.recovery.as_mut() {
            recovery.external = adapter.as_mut().is_some_and(RedisAdapter::store_sessions);
        }
        let recovery = socket.recovery;
        let engine = engineio_proto::server::Server::new(self.engine, Box::new(crate::ids::random_u128));
        let mut server = Server::new(engine, socket, Box::new(crate::ids::random_u128));
        if adapter.as_ref().is_some_and(RedisAdapter::listens_per_room) {
            server.watch_rooms();
        }
        let (shared, events) = Shared::start::<R>(server, options);
        let io = SocketIo {
            shared,
            registry: Arc::default(),
            acks: Arc::default(),
            live: Arc::default(),
            outgoing_hooks: Arc::default(),
            cluster: adapter.map(|adapter| Arc::new(Cluster::new(adapter))),
            recovery,
            kept: Arc::default(),
            runtime: PhantomData,
        };
        R::spawn(dispatch::run(io.clone(), events));
        if let Some(cluster) = &io.cluster {
            cluster.add_namespace(&Namespace::main());
            // The cluster's connections end with the server.
            let cluster_task = crate::cluster::run(cluster.clone(), io.clone());
            let closed = io.shared.lifecycle.shutting_down();
            R::spawn(async move {
                futures_util::future::select(std::pin::pin!(cluster_task), std::pin::pin!(closed)).await;
            });
        }
        io
    }
}
