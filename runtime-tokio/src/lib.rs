//! Socket.IO on tokio: the IO loop around [`engineio_proto`] and [`socketio_proto`].
//!
//! The Socket.IO tutorial chat, in Rust: every `chat message` goes to everyone, and the
//! official JavaScript client (`io()` in the browser, `socket.io-client` in Node) just works.
//!
//! ```no_run
//! use socketio_tokio::socket::SocketIo;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::builder().build();
//!     io.of("/").on_connection(|socket, _auth| {
//!         let _ = socket.broadcast().emit("notice", &("a user connected",));
//!         socket.on("chat message", |socket, message| {
//!             if let Ok((text,)) = message.args::<(String,)>() {
//!                 let _ = socket.io().emit("chat message", &(text,));
//!             }
//!         });
//!         socket.on_disconnect(|socket, reason, _rooms| {
//!             println!("{} left: {reason}", socket.id());
//!         });
//!     });
//!     io.listen("127.0.0.1:3000").await
//! }
//! ```
//!
//! - [`socket::SocketIo`]: the Socket.IO server: namespaces ([`socket::SocketIo::of`]),
//!   middleware, events and acks ([`socket::Socket`], [`socket::Message`]), rooms and
//!   broadcast ([`socket::BroadcastOperator`]).
//! - [`engine::EngineIo`]: the bare Engine.IO server (polling, WebSocket, upgrade).
//!
//! Both serve standalone (`listen`, `serve`, `serve_with` for an application's own routes)
//! or mount as a `tower::Service` in a hyper or axum application. `RUST_LOG=debug` (with a
//! `tracing` subscriber) shows handshakes, upgrades and disconnects with their reasons.
//!
//! Under the hood, one lock guards the sans-IO state machine and is never held across an
//! await; each WebSocket has one task, handlers run on one dispatcher task in the order
//! events happened, and a broadcast is encoded once for all its recipients.
#![forbid(unsafe_code)]

pub mod client;
pub mod engine;
mod error;
mod frames;
pub mod socket;
mod transport;

pub use error::Error;

pub use engineio_proto;
pub use socketio_proto;
pub use transport::{AllowRequest, BoxError, RemoteAddr, ResponseBody};
