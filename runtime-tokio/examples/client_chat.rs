//! Joins the demo chat from the terminal: every stdin line is emitted as a `chat message`,
//! every received `chat message` is printed as one line on stdout (status goes to stderr).
//! It reconnects by itself after the server restarts, and lines typed meanwhile are
//! delivered after the reconnection.
//!
//! `cargo run -p socketio-tokio --example client_chat -- http://127.0.0.1:3000`

use std::io::Write as _;

use socketio_tokio::client::ClientBuilder;
use tokio::io::AsyncBufReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), socketio_tokio::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let socket = ClientBuilder::new(&url).build();
    socket.on("chat message", |_, message| {
        if let Ok((text,)) = message.args::<(String,)>() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    });
    socket.on("notice", |_, message| {
        if let Ok((text,)) = message.args::<(String,)>() {
            eprintln!("* {text}");
        }
    });
    let server = url.clone();
    socket.on_connect(move |_, sid| eprintln!("connected to {server} as {sid}"));
    socket.on_disconnect(|_, reason| eprintln!("disconnected: {reason}"));
    socket.on_reconnect_attempt(|n| eprintln!("reconnecting (attempt {n})"));

    socket.connect();

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if !line.is_empty() {
            socket.emit("chat message", &(line,))?;
        }
    }
    // Give the last lines a moment to leave before closing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    socket.close();
    Ok(())
}
