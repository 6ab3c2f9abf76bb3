//! End-to-end regression tests for the inputs that crashed Socket.IO implementations before:
//! each hostile input closes only its own session while a healthy client keeps being served.

use std::net::SocketAddr;
use std::time::Duration;

use interop_tests::example::{Server, TESTBEDS};
use interop_tests::raw::{KeepAlive, RawWs, WsRead};

const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// An engine session over WebSocket, open packet consumed.
fn engine_session(addr: SocketAddr) -> RawWs {
    let mut ws = RawWs::connect(addr, PATH).expect("websocket handshake");
    assert!(matches!(ws.read(), WsRead::Text(open) if open.starts_with("0{")));
    ws
}

/// A socket connected to `/`, with its `auth` event consumed.
fn connected(addr: SocketAddr) -> RawWs {
    let mut ws = engine_session(addr);
    ws.send_text("40");
    assert!(matches!(ws.read_text(), WsRead::Text(t) if t.starts_with("40{\"sid\":")));
    assert_eq!(ws.read_text(), WsRead::Text(r#"42["auth",{}]"#.into()));
    ws
}

/// The healthy client still gets its events echoed.
fn still_served(healthy: &KeepAlive, tag: &str) {
    let echo = healthy.echo(&format!(r#"2["message","{tag}"]"#));
    assert_eq!(echo, WsRead::Text(format!(r#"42["message-back","{tag}"]"#)), "healthy client after {tag}");
}

/// The session is closed after `frames` (the server closes the WebSocket).
fn closes_after(ws: &mut RawWs, frames: &[&[u8]], what: &str) {
    for frame in frames {
        match std::str::from_utf8(frame) {
            Ok(text) => ws.send_text(text),
            Err(_) => ws.send_frame(0x82, frame),
        }
    }
    loop {
        match ws.read() {
            WsRead::Close(_) | WsRead::Eof => return,
            WsRead::Text(text) if text == "2" => ws.send_text("3"),
            WsRead::Text(text) if text.starts_with("42[\"auth\"") || text.starts_with("40") => {}
            other => panic!("{what}: expected the session to close, got {other:?}"),
        }
    }
}

fn each_testbed(test: impl Fn(SocketAddr, &KeepAlive)) {
    each_server(|server, healthy| test(server.addr, healthy));
}

/// [`each_testbed`] with the server process, for tests that measure it.
fn each_server(test: impl Fn(&Server, &KeepAlive)) {
    for testbed in TESTBEDS {
        let server = Server::start_bin(testbed);
        let healthy = connected(server.addr).keep_alive();
        test(&server, &healthy);
        still_served(&healthy, "end");
    }
}

#[test]
fn malformed_packets_close_only_their_session() {
    let many_digits = format!("45{}-[\"a\"]", "9".repeat(100_000));
    let long_ack = format!("42{}[\"a\"]", "1".repeat(100_000));
    each_testbed(|addr, healthy| {
        let cases: Vec<(&str, Vec<&[u8]>)> = vec![
            ("huge attachment count", vec![many_digits.as_bytes()]),
            ("negative attachment count", vec![b"45-1-[\"a\"]"]),
            ("zero attachments", vec![b"450-[\"a\"]"]),
            ("no dash after the count", vec![b"45"]),
            ("no dash after the count 2", vec![b"451"]),
            ("no dash after the count 3", vec![b"45woooot"]),
            ("count disagrees with placeholders", vec![b"452-[\"a\",{\"_placeholder\":true,\"num\":0}]"]),
            (
                "placeholder num not an integer",
                vec![b"451-[\"a\",{\"_placeholder\":true,\"num\":\"splice\"}]", b"\x01"],
            ),
            ("placeholder num a float", vec![b"451-[\"a\",{\"_placeholder\":true,\"num\":0.5}]", b"\x01"]),
            ("placeholder num out of range", vec![b"451-[\"a\",{\"_placeholder\":true,\"num\":3}]", b"\x01"]),
            (
                "text while attachments are pending",
                vec![b"451-[\"a\",{\"_placeholder\":true,\"num\":0}]", b"42[\"b\"]"],
            ),
            ("binary with no pending header", vec![b"\x01\x02"]),
            ("event that is not an array", vec![b"42{\"a\":1}"]),
            ("empty event array", vec![b"42[]"]),
            ("event name true", vec![b"42[true,\"x\"]"]),
            ("event name null", vec![b"42[null,\"x\"]"]),
            ("event name object", vec![b"42[{\"toString\":\"foo\"}]"]),
            ("reserved event connect", vec![b"42[\"connect\"]"]),
            ("reserved event disconnecting", vec![b"42[\"disconnecting\"]"]),
            ("reserved event newListener", vec![b"42[\"newListener\"]"]),
            ("reserved event removeListener", vec![b"42[\"removeListener\"]"]),
            ("extremely long ack id", vec![long_ack.as_bytes()]),
            ("ack that is not an array", vec![b"431{}"]),
            ("disconnect with a payload", vec![b"41{}"]),
            ("connect error from a client", vec![b"44{\"message\":\"x\"}"]),
            ("duplicate connect", vec![b"40"]),
            ("unknown packet type", vec![b"49"]),
            ("invalid JSON", vec![b"42[\"a\""]),
        ];
        for (what, frames) in cases {
            let mut ws = connected(addr);
            closes_after(&mut ws, &frames, what);
            still_served(healthy, what);
        }
    });
}

#[test]
fn packets_before_connect_and_bad_connects() {
    each_testbed(|addr, healthy| {
        for (what, frame) in [
            ("event before connect", &b"42[\"message\",1]"[..]),
            ("ack before connect", b"431[]"),
            ("disconnect before connect", b"41"),
            ("connect with a non-object payload", b"40[1]"),
            ("connect with a string payload", b"40\"x\""),
        ] {
            let mut ws = engine_session(addr);
            closes_after(&mut ws, &[frame], what);
            still_served(healthy, what);
        }
    });
}

#[test]
fn an_event_named_error_is_an_ordinary_unhandled_event() {
    each_testbed(|addr, healthy| {
        let mut ws = connected(addr);
        ws.send_text(r#"42["error","boom"]"#);
        ws.send_text(r#"42["message","after error"]"#);
        assert_eq!(ws.read_text(), WsRead::Text(r#"42["message-back","after error"]"#.into()));
        still_served(healthy, "error event");
    });
}

#[test]
fn dynamic_namespaces_cannot_be_invented_by_clients() {
    each_testbed(|addr, healthy| {
        let mut ws = engine_session(addr);
        ws.send_text("40/made-up,");
        assert_eq!(ws.read_text(), WsRead::Text(r#"44/made-up,{"message":"Invalid namespace"}"#.into()));
        ws.send_text("40/dynamic-ok,");
        assert!(matches!(ws.read_text(), WsRead::Text(t) if t.starts_with("40/dynamic-ok,{\"sid\":")));
        still_served(healthy, "dynamic namespaces");
    });
}

#[test]
fn sessions_that_never_connect_a_namespace_are_closed() {
    each_testbed(|addr, healthy| {
        let mut ws = engine_session(addr);
        let started = std::time::Instant::now();
        loop {
            match ws.read() {
                WsRead::Text(text) if text == "2" => ws.send_text("3"),
                WsRead::Close(_) | WsRead::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(900), "closed after {waited:?}, connectTimeout is 1000 ms");
        still_served(healthy, "connect timeout");
    });
}

#[test]
fn acks_that_are_duplicate_unknown_or_late_are_ignored() {
    each_testbed(|addr, healthy| {
        let mut ws = connected(addr);
        for ack in ["430[]", "430[]", "4399999[\"x\"]"] {
            ws.send_text(ack);
        }
        ws.send_text(r#"42["message","still fine"]"#);
        assert_eq!(ws.read_text(), WsRead::Text(r#"42["message-back","still fine"]"#.into()));
        still_served(healthy, "stray acks");
    });
}

/// A client floods events whose answers it never reads: it is cut off once its unread
/// answers pass the buffer limit, and what it held is given back (descriptors to their
/// count before, resident memory within a bound of it), while a healthy client is served.
#[test]
fn a_client_flooding_events_it_never_reads_the_answers_of_is_cut_off_and_freed() {
    use interop_tests::process::{descriptors_return, open_fds, resident_kb};
    each_server(|server, healthy| {
        let pid = server.pid();
        let (fds_before, memory_before) = (open_fds(pid), resident_kb(pid));
        let mut flooder = connected(server.addr);
        // 20 000 events of 1 kB: 20 MB of answers, more than the 4 MB buffer and both
        // ends' kernel buffers hold.
        let event = format!(r#"42["message","{}"]"#, "x".repeat(1000));
        let frame = interop_tests::raw::masked_frame(0x81, event.as_bytes());
        for _ in 0..20 {
            flooder.write_raw(&frame.repeat(1000));
        }
        still_served(healthy, "while flooded");
        // It reads at last: the answers the server had sent, then the end.
        let mut answers = 0;
        loop {
            match flooder.read() {
                WsRead::Text(text) if text.starts_with("42[\"message-back\"") => answers += 1,
                WsRead::Text(_) => {}
                WsRead::Close(_) | WsRead::Eof => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(answers < 20_000, "every answer came: the flooder was never cut off");
        drop(flooder);
        descriptors_return(pid, fds_before, "the flooder's connection");
        let grown = resident_kb(pid).saturating_sub(memory_before);
        eprintln!("cut off after {answers} answers; resident memory grew {grown} KiB");
        assert!(grown < 32 * 1024, "resident memory grew {grown} KiB");
        still_served(healthy, "after the flood");
    });
}
