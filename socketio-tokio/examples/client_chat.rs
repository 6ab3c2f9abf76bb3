//! Joins the demo chat from the terminal: every stdin line is emitted as a `chat message`,
//! every received `chat message` is printed as one line on stdout (status goes to stderr).
//! It reconnects by itself after the server restarts, and lines typed meanwhile are
//! delivered after the reconnection.
//!
//! `cargo run -p socketio-tokio --example client_chat -- http://127.0.0.1:3000`

use socketio_tokio as rt;
use tokio::io::AsyncBufReadExt;

#[path = "../../socketio-runtime/examples/apps/client_chat.rs"]
mod client_chat;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), rt::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let socket = client_chat::connect(&url)?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !line.is_empty() {
            socket.emit("chat message", &line)?;
        }
    }
    // Give the last lines a moment to leave before closing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    socket.close();
    Ok(())
}
