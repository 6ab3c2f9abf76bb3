//! Socket.IO packets and their text encoding.

use std::fmt;

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::{Namespace, Payload};

/// The seven packet types as written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`
    Connect,
    /// `1`
    Disconnect,
    /// `2`
    Event,
    /// `3`
    Ack,
    /// `4`
    ConnectError,
    /// `5`: an event followed by binary attachments.
    BinaryEvent,
    /// `6`: an ack followed by binary attachments.
    BinaryAck,
}

impl PacketType {
    /// The ASCII digit this type is written as.
    pub const fn as_byte(self) -> u8 {
        match self {
            PacketType::Connect => b'0',
            PacketType::Disconnect => b'1',
            PacketType::Event => b'2',
            PacketType::Ack => b'3',
            PacketType::ConnectError => b'4',
            PacketType::BinaryEvent => b'5',
            PacketType::BinaryAck => b'6',
        }
    }

    /// The type written as `byte`, if any.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// What the packet means, binary or not.
    pub const fn kind(self) -> PacketKind {
        match self {
            PacketType::Connect => PacketKind::Connect,
            PacketType::Disconnect => PacketKind::Disconnect,
            PacketType::Event | PacketType::BinaryEvent => PacketKind::Event,
            PacketType::Ack | PacketType::BinaryAck => PacketKind::Ack,
            PacketType::ConnectError => PacketKind::ConnectError,
        }
    }

    /// Whether binary attachments follow packets of this type.
    pub const fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// What a packet means. Whether it travels as a binary type depends on its attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Connect to a namespace (client), or the server's acceptance.
    Connect,
    /// Leave a namespace.
    Disconnect,
    /// An event: `[name, ...args]`.
    Event,
    /// The answer to an event that asked for one.
    Ack,
    /// The server refused a namespace connection.
    ConnectError,
}

/// One Socket.IO packet.
///
/// ```
/// use socketio_proto::{Namespace, Packet, PacketKind, Payload};
///
/// let packet = Packet {
///     kind: PacketKind::Event,
///     namespace: Namespace::new("/admin").unwrap(),
///     ack_id: Some(12),
///     payload: Some(Payload::event("hello", &[1, 2]).unwrap()),
/// };
/// assert_eq!(packet.to_text(), r#"2/admin,12["hello",1,2]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// What the packet means.
    pub kind: PacketKind,
    /// The namespace it belongs to.
    pub namespace: Namespace,
    /// The ack id of an event that asks for an answer, or of the answer.
    pub ack_id: Option<u64>,
    /// The JSON data and its binary attachments.
    pub payload: Option<Payload>,
}

impl Packet {
    /// A packet of `kind` on `namespace` with no ack id and no payload.
    pub fn new(kind: PacketKind, namespace: Namespace) -> Self {
        Packet { kind, namespace, ack_id: None, payload: None }
    }

    /// An event carrying `payload` (see [`Payload::event`]).
    pub fn event(namespace: Namespace, payload: Payload) -> Self {
        Packet { payload: Some(payload), ..Packet::new(PacketKind::Event, namespace) }
    }

    /// The answer to the event with ack id `id`; `payload` is the array of arguments.
    pub fn ack(namespace: Namespace, id: u64, payload: Payload) -> Self {
        Packet { ack_id: Some(id), payload: Some(payload), ..Packet::new(PacketKind::Ack, namespace) }
    }

    /// The same packet asking for an ack with id `id`.
    pub fn with_ack_id(self, id: u64) -> Self {
        Packet { ack_id: Some(id), ..self }
    }

    /// The binary attachments that follow the text packet.
    pub fn attachments(&self) -> &[Bytes] {
        match (&self.payload, self.kind) {
            (Some(payload), PacketKind::Event | PacketKind::Ack) => payload.attachments(),
            _ => &[],
        }
    }

    /// The type this packet is written as.
    pub fn wire_type(&self) -> PacketType {
        match (self.kind, self.attachments().is_empty()) {
            (PacketKind::Event, false) => PacketType::BinaryEvent,
            (PacketKind::Ack, false) => PacketType::BinaryAck,
            (PacketKind::Connect, _) => PacketType::Connect,
            (PacketKind::Disconnect, _) => PacketType::Disconnect,
            (PacketKind::Event, true) => PacketType::Event,
            (PacketKind::Ack, true) => PacketType::Ack,
            (PacketKind::ConnectError, _) => PacketType::ConnectError,
        }
    }

    /// The exact length of the text form.
    pub fn text_len(&self) -> usize {
        let wire = self.wire_type();
        let count =
            if wire.is_binary() { crate::value::decimal_len(self.attachments().len() as u64) + 1 } else { 0 };
        let namespace = if self.namespace.is_main() { 0 } else { self.namespace.as_str().len() + 1 };
        let id = self.ack_id.map_or(0, crate::value::decimal_len);
        1 + count + namespace + id + self.payload.as_ref().map_or(0, |p| p.json().len())
    }

    /// The length of the text form.
    pub fn encoded_len(&self) -> usize {
        1 + 21 + self.namespace.as_str().len() + 1 + 20 + self.payload.as_ref().map_or(0, |p| p.json().len())
    }

    /// Appends the text form to `out`: type, attachment count, namespace, ack id, JSON.
    /// The attachments ([`Packet::attachments`]) follow it as binary messages.
    pub fn encode_text(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        self.write_text(out);
    }

    /// Writes the text form to any text sink (a `String`, a `BytesMut`, ...).
    pub fn write_text<W: fmt::Write>(&self, out: &mut W) {
        // The sinks we write to cannot fail.
        let _ = self.try_write_text(out);
    }

    fn try_write_text<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        let wire = self.wire_type();
        out.write_char(char::from(wire.as_byte()))?;
        if wire.is_binary() {
            crate::value::write_u64(out, self.attachments().len() as u64);
            out.write_char('-')?;
        }
        if !self.namespace.is_main() {
            out.write_str(self.namespace.as_str())?;
            out.write_char(',')?;
        }
        if let Some(id) = self.ack_id {
            crate::value::write_u64(out, id);
        }
        if let Some(payload) = &self.payload {
            out.write_str(payload.json())?;
        }
        Ok(())
    }

    /// The text form, after `prefix` (the Engine.IO message type `4` for a frame).
    pub fn to_text_with_prefix(&self, prefix: &str) -> ByteString {
        let mut out = String::with_capacity(prefix.len() + self.text_len());
        out.push_str(prefix);
        self.write_text(&mut out);
        ByteString::from(out)
    }

    /// The text form (see [`Packet::encode_text`]).
    pub fn to_text(&self) -> ByteString {
        self.to_text_with_prefix("")
    }

    /// The Engine.IO messages that carry this packet: its text, then each attachment.
    pub fn to_engine_packets(&self) -> Vec<engineio_proto::Packet> {
        let mut packets = Vec::with_capacity(1 + self.attachments().len());
        packets.push(engineio_proto::Packet::message(self.to_text()));
        packets.extend(self.attachments().iter().cloned().map(engineio_proto::Packet::binary));
        packets
    }
}
