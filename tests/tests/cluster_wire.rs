//! Our Redis adapter protocol against the Node adapter itself: `@socket.io/redis-adapter`
//! 8.3 runs on stub Redis clients that record what it publishes
//! (`tests/js/redis-adapter-wire.js`). Our node reads each of those messages as the
//! operation it is, and publishes the same bytes for the same operations.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use interop_tests::node;
use serde_json::Value as Json;
use socketio_proto::cluster::redis::{Event, LocalSockets, Output, RedisConfig, RedisNode, SocketDetails};
use socketio_proto::server::{Room, Selector, SocketId};
use socketio_proto::{Namespace, Payload, Value};

struct NoSockets;

impl LocalSockets for NoSockets {
    fn select(&self, _: &Namespace, _: &Selector) -> Vec<SocketId> {
        Vec::new()
    }
    fn rooms(&self, _: &Namespace) -> Vec<Room> {
        Vec::new()
    }
    fn fetch(&self, _: &Namespace, _: &Selector) -> Vec<SocketDetails> {
        Vec::new()
    }
}

/// The Node adapter's publications, in order.
fn node_publications() -> Vec<(String, Vec<u8>)> {
    let out = node::run_script("redis-adapter-wire.js", b"");
    let published: Vec<Json> = serde_json::from_slice(&out).expect("the script's answer");
    published
        .iter()
        .map(|p| {
            (
                p["channel"].as_str().unwrap().to_owned(),
                STANDARD.decode(p["message"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn node() -> RedisNode {
    let mut node = RedisNode::new(RedisConfig::default(), Box::new(|| 123_456_789));
    node.add_namespace(&Namespace::main());
    while node.poll_output().is_some() {}
    node
}

fn drain(node: &mut RedisNode) -> (Vec<Event>, Vec<(String, Bytes)>) {
    let (mut events, mut published) = (Vec::new(), Vec::new());
    while let Some(output) = node.poll_output() {
        match output {
            Output::Event(event) => events.push(*event),
            Output::Publish { channel, message } => published.push((channel, message)),
            _ => {}
        }
    }
    (events, published)
}

fn chat() -> Payload {
    Payload::from_value(&Value::Array(vec![
        "chat".into(),
        Value::Object(vec![("text".into(), "hi".into()), ("n".into(), 1.5.into())]),
        Value::Binary(Bytes::from_static(&[1, 2, 3])),
    ]))
}

#[test]
fn we_read_every_operation_the_node_adapter_publishes() {
    let publications = node_publications();
    assert_eq!(publications.len(), 8, "{publications:?}");
    let mut ours = node();
    for (channel, message) in &publications {
        ours.handle_message(channel, message, &NoSockets);
    }
    let (events, published) = drain(&mut ours);
    let local = |room: &str| Selector { local: true, ..Selector::to(room) };
    let [
        Event::Broadcast { selector: to_room, payload: chat_payload, .. },
        Event::Broadcast { selector: to_all, payload: all_payload, .. },
        Event::Join { selector: join_sel, rooms: joined, .. },
        Event::Leave { selector: leave_sel, rooms: left, .. },
        Event::Disconnect { selector: kick_sel, close: true, .. },
        Event::ServerSideEmit { payload: hello, reply: None, .. },
        Event::ServerSideEmit { payload: ask, reply: Some(_), .. },
    ] = events.as_slice()
    else {
        panic!("{events:#?}")
    };
    assert_eq!(to_room, &Selector { except: vec!["muted".into()], volatile: true, ..local("room1") });
    assert_eq!(chat_payload, &chat());
    assert_eq!(to_all, &Selector { local: true, ..Selector::all() });
    assert_eq!(all_payload.json().as_ref() as &str, r#"["all",[1,"two",null,true]]"#);
    assert_eq!((join_sel, joined.as_slice()), (&local("room1"), &[Room::from("a"), Room::from("b")][..]));
    assert_eq!((leave_sel, left.as_slice()), (&local("room1"), &[Room::from("a")][..]));
    assert_eq!(kick_sel, &local("x"));
    assert_eq!(hello.json().as_ref() as &str, r#"["hello","world",42]"#);
    assert_eq!(ask.json().as_ref() as &str, r#"["ask","q"]"#);
    // The fetch request is answered (with no sockets here) on the shared response channel.
    let [(channel, answer)] = published.as_slice() else { panic!("{published:?}") };
    assert_eq!(channel, "socket.io-response#/#");
    let answer: Json = serde_json::from_slice(answer).unwrap();
    let request: Json = serde_json::from_slice(&publications[7].1).unwrap();
    assert_eq!(answer, serde_json::json!({"requestId": request["requestId"], "sockets": []}));
}

#[test]
fn we_publish_what_the_node_adapter_publishes() {
    let publications = node_publications();
    let mut ours = node();
    let uid = ours.uid().to_owned();
    let main = Namespace::main();
    ours.broadcast(
        &main,
        &Selector { except: vec!["muted".into()], volatile: true, ..Selector::to("room1") },
        &chat(),
    );
    ours.broadcast(&main, &Selector::all(), &Payload::from_json(r#"["all",[1,"two",null,true]]"#).unwrap());
    ours.sockets_join(&main, &Selector::to("room1"), &["a".into(), "b".into()]);
    ours.sockets_leave(&main, &Selector::to("room1"), &["a".into()]);
    ours.disconnect_sockets(&main, &Selector::to("x"), true);
    ours.server_side_emit(&main, &Payload::from_json(r#"["hello","world",42]"#).unwrap());
    let (_, published) = drain(&mut ours);
    assert_eq!(published.len(), 6);
    for ((channel, message), (their_channel, theirs)) in published.iter().zip(&publications) {
        assert_eq!(channel, their_channel);
        match theirs.first() {
            // msgpack [uid, packet, opts]: the same bytes but for the 6-character uid.
            Some(0x93) => {
                let mut theirs = theirs.clone();
                theirs.get_mut(2..8).unwrap().copy_from_slice(uid.as_bytes());
                assert_eq!(message.as_ref(), theirs.as_slice(), "on {channel}");
            }
            _ => {
                let mut theirs: Json = serde_json::from_slice(theirs).unwrap();
                theirs["uid"] = Json::String(uid.clone());
                assert_eq!(serde_json::from_slice::<Json>(message).unwrap(), theirs, "on {channel}");
            }
        }
    }
}
