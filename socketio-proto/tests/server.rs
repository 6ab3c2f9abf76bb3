//! The Socket.IO server state machine over a real engine state machine, driven with
//! WebSocket frames and a fake clock; tests assert the exact frames and events.

use std::time::{Duration, Instant};

use engineio_proto::Frame;
use engineio_proto::server::{ConnId, Endpoint, Handled, Output, ServerConfig, Sid};
use socketio_proto::server::{
    AckError, DisconnectReason, DisconnectScope, Event, RecoveryConfig, Selector, Server, SocketConfig,
    SocketId,
};
use socketio_proto::{Namespace, Payload};

struct Harness {
    server: Server,
    start: Instant,
    now: Instant,
    events: Vec<Event>,
    /// Frames written per connection, as text (binary as `<n bytes>`).
    sent: Vec<(ConnId, String)>,
    /// Connections whose batches the test holds back (a slow reader).
    stalled: Vec<ConnId>,
}

impl Harness {
    fn new() -> Self {
        Harness::with(SocketConfig {
            connect_timeout: Duration::from_millis(1000),
            ..SocketConfig::default()
        })
    }

    fn with(config: SocketConfig) -> Self {
        Harness::with_engine(ServerConfig::default(), config)
    }

    fn with_engine(engine: ServerConfig, config: SocketConfig) -> Self {
        let mut engine_ids = 0u128;
        let engine = engineio_proto::server::Server::new(
            ServerConfig {
                ping_interval: Duration::from_millis(300),
                ping_timeout: Duration::from_millis(200),
                ..engine
            },
            Box::new(move || {
                engine_ids += 1;
                engine_ids
            }),
        );
        let mut socket_ids = 1000u128;
        let server = Server::new(
            engine,
            config,
            Box::new(move || {
                socket_ids += 1;
                socket_ids
            }),
        );
        let start = Instant::now();
        Harness { server, start, now: start, events: vec![], sent: vec![], stalled: vec![] }
    }

    fn at(&mut self, ms: u64) {
        self.now = self.start + Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        self.pump();
    }

    /// Drains outputs; written batches are acknowledged unless the connection is stalled.
    fn pump(&mut self) {
        while let Some(output) = self.server.poll_output() {
            match output {
                Output::WsSend { conn, frames } => {
                    for frame in frames {
                        let text = match frame {
                            Frame::Text(t) => t.to_string(),
                            Frame::Binary(b) => format!("<{} bytes>", b.len()),
                        };
                        self.sent.push((conn, text));
                    }
                    if !self.stalled.contains(&conn) {
                        self.server.engine().handle_ws_drained(self.now, conn);
                    }
                }
                Output::WsClose { conn, code } => self.sent.push((conn, format!("close {code}"))),
                Output::Respond { .. } | Output::Readable { .. } => {}
                Output::Event(event) => self.events.push(event),
            }
        }
    }

    /// A WebSocket engine session; its open packet is consumed.
    fn open(&mut self) -> ConnId {
        let headers = [("upgrade", "websocket"), ("connection", "Upgrade")];
        let mut builder = http::Request::get("/socket.io/?EIO=4&transport=websocket");
        for (n, v) in headers {
            builder = builder.header(n, v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        let Handled::Incoming(incoming) = self.server.engine().handle_request(self.now, &parts, None) else {
            panic!()
        };
        let Handled::WebSocket(ticket) = self.server.engine().accept(self.now, incoming) else { panic!() };
        let conn = self.server.engine().ws_opened(self.now, ticket);
        self.pump();
        assert!(self.take_sent(conn)[0].starts_with("0{"));
        conn
    }

    fn frame(&mut self, conn: ConnId, text: &str) {
        self.server.engine().handle_ws_frame(self.now, conn, Frame::Text(text.to_owned().into()));
        self.pump();
    }

    fn binary(&mut self, conn: ConnId, bytes: &'static [u8]) {
        self.server.engine().handle_ws_frame(self.now, conn, Frame::Binary(bytes.into()));
        self.pump();
    }

    fn take_sent(&mut self, conn: ConnId) -> Vec<String> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.sent.drain(..).partition(|(c, _)| *c == conn);
        self.sent = rest;
        mine.into_iter().map(|(_, t)| t).collect()
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Connects `conn` to `namespace` (through an accepting middleware); returns the socket.
    fn connect(&mut self, conn: ConnId, namespace: &str) -> SocketId {
        let packet = if namespace == "/" { "40".to_owned() } else { format!("40{namespace},") };
        self.frame(conn, &packet);
        let events = self.take_events();
        let [Event::Connecting(connecting)] = <[Event; 1]>::try_from(events).unwrap() else { panic!() };
        let socket = self.server.accept(connecting).unwrap();
        self.pump();
        let prefix = if namespace == "/" { String::new() } else { format!("{namespace},") };
        assert_eq!(self.take_sent(conn), [format!(r#"40{prefix}{{"sid":"{socket}"}}"#)]);
        socket
    }
}

fn socket(n: u128) -> SocketId {
    SocketId::from(Sid::from_u128(n))
}

fn ns(name: &str) -> Namespace {
    Namespace::new(name.to_owned()).unwrap()
}

/// Event `name` with one argument per element of `args`.
fn event(name: &str, args: &[i32]) -> Payload {
    let args = socketio_proto::Value::Array(args.iter().map(|&a| a.into()).collect());
    Payload::event_with_args(name, &Payload::from_value(&args)).unwrap()
}

#[test]
fn connect_to_the_main_namespace() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    assert_eq!(id, socket(1001));
    assert_eq!(id.to_string(), "AAAAAAAAAAAAAAAAAAAD6Q", "socket ids are not engine ids");
    assert_eq!(h.server.rooms(id), [id.to_string()], "each socket is in its own room");
}

#[test]
fn connect_with_auth_and_handshake_data() {
    let mut h = Harness::new();
    let conn = h.open();
    h.frame(conn, r#"40{"token":"abc"}"#);
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    assert_eq!(c.auth().unwrap().json(), r#"{"token":"abc"}"#);
    assert_eq!(c.handshake().uri.query(), Some("EIO=4&transport=websocket"));
    assert_eq!(c.namespace(), &Namespace::main());
    let _ = h.server.accept(c);
}

#[test]
fn unknown_namespaces_are_refused() {
    let mut h = Harness::new();
    let conn = h.open();
    h.frame(conn, "40/nope,");
    assert!(h.take_events().is_empty());
    assert_eq!(h.take_sent(conn), [r#"44/nope,{"message":"Invalid namespace"}"#]);
    // The session stays usable.
    h.connect(conn, "/");
}

#[test]
fn declared_and_dynamic_namespaces() {
    let mut h = Harness::new();
    h.server.declare(ns("/admin"));
    h.server.allow_dynamic(Box::new(|n| n.as_str().starts_with("/room-")));
    let conn = h.open();
    h.connect(conn, "/admin");
    h.connect(conn, "/room-42");
    h.frame(conn, "40/other,");
    assert_eq!(h.take_sent(conn), [r#"44/other,{"message":"Invalid namespace"}"#]);
}

#[test]
fn middleware_rejection_with_data() {
    let mut h = Harness::new();
    let conn = h.open();
    h.frame(conn, "40");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    let data = Payload::from_json(r#"{"content":"Please retry later"}"#).unwrap();
    h.server.reject(c, "not \"authorized\"", Some(&data));
    h.pump();
    assert_eq!(
        h.take_sent(conn),
        [r#"44{"message":"not \"authorized\"","data":{"content":"Please retry later"}}"#]
    );
    // The client may try again.
    h.connect(conn, "/");
}

#[test]
fn events_and_acks_from_the_client() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.frame(conn, r#"42["chat message","hello"]"#);
    h.frame(conn, r#"4212["with ack",1]"#);
    let events = h.take_events();
    let [
        Event::Message { socket: a, payload: p1, ack: None, .. },
        Event::Message { socket: b, payload: p2, ack: Some(12), .. },
    ] = <[Event; 2]>::try_from(events).unwrap()
    else {
        panic!()
    };
    assert_eq!((a, b), (id, id));
    assert_eq!(p1.json(), r#"["chat message","hello"]"#);
    assert_eq!(p2.event_name().as_deref(), Some("with ack"));
    h.server.ack(id, 12, Payload::from_json(r#"["ok",2]"#).unwrap()).unwrap();
    h.pump();
    assert_eq!(h.take_sent(conn), [r#"4312["ok",2]"#]);
}

#[test]
fn server_emits_with_ack() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    let first = h.server.emit_with_ack(h.now, id, event("question", &[1]), None).unwrap();
    let second = h.server.emit_with_ack(h.now, id, event("question", &[2]), None).unwrap();
    h.pump();
    assert_eq!((first, second), (0, 1), "ack ids never collide");
    assert_eq!(h.take_sent(conn), [r#"420["question",1]"#, r#"421["question",2]"#]);
    h.frame(conn, r#"431["answer 2"]"#);
    h.frame(conn, r#"431["duplicate"]"#);
    h.frame(conn, r#"4399["unknown"]"#);
    h.frame(conn, r#"430["answer 1"]"#);
    let events = h.take_events();
    assert_eq!(events.len(), 2, "duplicate and unknown acks are ignored: {events:?}");
    assert!(matches!(&events[0], Event::Ack { id: 1, payload, .. } if payload.json() == r#"["answer 2"]"#));
    assert!(matches!(&events[1], Event::Ack { id: 0, .. }));
}

#[test]
fn ack_timeouts() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.frame(conn, "3");
    let ack =
        h.server.emit_with_ack(h.now, id, event("slow", &[]), Some(Duration::from_millis(100))).unwrap();
    h.at(99);
    assert!(h.take_events().is_empty());
    h.at(100);
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::AckFailed { id, reason: AckError::Timeout, .. }] if *id == ack)
    );
    h.frame(conn, &format!("43{ack}[]"));
    assert!(h.take_events().is_empty(), "a late ack is ignored");
}

#[test]
fn pending_acks_fail_on_disconnect() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.server.join(id, "room");
    let ack = h.server.emit_with_ack(h.now, id, event("q", &[]), Some(Duration::from_secs(5))).unwrap();
    h.server.engine().handle_ws_closed(h.now, conn);
    h.pump();
    let events = h.take_events();
    let [
        Event::AckFailed { id: failed, reason: AckError::Disconnected, .. },
        Event::Disconnected { reason, rooms, .. },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*failed, ack);
    assert_eq!(reason.to_string(), "transport close");
    let mut rooms: Vec<String> = rooms.iter().map(ToString::to_string).collect();
    rooms.sort();
    assert_eq!(rooms, ["AAAAAAAAAAAAAAAAAAAD6Q", "room"], "rooms are readable on disconnect");
    h.at(5000);
    assert!(h.take_events().is_empty());
}

#[test]
fn disconnect_reasons() {
    let mut h = Harness::new();
    h.server.declare(ns("/admin"));
    let conn = h.open();
    let main = h.connect(conn, "/");
    let admin = h.connect(conn, "/admin");
    assert_ne!(main, admin);
    h.frame(conn, "41/admin,");
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Disconnected { socket, reason: DisconnectReason::ClientNamespaceDisconnect, .. }] if *socket == admin)
    );
    h.server.disconnect(h.now, main, DisconnectScope::Namespace);
    h.pump();
    assert_eq!(h.take_sent(conn), ["41"]);
    let events = h.take_events();
    assert!(matches!(
        &events[..],
        [Event::Disconnected { reason: DisconnectReason::ServerNamespaceDisconnect, .. }]
    ));
    assert_eq!(events_reason(&events), "server namespace disconnect");
    // The engine session is still open: the client may connect again.
    h.connect(conn, "/");
}

fn events_reason(events: &[Event]) -> String {
    match events {
        [Event::Disconnected { reason, .. }] => reason.to_string(),
        _ => panic!("{events:?}"),
    }
}

#[test]
fn disconnect_with_close_ends_the_session() {
    let mut h = Harness::new();
    h.server.declare(ns("/admin"));
    let conn = h.open();
    let main = h.connect(conn, "/");
    h.connect(conn, "/admin");
    h.server.disconnect(h.now, main, DisconnectScope::Connection);
    h.pump();
    let sent = h.take_sent(conn);
    assert!(sent.contains(&"41".to_owned()) && sent.contains(&"41/admin,".to_owned()), "{sent:?}");
    assert_eq!(sent.last().unwrap(), "close 1000");
    assert_eq!(h.take_events().len(), 2);
    assert_eq!(h.server.engine().session_count(), 0);
}

#[test]
fn ping_timeout_reason() {
    let mut h = Harness::new();
    let conn = h.open();
    h.connect(conn, "/");
    h.at(300);
    h.at(500);
    assert_eq!(events_reason(&h.take_events()), "ping timeout");
}

#[test]
fn connect_timeout_closes_idle_sessions() {
    let mut h = Harness::new();
    let conn = h.open();
    // Keep the heartbeat alive so only the connect timeout can close it.
    for t in [300, 600, 900] {
        h.at(t);
        h.frame(conn, "3");
    }
    h.take_sent(conn);
    h.at(1000);
    assert_eq!(h.take_sent(conn), ["close 1000"]);
    assert_eq!(h.server.engine().session_count(), 0);
}

#[test]
fn a_connected_session_outlives_the_connect_timeout() {
    let mut h = Harness::new();
    let conn = h.open();
    h.connect(conn, "/");
    for t in [300, 600, 900, 1200] {
        h.at(t);
        h.frame(conn, "3");
    }
    assert_eq!(h.server.engine().session_count(), 1);
}

#[test]
fn protocol_violations_close_the_session() {
    for (setup, bad) in [
        (false, r#"42["before connect"]"#),
        (true, "40"),
        (true, r#"44{"message":"from a client"}"#),
        (true, "41/never-connected,"),
        (true, "4x"),
        (true, r#"42["connect"]"#),
        (true, "451-[\"a\",{\"_placeholder\":true,\"num\":5}]"),
    ] {
        let mut h = Harness::new();
        let conn = h.open();
        if setup {
            h.connect(conn, "/");
        }
        h.frame(conn, bad);
        let sent = h.take_sent(conn);
        assert_eq!(sent.last().map(String::as_str), Some("close 1000"), "{bad:?}: {sent:?}");
        assert_eq!(h.server.engine().session_count(), 0, "{bad:?}");
        if setup {
            assert_eq!(events_reason(&h.take_events()), "parse error", "{bad:?}");
        }
    }
}

#[test]
fn binary_frames_without_a_header_close_the_session() {
    let mut h = Harness::new();
    let conn = h.open();
    h.connect(conn, "/");
    h.binary(conn, b"\x01\x02");
    assert_eq!(h.take_sent(conn).last().map(String::as_str), Some("close 1000"));
}

#[test]
fn binary_events_are_reassembled() {
    let mut h = Harness::new();
    let conn = h.open();
    h.connect(conn, "/");
    h.frame(conn, r#"451-["upload",{"_placeholder":true,"num":0}]"#);
    assert!(h.take_events().is_empty());
    h.binary(conn, b"\x01\x02\x03");
    let [Event::Message { payload, .. }] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    assert_eq!(payload.attachments(), [bytes::Bytes::from_static(b"\x01\x02\x03")]);
}

#[test]
fn broadcast_to_rooms() {
    let mut h = Harness::new();
    let conns: Vec<ConnId> = (0..3).map(|_| h.open()).collect();
    let ids: Vec<SocketId> = conns.iter().map(|&c| h.connect(c, "/")).collect();
    h.server.join(ids[0], "red");
    h.server.join(ids[1], "red");
    h.server.join(ids[1], "blue");
    let main = Namespace::main();

    assert_eq!(h.server.broadcast(&main, &Selector::to("red"), event("hi", &[1])).len(), 2);
    h.pump();
    assert_eq!(h.take_sent(conns[0]), [r#"42["hi",1]"#]);
    assert_eq!(h.take_sent(conns[1]), [r#"42["hi",1]"#]);
    assert!(h.take_sent(conns[2]).is_empty());

    let except_blue = Selector { except: vec!["blue".into()], ..Selector::all() };
    assert_eq!(h.server.broadcast(&main, &except_blue, event("x", &[])).len(), 2);
    let from_first = Selector { except_socket: Some(ids[0]), ..Selector::all() };
    assert_eq!(h.server.broadcast(&main, &from_first, event("y", &[])).len(), 2);
    h.pump();
    assert_eq!(h.take_sent(conns[0]), [r#"42["x"]"#]);
    assert_eq!(h.take_sent(conns[1]), [r#"42["y"]"#]);
    assert_eq!(h.take_sent(conns[2]), [r#"42["x"]"#, r#"42["y"]"#]);

    let mut red = h.server.select(&main, &Selector::to("red"));
    red.sort();
    assert_eq!(red, [ids[0], ids[1]]);
    h.server.sockets_join(&main, &Selector::to("blue"), "green");
    assert_eq!(h.server.select(&main, &Selector::to("green")), [ids[1]]);
    h.server.sockets_leave(&main, &Selector::all(), "red");
    assert!(h.server.select(&main, &Selector::to("red")).is_empty());
    h.server.disconnect_sockets(h.now, &main, &Selector::to("green"), DisconnectScope::Namespace);
    h.pump();
    assert_eq!(h.take_sent(conns[1]), ["41"]);
    assert_eq!(h.server.socket_count(), 2);
}

#[test]
fn a_broadcast_is_encoded_once_and_shared() {
    let mut h = Harness::new();
    let a = h.open();
    let b = h.open();
    h.connect(a, "/");
    h.connect(b, "/");
    h.server.broadcast(&Namespace::main(), &Selector::all(), event("shared", &[7]));
    let mut texts = vec![];
    while let Some(output) = h.server.poll_output() {
        if let Output::WsSend { frames, .. } = output {
            for frame in frames {
                if let Frame::Text(text) = frame {
                    texts.push(text);
                }
            }
        }
    }
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0].as_bytes().as_ptr(), texts[1].as_bytes().as_ptr(), "one buffer for every recipient");
}

#[test]
fn volatile_broadcasts_skip_busy_transports() {
    let mut h = Harness::new();
    let slow = h.open();
    let fast = h.open();
    h.connect(slow, "/");
    h.connect(fast, "/");
    h.stalled.push(slow);
    h.server.broadcast(&Namespace::main(), &Selector::all(), event("first", &[]));
    h.pump();
    // The slow client has not written its last batch: the volatile packet skips it.
    let delivered = h.server.broadcast(
        &Namespace::main(),
        &Selector { volatile: true, ..Selector::all() },
        event("volatile", &[]),
    );
    assert_eq!(delivered.len(), 1);
    h.pump();
    assert_eq!(h.take_sent(slow), [r#"42["first"]"#]);
    assert_eq!(h.take_sent(fast), [r#"42["first"]"#, r#"42["volatile"]"#]);
}

#[test]
fn emitting_to_a_gone_socket_is_an_error() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.frame(conn, "41");
    assert_eq!(h.server.emit(id, event("late", &[])), Err(socketio_proto::server::EmitError::Disconnected));
}

#[test]
fn broadcast_with_ack_sends_one_frame_with_one_id_and_collects_every_answer() {
    let mut h = Harness::new();
    let conns: Vec<ConnId> = (0..3).map(|_| h.open()).collect();
    let ids: Vec<SocketId> = conns.iter().map(|&c| h.connect(c, "/")).collect();
    // A single emit's ack id is taken first: broadcast ids never collide with it.
    let single = h.server.emit_with_ack(h.now, ids[0], event("one", &[]), None).unwrap();
    h.pump();
    h.take_sent(conns[0]);
    let sent = h.server.broadcast_with_ack(
        h.now,
        &Namespace::main(),
        &Selector::all(),
        event("q", &[7]),
        Some(Duration::from_millis(500)),
    );
    h.pump();
    assert_eq!(sent.recipients, 3);
    assert_ne!(sent.id, single);
    for &conn in &conns {
        assert_eq!(h.take_sent(conn), [format!(r#"42{}["q",7]"#, sent.id)]);
    }
    h.frame(conns[1], &format!(r#"43{}["b"]"#, sent.id));
    h.frame(conns[0], &format!(r#"43{}["a"]"#, sent.id));
    h.frame(conns[0], &format!(r#"43{}["again"]"#, sent.id));
    let events = h.take_events();
    assert_eq!(events.len(), 2, "one answer per recipient: {events:?}");
    assert!(
        matches!(&events[0], Event::Ack { socket, id, payload } if *socket == ids[1] && *id == sent.id && payload.json() == r#"["b"]"#)
    );
    assert!(matches!(&events[1], Event::Ack { socket, .. } if *socket == ids[0]));
    h.at(499);
    assert!(h.take_events().is_empty());
    h.at(500);
    let events = h.take_events();
    assert!(
        matches!(events.as_slice(), [Event::AckFailed { socket, id, reason: AckError::Timeout }] if *socket == ids[2] && *id == sent.id),
        "{events:?}"
    );
    h.frame(conns[2], &format!(r#"43{}["late"]"#, sent.id));
    assert!(h.take_events().is_empty(), "a late answer is ignored");
}

#[test]
fn broadcast_with_ack_fails_a_recipient_that_disconnects_and_counts_nobody_when_empty() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    let nobody =
        h.server.broadcast_with_ack(h.now, &Namespace::main(), &Selector::to("empty"), event("q", &[]), None);
    assert_eq!(nobody.recipients, 0);
    let sent =
        h.server.broadcast_with_ack(h.now, &Namespace::main(), &Selector::all(), event("q", &[]), None);
    h.pump();
    assert_eq!(sent.recipients, 1);
    h.frame(conn, "41");
    let events = h.take_events();
    assert!(
        matches!(&events[0], Event::AckFailed { socket, reason: AckError::Disconnected, .. } if *socket == id),
        "{events:?}"
    );
}

#[test]
fn settled_acks_leave_no_entry_and_no_timer_behind() {
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.pump();
    let (acks, timers) = (h.server.awaited_acks(), h.server.timer_entries());
    // Answered: the entry and its timer go at once, not when the timer comes due.
    for n in 0..100 {
        let ack = h.server.emit_with_ack(h.now, id, event("q", &[n]), Some(Duration::from_secs(60))).unwrap();
        h.pump();
        h.frame(conn, &format!("43{ack}[]"));
    }
    h.take_events();
    assert_eq!((h.server.awaited_acks(), h.server.timer_entries()), (acks, timers));
    // Forgotten (the waiter went away): the same, and a later answer is ignored.
    let ack = h.server.emit_with_ack(h.now, id, event("q", &[]), Some(Duration::from_secs(60))).unwrap();
    h.pump();
    assert_eq!((h.server.awaited_acks(), h.server.timer_entries()), (acks + 1, timers + 1));
    h.server.forget_ack(id, ack);
    assert_eq!((h.server.awaited_acks(), h.server.timer_entries()), (acks, timers));
    h.frame(conn, &format!("43{ack}[]"));
    assert!(h.take_events().is_empty());
    // A broadcast whose every recipient answered, and one forgotten.
    let other = h.open();
    let second = h.connect(other, "/");
    h.pump();
    // (The new client's connect deadline is a timer of its own.)
    let timers = h.server.timer_entries();
    let sent = h.server.broadcast_with_ack(
        h.now,
        &Namespace::main(),
        &Selector::all(),
        event("b", &[]),
        Some(Duration::from_secs(60)),
    );
    h.pump();
    h.frame(conn, &format!("43{}[]", sent.id));
    h.frame(other, &format!("43{}[]", sent.id));
    h.take_events();
    assert_eq!((h.server.awaited_acks(), h.server.timer_entries()), (acks, timers));
    let sent = h.server.broadcast_with_ack(
        h.now,
        &Namespace::main(),
        &Selector::all(),
        event("b", &[]),
        Some(Duration::from_secs(60)),
    );
    h.pump();
    h.server.forget_broadcast_ack(sent.id);
    assert_eq!((h.server.awaited_acks(), h.server.timer_entries()), (acks, timers));
    let _ = second;
}

#[test]
fn shutdown_disconnects_every_socket_without_a_disconnect_packet() {
    let mut h = Harness::new();
    h.server.declare(ns("/admin"));
    let conn = h.open();
    let main = h.connect(conn, "/");
    let admin = h.connect(conn, "/admin");
    h.server.emit(main, event("queued", &[])).unwrap();
    h.server.shutdown(h.now);
    h.pump();
    // What was queued goes out, then the engine closes: no "41", which would stop the
    // client from reconnecting.
    assert_eq!(h.take_sent(conn), [r#"42["queued"]"#, "close 1000"]);
    let mut gone: Vec<(SocketId, String)> = h
        .take_events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Disconnected { socket, reason, .. } => Some((socket, reason.to_string())),
            _ => None,
        })
        .collect();
    gone.sort();
    let mut expected =
        vec![(main, "server shutting down".to_owned()), (admin, "server shutting down".to_owned())];
    expected.sort();
    assert_eq!(gone, expected);
    assert_eq!(h.server.engine().session_count(), 0);
}

#[test]
fn watched_rooms_report_their_first_join_and_last_leave() {
    let room_events = |h: &mut Harness| -> Vec<(String, bool)> {
        h.take_events()
            .into_iter()
            .filter_map(|event| match event {
                Event::Room { room, exists, .. } => Some((room.to_string(), exists)),
                _ => None,
            })
            .collect()
    };
    let mut h = Harness::new();
    h.server.watch_rooms();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let conn = h.open();
        ids.push(h.connect(conn, "/"));
        assert_eq!(room_events(&mut h), [(ids[ids.len() - 1].to_string(), true)], "its own room");
    }
    h.server.join(ids[0], "red");
    h.server.join(ids[1], "red");
    h.server.join(ids[1], "red");
    h.pump();
    assert_eq!(room_events(&mut h), [("red".to_owned(), true)], "created once");
    h.server.leave(ids[0], "red");
    h.server.leave(ids[0], "blue");
    h.pump();
    assert!(room_events(&mut h).is_empty(), "red still has a socket; blue never existed");
    h.server.sockets_join(&Namespace::main(), &Selector::all(), "green");
    h.server.sockets_leave(&Namespace::main(), &Selector::all(), "green");
    h.pump();
    assert_eq!(room_events(&mut h), [("green".to_owned(), true), ("green".to_owned(), false)]);
    h.server.disconnect(h.now, ids[1], DisconnectScope::Namespace);
    h.pump();
    let mut gone = room_events(&mut h);
    gone.sort();
    assert_eq!(gone, [(ids[1].to_string(), false), ("red".to_owned(), false)], "its last socket left");

    // Unwatched (the default), nothing is reported.
    let mut h = Harness::new();
    let conn = h.open();
    let id = h.connect(conn, "/");
    h.server.join(id, "red");
    h.pump();
    assert!(room_events(&mut h).is_empty());
}

// ---- connection state recovery ----

fn recovering(max_packets: usize) -> Harness {
    let recovery = RecoveryConfig {
        max_disconnection_duration: Duration::from_millis(2000),
        max_packets,
        ..RecoveryConfig::default()
    };
    Harness::with(SocketConfig { recovery: Some(recovery), ..SocketConfig::default() })
}

/// Sends CONNECT with `auth` on `conn` and accepts; returns the socket, whether it was
/// recovered (and its data), and what `conn` got.
fn connect_with(h: &mut Harness, conn: ConnId, auth: &str) -> (SocketId, Option<u32>, bool, Vec<String>) {
    h.frame(conn, &format!("40{auth}"));
    let connecting = h.take_events().into_iter().find_map(|event| match event {
        Event::Connecting(connecting) => Some(connecting),
        _ => None,
    });
    let connecting = connecting.expect("a CONNECT");
    let recovering = connecting.is_recovering();
    let (id, recovered) = h.server.accept_recovering(connecting).unwrap();
    h.pump();
    h.take_events();
    let data = recovered.and_then(|r| r.data).map(|data| *data.downcast::<u32>().unwrap());
    (id, data, recovering, h.take_sent(conn))
}

/// The last argument of an event frame: its offset.
fn offset_of(frame: &str) -> String {
    let args: Vec<serde_json::Value> = serde_json::from_str(frame.strip_prefix("42").unwrap()).unwrap();
    args.last().unwrap().as_str().unwrap().to_owned()
}

fn answer(id: SocketId, frames: &[String]) -> String {
    let last = frames.last().unwrap();
    let answer: serde_json::Value = serde_json::from_str(last.strip_prefix("40").unwrap()).unwrap();
    assert_eq!(answer["sid"], id.to_string());
    answer["pid"].as_str().unwrap().to_owned()
}

#[test]
fn recovery_restores_the_socket_and_replays_what_it_missed_before_the_connect_answer() {
    let mut h = recovering(100);
    let main = Namespace::main();
    let a = h.open();
    let (id, _, recovering, sent) = connect_with(&mut h, a, "");
    assert!(!recovering);
    let pid = answer(id, &sent);
    assert_eq!(pid.len(), 22, "{sent:?}");
    h.server.join(id, "red");
    h.server.broadcast(&main, &Selector::to("red"), event("tick", &[0]));
    h.pump();
    let got = h.take_sent(a);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with(r#"42["tick",0,""#), "{got:?}");
    let offset = offset_of(&got[0]);

    // The connection drops; what follows is logged for it.
    h.server.engine().handle_ws_closed(h.now, a);
    h.pump();
    let events = h.take_events();
    assert!(matches!(
        events.as_slice(),
        [Event::Disconnected { reason: DisconnectReason::Transport(_), .. }]
    ));
    h.server.keep_session_data(id, Box::new(42u32));
    h.at(100);
    h.server.broadcast(&main, &Selector::to("red"), event("tick", &[1]));
    h.server.broadcast(&main, &Selector::to("blue"), event("not-mine", &[]));
    h.server.broadcast(
        &main,
        &Selector { except: vec!["red".into()], ..Selector::all() },
        event("excluded", &[]),
    );
    h.server.broadcast(&main, &Selector { volatile: true, ..Selector::all() }, event("volatile", &[]));
    h.server.emit(id, event("direct", &[2])).unwrap();
    h.server.broadcast(&main, &Selector::all(), event("tick", &[3]));
    assert_eq!(h.server.recovery_sizes(), (1, 6), "one session; the volatile event is not logged");

    let b = h.open();
    let (again, data, recovering, sent) =
        connect_with(&mut h, b, &format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#));
    assert!(recovering);
    assert_eq!((again, data), (id, Some(42)), "same id, data back");
    let shown: Vec<String> =
        sent.iter().map(|f| f.rsplit_once(',').map_or(f.clone(), |(head, _)| head.to_owned())).collect();
    assert_eq!(
        shown,
        [r#"42["tick",1"#, r#"42["direct",2"#, r#"42["tick",3"#, &format!(r#"40{{"sid":"{id}""#)]
    );
    assert_eq!(answer(id, &sent), pid, "the same pid");
    let mut rooms = h.server.rooms(id);
    rooms.sort();
    assert_eq!(rooms, [id.to_string(), "red".to_owned()]);
    assert_eq!(h.server.recovery_sizes().0, 0, "a session is restored once");

    // Offsets keep growing across the recovery.
    h.server.broadcast(&main, &Selector::to("red"), event("tick", &[4]));
    h.pump();
    let next = h.take_sent(b);
    assert_ne!(offset_of(&next[0]), offset_of(&sent[2]));
}

#[test]
fn recovery_is_refused_for_unknown_pids_bad_offsets_expired_sessions_and_evicted_packets() {
    let mut h = recovering(3);
    let main = Namespace::main();
    let drop_one = |h: &mut Harness| -> (SocketId, String, ConnId) {
        let conn = h.open();
        let (id, _, _, sent) = connect_with(h, conn, "");
        let pid = answer(id, &sent);
        h.server.engine().handle_ws_closed(h.now, conn);
        h.pump();
        h.take_events();
        (id, pid, conn)
    };
    // Unknown pid, and an offset that is not ours: a new socket.
    let (id, pid, _) = drop_one(&mut h);
    for auth in
        [r#"{"pid":"nope","offset":"x"}"#.to_owned(), format!(r#"{{"pid":"{pid}","offset":"hello"}}"#)]
    {
        let conn = h.open();
        let (new, _, recovering, _) = connect_with(&mut h, conn, &auth);
        assert!(!recovering && new != id, "{auth}");
    }
    // Without an offset (it got nothing yet), from when it connected.
    h.server.broadcast(&main, &Selector::all(), event("missed", &[]));
    let conn = h.open();
    let (again, _, recovering, sent) = connect_with(&mut h, conn, &format!(r#"{{"pid":"{pid}"}}"#));
    assert!(recovering && again == id);
    assert!(sent[0].starts_with(r#"42["missed","#), "{sent:?}");

    // Expired.
    let (id, pid, _) = drop_one(&mut h);
    h.at(10);
    h.at(2010);
    assert_eq!(h.server.recovery_sizes(), (0, 0), "sessions and packets expire");
    let conn = h.open();
    let (new, _, recovering, _) = connect_with(&mut h, conn, &format!(r#"{{"pid":"{pid}"}}"#));
    assert!(!recovering && new != id);

    // Evicted: four packets into a log of three; the session needed the first.
    let (id, pid, _) = drop_one(&mut h);
    for n in 0..4 {
        h.server.broadcast(&main, &Selector::all(), event("n", &[n]));
    }
    assert_eq!(h.server.recovery_sizes().1, 3);
    let conn = h.open();
    let (new, _, recovering, _) = connect_with(&mut h, conn, &format!(r#"{{"pid":"{pid}"}}"#));
    assert!(!recovering && new != id, "recovery refused rather than restored with a gap");
}

#[test]
fn recovery_keeps_no_session_after_a_deliberate_disconnect_and_skips_acked_events() {
    let mut h = recovering(10);
    let a = h.open();
    let (id, _, _, _) = connect_with(&mut h, a, "");
    let ack = h.server.emit_with_ack(h.now, id, event("ask", &[1]), None).unwrap();
    h.pump();
    assert_eq!(h.take_sent(a), [format!(r#"42{ack}["ask",1]"#)], "no offset on an event with an ack id");
    h.frame(a, "41");
    h.take_events();
    assert_eq!(h.server.recovery_sizes(), (0, 0), "the client left on purpose");
    let b = h.open();
    let (id, _, _, _) = connect_with(&mut h, b, "");
    h.server.disconnect(h.now, id, DisconnectScope::Connection);
    h.pump();
    assert_eq!(h.server.recovery_sizes().0, 0, "the server disconnected it on purpose");
}

#[test]
fn recovery_takes_over_a_socket_whose_old_connection_the_server_has_not_seen_drop() {
    let mut h = recovering(10);
    let main = Namespace::main();
    let a = h.open();
    let (id, _, _, sent) = connect_with(&mut h, a, "");
    let pid = answer(id, &sent);
    h.server.broadcast(&main, &Selector::all(), event("seen", &[]));
    h.pump();
    let offset = offset_of(&h.take_sent(a)[0]);
    // Sent into a connection that is dead, though the server does not know it yet.
    h.server.broadcast(&main, &Selector::all(), event("lost", &[]));
    h.pump();
    assert_eq!(h.take_sent(a).len(), 1);

    let b = h.open();
    let (again, _, recovering, sent) =
        connect_with(&mut h, b, &format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#));
    assert!(recovering && again == id, "the pid proves the client owns the socket");
    assert!(sent[0].starts_with(r#"42["lost","#), "{sent:?}");
    assert!(h.take_sent(a).iter().any(|frame| frame.starts_with("close")), "the stale connection is closed");
    assert_eq!(h.server.socket_count(), 1);
}

#[test]
fn recovery_gives_every_event_an_offset_a_volatile_one_the_last_logged() {
    let mut h = recovering(10);
    let main = Namespace::main();
    let a = h.open();
    let (id, _, _, sent) = connect_with(&mut h, a, "");
    let pid = answer(id, &sent);
    let volatile = Selector { volatile: true, ..Selector::all() };
    h.server.broadcast(&main, &volatile, event("v", &[]));
    h.pump();
    let offset = offset_of(&h.take_sent(a)[0]);
    assert_eq!(h.server.recovery_sizes().1, 0, "not logged");
    h.server.engine().handle_ws_closed(h.now, a);
    h.pump();
    h.server.broadcast(&main, &Selector::all(), event("kept", &[]));
    let b = h.open();
    let (again, _, recovering, sent) =
        connect_with(&mut h, b, &format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#));
    assert!(recovering && again == id, "a volatile event's offset is a valid one");
    assert!(sent[0].starts_with(r#"42["kept","#), "{sent:?}");
}

#[test]
fn socket_ids_of_both_forms_parse_and_print_back() {
    // Ours: 22 characters. A Node server's (`base64id`, 15 bytes): 20.
    for text in
        ["AAAAAAAAAAAAAAAAAAAD6Q", "f_0-zZ9aAbCdEfGhIjKlMw", "ub5C5QR1KupMVhAAAAAA", "G6YtPbHO3cPalI5x-_AE"]
    {
        let id = SocketId::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(id.to_string(), text);
    }
    for text in [
        "",
        "short",
        "ub5C5QR1KupMVhAAAAA",
        "ub5C5QR1KupMVhAAAAA=",
        "AAAAAAAAAAAAAAAAAAAD6Q=",
        "////////////////////",
    ] {
        assert!(SocketId::parse(text).is_none(), "{text}");
    }
    assert_ne!(SocketId::parse("AAAAAAAAAAAAAAAAAAAAAA"), SocketId::parse("AAAAAAAAAAAAAAAAAAAA"));
}

#[test]
fn an_external_recovery_store_stamps_given_offsets_and_restores_what_it_read_back() {
    let recovery = RecoveryConfig { external: true, ..RecoveryConfig::default() };
    let mut h = Harness::with(SocketConfig { recovery: Some(recovery), ..SocketConfig::default() });
    let main = Namespace::main();
    let a = h.open();
    let (id, _, recovering, sent) = connect_with(&mut h, a, "");
    assert!(!recovering);
    let pid = answer(id, &sent);
    h.server.broadcast_at(&main, &Selector::all(), event("tick", &[0]), "17-0");
    h.pump();
    h.server.broadcast(&main, &Selector { volatile: true, ..Selector::all() }, event("v", &[]));
    h.pump();
    assert_eq!(
        h.take_sent(a),
        [r#"42["tick",0,"17-0"]"#, r#"42["v","17-0"]"#],
        "a volatile event carries the last offset"
    );
    assert_eq!(h.server.recovery_sizes(), (0, 0), "nothing kept in memory");

    h.server.engine().handle_ws_closed(h.now, a);
    h.pump();
    let events = h.take_events();
    let [Event::Disconnected { pid: Some(kept), .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(kept.to_string(), pid, "the session to keep, under its pid");

    // The client comes back to another server: the application reads the store, and hands
    // the socket over (here one a Node server made).
    let b = h.open();
    h.frame(b, &format!(r#"40{{"pid":"{pid}","offset":"17-0"}}"#));
    let connecting = h.take_events().into_iter().find_map(|e| match e {
        Event::Connecting(c) => Some(c),
        _ => None,
    });
    let connecting = connecting.unwrap();
    assert!(!connecting.is_recovering(), "the store decides");
    assert_eq!(connecting.recovery_request(), Some((pid.as_str(), Some("17-0"))));
    let node_id = SocketId::parse("ub5C5QR1KupMVhAAAAAA").unwrap();
    // The store was read past what this server delivered so far (17-0): nothing lost.
    assert!(!h.server.lost_after(&main, "17-2"));
    let restored = socketio_proto::server::ExternalSession {
        socket: node_id,
        pid: pid.clone(),
        rooms: vec![node_id.to_string().into(), "r".into()],
        missed: vec![
            Payload::from_json(r#"["tick",1,"17-1"]"#).unwrap(),
            Payload::from_json(r#"["tick",2,"17-2"]"#).unwrap(),
        ],
        through: "17-2".into(),
    };
    assert_eq!(h.server.accept_restored(connecting, restored), Some(node_id));
    h.pump();
    assert_eq!(
        h.take_sent(b),
        [
            r#"42["tick",1,"17-1"]"#.to_owned(),
            r#"42["tick",2,"17-2"]"#.to_owned(),
            format!(r#"40{{"sid":"ub5C5QR1KupMVhAAAAAA","pid":"{pid}"}}"#)
        ]
    );
    // This server delivers the entries it read meanwhile: the restored socket had those.
    let to_r = Selector::to("r");
    assert!(h.server.recipients(&main, &to_r, Some("17-2")).is_empty(), "what on_any_outgoing hooks see");
    assert_eq!(h.server.recipients(&main, &to_r, Some("17-3")), [node_id]);
    assert_eq!(h.server.recipients(&main, &to_r, None), [node_id]);
    let recipients: Vec<usize> = [(1, "17-1"), (2, "17-2"), (3, "17-3")]
        .into_iter()
        .map(|(i, offset)| {
            h.server.broadcast_at(&main, &Selector::to("r"), event("tick", &[i]), offset).len()
        })
        .collect();
    assert_eq!(recipients, [0, 0, 1], "the sockets each went to");
    h.pump();
    assert_eq!(h.take_sent(b), [r#"42["tick",3,"17-3"]"#], "back in its rooms, nothing twice");

    // A deliberate disconnect leaves nothing to keep.
    h.frame(b, "41");
    let events = h.take_events();
    assert!(matches!(events.as_slice(), [Event::Disconnected { pid: None, .. }]), "{events:?}");
}

#[test]
fn a_socket_restored_from_a_store_read_before_the_server_s_last_events_gets_them_too() {
    let recovery = RecoveryConfig { external: true, ..RecoveryConfig::default() };
    let mut h = Harness::with(SocketConfig { recovery: Some(recovery), ..SocketConfig::default() });
    let main = Namespace::main();
    let b = h.open();
    h.frame(b, r#"40{"pid":"p","offset":"17-0"}"#);
    let connecting = h.take_events().into_iter().find_map(|e| match e {
        Event::Connecting(c) => Some(c),
        _ => None,
    });
    // Meanwhile this server delivers three more logged events, two the socket's rooms select.
    h.server.broadcast_at(&main, &Selector::to("r"), event("tick", &[2]), "17-2");
    h.server.broadcast_at(&main, &Selector::to("x"), event("other", &[]), "17-3");
    h.server.broadcast_at(&main, &Selector::all(), event("all", &[]), "17-4");
    assert!(!h.server.lost_after(&main, "17-1"), "still kept");
    let node_id = SocketId::parse("ub5C5QR1KupMVhAAAAAA").unwrap();
    let restored = socketio_proto::server::ExternalSession {
        socket: node_id,
        pid: "p".into(),
        rooms: vec![node_id.to_string().into(), "r".into()],
        missed: vec![Payload::from_json(r#"["tick",1,"17-1"]"#).unwrap()],
        through: "17-1".into(),
    };
    assert_eq!(h.server.accept_restored(connecting.unwrap(), restored), Some(node_id));
    h.pump();
    assert_eq!(
        h.take_sent(b),
        [
            r#"42["tick",1,"17-1"]"#,
            r#"42["tick",2,"17-2"]"#,
            r#"42["all","17-4"]"#,
            r#"40{"sid":"ub5C5QR1KupMVhAAAAAA","pid":"p"}"#
        ],
        "what the store had, then what this server delivered since, then the answer"
    );

    // It keeps the latest few hundred: a store read before those is read on.
    for i in 5..400 {
        h.server.broadcast_at(&main, &Selector::to("y"), event("t", &[]), &format!("17-{i}"));
    }
    assert!(h.server.lost_after(&main, "17-4"));
    assert!(!h.server.lost_after(&main, "17-399"));
}

/// Where each logged event of the property below goes.
fn target(choice: u8) -> Selector {
    match choice % 3 {
        0 => Selector::all(),
        1 => Selector::to("r"),
        _ => Selector::to("x"),
    }
}

proptest::proptest! {
    /// A socket restored from a store read up to entry `read` while this server had
    /// delivered up to entry `delivered` (either may be ahead) gets every event its rooms
    /// select exactly once, in the stream's order: what the store had, what the server
    /// delivered meanwhile, then what comes.
    #[test]
    fn a_restored_socket_gets_every_event_once_whoever_is_ahead(
        choices in proptest::collection::vec(0u8..3, 1..40),
        read in 0usize..40,
        delivered in 0usize..40,
    ) {
        let n = choices.len();
        let (read, delivered) = (read.min(n), delivered.min(n));
        let recovery = RecoveryConfig { external: true, ..RecoveryConfig::default() };
        let mut h = Harness::with(SocketConfig { recovery: Some(recovery), ..SocketConfig::default() });
        let main = Namespace::main();
        let socket = SocketId::parse("ub5C5QR1KupMVhAAAAAA").unwrap();
        let rooms: Vec<socketio_proto::server::Room> = vec![socket.to_string().into(), "r".into()];
        let selects = |choice: u8| choice % 3 != 2;
        let frame = |i: usize| format!(r#"42["e",{i},"1-{i}"]"#);

        let b = h.open();
        h.frame(b, r#"40{"pid":"p","offset":"1-0"}"#);
        let connecting = h.take_events().into_iter().find_map(|e| match e {
            Event::Connecting(c) => Some(c),
            _ => None,
        });
        for (i, &choice) in choices.iter().enumerate().take(delivered) {
            h.server.broadcast_at(&main, &target(choice), event("e", &[i32::try_from(i + 1).unwrap()]), &format!("1-{}", i + 1));
        }
        let missed: Vec<Payload> = (1..=read)
            .filter(|&i| selects(choices[i - 1]))
            .map(|i| Payload::from_json(format!(r#"["e",{i},"1-{i}"]"#)).unwrap())
            .collect();
        let through = format!("1-{read}");
        proptest::prop_assert!(!h.server.lost_after(&main, &through));
        let restored = socketio_proto::server::ExternalSession {
            socket,
            pid: "p".into(),
            rooms: rooms.clone(),
            missed,
            through,
        };
        proptest::prop_assert_eq!(h.server.accept_restored(connecting.unwrap(), restored), Some(socket));
        for (i, &choice) in choices.iter().enumerate().skip(delivered) {
            h.server.broadcast_at(&main, &target(choice), event("e", &[i32::try_from(i + 1).unwrap()]), &format!("1-{}", i + 1));
        }
        h.pump();
        let got: Vec<String> = h.take_sent(b).into_iter().filter(|f| f.starts_with("42")).collect();
        let expected: Vec<String> = (1..=n).filter(|&i| selects(choices[i - 1])).map(frame).collect();
        proptest::prop_assert_eq!(got, expected);
    }
}

// ---- dynamic namespaces ----

fn closed_namespaces(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::NamespaceClosed { namespace } => Some(namespace.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dynamic_namespace_is_forgotten_once_nothing_is_left_in_it() {
    let mut h = Harness::new();
    h.server.allow_dynamic(Box::new(|n| n.as_str().starts_with("/room-")));
    let room = ns("/room-1");
    let (a, b) = (h.open(), h.open());
    let first = h.connect(a, "/room-1");
    let second = h.connect(b, "/room-1");
    h.server.join(first, "red");
    assert_eq!(h.server.dynamic_namespace_count(), 1);

    // One socket left: the namespace stays.
    h.frame(a, "41/room-1,");
    assert!(closed_namespaces(&h.take_events()).is_empty());
    assert!(h.server.is_active(&room));
    assert_eq!(h.server.all_rooms(&room), [second.to_string()]);

    // The last one leaves: everything of it is gone.
    h.frame(b, "41/room-1,");
    assert_eq!(closed_namespaces(&h.take_events()), ["/room-1"]);
    assert!(!h.server.is_active(&room));
    assert_eq!(h.server.dynamic_namespace_count(), 0);
    assert!(h.server.all_rooms(&room).is_empty());

    // A client may open it again.
    h.connect(a, "/room-1");
    assert!(h.server.is_active(&room));
}

#[test]
fn a_dynamic_namespace_a_client_is_connecting_to_stays_until_it_is_refused_or_gone() {
    let mut h = Harness::new();
    h.server.allow_dynamic(Box::new(|n| n.as_str().starts_with("/room-")));
    let conn = h.open();

    // Refused by its middleware.
    h.frame(conn, "40/room-1,");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    assert!(h.server.is_active(&ns("/room-1")), "held while the middleware runs");
    h.server.reject(c, "no", None);
    h.pump();
    assert_eq!(closed_namespaces(&h.take_events()), ["/room-1"]);

    // Its client goes away while the middleware runs.
    h.frame(conn, "40/room-2,");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    h.server.engine().handle_ws_closed(h.now, conn);
    h.pump();
    assert_eq!(closed_namespaces(&h.take_events()), ["/room-2"]);
    assert_eq!(h.server.accept(c), None);
    assert_eq!(h.server.dynamic_namespace_count(), 0);

    // Declared and main namespaces are never closed.
    h.server.declare(ns("/admin"));
    let conn = h.open();
    h.connect(conn, "/admin");
    h.connect(conn, "/");
    h.server.engine().handle_ws_closed(h.now, conn);
    h.pump();
    assert!(closed_namespaces(&h.take_events()).is_empty());
    assert!(h.server.is_active(&ns("/admin")));
}

#[test]
fn a_client_opens_at_most_max_namespaces_at_once() {
    let mut h = Harness::with(SocketConfig { max_namespaces: 3, ..SocketConfig::default() });
    h.server.allow_dynamic(Box::new(|n| n.as_str().starts_with("/room-")));
    let conn = h.open();
    h.connect(conn, "/");
    h.connect(conn, "/room-1");
    // One still connecting counts.
    h.frame(conn, "40/room-2,");
    let [Event::Connecting(pending)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    h.frame(conn, "40/room-3,");
    assert!(h.take_events().is_empty());
    assert_eq!(h.take_sent(conn), [r#"44/room-3,{"message":"Too many namespaces"}"#]);
    assert_eq!(h.server.dynamic_namespace_count(), 2);

    // Leaving one makes room for another; the session was never closed.
    h.server.accept(pending).unwrap();
    h.pump();
    h.take_sent(conn);
    h.frame(conn, "41/room-1,");
    assert_eq!(closed_namespaces(&h.take_events()), ["/room-1"]);
    h.connect(conn, "/room-3");
    assert_eq!(h.server.dynamic_namespace_count(), 2);
}

#[test]
fn a_dynamic_namespace_with_a_kept_session_closes_when_the_session_expires() {
    let mut h = recovering(100);
    h.server.allow_dynamic(Box::new(|n| n.as_str().starts_with("/room-")));
    let room = ns("/room-1");
    let conn = h.open();
    h.frame(conn, "40/room-1,");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    h.server.accept(c).unwrap();
    h.server.broadcast(&room, &Selector::all(), event("tick", &[1]));
    h.pump();
    h.server.engine().handle_ws_closed(h.now, conn);
    h.pump();
    assert!(closed_namespaces(&h.take_events()).is_empty(), "its session is kept");
    assert!(h.server.is_active(&room));
    assert_eq!(h.server.recovery_sizes(), (1, 1));
    // Another session comes and leaves on purpose meanwhile.
    let other = h.open();
    h.frame(other, "40/room-1,");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    h.server.accept(c).unwrap();
    h.frame(other, "41/room-1,");
    assert!(closed_namespaces(&h.take_events()).is_empty());

    // Session and packet expire 2 s after they are stamped (at the first timer run): the
    // namespace closes and its log is gone.
    h.at(1000);
    h.at(2900);
    assert!(closed_namespaces(&h.take_events()).is_empty());
    h.at(3000);
    assert_eq!(closed_namespaces(&h.take_events()), ["/room-1"]);
    assert_eq!(h.server.recovery_sizes(), (0, 0));
    assert_eq!(h.server.dynamic_namespace_count(), 0);
}

// ---- inbound backpressure ----

#[test]
fn a_client_is_not_read_while_the_application_holds_too_much_of_its_events() {
    let engine = ServerConfig { max_unhandled_bytes: 2000, ..ServerConfig::default() };
    let mut h = Harness::with_engine(engine, SocketConfig::default());
    let conn = h.open();
    h.connect(conn, "/");
    let sid = h.server.engine().session_of(conn).unwrap();
    let mut held = Vec::new();
    for n in 0..6 {
        h.frame(conn, &format!(r#"42["chat","{n:0>100}"]"#));
        let [Event::Message { held: one, .. }] = <[Event; 1]>::try_from(h.take_events()).unwrap() else {
            panic!()
        };
        held.push(one);
    }
    // 6 events of 368 bytes each: 112 of payload, 256 for waiting and running a handler.
    assert!(!h.server.engine().is_readable(sid));
    for _ in 0..3 {
        h.server.handled(held.remove(0));
    }
    assert!(!h.server.engine().is_readable(sid), "1104 bytes held: not under half yet");
    h.server.handled(held.remove(0));
    assert!(h.server.engine().is_readable(sid));
    assert!(h.take_sent(conn).is_empty());
}

#[test]
fn huge_durations_saturate_instead_of_panicking() {
    let recovery = RecoveryConfig { max_disconnection_duration: Duration::MAX, ..RecoveryConfig::default() };
    let config =
        SocketConfig { connect_timeout: Duration::MAX, recovery: Some(recovery), ..SocketConfig::default() };
    let mut h = Harness::with(config);
    let conn = h.open();
    h.frame(conn, "40");
    let [Event::Connecting(c)] = <[Event; 1]>::try_from(h.take_events()).unwrap() else { panic!() };
    let id = h.server.accept(c).unwrap();
    h.server.emit_with_ack(h.now, id, event("ask", &[1]), Some(Duration::MAX)).unwrap();
    h.server.broadcast_with_ack(
        h.now,
        &Namespace::main(),
        &Selector::all(),
        event("all", &[]),
        Some(Duration::MAX),
    );
    h.server.engine().handle_ws_closed(h.now, conn);
    h.pump();
    h.at(10_000);
    assert_eq!(h.server.recovery_sizes().0, 1, "kept, for as long as an Instant can say");
}
