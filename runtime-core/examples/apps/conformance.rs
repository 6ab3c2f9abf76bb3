//! The reference configuration of the official socket.io protocol test suite.
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, connectTimeout 1000 ms,
//! CORS for any origin. On `/`: emits `auth` with the client's auth payload (`{}` if none),
//! answers `message` with `message-back` and the same arguments, and acks
//! `message-with-ack` with the same arguments. On `/custom`: emits `auth` likewise.

use std::time::Duration;

use crate::rt::engineio_proto::server::Cors;
use crate::rt::socket::{Socket, SocketIo};
use crate::rt::socketio_proto::Payload;

fn emit_auth(socket: &Socket, auth: Option<Payload>) {
    let auth = auth.unwrap_or_else(|| Payload::from_json("{}").unwrap_or_else(|_| unreachable!()));
    let args = Payload::from_json(format!("[{}]", auth.json())).expect("an object is a valid argument");
    let _ = socket.emit_payload(Payload::event_with_args("auth", &args).expect("not reserved"));
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

    io.of("/").on_connection(|socket, auth| {
        emit_auth(&socket, auth);
        socket.on("message", |socket, message| {
            if let Ok(payload) = Payload::event_with_args("message-back", &message.args_payload()) {
                let _ = socket.emit_payload(payload);
            }
        });
        socket.on("message-with-ack", |_, message| {
            let _ = message.ack_payload(message.args_payload());
        });
    });
    io.of("/custom").on_connection(|socket, auth| emit_auth(&socket, auth));
    io
}
