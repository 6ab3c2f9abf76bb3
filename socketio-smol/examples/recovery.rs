//! Connection state recovery (see `apps/recovery.rs`).
//!
//! `PORT=3000 cargo run -p socketio-smol --example recovery`

use socketio_smol as rt;
/// The runtime the application's timers run on.
type Rt = socketio_smol::Smol;

#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "../../socketio-runtime/examples/apps/recovery.rs"]
mod recovery;
#[path = "support/shutdown.rs"]
mod shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    smol::block_on(async {
        let io = recovery::server()?;
        // Before listening: a signal that comes as soon as the port opens shuts down too.
        let stop = shutdown::signal();
        let listener = smol::net::TcpListener::bind(common::addr()).await?;
        println!("recovery server on http://{}/socket.io/", common::addr());
        let server = smol::spawn(io.clone().serve(listener));
        stop.await;
        io.close().await;
        Ok(server.await?)
    })
}
