//! A bounded soak: rounds of clients that connect, flood, send garbage and vanish without
//! closing, against the conformance example (300 ms ping, 200 ms timeout) on each runtime.
//! After every round the server's open descriptors come back to their baseline, and its
//! resident memory stops growing after the first round (the allocator keeps what it
//! reached, a leak would keep climbing).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use interop_tests::example::{RUNTIMES, Server};
use interop_tests::raw::{self, RawWs};

const ROUNDS: usize = 4;
const WEBSOCKET_CLIENTS: usize = 100;
const POLLING_CLIENTS: usize = 40;
const GARBAGE_CLIENTS: usize = 20;
const FLOOD: usize = 200;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(Iterator::count).unwrap_or(0)
}

fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits up to 30 s for the server's descriptors to come back to `baseline`.
fn descriptors_return(pid: u32, baseline: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds(pid) > baseline {
        assert!(Instant::now() < deadline, "{what}: {} descriptors open, {baseline} before", open_fds(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
}

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

#[test]
fn floods_and_vanishing_clients_leave_nothing_behind() {
    for runtime in RUNTIMES {
        let server = Server::start(runtime, "socketio_conformance");
        let pid = server.pid();
        let baseline_fds = open_fds(pid);
        let mut resident = Vec::new();
        for n in 1..=ROUNDS {
            round(server.addr);
            descriptors_return(pid, baseline_fds, &format!("{runtime} round {n}"));
            resident.push(resident_kb(pid));
        }
        let (first, last) = (resident[0], resident[ROUNDS - 1]);
        eprintln!("{runtime}: resident memory after each round (KiB): {resident:?}");
        assert!(
            last <= first + 8 * 1024,
            "{runtime}: resident memory keeps growing: {resident:?} KiB after rounds 1..{ROUNDS}"
        );
    }
}
