//! The Engine.IO client as a state machine: it asks the adapter to perform HTTP requests and
//! open WebSockets, and is fed their results, frames and time.
//!
//! Drive it like the server: after any input, drain [`Client::poll_output`], then sleep
//! until [`Client::poll_timeout`] and call [`Client::handle_timeout`].
//!
//! - [`Output::Http`]: perform the request, then call [`Client::handle_response`] with its
//!   status and body (or the failure).
//! - [`Output::WsConnect`]: open the WebSocket, then call
//!   [`Client::handle_ws_open`] or [`Client::handle_ws_closed`]; feed its messages to
//!   [`Client::handle_ws_frame`].
//! - [`Output::WsSend`] / [`Output::WsClose`]: write frames, close; report each batch
//!   written with [`Client::handle_ws_drained`].
//!
//! It follows the reference client: handshake on polling (or WebSocket alone), a pong for
//! every ping (but one waiting to be written answers those that come meanwhile), a dead
//! server declared after `pingInterval + pingTimeout` without a ping,
//! polling with one GET and one POST at most in flight (POSTs batched up to the server's
//! `maxPayload`), and the upgrade: `2probe`, `3probe`, pause polling, `5`.

use crate::deadline_after;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::{Data, Frame, Packet, PacketType, PayloadFormat, decode_payload, encode_payload};

mod url;

pub use url::{ServerUrl, UrlError, append_query};

/// Client settings: where the server is, and how to reach it.
///
/// ```
/// use engineio_proto::client::ClientConfig;
///
/// let mut config = ClientConfig::from_url("https://example.com:8443?v=2").unwrap();
/// config.add_query("token", "a b");
/// assert_eq!(config.authority, "example.com:8443");
/// assert_eq!(config.path, "/engine.io/");
/// assert_eq!(config.query, "v=2&token=a%20b");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Whether to start with (or use) long-polling.
    pub polling: bool,
    /// Whether to use WebSocket: directly when polling is off, by upgrade otherwise.
    pub websocket: bool,
    /// Whether a polling session upgrades to WebSocket when the server offers it.
    pub upgrade: bool,
    /// Whether the connection uses TLS (`https`, `wss`).
    pub secure: bool,
    /// The server's `host:port`, what to connect to and the `Host` header.
    pub authority: String,
    /// The server's Engine.IO path (default `/engine.io/`; a trailing `/` is added when
    /// missing, as the reference client does).
    pub path: String,
    /// Extra query parameters, already encoded (`key=value&...`), appended to every
    /// request; [`ClientConfig::add_query`] encodes them.
    pub query: String,
    /// The largest message or polling response accepted from the server, in bytes
    /// (default 100 MB): the adapter stops reading past it and the transport fails.
    pub max_message: usize,
    /// How long an HTTP exchange may take (default 20 s); a poll of an open session,
    /// which the server holds until it has something to send, may take up to
    /// `pingInterval + pingTimeout` when that is longer ([`Output::Http::timeout`]).
    pub request_timeout: Duration,
}

/// How much of a refused request's response body its close reason shows.
const ERROR_BODY_SHOWN: usize = 256;

/// The largest handshake response read: an open packet is a few hundred bytes, so a server
/// that answers the handshake with more is not let fill memory before it said its limits.
pub const HANDSHAKE_BODY_LIMIT: usize = 64 * 1024;

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            polling: true,
            websocket: true,
            upgrade: true,
            secure: false,
            authority: "localhost:80".into(),
            path: "/engine.io/".into(),
            query: String::new(),
            max_message: 100_000_000,
            request_timeout: Duration::from_secs(20),
        }
    }
}

impl ClientConfig {
    /// The settings for the server at `url` (see [`ServerUrl`]); its query goes on every
    /// request. The URL's path is not the Engine.IO path (set [`ClientConfig::path`]).
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        Ok(ClientConfig::for_server(&ServerUrl::parse(url)?))
    }

    /// The settings for the server at `url`.
    pub fn for_server(url: &ServerUrl) -> Self {
        ClientConfig {
            secure: url.secure,
            authority: url.authority(),
            query: url.query.clone(),
            ..ClientConfig::default()
        }
    }

    /// Appends `key=value` to every request's query, percent-encoded.
    pub fn add_query(&mut self, key: &str, value: &str) {
        append_query(&mut self.query, key, value);
    }

    /// The path, ending in `/`.
    fn normalized_path(&self) -> String {
        format!("{}/", self.path.trim_end_matches('/'))
    }
}

/// An HTTP request the client waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(u64);

/// A WebSocket the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WsId(u64);

/// The HTTP method of an [`Output::Http`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// A handshake or a poll.
    Get,
    /// Packets for the server.
    Post,
}

/// The server's handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInfo {
    /// The session id.
    pub sid: String,
    /// Transports the session may upgrade to.
    pub upgrades: Vec<String>,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the server waits for a pong.
    pub ping_timeout: Duration,
    /// The largest payload the server accepts.
    pub max_payload: usize,
}

/// Why the client's session ended. `Display` gives the reference client's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Client::close`] was called.
    ForcedClose,
    /// The server closed the session, or its transport went away.
    TransportClose,
    /// A request failed or was refused (the description says how).
    TransportError(String),
    /// No ping within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server sent something that does not decode.
    ParseError,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ForcedClose => f.write_str("forced close"),
            CloseReason::TransportClose => f.write_str("transport close"),
            CloseReason::TransportError(why) => write!(f, "transport error: {why}"),
            CloseReason::PingTimeout => f.write_str("ping timeout"),
            CloseReason::ParseError => f.write_str("parse error"),
        }
    }
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake succeeded.
    Open(OpenInfo),
    /// A message from the server.
    Message(Data),
    /// The session moved to WebSocket.
    Upgraded,
    /// The session ended; nothing more comes.
    Closed(CloseReason),
}

/// Something for the adapter to do, or for the application to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Perform an HTTP request (on [`ClientConfig::authority`], with TLS when
    /// [`ClientConfig::secure`]).
    Http {
        /// Report the result with this id.
        id: RequestId,
        /// GET or POST.
        method: Method,
        /// The request target: `<path>?<query>`.
        target: String,
        /// The body (POST only; a text payload).
        body: Bytes,
        /// The largest response body to read: [`ClientConfig::max_message`] once the
        /// session is open, at most [`HANDSHAKE_BODY_LIMIT`] before.
        max_body: usize,
        /// How long the whole exchange may take, connecting included: the
        /// [request timeout](ClientConfig::request_timeout), or for a poll of an open
        /// session, which the server holds until it has a packet to send (a ping every
        /// `pingInterval` at the latest), `pingInterval + pingTimeout` when longer.
        timeout: Duration,
    },
    /// Open a WebSocket (on [`ClientConfig::authority`], with TLS when
    /// [`ClientConfig::secure`]).
    WsConnect {
        /// Report on it with this id.
        id: WsId,
        /// The WebSocket URL: `ws://<authority><path>?<query>` (`wss://` when secure).
        url: String,
    },
    /// Write these frames, in order, then report them written with
    /// [`Client::handle_ws_drained`] (a pong waits for that before the next one goes).
    WsSend {
        /// The WebSocket.
        id: WsId,
        /// The frames.
        frames: Vec<Frame>,
    },
    /// Close this WebSocket.
    WsClose {
        /// The WebSocket.
        id: WsId,
    },
    /// An application event.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the open packet.
    Opening,
    Open,
    Closed,
}

#[derive(Debug)]
enum Transport {
    Polling { get: Option<RequestId>, post: Option<RequestId> },
    WebSocket { id: WsId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    /// The WebSocket is being opened.
    Connecting(WsId),
    /// `2probe` sent.
    Probing(WsId),
    /// `3probe` received: polling pauses, then `5` goes out.
    Pausing(WsId),
}

/// The Engine.IO client state machine. See the [module docs](self).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    transport: Transport,
    upgrade: Option<Upgrade>,
    sid: Option<String>,
    max_payload: usize,
    ping_window: Duration,
    dead_at: Option<Instant>,
    outbox: VecDeque<Packet>,
    outputs: VecDeque<Output>,
    next_id: u64,
    /// Per open WebSocket: the batches handed to it ([`Output::WsSend`]) and those reported
    /// written ([`Client::handle_ws_drained`]).
    batches: Vec<(WsId, u64, u64)>,
    /// The pong owed to the server's pings.
    pong: Pong,
}

/// Where the pong answering the server's pings is. One answers them all: a server that
/// pings faster than its pongs are written gets no more than one at a time, whatever its
/// rate (each pong would otherwise wait in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pong {
    /// None is waiting to go out.
    Settled,
    /// In the outbox.
    Buffered,
    /// In batch `batch` of WebSocket `ws`, not reported written yet; `owed` once a ping
    /// came meanwhile (the server may have had the pong already and pinged again: another
    /// goes out once this one is written).
    Writing { ws: WsId, batch: u64, owed: bool },
}

impl Client {
    /// Starts a session: the first output is the handshake request.
    pub fn new(config: ClientConfig) -> Self {
        Client::with_ids_from(config, 0)
    }

    /// [`Client::new`], numbering its request and WebSocket ids after `first`: sessions
    /// that follow one another (reconnection) never reuse an id.
    pub fn with_ids_from(config: ClientConfig, first: u64) -> Self {
        let mut client = Client {
            state: State::Opening,
            transport: Transport::Polling { get: None, post: None },
            upgrade: None,
            sid: None,
            max_payload: 1_000_000,
            ping_window: Duration::ZERO,
            dead_at: None,
            outbox: VecDeque::new(),
            outputs: VecDeque::new(),
            next_id: first,
            batches: Vec::new(),
            pong: Pong::Settled,
            config,
        };
        if client.config.polling || !client.config.websocket {
            let id = client.request(Method::Get, Bytes::new());
            client.transport = Transport::Polling { get: Some(id), post: None };
        } else {
            let id = WsId(client.next_id());
            let url = client.ws_url();
            client.outputs.push_back(Output::WsConnect { id, url });
            client.transport = Transport::WebSocket { id };
        }
        client
    }

    /// The session id, once open.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Whether the session is open.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether a packet sent now goes out at once (the reference's `transport.writable`):
    /// the session is open and its transport idle, no POST in flight and every WebSocket
    /// batch written. A volatile packet is dropped otherwise.
    pub fn is_writable(&self) -> bool {
        if self.state != State::Open
            || !self.outbox.is_empty()
            || matches!(self.upgrade, Some(Upgrade::Pausing(_)))
        {
            return false;
        }
        match self.transport {
            Transport::Polling { post, .. } => post.is_none(),
            Transport::WebSocket { id } => self
                .batches
                .iter()
                .find(|(ws, ..)| *ws == id)
                .is_none_or(|(_, sent, written)| written >= sent),
        }
    }

    /// Whether the session runs on WebSocket now.
    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::WebSocket { .. })
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn query(&self, transport: &str) -> String {
        let mut query = format!("EIO=4&transport={transport}");
        if let Some(sid) = &self.sid {
            query.push_str("&sid=");
            query.push_str(sid);
        }
        if !self.config.query.is_empty() {
            query.push('&');
            query.push_str(&self.config.query);
        }
        query
    }

    fn request(&mut self, method: Method, body: Bytes) -> RequestId {
        let id = RequestId(self.next_id());
        let target = format!("{}?{}", self.config.normalized_path(), self.query("polling"));
        let max_body = match self.sid {
            Some(_) => self.config.max_message,
            None => self.config.max_message.min(HANDSHAKE_BODY_LIMIT),
        };
        let timeout = match (self.state, method) {
            (State::Open, Method::Get) => self.config.request_timeout.max(self.ping_window),
            _ => self.config.request_timeout,
        };
        self.outputs.push_back(Output::Http { id, method, target, body, max_body, timeout });
        id
    }

    fn ws_url(&self) -> String {
        let scheme = if self.config.secure { "wss" } else { "ws" };
        format!(
            "{scheme}://{}{}?{}",
            self.config.authority,
            self.config.normalized_path(),
            self.query("websocket")
        )
    }

    // ---- inputs ----

    /// The result of an [`Output::Http`]: its status and body, or why it failed.
    pub fn handle_response(&mut self, now: Instant, id: RequestId, response: Result<(u16, Bytes), String>) {
        let Transport::Polling { get, post } = &mut self.transport else {
            return;
        };
        let is_get = *get == Some(id);
        if is_get {
            *get = None;
        } else if *post == Some(id) {
            *post = None;
        } else {
            return;
        }
        let body = match response {
            Ok((200, body)) => body,
            Ok((status, body)) => {
                // The start of the body says why (`{"code":1,"message":"Session ID unknown"}`);
                // a server's whole page has no place in a close reason.
                let shown = body.get(..ERROR_BODY_SHOWN).unwrap_or(&body);
                let ellipsis = if shown.len() < body.len() { "…" } else { "" };
                let why = format!("HTTP {status}: {}{ellipsis}", String::from_utf8_lossy(shown));
                return self.close_with(CloseReason::TransportError(why));
            }
            Err(why) => return self.close_with(CloseReason::TransportError(why)),
        };
        if is_get {
            let packets = match decode_payload(PayloadFormat::V4, body, usize::MAX) {
                Ok(packets) => packets,
                Err(_) => return self.close_with(CloseReason::ParseError),
            };
            for packet in packets {
                match packet {
                    Ok(packet) => self.on_packet(now, packet),
                    Err(_) => return self.close_with(CloseReason::ParseError),
                }
                if self.state == State::Closed {
                    return;
                }
            }
        }
        self.after_polling_io();
    }

    /// A WebSocket of [`Output::WsConnect`] opened.
    pub fn handle_ws_open(&mut self, _now: Instant, id: WsId) {
        if self.upgrade == Some(Upgrade::Connecting(id)) {
            self.upgrade = Some(Upgrade::Probing(id));
            self.ws_send(id, vec![Frame::Text("2probe".into())]);
        }
    }

    /// A message on a WebSocket.
    pub fn handle_ws_frame(&mut self, now: Instant, id: WsId, frame: Frame) {
        let Ok(packet) = Packet::decode_frame(frame) else {
            if matches!(self.transport, Transport::WebSocket { id: t } if t == id) {
                self.close_with(CloseReason::ParseError);
            } else {
                self.abandon_upgrade();
            }
            return;
        };
        if matches!(self.transport, Transport::WebSocket { id: t } if t == id) {
            return self.on_packet(now, packet);
        }
        if self.upgrade == Some(Upgrade::Probing(id)) {
            let is_probe = packet.kind == PacketType::Pong && packet.text().is_some_and(|t| &**t == "probe");
            if is_probe {
                self.upgrade = Some(Upgrade::Pausing(id));
                self.after_polling_io();
            } else {
                self.abandon_upgrade();
            }
        }
    }

    /// The batches handed to WebSocket `id` so far are written (the adapter reports each
    /// [`Output::WsSend`] once written, in order).
    pub fn handle_ws_drained(&mut self, _now: Instant, id: WsId) {
        let Some((_, _, written)) = self.batches.iter_mut().find(|(ws, ..)| *ws == id) else {
            return;
        };
        *written += 1;
        if let Pong::Writing { ws, batch, owed } = self.pong {
            if ws == id && *written >= batch {
                self.pong = Pong::Settled;
                if owed {
                    self.pong = Pong::Buffered;
                    self.send(Packet::pong());
                }
            }
        }
    }

    /// A WebSocket closed or could not be opened.
    pub fn handle_ws_closed(&mut self, _now: Instant, id: WsId) {
        self.batches.retain(|(ws, ..)| *ws != id);
        if matches!(self.transport, Transport::WebSocket { id: t } if t == id) {
            self.close_with(CloseReason::TransportClose);
        } else if self.upgrade.is_some_and(|u| u.ws() == id) {
            self.upgrade = None;
            self.after_polling_io();
        }
    }

    /// A WebSocket message over [`ClientConfig::max_message`] arrived (the adapter read no
    /// further): the session fails with a transport error, or the upgrade is abandoned.
    pub fn handle_ws_too_large(&mut self, _now: Instant, id: WsId) {
        if matches!(self.transport, Transport::WebSocket { id: t } if t == id) {
            self.close_with(CloseReason::TransportError(format!(
                "message over {} bytes",
                self.config.max_message
            )));
        } else if self.upgrade.is_some_and(|u| u.ws() == id) {
            self.abandon_upgrade();
        }
    }

    /// Runs the dead-server timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead_at.is_some_and(|at| at <= now) {
            self.close_with(CloseReason::PingTimeout);
        }
    }

    /// When [`Client::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.dead_at
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ---- application ----

    /// Sends a packet (buffered until the session is open and the transport can take it).
    /// Returns `false` once the session is closed.
    pub fn send(&mut self, packet: Packet) -> bool {
        if self.state == State::Closed {
            return false;
        }
        self.outbox.push_back(packet);
        self.flush();
        true
    }

    /// Ends the session because of what the server sent (a packet the layer above cannot
    /// use): closed at once, as a transport error, so that a manager reconnects.
    pub fn fail(&mut self, reason: &str) {
        self.close_with(CloseReason::TransportError(reason.to_owned()));
    }

    /// Closes the session after flushing what is buffered.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        match self.transport {
            Transport::WebSocket { id } => {
                self.flush();
                self.outputs.push_back(Output::WsClose { id });
            }
            Transport::Polling { .. } if self.state == State::Open => {
                // The close packet goes in a last POST, after whatever is buffered.
                let mut body = BytesMut::new();
                let mut packets: Vec<Packet> = self.outbox.drain(..).collect();
                packets.push(Packet::empty(PacketType::Close));
                encode_payload(&packets, &mut body);
                self.request(Method::Post, body.freeze());
            }
            Transport::Polling { .. } => {}
        }
        self.finish(CloseReason::ForcedClose);
    }

    // ---- internals ----

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        match packet.kind {
            PacketType::Open if self.state == State::Opening => self.on_open(now, packet),
            PacketType::Ping => {
                self.dead_at = Some(deadline_after(now, self.ping_window));
                match &mut self.pong {
                    Pong::Settled => {
                        self.pong = Pong::Buffered;
                        self.send(Packet::pong());
                    }
                    Pong::Buffered => {}
                    Pong::Writing { owed, .. } => *owed = true,
                }
            }
            PacketType::Message => self.outputs.push_back(Output::Event(Event::Message(packet.data))),
            PacketType::Close => self.close_with(CloseReason::TransportClose),
            _ => {}
        }
    }

    fn on_open(&mut self, now: Instant, packet: Packet) {
        let Some(info) = packet.text().and_then(|t| parse_open(t)) else {
            return self.close_with(CloseReason::ParseError);
        };
        self.sid = Some(info.sid.clone());
        self.max_payload = info.max_payload;
        self.ping_window = info.ping_interval + info.ping_timeout;
        self.dead_at = Some(deadline_after(now, self.ping_window));
        self.state = State::Open;
        let upgrade = self.config.upgrade
            && self.config.websocket
            && !self.is_websocket()
            && info.upgrades.iter().any(|u| u == "websocket");
        self.outputs.push_back(Output::Event(Event::Open(info)));
        if upgrade {
            let id = WsId(self.next_id());
            let url = self.ws_url();
            self.upgrade = Some(Upgrade::Connecting(id));
            self.outputs.push_back(Output::WsConnect { id, url });
        }
        self.flush();
    }

    /// After a polling request completed: finish a pause, or poll again and flush.
    fn after_polling_io(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if let (Some(Upgrade::Pausing(ws)), Transport::Polling { get: None, post: None }) =
            (self.upgrade, &self.transport)
        {
            self.upgrade = None;
            self.transport = Transport::WebSocket { id: ws };
            self.ws_send(ws, vec![Frame::Text("5".into())]);
            self.outputs.push_back(Output::Event(Event::Upgraded));
            self.flush();
            return;
        }
        let pausing = matches!(self.upgrade, Some(Upgrade::Pausing(_)));
        if self.state == State::Open && !pausing {
            if let Transport::Polling { get: None, .. } = self.transport {
                let id = self.request(Method::Get, Bytes::new());
                if let Transport::Polling { get, .. } = &mut self.transport {
                    *get = Some(id);
                }
            }
        }
        self.flush();
    }

    /// Sends buffered packets if the transport can take them.
    fn flush(&mut self) {
        if self.state != State::Open || self.outbox.is_empty() {
            return;
        }
        if matches!(self.upgrade, Some(Upgrade::Pausing(_))) {
            return;
        }
        match self.transport {
            Transport::WebSocket { id } => {
                let frames = self.outbox.drain(..).map(|p| p.to_frame()).collect();
                let batch = self.ws_send(id, frames);
                if self.pong == Pong::Buffered {
                    self.pong = Pong::Writing { ws: id, batch, owed: false };
                }
            }
            Transport::Polling { post: None, .. } => {
                let mut batch = Vec::new();
                let mut size = 0;
                while let Some(packet) = self.outbox.front() {
                    let len = packet.encoded_len() + 1;
                    if !batch.is_empty() && size + len > self.max_payload {
                        break;
                    }
                    size += len;
                    if packet.kind == PacketType::Pong && self.pong == Pong::Buffered {
                        // In the one POST in flight: the next ping may buffer another.
                        self.pong = Pong::Settled;
                    }
                    batch.extend(self.outbox.pop_front());
                }
                let mut body = BytesMut::with_capacity(size);
                encode_payload(&batch, &mut body);
                let id = self.request(Method::Post, body.freeze());
                if let Transport::Polling { post, .. } = &mut self.transport {
                    *post = Some(id);
                }
            }
            Transport::Polling { .. } => {}
        }
    }

    fn abandon_upgrade(&mut self) {
        if let Some(upgrade) = self.upgrade.take() {
            self.outputs.push_back(Output::WsClose { id: upgrade.ws() });
            self.after_polling_io();
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if let Transport::WebSocket { id } = self.transport {
            self.outputs.push_back(Output::WsClose { id });
        }
        self.finish(reason);
    }

    fn finish(&mut self, reason: CloseReason) {
        if let Some(upgrade) = self.upgrade.take() {
            self.outputs.push_back(Output::WsClose { id: upgrade.ws() });
        }
        self.state = State::Closed;
        self.dead_at = None;
        self.outbox.clear();
        self.batches.clear();
        self.pong = Pong::Settled;
        self.outputs.push_back(Output::Event(Event::Closed(reason)));
    }
}

impl Client {
    /// Hands `frames` to WebSocket `id` as one batch; its number on that WebSocket.
    fn ws_send(&mut self, id: WsId, frames: Vec<Frame>) -> u64 {
        let batch = match self.batches.iter_mut().find(|(ws, ..)| *ws == id) {
            Some((_, sent, _)) => {
                *sent += 1;
                *sent
            }
            None => {
                self.batches.push((id, 1, 0));
                1
            }
        };
        self.outputs.push_back(Output::WsSend { id, frames });
        batch
    }
}

impl Upgrade {
    fn ws(self) -> WsId {
        match self {
            Upgrade::Connecting(id) | Upgrade::Probing(id) | Upgrade::Pausing(id) => id,
        }
    }
}

/// The open packet's JSON.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenPacket {
    sid: String,
    #[serde(default)]
    upgrades: Vec<String>,
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(default = "default_max_payload")]
    max_payload: usize,
}

fn default_max_payload() -> usize {
    1_000_000
}

/// Parses the open packet's JSON: `{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}`.
fn parse_open(json: &str) -> Option<OpenInfo> {
    let open: OpenPacket = serde_json::from_str(json).ok()?;
    Some(OpenInfo {
        sid: open.sid,
        upgrades: open.upgrades,
        ping_interval: Duration::from_millis(open.ping_interval),
        ping_timeout: Duration::from_millis(open.ping_timeout),
        max_payload: open.max_payload,
    })
}
