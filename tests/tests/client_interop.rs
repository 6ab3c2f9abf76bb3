//! Our Socket.IO client, on tokio and on smol, against three servers: ours (the testbed on
//! the same runtime), the reference `socket.io@4.8` in Node, and `python-socketio` on
//! aiohttp; on polling-only, websocket-only and upgrade. Plus a server restart: the client
//! reconnects by itself and delivers, in order, what was emitted while the server was down.

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::example::{Server, free_port};
use interop_tests::wait::within;
use interop_tests::{node, python};
use serde_json::{Value as Json, json};
use socketio_proto::{Spread, Value};
use socketio_runtime::client::{ClientBuilder, ClientSocket};
use socketio_runtime::{Runtime, Transports};
use socketio_smol::Smol;
use socketio_tokio::Tokio;

#[derive(Debug, Clone, Copy)]
enum Peer {
    /// The testbed of this runtime.
    Ours(&'static str),
    Node,
    Python,
}

/// Runs the same test body on each runtime, its client talking to our server of the same
/// runtime where it talks to ours.
fn on_each_runtime<F, G>(tokio_body: impl Fn(&'static str) -> F, smol_body: impl Fn(&'static str) -> G)
where
    F: Future<Output = ()>,
    G: Future<Output = ()>,
{
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    tokio.block_on(tokio_body("testbed_tokio"));
    smol::block_on(smol_body("testbed_smol"));
}

/// Sleeps `duration` on the runtime `R`.
async fn sleep<R: Runtime>(duration: Duration) {
    R::sleep_until(Instant::now() + duration).await;
}

fn start(peer: Peer, port: u16) -> Server {
    match peer {
        Peer::Ours(testbed) => {
            let _ = port;
            Server::start_bin(testbed)
        }
        Peer::Node => {
            node::ensure_packages();
            let mut command = Command::new("node");
            command.arg(node::js_dir().join("socketio-server.js"));
            Server::start_command(command, "node socket.io server", port)
        }
        Peer::Python => {
            let mut command = Command::new(python::python());
            command.arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/server.py"));
            Server::start_command(command, "python-socketio server", port)
        }
    }
}

/// Records the events a socket receives, as JSON (binary as `{"$bin": base64}`).
struct Recorder {
    inbox: mpsc::UnboundedReceiver<(String, Json)>,
    what: String,
}

impl Recorder {
    fn on(socket: &ClientSocket, events: &[&str]) -> Self {
        let (tx, inbox) = mpsc::unbounded();
        for event in events {
            let tx = tx.clone();
            let name = (*event).to_owned();
            socket.on(event, async move |_, message| {
                let args = message.values().map(|v| interop_tests::describe::value_json(&Value::Array(v)));
                tx.unbounded_send((name.clone(), args.unwrap_or(Json::Null))).ok();
            });
        }
        Recorder { inbox, what: format!("{} {:?}", socket.namespace(), events) }
    }

    async fn next<R: Runtime>(&mut self, event: &str) -> Json {
        loop {
            let what = format!("{event} ({})", self.what);
            let (name, args) = within::<R, _>(Duration::from_secs(10), &what, self.inbox.next())
                .await
                .expect("the socket is alive");
            if name == event {
                return args;
            }
        }
    }
}

fn client<R: Runtime>(url: &str, mode: &str) -> ClientBuilder<R> {
    let transports = match mode {
        "polling" => Transports::Polling,
        "websocket" => Transports::WebSocket,
        _ => Transports::PollingAndWebSocket,
    };
    ClientBuilder::new(url).expect("a valid URL").transports(transports)
}

async fn scenarios<R: Runtime>(peer: Peer, mode: &str) {
    let server = start(peer, free_port());
    let url = server.url();
    let what = format!("{peer:?} {mode}");

    // Auth round trip, events with binary, acks both ways, multiplexed namespace.
    let socket = client::<R>(&url, mode).auth(&json!({ "token": "rust" })).unwrap().build();
    let mut events = Recorder::on(&socket, &["auth", "message-back", "answer-received", "room-message"]);
    socket.on("question", async |_, message| {
        let (a, b): (i64, i64) = message.args()?;
        message.ack(&("answer", a + b))
    });
    socket.connect();
    assert_eq!(events.next::<R>("auth").await, json!([{ "token": "rust" }]), "{what}");
    let args = [Value::from(1), Value::from("two"), Value::Binary(bytes::Bytes::from_static(b"\x03\x04"))];
    socket.emit("message", &Spread(args.to_vec())).unwrap();
    assert_eq!(events.next::<R>("message-back").await, json!([1, "two", { "$bin": "AwQ=" }]), "{what}");
    let ack = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack::<Spread<Json>>("message-with-ack", &("x", 2))
        .await;
    assert_eq!(ack.unwrap().0, json!(["x", 2]), "{what}");
    socket.emit("ask", &(2, 3)).unwrap();
    assert_eq!(
        events.next::<R>("answer-received").await,
        json!([["answer", 5]]),
        "{what}: the server asked our client"
    );

    let custom = socket.socket("/custom").unwrap();
    let mut custom_events = Recorder::on(&custom, &["auth"]);
    custom.connect();
    assert_eq!(custom_events.next::<R>("auth").await, json!([{}]), "{what}");

    // Rooms: a broadcast from another client reaches this one.
    let ack = socket.timeout(Duration::from_secs(5)).emit_with_ack::<()>("join", &"red").await;
    assert!(ack.is_ok(), "{what}: {ack:?}");
    let other = client::<R>(&url, mode).connect();
    other.emit("to-room", &("red", "hi red")).unwrap();
    assert_eq!(events.next::<R>("room-message").await, json!(["hi red"]), "{what}");

    // Middleware rejection with data.
    let refused = client::<R>(&url, mode).auth(&json!({ "token": "bad" })).unwrap().build();
    let (tx, mut rx) = mpsc::unbounded();
    refused.on_connect_error(move |_, error| {
        let _ = tx.unbounded_send((error.message(), error.data::<Json>()));
    });
    refused.connect();
    let (message, data) = within::<R, _>(Duration::from_secs(10), "connect_error", rx.next()).await.unwrap();
    assert_eq!(message, "not authorized", "{what}");
    assert_eq!(data, Some(json!({ "reason": "bad token" })), "{what}");

    // The server disconnects us.
    let (tx, mut rx) = mpsc::unbounded();
    socket.on_disconnect(move |_, reason| {
        let _ = tx.unbounded_send(reason.to_string());
    });
    socket.emit("disconnect-me", &()).unwrap();
    let reason = within::<R, _>(Duration::from_secs(10), "disconnect", rx.next()).await;
    assert_eq!(reason.as_deref(), Some("io server disconnect"), "{what}");
    for s in [&socket, &other, &refused] {
        s.close();
    }
}

const MODES: [&str; 3] = ["polling", "websocket", "upgrade"];

#[test]
fn against_our_server() {
    for mode in MODES {
        on_each_runtime(
            |testbed| scenarios::<Tokio>(Peer::Ours(testbed), mode),
            |testbed| scenarios::<Smol>(Peer::Ours(testbed), mode),
        );
    }
}

#[test]
fn against_the_node_server() {
    for mode in MODES {
        on_each_runtime(|_| scenarios::<Tokio>(Peer::Node, mode), |_| scenarios::<Smol>(Peer::Node, mode));
    }
}

#[test]
fn against_the_python_server() {
    for mode in MODES {
        on_each_runtime(
            |_| scenarios::<Tokio>(Peer::Python, mode),
            |_| scenarios::<Smol>(Peer::Python, mode),
        );
    }
}

/// A server's `maxPayload` bounds what it accepts, not what it sends: the Node server sends
/// a 1.5 MB message over its 1 MB default, in one WebSocket message or one polling
/// response. Our client reads it, as the official one would (on Node, `ws` reads up to
/// 100 MiB): its own limit is `max_message_size`, 100 MB by default.
#[test]
fn receives_a_message_over_the_node_server_s_max_payload() {
    for mode in ["polling", "websocket"] {
        on_each_runtime(|_| big_message::<Tokio>(mode), |_| big_message::<Smol>(mode));
    }
}

async fn big_message<R: Runtime>(mode: &str) {
    const LEN: usize = 1_500_000;
    let server = start(Peer::Node, free_port());
    let socket = client::<R>(&server.url(), mode).build();
    let mut events = Recorder::on(&socket, &["auth", "big-back"]);
    socket.connect();
    events.next::<R>("auth").await;
    socket.emit("big", &(LEN,)).unwrap();
    let big = events.next::<R>("big-back").await;
    assert_eq!(big[0].as_str().map(str::len), Some(LEN), "{mode}");
    socket.close();
}

#[test]
fn reconnects_after_a_server_restart_and_delivers_buffered_emits_in_order() {
    on_each_runtime(|_| reconnects::<Tokio>(), |_| reconnects::<Smol>());
}

async fn reconnects<R: Runtime>() {
    let port = free_port();
    let server = start(Peer::Node, port);
    let tokens = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = tokens.clone();
    let socket = ClientBuilder::<R>::new(&server.url())
        .expect("a valid URL")
        .reconnection_delay(Duration::from_millis(200))
        .reconnection_delay_max(Duration::from_millis(500))
        .auth_with(move || json!({ "token": counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 }))
        .build();
    let mut events = Recorder::on(&socket, &["auth", "message-back"]);
    socket.connect();
    assert_eq!(events.next::<R>("auth").await, json!([{ "token": 1 }]));
    let (tx, mut reconnected) = mpsc::unbounded();
    socket.on_reconnect(move |n| {
        let _ = tx.unbounded_send(n);
    });
    drop(server);
    sleep::<R>(Duration::from_millis(300)).await;
    for i in 0..5 {
        socket.emit("message", &(i,)).unwrap();
    }
    let _server = start(Peer::Node, port);
    let attempts = within::<R, _>(Duration::from_secs(15), "reconnection", reconnected.next()).await;
    assert!(attempts.is_some_and(|n| n >= 1));
    // The server greets the new connection before it handles the buffered emits.
    let reauth = events.next::<R>("auth").await;
    assert!(
        reauth[0]["token"].as_u64().is_some_and(|t| t >= 2),
        "auth recomputed for the reconnection: {reauth}"
    );
    for i in 0..5 {
        assert_eq!(
            events.next::<R>("message-back").await,
            json!([i]),
            "buffered emit {i} delivered in order"
        );
    }
    socket.close();
}

#[test]
fn retry_mode_against_the_node_server() {
    on_each_runtime(|_| retry_mode::<Tokio>(), |_| retry_mode::<Smol>());
}

async fn retry_mode<R: Runtime>() {
    let server = start(Peer::Node, free_port());
    let socket = ClientBuilder::<R>::new(&server.url())
        .expect("a valid URL")
        .retries(3, Duration::from_millis(300))
        .build();
    let mut events = Recorder::on(&socket, &["auth", "message-back"]);
    socket.connect();
    events.next::<R>("auth").await;
    // Acked by the server: resolves once.
    let answer = socket.emit_with_ack::<Spread<Json>>("message-with-ack", &"a").await;
    assert_eq!(answer.unwrap().0, json!(["a"]));
    // Never acked ("message" handlers do not ack): sent 1 + 3 times, then dropped.
    socket.emit("message", &("unacked",)).unwrap();
    for _ in 0..4 {
        assert_eq!(events.next::<R>("message-back").await, json!(["unacked"]));
    }
    let fifth = std::pin::pin!(events.next::<R>("message-back"));
    let quiet = std::pin::pin!(sleep::<R>(Duration::from_millis(900)));
    let more = futures_util::future::select(fifth, quiet).await;
    assert!(matches!(more, futures_util::future::Either::Right(_)), "no fifth try");
    socket.close();
}
