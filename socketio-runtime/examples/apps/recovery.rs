//! Connection state recovery, the same application as `tests/js/recovery-node.js`: a client
//! back from a network drop keeps its socket (id, rooms, data) and gets every event it
//! missed, in order.
//!
//! Environment: `PORT`; `REDIS_URL` makes the server one of a cluster on the streams
//! adapter, where sessions and missed events are kept in Redis, so a client recovers on any
//! server of it (Node ones with `@socket.io/redis-streams-adapter` included). Recovery on
//! (2 minutes, middleware skipped on recovery); ping interval and timeout 2 s. A middleware
//! counts its runs. On connection the socket gets `welcome` `{recovered, id}`. Events: `join` (room, ack), `set` (value, ack: stored as
//! `data.value`), `whoami` (ack: `{id, rooms, data, middlewareRuns}`), `start` (room, n,
//! everyMs: `tick` 0..n to the room, one every everyMs), `start-direct` (n, everyMs: the
//! same to this socket alone, across its recoveries).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rt::Runtime;
use crate::rt::server::{RecoveryConfig, RedisAdapter, SocketIo};

/// What every socket carries: `data.value`, once set.
#[derive(Clone, Default, Serialize, Deserialize)]
struct Data {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

#[derive(Serialize)]
struct Welcome {
    recovered: bool,
    id: String,
}

#[derive(Serialize)]
struct WhoAmI {
    id: String,
    rooms: Vec<String>,
    data: Data,
    #[serde(rename = "middlewareRuns")]
    middleware_runs: u64,
}

async fn sleep(ms: u64) {
    crate::Rt::sleep_until(Instant::now() + Duration::from_millis(ms)).await;
}

/// The server with its handlers, not yet listening.
pub(crate) fn server() -> Result<SocketIo, crate::rt::Error> {
    let mut builder = SocketIo::builder()
        .connection_state_recovery(RecoveryConfig::default())
        .ping_interval(Duration::from_millis(2000))
        .ping_timeout(Duration::from_millis(2000));
    if let Ok(url) = std::env::var("REDIS_URL") {
        builder = builder.adapter(RedisAdapter::new(&url)?.streams());
    }
    let io = builder.build();
    let middleware_runs = Arc::new(AtomicU64::new(0));
    let runs = middleware_runs.clone();
    io.of("/").use_middleware(async move |_| {
        runs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });

    io.on_connection(async move |socket| {
        if !socket.recovered() {
            socket.set_data(Data::default());
        }
        socket.on("join", async |socket, message| {
            let room: String = message.args()?;
            socket.join(room);
            message.ack(&"ok")
        });
        socket.on("set", async |socket, message| {
            let value: Value = message.args()?;
            socket.with_data(|data: &mut Data| data.value = Some(value));
            message.ack(&"ok")
        });
        let runs = middleware_runs.clone();
        socket.on("whoami", async move |socket, message| {
            let mut rooms: Vec<String> = socket.rooms().iter().map(|room| room.to_string()).collect();
            rooms.sort();
            let data = socket.data::<Data>().unwrap_or_default();
            let id = socket.id().to_string();
            message.ack(&WhoAmI { id, rooms, data, middleware_runs: runs.load(Ordering::Relaxed) })
        });
        socket.on("start", async |socket, message| {
            let (room, n, every): (String, u64, u64) = message.args()?;
            for i in 0..n {
                socket.io().to(room.as_str()).emit("tick", &i)?;
                sleep(every).await;
            }
            Ok(())
        });
        socket.on("start-direct", async |socket, message| {
            let (n, every): (u64, u64) = message.args()?;
            for i in 0..n {
                // To the socket, present or away: what it misses is kept for its return.
                socket.emit("tick", &i)?;
                sleep(every).await;
            }
            Ok(())
        });
        socket.emit("welcome", &Welcome { recovered: socket.recovered(), id: socket.id().to_string() })
    });
    Ok(io)
}
