//! One server of a cluster on Redis (see `apps/cluster.rs`).
//!
//! `PORT=3001 REDIS_URL=redis://127.0.0.1:6379 NODE_NAME=a cargo run -p socketio-smol --example cluster`

use socketio_smol as rt;

#[path = "../../socketio-runtime/examples/apps/cluster.rs"]
mod cluster;
#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "support/shutdown.rs"]
mod shutdown;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    smol::block_on(async {
        let io = cluster::server()?;
        // Before listening: a signal that comes as soon as the port opens shuts down too.
        let stop = shutdown::signal();
        let listener = smol::net::TcpListener::bind(common::addr()).await?;
        println!("cluster server on http://{}/socket.io/", common::addr());
        let server = smol::spawn(io.clone().serve(listener));
        stop.await;
        io.close().await;
        Ok(server.await?)
    })
}
