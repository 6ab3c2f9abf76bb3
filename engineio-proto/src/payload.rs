//! The HTTP long-polling form: packets joined by the record separator `\x1e`.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::{DecodeError, Packet};

/// The record separator between packets of a v4 polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// The payload framing of an Engine.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadFormat {
    /// v3: each packet prefixed by its length (`<len>:<packet>`). Not decoded yet.
    V3,
    /// v4: packets joined by `\x1e`, binary as `b` + base64.
    #[default]
    V4,
}

impl PayloadFormat {
    /// The `EIO` query value that selects this format.
    pub const fn protocol(self) -> u8 {
        match self {
            PayloadFormat::V3 => 3,
            PayloadFormat::V4 => 4,
        }
    }
}

/// Decodes a polling payload (an HTTP body) into its packets, lazily.
///
/// The body is checked against `max_payload` and for UTF-8 once, up front; each packet
/// is then a slice of the body. The iterator yields at most one error, then stops.
///
/// ```
/// use engineio_proto::{decode_payload, Packet, PayloadFormat};
///
/// let body = bytes::Bytes::from_static(b"4hello\x1ebAQID\x1e2");
/// let packets: Result<Vec<_>, _> =
///     decode_payload(PayloadFormat::V4, body, 1_000_000).unwrap().collect();
/// assert_eq!(
///     packets.unwrap(),
///     [Packet::message("hello"), Packet::binary(vec![1u8, 2, 3]), Packet::ping()]
/// );
/// ```
pub fn decode_payload(
    format: PayloadFormat,
    body: Bytes,
    max_payload: usize,
) -> Result<PayloadDecoder, DecodeError> {
    if format != PayloadFormat::V4 {
        return Err(DecodeError::UnsupportedProtocol(format.protocol()));
    }
    if body.len() > max_payload {
        return Err(DecodeError::PayloadTooLarge { len: body.len(), max: max_payload });
    }
    let text = ByteString::try_from(body).map_err(|_| DecodeError::InvalidUtf8)?;
    Ok(PayloadDecoder { rest: Some(text) })
}

/// Iterator over the packets of a polling payload; see [`decode_payload`].
#[derive(Debug, Clone)]
pub struct PayloadDecoder {
    rest: Option<ByteString>,
}

impl Iterator for PayloadDecoder {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        let bytes = rest.as_bytes();
        let record = match memchr::memchr(SEPARATOR, bytes) {
            Some(at) => {
                let (head, tail) = rest.split_at(at);
                self.rest = Some(tail.slice_ref(tail.get(1..).unwrap_or_default()));
                head
            }
            None => rest,
        };
        let packet = Packet::decode_polling_record(record);
        if packet.is_err() {
            self.rest = None;
        }
        Some(packet)
    }
}

/// Appends the polling form of `packets` to `out`.
///
/// Text data must not contain `\x1e`: it would split the packet in two on the other side.
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>, out: &mut BytesMut) {
    for (index, packet) in packets.into_iter().enumerate() {
        if index > 0 {
            out.put_u8(SEPARATOR);
        }
        packet.encode_text(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &'static [u8]) -> Result<Vec<Packet>, DecodeError> {
        decode_payload(PayloadFormat::V4, Bytes::from_static(body), 1_000_000)?.collect()
    }

    #[test]
    fn mixed_payload_round_trip() {
        let packets = [
            Packet::message("hello €"),
            Packet::binary(vec![1u8, 2, 3, 4]),
            Packet::ping(),
            Packet::new(crate::PacketType::Pong, "probe"),
        ];
        let mut out = BytesMut::new();
        encode_payload(&packets, &mut out);
        assert_eq!(&out[..], "4hello €\x1ebAQIDBA==\x1e2\x1e3probe".as_bytes());
        let decoded: Vec<_> =
            decode_payload(PayloadFormat::V4, out.freeze(), 100).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(decoded, packets);
    }

    #[test]
    fn single_packet_payload() {
        assert_eq!(decode(b"6"), Ok(vec![Packet::empty(crate::PacketType::Noop)]));
    }

    #[test]
    fn empty_records_are_errors() {
        assert_eq!(decode(b""), Err(DecodeError::EmptyPacket));
        assert_eq!(decode(b"\x1e"), Err(DecodeError::EmptyPacket));
        assert_eq!(decode(b"4a\x1e\x1e4b"), Err(DecodeError::EmptyPacket));
        assert_eq!(decode(b"4a\x1e"), Err(DecodeError::EmptyPacket));
    }

    #[test]
    fn decoding_stops_at_the_first_error() {
        let mut packets =
            decode_payload(PayloadFormat::V4, Bytes::from_static(b"4a\x1ex\x1e4b"), 100).unwrap();
        assert_eq!(packets.next(), Some(Ok(Packet::message("a"))));
        assert_eq!(packets.next(), Some(Err(DecodeError::UnknownPacketType('x'))));
        assert_eq!(packets.next(), None);
    }

    #[test]
    fn invalid_base64_record() {
        assert_eq!(decode(b"4a\x1eb%%%"), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn oversized_payload_is_refused_before_decoding() {
        let body = Bytes::from(vec![b'4'; 101]);
        assert_eq!(
            decode_payload(PayloadFormat::V4, body, 100).err(),
            Some(DecodeError::PayloadTooLarge { len: 101, max: 100 })
        );
    }

    #[test]
    fn invalid_utf8_body() {
        assert_eq!(
            decode_payload(PayloadFormat::V4, Bytes::from_static(b"4\xff"), 100).err(),
            Some(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn v3_is_named_but_not_decoded() {
        assert_eq!(
            decode_payload(PayloadFormat::V3, Bytes::from_static(b"2:4a"), 100).err(),
            Some(DecodeError::UnsupportedProtocol(3))
        );
    }
}
