//! Sans-IO Socket.IO v5.
//!
//! Socket.IO packets ride in Engine.IO messages: a text message holds the packet
//! (`2/admin,12["event",...]`), and a binary packet is followed by one binary message per
//! attachment. This crate turns those messages into [`Packet`]s and back, without IO:
//!
//! - [`Decoder`] takes each message of a session and yields complete packets, holding a
//!   binary packet until its attachments arrived.
//! - [`Packet::encode_text`] and [`Packet::attachments`] give the messages to send.
//! - A [`Payload`] keeps the JSON text as received: forwarding an event never parses its
//!   arguments. [`Payload::deserialize`] gives typed access, [`Value`] dynamic access
//!   with binary data.
//!
//! On top of the codec, the state machines: [`server::Server`] (namespaces, middleware
//! verdicts, acks, rooms, broadcasts, connection state recovery), [`client::Manager`]
//! (namespaces over one connection, acks, reconnection) and [`cluster`] (the Redis
//! adapters' protocol, sessions kept in Redis).
//!
//! ```
//! use socketio_proto::{DecodeLimits, Decoder, Namespace, Packet, Payload};
//!
//! let mut decoder = Decoder::new(DecodeLimits::default());
//! let packet = decoder.feed_text(r#"2["chat message","hello"]"#.into())?.unwrap();
//! assert_eq!(packet.payload.as_ref().unwrap().event_name().as_deref(), Some("chat message"));
//!
//! // Relay it as it is: the arguments are never parsed.
//! let relay = Packet::event(Namespace::main(), packet.payload.unwrap());
//! assert_eq!(relay.to_text(), r#"2["chat message","hello"]"#);
//! # Ok::<(), socketio_proto::DecodeError>(())
//! ```
#![forbid(unsafe_code)]
// Decoders face hostile input: no indexing that could panic.
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

pub mod args;
pub mod client;
pub mod cluster;
mod decoder;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod json_scan;
mod namespace;
mod packet;
mod payload;
pub mod server;
mod value;
mod value_serde;

pub use args::{Args, RawArgs, Spread};
pub use decoder::{DecodeLimits, Decoder};
pub use error::{DecodeError, EncodeError};
pub use namespace::Namespace;
pub use packet::{Packet, PacketKind, PacketType};
pub use payload::{Payload, RESERVED_EVENTS, is_reserved_event};
pub use value::Value;
