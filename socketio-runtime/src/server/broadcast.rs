//! Operations on a selection of sockets: broadcast (with or without acks), fetch, join,
//! leave, disconnect.

use std::time::{Duration, Instant};

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use socketio_proto::server::{DisconnectScope, Room, Selector};
use socketio_proto::{Args, Namespace};

use socketio_proto::cluster::redis::Answer;

use super::{RemoteSocket, SocketIo};
use crate::ack::{BroadcastAckFuture, Forget};
use crate::cluster::Done;
use crate::{Error, Runtime};

/// A selection of sockets in one namespace: `io.to("room")`, `socket.broadcast()`,
/// `io.of("/admin").except("banned")`. Every method that selects returns the operator, so
/// they chain; the ones that act (`emit`, `fetch_sockets`, ...) end the chain.
///
/// ```no_run
/// # fn f<R: socketio_runtime::Runtime>(io: socketio_runtime::server::SocketIo<R>) -> Result<(), socketio_runtime::Error> {
/// io.to("room1").to("room2").except("room3").emit("news", &"hello")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BroadcastOperator<R> {
    io: SocketIo<R>,
    namespace: Namespace,
    selector: Selector,
    timeout: Option<Duration>,
}

impl<R: Runtime> BroadcastOperator<R> {
    pub(crate) fn new(io: SocketIo<R>, namespace: Namespace, selector: Selector) -> Self {
        BroadcastOperator { io, namespace, selector, timeout: None }
    }

    /// Also (or only, the first time) the sockets in `room`. A socket id is a room too.
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

    /// Only this server's sockets, not those of the other servers of a cluster.
    pub fn local(mut self) -> Self {
        self.selector.local = true;
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Emits to the selection, encoded once for every recipient; `args` follow the
    /// [arguments rule](socketio_proto::args). In a cluster it goes to the other servers
    /// too; when Redis is unreachable, this server's sockets get it and the result is
    /// [`Error::Cluster`].
    pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        let (namespace, selector) = (&self.namespace, &self.selector);
        // The other servers first, so the local part can take the payload; it happens
        // whatever became of theirs.
        let mut read_back = false;
        let cluster = self.on_cluster(|node| read_back = node.broadcast(namespace, selector, &payload));
        if read_back {
            // Logged in the stream: this server's sockets get it as it is read back, with
            // its offset, in the stream's order.
            return Ok(());
        }
        self.io.deliver(namespace, selector, payload, None);
        cluster
    }

    /// [`Self::on_cluster`], a failure logged.
    fn on_cluster_logged(
        &self,
        what: &str,
        operation: impl FnOnce(&mut socketio_proto::cluster::redis::RedisNode),
    ) {
        if let Err(error) = self.on_cluster(operation) {
            tracing::warn!(operation = what, %error, "cluster part failed");
        }
    }

    /// The cluster, when this operation goes beyond this server.
    fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.io.cluster.as_deref().filter(|_| !self.selector.local)
    }

    /// Publishes an operation for the other servers, if there are any.
    fn on_cluster(
        &self,
        operation: impl FnOnce(&mut socketio_proto::cluster::redis::RedisNode),
    ) -> Result<(), Error> {
        match self.cluster() {
            Some(cluster) => Ok(cluster.publish(operation)?),
            None => Ok(()),
        }
    }

    /// Emits asking every recipient for an ack, and resolves with every answer read as
    /// `T`, plus how many recipients did not answer within the [timeout](Self::timeout)
    /// (without one, it waits until each answers or disconnects; in a cluster, the
    /// adapter's requests timeout bounds the other servers' part).
    pub fn emit_with_ack<T: DeserializeOwned>(
        &self,
        event: &str,
        args: &(impl Args + ?Sized),
    ) -> BroadcastAckFuture<T> {
        let payload = match args.event_payload(event) {
            Ok(payload) => payload,
            Err(error) => return BroadcastAckFuture::failed(error),
        };
        self.io.notify_outgoing(&self.namespace, &self.selector, &payload);
        let cluster = self.cluster().map(|cluster| {
            let timeout = self.timeout.unwrap_or(cluster.requests_timeout);
            let (namespace, selector, now) = (&self.namespace, &self.selector, Instant::now());
            cluster.request(|node| node.broadcast_with_ack(now, namespace, selector, &payload, timeout))
        });
        let (done, answers) = oneshot::channel();
        let acks = self.io.acks.clone();
        let id = self.io.shared.with_state(|state| {
            let sent = state.endpoint.broadcast_with_ack(
                Instant::now(),
                &self.namespace,
                &self.selector,
                payload,
                self.timeout,
            );
            // Registered under the state lock: no answer can be dispatched before.
            super::lock(&acks).wait_broadcast(sent.id, sent.recipients, done);
            sent.id
        });
        let io = self.io.clone();
        BroadcastAckFuture::waiting(
            Some(answers),
            cluster,
            Forget::with(move || {
                io.shared.with_state(|state| state.endpoint.forget_broadcast_ack(id));
                super::lock(&io.acks).forget_broadcast(id);
            }),
        )
    }

    /// The selected sockets (`fetchSockets`): their ids, rooms and data, to emit to,
    /// join, leave or disconnect (see [`RemoteSocket`]). In a cluster, the other servers'
    /// too, as many as answered within the adapter's requests timeout (this server's come
    /// first).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket<R>> {
        let local = self.io.local_sockets(&self.namespace, &self.selector);
        let Some(cluster) = self.cluster() else {
            return local.into_iter().map(|(socket, rooms)| RemoteSocket::of_local(socket, rooms)).collect();
        };
        // This server's sockets are at hand: the node gathers the others' only.
        let (namespace, selector, now) = (&self.namespace, &self.selector, Instant::now());
        let done = cluster.request(|node| node.fetch_sockets(now, namespace, selector, Vec::new()));
        let mut local: Vec<_> =
            local.into_iter().map(|(socket, rooms)| RemoteSocket::of_local(socket, rooms)).collect();
        match done.await {
            Ok(Done { answer: Answer::Fetched(remote), complete }) => {
                if !complete {
                    tracing::warn!("fetch_sockets: some servers of the cluster did not answer in time");
                }
                local.extend(remote.into_iter().map(|details| {
                    RemoteSocket::of_remote(self.io.clone(), self.namespace.clone(), details)
                }));
                local
            }
            _ => local,
        }
    }

    /// Makes the selected sockets join `room` (`socketsJoin`), on every server. (When
    /// Redis is unreachable, this server's sockets join and a warning is logged; so for
    /// the other operations on rooms and disconnections.)
    pub fn sockets_join(&self, room: impl Into<Room>) {
        let room = room.into();
        let rooms = [room.clone()];
        self.io.shared.with_state(|state| state.endpoint.sockets_join(&self.namespace, &self.selector, room));
        self.on_cluster_logged("sockets_join", |node| {
            node.sockets_join(&self.namespace, &self.selector, &rooms)
        });
    }

    /// Makes the selected sockets leave `room` (`socketsLeave`), on every server.
    pub fn sockets_leave(&self, room: &str) {
        self.io
            .shared
            .with_state(|state| state.endpoint.sockets_leave(&self.namespace, &self.selector, room));
        self.on_cluster_logged("sockets_leave", |node| {
            node.sockets_leave(&self.namespace, &self.selector, &[Room::from(room)]);
        });
    }

    /// Disconnects the selected sockets from this namespace (`disconnectSockets()`), on
    /// every server.
    pub fn disconnect_sockets(&self) {
        self.end_sockets(DisconnectScope::Namespace);
    }

    /// Closes the selected sockets' whole connections (`disconnectSockets(true)`), on
    /// every server.
    pub fn close_sockets(&self) {
        self.end_sockets(DisconnectScope::Connection);
    }

    fn end_sockets(&self, scope: DisconnectScope) {
        self.io.shared.with_state(|state| {
            state.endpoint.disconnect_sockets(Instant::now(), &self.namespace, &self.selector, scope);
        });
        let close = scope == DisconnectScope::Connection;
        self.on_cluster_logged("disconnect_sockets", |node| {
            node.disconnect_sockets(&self.namespace, &self.selector, close);
        });
    }
}
