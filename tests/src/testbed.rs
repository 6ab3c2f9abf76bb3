//! The Socket.IO server the interop suites talk to: the conformance behaviour plus handlers
//! for rooms, broadcast, acks asked by the server, middleware, disconnect reasons, ordering
//! and large messages. Written once against the names both runtime crates offer; each
//! `testbed_<runtime>` binary includes it with `rt` naming its runtime crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::rt::engineio_proto::server::Cors;
use crate::rt::socket::{ConnectError, Socket, SocketIo};
use crate::rt::socketio_proto::Payload;
use crate::rt::{Rt, Runtime};

fn payload(json: Json) -> Payload {
    Payload::from_json(json.to_string()).expect("serde_json writes JSON")
}

fn setup(socket: &Socket, auth: Option<Payload>, reasons: Arc<Mutex<Vec<String>>>) {
    let auth = auth.map_or(json!({}), |a| a.deserialize().unwrap_or(Json::Null));
    let _ = socket.emit("auth", &(auth,));
    socket.on("message", |socket, message| {
        if let Ok(back) = Payload::event_with_args("message-back", &message.args_payload()) {
            let _ = socket.emit_payload(back);
        }
    });
    socket.on("message-with-ack", |_, message| {
        let _ = message.ack_payload(message.args_payload());
    });
    socket.on("join", |socket, message| {
        if let Ok((room,)) = message.args::<(String,)>() {
            socket.join(room);
        }
        let _ = message.ack(&());
    });
    socket.on("leave", |socket, message| {
        if let Ok((room,)) = message.args::<(String,)>() {
            socket.leave(&room);
        }
        let _ = message.ack(&());
    });
    socket.on("rooms", |socket, message| {
        let mut rooms: Vec<String> = socket.rooms().iter().map(ToString::to_string).collect();
        rooms.sort();
        let _ = message.ack(&(rooms,));
    });
    socket.on("to-room", |socket, message| {
        if let Ok((room, text)) = message.args::<(String, Json)>() {
            let _ = socket.io().to(room).emit("room-message", &(text,));
        }
    });
    socket.on("broadcast", |socket, message| {
        if let Ok(payload) = Payload::event_with_args("broadcast-message", &message.args_payload()) {
            socket.broadcast().emit_payload(payload);
        }
    });
    socket.on("except-room", |socket, message| {
        if let Ok((room, text)) = message.args::<(String, Json)>() {
            let _ =
                socket.io().to_all(socket.namespace().clone()).except(room).emit("except-message", &(text,));
        }
    });
    socket.on("volatile", |socket, message| {
        let count = message.args::<(u32,)>().map_or(0, |(n,)| n);
        for i in 0..count {
            let _ = socket.io().to(socket.id().to_string()).volatile().emit("volatile-message", &(i,));
        }
        let _ = message.ack(&());
    });
    socket.on("fetch", |socket, message| {
        if let Ok((room,)) = message.args::<(String,)>() {
            let mut ids: Vec<String> =
                socket.io().to(room).fetch_sockets().into_iter().map(|s| s.id.to_string()).collect();
            ids.sort();
            let _ = message.ack(&(ids,));
        }
    });
    socket.on("ask", |socket, message| {
        let args = message.args_payload();
        Rt::spawn(async move {
            let question = Payload::event_with_args("question", &args).expect("not reserved");
            let answer = socket.emit_with_ack(question, Some(Duration::from_secs(5))).await;
            let reply = match answer {
                Ok(answer) => answer.deserialize::<Json>().unwrap_or(Json::Null),
                Err(error) => json!({ "error": error.to_string() }),
            };
            let _ = socket.emit("answer-received", &(reply,));
        });
    });
    socket.on("ask-nobody", |socket, _| {
        Rt::spawn(async move {
            let question = payload(json!(["unanswered"]));
            let result = socket.emit_with_ack(question, Some(Duration::from_millis(200))).await;
            let _ = socket.emit("ask-result", &(result.is_err(),));
        });
    });
    socket.on("sequence", |socket, message| {
        let count = message.args::<(u32,)>().map_or(0, |(n,)| n);
        for i in 0..count {
            let _ = socket.emit("seq", &(i,));
        }
    });
    socket.on("disconnect-me", |socket, message| {
        let close = message.args::<(bool,)>().is_ok_and(|(close,)| close);
        socket.disconnect(close);
    });
    let recorded = reasons.clone();
    socket.on("reasons", move |_, message| {
        let reasons = recorded.lock().map(|r| r.clone()).unwrap_or_default();
        let _ = message.ack(&(reasons,));
    });
    let counter = Arc::new(Mutex::new(0u32));
    let seen = counter.clone();
    socket.on_any(move |_, _| {
        if let Ok(mut n) = seen.lock() {
            *n += 1;
        }
    });
    socket.on("count", move |_, message| {
        let n = counter.lock().map_or(0, |n| *n);
        let _ = message.ack(&(n,));
    });
    socket.on_disconnect(move |socket, reason, rooms| {
        let own = rooms.iter().any(|r| **r == *socket.id().to_string());
        if let Ok(mut reasons) = reasons.lock() {
            reasons.push(format!(
                "{}:{reason}:{}",
                socket.namespace(),
                if own { "rooms" } else { "no-rooms" }
            ));
        }
    });
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
        .use_middleware(|request| async move {
            let token =
                request.auth.as_ref().and_then(|a| a.deserialize::<Json>().ok()).map(|a| a["token"].clone());
            if token == Some(json!("bad")) {
                Err(ConnectError::new("not authorized").with_data(payload(json!({ "reason": "bad token" }))))
            } else {
                Ok(())
            }
        })
        .on_connection(move |socket, auth| setup(&socket, auth, main_reasons.clone()));
    let custom_reasons = reasons.clone();
    io.of("/custom").on_connection(move |socket, auth| setup(&socket, auth, custom_reasons.clone()));
    let admin_reasons = reasons.clone();
    io.of("/admin")
        .use_middleware(|request| async move {
            Rt::sleep_until(std::time::Instant::now() + Duration::from_millis(20)).await;
            let role =
                request.auth.as_ref().and_then(|a| a.deserialize::<Json>().ok()).map(|a| a["role"].clone());
            if role == Some(json!("admin")) { Ok(()) } else { Err(ConnectError::new("admins only")) }
        })
        .on_connection(move |socket, auth| setup(&socket, auth, admin_reasons.clone()));
    let dynamic_reasons = reasons;
    io.dynamic_namespaces(|name| name.starts_with("/dynamic-"))
        .on_connection(move |socket, auth| setup(&socket, auth, dynamic_reasons.clone()));
    io
}

/// `127.0.0.1:$PORT`, 3000 by default.
pub(crate) fn addr() -> String {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    format!("127.0.0.1:{port}")
}
