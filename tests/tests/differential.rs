//! Differential tests against the reference parsers (`engine.io-parser@5`,
//! `socket.io-parser@4`), run by `tests/js/differential.js`.
//!
//! For a corpus of hand-written and proptest-generated packets, in both directions:
//! the reference encodes each packet to the same bytes as we do, the reference decodes our
//! bytes to the same packet, and we decode the reference's bytes to the same packet.

use bytes::{Bytes, BytesMut};
use engineio_proto::{Frame, PayloadFormat, decode_payload, encode_payload};
use interop_tests::{describe, node, strategies};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value as Json, json};
use socketio_proto::{DecodeLimits, Decoder, Namespace, Packet, PacketKind, Payload, Value};

const GENERATED: usize = 400;

fn generate<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("strategy").current()).collect()
}

fn engine_corpus() -> Vec<engineio_proto::Packet> {
    use engineio_proto::{Packet as E, PacketType as T};
    let mut corpus = vec![
        E::message("hello"),
        E::message(""),
        E::message("€ and emoji 🎉"),
        E::ping(),
        E::pong(),
        E::new(T::Ping, "probe"),
        E::new(T::Pong, "probe"),
        E::empty(T::Upgrade),
        E::empty(T::Noop),
        E::empty(T::Close),
        E::new(
            T::Open,
            r#"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        ),
        E::binary(Bytes::new()),
        E::binary(vec![0u8, 1, 2, 255]),
        E::binary(vec![7u8; 1000]),
    ];
    corpus.extend(generate(strategies::engine_packet(), GENERATED));
    corpus
}

fn socket_corpus() -> Vec<Packet> {
    let admin = Namespace::new("/admin").unwrap();
    let event =
        |name: &str, args: &[Value]| Payload::event(name, &socketio_proto::Spread(args.to_vec())).unwrap();
    let mut corpus = vec![
        Packet::new(PacketKind::Connect, Namespace::main()),
        Packet::new(PacketKind::Connect, admin.clone()),
        Packet {
            payload: Some(Payload::from_json(r#"{"token":"123"}"#).unwrap()),
            ..Packet::new(PacketKind::Connect, admin.clone())
        },
        Packet::new(PacketKind::Disconnect, admin.clone()),
        Packet::event(Namespace::main(), event("chat message", &["hello".into()])),
        Packet::event(admin.clone(), event("a", &[1.into(), true.into(), Value::Null])).with_ack_id(12),
        Packet::event(Namespace::main(), event("file", &[Value::Binary(vec![1u8, 2, 3].into())])),
        Packet::event(
            admin.clone(),
            event(
                "nested",
                &[Value::Object(vec![
                    ("a".into(), Value::Binary(Bytes::from_static(b"x"))),
                    ("b".into(), Value::Array(vec![Value::Binary(Bytes::new()), 5.into()])),
                ])],
            ),
        )
        .with_ack_id(99),
        Packet::ack(admin.clone(), 13, Payload::from_json(r#"["bar"]"#).unwrap()),
        Packet::ack(
            Namespace::main(),
            1,
            Payload::from_value(&Value::Array(vec![Value::Binary(vec![9u8].into())])),
        ),
        Packet {
            payload: Some(Payload::from_json(r#"{"message":"Not authorized","data":{"x":1}}"#).unwrap()),
            ..Packet::new(PacketKind::ConnectError, Namespace::main())
        },
    ];
    corpus.extend(generate(strategies::socket_packet(), GENERATED));
    corpus
}

/// Texts that both decoders must refuse, with the attachments that follow them.
fn refused_corpus() -> Vec<(&'static str, Vec<&'static [u8]>)> {
    vec![
        ("7", vec![]),
        ("5", vec![]),
        ("51", vec![]),
        ("5woooot", vec![]),
        (r#"50-["a"]"#, vec![]),
        (r#"511-["a",{"_placeholder":true,"num":0}]"#, vec![]),
        ("2{}", vec![]),
        ("2[]", vec![]),
        (r#"2[true,"x"]"#, vec![]),
        (r#"2[null,"x"]"#, vec![]),
        (r#"2[{"toString":"foo"}]"#, vec![]),
        (r#"2["connect"]"#, vec![]),
        (r#"2["disconnecting"]"#, vec![]),
        (r#"2["newListener"]"#, vec![]),
        ("0[]", vec![]),
        ("1{}", vec![]),
        ("31{}", vec![]),
        (r#"2["a""#, vec![]),
        (r#"51-["a",{"_placeholder":true,"num":"splice"}]"#, vec![b"x"]),
        (r#"51-["a",{"_placeholder":true,"num":1}]"#, vec![b"x"]),
        (r#"51-["a",{"_placeholder":true,"num":-1}]"#, vec![b"x"]),
    ]
}

/// Texts the reference accepts and we refuse on purpose: an empty message (the reference
/// reads `Number("")` as a CONNECT), an event with no payload, and an event whose name is
/// not a string (Socket.IO v5 event names are strings).
const STRICTER_THAN_REFERENCE: [&str; 4] = ["", "2", "2/admin,", "2[1]"];

fn frame_json(frame: &Frame) -> Json {
    match frame {
        Frame::Text(text) => json!({ "text": &**text }),
        Frame::Binary(bytes) => json!({ "binary": describe::base64_all([bytes])[0] }),
    }
}

#[test]
fn codecs_agree_with_the_reference_parsers() {
    let engine = engine_corpus();
    let payloads: Vec<Vec<engineio_proto::Packet>> = engine.chunks(7).map(<[_]>::to_vec).collect();
    let socket = socket_corpus();
    let refused = refused_corpus();

    let corpus = json!({
        "engine": engine.iter().map(|p| json!({
            "desc": describe::engine_packet(p),
            "polling": &*p.to_text(),
            "frame": frame_json(&p.to_frame()),
        })).collect::<Vec<_>>(),
        "payloads": payloads.iter().map(|packets| {
            let mut body = BytesMut::new();
            encode_payload(packets, &mut body);
            json!({
                "descs": packets.iter().map(describe::engine_packet).collect::<Vec<_>>(),
                "body": String::from_utf8(body.to_vec()).unwrap(),
            })
        }).collect::<Vec<_>>(),
        "socket": socket.iter().map(|p| json!({
            "desc": describe::socket_packet(p),
            "text": &*p.to_text(),
            "attachments": describe::base64_all(p.attachments()),
        })).collect::<Vec<_>>(),
        "refused": refused.iter().map(|(text, attachments)| json!({
            "text": text,
            "attachments": describe::base64_all(&attachments.iter().map(|a| Bytes::from_static(a)).collect::<Vec<_>>()),
        })).chain(STRICTER_THAN_REFERENCE.iter().map(|text| json!({ "text": text, "attachments": [] })))
        .collect::<Vec<_>>(),
    });
    let answer: Json =
        serde_json::from_slice(&node::run_script("differential.js", corpus.to_string().as_bytes()))
            .expect("the script answers JSON");

    for (packet, theirs) in engine.iter().zip(answer["engine"].as_array().unwrap()) {
        let desc = describe::engine_packet(packet);
        assert_eq!(theirs["polling"], *packet.to_text(), "reference polling encoding of {packet:?}");
        assert_eq!(theirs["frame"], frame_json(&packet.to_frame()), "reference frame of {packet:?}");
        assert_eq!(theirs["decoded_polling"], desc, "reference decoding our polling form of {packet:?}");
        let expected_frame_desc = match &packet.data {
            // A WebSocket binary frame carries no type: it is always a message.
            engineio_proto::Data::Binary(_) => {
                json!({ "type": "message", "binary": desc["binary"] })
            }
            engineio_proto::Data::Text(_) => desc.clone(),
        };
        assert_eq!(
            theirs["decoded_frame"], expected_frame_desc,
            "reference decoding our frame of {packet:?}"
        );
        // Ours decoding theirs.
        let ours = engineio_proto::Packet::decode_polling_record(
            theirs["polling"].as_str().unwrap().to_owned().into(),
        );
        assert_eq!(ours.as_ref(), Ok(packet), "decoding the reference's polling form");
    }

    for (packets, theirs) in payloads.iter().zip(answer["payloads"].as_array().unwrap()) {
        let mut body = BytesMut::new();
        encode_payload(packets, &mut body);
        let descs: Vec<Json> = packets.iter().map(describe::engine_packet).collect();
        assert_eq!(
            theirs["body"].as_str().unwrap().as_bytes(),
            &body[..],
            "reference payload of {packets:?}"
        );
        assert_eq!(theirs["decoded"], Json::Array(descs), "reference decoding our payload");
        let reference_body = Bytes::from(theirs["body"].as_str().unwrap().to_owned());
        let ours: Result<Vec<_>, _> =
            decode_payload(PayloadFormat::V4, reference_body, usize::MAX).unwrap().collect();
        assert_eq!(ours.as_ref(), Ok(packets), "decoding the reference's payload");
    }

    for (packet, theirs) in socket.iter().zip(answer["socket"].as_array().unwrap()) {
        assert_eq!(theirs["text"], *packet.to_text(), "reference encoding of {packet:?}");
        assert_eq!(
            theirs["attachments"],
            describe::base64_all(packet.attachments()),
            "reference attachments"
        );
        assert_eq!(theirs["decoded"], describe::socket_packet(packet), "reference decoding our {packet:?}");
        // Ours decoding theirs.
        let mut decoder = Decoder::new(DecodeLimits { max_attachments: usize::MAX });
        let mut decoded = decoder.feed_text(theirs["text"].as_str().unwrap().to_owned().into()).unwrap();
        for attachment in theirs["attachments"].as_array().unwrap() {
            decoded = decoder.feed_binary(describe::from_base64(attachment.as_str().unwrap())).unwrap();
        }
        assert_eq!(decoded.as_ref(), Some(packet), "decoding the reference's encoding");
    }

    let answers = answer["refused"].as_array().unwrap();
    for (text, theirs) in STRICTER_THAN_REFERENCE.iter().zip(&answers[refused.len()..]) {
        assert!(theirs.get("error").is_none(), "the reference now refuses {text:?}: {theirs}");
        let ours = Decoder::default().feed_text((*text).to_owned().into());
        assert!(ours.is_err(), "we accepted {text:?}: {ours:?}");
    }
    for ((text, attachments), theirs) in refused.iter().zip(answers) {
        assert!(theirs.get("error").is_some(), "the reference accepted {text:?}: {theirs}");
        let mut decoder = Decoder::default();
        let mut result = decoder.feed_text((*text).to_owned().into());
        for attachment in attachments {
            if result.is_err() {
                break;
            }
            result = decoder.feed_binary(Bytes::from_static(attachment));
        }
        assert!(result.is_err(), "we accepted {text:?}: {result:?}");
    }
}
