//! The executor-neutral half of the Socket.IO runtime adapters: the IO loop around
//! [`engineio_proto`] and [`socketio_proto`], and the API applications use, written once
//! against the small [`Runtime`] trait.
//!
//! Applications use a runtime crate, `socketio-tokio` or `socketio-smol`: each implements
//! [`Runtime`] (spawn, sleep, TCP) and names this crate's types with its marker filled in, so
//! both offer the same servers and client with the same names.
//!
//! - [`socket::SocketIo`]: the Socket.IO server: namespaces ([`socket::SocketIo::of`]),
//!   middleware, events and acks ([`socket::Socket`], [`socket::Message`]), rooms and
//!   broadcast ([`socket::BroadcastOperator`]).
//! - [`engine::EngineIo`]: the bare Engine.IO server (polling, WebSocket, upgrade).
//! - [`client::ClientBuilder`]: the Socket.IO client.
//!
//! Both servers serve standalone (`listen`, `serve`, `serve_with` for an application's own
//! routes) or mount as a `tower::Service` in a hyper or axum application. `RUST_LOG=debug`
//! (with a `tracing` subscriber) shows handshakes, upgrades and disconnects with their reasons.
//!
//! Under the hood, one lock guards the sans-IO state machine and is never held across an
//! await; each WebSocket has one task, handlers run on one dispatcher task in the order
//! events happened, and a broadcast is encoded once for all its recipients.
#![forbid(unsafe_code)]

mod api;
pub mod client;
pub mod engine;
mod error;
mod frames;
mod futures_io;
mod runtime;
pub mod socket;
mod transport;

pub use error::Error;
pub use futures_io::HyperIo;
pub use runtime::Runtime;

pub use engineio_proto;
pub use socketio_proto;
pub use transport::{AllowRequest, BoxError, RemoteAddr, ResponseBody};
