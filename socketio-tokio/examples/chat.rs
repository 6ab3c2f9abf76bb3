//! The Socket.IO tutorial chat, with its homework: nicknames, connect and disconnect
//! notices, "{user} is typing", who is online, and private messages (see `apps/chat.rs`).
//!
//! `PORT=3000 cargo run -p socketio-tokio --example chat`, then open the page in two tabs.

use socketio_tokio as rt;

#[path = "../../socketio-runtime/examples/apps/browser_client.rs"]
mod browser_client;
#[path = "../../socketio-runtime/examples/apps/chat.rs"]
mod chat;
#[path = "../../socketio-runtime/examples/apps/common.rs"]
mod common;
#[path = "support/shutdown.rs"]
mod shutdown;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    common::init_tracing();
    let io = chat::server();
    // Before listening: a signal that comes as soon as the port opens shuts down too.
    let stop = shutdown::signal();
    let listener = tokio::net::TcpListener::bind(common::addr()).await?;
    println!("chat on http://{}/", common::addr());
    let server = tokio::spawn(io.clone().serve_with(listener, rt::html_page(chat::PAGE)));
    stop.await;
    io.close().await;
    server.await?
}
