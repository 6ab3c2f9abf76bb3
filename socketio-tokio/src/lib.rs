//! Socket.IO on tokio: the servers and the client of [`socketio_runtime`] on tokio's
//! executor, timers and TCP.
//!
//! The Socket.IO tutorial chat, in Rust: every `chat message` goes to everyone, and the
//! official JavaScript client (`io()` in the browser, `socket.io-client` in Node) just works.
//!
//! ```no_run
//! use socketio_tokio::server::SocketIo;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::new();
//!     io.on_connection(async |socket| {
//!         socket.broadcast().emit("notice", &"a user connected")?;
//!         socket.on("chat message", async |socket, message| {
//!             let text: String = message.args()?;
//!             socket.io().emit("chat message", &text)
//!         });
//!         socket.on_disconnect(async |socket, reason| println!("{} left: {reason}", socket.id()));
//!         Ok(())
//!     });
//!     io.listen("127.0.0.1:3000").await
//! }
//! ```
//!
//! - [`server::SocketIo`]: the Socket.IO server: namespaces ([`server::SocketIo::of`]),
//!   middleware, async event handlers and acks ([`server::Socket`], [`Message`]), rooms and
//!   broadcast ([`server::BroadcastOperator`]).
//! - [`engine::EngineIo`]: the bare Engine.IO server (polling, WebSocket, upgrade).
//! - [`client::ClientBuilder`]: the client.
//!
//! `socketio-smol` offers the same names on smol; the logic of both lives in
//! [`socketio_runtime`] and the protocol crates, and this crate only says how to spawn,
//! sleep and use TCP on tokio ([`Tokio`]).
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

pub use socketio_runtime::Runtime;

socketio_runtime::runtime_api!(crate::Tokio);

/// The tokio runtime: `tokio::spawn`, tokio timers and `tokio::net`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Listener = TcpListener;
    type Stream = TokioIo<TcpStream>;

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep_until(deadline.into())
    }

    async fn bind(addr: String) -> io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }

    async fn accept(listener: &TcpListener) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, remote) = listener.accept().await?;
        // A peer that already reset the connection may refuse the option; the
        // connection then fails on its own, the listener carries on.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, %remote, "could not turn Nagle off");
        }
        Ok((TokioIo::new(stream), remote))
    }

    async fn connect(addr: String) -> io::Result<Self::Stream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(TokioIo::new(stream))
    }
}
