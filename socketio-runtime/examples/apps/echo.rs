//! An Engine.IO server that echoes every message, text or binary, to its sender.
//!
//! The configuration the official engine.io protocol test suite expects: path `/engine.io/`,
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, CORS for any origin.

use std::time::Duration;

use crate::rt::engine::{EngineIo, Events};
use crate::rt::engineio_proto::server::{Cors, Event};
use crate::rt::engineio_proto::{Packet, PacketType};

/// The server, not yet listening, and its events.
pub(crate) fn engine() -> (EngineIo, Events) {
    EngineIo::builder()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::any())
        .build()
}

/// Sends every message back to its session, until the server is gone.
pub(crate) async fn echo(engine: EngineIo, mut events: Events) {
    while let Some(event) = events.next().await {
        if let Event::Message { sid, data } = event {
            let _ = engine.send(sid, &Packet { kind: PacketType::Message, data });
        }
    }
}
