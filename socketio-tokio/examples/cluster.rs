//! One server of a cluster on Redis (see `apps/cluster.rs`).
//!
//! `PORT=3001 REDIS_URL=redis://127.0.0.1:6379 NODE_NAME=a cargo run -p socketio-tokio --example cluster`

use socketio_tokio as rt;

#[path = "../../socketio-runtime/examples/apps/cluster.rs"]
mod cluster;
#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "support/shutdown.rs"]
mod shutdown;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_tracing();
    let io = cluster::server()?;
    // Before listening: a signal that comes as soon as the port opens shuts down too.
    let stop = shutdown::signal();
    let listener = tokio::net::TcpListener::bind(common::addr()).await?;
    println!("cluster server on http://{}/socket.io/", common::addr());
    let server = tokio::spawn(io.clone().serve(listener));
    stop.await;
    io.close().await;
    Ok(server.await??)
}
