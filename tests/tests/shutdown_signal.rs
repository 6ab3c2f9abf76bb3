//! The examples shut down gracefully on SIGTERM: a connected client is disconnected by a
//! transport close (not a Socket.IO DISCONNECT, which would stop its reconnection), and
//! the process exits successfully.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::example::{RUNTIMES, Server};
use socketio_tokio::client::ClientBuilder;

#[test]
fn sigterm_closes_the_chat_gracefully() {
    for runtime in RUNTIMES {
        let mut server = Server::start(runtime, "chat");
        let url = server.url();
        let tokio =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (socket, mut seen) = tokio.block_on(async {
            let socket = ClientBuilder::new(&url).unwrap().no_reconnection().build();
            let (tx, seen) = mpsc::unbounded::<String>();
            let connected = tx.clone();
            socket.on_connect(move |_, _| drop(connected.unbounded_send("connect".into())));
            socket.on_disconnect(move |_, reason| drop(tx.unbounded_send(format!("disconnect: {reason}"))));
            socket.connect();
            (socket, seen)
        });
        let next = |seen: &mut mpsc::UnboundedReceiver<String>| {
            tokio.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), seen.next()).await.ok().flatten()
            })
        };
        assert_eq!(next(&mut seen).as_deref(), Some("connect"), "{runtime}");
        let status = server.terminate();
        assert!(status.success(), "{runtime}: exited with {status}");
        assert_eq!(next(&mut seen).as_deref(), Some("disconnect: transport close"), "{runtime}");
        drop(socket);
    }
}
