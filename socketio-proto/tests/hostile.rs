//! Regression tests for the codec inputs that crashed Socket.IO implementations before, and
//! for every decoding error.

use bytes::Bytes;
use socketio_proto::{DecodeError, DecodeLimits, Decoder, PacketKind};

fn decode(text: &str) -> Result<Option<socketio_proto::Packet>, DecodeError> {
    Decoder::new(DecodeLimits::default()).feed_text(text.to_owned().into())
}

fn err(text: &str) -> DecodeError {
    match decode(text) {
        Err(e) => e,
        Ok(p) => panic!("{text:?} was accepted as {p:?}"),
    }
}

#[test]
fn empty_and_unknown_types() {
    assert_eq!(err(""), DecodeError::EmptyPacket);
    assert_eq!(err("7"), DecodeError::UnknownPacketType('7'));
    assert_eq!(err("a[]"), DecodeError::UnknownPacketType('a'));
    assert_eq!(err("€"), DecodeError::UnknownPacketType('€'));
}

#[test]
fn attachment_counts_that_are_missing_malformed_zero_or_negative() {
    for text in ["5", "51", "5woooot", "5-[\"a\"]", "5-1-[\"a\"]", "5x-[\"a\"]", "6", "61[]"] {
        assert_eq!(err(text), DecodeError::InvalidAttachmentCount, "{text:?}");
    }
    assert_eq!(err(r#"50-["a"]"#), DecodeError::InvalidAttachmentCount);
}

#[test]
fn huge_attachment_counts() {
    assert_eq!(err(r#"511-["a"]"#), DecodeError::TooManyAttachments { count: 11, max: 10 });
    let many_digits = format!("5{}-[\"a\"]", "9".repeat(100_000));
    assert_eq!(err(&many_digits), DecodeError::TooManyAttachments { count: usize::MAX, max: 10 });
    let limits = DecodeLimits { max_attachments: 2 };
    let mut decoder = Decoder::new(limits);
    assert_eq!(
        decoder.feed_text(r#"53-["a"]"#.into()),
        Err(DecodeError::TooManyAttachments { count: 3, max: 2 })
    );
}

#[test]
fn attachment_count_disagreeing_with_placeholders() {
    assert_eq!(
        err(r#"52-["a",{"_placeholder":true,"num":0}]"#),
        DecodeError::AttachmentCountMismatch { expected: 2, got: 1 }
    );
    assert_eq!(err(r#"51-["a"]"#), DecodeError::AttachmentCountMismatch { expected: 1, got: 0 });
    assert_eq!(err("61-"), DecodeError::AttachmentCountMismatch { expected: 1, got: 0 });
    assert_eq!(err(r#"51-["a",{"_placeholder":true,"num":1}]"#), DecodeError::InvalidPlaceholder);
}

#[test]
fn placeholder_nums_that_are_not_valid_indexes() {
    for num in [r#""splice""#, "0.5", "-1", "1", "1e2", "null", "true", "[0]", "99999999999999999999"] {
        let text = format!(r#"51-["a",{{"_placeholder":true,"num":{num}}}]"#);
        assert_eq!(err(&text), DecodeError::InvalidPlaceholder, "num {num}");
    }
}

#[test]
fn text_while_attachments_are_pending() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.feed_text(r#"51-["a",{"_placeholder":true,"num":0}]"#.into()), Ok(None));
    assert_eq!(decoder.feed_text(r#"2["b"]"#.into()), Err(DecodeError::UnexpectedText { missing: 1 }));
    // The decoder was reset: it is usable (though the session should be closed).
    assert_eq!(decoder.missing_attachments(), 0);
}

#[test]
fn binary_with_no_pending_header() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.feed_binary(Bytes::from_static(b"x")), Err(DecodeError::UnexpectedBinary));
    assert!(decoder.feed_text(r#"2["a"]"#.into()).unwrap().is_some());
    assert_eq!(decoder.feed_binary(Bytes::from_static(b"x")), Err(DecodeError::UnexpectedBinary));
}

#[test]
fn event_payloads_of_the_wrong_shape() {
    for text in ["2", "2{}", "2\"a\"", "21", "2[]", "2/admin,[]", "2null"] {
        assert_eq!(err(text), DecodeError::InvalidPayload(PacketKind::Event), "{text:?}");
    }
    for text in [r#"2[true,"x"]"#, r#"2[null,"x"]"#, r#"2[{"toString":"foo"}]"#, "2[1]", "2[[\"a\"]]"] {
        assert_eq!(err(text), DecodeError::EventNameNotString, "{text:?}");
    }
}

#[test]
fn reserved_event_names_are_refused_on_receive() {
    for name in socketio_proto::RESERVED_EVENTS {
        assert_eq!(err(&format!(r#"2["{name}"]"#)), DecodeError::ReservedEventName(name.to_owned()));
    }
    // Escaped spelling of a reserved name is still reserved.
    assert_eq!(err(r#"2["\u0063onnect"]"#), DecodeError::ReservedEventName("connect".into()));
}

#[test]
fn an_event_named_error_is_an_ordinary_event() {
    let packet = decode(r#"2["error","boom"]"#).unwrap().unwrap();
    assert_eq!(packet.payload.unwrap().event_name().as_deref(), Some("error"));
}

#[test]
fn extremely_long_ack_ids() {
    let text = format!(r#"2{}["a"]"#, "1".repeat(100_000));
    assert_eq!(err(&text), DecodeError::InvalidAckId);
    assert_eq!(err(r#"218446744073709551616["a"]"#), DecodeError::InvalidAckId);
    let max = decode(r#"218446744073709551615["a"]"#).unwrap().unwrap();
    assert_eq!(max.ack_id, Some(u64::MAX));
}

#[test]
fn namespaces_without_the_closing_comma_swallow_the_rest() {
    // As in the reference decoder: the namespace runs to the end, so no payload follows.
    let packet = decode("0/admin").unwrap().unwrap();
    assert_eq!(packet.namespace.as_str(), "/admin");
    assert!(packet.payload.is_none());
    assert_eq!(err(r#"2/admin["a"]"#), DecodeError::InvalidPayload(PacketKind::Event));
}

#[test]
fn connect_with_a_non_object_payload() {
    for text in ["0[]", "0\"x\"", "0null", "0/admin,[1]"] {
        assert_eq!(err(text), DecodeError::InvalidPayload(PacketKind::Connect), "{text:?}");
    }
}

#[test]
fn disconnect_with_a_payload() {
    assert_eq!(err("1{}"), DecodeError::InvalidPayload(PacketKind::Disconnect));
    assert_eq!(err("1/admin,[]"), DecodeError::InvalidPayload(PacketKind::Disconnect));
}

#[test]
fn ack_with_a_non_array_payload() {
    for text in ["31{}", "31\"x\"", "3/admin,1null"] {
        assert_eq!(err(text), DecodeError::InvalidPayload(PacketKind::Ack), "{text:?}");
    }
}

#[test]
fn connect_error_needs_a_string_or_object() {
    for text in ["4", "4[]", "41"] {
        assert_eq!(err(text), DecodeError::InvalidPayload(PacketKind::ConnectError), "{text:?}");
    }
}

#[test]
fn malformed_json() {
    assert!(matches!(err(r#"2["a""#), DecodeError::InvalidJson { .. }));
    assert!(matches!(err(r#"2["a"]]"#), DecodeError::InvalidJson { .. }));
    assert!(matches!(err(r#"0{"a":}"#), DecodeError::InvalidJson { .. }));
    let deep = format!("2[\"a\",{}{}]", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(err(&deep), DecodeError::PayloadTooDeep);
}
