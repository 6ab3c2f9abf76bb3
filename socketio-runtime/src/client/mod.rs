//! The Socket.IO client, around [`socketio_proto::client::Manager`].
//!
//! ```no_run
//! use socketio_runtime::{Runtime, client::ClientBuilder};
//!
//! # fn run<R: Runtime>() -> Result<(), socketio_runtime::Error> {
//! let socket = ClientBuilder::<R>::new("http://127.0.0.1:3000")?.build();
//! socket.on("chat message", async |_, message| {
//!     let text: String = message.args()?;
//!     println!("{text}");
//!     Ok(())
//! });
//! socket.connect();
//! socket.emit("chat message", &"hello")?;
//! # Ok(()) }
//! ```

mod io;
mod link;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::client as engine;
use futures_channel::{mpsc, oneshot};
use futures_util::{FutureExt, StreamExt, select_biased};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketio_proto::client::{self as proto, ConnectFailure, DisconnectReason, Manager, ManagerConfig};
use socketio_proto::server::AckError;
use socketio_proto::{Args, Namespace, Payload};

use crate::ack::{AckFuture, Forget};
use crate::handler::{
    BoxFuture, EventHandler, HandlerOutput, Listeners, Running, contained, guarded, start, start_each,
};
use crate::websocket::Command as WsCommand;
use crate::{EmitError, Error, Message, Runtime};
use io::{Io, IoEvent, WsEvent, WsRoutes};

type AnyHook = Arc<dyn Fn(&ClientSocket, &Message) + Send + Sync>;
type ConnectHandler = Arc<dyn Fn(&ClientSocket, &str) + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(&ClientSocket, &DisconnectReason) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&ClientSocket, &ConnectFailure) + Send + Sync>;
type AttemptHandler = Arc<dyn Fn(u32) + Send + Sync>;
type ReconnectErrorHandler = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct SocketHandlers {
    events: Listeners<EventHandler<ClientSocket>>,
    any: Vec<AnyHook>,
    connect: Vec<ConnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    connect_error: Vec<ErrorHandler>,
    /// Whether the last connection restored the socket (connection state recovery).
    recovered: bool,
    /// The id the server gave it, while connected.
    id: Option<String>,
}

#[derive(Default)]
struct Handlers {
    sockets: HashMap<Namespace, SocketHandlers>,
    reconnect_attempt: Vec<AttemptHandler>,
    reconnect: Vec<AttemptHandler>,
    reconnect_error: Vec<ReconnectErrorHandler>,
    reconnect_failed: Vec<AttemptHandler>,
    /// How long an `emit_with_ack` waits when its socket sets no timeout.
    ack_timeout: Option<Duration>,
}

/// What the handles ask of the client task.
enum Command {
    Open(Namespace, Option<Payload>),
    SetAuth(Namespace, Option<Payload>),
    Close(Namespace),
    CloseAll,
    Emit(Namespace, Payload, bool),
    EmitWithAck(Namespace, Payload, Option<Duration>, oneshot::Sender<Result<Payload, AckError>>),
    /// An `AckFuture` was dropped: forget the acks nobody waits for any more.
    ForgetDropped,
    Ack(Namespace, u64, Payload),
    /// How many acks are awaited.
    CountAcks(oneshot::Sender<usize>),
}

/// How to connect. The defaults are the reference client's.
pub struct ClientBuilder<R> {
    config: ManagerConfig,
    /// The namespace of the socket [`ClientBuilder::build`] returns: the URL's path.
    namespace: Namespace,
    auth: Option<Payload>,
    auth_provider: Option<AuthProvider>,
    headers: http::HeaderMap,
    /// The default timeout of `emit_with_ack`.
    ack_timeout: Option<Duration>,
    /// Roots trusted for TLS beside the platform's.
    extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    runtime: PhantomData<R>,
}

type AuthProvider = Arc<dyn Fn() -> Option<Payload> + Send + Sync>;

impl<R: Runtime> ClientBuilder<R> {
    /// A client of the server at `url`: `http://host:port` (`ws://` works too; `https`
    /// and `wss` ask for TLS). As in the reference client, the URL's path is the
    /// namespace of the socket [`build`](Self::build) returns (`http://host/admin` is
    /// `/admin`) and its query goes on every request.
    pub fn new(url: &str) -> Result<Self, Error> {
        let url = engine::ServerUrl::parse(url)?;
        let namespace = match url.path.trim_end_matches('/') {
            "" => Namespace::main(),
            path => Namespace::new(path)?,
        };
        Ok(ClientBuilder {
            config: ManagerConfig::for_server(&url),
            namespace,
            auth: None,
            auth_provider: None,
            ack_timeout: None,
            headers: http::HeaderMap::new(),
            extra_roots: Vec::new(),
            runtime: PhantomData,
        })
    }

    /// The server's path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.engine.path = path.into();
        self
    }

    /// Which transports to use: polling then upgrade (default), polling only, WebSocket only.
    pub fn transports(mut self, transports: crate::Transports) -> Self {
        (self.config.engine.polling, self.config.engine.websocket) = transports.enabled();
        self
    }

    /// The auth payload of the main namespace's CONNECT.
    pub fn auth<T: Serialize + ?Sized>(mut self, auth: &T) -> Result<Self, Error> {
        self.auth = Some(Payload::from_serialize(auth)?);
        Ok(self)
    }

    /// Also trusts the CA certificates of this PEM data for `https`/`wss` servers (a
    /// private CA), beside the platform's roots (or, when `SSL_CERT_FILE` or
    /// `SSL_CERT_DIR` is set, the certificates there).
    pub fn add_root_certificates(mut self, pem: &[u8]) -> Result<Self, Error> {
        self.extra_roots.extend(crate::tls::certificates_from_pem(pem).map_err(Error::Tls)?);
        Ok(self)
    }

    /// An extra header on every request.
    pub fn header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// An extra query parameter on every request (percent-encoded here).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.config.engine.add_query(key, value);
        self
    }

    /// No reconnection after the connection drops (the reference's `reconnection: false`).
    pub fn no_reconnection(mut self) -> Self {
        self.config.reconnection = false;
        self
    }

    /// The largest message or polling response accepted from the server (default
    /// 100 MB); past it the connection fails (and reconnects).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.engine.max_message = bytes;
        self
    }

    /// How many attempts in a row before giving up (default: no limit).
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.config.reconnection_attempts = Some(attempts);
        self
    }

    /// The first delay between attempts (default 1000 ms).
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.config.backoff.min = delay;
        self
    }

    /// The largest delay between attempts (default 5000 ms).
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.config.backoff.max = delay;
        self
    }

    /// How much each delay varies, as a fraction (default 0.5).
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.config.backoff.jitter = factor;
        self
    }

    /// How long a connection may take to open, and an HTTP request or a WebSocket
    /// handshake to complete (default 20 s). A long-poll may take up to the server's
    /// `pingInterval + pingTimeout` when that is longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self.config.engine.request_timeout = timeout;
        self
    }

    /// How long every `emit_with_ack` waits for its answer unless the socket sets its own
    /// [timeout](ClientSocket::timeout) (the reference's `ackTimeout`; default: as long as
    /// it takes). In [retry mode](ClientBuilder::retries), the wait of each try.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = Some(timeout);
        self.config.ack_timeout = timeout;
        self
    }

    /// Retry-until-acked mode: every emit waits for the server's ack, one at a time, and is
    /// sent again after `ack_timeout`, up to `retries` more times (the reference's
    /// `retries` and `ackTimeout`). The server's handlers must ack.
    pub fn retries(mut self, retries: u32, ack_timeout: Duration) -> Self {
        self.config.retries = Some(retries);
        self.config.ack_timeout = ack_timeout;
        self
    }

    /// Computes the main namespace's auth for the first connection and again before every
    /// reconnection attempt (a fresh token, for example).
    pub fn auth_with<T: Serialize>(mut self, auth: impl Fn() -> T + Send + Sync + 'static) -> Self {
        self.auth_provider = Some(Arc::new(move || Payload::from_serialize(&auth()).ok()));
        self
    }

    /// Opens the connection and returns the main namespace's socket, not yet connected:
    /// register its handlers, then [`ClientSocket::connect`]. Must run inside the runtime.
    pub fn build(self) -> ClientSocket {
        let handlers =
            Arc::new(Mutex::new(Handlers { ack_timeout: self.ack_timeout, ..Handlers::default() }));
        let limits = io::Limits {
            max_message: self.config.engine.max_message,
            write_timeout: self.config.timeout,
            connect_timeout: self.config.timeout,
        };
        let authority = self.config.engine.authority.clone();
        let tls = self.config.engine.secure.then(|| {
            let host = authority.rsplit_once(':').map_or(authority.as_str(), |(host, _)| host);
            let name = crate::tls::server_name(host).map_err(|e| e.to_string())?;
            let config = crate::tls::client_config(&self.extra_roots).map_err(|e| e.to_string())?;
            Ok((config, name))
        });
        let (config, namespace, auth, auth_provider, headers) =
            (self.config, self.namespace.clone(), self.auth, self.auth_provider, self.headers);
        let task_handlers = handlers.clone();
        let launch: link::Launch = Box::new(move |link, auths| {
            let (commands, inbox) = mpsc::unbounded();
            let (io_events, io_inbox) = mpsc::unbounded();
            let mut manager = Manager::new(Instant::now(), config.clone(), Box::new(crate::ids::random_unit));
            // Set, not carried by the handle: an auth set later stays for its next CONNECT.
            // With a provider, the auth is asked for each CONNECT (see `Command::Open`).
            if auth_provider.is_none() {
                manager.set_auth(&namespace, auth.clone());
            }
            for (namespace, auth) in auths {
                manager.set_auth(namespace, auth.clone());
            }
            let task = Task {
                manager,
                handlers: task_handlers.clone(),
                commands: commands.clone(),
                link: link.clone(),
                auth_provider: auth_provider.clone(),
                auth_namespace: namespace.clone(),
                attempts: 0,
            };
            let io = Io::new(io_events, headers.clone(), authority.clone(), limits, tls.clone());
            R::spawn(task.run::<R>(inbox, io, io_inbox));
            commands
        });
        ClientSocket {
            namespace: self.namespace,
            auth: None,
            link: link::Link::start(launch),
            handlers,
            timeout: None,
            volatile: false,
        }
    }

    /// [`ClientBuilder::build`] then [`ClientSocket::connect`]: for when no handler must see
    /// the very first events (they may arrive before handlers registered afterwards).
    pub fn connect(self) -> ClientSocket {
        let socket = self.build();
        socket.connect();
        socket
    }
}

/// A client socket: one namespace over the client's shared connection. Cheap to clone.
#[derive(Clone)]
pub struct ClientSocket {
    namespace: Namespace,
    auth: Option<Payload>,
    link: Arc<link::Link>,
    handlers: Arc<Mutex<Handlers>>,
    timeout: Option<Duration>,
    volatile: bool,
}

impl ClientSocket {
    fn handlers(&self) -> MutexGuard<'_, Handlers> {
        self.handlers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket_handlers<R>(&self, f: impl FnOnce(&mut SocketHandlers) -> R) -> R {
        f(self.handlers().sockets.entry(self.namespace.clone()).or_default())
    }

    fn command(&self, command: Command) -> Result<(), EmitError> {
        self.link.send(command)
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Joins the namespace (again after [`ClientSocket::disconnect`]); emits made before it
    /// is connected are sent when it is. Reconnections rejoin by themselves. On a client
    /// closed for good ([`ClientSocket::close`], or reconnection gave up) it opens a new
    /// connection, the handlers in place, as the reference's `socket.connect()` does; that
    /// call must then run inside the runtime (elsewhere it is refused and logged).
    pub fn connect(&self) {
        let _ = self.command(Command::Open(self.namespace.clone(), self.auth.clone()));
    }

    /// The socket of another namespace (`"/admin"`, or `"admin"`) over the same
    /// connection, not yet connected: register its handlers, then
    /// [`ClientSocket::connect`].
    pub fn socket(&self, namespace: &str) -> Result<ClientSocket, Error> {
        let name = if namespace.starts_with('/') { namespace.to_owned() } else { format!("/{namespace}") };
        let namespace = Namespace::new(name)?;
        Ok(ClientSocket { namespace, auth: None, timeout: None, volatile: false, ..self.clone() })
    }

    /// The same socket sending `auth` with its CONNECT (for a socket of
    /// [`ClientSocket::socket`], before connecting it).
    pub fn with_auth<T: Serialize + ?Sized>(self, auth: &T) -> Result<ClientSocket, Error> {
        Ok(ClientSocket { auth: Some(Payload::from_serialize(auth)?), ..self })
    }

    /// Handles event `event` from the server: `handler` gets this socket and the
    /// [`Message`], and may return `()` or a `Result` (an error is logged). Handlers
    /// start in the order events arrived; one that awaits does not hold up the next.
    /// Several handlers of one name all run, in the order they were added, as the
    /// reference's listeners; the first ack any of them sends is the answer.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: FnOnce(ClientSocket, Message) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let handler: EventHandler<ClientSocket> = Arc::new(move |socket, message| {
            contained("event", {
                let handler = handler.clone();
                move || handler(socket, message)
            })
        });
        self.socket_handlers(|h| h.events.add(event, handler));
    }

    /// Removes every handler of `event` (`removeAllListeners(event)`).
    pub fn off(&self, event: &str) {
        self.socket_handlers(|h| h.events.remove(event));
    }

    /// Sees every event before its handler (`onAny`).
    pub fn on_any(&self, hook: impl Fn(&ClientSocket, &Message) + Send + Sync + 'static) {
        self.socket_handlers(|h| h.any.push(Arc::new(hook)));
    }

    /// Runs on every (re)connection, with the socket id.
    pub fn on_connect(&self, handler: impl Fn(&ClientSocket, &str) + Send + Sync + 'static) {
        self.socket_handlers(|h| h.connect.push(Arc::new(handler)));
    }

    /// Runs on every disconnection, with the reason.
    pub fn on_disconnect(&self, handler: impl Fn(&ClientSocket, &DisconnectReason) + Send + Sync + 'static) {
        self.socket_handlers(|h| h.disconnect.push(Arc::new(handler)));
    }

    /// Runs when the socket could not join its namespace: the server refused it
    /// ([`ConnectFailure::message`] and [`ConnectFailure::data`]), or the connection failed
    /// first (every failed attempt, as the reference's `connect_error`).
    pub fn on_connect_error(&self, handler: impl Fn(&ClientSocket, &ConnectFailure) + Send + Sync + 'static) {
        self.socket_handlers(|h| h.connect_error.push(Arc::new(handler)));
    }

    /// Runs when a reconnection attempt starts, with its number.
    pub fn on_reconnect_attempt(&self, handler: impl Fn(u32) + Send + Sync + 'static) {
        self.handlers().reconnect_attempt.push(Arc::new(handler));
    }

    /// Runs when a reconnection succeeded, with the number of attempts it took.
    pub fn on_reconnect(&self, handler: impl Fn(u32) + Send + Sync + 'static) {
        self.handlers().reconnect.push(Arc::new(handler));
    }

    /// Runs when a reconnection attempt failed, with why (`reconnect_error`).
    pub fn on_reconnect_error(&self, handler: impl Fn(&str) + Send + Sync + 'static) {
        self.handlers().reconnect_error.push(Arc::new(handler));
    }

    /// Runs when the attempts are exhausted.
    pub fn on_reconnect_failed(&self, handler: impl Fn(u32) + Send + Sync + 'static) {
        self.handlers().reconnect_failed.push(Arc::new(handler));
    }

    /// The auth sent on the next CONNECT (after a reconnection).
    pub fn set_auth<T: Serialize + ?Sized>(&self, auth: &T) -> Result<(), Error> {
        Ok(self.command(Command::SetAuth(self.namespace.clone(), Some(Payload::from_serialize(auth)?)))?)
    }

    /// Emits `event`; `args` follow the [arguments rule](socketio_proto::args): one value
    /// is one argument, a tuple several, `()` none. Buffered while disconnected, unless
    /// [volatile](ClientSocket::volatile).
    pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        Ok(self.command(Command::Emit(self.namespace.clone(), payload, self.volatile))?)
    }

    /// This socket, dropping its emits while disconnected instead of buffering them.
    pub fn volatile(&self) -> ClientSocket {
        ClientSocket { volatile: true, ..self.clone() }
    }

    /// This socket with a deadline for [`ClientSocket::emit_with_ack`].
    pub fn timeout(&self, timeout: Duration) -> ClientSocket {
        ClientSocket { timeout: Some(timeout), ..self.clone() }
    }

    /// Emits and waits for the server's ack, read as `T`; fails after the
    /// [timeout](ClientSocket::timeout), if one is set, and when the connection it went out
    /// on is lost before the answer came (an emit made while disconnected waits for the
    /// next connection).
    pub fn emit_with_ack<T: DeserializeOwned>(
        &self,
        event: &str,
        args: &(impl Args + ?Sized),
    ) -> AckFuture<T> {
        let payload = match args.event_payload(event) {
            Ok(payload) => payload,
            Err(error) => return AckFuture::failed(error),
        };
        let (waiter, answer) = oneshot::channel();
        let timeout = self.timeout.or_else(|| self.handlers().ack_timeout);
        match self.command(Command::EmitWithAck(self.namespace.clone(), payload, timeout, waiter)) {
            Ok(()) => {
                let commands = self.link.sender();
                AckFuture::waiting(
                    answer,
                    Forget::with(move || drop(commands.unbounded_send(Command::ForgetDropped))),
                )
            }
            Err(error) => AckFuture::failed(error),
        }
    }

    /// How many acks the client waits for, across its sockets: a gauge for metrics and leak
    /// tests. Answered, failed and dropped ([`AckFuture`]) waits leave it. 0 once the
    /// client is closed.
    pub async fn awaited_acks(&self) -> usize {
        let (count, answer) = oneshot::channel();
        match self.command(Command::CountAcks(count)) {
            Ok(()) => answer.await.unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// Whether the server restored this socket on its last connection (connection state
    /// recovery): the same id, rooms and data as before the disconnection, and the events
    /// missed meanwhile delivered first. The server's offsets (the last argument of its
    /// events with recovery on) are kept for the next connection and not handed to the
    /// handlers, which see exactly what the server emitted.
    ///
    /// A Node server does not stamp volatile events; against one, a volatile event whose
    /// last argument is a string loses that argument while the socket has a session.
    pub fn recovered(&self) -> bool {
        self.handlers().sockets.get(&self.namespace).is_some_and(|h| h.recovered)
    }

    /// The id the server gave this socket (`socket.id`), while it is connected.
    pub fn id(&self) -> Option<String> {
        self.handlers().sockets.get(&self.namespace).and_then(|h| h.id.clone())
    }

    /// Whether it is connected (`socket.connected`).
    pub fn connected(&self) -> bool {
        self.id().is_some()
    }

    /// Leaves this namespace. The connection stays while other sockets use it; the last
    /// to leave closes it, as in the reference ([`ClientSocket::connect`] opens a new one).
    pub fn disconnect(&self) {
        let _ = self.command(Command::Close(self.namespace.clone()));
    }

    /// Closes the whole connection; no reconnection follows. Until a socket connects again
    /// ([`ClientSocket::connect`]), emits fail with [`EmitError::Disconnected`].
    pub fn close(&self) {
        let _ = self.command(Command::CloseAll);
    }
}

/// The task that owns the manager.
struct Task {
    manager: Manager,
    handlers: Arc<Mutex<Handlers>>,
    /// Its own channel, for acks its handlers send.
    commands: mpsc::UnboundedSender<Command>,
    /// What the handles it gives handlers share.
    link: Arc<link::Link>,
    auth_provider: Option<AuthProvider>,
    /// The namespace `auth_provider` computes the auth of (the URL's).
    auth_namespace: Namespace,
    /// The attempt count of the reconnection under way.
    attempts: u32,
}

impl Task {
    async fn run<R: Runtime>(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Command>,
        io: Io<R>,
        mut io_inbox: mpsc::UnboundedReceiver<IoEvent>,
    ) {
        let mut routes = WsRoutes::default();
        let mut waiters: HashMap<(Namespace, u64), oneshot::Sender<Result<Payload, AckError>>> =
            HashMap::new();
        let mut running = Running::new();
        let mut started = Vec::new();
        loop {
            while let Some(output) = self.manager.poll_output() {
                match output {
                    proto::Output::Io(output) => self.io(&io, output, &mut routes),
                    proto::Output::Event(event) => started.extend(self.dispatch(event, &mut waiters)),
                }
            }
            for handler in started.drain(..) {
                start(&mut running, handler).await;
            }
            if self.manager.is_closed() && routes.none_open() {
                // Closed for good: later commands fail, as the handles' channel is gone, but
                // a socket that connects again starts a new task (`link::Link::send`). Those
                // that came meanwhile go the same way, in order.
                waiters.drain().for_each(|(_, w)| drop(w.send(Err(AckError::Disconnected))));
                inbox.close();
                while let Ok(command) = inbox.try_recv() {
                    let _ = self.link.send(command);
                }
                return;
            }
            let mut sleep = pin!(sleep_until::<R>(self.manager.poll_timeout()).fuse());
            select_biased! {
                command = inbox.next() => match command {
                    Some(command) => self.apply(command, &mut waiters),
                    None => self.manager.close(),
                },
                event = io_inbox.select_next_some() => {
                    let now = Instant::now();
                    match event {
                        IoEvent::Response(id, result) => self.manager.handle_response(now, id, result),
                        IoEvent::WsOpen(id, commands) => {
                            routes.opened(id, commands);
                            self.manager.handle_ws_open(now, id);
                        }
                        IoEvent::Ws(id, WsEvent::Frame(frame)) => self.manager.handle_ws_frame(now, id, frame),
                        IoEvent::Ws(id, WsEvent::TooLarge) => self.manager.handle_ws_too_large(now, id),
                        IoEvent::Ws(id, WsEvent::Drained) => self.manager.handle_ws_drained(now, id),
                        IoEvent::Ws(id, WsEvent::Closed) => {
                            routes.closed(id);
                            self.manager.handle_ws_closed(now, id);
                        }
                    }
                }
                () = sleep => self.manager.handle_timeout(Instant::now()),
                () = running.select_next_some() => {}
            }
        }
    }

    fn io<R: Runtime>(&self, io: &Io<R>, output: engine::Output, routes: &mut WsRoutes) {
        match output {
            engine::Output::Http { id, method, target, body, max_body, timeout } => {
                io.request(id, method, target, body, max_body, timeout)
            }
            engine::Output::WsConnect { id, url } => {
                routes.opening(id);
                io.websocket(id, url);
            }
            engine::Output::WsSend { id, frames } => routes.send(id, WsCommand::Send(frames)),
            engine::Output::WsClose { id } => routes.send(id, WsCommand::Close(None)),
            engine::Output::Event(_) => {}
        }
    }

    fn apply(
        &mut self,
        command: Command,
        waiters: &mut HashMap<(Namespace, u64), oneshot::Sender<Result<Payload, AckError>>>,
    ) {
        match command {
            Command::Open(namespace, auth) => {
                // As the reference calls its auth function for every CONNECT.
                let provided = match (namespace == self.auth_namespace, &self.auth_provider) {
                    (true, Some(provide)) => guarded("auth_with", || provide()).flatten(),
                    _ => None,
                };
                match provided {
                    Some(auth) => {
                        self.manager.set_auth(&namespace, Some(auth.clone()));
                        self.manager.open_socket(Instant::now(), namespace, Some(auth));
                    }
                    None => self.manager.open_socket(Instant::now(), namespace, auth),
                }
            }
            Command::SetAuth(namespace, auth) => self.manager.set_auth(&namespace, auth),
            Command::Close(namespace) => self.manager.close_socket(&namespace),
            Command::CloseAll => self.manager.close(),
            Command::Emit(namespace, payload, false) => self.manager.emit(&namespace, payload),
            Command::Emit(namespace, payload, true) => self.manager.emit_volatile(&namespace, payload),
            Command::ForgetDropped => {
                let dropped: Vec<(Namespace, u64)> = waiters
                    .iter()
                    .filter(|(_, waiter)| waiter.is_canceled())
                    .map(|(key, _)| key.clone())
                    .collect();
                for (namespace, id) in dropped {
                    waiters.remove(&(namespace.clone(), id));
                    self.manager.forget_ack(&namespace, id);
                }
            }
            Command::EmitWithAck(namespace, payload, timeout, waiter) => {
                match self.manager.emit_with_ack(Instant::now(), &namespace, payload, timeout) {
                    Some(id) => {
                        waiters.insert((namespace, id), waiter);
                    }
                    None => drop(waiter.send(Err(AckError::Disconnected))),
                }
            }
            Command::Ack(namespace, id, args) => self.manager.ack(&namespace, id, args),
            Command::CountAcks(count) => {
                let _ = count.send(waiters.len().max(self.manager.awaited_acks()));
            }
        }
    }

    fn socket(&self, namespace: Namespace) -> ClientSocket {
        ClientSocket {
            namespace,
            auth: None,
            link: self.link.clone(),
            handlers: self.handlers.clone(),
            timeout: None,
            volatile: false,
        }
    }

    /// Runs the hooks of `event`; returns the event handlers it started.
    fn dispatch(
        &mut self,
        event: proto::Event,
        waiters: &mut HashMap<(Namespace, u64), oneshot::Sender<Result<Payload, AckError>>>,
    ) -> Vec<BoxFuture> {
        let handlers = self.handlers.clone();
        let lock = || handlers.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            proto::Event::Connect { namespace, sid, recovered } => {
                tracing::debug!(%namespace, %sid, recovered, "client socket connected");
                let list = {
                    let mut handlers = lock();
                    let socket = handlers.sockets.entry(namespace.clone()).or_default();
                    socket.recovered = recovered;
                    socket.id = Some(sid.clone());
                    socket.connect.clone()
                };
                let socket = self.socket(namespace);
                list.iter().for_each(|f| {
                    guarded("on_connect", || f(&socket, &sid));
                });
            }
            proto::Event::ConnectError { namespace, error } => {
                tracing::debug!(%namespace, %error, "client socket could not connect");
                let list =
                    lock().sockets.get(&namespace).map(|h| h.connect_error.clone()).unwrap_or_default();
                let socket = self.socket(namespace);
                list.iter().for_each(|f| {
                    guarded("on_connect_error", || f(&socket, &error));
                });
            }
            proto::Event::Disconnect { namespace, reason } => {
                tracing::debug!(%namespace, %reason, "client socket disconnected");
                let list = {
                    let mut handlers = lock();
                    let socket = handlers.sockets.entry(namespace.clone()).or_default();
                    socket.id = None;
                    socket.disconnect.clone()
                };
                let socket = self.socket(namespace);
                list.iter().for_each(|f| {
                    guarded("on_disconnect", || f(&socket, &reason));
                });
            }
            proto::Event::Message { namespace, payload, ack } => {
                let (any, listeners) = {
                    let guard = lock();
                    let socket = guard.sockets.get(&namespace);
                    let name = payload.event_name();
                    (
                        socket.map(|h| h.any.clone()).unwrap_or_default(),
                        socket.and_then(|h| name.and_then(|n| h.events.of(&n))),
                    )
                };
                let socket = self.socket(namespace);
                let responder = ack.map(|id| {
                    let (commands, namespace) = (self.commands.clone(), socket.namespace.clone());
                    Box::new(move |args| {
                        commands
                            .unbounded_send(Command::Ack(namespace, id, args))
                            .map_err(|_| EmitError::Disconnected)
                    }) as crate::message::Responder
                });
                let message = Message::new(payload, responder);
                for hook in any {
                    guarded("on_any", || hook(&socket, &message));
                }
                if let Some(listeners) = listeners {
                    return start_each(&listeners, &socket, message);
                }
            }
            proto::Event::Ack { namespace, id, payload } => {
                if let Some(waiter) = waiters.remove(&(namespace, id)) {
                    let _ = waiter.send(Ok(payload));
                }
            }
            proto::Event::AckFailed { namespace, id, reason } => {
                if let Some(waiter) = waiters.remove(&(namespace, id)) {
                    let _ = waiter.send(Err(reason));
                }
            }
            proto::Event::ReconnectAttempt(n) => {
                tracing::debug!(attempt = n, "reconnecting");
                self.attempts = n;
                // One that panics leaves the last auth in place.
                if let Some(auth) =
                    self.auth_provider.as_ref().and_then(|provide| guarded("auth_with", || provide()))
                {
                    self.manager.set_auth(&self.auth_namespace, auth);
                }
                lock().reconnect_attempt.clone().iter().for_each(|f| {
                    guarded("on_reconnect_attempt", || f(n));
                });
            }
            proto::Event::Reconnect(n) => {
                lock().reconnect.clone().iter().for_each(|f| {
                    guarded("on_reconnect", || f(n));
                });
            }
            proto::Event::ReconnectError(reason) => {
                tracing::debug!(%reason, "reconnection attempt failed");
                let reason = reason.to_string();
                lock().reconnect_error.clone().iter().for_each(|f| {
                    guarded("on_reconnect_error", || f(&reason));
                });
            }
            proto::Event::ReconnectFailed => {
                waiters.drain().for_each(|(_, w)| drop(w.send(Err(AckError::Disconnected))));
                let attempts = self.attempts;
                lock().reconnect_failed.clone().iter().for_each(|f| {
                    guarded("on_reconnect_failed", || f(attempts));
                });
            }
        }
        Vec::new()
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until<R: Runtime>(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => R::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
