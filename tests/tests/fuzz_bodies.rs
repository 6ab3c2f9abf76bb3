//! Runs the fuzz bodies on every build, so they cannot rot: on random inputs, on mutations
//! of valid packets, and on the hostile corpus. `fuzz/` runs the same bodies under libFuzzer.

use bytes::BytesMut;
use interop_tests::strategies;
use proptest::prelude::*;

const HOSTILE: &[&str] = &[
    "",
    "\u{1e}",
    "4a\u{1e}",
    "b",
    "b!!",
    "7",
    "é",
    "5",
    "51",
    "5woooot",
    "50-[]",
    "5-1-[]",
    r#"51-["a",{"_placeholder":true,"num":"splice"}]"#,
    r#"51-["a",{"_placeholder":true,"num":0.5}]"#,
    "2[true]",
    "2[]",
    "2{}",
    "0[]",
    "1{}",
    "31{}",
    "4[]",
    "2/admin",
    r#"2["connect"]"#,
];

#[test]
fn hostile_corpus() {
    for input in HOSTILE {
        engineio_proto::fuzz::packet(input.as_bytes());
        engineio_proto::fuzz::payload(input.as_bytes());
        socketio_proto::fuzz::packet(input.as_bytes());
        socketio_proto::fuzz::reassembler(input.as_bytes());
    }
    let long = format!("5{}-[\"a\"]\u{ff}", "9".repeat(100_000));
    socketio_proto::fuzz::packet(long.as_bytes());
}

/// Redis replies and MessagePack that a broken or hostile Redis (or cluster peer) could send:
/// negative and huge lengths, deep nesting, lengths past the end, through the fuzz bodies
/// (no panic, no huge allocation; their own checks run on what parses). Which of these are
/// refused, and how, the unit tests of `resp.rs` and `msgpack.rs` assert.
#[test]
fn hostile_cluster_corpus() {
    let deep_resp = "*1\r\n".repeat(100_000);
    let resp: &[&[u8]] = &[
        b"\x00*-5\r\n",
        b"\x00$99999999999999999999\r\n",
        b"\x00$-7\r\n",
        b"\x03*2\r\n$3\r\nabc\r\n:x\r\n",
        b"\x00>3\r\n+message\r\n$1\r\nc\r\n$0\r\n\r\n",
        b"\x00*2\r\n$3\r\n1-0\r\n*1\r\n$1\r\nk\r\n",
    ];
    for input in resp.iter().copied().chain([format!("\x00{deep_resp}").as_bytes()]) {
        socketio_proto::fuzz::resp(input);
    }
    let deep_msgpack = vec![0x91u8; 100_000];
    let msgpack: &[&[u8]] = &[
        &[0xdd, 0xff, 0xff, 0xff, 0xff],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],
        &[0xc6, 0x7f, 0xff, 0xff, 0xff],
        &[0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xc1],
        &deep_msgpack,
    ];
    for input in msgpack {
        socketio_proto::fuzz::msgpack(input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        engineio_proto::fuzz::packet(&data);
        engineio_proto::fuzz::payload(&data);
        socketio_proto::fuzz::packet(&data);
        socketio_proto::fuzz::reassembler(&data);
        socketio_proto::fuzz::resp(&data);
        socketio_proto::fuzz::msgpack(&data);
    }

    #[test]
    fn mutated_packets(
        packet in strategies::socket_packet(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut text = BytesMut::new();
        packet.encode_text(&mut text);
        let mut bytes = text.to_vec();
        if !bytes.is_empty() {
            let at = cut.index(bytes.len());
            bytes[at] = byte;
            socketio_proto::fuzz::packet(&bytes);
            bytes.truncate(at);
            socketio_proto::fuzz::packet(&bytes);
        }
        let mut sequence = Vec::new();
        for message in packet.to_engine_packets() {
            sequence.push(0xff);
            match message.data {
                engineio_proto::Data::Text(t) => { sequence.push(0); sequence.extend_from_slice(t.as_bytes()); }
                engineio_proto::Data::Binary(b) => { sequence.push(1); sequence.extend(b.iter().filter(|&&x| x != 0xff)); }
            }
        }
        socketio_proto::fuzz::reassembler(&sequence);
    }
}
