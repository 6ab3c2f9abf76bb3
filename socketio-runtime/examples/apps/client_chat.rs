//! The terminal chat client: every received `chat message` is printed as one line on
//! stdout, status goes to stderr. It reconnects by itself after the server restarts.

use std::io::Write as _;

use crate::rt::client::{ClientBuilder, ClientSocket};

/// The client of the chat at `url` with its handlers, connecting.
pub(crate) fn connect(url: &str) -> Result<ClientSocket, crate::rt::Error> {
    let socket = ClientBuilder::new(url)?.build();
    socket.on("chat message", async |_, message| {
        let text: String = message.args()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").and_then(|()| out.flush()).ok();
        Ok(())
    });
    socket.on("notice", async |_, message| {
        let text: String = message.args()?;
        eprintln!("* {text}");
        Ok(())
    });
    let server = url.to_owned();
    socket.on_connect(move |_, sid| eprintln!("connected to {server} as {sid}"));
    socket.on_disconnect(|_, reason| eprintln!("disconnected: {reason}"));
    socket.on_reconnect_attempt(|n| eprintln!("reconnecting (attempt {n})"));
    socket.connect();
    Ok(socket)
}
