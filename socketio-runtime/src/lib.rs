//! The executor-neutral half of the Socket.IO runtime adapters: the IO loop around
//! [`engineio_proto`] and [`socketio_proto`], and the API applications use, written once
//! against the small [`Runtime`] trait.
//!
//! Applications use a runtime crate, `socketio-tokio` or `socketio-smol`: each implements
//! [`Runtime`] (spawn, sleep, TCP) and names this crate's types with its marker filled in, so
//! both offer the same servers and client with the same names.
//!
//! - [`server::SocketIo`]: the Socket.IO server: namespaces ([`server::SocketIo::of`]),
//!   middleware, async event handlers and acks ([`server::Socket`], [`Message`]), rooms and
//!   broadcast ([`server::BroadcastOperator`]).
//! - [`engine::EngineIo`]: the bare Engine.IO server (polling, WebSocket, upgrade).
//! - [`client::ClientBuilder`]: the Socket.IO client.
//!
//! Both servers serve standalone (`listen`, `serve`, `serve_with` for an application's own
//! routes) or mount as a `tower::Service` in a hyper or axum application. `RUST_LOG=debug`
//! (with a `tracing` subscriber) shows handshakes, upgrades and disconnects with their reasons.
//!
//! Arguments follow one rule everywhere (emits, acks, broadcasts, the client): one value is
//! one argument, a tuple several, `()` none; see [`socketio_proto::args`].
//!
//! Under the hood, one lock guards the sans-IO state machine and is never held across an
//! await; each WebSocket has one task, handlers start on one dispatcher task in the order
//! events happened (one that awaits does not hold up others), and a broadcast is encoded
//! once for all its recipients.
#![forbid(unsafe_code)]

mod ack;
mod api;
pub mod client;
mod cluster;
pub mod engine;
mod error;
mod futures_io;
mod handler;
mod ids;
mod message;
mod runtime;
pub mod server;
mod tls;
mod transport;
mod transports;
mod websocket;

pub use ack::{AckFuture, AckResponses, BroadcastAckFuture};
pub use cluster::emitter;
pub use error::{AckError, EmitError, Error};
pub use futures_io::HyperIo;
pub use handler::HandlerOutput;
pub use message::Message;
pub use runtime::Runtime;
pub use tls::ServerTls;
pub use transports::Transports;

pub use engineio_proto;
pub use engineio_proto::server::Encrypted;
pub use socketio_proto;
pub use transport::{AllowRequest, BoxError, RemoteAddr, ResponseBody, html_page};
