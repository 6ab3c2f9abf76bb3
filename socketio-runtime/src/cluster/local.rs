//! What the other servers may ask about this server's sockets, and how a socket's
//! handshake looks to them (the reference's `socket.handshake`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engineio_proto::server::Handshake;
use socketio_proto::cluster::redis::{LocalSockets, SocketDetails};
use socketio_proto::server::{Room, Selector, SocketId};
use socketio_proto::{Namespace, Payload, Value};

use crate::Runtime;
use crate::server::{Socket, SocketIo};

/// This server's sockets, for the node's answers.
pub(super) struct LocalView<'a, R>(pub(super) &'a SocketIo<R>);

impl<R: Runtime> LocalSockets for LocalView<'_, R> {
    fn select(&self, namespace: &Namespace, selector: &Selector) -> Vec<SocketId> {
        self.0.shared.with_state(|state| state.endpoint.select(namespace, selector))
    }

    fn rooms(&self, namespace: &Namespace) -> Vec<Room> {
        self.0.shared.with_state(|state| state.endpoint.all_rooms(namespace))
    }

    fn fetch(&self, namespace: &Namespace, selector: &Selector) -> Vec<SocketDetails> {
        self.0
            .local_sockets(namespace, selector)
            .iter()
            .map(|(socket, rooms)| socket.describe(rooms))
            .collect()
    }
}

/// `socket.handshake` as a Node server describes it to the others, issued at the wall
/// clock's time of `handshake.at`.
pub(crate) fn handshake_value(handshake: &Handshake, auth: Option<&Payload>) -> Value {
    let issued = SystemTime::now()
        .checked_sub(Instant::now().saturating_duration_since(handshake.at))
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let issued_ms = i64::try_from(issued.as_millis()).unwrap_or(i64::MAX);
    socketio_proto::cluster::handshake::describe(handshake, auth, issued_ms)
}

impl<R: Runtime> Socket<R> {
    /// How the other servers see this socket.
    pub(crate) fn describe(&self, rooms: &[Room]) -> SocketDetails {
        SocketDetails {
            id: self.id().to_string(),
            handshake: handshake_value(self.handshake(), self.auth_payload()),
            rooms: rooms.to_vec(),
            data: self.serialized_data().and_then(|data| data.to_value().ok()).unwrap_or(Value::Null),
        }
    }
}
