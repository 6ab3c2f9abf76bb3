//! Fuzz bodies for the Socket.IO decoder and the cluster's codecs (Redis replies,
//! MessagePack); the `fuzz/` targets call them. Whatever decodes must re-encode and decode
//! to an equal value, and nothing may panic.

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

/// Reads Redis replies from `data` (after a first byte that sets the size of the pieces it
/// arrives in): every reply re-encodes to bytes that read back to it, and the readers of
/// pub/sub messages and stream entries take it.
pub fn resp(data: &[u8]) {
    use crate::cluster::resp::{PubSubMessage, ReplyReader, stream_entries};
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    let mut reader = ReplyReader::new(64 * 1024);
    for chunk in data.chunks(usize::from(piece % 16) + 1) {
        reader.feed(chunk);
        loop {
            match reader.next_reply() {
                Ok(Some(reply)) => {
                    let mut again = ReplyReader::new(usize::MAX);
                    again.feed(&reply.encode());
                    assert_eq!(again.next_reply(), Ok(Some(reply.clone())), "a reply reads back as itself");
                    let _ = stream_entries(reply.clone());
                    let _ = PubSubMessage::from_reply(reply);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Decodes `data` as MessagePack (the cluster's messages) and as a stored recovery session:
/// what decodes encodes to bytes that decode to the same encoding.
pub fn msgpack(data: &[u8]) {
    use crate::cluster::msgpack::{decode, encode};
    if let Ok(value) = decode(data) {
        let bytes = encode(&value);
        let again = decode(&bytes).expect("our encoding decodes");
        assert_eq!(encode(&again), bytes, "encoding is stable");
    }
    let _ = crate::cluster::redis::streams::StoredSession::decode(data);
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
