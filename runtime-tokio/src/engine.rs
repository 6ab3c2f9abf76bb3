//! The Engine.IO server on tokio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engineio_proto::server::{Cors, Event, Handshake, SendError, Server, ServerConfig, Sid, TransportKind};
use engineio_proto::{Frame, Packet};
use tokio::sync::mpsc;

use crate::transport::{self, AllowRequest, Options, Shared, Traced};

/// A running Engine.IO server. Cheap to clone; every clone drives the same sessions.
///
/// Serve it with [`EngineIo::listen`], or mount it as a `tower::Service` in a hyper or axum
/// application (it answers only requests under its path, default `/engine.io/`).
///
/// ```no_run
/// use engineio_proto::server::Event;
/// use engineio_proto::{Packet, PacketType};
/// use socketio_tokio::engine::EngineIo;
///
/// # async fn run() -> std::io::Result<()> {
/// let (engine, mut events) = EngineIo::builder().build();
/// tokio::spawn(engine.clone().listen("127.0.0.1:3000"));
/// while let Some(event) = events.next().await {
///     if let Event::Message { sid, data } = event {
///         let _ = engine.send(sid, &Packet { kind: PacketType::Message, data });
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EngineIo {
    shared: Arc<Shared<Server>>,
}

impl Traced for Event {
    fn trace(&self) {
        match self {
            Event::Opened { sid, handshake } => {
                let transport = handshake.transport.name();
                tracing::debug!(%sid, transport, remote = ?handshake.remote, "engine session opened");
            }
            Event::Upgraded { sid } => tracing::debug!(%sid, "engine session upgraded to websocket"),
            Event::Closed { sid, reason } => tracing::debug!(%sid, %reason, "engine session closed"),
            Event::Message { .. } => {}
        }
    }
}

/// The application's side of the engine: session events, in order.
#[derive(Debug)]
pub struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once the server is gone.
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
        self.shared.with_state(|state| state.endpoint.send_frame(sid, frame))
    }

    /// Closes a session after flushing what it has buffered.
    pub fn close(&self, sid: Sid) {
        self.shared.with_state(|state| state.endpoint.close(Instant::now(), sid));
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.shared.with_state(|state| state.endpoint.session_count())
    }

    /// The transport a session uses now.
    pub fn transport(&self, sid: Sid) -> Option<TransportKind> {
        self.shared.with_state(|state| state.endpoint.transport(sid))
    }
}

transport::http_entry_points!(EngineIo);

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

    /// Every engine setting at once.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Creates the server and the stream of its events. Must run inside a tokio runtime
    /// (it starts the timer task).
    pub fn build(self) -> (EngineIo, Events) {
        let options = Options {
            path: self.path.unwrap_or_else(|| "/engine.io/".into()),
            allow_request: self.allow_request,
            max_payload: self.config.max_payload,
            client_script: None,
        };
        let server = Server::new(self.config, Box::new(transport::random_u128));
        let (shared, receiver) = Shared::start(server, options);
        (EngineIo { shared }, Events { receiver })
    }
}
