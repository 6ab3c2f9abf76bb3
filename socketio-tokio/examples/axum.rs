//! The Socket.IO tutorial chat (<https://socket.io/docs/v4/tutorial/>) in an axum
//! application: the page at `/`, Socket.IO beside it at `/socket.io/`.
//!
//! `cargo run -p socketio-tokio --example axum`, then open <http://localhost:3000> in two tabs.

use axum::{Router, response::Html, routing::get};
use socketio_tokio::server::SocketIo;

#[path = "../../socketio-runtime/examples/apps/browser_client.rs"]
mod browser_client;
#[path = "support/shutdown.rs"]
mod shutdown;
use socketio_tokio as rt;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = browser_client::serving_browser_client(SocketIo::builder()).build();
    io.on_connection(async |socket| {
        socket.on("chat message", async |socket, message| {
            socket.io().emit("chat message", &message.raw_args())
        });
    });

    let page = include_str!("../../socketio-runtime/examples/apps/tutorial-page/index.html");
    // Socket.IO answers under `/socket.io/` (the browser client too) and 404 elsewhere.
    let app = Router::new().route("/", get(Html(page))).fallback_service(io.clone());

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    // Before listening: a signal that comes as soon as the port opens shuts down too.
    let stop = shutdown::signal();
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("server running at http://localhost:{port}");
    // On Ctrl-C or SIGTERM: Socket.IO's clients are told first, then axum stops.
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop.await;
            io.close().await
        })
        .await
}
