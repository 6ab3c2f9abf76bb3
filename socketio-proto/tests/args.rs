//! The arguments rule: what a Rust value becomes on the wire and what it reads back as.

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use socketio_proto::{Payload, Value};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Upload {
    name: String,
    data: Bytes,
    parts: Vec<Bytes>,
    note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
enum Shape {
    Dot,
    Circle { r: u32 },
    Line(Point, Point),
}

#[test]
fn any_value_is_one_argument() {
    let cases: Vec<(Payload, &str)> = vec![
        (Payload::event("e", &"hi").unwrap(), r#"["e","hi"]"#),
        (Payload::event("e", &7).unwrap(), r#"["e",7]"#),
        (Payload::event("e", &Point { x: 1, y: 2 }).unwrap(), r#"["e",{"x":1,"y":2}]"#),
        (Payload::event("e", &vec!["a", "b"]).unwrap(), r#"["e",["a","b"]]"#),
        (Payload::event("e", &serde_json::json!({"k": [1]})).unwrap(), r#"["e",{"k":[1]}]"#),
        (Payload::event("e", &Option::<u8>::None).unwrap(), r#"["e",null]"#),
        (Payload::event("e", &Shape::Dot).unwrap(), r#"["e","Dot"]"#),
    ];
    for (payload, json) in cases {
        assert_eq!(payload.json(), json);
        assert!(!payload.has_binary());
    }
}

#[test]
fn a_tuple_spreads_and_unit_is_none() {
    assert_eq!(Payload::event("e", &()).unwrap().json(), r#"["e"]"#);
    assert_eq!(Payload::event("e", &(1,)).unwrap().json(), r#"["e",1]"#);
    assert_eq!(Payload::event("e", &(1, "a", [2, 3], vec![4])).unwrap().json(), r#"["e",1,"a",[2,3],[4]]"#);
    assert_eq!(Payload::event("e", &((1, 2), "x")).unwrap().json(), r#"["e",[1,2],"x"]"#);
    assert_eq!(Payload::ack_args(&()).unwrap().json(), "[]");
    assert_eq!(Payload::ack_args(&"ok").unwrap().json(), r#"["ok"]"#);
    assert_eq!(Payload::ack_args(&("ok", 2)).unwrap().json(), r#"["ok",2]"#);
    assert_eq!(Payload::ack_args(&vec![1, 2]).unwrap().json(), "[[1,2]]");
}

#[test]
fn binary_inside_typed_data_goes_as_attachments_and_comes_back() {
    let upload = Upload {
        name: "f".into(),
        data: Bytes::from_static(b"\x00\x01"),
        parts: vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")],
        note: None,
    };
    let payload = Payload::event("upload", &(&upload, Bytes::from_static(b"z"))).unwrap();
    assert_eq!(
        payload.json(),
        r#"["upload",{"name":"f","data":{"_placeholder":true,"num":0},"parts":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}],"note":null},{"_placeholder":true,"num":3}]"#
    );
    assert_eq!(payload.attachments(), [&b"\x00\x01"[..], b"a", b"bc", b"z"]);

    let (back, tail): (Upload, Bytes) = payload.args().unwrap();
    assert_eq!(back, upload);
    assert_eq!(tail, Bytes::from_static(b"z"));
    // One type: the first argument only.
    assert_eq!(payload.args::<Upload>().unwrap(), upload);
    // A plain Vec<u8> receives binary too.
    let (_, raw): (Value, Vec<u8>) = payload.args().unwrap();
    assert_eq!(raw, b"z");
}

#[test]
fn typed_receive_reads_one_or_a_tuple() {
    let payload = Payload::from_json(r#"["e","a",{"x":1,"y":2},[3],{"Circle":{"r":4}}]"#).unwrap();
    assert_eq!(payload.args::<String>().unwrap(), "a");
    let (a, p): (String, Point) = payload.args().unwrap();
    assert_eq!((a.as_str(), p), ("a", Point { x: 1, y: 2 }));
    let (_, _, v, s): (String, Point, Vec<u8>, Shape) = payload.args().unwrap();
    assert_eq!((v, s), (vec![3], Shape::Circle { r: 4 }));
    let () = payload.args().unwrap();
    // The whole list, dynamically.
    assert_eq!(payload.arg_values().unwrap().len(), 4);

    // Missing: an error, except for an Option.
    let bare = Payload::from_json(r#"["e"]"#).unwrap();
    assert!(bare.args::<String>().is_err());
    assert_eq!(bare.args::<Option<String>>().unwrap(), None);
    assert!(bare.args::<(String, u8)>().is_err());
    let () = bare.args().unwrap();

    // Extra arguments are ignored, as JavaScript ignores them.
    let (a,): (String,) = payload.args().unwrap();
    assert_eq!(a, "a");

    // Wrong types are errors, not panics.
    assert!(payload.args::<u32>().is_err());
    assert!(payload.args::<(String, String)>().is_err());
}

#[test]
fn enums_and_binary_together_read_through_values() {
    let payload = Payload::event(
        "e",
        &(Shape::Line(Point { x: 1, y: 2 }, Point { x: 3, y: 4 }), Bytes::from_static(b"q")),
    )
    .unwrap();
    assert!(payload.has_binary());
    let (shape, bytes): (Shape, Bytes) = payload.args().unwrap();
    assert_eq!(shape, Shape::Line(Point { x: 1, y: 2 }, Point { x: 3, y: 4 }));
    assert_eq!(bytes, Bytes::from_static(b"q"));
}

#[test]
fn ack_arguments_read_with_the_same_rule() {
    let ack = Payload::ack_args(&("ok", 2)).unwrap();
    assert_eq!(ack.array_args::<String>().unwrap(), "ok");
    assert_eq!(ack.array_args::<(String, u8)>().unwrap(), ("ok".into(), 2));
    let binary = Payload::ack_args(&Bytes::from_static(b"\x09")).unwrap();
    assert_eq!(binary.array_args::<Bytes>().unwrap(), Bytes::from_static(b"\x09"));
}

#[test]
fn raw_arguments_are_forwarded_without_parsing() {
    let received = Payload::from_json(r#"["in", 1 ,{"a" : [2]}]"#).unwrap();
    let forwarded = Payload::event("out", &received.raw_args()).unwrap();
    assert_eq!(forwarded.json(), r#"["out", 1 ,{"a" : [2]}]"#);
    assert_eq!(Payload::ack_args(&received.raw_args()).unwrap().json(), r#"[ 1 ,{"a" : [2]}]"#);
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Binary(b.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-z\"\\\\]{0,4}", inner), 0..6).prop_map(Value::Object),
        ]
    })
}

proptest! {
    /// The serde encoder writes exactly what the dynamic value writer writes, attachments
    /// in the same order, and reading back gives the value again.
    #[test]
    fn serde_path_matches_the_value_writer(v in value(), w in value()) {
        let by_serde = Payload::event("e", &(&v, &w)).unwrap();
        let by_value = Payload::event_with_args("e", &Payload::from_value(&Value::Array(vec![v.clone(), w.clone()]))).unwrap();
        prop_assert_eq!(by_serde.json(), by_value.json());
        prop_assert_eq!(by_serde.attachments(), by_value.attachments());
        let (v2, w2): (Value, Value) = by_serde.args().unwrap();
        prop_assert_eq!((v2, w2), (v.clone(), w));
        prop_assert_eq!(by_serde.args::<Value>().unwrap(), v.clone());
        let one = Payload::event("e", &v).unwrap();
        prop_assert_eq!(one.args::<Value>().unwrap(), v);
    }
}

proptest! {
    /// An offset appended as the last argument comes off again exactly, leaving the payload
    /// as it was, binary attachments included.
    #[test]
    fn a_trailing_string_comes_off_as_it_went_on(args in proptest::collection::vec(value(), 0..4), text in any::<String>()) {
        let payload = Payload::from_value(&Value::Array(args.clone()));
        let stamped = payload.with_trailing_string(&text);
        let mut expected = args;
        expected.push(Value::String(text.clone()));
        prop_assert_eq!(stamped.to_value().unwrap(), Value::Array(expected));
        let (back, offset) = stamped.split_trailing_string().unwrap();
        prop_assert_eq!(offset, text);
        prop_assert_eq!(back.to_value().unwrap(), payload.to_value().unwrap());
        prop_assert_eq!(back.attachments(), payload.attachments());
    }
}

#[test]
fn only_a_trailing_string_comes_off() {
    for json in [r#"[]"#, r#"["a",1]"#, r#"["a",{"b":"c"}]"#, r#"{"a":"b"}"#, r#""a""#] {
        assert!(Payload::from_json(json).unwrap().split_trailing_string().is_none(), "{json}");
    }
    let (rest, offset) =
        Payload::from_json(r#"[ "tick" , 1 , "o\"1" ]"#).unwrap().split_trailing_string().unwrap();
    assert_eq!((rest.json().as_ref() as &str, offset.as_str()), (r#"[ "tick" , 1 ]"#, "o\"1"));
    let (rest, _) = Payload::from_json(r#"["only"]"#).unwrap().split_trailing_string().unwrap();
    assert_eq!(rest.json(), "[]");
}
