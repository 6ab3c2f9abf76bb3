//! Our client with connection state recovery, through a proxy that cuts its connection for
//! 1.5 s, against Node (socket.io 4.8) and our server (the `recovery` example): every room
//! tick once and in order, each exactly as the server emitted it (the offset is not handed
//! to the handler), the same id, rooms and data, `recovered()` true; after a server restart,
//! a new socket and `recovered()` false. Across a cluster on the streams adapter too: the
//! client comes back to another server, Node or ours, and recovers there.

use std::future::Future;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::example::{Server, free_port, start_recovery_server, start_recovery_server_on};
use interop_tests::proxy::CutProxy;
use interop_tests::redis::RedisServer;
use serde_json::{Value as Json, json};
use socketio_runtime::Runtime;
use socketio_runtime::client::{ClientBuilder, ClientSocket};
use socketio_tokio::Tokio;

/// `future`'s output, or a panic naming `what` after 20 s.
async fn within<R: Runtime, T>(what: &str, future: impl Future<Output = T>) -> T {
    interop_tests::wait::within::<R, T>(Duration::from_secs(20), what, future).await
}

/// A client through `proxy` that reconnects within 100 to 300 ms, not connected yet.
fn quick_reconnecting<R: Runtime>(proxy: &CutProxy) -> ClientSocket {
    ClientBuilder::<R>::new(&proxy.url())
        .expect("a valid URL")
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .randomization_factor(0.0)
        .build()
}

/// A `kind` recovery server on `port`, in the cluster on `redis` if there is one.
fn start(kind: &str, port: u16, redis: Option<&RedisServer>) -> Server {
    match redis {
        Some(redis) => start_recovery_server_on(kind, port, &redis.url()),
        None => start_recovery_server(kind, port),
    }
}

/// The client starts on a `kind` server; with `then`, the cut sends it to a `then` server
/// of the same cluster on Redis.
async fn scenario<R: Runtime>(kind: &str, then: Option<&str>) {
    let redis = then.map(|_| RedisServer::start());
    let port = free_port();
    let mut server = start(kind, port, redis.as_ref());
    let proxy = CutProxy::start(server.addr);
    // The server the client comes back to, and the one it leaves.
    let (kind, port, _first) = match (then, &redis) {
        (Some(then), Some(redis)) => {
            let second_port = free_port();
            let second = start(then, second_port, Some(redis));
            redis.wait_for_channel("socket.io#/#", 2);
            (then, second_port, Some(std::mem::replace(&mut server, second)))
        }
        _ => (kind, port, None),
    };
    let socket = quick_reconnecting::<R>(&proxy);
    let (tx, mut inbox) = mpsc::unbounded::<(&str, Json)>();
    for name in ["tick", "welcome"] {
        let tx = tx.clone();
        socket.on(name, async move |_, message| {
            // Every argument, as the handler gets them.
            let args: Json = message.payload().event_args().unwrap().deserialize().unwrap();
            tx.unbounded_send((name, args)).ok();
        });
    }
    socket.connect();
    let mut next = async |what: &str| within::<R, _>(what, inbox.next()).await.expect("the socket is alive");
    let (_, welcome) = next("a welcome").await;
    assert_eq!(welcome[0]["recovered"], false);
    assert!(!socket.recovered());
    let id = welcome[0]["id"].clone();
    within::<R, _>("join", socket.emit_with_ack::<String>("join", &"r")).await.unwrap();
    within::<R, _>("set", socket.emit_with_ack::<String>("set", &"va")).await.unwrap();
    let before: Json = within::<R, _>("whoami", socket.emit_with_ack("whoami", &())).await.unwrap();

    socket.emit("start", &("r", 40, 25)).unwrap();
    let mut ticks = Vec::new();
    let mut welcomes = Vec::new();
    while ticks.len() < 40 || welcomes.is_empty() {
        match next("ticks").await {
            ("tick", args) => ticks.push(args),
            (_, welcome) => welcomes.push(welcome),
        }
        if ticks.len() == 10 && proxy.cuts() == 0 {
            proxy.cut(Duration::from_millis(1500));
            proxy.retarget(server.addr);
        }
    }
    let expected: Vec<Json> = (0..40).map(|i| json!([i])).collect();
    assert_eq!(ticks, expected, "{kind}: every tick once, in order, without the offset");
    assert_eq!(welcomes, [json!([{ "recovered": true, "id": id }])], "{kind}");
    assert!(socket.recovered(), "{kind}");
    let mut after: Json = within::<R, _>("whoami", socket.emit_with_ack("whoami", &())).await.unwrap();
    if then.is_some() {
        // Another server, whose middleware never ran.
        assert_eq!(after["middlewareRuns"], 0, "{kind}: the middleware did not run");
        after["middlewareRuns"] = before["middlewareRuns"].clone();
    }
    assert_eq!(after, before, "{kind}: same id, rooms, data; the middleware did not run again");

    server.stop();
    server = start(kind, port, redis.as_ref());
    let (_, welcome) = next("the welcome of a restarted server").await;
    assert_eq!(welcome[0]["recovered"], false, "{kind}");
    assert_ne!(welcome[0]["id"], id, "{kind}");
    assert!(!socket.recovered());
    socket.close();
    drop(server);
}

#[test]
fn our_client_recovers_on_node_and_on_our_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(scenario::<Tokio>("node", None));
    runtime.block_on(scenario::<Tokio>("socketio-tokio", None));
    smol::block_on(scenario::<socketio_smol::Smol>("socketio-smol", None));
}

#[test]
fn our_client_recovers_on_another_server_of_a_cluster() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(scenario::<Tokio>("socketio-tokio", Some("node")));
    smol::block_on(scenario::<socketio_smol::Smol>("node", Some("socketio-smol")));
}

/// Redis refuses every write (out of memory): the stream takes no event, and this server's
/// sockets get theirs all the same (without an offset), rather than losing them.
async fn refused_appends<R: Runtime>(kind: &str) {
    let redis = RedisServer::start();
    let server = start(kind, free_port(), Some(&redis));
    redis.wait_for_channel("socket.io#/#", 1);
    let socket = ClientBuilder::<R>::new(&server.url()).expect("a valid URL").build();
    let (tx, mut ticks) = mpsc::unbounded::<Json>();
    socket.on("tick", async move |_, message| {
        tx.unbounded_send(message.payload().event_args().unwrap().deserialize().unwrap()).ok();
    });
    socket.connect();
    within::<R, _>("join", socket.emit_with_ack::<String>("join", &"r")).await.unwrap();
    let appended = redis.command(&["XLEN", "socket.io"]).unwrap();
    assert_ne!(appended, [":0"], "{kind}: the welcome went through the stream");
    for setting in [["maxmemory-policy", "noeviction"], ["maxmemory", "1"]] {
        redis.command(&["CONFIG", "SET", setting[0], setting[1]]).expect("configuring Redis");
    }
    socket.emit("start", &("r", 3, 10)).unwrap();
    for i in 0..3 {
        assert_eq!(within::<R, _>("a tick", ticks.next()).await, Some(json!([i])), "{kind}");
    }
    let length = redis.command(&["XLEN", "socket.io"]).unwrap();
    assert_eq!(length, appended, "{kind}: the ticks were not appended");
    socket.close();
}

#[test]
fn a_refused_append_still_reaches_this_server_s_sockets() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(refused_appends::<Tokio>("socketio-tokio"));
    smol::block_on(refused_appends::<socketio_smol::Smol>("socketio-smol"));
}

/// A `kind` server of a cluster shuts down gracefully (SIGTERM: `io.close()`) while a
/// client is on it; the client, sent to a `then` server, recovers its socket there: the
/// closing server kept the session in Redis before it returned.
async fn shutdown_hands_over<R: Runtime>(kind: &str, then: &str) {
    let redis = RedisServer::start();
    let mut leaving = start(kind, free_port(), Some(&redis));
    let staying = start(then, free_port(), Some(&redis));
    redis.wait_for_channel("socket.io#/#", 2);
    let proxy = CutProxy::start(leaving.addr);
    let socket = quick_reconnecting::<R>(&proxy);
    let (tx, mut welcomes) = mpsc::unbounded::<Json>();
    socket.on("welcome", async move |_, message| {
        tx.unbounded_send(message.payload().event_args().unwrap().deserialize().unwrap()).ok();
    });
    socket.connect();
    let first = within::<R, _>("a welcome", welcomes.next()).await.unwrap();
    within::<R, _>("join", socket.emit_with_ack::<String>("join", &"r")).await.unwrap();
    within::<R, _>("set", socket.emit_with_ack::<String>("set", &"va")).await.unwrap();
    let before: Json = within::<R, _>("whoami", socket.emit_with_ack("whoami", &())).await.unwrap();

    proxy.retarget(staying.addr);
    leaving.sigterm();
    let second = within::<R, _>("the welcome of the other server", welcomes.next()).await.unwrap();
    assert_eq!(second, json!([{ "recovered": true, "id": first[0]["id"] }]), "{kind} to {then}");
    let mut after: Json = within::<R, _>("whoami", socket.emit_with_ack("whoami", &())).await.unwrap();
    after["middlewareRuns"] = before["middlewareRuns"].clone();
    assert_eq!(after, before, "{kind} to {then}: same id, rooms, data");
    socket.close();
    assert!(leaving.wait_exit().success(), "{kind}: the server shut down cleanly");
}

#[test]
fn a_server_shutting_down_hands_its_clients_over_with_their_sessions() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(shutdown_hands_over::<Tokio>("socketio-tokio", "node"));
    smol::block_on(shutdown_hands_over::<socketio_smol::Smol>("socketio-smol", "socketio-tokio"));
}
