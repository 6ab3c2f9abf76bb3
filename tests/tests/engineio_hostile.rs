//! End-to-end regression tests for the inputs that crashed Engine.IO implementations before:
//! each hostile input gets its typed answer and closes only the offending session, while a
//! healthy WebSocket session on the same server keeps echoing.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use interop_tests::example::{RUNTIMES, Server};
use interop_tests::raw::{self, HttpResponse, KeepAlive, RawWs, WsRead};

const ENGINE: &str = "/engine.io/";

fn error(code: u8, message: &str) -> String {
    format!(r#"{{"code":{code},"message":"{message}"}}"#)
}

fn get(addr: SocketAddr, query: &str) -> HttpResponse {
    raw::request(addr, "GET", &format!("{ENGINE}?{query}"), &[], b"")
}

fn post(addr: SocketAddr, sid: &str, body: &[u8], headers: &[(&str, &str)]) -> HttpResponse {
    raw::request(addr, "POST", &format!("{ENGINE}?EIO=4&transport=polling&sid={sid}"), headers, body)
}

fn sid_of(open: &str) -> String {
    let start = open.find("\"sid\":\"").expect("an open packet") + 7;
    open[start..start + 22].to_owned()
}

/// A new polling session; returns its sid.
fn open_polling(addr: SocketAddr) -> String {
    let response = get(addr, "EIO=4&transport=polling");
    assert_eq!(response.status, 200, "{}", response.text());
    sid_of(&response.text())
}

/// A new WebSocket session.
fn open_websocket(addr: SocketAddr) -> RawWs {
    let mut ws =
        RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).expect("websocket handshake");
    match ws.read() {
        WsRead::Text(open) => assert!(open.starts_with("0{\"sid\""), "{open}"),
        other => panic!("expected the open packet, got {other:?}"),
    }
    ws
}

/// The healthy session still echoes.
fn still_echoes(healthy: &KeepAlive, tag: &str) {
    assert_eq!(healthy.echo(tag), WsRead::Text(format!("4{tag}")), "healthy session after {tag}");
}

/// Polls `sid` like a client would (answering pings) until the session upgrades or closes.
fn keep_polling(addr: SocketAddr, sid: &str) -> std::thread::JoinHandle<()> {
    let sid = sid.to_owned();
    std::thread::spawn(move || {
        loop {
            let response = get(addr, &format!("EIO=4&transport=polling&sid={sid}"));
            if response.status != 200 {
                return;
            }
            for packet in response.text().split('\u{1e}') {
                if packet == "2" {
                    post(addr, &sid, b"3", &[]);
                }
            }
        }
    })
}

fn session_is_gone(addr: SocketAddr, sid: &str) {
    let response = get(addr, &format!("EIO=4&transport=polling&sid={sid}"));
    assert_eq!((response.status, response.text()), (400, error(1, "Session ID unknown")));
}

fn each_runtime(test: impl Fn(SocketAddr, &KeepAlive)) {
    each_server(|server, healthy| test(server.addr, healthy));
}

/// [`each_runtime`] with the server process, for tests that measure it.
fn each_server(test: impl Fn(&Server, &KeepAlive)) {
    for runtime in RUNTIMES {
        let server = Server::start(runtime, "engineio_echo");
        let healthy = open_websocket(server.addr).keep_alive();
        test(&server, &healthy);
        still_echoes(&healthy, "end");
    }
}

/// `count` masked text frames carrying `text`, as one buffer.
fn frames(text: &str, count: usize) -> Vec<u8> {
    raw::masked_frame(0x81, text.as_bytes()).repeat(count)
}

/// How much more resident memory the server holds now than `before`, in KiB.
fn grown_kb(server: &Server, before: u64) -> u64 {
    interop_tests::process::resident_kb(server.pid()).saturating_sub(before)
}

#[test]
fn query_values_get_the_reference_error_codes() {
    each_runtime(|addr, healthy| {
        let long = "x".repeat(4000);
        let cases = [
            ("EIO=4&transport=__proto__".to_owned(), error(0, "Transport unknown")),
            ("EIO=4&transport=constructor".to_owned(), error(0, "Transport unknown")),
            ("EIO=4&transport=toString".to_owned(), error(0, "Transport unknown")),
            ("EIO=4&transport=".to_owned(), error(0, "Transport unknown")),
            (format!("EIO=4&transport={long}"), error(0, "Transport unknown")),
            ("EIO=4&transport=polling&sid=__proto__".to_owned(), error(1, "Session ID unknown")),
            ("EIO=4&transport=polling&sid=hasOwnProperty".to_owned(), error(1, "Session ID unknown")),
            (format!("EIO=4&transport=polling&sid={long}"), error(1, "Session ID unknown")),
            ("EIO=4&transport=polling&transport=websocket".to_owned(), error(3, "Bad request")),
            ("EIO=__proto__&transport=polling".to_owned(), error(5, "Unsupported protocol version")),
            ("EIO=&transport=polling".to_owned(), error(5, "Unsupported protocol version")),
            (format!("EIO={long}&transport=polling"), error(5, "Unsupported protocol version")),
        ];
        for (query, expected) in cases {
            let response = get(addr, &query);
            assert_eq!(
                (response.status, response.text()),
                (400, expected),
                "{}",
                &query[..query.len().min(60)]
            );
            assert_eq!(response.header("content-type"), Some("application/json"));
        }
        let response = raw::request(addr, "PUT", &format!("{ENGINE}?EIO=4&transport=polling"), &[], b"");
        assert_eq!((response.status, response.text()), (400, error(2, "Bad handshake method")));
        still_echoes(healthy, "queries");
    });
}

#[test]
fn oversized_bodies_are_refused_before_buffering() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        // Only the head is sent: the 413 must come without the body.
        let head = format!(
            "POST {ENGINE}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n"
        );
        assert_eq!(raw::raw_request(addr, head.as_bytes()).status, 413);
        // A chunked body with no declared length is cut off at the limit.
        let mut chunked = format!(
            "POST {ENGINE}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        let chunk = vec![b'4'; 100_000];
        for _ in 0..11 {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(&chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(raw::raw_request(addr, &chunked).status, 413);
        // The session itself lives on, as in the reference.
        assert_eq!(post(addr, &sid, b"4after", &[]).text(), "ok");
        still_echoes(healthy, "oversized");
    });
}

#[test]
fn a_client_still_sending_a_refused_body_gets_its_413() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        // Closing a socket with unread data resets it: the body must be drained first, or
        // the client may see a reset instead of the response.
        let body = vec![b'4'; 3_000_000];
        for attempt in 0..10 {
            let head = format!(
                "POST {ENGINE}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let mut request = head.into_bytes();
            request.extend_from_slice(&body);
            let response = raw::strict_request(addr, &request).unwrap_or_else(|error| {
                panic!("attempt {attempt}: the request could not go out whole: {error}")
            });
            assert_eq!(response.status, 413, "attempt {attempt}");
        }
        assert_eq!(post(addr, &sid, b"4after", &[]).text(), "ok");
        still_echoes(healthy, "refused bodies");
    });
}

#[test]
fn binary_posts_and_malformed_payloads_close_the_session() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        let response = post(addr, &sid, b"4abc", &[("Content-Type", "application/octet-stream")]);
        assert_eq!((response.status, response.text()), (400, error(3, "Bad request")));
        session_is_gone(addr, &sid);

        for body in [&b"x"[..], b"4a\x1e", b"4a\x1e\x1e4b", b"b!!!", b"", b"\xff\xfe"] {
            let sid = open_polling(addr);
            let response = post(addr, &sid, body, &[]);
            assert_eq!((response.status, response.text()), (400, error(3, "Bad request")), "{body:?}");
            session_is_gone(addr, &sid);
        }

        // A client-sent ping is the wrong heartbeat direction in v4.
        let sid = open_polling(addr);
        assert_eq!(post(addr, &sid, b"2", &[]).text(), "ok");
        session_is_gone(addr, &sid);
        still_echoes(healthy, "payloads");
    });
}

#[test]
fn concurrent_polls_close_the_session_and_release_the_first() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        let poll = || {
            let sid = sid.clone();
            std::thread::spawn(move || get(addr, &format!("EIO=4&transport=polling&sid={sid}")))
        };
        let (first, second) = (poll(), poll());
        // Whichever reaches the server second is refused, and the one waiting gets the
        // close packet.
        let mut answers: Vec<(u16, String)> = [first, second]
            .map(|poll| poll.join().expect("poll"))
            .iter()
            .map(|response| (response.status, response.text()))
            .collect();
        answers.sort();
        assert_eq!(answers, [(200, "1".to_owned()), (400, error(3, "Bad request"))]);
        session_is_gone(addr, &sid);
        still_echoes(healthy, "concurrent polls");
    });
}

#[test]
fn non_websocket_upgrades_are_plain_requests() {
    each_runtime(|addr, healthy| {
        let response = raw::request(
            addr,
            "GET",
            &format!("{ENGINE}?EIO=4&transport=polling"),
            &[("Upgrade", "h2c"), ("Connection", "Upgrade")],
            b"",
        );
        assert_eq!(response.status, 200);
        assert!(response.text().starts_with("0{\"sid\""));
        let response = raw::request(
            addr,
            "GET",
            &format!("{ENGINE}?EIO=4&transport=websocket"),
            &[("Upgrade", "h2c"), ("Connection", "Upgrade")],
            b"",
        );
        assert_eq!((response.status, response.text()), (400, error(3, "Bad request")));
        still_echoes(healthy, "h2c");
    });
}

#[test]
fn connections_reset_mid_request_or_mid_upgrade() {
    each_runtime(|addr, healthy| {
        for partial in [
            &b"GET /engine.io/?EIO=4&transp"[..],
            b"POST /engine.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nContent-Length: 10\r\n\r\n4ab",
            b"GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ] {
            let mut stream = TcpStream::connect(addr).expect("connect");
            let _ = stream.write_all(partial);
            drop(stream);
        }
        // A POST whose body never completes.
        let sid = open_polling(addr);
        let mut stream = TcpStream::connect(addr).expect("connect");
        let head = format!(
            "POST {ENGINE}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4abc"
        );
        let _ = stream.write_all(head.as_bytes());
        drop(stream);
        // The session closes: a poll is refused, or, when it came first, gets the close
        // packet. Had the session lived on, the poll would get its next ping.
        let poll = get(addr, &format!("EIO=4&transport=polling&sid={sid}"));
        match (poll.status, poll.text()) {
            (200, text) if text == "1" => session_is_gone(addr, &sid),
            (400, text) => assert_eq!(text, error(1, "Session ID unknown")),
            other => panic!("the session outlived its reset POST: {other:?}"),
        }
        still_echoes(healthy, "resets");
    });
}

/// A WebSocket that sent `bytes` gets closed, with `code` when given.
fn websocket_closes_after(addr: SocketAddr, bytes: &[u8], expected_code: Option<u16>) {
    let mut ws = open_websocket(addr);
    ws.write_raw(bytes);
    loop {
        match ws.read() {
            WsRead::Text(text) if text == "2" => continue,
            WsRead::Close(code) => {
                if expected_code.is_some() {
                    assert_eq!(code, expected_code, "close code after {:?}", &bytes[..bytes.len().min(8)]);
                }
                return;
            }
            WsRead::Eof => {
                assert!(expected_code.is_none(), "expected close code {expected_code:?}, got EOF");
                return;
            }
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
}

#[test]
fn garbage_websocket_frames_close_that_socket_only() {
    each_runtime(|addr, healthy| {
        // Reserved bits set.
        websocket_closes_after(addr, &[0xf1, 0x81, 1, 2, 3, 4, b'4' ^ 1], None);
        // A close frame with an invalid code (999).
        websocket_closes_after(addr, &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe7], None);
        // An unmasked client frame.
        websocket_closes_after(addr, &[0x81, 0x02, b'4', b'a'], None);
        // A frame over maxPayload: 1009.
        let mut big =
            RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).expect("handshake");
        let _open = big.read();
        big.send_text(&format!("4{}", "x".repeat(1_000_000)));
        loop {
            match big.read() {
                WsRead::Text(text) if text == "2" => continue,
                WsRead::Close(code) => {
                    assert_eq!(code, Some(1009));
                    break;
                }
                other => panic!("expected close 1009, got {other:?}"),
            }
        }
        // A truncated frame, then the client stops writing.
        let mut truncated = open_websocket(addr);
        truncated.write_raw(&[0x81, 0x80 | 100, 1, 2, 3, 4, 5, 6, 7]);
        truncated.shutdown_write();
        assert!(matches!(truncated.read(), WsRead::Eof | WsRead::Close(_)));
        // Text that is not an Engine.IO packet.
        let mut garbage = open_websocket(addr);
        garbage.send_text("x");
        assert!(matches!(garbage.read(), WsRead::Close(Some(1000)) | WsRead::Eof));
        still_echoes(healthy, "garbage frames");
    });
}

#[test]
fn upgrade_abuse_is_refused() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        let poller = keep_polling(addr, &sid);
        let path = format!("{ENGINE}?EIO=4&transport=websocket&sid={sid}");
        let mut first = RawWs::connect(addr, &path).expect("upgrade");
        // A second WebSocket for the same sid while the first is upgrading: the handshake
        // completes and the server closes it at once, as the reference does.
        let mut second = RawWs::connect(addr, &path).expect("second websocket handshake");
        assert_eq!(second.read(), WsRead::Close(Some(1000)));
        // An unexpected packet during the probe ends the upgrade; polling keeps working.
        first.send_text("4not a probe");
        assert!(matches!(first.read(), WsRead::Close(_) | WsRead::Eof));
        assert_eq!(post(addr, &sid, b"4polling still works", &[]).text(), "ok");
        // Complete an upgrade, then try another WebSocket and a poll.
        let mut ws = RawWs::connect(addr, &path).expect("upgrade");
        ws.send_text("2probe");
        assert_eq!(ws.read(), WsRead::Text("3probe".into()));
        ws.send_text("5");
        let ws = ws.keep_alive();
        let mut after = RawWs::connect(addr, &path).expect("websocket handshake after the upgrade");
        assert_eq!(after.read(), WsRead::Close(Some(1000)));
        let poll = get(addr, &format!("EIO=4&transport=polling&sid={sid}"));
        assert_eq!((poll.status, poll.text()), (400, error(3, "Bad request")));
        still_echoes(&ws, "upgraded");
        poller.join().expect("the poller stops once the session upgraded");
        still_echoes(healthy, "upgrade abuse");
    });
}

#[test]
fn a_client_that_keeps_polling_through_an_upgrade_keeps_its_session_without_spinning() {
    each_runtime(|addr, healthy| {
        let sid = open_polling(addr);
        let path = format!("{ENGINE}?EIO=4&transport=websocket&sid={sid}");
        let mut ws = RawWs::connect(addr, &path).expect("upgrade");
        ws.send_text("2probe");
        assert_eq!(ws.read(), WsRead::Text("3probe".into()));
        // It never pauses polling: each poll is held, and answered by a ping or, with
        // nothing to send, by a noop about 100 ms later. The server pings every 300 ms.
        let (mut pings, mut noops) = (0, 0);
        while pings < 3 {
            let response = get(addr, &format!("EIO=4&transport=polling&sid={sid}"));
            assert_eq!(response.status, 200, "{}", response.text());
            match response.text().as_str() {
                "2" => {
                    pings += 1;
                    assert_eq!(post(addr, &sid, b"3", &[]).text(), "ok");
                }
                "6" => noops += 1,
                other => panic!("unexpected poll answer {other}"),
            }
        }
        // Answered at once, a looping client would have made thousands of polls by now.
        assert!(noops <= 3 * 10, "{noops} noops over three ping intervals: the client spins");
        // The session is alive: completing the upgrade now works.
        ws.send_text("5");
        let ws = ws.keep_alive();
        still_echoes(&ws, "upgraded after polling through it");
        still_echoes(healthy, "polling through an upgrade");
    });
}

/// A million pongs nobody asked for, and a hundred thousand probes during one upgrade: each
/// costs the server nothing that stays (a timer entry per pong, or an answer per probe,
/// would hold tens of MB), and only the first probe is answered.
#[test]
fn pong_and_probe_floods_cost_nothing() {
    each_server(|server, healthy| {
        let addr = server.addr;
        let mut flooder = open_websocket(addr);
        let before = interop_tests::process::resident_kb(server.pid());
        let pongs = frames("3", 100_000);
        for _ in 0..10 {
            flooder.write_raw(&pongs);
        }
        // The echo comes after every pong before it was read.
        flooder.send_text("4after the pongs");
        assert_eq!(flooder.read_text(), WsRead::Text("4after the pongs".into()));
        let pong_growth = grown_kb(server, before);
        assert!(pong_growth < 8 * 1024, "1 000 000 pongs left {pong_growth} KiB");

        let sid = open_polling(addr);
        let poller = keep_polling(addr, &sid);
        let mut ws =
            RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket&sid={sid}")).expect("upgrade");
        let before = interop_tests::process::resident_kb(server.pid());
        ws.write_raw(&frames("2probe", 100_000));
        assert_eq!(ws.read(), WsRead::Text("3probe".into()));
        ws.send_text("5");
        ws.send_text("4upgraded");
        // Nothing else came before the echo: no second probe answer.
        assert_eq!(ws.read_text(), WsRead::Text("4upgraded".into()));
        let probe_growth = grown_kb(server, before);
        assert!(probe_growth < 8 * 1024, "100 000 probes left {probe_growth} KiB");
        poller.join().expect("the poller stops once the session upgraded");
        eprintln!(
            "growth after 1 000 000 pongs: {pong_growth} KiB, after 100 000 probes: {probe_growth} KiB"
        );
        still_echoes(healthy, "pong and probe floods");
    });
}

/// A client that closes a polling session (`1` in a POST) while its GET waits: the GET
/// gets a noop, as the reference answers it, and the session is gone.
#[test]
fn a_client_close_answers_the_waiting_poll_with_a_noop() {
    each_runtime(|addr, healthy| {
        // The close may reach the server before the GET, which then finds no session; the
        // case asked for must come up within a few sessions.
        let mut noops = 0;
        for _ in 0..10 {
            let sid = open_polling(addr);
            let path = format!("{ENGINE}?EIO=4&transport=polling&sid={sid}");
            let waiting = raw::send_request(addr, "GET", &path, &[], b"");
            assert_eq!(post(addr, &sid, b"1", &[]).text(), "ok");
            let poll = waiting.response();
            match (poll.status, poll.text()) {
                (200, text) => {
                    assert_eq!(text, "6", "the waiting poll's answer");
                    noops += 1;
                }
                (400, text) => assert_eq!(text, error(1, "Session ID unknown")),
                other => panic!("the waiting poll got {other:?}"),
            }
            session_is_gone(addr, &sid);
            if noops == 3 {
                break;
            }
        }
        assert!(noops > 0, "no poll was waiting when its session's close came");
        still_echoes(healthy, "client close");
    });
}
