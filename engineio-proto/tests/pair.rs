//! The client state machine against the server state machine, wired together in memory
//! (quinn-proto's `Pair`): every request, response and frame goes through both for real.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engineio_proto::client::{self, Client, ClientConfig, CloseReason, Method, RequestId, WsId};
use engineio_proto::server::{self, ConnId, Handled, PollId, Server, ServerConfig};
use engineio_proto::{Data, Packet};

struct Pair {
    client: Client,
    server: Server,
    start: Instant,
    now: Instant,
    /// Long-polls the server holds, with the client request they answer.
    polls: HashMap<PollId, RequestId>,
    /// Client WebSocket ids and server connection ids.
    ws: HashMap<WsId, ConnId>,
    client_events: Vec<client::Event>,
    server_events: Vec<server::Event>,
    /// Whether the client's probe WebSocket is held closed (a failing upgrade).
    refuse_websocket: bool,
}

impl Pair {
    fn new(client: ClientConfig) -> Self {
        let mut n = 0;
        let server = Server::new(
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
        let start = Instant::now();
        Pair {
            client: Client::new(client),
            server,
            start,
            now: start,
            polls: HashMap::new(),
            ws: HashMap::new(),
            client_events: vec![],
            server_events: vec![],
            refuse_websocket: false,
        }
    }

    /// The request head for `target` (`/path?query`, or a `ws://host/path?query` URL).
    fn parts(method: &str, target: &str, websocket: bool) -> http::request::Parts {
        let target = target.strip_prefix("ws://localhost:80").unwrap_or(target);
        assert!(target.starts_with("/engine.io/?"), "{target}");
        let mut builder = http::Request::builder().method(method).uri(target);
        if websocket {
            builder = builder.header("upgrade", "websocket").header("connection", "Upgrade");
        }
        builder.body(()).unwrap().into_parts().0
    }

    /// Moves everything both sides want to send until nothing moves.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.client.poll_output() {
                moved = true;
                self.on_client_output(output);
            }
            while let Some(output) = self.server.poll_output() {
                moved = true;
                self.on_server_output(output);
            }
            if !moved {
                return;
            }
        }
    }

    fn on_client_output(&mut self, output: client::Output) {
        let now = self.now;
        match output {
            client::Output::Http { id, method, target, body, .. } => {
                let method = if method == Method::Get { "GET" } else { "POST" };
                let handled = self.server.handle_request(now, &Self::parts(method, &target, false), None);
                let handled = match handled {
                    Handled::Incoming(incoming) => self.server.accept(now, incoming),
                    other => other,
                };
                match handled {
                    Handled::Respond(response) => self.respond(id, response),
                    Handled::Pending(poll) => {
                        self.polls.insert(poll, id);
                    }
                    Handled::ReadBody(ticket) => {
                        let response = self.server.handle_body(now, ticket, Ok(body)).unwrap();
                        self.respond(id, response);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            client::Output::WsConnect { id, url } => {
                if self.refuse_websocket {
                    self.client.handle_ws_closed(now, id);
                    return;
                }
                match self.server.handle_request(now, &Self::parts("GET", &url, true), None) {
                    Handled::WebSocket(ticket) => {
                        let conn = self.server.ws_opened(now, ticket);
                        self.ws.insert(id, conn);
                        self.client.handle_ws_open(now, id);
                    }
                    Handled::Incoming(incoming) => {
                        let Handled::WebSocket(ticket) = self.server.accept(now, incoming) else { panic!() };
                        let conn = self.server.ws_opened(now, ticket);
                        self.ws.insert(id, conn);
                        self.client.handle_ws_open(now, id);
                    }
                    Handled::Respond(_) => self.client.handle_ws_closed(now, id),
                    other => panic!("unexpected {other:?}"),
                }
            }
            client::Output::WsSend { id, frames } => {
                if let Some(&conn) = self.ws.get(&id) {
                    for frame in frames {
                        self.server.handle_ws_frame(now, conn, frame);
                    }
                }
                self.client.handle_ws_drained(now, id);
            }
            client::Output::WsClose { id } => {
                if let Some(conn) = self.ws.remove(&id) {
                    self.server.handle_ws_closed(now, conn);
                }
            }
            client::Output::Event(event) => self.client_events.push(event),
        }
    }

    fn on_server_output(&mut self, output: server::Output) {
        let now = self.now;
        match output {
            server::Output::Respond { poll, response } => {
                if let Some(id) = self.polls.remove(&poll) {
                    self.respond(id, response);
                }
            }
            server::Output::WsSend { conn, frames } => {
                let id = self.ws.iter().find(|(_, c)| **c == conn).map(|(id, _)| *id);
                if let Some(id) = id {
                    for frame in frames {
                        self.client.handle_ws_frame(now, id, frame);
                    }
                }
                self.server.handle_ws_drained(now, conn);
            }
            // Nothing holds messages here, so nothing waits to read.
            server::Output::Readable { .. } => {}
            server::Output::WsClose { conn, .. } => {
                let id = self.ws.iter().find(|(_, c)| **c == conn).map(|(id, _)| *id);
                if let Some(id) = id {
                    self.ws.remove(&id);
                    self.client.handle_ws_closed(now, id);
                }
            }
            server::Output::Event(event) => self.server_events.push(event),
        }
    }

    fn respond(&mut self, id: RequestId, response: server::Response) {
        let status = response.status().as_u16();
        self.client.handle_response(self.now, id, Ok((status, response.into_body())));
    }

    fn at(&mut self, ms: u64) {
        self.now = self.start + Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        self.client.handle_timeout(self.now);
        self.drive();
    }

    fn client_messages(&self) -> Vec<Data> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                client::Event::Message(data) => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn server_messages(&self) -> Vec<Data> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                server::Event::Message { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn server_sid(&self) -> server::Sid {
        self.server_events
            .iter()
            .find_map(|e| match e {
                server::Event::Opened { sid, .. } => Some(*sid),
                _ => None,
            })
            .expect("a session opened")
    }
}

fn text(t: &str) -> Data {
    Data::Text(t.to_owned().into())
}

#[test]
fn polling_session_exchanges_messages() {
    let mut pair = Pair::new(ClientConfig { upgrade: false, ..ClientConfig::default() });
    pair.drive();
    assert!(
        matches!(pair.client_events.first(), Some(client::Event::Open(info)) if info.ping_interval == Duration::from_millis(300))
    );
    assert!(pair.client.is_open() && !pair.client.is_websocket());
    pair.client.send(Packet::message("hello"));
    pair.client.send(Packet::binary(vec![1u8, 2, 3]));
    pair.drive();
    assert_eq!(pair.server_messages(), [text("hello"), Data::Binary(Bytes::from_static(&[1, 2, 3]))]);
    let sid = pair.server_sid();
    pair.server.send(sid, &Packet::message("from server")).unwrap();
    pair.drive();
    assert_eq!(pair.client_messages(), [text("from server")]);
}

#[test]
fn heartbeats_keep_the_session_alive() {
    let mut pair = Pair::new(ClientConfig::default());
    pair.drive();
    for t in (300..=3000).step_by(300) {
        pair.at(t);
    }
    assert!(pair.client.is_open());
    assert_eq!(pair.server.session_count(), 1);
}

#[test]
fn upgrades_to_websocket() {
    let mut pair = Pair::new(ClientConfig::default());
    pair.drive();
    assert!(pair.client.is_websocket(), "{:?}", pair.client_events);
    assert!(pair.client_events.contains(&client::Event::Upgraded));
    assert!(pair.server_events.iter().any(|e| matches!(e, server::Event::Upgraded { .. })));
    pair.client.send(Packet::message("over websocket"));
    pair.drive();
    assert_eq!(pair.server_messages(), [text("over websocket")]);
    pair.at(300);
    pair.at(600);
    assert!(pair.client.is_open());
}

#[test]
fn messages_sent_during_the_upgrade_arrive_in_order() {
    let mut pair = Pair::new(ClientConfig::default());
    // Interleave sends with every step of the handshake and the upgrade.
    for i in 0..20 {
        pair.client.send(Packet::message(format!("m{i}")));
        if let Some(output) = pair.client.poll_output() {
            pair.on_client_output(output);
        }
        if let Some(output) = pair.server.poll_output() {
            pair.on_server_output(output);
        }
    }
    pair.drive();
    let expected: Vec<Data> = (0..20).map(|i| text(&format!("m{i}"))).collect();
    assert_eq!(pair.server_messages(), expected);
    assert!(pair.client.is_websocket());
}

#[test]
fn websocket_only() {
    let mut pair = Pair::new(ClientConfig { polling: false, ..ClientConfig::default() });
    pair.drive();
    assert!(pair.client.is_open() && pair.client.is_websocket());
    pair.client.send(Packet::message("direct"));
    pair.drive();
    assert_eq!(pair.server_messages(), [text("direct")]);
}

#[test]
fn a_failed_probe_keeps_polling() {
    let mut pair = Pair::new(ClientConfig::default());
    pair.refuse_websocket = true;
    pair.drive();
    assert!(pair.client.is_open() && !pair.client.is_websocket());
    pair.client.send(Packet::message("still polling"));
    pair.drive();
    assert_eq!(pair.server_messages(), [text("still polling")]);
}

#[test]
fn a_dead_server_is_detected() {
    let mut pair = Pair::new(ClientConfig { upgrade: false, ..ClientConfig::default() });
    pair.drive();
    // The server stops answering: nothing it sends reaches the client any more.
    pair.polls.clear();
    pair.now = pair.start + Duration::from_millis(499);
    pair.client.handle_timeout(pair.now);
    assert!(pair.client.is_open());
    pair.now = pair.start + Duration::from_millis(500);
    pair.client.handle_timeout(pair.now);
    assert_eq!(
        pair.client.poll_output(),
        Some(client::Output::Event(client::Event::Closed(CloseReason::PingTimeout)))
    );
}

#[test]
fn client_close_reaches_the_server() {
    for upgrade in [false, true] {
        let mut pair = Pair::new(ClientConfig { upgrade, ..ClientConfig::default() });
        pair.drive();
        pair.client.send(Packet::message("last"));
        pair.client.close();
        pair.drive();
        assert_eq!(pair.server_messages(), [text("last")], "upgrade {upgrade}");
        assert!(pair.client_events.contains(&client::Event::Closed(CloseReason::ForcedClose)));
        assert_eq!(pair.server.session_count(), 0, "upgrade {upgrade}");
    }
}

#[test]
fn server_close_reaches_the_client() {
    let mut pair = Pair::new(ClientConfig { upgrade: false, ..ClientConfig::default() });
    pair.drive();
    let sid = pair.server_sid();
    pair.server.close(pair.now, sid);
    pair.drive();
    assert!(pair.client_events.contains(&client::Event::Closed(CloseReason::TransportClose)));
}

#[test]
fn refused_handshakes_are_transport_errors() {
    let mut client = Client::new(ClientConfig::default());
    let Some(client::Output::Http { id, .. }) = client.poll_output() else { panic!() };
    client.handle_response(Instant::now(), id, Ok((403, Bytes::from_static(br#"{"code":4}"#))));
    assert!(matches!(
        client.poll_output(),
        Some(client::Output::Event(client::Event::Closed(CloseReason::TransportError(_))))
    ));
}

#[test]
fn a_refusal_s_close_reason_shows_the_start_of_its_body() {
    let mut client = Client::new(ClientConfig::default());
    let Some(client::Output::Http { id, .. }) = client.poll_output() else { panic!() };
    let page = format!(r#"{{"code":3,"message":"Bad request"}}{}"#, "x".repeat(1_000_000));
    client.handle_response(Instant::now(), id, Ok((400, Bytes::from(page))));
    let Some(client::Output::Event(client::Event::Closed(CloseReason::TransportError(why)))) =
        client.poll_output()
    else {
        panic!()
    };
    assert!(why.starts_with(r#"HTTP 400: {"code":3,"message":"Bad request"}xxx"#), "{why}");
    assert!(why.len() < 300, "{} bytes", why.len());
}

#[test]
fn response_bodies_are_bounded_tightly_until_the_server_said_its_limits() {
    let mut client =
        Client::new(ClientConfig { upgrade: false, max_message: 5_000_000, ..ClientConfig::default() });
    let Some(client::Output::Http { id, max_body, .. }) = client.poll_output() else { panic!() };
    assert_eq!(max_body, engineio_proto::client::HANDSHAKE_BODY_LIMIT);
    let open =
        r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    client.handle_response(Instant::now(), id, Ok((200, Bytes::from(open))));
    let poll = std::iter::from_fn(|| client.poll_output()).find_map(|output| match output {
        client::Output::Http { max_body, .. } => Some(max_body),
        _ => None,
    });
    assert_eq!(poll, Some(5_000_000));
}

#[test]
fn requests_go_to_the_configured_server_path_and_query() {
    let mut config = ClientConfig::from_url("https://example.com:8443/ignored?v=1").unwrap();
    config.path = "/realtime".into();
    config.add_query("name", "Zoë & co");
    let mut client = Client::new(config.clone());
    let Some(client::Output::Http { target, .. }) = client.poll_output() else { panic!() };
    assert_eq!(target, "/realtime/?EIO=4&transport=polling&v=1&name=Zo%C3%AB%20%26%20co");
    let mut client = Client::new(ClientConfig { polling: false, ..config });
    let Some(client::Output::WsConnect { url, .. }) = client.poll_output() else { panic!() };
    assert_eq!(
        url,
        "wss://example.com:8443/realtime/?EIO=4&transport=websocket&v=1&name=Zo%C3%AB%20%26%20co"
    );
}

#[test]
fn a_websocket_message_over_the_limit_fails_the_session() {
    let mut pair = Pair::new(ClientConfig { polling: false, max_message: 64, ..ClientConfig::default() });
    pair.drive();
    let id = *pair.ws.keys().next().expect("the session's websocket");
    pair.client.handle_ws_too_large(pair.now, id);
    pair.drive();
    let failed = client::Event::Closed(CloseReason::TransportError("message over 64 bytes".into()));
    assert!(pair.client_events.contains(&failed), "{:?}", pair.client_events);
    assert!(!pair.client.is_open());
}

#[test]
fn a_poll_of_an_open_session_may_take_the_ping_window() {
    let config =
        ClientConfig { upgrade: false, request_timeout: Duration::from_secs(20), ..ClientConfig::default() };
    let mut client = Client::new(config);
    let Some(client::Output::Http { id, timeout, .. }) = client.poll_output() else { panic!() };
    assert_eq!(timeout, Duration::from_secs(20), "the handshake");
    let open =
        r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let now = Instant::now();
    client.handle_response(now, id, Ok((200, Bytes::from(open))));
    let timeouts = |client: &mut Client| {
        std::iter::from_fn(|| client.poll_output())
            .filter_map(|output| match output {
                client::Output::Http { method, timeout, .. } => Some((method, timeout)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(timeouts(&mut client), [(client::Method::Get, Duration::from_secs(45))], "held up to a ping");
    assert!(client.is_writable());
    assert!(client.send(Packet::message("hi")));
    assert_eq!(timeouts(&mut client), [(client::Method::Post, Duration::from_secs(20))]);
    assert!(!client.is_writable(), "a POST in flight: what is sent now waits");
}

#[test]
fn a_ping_flood_gets_one_pong_at_a_time() {
    let open =
        r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let now = Instant::now();
    let pongs = |outputs: &mut dyn Iterator<Item = client::Output>| -> Vec<String> {
        outputs
            .filter_map(|output| match output {
                client::Output::WsSend { frames, .. } => Some(format!("{frames:?}")),
                client::Output::Http { method: Method::Post, body, .. } => {
                    Some(String::from_utf8(body.to_vec()).unwrap())
                }
                _ => None,
            })
            .collect()
    };

    // WebSocket: a pong waits for its batch to be written; the pings meanwhile get none.
    let mut client = Client::new(ClientConfig { polling: false, ..ClientConfig::default() });
    let Some(client::Output::WsConnect { id, .. }) = client.poll_output() else { panic!() };
    client.handle_ws_open(now, id);
    client.handle_ws_frame(now, id, engineio_proto::Frame::Text(open.into()));
    while client.poll_output().is_some() {}
    for _ in 0..10_000 {
        client.handle_ws_frame(now, id, engineio_proto::Frame::Text("2".into()));
    }
    assert_eq!(pongs(&mut std::iter::from_fn(|| client.poll_output())), [r#"[Text("3")]"#]);
    // Written: the server may have had it before its last pings, which get one more.
    client.handle_ws_drained(now, id);
    assert_eq!(pongs(&mut std::iter::from_fn(|| client.poll_output())), [r#"[Text("3")]"#]);
    client.handle_ws_drained(now, id);
    assert!(pongs(&mut std::iter::from_fn(|| client.poll_output())).is_empty(), "nothing more owed");
    client.handle_ws_frame(now, id, engineio_proto::Frame::Text("2".into()));
    let next = pongs(&mut std::iter::from_fn(|| client.poll_output()));
    assert_eq!(next, [r#"[Text("3")]"#], "the next ping gets its own");

    // Polling: one pong in the POST in flight, one waiting for the next.
    let mut client = Client::new(ClientConfig { upgrade: false, ..ClientConfig::default() });
    let Some(client::Output::Http { id, .. }) = client.poll_output() else { panic!() };
    client.handle_response(now, id, Ok((200, Bytes::from(open))));
    let get = std::iter::from_fn(|| client.poll_output())
        .find_map(|output| match output {
            client::Output::Http { id, method: Method::Get, .. } => Some(id),
            _ => None,
        })
        .unwrap();
    let pings = vec!["2"; 10_000].join("\x1e");
    client.handle_response(now, get, Ok((200, Bytes::from(pings))));
    let mut outputs: Vec<client::Output> = std::iter::from_fn(|| client.poll_output()).collect();
    let post = outputs
        .iter()
        .find_map(|output| match output {
            client::Output::Http { id, method: Method::Post, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    assert_eq!(pongs(&mut outputs.drain(..)), ["3"]);
    client.handle_response(now, post, Ok((200, Bytes::from_static(b"ok"))));
    assert_eq!(pongs(&mut std::iter::from_fn(|| client.poll_output())), ["3"], "the one that waited");
}
