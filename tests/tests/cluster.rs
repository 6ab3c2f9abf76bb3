//! Mixed clusters on a real `redis-server`: a Node server on `@socket.io/redis-adapter` 8.3
//! (`tests/js/cluster-node.js`), our tokio server and our smol server (the `cluster`
//! example), the official client on each. Every operation is issued from each kind of
//! server and observed on the others; `@socket.io/redis-emitter` reaches every client; Redis
//! is restarted and the cluster forms again by itself. The same on the sharded adapter
//! (`createShardedAdapter`, `SPUBLISH`/`SSUBSCRIBE`) and on the streams adapter
//! (`@socket.io/redis-streams-adapter`, `XADD`/`XREAD`).

use std::io::BufRead;
use std::process::Command;

use interop_tests::example::{Server, example_binary};
use interop_tests::node::{ensure_packages, js_dir};
use interop_tests::redis::RedisServer;
use serde_json::{Value, json};
use socketio_tokio::emitter::Emitter;

const NAMES: [&str; 3] = ["node", "tokio", "smol"];

fn start_cluster(redis: &RedisServer) -> Vec<Server> {
    start_servers(redis, "classic")
}

/// A Node, a tokio and a smol server on `redis`, on `adapter` (classic, sharded, streams).
fn start_servers(redis: &RedisServer, adapter: &str) -> Vec<Server> {
    ensure_packages();
    let mut node = Command::new("node");
    node.arg(js_dir().join("cluster-node.js")).env("REDIS_URL", redis.url()).env("NODE_NAME", "node");
    let mut commands = vec![(node, "cluster-node.js")];
    for (package, name) in [("socketio-tokio", "tokio"), ("socketio-smol", "smol")] {
        let mut command = Command::new(example_binary(package, "cluster"));
        command.env("REDIS_URL", redis.url()).env("NODE_NAME", name);
        commands.push((command, "cluster"));
    }
    let servers = commands
        .into_iter()
        .map(|(mut command, what)| {
            command.env("ADAPTER", adapter);
            Server::start_command(command, what, interop_tests::example::free_port())
        })
        .collect();
    wait_for(redis, adapter);
    servers
}

/// Waits until the three servers listen on `redis`.
fn wait_for(redis: &RedisServer, adapter: &str) {
    match adapter {
        "sharded" => redis.wait_for_sharded_servers("socket.io", 3),
        "streams" => redis.wait_for_channel("socket.io#/#", 3),
        _ => redis.wait_for_servers("socket.io", 3),
    }
}

fn drive(phase: &str, servers: &[Server], redis: &RedisServer) -> Value {
    drive_on(phase, servers, redis, "classic")
}

/// Runs the driver's `phase` with the servers on `adapter`.
fn drive_on(phase: &str, servers: &[Server], redis: &RedisServer, adapter: &str) -> Value {
    let nodes: serde_json::Map<String, Value> = NAMES
        .iter()
        .zip(servers)
        .map(|(name, server)| (name.to_string(), Value::from(server.url())))
        .collect();
    let output = Command::new("node")
        .arg(js_dir().join("cluster-client.js"))
        .args([phase, &Value::Object(nodes).to_string()])
        .env("REDIS_URL", redis.url())
        .env("ADAPTER", adapter)
        .current_dir(js_dir())
        .output()
        .expect("running node");
    assert!(output.status.success(), "cluster-client.js failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the driver prints JSON")
}

/// `{name: value}` for every server, the value computed from the name.
fn each(value: impl Fn(&str) -> Value) -> Value {
    Value::Object(NAMES.iter().map(|name| (name.to_string(), value(name))).collect())
}

fn check_broadcasts(report: &Value) {
    for (i, from) in (0u8..).zip(NAMES) {
        let seen = &report["from"][from];
        assert_eq!(seen["all"], each(|_| json!([])), "io.emit from {from}");
        assert_eq!(seen["to"], each(|name| json!([format!("to-{from}-{name}")])), "io.to(room) from {from}");
        let buffer = base64_of(&[1, 2, 3, i]);
        assert_eq!(seen["bin"], each(|_| json!([{ "bin": buffer }])), "binary from {from}");
        let mut replies: Vec<String> =
            NAMES.iter().filter(|n| **n != from).map(|n| format!("{n}:m-{from}")).collect();
        replies.sort();
        assert_eq!(seen["sse"], json!(replies), "serverSideEmitWithAck from {from}");
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What each server's operations did: fetch, count, acks, remote join and leave, direct
/// emits, order, kicks.
fn check_operations(report: &Value) {
    let ids = &report["ids"];
    for (i, from) in NAMES.iter().enumerate() {
        let seen = &report["from"][from];
        let other = NAMES[(i + 1) % 3];
        let mut fetched: Vec<Value> = NAMES
            .iter()
            .map(|name| {
                let id = ids[name].as_str().unwrap();
                let mut rooms = vec![id.to_owned(), "all".to_owned(), format!("room-{name}")];
                rooms.sort();
                json!({ "id": id, "rooms": rooms, "data": { "node": name } })
            })
            .collect();
        fetched.sort_by_key(|socket| socket["id"].as_str().unwrap().to_owned());
        assert_eq!(seen["fetch"], json!(fetched), "fetchSockets from {from}");
        assert_eq!(seen["count"], json!(3), "fetchSockets().length from {from}");
        assert_eq!(
            seen["ask"],
            json!(NAMES.iter().copied().collect::<std::collections::BTreeSet<_>>()),
            "emitWithAck from {from}"
        );
        assert_eq!((&seen["remoteJoin"], &seen["remoteLeave"]), (&json!("ok"), &json!("ok")));
        let only_other =
            |message: String| each(move |name| if name == other { json!([message]) } else { json!([]) });
        assert_eq!(seen["joined"], only_other(format!("rj-msg-{from}")), "socketsJoin from {from}");
        assert_eq!(seen["left"], each(|_| json!([])), "socketsLeave from {from}");
        assert_eq!(seen["ordered"], each(|_| json!(true)), "1 000 messages in order from {from}");
        assert_eq!(seen["kicked"], json!(true), "disconnectSockets(true) from {from}");
        assert_eq!(seen["direct"], only_other(format!("direct-{from}")), "io.to(socket id) from {from}");
    }
}

#[test]
fn a_mixed_cluster_of_node_tokio_and_smol_servers() {
    let mut redis = RedisServer::start();
    let servers = start_cluster(&redis);
    let report = drive("full", &servers, &redis);
    check_broadcasts(&report);
    check_operations(&report);
    assert_eq!(
        report["emitter"],
        each(|name| if name == NAMES[0] {
            json!(["from-emitter", "emitter-room"])
        } else {
            json!(["from-emitter"])
        }),
        "@socket.io/redis-emitter"
    );

    // Redis goes away and comes back on the same port: every server resubscribes.
    let port = redis.port;
    redis.kill();
    redis = RedisServer::start_on(port);
    redis.wait_for_servers("socket.io", 3);
    check_broadcasts(&drive("again", &servers, &redis));
}

/// The mixed cluster on another adapter, Redis restarted in the middle.
fn mixed_cluster_on(adapter: &str) {
    let mut redis = RedisServer::start();
    let servers = start_servers(&redis, adapter);
    let report = drive_on("full", &servers, &redis, adapter);
    check_broadcasts(&report);
    check_operations(&report);

    let port = redis.port;
    redis.kill();
    redis = RedisServer::start_on(port);
    wait_for(&redis, adapter);
    check_broadcasts(&drive_on("again", &servers, &redis, adapter));
}

#[test]
fn a_mixed_cluster_on_the_sharded_adapter() {
    mixed_cluster_on("sharded");
}

#[test]
fn a_mixed_cluster_on_the_streams_adapter() {
    mixed_cluster_on("streams");
}

#[test]
fn our_emitter_reaches_the_clients_of_node_and_rust_servers() {
    let redis = RedisServer::start();
    let servers = start_cluster(&redis);
    let nodes: serde_json::Map<String, Value> = NAMES
        .iter()
        .zip(&servers)
        .map(|(name, server)| (name.to_string(), Value::from(server.url())))
        .collect();
    let mut listener = Command::new("node")
        .arg(js_dir().join("cluster-client.js"))
        .args(["listen", &Value::Object(nodes).to_string()])
        .current_dir(js_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running node");
    let mut lines = std::io::BufReader::new(listener.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let emitter = Emitter::new(&redis.url()).unwrap();
        emitter.emit("msg", &"from-emitter").await.unwrap();
        emitter.to("room-node").emit("msg", &"emitter-room").await.unwrap();
        emitter.except("room-node").emit("msg", &"not-node").await.unwrap();
        emitter.emit("msg", &"emitter-mark").await.unwrap();
    });
    let seen: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(listener.wait().unwrap().success());
    assert_eq!(
        seen,
        each(|name| match name {
            "node" => json!(["from-emitter", "emitter-room"]),
            _ => json!(["from-emitter", "not-node"]),
        })
    );
}
