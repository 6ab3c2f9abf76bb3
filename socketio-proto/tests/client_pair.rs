//! The client manager against the server state machine, wired together in memory with a
//! fake clock: connection, namespaces, acks both ways, binary, refusal, reconnection with
//! its exact backoff, buffering while disconnected.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::client::{self as eclient, ClientConfig, CloseReason, Method, RequestId, WsId};
use engineio_proto::server::{ConnId, Endpoint, Handled, Output as ServerOutput, PollId, ServerConfig};
use socketio_proto::client::{self, DisconnectReason, Manager, ManagerConfig};
use socketio_proto::server::{self, Server, SocketConfig};
use socketio_proto::{Namespace, Payload, Value};

struct Pair {
    manager: Manager,
    server: Server,
    start: Instant,
    now: Instant,
    polls: HashMap<PollId, RequestId>,
    ws: HashMap<WsId, ConnId>,
    events: Vec<client::Event>,
    server_events: Vec<server::Event>,
    /// Namespaces whose middleware refuses.
    refuse: Vec<&'static str>,
    /// The server is unreachable: every request fails.
    down: bool,
}

fn ns(name: &str) -> Namespace {
    Namespace::new(name.to_owned()).unwrap()
}

/// Event `name` with one argument per element of `args`.
fn event(name: &str, args: &[i32]) -> Payload {
    let args = socketio_proto::Value::Array(args.iter().map(|&a| a.into()).collect());
    Payload::event_with_args(name, &Payload::from_value(&args)).unwrap()
}

impl Pair {
    fn new(config: ManagerConfig) -> Self {
        Pair::with(config, SocketConfig::default())
    }

    fn with(config: ManagerConfig, socket_config: SocketConfig) -> Self {
        let mut n = 0;
        let engine = engineio_proto::server::Server::new(
            ServerConfig {
                ping_interval: Duration::from_millis(300),
                ping_timeout: Duration::from_millis(200),
                ..ServerConfig::default()
            },
            Box::new(move || {
                n += 1;
                n
            }),
        );
        let mut m = 100;
        let mut server = Server::new(
            engine,
            socket_config,
            Box::new(move || {
                m += 1;
                m
            }),
        );
        server.declare(ns("/admin"));
        let start = Instant::now();
        let manager = Manager::new(start, config, Box::new(|| 0.0));
        Pair {
            manager,
            server,
            start,
            now: start,
            polls: HashMap::new(),
            ws: HashMap::new(),
            events: vec![],
            server_events: vec![],
            refuse: vec![],
            down: false,
        }
    }

    /// The request head for `target` (`/path?query`, or a `ws://host/path?query` URL).
    fn parts(method: &str, target: &str, websocket: bool) -> http::request::Parts {
        let target = target.strip_prefix("ws://localhost:80").unwrap_or(target);
        assert!(target.starts_with("/socket.io/?"), "{target}");
        let mut builder = http::Request::builder().method(method).uri(target);
        if websocket {
            builder = builder.header("upgrade", "websocket").header("connection", "Upgrade");
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.manager.poll_output() {
                moved = true;
                self.on_client(output);
            }
            while let Some(output) = self.server.poll_output() {
                moved = true;
                self.on_server(output);
            }
            if !moved {
                return;
            }
        }
    }

    fn on_client(&mut self, output: client::Output) {
        let now = self.now;
        match output {
            client::Output::Event(event) => self.events.push(event),
            client::Output::Io(eclient::Output::Http { id, method, target, body, .. }) => {
                if self.down {
                    return self.manager.handle_response(now, id, Err("connection refused".into()));
                }
                let method = if method == Method::Get { "GET" } else { "POST" };
                let engine = self.server.engine();
                let handled = match engine.handle_request(now, &Self::parts(method, &target, false), None) {
                    Handled::Incoming(incoming) => engine.accept(now, incoming),
                    other => other,
                };
                match handled {
                    Handled::Respond(response) => self.respond(id, response),
                    Handled::Pending(poll) => {
                        self.polls.insert(poll, id);
                    }
                    Handled::ReadBody(ticket) => {
                        let response = self.server.engine().handle_body(now, ticket, Ok(body)).unwrap();
                        self.respond(id, response);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            client::Output::Io(eclient::Output::WsConnect { id, url }) => {
                if self.down {
                    return self.manager.handle_ws_closed(now, id);
                }
                let engine = self.server.engine();
                let handled = match engine.handle_request(now, &Self::parts("GET", &url, true), None) {
                    Handled::Incoming(incoming) => engine.accept(now, incoming),
                    other => other,
                };
                match handled {
                    Handled::WebSocket(ticket) => {
                        let conn = self.server.engine().ws_opened(now, ticket);
                        self.ws.insert(id, conn);
                        self.manager.handle_ws_open(now, id);
                    }
                    _ => self.manager.handle_ws_closed(now, id),
                }
            }
            client::Output::Io(eclient::Output::WsSend { id, frames }) => {
                if let Some(&conn) = self.ws.get(&id) {
                    for frame in frames {
                        self.server.engine().handle_ws_frame(now, conn, frame);
                    }
                }
                self.manager.handle_ws_drained(now, id);
            }
            client::Output::Io(eclient::Output::WsClose { id }) => {
                if let Some(conn) = self.ws.remove(&id) {
                    self.server.engine().handle_ws_closed(now, conn);
                }
            }
            client::Output::Io(eclient::Output::Event(_)) => panic!("engine events stay inside the manager"),
        }
    }

    fn on_server(&mut self, output: ServerOutput<server::Event>) {
        let now = self.now;
        match output {
            ServerOutput::Respond { poll, response } => {
                if let Some(id) = self.polls.remove(&poll) {
                    self.respond(id, response);
                }
            }
            ServerOutput::Readable { .. } => {}
            ServerOutput::WsSend { conn, frames } => {
                let id = self.ws.iter().find(|(_, c)| **c == conn).map(|(id, _)| *id);
                if let Some(id) = id {
                    for frame in frames {
                        self.manager.handle_ws_frame(now, id, frame);
                    }
                }
                self.server.engine().handle_ws_drained(now, conn);
            }
            ServerOutput::WsClose { conn, .. } => {
                let id = self.ws.iter().find(|(_, c)| **c == conn).map(|(id, _)| *id);
                if let Some(id) = id {
                    self.ws.remove(&id);
                    self.manager.handle_ws_closed(now, id);
                }
            }
            ServerOutput::Event(server::Event::Connecting(connecting)) => {
                let name = connecting.namespace().as_str().to_owned();
                if self.refuse.contains(&name.as_str()) {
                    let data = Payload::from_json(r#"{"why":"no"}"#).unwrap();
                    self.server.reject(connecting, "refused", Some(&data));
                } else {
                    let _ = self.server.accept(connecting);
                }
            }
            ServerOutput::Event(event) => self.server_events.push(event),
        }
    }

    fn respond(&mut self, id: RequestId, response: engineio_proto::server::Response) {
        let status = response.status().as_u16();
        self.manager.handle_response(self.now, id, Ok((status, response.into_body())));
    }

    fn at(&mut self, ms: u64) {
        self.now = self.start + Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        self.manager.handle_timeout(self.now);
        self.drive();
    }

    /// Keeps both sides' timers running in 50 ms steps up to `ms`.
    fn run_until(&mut self, from: u64, ms: u64) {
        let mut t = from;
        while t < ms {
            t += 50;
            self.at(t);
        }
    }

    fn take(&mut self) -> Vec<client::Event> {
        std::mem::take(&mut self.events)
    }
}

fn connected(events: &[client::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            client::Event::Connect { namespace, .. } => Some(namespace.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn namespaces_share_one_session() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(
        pair.now,
        Namespace::main(),
        Some(Payload::from_json(r#"{"token":"t"}"#).unwrap()),
    );
    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    assert_eq!(connected(&pair.take()), ["/", "/admin"]);
    assert!(pair.manager.is_connected(&Namespace::main()) && pair.manager.is_connected(&ns("/admin")));
    assert_eq!(pair.server.engine().session_count(), 1);
    assert_eq!(pair.server.socket_count(), 2);
}

#[test]
fn events_and_acks_both_ways_with_binary() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.take();
    let args = ("file", Value::Binary(Bytes::from_static(b"\x01\x02")));
    let id = pair
        .manager
        .emit_with_ack(pair.now, &Namespace::main(), Payload::event("upload", &args).unwrap(), None)
        .unwrap();
    pair.drive();
    let [server::Event::Message { socket, payload, ack: Some(ack), .. }] = pair.server_events.as_slice()
    else {
        panic!("{:?}", pair.server_events)
    };
    assert_eq!(payload.attachments(), [Bytes::from_static(b"\x01\x02")]);
    let (socket, ack) = (*socket, *ack);
    pair.server.ack(socket, ack, Payload::from_json(r#"["stored"]"#).unwrap()).unwrap();
    pair.drive();
    assert_eq!(
        pair.take(),
        [client::Event::Ack {
            namespace: Namespace::main(),
            id,
            payload: Payload::from_json(r#"["stored"]"#).unwrap()
        }]
    );

    let asked = pair.server.emit_with_ack(pair.now, socket, event("question", &[1]), None).unwrap();
    pair.drive();
    let events = pair.take();
    let [client::Event::Message { payload, ack: Some(client_ack), .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    let client_ack = *client_ack;
    assert_eq!(payload.json(), r#"["question",1]"#);
    pair.manager.ack(&Namespace::main(), client_ack, Payload::from_json("[42]").unwrap());
    pair.drive();
    assert!(matches!(pair.server_events.last(), Some(server::Event::Ack { id, .. }) if *id == asked));
}

/// As the reference's `Manager._destroy`: the session stays while a socket uses it, closes
/// when the last one leaves (no reconnection follows), and a socket that connects again
/// opens a new one.
#[test]
fn the_last_socket_to_leave_closes_the_session() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    pair.take();
    pair.manager.close_socket(&Namespace::main());
    pair.drive();
    assert!(!pair.manager.is_closed());
    assert_eq!(pair.server.engine().session_count(), 1);

    pair.manager.close_socket(&ns("/admin"));
    pair.drive();
    assert!(pair.manager.is_closed());
    assert_eq!(pair.server.engine().session_count(), 0, "the server saw the session close");
    pair.run_until(0, 10_000);
    assert_eq!(pair.server.engine().session_count(), 0, "no reconnection");

    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    assert_eq!(connected(&pair.take()), ["/admin"]);
    assert_eq!(pair.server.engine().session_count(), 1);
}

/// A server's refusal or DISCONNECT of the only socket closes the session too.
#[test]
fn a_refused_or_server_disconnected_last_socket_closes_the_session() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.refuse.push("/admin");
    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    assert!(pair.manager.is_closed());

    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    assert_eq!(connected(&pair.take()), ["/"]);
    let socket = pair.server.select(&Namespace::main(), &server::Selector::all())[0];
    pair.server.disconnect(pair.now, socket, socketio_proto::server::DisconnectScope::Namespace);
    pair.drive();
    assert!(pair.manager.is_closed());
    assert_eq!(pair.server.engine().session_count(), 0);
}

#[test]
fn refused_namespaces_report_the_error() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.refuse.push("/admin");
    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    let events = pair.take();
    let [client::Event::ConnectError { error, .. }] = events.as_slice() else { panic!("{events:?}") };
    let client::ConnectFailure::Refused(Some(payload)) = error else { panic!("{error:?}") };
    assert_eq!(payload.json(), r#"{"message":"refused","data":{"why":"no"}}"#);
    assert_eq!(error.message(), "refused");
    assert_eq!(error.data::<serde_json::Value>(), Some(serde_json::json!({ "why": "no" })));
    // The session itself is fine: other namespaces connect.
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    assert_eq!(connected(&pair.take()), ["/"]);
    assert!(!pair.manager.is_connected(&ns("/admin")));
}

#[test]
fn reconnects_with_backoff_and_delivers_buffered_emits_in_order() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.take();
    // The server goes away: the session is closed under the client and refused after.
    pair.down = true;
    let first_session = engineio_proto::server::Sid::from_u128(1);
    pair.server.engine().close_now(first_session, engineio_proto::server::CloseReason::TransportError);
    pair.drive();
    let events = pair.take();
    assert!(
        matches!(
            events.as_slice(),
            [client::Event::Disconnect {
                reason: DisconnectReason::Transport(CloseReason::TransportClose),
                ..
            }]
        ),
        "{events:?}"
    );
    // Emits while disconnected are buffered; volatile ones dropped.
    for i in 0..3 {
        pair.manager.emit(&Namespace::main(), event("offline", &[i]));
    }
    pair.manager.emit_volatile(&Namespace::main(), event("volatile", &[]));
    // random() is 0.0: delays of 1000, 2000, 4000 ms; attempts fail while the server is down.
    pair.at(999);
    assert!(pair.take().is_empty());
    pair.at(1000);
    let events = pair.take();
    assert_eq!(events[0], client::Event::ReconnectAttempt(1), "{events:?}");
    assert!(matches!(events.get(1), Some(client::Event::ReconnectError(_))), "{events:?}");
    pair.at(2999);
    assert!(pair.take().is_empty());
    pair.at(3000);
    assert_eq!(pair.take()[0], client::Event::ReconnectAttempt(2));
    // The server comes back before the third attempt, due 4000 ms later.
    pair.down = false;
    pair.at(6999);
    assert!(pair.take().is_empty());
    pair.at(7000);
    let events = pair.take();
    assert_eq!(events[0], client::Event::ReconnectAttempt(3));
    assert!(events.contains(&client::Event::Reconnect(3)), "{events:?}");
    assert_eq!(connected(&events), ["/"]);
    let delivered: Vec<String> = pair
        .server_events
        .iter()
        .filter_map(|e| match e {
            server::Event::Message { payload, .. } => Some(payload.json().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [r#"["offline",0]"#, r#"["offline",1]"#, r#"["offline",2]"#]);
}

#[test]
fn gives_up_after_the_allowed_attempts() {
    let mut pair = Pair::new(ManagerConfig { reconnection_attempts: Some(2), ..ManagerConfig::default() });
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.down = true;
    pair.server.engine().close_now(
        engineio_proto::server::Sid::from_u128(1),
        engineio_proto::server::CloseReason::TransportError,
    );
    pair.drive();
    pair.at(1000);
    pair.at(3000);
    let events = pair.take();
    assert_eq!(events.last(), Some(&client::Event::ReconnectFailed), "{events:?}");
    assert!(pair.manager.is_closed());
    pair.at(100_000);
    assert!(pair.take().is_empty());
}

#[test]
fn acks_time_out_even_while_disconnected() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    // Not connected yet: the emit waits in the buffer, its timeout runs.
    let id = pair
        .manager
        .emit_with_ack(pair.now, &Namespace::main(), event("q", &[]), Some(Duration::from_millis(50)))
        .unwrap();
    pair.now = pair.start + Duration::from_millis(50);
    pair.manager.handle_timeout(pair.now);
    let events: Vec<_> = std::iter::from_fn(|| pair.manager.poll_output()).collect();
    assert!(events.contains(&client::Output::Event(client::Event::AckFailed {
        namespace: Namespace::main(),
        id,
        reason: server::AckError::Timeout
    })));
}

#[test]
fn a_dead_server_triggers_reconnection() {
    let mut pair = Pair::new(ManagerConfig {
        engine: ClientConfig { upgrade: false, ..ManagerConfig::default().engine },
        ..ManagerConfig::default()
    });
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.take();
    // The server's answers stop reaching the client.
    pair.polls.clear();
    pair.down = true;
    pair.now = pair.start + Duration::from_millis(500);
    pair.manager.handle_timeout(pair.now);
    pair.drive();
    let events = pair.take();
    assert!(
        matches!(
            events.as_slice(),
            [client::Event::Disconnect { reason: DisconnectReason::Transport(CloseReason::PingTimeout), .. }]
        ),
        "{events:?}"
    );
    assert_eq!(events_reason(&events), "ping timeout");
}

fn events_reason(events: &[client::Event]) -> String {
    match events {
        [client::Event::Disconnect { reason, .. }] => reason.to_string(),
        _ => panic!("{events:?}"),
    }
}

#[test]
fn server_disconnect_is_final_for_that_socket() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.take();
    let socket = pair.server.select(&Namespace::main(), &server::Selector::all())[0];
    pair.server.disconnect(pair.now, socket, socketio_proto::server::DisconnectScope::Namespace);
    pair.drive();
    assert_eq!(events_reason(&pair.take()), "io server disconnect");
    pair.run_until(0, 3000);
    assert!(connected(&pair.take()).is_empty(), "no automatic reconnection after a server disconnect");
}

#[test]
fn retry_mode_resends_until_acked_one_at_a_time() {
    let config = ManagerConfig {
        retries: Some(2),
        ack_timeout: Duration::from_millis(100),
        ..ManagerConfig::default()
    };
    let mut pair = Pair::new(config);
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    pair.drive();
    pair.take();
    let first = pair.manager.emit_with_ack(pair.now, &Namespace::main(), event("first", &[]), None).unwrap();
    pair.manager.emit(&Namespace::main(), event("second", &[]));
    pair.drive();
    let received = |pair: &Pair| -> Vec<(String, Option<u64>)> {
        pair.server_events
            .iter()
            .filter_map(|e| match e {
                server::Event::Message { payload, ack, .. } => Some((payload.json().to_string(), *ack)),
                _ => None,
            })
            .collect()
    };
    // Only the head goes, with an ack id; nobody answers it.
    // (Id 0 is the one the application waits on; each try has its own.)
    assert_eq!(received(&pair), [(r#"["first"]"#.to_owned(), Some(1))]);
    pair.at(100);
    assert_eq!(received(&pair)[1], (r#"["first"]"#.to_owned(), Some(2)), "tried again with a new ack id");
    // The server answers the second try: the next emit goes.
    let socket = pair.server.select(&Namespace::main(), &server::Selector::all())[0];
    pair.server.ack(socket, 2, Payload::from_json(r#"["ok"]"#).unwrap()).unwrap();
    pair.drive();
    let events = pair.take();
    assert!(events.contains(&client::Event::Ack {
        namespace: Namespace::main(),
        id: first,
        payload: Payload::from_json(r#"["ok"]"#).unwrap()
    }));
    assert_eq!(received(&pair)[2], (r#"["second"]"#.to_owned(), Some(3)));
    // "second" is never answered: 1 try + 2 retries, then it is dropped.
    pair.at(200);
    pair.at(300);
    assert_eq!(received(&pair).len(), 5);
    pair.at(400);
    pair.at(500);
    assert_eq!(received(&pair).len(), 5, "no more tries after the retries");
    assert!(
        pair.take().iter().all(|e| !matches!(e, client::Event::AckFailed { .. })),
        "plain emits report nothing"
    );
}

#[test]
fn a_failed_connection_is_a_connect_error_for_sockets_still_joining() {
    let mut pair = Pair::new(ManagerConfig { reconnection: false, ..ManagerConfig::default() });
    pair.down = true;
    pair.manager.open_socket(pair.now, ns("/admin"), None);
    pair.drive();
    let events = pair.take();
    let [client::Event::ConnectError { namespace, error: client::ConnectFailure::Transport(reason) }] =
        events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(namespace.as_str(), "/admin");
    assert!(matches!(reason, CloseReason::TransportError(_)), "{reason:?}");
    assert!(pair.manager.is_closed());
}

#[test]
fn a_forgotten_ack_leaves_nothing_and_reports_nothing() {
    let mut pair = Pair::new(ManagerConfig::default());
    pair.manager.open_socket(pair.now, Namespace::main(), None);
    let id = pair
        .manager
        .emit_with_ack(pair.now, &Namespace::main(), event("q", &[]), Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(pair.manager.awaited_acks(), 1);
    pair.manager.forget_ack(&Namespace::main(), id);
    assert_eq!(pair.manager.awaited_acks(), 0);
    pair.now = pair.start + Duration::from_millis(50);
    pair.manager.handle_timeout(pair.now);
    let events: Vec<_> = std::iter::from_fn(|| pair.manager.poll_output()).collect();
    assert!(!events.iter().any(|e| matches!(e, client::Output::Event(client::Event::AckFailed { .. }))));
}

#[test]
fn a_session_that_never_opens_closes_its_websocket_at_the_timeout() {
    let start = Instant::now();
    let config = ManagerConfig {
        engine: ClientConfig { polling: false, ..ClientConfig::default() },
        reconnection: false,
        timeout: Duration::from_secs(1),
        ..ManagerConfig::default()
    };
    let mut manager = Manager::new(start, config, Box::new(|| 0.0));
    manager.open_socket(start, Namespace::main(), None);
    let Some(client::Output::Io(eclient::Output::WsConnect { id, .. })) = manager.poll_output() else {
        panic!("no websocket")
    };
    // The WebSocket opens, and the server never sends its open packet.
    manager.handle_ws_open(start, id);
    assert!(manager.poll_output().is_none());
    manager.handle_timeout(start + Duration::from_secs(1));
    let outputs: Vec<_> = std::iter::from_fn(|| manager.poll_output()).collect();
    assert!(
        matches!(outputs.as_slice(), [
            client::Output::Io(eclient::Output::WsClose { id: closed }),
            client::Output::Event(client::Event::ConnectError { .. }),
        ] if *closed == id),
        "{outputs:?}"
    );
    assert!(manager.is_closed());
}

#[test]
fn recovery_hands_events_without_offsets_and_restores_the_socket_after_a_drop() {
    let recovery = socketio_proto::server::RecoveryConfig::default();
    let mut pair = Pair::with(
        ManagerConfig::default(),
        SocketConfig { recovery: Some(recovery), ..SocketConfig::default() },
    );
    pair.manager.open_socket(
        pair.now,
        Namespace::main(),
        Some(Payload::from_json(r#"{"token":"t"}"#).unwrap()),
    );
    pair.drive();
    let events = pair.take();
    assert!(matches!(events.as_slice(), [client::Event::Connect { recovered: false, .. }]), "{events:?}");
    let main = Namespace::main();
    pair.server.broadcast(&main, &socketio_proto::server::Selector::all(), event("tick", &[1]));
    pair.drive();
    let events = pair.take();
    let [client::Event::Message { payload, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(payload.json(), r#"["tick",1]"#, "the offset is not handed over");

    // The connection drops; the server keeps the session and logs what follows.
    pair.server.engine().close_now(
        engineio_proto::server::Sid::from_u128(1),
        engineio_proto::server::CloseReason::TransportError,
    );
    pair.drive();
    pair.take();
    pair.server.broadcast(&main, &socketio_proto::server::Selector::all(), event("tick", &[2]));
    pair.at(1000);
    let events: Vec<client::Event> = pair
        .take()
        .into_iter()
        .filter(|e| matches!(e, client::Event::Connect { .. } | client::Event::Message { .. }))
        .collect();
    let [client::Event::Connect { recovered: true, .. }, client::Event::Message { payload, .. }] =
        events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(payload.json(), r#"["tick",2]"#, "the missed event, after the connect");
}

/// A manager on WebSocket alone, driven by hand as a server would: `server` answers.
struct RawWs {
    manager: Manager,
    now: Instant,
    ws: Option<WsId>,
    /// Events seen by [`RawWs::written`].
    events: Vec<client::Event>,
}

impl RawWs {
    fn new() -> Self {
        let config = ManagerConfig {
            engine: ClientConfig { polling: false, ..ClientConfig::default() },
            backoff: client::Backoff {
                min: Duration::from_millis(100),
                max: Duration::from_millis(100),
                jitter: 0.0,
            },
            ..ManagerConfig::default()
        };
        let now = Instant::now();
        RawWs { manager: Manager::new(now, config, Box::new(|| 0.0)), now, ws: None, events: Vec::new() }
    }

    /// What the client wrote since the last call, as text frames; opens WebSockets asked for.
    fn written(&mut self) -> Vec<String> {
        let mut written = Vec::new();
        while let Some(output) = self.manager.poll_output() {
            match output {
                client::Output::Io(eclient::Output::WsConnect { id, .. }) => {
                    self.ws = Some(id);
                    self.manager.handle_ws_open(self.now, id);
                }
                client::Output::Io(eclient::Output::WsSend { id, frames }) => {
                    self.manager.handle_ws_drained(self.now, id);
                    written.extend(frames.into_iter().filter_map(|frame| match frame {
                        engineio_proto::Frame::Text(text) => Some(text.to_string()),
                        engineio_proto::Frame::Binary(_) => None,
                    }));
                }
                client::Output::Io(eclient::Output::WsClose { .. }) => written.push("<close>".into()),
                client::Output::Event(event) => self.events.push(event),
                _ => {}
            }
        }
        written
    }

    fn send(&mut self, text: &str) {
        let id = self.ws.expect("a WebSocket");
        self.manager.handle_ws_frame(self.now, id, engineio_proto::Frame::Text(text.to_owned().into()));
    }

    /// A manager whose main namespace socket is connected (sid `a`); that namespace.
    fn connected() -> (Self, Namespace) {
        let mut raw = RawWs::new();
        let main = Namespace::main();
        raw.manager.open_socket(raw.now, main.clone(), None);
        raw.open_session();
        raw.send(r#"40{"sid":"a"}"#);
        raw.written();
        (raw, main)
    }

    fn open_session(&mut self) {
        self.written();
        self.send(
            r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        );
    }
}

#[test]
fn acks_of_emits_sent_on_a_lost_connection_fail_buffered_ones_wait_for_the_next() {
    let (mut raw, main) = RawWs::connected();
    let sent =
        raw.manager.emit_with_ack(raw.now, &main, Payload::from_json(r#"["q"]"#).unwrap(), None).unwrap();
    assert_eq!(raw.written(), [r#"420["q"]"#]);

    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    let buffered =
        raw.manager.emit_with_ack(raw.now, &main, Payload::from_json(r#"["later"]"#).unwrap(), None).unwrap();
    raw.written();
    let failed: Vec<u64> = std::mem::take(&mut raw.events)
        .into_iter()
        .filter_map(|event| match event {
            client::Event::AckFailed {
                id, reason: socketio_proto::server::AckError::Disconnected, ..
            } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [sent], "its answer will not come: the server answers on the lost connection");

    raw.now += Duration::from_millis(100);
    raw.manager.handle_timeout(raw.now);
    raw.open_session();
    raw.written();
    raw.send(r#"40{"sid":"b"}"#);
    assert_eq!(raw.written(), [format!(r#"42{buffered}["later"]"#)]);
    raw.send(&format!(r#"43{buffered}["ok"]"#));
    raw.send(&format!(r#"43{sent}["too late"]"#));
    raw.written();
    let answered: Vec<u64> = raw
        .events
        .iter()
        .filter_map(|event| match event {
            client::Event::Ack { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(answered, [buffered], "the buffered emit's answer comes; the lost one's is ignored");
}

#[test]
fn an_emit_whose_ack_failed_with_its_socket_closed_is_not_sent_later() {
    let (mut raw, main) = RawWs::connected();
    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    // Disconnected: both wait in the buffer.
    let id =
        raw.manager.emit_with_ack(raw.now, &main, Payload::from_json(r#"["asked"]"#).unwrap(), None).unwrap();
    raw.manager.emit(&main, Payload::from_json(r#"["told"]"#).unwrap());
    raw.manager.close_socket(&main);
    raw.written();
    let failed = raw
        .events
        .iter()
        .any(|event| matches!(event, client::Event::AckFailed { id: failed, .. } if *failed == id));
    assert!(failed, "the ack failed with the socket: {:?}", raw.events);
    // Opened again: what had no ack still goes, what failed does not.
    raw.manager.open_socket(raw.now, main.clone(), None);
    raw.now += Duration::from_millis(100);
    raw.manager.handle_timeout(raw.now);
    raw.open_session();
    raw.written();
    raw.send(r#"40{"sid":"b"}"#);
    assert_eq!(raw.written(), [r#"42["told"]"#]);
}

#[test]
fn a_volatile_emit_is_dropped_while_the_transport_is_busy() {
    let (mut raw, main) = RawWs::connected();
    let volatile = |text: &str| Payload::from_json(format!(r#"["{text}"]"#)).unwrap();
    raw.manager.emit_volatile(&main, volatile("first"));
    // Its batch is not written yet: the next one would wait, so it is dropped.
    raw.manager.emit_volatile(&main, volatile("dropped"));
    assert_eq!(raw.written(), [r#"42["first"]"#]);
    // Written (reported by `written`): the transport takes the next one.
    raw.manager.emit_volatile(&main, volatile("third"));
    assert_eq!(raw.written(), [r#"42["third"]"#]);
}

#[test]
fn a_connect_answer_without_an_id_is_a_connect_error() {
    let mut raw = RawWs::new();
    raw.manager.open_socket(raw.now, Namespace::main(), None);
    raw.open_session();
    raw.written();
    raw.send("40");
    raw.written();
    let errors: Vec<String> = raw
        .events
        .iter()
        .filter_map(|event| match event {
            client::Event::ConnectError { error, .. } => Some(error.message()),
            client::Event::Connect { .. } => Some("connected".into()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("It seems you are trying to reach a Socket.IO server in v2.x"),
        "{errors:?}"
    );
}

#[test]
fn settled_acks_leave_no_timer_behind() {
    let (mut raw, main) = RawWs::connected();
    let baseline = raw.manager.timer_entries();
    let hour = Some(Duration::from_secs(3600));
    let emit = |raw: &mut RawWs| {
        raw.manager.emit_with_ack(raw.now, &main, Payload::from_json(r#"["q"]"#).unwrap(), hour).unwrap()
    };
    // Answered.
    let ids: Vec<u64> = (0..100).map(|_| emit(&mut raw)).collect();
    assert_eq!(raw.manager.timer_entries(), baseline + 100);
    for id in ids {
        raw.send(&format!("43{id}[]"));
    }
    assert_eq!((raw.manager.awaited_acks(), raw.manager.timer_entries()), (0, baseline));
    // Forgotten (the waiter went away).
    let id = emit(&mut raw);
    raw.manager.forget_ack(&main, id);
    assert_eq!((raw.manager.awaited_acks(), raw.manager.timer_entries()), (0, baseline));
    // Failed with the connection.
    emit(&mut raw);
    raw.written();
    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    raw.written();
    assert_eq!(raw.manager.awaited_acks(), 0);
    assert_eq!(raw.manager.timer_entries(), baseline + 1, "the reconnection's timer only");
}

#[test]
fn a_server_that_floods_events_before_its_connect_answer_loses_the_session_not_the_offset() {
    let mut raw = RawWs::new();
    raw.manager.open_socket(raw.now, Namespace::main(), None);
    raw.open_session();
    assert_eq!(raw.written(), ["40"]);
    raw.send(r#"40{"sid":"a","pid":"p"}"#);
    raw.send(r#"42["tick",0,"o1"]"#);
    raw.written();

    // A drop; the client comes back with its pid and offset.
    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    raw.now += Duration::from_millis(100);
    raw.manager.handle_timeout(raw.now);
    raw.open_session();
    assert_eq!(raw.written(), [r#"40{"pid":"p","offset":"o1"}"#]);

    // Far more "missed events" than any log holds, and no CONNECT answer.
    let big = format!(r#"42["x","{}","o2"]"#, "y".repeat(1 << 20));
    for _ in 1..socketio_proto::client::EARLY_EVENTS_LIMIT >> 20 {
        raw.send(&big);
        assert!(raw.written().is_empty());
    }
    raw.send(&big);
    assert_eq!(raw.written().last().map(String::as_str), Some("<close>"), "the session is closed");
    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    let handed: Vec<_> = std::iter::from_fn(|| raw.manager.poll_output())
        .filter(|o| matches!(o, client::Output::Event(client::Event::Message { .. })))
        .collect();
    assert!(handed.is_empty(), "nothing was handed over: {handed:?}");

    // The next try asks again from what the client has.
    raw.now += Duration::from_millis(100);
    raw.manager.handle_timeout(raw.now);
    raw.open_session();
    assert_eq!(raw.written(), [r#"40{"pid":"p","offset":"o1"}"#]);
    raw.send(r#"42["tick",1,"o2"]"#);
    raw.send(r#"40{"sid":"a","pid":"p"}"#);
    let events: Vec<_> = std::iter::from_fn(|| raw.manager.poll_output())
        .filter_map(|o| match o {
            client::Output::Event(client::Event::Message { payload, .. }) => Some(payload.json().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(events, [r#"["tick",1]"#], "the missed event once, without its offset");
}

#[test]
fn a_packet_that_does_not_parse_ends_the_session_and_the_client_reconnects() {
    let mut raw = RawWs::new();
    raw.manager.open_socket(raw.now, Namespace::main(), None);
    raw.open_session();
    raw.send(r#"40{"sid":"a"}"#);
    assert_eq!(raw.written(), ["40"]);
    raw.send("4garbage");
    assert_eq!(raw.written(), ["<close>"]);
    raw.manager.handle_ws_closed(raw.now, raw.ws.unwrap());
    // As the reference's "parse error": a transport failure, then a new attempt.
    raw.now += Duration::from_millis(100);
    raw.manager.handle_timeout(raw.now);
    raw.open_session();
    assert_eq!(raw.written(), ["40"]);
    assert!(!raw.manager.is_closed());
}

/// Nothing opens before a socket asks to connect, so a first session cannot fail unseen
/// (the failure reaches the socket's `connect_error`); a manager closed for good opens a
/// new session when a socket connects again, as the reference's `socket.connect()` does.
#[test]
fn the_session_opens_when_a_socket_connects_and_again_after_giving_up() {
    let start = Instant::now();
    let config = ManagerConfig { reconnection: false, ..ManagerConfig::default() };
    let mut manager = Manager::new(start, config, Box::new(|| 0.0));
    assert!(manager.poll_output().is_none(), "no session before a socket connects");
    assert!(!manager.is_closed());
    for attempt in 0..2 {
        manager.open_socket(start, Namespace::main(), None);
        let Some(client::Output::Io(eclient::Output::Http { id, .. })) = manager.poll_output() else {
            panic!("attempt {attempt}: no handshake request")
        };
        manager.handle_response(start, id, Err("connection refused".to_owned()));
        let outputs: Vec<_> = std::iter::from_fn(|| manager.poll_output()).collect();
        assert!(
            outputs.iter().any(|output| matches!(
                output,
                client::Output::Event(client::Event::ConnectError { namespace, .. }) if *namespace == Namespace::main()
            )),
            "attempt {attempt}: {outputs:?}"
        );
        assert!(manager.is_closed(), "attempt {attempt}: no reconnection");
    }
}
