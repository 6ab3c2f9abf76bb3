//! Operations on a selection of sockets: broadcast, fetch, join, leave, disconnect.

use std::time::Instant;

use serde::Serialize;
use socketio_proto::server::{Room, Selector, SocketId};
use socketio_proto::{EncodeError, Namespace, Payload, Value};

use super::SocketIo;
use crate::Runtime;

/// A selection of sockets in one namespace (`io.to(...)`, `socket.broadcast`, ...).
#[derive(Clone)]
pub struct BroadcastOperator<R> {
    io: SocketIo<R>,
    namespace: Namespace,
    selector: Selector,
    volatile: bool,
}

/// A socket of a selection, as [`BroadcastOperator::fetch_sockets`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id.
    pub id: SocketId,
    /// Its rooms.
    pub rooms: Vec<Room>,
}

impl<R: Runtime> BroadcastOperator<R> {
    pub(crate) fn new(io: SocketIo<R>, namespace: Namespace) -> Self {
        Self::with_selector(io, namespace, Selector::all())
    }

    pub(crate) fn with_selector(io: SocketIo<R>, namespace: Namespace, selector: Selector) -> Self {
        BroadcastOperator { io, namespace, selector, volatile: false }
    }

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

    /// Drop the event for clients whose transport cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Only this server's sockets, even under a cluster adapter.
    pub fn local(mut self) -> Self {
        self.selector.local = true;
        self
    }

    /// Emits to the selection, encoded once; returns how many sockets it went to.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<usize, EncodeError> {
        Ok(self.emit_payload(Payload::event(event, args)?))
    }

    /// Emits dynamic arguments, binary ones as attachments.
    pub fn emit_values(&self, event: &str, args: &[Value]) -> Result<usize, EncodeError> {
        Ok(self.emit_payload(Payload::event_values(event, args)?))
    }

    /// Emits a ready event payload as it is.
    pub fn emit_payload(&self, payload: Payload) -> usize {
        let (namespace, selector, volatile) = (&self.namespace, &self.selector, self.volatile);
        self.io.shared.with_state(|state| state.endpoint.broadcast(namespace, selector, payload, volatile))
    }

    /// The selected sockets, with their rooms (`fetchSockets`).
    pub fn fetch_sockets(&self) -> Vec<SocketInfo> {
        self.io.shared.with_state(|state| {
            let ids = state.endpoint.select(&self.namespace, &self.selector);
            ids.into_iter().map(|id| SocketInfo { id, rooms: state.endpoint.rooms(id) }).collect()
        })
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

    /// Disconnects the selected sockets; with `close`, their sessions too (`disconnectSockets`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.io.shared.with_state(|state| {
            state.endpoint.disconnect_sockets(Instant::now(), &self.namespace, &self.selector, close);
        });
    }
}
