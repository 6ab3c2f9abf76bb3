//! An Engine.IO server that echoes every message, text or binary, to its sender, with the
//! configuration the official engine.io protocol test suite expects (see `apps/echo.rs`).
//!
//! `PORT=3000 cargo run -p socketio-smol --example engineio_echo`
//! (`RUST_LOG=debug` shows handshakes, upgrades and closes).

use socketio_smol as rt;

#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "../../socketio-runtime/examples/apps/echo.rs"]
mod echo;
#[path = "support/shutdown.rs"]
mod shutdown;

fn main() -> std::io::Result<()> {
    common::init_tracing();
    smol::block_on(async {
        let (engine, events) = echo::engine();
        // Before listening: a signal that comes as soon as the port opens shuts down too.
        let stop = shutdown::signal();
        let listener = smol::net::TcpListener::bind(common::addr()).await?;
        println!("engine.io echo listening on http://{}/engine.io/", common::addr());
        let server = smol::spawn(engine.clone().serve(listener));
        smol::spawn(echo::echo(engine.clone(), events)).detach();
        stop.await;
        engine.close().await;
        server.await
    })
}
