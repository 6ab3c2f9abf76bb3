//! Sans-IO Engine.IO v4.
//!
//! This crate holds the Engine.IO protocol without doing any IO: it turns bytes into
//! [`Packet`]s and back, for both transports:
//!
//! - WebSocket: one packet per frame ([`Packet::decode_frame`], [`Packet::to_frame`]);
//!   binary messages are raw binary frames.
//! - HTTP long-polling: packets joined by `\x1e`, binary as `b` + base64
//!   ([`decode_payload`], [`encode_payload`]).
//!
//! Decoded data is a slice of the input buffer, never a copy.
//!
//! The session state machines drive both ends, time given as an argument:
//! [`server::Server`] (handshakes, heartbeats, polling and upgrades for many sessions) and
//! [`client::Client`] (one session, with the upgrade to WebSocket).
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use engineio_proto::{decode_payload, encode_payload, Packet, PayloadFormat};
//!
//! // A polling POST body: a message, then a pong.
//! let body = Bytes::from_static(b"4hello\x1e3");
//! for packet in decode_payload(PayloadFormat::V4, body, 1_000_000)? {
//!     println!("{:?}", packet?);
//! }
//!
//! // A polling GET answer.
//! let mut out = BytesMut::new();
//! encode_payload(&[Packet::message("hi"), Packet::ping()], &mut out);
//! assert_eq!(&out[..], b"4hi\x1e2");
//! # Ok::<(), engineio_proto::DecodeError>(())
//! ```
#![forbid(unsafe_code)]
// Decoders face hostile input: no indexing that could panic.
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

pub mod client;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod id_hash;
mod packet;
mod payload;
mod percent;
pub mod server;
mod time;

pub use bytestring::ByteString;
pub use error::DecodeError;
pub use id_hash::{IdHasher, IdMap, IdSet};
pub use packet::{Data, Frame, Packet, PacketType};
pub use payload::{PayloadDecoder, PayloadFormat, SEPARATOR, decode_payload, encode_payload};
pub use time::deadline_after;
