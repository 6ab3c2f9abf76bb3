//! The Socket.IO server: namespaces, middleware, events, acks, rooms, broadcast.

mod broadcast;
mod dispatch;
mod handle;

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use engineio_proto::IdMap;
use engineio_proto::server::{Handshake, ServerConfig};
use futures_channel::oneshot;
use socketio_proto::server::{AckError, Event, Server, SocketConfig, SocketId};
use socketio_proto::{Namespace, Payload};

pub use broadcast::{BroadcastOperator, SocketInfo};
pub use handle::{Message, Socket};

use crate::Runtime;
use crate::transport::{self, AllowRequest, Options, Shared, Traced};

/// A running Socket.IO server. Cheap to clone.
///
/// ```no_run
/// use socketio_runtime::{Runtime, socket::SocketIo};
///
/// # async fn run<R: Runtime>() -> std::io::Result<()> {
/// let io = SocketIo::<R>::builder().build();
/// io.of("/").on_connection(|socket, _auth| {
///     socket.on("chat message", |socket, message| {
///         if let Ok((text,)) = message.args::<(String,)>() {
///             let _ = socket.io().emit("chat message", &(text,));
///         }
///     });
/// });
/// io.listen("127.0.0.1:3000").await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo<R> {
    pub(crate) shared: Arc<Shared<Server>>,
    pub(crate) registry: Arc<Mutex<Registry<R>>>,
    pub(crate) acks: Arc<Mutex<AckWaiters>>,
    runtime: PhantomData<R>,
}

impl Traced for Event {
    fn trace(&self) {
        match self {
            Event::Connecting(connecting) => {
                tracing::debug!(namespace = %connecting.namespace(), "socket connecting");
            }
            Event::Disconnected { socket, namespace, reason, .. } => {
                tracing::debug!(%socket, %namespace, %reason, "socket disconnected");
            }
            Event::Message { .. } | Event::Ack { .. } | Event::AckFailed { .. } => {}
        }
    }
}

/// Who waits for which ack: `(socket, ack id)` to the waiting emit.
pub(crate) type AckWaiters = IdMap<(SocketId, u64), oneshot::Sender<Result<Payload, AckError>>>;

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

    /// The same refusal carrying `data`.
    pub fn with_data(self, data: Payload) -> Self {
        ConnectError { data: Some(data), ..self }
    }
}

/// What a middleware sees of a connecting client.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The namespace asked for.
    pub namespace: Namespace,
    /// The CONNECT packet's auth payload.
    pub auth: Option<Payload>,
    /// The request that opened the engine session: headers, query, remote address.
    pub handshake: Arc<Handshake>,
}

/// A middleware's future.
pub type MiddlewareFuture = Pin<Box<dyn Future<Output = Result<(), ConnectError>> + Send>>;
type Middleware = Arc<dyn Fn(ConnectRequest) -> MiddlewareFuture + Send + Sync>;
type ConnectionHandler<R> = Arc<dyn Fn(Socket<R>, Option<Payload>) + Send + Sync>;

/// Middleware and connection handler of a namespace.
pub(crate) struct NamespaceHandlers<R> {
    middleware: Vec<Middleware>,
    on_connection: Option<ConnectionHandler<R>>,
}

impl<R> Default for NamespaceHandlers<R> {
    fn default() -> Self {
        NamespaceHandlers { middleware: Vec::new(), on_connection: None }
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

impl<R: Runtime> SocketIo<R> {
    /// Starts configuring a server.
    pub fn builder() -> Builder<R> {
        Builder::default()
    }

    /// A namespace (declared on first use): add middleware and a connection handler.
    pub fn of(&self, namespace: &str) -> NamespaceRef<R> {
        let namespace = Namespace::new(namespace.to_owned()).unwrap_or_default();
        let declared = namespace.clone();
        self.shared.with_state(|state| state.endpoint.declare(declared));
        NamespaceRef { io: self.clone(), target: Target::Named(namespace) }
    }

    /// Namespaces created on demand when `allow` accepts their name; they share the
    /// middleware and connection handler set on the returned handle.
    pub fn dynamic_namespaces(&self, allow: impl Fn(&str) -> bool + Send + 'static) -> NamespaceRef<R> {
        self.shared.with_state(|state| state.endpoint.allow_dynamic(Box::new(move |n| allow(n.as_str()))));
        NamespaceRef { io: self.clone(), target: Target::Dynamic }
    }

    /// Emits to every socket of the main namespace.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<usize, socketio_proto::EncodeError> {
        self.to_all(Namespace::main()).emit(event, args)
    }

    /// Targets the sockets of the main namespace in `room`.
    pub fn to(&self, room: impl Into<socketio_proto::server::Room>) -> BroadcastOperator<R> {
        self.to_all(Namespace::main()).to(room)
    }

    /// Targets every socket of `namespace`.
    pub fn to_all(&self, namespace: Namespace) -> BroadcastOperator<R> {
        BroadcastOperator::new(self.clone(), namespace)
    }

    /// How many sockets are connected.
    pub fn socket_count(&self) -> usize {
        self.shared.with_state(|state| state.endpoint.socket_count())
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry<R>> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

transport::http_entry_points!(SocketIo);

enum Target {
    Named(Namespace),
    Dynamic,
}

/// A namespace of a [`SocketIo`] server, to configure.
pub struct NamespaceRef<R> {
    io: SocketIo<R>,
    target: Target,
}

impl<R: Runtime> NamespaceRef<R> {
    fn update(&self, f: impl FnOnce(&mut NamespaceHandlers<R>)) {
        let mut registry = self.io.registry();
        let handlers = match &self.target {
            Target::Named(namespace) => registry.namespaces.entry(namespace.clone()).or_default(),
            Target::Dynamic => registry.dynamic.get_or_insert_with(Default::default),
        };
        f(handlers);
    }

    /// Adds a middleware: it runs, in order with the others, before a client joins the
    /// namespace, and may refuse it.
    pub fn use_middleware<F, Fut>(self, middleware: F) -> Self
    where
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware: Middleware = Arc::new(move |request| Box::pin(middleware(request)));
        self.update(|handlers| handlers.middleware.push(middleware));
        self
    }

    /// Sets what runs when a socket joined: it gets the socket and the auth payload, and
    /// registers the socket's event handlers. It runs before any event of that socket.
    pub fn on_connection(self, handler: impl Fn(Socket<R>, Option<Payload>) + Send + Sync + 'static) -> Self {
        self.update(|handlers| handlers.on_connection = Some(Arc::new(handler)));
        self
    }

    /// Targets every socket of this namespace.
    pub fn sockets(&self) -> Option<BroadcastOperator<R>> {
        match &self.target {
            Target::Named(namespace) => Some(self.io.to_all(namespace.clone())),
            Target::Dynamic => None,
        }
    }
}

/// Settings of a [`SocketIo`] server. The defaults are the reference server's.
pub struct Builder<R> {
    engine: ServerConfig,
    socket: SocketConfig,
    path: String,
    allow_request: Option<AllowRequest>,
    client_script: Option<bytes::Bytes>,
    runtime: PhantomData<R>,
}

impl<R> Default for Builder<R> {
    fn default() -> Self {
        Builder {
            engine: ServerConfig::default(),
            socket: SocketConfig::default(),
            path: "/socket.io/".into(),
            allow_request: None,
            client_script: None,
            runtime: PhantomData,
        }
    }
}

impl<R: Runtime> Builder<R> {
    transport::engine_builder_methods!();

    /// How long a session may stay without joining a namespace (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.socket.connect_timeout = timeout;
        self
    }

    /// Most binary attachments per packet (default 10).
    pub fn max_attachments(mut self, count: usize) -> Self {
        self.socket.limits.max_attachments = count;
        self
    }

    /// Serves the browser client (`socket.io.min.js` of the `socket.io-client` package) at
    /// `<path>socket.io.js`, as the reference server does.
    pub fn serve_client(mut self, script: impl Into<bytes::Bytes>) -> Self {
        self.client_script = Some(script.into());
        self
    }

    /// Creates the server and starts its tasks. Must run inside the runtime.
    pub fn build(self) -> SocketIo<R> {
        let options = Options {
            path: self.path,
            allow_request: self.allow_request,
            max_payload: self.engine.max_payload,
            client_script: self.client_script,
        };
        let engine = engineio_proto::server::Server::new(self.engine, Box::new(transport::random_u128));
        let server = Server::new(engine, self.socket, Box::new(transport::random_u128));
        let (shared, events) = Shared::start::<R>(server, options);
        let io = SocketIo { shared, registry: Arc::default(), acks: Arc::default(), runtime: PhantomData };
        R::spawn(dispatch::run(io.clone(), events));
        io
    }
}
