//! The reference configuration of the official socket.io protocol test suite (see
//! `apps/conformance.rs`).
//!
//! `PORT=3000 cargo run -p socketio-smol --example socketio_conformance`

use socketio_smol as rt;

#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "../../socketio-runtime/examples/apps/conformance.rs"]
mod conformance;
#[path = "support/shutdown.rs"]
mod shutdown;

fn main() -> std::io::Result<()> {
    common::init_tracing();
    smol::block_on(async {
        let io = conformance::server();
        // Before listening: a signal that comes as soon as the port opens shuts down too.
        let stop = shutdown::signal();
        let listener = smol::net::TcpListener::bind(common::addr()).await?;
        println!("socket.io conformance server on http://{}/socket.io/", common::addr());
        let server = smol::spawn(io.clone().serve(listener));
        stop.await;
        io.close().await;
        server.await
    })
}
