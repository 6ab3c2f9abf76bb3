//! Socket.IO on smol: the servers and the client of [`socketio_runtime`] on smol's executor,
//! `async-io` timers and `async-net` TCP. No tokio executor, reactor or timer in the tree
//! (hyper itself brings only tokio's `sync` channels, which run on any executor).
//!
//! The Socket.IO tutorial chat, in Rust: every `chat message` goes to everyone, and the
//! official JavaScript client (`io()` in the browser, `socket.io-client` in Node) just works.
//!
//! ```no_run
//! use socketio_smol::server::SocketIo;
//!
//! fn main() -> std::io::Result<()> {
//!     smol::block_on(async {
//!         let io = SocketIo::new();
//!         io.on_connection(async |socket| {
//!             socket.on("chat message", async |socket, message| {
//!                 let text: String = message.args()?;
//!                 socket.io().emit("chat message", &text)
//!             });
//!         });
//!         io.listen("127.0.0.1:3000").await
//!     })
//! }
//! ```
//!
//! The names are those of `socketio-tokio`: [`server::SocketIo`], [`engine::EngineIo`],
//! [`client::ClientBuilder`] and their handles. Tasks run on smol's global executor
//! (`SMOL_THREADS` sets its thread count); this crate only says how to spawn, sleep and use
//! TCP on smol ([`Smol`]).
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use smol::net::{TcpListener, TcpStream};

pub use socketio_runtime::{HyperIo, Runtime};

socketio_runtime::runtime_api!(crate::Smol);

/// The smol runtime: `smol::spawn`, `async-io` timers and `async-net`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    type Listener = TcpListener;
    type Stream = HyperIo<TcpStream>;

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        let timer = smol::Timer::at(deadline);
        async move {
            timer.await;
        }
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
        Ok((HyperIo(stream), remote))
    }

    async fn connect(addr: String) -> io::Result<Self::Stream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HyperIo(stream))
    }
}
