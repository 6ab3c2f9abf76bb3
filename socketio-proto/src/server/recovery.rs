//! Connection state recovery: what a server keeps so that a client back from a short
//! network drop gets its socket again (same id, rooms and data) and every packet it missed,
//! in order.
//!
//! Each broadcast that may be stored (an event without ack id, not volatile) gets an
//! offset, appended as its last argument, and is kept in its namespace's log. A socket that
//! leaves for a reason a network drop gives (see [`DisconnectReason::is_recoverable`]) is
//! kept as a session under its private id (`pid`), with its rooms, for
//! [`RecoveryConfig::max_disconnection_duration`]. A CONNECT whose auth carries that `pid`
//! and the last offset the client got restores it, with the logged packets after that offset
//! which its rooms select.
//!
//! Memory is bounded: packets and sessions expire after the same duration, and each log and
//! the session table have a cap. A session whose offset fell out of the log is not
//! restored (the client gets a new socket and knows it, `recovered` false) rather than
//! restored with a gap.

use std::any::Any;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use engineio_proto::IdMap;
use engineio_proto::deadline_after;

use super::{DisconnectReason, EncodedPacket, Room, Selector, SocketId};
use crate::Namespace;
use engineio_proto::server::CloseReason;

/// Settings of connection state recovery (`connectionStateRecovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's session and the packets it may miss are kept
    /// (`maxDisconnectionDuration`, default 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a restored socket skips the namespace's middleware (`skipMiddlewares`,
    /// default true). The server state machine only reports it; the application runs them.
    pub skip_middlewares: bool,
    /// The most packets kept per namespace (default 10 000, as the streams adapter's
    /// `maxLen`). Past it the oldest go, and a session that needed them is not restored.
    pub max_packets: usize,
    /// The most sessions kept (default 100 000); past it the oldest go.
    pub max_sessions: usize,
    /// Sessions and missed packets are kept outside the server (a cluster's Redis stream;
    /// default false): the server keeps no log, stamps the offsets it is given
    /// ([`Server::broadcast_at`](super::Server::broadcast_at)), reports the sessions to keep
    /// (the `pid` of [`Event::Disconnected`](super::Event::Disconnected)), and restores those
    /// the application read back ([`Server::accept_restored`](super::Server::accept_restored)).
    /// `socketio-runtime` sets it itself: on with the streams adapter, off otherwise.
    pub external: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_sessions: 100_000,
            external: false,
        }
    }
}

/// The application's own state of a socket (its `data`), kept with its session. Opaque to
/// the state machine.
pub type SessionData = Box<dyn Any + Send>;

impl DisconnectReason {
    /// Whether a network drop may have caused it, so the socket's session is kept
    /// (the reference's `RECOVERABLE_DISCONNECT_REASONS`).
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            DisconnectReason::ServerShuttingDown
                | DisconnectReason::Transport(
                    CloseReason::TransportClose
                        | CloseReason::TransportError
                        | CloseReason::PingTimeout
                        | CloseReason::ForcedClose
                )
        )
    }
}

/// One logged packet.
struct Stored {
    offset: u64,
    /// When it was logged; `None` until the next [`Recovery::handle_timeout`].
    at: Option<Instant>,
    /// Whom it was for.
    selector: Selector,
    packet: EncodedPacket,
}

/// A namespace's log: offsets increase by one from `first`. They start at 1: offset 0 is
/// "before anything", which a volatile event carries when nothing was logged yet.
struct Log {
    packets: VecDeque<Stored>,
    /// The offset the next packet gets.
    next: u64,
    /// How many sessions of the namespace are kept.
    sessions: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log { packets: VecDeque::new(), next: 1, sessions: 0 }
    }
}

impl Log {
    /// The offset of the oldest packet still logged (`next` when empty).
    fn first(&self) -> u64 {
        self.packets.front().map_or(self.next, |p| p.offset)
    }

    /// Whether it holds nothing: no packet, no session.
    fn is_idle(&self) -> bool {
        self.packets.is_empty() && self.sessions == 0
    }
}

/// A disconnected socket, waiting for its client.
struct Session {
    socket: SocketId,
    namespace: Namespace,
    rooms: Vec<Room>,
    data: Option<SessionData>,
    /// The log position when the socket connected: a client that got no offset yet missed
    /// everything from there.
    since: u64,
    /// When it expires; `None` until the next [`Recovery::handle_timeout`].
    expires: Option<Instant>,
    /// A CONNECT claimed it and waits for the application's verdict.
    claimed: bool,
}

/// A socket read back from an external recovery store, for
/// [`Server::accept_restored`](super::Server::accept_restored).
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalSession {
    /// Its id, as before (a Node server's too: [`SocketId::parse`]).
    pub socket: SocketId,
    /// Its private id, as before.
    pub pid: String,
    /// Its rooms, as before (its own id among them).
    pub rooms: Vec<Room>,
    /// The events it missed, in order, each with its offset as last argument.
    pub missed: Vec<crate::Payload>,
    /// The offset the store was read up to (the last missed event's, or the client's own
    /// when it missed nothing). The server may still have logged events up to it to
    /// deliver; the restored socket does not get those again, as they are among `missed`.
    /// The events after it that the server already delivered, it replays; before restoring,
    /// check that it still keeps them ([`Server::lost_after`](super::Server::lost_after)).
    pub through: String,
}

/// The order of an external store's offsets, which are stream entry ids (`<ms>-<seq>`);
/// `None` for anything else.
pub(crate) fn offset_order(offset: &str) -> Option<(u64, u64)> {
    let number = |part: &str| match part.bytes().all(|b| b.is_ascii_digit()) {
        true => part.parse().ok(),
        false => None,
    };
    let (ms, seq) = offset.split_once('-')?;
    Some((number(ms)?, number(seq)?))
}

/// A restored socket, as [`super::Server::accept_recovering`] hands it over.
pub(crate) struct Restored {
    /// Its id, as before.
    pub(crate) socket: SocketId,
    /// Its private id, as before.
    pub(crate) pid: ByteString,
    /// Its rooms, as before (its own id among them).
    pub(crate) rooms: Vec<Room>,
    /// Its data, when the application kept it ([`super::Server::keep_session_data`]).
    pub(crate) data: Option<SessionData>,
    /// The packets it missed, in order.
    pub(crate) missed: Vec<EncodedPacket>,
    /// Its log position from now on.
    pub(crate) since: u64,
}

/// The recovery state of a server.
pub(crate) struct Recovery {
    pub(crate) config: RecoveryConfig,
    logs: HashMap<Namespace, Log>,
    sessions: HashMap<ByteString, Session>,
    /// Sessions by socket id, for emits to a socket that is away.
    by_socket: IdMap<SocketId, ByteString>,
    /// Session expiries, by deadline.
    expiries: BTreeSet<(Instant, ByteString)>,
    /// Namespaces with packets, and sessions, waiting for their time stamp (each stamped
    /// once: the cost of a stamp is what it stamps, not what is kept).
    unstamped_logs: Vec<Namespace>,
    unstamped_sessions: Vec<ByteString>,
    /// Namespaces whose logs came to hold nothing since [`Recovery::take_idle`].
    idle: Vec<Namespace>,
    /// The latest time seen.
    clock: Option<Instant>,
    /// Begins every offset of this server: a string that merely looks like an offset, or
    /// one from another server, is not taken for one.
    epoch: String,
}

/// The offset alphabet: URL-safe characters, as the reference's offsets.
const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// Digits of `value` in the offset alphabet, most significant first.
fn digits(mut offset: u64) -> Vec<u8> {
    let mut digits = Vec::with_capacity(11);
    loop {
        digits.push(ALPHABET.get(usize::try_from(offset % 64).unwrap_or(0)).copied().unwrap_or(b'0'));
        offset /= 64;
        if offset == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// The offset a client sent back, without the epoch; `None` when it is not one of ours.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 11 {
        return None;
    }
    text.bytes().try_fold(0u64, |offset, c| {
        let digit = ALPHABET.iter().position(|&a| a == c)?;
        offset.checked_mul(64)?.checked_add(u64::try_from(digit).ok()?)
    })
}

impl Recovery {
    /// Recovery with `config`; `random` makes the epoch (4 characters).
    pub(crate) fn new(config: RecoveryConfig, random: u128) -> Self {
        let epoch = digits(u64::try_from(random % (1 << 24)).unwrap_or(0) | (1 << 24));
        Recovery {
            epoch: String::from_utf8(epoch.get(1..).unwrap_or_default().to_vec()).unwrap_or_default(),
            config,
            logs: HashMap::new(),
            sessions: HashMap::new(),
            by_socket: IdMap::default(),
            expiries: BTreeSet::new(),
            unstamped_logs: Vec::new(),
            unstamped_sessions: Vec::new(),
            idle: Vec::new(),
            clock: None,
        }
    }

    /// An offset as the client sees it: the epoch, then the number.
    pub(crate) fn offset_text(&self, offset: u64) -> String {
        let mut text = self.epoch.clone();
        text.push_str(std::str::from_utf8(&digits(offset)).unwrap_or_default());
        text
    }

    fn parse_offset(&self, text: &str) -> Option<u64> {
        parse_digits(text.strip_prefix(self.epoch.as_str())?)
    }

    /// The next packet's offset in `namespace`: a new socket's log position.
    pub(crate) fn position(&self, namespace: &Namespace) -> u64 {
        self.logs.get(namespace).map_or(1, |log| log.next)
    }

    /// Logs `packet` (which carries offset [`Recovery::position`]) for `selector`.
    pub(crate) fn store(&mut self, namespace: &Namespace, selector: &Selector, packet: EncodedPacket) {
        let max = self.config.max_packets.max(1);
        let log = self.logs.entry(namespace.clone()).or_default();
        log.packets.push_back(Stored { offset: log.next, at: None, selector: selector.clone(), packet });
        log.next += 1;
        while log.packets.len() > max {
            log.packets.pop_front();
        }
        if !self.unstamped_logs.contains(namespace) {
            self.unstamped_logs.push(namespace.clone());
        }
    }

    /// Keeps the session of a socket that left for `reason`, if recoverable.
    pub(crate) fn persist(
        &mut self,
        pid: ByteString,
        socket: SocketId,
        namespace: Namespace,
        rooms: Vec<Room>,
        since: u64,
    ) {
        while self.sessions.len() >= self.config.max_sessions.max(1) {
            let Some(oldest) = self.oldest_session() else {
                break;
            };
            self.remove_session(&oldest);
        }
        self.remove_session(&pid);
        self.by_socket.insert(socket, pid.clone());
        self.logs.entry(namespace.clone()).or_default().sessions += 1;
        let session = Session { socket, namespace, rooms, data: None, since, expires: None, claimed: false };
        self.sessions.insert(pid.clone(), session);
        self.unstamped_sessions.push(pid);
    }

    /// The oldest session: the first to expire, or one not yet stamped.
    fn oldest_session(&self) -> Option<ByteString> {
        match self.expiries.first() {
            Some((_, pid)) => Some(pid.clone()),
            None => self.sessions.keys().next().cloned(),
        }
    }

    fn remove_session(&mut self, pid: &str) -> Option<Session> {
        let session = self.sessions.remove(pid)?;
        if let Some(expires) = session.expires {
            self.expiries.remove(&(expires, ByteString::from(pid)));
        }
        self.by_socket.remove(&session.socket);
        if let Some(log) = self.logs.get_mut(&session.namespace) {
            log.sessions = log.sessions.saturating_sub(1);
            if log.is_idle() {
                self.idle.push(session.namespace.clone());
            }
        }
        Some(session)
    }

    /// Whether the log of `namespace` holds a packet or a session.
    pub(crate) fn holds(&self, namespace: &Namespace) -> bool {
        self.logs.get(namespace).is_some_and(|log| !log.is_idle())
    }

    /// Forgets the log of `namespace` if it holds nothing (its offsets start again at 1:
    /// no socket can be restored in it any more, none being connected or kept).
    pub(crate) fn forget(&mut self, namespace: &Namespace) {
        if self.logs.get(namespace).is_some_and(Log::is_idle) {
            self.logs.remove(namespace);
            self.unstamped_logs.retain(|ns| ns != namespace);
        }
    }

    /// The namespaces whose logs came to hold nothing since the last call (packets
    /// expired, sessions expired or taken).
    pub(crate) fn take_idle(&mut self) -> Vec<Namespace> {
        std::mem::take(&mut self.idle)
    }

    /// The application's data of a socket whose session is kept.
    pub(crate) fn keep_data(&mut self, socket: SocketId, data: SessionData) {
        if let Some(session) = self.by_socket.get(&socket).and_then(|pid| self.sessions.get_mut(pid)) {
            session.data = Some(data);
        }
    }

    /// The namespace of a socket that is away, if its session is kept.
    pub(crate) fn namespace_of(&self, socket: SocketId) -> Option<&Namespace> {
        let pid = self.by_socket.get(&socket)?;
        self.sessions.get(pid).map(|session| &session.namespace)
    }

    /// Whether a CONNECT to `namespace` with `pid` and `offset` can restore a session: if
    /// so it is claimed (no other CONNECT may take it) until [`Recovery::restore`] or
    /// [`Recovery::release`].
    pub(crate) fn claim(&mut self, namespace: &Namespace, pid: &str, offset: Option<&str>) -> bool {
        let Some(session) = self.sessions.get(pid) else {
            return false;
        };
        if session.claimed || &session.namespace != namespace {
            return false;
        }
        let from = match offset {
            Some(offset) => self.parse_offset(offset),
            None => Some(session.since),
        };
        let log = self.logs.get(namespace);
        let (first, next) = log.map_or((1, 1), |log| (log.first(), log.next));
        let valid = from.is_some_and(|from| match offset {
            // The offset's own packet is still there (or it is the one before the first).
            Some(_) => from + 1 >= first && from < next,
            None => from >= first && from <= next,
        });
        if !valid {
            return false;
        }
        if let Some(session) = self.sessions.get_mut(pid) {
            session.claimed = true;
        }
        true
    }

    /// A claim that will not be restored (rejected, or its client left): the session is
    /// dropped, as the reference consumes it.
    pub(crate) fn release(&mut self, pid: &str) {
        self.remove_session(pid);
    }

    /// Restores a claimed session: the packets after `offset` (or since it connected) that
    /// its rooms select.
    pub(crate) fn restore(&mut self, pid: &str, offset: Option<&str>) -> Option<Restored> {
        if !self.sessions.get(pid)?.claimed {
            return None;
        }
        let session = self.remove_session(pid)?;
        let log = self.logs.get(&session.namespace);
        let from = match offset.and_then(|offset| self.parse_offset(offset)) {
            Some(offset) => offset + 1,
            None => session.since,
        };
        if log.is_some_and(|log| from < log.first()) {
            // Evicted since the claim: refused rather than restored with a gap.
            return None;
        }
        let missed = log
            .map(|log| {
                log.packets
                    .iter()
                    .filter(|p| p.offset >= from && p.selector.includes(session.socket, &session.rooms))
                    .map(|p| p.packet.clone())
                    .collect()
            })
            .unwrap_or_default();
        Some(Restored {
            socket: session.socket,
            pid: ByteString::from(pid),
            rooms: session.rooms,
            data: session.data,
            missed,
            since: self.position(&session.namespace),
        })
    }

    /// Time passes: stamps what waits for it, drops expired sessions and packets.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |clock| clock.max(now)));
        let keep = self.config.max_disconnection_duration;
        for namespace in std::mem::take(&mut self.unstamped_logs) {
            if let Some(log) = self.logs.get_mut(&namespace) {
                for packet in log.packets.iter_mut().rev().take_while(|p| p.at.is_none()) {
                    packet.at = Some(now);
                }
            }
        }
        let expires = deadline_after(now, keep);
        for pid in std::mem::take(&mut self.unstamped_sessions) {
            if let Some(session) = self.sessions.get_mut(&pid).filter(|s| s.expires.is_none()) {
                session.expires = Some(expires);
                self.expiries.insert((expires, pid));
            }
        }
        while let Some((at, pid)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.remove_session(&pid);
        }
        for (namespace, log) in &mut self.logs {
            let before = log.packets.len();
            while log.packets.front().and_then(|p| p.at).is_some_and(|at| deadline_after(at, keep) <= now) {
                log.packets.pop_front();
            }
            if log.packets.len() < before && log.is_idle() {
                self.idle.push(namespace.clone());
            }
        }
    }

    /// When [`Recovery::handle_timeout`] is next due: at once while something waits for
    /// its stamp, else the next expiry.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if !self.unstamped_logs.is_empty() || !self.unstamped_sessions.is_empty() {
            return self.clock;
        }
        let keep = self.config.max_disconnection_duration;
        let packets = self
            .logs
            .values()
            .filter_map(|log| log.packets.front().and_then(|p| p.at))
            .min()
            .map(|at| deadline_after(at, keep));
        let sessions = self.expiries.first().map(|(at, _)| *at);
        match (packets, sessions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sessions kept, and packets logged across namespaces (for tests and metrics).
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.sessions.len(), self.logs.values().map(|log| log.packets.len()).sum())
    }

    /// Sees time pass without acting on it (a handshake's instant).
    pub(crate) fn observe(&mut self, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |clock| clock.max(now)));
    }
}
