//! The reference configuration of the official socket.io protocol test suite.
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, connectTimeout 1000 ms,
//! CORS for any origin. On `/`: emits `auth` with the client's auth payload (`{}` if none),
//! answers `message` with `message-back` and the same arguments, and acks
//! `message-with-ack` with the same arguments. On `/custom`: emits `auth` likewise.

use std::time::Duration;

use crate::rt::Error;
use crate::rt::engineio_proto::server::Cors;
use crate::rt::server::{Socket, SocketIo};

/// Sends the client's auth object back, `{}` when it sent none.
async fn emit_auth(socket: Socket) -> Result<(), Error> {
    let auth: Option<serde_json::Value> = socket.auth()?;
    socket.emit("auth", &auth.unwrap_or_else(|| serde_json::json!({})))
}

/// The server with its handlers, not yet listening.
pub(crate) fn server() -> SocketIo {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
        .cors(Cors::any())
        .build();

    io.on_connection(async |socket| {
        socket.on("message", async |socket, message| socket.emit("message-back", &message.raw_args()));
        socket.on("message-with-ack", async |_, message| message.ack(&message.raw_args()));
        emit_auth(socket).await
    });
    io.of("/custom").on_connection(emit_auth);
    io
}
