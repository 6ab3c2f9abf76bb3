//! Properties of the cluster's MessagePack: every value reads back as itself, and no byte
//! string makes the decoder panic.

use bytes::Bytes;
use proptest::prelude::*;
use socketio_proto::Value;
use socketio_proto::cluster::msgpack;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-integral floats (integral ones read back as integers, as in JavaScript).
        (-1e12f64..1e12).prop_filter("not integral", |v| v.fract() != 0.0).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{0,6}", inner, 0..20)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn every_value_reads_back_as_itself(value in value()) {
        prop_assert_eq!(msgpack::decode(&msgpack::encode(&value)), Ok(value));
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = msgpack::decode(&bytes);
    }

    #[test]
    fn a_cut_encoding_is_an_error(value in value(), cut in any::<prop::sample::Index>()) {
        let bytes = msgpack::encode(&value);
        let cut = cut.index(bytes.len());
        prop_assert!(msgpack::decode(&bytes[..cut]).is_err());
    }
}
