//! Connection state recovery with the official client, through a proxy that cuts every
//! connection for 1.5 s: a room broadcast and direct emits across the cut (one client cut,
//! one not), on WebSocket and on long-polling; nothing lost, nothing duplicated, order kept;
//! the same id, rooms and data; the middleware not run again; a restarted server gives a
//! new socket. Against Node (socket.io 4.8, which the expectations must fit too) and our
//! tokio and smol servers (the `recovery` example).
//!
//! Over long-polling, Node does not see the cut until the ping timeout, so a client that
//! comes back sooner finds its socket still connected and gets a new one: its room ticks
//! are lost. Ours takes the socket over (the `pid` proves the client owns it) and recovers
//! it. Only ours is checked over polling: when Node's outcome is a matter of timing (under
//! load the client may come back after the ping timeout), a test of it cannot be exact.
//!
//! Across a cluster on the streams adapter (`@socket.io/redis-streams-adapter` 0.3 for
//! Node, one real `redis-server`), the cut client comes back to the other server, Node or
//! ours, and back again: the same checks hold. Over WebSocket: over long-polling the server
//! left behind only sees the drop at its ping timeout, so the session is not in Redis yet
//! when the client comes back (a takeover needs the socket on the same server).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use std::time::Duration;

use interop_tests::example::{free_port, start_recovery_server as start, start_recovery_server_on};
use interop_tests::node::{ensure_packages, js_dir};
use interop_tests::proxy::CutProxy;
use interop_tests::redis::RedisServer;
use serde_json::{Value, json};

/// How long the network stays down.
const OUTAGE: Duration = Duration::from_millis(1500);

/// Runs the driver against a `kind` server on `transport`; its report.
fn drive(kind: &str, transport: &str) -> Value {
    let port = free_port();
    let mut server = start(kind, port);
    let proxy = CutProxy::start(server.addr);
    let report = run_driver(&proxy, &server.url(), transport, |step| match step {
        "cut" => proxy.cut(OUTAGE),
        _ => {
            server.stop();
            server = start(kind, port);
        }
    });
    assert_eq!(proxy.cuts(), 2);
    report
}

/// Runs `recovery-client.js`: client A through `proxy`, client B at `direct`; `step` does
/// what the driver asks (`cut`, `restart`). Its report.
fn run_driver(proxy: &CutProxy, direct: &str, transport: &str, mut step: impl FnMut(&str)) -> Value {
    ensure_packages();
    let mut driver = Command::new("node")
        .arg(js_dir().join("recovery-client.js"))
        .args([proxy.url(), direct.to_owned(), transport.to_owned()])
        .current_dir(js_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running node");
    let mut stdin = driver.stdin.take().unwrap();
    let lines = BufReader::new(driver.stdout.take().unwrap()).lines();
    let mut report = None;
    for line in lines {
        let line = line.unwrap();
        if line == "cut" || line == "restart" {
            step(&line);
            writeln!(stdin, "ok").unwrap();
            continue;
        }
        report = Some(serde_json::from_str::<Value>(&line).expect("the report"));
        break;
    }
    assert!(driver.wait().unwrap().success(), "recovery-client.js failed ({transport})");
    report.expect("a report")
}

fn check(kind: &str, transport: &str) {
    check_report(&format!("{kind} over {transport}"), &drive(kind, transport));
}

/// What every recovering run shows: every tick once and in order, the same socket after
/// each cut, a new one after a restart.
fn check_report(what: &str, report: &Value) {
    let before = &report["before"];
    let id = before["id"].as_str().unwrap();
    let all = |n: u64| json!((0..n).collect::<Vec<_>>());
    assert_eq!(report["room"]["a"], all(40), "{what}: the cut client got every room tick once, in order");
    assert_eq!(report["room"]["b"], all(40), "{what}: the other client too");
    assert_eq!(report["direct"], all(30), "{what}: every direct tick across the cut");
    for after in [&report["after"], &report["afterDirect"]] {
        assert_eq!(after, before, "{what}: same id, rooms, data; the middleware did not run again");
    }
    assert_eq!(before["data"], json!({ "value": "va" }));
    let mut rooms = vec![id.to_owned(), "r".to_owned()];
    rooms.sort();
    assert_eq!(before["rooms"], json!(rooms));
    let welcomes = report["welcomes"].as_array().unwrap();
    let recovered: Vec<bool> = welcomes.iter().map(|w| w["recovered"].as_bool().unwrap()).collect();
    assert_eq!(recovered, [false, true, true, false], "{what}: {welcomes:?}");
    for welcome in &welcomes[..3] {
        assert_eq!(welcome["id"], id, "{what}");
    }
    assert_ne!(welcomes[3]["id"], id, "{what}: a restarted server gives a new socket");
}

/// Across a cluster on the streams adapter: client A starts on a `first` server and, at
/// each cut, comes back to the other one (`second`, then `first` again); client B stays on
/// `second`. Its sessions and the events it missed are in Redis, so it recovers wherever
/// it lands.
fn check_across(first: &str, second: &str) {
    let redis = RedisServer::start();
    let start_on_redis = |kind: &str, port: u16| start_recovery_server_on(kind, port, &redis.url());
    let ports = [free_port(), free_port()];
    let mut servers = [start_on_redis(first, ports[0]), start_on_redis(second, ports[1])];
    redis.wait_for_channel("socket.io#/#", 2);
    let addrs = [servers[0].addr, servers[1].addr];
    let proxy = CutProxy::start(addrs[0]);
    let report = run_driver(&proxy, &servers[1].url(), "websocket", |step| {
        let at = proxy.cuts() % 2;
        match step {
            "cut" => {
                proxy.cut(OUTAGE);
                proxy.retarget(addrs[1 - at]);
            }
            _ => {
                servers[at].stop();
                servers[at] = start_on_redis([first, second][at], ports[at]);
            }
        }
    });
    assert_eq!(proxy.cuts(), 2);
    check_report(&format!("from {first} to {second} and back"), &report);
}

#[test]
fn the_official_client_recovers_on_node() {
    check("node", "websocket");
}

#[test]
fn the_official_client_recovers_on_tokio() {
    check("socketio-tokio", "websocket");
    check("socketio-tokio", "polling");
}

#[test]
fn the_official_client_recovers_on_smol() {
    check("socketio-smol", "websocket");
    check("socketio-smol", "polling");
}

#[test]
fn the_official_client_recovers_across_a_node_and_a_tokio_server() {
    check_across("node", "socketio-tokio");
}

#[test]
fn the_official_client_recovers_across_a_smol_and_a_node_server() {
    check_across("socketio-smol", "node");
}
