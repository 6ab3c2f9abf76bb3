//! The protocol of the Redis adapters of Node Socket.IO, without IO: `@socket.io/redis-adapter`
//! 8.3 (classic and sharded) and `@socket.io/redis-streams-adapter` 0.3. Which channels a
//! node listens on, what it publishes or appends for each cluster operation, what it does
//! with what the other nodes send, and how it gathers their answers.
//!
//! A [`RedisNode`] is one server's part of the cluster. The adapter subscribes it to
//! [`Output::Subscribe`]'s channels, performs [`Output::Publish`] and
//! [`Output::CountServers`] (`PUBSUB NUMSUB`), and feeds back what arrives
//! ([`RedisNode::handle_message`], [`RedisNode::handle_server_count`]) and the time
//! ([`RedisNode::handle_timeout`]). The node answers the other nodes' questions about local
//! sockets through [`LocalSockets`], and hands the application what it must do locally
//! (broadcast, join, leave, disconnect, a server-side event) and the results of its own
//! requests as [`Event`]s.
//!
//! Wire format, as the Node adapter has it: broadcasts go to `<key>#<nsp>#` (or
//! `<key>#<nsp>#<room>#` for a single room) as MessagePack `[uid, packet, opts]`; requests
//! go to `<key>-request#<nsp>#` as JSON (MessagePack for a broadcast with acks), and
//! responses to `<key>-response#<nsp>#`. How many nodes answer is the subscriber count of
//! the request channel.
//!
//! With [`PubSub::Sharded`], the node speaks the sharded adapter's protocol instead
//! (`createShardedAdapter`, Redis 7's `SPUBLISH`/`SSUBSCRIBE`, socket.io-adapter's
//! `ClusterAdapter` messages): per namespace, every node listens on `<key>#<nsp>#` and on
//! its own `<key>#<nsp>#<uid>#`, where the answers to its requests arrive; in the dynamic
//! modes also on `<key>#<nsp>#<room>#` while the room has a local socket
//! ([`RedisNode::room_created`]), where broadcasts to that one room go. Messages are
//! `{uid, nsp, type, data}`, JSON unless they carry binary (then MessagePack). How many nodes
//! answer is the shard subscriber count of the namespace channel.
//!
//! With [`PubSub::Streams`], the same messages go through one Redis stream instead
//! (`XADD`, read with `XREAD`: [`Output::Append`], [`RedisNode::handle_entry`]) for
//! broadcasts and room operations, and through pub/sub for requests and answers; the
//! [`streams`] module holds its connection state recovery.

mod sharded;
pub mod streams;

use sharded::MessageType;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::msgpack;
use super::resp::{Reply, command_into, stream_entries};
use crate::server::{Room, Selector, SocketId};
use crate::value::write_json_string;
use crate::{Namespace, Payload, Value};
use engineio_proto::deadline_after;

/// The request types between nodes (the adapter's `RequestType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RequestType {
    /// The ids of the sockets in some rooms.
    Sockets = 0,
    /// Every room of every node.
    AllRooms = 1,
    /// Make sockets join rooms.
    RemoteJoin = 2,
    /// Make sockets leave rooms.
    RemoteLeave = 3,
    /// Disconnect sockets.
    RemoteDisconnect = 4,
    /// Describe sockets (`fetchSockets`).
    RemoteFetch = 5,
    /// An event for the servers themselves (`serverSideEmit`).
    ServerSideEmit = 6,
    /// A broadcast whose recipients answer.
    Broadcast = 7,
    /// How many clients a node sent a [`RequestType::Broadcast`] to.
    BroadcastClientCount = 8,
    /// One client's answer to a [`RequestType::Broadcast`].
    BroadcastAck = 9,
}

impl RequestType {
    fn from_number(n: u64) -> Option<Self> {
        use RequestType as T;
        Some(match n {
            0 => T::Sockets,
            1 => T::AllRooms,
            2 => T::RemoteJoin,
            3 => T::RemoteLeave,
            4 => T::RemoteDisconnect,
            5 => T::RemoteFetch,
            6 => T::ServerSideEmit,
            7 => T::Broadcast,
            8 => T::BroadcastClientCount,
            9 => T::BroadcastAck,
            _ => return None,
        })
    }
}

/// Settings of a node, as the Node adapter's options.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// The channel prefix (`key`, default `socket.io`).
    pub key: String,
    /// How long a request waits for the other nodes (`requestsTimeout`, default 5 s).
    pub requests_timeout: Duration,
    /// Answer on the requester's own response channel rather than the shared one
    /// (`publishOnSpecificResponseChannel`, default off; classic only).
    pub specific_response_channel: bool,
    /// Which Redis pub/sub, and so which of the Node adapters' protocols (default classic).
    pub pubsub: PubSub,
    /// The stream of [`PubSub::Streams`] (`streamName`, default `socket.io`) and its
    /// approximate length cap (`maxLen`, default 10 000).
    pub stream: (String, u64),
    /// The servers recover sessions from the stream (connection state recovery on
    /// [`PubSub::Streams`]; default off): a broadcast of this node reaches its own sockets
    /// when it is read back, like the other nodes' ones, with its entry id as offset. So
    /// every socket of every node gets the stream's events in the stream's order, and the
    /// last offset a client saw says what it missed.
    pub recovery: bool,
}

/// How the nodes of a cluster share their messages over Redis; every node of one cluster
/// uses the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PubSub {
    /// `PUBLISH`, `SUBSCRIBE` and `PSUBSCRIBE`: `createAdapter`.
    #[default]
    Classic,
    /// Sharded pub/sub of Redis 7 (`SPUBLISH`, `SSUBSCRIBE`): `createShardedAdapter`, with
    /// socket.io-adapter's `ClusterAdapter` messages.
    Sharded(SubscriptionMode),
    /// A Redis stream for broadcasts and room operations (`XADD`, read with `XREAD`), pub/sub
    /// for requests and answers: `@socket.io/redis-streams-adapter` 0.3, with
    /// `ClusterAdapter` messages. The stream is [`RedisConfig::stream`].
    Streams,
}

/// Which channels a sharded node listens on (`subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// One channel per namespace: every node gets every broadcast.
    Static,
    /// Also one channel per room, listened to while the room has a local socket; a
    /// broadcast to a single room goes there, unless the room is a Node socket's id
    /// (20 characters). Our socket ids are 22 characters long, so their rooms have channels
    /// too: that is what a Node node publishes a broadcast to one of our sockets on.
    #[default]
    Dynamic,
    /// One channel per room, socket ids included.
    DynamicPrivate,
}

impl RedisConfig {
    /// Whether a node listens on a channel per local room (the sharded adapter's dynamic
    /// modes), so must learn of rooms as they come and go ([`RedisNode::room_created`]).
    pub fn listens_per_room(&self) -> bool {
        matches!(self.pubsub, PubSub::Sharded(SubscriptionMode::Dynamic | SubscriptionMode::DynamicPrivate))
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key: "socket.io".into(),
            requests_timeout: Duration::from_secs(5),
            specific_response_channel: false,
            pubsub: PubSub::Classic,
            stream: ("socket.io".into(), 10_000),
            recovery: false,
        }
    }
}

/// A socket as `fetchSockets` describes it to another node.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketDetails {
    /// Its id (a node of another implementation has ids of another form).
    pub id: String,
    /// Its handshake, as the reference's `socket.handshake` (`headers`, `time`, `address`,
    /// `xdomain`, `secure`, `issued`, `url`, `query`, `auth`).
    pub handshake: Value,
    /// Its rooms, its own id among them.
    pub rooms: Vec<Room>,
    /// Its `data`, `null` when unset.
    pub data: Value,
}

/// What a node needs to know of its own sockets to answer the others.
pub trait LocalSockets {
    /// The ids of the sockets `selector` designates in `namespace`.
    fn select(&self, namespace: &Namespace, selector: &Selector) -> Vec<SocketId>;
    /// Every room of `namespace` (the sockets' own rooms among them).
    fn rooms(&self, namespace: &Namespace) -> Vec<Room>;
    /// The sockets `selector` designates, described.
    fn fetch(&self, namespace: &Namespace, selector: &Selector) -> Vec<SocketDetails>;
}

/// Identifies a request this node made, in its [`Event`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// Identifies a question from another node that the application answers: a server-side
/// event that wants an ack, or a broadcast whose recipients answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    namespace: Namespace,
    request_id: String,
    /// The requester's uid, for its own response channel.
    uid: String,
}

/// What the adapter does for the node.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Subscribe to these channels and (pattern subscription) patterns, once
    /// (`SSUBSCRIBE` on a sharded node, one channel per command; it has no patterns).
    Subscribe {
        /// Plain channels.
        channels: Vec<String>,
        /// Patterns (`PSUBSCRIBE`).
        patterns: Vec<String>,
    },
    /// Stop listening on these channels and patterns (`SUNSUBSCRIBE` on a sharded node,
    /// one channel per command): a sharded node's room channels, or a closed namespace's.
    Unsubscribe {
        /// Plain channels.
        channels: Vec<String>,
        /// Patterns (`PUNSUBSCRIBE`).
        patterns: Vec<String>,
    },
    /// Append `fields` to `stream` (`XADD stream MAXLEN ~ max_len * field value ...`).
    Append {
        /// The stream.
        stream: String,
        /// Its approximate length cap.
        max_len: u64,
        /// Field names and values, in order.
        fields: Vec<(&'static str, Bytes)>,
        /// What to do instead when it cannot be appended (Redis unreachable): this node's
        /// own broadcast, which its sockets otherwise get when it is read back
        /// ([`RedisConfig::recovery`]).
        unsent: Option<Box<Event>>,
    },
    /// Publish `message` on `channel` (`SPUBLISH` on a sharded node).
    Publish {
        /// The channel.
        channel: String,
        /// The message.
        message: Bytes,
    },
    /// Count the subscribers of `channel` (`PUBSUB NUMSUB`, or `PUBSUB SHARDNUMSUB` on a
    /// sharded node), then call
    /// [`RedisNode::handle_server_count`] with `token`.
    CountServers {
        /// The request channel whose subscribers are the nodes.
        channel: String,
        /// Passed back with the answer.
        token: u64,
    },
    /// Something for the application.
    Event(Box<Event>),
}

impl Output {
    fn event(event: Event) -> Self {
        Output::Event(Box::new(event))
    }

    /// Whether its commands go on the subscribed connection ([`Output::Subscribe`],
    /// [`Output::Unsubscribe`]) rather than the one that publishes.
    pub fn is_subscription(&self) -> bool {
        matches!(self, Output::Subscribe { .. } | Output::Unsubscribe { .. })
    }

    /// Appends its Redis commands to `out`; `sharded` for a node on sharded pub/sub
    /// ([`RedisNode::is_sharded`]), whose subscriptions take one channel per command (in a
    /// Redis cluster, one command's channels must share a slot). Nothing for an event.
    pub fn encode_into(&self, sharded: bool, out: &mut Vec<u8>) {
        let subscription = |out: &mut Vec<u8>, command: &[u8], channels: &[String]| {
            if sharded {
                for channel in channels {
                    command_into(out, &[command, channel.as_bytes()]);
                }
            } else if !channels.is_empty() {
                let args: Vec<&[u8]> =
                    std::iter::once(command).chain(channels.iter().map(|c| c.as_bytes())).collect();
                command_into(out, &args);
            }
        };
        match self {
            Output::Subscribe { channels, patterns } => {
                subscription(out, if sharded { b"SSUBSCRIBE" } else { b"SUBSCRIBE" }, channels);
                if !sharded {
                    subscription(out, b"PSUBSCRIBE", patterns);
                }
            }
            Output::Unsubscribe { channels, patterns } => {
                subscription(out, if sharded { b"SUNSUBSCRIBE" } else { b"UNSUBSCRIBE" }, channels);
                if !sharded {
                    subscription(out, b"PUNSUBSCRIBE", patterns);
                }
            }
            Output::Publish { channel, message } => {
                let publish: &[u8] = if sharded { b"SPUBLISH" } else { b"PUBLISH" };
                command_into(out, &[publish, channel.as_bytes(), message]);
            }
            Output::Append { stream, max_len, fields, .. } => {
                let max_len = max_len.to_string();
                let mut args: Vec<&[u8]> =
                    vec![b"XADD", stream.as_bytes(), b"MAXLEN", b"~", max_len.as_bytes(), b"*"];
                for (key, value) in fields {
                    args.push(key.as_bytes());
                    args.push(value);
                }
                command_into(out, &args);
            }
            Output::CountServers { channel, .. } => {
                let count: &[u8] = if sharded { b"SHARDNUMSUB" } else { b"NUMSUB" };
                command_into(out, &[b"PUBSUB", count, channel.as_bytes()]);
            }
            Output::Event(_) => {}
        }
    }
}

/// What the application learns or must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Broadcast `payload` (`[event, ...args]`) to the local sockets `selector` designates.
    Broadcast {
        /// The namespace.
        namespace: Namespace,
        /// Which sockets (always local).
        selector: Selector,
        /// `[event, ...args]`.
        payload: Payload,
        /// The stream entry's id, when the event is one a recovering client may have
        /// missed (read from a stream, not volatile): its offset.
        offset: Option<String>,
    },
    /// Broadcast asking for acks, then report the local recipients' count with
    /// [`RedisNode::broadcast_client_count`] and each answer with
    /// [`RedisNode::broadcast_ack`].
    BroadcastWithAck {
        /// The namespace.
        namespace: Namespace,
        /// Which sockets (always local).
        selector: Selector,
        /// `[event, ...args]`.
        payload: Payload,
        /// How long the requester waits (its `flags.timeout`), when it said.
        timeout: Option<Duration>,
        /// For the counts and answers.
        reply: ReplyTo,
    },
    /// Make the local sockets `selector` designates join `rooms`.
    Join {
        /// The namespace.
        namespace: Namespace,
        /// Which sockets (always local).
        selector: Selector,
        /// The rooms.
        rooms: Vec<Room>,
    },
    /// Make them leave `rooms`.
    Leave {
        /// The namespace.
        namespace: Namespace,
        /// Which sockets (always local).
        selector: Selector,
        /// The rooms.
        rooms: Vec<Room>,
    },
    /// Disconnect them; `close` closes their whole connections.
    Disconnect {
        /// The namespace.
        namespace: Namespace,
        /// Which sockets (always local).
        selector: Selector,
        /// Whether the underlying connections close too.
        close: bool,
    },
    /// Another node's server-side event (`[event, ...args]`); with `reply`, answer once
    /// with [`RedisNode::server_side_reply`].
    ServerSideEmit {
        /// The namespace.
        namespace: Namespace,
        /// `[event, ...args]`.
        payload: Payload,
        /// Where the answer goes, when one is awaited.
        reply: Option<ReplyTo>,
    },
    /// A request of this node is complete (or timed out: `complete` is false, and what
    /// arrived is there).
    Done {
        /// The request.
        id: RequestId,
        /// What the nodes answered.
        result: Answer,
        /// Whether every expected answer came.
        complete: bool,
    },
}

/// The result of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The number of nodes (this one included).
    ServerCount(u64),
    /// Socket ids, sorted.
    Sockets(Vec<String>),
    /// Room names, deduplicated.
    Rooms(Vec<Room>),
    /// Described sockets, this node's first.
    Fetched(Vec<SocketDetails>),
    /// The other nodes' answers to a server-side event, in arrival order.
    Replies(Vec<Value>),
    /// The other nodes' clients' answers to a broadcast with acks, in arrival order.
    Acks {
        /// The answers (each client's ack arguments, as the reference hands them).
        answers: Vec<Value>,
        /// Clients that nodes reported as recipients and that did not answer in time.
        missing: u64,
    },
}

/// A request waiting for its server count or for answers.
#[derive(Debug)]
struct Pending {
    namespace: Namespace,
    kind: PendingKind,
    /// The request to publish once the server count is known.
    message: Option<Vec<u8>>,
    /// The other nodes' answers still expected, counted down as they come (for a broadcast
    /// with acks: how many nodes report a client count, not counted down); `None` until the
    /// server count is known.
    expected: Option<u64>,
    deadline: Instant,
    wire_id: String,
}

#[derive(Debug)]
enum PendingKind {
    Count,
    Sockets(Vec<String>),
    Rooms(RoomSet),
    Fetch(Vec<SocketDetails>),
    Replies(Vec<Value>),
    /// A broadcast with acks: the nodes that reported their client count, the clients
    /// they reported, and the answers so far.
    Acks {
        servers: u64,
        clients: u64,
        answers: Vec<Value>,
    },
}

/// One server's part of a cluster on the classic Redis adapter.
pub struct RedisNode {
    config: RedisConfig,
    /// This node's id on the wire (6 characters, as `uid2(6)`).
    uid: String,
    namespaces: HashSet<Namespace>,
    /// A sharded node's room channels listened to, by namespace.
    room_channels: HashMap<Namespace, HashSet<Room>>,
    next_id: u64,
    pending: HashMap<RequestId, Pending>,
    /// Request ids on the wire of this node's pending requests and broadcasts with acks.
    by_wire_id: HashMap<String, RequestId>,
    timers: BTreeSet<(Instant, RequestId)>,
    outputs: VecDeque<Output>,
    /// A streams node's last entry id handled, where it reads on from; `None` until it
    /// knows where the stream ends.
    stream_position: Option<String>,
    /// Source of request ids on the wire.
    random: Box<dyn FnMut() -> u128 + Send>,
}

impl std::fmt::Debug for RedisNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNode").field("uid", &self.uid).field("pending", &self.pending.len()).finish()
    }
}

const ID_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// 16 hexadecimal digits from `random`, as `randomBytes(8).toString("hex")`.
fn hex_id(random: &mut dyn FnMut() -> u128) -> String {
    format!("{:016x}", random() & u128::from(u64::MAX))
}

/// A 6-character id from `random`, as `uid2(6)` makes them.
fn short_id(random: &mut dyn FnMut() -> u128) -> String {
    let mut bits = random();
    (0..6)
        .map(|_| {
            let index = usize::try_from(bits % 62).unwrap_or(0);
            bits /= 62;
            char::from(*ID_ALPHABET.get(index).unwrap_or(&b'A'))
        })
        .collect()
}

impl RedisNode {
    /// The node of a process that only publishes (the `@socket.io/redis-emitter` role):
    /// its uid is `emitter`, as that package's, and it makes no requests.
    pub fn emitter(config: RedisConfig) -> Self {
        let mut node = RedisNode::new(config, Box::new(|| 0));
        node.uid = "emitter".into();
        node
    }

    /// A node; `random` gives its uid and request ids.
    pub fn new(config: RedisConfig, mut random: Box<dyn FnMut() -> u128 + Send>) -> Self {
        let uid = match config.pubsub {
            PubSub::Classic => short_id(&mut *random),
            PubSub::Sharded(_) | PubSub::Streams => hex_id(&mut *random),
        };
        RedisNode {
            config,
            uid,
            namespaces: HashSet::new(),
            room_channels: HashMap::new(),
            next_id: 0,
            pending: HashMap::new(),
            by_wire_id: HashMap::new(),
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            stream_position: None,
            random,
        }
    }

    /// This node's id on the wire.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Whether the node uses sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`,
    /// `PUBSUB SHARDNUMSUB`) rather than the classic commands.
    pub fn is_sharded(&self) -> bool {
        matches!(self.config.pubsub, PubSub::Sharded(_))
    }

    /// Whether the node speaks socket.io-adapter's `ClusterAdapter` messages (the sharded
    /// and the streams adapters) rather than the classic adapter's.
    fn cluster_messages(&self) -> bool {
        !matches!(self.config.pubsub, PubSub::Classic)
    }

    /// The stream a streams node reads (`XREAD`), from the id after the last entry it got.
    pub fn stream(&self) -> Option<&str> {
        matches!(self.config.pubsub, PubSub::Streams).then_some(self.config.stream.0.as_str())
    }

    /// What a streams node sends first, on a connection that has no other reply pending:
    /// the question of where its stream ends (reading from `$` would skip what is appended
    /// before the first `XREAD` arrives, this node's own broadcasts among them). Its reply
    /// goes to [`RedisNode::handle_stream_start`]. `None` once the node knows where it reads
    /// from (after a reconnection it reads on from its last entry), and for other nodes.
    pub fn stream_start_command(&self) -> Option<Vec<u8>> {
        match self.stream_position {
            None => self.stream().map(streams::last_entry_command),
            Some(_) => None,
        }
    }

    /// The reply to [`RedisNode::stream_start_command`]; Redis's error if it refused.
    pub fn handle_stream_start(&mut self, reply: Reply) -> Result<(), String> {
        if let Reply::Error(error) = reply {
            return Err(error);
        }
        self.stream_position = streams::reading_position(reply);
        Ok(())
    }

    /// The next read of a streams node's stream (`XREAD`, blocking, on a connection of its
    /// own), whose reply goes to [`RedisNode::handle_stream_read`]; `None` before
    /// [`RedisNode::handle_stream_start`], and for other nodes.
    pub fn stream_read_command(&self) -> Option<Vec<u8>> {
        Some(streams::read_command(self.stream()?, self.stream_position.as_deref()?))
    }

    /// The reply to [`RedisNode::stream_read_command`]: each entry goes to
    /// [`RedisNode::handle_entry`]. Redis's error if it refused.
    pub fn handle_stream_read(&mut self, reply: Reply, local: &dyn LocalSockets) -> Result<(), String> {
        if let Reply::Error(error) = reply {
            return Err(error);
        }
        for (id, fields) in stream_entries(reply) {
            self.handle_entry(&id, &fields, local);
        }
        Ok(())
    }

    /// A request id on the wire, as the node's adapter makes them.
    fn wire_id(&mut self) -> String {
        match self.config.pubsub {
            PubSub::Classic => short_id(&mut *self.random),
            PubSub::Sharded(_) | PubSub::Streams => hex_id(&mut *self.random),
        }
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`RedisNode::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Requests and broadcasts with acks still open.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    fn channel(&self, namespace: &Namespace) -> String {
        format!("{}#{}#", self.config.key, namespace.as_str())
    }

    fn request_channel(&self, namespace: &Namespace) -> String {
        format!("{}-request#{}#", self.config.key, namespace.as_str())
    }

    fn response_channel(&self, namespace: &Namespace) -> String {
        format!("{}-response#{}#", self.config.key, namespace.as_str())
    }

    /// Starts listening for `namespace`'s broadcasts and requests (done by every operation
    /// on it; call it when the namespace is created so that remote broadcasts reach it
    /// before it does anything itself). Returns whether it was new (there is output).
    pub fn add_namespace(&mut self, namespace: &Namespace) -> bool {
        if self.namespaces.contains(namespace) {
            return false;
        }
        self.namespaces.insert(namespace.clone());
        let subscription = self.subscription(namespace);
        self.outputs.push_back(subscription);
        true
    }

    /// Stops listening for `namespace` (a dynamic namespace closed: see the server's
    /// `Event::NamespaceClosed`), as the reference adapter's `close()`. Returns whether it
    /// was listened to (there is output).
    pub fn remove_namespace(&mut self, namespace: &Namespace) -> bool {
        if !self.namespaces.contains(namespace) {
            return false;
        }
        let Output::Subscribe { channels, patterns } = self.subscription(namespace) else {
            return false;
        };
        self.namespaces.remove(namespace);
        self.room_channels.remove(namespace);
        self.outputs.push_back(Output::Unsubscribe { channels, patterns });
        true
    }

    /// Every namespace listened to, with its subscriptions: what to subscribe to again
    /// after the connection to Redis was lost.
    pub fn subscriptions(&self) -> Vec<Output> {
        let mut namespaces: Vec<&Namespace> = self.namespaces.iter().collect();
        namespaces.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        namespaces.into_iter().map(|namespace| self.subscription(namespace)).collect()
    }

    /// What one namespace listens on: its requests, the shared and this node's own
    /// response channel, and every broadcast channel.
    fn subscription(&self, namespace: &Namespace) -> Output {
        if self.cluster_messages() {
            return self.sharded_subscription(namespace);
        }
        let responses = self.response_channel(namespace);
        let own = format!("{responses}{}#", self.uid);
        Output::Subscribe {
            channels: vec![self.request_channel(namespace), responses, own],
            patterns: vec![format!("{}*", self.channel(namespace))],
        }
    }

    // ---- this node's operations ----

    /// Publishes a broadcast for the other nodes. The local sockets are the caller's, unless
    /// this returns true: with [`RedisConfig::recovery`] on the streams adapter they get it
    /// from the node, as it is read back (or at once if it cannot be appended).
    pub fn broadcast(&mut self, namespace: &Namespace, selector: &Selector, payload: &Payload) -> bool {
        if selector.local {
            return false;
        }
        self.add_namespace(namespace);
        if self.cluster_messages() {
            self.sharded_broadcast(namespace, selector, payload, None);
            return self.streams() && self.config.recovery;
        }
        let Ok(data) = payload.to_value() else {
            return false;
        };
        let message = Value::Array(vec![
            self.uid.as_str().into(),
            event_packet(namespace, data),
            wire_opts(selector, true, None),
        ]);
        let mut channel = self.channel(namespace);
        if let [room] = selector.rooms.as_slice() {
            channel.push_str(room);
            channel.push('#');
        }
        self.publish(channel, msgpack::encode(&message));
        false
    }

    /// Publishes a broadcast whose remote recipients answer. The other nodes report how
    /// many clients they sent it to, then each answer; [`Event::Done`] with
    /// [`Answer::Acks`] comes once every node reported and every reported client answered
    /// (the reference's completeness: as many client counts as the server count says, as
    /// many answers as they add up to), or at `timeout` with what arrived. The local
    /// recipients are the caller's.
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        selector: &Selector,
        payload: &Payload,
        timeout: Duration,
    ) -> RequestId {
        let kind = PendingKind::Acks { servers: 0, clients: 0, answers: Vec::new() };
        let id = self.request(now, namespace, kind, |_, _| None, Some(timeout));
        let Some(wire_id) = self.pending.get(&id).map(|pending| pending.wire_id.clone()) else {
            return id;
        };
        self.by_wire_id.insert(wire_id.clone(), id);
        if self.cluster_messages() {
            self.sharded_broadcast(namespace, selector, payload, Some((&wire_id, timeout)));
        } else if let Ok(data) = payload.to_value() {
            let packet = event_packet(namespace, data);
            let opts = wire_opts(selector, true, Some(timeout));
            let request = Value::Object(vec![
                ("uid".into(), self.uid.as_str().into()),
                ("requestId".into(), wire_id.as_str().into()),
                ("type".into(), (RequestType::Broadcast as u8).into()),
                ("packet".into(), packet),
                ("opts".into(), opts),
            ]);
            self.publish(self.request_channel(namespace), msgpack::encode(&request));
        }
        id
    }

    /// Asks how many nodes the cluster has: [`Answer::ServerCount`].
    pub fn server_count(&mut self, now: Instant, namespace: &Namespace) -> RequestId {
        self.request(now, namespace, PendingKind::Count, |_, _| None, None)
    }

    /// Asks the ids of the sockets in `rooms` across the cluster: [`Answer::Sockets`].
    pub fn sockets(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        rooms: &[Room],
        local: &[SocketId],
    ) -> RequestId {
        let local = local.iter().map(SocketId::to_string).collect();
        let kind = PendingKind::Sockets(local);
        if self.cluster_messages() {
            // No request of its own: the ids of the sockets fetched.
            let selector = Selector { rooms: rooms.to_vec(), ..Selector::default() };
            return self.request(
                now,
                namespace,
                kind,
                |node, id| node.sharded_fetch(namespace, &selector, id),
                None,
            );
        }
        let mut body = String::from(r#""type":0,"rooms":"#);
        write_rooms(&mut body, rooms);
        body.push('}');
        self.request(now, namespace, kind, |node, id| node.classic_request(id, &body), None)
    }

    /// Asks every room across the cluster: [`Answer::Rooms`].
    pub fn all_rooms(&mut self, now: Instant, namespace: &Namespace, local: Vec<Room>) -> RequestId {
        let kind = PendingKind::Rooms(RoomSet::new(local));
        if self.cluster_messages() {
            // No request of its own: the rooms of every socket fetched.
            let all = Selector::default();
            return self.request(
                now,
                namespace,
                kind,
                |node, id| node.sharded_fetch(namespace, &all, id),
                None,
            );
        }
        self.request(now, namespace, kind, |node, id| node.classic_request(id, r#""type":1}"#), None)
    }

    /// Describes the sockets `selector` designates across the cluster (`fetchSockets`),
    /// `local` being this node's: [`Answer::Fetched`].
    pub fn fetch_sockets(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        selector: &Selector,
        local: Vec<SocketDetails>,
    ) -> RequestId {
        if selector.local {
            let id = self.new_request_id();
            self.done(id, Answer::Fetched(local), true);
            return id;
        }
        let kind = PendingKind::Fetch(local);
        if self.cluster_messages() {
            return self.request(
                now,
                namespace,
                kind,
                |node, id| node.sharded_fetch(namespace, selector, id),
                None,
            );
        }
        let mut body = String::from(r#""type":5,"opts":"#);
        write_json(&mut body, &wire_opts(selector, false, None));
        body.push('}');
        self.request(now, namespace, kind, |node, id| node.classic_request(id, &body), None)
    }

    /// Makes the sockets `selector` designates on the other nodes join `rooms`.
    pub fn sockets_join(&mut self, namespace: &Namespace, selector: &Selector, rooms: &[Room]) {
        self.room_request(namespace, selector, RequestType::RemoteJoin, rooms);
    }

    /// Makes them leave `rooms`.
    pub fn sockets_leave(&mut self, namespace: &Namespace, selector: &Selector, rooms: &[Room]) {
        self.room_request(namespace, selector, RequestType::RemoteLeave, rooms);
    }

    fn room_request(
        &mut self,
        namespace: &Namespace,
        selector: &Selector,
        kind: RequestType,
        rooms: &[Room],
    ) {
        if selector.local {
            return;
        }
        self.add_namespace(namespace);
        if self.cluster_messages() {
            return self.sharded_room_request(namespace, selector, kind, rooms);
        }
        let mut message = self.request_head(None);
        let _ = write!(message, r#""type":{},"opts":"#, kind as u8);
        write_json(&mut message, &wire_opts(selector, false, None));
        message.push_str(r#","rooms":"#);
        write_rooms(&mut message, rooms);
        message.push('}');
        self.publish(self.request_channel(namespace), message.into_bytes());
    }

    /// Disconnects the sockets `selector` designates on the other nodes.
    pub fn disconnect_sockets(&mut self, namespace: &Namespace, selector: &Selector, close: bool) {
        if selector.local {
            return;
        }
        self.add_namespace(namespace);
        if self.cluster_messages() {
            return self.sharded_disconnect(namespace, selector, close);
        }
        let mut message = self.request_head(None);
        message.push_str(r#""type":4,"opts":"#);
        write_json(&mut message, &wire_opts(selector, false, None));
        let _ = write!(message, r#","close":{close}}}"#);
        self.publish(self.request_channel(namespace), message.into_bytes());
    }

    /// Sends an event to the other nodes' servers (`serverSideEmit`); `payload` is
    /// `[event, ...args]`.
    pub fn server_side_emit(&mut self, namespace: &Namespace, payload: &Payload) {
        self.add_namespace(namespace);
        if self.cluster_messages() {
            let message = self.sharded_server_side_emit(namespace, payload, None);
            return self.publish(self.channel(namespace), message);
        }
        let mut message = self.request_head(None);
        message.push_str(r#""type":6,"data":"#);
        write_payload_json(&mut message, payload);
        message.push('}');
        self.publish(self.request_channel(namespace), message.into_bytes());
    }

    /// The same, expecting one answer from each other node: [`Answer::Replies`].
    pub fn server_side_emit_with_ack(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        payload: &Payload,
    ) -> RequestId {
        let kind = PendingKind::Replies(Vec::new());
        if self.cluster_messages() {
            return self.request(
                now,
                namespace,
                kind,
                |node, id| Some(node.sharded_server_side_emit(namespace, payload, Some(id))),
                None,
            );
        }
        let mut body = String::from(r#""type":6,"data":"#);
        write_payload_json(&mut body, payload);
        body.push('}');
        self.request(now, namespace, kind, |node, id| node.classic_request(id, &body), None)
    }

    /// Answers another node's server-side event (once; later answers are the caller's to
    /// avoid, as the reference ignores them).
    pub fn server_side_reply(&mut self, reply: &ReplyTo, answer: &Value) {
        if self.cluster_messages() {
            return self.sharded_respond(
                reply,
                MessageType::ServerSideEmitResponse,
                "packet",
                answer.clone(),
            );
        }
        let mut message = String::from(r#"{"type":6,"requestId":"#);
        write_json_string(&mut message, &reply.request_id);
        message.push_str(r#","data":"#);
        write_json(&mut message, answer);
        message.push('}');
        // The reference answers server-side events on the shared response channel.
        self.publish(self.response_channel(&reply.namespace), message.into_bytes());
    }

    /// Reports how many local sockets another node's broadcast with acks went to.
    pub fn broadcast_client_count(&mut self, reply: &ReplyTo, count: usize) {
        if self.cluster_messages() {
            return self.sharded_respond(
                reply,
                MessageType::BroadcastClientCount,
                "clientCount",
                (count as u64).into(),
            );
        }
        let mut message = String::from(r#"{"type":8,"requestId":"#);
        write_json_string(&mut message, &reply.request_id);
        let _ = write!(message, r#","clientCount":{count}}}"#);
        self.respond(reply, message.into_bytes());
    }

    /// Forwards one local client's answer to another node's broadcast with acks; `answer`
    /// is the client's ack arguments as an array (the reference forwards the first).
    pub fn broadcast_ack(&mut self, reply: &ReplyTo, answer: &Payload) {
        let first = answer.to_value().ok().and_then(|v| match v {
            Value::Array(items) => items.into_iter().next(),
            _ => None,
        });
        if self.cluster_messages() {
            return self.sharded_respond(
                reply,
                MessageType::BroadcastAck,
                "packet",
                first.unwrap_or(Value::Null),
            );
        }
        let message = Value::Object(vec![
            ("type".into(), (RequestType::BroadcastAck as u8).into()),
            ("requestId".into(), reply.request_id.as_str().into()),
            ("packet".into(), first.unwrap_or(Value::Null)),
        ]);
        self.respond(reply, msgpack::encode(&message));
    }

    fn respond(&mut self, reply: &ReplyTo, message: Vec<u8>) {
        let mut channel = self.response_channel(&reply.namespace);
        if self.config.specific_response_channel {
            channel.push_str(&reply.uid);
            channel.push('#');
        }
        self.publish(channel, message);
    }

    fn publish(&mut self, channel: String, message: Vec<u8>) {
        self.outputs.push_back(Output::Publish { channel, message: Bytes::from(message) });
    }

    fn new_request_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    /// How every JSON request begins: `{"uid":"…",` and, for one that awaits answers,
    /// `"requestId":"…",`.
    fn request_head(&self, request_id: Option<&str>) -> String {
        let mut head = String::from(r#"{"uid":"#);
        write_json_string(&mut head, &self.uid);
        head.push(',');
        if let Some(request_id) = request_id {
            head.push_str(r#""requestId":"#);
            write_json_string(&mut head, request_id);
            head.push(',');
        }
        head
    }

    /// A classic JSON request: its head, then `body` (from `"type"` on).
    fn classic_request(&self, wire_id: &str, body: &str) -> Option<Vec<u8>> {
        Some((self.request_head(Some(wire_id)) + body).into_bytes())
    }

    /// Where requests go and whose subscribers are the nodes: the request channel, or a
    /// sharded node's namespace channel.
    fn request_channel_of(&self, namespace: &Namespace) -> String {
        match self.cluster_messages() {
            true => self.channel(namespace),
            false => self.request_channel(namespace),
        }
    }

    /// Starts a request that needs the server count; `message` makes the request from its
    /// id on the wire, to send once the count is known (none for the count alone or a
    /// request the caller sends itself). It waits `timeout`, by default the configured one.
    fn request(
        &mut self,
        now: Instant,
        namespace: &Namespace,
        kind: PendingKind,
        message: impl FnOnce(&Self, &str) -> Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> RequestId {
        self.add_namespace(namespace);
        let id = self.new_request_id();
        let wire_id = self.wire_id();
        let message = message(self, &wire_id);
        let deadline = deadline_after(now, timeout.unwrap_or(self.config.requests_timeout));
        self.timers.insert((deadline, id));
        self.pending.insert(
            id,
            Pending { namespace: namespace.clone(), kind, message, expected: None, deadline, wire_id },
        );
        let channel = self.request_channel_of(namespace);
        self.outputs.push_back(Output::CountServers { channel, token: id.0 });
        id
    }

    /// Redis's reply to [`Output::CountServers`] with `token` (`[channel, count]`); anything
    /// else counts as a failure ([`RedisNode::handle_server_count_failed`]).
    pub fn handle_server_count_reply(&mut self, token: u64, reply: Reply) {
        match reply {
            // `[channel, count]`
            Reply::Array(items) => {
                let count = match items.get(1) {
                    Some(Reply::Integer(n)) => u64::try_from(*n).unwrap_or(0),
                    _ => 0,
                };
                self.handle_server_count(token, count);
            }
            _ => self.handle_server_count_failed(token),
        }
    }

    /// The subscriber count of the request channel, for request `token`: the request goes
    /// out, or completes at once when this node is alone.
    pub fn handle_server_count(&mut self, token: u64, count: u64) {
        let id = RequestId(token);
        let Some(pending) = self.pending.get_mut(&id) else {
            return;
        };
        // The answers expected: every other node (the reference counts this node's own
        // part as the first message).
        let others = count.saturating_sub(1);
        if matches!(pending.kind, PendingKind::Count) {
            return self.finish(id, Some(Answer::ServerCount(count.max(1))), true);
        }
        if matches!(pending.kind, PendingKind::Acks { .. }) {
            pending.expected = Some(others);
            return self.check_acks(id);
        }
        if others == 0 {
            return self.finish(id, None, true);
        }
        pending.expected = Some(others);
        let wire_id = pending.wire_id.clone();
        let namespace = pending.namespace.clone();
        if let Some(message) = pending.message.take() {
            self.by_wire_id.insert(wire_id, id);
            self.publish(self.request_channel_of(&namespace), message);
        }
    }

    /// The server count could not be had (Redis unreachable): the request ends with this
    /// node's part only, incomplete.
    pub fn handle_server_count_failed(&mut self, token: u64) {
        let id = RequestId(token);
        if self.pending.contains_key(&id) {
            self.finish(id, None, false);
        }
    }

    /// Time passes: requests past their deadline end with what arrived.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if self.pending.contains_key(&id) {
                self.finish(id, None, false);
            }
        }
    }

    /// Ends request `id` with `answer`, or with what it gathered.
    fn finish(&mut self, id: RequestId, answer: Option<Answer>, complete: bool) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        self.by_wire_id.remove(&pending.wire_id);
        self.timers.remove(&(pending.deadline, id));
        let answer = answer.unwrap_or(match pending.kind {
            PendingKind::Count => Answer::ServerCount(1),
            PendingKind::Sockets(ids) => Answer::Sockets(ids),
            PendingKind::Rooms(rooms) => Answer::Rooms(rooms.order),
            PendingKind::Fetch(sockets) => Answer::Fetched(sockets),
            PendingKind::Replies(replies) => Answer::Replies(replies),
            PendingKind::Acks { clients, answers, .. } => {
                let missing = clients.saturating_sub(answers.len() as u64);
                Answer::Acks { answers, missing }
            }
        });
        self.done(id, answer, complete);
    }

    /// Ends broadcast with acks `id` if every node reported and every client answered.
    fn check_acks(&mut self, id: RequestId) {
        let Some(pending) = self.pending.get(&id) else {
            return;
        };
        let PendingKind::Acks { servers, clients, answers } = &pending.kind else {
            return;
        };
        if pending.expected == Some(*servers) && answers.len() as u64 == *clients {
            self.finish(id, None, true);
        }
    }

    fn done(&mut self, id: RequestId, result: Answer, complete: bool) {
        self.outputs.push_back(Output::event(Event::Done { id, result, complete }));
    }

    // ---- what the other nodes publish ----

    /// A message arrived on `channel` (of a subscription or pattern subscription).
    /// Messages this node cannot read are dropped: another node's bug must not stop this
    /// one.
    pub fn handle_message(&mut self, channel: &str, message: &[u8], local: &dyn LocalSockets) {
        let Some(namespace) = self.namespace_of(channel) else {
            return;
        };
        if self.cluster_messages() {
            return self.on_sharded_message(&namespace, channel, message, local);
        }
        let key = &self.config.key;
        let rest = channel.get(key.len()..).unwrap_or_default();
        if rest.starts_with("-response#") {
            self.on_response(message);
        } else if rest.starts_with("-request#") {
            self.on_request(&namespace, message, local);
        } else if rest.starts_with('#') {
            self.on_broadcast(&namespace, message);
        }
    }

    /// The namespace a channel of this node belongs to.
    fn namespace_of(&self, channel: &str) -> Option<Namespace> {
        let rest = channel.strip_prefix(self.config.key.as_str())?;
        let rest = rest.strip_prefix("-response").or_else(|| rest.strip_prefix("-request")).unwrap_or(rest);
        let rest = rest.strip_prefix('#')?;
        // The longest known namespace that the channel continues with `#`.
        self.namespaces
            .iter()
            .filter(|ns| rest.strip_prefix(ns.as_str()).is_some_and(|tail| tail.starts_with('#')))
            .max_by_key(|ns| ns.as_str().len())
            .cloned()
    }

    fn on_broadcast(&mut self, namespace: &Namespace, message: &[u8]) {
        let Ok(Value::Array(parts)) = msgpack::decode(message) else {
            return;
        };
        let [Value::String(uid), packet, opts] = parts.as_slice() else {
            return;
        };
        if *uid == self.uid {
            return;
        }
        let nsp = packet.get("nsp").and_then(Value::as_str).unwrap_or("/");
        if nsp != namespace.as_str() {
            return;
        }
        let Some(data) = packet.get("data") else {
            return;
        };
        let payload = Payload::from_value(data);
        let selector = selector_of(opts);
        self.outputs.push_back(Output::event(Event::Broadcast {
            namespace: namespace.clone(),
            selector,
            payload,
            offset: None,
        }));
    }

    fn on_request(&mut self, namespace: &Namespace, message: &[u8], local: &dyn LocalSockets) {
        let request = match message.first() {
            Some(b'{') => serde_json::from_slice::<Value>(message).ok(),
            _ => msgpack::decode(message).ok(),
        };
        let Some(request) = request else {
            return;
        };
        let Some(kind) = request.get("type").and_then(number).and_then(RequestType::from_number) else {
            return;
        };
        let request_id = request.get("requestId").and_then(Value::as_str).map(str::to_owned);
        let uid = request.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
        if uid == self.uid || request_id.as_ref().is_some_and(|id| self.by_wire_id.contains_key(id)) {
            return;
        }
        let reply = request_id.map(|request_id| ReplyTo { namespace: namespace.clone(), request_id, uid });
        let opts = request.get("opts");
        let selector = opts.map(selector_of).unwrap_or_default();
        // Room operations and disconnects say which sockets: without `opts`, nothing.
        let targeted = matches!(
            kind,
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect
        );
        if targeted && opts.is_none() {
            return;
        }
        let rooms = || rooms_of(request.get("rooms"));
        let namespace = namespace.clone();
        match (kind, reply) {
            (RequestType::Sockets, Some(reply)) => {
                let selector = Selector { rooms: rooms(), local: true, ..Selector::default() };
                let mut message = String::from(r#"{"requestId":"#);
                write_json_string(&mut message, &reply.request_id);
                message.push_str(r#","sockets":["#);
                for (i, id) in local.select(&namespace, &selector).iter().enumerate() {
                    if i > 0 {
                        message.push(',');
                    }
                    write_json_string(&mut message, &id.to_string());
                }
                message.push_str("]}");
                self.respond(&reply, message.into_bytes());
            }
            (RequestType::AllRooms, Some(reply)) => {
                let mut message = String::from(r#"{"requestId":"#);
                write_json_string(&mut message, &reply.request_id);
                message.push_str(r#","rooms":"#);
                write_rooms(&mut message, &local.rooms(&namespace));
                message.push('}');
                self.respond(&reply, message.into_bytes());
            }
            (RequestType::RemoteJoin, _) => {
                self.outputs.push_back(Output::event(Event::Join { namespace, selector, rooms: rooms() }));
            }
            (RequestType::RemoteLeave, _) => {
                self.outputs.push_back(Output::event(Event::Leave { namespace, selector, rooms: rooms() }));
            }
            (RequestType::RemoteDisconnect, _) => {
                let close = matches!(request.get("close"), Some(Value::Bool(true)));
                self.outputs.push_back(Output::event(Event::Disconnect { namespace, selector, close }));
            }
            (RequestType::RemoteFetch, Some(reply)) => {
                let sockets = local.fetch(&namespace, &selector);
                let mut message = String::from(r#"{"requestId":"#);
                write_json_string(&mut message, &reply.request_id);
                message.push_str(r#","sockets":["#);
                for (i, socket) in sockets.iter().enumerate() {
                    if i > 0 {
                        message.push(',');
                    }
                    message.push_str(r#"{"id":"#);
                    write_json_string(&mut message, &socket.id);
                    message.push_str(r#","handshake":"#);
                    write_json(&mut message, &socket.handshake);
                    message.push_str(r#","rooms":"#);
                    write_rooms(&mut message, &socket.rooms);
                    message.push_str(r#","data":"#);
                    write_json(&mut message, &socket.data);
                    message.push('}');
                }
                message.push_str("]}");
                self.respond(&reply, message.into_bytes());
            }
            (RequestType::ServerSideEmit, reply) => {
                let Some(data @ Value::Array(_)) = request.get("data") else {
                    return;
                };
                let payload = Payload::from_value(data);
                self.outputs.push_back(Output::event(Event::ServerSideEmit { namespace, payload, reply }));
            }
            (RequestType::Broadcast, Some(reply)) => {
                let Some(data) = request.get("packet").and_then(|p| p.get("data")) else {
                    return;
                };
                let payload = Payload::from_value(data);
                let timeout = flags_timeout(request.get("opts"));
                self.outputs.push_back(Output::event(Event::BroadcastWithAck {
                    namespace,
                    selector,
                    payload,
                    timeout,
                    reply,
                }));
            }
            _ => {}
        }
    }

    fn on_response(&mut self, message: &[u8]) {
        let response = match message.first() {
            Some(b'{') => serde_json::from_slice::<Value>(message).ok(),
            _ => msgpack::decode(message).ok(),
        };
        let Some(response) = response else {
            return;
        };
        let Some(request_id) = response.get("requestId").and_then(Value::as_str) else {
            return;
        };
        let Some(kind) = self.by_wire_id.get(request_id).and_then(|id| self.pending.get(id)).map(|p| &p.kind)
        else {
            return;
        };
        // A classic response says what it answers by its fields alone.
        let answer = match kind {
            PendingKind::Acks { .. } => {
                match response.get("type").and_then(number).and_then(RequestType::from_number) {
                    Some(RequestType::BroadcastClientCount) => {
                        Response::ClientCount(response.get("clientCount").and_then(number).unwrap_or(0))
                    }
                    Some(RequestType::BroadcastAck) => {
                        Response::Ack(response.get("packet").cloned().unwrap_or(Value::Null))
                    }
                    _ => return,
                }
            }
            PendingKind::Sockets(_) | PendingKind::Fetch(_) => match response.get("sockets") {
                Some(Value::Array(sockets)) => Response::Sockets(sockets.clone()),
                _ => return,
            },
            PendingKind::Rooms(_) => match response.get("rooms") {
                Some(Value::Array(rooms)) => Response::Rooms(rooms.clone()),
                _ => return,
            },
            PendingKind::Replies(_) => Response::Reply(response.get("data").cloned().unwrap_or(Value::Null)),
            PendingKind::Count => return,
        };
        self.apply_response(request_id, answer);
    }

    /// One node's answer to request `request_id` (its id on the wire).
    fn apply_response(&mut self, request_id: &str, response: Response) {
        let Some(id) = self.by_wire_id.get(request_id).copied() else {
            return;
        };
        let Some(pending) = self.pending.get_mut(&id) else {
            return;
        };
        match (&mut pending.kind, response) {
            (PendingKind::Acks { servers, clients, .. }, Response::ClientCount(count)) => {
                *servers += 1;
                *clients += count;
                return self.check_acks(id);
            }
            (PendingKind::Acks { answers, .. }, Response::Ack(answer)) => {
                answers.push(answer);
                return self.check_acks(id);
            }
            (PendingKind::Sockets(ids), Response::Sockets(sockets)) => {
                // Ids, or (a sharded node's answer) described sockets.
                let id_of = |socket: &Value| {
                    socket.as_str().or_else(|| socket.get("id")?.as_str()).map(str::to_owned)
                };
                ids.extend(sockets.iter().filter_map(id_of));
                ids.sort_unstable();
                ids.dedup();
            }
            (PendingKind::Rooms(all), Response::Rooms(rooms)) => add_rooms(all, &rooms),
            (PendingKind::Rooms(all), Response::Sockets(sockets)) => {
                for socket in &sockets {
                    if let Some(Value::Array(rooms)) = socket.get("rooms") {
                        add_rooms(all, rooms);
                    }
                }
            }
            (PendingKind::Fetch(described), Response::Sockets(sockets)) => {
                described.extend(sockets.iter().filter_map(details_of));
            }
            (PendingKind::Replies(replies), Response::Reply(reply)) => replies.push(reply),
            _ => return,
        }
        let Some(expected) = pending.expected.as_mut() else {
            return;
        };
        *expected = expected.saturating_sub(1);
        if *expected == 0 {
            self.finish(id, None, true);
        }
    }
}

/// One node's answer to a request, whichever protocol carried it.
enum Response {
    /// How many clients a broadcast with acks went to.
    ClientCount(u64),
    /// One client's answer to it.
    Ack(Value),
    /// Socket ids or described sockets.
    Sockets(Vec<Value>),
    /// Room names.
    Rooms(Vec<Value>),
    /// The answer to a server-side event.
    Reply(Value),
}

/// Room names gathered from the nodes, each once, in the order they came.
#[derive(Debug, Default)]
struct RoomSet {
    order: Vec<Room>,
    seen: HashSet<Room>,
}

impl RoomSet {
    fn new(rooms: Vec<Room>) -> Self {
        let mut set = RoomSet::default();
        for room in rooms {
            set.add(room);
        }
        set
    }

    fn add(&mut self, room: Room) {
        if self.seen.insert(room.clone()) {
            self.order.push(room);
        }
    }
}

/// Adds the names in `rooms` that `all` lacks.
fn add_rooms(all: &mut RoomSet, rooms: &[Value]) {
    for room in rooms.iter().filter_map(Value::as_str) {
        if !all.seen.contains(room) {
            all.add(Room::from(room));
        }
    }
}

/// An EVENT packet as the Node adapters carry it: `{type: 2, data, nsp}`.
fn event_packet(namespace: &Namespace, data: Value) -> Value {
    Value::Object(vec![
        ("type".into(), 2.into()),
        ("data".into(), data),
        ("nsp".into(), namespace.as_str().into()),
    ])
}

/// The `opts` of a request or broadcast: `{rooms, except[, flags]}`.
fn wire_opts(selector: &Selector, with_flags: bool, timeout: Option<Duration>) -> Value {
    let mut except: Vec<Value> = selector.except.iter().map(|r| Value::from(&**r)).collect();
    if let Some(socket) = selector.except_socket {
        except.push(Value::String(socket.to_string()));
    }
    let mut opts = vec![
        ("rooms".into(), Value::Array(selector.rooms.iter().map(|r| Value::from(&**r)).collect())),
        ("except".into(), Value::Array(except)),
    ];
    if with_flags {
        let mut flags = Vec::new();
        if selector.volatile {
            flags.push(("volatile".into(), true.into()));
        }
        if let Some(timeout) = timeout {
            let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            flags.push(("timeout".into(), millis.into()));
        }
        opts.push(("flags".into(), Value::Object(flags)));
    }
    Value::Object(opts)
}

/// The requester's timeout of a broadcast with acks (`opts.flags.timeout`, milliseconds).
fn flags_timeout(opts: Option<&Value>) -> Option<Duration> {
    opts?.get("flags")?.get("timeout").and_then(number).map(Duration::from_millis)
}

/// The local selection `opts` designates.
fn selector_of(opts: &Value) -> Selector {
    Selector {
        rooms: rooms_of(opts.get("rooms")),
        except: rooms_of(opts.get("except")),
        except_socket: None,
        local: true,
        volatile: matches!(opts.get("flags").and_then(|f| f.get("volatile")), Some(Value::Bool(true))),
    }
}

/// Room names from a JSON array (numbers as JavaScript prints them).
fn rooms_of(rooms: Option<&Value>) -> Vec<Room> {
    let Some(Value::Array(rooms)) = rooms else {
        return Vec::new();
    };
    rooms
        .iter()
        .filter_map(|room| match room {
            Value::String(s) => Some(Room::from(s.as_str())),
            Value::Number(n) => Some(Room::from(n.to_string())),
            _ => None,
        })
        .collect()
}

fn details_of(socket: &Value) -> Option<SocketDetails> {
    Some(SocketDetails {
        id: socket.get("id")?.as_str()?.to_owned(),
        handshake: socket.get("handshake").cloned().unwrap_or(Value::Null),
        rooms: rooms_of(socket.get("rooms")),
        data: socket.get("data").cloned().unwrap_or(Value::Null),
    })
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn write_json(out: &mut String, value: &Value) {
    let mut attachments = Vec::new();
    value.write_json(out, &mut attachments);
}

fn write_rooms(out: &mut String, rooms: &[Room]) {
    out.push('[');
    for (i, room) in rooms.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, room);
    }
    out.push(']');
}

/// A payload's JSON; binary goes as JSON.stringify writes a Buffer (the reference sends
/// server-side events as JSON).
fn write_payload_json(out: &mut String, payload: &Payload) {
    match payload.has_binary() {
        false => out.push_str(payload.json()),
        true => match payload.to_value() {
            Ok(value) => write_json(out, &buffers_as_json(value)),
            Err(_) => out.push_str("[]"),
        },
    }
}

/// Buffers as `JSON.stringify` writes them: `{"type":"Buffer","data":[...]}`.
fn buffers_as_json(value: Value) -> Value {
    match value {
        Value::Binary(bytes) => Value::Object(vec![
            ("type".into(), "Buffer".into()),
            ("data".into(), Value::Array(bytes.iter().map(|b| Value::from(u64::from(*b))).collect())),
        ]),
        Value::Array(items) => Value::Array(items.into_iter().map(buffers_as_json).collect()),
        Value::Object(members) => {
            Value::Object(members.into_iter().map(|(k, v)| (k, buffers_as_json(v))).collect())
        }
        other => other,
    }
}
