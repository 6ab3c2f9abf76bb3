//! Connection state recovery (see `apps/recovery.rs`).
//!
//! `PORT=3000 cargo run -p socketio-tokio --example recovery`

use socketio_tokio as rt;
/// The runtime the application's timers run on.
type Rt = socketio_tokio::Tokio;

#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "../../socketio-runtime/examples/apps/recovery.rs"]
mod recovery;
#[path = "support/shutdown.rs"]
mod shutdown;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    let io = recovery::server()?;
    // Before listening: a signal that comes as soon as the port opens shuts down too.
    let stop = shutdown::signal();
    let listener = tokio::net::TcpListener::bind(common::addr()).await?;
    println!("recovery server on http://{}/socket.io/", common::addr());
    let server = tokio::spawn(io.clone().serve(listener));
    stop.await;
    io.close().await;
    Ok(server.await??)
}
