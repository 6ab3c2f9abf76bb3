//! The Socket.IO tutorial chat, with its homework: nicknames, connect and disconnect
//! notices, "{user} is typing", who is online, and private messages (`/msg name text`).
//!
//! The page is served at `/` and the official browser client at `/socket.io/socket.io.js`
//! (from the `socket.io-client` npm package: `SOCKET_IO_CLIENT_JS`, or the one installed
//! under `tests/js`).

use crate::rt::server::{Socket, SocketIo};

pub(crate) const PAGE: &str = include_str!("chat-page/index.html");

/// What the chat keeps per socket.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Nickname(String);

/// The socket's nickname.
fn nickname(socket: &Socket) -> String {
    socket.data::<Nickname>().map(|n| n.0).unwrap_or_default()
}

/// The room that reaches a user by nickname.
fn user_room(nickname: &str) -> String {
    format!("user:{nickname}")
}

/// Everyone online, by nickname, sorted.
async fn online(io: &SocketIo) -> Vec<String> {
    let sockets = io.fetch_sockets().await;
    let mut names: Vec<String> = sockets.iter().filter_map(|s| s.data::<Nickname>()).map(|n| n.0).collect();
    names.sort();
    names.dedup();
    names
}

/// The chat server with its handlers, not yet listening.
pub(crate) fn server() -> SocketIo {
    let io = crate::browser_client::serving_browser_client(SocketIo::builder()).build();

    io.on_connection(async |socket| {
        let name = chosen_nickname(&socket);
        socket.set_data(Nickname(name.clone()));
        socket.join(user_room(&name));
        socket.broadcast().emit("notice", &format!("{name} connected"))?;
        socket.io().emit("online", &online(socket.io()).await)?;

        socket.on("chat message", async |socket, message| {
            let text: String = message.args()?;
            socket.io().emit("chat message", &format!("{}: {text}", nickname(&socket)))
        });
        socket.on("typing", async |socket, _| socket.broadcast().emit("typing", &nickname(&socket)));
        socket
            .on("stop typing", async |socket, _| socket.broadcast().emit("stop typing", &nickname(&socket)));
        socket.on("private message", async |socket, message| {
            let (to, text): (String, String) = message.args()?;
            socket.io().to(user_room(&to)).emit("private message", &(nickname(&socket), text))
        });
        socket.on_disconnect(async |socket, _| {
            let (io, name) = (socket.io(), nickname(&socket));
            io.emit("notice", &format!("{name} disconnected"))?;
            io.emit("stop typing", &name)?;
            io.emit("online", &online(io).await)
        });
        Ok(())
    });
    io
}

/// The nickname from the auth object (`{ nickname }`), else `guest-` and part of the id.
fn chosen_nickname(socket: &Socket) -> String {
    #[derive(serde::Deserialize)]
    struct Auth {
        nickname: String,
    }
    let chosen = socket.auth::<Auth>().map(|auth| auth.nickname).unwrap_or_default();
    let chosen: String = chosen.chars().filter(|c| !c.is_whitespace()).take(24).collect();
    if chosen.is_empty() { format!("guest-{}", &socket.id().to_string()[..4]) } else { chosen }
}
