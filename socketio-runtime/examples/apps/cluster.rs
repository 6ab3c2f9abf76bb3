//! One server of a cluster on Redis, the same application as `tests/js/cluster-node.js` on
//! `@socket.io/redis-adapter`: run several, of either kind, on one Redis, and what a client
//! asks of one reaches the clients of all.
//!
//! Environment: `PORT`, `REDIS_URL` (default `redis://127.0.0.1:6379`), `NODE_NAME`
//! (default `rust`), `ADAPTER` (`sharded`: Redis 7's `SPUBLISH`, as Node's
//! `createShardedAdapter`; `streams`: a Redis stream, as `@socket.io/redis-streams-adapter`;
//! the classic adapter otherwise). Every socket joins the room `all` and carries `{ node: NODE_NAME }` as
//! its data. Events: `join`/`leave` (room, ack), `to` (room, msg), `all` (msg), `bin`
//! (buffer), `fetch` (room, ack), `remote-join`/`remote-leave` (target, room, ack), `kick`
//! (target), `sse` (msg, ack: the other servers' replies to a server-side `hello`), `ask`
//! (room, ack: the answers to `question` within 2 s), `count` (ack).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::rt::Error;
use crate::rt::server::{RedisAdapter, SocketIo, SubscriptionMode};

/// What every socket carries, visible from every server.
#[derive(Clone, Serialize, serde::Deserialize)]
struct Data {
    node: String,
}

/// A fetched socket, as `fetch` answers it.
#[derive(Serialize)]
struct Fetched {
    id: String,
    rooms: Vec<String>,
    data: Value,
}

/// Sorted as JavaScript's `Array.prototype.sort` sorts strings.
fn sorted(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by_key(|value| value.as_str().map_or_else(|| value.to_string(), str::to_owned));
    values
}

/// The server with its handlers, not yet listening.
pub(crate) fn server() -> Result<SocketIo, Error> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let node = std::env::var("NODE_NAME").unwrap_or_else(|_| "rust".into());
    let mut adapter = RedisAdapter::new(&url)?.requests_timeout(Duration::from_millis(2000));
    match std::env::var("ADAPTER").as_deref() {
        Ok("sharded") => adapter = adapter.sharded(SubscriptionMode::Dynamic),
        Ok("streams") => adapter = adapter.streams(),
        _ => {}
    }
    let io = SocketIo::builder().adapter(adapter).build();

    let name = node.clone();
    io.on_server_side("hello", async move |message| {
        let text: String = message.args()?;
        message.ack(&format!("{name}:{text}"))
    });

    io.on_connection(async move |socket| {
        socket.set_data(Data { node: node.clone() });
        socket.join("all");

        socket.on("join", async |socket, message| {
            let room: String = message.args()?;
            socket.join(room);
            message.ack(&"ok")
        });
        socket.on("leave", async |socket, message| {
            let room: String = message.args()?;
            socket.leave(&room);
            message.ack(&"ok")
        });
        socket.on("to", async |socket, message| {
            let (room, text): (String, Value) = message.args()?;
            socket.io().to(room).emit("msg", &text)
        });
        socket.on("all", async |socket, message| socket.io().emit("msg", &message.raw_args()));
        socket.on("bin", async |socket, message| socket.io().emit("bin", &message.raw_args()));
        socket.on("fetch", async |socket, message| {
            let room: String = message.args()?;
            let mut fetched: Vec<Fetched> = (socket.io().to(room).fetch_sockets().await)
                .iter()
                .map(|found| {
                    let mut rooms: Vec<String> = found.rooms().iter().map(|r| r.to_string()).collect();
                    rooms.sort();
                    Fetched { id: found.id().to_owned(), rooms, data: found.data().unwrap_or(Value::Null) }
                })
                .collect();
            fetched.sort_by(|a, b| a.id.cmp(&b.id));
            message.ack(&fetched)
        });
        socket.on("remote-join", async |socket, message| {
            let (target, room): (String, String) = message.args()?;
            socket.io().to(target).sockets_join(room);
            message.ack(&"ok")
        });
        socket.on("remote-leave", async |socket, message| {
            let (target, room): (String, String) = message.args()?;
            socket.io().to(target).sockets_leave(&room);
            message.ack(&"ok")
        });
        socket.on("kick", async |socket, message| {
            let target: String = message.args()?;
            socket.io().to(target).close_sockets();
            Ok(())
        });
        socket.on("sse", async |socket, message| {
            let text: Value = message.args()?;
            let replies = socket.io().server_side_emit_with_ack::<Value>("hello", &text).await?;
            message.ack(&sorted(replies.answers))
        });
        socket.on("ask", async |socket, message| {
            let room: String = message.args()?;
            let asked = socket.io().to(room).timeout(Duration::from_millis(2000));
            let answers = asked.emit_with_ack::<Value>("question", &()).await?;
            message.ack(&sorted(answers.answers))
        });
        socket.on("count", async |socket, message| message.ack(&socket.io().fetch_sockets().await.len()));
    });
    Ok(io)
}
