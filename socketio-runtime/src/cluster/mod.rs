//! Servers in a cluster on Redis, wire-compatible with `@socket.io/redis-adapter` 8.3: a
//! broadcast, a room operation or `fetch_sockets` reaches the sockets of every server,
//! Node servers included.
//!
//! The protocol is [`socketio_proto::cluster::redis`]'s [`RedisNode`]; this module is its
//! IO: two connections per server (one publishes, in order; one is subscribed), a task
//! that moves the node's outputs to them and applies what the other servers asked, and
//! reconnection with resubscription when Redis goes away.

mod connection;
mod driver;
pub mod emitter;
mod local;
pub(crate) mod signal;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
pub use socketio_proto::cluster::redis::SubscriptionMode;
use socketio_proto::cluster::redis::{Answer, PubSub, RedisConfig, RedisNode, ReplyTo, RequestId};
use socketio_proto::cluster::resp::Reply;
use socketio_proto::server::Room;
use socketio_proto::{Namespace, Payload, Value};

pub(crate) use connection::RedisUrl;
pub(crate) use driver::run;
pub(crate) use local::handshake_value;
use signal::Signal;

use crate::Message;
use crate::handler::{BoxFuture, Listeners};
use crate::server::lock;

/// The Redis adapter's settings, for [`Builder::adapter`](crate::server::Builder::adapter).
///
/// ```no_run
/// # fn f<R: socketio_runtime::Runtime>() -> Result<(), socketio_runtime::Error> {
/// use socketio_runtime::server::{RedisAdapter, SocketIo};
///
/// let io = SocketIo::<R>::builder().adapter(RedisAdapter::new("redis://127.0.0.1:6379")?).build();
/// io.emit("hello", &"every server's clients")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisAdapter {
    pub(crate) url: RedisUrl,
    pub(crate) config: RedisConfig,
}

impl RedisAdapter {
    /// An adapter on the Redis server at `url` (`redis://[[user]:password@]host[:port][/db]`),
    /// with the Node adapter's defaults: key `socket.io`, requests timeout 5 s.
    pub fn new(url: &str) -> Result<Self, crate::Error> {
        let url = RedisUrl::parse(url).map_err(crate::Error::Config)?;
        Ok(RedisAdapter { url, config: RedisConfig::default() })
    }

    /// The prefix of every channel (`key`); servers of one cluster share it.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.config.key = key.into();
        self
    }

    /// How long a request to the other servers (`fetch_sockets`, `server_side_emit_with_ack`,
    /// ...) waits for their answers (`requestsTimeout`).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.config.requests_timeout = timeout;
        self
    }

    /// Answers requests on the requester's own channel (`publishOnSpecificResponseChannel`).
    pub fn specific_response_channel(mut self, on: bool) -> Self {
        self.config.specific_response_channel = on;
        self
    }

    /// Uses Redis 7's sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`), as Node's
    /// `createShardedAdapter` with this `subscriptionMode` (its default is
    /// [`SubscriptionMode::Dynamic`]); every server of the cluster must use it too.
    ///
    /// ```no_run
    /// # fn f<R: socketio_runtime::Runtime>() -> Result<(), socketio_runtime::Error> {
    /// use socketio_runtime::server::{RedisAdapter, SocketIo, SubscriptionMode};
    ///
    /// let adapter = RedisAdapter::new("redis://127.0.0.1:6379")?.sharded(SubscriptionMode::Dynamic);
    /// let io = SocketIo::<R>::builder().adapter(adapter).build();
    /// # Ok(()) }
    /// ```
    pub fn sharded(mut self, mode: SubscriptionMode) -> Self {
        self.config.pubsub = PubSub::Sharded(mode);
        self
    }

    /// Uses a Redis stream for broadcasts and room operations (`XADD`, read with `XREAD`)
    /// and pub/sub for requests, as Node's `@socket.io/redis-streams-adapter` 0.3 (stream
    /// `socket.io`, capped near 10 000 entries); every server of the cluster must use it too.
    /// With [connection state recovery](crate::server::Builder::connection_state_recovery),
    /// a client recovers on any server of the cluster.
    ///
    /// ```no_run
    /// # fn f<R: socketio_runtime::Runtime>() -> Result<(), socketio_runtime::Error> {
    /// use socketio_runtime::server::{RedisAdapter, SocketIo};
    ///
    /// let adapter = RedisAdapter::new("redis://127.0.0.1:6379")?.streams();
    /// let io = SocketIo::<R>::builder().adapter(adapter).build();
    /// # Ok(()) }
    /// ```
    pub fn streams(mut self) -> Self {
        self.config.pubsub = PubSub::Streams;
        self
    }

    /// Whether the adapter listens on a channel per room, so must learn of rooms as they
    /// come and go.
    pub(crate) fn listens_per_room(&self) -> bool {
        self.config.listens_per_room()
    }

    /// Makes the adapter the store of connection state recovery, when it can be (the
    /// streams adapter): sessions and missed events are kept in Redis, and a client
    /// recovers on any server of the cluster. Returns whether it is (it then delivers this
    /// server's broadcasts as it reads them back).
    pub(crate) fn store_sessions(&mut self) -> bool {
        self.config.recovery = matches!(self.config.pubsub, PubSub::Streams);
        self.config.recovery
    }
}

/// Why the cluster part of an operation failed; the local part was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// Redis is unreachable (the adapter reconnects by itself).
    #[error("Redis is unreachable: only this server's sockets were reached")]
    Unreachable,
}

/// A request's end, as the node reports it.
pub(crate) struct Done {
    pub(crate) answer: Answer,
    pub(crate) complete: bool,
}

/// What the application hands back to the node, outside the node's lock.
pub(crate) enum Relayed {
    /// How many local clients a remote broadcast with acks went to.
    ClientCount(ReplyTo, usize),
    /// One local client's answer to it.
    Ack(ReplyTo, Payload),
    /// The answer to a remote server-side event.
    Reply(ReplyTo, Value),
    /// A local room got its first socket (`exists`) or lost its last one.
    Room { namespace: Namespace, room: Room, exists: bool },
    /// A dynamic namespace closed: the node stops listening to it unless a client asked for
    /// it again meanwhile (checked under the node's lock, which an opening takes too).
    NamespaceClosed(Namespace),
}

/// A command of the application, and where its reply goes (nowhere: not needed).
type Query = (Vec<u8>, Option<oneshot::Sender<Reply>>);

type ServerSideHandler = Arc<dyn Fn(Message) -> BoxFuture + Send + Sync>;

/// One server's part of the cluster.
pub(crate) struct Cluster {
    url: RedisUrl,
    pub(crate) requests_timeout: Duration,
    node: Mutex<RedisNode>,
    signal: Signal,
    /// Both connections are up and subscribed.
    up: AtomicBool,
    waiters: Mutex<HashMap<RequestId, oneshot::Sender<Done>>>,
    relayed: Mutex<Vec<Relayed>>,
    handlers: Mutex<Listeners<ServerSideHandler>>,
    /// Commands of the application (kept sessions), each with where its reply goes.
    queries: Mutex<Vec<Query>>,
}

impl Cluster {
    pub(crate) fn new(adapter: RedisAdapter) -> Self {
        let requests_timeout = adapter.config.requests_timeout;
        Cluster {
            url: adapter.url,
            requests_timeout,
            node: Mutex::new(RedisNode::new(adapter.config, Box::new(crate::ids::random_u128))),
            signal: Signal::default(),
            up: AtomicBool::new(false),
            waiters: Mutex::default(),
            relayed: Mutex::default(),
            handlers: Mutex::default(),
            queries: Mutex::default(),
        }
    }

    /// Sends `command` to Redis; the receiver gets its reply, or is dropped when Redis is
    /// unreachable.
    pub(crate) fn query(&self, command: Vec<u8>) -> oneshot::Receiver<Reply> {
        let (reply, receiver) = oneshot::channel();
        // While Redis is unreachable it fails at once (the reply is dropped).
        if self.up.load(Ordering::Acquire) {
            lock(&self.queries).push((command, Some(reply)));
            self.signal.notify();
        }
        receiver
    }

    /// Sends `command` to Redis; the receiver gets its reply (or is dropped if the
    /// connection is lost first). Fails while Redis is unreachable.
    pub(crate) fn command(&self, command: Vec<u8>) -> Result<oneshot::Receiver<Reply>, ClusterError> {
        if !self.up.load(Ordering::Acquire) {
            return Err(ClusterError::Unreachable);
        }
        Ok(self.query(command))
    }

    /// The stream a streams adapter reads.
    pub(crate) fn stream(&self) -> Option<String> {
        lock(&self.node).stream().map(str::to_owned)
    }

    /// Runs `operation` on the node (it publishes); fails without running it while Redis
    /// is unreachable.
    pub(crate) fn publish(&self, operation: impl FnOnce(&mut RedisNode)) -> Result<(), ClusterError> {
        if !self.up.load(Ordering::Acquire) {
            return Err(ClusterError::Unreachable);
        }
        operation(&mut lock(&self.node));
        self.signal.notify();
        Ok(())
    }

    /// Starts a request on the node; the receiver gets its end (incomplete at once when
    /// Redis is unreachable).
    pub(crate) fn request(
        &self,
        operation: impl FnOnce(&mut RedisNode) -> RequestId,
    ) -> oneshot::Receiver<Done> {
        let (done, receiver) = oneshot::channel();
        {
            let mut node = lock(&self.node);
            let id = operation(&mut node);
            // Under the node's lock: its end cannot be drained before.
            lock(&self.waiters).insert(id, done);
        }
        self.signal.notify();
        receiver
    }

    /// Hands `relayed` to the node.
    pub(crate) fn relay(&self, relayed: Relayed) {
        lock(&self.relayed).push(relayed);
        self.signal.notify();
    }

    /// Listens to the namespace's channels.
    pub(crate) fn add_namespace(&self, namespace: &Namespace) {
        // Known already (every connection asks): nothing for the cluster task to do.
        if lock(&self.node).add_namespace(namespace) {
            self.signal.notify();
        }
    }

    pub(crate) fn on_server_side(&self, event: &str, handler: ServerSideHandler) {
        lock(&self.handlers).add(event, handler);
    }

    fn handlers(&self, event: &str) -> Option<Arc<[ServerSideHandler]>> {
        lock(&self.handlers).of(event)
    }
}
