//! Fuzz bodies, one per decoder; the `fuzz/` targets call them. Each checks the invariants
//! that must hold for any input: no panic, and whatever decodes re-encodes to an equal packet.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::{Frame, Packet, PayloadFormat, decode_payload, encode_payload};

/// Decodes `data` as a WebSocket frame (text when it is UTF-8, binary otherwise).
pub fn packet(data: &[u8]) {
    let frame = match std::str::from_utf8(data) {
        Ok(text) => Frame::Text(ByteString::from(text)),
        Err(_) => Frame::Binary(Bytes::copy_from_slice(data)),
    };
    if let Ok(packet) = Packet::decode_frame(frame.clone()) {
        assert_eq!(packet.to_frame(), frame, "a decoded frame re-encodes to itself");
    }
}

/// Decodes `data` as a polling payload with a small limit.
pub fn payload(data: &[u8]) {
    let Ok(packets) = decode_payload(PayloadFormat::V4, Bytes::copy_from_slice(data), 4096) else {
        return;
    };
    let packets: Vec<Packet> = packets.map_while(Result::ok).collect();
    if packets.is_empty() {
        return;
    }
    let mut body = BytesMut::new();
    encode_payload(&packets, &mut body);
    let again: Result<Vec<Packet>, _> = decode_payload(PayloadFormat::V4, body.freeze(), usize::MAX)
        .expect("a re-encoded payload is valid UTF-8 within the limit")
        .collect();
    assert_eq!(again.as_ref(), Ok(&packets), "a decoded payload re-encodes to itself");
}
