//! The benchmark application on our server, written once against the names both runtime
//! crates offer (`rt`): the same handlers as `tests/js/bench-server.js` and
//! `bench_socketioxide.rs`.
//!
//! - `join` (acked): joins the room `bench`.
//! - `fanout` with one argument: emits `tick` with it to the room.
//! - `echo` with arguments (acked): acks with the same arguments.
//!
//! `RECOVERY=on` turns connection state recovery on (default settings); `REDIS_URL` makes
//! the server one of a cluster on the streams adapter.

use crate::rt::server::{RecoveryConfig, RedisAdapter, SocketIo};

/// The server with its handlers, default settings, not yet listening.
pub(crate) fn server() -> SocketIo {
    let mut builder = SocketIo::builder();
    if std::env::var("RECOVERY").is_ok_and(|v| v == "on") {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        builder = builder.adapter(RedisAdapter::new(&url).expect("REDIS_URL is a redis:// URL").streams());
    }
    let io = builder.build();
    io.on_connection(async |socket| {
        socket.on("join", async |socket, message| {
            socket.join("bench");
            message.ack(&())
        });
        socket
            .on("fanout", async |socket, message| socket.io().to("bench").emit("tick", &message.raw_args()));
        socket.on("echo", async |_, message| message.ack(&message.raw_args()));
    });
    io
}

/// `127.0.0.1:$PORT`.
pub(crate) fn addr() -> String {
    format!("127.0.0.1:{}", std::env::var("PORT").unwrap_or_else(|_| "3000".into()))
}
