//! The Socket.IO server as a state machine on top of the Engine.IO one.
//!
//! [`Server`] wraps an [`engineio_proto::server::Server`]: transport inputs go to
//! [`Server::engine`] exactly as for a bare engine (the same runtime adapter drives both,
//! see [`Endpoint`]), and [`Server::poll_output`] yields the engine's IO outputs plus
//! Socket.IO [`Event`]s. The application answers with the methods below: accept or reject
//! a [`Connecting`] socket (after its middleware ran), emit, ack, broadcast, join rooms,
//! disconnect.
//!
//! ```
//! use std::time::Instant;
//! use engineio_proto::server::{Handled, Output, ServerConfig};
//! use socketio_proto::server::{Event, Server, SocketConfig};
//!
//! let mut counter = 0u128;
//! let ids = Box::new(move || { counter += 1; counter });
//! let engine = engineio_proto::server::Server::new(ServerConfig::default(), ids);
//! let mut server = Server::new(engine, SocketConfig::default(), Box::new(|| 7));
//! let now = Instant::now();
//! let (parts, ()) = http::Request::get("/socket.io/?EIO=4&transport=polling").body(()).unwrap().into_parts();
//! let Handled::Incoming(incoming) = server.engine().handle_request(now, &parts, None) else { panic!() };
//! let Handled::Respond(open) = server.engine().accept(now, incoming) else { panic!() };
//! assert!(open.body().starts_with(b"0{"));
//! ```

mod delivered;
pub(crate) mod recovery;
mod rooms;

use engineio_proto::deadline_after;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use engineio_proto::server::{CloseReason, Endpoint, Handshake, Output, SendError, Sid, SidSource};
use engineio_proto::{Frame, IdMap, server as engine};

pub use recovery::{ExternalSession, RecoveryConfig, SessionData};
pub use rooms::{Adapter, MemoryAdapter, Room, Selector};

use delivered::Delivered;
use recovery::Recovery;

use crate::{DecodeLimits, Decoder, Namespace, Packet, PacketKind, Payload};

/// A socket: one client connected to one namespace. Distinct from the engine session id.
///
/// Ours are 127 random bits, written as 22 characters of base64url. A Node server's are 15
/// random bytes written as 20 (`base64id`); a socket id holds those too (marked by the top
/// bit), so a socket made by a Node server of a cluster can be named, and keep its id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Sid);

/// The top bit marks a Node server's id (15 bytes below it).
const NODE_ID: u128 = 1 << 127;

impl SocketId {
    /// Parses either form (ours, 22 characters; a Node server's, 20); `None` for anything
    /// else.
    pub fn parse(text: &str) -> Option<SocketId> {
        use base64::Engine as _;
        if text.len() == 20 {
            let mut bytes = [0u8; 16];
            let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode_slice(text, bytes.get_mut(1..)?)
                .ok()?;
            let id = SocketId(Sid::from_u128(u128::from_be_bytes(bytes) | NODE_ID));
            return (written == 15 && id.to_string() == text).then_some(id);
        }
        Sid::parse(text).filter(|sid| sid.to_u128() & NODE_ID == 0).map(SocketId)
    }
}

impl From<Sid> for SocketId {
    fn from(sid: Sid) -> Self {
        SocketId(sid)
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use base64::Engine as _;
        let bits = self.0.to_u128();
        if bits & NODE_ID == 0 {
            return self.0.fmt(f);
        }
        let bytes = bits.to_be_bytes();
        let mut out = [0u8; 20];
        let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(bytes.get(1..).unwrap_or_default(), &mut out)
            .unwrap_or(0);
        f.write_str(std::str::from_utf8(out.get(..written).unwrap_or_default()).unwrap_or_default())
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({self})")
    }
}

/// Socket.IO settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// How long an engine session may stay without any namespace connected (default 45 s).
    pub connect_timeout: Duration,
    /// Decoder limits.
    pub limits: DecodeLimits,
    /// Connection state recovery, when on (default off).
    pub recovery: Option<RecoveryConfig>,
    /// How many namespaces one client may be connected to, or connecting to, at once
    /// (default 100): a CONNECT past it is refused with `Too many namespaces`.
    pub max_namespaces: usize,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            connect_timeout: Duration::from_secs(45),
            limits: DecodeLimits::default(),
            recovery: None,
            max_namespaces: 100,
        }
    }
}

/// Why a socket left its namespace. `Display` gives the reference's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client sent DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket.
    ServerNamespaceDisconnect,
    /// The client broke the protocol and its session was closed.
    ParseError,
    /// The engine session closed.
    Transport(CloseReason),
    /// The server is shutting down ([`Server::shutdown`]); the client reconnects,
    /// elsewhere if it can.
    ServerShuttingDown,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => f.write_str("client namespace disconnect"),
            DisconnectReason::ServerNamespaceDisconnect => f.write_str("server namespace disconnect"),
            DisconnectReason::ParseError => f.write_str("parse error"),
            DisconnectReason::ServerShuttingDown => f.write_str("server shutting down"),
            DisconnectReason::Transport(reason) => reason.fmt(f),
        }
    }
}

/// Why an emit that asked for an ack got none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckError {
    /// No answer within the timeout.
    Timeout,
    /// The socket disconnected first.
    Disconnected,
}

/// Why an emit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// No such socket (it disconnected).
    #[error("the socket is disconnected")]
    Disconnected,
    /// The client does not read; its session was closed.
    #[error("the client's send buffer is full")]
    BufferFull,
}

/// A client asking to join a namespace. Run the namespace's middleware, then pass this to
/// [`Server::accept`] or [`Server::reject`].
#[must_use]
#[derive(Debug)]
pub struct Connecting {
    sid: Sid,
    namespace: Namespace,
    auth: Option<Payload>,
    handshake: Arc<Handshake>,
    /// The session it restores (its `pid` and last offset), claimed for it.
    claim: Option<Claim>,
}

/// A session a CONNECT claimed.
#[derive(Debug)]
struct Claim {
    pid: String,
    offset: Option<String>,
    /// A session in memory was found and claimed for it (not with an external store).
    verified: bool,
}

/// A connection whose output [`Server::cork`] holds.
#[derive(Debug)]
#[must_use = "a corked connection sends nothing until uncorked"]
pub struct Corked(Sid);

/// What a restored socket gets back besides its id, rooms and missed packets.
pub struct Recovered {
    /// The application's data of the socket, as kept by [`Server::keep_session_data`].
    pub data: Option<SessionData>,
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovered").field("data", &self.data.is_some()).finish()
    }
}

impl Connecting {
    /// The namespace asked for.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The auth payload of the CONNECT packet, if any.
    pub fn auth(&self) -> Option<&Payload> {
        self.auth.as_ref()
    }

    /// The request that opened the engine session (headers, query, address).
    pub fn handshake(&self) -> &Arc<Handshake> {
        &self.handshake
    }

    /// Whether it restores a disconnected socket (connection state recovery: its auth
    /// carried a kept session's `pid` and an offset still logged). The reference skips the
    /// middleware then, by default. Always false with an external store, whose sessions the
    /// application checks ([`Connecting::recovery_request`]).
    pub fn is_recovering(&self) -> bool {
        self.claim.as_ref().is_some_and(|claim| claim.verified)
    }

    /// The `pid` and offset its auth carried, when connection state recovery is on: what to
    /// look for in an external store.
    pub fn recovery_request(&self) -> Option<(&str, Option<&str>)> {
        self.claim.as_ref().map(|claim| (claim.pid.as_str(), claim.offset.as_deref()))
    }
}

/// What the application learns.
#[derive(Debug)]
pub enum Event {
    /// A client asks to join a namespace.
    Connecting(Connecting),
    /// An event from a client; `ack` is set when the client waits for an answer
    /// ([`Server::ack`]). Give `held` to [`Server::handled`] once it is handled: until
    /// then it counts against what its client may have unhandled.
    Message {
        /// The sender.
        socket: SocketId,
        /// `[name, ...args]`.
        payload: Payload,
        /// The ack id to answer, if any.
        ack: Option<u64>,
        /// What the application holds of its client until it is handled.
        held: Held,
    },
    /// The answer to [`Server::emit_with_ack`], or one recipient's answer to
    /// [`Server::broadcast_with_ack`].
    Ack {
        /// The socket that answered.
        socket: SocketId,
        /// The id [`Server::emit_with_ack`] returned.
        id: u64,
        /// The answer's arguments, as an array.
        payload: Payload,
    },
    /// An ack that will never come.
    AckFailed {
        /// The socket that was asked.
        socket: SocketId,
        /// The id [`Server::emit_with_ack`] returned.
        id: u64,
        /// Why.
        reason: AckError,
    },
    /// A room of a namespace got its first socket, or lost its last one (only when
    /// [`Server::watch_rooms`] asked for it: a sharded cluster adapter listens per room).
    Room {
        /// The namespace.
        namespace: Namespace,
        /// The room.
        room: Room,
        /// Whether it now exists (got its first socket) or not (lost its last one).
        exists: bool,
    },
    /// A socket left its namespace. Its rooms, as they were, come with it.
    Disconnected {
        /// The socket.
        socket: SocketId,
        /// Its namespace.
        namespace: Namespace,
        /// Why.
        reason: DisconnectReason,
        /// The rooms it was in.
        rooms: Vec<Room>,
        /// With connection state recovery, when it left for a recoverable reason: its private
        /// id, under which its session is kept (by the server, or by an external store).
        pid: Option<ByteString>,
    },
    /// A dynamic namespace has nothing left: no socket, no client connecting to it, no
    /// session or packet kept for recovery. The server forgot everything it held for it
    /// (as the reference's `cleanupEmptyChildNamespaces`); an adapter forgets its part
    /// (a cluster stops listening to it). A client may open it again.
    NamespaceClosed {
        /// The namespace.
        namespace: Namespace,
    },
}

/// What the application holds of a client while one of its events is being handled
/// ([`Event::Message`]): the event's size, and what waiting for and running its handler
/// costs besides. Past the engine's `max_unhandled_bytes`, nothing more is read from that
/// client until [`Server::handled`] gave enough back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "give it to Server::handled once the event is handled"]
pub struct Held {
    sid: Sid,
    bytes: usize,
}

impl Held {
    fn of(sid: Sid, payload: &Payload) -> Self {
        let attachments: usize = payload.attachments().iter().map(bytes::Bytes::len).sum();
        Held { sid, bytes: payload.json().len() + attachments + engine::HOLD_OVERHEAD }
    }
}

/// One engine session and the sockets it multiplexes.
struct Client {
    handshake: Arc<Handshake>,
    decoder: Decoder,
    sockets: HashMap<Namespace, SocketId>,
    connecting: HashSet<Namespace>,
}

/// One socket.
struct Socket {
    sid: Sid,
    namespace: Namespace,
    /// Its private id, for connection state recovery.
    pid: Option<ByteString>,
    /// Its namespace's log position when it connected (connection state recovery).
    since: u64,
    /// Acks this socket owes, single emits' and broadcasts' alike, with the deadline of a
    /// single emit's timer (a broadcast's timer is its own).
    acks: IdMap<u64, Option<Instant>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Connect(Sid),
    Ack(SocketId, u64),
    BroadcastAck(u64),
}

/// A broadcast that asked for acks: who still owes one.
#[derive(Debug)]
struct PendingBroadcast {
    recipients: Vec<SocketId>,
    remaining: usize,
    deadline: Option<Instant>,
}

/// How far a server-side disconnect goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectScope {
    /// The socket leaves its namespace; its client's other namespaces stay
    /// (`socket.disconnect()`).
    Namespace,
    /// The client's whole connection closes, every namespace with it
    /// (`socket.disconnect(true)`).
    Connection,
}

/// What [`Server::broadcast_with_ack`] sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastAck {
    /// The ack id every recipient answers with (one [`Event::Ack`] or [`Event::AckFailed`]
    /// per recipient).
    pub id: u64,
    /// How many sockets it went to: how many answers or failures will come.
    pub recipients: usize,
}

/// Which namespaces clients may connect to besides `/` and the declared ones.
pub type DynamicNamespaces = Box<dyn Fn(&Namespace) -> bool + Send>;

/// Creates the room adapter of each namespace.
pub type AdapterFactory = Box<dyn Fn(&Namespace) -> Box<dyn Adapter> + Send>;

/// The Socket.IO server state machine. See the [module docs](self).
pub struct Server {
    engine: engine::Server,
    config: SocketConfig,
    ids: SidSource,
    declared: HashSet<Namespace>,
    dynamic: Option<DynamicNamespaces>,
    new_adapter: AdapterFactory,
    adapters: HashMap<Namespace, Box<dyn Adapter>>,
    /// Dynamic namespaces with state, each with how many of its sockets are connected or
    /// connecting; one leaves when it has nothing ([`Event::NamespaceClosed`]).
    dynamic_uses: HashMap<Namespace, usize>,
    clients: IdMap<Sid, Client>,
    sockets: IdMap<SocketId, Socket>,
    /// Ack ids come from one counter, so one id can serve every recipient of a broadcast.
    next_ack: u64,
    broadcast_acks: IdMap<u64, PendingBroadcast>,
    /// Deadlines, removed as soon as what they guard is settled.
    timers: BTreeSet<(Instant, Timer)>,
    /// Whether rooms appearing and disappearing are reported ([`Event::Room`]).
    watch_rooms: bool,
    recovery: Option<Recovery>,
    /// Connected sockets by private id (connection state recovery).
    pids: HashMap<ByteString, SocketId>,
    /// With an external recovery store: the logged events delivered lately, and the
    /// restored sockets catching up.
    delivered: Delivered,
    outputs: VecDeque<Output<Event>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("clients", &self.clients.len())
            .field("sockets", &self.sockets.len())
            .finish()
    }
}

impl Server {
    /// A server on top of `engine`, taking socket ids from `ids`. Only `/` is open until
    /// more namespaces are declared.
    pub fn new(engine: engine::Server, config: SocketConfig, mut ids: SidSource) -> Self {
        let recovery = config
            .recovery
            .filter(|recovery| !recovery.external)
            .map(|recovery| Recovery::new(recovery, ids()));
        Server {
            recovery,
            pids: HashMap::new(),
            delivered: Delivered::default(),
            engine,
            config,
            ids,
            declared: HashSet::new(),
            dynamic: None,
            new_adapter: Box::new(|_| Box::new(MemoryAdapter::default())),
            adapters: HashMap::new(),
            dynamic_uses: HashMap::new(),
            clients: IdMap::default(),
            sockets: IdMap::default(),
            next_ack: 0,
            broadcast_acks: IdMap::default(),
            timers: BTreeSet::new(),
            watch_rooms: false,
            outputs: VecDeque::new(),
        }
    }

    /// The Engine.IO server underneath: transport inputs go here.
    pub fn engine(&mut self) -> &mut engine::Server {
        &mut self.engine
    }

    /// Holds what is sent on the connection of `connecting`, its CONNECT answer among it,
    /// until [`Server::uncork`] with what this returns (whatever became of the socket
    /// meanwhile). An adapter that runs a connection handler elsewhere corks before it
    /// accepts and uncorks once the handler started, so that what the handler does before
    /// its first wait (join rooms) is done when the client learns it is connected, as in
    /// the reference, where that part runs before anything else can happen.
    pub fn cork(&mut self, connecting: &Connecting) -> Corked {
        self.engine.cork(connecting.sid);
        Corked(connecting.sid)
    }

    /// Sends what [`Server::cork`] held.
    pub fn uncork(&mut self, corked: Corked) {
        self.engine.uncork(corked.0);
    }

    /// Opens a namespace.
    pub fn declare(&mut self, namespace: Namespace) {
        self.declared.insert(namespace);
    }

    /// Lets clients connect to any namespace `allow` accepts (dynamic namespaces).
    pub fn allow_dynamic(&mut self, allow: DynamicNamespaces) {
        self.dynamic = Some(allow);
    }

    /// Reports each room's first join and last leave as [`Event::Room`], from now on.
    pub fn watch_rooms(&mut self) {
        self.watch_rooms = true;
    }

    /// Replaces the room adapter for namespaces created from now on.
    pub fn set_adapter(&mut self, factory: AdapterFactory) {
        self.new_adapter = factory;
    }

    /// Whether clients may connect to `namespace`.
    pub fn is_open(&self, namespace: &Namespace) -> bool {
        namespace.is_main()
            || self.declared.contains(namespace)
            || self.dynamic.as_ref().is_some_and(|allow| allow(namespace))
    }

    /// The application is done with an event ([`Event::Message`]): what it held of its
    /// client is given back, and the client is read again once it holds little enough.
    pub fn handled(&mut self, held: Held) {
        self.engine.release(held.sid, held.bytes);
    }

    /// Whether `namespace` is in use: `/`, a declared one, or a dynamic one not closed
    /// ([`Event::NamespaceClosed`]) since a client asked for it.
    pub fn is_active(&self, namespace: &Namespace) -> bool {
        namespace.is_main() || self.declared.contains(namespace) || self.dynamic_uses.contains_key(namespace)
    }

    /// How many dynamic namespaces are in use (see [`Server::is_active`]).
    pub fn dynamic_namespace_count(&self) -> usize {
        self.dynamic_uses.len()
    }

    /// A client begins connecting to `namespace`.
    fn take_namespace(&mut self, namespace: &Namespace) {
        if !namespace.is_main() && !self.declared.contains(namespace) {
            *self.dynamic_uses.entry(namespace.clone()).or_default() += 1;
        }
    }

    /// A client stopped connecting to `namespace`, or its socket left it.
    fn release_namespace(&mut self, namespace: &Namespace) {
        if let Some(uses) = self.dynamic_uses.get_mut(namespace) {
            *uses = uses.saturating_sub(1);
            self.close_if_idle(namespace);
        }
    }

    /// Forgets a dynamic namespace that has nothing left.
    fn close_if_idle(&mut self, namespace: &Namespace) {
        if self.dynamic_uses.get(namespace) != Some(&0)
            || self.recovery.as_ref().is_some_and(|recovery| recovery.holds(namespace))
        {
            return;
        }
        self.dynamic_uses.remove(namespace);
        if self.declared.contains(namespace) {
            // Declared meanwhile: it stays, with its state.
            return;
        }
        self.adapters.remove(namespace);
        self.delivered.forget(namespace);
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.forget(namespace);
        }
        let namespace = namespace.clone();
        self.outputs.push_back(Output::Event(Event::NamespaceClosed { namespace }));
    }

    /// Closes the dynamic namespaces whose recovery logs came to hold nothing.
    fn close_idle_logs(&mut self) {
        let idle = self.recovery.as_mut().map(Recovery::take_idle).unwrap_or_default();
        for namespace in idle {
            self.close_if_idle(&namespace);
        }
    }

    /// How many sockets are connected, across namespaces.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// A socket's namespace.
    pub fn namespace_of(&self, socket: SocketId) -> Option<&Namespace> {
        self.sockets.get(&socket).map(|s| &s.namespace)
    }

    /// The engine session a socket rides on.
    pub fn session_of(&self, socket: SocketId) -> Option<Sid> {
        self.sockets.get(&socket).map(|s| s.sid)
    }

    /// The request that opened a socket's engine session.
    pub fn handshake_of(&self, socket: SocketId) -> Option<&Arc<Handshake>> {
        self.sockets.get(&socket).and_then(|s| self.clients.get(&s.sid)).map(|c| &c.handshake)
    }

    // ---- connecting ----

    /// Lets a connecting client in: it gets its socket id in the CONNECT answer.
    /// `None` when its session closed meanwhile.
    pub fn accept(&mut self, connecting: Connecting) -> Option<SocketId> {
        self.accept_recovering(connecting).map(|(id, _)| id)
    }

    /// [`Server::accept`], which restores the socket when the client recovers its
    /// connection state ([`Connecting::is_recovering`]): the same id and rooms, the packets
    /// it missed sent before the CONNECT answer (as the reference does), and its data
    /// handed back. A session gone meanwhile (expired, or its packets evicted) gives a new
    /// socket, as an unknown one does.
    pub fn accept_recovering(&mut self, connecting: Connecting) -> Option<(SocketId, Option<Recovered>)> {
        let Connecting { sid, namespace, claim, .. } = connecting;
        let connecting =
            self.clients.get_mut(&sid).is_some_and(|client| client.connecting.remove(&namespace));
        let restored = match (claim, self.recovery.as_mut()) {
            (Some(claim), Some(recovery)) if connecting => {
                recovery.restore(&claim.pid, claim.offset.as_deref())
            }
            (Some(claim), Some(recovery)) => {
                recovery.release(&claim.pid);
                None
            }
            _ => None,
        };
        if !connecting {
            return None;
        }
        let (id, pid, since, rooms, missed, recovered): (_, _, _, _, Vec<EncodedPacket>, _) = match restored {
            Some(restored) => {
                let recovered = Recovered { data: restored.data };
                (
                    restored.socket,
                    Some(restored.pid),
                    restored.since,
                    restored.rooms,
                    restored.missed,
                    Some(recovered),
                )
            }
            None => {
                let id = self.new_socket_id();
                let pid = self
                    .config
                    .recovery
                    .is_some()
                    .then(|| ByteString::from(Sid::from_u128((self.ids)()).to_string()));
                let since = self.recovery.as_ref().map_or(0, |recovery| recovery.position(&namespace));
                (id, pid, since, vec![Room::from(id)], Vec::new(), None)
            }
        };
        self.admit(sid, namespace, id, pid, since, rooms, &missed)?;
        Some((id, recovered))
    }

    /// With an external recovery store ([`RecoveryConfig::external`]): lets a connecting
    /// client in as the socket `restored` describes, which the application read from the
    /// store for its [`Connecting::recovery_request`]. The missed packets go first, then the
    /// CONNECT answer, as for a socket restored from memory. `None` when its session closed
    /// meanwhile.
    pub fn accept_restored(&mut self, connecting: Connecting, restored: ExternalSession) -> Option<SocketId> {
        let Connecting { sid, namespace, .. } = connecting;
        if !self.clients.get_mut(&sid).is_some_and(|client| client.connecting.remove(&namespace)) {
            return None;
        }
        let ExternalSession { socket, pid, rooms, missed, through } = restored;
        let mut missed: Vec<EncodedPacket> = missed
            .into_iter()
            .map(|payload| EncodedPacket::new(&Packet::event(namespace.clone(), payload)))
            .collect();
        // What this server delivered since the store was read, which the socket was not
        // there for.
        missed.extend(self.delivered.replay(&namespace, socket, &rooms, &through));
        self.admit(sid, namespace.clone(), socket, Some(ByteString::from(pid)), 0, rooms, &missed)?;
        self.delivered.catch_up(&namespace, socket, &through);
        Some(socket)
    }

    /// The sockets an event logged under `offset` ([`Server::broadcast_at`]) would go to
    /// among those `selector` designates, the restored ones that had it from the store
    /// left out; `offset` `None` for [`Server::broadcast`]. Nothing is sent.
    pub fn recipients(
        &self,
        namespace: &Namespace,
        selector: &Selector,
        offset: Option<&str>,
    ) -> Vec<SocketId> {
        let mut sockets = self.select(namespace, selector);
        if let Some(offset) = offset {
            let held = self.delivered.held_back(namespace, offset);
            if !held.is_empty() {
                sockets.retain(|socket| !held.contains(socket));
            }
        }
        sockets
    }

    /// With an external recovery store: whether this server delivered, in `namespace`,
    /// logged events after `offset` that it no longer keeps (it keeps the latest few
    /// hundred). A session read from the store up to `offset` must then read on before it
    /// is restored: its socket, not there yet, did not get them.
    pub fn lost_after(&self, namespace: &Namespace, offset: &str) -> bool {
        self.delivered.lost_after(namespace, offset)
    }

    /// Makes `id` a socket of `sid` in `namespace`, in `rooms`; sends `missed`, then the
    /// CONNECT answer.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        sid: Sid,
        namespace: Namespace,
        id: SocketId,
        pid: Option<ByteString>,
        since: u64,
        rooms: Vec<Room>,
        missed: &[EncodedPacket],
    ) -> Option<()> {
        self.clients.get_mut(&sid)?.sockets.insert(namespace.clone(), id);
        if let Some(pid) = &pid {
            self.pids.insert(pid.clone(), id);
        }
        let socket =
            Socket { sid, namespace: namespace.clone(), pid: pid.clone(), since, acks: IdMap::default() };
        self.sockets.insert(id, socket);
        for room in rooms {
            self.join_room(&namespace, id, room);
        }
        for packet in missed {
            for frame in packet.frames() {
                self.engine.send_frame(sid, frame).ok()?;
            }
        }
        let payload = match &pid {
            Some(pid) => format!(r#"{{"sid":"{id}","pid":"{pid}"}}"#),
            None => format!(r#"{{"sid":"{id}"}}"#),
        };
        let packet = Packet {
            payload: Some(
                Payload::from_json(payload).unwrap_or_else(|_| Payload::from_value(&crate::Value::Null)),
            ),
            ..Packet::new(PacketKind::Connect, namespace)
        };
        self.send(sid, &packet).ok()
    }

    /// Keeps the application's data of a socket whose session is kept for recovery (call
    /// it on [`Event::Disconnected`]); [`Server::accept_recovering`] hands it back. Nothing
    /// happens for a socket without a kept session.
    pub fn keep_session_data(&mut self, socket: SocketId, data: SessionData) {
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.keep_data(socket, data);
        }
    }

    /// Sessions kept for recovery, and packets logged (both 0 without recovery).
    pub fn recovery_sizes(&self) -> (usize, usize) {
        self.recovery.as_ref().map_or((0, 0), Recovery::sizes)
    }

    /// Refuses a connecting client: CONNECT_ERROR with `message` and optional `data`.
    pub fn reject(&mut self, connecting: Connecting, message: &str, data: Option<&Payload>) {
        let Connecting { sid, namespace, claim, .. } = connecting;
        if let (Some(claim), Some(recovery)) = (claim, self.recovery.as_mut()) {
            recovery.release(&claim.pid);
        }
        let Some(client) = self.clients.get_mut(&sid) else {
            return;
        };
        if client.connecting.remove(&namespace) {
            self.release_namespace(&namespace);
            self.send_connect_error(sid, namespace, message, data);
        }
    }

    fn send_connect_error(&mut self, sid: Sid, namespace: Namespace, message: &str, data: Option<&Payload>) {
        let mut json = Vec::with_capacity(32 + message.len());
        json.extend_from_slice(b"{\"message\":");
        let _ = serde_json::to_writer(&mut json, message);
        if let Some(data) = data {
            json.extend_from_slice(b",\"data\":");
            json.extend_from_slice(data.json().as_bytes());
        }
        json.push(b'}');
        let payload =
            ByteString::try_from(bytes::Bytes::from(json)).ok().and_then(|j| Payload::from_json(j).ok());
        let packet = Packet { payload, ..Packet::new(PacketKind::ConnectError, namespace) };
        let _ = self.send(sid, &packet);
    }

    // ---- emitting ----

    /// Emits an event (a [`Payload::event`]) to one socket. With connection state recovery
    /// it is logged like a broadcast to the socket's own room (as the reference does), so a
    /// socket that is away gets it when it recovers.
    pub fn emit(&mut self, socket: SocketId, payload: Payload) -> Result<(), EmitError> {
        if let Some(recovery) = &self.recovery {
            let namespace =
                self.sockets.get(&socket).map(|s| &s.namespace).or_else(|| recovery.namespace_of(socket));
            let namespace = namespace.ok_or(EmitError::Disconnected)?.clone();
            self.broadcast(&namespace, &Selector::to(socket), payload);
            return Ok(());
        }
        let socket = self.sockets.get(&socket).ok_or(EmitError::Disconnected)?;
        let (sid, packet) = (socket.sid, Packet::event(socket.namespace.clone(), payload));
        self.send(sid, &packet)
    }

    /// Emits an event that asks for an ack; the answer comes as [`Event::Ack`], or
    /// [`Event::AckFailed`] after `timeout` or on disconnect. Returns the ack id.
    pub fn emit_with_ack(
        &mut self,
        now: Instant,
        socket: SocketId,
        payload: Payload,
        timeout: Option<Duration>,
    ) -> Result<u64, EmitError> {
        let id = self.next_ack;
        let state = self.sockets.get_mut(&socket).ok_or(EmitError::Disconnected)?;
        self.next_ack += 1;
        let deadline = timeout.map(|timeout| deadline_after(now, timeout));
        state.acks.insert(id, deadline);
        let (sid, packet) = (state.sid, Packet::event(state.namespace.clone(), payload).with_ack_id(id));
        if let Err(error) = self.send(sid, &packet) {
            self.forget_ack(socket, id);
            return Err(error);
        }
        if let Some(deadline) = deadline {
            self.timers.insert((deadline, Timer::Ack(socket, id)));
        }
        Ok(id)
    }

    /// Answers a client's event that carried ack id `id`; `args` is the array of arguments.
    pub fn ack(&mut self, socket: SocketId, id: u64, args: Payload) -> Result<(), EmitError> {
        let socket = self.sockets.get(&socket).ok_or(EmitError::Disconnected)?;
        let (sid, packet) = (socket.sid, Packet::ack(socket.namespace.clone(), id, args));
        self.send(sid, &packet)
    }

    /// Emits an event to the sockets `selector` designates in `namespace`, encoded once.
    /// A [`Selector::volatile`] one skips clients whose transport cannot take it right now.
    /// Returns the sockets it went to.
    ///
    /// With connection state recovery, the event gets an offset as its last argument and,
    /// unless volatile, is logged for the recipients that are away. A volatile event carries
    /// the offset of the last logged one: received, it says everything before was too (the
    /// transport keeps order), so a client can take every event's last argument as an offset.
    pub fn broadcast(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        payload: Payload,
    ) -> Vec<SocketId> {
        let encoded = match self.recovery.as_mut() {
            Some(recovery) => {
                let offset = recovery.position(namespace);
                let shown = if selector.volatile { offset.saturating_sub(1) } else { offset };
                let payload = payload.with_trailing_string(&recovery.offset_text(shown));
                let encoded = EncodedPacket::new(&Packet::event(namespace.clone(), payload));
                if !selector.volatile {
                    recovery.store(namespace, selector, encoded.clone());
                }
                encoded
            }
            None => {
                // An external store stamps logged events itself (`broadcast_at`).
                let last = self.delivered.last_offset(namespace).filter(|_| selector.volatile);
                let payload = match last {
                    Some(offset) => payload.with_trailing_string(offset),
                    None => payload,
                };
                EncodedPacket::new(&Packet::event(namespace.clone(), payload))
            }
        };
        self.send_to_selection(namespace, selector, &encoded)
    }

    /// With an external recovery store: broadcasts an event the store logged under `offset`
    /// (a stream entry id), which it carries as its last argument. Returns the sockets it
    /// went to: not the restored ones that had it from the store.
    pub fn broadcast_at(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        payload: Payload,
        offset: &str,
    ) -> Vec<SocketId> {
        let encoded =
            EncodedPacket::new(&Packet::event(namespace.clone(), payload.with_trailing_string(offset)));
        // Restored sockets already got the events up to where their store was read.
        let held = self.delivered.record(namespace, offset, selector, &encoded);
        if held.is_empty() {
            return self.send_to_selection(namespace, selector, &encoded);
        }
        let mut selector = selector.clone();
        selector.except.extend(held);
        self.send_to_selection(namespace, &selector, &encoded)
    }

    /// Sends one encoded packet to the designated sockets; returns those it went to (the
    /// selection's own vector, filtered in place: no second allocation per broadcast).
    fn send_to_selection(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        encoded: &EncodedPacket,
    ) -> Vec<SocketId> {
        let volatile = selector.volatile;
        let mut targets = self.select(namespace, selector);
        let (sockets, engine) = (&self.sockets, &mut self.engine);
        targets.retain(|socket| {
            let Some(sid) = sockets.get(socket).map(|s| s.sid) else {
                return false;
            };
            if volatile && !engine.is_writable(sid) {
                return false;
            }
            encoded.frames().all(|frame| engine.send_frame(sid, frame).is_ok())
        });
        targets
    }

    /// Emits an event asking every designated socket for an ack (`emitWithAck` on a
    /// broadcast), encoded once with one ack id, as the reference does. Each recipient's
    /// answer comes as an [`Event::Ack`] with that id; a recipient that disconnects, or has
    /// not answered when `timeout` (if any) passes, comes as an [`Event::AckFailed`].
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        selector: &Selector,
        payload: Payload,
        timeout: Option<Duration>,
    ) -> BroadcastAck {
        let id = self.next_ack;
        self.next_ack += 1;
        let encoded = EncodedPacket::new(&Packet::event(namespace.clone(), payload).with_ack_id(id));
        let recipients = self.send_to_selection(namespace, selector, &encoded);
        for socket in &recipients {
            if let Some(state) = self.sockets.get_mut(socket) {
                state.acks.insert(id, None);
            }
        }
        let count = recipients.len();
        if count > 0 {
            let deadline = timeout.map(|timeout| deadline_after(now, timeout));
            if let Some(deadline) = deadline {
                self.timers.insert((deadline, Timer::BroadcastAck(id)));
            }
            self.broadcast_acks.insert(id, PendingBroadcast { recipients, remaining: count, deadline });
        }
        BroadcastAck { id, recipients: count }
    }

    /// A recipient of broadcast `id` answered or failed: forget the broadcast after the last.
    fn broadcast_answered(&mut self, id: u64) {
        if let Some(pending) = self.broadcast_acks.get_mut(&id) {
            pending.remaining = pending.remaining.saturating_sub(1);
            if pending.remaining == 0 {
                self.forget_broadcast_ack(id);
            }
        }
    }

    /// Stops waiting for ack `id` of `socket` (its waiter went away): no event will come
    /// for it, and its timer is gone. An answer arriving later is ignored.
    pub fn forget_ack(&mut self, socket: SocketId, id: u64) {
        let deadline = self.sockets.get_mut(&socket).and_then(|state| state.acks.remove(&id)).flatten();
        if let Some(deadline) = deadline {
            self.timers.remove(&(deadline, Timer::Ack(socket, id)));
        }
    }

    /// Stops waiting for the answers to broadcast `id` (see [`Server::forget_ack`]).
    pub fn forget_broadcast_ack(&mut self, id: u64) {
        let Some(pending) = self.broadcast_acks.remove(&id) else {
            return;
        };
        if let Some(deadline) = pending.deadline {
            self.timers.remove(&(deadline, Timer::BroadcastAck(id)));
        }
        for socket in pending.recipients {
            if let Some(state) = self.sockets.get_mut(&socket) {
                state.acks.remove(&id);
            }
        }
    }

    /// How many acks are awaited, single emits' and broadcasts' recipients' together.
    pub fn awaited_acks(&self) -> usize {
        self.sockets.values().map(|socket| socket.acks.len()).sum()
    }

    /// How many timer entries are queued (connect, ack and broadcast deadlines).
    pub fn timer_entries(&self) -> usize {
        self.timers.len()
    }

    fn send(&mut self, sid: Sid, packet: &Packet) -> Result<(), EmitError> {
        for frame in EncodedPacket::new(packet).frames() {
            self.engine.send_frame(sid, frame).map_err(|error| match error {
                SendError::Closed => EmitError::Disconnected,
                SendError::BufferFull => EmitError::BufferFull,
            })?;
        }
        Ok(())
    }

    // ---- rooms ----

    fn adapter(&mut self, namespace: &Namespace) -> &mut Box<dyn Adapter> {
        let new_adapter = &self.new_adapter;
        self.adapters.entry(namespace.clone()).or_insert_with(|| new_adapter(namespace))
    }

    /// Adds a socket to a room.
    pub fn join(&mut self, socket: SocketId, room: impl Into<Room>) {
        if let Some(namespace) = self.sockets.get(&socket).map(|s| s.namespace.clone()) {
            self.join_room(&namespace, socket, room.into());
        }
    }

    /// Removes a socket from a room.
    pub fn leave(&mut self, socket: SocketId, room: &str) {
        if let Some(namespace) = self.sockets.get(&socket).map(|s| s.namespace.clone()) {
            self.leave_room(&namespace, socket, room);
        }
    }

    fn join_room(&mut self, namespace: &Namespace, socket: SocketId, room: Room) {
        let watch = self.watch_rooms;
        let adapter = self.adapter(namespace);
        let created = watch && !adapter.has_room(&room);
        adapter.join(socket, room.clone());
        if created {
            self.room_event(namespace, room, true);
        }
    }

    fn leave_room(&mut self, namespace: &Namespace, socket: SocketId, room: &str) {
        let watch = self.watch_rooms;
        let adapter = self.adapter(namespace);
        let existed = watch && adapter.has_room(room);
        adapter.leave(socket, room);
        if existed && !adapter.has_room(room) {
            self.room_event(namespace, Room::from(room), false);
        }
    }

    fn room_event(&mut self, namespace: &Namespace, room: Room, exists: bool) {
        let namespace = namespace.clone();
        self.outputs.push_back(Output::Event(Event::Room { namespace, room, exists }));
    }

    /// The rooms a socket is in.
    pub fn rooms(&self, socket: SocketId) -> Vec<Room> {
        self.sockets
            .get(&socket)
            .and_then(|s| self.adapters.get(&s.namespace))
            .map(|adapter| adapter.rooms(socket))
            .unwrap_or_default()
    }

    /// Every room of `namespace` with a socket in it (`allRooms`).
    pub fn all_rooms(&self, namespace: &Namespace) -> Vec<Room> {
        self.adapters.get(namespace).map(|adapter| adapter.all_rooms()).unwrap_or_default()
    }

    /// The sockets `selector` designates in `namespace` (`fetchSockets`).
    pub fn select(&self, namespace: &Namespace, selector: &Selector) -> Vec<SocketId> {
        self.adapters.get(namespace).map(|adapter| adapter.select(selector)).unwrap_or_default()
    }

    /// Adds the designated sockets to `room` (`socketsJoin`).
    pub fn sockets_join(&mut self, namespace: &Namespace, selector: &Selector, room: impl Into<Room>) {
        let room = room.into();
        for socket in self.select(namespace, selector) {
            self.join_room(namespace, socket, room.clone());
        }
    }

    /// Removes the designated sockets from `room` (`socketsLeave`).
    pub fn sockets_leave(&mut self, namespace: &Namespace, selector: &Selector, room: &str) {
        for socket in self.select(namespace, selector) {
            self.leave_room(namespace, socket, room);
        }
    }

    /// Disconnects the designated sockets (`disconnectSockets`).
    pub fn disconnect_sockets(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        selector: &Selector,
        scope: DisconnectScope,
    ) {
        for socket in self.select(namespace, selector) {
            self.disconnect(now, socket, scope);
        }
    }

    // ---- disconnecting ----

    /// Begins shutting down, as the reference's `io.close()`: every socket is disconnected
    /// with [`DisconnectReason::ServerShuttingDown`] without a DISCONNECT packet (which would
    /// stop the client's reconnection), then every engine session flushes what it has and
    /// closes, and new handshakes get 503. Done when the engine's session count is 0.
    pub fn shutdown(&mut self, now: Instant) {
        let sockets: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in sockets {
            self.remove_socket(socket, DisconnectReason::ServerShuttingDown);
        }
        self.clients.clear();
        self.engine.shutdown(now);
    }

    /// Disconnects a socket from its namespace (the client gets DISCONNECT); with
    /// [`DisconnectScope::Connection`], every socket of its client is disconnected and the
    /// engine session closes too.
    pub fn disconnect(&mut self, now: Instant, socket: SocketId, scope: DisconnectScope) {
        let Some(sid) = self.sockets.get(&socket).map(|s| s.sid) else {
            return;
        };
        let close = scope == DisconnectScope::Connection;
        let sockets: Vec<SocketId> = if close {
            self.clients.get(&sid).map(|c| c.sockets.values().copied().collect()).unwrap_or_default()
        } else {
            vec![socket]
        };
        for socket in sockets {
            if let Some(namespace) = self.sockets.get(&socket).map(|s| s.namespace.clone()) {
                let _ = self.send(sid, &Packet::new(PacketKind::Disconnect, namespace));
                self.remove_socket(socket, DisconnectReason::ServerNamespaceDisconnect);
            }
        }
        if close {
            self.clients.remove(&sid);
            self.engine.close(now, sid);
        }
    }

    /// Forgets a socket and reports it, with its rooms.
    fn remove_socket(&mut self, socket: SocketId, reason: DisconnectReason) {
        let Some(state) = self.sockets.remove(&socket) else {
            return;
        };
        if let Some(client) = self.clients.get_mut(&state.sid) {
            client.sockets.remove(&state.namespace);
        }
        let rooms = self.adapters.get_mut(&state.namespace).map(|a| a.leave_all(socket)).unwrap_or_default();
        if let Some(pid) = &state.pid {
            self.pids.remove(pid);
        }
        self.delivered.remove(&state.namespace, socket);
        if let (Some(recovery), Some(pid), true) =
            (self.recovery.as_mut(), &state.pid, reason.is_recoverable())
        {
            recovery.persist(pid.clone(), socket, state.namespace.clone(), rooms.clone(), state.since);
        }
        self.close_idle_logs();
        if self.watch_rooms {
            let adapter = self.adapters.get(&state.namespace);
            let gone: Vec<Room> =
                rooms.iter().filter(|room| !adapter.is_some_and(|a| a.has_room(room))).cloned().collect();
            for room in gone {
                self.room_event(&state.namespace, room, false);
            }
        }
        let mut acks: Vec<(u64, Option<Instant>)> = state.acks.into_iter().collect();
        acks.sort_unstable();
        for (id, deadline) in acks {
            if let Some(deadline) = deadline {
                self.timers.remove(&(deadline, Timer::Ack(socket, id)));
            }
            self.broadcast_answered(id);
            self.outputs.push_back(Output::Event(Event::AckFailed {
                socket,
                id,
                reason: AckError::Disconnected,
            }));
        }
        // The session to keep, with an external store.
        let pid = state.pid.filter(|_| reason.is_recoverable());
        self.outputs.push_back(Output::Event(Event::Disconnected {
            socket,
            namespace: state.namespace.clone(),
            reason,
            rooms,
            pid,
        }));
        self.release_namespace(&state.namespace);
    }

    /// Drops a client and its sockets.
    fn remove_client(&mut self, sid: Sid, reason: DisconnectReason) {
        if let Some(client) = self.clients.remove(&sid) {
            for namespace in &client.connecting {
                self.release_namespace(namespace);
            }
            let mut sockets: Vec<SocketId> = client.sockets.into_values().collect();
            sockets.sort_unstable();
            for socket in sockets {
                self.remove_socket(socket, reason);
            }
        }
    }

    /// A client broke the protocol: its session closes at once.
    fn protocol_error(&mut self, sid: Sid) {
        self.remove_client(sid, DisconnectReason::ParseError);
        self.engine.close_now(sid, CloseReason::ParseError);
    }

    // ---- engine events ----

    fn on_engine_event(&mut self, event: engine::Event) {
        match event {
            engine::Event::Opened { sid, handshake } => {
                let deadline = deadline_after(handshake.at, self.config.connect_timeout);
                if let Some(recovery) = self.recovery.as_mut() {
                    recovery.observe(handshake.at);
                }
                self.clients.insert(
                    sid,
                    Client {
                        handshake: Arc::from(handshake),
                        decoder: Decoder::new(self.config.limits),
                        sockets: HashMap::new(),
                        connecting: HashSet::new(),
                    },
                );
                self.timers.insert((deadline, Timer::Connect(sid)));
            }
            engine::Event::Message { sid, data } => {
                let Some(client) = self.clients.get_mut(&sid) else {
                    return;
                };
                match client.decoder.feed(data) {
                    Ok(Some(packet)) => self.on_packet(sid, packet),
                    Ok(None) => {}
                    Err(_) => self.protocol_error(sid),
                }
            }
            engine::Event::Upgraded { .. } => {}
            engine::Event::Closed { sid, reason } => {
                self.remove_client(sid, DisconnectReason::Transport(reason))
            }
        }
    }

    fn on_packet(&mut self, sid: Sid, packet: Packet) {
        let Some(client) = self.clients.get_mut(&sid) else {
            return;
        };
        let namespace = packet.namespace;
        if packet.kind == PacketKind::Connect {
            if client.sockets.contains_key(&namespace) || client.connecting.contains(&namespace) {
                // A duplicate CONNECT.
                return self.protocol_error(sid);
            }
            if client.sockets.len() + client.connecting.len() >= self.config.max_namespaces {
                return self.send_connect_error(sid, namespace, "Too many namespaces", None);
            }
            if !self.is_open(&namespace) {
                return self.send_connect_error(sid, namespace, "Invalid namespace", None);
            }
            let Some(client) = self.clients.get_mut(&sid) else {
                return;
            };
            client.connecting.insert(namespace.clone());
            let handshake = client.handshake.clone();
            self.take_namespace(&namespace);
            let claim = self.claim(sid, &namespace, packet.payload.as_ref());
            let connecting = Connecting { sid, namespace, auth: packet.payload, handshake, claim };
            self.outputs.push_back(Output::Event(Event::Connecting(connecting)));
            return;
        }
        let Some(&socket) = client.sockets.get(&namespace) else {
            // Anything but CONNECT before CONNECT, or a CONNECT_ERROR from a client.
            return self.protocol_error(sid);
        };
        match packet.kind {
            PacketKind::Disconnect => self.remove_socket(socket, DisconnectReason::ClientNamespaceDisconnect),
            PacketKind::Event => {
                if let Some(payload) = packet.payload {
                    let held = Held::of(sid, &payload);
                    self.engine.hold(sid, held.bytes);
                    self.outputs.push_back(Output::Event(Event::Message {
                        socket,
                        payload,
                        ack: packet.ack_id,
                        held,
                    }));
                }
            }
            PacketKind::Ack => {
                let owed = packet.ack_id.and_then(|id| {
                    let deadline = self.sockets.get_mut(&socket)?.acks.remove(&id)?;
                    Some((id, deadline))
                });
                if let Some((id, deadline)) = owed {
                    if let Some(deadline) = deadline {
                        self.timers.remove(&(deadline, Timer::Ack(socket, id)));
                    }
                    self.broadcast_answered(id);
                    let payload =
                        packet.payload.unwrap_or_else(|| Payload::from_value(&crate::Value::Array(vec![])));
                    self.outputs.push_back(Output::Event(Event::Ack { socket, id, payload }));
                }
            }
            PacketKind::Connect | PacketKind::ConnectError => self.protocol_error(sid),
        }
    }

    /// The kept session a CONNECT's auth (`{pid, offset, ...}`) restores, claimed for it.
    ///
    /// A client may come back before the server noticed it left (a dropped long-poll, a
    /// silent network): its socket is still connected, on another engine session. The
    /// `pid` proves the client owns it, so that session closes as a transport close would
    /// and the socket's session is restored (the reference gives a new socket until the
    /// old one times out).
    fn claim(&mut self, sid: Sid, namespace: &Namespace, auth: Option<&Payload>) -> Option<Claim> {
        #[derive(serde::Deserialize)]
        struct Auth {
            pid: Option<String>,
            offset: Option<String>,
        }
        self.config.recovery?;
        let auth: Auth = auth?.deserialize().ok()?;
        let pid = auth.pid?;
        let stale = self.pids.get(pid.as_str()).and_then(|socket| self.sockets.get(socket));
        if let Some(stale) = stale.filter(|s| s.sid != sid && &s.namespace == namespace).map(|s| s.sid) {
            self.remove_client(stale, DisconnectReason::Transport(CloseReason::TransportClose));
            self.engine.close_now(stale, CloseReason::TransportClose);
        }
        let Some(recovery) = self.recovery.as_mut() else {
            // An external store: the application looks.
            return Some(Claim { pid, offset: auth.offset, verified: false });
        };
        let verified = recovery.claim(namespace, &pid, auth.offset.as_deref());
        verified.then_some(Claim { pid, offset: auth.offset, verified })
    }

    fn new_socket_id(&mut self) -> SocketId {
        loop {
            // Ours never carry the mark of a Node server's id.
            let id = SocketId(Sid::from_u128((self.ids)() & !NODE_ID));
            if !self.sockets.contains_key(&id) {
                return id;
            }
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Connect(sid) => {
                let idle = self.clients.get(&sid).is_some_and(|c| c.sockets.is_empty());
                if idle {
                    self.clients.remove(&sid);
                    self.engine.close(now, sid);
                }
            }
            Timer::BroadcastAck(id) => {
                let Some(pending) = self.broadcast_acks.remove(&id) else {
                    return;
                };
                for socket in pending.recipients {
                    if self.sockets.get_mut(&socket).is_some_and(|s| s.acks.remove(&id).is_some()) {
                        self.outputs.push_back(Output::Event(Event::AckFailed {
                            socket,
                            id,
                            reason: AckError::Timeout,
                        }));
                    }
                }
            }
            Timer::Ack(socket, id) => {
                if self.sockets.get_mut(&socket).is_some_and(|s| s.acks.remove(&id).is_some()) {
                    self.outputs.push_back(Output::Event(Event::AckFailed {
                        socket,
                        id,
                        reason: AckError::Timeout,
                    }));
                }
            }
        }
    }
}

impl Endpoint for Server {
    type Event = Event;

    fn shutdown(&mut self, now: Instant) {
        Server::shutdown(self, now);
    }

    fn engine(&mut self) -> &mut engine::Server {
        &mut self.engine
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        loop {
            if let Some(output) = self.outputs.pop_front() {
                return Some(output);
            }
            match self.engine.poll_output()?.into_io() {
                Ok(io) => return Some(io),
                Err(event) => self.on_engine_event(event),
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.handle_timeout(now);
        }
        self.close_idle_logs();
        while let Some(&(deadline, timer)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.timers.pop_first();
            self.on_timer(now, timer);
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let own = self.timers.first().map(|(deadline, _)| *deadline);
        let recovery = self.recovery.as_ref().and_then(Recovery::poll_timeout);
        [self.engine.poll_timeout(), own, recovery].into_iter().flatten().min()
    }
}

/// A packet encoded for Engine.IO: its text frame (`4` + the packet text) and its binary
/// attachments. Built once, it can go to any number of sessions: frames are shared buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPacket {
    /// The text frame.
    pub text: ByteString,
    /// The attachments, one binary frame each.
    pub attachments: Vec<bytes::Bytes>,
}

impl EncodedPacket {
    /// Encodes `packet`.
    pub fn new(packet: &Packet) -> Self {
        EncodedPacket { text: packet.to_text_with_prefix("4"), attachments: packet.attachments().to_vec() }
    }

    /// The frames to send, in order.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(Frame::Text(self.text.clone()))
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }
}
