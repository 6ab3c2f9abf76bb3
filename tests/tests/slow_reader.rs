//! A client that stops reading is dropped once what waits for it passes
//! `max_buffered_bytes`: its socket disconnects with the reason `buffer full`, the server
//! logs a warning, and the clients that read are served on. (A test binary of its own: it
//! installs the process's log subscriber.)

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;
use interop_tests::raw::{RawWs, WsRead};
use socketio_tokio::Transports;
use socketio_tokio::client::ClientBuilder;
use socketio_tokio::server::SocketIo;

/// What the server logged.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `future`, or a panic after 30 s.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    interop_tests::wait::within::<socketio_tokio::Tokio, T>(Duration::from_secs(30), "awaited event", future)
        .await
}

#[test]
fn a_client_that_stops_reading_is_dropped_for_a_full_buffer_with_a_warning() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(|| Capture)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let io = SocketIo::builder().max_buffered_bytes(100_000).build();
        let (gone_tx, mut gone) = mpsc::unbounded();
        io.on_connection(async move |socket| {
            let gone_tx = gone_tx.clone();
            socket.on_disconnect(async move |socket, reason| {
                drop(gone_tx.unbounded_send((socket.id(), reason.to_string())))
            });
            // Each "next" sends a 64 kB chunk to everyone.
            socket.on("next", async |socket, message| {
                socket.broadcast().emit("chunk", &"x".repeat(64 * 1024))?;
                socket.emit("chunk", &"x".repeat(64 * 1024))?;
                message.ack(&())
            });
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(io.clone().serve(listener));

        // A raw client connects, then never reads again.
        let (stalled_sid, _stalled) = tokio::task::spawn_blocking(move || {
            let mut ws = RawWs::connect(addr, "/socket.io/?EIO=4&transport=websocket").expect("handshake");
            assert!(matches!(ws.read(), WsRead::Text(open) if open.starts_with("0{")));
            ws.send_text("40");
            let WsRead::Text(connect) = ws.read_text() else { panic!("no CONNECT answer") };
            let sid = connect.trim_start_matches("40{\"sid\":\"").split('"').next().unwrap().to_owned();
            (sid, ws)
        })
        .await
        .unwrap();

        // One that reads asks for chunk after chunk, each once the last one came.
        let reader = ClientBuilder::new(&format!("http://{addr}"))
            .unwrap()
            .transports(Transports::WebSocket)
            .no_reconnection()
            .build();
        let (chunk_tx, mut chunks) = mpsc::unbounded();
        reader.on("chunk", async move |_, message| {
            let chunk: String = message.args()?;
            drop(chunk_tx.unbounded_send(chunk.len()));
            Ok(())
        });
        reader.connect();
        let mut received = 0;
        let (gone_sid, reason) = loop {
            let asked = reader.timeout(Duration::from_secs(10)).emit_with_ack::<()>("next", &());
            within(asked).await.expect("the server answers the reader");
            assert_eq!(within(chunks.next()).await, Some(64 * 1024));
            received += 1;
            if let Ok(dropped) = gone.try_recv() {
                break dropped;
            }
        };
        assert_eq!(gone_sid.to_string(), stalled_sid);
        assert_eq!(reason, "buffer full");
        // The reader is served on.
        for _ in 0..10 {
            within(reader.timeout(Duration::from_secs(10)).emit_with_ack::<()>("next", &())).await.unwrap();
            assert_eq!(within(chunks.next()).await, Some(64 * 1024));
        }
        let log = String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned();
        let warning =
            log.lines().find(|line| line.contains("buffer full")).unwrap_or_else(|| panic!("{log}"));
        assert!(warning.contains("WARN") && warning.contains(&stalled_sid), "{warning}");
        println!("the stalled client was dropped after {received} chunks of 64 kB went to the reader");
        reader.close();
    });
}
