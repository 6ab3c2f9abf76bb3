//! The codec benchmark: decode and encode of four representative cases, ours against the
//! reference parsers (engine.io-parser + socket.io-parser in Node) on the same bytes, in the
//! same run. Not a test: it prints a table.
//!
//! `cargo bench -p interop-tests --bench codec`
//!
//! `BENCH_FILTER=chat` runs only the cases whose name contains `chat`; `BENCH_REFERENCE=0`
//! skips the Node side (for profiling ours under valgrind).

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use engineio_proto::{Frame, PacketType, PayloadFormat, decode_payload, encode_payload};
use interop_tests::node;
use serde_json::{Value as Json, json};
use socketio_proto::server::EncodedPacket;
use socketio_proto::{DecodeLimits, Decoder, Namespace, Packet, Payload, Value};

/// ns per call of `f`: the best of 7 rounds of ~100 ms after a 200 ms warm-up (the
/// minimum is the statistic least disturbed by a noisy machine).
fn measure(mut f: impl FnMut()) -> f64 {
    let mut batch = 1u64;
    let warm_until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < warm_until {
        for _ in 0..batch {
            f();
        }
        batch = (batch * 2).min(1 << 20);
    }
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < Duration::from_millis(100) {
                for _ in 0..batch {
                    f();
                }
                calls += batch;
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[0]
}

/// A Socket.IO event as engine frames, plus what the reference needs to encode it.
struct FramesCase {
    name: &'static str,
    namespace: Namespace,
    ack: Option<u64>,
    event: &'static str,
    args: Vec<Value>,
}

impl FramesCase {
    fn packet(&self) -> Packet {
        let payload = Payload::event_values(self.event, &self.args).expect("not reserved");
        let packet = Packet::event(self.namespace.clone(), payload);
        match self.ack {
            Some(id) => packet.with_ack_id(id),
            None => packet,
        }
    }

    fn frames(&self) -> Vec<Frame> {
        EncodedPacket::new(&self.packet()).frames().collect()
    }
}

fn json_of(value: &Value) -> Json {
    match value {
        Value::Binary(b) => json!({ "$bin": STANDARD.encode(b) }),
        Value::Array(items) => Json::Array(items.iter().map(json_of).collect()),
        Value::Object(members) => {
            Json::Object(members.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
        }
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
    }
}

fn object_1kb() -> Value {
    let item = |i: i64| {
        Value::Object(vec![
            ("id".into(), i.into()),
            ("name".into(), format!("item number {i}").into()),
            ("tags".into(), Value::Array(vec!["alpha".into(), "beta".into()])),
            ("active".into(), (i % 2 == 0).into()),
            ("score".into(), (i * 37).into()),
        ])
    };
    Value::Object(vec![
        ("room".into(), "general".into()),
        ("author".into(), Value::Object(vec![("id".into(), 42.into()), ("nick".into(), "alice".into())])),
        ("items".into(), Value::Array((0..11).map(item).collect())),
    ])
}

/// 100 mixed engine packets: events, pongs, and binary events with their attachment.
fn mixed_packets() -> Vec<engineio_proto::Packet> {
    let mut packets = Vec::with_capacity(100);
    for n in 0..10u8 {
        for k in 0..7 {
            let text =
                format!(r#"2["message",{{"n":{n},"k":{k},"text":"hello there, this is message {k}"}}]"#);
            packets.push(engineio_proto::Packet::message(text));
        }
        packets.push(engineio_proto::Packet::pong());
        packets.push(engineio_proto::Packet::message(r#"51-["blob",{"_placeholder":true,"num":0}]"#));
        packets.push(engineio_proto::Packet::binary(vec![n; 32]));
    }
    packets
}

fn decode_frames(frames: &[Frame]) -> usize {
    let mut decoder = Decoder::new(DecodeLimits::default());
    let mut out = None;
    for frame in frames {
        let packet = engineio_proto::Packet::decode_frame(frame.clone()).expect("valid frame");
        out = decoder.feed(packet.data).expect("valid packet");
    }
    let packet = out.expect("complete packet");
    packet.payload.map_or(0, |p| p.event_name().map_or(0, |n| n.len()))
}

fn main() {
    let cases = [
        FramesCase {
            name: "small chat event",
            namespace: Namespace::main(),
            ack: None,
            event: "chat message",
            args: vec!["hello".into()],
        },
        FramesCase {
            name: "1 KB object, ack id, namespace",
            namespace: Namespace::new("/chat").expect("valid"),
            ack: Some(17),
            event: "update",
            args: vec![object_1kb()],
        },
        FramesCase {
            name: "64 KB binary attachment",
            namespace: Namespace::main(),
            ack: None,
            event: "file",
            args: vec![Value::Binary(Bytes::from(vec![7u8; 64 * 1024]))],
        },
    ];
    let mixed = mixed_packets();
    let mut body = BytesMut::new();
    encode_payload(&mixed, &mut body);
    let body = body.freeze();

    // The reference's inputs: the very same bytes.
    let mut inputs: Vec<Json> = cases
        .iter()
        .map(|case| {
            let frames: Vec<Json> = case
                .frames()
                .iter()
                .map(|f| match f {
                    Frame::Text(t) => json!({ "text": &**t }),
                    Frame::Binary(b) => json!({ "binary": STANDARD.encode(b) }),
                })
                .collect();
            let mut data = vec![Json::String(case.event.into())];
            data.extend(case.args.iter().map(json_of));
            json!({
                "kind": "frames",
                "name": case.name,
                "frames": frames,
                "nsp": case.namespace.as_str(),
                "id": case.ack,
                "json": Json::Array(data).to_string(),
            })
        })
        .collect();
    inputs.push(json!({
        "kind": "payload",
        "name": "polling payload, 100 packets",
        "body": std::str::from_utf8(&body).expect("UTF-8"),
        "packets": mixed.iter().map(|p| match &p.data {
            engineio_proto::Data::Text(t) => json!({ "type": p.kind.name(), "data": &**t }),
            engineio_proto::Data::Binary(b) => json!({ "binary": STANDARD.encode(b) }),
        }).collect::<Vec<_>>(),
    }));
    let dir = std::env::temp_dir().join(format!("codec-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let inputs_path = dir.join("inputs.json");
    std::fs::write(&inputs_path, Json::Array(inputs).to_string()).expect("writing inputs");

    let filter = std::env::var("BENCH_FILTER").unwrap_or_default();
    let wanted = |name: &str| name.contains(&filter);
    let mut ours: Vec<(String, &str, f64)> = Vec::new();
    for case in cases.iter().filter(|c| wanted(c.name)) {
        let frames = case.frames();
        ours.push((
            case.name.into(),
            "decode",
            measure(|| {
                black_box(decode_frames(black_box(&frames)));
            }),
        ));
        let args = case.args.clone();
        ours.push((
            case.name.into(),
            "encode",
            measure(|| {
                let payload = Payload::event_values(case.event, black_box(&args)).expect("not reserved");
                let mut packet = Packet::event(case.namespace.clone(), payload);
                packet.ack_id = case.ack;
                black_box(EncodedPacket::new(&packet));
            }),
        ));
    }
    let name = "polling payload, 100 packets".to_owned();
    if wanted(&name) {
        ours.push((
            name.clone(),
            "decode",
            measure(|| {
                let mut decoder = Decoder::new(DecodeLimits::default());
                let mut packets = 0usize;
                for packet in
                    decode_payload(PayloadFormat::V4, black_box(body.clone()), 1_000_000).expect("valid")
                {
                    let packet = packet.expect("valid packet");
                    if packet.kind == PacketType::Message {
                        packets += usize::from(decoder.feed(packet.data).expect("valid").is_some());
                    }
                }
                black_box(packets);
            }),
        ));
        ours.push((
            name,
            "encode",
            measure(|| {
                let mut out = BytesMut::with_capacity(body.len());
                encode_payload(black_box(&mixed), &mut out);
                black_box(out);
            }),
        ));
    }

    let reference =
        node::run_script_with_args("bench-codec.js", &[inputs_path.to_str().expect("UTF-8 path")], b"");
    let _ = std::fs::remove_dir_all(&dir);
    let reference: Vec<Json> =
        String::from_utf8_lossy(&reference).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();

    println!();
    println!("| case | op | ours (ns/op) | reference (ns/op) | ours vs reference |");
    println!("|---|---|---:|---:|---:|");
    for (case, op, ns) in &ours {
        let theirs = reference
            .iter()
            .find(|r| r["case"] == case.as_str() && r["op"] == *op)
            .and_then(|r| r["ns"].as_f64())
            .unwrap_or(f64::NAN);
        println!("| {case} | {op} | {ns:.0} | {theirs:.0} | {:.1}x |", theirs / ns);
    }
}
