//! The Engine.IO server.

use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::time::Instant;

use engineio_proto::server::{Event, SendError, Server, ServerConfig, Sid, TransportKind};
use engineio_proto::{Frame, Packet};
use futures_channel::mpsc;
use futures_util::StreamExt;

use crate::Runtime;
use crate::transport::{self, AllowRequest, AppEvent, HttpLimits, Options, Shared};

/// A running Engine.IO server. Cheap to clone; every clone drives the same sessions.
///
/// Serve it with [`EngineIo::listen`], or mount it as a `tower::Service` in a hyper or axum
/// application (it answers only requests under its path, default `/engine.io/`).
///
/// ```no_run
/// use engineio_proto::server::Event;
/// use engineio_proto::{Packet, PacketType};
/// use socketio_runtime::{Runtime, engine::EngineIo};
///
/// # async fn run<R: Runtime>() -> std::io::Result<()> {
/// let (engine, mut events) = EngineIo::<R>::builder().build();
/// R::spawn({
///     let engine = engine.clone();
///     async move { drop(engine.listen("127.0.0.1:3000").await) }
/// });
/// while let Some(event) = events.next().await {
///     if let Event::Message { sid, data } = event {
///         let _ = engine.send(sid, &Packet { kind: PacketType::Message, data });
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EngineIo<R> {
    shared: Arc<Shared<Server>>,
    runtime: PhantomData<R>,
}

impl AppEvent for Event {
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

    fn held(&self) -> Option<(Sid, usize)> {
        match self {
            Event::Message { sid, data } => Some((*sid, Server::message_hold(data))),
            _ => None,
        }
    }
}

/// The application's side of the engine: session events, in order. A session whose
/// messages wait here past `max_unhandled_bytes` is not read until they are taken.
pub struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
    shared: Weak<Shared<Server>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// The next event; `None` once the server is gone.
    pub async fn next(&mut self) -> Option<Event> {
        let event = self.receiver.next().await?;
        if let (Event::Message { sid, data }, Some(shared)) = (&event, self.shared.upgrade()) {
            shared.with_state(|state| state.endpoint.release(*sid, Server::message_hold(data)));
        }
        Some(event)
    }
}

impl<R: Runtime> EngineIo<R> {
    /// How many bytes of session `sid`'s messages wait in [`Events`] (each counted as its
    /// size plus 256): a gauge for metrics and tests of `max_unhandled_bytes`.
    pub fn unhandled_bytes(&self, sid: Sid) -> usize {
        self.shared.with_state(|state| state.endpoint.held(sid))
    }

    /// What [`close`](Self::close) waits for once the sessions are gone: nothing here.
    fn flush_before_close(&self) -> std::future::Ready<()> {
        std::future::ready(())
    }

    /// Starts configuring a server.
    pub fn builder() -> Builder<R> {
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
    pub fn close_session(&self, sid: Sid) {
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

/// Settings of an [`EngineIo`] server. The defaults are the reference server's; the path is
/// `/engine.io/`.
pub struct Builder<R> {
    engine: ServerConfig,
    limits: HttpLimits,
    tls: Option<crate::ServerTls>,
    path: String,
    allow_request: Option<AllowRequest>,
    runtime: PhantomData<R>,
}

impl<R> Default for Builder<R> {
    fn default() -> Self {
        Builder {
            engine: ServerConfig::default(),
            limits: HttpLimits::default(),
            tls: None,
            path: "/engine.io/".into(),
            allow_request: None,
            runtime: PhantomData,
        }
    }
}

impl<R: Runtime> Builder<R> {
    transport::engine_builder_methods!();

    /// Creates the server and the stream of its events. Must run inside the runtime (it
    /// starts the timer task).
    pub fn build(self) -> (EngineIo<R>, Events) {
        let options = Options {
            path: self.path,
            allow_request: self.allow_request,
            max_payload: self.engine.max_payload,
            limits: self.limits.resolved(&self.engine),
            tls: self.tls,
            client_script: None,
        };
        let server = Server::new(self.engine, Box::new(crate::ids::random_u128));
        let (shared, receiver) = Shared::start::<R>(server, options);
        let events = Events { receiver, shared: Arc::downgrade(&shared) };
        (EngineIo { shared, runtime: PhantomData }, events)
    }
}
