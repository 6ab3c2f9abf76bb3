//! The Socket.IO client as a state machine: a [`Manager`] multiplexes namespace sockets over
//! one Engine.IO client session, and reconnects it when it drops.
//!
//! Transport inputs go to the `handle_*` methods, as for a bare
//! [`engineio_proto::client::Client`]; [`Manager::poll_output`] yields the engine's IO
//! outputs and Socket.IO [`Event`]s; time goes to [`Manager::handle_timeout`].
//!
//! - Sockets: [`Manager::open_socket`] (with its auth) sends CONNECT whenever a session is
//!   open, again after every reconnection; [`Manager::set_auth`] changes the auth for the
//!   next time.
//! - Emits made while a socket is not connected are buffered and sent, in order, once it
//!   is; volatile ones are dropped instead.
//! - Reconnection: after a session drops (not by [`Manager::close`]), attempts follow the
//!   reference's exponential backoff with jitter; the randomness is an input.

mod backoff;

use engineio_proto::deadline_after;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use engineio_proto::client::{self as engine, Client, ClientConfig, CloseReason};

pub use backoff::Backoff;

use crate::server::AckError;
use crate::{DecodeLimits, Decoder, Namespace, Packet, PacketKind, Payload};

/// Client settings. The defaults are the reference client's.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// The Engine.IO client settings (transports, upgrade, query).
    pub engine: ClientConfig,
    /// Whether to reconnect after the session drops.
    pub reconnection: bool,
    /// How many attempts in a row before giving up; `None` for no limit.
    pub reconnection_attempts: Option<u32>,
    /// Delays between attempts.
    pub backoff: Backoff,
    /// How long a session may take to open (default 20 s).
    pub timeout: Duration,
    /// Retry-until-acked mode (the reference's `retries`): every emit is queued, sent one at
    /// a time with an ack, and sent again after [`ManagerConfig::ack_timeout`] up to this
    /// many more times. `None` (the default) sends emits once.
    pub retries: Option<u32>,
    /// How long each try waits for its ack in retry mode (default 10 s).
    pub ack_timeout: Duration,
    /// Decoder limits.
    pub limits: DecodeLimits,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            engine: ClientConfig { path: "/socket.io/".into(), ..ClientConfig::default() },
            reconnection: true,
            reconnection_attempts: None,
            backoff: Backoff::default(),
            timeout: Duration::from_secs(20),
            retries: None,
            ack_timeout: Duration::from_secs(10),
            limits: DecodeLimits::default(),
        }
    }
}

impl ManagerConfig {
    /// The settings for the server at `url`, on the Socket.IO path `/socket.io/`.
    pub fn for_server(url: &engine::ServerUrl) -> Self {
        let engine = ClientConfig { path: "/socket.io/".into(), ..ClientConfig::for_server(url) };
        ManagerConfig { engine, ..ManagerConfig::default() }
    }
}

/// Uniform randomness in [0, 1), for the backoff's jitter.
pub type Random = Box<dyn FnMut() -> f64 + Send>;

/// Why a socket was disconnected. `Display` gives the reference client's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server disconnected the socket.
    IoServerDisconnect,
    /// The application disconnected it.
    IoClientDisconnect,
    /// The session dropped (the engine's reason).
    Transport(CloseReason),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::IoServerDisconnect => f.write_str("io server disconnect"),
            DisconnectReason::IoClientDisconnect => f.write_str("io client disconnect"),
            DisconnectReason::Transport(CloseReason::TransportError(_)) => f.write_str("transport error"),
            DisconnectReason::Transport(reason) => reason.fmt(f),
        }
    }
}

/// Why a socket could not join its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The server refused it: the CONNECT_ERROR payload (`{"message": .., "data": ..}`).
    Refused(Option<Payload>),
    /// The connection failed before the namespace answered; a reconnection (if on) tries
    /// again.
    Transport(CloseReason),
}

impl ConnectFailure {
    /// What went wrong: the server's `message`, or the transport's reason.
    pub fn message(&self) -> String {
        match self {
            ConnectFailure::Refused(payload) => {
                #[derive(serde::Deserialize)]
                struct Refusal {
                    message: String,
                }
                let refusal = payload.as_ref().and_then(|p| p.deserialize::<Refusal>().ok());
                refusal.map_or_else(|| "refused".to_owned(), |r| r.message)
            }
            ConnectFailure::Transport(reason) => reason.to_string(),
        }
    }

    /// The `data` the server sent with its refusal, if it reads as a `T`.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        #[derive(serde::Deserialize)]
        struct Refusal<T> {
            data: T,
        }
        match self {
            ConnectFailure::Refused(Some(payload)) => {
                payload.deserialize::<Refusal<T>>().ok().map(|r| r.data)
            }
            _ => None,
        }
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A socket joined its namespace; `sid` is its id on the server.
    Connect {
        /// The namespace.
        namespace: Namespace,
        /// The socket id.
        sid: String,
        /// Whether the server restored the socket of before the disconnection (connection
        /// state recovery): same id, rooms and data; the events it missed came first.
        recovered: bool,
    },
    /// A socket could not join its namespace: the server refused it, or the connection
    /// failed first (the reference's `connect_error`).
    ConnectError {
        /// The namespace.
        namespace: Namespace,
        /// Why.
        error: ConnectFailure,
    },
    /// A socket left its namespace.
    Disconnect {
        /// The namespace.
        namespace: Namespace,
        /// Why.
        reason: DisconnectReason,
    },
    /// An event from the server; answer `ack` with [`Manager::ack`].
    Message {
        /// The namespace.
        namespace: Namespace,
        /// `[name, ...args]`.
        payload: Payload,
        /// The ack id the server waits on, if any.
        ack: Option<u64>,
    },
    /// The server answered [`Manager::emit_with_ack`].
    Ack {
        /// The namespace.
        namespace: Namespace,
        /// The id `emit_with_ack` returned.
        id: u64,
        /// The answer's arguments, as an array.
        payload: Payload,
    },
    /// An ack that will never come.
    AckFailed {
        /// The namespace.
        namespace: Namespace,
        /// The id `emit_with_ack` returned.
        id: u64,
        /// Why.
        reason: AckError,
    },
    /// A reconnection attempt starts (1 for the first).
    ReconnectAttempt(u32),
    /// A reconnection attempt succeeded after this many attempts.
    Reconnect(u32),
    /// An attempt failed.
    ReconnectError(CloseReason),
    /// The attempts are exhausted; the manager is closed.
    ReconnectFailed,
}

/// Something for the adapter to do, or for the application to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An IO output of the engine client (never its `Event` variant).
    Io(engine::Output),
    /// An application event.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No socket asked to connect yet: no session.
    Idle,
    /// A session is opening, `attempt` 0 being the first connection.
    Opening {
        attempt: u32,
    },
    Open,
    /// Waiting for the next attempt.
    Waiting {
        attempt: u32,
    },
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    OpenTimeout(u64),
    Reconnect(u64),
    Ack(usize, u64),
}

/// One namespace socket.
#[derive(Debug)]
struct Socket {
    namespace: Namespace,
    auth: Option<Payload>,
    /// Whether it should be connected (opened and not refused or disconnected for good).
    active: bool,
    connected: bool,
    buffer: VecDeque<Packet>,
    next_ack: u64,
    /// Ack ids awaited, with their timers' deadlines.
    acks: HashMap<u64, Option<Instant>>,
    /// Retry mode: emits waiting their turn; the head is the one being tried.
    queue: VecDeque<Queued>,
    /// Connection state recovery: the private id the server gave, and the offset of the
    /// last event received, sent back on the next CONNECT.
    pid: Option<String>,
    offset: Option<String>,
    /// Events received before the CONNECT answer (a recovered socket's missed events),
    /// handed over after it, as the reference client does.
    early: EarlyEvents,
}

/// The events a socket received before its CONNECT answer, the last offset among them, and
/// what they take in memory.
#[derive(Debug, Default)]
struct EarlyEvents {
    events: Vec<(Payload, Option<u64>)>,
    offset: Option<String>,
    bytes: usize,
}

impl EarlyEvents {
    /// Keeps one; `false` past [`EARLY_EVENTS_LIMIT`], when they are all dropped.
    fn push(&mut self, payload: Payload, ack: Option<u64>, offset: Option<String>) -> bool {
        let attachments = payload.attachments().iter().map(|a| a.len() + std::mem::size_of::<bytes::Bytes>());
        let size =
            std::mem::size_of::<(Payload, Option<u64>)>() + payload.json().len() + attachments.sum::<usize>();
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > EARLY_EVENTS_LIMIT {
            *self = EarlyEvents::default();
            return false;
        }
        self.events.push((payload, ack));
        if offset.is_some() {
            self.offset = offset;
        }
        true
    }
}

/// Why a CONNECT answer without an id fails, in the reference client's words.
const NOT_V5: &str = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";

/// The most bytes of events a socket holds before its CONNECT answer. Past it the server is
/// not one to trust (a recovery replays at most the server's log): the session is closed,
/// and the offset still says what the client has, so nothing is skipped on the next try.
pub const EARLY_EVENTS_LIMIT: usize = 64 * 1024 * 1024;

/// An emit of the retry queue.
#[derive(Debug)]
struct Queued {
    payload: Payload,
    /// The id the application waits on, for emits with ack.
    user_ack: Option<u64>,
    tries: u32,
    /// The ack id of the try under way.
    wire: Option<u64>,
}

/// The Socket.IO client state machine. See the [module docs](self).
pub struct Manager {
    config: ManagerConfig,
    random: Random,
    engine: Option<Client>,
    /// Counts sessions, for stale timers and engine ids.
    generation: u64,
    state: State,
    decoder: Decoder,
    sockets: Vec<Socket>,
    timers: BTreeSet<(Instant, Timer)>,
    outputs: VecDeque<Output>,
    /// The time of the latest input.
    now: Instant,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("state", &self.state)
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager that opens its first session once a socket asks to connect
    /// ([`Manager::open_socket`]).
    pub fn new(now: Instant, config: ManagerConfig, random: Random) -> Self {
        let decoder = Decoder::new(config.limits);
        Manager {
            config,
            random,
            engine: None,
            generation: 0,
            state: State::Idle,
            decoder,
            sockets: Vec::new(),
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            now,
        }
    }

    /// The result of an engine [`engine::Output::Http`].
    pub fn handle_response(
        &mut self,
        now: Instant,
        id: engine::RequestId,
        response: Result<(u16, bytes::Bytes), String>,
    ) {
        self.with_engine(now, |engine| engine.handle_response(now, id, response));
    }

    /// A WebSocket of an engine [`engine::Output::WsConnect`] opened.
    pub fn handle_ws_open(&mut self, now: Instant, id: engine::WsId) {
        self.with_engine(now, |engine| engine.handle_ws_open(now, id));
    }

    /// A message on an engine WebSocket.
    pub fn handle_ws_frame(&mut self, now: Instant, id: engine::WsId, frame: engineio_proto::Frame) {
        self.with_engine(now, |engine| engine.handle_ws_frame(now, id, frame));
    }

    /// A batch of an engine [`engine::Output::WsSend`] is written.
    pub fn handle_ws_drained(&mut self, now: Instant, id: engine::WsId) {
        self.with_engine(now, |engine| engine.handle_ws_drained(now, id));
    }

    /// An engine WebSocket closed or failed to open.
    pub fn handle_ws_closed(&mut self, now: Instant, id: engine::WsId) {
        self.with_engine(now, |engine| engine.handle_ws_closed(now, id));
    }

    /// An engine WebSocket received a message over the engine's `max_message`.
    pub fn handle_ws_too_large(&mut self, now: Instant, id: engine::WsId) {
        self.with_engine(now, |engine| engine.handle_ws_too_large(now, id));
    }

    fn with_engine(&mut self, now: Instant, f: impl FnOnce(&mut Client)) {
        self.now = now;
        if let Some(engine) = self.engine.as_mut() {
            f(engine);
        }
        self.drain_engine();
    }

    /// Whether the socket of `namespace` is connected.
    pub fn is_connected(&self, namespace: &Namespace) -> bool {
        self.socket(namespace).is_some_and(|s| s.connected)
    }

    /// Whether the manager gave up (or was closed).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    fn socket(&self, namespace: &Namespace) -> Option<&Socket> {
        self.sockets.iter().find(|s| &s.namespace == namespace)
    }

    fn index(&self, namespace: &Namespace) -> Option<usize> {
        self.sockets.iter().position(|s| &s.namespace == namespace)
    }

    // ---- sockets ----

    /// Opens the socket of `namespace` with `auth`; it connects as soon as a session is open.
    /// A manager that was closed, or gave up, opens a new session for it, as the
    /// reference's `socket.connect()` reopens its manager.
    pub fn open_socket(&mut self, now: Instant, namespace: Namespace, auth: Option<Payload>) {
        self.now = now;
        if matches!(self.state, State::Idle | State::Closed) {
            self.open_session(now, 0);
        }
        let index = self.socket_index(namespace);
        let Some(socket) = self.sockets.get_mut(index) else {
            return;
        };
        // Without one, the auth set last ([`Manager::set_auth`]) stays.
        if auth.is_some() {
            socket.auth = auth;
        }
        if !socket.active {
            socket.active = true;
            if self.state == State::Open {
                self.send_connect(index);
            }
        }
    }

    /// The index of the socket of `namespace`, added (not open) if there is none.
    fn socket_index(&mut self, namespace: Namespace) -> usize {
        match self.index(&namespace) {
            Some(index) => index,
            None => {
                self.sockets.push(Socket {
                    namespace,
                    auth: None,
                    active: false,
                    connected: false,
                    buffer: VecDeque::new(),
                    next_ack: 0,
                    acks: HashMap::new(),
                    queue: VecDeque::new(),
                    pid: None,
                    offset: None,
                    early: EarlyEvents::default(),
                });
                self.sockets.len() - 1
            }
        }
    }

    /// The auth sent on the next CONNECT of `namespace` (for example after a reconnection).
    pub fn set_auth(&mut self, namespace: &Namespace, auth: Option<Payload>) {
        let index = self.socket_index(namespace.clone());
        if let Some(socket) = self.sockets.get_mut(index) {
            socket.auth = auth;
        }
    }

    /// Disconnects the socket of `namespace` (DISCONNECT to the server); it stays so. The
    /// last active socket to go closes the session, as the reference's manager does; a
    /// socket that connects again opens a new one.
    pub fn close_socket(&mut self, namespace: &Namespace) {
        let Some(index) = self.index(namespace) else {
            return;
        };
        let Some(socket) = self.sockets.get_mut(index) else {
            return;
        };
        let was_connected = socket.connected;
        socket.active = false;
        if was_connected {
            let packet = Packet::new(PacketKind::Disconnect, namespace.clone());
            self.send_now(&packet);
        }
        self.socket_down(index, DisconnectReason::IoClientDisconnect, was_connected);
        self.close_if_unused();
    }

    /// Closes every socket and the session; no reconnection follows.
    pub fn close(&mut self) {
        let namespaces: Vec<Namespace> = self.sockets.iter().map(|s| s.namespace.clone()).collect();
        for namespace in namespaces {
            self.close_socket(&namespace);
        }
        self.close_session();
    }

    /// Once no socket is active (each left, was refused or was disconnected by the
    /// server), the session closes: the reference's `Manager._destroy`.
    fn close_if_unused(&mut self) {
        let unused = !self.sockets.iter().any(|socket| socket.active);
        if unused && !matches!(self.state, State::Idle | State::Closed) {
            self.close_session();
        }
    }

    fn close_session(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.close();
        }
        self.drain_engine();
        self.state = State::Closed;
    }

    // ---- emitting ----

    /// Emits an event (a [`Payload::event`]) on `namespace`. Sent now if the socket is
    /// connected; otherwise buffered until it is (see [`Manager::emit_volatile`]).
    pub fn emit(&mut self, namespace: &Namespace, payload: Payload) {
        if self.config.retries.is_some() {
            return self.enqueue(namespace, payload, None);
        }
        self.emit_packet(namespace, Packet::event(namespace.clone(), payload), false);
    }

    /// Emits an event that is dropped rather than buffered when the socket is not
    /// connected or its transport is busy (`socket.volatile.emit`); never retried.
    pub fn emit_volatile(&mut self, namespace: &Namespace, payload: Payload) {
        self.emit_packet(namespace, Packet::event(namespace.clone(), payload), true);
    }

    /// Emits an event that asks for an ack: [`Event::Ack`] comes with the answer, or
    /// [`Event::AckFailed`] after `timeout` (counted from now, connected or not).
    /// Returns the ack id, or `None` if no socket of `namespace` was opened.
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        payload: Payload,
        timeout: Option<Duration>,
    ) -> Option<u64> {
        self.now = now;
        let index = self.index(namespace)?;
        let socket = self.sockets.get_mut(index)?;
        let id = socket.next_ack;
        socket.next_ack += 1;
        if self.config.retries.is_some() {
            self.enqueue(namespace, payload, Some(id));
            return Some(id);
        }
        let deadline = timeout.map(|timeout| deadline_after(now, timeout));
        socket.acks.insert(id, deadline);
        if let Some(deadline) = deadline {
            self.timers.insert((deadline, Timer::Ack(index, id)));
        }
        self.emit_packet(namespace, Packet::event(namespace.clone(), payload).with_ack_id(id), false);
        Some(id)
    }

    /// Stops waiting for ack `id` of `namespace` (its waiter went away): no event will
    /// come for it; the emit itself still goes out. A later answer is ignored.
    pub fn forget_ack(&mut self, namespace: &Namespace, id: u64) {
        if let Some(index) = self.index(namespace) {
            self.settle_ack(index, id);
        }
    }

    /// How many acks are awaited, over every namespace.
    pub fn awaited_acks(&self) -> usize {
        self.sockets.iter().map(|socket| socket.acks.len()).sum()
    }

    /// How many timer entries are queued (open, reconnection and ack deadlines).
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    /// Stops waiting for ack `id` of socket `index`, and its timer; whether it was awaited.
    fn settle_ack(&mut self, index: usize, id: u64) -> bool {
        let Some(deadline) = self.sockets.get_mut(index).and_then(|socket| socket.acks.remove(&id)) else {
            return false;
        };
        if let Some(deadline) = deadline {
            self.timers.remove(&(deadline, Timer::Ack(index, id)));
        }
        true
    }

    /// Answers a server event that carried ack id `id`; `args` is the array of arguments.
    pub fn ack(&mut self, namespace: &Namespace, id: u64, args: Payload) {
        if self.is_connected(namespace) {
            self.send_now(&Packet::ack(namespace.clone(), id, args));
        }
    }

    /// Retry mode: queues an emit and tries the head of the queue.
    fn enqueue(&mut self, namespace: &Namespace, payload: Payload, user_ack: Option<u64>) {
        let Some(index) = self.index(namespace) else {
            return;
        };
        if let Some(socket) = self.sockets.get_mut(index) {
            socket.queue.push_back(Queued { payload, user_ack, tries: 0, wire: None });
        }
        self.try_queue(index);
    }

    /// Sends the head of the retry queue if the socket is connected and no try is under way.
    fn try_queue(&mut self, index: usize) {
        let ack_timeout = self.config.ack_timeout;
        let Some(socket) = self.sockets.get_mut(index) else {
            return;
        };
        if !socket.connected {
            return;
        }
        let wire = socket.next_ack;
        let Some(head) = socket.queue.front_mut().filter(|head| head.wire.is_none()) else {
            return;
        };
        socket.next_ack += 1;
        head.wire = Some(wire);
        head.tries += 1;
        let packet = Packet::event(socket.namespace.clone(), head.payload.clone()).with_ack_id(wire);
        let deadline = deadline_after(self.now, ack_timeout);
        socket.acks.insert(wire, Some(deadline));
        self.timers.insert((deadline, Timer::Ack(index, wire)));
        self.send_now(&packet);
    }

    /// Retry mode: the ack (or the timeout) of try `wire`. Returns whether it was one.
    fn queue_answer(&mut self, index: usize, wire: u64, answer: Option<Payload>) -> bool {
        let retries = self.config.retries.unwrap_or(0);
        let Some(socket) = self.sockets.get_mut(index) else {
            return false;
        };
        if socket.queue.front().and_then(|head| head.wire) != Some(wire) {
            return false;
        }
        let namespace = socket.namespace.clone();
        let done = answer.is_some() || socket.queue.front().is_some_and(|head| head.tries > retries);
        if done {
            let Some(head) = socket.queue.pop_front() else {
                return true;
            };
            if let Some(id) = head.user_ack {
                let event = match answer {
                    Some(payload) => Event::Ack { namespace, id, payload },
                    None => Event::AckFailed { namespace, id, reason: AckError::Timeout },
                };
                self.outputs.push_back(Output::Event(event));
            }
        } else if let Some(head) = socket.queue.front_mut() {
            head.wire = None;
        }
        self.try_queue(index);
        true
    }

    fn emit_packet(&mut self, namespace: &Namespace, packet: Packet, volatile: bool) {
        let Some(index) = self.index(namespace) else {
            return;
        };
        let connected = self.sockets.get(index).is_some_and(|s| s.connected);
        if connected {
            // A volatile packet that would wait for the transport is dropped, as in the
            // reference.
            if volatile && !self.engine.as_ref().is_some_and(Client::is_writable) {
                return;
            }
            self.send_now(&packet);
        } else if !volatile {
            if let Some(socket) = self.sockets.get_mut(index) {
                socket.buffer.push_back(packet);
            }
        }
    }

    /// Hands a packet to the engine session.
    fn send_now(&mut self, packet: &Packet) {
        if let Some(engine) = self.engine.as_mut() {
            for message in packet.to_engine_packets() {
                engine.send(message);
            }
        }
        self.drain_engine();
    }

    fn send_connect(&mut self, index: usize) {
        let Some(socket) = self.sockets.get(index) else {
            return;
        };
        let packet = Packet {
            payload: connect_auth(socket),
            ..Packet::new(PacketKind::Connect, socket.namespace.clone())
        };
        self.send_now(&packet);
    }

    // ---- sessions and reconnection ----

    fn open_session(&mut self, now: Instant, attempt: u32) {
        self.generation += 1;
        let first_id = self.generation << 32;
        self.engine = Some(Client::with_ids_from(self.config.engine.clone(), first_id));
        self.decoder = Decoder::new(self.config.limits);
        self.state = State::Opening { attempt };
        self.timers.insert((deadline_after(now, self.config.timeout), Timer::OpenTimeout(self.generation)));
        self.drain_engine();
    }

    /// The session dropped: disconnect the sockets, then reconnect unless that is over.
    fn session_down(&mut self, reason: CloseReason) {
        let attempt = match self.state {
            State::Opening { attempt } => attempt,
            State::Open => 0,
            State::Idle | State::Waiting { .. } | State::Closed => return,
        };
        if let State::Opening { attempt: 1.. } = self.state {
            self.outputs.push_back(Output::Event(Event::ReconnectError(reason.clone())));
        }
        for index in 0..self.sockets.len() {
            // What came before a CONNECT answer that will not come is asked again.
            if let Some(socket) = self.sockets.get_mut(index) {
                socket.early = EarlyEvents::default();
            }
            match self.sockets.get(index) {
                Some(socket) if socket.connected => {
                    self.socket_down(index, DisconnectReason::Transport(reason.clone()), true);
                }
                Some(socket) if socket.active => {
                    let (namespace, error) =
                        (socket.namespace.clone(), ConnectFailure::Transport(reason.clone()));
                    self.outputs.push_back(Output::Event(Event::ConnectError { namespace, error }));
                }
                _ => {}
            }
        }
        let exhausted = self.config.reconnection_attempts.is_some_and(|max| attempt >= max);
        if !self.config.reconnection || reason == CloseReason::ForcedClose {
            self.state = State::Closed;
        } else if exhausted {
            self.state = State::Closed;
            self.outputs.push_back(Output::Event(Event::ReconnectFailed));
        } else {
            let delay = self.config.backoff.delay(attempt, (self.random)());
            self.state = State::Waiting { attempt: attempt + 1 };
            self.generation += 1;
            self.timers.insert((deadline_after(self.now, delay), Timer::Reconnect(self.generation)));
        }
    }

    /// A socket stopped being connected.
    fn socket_down(&mut self, index: usize, reason: DisconnectReason, was_connected: bool) {
        let Some(socket) = self.sockets.get_mut(index) else {
            return;
        };
        socket.connected = false;
        let namespace = socket.namespace.clone();
        let mut failed: Vec<u64> = if matches!(reason, DisconnectReason::Transport(_)) {
            // As the reference's `_clearAcks`: the answer to a packet that went out on the
            // lost connection will not come (a recovered socket does not get it either).
            // Emits still buffered go out on the next connection and keep theirs, as does
            // a retry-mode try, sent again under a new id.
            let kept: Vec<u64> = socket
                .buffer
                .iter()
                .filter_map(|packet| packet.ack_id)
                .chain(socket.queue.iter().filter_map(|queued| queued.wire))
                .collect();
            let lost: Vec<u64> = socket.acks.keys().copied().filter(|id| !kept.contains(id)).collect();
            for id in &lost {
                if let Some(deadline) = socket.acks.remove(id).flatten() {
                    self.timers.remove(&(deadline, Timer::Ack(index, *id)));
                }
            }
            lost
        } else {
            // For good: every emit waiting on an ack fails, queued ones by their own ids.
            let tries: Vec<u64> = socket.queue.iter().filter_map(|q| q.wire).collect();
            let timers = &mut self.timers;
            let mut ids: Vec<u64> = socket
                .acks
                .drain()
                .map(|(id, deadline)| {
                    if let Some(deadline) = deadline {
                        timers.remove(&(deadline, Timer::Ack(index, id)));
                    }
                    id
                })
                .filter(|id| !tries.contains(id))
                .collect();
            ids.extend(socket.queue.drain(..).filter_map(|q| q.user_ack));
            // An emit whose ack failed is not sent later (if the socket opens again).
            socket.buffer.retain(|packet| packet.ack_id.is_none());
            ids
        };
        failed.sort_unstable();
        if was_connected {
            self.outputs.push_back(Output::Event(Event::Disconnect { namespace: namespace.clone(), reason }));
        }
        for id in failed {
            let event = Event::AckFailed { namespace: namespace.clone(), id, reason: AckError::Disconnected };
            self.outputs.push_back(Output::Event(event));
        }
    }

    /// Pulls the engine's outputs: IO goes out, events are handled.
    fn drain_engine(&mut self) {
        while let Some(output) = self.engine.as_mut().and_then(Client::poll_output) {
            match output {
                engine::Output::Event(event) => self.on_engine_event(event),
                io => self.outputs.push_back(Output::Io(io)),
            }
        }
    }

    fn on_engine_event(&mut self, event: engine::Event) {
        match event {
            engine::Event::Open(_) => {
                if let State::Opening { attempt } = self.state {
                    if attempt > 0 {
                        self.outputs.push_back(Output::Event(Event::Reconnect(attempt)));
                    }
                }
                self.state = State::Open;
                for index in 0..self.sockets.len() {
                    if self.sockets.get(index).is_some_and(|s| s.active && !s.connected) {
                        self.send_connect(index);
                    }
                }
            }
            engine::Event::Message(data) => match self.decoder.feed(data) {
                Ok(Some(packet)) => self.on_packet(packet),
                Ok(None) => {}
                Err(_) => {
                    // As the reference's "parse error": the session ends, and reconnects.
                    if let Some(engine) = self.engine.as_mut() {
                        engine.fail("parse error");
                    }
                }
            },
            engine::Event::Upgraded => {}
            engine::Event::Closed(reason) => self.session_down(reason),
        }
    }

    fn on_packet(&mut self, packet: Packet) {
        let Some(index) = self.index(&packet.namespace) else {
            return;
        };
        let namespace = packet.namespace.clone();
        match packet.kind {
            PacketKind::Connect => {
                let answer = packet.payload.as_ref().and_then(|p| p.deserialize::<serde_json::Value>().ok());
                let field = |name: &str| {
                    answer.as_ref().and_then(|v| v.get(name)).and_then(|s| s.as_str()).map(str::to_owned)
                };
                if !self.sockets.get(index).is_some_and(|socket| socket.active) {
                    return;
                }
                let Some(sid) = field("sid").filter(|sid| !sid.is_empty()) else {
                    // No id: not a server of this protocol version (the reference's words).
                    let refusal = crate::Value::Object(vec![("message".into(), NOT_V5.into())]);
                    let error = ConnectFailure::Refused(Some(Payload::from_value(&refusal)));
                    self.outputs.push_back(Output::Event(Event::ConnectError { namespace, error }));
                    return;
                };
                let pid = field("pid");
                let (buffered, early, recovered) = match self.sockets.get_mut(index) {
                    Some(socket) if socket.active => {
                        socket.connected = true;
                        let recovered = pid.is_some() && socket.pid == pid;
                        socket.pid = pid;
                        let buffered: Vec<Packet> = socket.buffer.drain(..).collect();
                        let early = std::mem::take(&mut socket.early);
                        if early.offset.is_some() {
                            socket.offset = early.offset;
                        }
                        (buffered, early.events, recovered)
                    }
                    _ => return,
                };
                self.outputs.push_back(Output::Event(Event::Connect {
                    namespace: namespace.clone(),
                    sid,
                    recovered,
                }));
                for (payload, ack) in early {
                    let namespace = namespace.clone();
                    self.outputs.push_back(Output::Event(Event::Message { namespace, payload, ack }));
                }
                for packet in buffered {
                    self.send_now(&packet);
                }
                // A try cut by the disconnection goes again, under a new ack id.
                let cut =
                    self.sockets.get_mut(index).and_then(|socket| socket.queue.front_mut()?.wire.take());
                if let Some(old) = cut {
                    self.settle_ack(index, old);
                }
                self.try_queue(index);
            }
            PacketKind::ConnectError => {
                if let Some(socket) = self.sockets.get_mut(index) {
                    socket.active = false;
                }
                let error = ConnectFailure::Refused(packet.payload);
                self.outputs.push_back(Output::Event(Event::ConnectError { namespace, error }));
                self.close_if_unused();
            }
            PacketKind::Disconnect => {
                if let Some(socket) = self.sockets.get_mut(index) {
                    socket.active = false;
                }
                self.socket_down(index, DisconnectReason::IoServerDisconnect, true);
                self.close_if_unused();
            }
            PacketKind::Event => {
                let (Some(mut payload), Some(socket)) = (packet.payload, self.sockets.get_mut(index)) else {
                    return;
                };
                // With recovery on, the server appends an offset to every event without ack
                // id: kept for the next CONNECT, and not handed to the application.
                let mut offset = None;
                if socket.pid.is_some() && packet.ack_id.is_none() {
                    if let Some((args, given)) = payload.split_trailing_string() {
                        offset = Some(given);
                        payload = args;
                    }
                }
                if !socket.connected && socket.active && socket.pid.is_some() {
                    // The offset counts once the event is handed over.
                    if !socket.early.push(payload, packet.ack_id, offset) {
                        if let Some(engine) = self.engine.as_mut() {
                            engine.fail("too many events before the CONNECT answer");
                        }
                    }
                    return;
                }
                if offset.is_some() {
                    socket.offset = offset;
                }
                self.outputs.push_back(Output::Event(Event::Message {
                    namespace,
                    payload,
                    ack: packet.ack_id,
                }));
            }
            PacketKind::Ack => {
                let Some(id) = packet.ack_id else {
                    return;
                };
                if self.settle_ack(index, id) {
                    let payload =
                        packet.payload.unwrap_or_else(|| Payload::from_value(&crate::Value::Array(vec![])));
                    if !self.queue_answer(index, id, Some(payload.clone())) {
                        self.outputs.push_back(Output::Event(Event::Ack { namespace, id, payload }));
                    }
                }
            }
        }
    }

    // ---- driving ----

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.drain_engine();
        self.outputs.pop_front()
    }

    /// Runs the timers due at `now` (the engine's, reconnection, acks).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.with_engine(now, |engine| engine.handle_timeout(now));
        while let Some(&(deadline, timer)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.timers.pop_first();
            self.on_timer(now, timer);
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        self.now = now;
        match timer {
            Timer::OpenTimeout(generation) => {
                if generation == self.generation && matches!(self.state, State::Opening { .. }) {
                    // The session is abandoned: what it still asked of the IO is dropped,
                    // except closing its WebSockets, so that none stays open.
                    if let Some(mut engine) = self.engine.take() {
                        engine.close();
                        let closes = std::iter::from_fn(|| engine.poll_output())
                            .filter(|output| matches!(output, engine::Output::WsClose { .. }));
                        self.outputs.extend(closes.map(Output::Io));
                    }
                    self.outputs.retain(|o| {
                        matches!(o, Output::Event(_) | Output::Io(engine::Output::WsClose { .. }))
                    });
                    self.session_down(CloseReason::TransportError("timeout".into()));
                }
            }
            Timer::Reconnect(generation) => {
                if let (true, State::Waiting { attempt }) = (generation == self.generation, self.state) {
                    self.outputs.push_back(Output::Event(Event::ReconnectAttempt(attempt)));
                    self.open_session(now, attempt);
                }
            }
            Timer::Ack(index, id) => {
                let Some(socket) = self.sockets.get_mut(index) else {
                    return;
                };
                if socket.acks.remove(&id).is_some() {
                    if self.queue_answer(index, id, None) {
                        return;
                    }
                    let Some(socket) = self.sockets.get_mut(index) else {
                        return;
                    };
                    // A timed-out emit still waiting in the buffer is not sent any more.
                    socket.buffer.retain(|p| p.ack_id != Some(id));
                    let namespace = socket.namespace.clone();
                    self.outputs.push_back(Output::Event(Event::AckFailed {
                        namespace,
                        id,
                        reason: AckError::Timeout,
                    }));
                }
            }
        }
    }

    /// When [`Manager::handle_timeout`] should next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let own = self.timers.first().map(|(at, _)| *at);
        let engine = self.engine.as_ref().and_then(Client::poll_timeout);
        [own, engine].into_iter().flatten().min()
    }
}

/// The auth of a CONNECT: the application's, with the `pid` and last offset of connection
/// state recovery when the server gave a `pid` (the application's own keys win, as the
/// reference's `Object.assign({pid, offset}, auth)`).
fn connect_auth(socket: &Socket) -> Option<Payload> {
    let Some(pid) = &socket.pid else {
        return socket.auth.clone();
    };
    let mut members = vec![("pid".to_owned(), crate::Value::String(pid.clone()))];
    if let Some(offset) = &socket.offset {
        members.push(("offset".to_owned(), crate::Value::String(offset.clone())));
    }
    if let Some(crate::Value::Object(own)) = socket.auth.as_ref().and_then(|auth| auth.to_value().ok()) {
        members.retain(|(key, _)| !own.iter().any(|(k, _)| k == key));
        members.extend(own);
    }
    Some(Payload::from_value(&crate::Value::Object(members)))
}

#[cfg(test)]
mod tests {
    use super::{EARLY_EVENTS_LIMIT, EarlyEvents};
    use crate::Payload;

    #[test]
    fn early_events_count_what_they_hold_not_only_their_text() {
        let mut early = EarlyEvents::default();
        let tiny = Payload::from_json(r#"["a"]"#).unwrap();
        assert!(early.push(tiny.clone(), None, Some("1-0".into())));
        assert!(early.bytes >= std::mem::size_of::<Payload>() + 5, "{} bytes", early.bytes);
        // Tiny events reach the limit in as many as it takes them to fill it.
        let each = early.bytes;
        let mut pushed = 1;
        while early.push(tiny.clone(), None, Some(format!("1-{pushed}"))) {
            pushed += 1;
        }
        assert_eq!(pushed, EARLY_EVENTS_LIMIT / each);
        assert!(early.events.is_empty() && early.offset.is_none(), "dropped past the limit");
    }
}
