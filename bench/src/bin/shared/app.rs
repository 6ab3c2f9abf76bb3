//! The benchmark application on our server, written once against the names both runtime
//! crates offer (`rt`): the same handlers as `tests/js/bench-server.js` and
//! `bench_socketioxide.rs`.
//!
//! - `join` (acked): joins the room `bench`.
//! - `fanout` with one argument: emits `tick` with it to the room.
//! - `echo` with arguments (acked): acks with the same arguments.

use crate::rt::socket::SocketIo;
use crate::rt::socketio_proto::Payload;

/// The server with its handlers, default settings, not yet listening.
pub(crate) fn server() -> SocketIo {
    let io = SocketIo::builder().build();
    io.of("/").on_connection(|socket, _| {
        socket.on("join", |socket, message| {
            socket.join("bench");
            let _ = message.ack(&());
        });
        socket.on("fanout", |socket, message| {
            if let Ok(tick) = Payload::event_with_args("tick", &message.args_payload()) {
                socket.io().to("bench").emit_payload(tick);
            }
        });
        socket.on("echo", |_, message| {
            let _ = message.ack_payload(message.args_payload());
        });
    });
    io
}

/// `127.0.0.1:$PORT`.
pub(crate) fn addr() -> String {
    format!("127.0.0.1:{}", std::env::var("PORT").unwrap_or_else(|_| "3000".into()))
}
