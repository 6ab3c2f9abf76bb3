//! Operations on a selection of sockets: broadcast (with or without acks), fetch, join,
//! leave, disconnect.

use std::time::{Duration, Instant};

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use socketio_proto::server::{DisconnectScope, Room, Selector};
use socketio_proto::{Args, Namespace};

use super::{RemoteSocket, Socket, SocketIo};
use crate::ack::{BroadcastAckFuture, Forget};
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

    /// Only this server's sockets. Without a cluster adapter every socket is this
    /// server's, so this changes nothing yet.
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
    /// [arguments rule](socketio_proto::args).
    pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        let payload = args.event_payload(event)?;
        self.io.notify_outgoing(&self.namespace, &self.selector, &payload);
        let (namespace, selector) = (&self.namespace, &self.selector);
        self.io.shared.with_state(|state| state.endpoint.broadcast(namespace, selector, payload));
        Ok(())
    }

    /// Emits asking every recipient for an ack, and resolves with every answer read as
    /// `T`, plus how many recipients did not answer within the [timeout](Self::timeout)
    /// (without one, it waits until each answers or disconnects).
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
            answers,
            Forget::with(move || {
                io.shared.with_state(|state| state.endpoint.forget_broadcast_ack(id));
                super::lock(&io.acks).forget_broadcast(id);
            }),
        )
    }

    /// The selected sockets (`fetchSockets`): their ids, rooms and data, to emit to,
    /// join, leave or disconnect (see [`RemoteSocket`]).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket<R>> {
        let found = self.io.shared.with_state(|state| {
            let ids = state.endpoint.select(&self.namespace, &self.selector);
            ids.into_iter().map(|id| (id, state.endpoint.rooms(id))).collect::<Vec<_>>()
        });
        let live = self.io.live();
        found
            .into_iter()
            .filter_map(|(id, rooms)| {
                let socket = Socket::new(live.get(&id)?.clone(), self.io.clone());
                Some(RemoteSocket::of_local(socket, rooms))
            })
            .collect()
    }

    /// Makes the selected sockets join `room` (`socketsJoin`).
    pub fn sockets_join(&self, room: impl Into<Room>) {
        let room = room.into();
        self.io.shared.with_state(|state| state.endpoint.sockets_join(&self.namespace, &self.selector, room));
    }

    /// Makes the selected sockets leave `room` (`socketsLeave`).
    pub fn sockets_leave(&self, room: &str) {
        self.io
            .shared
            .with_state(|state| state.endpoint.sockets_leave(&self.namespace, &self.selector, room));
    }

    /// Disconnects the selected sockets from this namespace (`disconnectSockets()`).
    pub fn disconnect_sockets(&self) {
        self.end_sockets(DisconnectScope::Namespace);
    }

    /// Closes the selected sockets' whole connections (`disconnectSockets(true)`).
    pub fn close_sockets(&self) {
        self.end_sockets(DisconnectScope::Connection);
    }

    fn end_sockets(&self, scope: DisconnectScope) {
        self.io.shared.with_state(|state| {
            state.endpoint.disconnect_sockets(Instant::now(), &self.namespace, &self.selector, scope);
        });
    }
}
