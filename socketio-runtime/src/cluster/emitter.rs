//! Publishing to a cluster from a process that is not a Socket.IO server (the
//! `@socket.io/redis-emitter` role): [`Emitter`].

use std::io;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::lock::Mutex as AsyncMutex;
use socketio_proto::cluster::redis::{Output, RedisConfig, RedisNode};
use socketio_proto::cluster::resp::Reply;
use socketio_proto::server::{Room, Selector};
use socketio_proto::{Args, Namespace};

use super::RedisUrl;
use super::connection::{Commands, Replies, connect};
use crate::server::lock;
use crate::{Error, Runtime};

/// Publishes broadcasts, room operations and server-side events to the servers of a
/// cluster on Redis, Node servers included, from plain async code. Cheap to clone; what one
/// emitter publishes reaches each server in the order it was published.
///
/// ```no_run
/// # async fn f<R: socketio_runtime::Runtime>() -> Result<(), socketio_runtime::Error> {
/// use socketio_runtime::emitter::Emitter;
///
/// let emitter = Emitter::<R>::new("redis://127.0.0.1:6379")?;
/// emitter.emit("news", &"to every client of every server").await?;
/// emitter.to("room1").except("room2").emit("news", &("two", "arguments")).await?;
/// emitter.of("/admin").to("ops").sockets_join("alerted").await?;
/// # Ok(()) }
/// ```
pub struct Emitter<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Emitter<R> {
    fn clone(&self) -> Self {
        Emitter { inner: self.inner.clone() }
    }
}

struct Inner<R: Runtime> {
    url: RedisUrl,
    node: Mutex<RedisNode>,
    /// The connection, opened on first use and again after a failure.
    link: AsyncMutex<Option<(Replies<R>, Commands<R>)>>,
    runtime: PhantomData<R>,
}

impl<R: Runtime> Emitter<R> {
    /// An emitter for the cluster on the Redis server at `url`, key `socket.io`. It
    /// connects on its first publication.
    pub fn new(url: &str) -> Result<Self, Error> {
        Self::with_key(url, "socket.io")
    }

    /// The same for a cluster whose adapters use the channel prefix `key`.
    pub fn with_key(url: &str, key: &str) -> Result<Self, Error> {
        let url = RedisUrl::parse(url).map_err(Error::Config)?;
        let config = RedisConfig { key: key.into(), ..RedisConfig::default() };
        let inner = Inner {
            url,
            node: Mutex::new(RedisNode::emitter(config)),
            link: AsyncMutex::new(None),
            runtime: PhantomData,
        };
        Ok(Emitter { inner: Arc::new(inner) })
    }

    /// The main namespace's sockets in `room`.
    pub fn to(&self, room: impl Into<Room>) -> EmitterOperator<R> {
        self.of("/").to(room)
    }

    /// The main namespace's sockets except those in `room`.
    pub fn except(&self, room: impl Into<Room>) -> EmitterOperator<R> {
        self.of("/").except(room)
    }

    /// Another namespace: `"/admin"`, or `"admin"` which means the same.
    pub fn of(&self, name: &str) -> EmitterOperator<R> {
        let name = if name.starts_with('/') { name.to_owned() } else { format!("/{name}") };
        let namespace = Namespace::new(name).unwrap_or_else(|_| Namespace::main());
        EmitterOperator { emitter: self.clone(), namespace, selector: Selector::all() }
    }

    /// Emits to every socket of the main namespace.
    pub async fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        self.of("/").emit(event, args).await
    }

    /// Emits `event` to the servers themselves (`serverSideEmit`, without acks).
    pub async fn server_side_emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        self.publish(|node| node.server_side_emit(&Namespace::main(), &payload)).await
    }

    /// Runs `operation` on the node and publishes what it made, waiting for Redis to take
    /// it.
    async fn publish(&self, operation: impl FnOnce(&mut RedisNode)) -> Result<(), Error> {
        let mut link = self.inner.link.lock().await;
        let mut commands = Vec::new();
        let mut count = 0;
        {
            let mut node = lock(&self.inner.node);
            operation(&mut node);
            // An emitter only publishes.
            while let Some(output) = node.poll_output() {
                if matches!(output, Output::Publish { .. }) {
                    output.encode_into(node.is_sharded(), &mut commands);
                    count += 1;
                }
            }
        }
        if count == 0 {
            return Ok(());
        }
        // Out of its slot while in use: if this future is dropped part-way, the connection,
        // which may hold half a command or unread replies, goes with it, and the next
        // publication opens another.
        let mut taken = link.take();
        let result = self.send(&mut taken, &commands, count).await;
        if result.is_ok() {
            *link = taken;
        }
        result.map_err(|error| {
            tracing::warn!(%error, "emitter: Redis unreachable");
            Error::Cluster(super::ClusterError::Unreachable)
        })
    }

    async fn send(
        &self,
        link: &mut Option<(Replies<R>, Commands<R>)>,
        commands: &[u8],
        count: usize,
    ) -> io::Result<()> {
        if link.is_none() {
            *link = Some(connect::<R>(&self.inner.url).await?);
        }
        let Some((replies, writer)) = link.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        writer.send(commands).await?;
        for _ in 0..count {
            if let Reply::Error(error) = replies.next_within(Duration::ZERO).await? {
                return Err(io::Error::other(error));
            }
        }
        Ok(())
    }
}

/// A selection of sockets of one namespace, across the cluster, for an [`Emitter`].
pub struct EmitterOperator<R: Runtime> {
    emitter: Emitter<R>,
    namespace: Namespace,
    selector: Selector,
}

impl<R: Runtime> EmitterOperator<R> {
    /// Also (or only, the first time) the sockets in `room`.
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        self.selector.rooms.push(room.into());
        self
    }

    /// Minus the sockets in `room`.
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        self.selector.except.push(room.into());
        self
    }

    /// Skips clients whose transport cannot take the event right now.
    pub fn volatile(mut self) -> Self {
        self.selector.volatile = true;
        self
    }

    /// Emits to the selection; `args` follow the [arguments rule](socketio_proto::args).
    pub async fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        self.emitter
            .publish(|node| {
                node.broadcast(&self.namespace, &self.selector, &payload);
            })
            .await
    }

    /// Makes the selected sockets join `room` (`socketsJoin`).
    pub async fn sockets_join(&self, room: impl Into<Room>) -> Result<(), Error> {
        let rooms = [room.into()];
        self.emitter.publish(|node| node.sockets_join(&self.namespace, &self.selector, &rooms)).await
    }

    /// Makes the selected sockets leave `room` (`socketsLeave`).
    pub async fn sockets_leave(&self, room: impl Into<Room>) -> Result<(), Error> {
        let rooms = [room.into()];
        self.emitter.publish(|node| node.sockets_leave(&self.namespace, &self.selector, &rooms)).await
    }

    /// Disconnects the selected sockets (`disconnectSockets`); `close` closes their whole
    /// connections.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.emitter.publish(|node| node.disconnect_sockets(&self.namespace, &self.selector, close)).await
    }
}
