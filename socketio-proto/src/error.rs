//! Typed decoding and encoding errors.

use crate::PacketKind;

/// Why text or binary frames could not be decoded as Socket.IO packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An empty text message.
    #[error("empty packet")]
    EmptyPacket,
    /// The first character is not a packet type digit `0`..=`6`.
    #[error("unknown packet type {0:?}")]
    UnknownPacketType(char),
    /// The attachment count of a binary packet is missing, not a number, zero, or not
    /// followed by `-`.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// More attachments announced than the configured limit allows.
    #[error("{count} attachments announced, the limit is {max}")]
    TooManyAttachments {
        /// The announced count (saturated at `usize::MAX`).
        count: usize,
        /// The configured limit.
        max: usize,
    },
    /// The ack id does not fit a `u64`.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The payload is not valid JSON.
    #[error("payload is not valid JSON (at byte {offset})")]
    InvalidJson {
        /// Offset of the first offending byte within the payload.
        offset: usize,
    },
    /// The payload nests deeper than the decoder accepts.
    #[error("payload nests too deeply")]
    PayloadTooDeep,
    /// The payload's JSON shape is wrong for the packet type (or it is missing).
    #[error("invalid payload for a {0:?} packet")]
    InvalidPayload(PacketKind),
    /// An event whose first argument is not a string.
    #[error("event name is not a string")]
    EventNameNotString,
    /// An event named like one of the reserved events.
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// A placeholder whose `num` is not a valid attachment index.
    #[error("placeholder index is not a valid attachment number")]
    InvalidPlaceholder,
    /// The announced attachment count differs from the placeholders in the payload.
    #[error("{expected} attachments announced, placeholders reference {got}")]
    AttachmentCountMismatch {
        /// The count in the packet header.
        expected: usize,
        /// How many distinct attachments the placeholders reference.
        got: usize,
    },
    /// A text packet arrived while attachments of a binary packet were still expected.
    #[error("text packet while {missing} attachments are pending")]
    UnexpectedText {
        /// Attachments still missing.
        missing: usize,
    },
    /// A binary frame arrived while no binary packet was waiting for attachments.
    #[error("binary frame with no pending binary packet")]
    UnexpectedBinary,
}

/// Why a packet could not be built for sending.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The event name is reserved by Socket.IO.
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// A namespace must start with `/` and contain no `,`.
    #[error("invalid namespace {0:?}")]
    InvalidNamespace(String),
    /// The arguments are not a JSON array (a tuple, a `Vec`, ...).
    #[error("event arguments must serialize to a JSON array")]
    ArgumentsNotArray,
    /// The value could not be serialized as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}
