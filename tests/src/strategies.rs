//! Proptest strategies for Engine.IO and Socket.IO packets.
//!
//! The generated values stay inside what both our codec and the JavaScript reference
//! represent the same way: integers within JavaScript's safe range, object keys that are
//! not array indexes (JavaScript reorders those), and text without the polling separator.

use bytes::Bytes;
use proptest::prelude::*;
use socketio_proto::{Namespace, Packet, PacketKind, Payload, RESERVED_EVENTS, Value};

/// Text data that a polling payload can carry (no `\x1e`).
pub fn payload_text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.replace('\u{1e}', ""))
}

/// Any binary buffer up to 64 bytes.
pub fn bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

/// Any Engine.IO packet whose text avoids `\x1e`.
pub fn engine_packet() -> impl Strategy<Value = engineio_proto::Packet> {
    prop_oneof![
        (proptest::sample::select(engineio_proto::PacketType::ALL.to_vec()), payload_text())
            .prop_map(|(kind, text)| engineio_proto::Packet::new(kind, text)),
        bytes().prop_map(engineio_proto::Packet::binary),
    ]
}

/// A JSON value; with `binary`, leaves may be binary buffers.
pub fn value(binary: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        bytes().prop_map(Value::Binary),
    ];
    let leaf = leaf.prop_filter("binary allowed", move |v| binary || !matches!(v, Value::Binary(_)));
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array), object_of(inner),]
    })
}

fn object_of(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_ ]{0,8}", inner, 0..5)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}

/// A JSON object, never binary.
pub fn object() -> impl Strategy<Value = Value> {
    object_of(value(false))
}

/// `/` or a short custom namespace.
pub fn namespace() -> impl Strategy<Value = Namespace> {
    prop_oneof![
        Just(Namespace::main()),
        "/[a-zA-Z0-9_\\-]{1,10}".prop_map(|n| Namespace::new(n).unwrap_or_default()),
    ]
}

/// An event name that is not reserved.
pub fn event_name() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("not reserved", |n| !RESERVED_EVENTS.contains(&n.as_str()))
}

/// An ack id JavaScript represents exactly.
pub fn ack_id() -> impl Strategy<Value = u64> {
    0..(1u64 << 53)
}

/// Any Socket.IO packet a peer may send, binary attachments included.
pub fn socket_packet() -> impl Strategy<Value = Packet> {
    let args = || proptest::collection::vec(value(true), 0..4);
    prop_oneof![
        (namespace(), proptest::option::of(object())).prop_map(|(ns, auth)| Packet {
            payload: auth.map(|v| Payload::from_value(&v)),
            ..Packet::new(PacketKind::Connect, ns)
        }),
        namespace().prop_map(|ns| Packet::new(PacketKind::Disconnect, ns)),
        (namespace(), event_name(), args(), proptest::option::of(ack_id())).prop_map(
            |(ns, name, args, id): (Namespace, String, Vec<Value>, Option<u64>)| Packet {
                ack_id: id,
                payload: Payload::event(&name, &socketio_proto::Spread(args.clone())).ok(),
                ..Packet::new(PacketKind::Event, ns)
            }
        ),
        (namespace(), ack_id(), args()).prop_map(|(ns, id, args): (Namespace, u64, Vec<Value>)| {
            Packet::ack(ns, id, Payload::from_value(&Value::Array(args)))
        }),
        (namespace(), prop_oneof![object(), any::<String>().prop_map(Value::String)]).prop_map(
            |(ns, data)| Packet {
                payload: Some(Payload::from_value(&data)),
                ..Packet::new(PacketKind::ConnectError, ns)
            }
        ),
    ]
}
