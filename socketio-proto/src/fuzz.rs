//! Fuzz bodies for the Socket.IO decoder; the `fuzz/` targets call them. Whatever decodes
//! must re-encode and decode to an equal packet, and nothing may panic.

use bytes::Bytes;
use bytestring::ByteString;

use crate::{DecodeLimits, Decoder, Packet};

/// Decodes `data` as one text packet (when it is UTF-8).
pub fn packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut decoder = Decoder::new(DecodeLimits::default());
    if let Ok(Some(packet)) = decoder.feed_text(ByteString::from(text)) {
        check_round_trip(&packet);
    }
    if let Ok(payload) = crate::Payload::from_json(ByteString::from(text)) {
        let _ = payload.to_value();
        let _ = payload.event_name();
    }
}

/// Feeds the decoder a sequence of messages: `data` is split at `0xff` bytes, and each piece
/// is a text message when its first byte is even, a binary message otherwise.
pub fn reassembler(data: &[u8]) {
    let mut decoder = Decoder::new(DecodeLimits { max_attachments: 4 });
    for piece in data.split(|&b| b == 0xff) {
        let Some((&selector, body)) = piece.split_first() else {
            continue;
        };
        let result = if selector % 2 == 0 {
            match std::str::from_utf8(body) {
                Ok(text) => decoder.feed_text(ByteString::from(text)),
                Err(_) => continue,
            }
        } else {
            decoder.feed_binary(Bytes::copy_from_slice(body))
        };
        match result {
            Ok(Some(packet)) => {
                assert_eq!(decoder.missing_attachments(), 0);
                check_round_trip(&packet);
            }
            Ok(None) => assert!(decoder.missing_attachments() > 0),
            Err(_) => assert_eq!(decoder.missing_attachments(), 0, "errors reset the decoder"),
        }
    }
}

fn check_round_trip(packet: &Packet) {
    let mut decoder = Decoder::new(DecodeLimits { max_attachments: usize::MAX });
    let mut again = decoder.feed_text(packet.to_text());
    for attachment in packet.attachments() {
        again = decoder.feed_binary(attachment.clone());
    }
    assert_eq!(
        again.as_ref().ok().and_then(Option::as_ref),
        Some(packet),
        "re-encoded packet decodes to itself"
    );
}
