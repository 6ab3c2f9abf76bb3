//! Differential tests of the cluster's MessagePack against `notepack.io`, the encoder of
//! the Node Redis adapters (run by `tests/js/notepack.js`): for hand-written and generated
//! values (binary and nested objects included), notepack encodes each to the same bytes as
//! we do, decodes our bytes to the same value, and we decode its bytes to the same value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use interop_tests::{describe, node, strategies};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value as Json, json};
use socketio_proto::Value;
use socketio_proto::cluster::msgpack;

/// Numbers as JavaScript sees them (one number type), for comparing values; to 13
/// significant digits, as serde_json's float parsing may be one unit in the last place off
/// (the bytes, compared exactly, show our codec is not).
fn js(json: &Json) -> Json {
    match json {
        Json::Number(n) => json!(format!("{:.12e}", n.as_f64().unwrap_or(f64::NAN))),
        Json::Array(items) => Json::Array(items.iter().map(js).collect()),
        Json::Object(members) => Json::Object(members.iter().map(|(k, v)| (k.clone(), js(v))).collect()),
        other => other.clone(),
    }
}

fn corpus() -> Vec<Value> {
    let float = |v: f64| Value::from(v);
    let mut corpus = vec![
        Value::Null,
        true.into(),
        0.into(),
        127.into(),
        128.into(),
        255.into(),
        256.into(),
        65_535.into(),
        65_536.into(),
        4_294_967_295u64.into(),
        4_294_967_296u64.into(),
        ((1u64 << 53) - 1).into(),
        (-1).into(),
        (-32).into(),
        (-33).into(),
        (-128).into(),
        (-129).into(),
        (-32_768).into(),
        (-32_769).into(),
        (-2_147_483_648i64).into(),
        (-2_147_483_649i64).into(),
        (-(1i64 << 53) + 1).into(),
        float(1.5),
        float(-0.1),
        float(1e300 / 1e290),
        float(5e-324),
        float(2.0),
        "".into(),
        "a".repeat(31).into(),
        "a".repeat(32).into(),
        "é€🎉".repeat(20).into(),
        "x".repeat(70_000).into(),
        Value::Binary(Bytes::new()),
        Value::Binary(Bytes::from(vec![7u8; 300])),
        Value::Binary(Bytes::from(vec![1u8; 70_000])),
        Value::Array((0..16).map(Value::from).collect()),
        Value::Object((0..16).map(|i| (format!("k{i}"), Value::from(i))).collect()),
        // A broadcast as the Node adapter publishes it: [uid, packet, opts].
        Value::Array(vec![
            "Ab3dE9".into(),
            Value::Object(vec![
                ("type".into(), 2.into()),
                (
                    "data".into(),
                    Value::Array(vec![
                        "file".into(),
                        Value::Object(vec![
                            ("name".into(), "a.png".into()),
                            ("bytes".into(), Value::Binary(Bytes::from_static(&[0, 1, 2, 255]))),
                            (
                                "parts".into(),
                                Value::Array(vec![Value::Binary(Bytes::from_static(b"x")), 1.5.into()]),
                            ),
                        ]),
                    ]),
                ),
                ("nsp".into(), "/".into()),
            ]),
            Value::Object(vec![
                ("rooms".into(), Value::Array(vec!["room1".into()])),
                ("except".into(), Value::Array(vec![])),
                ("flags".into(), Value::Object(vec![("volatile".into(), true.into())])),
            ]),
        ]),
    ];
    let mut runner = TestRunner::deterministic();
    let values = strategies::value(true);
    let floats = proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO;
    for _ in 0..400 {
        let value = values.new_tree(&mut runner).expect("strategy").current();
        let number = floats.new_tree(&mut runner).expect("strategy").current();
        // notepack writes integral numbers of 64 bits and more modulo 2^64 (we keep them as
        // float 64, which it reads back right): compare below that.
        let number = if number.abs() < 9.2e18 { number } else { number / 1e300 };
        corpus.push(Value::Array(vec![value, float(number)]));
    }
    corpus
}

#[test]
fn our_msgpack_is_notepacks_byte_for_byte_both_ways() {
    let corpus = corpus();
    let cases: Vec<Json> = corpus
        .iter()
        .map(|value| json!({ "desc": describe::value_json(value), "ours": STANDARD.encode(msgpack::encode(value)) }))
        .collect();
    let answer = node::run_script("notepack.js", &serde_json::to_vec(&cases).unwrap());
    let answer: Vec<Json> = serde_json::from_slice(&answer).expect("the script's answer");
    assert_eq!(answer.len(), corpus.len());
    for (value, answer) in corpus.iter().zip(&answer) {
        let expected = describe::value_json(value);
        let theirs = STANDARD.decode(answer["encoded"].as_str().unwrap()).unwrap();
        assert_eq!(STANDARD.encode(msgpack::encode(value)), STANDARD.encode(&theirs), "encoding {expected}");
        assert_eq!(js(&answer["decoded"]["value"]), js(&expected), "notepack decoding ours of {expected}");
        let ours = msgpack::decode(&theirs).expect("their bytes decode");
        assert_eq!(js(&describe::value_json(&ours)), js(&expected), "decoding notepack's of {expected}");
    }
}
