//! A bounded soak: rounds of clients that connect, flood, send garbage and vanish without
//! closing, against the testbed server (300 ms ping, 200 ms timeout) on each runtime.
//! After every round the server's own gauges come back to nothing (clients, sockets,
//! awaited acks), its open descriptors to their baseline, and its resident memory to
//! within a bound of what it was before the first flood; after the first round it stops
//! growing (the allocator keeps what it reached, a leak would keep climbing).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use interop_tests::example::{Server, TESTBEDS};
use interop_tests::process::{descriptors_return, open_fds, resident_kb};
use interop_tests::raw::{self, RawWs, WsRead};
use serde_json::{Value, json};

const ROUNDS: usize = 4;
const WEBSOCKET_CLIENTS: usize = 100;
const POLLING_CLIENTS: usize = 40;
const GARBAGE_CLIENTS: usize = 20;
const FLOOD: usize = 200;
/// What the allocator may keep of the floods' peak once everything is freed.
const MEMORY_KEPT_KB: u64 = 16 * 1024;

fn sid_of(open: &str) -> String {
    open.split('"').nth(3).unwrap_or_default().to_owned()
}

/// One round: every kind of client, each vanishing without a goodbye.
fn round(addr: SocketAddr) {
    let path = "/socket.io/?EIO=4&transport=websocket";
    let mut websockets = Vec::new();
    for i in 0..WEBSOCKET_CLIENTS {
        let mut ws = RawWs::connect(addr, path).expect("websocket handshake");
        let _open = ws.read();
        ws.send_text("40");
        // Floods events whose echoes it never reads; half of them also ask for acks.
        let event = if i % 2 == 0 { "message" } else { "message-with-ack" };
        for n in 0..FLOOD {
            ws.send_text(&format!(r#"42{n}["{event}","{}"]"#, "x".repeat(64)));
        }
        websockets.push(ws);
    }
    for _ in 0..POLLING_CLIENTS {
        let open = raw::request(addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
        let sid = sid_of(&open.text());
        let post = |body: &[u8]| {
            raw::request(addr, "POST", &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"), &[], body)
        };
        post(b"40");
        let flood: Vec<String> = (0..50).map(|n| format!(r#"42["message",{n}]"#)).collect();
        post(flood.join("\u{1e}").as_bytes());
        // Then it never polls again.
    }
    for i in 0..GARBAGE_CLIENTS {
        let mut ws = RawWs::connect(addr, path).expect("websocket handshake");
        let _open = ws.read();
        match i % 3 {
            0 => ws.send_text("garbage"),
            1 => ws.write_raw(&[0xf1, 0x81, 1, 2, 3, 4, 5]),
            _ => ws.send_text(r#"451-["message",{"_placeholder":true,"num":0}]"#),
        }
    }
    // Vanish: the sockets close without a close frame.
    drop(websockets);
}

/// The server's gauges as a newly connected client sees them: itself, and whatever the
/// earlier clients left behind.
fn gauges(addr: SocketAddr) -> Value {
    let mut ws = RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket").expect("websocket handshake");
    let _open = ws.read();
    ws.send_text("40");
    assert!(matches!(ws.read_text(), WsRead::Text(connected) if connected.starts_with("40{")));
    ws.send_text(r#"421["gauges"]"#);
    loop {
        match ws.read_text() {
            WsRead::Text(text) if text.starts_with("431[") => {
                let answer: Value = serde_json::from_str(&text[3..]).expect("gauges");
                return answer[0].clone();
            }
            WsRead::Text(_) => {}
            other => panic!("no gauges: {other:?}"),
        }
    }
}

/// Waits up to 30 s for the server's gauges to show only the asking client.
fn nothing_left(addr: SocketAddr, what: &str) {
    let idle = json!({ "clients": 1, "sockets": 1, "awaitedAcks": 0, "dynamicNamespaces": 0 });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = gauges(addr);
        if now == idle {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the server still holds {now}");
    }
}

#[test]
fn floods_and_vanishing_clients_leave_nothing_behind() {
    for testbed in TESTBEDS {
        let server = Server::start_bin(testbed);
        let pid = server.pid();
        nothing_left(server.addr, &format!("{testbed} at start"));
        let baseline_fds = open_fds(pid);
        let baseline = resident_kb(pid);
        let mut resident = Vec::new();
        for n in 1..=ROUNDS {
            round(server.addr);
            nothing_left(server.addr, &format!("{testbed} round {n}"));
            descriptors_return(pid, baseline_fds, &format!("{testbed} round {n}"));
            resident.push(resident_kb(pid));
        }
        let (first, last) = (resident[0], resident[ROUNDS - 1]);
        eprintln!(
            "{testbed}: resident memory before the floods {baseline} KiB, after each round {resident:?}"
        );
        assert!(
            last <= first + 8 * 1024,
            "{testbed}: resident memory keeps growing: {resident:?} KiB after rounds 1..{ROUNDS}"
        );
        assert!(
            last <= baseline + MEMORY_KEPT_KB,
            "{testbed}: resident memory {last} KiB after the floods, {baseline} KiB before"
        );
    }
}
