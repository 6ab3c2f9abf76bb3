//! Socket.IO on tokio: the IO loop around [`engineio_proto`] and [`socketio_proto`].
//!
//! - [`engine::EngineIo`]: the Engine.IO server (polling, WebSocket, upgrade), standalone
//!   with [`engine::EngineIo::listen`] or as a `tower::Service`.
//! - [`socket::SocketIo`]: the Socket.IO server on top of it.
#![forbid(unsafe_code)]

pub mod engine;
mod error;
pub mod socket;
mod transport;

pub use error::Error;

pub use engineio_proto;
pub use socketio_proto;
pub use transport::{AllowRequest, BoxError, RemoteAddr, ResponseBody};
