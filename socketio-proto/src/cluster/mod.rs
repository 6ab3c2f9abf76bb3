//! Clusters of servers that share rooms and broadcasts over a message bus, wire-compatible
//! with the Node adapters (`@socket.io/redis-adapter`).
//!
//! - [`msgpack`]: MessagePack as `notepack.io` writes it, the encoding of broadcasts.

pub mod msgpack;
