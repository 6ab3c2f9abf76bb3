//! The Engine.IO server on tokio: hyper for HTTP, async-tungstenite for WebSocket, tokio
//! timers, all around [`engineio_proto::server::Server`].

mod http;
mod timer;
mod ws;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::server::{
    ConnId, Cors, Event, Handshake, Output, PollId, Response, SendError, Server, ServerConfig, Sid,
    TransportKind,
};
use engineio_proto::{Frame, Packet};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};

pub use self::http::RemoteAddr;
use ws::WsCommand;

/// Decides whether a handshake may open a session: `Err(message)` refuses it with HTTP 403
/// (`message` replaces the default "Forbidden").
pub type AllowRequest = Arc<dyn Fn(&Handshake) -> Result<(), Option<String>> + Send + Sync>;

/// A running Engine.IO server. Cheap to clone; every clone drives the same sessions.
///
/// Serve it with [`EngineIo::listen`], or mount it as a `tower::Service` in a hyper or axum
/// application (it answers only requests under its path, default `/engine.io/`).
///
/// ```no_run
/// use engineio_proto::server::Event;
/// use socketio_tokio::engine::EngineIo;
///
/// # async fn run() -> std::io::Result<()> {
/// let (engine, mut events) = EngineIo::builder().build();
/// tokio::spawn(engine.clone().listen("127.0.0.1:3000"));
/// while let Some(event) = events.next().await {
///     if let Event::Message { sid, data } = event {
///         let _ = engine.send(sid, &engineio_proto::Packet { kind: engineio_proto::PacketType::Message, data });
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EngineIo {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    timer: Arc<Notify>,
    path: String,
    allow_request: Option<AllowRequest>,
    max_payload: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets the timer task see that the engine is gone.
        self.timer.notify_one();
    }
}

/// Everything behind the lock: the state machine and where its outputs go.
struct State {
    server: Server,
    polls: HashMap<PollId, oneshot::Sender<Response>>,
    conns: HashMap<ConnId, mpsc::UnboundedSender<WsCommand>>,
    events: mpsc::UnboundedSender<Event>,
    /// The deadline the timer task sleeps until.
    timer_armed: Option<Instant>,
}

impl State {
    /// Routes every pending output: responses to their waiting requests, frames to their
    /// connection tasks, events to the application, in order.
    fn drive(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::Respond { poll, response } => {
                    if let Some(waiter) = self.polls.remove(&poll) {
                        let _ = waiter.send(response);
                    }
                }
                Output::WsSend { conn, frames } => {
                    if let Some(socket) = self.conns.get(&conn) {
                        let _ = socket.send(WsCommand::Send(frames));
                    }
                }
                Output::WsClose { conn, code } => {
                    if let Some(socket) = self.conns.get(&conn) {
                        let _ = socket.send(WsCommand::Close(code));
                    }
                }
                Output::Event(event) => {
                    trace_event(&event);
                    let _ = self.events.send(event);
                }
            }
        }
    }
}

fn trace_event(event: &Event) {
    match event {
        Event::Opened { sid, handshake } => {
            let transport = handshake.transport.name();
            tracing::debug!(%sid, transport, remote = ?handshake.remote, "engine session opened");
        }
        Event::Upgraded { sid } => tracing::debug!(%sid, "engine session upgraded to websocket"),
        Event::Closed { sid, reason } => tracing::debug!(%sid, %reason, "engine session closed"),
        Event::Message { .. } => {}
    }
}

/// The application's side of the engine: session events, in order.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once every [`EngineIo`] handle is gone.
    pub async fn next(&mut self) -> Option<Event> {
        self.receiver.recv().await
    }
}

impl EngineIo {
    /// Starts configuring a server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Sends a packet to a session.
    pub fn send(&self, sid: Sid, packet: &Packet) -> Result<(), SendError> {
        self.send_frame(sid, packet.to_frame())
    }

    /// Sends an encoded packet; the same frame may go to many sessions without copying.
    pub fn send_frame(&self, sid: Sid, frame: Frame) -> Result<(), SendError> {
        self.with_state(|state| state.server.send_frame(sid, frame))
    }

    /// Closes a session after flushing what it has buffered.
    pub fn close(&self, sid: Sid) {
        self.with_state(|state| state.server.close(Instant::now(), sid));
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.with_state(|state| state.server.session_count())
    }

    /// The transport a session uses now.
    pub fn transport(&self, sid: Sid) -> Option<TransportKind> {
        self.with_state(|state| state.server.transport(sid))
    }

    /// The path this server answers under, for example `/engine.io/`.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Binds `addr` and serves until an accept error.
    pub async fn listen(self, addr: impl tokio::net::ToSocketAddrs) -> io::Result<()> {
        self.serve(TcpListener::bind(addr).await?).await
    }

    /// Serves connections from `listener`; other paths get 404.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        crate::serve::serve(listener, self).await
    }

    /// Runs `f` on the state under the lock, then routes the outputs and re-arms the timer.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut state);
        state.drive();
        let next = state.server.poll_timeout();
        if next.is_some() && (state.timer_armed.is_none() || next < state.timer_armed) {
            state.timer_armed = next;
            self.inner.timer.notify_one();
        }
        result
    }
}

/// Settings of an [`EngineIo`] server. The defaults are the reference server's.
#[derive(Default)]
pub struct Builder {
    config: ServerConfig,
    path: Option<String>,
    allow_request: Option<AllowRequest>,
}

impl Builder {
    /// How often sessions are pinged (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// How long to wait for a pong (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.ping_timeout = timeout;
        self
    }

    /// How long a WebSocket may take to complete an upgrade (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config.upgrade_timeout = timeout;
        self
    }

    /// Largest accepted message or polling body, in bytes (default 1 000 000).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// Most bytes buffered for a client that does not read (default 4 000 000).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.config.max_buffered_bytes = bytes;
        self
    }

    /// Which transports clients may use (both by default).
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.config.polling = polling;
        self.config.websocket = websocket;
        self
    }

    /// Cross-origin policy (none by default).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.cors = Some(cors);
        self
    }

    /// The path to answer under (default `/engine.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// A check every handshake must pass; see [`AllowRequest`].
    pub fn allow_request(
        mut self,
        check: impl Fn(&Handshake) -> Result<(), Option<String>> + Send + Sync + 'static,
    ) -> Self {
        self.allow_request = Some(Arc::new(check));
        self
    }

    /// Every setting at once.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Creates the server and the stream of its events. Must run inside a tokio runtime
    /// (it starts the timer task).
    pub fn build(self) -> (EngineIo, Events) {
        let (events, receiver) = mpsc::unbounded_channel();
        let max_payload = self.config.max_payload;
        let state = State {
            server: Server::new(self.config, Box::new(random_u128)),
            polls: HashMap::new(),
            conns: HashMap::new(),
            events,
            timer_armed: None,
        };
        let path = normalize_path(self.path.as_deref().unwrap_or("/engine.io"));
        let timer = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            timer: timer.clone(),
            path,
            allow_request: self.allow_request,
            max_payload,
        });
        tokio::spawn(timer::run(Arc::downgrade(&inner), timer));
        (EngineIo { inner }, Events { receiver })
    }
}

/// `/socket.io` and `/socket.io/` both become `/socket.io/`, as in the reference.
fn normalize_path(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

/// 128 bits from the operating system's CSPRNG.
fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    u128::from_ne_bytes(bytes)
}

/// The remote address, for handshakes (see [`RemoteAddr`]).
fn remote_of<B>(request: &::http::Request<B>) -> Option<SocketAddr> {
    request.extensions().get::<RemoteAddr>().map(|r| r.0)
}
