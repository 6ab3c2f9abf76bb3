//! The server state machine driven with a fake clock; every test asserts the exact
//! responses, frames and events it produces.

use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::server::{
    BodyError, ConnId, Cors, Event, Handled, Output, Posted, Response, Server, ServerConfig, Sid,
};

/// The reference configuration of the protocol test suite: 300 ms / 200 ms heartbeat.
fn config() -> ServerConfig {
    ServerConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    }
}

struct Harness {
    server: Server,
    start: Instant,
    now: Instant,
}

fn sid(n: u128) -> Sid {
    Sid::from_u128(n)
}

impl Harness {
    fn new(config: ServerConfig) -> Self {
        let mut next = 0u128;
        let server = Server::new(
            config,
            Box::new(move || {
                next += 1;
                next
            }),
        );
        let start = Instant::now();
        Harness { server, start, now: start }
    }

    fn at(&mut self, ms: u64) {
        self.now = self.start + Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
    }

    fn request(&mut self, method: &str, query: &str, headers: &[(&str, &str)]) -> Handled {
        let mut builder = http::Request::builder().method(method).uri(format!("/engine.io/?{query}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        self.server.handle_request(self.now, &parts, None)
    }

    fn get(&mut self, query: &str) -> Handled {
        self.request("GET", query, &[])
    }

    fn poll(&mut self, sid: Sid) -> Handled {
        self.get(&format!("EIO=4&transport=polling&sid={sid}"))
    }

    fn post(&mut self, sid: Sid, body: &'static str) -> Response {
        let handled = self.request("POST", &format!("EIO=4&transport=polling&sid={sid}"), &[]);
        let Handled::ReadBody(ticket) = handled else { panic!("expected ReadBody, got {handled:?}") };
        self.server.handle_body(self.now, ticket, Ok(Bytes::from_static(body.as_bytes()))).unwrap()
    }

    /// A polling handshake; returns the sid and the response.
    fn open_polling(&mut self) -> (Sid, Response) {
        let Handled::Incoming(incoming) = self.get("EIO=4&transport=polling&t=abc") else { panic!() };
        let Handled::Respond(response) = self.server.accept(self.now, incoming) else { panic!() };
        let outputs = self.outputs();
        let [Output::Event(Event::Opened { sid, .. })] = outputs.as_slice() else { panic!("{outputs:?}") };
        (*sid, response)
    }

    /// A WebSocket handshake; returns the sid and the connection.
    fn open_websocket(&mut self) -> (Sid, ConnId) {
        let headers = [("upgrade", "websocket"), ("connection", "Upgrade")];
        let Handled::Incoming(incoming) = self.request("GET", "EIO=4&transport=websocket", &headers) else {
            panic!()
        };
        let Handled::WebSocket(ticket) = self.server.accept(self.now, incoming) else { panic!() };
        let conn = self.server.ws_opened(self.now, ticket);
        let outputs = self.outputs();
        let Some(Output::Event(Event::Opened { sid, .. })) = outputs.first() else { panic!("{outputs:?}") };
        (*sid, conn)
    }

    fn upgrade(&mut self, sid: Sid) -> ConnId {
        let headers = [("upgrade", "websocket"), ("connection", "Upgrade")];
        let handled = self.request("GET", &format!("EIO=4&transport=websocket&sid={sid}"), &headers);
        let Handled::WebSocket(ticket) = handled else { panic!("expected WebSocket, got {handled:?}") };
        self.server.ws_opened(self.now, ticket)
    }

    fn frame(&mut self, conn: ConnId, text: &str) {
        self.server.handle_ws_frame(self.now, conn, Frame::Text(text.to_owned().into()));
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.server.poll_output()).collect()
    }

    /// The outputs, written compactly for exact comparison.
    fn log(&mut self) -> Vec<String> {
        self.outputs().iter().map(describe).collect()
    }
}

fn describe(output: &Output) -> String {
    match output {
        Output::Respond { response, .. } => format!("respond {}", body(response)),
        Output::WsSend { frames, .. } => {
            let frames: Vec<String> = frames
                .iter()
                .map(|f| match f {
                    Frame::Text(t) => t.to_string(),
                    Frame::Binary(b) => format!("<{} bytes>", b.len()),
                })
                .collect();
            format!("ws send {}", frames.join(" | "))
        }
        Output::WsClose { code, .. } => format!("ws close {code}"),
        Output::Readable { sid } => format!("readable {sid}"),
        Output::Event(Event::Opened { sid, .. }) => format!("opened {sid}"),
        Output::Event(Event::Message { data, .. }) => format!("message {data:?}"),
        Output::Event(Event::Upgraded { sid }) => format!("upgraded {sid}"),
        Output::Event(Event::Closed { reason, .. }) => format!("closed: {reason}"),
    }
}

fn body(response: &Response) -> String {
    format!(
        "{} {}",
        response.status().as_u16(),
        String::from_utf8_lossy(response.body()).replace('\u{1e}', "␞")
    )
}

fn respond(handled: Handled) -> String {
    match handled {
        Handled::Respond(response) => body(&response),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn pending(handled: Handled) {
    assert!(matches!(handled, Handled::Pending(_)), "expected a pending poll, got {handled:?}");
}

const OPEN_1: &str = r#"0{"sid":"AAAAAAAAAAAAAAAAAAAAAQ","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

#[test]
fn polling_handshake() {
    let mut h = Harness::new(config());
    let (sid, response) = h.open_polling();
    assert_eq!(sid.to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");
    assert_eq!(body(&response), format!("200 {OPEN_1}"));
    assert_eq!(response.headers()["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().get("access-control-allow-origin").is_none(), "CORS is off by default");
    assert_eq!(h.server.poll_timeout(), Some(h.start + Duration::from_millis(300)));
}

#[test]
fn websocket_handshake_offers_no_upgrade() {
    let mut h = Harness::new(config());
    let headers = [("upgrade", "websocket"), ("connection", "Upgrade")];
    let Handled::Incoming(incoming) = h.request("GET", "EIO=4&transport=websocket", &headers) else {
        panic!()
    };
    let Handled::WebSocket(ticket) = h.server.accept(h.now, incoming) else { panic!() };
    h.server.ws_opened(h.now, ticket);
    assert_eq!(
        h.log(),
        [
            "opened AAAAAAAAAAAAAAAAAAAAAQ".to_owned(),
            r#"ws send 0{"sid":"AAAAAAAAAAAAAAAAAAAAAQ","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#.to_owned(),
        ]
    );
}

#[test]
fn heartbeat_on_polling() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    h.at(299);
    assert!(h.log().is_empty());
    h.at(300);
    assert_eq!(h.log(), ["respond 200 2"]);
    assert_eq!(h.server.poll_timeout(), Some(h.start + Duration::from_millis(500)));
    h.at(350);
    assert_eq!(respond(Handled::Respond(h.post(sid, "3"))), "200 ok");
    // The next ping is one interval after the pong.
    assert_eq!(h.server.poll_timeout(), Some(h.start + Duration::from_millis(650)));
    pending(h.poll(sid));
    h.at(649);
    assert!(h.log().is_empty());
    h.at(650);
    assert_eq!(h.log(), ["respond 200 2"]);
    h.at(849);
    assert!(h.log().is_empty());
    h.at(850);
    assert_eq!(h.log(), ["closed: ping timeout"]);
    assert_eq!(h.server.session_count(), 0);
    assert_eq!(respond(h.poll(sid)), r#"400 {"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn heartbeat_on_websocket() {
    let mut h = Harness::new(config());
    let (_, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.at(300);
    assert_eq!(h.log(), ["ws send 2"]);
    h.server.handle_ws_drained(h.now, conn);
    h.at(400);
    h.frame(conn, "3");
    h.at(699);
    assert!(h.log().is_empty());
    h.at(700);
    assert_eq!(h.log(), ["ws send 2"]);
    h.at(900);
    assert_eq!(h.log(), ["ws close 1000", "closed: ping timeout"]);
}

#[test]
fn a_message_while_waiting_for_pong_extends_the_wait_once() {
    let mut h = Harness::new(config());
    let (_, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.at(300);
    h.server.handle_ws_drained(h.now, conn);
    h.at(450);
    h.frame(conn, "4hello");
    h.frame(conn, "4again");
    assert_eq!(h.log().len(), 3, "ping, two messages");
    h.at(649);
    assert!(h.log().is_empty());
    h.at(650);
    assert_eq!(h.log(), ["ws close 1000", "closed: ping timeout"]);
}

#[test]
fn abandoned_polling_sessions_are_reclaimed() {
    let mut h = Harness::new(config());
    h.open_polling();
    h.at(300);
    h.at(500);
    assert_eq!(h.log(), ["closed: ping timeout"]);
    assert_eq!(h.server.session_count(), 0);
    assert_eq!(h.server.poll_timeout(), None, "no timer left behind");
}

#[test]
fn a_poll_waits_for_messages() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    h.server.send(sid, &engineio_proto::Packet::message("hello")).unwrap();
    assert_eq!(h.log(), ["respond 200 4hello"]);
    h.server.send(sid, &engineio_proto::Packet::message("a")).unwrap();
    h.server.send(sid, &engineio_proto::Packet::binary(vec![1u8, 2, 3])).unwrap();
    assert!(h.log().is_empty());
    assert_eq!(respond(h.poll(sid)), "200 4a␞bAQID");
}

#[test]
fn a_corked_session_holds_what_is_sent_until_uncorked() {
    let mut h = Harness::new(config());
    // Polling: a poll waits, even with packets buffered, until the session is uncorked.
    let (sid, _) = h.open_polling();
    h.server.cork(sid);
    h.server.send(sid, &engineio_proto::Packet::message("first")).unwrap();
    pending(h.poll(sid));
    h.server.send(sid, &engineio_proto::Packet::message("second")).unwrap();
    assert!(h.log().is_empty());
    h.server.uncork(sid);
    assert_eq!(h.log(), ["respond 200 4first␞4second"]);

    // WebSocket: one batch once uncorked, a ping included.
    let (sid, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.server.cork(sid);
    h.server.send(sid, &engineio_proto::Packet::message("a")).unwrap();
    h.at(300);
    assert!(h.log().is_empty(), "the ping waits too");
    h.server.uncork(sid);
    assert_eq!(h.log(), ["ws send 4a | 2"]);

    // Corks nest: two namespaces of a session may be joining at once.
    h.server.handle_ws_drained(h.now, conn);
    h.server.cork(sid);
    h.server.cork(sid);
    h.server.send(sid, &engineio_proto::Packet::message("b")).unwrap();
    h.server.uncork(sid);
    assert!(h.log().is_empty(), "one cork left");
    h.server.uncork(sid);
    assert_eq!(h.log(), ["ws send 4b"]);
}

#[test]
fn polling_responses_respect_max_payload() {
    let mut h = Harness::new(ServerConfig { max_payload: 11, ..config() });
    let (sid, _) = h.open_polling();
    for text in ["aaaa", "bbbb", "cccccccccccc"] {
        h.server.send(sid, &engineio_proto::Packet::message(text)).unwrap();
    }
    assert_eq!(respond(h.poll(sid)), "200 4aaaa␞4bbbb");
    // A packet larger than the limit still goes, alone.
    assert_eq!(respond(h.poll(sid)), "200 4cccccccccccc");
}

#[test]
fn messages_from_the_client() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    assert_eq!(body(&h.post(sid, "4hello\u{1e}bAQID\u{1e}6")), "200 ok");
    assert_eq!(h.log(), [r#"message Text("hello")"#, "message Binary(b\"\\x01\\x02\\x03\")"]);
}

#[test]
fn client_close_packet() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    assert_eq!(body(&h.post(sid, "1")), "200 ok");
    // The waiting GET gets a noop, as the reference answers it; then the session is gone.
    assert_eq!(h.log(), ["respond 200 6", "closed: transport close"]);
    assert_eq!(respond(h.poll(sid)), r#"400 {"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn a_close_the_server_decides_answers_the_waiting_poll_with_a_close_packet() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    h.server.close(h.now, sid);
    assert_eq!(h.log(), ["respond 200 1", "closed: forced close"]);
}

#[test]
fn client_ping_is_the_wrong_heartbeat_direction() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    assert_eq!(body(&h.post(sid, "2")), "200 ok");
    assert_eq!(h.log(), ["closed: transport error"]);
    let (_, conn) = h.open_websocket();
    h.frame(conn, "2");
    assert_eq!(h.log(), ["ws close 1000", "closed: transport error"]);
}

#[test]
fn malformed_posts_close_the_session() {
    for body_text in ["", "x", "4a\u{1e}", "4a\u{1e}\u{1e}4b", "b!!!"] {
        let mut h = Harness::new(config());
        let (sid, _) = h.open_polling();
        assert_eq!(
            body(&h.post(sid, body_text)),
            r#"400 {"code":3,"message":"Bad request"}"#,
            "{body_text:?}"
        );
        assert_eq!(h.log().last().unwrap(), "closed: parse error");
    }
}

#[test]
fn concurrent_polls_close_the_session() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    assert_eq!(respond(h.poll(sid)), r#"400 {"code":3,"message":"Bad request"}"#);
    assert_eq!(h.log(), ["respond 200 1", "closed: transport error"]);
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn concurrent_posts_close_the_session() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    let query = format!("EIO=4&transport=polling&sid={sid}");
    let Handled::ReadBody(first) = h.request("POST", &query, &[]) else { panic!() };
    assert_eq!(respond(h.request("POST", &query, &[])), r#"400 {"code":3,"message":"Bad request"}"#);
    assert_eq!(h.log(), ["respond 200 1", "closed: transport error"]);
    // The first body, arriving late, finds no session.
    let late = h.server.handle_body(h.now, first, Ok(Bytes::from_static(b"4x"))).unwrap();
    assert_eq!(body(&late), r#"400 {"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn binary_post_on_v4_closes_the_session() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let query = format!("EIO=4&transport=polling&sid={sid}");
    let handled = h.request("POST", &query, &[("content-type", "application/octet-stream")]);
    assert_eq!(respond(handled), r#"400 {"code":3,"message":"Bad request"}"#);
    assert_eq!(h.log(), ["closed: transport error"]);
}

#[test]
fn oversized_post_is_refused_and_the_session_lives_on() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let Handled::ReadBody(ticket) = h.request("POST", &format!("EIO=4&transport=polling&sid={sid}"), &[])
    else {
        panic!()
    };
    assert_eq!(ticket.limit(), 1_000_000);
    let response = h.server.handle_body(h.now, ticket, Err(BodyError::TooLarge)).unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(body(&h.post(sid, "4still here")), "200 ok");
    assert_eq!(h.log(), [r#"message Text("still here")"#]);
}

#[test]
fn aborted_requests_close_the_session() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let Handled::Pending(poll) = h.poll(sid) else { panic!() };
    h.server.handle_poll_aborted(h.now, poll);
    assert_eq!(h.log(), ["closed: transport error"]);

    let (sid, _) = h.open_polling();
    let Handled::ReadBody(ticket) = h.request("POST", &format!("EIO=4&transport=polling&sid={sid}"), &[])
    else {
        panic!()
    };
    assert!(h.server.handle_body(h.now, ticket, Err(BodyError::Aborted)).is_none());
    assert_eq!(h.log(), ["closed: transport error"]);
}

#[test]
fn query_validation_uses_the_reference_codes() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let e = |code: u8, message: &str| format!(r#"400 {{"code":{code},"message":"{message}"}}"#);
    let long = "x".repeat(10_000);
    let cases: Vec<(&str, String, String)> = vec![
        ("GET", "EIO=4".into(), e(0, "Transport unknown")),
        ("GET", "EIO=4&transport=".into(), e(0, "Transport unknown")),
        ("GET", "EIO=4&transport=__proto__".into(), e(0, "Transport unknown")),
        ("GET", "EIO=4&transport=constructor".into(), e(0, "Transport unknown")),
        ("GET", "EIO=4&transport=toString".into(), e(0, "Transport unknown")),
        ("GET", format!("EIO=4&transport={long}"), e(0, "Transport unknown")),
        ("GET", "EIO=4&transport=polling&sid=__proto__".into(), e(1, "Session ID unknown")),
        ("GET", "EIO=4&transport=polling&sid=constructor".into(), e(1, "Session ID unknown")),
        ("GET", format!("EIO=4&transport=polling&sid={long}"), e(1, "Session ID unknown")),
        ("GET", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAg".into(), e(1, "Session ID unknown")),
        ("POST", "EIO=4&transport=polling".into(), e(2, "Bad handshake method")),
        ("PUT", "EIO=4&transport=polling".into(), e(2, "Bad handshake method")),
        ("GET", "EIO=4&transport=websocket".into(), e(3, "Bad request")),
        ("GET", "EIO=4&transport=polling&transport=polling".into(), e(3, "Bad request")),
        ("GET", format!("EIO=4&transport=polling&sid={sid}&sid={sid}"), e(3, "Bad request")),
        ("GET", "EIO=4&EIO=4&transport=polling".into(), e(3, "Bad request")),
        ("GET", "transport=polling".into(), e(5, "Unsupported protocol version")),
        ("GET", "EIO=3&transport=polling".into(), e(5, "Unsupported protocol version")),
        ("GET", "EIO=__proto__&transport=polling".into(), e(5, "Unsupported protocol version")),
        ("GET", format!("EIO=3&transport=polling&sid={sid}"), e(3, "Bad request")),
        ("DELETE", format!("EIO=4&transport=polling&sid={sid}"), e(3, "Bad request")),
    ];
    for (method, query, expected) in cases {
        let handled = h.request(method, &query, &[]);
        assert_eq!(respond(handled), expected, "{method} {}", &query[..query.len().min(80)]);
    }
    // None of that touched the session.
    assert!(h.log().is_empty());
    assert_eq!(h.server.session_count(), 1);
}

#[test]
fn a_non_websocket_upgrade_header_is_a_plain_request() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let handled = h.request("GET", &format!("EIO=4&transport=polling&sid={sid}"), &[("upgrade", "h2c")]);
    pending(handled);
    let handled = h.request("GET", "EIO=4&transport=websocket", &[("upgrade", "h2c")]);
    assert_eq!(respond(handled), r#"400 {"code":3,"message":"Bad request"}"#);
}

#[test]
fn allow_request_refusal_is_403() {
    let mut h = Harness::new(config());
    let Handled::Incoming(incoming) = h.get("EIO=4&transport=polling") else { panic!() };
    assert_eq!(incoming.handshake().uri.query(), Some("EIO=4&transport=polling"));
    let response = h.server.refuse(incoming, None);
    assert_eq!(body(&response), r#"403 {"code":4,"message":"Forbidden"}"#);
    let Handled::Incoming(incoming) = h.get("EIO=4&transport=polling") else { panic!() };
    let response = h.server.refuse(incoming, Some("no \"tokens\""));
    assert_eq!(body(&response), r#"403 {"code":4,"message":"no \"tokens\""}"#);
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn upgrade_to_websocket() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    let conn = h.upgrade(sid);
    assert!(h.log().is_empty());
    h.frame(conn, "2probe");
    assert_eq!(h.log(), ["ws send 3probe", "respond 200 6"]);
    h.server.handle_ws_drained(h.now, conn);
    // A poll after the probe (one that crossed it, or a client that does not pause) waits
    // as any poll: what is sent meanwhile answers it, a ping included, so a client that
    // keeps polling keeps its session.
    pending(h.poll(sid));
    h.server.send(sid, &engineio_proto::Packet::message("by polling")).unwrap();
    assert_eq!(h.log(), ["respond 200 4by polling"]);
    assert_eq!(h.server.waiting_polls(), 0);
    // With nothing to send, it gets a noop 100 ms after it came, so the client can pause
    // without spinning.
    h.at(10);
    pending(h.poll(sid));
    h.at(109);
    assert!(h.log().is_empty());
    h.at(110);
    assert_eq!(h.log(), ["respond 200 6"]);
    assert_eq!(h.server.waiting_polls(), 0);
    h.at(250);
    pending(h.poll(sid));
    h.at(300);
    assert_eq!(h.log(), ["respond 200 2"]);
    h.at(350);
    assert!(h.log().is_empty(), "the noop due for an answered poll is not sent");
    // The poll waiting when the upgrade completes gets a noop too.
    pending(h.poll(sid));
    h.frame(conn, "5");
    assert_eq!(h.log(), ["respond 200 6".to_owned(), format!("upgraded {sid}")]);
    assert_eq!(h.server.waiting_polls(), 0);
    h.server.send(sid, &engineio_proto::Packet::message("queued")).unwrap();
    assert_eq!(h.log(), ["ws send 4queued"]);
    h.server.handle_ws_drained(h.now, conn);
    h.frame(conn, "4over websocket");
    assert_eq!(h.log(), [r#"message Text("over websocket")"#]);
    // Polling is over for this session, and so are further WebSockets.
    assert_eq!(respond(h.poll(sid)), r#"400 {"code":3,"message":"Bad request"}"#);
    let _again = h.upgrade(sid);
    assert_eq!(h.log(), ["ws close 1000"]);
    // Heartbeat goes over the WebSocket now: the pong to the ping polling delivered, then
    // the next ping one interval after that pong.
    h.frame(conn, "3");
    h.at(649);
    assert!(h.log().is_empty());
    h.at(650);
    assert_eq!(h.log(), ["ws send 2"]);
}

#[test]
fn a_client_that_dies_mid_upgrade_keeps_polling() {
    let mut h = Harness::new(ServerConfig { ping_interval: Duration::from_secs(60), ..config() });
    let (sid, _) = h.open_polling();
    let conn = h.upgrade(sid);
    h.frame(conn, "2probe");
    assert_eq!(h.log(), ["ws send 3probe"]);
    h.at(9_999);
    assert!(h.log().is_empty());
    h.at(10_000);
    assert_eq!(h.log(), ["ws close 1000"]);
    h.server.send(sid, &engineio_proto::Packet::message("still polling")).unwrap();
    assert_eq!(respond(h.poll(sid)), "200 4still polling");
    // A new upgrade may start.
    let conn = h.upgrade(sid);
    h.frame(conn, "2probe");
    h.frame(conn, "5");
    assert_eq!(h.log(), ["ws send 3probe".to_owned(), format!("upgraded {sid}")]);
}

#[test]
fn unexpected_packets_during_the_probe_abort_the_upgrade() {
    for unexpected in ["4hello", "2", "3probe", "x", ""] {
        let mut h = Harness::new(config());
        let (sid, _) = h.open_polling();
        let conn = h.upgrade(sid);
        h.frame(conn, unexpected);
        assert_eq!(h.log(), ["ws close 1000"], "{unexpected:?}");
        assert_eq!(h.server.session_count(), 1);
        pending(h.poll(sid));
    }
}

#[test]
fn a_second_websocket_while_upgrading_or_after_is_accepted_then_closed() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let first = h.upgrade(sid);
    // The reference completes the handshake, then closes that WebSocket at once.
    let _second = h.upgrade(sid);
    assert_eq!(h.log(), ["ws close 1000"]);
    h.frame(first, "2probe");
    h.frame(first, "5");
    h.log();
    assert_eq!(h.server.transport(sid), Some(engineio_proto::server::TransportKind::WebSocket));
    let _third = h.upgrade(sid);
    assert_eq!(h.log(), ["ws close 1000"]);
    assert_eq!(h.server.transport(sid), Some(engineio_proto::server::TransportKind::WebSocket));
    // An unknown sid is still refused.
    let headers = [("upgrade", "websocket")];
    let unknown = h.request("GET", "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAAAA", &headers);
    assert_eq!(respond(unknown), r#"400 {"code":1,"message":"Session ID unknown"}"#);
}

#[test]
fn two_upgrade_tickets_race_and_the_second_is_closed() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let headers = [("upgrade", "websocket")];
    let query = format!("EIO=4&transport=websocket&sid={sid}");
    let Handled::WebSocket(a) = h.request("GET", &query, &headers) else { panic!() };
    let Handled::WebSocket(b) = h.request("GET", &query, &headers) else { panic!() };
    h.server.ws_opened(h.now, a);
    h.server.ws_opened(h.now, b);
    assert_eq!(h.log(), ["ws close 1000"]);
}

#[test]
fn oversized_websocket_messages_close_with_1009() {
    let mut h = Harness::new(ServerConfig { max_payload: 8, ..config() });
    let (_, conn) = h.open_websocket();
    h.frame(conn, "4fits");
    h.frame(conn, "4does not fit");
    assert_eq!(h.log(), [r#"message Text("fits")"#, "ws close 1009", "closed: transport error"]);
}

#[test]
fn a_message_the_adapter_refused_for_its_size_closes_with_1009() {
    let mut h = Harness::new(config());
    let (sid, conn) = h.open_websocket();
    h.log();
    h.server.handle_ws_too_large(h.now, conn);
    assert_eq!(h.log(), ["ws close 1009", "closed: transport error"]);
    assert_eq!(h.server.transport(sid), None);
}

#[test]
fn an_oversized_probe_abandons_the_upgrade_and_keeps_the_polling_session() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let conn = h.upgrade(sid);
    h.server.handle_ws_too_large(h.now, conn);
    assert_eq!(h.log(), ["ws close 1009"]);
    assert_eq!(h.server.transport(sid), Some(engineio_proto::server::TransportKind::Polling));
}

#[test]
fn garbage_websocket_frames_close_that_session_only() {
    let mut h = Harness::new(config());
    let (_, bad) = h.open_websocket();
    let (good_sid, good) = h.open_websocket();
    h.log();
    h.frame(bad, "x");
    assert_eq!(h.log(), ["ws close 1000", "closed: parse error"]);
    h.frame(good, "4ok");
    assert_eq!(h.log(), [r#"message Text("ok")"#]);
    assert_eq!(h.server.transport(good_sid), Some(engineio_proto::server::TransportKind::WebSocket));
}

#[test]
fn one_packet_over_the_buffer_limit_still_goes_out() {
    let mut h = Harness::new(ServerConfig { max_buffered_bytes: 100, ..config() });
    let (sid, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.log();
    // Larger than the limit, within max_payload, and nothing waits: it is sent.
    let big = "x".repeat(1000);
    h.server.send(sid, &engineio_proto::Packet::message(big.clone())).unwrap();
    assert_eq!(h.log(), [format!("ws send 4{big}")]);
    // While it is being written, the next big one waits alone in the buffer: still fine.
    h.server.send(sid, &engineio_proto::Packet::message(big.clone())).unwrap();
    assert!(h.log().is_empty());
    // A third one behind it is what a slow reader looks like.
    let refused = h.server.send(sid, &engineio_proto::Packet::message(big));
    assert_eq!(refused, Err(engineio_proto::server::SendError::BufferFull));
    assert_eq!(h.log(), ["ws close 1000", "closed: buffer full"]);
}

#[test]
fn a_polling_client_between_polls_may_have_a_big_packet_and_more_waiting() {
    let mut h = Harness::new(ServerConfig { max_buffered_bytes: 100, max_payload: 2000, ..config() });
    let (sid, _) = h.open_polling();
    let big = "x".repeat(999);
    // A big packet waits for the next poll, then a small one and another big one: the
    // next poll carries up to max_payload, so what waits behind it is within the limit.
    h.server.send(sid, &engineio_proto::Packet::message(big.clone())).unwrap();
    h.server.send(sid, &engineio_proto::Packet::message("small")).unwrap();
    h.server.send(sid, &engineio_proto::Packet::message(big.clone())).unwrap();
    assert_eq!(respond(h.poll(sid)), format!("200 4{big}␞4small"));
    assert_eq!(respond(h.poll(sid)), format!("200 4{big}"));
    // A client that stops polling is cut off once more than the limit waits behind
    // what one poll carries.
    for _ in 0..2 {
        h.server.send(sid, &engineio_proto::Packet::message(big.clone())).unwrap();
    }
    h.server.send(sid, &engineio_proto::Packet::message("x".repeat(99))).unwrap();
    let refused = h.server.send(sid, &engineio_proto::Packet::message("x"));
    assert_eq!(refused, Err(engineio_proto::server::SendError::BufferFull));
    assert_eq!(h.log(), ["closed: buffer full"]);
}

#[test]
fn slow_websocket_readers_are_cut_off() {
    let mut h = Harness::new(ServerConfig { max_buffered_bytes: 100, ..config() });
    let (sid, conn) = h.open_websocket();
    h.log();
    // The open packet batch is never drained: everything else stays buffered.
    for _ in 0..10 {
        h.server.send(sid, &engineio_proto::Packet::message("x".repeat(9))).unwrap();
    }
    assert!(h.log().is_empty());
    let refused = h.server.send(sid, &engineio_proto::Packet::message("x".repeat(9)));
    assert_eq!(refused, Err(engineio_proto::server::SendError::BufferFull));
    assert_eq!(h.log(), ["ws close 1000", "closed: buffer full"]);
    assert_eq!(
        h.server.send(sid, &engineio_proto::Packet::message("late")),
        Err(engineio_proto::server::SendError::Closed)
    );
    let _ = conn;
}

#[test]
fn batches_wait_for_the_previous_one_to_drain() {
    let mut h = Harness::new(config());
    let (sid, conn) = h.open_websocket();
    h.log();
    h.server.send(sid, &engineio_proto::Packet::message("a")).unwrap();
    h.server.send(sid, &engineio_proto::Packet::message("b")).unwrap();
    assert!(h.log().is_empty());
    h.server.handle_ws_drained(h.now, conn);
    assert_eq!(h.log(), ["ws send 4a | 4b"]);
}

#[test]
fn server_close_flushes_first() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    h.server.send(sid, &engineio_proto::Packet::message("bye")).unwrap();
    h.server.close(h.now, sid);
    assert!(h.log().is_empty());
    // The close packet comes alone, in the next response, as in the reference.
    assert_eq!(respond(h.poll(sid)), "200 4bye");
    assert!(h.log().is_empty());
    assert_eq!(respond(h.poll(sid)), "200 1");
    assert_eq!(h.log(), ["closed: forced close"]);

    let (sid, conn) = h.open_websocket();
    h.log();
    h.server.send(sid, &engineio_proto::Packet::message("bye")).unwrap();
    h.server.close(h.now, sid);
    assert_eq!(h.log(), ["ws send 4bye", "ws close 1000", "closed: forced close"]);
    let _ = conn;
}

#[test]
fn server_close_with_a_pending_poll() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    pending(h.poll(sid));
    h.server.close(h.now, sid);
    assert_eq!(h.log(), ["respond 200 1", "closed: forced close"]);
}

#[test]
fn server_close_of_a_polling_client_that_never_polls() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    h.server.close(h.now, sid);
    h.at(499);
    assert!(h.log().is_empty());
    h.at(500);
    assert_eq!(h.log(), ["closed: forced close"]);
}

#[test]
fn websocket_close_by_the_client() {
    let mut h = Harness::new(config());
    let (_, conn) = h.open_websocket();
    h.log();
    h.server.handle_ws_closed(h.now, conn);
    assert_eq!(h.log(), ["ws close 1000", "closed: transport close"]);
    assert_eq!(h.server.session_count(), 0);
}

#[test]
fn cors_any_origin() {
    let mut h = Harness::new(ServerConfig { cors: Some(Cors::any()), ..config() });
    let Handled::Incoming(incoming) =
        h.request("GET", "EIO=4&transport=polling", &[("origin", "https://a.example")])
    else {
        panic!()
    };
    let Handled::Respond(response) = h.server.accept(h.now, incoming) else { panic!() };
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers().get("access-control-allow-credentials").is_none());
    let Handled::Respond(preflight) = h.request(
        "OPTIONS",
        "EIO=4&transport=polling",
        &[("origin", "https://a.example"), ("access-control-request-headers", "content-type")],
    ) else {
        panic!()
    };
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert_eq!(preflight.headers()["access-control-allow-methods"], "GET,HEAD,PUT,PATCH,POST,DELETE");
    assert_eq!(preflight.headers()["access-control-allow-headers"], "content-type");
}

#[test]
fn cors_origin_list_with_credentials() {
    let cors = Cors::origins(["https://a.example"]).with_credentials();
    let mut h = Harness::new(ServerConfig { cors: Some(cors), ..config() });
    let allowed = h.request("GET", "EIO=4&transport=x", &[("origin", "https://a.example")]);
    let Handled::Respond(allowed) = allowed else { panic!() };
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://a.example");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    assert_eq!(allowed.headers()["vary"], "Origin");
    let Handled::Respond(other) =
        h.request("GET", "EIO=4&transport=x", &[("origin", "https://evil.example")])
    else {
        panic!()
    };
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert!(other.headers().get("access-control-allow-credentials").is_none());
}

#[test]
fn websockets_from_origins_off_the_list_are_refused() {
    let mut h = Harness::new(ServerConfig { cors: Some(Cors::origins(["https://a.example"])), ..config() });
    let ws = |origin: Option<&'static str>| {
        let mut headers = vec![("upgrade", "websocket"), ("connection", "Upgrade")];
        headers.extend(origin.map(|origin| ("origin", origin)));
        headers
    };
    // A page on another site opening a WebSocket (cross-site WebSocket hijacking).
    let evil = h.request("GET", "EIO=4&transport=websocket", &ws(Some("https://evil.example")));
    assert_eq!(respond(evil), r#"403 {"code":4,"message":"Forbidden"}"#);
    // The same for an upgrade of an existing session.
    let (sid, _) = h.open_polling();
    let upgrade =
        h.request("GET", &format!("EIO=4&transport=websocket&sid={sid}"), &ws(Some("https://evil.example")));
    assert_eq!(respond(upgrade), r#"403 {"code":4,"message":"Forbidden"}"#);
    // A listed origin, and a client that sends none (not a browser), are let through.
    assert!(matches!(
        h.request("GET", "EIO=4&transport=websocket", &ws(Some("https://a.example"))),
        Handled::Incoming(_)
    ));
    assert!(matches!(h.request("GET", "EIO=4&transport=websocket", &ws(None)), Handled::Incoming(_)));
    // Without an origin list, any origin may.
    let mut open = Harness::new(ServerConfig { cors: Some(Cors::any()), ..config() });
    let any = open.request("GET", "EIO=4&transport=websocket", &ws(Some("https://evil.example")));
    assert!(matches!(any, Handled::Incoming(_)));
}

#[test]
fn credentials_need_an_explicit_origin() {
    assert_eq!(Cors::any().with_credentials(), Cors::any());
}

#[test]
fn session_ids_come_from_the_source() {
    let mut h = Harness::new(config());
    let (a, _) = h.open_polling();
    let (b, _) = h.open_polling();
    assert_eq!((a, b), (sid(1), sid(2)));
}

#[test]
fn an_upgrade_under_way_completes_after_a_server_close() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let conn = h.upgrade(sid);
    h.frame(conn, "2probe");
    h.server.handle_ws_drained(h.now, conn);
    assert_eq!(h.log(), ["ws send 3probe"]);
    // The client paused polling for the upgrade; the application closes meanwhile.
    h.server.send(sid, &engineio_proto::Packet::message("last words")).unwrap();
    h.server.close(h.now, sid);
    assert_eq!(h.log(), Vec::<String>::new());
    h.frame(conn, "5");
    assert_eq!(
        h.log(),
        [
            format!("upgraded {sid}"),
            "ws send 4last words".into(),
            "ws close 1000".into(),
            "closed: forced close".into()
        ]
    );
}

#[test]
fn a_handshake_keeps_no_view_into_the_request_buffer() {
    // Servers parse headers as views into their read buffer; a session keeps its handshake
    // for life and must not pin that buffer.
    let mut h = Harness::new(config());
    let buffer = Bytes::from(vec![b'x'; 8192]);
    let value = http::HeaderValue::from_maybe_shared(buffer.slice(0..16)).unwrap();
    let (parts, ()) = http::Request::get("/engine.io/?EIO=4&transport=polling")
        .header("x-token", value)
        .body(())
        .unwrap()
        .into_parts();
    let Handled::Incoming(incoming) = h.server.handle_request(h.now, &parts, None) else { panic!() };
    drop(parts);
    assert_eq!(incoming.handshake().headers["x-token"], "xxxxxxxxxxxxxxxx");
    assert!(buffer.is_unique(), "the handshake still points into the request buffer");
    let _ = h.server.accept(h.now, incoming);
}

#[test]
fn answered_long_polls_leave_the_poll_table() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    for cycle in 1..=100u64 {
        pending(h.poll(sid));
        assert_eq!(h.server.waiting_polls(), 1);
        // The ping answers the waiting GET; the client pongs.
        h.at(cycle * 300);
        assert_eq!(h.log(), ["respond 200 2"], "cycle {cycle}");
        assert_eq!(h.server.waiting_polls(), 0, "cycle {cycle}");
        assert_eq!(h.post(sid, "3").status(), 200);
    }
    assert_eq!(h.server.session_count(), 1);
}

#[test]
fn repeated_probes_are_answered_once() {
    let mut h = Harness::new(config());
    let (sid, _) = h.open_polling();
    let conn = h.upgrade(sid);
    h.frame(conn, "2probe");
    assert_eq!(h.log(), ["ws send 3probe"]);
    for _ in 0..10_000 {
        h.frame(conn, "2probe");
    }
    assert!(h.log().is_empty(), "later probes queue nothing");
    h.server.handle_ws_drained(h.now, conn);
    h.frame(conn, "5");
    assert_eq!(h.log(), [format!("upgraded {sid}")]);
}

#[test]
fn unsolicited_pongs_cost_nothing_and_do_not_delay_the_ping() {
    let mut h = Harness::new(config());
    let (_, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.log();
    let before = h.server.timer_entries();
    h.at(100);
    for _ in 0..100_000 {
        h.frame(conn, "3");
    }
    assert_eq!(h.server.timer_entries(), before, "a pong nobody asked for queues no timer");
    assert!(h.log().is_empty());
    // The ping is still due one interval after the open.
    h.at(300);
    assert_eq!(h.log(), ["ws send 2"]);
    h.server.handle_ws_drained(h.now, conn);
    // The answer to it moves the next ping one interval later, as in the reference.
    h.at(350);
    h.frame(conn, "3");
    h.at(600);
    assert!(h.log().is_empty());
    h.at(650);
    assert_eq!(h.log(), ["ws send 2"]);
}

#[test]
fn huge_durations_saturate_instead_of_panicking() {
    let mut h = Harness::new(ServerConfig {
        ping_interval: Duration::MAX,
        ping_timeout: Duration::MAX,
        upgrade_timeout: Duration::MAX,
        ..config()
    });
    let (sid, _) = h.open_polling();
    let conn = h.upgrade(sid);
    h.frame(conn, "2probe");
    h.at(10_000);
    h.frame(conn, "5");
    h.server.close(h.now, sid);
    assert!(h.log().iter().any(|line| line.starts_with("upgraded")));
}

#[test]
fn shutdown_flushes_and_closes_every_session_and_refuses_new_ones() {
    let mut h = Harness::new(config());
    let (polling, _) = h.open_polling();
    let (_, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.log();
    h.server.send(polling, &engineio_proto::Packet::message("last")).unwrap();
    h.server.shutdown(h.now);
    assert!(h.server.is_shutting_down());
    assert_eq!(h.log(), ["ws close 1000", "closed: forced close"]);
    let Handled::Respond(refused) = h.get("EIO=4&transport=polling") else { panic!("a new session opened") };
    assert_eq!(refused.status(), 503);
    // The polling client still gets what was queued, then the close packet.
    assert_eq!(respond(h.poll(polling)), "200 4last");
    assert_eq!(respond(h.poll(polling)), "200 1");
    assert_eq!(h.log(), ["closed: forced close"]);
    assert_eq!(h.server.session_count(), 0);
}

// ---- inbound backpressure ----

#[test]
fn a_session_the_application_holds_too_much_of_is_not_read_until_it_caught_up_by_half() {
    let mut h = Harness::new(ServerConfig { max_unhandled_bytes: 1000, ..config() });
    let (sid, conn) = h.open_websocket();
    h.server.handle_ws_drained(h.now, conn);
    h.log();
    h.server.hold(sid, 600);
    assert!(h.server.is_readable(sid));
    h.server.hold(sid, 400);
    assert!(!h.server.is_readable(sid));
    assert_eq!(h.server.session_of(conn), Some(sid));

    // Its pong may be there, unread: the heartbeat waits instead of closing.
    h.at(300);
    assert_eq!(h.log(), ["ws send 2"]);
    h.server.handle_ws_drained(h.now, conn);
    h.at(500);
    assert!(h.log().is_empty(), "not closed while its input is not read");

    h.server.release(sid, 400);
    assert!(!h.server.is_readable(sid), "600 held: not under half the limit yet");
    assert!(h.log().is_empty());
    h.server.release(sid, 101);
    assert!(h.server.is_readable(sid));
    assert_eq!(h.log(), [format!("readable {sid}")]);
    h.frame(conn, "3");
    h.at(799);
    assert!(h.log().is_empty());
    h.at(800);
    assert_eq!(h.log(), ["ws send 2"], "the pong counted");

    // A session that closes while not readable releases whoever waits to read for it.
    h.server.handle_ws_drained(h.now, conn);
    h.server.hold(sid, 5000);
    h.server.close(h.now, sid);
    let log = h.log();
    assert!(log.contains(&format!("readable {sid}")), "{log:?}");
    assert!(h.server.is_readable(sid), "gone: whoever reads finds out");
}

#[test]
fn a_post_body_is_handled_in_steps_which_wait_while_its_session_is_not_readable() {
    let mut h = Harness::new(ServerConfig { max_unhandled_bytes: 1000, ..config() });
    let (sid, _) = h.open_polling();
    let packets: Vec<String> = (0..150).map(|n| format!("4m{n}")).collect();
    let payload = Bytes::from(packets.join("\u{1e}"));
    let handled = h.request("POST", &format!("EIO=4&transport=polling&sid={sid}"), &[]);
    let Handled::ReadBody(ticket) = handled else { panic!() };
    let messages = |h: &mut Harness| h.log().into_iter().filter(|l| l.starts_with("message")).count();

    let posted = h.server.handle_body_step(h.now, ticket, Ok(payload.clone()));
    let Posted::More(rest) = posted else { panic!("{posted:?}") };
    assert_eq!(messages(&mut h), 64, "one step");
    h.server.hold(sid, 1000);
    assert!(!h.server.is_readable(sid), "the adapter waits before the next step");
    h.server.release(sid, 1000);
    let Posted::More(rest) = h.server.continue_body(h.now, rest) else { panic!() };
    assert_eq!(messages(&mut h), 64);
    let Posted::Answer(Some(answer)) = h.server.continue_body(h.now, rest) else { panic!() };
    assert_eq!(body(&answer), "200 ok");
    assert_eq!(messages(&mut h), 22);
    // The next POST is welcome.
    assert_eq!(body(&h.post(sid, "4last")), "200 ok");

    // A POST whose request goes away part-way closes the session, as a body cut short.
    let handled = h.request("POST", &format!("EIO=4&transport=polling&sid={sid}"), &[]);
    let Handled::ReadBody(ticket) = handled else { panic!() };
    let Posted::More(rest) = h.server.handle_body_step(h.now, ticket, Ok(payload.clone())) else { panic!() };
    h.log();
    h.server.abort_body(h.now, rest);
    assert_eq!(h.log(), ["closed: transport error"]);
}
