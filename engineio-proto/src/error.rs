//! Typed decoding errors.

/// Why bytes could not be decoded as Engine.IO packets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A packet with no type character at all (an empty frame or an empty payload record).
    #[error("empty packet")]
    EmptyPacket,
    /// The first character is not one of `0`..=`6` (or `b` in a polling payload).
    #[error("unknown packet type {0:?}")]
    UnknownPacketType(char),
    /// The text after a `b` marker is not valid base64.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
    /// A text frame or polling body is not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// A polling payload is larger than the configured maximum.
    #[error("payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge {
        /// Size of the payload that was offered.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The payload uses a protocol revision this crate does not decode.
    #[error("unsupported Engine.IO protocol version {0}")]
    UnsupportedProtocol(u8),
}
