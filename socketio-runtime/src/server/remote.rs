//! A socket found by `fetch_sockets`: [`RemoteSocket`].

use serde::de::DeserializeOwned;
use socketio_proto::cluster::redis::SocketDetails;
use socketio_proto::server::{Room, Selector};
use socketio_proto::{Args, Namespace, Payload, Value};

use super::{BroadcastOperator, Socket, SocketIo};
use crate::{Error, Runtime};

/// A socket found by [`fetch_sockets`](BroadcastOperator::fetch_sockets) (the reference's
/// `RemoteSocket`): its id, rooms and data as they were when fetched, and the operations
/// that reach it wherever it is connected. Every operation goes through the socket's own
/// room, so it works the same for a socket of another server of a cluster.
///
/// ```no_run
/// # async fn f<R: socketio_runtime::Runtime>(io: socketio_runtime::server::SocketIo<R>) -> Result<(), socketio_runtime::Error> {
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct User { name: String }
///
/// for socket in io.to("lobby").fetch_sockets().await {
///     if let Some(user) = socket.data::<User>() {
///         socket.emit("hello", &user.name)?;
///     }
///     socket.join("greeted");
/// }
/// # Ok(()) }
/// ```
pub struct RemoteSocket<R> {
    id: String,
    namespace: Namespace,
    rooms: Vec<Room>,
    /// [`Socket::set_data`]'s value in its serialized form.
    data: Option<Payload>,
    /// Its handshake, as the reference describes it.
    handshake: Value,
    /// The socket itself, when it is connected to this server.
    local: Option<Socket<R>>,
    io: SocketIo<R>,
}

impl<R> Clone for RemoteSocket<R> {
    fn clone(&self) -> Self {
        RemoteSocket {
            id: self.id.clone(),
            handshake: self.handshake.clone(),
            namespace: self.namespace.clone(),
            rooms: self.rooms.clone(),
            data: self.data.clone(),
            local: self.local.clone(),
            io: self.io.clone(),
        }
    }
}

impl<R: Runtime> RemoteSocket<R> {
    /// The details of a socket of this server.
    pub(crate) fn of_local(socket: Socket<R>, rooms: Vec<Room>) -> Self {
        RemoteSocket {
            id: socket.id().to_string(),
            handshake: crate::cluster::handshake_value(socket.handshake(), socket.auth_payload()),
            namespace: socket.namespace().clone(),
            rooms,
            data: socket.serialized_data(),
            io: socket.io().clone(),
            local: Some(socket),
        }
    }

    /// The details of a socket of another server.
    pub(crate) fn of_remote(io: SocketIo<R>, namespace: Namespace, details: SocketDetails) -> Self {
        RemoteSocket {
            id: details.id,
            namespace,
            rooms: details.rooms,
            data: Some(Payload::from_value(&details.data)).filter(|_| details.data != Value::Null),
            handshake: details.handshake,
            local: None,
            io,
        }
    }

    /// The socket id (a socket of a Node server has an id of another form).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its handshake as the reference's `socket.handshake` describes it: `headers`,
    /// `time`, `address`, `xdomain`, `secure`, `issued`, `url`, `query`, `auth`.
    pub fn handshake(&self) -> &Value {
        &self.handshake
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The rooms it was in when fetched (its own id among them).
    pub fn rooms(&self) -> &[Room] {
        &self.rooms
    }

    /// Its data ([`Socket::set_data`]) read as a `T`, if it has some of that shape.
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        self.data.as_ref().and_then(|data| data.to_value().ok()).and_then(|value| T::deserialize(value).ok())
    }

    /// The socket itself, when it is connected to this server.
    pub fn local(&self) -> Option<&Socket<R>> {
        self.local.as_ref()
    }

    /// Emits to it; `args` follow the [arguments rule](socketio_proto::args).
    pub fn emit<A: Args + ?Sized>(&self, event: &str, args: &A) -> Result<(), Error> {
        self.operator().emit(event, args)
    }

    /// Makes it join `room`.
    pub fn join(&self, room: impl Into<Room>) {
        self.operator().sockets_join(room);
    }

    /// Makes it leave `room`.
    pub fn leave(&self, room: &str) {
        self.operator().sockets_leave(room);
    }

    /// Disconnects it from its namespace (see [`Socket::disconnect`]).
    pub fn disconnect(&self) {
        self.operator().disconnect_sockets();
    }

    /// Closes its whole connection (see [`Socket::close`]).
    pub fn close(&self) {
        self.operator().close_sockets();
    }

    fn operator(&self) -> BroadcastOperator<R> {
        let selector = Selector { rooms: vec![Room::from(self.id.as_str())], ..Selector::all() };
        BroadcastOperator::new(self.io.clone(), self.namespace.clone(), selector)
    }
}
