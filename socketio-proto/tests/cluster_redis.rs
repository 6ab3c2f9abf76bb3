//! The Redis adapter's protocol, nodes wired together by an in-memory bus and a fake clock:
//! what each operation publishes (exact bytes where they matter), what the other nodes do
//! with it, how answers are gathered, and what a timeout or a lost Redis returns.

use std::time::{Duration, Instant};

use bytes::Bytes;
use socketio_proto::cluster::msgpack;
use socketio_proto::cluster::redis::{
    Answer, Event, LocalSockets, Output, PubSub, RedisConfig, RedisNode, SocketDetails, SubscriptionMode,
};
use socketio_proto::server::{Room, Selector, SocketId};
use socketio_proto::{Namespace, Payload, Value};

/// One node and what it has seen.
struct Member {
    node: RedisNode,
    channels: Vec<String>,
    patterns: Vec<String>,
    sockets: Sockets,
    events: Vec<Event>,
}

/// A node's sockets as `fetch` describes them (id, rooms), and as `select` finds them.
#[derive(Default)]
struct Sockets(Vec<(String, Vec<&'static str>)>, Vec<(SocketId, Vec<&'static str>)>);

fn socket_id(n: u128) -> SocketId {
    SocketId::from(engineio_proto::server::Sid::from_u128(n))
}

impl LocalSockets for Sockets {
    fn select(&self, _: &Namespace, selector: &Selector) -> Vec<SocketId> {
        self.1
            .iter()
            .filter(|(_, rooms)| selector.rooms.iter().any(|r| rooms.contains(&&**r)))
            .map(|(id, _)| *id)
            .collect()
    }

    fn rooms(&self, _: &Namespace) -> Vec<Room> {
        let mut rooms: Vec<Room> =
            self.0.iter().flat_map(|(_, rooms)| rooms.iter().map(|r| Room::from(*r))).collect();
        rooms.sort();
        rooms.dedup();
        rooms
    }

    fn fetch(&self, _: &Namespace, selector: &Selector) -> Vec<SocketDetails> {
        self.0
            .iter()
            .filter(|(_, rooms)| {
                selector.rooms.is_empty() || selector.rooms.iter().any(|r| rooms.contains(&&**r))
            })
            .map(|(id, rooms)| SocketDetails {
                id: id.clone(),
                handshake: Value::Object(vec![("auth".into(), Value::Object(vec![]))]),
                rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
                data: Value::Object(vec![("node".into(), "x".into())]),
            })
            .collect()
    }
}

/// Nodes on one bus. `Redis` counts subscribers of a request channel as `NUMSUB` does.
struct Cluster {
    members: Vec<Member>,
    now: Instant,
    /// Every publication, in order.
    published: Vec<(usize, String, Bytes)>,
    /// Redis is unreachable: server counts fail and nothing is delivered.
    down: bool,
}

fn main_ns() -> Namespace {
    Namespace::main()
}

impl Cluster {
    fn new(nodes: usize) -> Self {
        Cluster::with(nodes, RedisConfig::default())
    }

    fn sharded(nodes: usize, mode: SubscriptionMode) -> Self {
        Cluster::with(nodes, RedisConfig { pubsub: PubSub::Sharded(mode), ..RedisConfig::default() })
    }

    fn with(nodes: usize, config: RedisConfig) -> Self {
        let members = (0..nodes)
            .map(|n| {
                let mut counter = (n as u128 + 1) * 1_000_003;
                let node = RedisNode::new(
                    config.clone(),
                    Box::new(move || {
                        counter = counter.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        counter
                    }),
                );
                Member {
                    node,
                    channels: Vec::new(),
                    patterns: Vec::new(),
                    sockets: Sockets::default(),
                    events: Vec::new(),
                }
            })
            .collect();
        let mut cluster = Cluster { members, now: Instant::now(), published: Vec::new(), down: false };
        for member in &mut cluster.members {
            member.node.add_namespace(&main_ns());
        }
        cluster.drive();
        cluster
    }

    fn subscribers(&self, channel: &str) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| {
                let m = &self.members[i];
                m.channels.iter().any(|c| c == channel)
                    || m.patterns
                        .iter()
                        .any(|p| p.strip_suffix('*').is_some_and(|prefix| channel.starts_with(prefix)))
            })
            .collect()
    }

    /// Runs every node's outputs until nothing moves.
    fn drive(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.members.len() {
                while let Some(output) = self.members[i].node.poll_output() {
                    moved = true;
                    match output {
                        Output::Subscribe { channels, patterns } => {
                            self.members[i].channels.extend(channels);
                            self.members[i].patterns.extend(patterns);
                        }
                        Output::Unsubscribe { channels, patterns } => {
                            self.members[i].channels.retain(|c| !channels.contains(c));
                            self.members[i].patterns.retain(|p| !patterns.contains(p));
                        }
                        Output::Append { stream, fields, .. } => {
                            // Every node reads the stream (XREAD), the writer too.
                            let entry: Vec<(Bytes, Bytes)> = fields
                                .iter()
                                .map(|(k, v)| (Bytes::from_static(k.as_bytes()), v.clone()))
                                .collect();
                            self.published.push((i, stream.clone(), fields[3].1.clone()));
                            if self.down {
                                continue;
                            }
                            let id = format!("1-{}", self.published.len());
                            for j in 0..self.members.len() {
                                let Member { node, sockets, .. } = &mut self.members[j];
                                node.handle_entry(&id, &entry, sockets);
                            }
                        }
                        Output::Publish { channel, message } => {
                            self.published.push((i, channel.clone(), message.clone()));
                            if self.down {
                                continue;
                            }
                            for j in self.subscribers(&channel) {
                                let Member { node, sockets, .. } = &mut self.members[j];
                                node.handle_message(&channel, &message, sockets);
                            }
                        }
                        Output::CountServers { channel, token } => match self.down {
                            true => self.members[i].node.handle_server_count_failed(token),
                            false => {
                                let count = self.subscribers(&channel).len() as u64;
                                self.members[i].node.handle_server_count(token, count);
                            }
                        },
                        Output::Event(event) => self.members[i].events.push(*event),
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for member in &mut self.members {
            member.node.handle_timeout(self.now);
        }
        self.drive();
    }

    fn take(&mut self, node: usize) -> Vec<Event> {
        std::mem::take(&mut self.members[node].events)
    }
}

fn event(json: &str) -> Payload {
    Payload::from_json(json).unwrap()
}

#[test]
fn a_broadcast_reaches_the_other_nodes_as_the_node_adapter_writes_it() {
    let mut cluster = Cluster::new(3);
    let selector = Selector { except: vec!["muted".into()], volatile: true, ..Selector::to("lobby") };
    cluster.members[0].node.broadcast(&main_ns(), &selector, &event(r#"["chat",{"text":"hi","n":1.5}]"#));
    cluster.drive();
    let (from, channel, message) = cluster.published.last().unwrap().clone();
    assert_eq!((from, channel.as_str()), (0, "socket.io#/#lobby#"));
    let uid = cluster.members[0].node.uid().to_owned();
    let expected = Value::Array(vec![
        uid.as_str().into(),
        Value::Object(vec![
            ("type".into(), 2.into()),
            (
                "data".into(),
                Value::Array(vec![
                    "chat".into(),
                    Value::Object(vec![("text".into(), "hi".into()), ("n".into(), 1.5.into())]),
                ]),
            ),
            ("nsp".into(), "/".into()),
        ]),
        Value::Object(vec![
            ("rooms".into(), Value::Array(vec!["lobby".into()])),
            ("except".into(), Value::Array(vec!["muted".into()])),
            ("flags".into(), Value::Object(vec![("volatile".into(), true.into())])),
        ]),
    ]);
    assert_eq!(message, Bytes::from(msgpack::encode(&expected)));
    assert!(cluster.take(0).is_empty(), "a node ignores its own broadcasts");
    for node in [1, 2] {
        let events = cluster.take(node);
        let [Event::Broadcast { namespace, selector, payload, offset: None }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(namespace, &main_ns());
        assert_eq!(payload.json().as_ref() as &str, r#"["chat",{"text":"hi","n":1.5}]"#);
        let local =
            Selector { except: vec!["muted".into()], volatile: true, local: true, ..Selector::to("lobby") };
        assert_eq!(selector, &local);
    }
}

#[test]
fn binary_crosses_as_msgpack_bin_and_comes_back_as_an_attachment() {
    let mut cluster = Cluster::new(2);
    let payload =
        Payload::from_value(&Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(&[1, 2, 3]))]));
    cluster.members[0].node.broadcast(&main_ns(), &Selector::all(), &payload);
    cluster.drive();
    assert_eq!(cluster.published.last().unwrap().1, "socket.io#/#");
    let events = cluster.take(1);
    let [Event::Broadcast { payload: received, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(received, &payload);
}

#[test]
fn local_operations_publish_nothing() {
    let mut cluster = Cluster::new(2);
    let before = cluster.published.len();
    let local = Selector { local: true, ..Selector::all() };
    cluster.members[0].node.broadcast(&main_ns(), &local, &event(r#"["a"]"#));
    cluster.members[0].node.sockets_join(&main_ns(), &local, &["r".into()]);
    cluster.members[0].node.disconnect_sockets(&main_ns(), &local, true);
    cluster.drive();
    assert_eq!(cluster.published.len(), before);
}

#[test]
fn fetch_sockets_gathers_every_node_and_times_out_with_what_came() {
    let mut cluster = Cluster::new(3);
    cluster.members[1].sockets =
        Sockets(vec![("b1".into(), vec!["b1", "room"]), ("b2".into(), vec!["b2"])], vec![]);
    cluster.members[2].sockets = Sockets(vec![("c1".into(), vec!["c1", "room"])], vec![]);
    let mine = SocketDetails {
        id: "a1".into(),
        handshake: Value::Null,
        rooms: vec!["room".into()],
        data: Value::Null,
    };
    let now = cluster.now;
    let id =
        cluster.members[0].node.fetch_sockets(now, &main_ns(), &Selector::to("room"), vec![mine.clone()]);
    cluster.drive();
    let (_, _, request) = cluster
        .published
        .iter()
        .find(|(from, channel, _)| *from == 0 && channel == "socket.io-request#/#")
        .unwrap()
        .clone();
    let request: serde_json::Value = serde_json::from_slice(&request).unwrap();
    assert_eq!(request["type"], 5);
    assert_eq!(request["opts"], serde_json::json!({"rooms": ["room"], "except": []}));
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Fetched(sockets), complete: true }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids[0], "a1");
    let mut others = ids[1..].to_vec();
    others.sort_unstable();
    assert_eq!(others, ["b1", "c1"]);
    let b1 = sockets.iter().find(|s| s.id == "b1").unwrap();
    assert_eq!(b1.rooms, vec![Room::from("b1"), Room::from("room")]);
    assert_eq!(b1.data, Value::Object(vec![("node".into(), "x".into())]));
    assert_eq!(cluster.members[0].node.pending_requests(), 0);

    // Node 2 stays subscribed but goes silent (a node that knows no namespace): the answer
    // waits for the timeout and holds node 1's part.
    cluster.members[2].node = RedisNode::new(RedisConfig::default(), Box::new(|| 7));
    let id = cluster.members[0].node.fetch_sockets(now, &main_ns(), &Selector::to("room"), vec![mine]);
    cluster.drive();
    assert!(cluster.take(0).is_empty(), "still waiting for node 2");
    cluster.advance(Duration::from_millis(4999));
    assert!(cluster.take(0).is_empty());
    cluster.advance(Duration::from_millis(1));
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Fetched(sockets), complete: false }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
    assert_eq!(cluster.members[0].node.poll_timeout(), None);
}

#[test]
fn server_side_emit_with_ack_collects_one_reply_per_other_node() {
    let mut cluster = Cluster::new(3);
    let now = cluster.now;
    let id = cluster.members[0].node.server_side_emit_with_ack(now, &main_ns(), &event(r#"["hello","x"]"#));
    cluster.drive();
    assert!(cluster.take(0).is_empty());
    for node in [1, 2] {
        let events = cluster.take(node);
        let [Event::ServerSideEmit { payload, reply: Some(reply), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(payload.json().as_ref() as &str, r#"["hello","x"]"#);
        let answer = Value::String(format!("node{node}:x"));
        cluster.members[node].node.server_side_reply(&reply.clone(), &answer);
    }
    cluster.drive();
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Replies(replies), complete: true }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    assert_eq!(replies, &[Value::from("node1:x"), Value::from("node2:x")]);
}

#[test]
fn server_side_emit_without_ack_expects_nothing() {
    let mut cluster = Cluster::new(2);
    cluster.members[0].node.server_side_emit(&main_ns(), &event(r#"["tick",1]"#));
    cluster.drive();
    let events = cluster.take(1);
    assert!(matches!(events.as_slice(), [Event::ServerSideEmit { reply: None, .. }]), "{events:?}");
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
}

#[test]
fn alone_a_request_completes_at_once() {
    let mut cluster = Cluster::new(1);
    let now = cluster.now;
    let id = cluster.members[0].node.server_side_emit_with_ack(now, &main_ns(), &event(r#"["hello"]"#));
    cluster.drive();
    let events = cluster.take(0);
    assert_eq!(events, vec![Event::Done { id, result: Answer::Replies(vec![]), complete: true }]);
    let id = cluster.members[0].node.server_count(now, &main_ns());
    cluster.drive();
    assert_eq!(cluster.take(0), vec![Event::Done { id, result: Answer::ServerCount(1), complete: true }]);
}

#[test]
fn room_operations_and_disconnects_apply_on_the_other_nodes() {
    let mut cluster = Cluster::new(2);
    let selector = Selector::to("a");
    cluster.members[0].node.sockets_join(&main_ns(), &selector, &["b".into(), "c".into()]);
    cluster.members[0].node.sockets_leave(&main_ns(), &selector, &["d".into()]);
    cluster.members[0].node.disconnect_sockets(&main_ns(), &selector, true);
    cluster.drive();
    let local = Selector { local: true, ..Selector::to("a") };
    assert_eq!(
        cluster.take(1),
        vec![
            Event::Join {
                namespace: main_ns(),
                selector: local.clone(),
                rooms: vec!["b".into(), "c".into()]
            },
            Event::Leave { namespace: main_ns(), selector: local.clone(), rooms: vec!["d".into()] },
            Event::Disconnect { namespace: main_ns(), selector: local, close: true },
        ]
    );
    let join: serde_json::Value =
        serde_json::from_slice(&cluster.published[cluster.published.len() - 3].2).unwrap();
    assert_eq!(join["type"], 2);
    assert_eq!(join["rooms"], serde_json::json!(["b", "c"]));
    assert!(cluster.take(0).is_empty(), "a node ignores its own requests");
}

#[test]
fn a_broadcast_with_acks_completes_when_every_node_reported_and_every_client_answered() {
    let mut cluster = Cluster::new(3);
    let now = cluster.now;
    let payload = event(r#"["question"]"#);
    let id = cluster.members[0].node.broadcast_with_ack(
        now,
        &main_ns(),
        &Selector::all(),
        &payload,
        Duration::from_secs(2),
    );
    cluster.drive();
    let mut replies = Vec::new();
    for member in [1, 2] {
        let events = cluster.take(member);
        let [Event::BroadcastWithAck { reply, payload: asked, timeout, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(asked, &payload);
        assert_eq!(*timeout, Some(Duration::from_secs(2)), "the requester's timeout travels in its flags");
        replies.push(reply.clone());
    }
    // Node 1 has two recipients; node 2 has none but must still report.
    cluster.members[1].node.broadcast_client_count(&replies[0], 2);
    cluster.members[1].node.broadcast_ack(&replies[0], &event(r#"["yes"]"#));
    cluster.members[1].node.broadcast_ack(&replies[0], &event(r#"[{"n":2}]"#));
    cluster.drive();
    assert!(cluster.take(0).is_empty(), "node 2 has not reported its count");
    cluster.members[2].node.broadcast_client_count(&replies[1], 0);
    cluster.drive();
    let answers = vec!["yes".into(), Value::Object(vec![("n".into(), 2.into())])];
    assert_eq!(
        cluster.take(0),
        vec![Event::Done { id, result: Answer::Acks { answers, missing: 0 }, complete: true }]
    );
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
}

#[test]
fn a_broadcast_with_acks_times_out_with_the_answers_that_came() {
    let mut cluster = Cluster::new(2);
    let now = cluster.now;
    let id = cluster.members[0].node.broadcast_with_ack(
        now,
        &main_ns(),
        &Selector::all(),
        &event(r#"["question"]"#),
        Duration::from_secs(2),
    );
    cluster.drive();
    let events = cluster.take(1);
    let [Event::BroadcastWithAck { reply, .. }] = events.as_slice() else { panic!("{events:?}") };
    let reply = reply.clone();
    cluster.members[1].node.broadcast_client_count(&reply, 2);
    cluster.members[1].node.broadcast_ack(&reply, &event(r#"["yes"]"#));
    cluster.drive();
    assert!(cluster.take(0).is_empty(), "one client has not answered");
    assert_eq!(cluster.members[0].node.poll_timeout(), Some(now + Duration::from_secs(2)));
    cluster.advance(Duration::from_secs(2));
    assert_eq!(
        cluster.take(0),
        vec![Event::Done {
            id,
            result: Answer::Acks { answers: vec!["yes".into()], missing: 1 },
            complete: false
        }]
    );
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
    cluster.members[1].node.broadcast_ack(&reply, &event(r#"["late"]"#));
    cluster.drive();
    assert!(cluster.take(0).is_empty(), "answers after the timeout are dropped");
}

#[test]
fn without_redis_a_request_returns_the_local_part_as_incomplete() {
    let mut cluster = Cluster::new(2);
    cluster.down = true;
    let now = cluster.now;
    let id = cluster.members[0].node.all_rooms(now, &main_ns(), vec!["mine".into()]);
    cluster.drive();
    assert_eq!(
        cluster.take(0),
        vec![Event::Done { id, result: Answer::Rooms(vec!["mine".into()]), complete: false }]
    );
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
}

#[test]
fn garbage_on_the_channels_is_dropped() {
    for mut cluster in [Cluster::new(1), Cluster::sharded(1, SubscriptionMode::Dynamic)] {
        let node = &mut cluster.members[0].node;
        let own = format!("socket.io#/#{}#", node.uid());
        let garbage: &[&[u8]] = &[
            b"",
            b"{",
            b"{\"type\":99}",
            b"{\"type\":5}",
            b"{\"uid\":\"x\",\"nsp\":\"/\",\"type\":3,\"data\":{}}",
            b"{\"uid\":\"x\",\"nsp\":\"/\",\"type\":7,\"data\":{\"opts\":7}}",
            b"{\"uid\":\"x\",\"nsp\":\"/\",\"type\":9,\"data\":{\"packet\":{}}}",
            b"{\"uid\":\"x\",\"nsp\":\"/\",\"type\":8,\"data\":{\"requestId\":[]}}",
            &[0x93, 0xc0, 0xc0, 0xc0],
            &[0xc1],
            b"\xff\xff",
            b"[1,2]",
        ];
        for channel in [
            "socket.io#/#",
            "socket.io#/#room#",
            "socket.io-request#/#",
            "socket.io-response#/#",
            "other",
            &own,
        ] {
            for message in garbage {
                node.handle_message(channel, message, &Sockets::default());
            }
        }
        cluster.drive();
        let events = cluster.take(0);
        assert!(events.is_empty(), "{events:?}");
        assert!(cluster.published.is_empty(), "nothing answered");
    }
}

#[test]
fn socket_ids_and_rooms_are_gathered_from_every_node() {
    let mut cluster = Cluster::new(3);
    cluster.members[1].sockets =
        Sockets(vec![("b1".into(), vec!["lobby", "x"])], vec![(socket_id(1), vec!["lobby"])]);
    cluster.members[2].sockets = Sockets(
        vec![("c1".into(), vec!["y"])],
        vec![(socket_id(2), vec!["lobby"]), (socket_id(3), vec!["other"])],
    );
    let now = cluster.now;
    let id = cluster.members[0].node.sockets(now, &main_ns(), &["lobby".into()], &[socket_id(9)]);
    cluster.drive();
    let (_, _, request) = cluster
        .published
        .iter()
        .find(|(from, channel, _)| *from == 0 && channel == "socket.io-request#/#")
        .unwrap();
    let request: serde_json::Value = serde_json::from_slice(request).unwrap();
    assert_eq!(
        (request["type"].clone(), request["rooms"].clone()),
        (serde_json::json!(0), serde_json::json!(["lobby"]))
    );
    let mut expected: Vec<String> = [9, 1, 2].map(|n| socket_id(n).to_string()).to_vec();
    expected.sort_unstable();
    assert_eq!(cluster.take(0), vec![Event::Done { id, result: Answer::Sockets(expected), complete: true }]);

    let id = cluster.members[0].node.all_rooms(now, &main_ns(), vec!["mine".into(), "x".into()]);
    cluster.drive();
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Rooms(rooms), complete: true }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    let mut rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
    rooms.sort_unstable();
    assert_eq!(rooms, ["lobby", "mine", "x", "y"]);
}

// ---- the sharded adapter (`createShardedAdapter`) ----

fn channels_of(cluster: &Cluster, node: usize) -> Vec<&str> {
    cluster.members[node].channels.iter().map(String::as_str).collect()
}

#[test]
fn sharded_a_broadcast_to_one_room_goes_to_that_room_s_channel_which_only_its_nodes_hear() {
    let mut cluster = Cluster::sharded(3, SubscriptionMode::Dynamic);
    let uid = cluster.members[0].node.uid().to_owned();
    assert_eq!(uid.len(), 16, "randomBytes(8) in hexadecimal");
    assert_eq!(channels_of(&cluster, 0), ["socket.io#/#".to_owned(), format!("socket.io#/#{uid}#")]);
    cluster.members[1].node.room_created(&main_ns(), &"lobby".into());
    cluster.drive();
    assert!(channels_of(&cluster, 1).contains(&"socket.io#/#lobby#"));

    cluster.members[0].node.broadcast(&main_ns(), &Selector::to("lobby"), &event(r#"["chat","hi"]"#));
    cluster.drive();
    let (_, channel, message) = cluster.published.last().unwrap().clone();
    assert_eq!(channel, "socket.io#/#lobby#");
    assert_eq!(
        std::str::from_utf8(&message).unwrap(),
        format!(
            r#"{{"uid":"{uid}","nsp":"/","type":3,"data":{{"packet":{{"type":2,"data":["chat","hi"],"nsp":"/"}},"opts":{{"rooms":["lobby"],"except":[],"flags":{{}}}}}}}}"#
        )
    );
    let events = cluster.take(1);
    let [Event::Broadcast { selector, payload, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(selector, &Selector { local: true, ..Selector::to("lobby") });
    assert_eq!(payload.json().as_ref() as &str, r#"["chat","hi"]"#);
    assert!(cluster.take(2).is_empty(), "node 2 has no socket in the room");

    cluster.members[1].node.room_deleted(&main_ns(), "lobby");
    cluster.drive();
    assert!(!channels_of(&cluster, 1).contains(&"socket.io#/#lobby#"));

    // A room that looks like a Node socket's id, several rooms, or everyone: the namespace's
    // channel, which every node hears.
    let node_socket = Selector::to("abcdefghij0123456789");
    let several = Selector { rooms: vec!["a".into(), "b".into()], ..Selector::all() };
    for selector in [node_socket, several, Selector::all()] {
        cluster.members[0].node.broadcast(&main_ns(), &selector, &event(r#"["x"]"#));
        cluster.drive();
        assert_eq!(cluster.published.last().unwrap().1, "socket.io#/#");
        for node in [1, 2] {
            assert!(matches!(cluster.take(node).as_slice(), [Event::Broadcast { .. }]));
        }
    }
}

#[test]
fn sharded_room_channels_follow_the_mode_and_come_back_after_a_reconnection() {
    let ours = "A".repeat(22);
    let node_like = "B".repeat(20);
    for (mode, expected) in [
        (SubscriptionMode::Static, vec![]),
        (SubscriptionMode::Dynamic, vec![format!("socket.io#/#{ours}#")]),
        (
            SubscriptionMode::DynamicPrivate,
            vec![format!("socket.io#/#{ours}#"), format!("socket.io#/#{node_like}#")],
        ),
    ] {
        let mut cluster = Cluster::sharded(1, mode);
        let node = &mut cluster.members[0].node;
        node.room_created(&main_ns(), &ours.as_str().into());
        node.room_created(&main_ns(), &node_like.as_str().into());
        cluster.drive();
        let rooms: Vec<&str> = channels_of(&cluster, 0).into_iter().skip(2).collect();
        assert_eq!(rooms, expected, "{mode:?}");
        let subscriptions = cluster.members[0].node.subscriptions();
        let [Output::Subscribe { channels, patterns }] = subscriptions.as_slice() else {
            panic!("{subscriptions:?}")
        };
        assert!(patterns.is_empty());
        assert_eq!(channels[2..], expected[..], "{mode:?}: resubscribed after a reconnection");
    }
}

#[test]
fn sharded_binary_goes_as_msgpack() {
    let mut cluster = Cluster::sharded(2, SubscriptionMode::Dynamic);
    let payload =
        Payload::from_value(&Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(&[1, 2, 3]))]));
    cluster.members[0].node.broadcast(&main_ns(), &Selector::all(), &payload);
    cluster.drive();
    let (_, _, message) = cluster.published.last().unwrap().clone();
    let decoded = msgpack::decode(&message).unwrap();
    assert_eq!(decoded.get("type"), Some(&Value::from(3)));
    let events = cluster.take(1);
    let [Event::Broadcast { payload: received, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(received, &payload);
}

#[test]
fn sharded_requests_are_answered_on_the_requester_s_own_channel() {
    let mut cluster = Cluster::sharded(3, SubscriptionMode::Dynamic);
    cluster.members[1].sockets = Sockets(vec![("b1".into(), vec!["b1", "room"])], vec![]);
    cluster.members[2].sockets = Sockets(vec![("c1".into(), vec!["c1", "room", "z"])], vec![]);
    let now = cluster.now;
    let uid = cluster.members[0].node.uid().to_owned();

    let id = cluster.members[0].node.server_count(now, &main_ns());
    cluster.drive();
    assert_eq!(cluster.take(0), vec![Event::Done { id, result: Answer::ServerCount(3), complete: true }]);

    let id = cluster.members[0].node.fetch_sockets(now, &main_ns(), &Selector::to("room"), vec![]);
    cluster.drive();
    let (_, channel, request) = cluster.published.iter().find(|(from, _, _)| *from == 0).unwrap().clone();
    assert_eq!(channel, "socket.io#/#");
    let request: serde_json::Value = serde_json::from_slice(&request).unwrap();
    assert_eq!(
        (request["type"].clone(), request["uid"].clone()),
        (serde_json::json!(7), serde_json::json!(uid))
    );
    assert_eq!(request["data"]["opts"]["rooms"], serde_json::json!(["room"]));
    let answers: Vec<&str> = cluster
        .published
        .iter()
        .filter(|(from, _, _)| *from != 0)
        .map(|(_, channel, _)| channel.as_str())
        .collect();
    assert_eq!(answers, [format!("socket.io#/#{uid}#"), format!("socket.io#/#{uid}#")]);
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Fetched(sockets), complete: true }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    let mut ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["b1", "c1"]);

    // Ids and rooms have no requests of their own here: they come from the fetched sockets.
    let id = cluster.members[0].node.sockets(now, &main_ns(), &["room".into()], &[]);
    cluster.drive();
    let expected = Answer::Sockets(vec!["b1".into(), "c1".into()]);
    assert_eq!(cluster.take(0), vec![Event::Done { id, result: expected, complete: true }]);
    let id = cluster.members[0].node.all_rooms(now, &main_ns(), vec!["mine".into()]);
    cluster.drive();
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Rooms(rooms), complete: true }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(*done, id);
    let mut rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
    rooms.sort_unstable();
    assert_eq!(rooms, ["b1", "c1", "mine", "room", "z"]);

    let id = cluster.members[0].node.server_side_emit_with_ack(now, &main_ns(), &event(r#"["hello","x"]"#));
    cluster.drive();
    for node in [1, 2] {
        let events = cluster.take(node);
        let [Event::ServerSideEmit { payload, reply: Some(reply), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(payload.json().as_ref() as &str, r#"["hello","x"]"#);
        cluster.members[node].node.server_side_reply(&reply.clone(), &Value::String(format!("n{node}")));
    }
    cluster.drive();
    let expected = Answer::Replies(vec!["n1".into(), "n2".into()]);
    assert_eq!(cluster.take(0), vec![Event::Done { id, result: expected, complete: true }]);
    assert_eq!(cluster.members[0].node.pending_requests(), 0);
}

#[test]
fn sharded_broadcast_with_acks_and_room_operations() {
    let mut cluster = Cluster::sharded(2, SubscriptionMode::Dynamic);
    let now = cluster.now;
    cluster.members[1].node.room_created(&main_ns(), &"lobby".into());
    cluster.drive();
    let id = cluster.members[0].node.broadcast_with_ack(
        now,
        &main_ns(),
        &Selector::to("lobby"),
        &event(r#"["question"]"#),
        Duration::from_secs(2),
    );
    cluster.drive();
    assert_eq!(cluster.published.last().unwrap().1, "socket.io#/#", "acks need every node, not the room's");
    let events = cluster.take(1);
    let [Event::BroadcastWithAck { reply, timeout, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(*timeout, Some(Duration::from_secs(2)));
    let reply = reply.clone();
    cluster.members[1].node.broadcast_client_count(&reply, 1);
    cluster.members[1].node.broadcast_ack(&reply, &event(r#"["yes"]"#));
    cluster.drive();
    assert_eq!(
        cluster.take(0),
        vec![Event::Done {
            id,
            result: Answer::Acks { answers: vec!["yes".into()], missing: 0 },
            complete: true
        }]
    );

    let selector = Selector::to("a");
    cluster.members[0].node.sockets_join(&main_ns(), &selector, &["b".into()]);
    cluster.members[0].node.sockets_leave(&main_ns(), &selector, &["c".into()]);
    cluster.members[0].node.disconnect_sockets(&main_ns(), &selector, false);
    cluster.drive();
    let local = Selector { local: true, ..Selector::to("a") };
    assert_eq!(
        cluster.take(1),
        vec![
            Event::Join { namespace: main_ns(), selector: local.clone(), rooms: vec!["b".into()] },
            Event::Leave { namespace: main_ns(), selector: local.clone(), rooms: vec!["c".into()] },
            Event::Disconnect { namespace: main_ns(), selector: local, close: false },
        ]
    );
    let join: serde_json::Value =
        serde_json::from_slice(&cluster.published[cluster.published.len() - 3].2).unwrap();
    assert_eq!(
        (join["type"].clone(), join["data"]["rooms"].clone()),
        (serde_json::json!(4), serde_json::json!(["b"]))
    );
}

// ---- the streams adapter (`@socket.io/redis-streams-adapter`) ----

#[test]
fn streams_ordered_messages_go_to_the_stream_and_requests_over_pub_sub() {
    let mut cluster = Cluster::with(3, RedisConfig { pubsub: PubSub::Streams, ..RedisConfig::default() });
    let uid = cluster.members[0].node.uid().to_owned();
    assert_eq!(channels_of(&cluster, 0), ["socket.io#/#".to_owned(), format!("socket.io#/#{uid}#")]);
    assert_eq!(cluster.members[0].node.stream(), Some("socket.io"));

    // A broadcast: an entry whose data is JSON.
    cluster.members[0].node.broadcast(&main_ns(), &Selector::to("lobby"), &event(r#"["chat","hi"]"#));
    cluster.drive();
    let (_, stream, data) = cluster.published.last().unwrap().clone();
    assert_eq!(stream, "socket.io");
    assert_eq!(
        std::str::from_utf8(&data).unwrap(),
        r#"{"packet":{"type":2,"data":["chat","hi"],"nsp":"/"},"opts":{"rooms":["lobby"],"except":[],"flags":{}}}"#
    );
    for node in [1, 2] {
        let events = cluster.take(node);
        let [Event::Broadcast { payload, offset: None, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(payload.json().as_ref() as &str, r#"["chat","hi"]"#);
    }
    assert!(cluster.take(0).is_empty(), "a node skips its own entries");

    // Binary: base64 MessagePack.
    let payload =
        Payload::from_value(&Value::Array(vec!["bin".into(), Value::Binary(Bytes::from_static(&[1, 2, 3]))]));
    cluster.members[0].node.broadcast(&main_ns(), &Selector::all(), &payload);
    cluster.drive();
    let (_, _, data) = cluster.published.last().unwrap().clone();
    assert!(!data.starts_with(b"{"));
    let events = cluster.take(1);
    let [Event::Broadcast { payload: received, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(received, &payload);
    cluster.take(2);

    // A room operation: an entry too.
    cluster.members[0].node.sockets_join(&main_ns(), &Selector::to("a"), &["b".into()]);
    cluster.drive();
    assert_eq!(cluster.published.last().unwrap().1, "socket.io");
    assert!(matches!(cluster.take(1).as_slice(), [Event::Join { .. }]));
    cluster.take(2);

    // Requests: MessagePack over pub/sub, answered on the requester's channel.
    cluster.members[1].sockets = Sockets(vec![("b1".into(), vec!["b1", "room"])], vec![]);
    let now = cluster.now;
    let id = cluster.members[0].node.fetch_sockets(now, &main_ns(), &Selector::to("room"), vec![]);
    cluster.drive();
    let request =
        cluster.published.iter().find(|(from, channel, _)| *from == 0 && channel == "socket.io#/#").unwrap();
    assert_eq!(msgpack::decode(&request.2).unwrap().get("type"), Some(&Value::from(7)));
    let events = cluster.take(0);
    let [Event::Done { id: done, result: Answer::Fetched(sockets), complete: true }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!((*done, sockets.len(), sockets[0].id.as_str()), (id, 1, "b1"));
    let answer = cluster.published.iter().find(|(from, _, _)| *from == 1).unwrap();
    assert_eq!(answer.1, format!("socket.io#/#{uid}#"));
    assert!(msgpack::decode(&answer.2).is_ok());
}

#[test]
fn streams_with_recovery_deliver_every_logged_broadcast_from_the_stream_with_its_id() {
    let config = RedisConfig { pubsub: PubSub::Streams, recovery: true, ..RedisConfig::default() };
    let mut cluster = Cluster::with(2, config);
    let read_back =
        cluster.members[0].node.broadcast(&main_ns(), &Selector::to("lobby"), &event(r#"["tick",0]"#));
    assert!(read_back, "the node's own sockets get it from the node");
    // What the node's own sockets get if the entry cannot be appended.
    let Some(Output::Append { unsent: Some(unsent), .. }) = cluster.members[0].node.poll_output() else {
        panic!("an entry")
    };
    let Event::Broadcast { selector, payload, offset: None, .. } = *unsent else { panic!("{unsent:?}") };
    assert_eq!((selector.rooms, payload.json().as_ref() as &str), (vec!["lobby".into()], r#"["tick",0]"#));

    // Read back, on every node: the writer's sockets get it then, in the stream's order.
    cluster.members[0].node.broadcast(&main_ns(), &Selector::to("lobby"), &event(r#"["tick",1]"#));
    cluster.drive();
    let offset = format!("1-{}", cluster.published.len());
    for node in [0, 1] {
        let events = cluster.take(node);
        let [Event::Broadcast { selector, payload, offset: Some(given), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!((given, selector.rooms.as_slice()), (&offset, &["lobby".into()][..]));
        assert_eq!(payload.json().as_ref() as &str, r#"["tick",1]"#);
    }

    // A volatile event is not logged: no offset.
    let volatile = Selector { volatile: true, ..Selector::all() };
    cluster.members[1].node.broadcast(&main_ns(), &volatile, &event(r#"["v"]"#));
    cluster.drive();
    for node in [0, 1] {
        let events = cluster.take(node);
        assert!(matches!(events.as_slice(), [Event::Broadcast { offset: None, .. }]), "{events:?}");
    }

    // Room operations of its own are done by the caller, not again on read-back.
    cluster.members[0].node.sockets_join(&main_ns(), &Selector::to("a"), &["b".into()]);
    cluster.drive();
    assert!(cluster.take(0).is_empty());
    assert!(matches!(cluster.take(1).as_slice(), [Event::Join { .. }]));

    // Without recovery, entries carry no offset and a node's own are skipped.
    let mut plain = Cluster::with(2, RedisConfig { pubsub: PubSub::Streams, ..RedisConfig::default() });
    assert!(!plain.members[0].node.broadcast(&main_ns(), &Selector::all(), &event(r#"["x"]"#)));
    let Some(Output::Append { unsent: None, .. }) = plain.members[0].node.poll_output() else {
        panic!("an entry")
    };
}

#[test]
fn outputs_encode_as_the_redis_commands_of_their_pub_sub() {
    let text = |output: &Output, sharded: bool| {
        let mut out = Vec::new();
        output.encode_into(sharded, &mut out);
        String::from_utf8(out).unwrap().replace("\r\n", " ")
    };
    let subscribe = Output::Subscribe { channels: vec!["a".into(), "b".into()], patterns: vec!["p*".into()] };
    assert_eq!(text(&subscribe, false), "*3 $9 SUBSCRIBE $1 a $1 b *2 $10 PSUBSCRIBE $2 p* ");
    assert_eq!(
        text(&subscribe, true),
        "*2 $10 SSUBSCRIBE $1 a *2 $10 SSUBSCRIBE $1 b ",
        "one channel per command, no patterns"
    );
    assert!(subscribe.is_subscription());
    let unsubscribe = Output::Unsubscribe { channels: vec!["a".into()], patterns: vec!["p*".into()] };
    assert_eq!(text(&unsubscribe, true), "*2 $12 SUNSUBSCRIBE $1 a ");
    assert_eq!(text(&unsubscribe, false), "*2 $11 UNSUBSCRIBE $1 a *2 $12 PUNSUBSCRIBE $2 p* ");
    let publish = Output::Publish { channel: "c".into(), message: Bytes::from_static(b"m") };
    assert_eq!(text(&publish, false), "*3 $7 PUBLISH $1 c $1 m ");
    assert_eq!(text(&publish, true), "*3 $8 SPUBLISH $1 c $1 m ");
    assert!(!publish.is_subscription());
    let count = Output::CountServers { channel: "c".into(), token: 1 };
    assert_eq!(text(&count, false), "*3 $6 PUBSUB $6 NUMSUB $1 c ");
    assert_eq!(text(&count, true), "*3 $6 PUBSUB $11 SHARDNUMSUB $1 c ");
    let append = Output::Append {
        stream: "s".into(),
        max_len: 10,
        fields: vec![("uid", Bytes::from_static(b"u"))],
        unsent: None,
    };
    assert_eq!(text(&append, false), "*8 $4 XADD $1 s $6 MAXLEN $1 ~ $2 10 $1 * $3 uid $1 u ");
}

#[test]
fn a_streams_node_reads_from_where_its_stream_ended_then_after_each_entry_it_handled() {
    use socketio_proto::cluster::resp::Reply;
    let bulk = |text: &str| Reply::Bulk(Bytes::from(text.to_owned()));
    let entry = |id: &str| {
        let data = r#"{"packet":{"type":2,"data":["tick"],"nsp":"/"},"opts":{"rooms":[],"except":[]}}"#;
        let fields = [("uid", "other"), ("nsp", "/"), ("type", "3"), ("data", data)];
        Reply::Array(vec![
            bulk(id),
            Reply::Array(fields.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect()),
        ])
    };
    let xread = |ids: &[&str]| {
        let entries = ids.iter().map(|id| entry(id)).collect();
        Reply::Array(vec![Reply::Array(vec![bulk("socket.io"), Reply::Array(entries)])])
    };
    let text = |command: Option<Vec<u8>>| String::from_utf8(command.expect("a command")).unwrap();

    let mut node =
        RedisNode::new(RedisConfig { pubsub: PubSub::Streams, ..RedisConfig::default() }, Box::new(|| 7));
    node.add_namespace(&main_ns());
    assert!(text(node.stream_start_command()).contains("XREVRANGE"));
    assert_eq!(node.stream_read_command(), None, "not before it knows where the stream ends");
    assert_eq!(node.handle_stream_start(Reply::Error("LOADING".into())), Err("LOADING".into()));
    assert_eq!(node.stream_read_command(), None);

    node.handle_stream_start(Reply::Array(vec![entry("7-1")])).unwrap();
    assert_eq!(node.stream_start_command(), None);
    assert!(text(node.stream_read_command()).ends_with("$9\r\nsocket.io\r\n$3\r\n7-1\r\n"));

    node.handle_stream_read(xread(&["7-2", "8-0"]), &Sockets::default()).unwrap();
    assert!(text(node.stream_read_command()).ends_with("$3\r\n8-0\r\n"), "on after the last entry handled");
    let ticks = std::iter::from_fn(|| node.poll_output())
        .filter(|output| matches!(output, Output::Event(event) if matches!(**event, Event::Broadcast { .. })))
        .count();
    assert_eq!(ticks, 2);
    node.handle_stream_read(Reply::Nil, &Sockets::default()).unwrap();
    assert!(text(node.stream_read_command()).ends_with("$3\r\n8-0\r\n"), "an XREAD that timed out");
    assert!(node.handle_stream_read(Reply::Error("NOGROUP".into()), &Sockets::default()).is_err());

    let mut fresh =
        RedisNode::new(RedisConfig { pubsub: PubSub::Streams, ..RedisConfig::default() }, Box::new(|| 7));
    fresh.handle_stream_start(Reply::Array(Vec::new())).unwrap();
    assert!(
        text(fresh.stream_read_command()).ends_with("$3\r\n0-0\r\n"),
        "an empty stream is read from its start"
    );
    let classic = RedisNode::new(RedisConfig::default(), Box::new(|| 7));
    assert_eq!((classic.stream_start_command(), classic.stream_read_command()), (None, None));
}

#[test]
fn a_closed_namespace_is_no_longer_listened_to() {
    for mut cluster in [Cluster::new(2), Cluster::sharded(2, SubscriptionMode::Dynamic)] {
        let dynamic = Namespace::new("/dyn").unwrap();
        let (channels, patterns) = (cluster.members[1].channels.clone(), cluster.members[1].patterns.clone());
        assert!(cluster.members[1].node.add_namespace(&dynamic));
        cluster.members[1].node.room_created(&dynamic, &"lobby".into());
        cluster.drive();
        cluster.members[0].node.broadcast(&dynamic, &Selector::to("lobby"), &event(r#"["a"]"#));
        cluster.drive();
        assert_eq!(cluster.take(1).len(), 1);

        cluster.members[1].node.room_deleted(&dynamic, "lobby");
        assert!(cluster.members[1].node.remove_namespace(&dynamic));
        assert!(!cluster.members[1].node.remove_namespace(&dynamic), "once");
        cluster.drive();
        assert_eq!(
            (&cluster.members[1].channels, &cluster.members[1].patterns),
            (&channels, &patterns),
            "back to the main namespace's subscriptions"
        );
        cluster.members[0].node.broadcast(&dynamic, &Selector::to("lobby"), &event(r#"["b"]"#));
        cluster.members[0].node.broadcast(&dynamic, &Selector::all(), &event(r#"["c"]"#));
        cluster.drive();
        assert!(cluster.take(1).is_empty());
        // It may be opened again.
        assert!(cluster.members[1].node.add_namespace(&dynamic));
    }
}
