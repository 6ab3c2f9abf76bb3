//! Neutral JSON descriptions of packets, the common language of our tests and the
//! reference scripts in `tests/js`.
//!
//! Binary data is written `{"$bin": "<base64>"}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json, json};
use socketio_proto::{Packet, PacketKind, Value};

/// `{"type": "message", "data": "..."}` or `{"type": "message", "binary": "<base64>"}`.
pub fn engine_packet(packet: &engineio_proto::Packet) -> Json {
    match &packet.data {
        engineio_proto::Data::Text(text) => json!({ "type": packet.kind.name(), "data": &**text }),
        engineio_proto::Data::Binary(bytes) => {
            json!({ "type": packet.kind.name(), "binary": STANDARD.encode(bytes) })
        }
    }
}

/// `{"type": 0..=4, "nsp": "/...", "id": n, "data": ...}` as the reference decoder yields
/// it (binary packets reported as their non-binary type).
pub fn socket_packet(packet: &Packet) -> Json {
    let mut out = Map::new();
    let kind = match packet.kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event => 2,
        PacketKind::Ack => 3,
        PacketKind::ConnectError => 4,
    };
    out.insert("type".into(), kind.into());
    out.insert("nsp".into(), packet.namespace.as_str().into());
    if let Some(id) = packet.ack_id {
        out.insert("id".into(), id.into());
    }
    if let Some(payload) = &packet.payload {
        let value = payload.to_value().unwrap_or(Value::Null);
        out.insert("data".into(), value_json(&value));
    }
    Json::Object(out)
}

/// A dynamic value as JSON, binary as `{"$bin": "<base64>"}`.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Binary(bytes) => json!({ "$bin": STANDARD.encode(bytes) }),
        Value::Array(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Object(members) => {
            Json::Object(members.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
        }
    }
}

/// Base64 of every buffer, for passing attachments and frames to the scripts.
pub fn base64_all<'a>(buffers: impl IntoIterator<Item = &'a bytes::Bytes>) -> Json {
    Json::Array(buffers.into_iter().map(|b| STANDARD.encode(b).into()).collect())
}

/// Decodes base64 produced by a script.
pub fn from_base64(text: &str) -> bytes::Bytes {
    STANDARD.decode(text).unwrap_or_default().into()
}
