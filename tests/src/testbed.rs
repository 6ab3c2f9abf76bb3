//! The Socket.IO server the interop suites talk to: the conformance behaviour plus handlers
//! for rooms, broadcast, acks asked by the server, middleware, disconnect reasons, ordering
//! and large messages. Written once against the names both runtime crates offer; each
//! `testbed_<runtime>` binary includes it with `rt` naming its runtime crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::rt::engineio_proto::server::Cors;
use crate::rt::server::{ConnectError, Socket, SocketIo};
use crate::rt::{Error, Rt, Runtime, Spread};

fn setup(socket: Socket, reasons: Arc<Mutex<Vec<String>>>) -> Result<(), Error> {
    let auth: Option<Json> = socket.auth()?;
    socket.emit("auth", &auth.unwrap_or_else(|| json!({})))?;
    socket.on("message", async |socket, message| socket.emit("message-back", &message.raw_args()));
    socket.on("message-with-ack", async |_, message| message.ack(&message.raw_args()));
    socket.on("join", async |socket, message| {
        socket.join(message.args::<String>()?);
        message.ack(&())
    });
    socket.on("leave", async |socket, message| {
        socket.leave(&message.args::<String>()?);
        message.ack(&())
    });
    socket.on("rooms", async |socket, message| {
        let mut rooms: Vec<String> = socket.rooms().iter().map(ToString::to_string).collect();
        rooms.sort();
        message.ack(&rooms)
    });
    socket.on("to-room", async |socket, message| {
        let (room, text): (String, Json) = message.args()?;
        socket.io().to(room).emit("room-message", &text)
    });
    socket.on("broadcast", async |socket, message| {
        socket.broadcast().emit("broadcast-message", &message.raw_args())
    });
    socket.on("except-room", async |socket, message| {
        let (room, text): (String, Json) = message.args()?;
        socket.nsp().except(room).emit("except-message", &text)
    });
    socket.on("volatile", async |socket, message| {
        let count: u32 = message.args().unwrap_or(0);
        for i in 0..count {
            socket.nsp().to(socket.id()).volatile().emit("volatile-message", &i)?;
        }
        message.ack(&())
    });
    socket.on("fetch", async |socket, message| {
        let room: String = message.args()?;
        let mut ids: Vec<String> =
            socket.io().to(room).fetch_sockets().await.iter().map(|s| s.id().to_string()).collect();
        ids.sort();
        message.ack(&ids)
    });
    socket.on("ask", async |socket, message| {
        let answer = socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack::<Spread<Vec<Json>>>("question", &message.raw_args())
            .await;
        let reply = match answer {
            Ok(Spread(answer)) => Json::Array(answer),
            Err(error) => json!({ "error": error.to_string() }),
        };
        socket.emit("answer-received", &reply)
    });
    socket.on("ask-nobody", async |socket, _| {
        let result = socket.timeout(Duration::from_millis(200)).emit_with_ack::<()>("unanswered", &()).await;
        socket.emit("ask-result", &result.is_err())
    });
    socket.on("sequence", async |socket, message| {
        let count: u32 = message.args().unwrap_or(0);
        for i in 0..count {
            socket.emit("seq", &i)?;
        }
        Ok(())
    });
    socket.on("disconnect-me", async |socket, message| {
        if message.args::<bool>().unwrap_or(false) { socket.close() } else { socket.disconnect() }
    });
    let recorded = reasons.clone();
    socket.on("reasons", async move |_, message| {
        let reasons = recorded.lock().map(|r| r.clone()).unwrap_or_default();
        message.ack(&reasons)
    });
    let counter = Arc::new(Mutex::new(0u32));
    let seen = counter.clone();
    socket.on_any(move |_, _| {
        if let Ok(mut n) = seen.lock() {
            *n += 1;
        }
    });
    socket.on("gauges", async |socket, message| {
        let io = socket.io();
        message.ack(&json!({
            "clients": io.client_count(),
            "sockets": io.socket_count(),
            "awaitedAcks": io.awaited_acks(),
            "dynamicNamespaces": io.dynamic_namespace_count(),
        }))
    });
    socket.on("count", async move |_, message| {
        let n = counter.lock().map_or(0, |n| *n);
        message.ack(&n)
    });
    socket.on_disconnect(async move |socket, reason| {
        let own = socket.rooms().iter().any(|r| **r == *socket.id().to_string());
        if let Ok(mut reasons) = reasons.lock() {
            // The latest ones only: a long run (the soak test) must not grow the list.
            if reasons.len() >= 256 {
                reasons.remove(0);
            }
            reasons.push(format!(
                "{}:{reason}:{}",
                socket.namespace(),
                if own { "rooms" } else { "no-rooms" }
            ));
        }
    });
    Ok(())
}

/// The server with its handlers, not yet listening.
pub(crate) fn server() -> SocketIo {
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .cors(Cors::any())
        .build();
    let reasons = Arc::new(Mutex::new(Vec::new()));

    let main_reasons = reasons.clone();
    io.of("/")
        .use_middleware(async |request| {
            let auth: Option<Json> = request.auth().unwrap_or_default();
            if auth.is_some_and(|auth| auth["token"] == "bad") {
                Err(ConnectError::new("not authorized").with_data(&json!({ "reason": "bad token" })))
            } else {
                Ok(())
            }
        })
        .on_connection(async move |socket| setup(socket, main_reasons));
    let custom_reasons = reasons.clone();
    io.of("custom").on_connection(async move |socket| setup(socket, custom_reasons));
    let admin_reasons = reasons.clone();
    io.of("/admin")
        .use_middleware(async |request| {
            Rt::sleep_until(std::time::Instant::now() + Duration::from_millis(20)).await;
            let auth: Option<Json> = request.auth().unwrap_or_default();
            if auth.is_some_and(|auth| auth["role"] == "admin") {
                Ok(())
            } else {
                Err(ConnectError::new("admins only"))
            }
        })
        .on_connection(async move |socket| setup(socket, admin_reasons));
    let dynamic_reasons = reasons;
    io.dynamic_namespaces(|name| name.starts_with("/dynamic-"))
        .on_connection(async move |socket| setup(socket, dynamic_reasons));
    io
}

/// `127.0.0.1:$PORT`, 3000 by default.
pub(crate) fn addr() -> String {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    format!("127.0.0.1:{port}")
}
