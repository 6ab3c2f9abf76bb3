//! The Socket.IO tutorial chat, with its homework: nicknames, connect and disconnect
//! notices, "{user} is typing", who is online, and private messages (`/msg name text`).
//!
//! Serves the page at `/` and the official browser client at `/socket.io/socket.io.js`
//! (from the `socket.io-client` npm package: `SOCKET_IO_CLIENT_JS`, or the one installed
//! under `tests/js`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::rt::ResponseBody;
use crate::rt::socket::{Socket, SocketIo};
use crate::rt::socketio_proto::{Namespace, Payload};

const PAGE: &str = include_str!("chat-page/index.html");

/// The room that reaches a user by nickname.
fn user_room(nickname: &str) -> String {
    format!("user:{nickname}")
}

/// Everyone online, by nickname, sorted.
fn online(io: &SocketIo) -> Vec<String> {
    let sockets = io.to_all(Namespace::main()).fetch_sockets();
    let mut names: Vec<String> = sockets
        .iter()
        .flat_map(|s| s.rooms.iter().filter_map(|r| r.strip_prefix("user:").map(str::to_owned)))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn on_connection(socket: Socket, nickname: String) {
    socket.join(user_room(&nickname));
    let io = socket.io().clone();
    let _ = socket.broadcast().emit("notice", &(format!("{nickname} connected"),));
    let _ = io.emit("online", &(online(&io),));

    let name = nickname.clone();
    socket.on("chat message", move |socket, message| {
        if let Ok((text,)) = message.args::<(String,)>() {
            let _ = socket.io().emit("chat message", &(format!("{name}: {text}"),));
        }
    });
    let name = nickname.clone();
    socket.on("typing", move |socket, _| {
        let _ = socket.broadcast().emit("typing", &(name.as_str(),));
    });
    let name = nickname.clone();
    socket.on("stop typing", move |socket, _| {
        let _ = socket.broadcast().emit("stop typing", &(name.as_str(),));
    });
    let name = nickname.clone();
    socket.on("private message", move |socket, message| {
        if let Ok((to, text)) = message.args::<(String, String)>() {
            let _ = socket.io().to(user_room(&to)).emit("private message", &(name.as_str(), text));
        }
    });
    socket.on_disconnect(move |socket, _, _| {
        let io = socket.io();
        let _ = io.emit("notice", &(format!("{nickname} disconnected"),));
        let _ = io.emit("stop typing", &(nickname.as_str(),));
        let _ = io.emit("online", &(online(io),));
    });
}

fn client_script() -> Option<Bytes> {
    let path = std::env::var("SOCKET_IO_CLIENT_JS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/js/node_modules/socket.io-client/dist/socket.io.min.js"
        )
        .into()
    });
    match std::fs::read(&path) {
        Ok(script) => Some(script.into()),
        Err(error) => {
            eprintln!("cannot read the browser client at {path} ({error}); run `npm ci` in tests/js");
            None
        }
    }
}

/// A nickname from the auth payload (`{ nickname }`), else `guest-` and part of the id.
fn nickname(socket: &Socket, auth: Option<Payload>) -> String {
    auth.and_then(|a| a.deserialize::<serde_json::Value>().ok())
        .and_then(|a| {
            a["nickname"].as_str().map(|n| n.chars().filter(|c| !c.is_whitespace()).take(24).collect())
        })
        .filter(|n: &String| !n.is_empty())
        .unwrap_or_else(|| format!("guest-{}", &socket.id().to_string()[..4]))
}

/// The chat server with its handlers, not yet listening.
pub(crate) fn server() -> SocketIo {
    let mut builder = SocketIo::builder().ping_interval(Duration::from_secs(25));
    if let Some(script) = client_script() {
        builder = builder.serve_client(script);
    }
    let io = builder.build();
    io.of("/").on_connection(|socket, auth| {
        let nickname = nickname(&socket, auth);
        on_connection(socket, nickname);
    });
    io
}

/// The application's own routes: the page at `/`, 404 elsewhere.
pub(crate) async fn page<B>(request: http::Request<B>) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    if request.uri().path() == "/" {
        *response.body_mut() = Full::new(Bytes::from_static(PAGE.as_bytes()));
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
    } else {
        *response.status_mut() = http::StatusCode::NOT_FOUND;
    }
    response
}
