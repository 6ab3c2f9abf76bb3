//! The end-to-end benchmark: one load generator speaking the wire protocol directly (raw
//! WebSocket and long-polling), four servers with the same handlers, each in its own process
//! pinned to one core: ours on tokio and on smol, Node `socket.io@4.8`, and socketioxide.
//!
//! `cargo run --release -p e2e-bench` runs every scenario on every server and prints one
//! table: fan-out deliveries per second (1 000 and 10 000 receivers), echo acks per second
//! (100 clients), idle memory per WebSocket and per polling client, and connects per second,
//! with p50/p99 latencies and our ratio to each peer. A run that lost, duplicated or
//! reordered a message is reported as failed, not fast.
//!
//! Fan-out keeps 1, 8 and 64 broadcasts in flight (the best is the saturation figure), then
//! sends at half that rate to measure delivery latency, then keeps 512 in flight: more than
//! a 128-packet socket buffer holds. That deeper window counts toward saturation when
//! nothing is lost; otherwise the cell says "lost deeper" (a receiver saw a gap) or
//! "stalled deeper" (nothing completed for 10 s).

pub mod histogram;
pub mod polling;
pub mod report;
pub mod scenarios;
pub mod servers;
pub mod ws;
