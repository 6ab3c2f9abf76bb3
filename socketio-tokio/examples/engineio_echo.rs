//! An Engine.IO server that echoes every message, text or binary, to its sender, with the
//! configuration the official engine.io protocol test suite expects (see `apps/echo.rs`).
//!
//! `PORT=3000 cargo run -p socketio-tokio --example engineio_echo`
//! (`RUST_LOG=debug` shows handshakes, upgrades and closes).

use socketio_tokio as rt;

#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "../../socketio-runtime/examples/apps/echo.rs"]
mod echo;
#[path = "support/shutdown.rs"]
mod shutdown;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    common::init_tracing();
    let (engine, events) = echo::engine();
    // Before listening: a signal that comes as soon as the port opens shuts down too.
    let stop = shutdown::signal();
    let listener = tokio::net::TcpListener::bind(common::addr()).await?;
    println!("engine.io echo listening on http://{}/engine.io/", common::addr());
    let server = tokio::spawn(engine.clone().serve(listener));
    tokio::spawn(echo::echo(engine.clone(), events));
    stop.await;
    engine.close().await;
    server.await?
}
