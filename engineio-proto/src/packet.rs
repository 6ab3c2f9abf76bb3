//! One Engine.IO packet and its WebSocket form (one packet per frame).

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::DecodeError;

/// The seven Engine.IO packet types, with their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: the server's handshake.
    Open,
    /// `1`: the transport is closing.
    Close,
    /// `2`: heartbeat request (sent by the server in v4), or `2probe` during upgrade.
    Ping,
    /// `3`: heartbeat answer, or `3probe` during upgrade.
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: completes an upgrade to WebSocket.
    Upgrade,
    /// `6`: no operation, used to release a pending poll during upgrade.
    Noop,
}

impl PacketType {
    /// All packet types in wire order.
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The ASCII digit this type is written as.
    pub const fn as_byte(self) -> u8 {
        match self {
            PacketType::Open => b'0',
            PacketType::Close => b'1',
            PacketType::Ping => b'2',
            PacketType::Pong => b'3',
            PacketType::Message => b'4',
            PacketType::Upgrade => b'5',
            PacketType::Noop => b'6',
        }
    }

    /// The type written as `byte`, if any.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }

    /// The name the reference implementation uses (`"open"`, `"message"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Open => "open",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
            PacketType::Message => "message",
            PacketType::Upgrade => "upgrade",
            PacketType::Noop => "noop",
        }
    }
}

/// What a packet carries: text (possibly empty) or raw bytes.
///
/// Binary data only travels in message packets: the WebSocket form sends it as a
/// binary frame with no type byte, the polling form as `b` + base64.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// UTF-8 text; empty when the packet is only its type digit.
    Text(ByteString),
    /// Raw bytes of a binary message.
    Binary(Bytes),
}

/// One Engine.IO packet.
///
/// ```
/// use engineio_proto::{Packet, PacketType};
///
/// let packet = Packet::decode_text("4hello".into()).unwrap();
/// assert_eq!(packet, Packet::message("hello"));
/// assert_eq!(packet.to_text(), "4hello");
/// assert_eq!(Packet::ping().to_text(), "2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet type. Always [`PacketType::Message`] for [`Data::Binary`].
    pub kind: PacketType,
    /// The packet's data.
    pub data: Data,
}

/// A WebSocket frame carrying exactly one packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text frame: the type digit followed by the text data.
    Text(ByteString),
    /// A binary frame: the raw bytes of a binary message.
    Binary(Bytes),
}

impl Packet {
    /// A packet of `kind` with text `data`.
    pub fn new(kind: PacketType, data: impl Into<ByteString>) -> Self {
        Packet { kind, data: Data::Text(data.into()) }
    }

    /// A packet of `kind` with no data.
    pub fn empty(kind: PacketType) -> Self {
        Packet { kind, data: Data::Text(ByteString::new()) }
    }

    /// A text message.
    pub fn message(text: impl Into<ByteString>) -> Self {
        Packet::new(PacketType::Message, text)
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Packet { kind: PacketType::Message, data: Data::Binary(bytes.into()) }
    }

    /// A heartbeat ping (`2`).
    pub fn ping() -> Self {
        Packet::empty(PacketType::Ping)
    }

    /// A heartbeat pong (`3`).
    pub fn pong() -> Self {
        Packet::empty(PacketType::Pong)
    }

    /// The text data, if this packet carries text.
    pub fn text(&self) -> Option<&ByteString> {
        match &self.data {
            Data::Text(text) => Some(text),
            Data::Binary(_) => None,
        }
    }

    /// Decodes the text form of one packet: a type digit and its data.
    ///
    /// The data is a slice of `text`, not a copy.
    pub fn decode_text(text: ByteString) -> Result<Packet, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::EmptyPacket)?;
        let kind = PacketType::from_byte(first)
            .ok_or_else(|| DecodeError::UnknownPacketType(text.chars().next().unwrap_or_default()))?;
        let data = text.slice_ref(text.get(1..).unwrap_or_default());
        Ok(Packet { kind, data: Data::Text(data) })
    }

    /// Decodes a text record of a polling payload: like [`Packet::decode_text`],
    /// plus `b` followed by base64 for binary messages.
    pub fn decode_polling_record(record: ByteString) -> Result<Packet, DecodeError> {
        match record.as_bytes().split_first() {
            Some((b'b', base64)) => decode_base64(base64).map(Packet::binary),
            _ => Packet::decode_text(record),
        }
    }

    /// Decodes a WebSocket binary frame: always a binary message.
    pub fn decode_binary(bytes: Bytes) -> Packet {
        Packet::binary(bytes)
    }

    /// Decodes a WebSocket frame.
    pub fn decode_frame(frame: Frame) -> Result<Packet, DecodeError> {
        match frame {
            Frame::Text(text) => Packet::decode_text(text),
            Frame::Binary(bytes) => Ok(Packet::decode_binary(bytes)),
        }
    }

    /// The WebSocket frame carrying this packet.
    pub fn to_frame(&self) -> Frame {
        match &self.data {
            Data::Binary(bytes) => Frame::Binary(bytes.clone()),
            Data::Text(_) => Frame::Text(self.to_text()),
        }
    }

    /// The text form of this packet, as in a polling payload (binary as `b` + base64).
    pub fn to_text(&self) -> ByteString {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_text(&mut out);
        ByteString::try_from(out.freeze()).unwrap_or_default()
    }

    /// Appends the text form of this packet to `out`.
    pub fn encode_text(&self, out: &mut BytesMut) {
        match &self.data {
            Data::Text(text) => {
                out.reserve(1 + text.len());
                out.put_u8(self.kind.as_byte());
                out.put_slice(text.as_bytes());
            }
            Data::Binary(bytes) => {
                let start = out.len();
                let encoded = base64::encoded_len(bytes.len(), true).unwrap_or(0);
                out.resize(start + 1 + encoded, 0);
                if let Some(slot) = out.get_mut(start..) {
                    if let Some((marker, rest)) = slot.split_first_mut() {
                        *marker = b'b';
                        let written = BASE64.encode_slice(bytes, rest).unwrap_or(0);
                        out.truncate(start + 1 + written);
                    }
                }
            }
        }
    }

    /// The length of the text form of this packet.
    pub fn encoded_len(&self) -> usize {
        match &self.data {
            Data::Text(text) => 1 + text.len(),
            Data::Binary(bytes) => 1 + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        }
    }
}

/// Standard base64, padded on output; accepts input with or without padding, as Node does.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn decode_base64(text: &[u8]) -> Result<Bytes, DecodeError> {
    let mut out = Vec::with_capacity(base64::decoded_len_estimate(text.len()));
    BASE64.decode_vec(text, &mut out).map_err(|_| DecodeError::InvalidBase64)?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type_with_and_without_data() {
        for kind in PacketType::ALL {
            let bare = char::from(kind.as_byte()).to_string();
            assert_eq!(Packet::decode_text(bare.clone().into()), Ok(Packet::empty(kind)));
            let with = format!("{bare}probe");
            assert_eq!(Packet::decode_text(with.clone().into()), Ok(Packet::new(kind, "probe")));
            assert_eq!(Packet::new(kind, "probe").to_text(), with);
        }
    }

    #[test]
    fn handshake_literal() {
        let open = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let packet = Packet::decode_text(open.into()).unwrap();
        assert_eq!(packet.kind, PacketType::Open);
        assert_eq!(packet.text().unwrap(), &open[1..]);
    }

    #[test]
    fn rejects_empty_and_unknown_types() {
        assert_eq!(Packet::decode_text("".into()), Err(DecodeError::EmptyPacket));
        assert_eq!(Packet::decode_text("7".into()), Err(DecodeError::UnknownPacketType('7')));
        assert_eq!(Packet::decode_text("b".into()), Err(DecodeError::UnknownPacketType('b')));
        assert_eq!(Packet::decode_text("é".into()), Err(DecodeError::UnknownPacketType('é')));
    }

    #[test]
    fn binary_in_polling_form() {
        let packet = Packet::binary(vec![1u8, 2, 3, 4]);
        assert_eq!(packet.to_text(), "bAQIDBA==");
        assert_eq!(Packet::decode_polling_record("bAQIDBA==".into()), Ok(packet.clone()));
        assert_eq!(Packet::decode_polling_record("bAQIDBA".into()), Ok(packet));
        assert_eq!(Packet::decode_polling_record("b".into()), Ok(Packet::binary(Bytes::new())));
        assert_eq!(Packet::decode_polling_record("b!!!!".into()), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn websocket_frames() {
        let bin = Packet::binary(vec![0xffu8, 0]);
        assert_eq!(bin.to_frame(), Frame::Binary(Bytes::from_static(&[0xff, 0])));
        assert_eq!(Packet::decode_frame(bin.to_frame()), Ok(bin));
        assert_eq!(Packet::message("hi").to_frame(), Frame::Text("4hi".into()));
        assert_eq!(Packet::decode_frame(Frame::Text("4hi".into())), Ok(Packet::message("hi")));
    }

    #[test]
    fn decoded_text_shares_the_input_buffer() {
        let input = ByteString::from("4some message");
        let packet = Packet::decode_text(input.clone()).unwrap();
        let data = packet.text().unwrap();
        assert_eq!(data.as_bytes().as_ptr(), input.as_bytes()[1..].as_ptr());
    }
}
