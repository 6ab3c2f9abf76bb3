//! An Engine.IO server that echoes every message, text or binary, to its sender.
//!
//! The configuration the official engine.io protocol test suite expects: path `/engine.io/`,
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, CORS for any origin.
//!
//! `PORT=3000 cargo run -p socketio-tokio --example engineio_echo`
//! (`RUST_LOG=debug` shows handshakes, upgrades and closes).

use std::time::Duration;

use engineio_proto::server::{Cors, Event};
use engineio_proto::{Packet, PacketType};
use socketio_tokio::engine::EngineIo;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);

    let (engine, mut events) = EngineIo::builder()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::any())
        .build();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("engine.io echo listening on http://127.0.0.1:{port}/engine.io/");
    let server = tokio::spawn(engine.clone().serve(listener));

    while let Some(event) = events.next().await {
        if let Event::Message { sid, data } = event {
            let _ = engine.send(sid, &Packet { kind: PacketType::Message, data });
        }
    }
    server.await.unwrap_or(Ok(()))
}
