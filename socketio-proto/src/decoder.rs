//! Incremental decoding: text packets, and binary packets reassembled from their attachments.

use bytes::Bytes;
use bytestring::ByteString;

use crate::json_scan::{self, JsonKind, Outline};
use crate::payload::{json_error, string_at};
use crate::{DecodeError, Namespace, Packet, PacketKind, PacketType, Payload, is_reserved_event};

/// Limits the decoder enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most binary attachments one packet may announce (the reference's default is 10).
    pub max_attachments: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_attachments: 10 }
    }
}

/// Decodes the Engine.IO messages of one session into Socket.IO packets.
///
/// Text messages are packets; a binary packet (`5`/`6`) is held until exactly as many
/// binary messages as it announced have arrived, then returned with its attachments.
/// After an error the session should be closed; the decoder is reset.
///
/// ```
/// use bytes::Bytes;
/// use socketio_proto::{DecodeLimits, Decoder};
///
/// let mut decoder = Decoder::new(DecodeLimits::default());
/// let header = r#"51-["upload",{"_placeholder":true,"num":0}]"#;
/// assert_eq!(decoder.feed_text(header.into()), Ok(None));
/// let packet = decoder.feed_binary(Bytes::from_static(b"\x01\x02")).unwrap().unwrap();
/// assert_eq!(packet.attachments(), [Bytes::from_static(b"\x01\x02")]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    limits: DecodeLimits,
    pending: Option<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    packet: Packet,
    expected: usize,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        Decoder { limits, pending: None }
    }

    /// How many attachments the pending binary packet still waits for.
    pub fn missing_attachments(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.expected - p.packet.attachments().len())
    }

    /// Feeds a text message. Returns the packet, or `None` while its attachments are awaited.
    pub fn feed_text(&mut self, text: ByteString) -> Result<Option<Packet>, DecodeError> {
        if let Some(pending) = self.pending.take() {
            let missing = pending.expected - pending.packet.attachments().len();
            return Err(DecodeError::UnexpectedText { missing });
        }
        let (packet, expected) = decode_text(text, &self.limits)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Pending { packet, expected });
        Ok(None)
    }

    /// Feeds a binary message: the next attachment of the pending packet.
    pub fn feed_binary(&mut self, bytes: Bytes) -> Result<Option<Packet>, DecodeError> {
        let mut pending = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        if let Some(payload) = pending.packet.payload.as_mut() {
            payload.push_attachment(bytes);
        }
        if pending.packet.attachments().len() < pending.expected {
            self.pending = Some(pending);
            return Ok(None);
        }
        Ok(Some(pending.packet))
    }

    /// Feeds the data of an Engine.IO message packet.
    pub fn feed(&mut self, data: engineio_proto::Data) -> Result<Option<Packet>, DecodeError> {
        match data {
            engineio_proto::Data::Text(text) => self.feed_text(text),
            engineio_proto::Data::Binary(bytes) => self.feed_binary(bytes),
        }
    }
}

/// Decodes one text packet; returns it with the number of attachments still to come.
fn decode_text(text: ByteString, limits: &DecodeLimits) -> Result<(Packet, usize), DecodeError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(DecodeError::EmptyPacket)?;
    let wire = PacketType::from_byte(first)
        .ok_or_else(|| DecodeError::UnknownPacketType(text.chars().next().unwrap_or_default()))?;
    let mut pos = 1;

    let mut attachments = 0;
    if wire.is_binary() {
        let digits = count_digits(bytes, pos);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(DecodeError::InvalidAttachmentCount);
        }
        let count = parse_decimal(bytes.get(pos..pos + digits).unwrap_or_default());
        attachments = match count.and_then(|n| usize::try_from(n).ok()) {
            Some(0) => return Err(DecodeError::InvalidAttachmentCount),
            Some(n) if n <= limits.max_attachments => n,
            other => {
                let count = other.unwrap_or(usize::MAX);
                return Err(DecodeError::TooManyAttachments { count, max: limits.max_attachments });
            }
        };
        pos += digits + 1;
    }

    let namespace = if bytes.get(pos) == Some(&b'/') {
        let rest = bytes.get(pos..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == b',').map_or(bytes.len(), |i| pos + i);
        let name = text.get(pos..end).unwrap_or_default();
        pos = (end + 1).min(bytes.len());
        Namespace::from_checked(name)
    } else {
        Namespace::main()
    };

    let mut ack_id = None;
    let digits = count_digits(bytes, pos);
    if digits > 0 {
        let id = parse_decimal(bytes.get(pos..pos + digits).unwrap_or_default());
        ack_id = Some(id.ok_or(DecodeError::InvalidAckId)?);
        pos += digits;
    }

    let kind = wire.kind();
    let json = text.slice_ref(text.get(pos..).unwrap_or_default());
    let payload = if json.is_empty() {
        check_shape(kind, None, &json)?;
        None
    } else {
        let mut slots = vec![false; attachments];
        let placeholders = if attachments > 0 { Some(slots.as_mut_slice()) } else { None };
        let outline = json_scan::scan(json.as_bytes(), placeholders).map_err(json_error)?;
        check_shape(kind, Some(&outline), &json)?;
        let got = slots.iter().filter(|&&seen| seen).count();
        if got != attachments {
            return Err(DecodeError::AttachmentCountMismatch { expected: attachments, got });
        }
        Some(Payload::from_parts(json, Vec::with_capacity(attachments)))
    };
    if attachments > 0 && payload.is_none() {
        return Err(DecodeError::AttachmentCountMismatch { expected: attachments, got: 0 });
    }
    Ok((Packet { kind, namespace, ack_id, payload }, attachments))
}

/// Checks the payload's JSON shape against what `kind` allows.
fn check_shape(kind: PacketKind, outline: Option<&Outline>, json: &str) -> Result<(), DecodeError> {
    let shape = outline.map(|o| o.kind);
    let valid = match kind {
        PacketKind::Connect => matches!(shape, None | Some(JsonKind::Object)),
        PacketKind::Disconnect => shape.is_none(),
        PacketKind::ConnectError => matches!(shape, Some(JsonKind::String | JsonKind::Object)),
        PacketKind::Ack => matches!(shape, None | Some(JsonKind::Array)),
        PacketKind::Event => {
            let first = outline.filter(|o| o.kind == JsonKind::Array).and_then(|o| o.first.as_ref());
            let Some(first) = first else {
                return Err(DecodeError::InvalidPayload(kind));
            };
            let Some((range, escaped)) = first.string.clone() else {
                return Err(DecodeError::EventNameNotString);
            };
            let name = string_at(json, range, escaped).ok_or(DecodeError::InvalidPayload(kind))?;
            if is_reserved_event(&name) {
                return Err(DecodeError::ReservedEventName(name.into_owned()));
            }
            true
        }
    };
    if valid { Ok(()) } else { Err(DecodeError::InvalidPayload(kind)) }
}

fn count_digits(bytes: &[u8], from: usize) -> usize {
    bytes.get(from..).unwrap_or_default().iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Parses ASCII digits; `None` on overflow. Stops early, so 10^5 digits cost nothing.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_namespace_does_not_keep_its_message_alive() {
        let message = ByteString::from(format!(r#"2/room-1,["big",{:?}]"#, "x".repeat(10_000)));
        let range = message.as_ptr() as usize..message.as_ptr() as usize + message.len();
        let Ok(Some(packet)) = Decoder::new(DecodeLimits::default()).feed_text(message) else {
            panic!("a valid packet")
        };
        assert_eq!(packet.namespace.as_str(), "/room-1");
        assert!(!range.contains(&(packet.namespace.as_str().as_ptr() as usize)), "a copy, not a slice");
    }
}
