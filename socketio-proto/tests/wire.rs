//! Literal wire strings for every packet type, both directions.

use bytes::Bytes;
use socketio_proto::{
    DecodeLimits, Decoder, EncodeError, Namespace, Packet, PacketKind, PacketType, Payload, Value,
};

fn decode(text: &str) -> Packet {
    let mut decoder = Decoder::new(DecodeLimits::default());
    match decoder.feed_text(text.to_owned().into()) {
        Ok(Some(packet)) => packet,
        other => panic!("{text:?} decoded as {other:?}"),
    }
}

fn nsp(name: &str) -> Namespace {
    Namespace::new(name.to_owned()).unwrap()
}

fn json(text: &str) -> Option<Payload> {
    Some(Payload::from_json(text.to_owned()).unwrap())
}

/// Each case decodes to the packet and the packet encodes back to the same text.
fn round_trip(text: &str, packet: Packet) {
    assert_eq!(decode(text), packet, "decoding {text:?}");
    assert_eq!(packet.to_text(), text, "encoding {packet:?}");
}

#[test]
fn connect() {
    round_trip("0", Packet::new(PacketKind::Connect, Namespace::main()));
    round_trip("0/admin,", Packet::new(PacketKind::Connect, nsp("/admin")));
    round_trip(
        r#"0/admin,{"token":"123"}"#,
        Packet { payload: json(r#"{"token":"123"}"#), ..Packet::new(PacketKind::Connect, nsp("/admin")) },
    );
    round_trip(
        r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        Packet {
            payload: json(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
            ..Packet::new(PacketKind::Connect, Namespace::main())
        },
    );
}

#[test]
fn namespace_without_comma_runs_to_the_end_as_in_the_reference() {
    assert_eq!(decode("0/admin"), Packet::new(PacketKind::Connect, nsp("/admin")));
    assert_eq!(decode("1/admin"), Packet::new(PacketKind::Disconnect, nsp("/admin")));
}

#[test]
fn disconnect() {
    round_trip("1", Packet::new(PacketKind::Disconnect, Namespace::main()));
    round_trip("1/admin,", Packet::new(PacketKind::Disconnect, nsp("/admin")));
}

#[test]
fn event() {
    round_trip(
        r#"2["chat message","hello"]"#,
        Packet::event(Namespace::main(), Payload::event("chat message", &("hello",)).unwrap()),
    );
    round_trip(
        r#"2/admin,12["project:delete",123]"#,
        Packet::event(nsp("/admin"), Payload::event("project:delete", &[123]).unwrap()).with_ack_id(12),
    );
    round_trip(r#"2["no args"]"#, Packet::event(Namespace::main(), Payload::event("no args", &()).unwrap()));
    let escaped = decode(r#"2["caf\u00e9",1]"#);
    assert_eq!(escaped.payload.unwrap().event_name().as_deref(), Some("café"));
}

#[test]
fn ack() {
    round_trip(
        r#"3/admin,13["bar"]"#,
        Packet::ack(nsp("/admin"), 13, Payload::from_json(r#"["bar"]"#).unwrap()),
    );
    round_trip("31[]", Packet::ack(Namespace::main(), 1, Payload::from_json("[]").unwrap()));
    assert_eq!(decode("37"), Packet { ack_id: Some(7), ..Packet::new(PacketKind::Ack, Namespace::main()) });
}

#[test]
fn connect_error() {
    round_trip(
        r#"4{"message":"Not authorized"}"#,
        Packet {
            payload: json(r#"{"message":"Not authorized"}"#),
            ..Packet::new(PacketKind::ConnectError, Namespace::main())
        },
    );
    round_trip(
        r#"4/admin,{"message":"Invalid namespace"}"#,
        Packet {
            payload: json(r#"{"message":"Invalid namespace"}"#),
            ..Packet::new(PacketKind::ConnectError, nsp("/admin"))
        },
    );
    round_trip(
        r#"4"legacy string""#,
        Packet {
            payload: json(r#""legacy string""#),
            ..Packet::new(PacketKind::ConnectError, Namespace::main())
        },
    );
}

fn decode_binary(text: &str, attachments: &[&'static [u8]]) -> Packet {
    let mut decoder = Decoder::new(DecodeLimits::default());
    assert_eq!(decoder.feed_text(text.to_owned().into()), Ok(None));
    let (last, rest) = attachments.split_last().unwrap();
    for attachment in rest {
        assert_eq!(decoder.feed_binary(Bytes::from_static(attachment)), Ok(None));
    }
    assert_eq!(decoder.missing_attachments(), 1);
    decoder.feed_binary(Bytes::from_static(last)).unwrap().unwrap()
}

#[test]
fn binary_event() {
    let text = r#"51-["hello",{"_placeholder":true,"num":0}]"#;
    let packet = decode_binary(text, &[b"\x01\x02\x03"]);
    assert_eq!(packet.kind, PacketKind::Event);
    assert_eq!(packet.wire_type(), PacketType::BinaryEvent);
    assert_eq!(packet.to_text(), text);
    assert_eq!(
        packet.payload.unwrap().to_value().unwrap(),
        Value::Array(vec!["hello".into(), Value::Binary(Bytes::from_static(b"\x01\x02\x03"))])
    );
}

#[test]
fn binary_event_with_namespace_ack_and_nested_buffers() {
    let text =
        r#"52-/admin,456["upload",{"a":[{"_placeholder":true,"num":1}],"b":{"_placeholder":true,"num":0}}]"#;
    let packet = decode_binary(text, &[b"first", b"second"]);
    assert_eq!(packet.namespace, nsp("/admin"));
    assert_eq!(packet.ack_id, Some(456));
    assert_eq!(packet.to_text(), text);
    let value = packet.payload.unwrap().to_value().unwrap();
    let object = &value.as_array().unwrap()[1];
    assert_eq!(object.get("b").unwrap().as_binary().unwrap(), &b"first"[..]);
    assert_eq!(object.get("a").unwrap().as_array().unwrap()[0].as_binary().unwrap(), &b"second"[..]);
}

#[test]
fn binary_ack() {
    let text = r#"61-/admin,456[{"_placeholder":true,"num":0}]"#;
    let packet = decode_binary(text, &[b"\xff"]);
    assert_eq!(packet.kind, PacketKind::Ack);
    assert_eq!(packet.wire_type(), PacketType::BinaryAck);
    assert_eq!(packet.to_text(), text);
}

#[test]
fn encoding_binary_values_numbers_attachments_in_document_order() {
    let args = (
        Value::Object(vec![
            ("x".into(), Value::Binary(Bytes::from_static(b"a"))),
            ("y".into(), Value::Array(vec![Value::Binary(Bytes::from_static(b"b"))])),
        ]),
        Value::Binary(Bytes::from_static(b"c")),
    );
    let packet = Packet::event(Namespace::main(), Payload::event("files", &args).unwrap());
    assert_eq!(
        packet.to_text(),
        r#"53-["files",{"x":{"_placeholder":true,"num":0},"y":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":2}]"#
    );
    let engine = packet.to_engine_packets();
    assert_eq!(engine.len(), 4);
    assert_eq!(engine[3], engineio_proto::Packet::binary(Bytes::from_static(b"c")));
}

#[test]
fn reserved_event_names_are_refused_on_emit() {
    for name in socketio_proto::RESERVED_EVENTS {
        assert!(matches!(Payload::event(name, &()), Err(EncodeError::ReservedEventName(n)) if n == name));
        assert!(matches!(Payload::event(name, &"x"), Err(EncodeError::ReservedEventName(_))));
    }
    assert!(Payload::event("error", &()).is_ok());
}

#[test]
fn one_value_is_one_argument_and_a_tuple_spreads() {
    assert_eq!(Payload::event("x", &"one").unwrap().json(), r#"["x","one"]"#);
    assert_eq!(Payload::event("x", &("a", 2)).unwrap().json(), r#"["x","a",2]"#);
    assert_eq!(Payload::event("x", &["a", "b"][..]).unwrap().json(), r#"["x",["a","b"]]"#);
}

#[test]
fn invalid_namespaces_are_refused() {
    assert!(matches!(Namespace::new("admin"), Err(EncodeError::InvalidNamespace(_))));
    assert!(matches!(Namespace::new(""), Err(EncodeError::InvalidNamespace(_))));
    assert!(matches!(Namespace::new("/a,b"), Err(EncodeError::InvalidNamespace(_))));
}

#[test]
fn event_arguments_are_forwarded_without_parsing() {
    let payload = Payload::from_json(r#" [ "message" , 1, {"a":[2]} ,"x"] "#).unwrap();
    let args = payload.event_args().unwrap();
    assert_eq!(args.json(), r#"[ 1, {"a":[2]} ,"x"] "#);
    let back = Payload::event_with_args("message-back", &args).unwrap();
    assert_eq!(back.json(), r#"["message-back", 1, {"a":[2]} ,"x"]"#);
    assert_eq!(back.to_value().unwrap().as_array().unwrap().len(), 4);

    let alone = Payload::from_json(r#"["alone"]"#).unwrap();
    assert_eq!(alone.event_args().unwrap().json(), "[]");
    assert_eq!(
        Payload::event_with_args("again", &alone.event_args().unwrap()).unwrap().json(),
        r#"["again"]"#
    );
    assert!(Payload::from_json("[]").unwrap().event_args().is_none());
    assert!(Payload::from_json("{}").unwrap().event_args().is_none());

    let binary = Payload::event("file", &Value::Binary(Bytes::from_static(b"\x01"))).unwrap();
    let args = binary.event_args().unwrap();
    assert_eq!(args.attachments(), binary.attachments());
    assert_eq!(args.to_value().unwrap(), Value::Array(vec![Value::Binary(Bytes::from_static(b"\x01"))]));
    assert!(Payload::event_with_args("connect", &args).is_err());
}
