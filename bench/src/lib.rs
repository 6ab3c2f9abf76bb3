//! The end-to-end benchmark: one load generator speaking the wire protocol directly (raw
//! WebSocket and long-polling), four servers with the same handlers, each in its own process
//! pinned to one core: ours on tokio and on smol, Node `socket.io@4.8`, and socketioxide.
//!
//! `cargo run --release -p e2e-bench` runs every scenario on every server and prints one
//! table: fan-out deliveries per second (1 000 and 10 000 receivers), echo acks per second
//! (100 clients), idle memory per WebSocket and per polling client, and connects per second,
//! with p50/p99 latencies and our ratio to each peer. A run that lost, duplicated or
//! reordered a message is reported as failed, not fast.

pub mod histogram;
pub mod polling;
pub mod report;
pub mod scenarios;
pub mod servers;
pub mod ws;
