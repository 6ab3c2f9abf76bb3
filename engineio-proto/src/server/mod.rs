//! The Engine.IO server as a state machine: requests, WebSocket frames and time go in;
//! responses, frames to send, deadlines and application events come out.
//!
//! # Driving it
//!
//! Every input takes `now`; after any input, drain [`Server::poll_output`] until `None`,
//! then sleep until [`Server::poll_timeout`] (or the next input) and call
//! [`Server::handle_timeout`].
//!
//! - An HTTP request on the engine path: [`Server::handle_request`]. Its [`Handled`] says
//!   what to do: answer now, wait for a long-poll answer ([`Output::Respond`]), read the
//!   body then call [`Server::handle_body`], let the application decide on a handshake
//!   ([`Server::accept`] / [`Server::refuse`]), or complete a WebSocket handshake and call
//!   [`Server::ws_opened`].
//! - WebSocket traffic: [`Server::handle_ws_frame`], [`Server::handle_ws_drained`] after
//!   each [`Output::WsSend`] batch is written, [`Server::handle_ws_closed`].
//! - The application: [`Server::send`], [`Server::send_frame`], [`Server::close`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use engineio_proto::server::{Event, Handled, Output, Server, ServerConfig};
//!
//! let mut server = Server::new(ServerConfig::default(), Box::new(|| 42));
//! let now = Instant::now();
//! let (parts, ()) = http::Request::get("/engine.io/?EIO=4&transport=polling")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let Handled::Incoming(incoming) = server.handle_request(now, &parts, None) else { panic!() };
//! let Handled::Respond(response) = server.accept(now, incoming) else { panic!() };
//! assert!(response.body().starts_with(b"0{\"sid\":"));
//! assert!(matches!(server.poll_output(), Some(Output::Event(Event::Opened { .. }))));
//! assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(25)));
//! ```

mod config;
mod heartbeat;
mod request;
mod response;
mod session;
mod sid;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri, header};

pub use config::{Cors, ServerConfig};
pub use request::{ErrorCode, TransportKind};
pub use response::Response;
pub use sid::Sid;

use crate::{Data, Frame, IdMap, Packet};
use request::EngineQuery;
use session::{PollAnswer, Session};

/// Where session ids come from: 128 bits per call. Use a CSPRNG in production.
pub type SidSource = Box<dyn FnMut() -> u128 + Send>;

/// A long-poll GET waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PollId(u64);

/// A WebSocket connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

/// Put in a request's extensions by an adapter that received it over TLS: the session it
/// opens says so ([`Handshake::secure`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Encrypted;

/// The request that opened a session, for the application to inspect.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Path and query.
    pub uri: Uri,
    /// Request headers.
    pub headers: HeaderMap,
    /// The peer's address, when the adapter knows it.
    pub remote: Option<SocketAddr>,
    /// The transport of the first request.
    pub transport: TransportKind,
    /// When the request arrived.
    pub at: Instant,
    /// Whether it came over TLS (the adapter put [`Encrypted`] in its extensions).
    pub secure: bool,
}

impl Handshake {
    /// The value of query parameter `key`, percent-decoded (`+` is a space), as Node's
    /// `socket.handshake.query[key]`.
    ///
    /// ```
    /// # use engineio_proto::server::{Handshake, TransportKind};
    /// # let handshake = Handshake {
    /// #     uri: "/engine.io/?EIO=4&name=Zo%C3%AB+B".parse().unwrap(),
    /// #     headers: Default::default(), remote: None,
    /// #     transport: TransportKind::Polling, at: std::time::Instant::now(), secure: false,
    /// # };
    /// assert_eq!(handshake.query("name").as_deref(), Some("Zoë B"));
    /// ```
    pub fn query(&self, key: &str) -> Option<String> {
        crate::percent::query_value(self.uri.query()?, key)
    }

    /// Every query parameter, decoded as [`Handshake::query`] decodes them, in order (a
    /// repeated name once per occurrence).
    pub fn query_pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        crate::percent::query_pairs(self.uri.query().unwrap_or_default())
    }
}

/// A copy of `uri` that owns its bytes. An HTTP server's parsed request points into its
/// read buffer (hyper's is 8 KiB or more); a session keeps its handshake for its whole life,
/// and must not keep that buffer with it.
fn detached_uri(uri: &Uri) -> Uri {
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

/// A copy of `headers` that owns its bytes (see [`detached_uri`]).
fn detached_headers(headers: &HeaderMap) -> HeaderMap {
    let mut detached = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut copy = http::HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        detached.append(name, copy);
    }
    detached
}

/// What the adapter must do with a request.
#[must_use]
#[derive(Debug)]
pub enum Handled {
    /// Write this response.
    Respond(Response),
    /// A long-poll: its response comes later as [`Output::Respond`]. If the connection
    /// goes away first, call [`Server::handle_poll_aborted`].
    Pending(PollId),
    /// Read the body (at most [`BodyTicket::limit`] bytes) and pass it to [`Server::handle_body`].
    ReadBody(BodyTicket),
    /// A new session: run the application's `allow_request` check, then call
    /// [`Server::accept`] or [`Server::refuse`].
    Incoming(Incoming),
    /// Complete the WebSocket handshake (101), then call [`Server::ws_opened`].
    WebSocket(WsTicket),
}

/// A POST whose body is to be read.
#[must_use]
#[derive(Debug)]
pub struct BodyTicket {
    sid: Sid,
    limit: usize,
    cors: HeaderMap,
}

impl BodyTicket {
    /// The most bytes to read; past it, pass [`BodyError::TooLarge`] without reading on.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Why a POST body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// It is longer than the limit.
    TooLarge,
    /// The connection failed before the body was complete.
    Aborted,
}

/// A handshake waiting for the application's decision.
#[must_use]
#[derive(Debug)]
pub struct Incoming {
    handshake: Handshake,
    cors: HeaderMap,
}

impl Incoming {
    /// The request asking for a session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }
}

/// A WebSocket handshake the server agreed to.
#[must_use]
#[derive(Debug)]
pub struct WsTicket {
    target: WsTarget,
}

#[derive(Debug)]
enum WsTarget {
    New(Box<Handshake>),
    Upgrade(Sid),
}

/// Something for the adapter to do, or for the application to know. `E` is the
/// application event type: [`Event`] here, Socket.IO events one layer up.
#[derive(Debug)]
pub enum Output<E = Event> {
    /// Answer a pending long-poll.
    Respond {
        /// The poll.
        poll: PollId,
        /// Its response.
        response: Response,
    },
    /// Write these frames, in order, then call [`Server::handle_ws_drained`].
    WsSend {
        /// The connection.
        conn: ConnId,
        /// The frames.
        frames: Vec<Frame>,
    },
    /// Close the WebSocket with this close code, after the frames already handed over.
    WsClose {
        /// The connection.
        conn: ConnId,
        /// The close code (1000 normal, 1009 message too big).
        code: u16,
    },
    /// Session `sid` is readable again ([`Server::hold`]), or gone: whoever waits to read
    /// for it goes on.
    Readable {
        /// The session.
        sid: Sid,
    },
    /// An application event.
    Event(E),
}

/// What one message held by the application ([`Server::hold`]) costs besides its own
/// bytes: its queue entry, and a handler's state while it runs.
pub const HOLD_OVERHEAD: usize = 256;

/// The rest of a POST body still to handle ([`Server::handle_body_step`]).
#[derive(Debug)]
pub struct PostBody {
    sid: Sid,
    cors: HeaderMap,
    packets: crate::PayloadDecoder,
}

impl PostBody {
    /// Its session.
    pub fn sid(&self) -> Sid {
        self.sid
    }
}

/// Where a POST body stands.
#[derive(Debug)]
pub enum Posted {
    /// Done: answer with this (`None`: the request failed, there is no one to answer).
    Answer(Option<Response>),
    /// More to handle: [`Server::continue_body`], once its session is readable.
    More(PostBody),
}

impl<E> Output<E> {
    /// The event, or this IO output re-typed for another event type.
    pub fn into_io<F>(self) -> Result<Output<F>, E> {
        match self {
            Output::Respond { poll, response } => Ok(Output::Respond { poll, response }),
            Output::WsSend { conn, frames } => Ok(Output::WsSend { conn, frames }),
            Output::WsClose { conn, code } => Ok(Output::WsClose { conn, code }),
            Output::Readable { sid } => Ok(Output::Readable { sid }),
            Output::Event(event) => Err(event),
        }
    }
}

/// A state machine that a runtime adapter drives: HTTP and WebSocket inputs go to its
/// [`Endpoint::engine`], outputs and time come from the endpoint itself.
///
/// [`Server`] is one; the Socket.IO server, which wraps a [`Server`], is another. One
/// adapter serves both.
pub trait Endpoint {
    /// What the application learns.
    type Event;

    /// The Engine.IO server that takes the transport inputs.
    fn engine(&mut self) -> &mut Server;

    /// The next output.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;

    /// Runs the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// When [`Endpoint::handle_timeout`] should next be called.
    fn poll_timeout(&mut self) -> Option<Instant>;

    /// Begins shutting down (see [`Server::shutdown`]).
    fn shutdown(&mut self, now: Instant);
}

impl Endpoint for Server {
    type Event = Event;

    fn shutdown(&mut self, now: Instant) {
        Server::shutdown(self, now);
    }

    fn engine(&mut self) -> &mut Server {
        self
    }

    fn poll_output(&mut self) -> Option<Output> {
        Server::poll_output(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Server::handle_timeout(self, now);
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        Server::poll_timeout(self)
    }
}

/// What happened to a session.
#[derive(Debug)]
pub enum Event {
    /// A session opened.
    Opened {
        /// Its id.
        sid: Sid,
        /// The request that opened it.
        handshake: Box<Handshake>,
    },
    /// A message arrived.
    Message {
        /// The session.
        sid: Sid,
        /// Text or binary data.
        data: Data,
    },
    /// The session moved from polling to WebSocket.
    Upgraded {
        /// The session.
        sid: Sid,
    },
    /// The session closed; nothing more is sent or received.
    Closed {
        /// The session.
        sid: Sid,
        /// Why.
        reason: CloseReason,
    },
}

/// Why a session closed. `Display` gives the reference's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed it, or its connection went away.
    TransportClose,
    /// The transport failed or the client broke the protocol (overlapping requests,
    /// wrong heartbeat direction, oversized message).
    TransportError,
    /// No pong within the ping timeout.
    PingTimeout,
    /// The client sent something that does not decode.
    ParseError,
    /// The application closed it.
    ForcedClose,
    /// The client did not read and the send buffer hit `max_buffered_bytes`.
    BufferFull,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::BufferFull => "buffer full",
        })
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No such session, or it is closing or closed.
    #[error("the session is closed")]
    Closed,
    /// The client does not read: the buffer is full and the session was closed.
    #[error("the session's send buffer is full")]
    BufferFull,
}

/// The Engine.IO server state machine. See the [module docs](self).
pub struct Server {
    config: ServerConfig,
    sids: SidSource,
    sessions: IdMap<Sid, Session>,
    polls: IdMap<PollId, Sid>,
    conns: IdMap<ConnId, Sid>,
    timers: BinaryHeap<Reverse<(Instant, Sid)>>,
    outputs: VecDeque<Output>,
    next_id: u64,
    /// Set by [`Server::shutdown`]: no new session opens.
    shutting_down: bool,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("sessions", &self.sessions.len()).finish_non_exhaustive()
    }
}

impl Server {
    /// A server with `config`, taking session ids from `sids`.
    pub fn new(config: ServerConfig, sids: SidSource) -> Self {
        Server {
            config,
            sids,
            sessions: IdMap::default(),
            polls: IdMap::default(),
            conns: IdMap::default(),
            shutting_down: false,
            timers: BinaryHeap::new(),
            outputs: VecDeque::new(),
            next_id: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The transport a session currently uses.
    pub fn transport(&self, sid: Sid) -> Option<TransportKind> {
        self.sessions.get(&sid).map(Session::transport_kind)
    }

    /// Whether a packet sent to the session now would go out at once rather than wait in
    /// its buffer (what volatile packets need).
    pub fn is_writable(&self, sid: Sid) -> bool {
        self.sessions.get(&sid).is_some_and(Session::is_writable)
    }

    /// Routes an HTTP request for the engine path (its head: the body, if any, is read
    /// later on [`Handled::ReadBody`]).
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: &http::request::Parts,
        remote: Option<SocketAddr>,
    ) -> Handled {
        let cors = response::cors_headers(self.config.cors.as_ref(), &request.headers);
        if response::is_preflight(&request.method, self.config.cors.as_ref()) {
            return Handled::Respond(response::preflight(&request.headers, cors));
        }
        let fail = |code: ErrorCode, cors: HeaderMap| Handled::Respond(response::error(code, None, cors));
        let query = EngineQuery::parse(request.uri.query().unwrap_or_default());
        if query.repeated {
            return fail(ErrorCode::BadRequest, cors);
        }
        let transport = match query.transport.as_deref() {
            Some("polling") if self.config.polling => TransportKind::Polling,
            Some("websocket") if self.config.websocket => TransportKind::WebSocket,
            _ => return fail(ErrorCode::UnknownTransport, cors),
        };
        let is_v4 = query.eio.as_deref() == Some("4");
        let websocket_upgrade = request.method == Method::GET
            && request
                .headers
                .get(header::UPGRADE)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));

        // Cross-site WebSocket hijacking: browsers send `Origin` on every WebSocket
        // handshake and CORS does not apply to WebSockets, so an explicit origin list is
        // enforced here (clients that send no `Origin`, not browsers, pass).
        let foreign_origin = request.headers.get(header::ORIGIN).is_some_and(|origin| {
            self.config.cors.as_ref().is_some_and(|cors| !cors.allows_websocket_from(origin.as_bytes()))
        });
        if websocket_upgrade && foreign_origin {
            return fail(ErrorCode::Forbidden, cors);
        }

        let sid_text = query.sid.as_deref().filter(|s| !s.is_empty());
        let Some(sid_text) = sid_text else {
            if request.method != Method::GET {
                return fail(ErrorCode::BadHandshakeMethod, cors);
            }
            if transport == TransportKind::WebSocket && !websocket_upgrade {
                return fail(ErrorCode::BadRequest, cors);
            }
            if !is_v4 {
                return fail(ErrorCode::UnsupportedProtocolVersion, cors);
            }
            let handshake = Handshake {
                uri: detached_uri(&request.uri),
                headers: detached_headers(&request.headers),
                remote,
                transport,
                at: now,
                secure: request.extensions.get::<Encrypted>().is_some(),
            };
            if self.shutting_down {
                return Handled::Respond(response::shutting_down(cors));
            }
            return Handled::Incoming(Incoming { handshake, cors });
        };

        let Some(sid) = Sid::parse(sid_text).filter(|sid| self.sessions.contains_key(sid)) else {
            return fail(ErrorCode::UnknownSid, cors);
        };
        let poll = PollId(self.next_id());
        let Some(session) = self.sessions.get_mut(&sid) else {
            return fail(ErrorCode::UnknownSid, cors);
        };
        if !is_v4 || (!websocket_upgrade && transport != session.transport_kind()) {
            return fail(ErrorCode::BadRequest, cors);
        }
        if websocket_upgrade {
            if transport != TransportKind::WebSocket || !self.config.allow_upgrades {
                return fail(ErrorCode::BadRequest, cors);
            }
            // A session that already upgraded, or is upgrading, gets the handshake and
            // then a close at once (see `ws_opened`), as the reference answers it.
            return Handled::WebSocket(WsTicket { target: WsTarget::Upgrade(sid) });
        }
        let handled = match request.method {
            Method::GET => match session.on_poll(now, poll, cors, &self.config, &mut self.outputs) {
                PollAnswer::Now(response) => Handled::Respond(response),
                PollAnswer::Later => {
                    self.polls.insert(poll, sid);
                    Handled::Pending(poll)
                }
            },
            Method::POST => {
                let binary = request
                    .headers
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
                if session.begin_post(binary, &mut self.outputs) {
                    let limit = self.config.max_payload;
                    Handled::ReadBody(BodyTicket { sid, limit, cors })
                } else {
                    fail(ErrorCode::BadRequest, cors)
                }
            }
            _ => fail(ErrorCode::BadRequest, cors),
        };
        self.after(sid);
        handled
    }

    /// Accepts a handshake: a polling one is answered with the open packet, a WebSocket
    /// one goes on to [`Handled::WebSocket`].
    pub fn accept(&mut self, now: Instant, incoming: Incoming) -> Handled {
        let Incoming { handshake, cors } = incoming;
        if handshake.transport == TransportKind::WebSocket {
            return Handled::WebSocket(WsTicket { target: WsTarget::New(Box::new(handshake)) });
        }
        let sid = self.new_sid();
        let mut session = Session::polling(sid, now, &self.config);
        self.outputs.push_back(Output::Event(Event::Opened { sid, handshake: Box::new(handshake) }));
        let answer = session.on_poll(now, PollId(self.next_id()), cors, &self.config, &mut self.outputs);
        self.sessions.insert(sid, session);
        self.after(sid);
        match answer {
            PollAnswer::Now(response) => Handled::Respond(response),
            // The open packet is always buffered, so the first poll is answered at once.
            PollAnswer::Later => {
                Handled::Respond(response::error(ErrorCode::BadRequest, None, HeaderMap::new()))
            }
        }
    }

    /// Refuses a handshake: 403 with `message` (default "Forbidden").
    pub fn refuse(&mut self, incoming: Incoming, message: Option<&str>) -> Response {
        response::error(ErrorCode::Forbidden, message, incoming.cors)
    }

    /// The body of a POST (see [`Handled::ReadBody`]), handled whole. Returns the response
    /// to write, or `None` when the request failed and there is no one to answer. An
    /// adapter that honours [`Server::hold`] uses [`Server::handle_body_step`] instead.
    pub fn handle_body(
        &mut self,
        now: Instant,
        ticket: BodyTicket,
        body: Result<Bytes, BodyError>,
    ) -> Option<Response> {
        let mut posted = self.handle_body_step(now, ticket, body);
        loop {
            match posted {
                Posted::Answer(response) => return response,
                Posted::More(rest) => posted = self.continue_body(now, rest),
            }
        }
    }

    /// The body of a POST, handled in steps of a few dozen packets: the server is not held
    /// for a whole body of small packets, and the rest of a body waits while its session is
    /// not readable ([`Server::is_readable`]). Give [`Posted::More`] to
    /// [`Server::continue_body`] once the session is readable ([`Output::Readable`]).
    pub fn handle_body_step(
        &mut self,
        now: Instant,
        ticket: BodyTicket,
        body: Result<Bytes, BodyError>,
    ) -> Posted {
        let BodyTicket { sid, cors, .. } = ticket;
        let Some(session) = self.sessions.get_mut(&sid) else {
            return Posted::Answer(body.ok().map(|_| response::error(ErrorCode::UnknownSid, None, cors)));
        };
        let posted = session.on_post_body(body, cors, &self.config, &mut self.outputs);
        self.after(sid);
        match posted {
            Posted::More(rest) => self.continue_body(now, rest),
            answer => answer,
        }
    }

    /// Handles the next step of a POST body.
    pub fn continue_body(&mut self, now: Instant, mut rest: PostBody) -> Posted {
        let Some(session) = self.sessions.get_mut(&rest.sid) else {
            return Posted::Answer(Some(response::error(ErrorCode::UnknownSid, None, rest.cors)));
        };
        let answer =
            session.on_post_packets(now, &mut rest.packets, &rest.cors, &self.config, &mut self.outputs);
        self.after(rest.sid);
        match answer {
            Some(response) => Posted::Answer(Some(response)),
            None => Posted::More(rest),
        }
    }

    /// The request of a POST body still being handled went away: the rest is dropped and
    /// the session closes, as for a body that did not arrive whole.
    pub fn abort_body(&mut self, _now: Instant, rest: PostBody) {
        if let Some(session) = self.sessions.get_mut(&rest.sid) {
            session.abort_post(&mut self.outputs);
            self.after(rest.sid);
        }
    }

    /// What the application holds of session `sid` for a message it has not handled yet
    /// ([`Server::hold`]): its data and [`HOLD_OVERHEAD`].
    pub fn message_hold(data: &crate::Data) -> usize {
        let len = match data {
            crate::Data::Text(text) => text.len(),
            crate::Data::Binary(bytes) => bytes.len(),
        };
        len + HOLD_OVERHEAD
    }

    /// The application holds `bytes` more of what session `sid` sent (a message waiting
    /// for, or in, its handler). Past [`ServerConfig::max_unhandled_bytes`] the session is
    /// not readable: its adapter stops reading its WebSocket and the rest of its POST body
    /// (whose answer, and so the client's next POST, waits) until [`Server::release`] has
    /// brought it under half the limit. Its heartbeat does not time out meanwhile: its
    /// pong may be waiting, unread.
    pub fn hold(&mut self, sid: Sid, bytes: usize) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.held = session.held.saturating_add(bytes);
            if session.held >= self.config.max_unhandled_bytes {
                session.paused = true;
            }
        }
    }

    /// The application is done with `bytes` it held of session `sid` ([`Server::hold`]);
    /// [`Output::Readable`] says when the session is readable again.
    pub fn release(&mut self, sid: Sid, bytes: usize) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.held = session.held.saturating_sub(bytes);
            if session.paused && session.held < self.config.max_unhandled_bytes / 2 {
                session.paused = false;
                self.outputs.push_back(Output::Readable { sid });
            }
        }
    }

    /// How many bytes of session `sid`'s messages the application holds ([`Server::hold`]).
    pub fn held(&self, sid: Sid) -> usize {
        self.sessions.get(&sid).map_or(0, |session| session.held)
    }

    /// Whether the input of session `sid` is read; a session that is gone is readable
    /// (whoever reads for it finds out).
    pub fn is_readable(&self, sid: Sid) -> bool {
        self.sessions.get(&sid).is_none_or(Session::is_readable)
    }

    /// The session a WebSocket belongs to.
    pub fn session_of(&self, conn: ConnId) -> Option<Sid> {
        self.conns.get(&conn).copied()
    }

    /// A WebSocket handshake completed. Returns the id to report its traffic under.
    pub fn ws_opened(&mut self, now: Instant, ticket: WsTicket) -> ConnId {
        let conn = ConnId(self.next_id());
        match ticket.target {
            WsTarget::New(handshake) => {
                let sid = self.new_sid();
                self.outputs.push_back(Output::Event(Event::Opened { sid, handshake }));
                let session = Session::websocket(sid, conn, now, &self.config, &mut self.outputs);
                self.sessions.insert(sid, session);
                self.conns.insert(conn, sid);
                self.after(sid);
            }
            WsTarget::Upgrade(sid) => match self.sessions.get_mut(&sid) {
                Some(session) if session.can_upgrade() => {
                    session.begin_upgrade(now, conn, &self.config);
                    self.conns.insert(conn, sid);
                    self.after(sid);
                }
                _ => self.outputs.push_back(Output::WsClose { conn, code: 1000 }),
            },
        }
        conn
    }

    /// A WebSocket message arrived.
    pub fn handle_ws_frame(&mut self, now: Instant, conn: ConnId, frame: Frame) {
        self.with_conn(conn, |session, config, out| session.on_ws_frame(now, conn, frame, config, out));
    }

    /// A WebSocket message over `max_payload` arrived and the adapter read no further (it
    /// may also pass such a message to [`Server::handle_ws_frame`]): the connection closes
    /// with 1009 and its session ends, unless it was only probing an upgrade.
    pub fn handle_ws_too_large(&mut self, _now: Instant, conn: ConnId) {
        self.with_conn(conn, |session, _, out| session.on_ws_too_large(conn, out));
    }

    /// The adapter finished writing an [`Output::WsSend`] batch.
    pub fn handle_ws_drained(&mut self, _now: Instant, conn: ConnId) {
        self.with_conn(conn, |session, config, out| session.on_ws_drained(conn, config, out));
    }

    /// A WebSocket closed or failed.
    pub fn handle_ws_closed(&mut self, _now: Instant, conn: ConnId) {
        self.with_conn(conn, |session, _, out| session.on_ws_closed(conn, out));
        self.conns.remove(&conn);
    }

    /// The connection of a pending long-poll went away before its answer.
    pub fn handle_poll_aborted(&mut self, _now: Instant, poll: PollId) {
        let Some(sid) = self.polls.remove(&poll) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.on_poll_aborted(poll, &mut self.outputs);
            self.after(sid);
        }
    }

    /// Sends a packet to a session.
    pub fn send(&mut self, sid: Sid, packet: &Packet) -> Result<(), SendError> {
        self.send_frame(sid, packet.to_frame())
    }

    /// Sends an encoded packet (see [`Packet::to_frame`]); one frame can be shared by many
    /// sessions without copying.
    pub fn send_frame(&mut self, sid: Sid, frame: Frame) -> Result<(), SendError> {
        let session = self.sessions.get_mut(&sid).ok_or(SendError::Closed)?;
        let result = session.send(frame, &self.config, &mut self.outputs);
        self.after(sid);
        result
    }

    /// Holds what is sent to session `sid` in its buffer until [`Server::uncork`] (a poll
    /// waits meanwhile): for a moment in which several packets must reach the client
    /// together, or one only after something else happened. Corks nest: each is undone by
    /// its own uncork. Closing the session flushes.
    pub fn cork(&mut self, sid: Sid) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.set_corked(true, &self.config, &mut self.outputs);
        }
    }

    /// Sends what [`Server::cork`] held, and what comes next, as usual.
    pub fn uncork(&mut self, sid: Sid) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.set_corked(false, &self.config, &mut self.outputs);
            self.after(sid);
        }
    }

    /// Closes a session at once, dropping what it has buffered, and reports `reason`.
    pub fn close_now(&mut self, sid: Sid, reason: CloseReason) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.close(reason, &mut self.outputs);
            self.after(sid);
        }
    }

    /// Closes a session after flushing what it has buffered.
    pub fn close(&mut self, now: Instant, sid: Sid) {
        if let Some(session) = self.sessions.get_mut(&sid) {
            session.close_by_server(now, &self.config, &mut self.outputs);
            self.after(sid);
        }
    }

    /// Begins shutting down: every session flushes what it has buffered and closes (a
    /// polling client gets its last packets, then the close packet; a WebSocket its
    /// frames, then a close frame), and new handshakes get 503. Done when
    /// [`Server::session_count`] is 0.
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let sids: Vec<Sid> = self.sessions.keys().copied().collect();
        for sid in sids {
            self.close(now, sid);
        }
    }

    /// Whether [`Server::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, sid))) = self.timers.peek().copied() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            let Some(session) = self.sessions.get_mut(&sid) else {
                continue;
            };
            if session.scheduled != Some(deadline) {
                continue;
            }
            session.scheduled = None;
            session.on_timeout(now, &self.config, &mut self.outputs);
            self.after(sid);
        }
    }

    /// The next output, in the order they happened.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front()?;
        if let Output::Respond { poll, .. } = &output {
            // Answered: the request no longer waits.
            self.polls.remove(poll);
        }
        Some(output)
    }

    /// How many timer entries are queued (stale ones are dropped as they come due); a
    /// measure of the heap a flood could grow.
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// How many long-poll requests wait for an answer (at most one per session).
    pub fn waiting_polls(&self) -> usize {
        self.polls.len()
    }

    /// When [`Server::handle_timeout`] should next be called; `None` when no timer runs.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        // Drop entries left behind by deadlines that moved or sessions that closed.
        while let Some(Reverse((deadline, sid))) = self.timers.peek().copied() {
            if self.sessions.get(&sid).is_some_and(|s| s.scheduled == Some(deadline)) {
                return Some(deadline);
            }
            self.timers.pop();
        }
        None
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn new_sid(&mut self) -> Sid {
        loop {
            let sid = Sid::from_u128((self.sids)());
            if !self.sessions.contains_key(&sid) {
                return sid;
            }
        }
    }

    fn with_conn(
        &mut self,
        conn: ConnId,
        f: impl FnOnce(&mut Session, &ServerConfig, &mut VecDeque<Output>),
    ) {
        let Some(&sid) = self.conns.get(&conn) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&sid) {
            f(session, &self.config, &mut self.outputs);
            self.after(sid);
        }
    }

    /// Bookkeeping after a session changed: forget it when closed, else reschedule its timer.
    fn after(&mut self, sid: Sid) {
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        if session.is_closed() {
            if let Some(session) = self.sessions.remove(&sid) {
                if session.paused {
                    self.outputs.push_back(Output::Readable { sid });
                }
                if let Some(poll) = session.pending_poll() {
                    self.polls.remove(&poll);
                }
                for conn in session.conns() {
                    self.conns.remove(&conn);
                }
            }
            return;
        }
        let deadline = session.deadline();
        if deadline != session.scheduled {
            session.scheduled = deadline;
            if let Some(deadline) = deadline {
                self.timers.push(Reverse((deadline, sid)));
            }
        }
    }
}
