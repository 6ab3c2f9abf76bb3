//! Clusters of servers that share rooms and broadcasts over a message bus, wire-compatible
//! with the Node adapters (`@socket.io/redis-adapter`).
//!
//! - [`handshake`]: a socket's handshake as the other servers see it.
//! - [`msgpack`]: MessagePack as `notepack.io` writes it, the encoding of broadcasts.
//! - [`redis`]: the classic Redis adapter's protocol, as a state machine per server.
//! - [`resp`]: the Redis protocol itself, commands and replies.

pub mod handshake;
pub mod msgpack;
pub mod redis;
pub mod resp;
