//! Socket.IO on smol and async-io: the IO loop around [`engineio_proto`] and [`socketio_proto`].
//!
//! The server and client adapters live here; the protocol itself lives in the proto crates.
#![forbid(unsafe_code)]

pub use engineio_proto;
pub use socketio_proto;
