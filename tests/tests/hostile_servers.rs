//! Our client against servers that misbehave: one that never answers, one whose handshake
//! response never ends, one that opens a WebSocket and then says nothing, one that sends a
//! WebSocket message far over the limit. Each time the client gives up on its own, reports
//! the failure, and closes its connection (the server sees it end): nothing is left behind,
//! and it never reads more than its limits.

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use interop_tests::wait::within;
use socketio_runtime::client::ClientBuilder;
use socketio_runtime::{Runtime, Transports};
use socketio_smol::Smol;
use socketio_tokio::Tokio;

/// What the fake server does with the request it gets.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// Reads the request and never answers.
    Silent,
    /// Answers with a 1 GiB body, as fast as the client takes it.
    EndlessBody,
    /// Completes the WebSocket handshake, then sends nothing.
    MuteWebSocket,
    /// Completes the WebSocket handshake, then starts a 1 GiB message.
    EndlessMessage,
}

/// What the fake server saw.
#[derive(Debug)]
struct Seen {
    /// Bytes it wrote after the response head.
    written: u64,
    /// Whether the client closed the connection (within 30 s).
    client_closed: bool,
}

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

/// Serves one connection the hostile way; what it saw comes back on the channel.
fn hostile_server(behaviour: Hostile) -> (SocketAddr, oneshot::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, report) = oneshot::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let head = read_head(&mut stream);
        let written = match behaviour {
            Hostile::Silent => 0,
            Hostile::EndlessBody => {
                let head =
                    format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {GIB}\r\n\r\n");
                stream.write_all(head.as_bytes()).unwrap();
                write_until_refused(&mut stream, &[b'0'; CHUNK])
            }
            Hostile::MuteWebSocket => {
                accept_websocket(&mut stream, &head);
                0
            }
            Hostile::EndlessMessage => {
                accept_websocket(&mut stream, &head);
                // A text frame header announcing 1 GiB (64-bit length), then its bytes.
                let mut header = vec![0x81, 127];
                header.extend_from_slice(&GIB.to_be_bytes());
                stream.write_all(&header).unwrap();
                write_until_refused(&mut stream, &[b'4'; CHUNK])
            }
        };
        let client_closed = written < GIB && closed_by_peer(&mut stream);
        let _ = seen.send(Seen { written, client_closed });
    });
    (addr, report)
}

/// Reads up to the end of the request head.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Answers a WebSocket upgrade request with 101.
fn accept_websocket(stream: &mut TcpStream, head: &str) {
    let key = head
        .lines()
        .find_map(|line| {
            line.strip_prefix("sec-websocket-key: ").or_else(|| line.strip_prefix("Sec-WebSocket-Key: "))
        })
        .expect("a websocket upgrade request");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {}\r\n\r\n",
        derive_accept_key(key.trim().as_bytes())
    );
    stream.write_all(response.as_bytes()).unwrap();
}

/// Writes `chunk` until the peer refuses more or 1 GiB went out; the bytes written.
fn write_until_refused(stream: &mut TcpStream, chunk: &[u8]) -> u64 {
    let mut written = 0u64;
    while written < GIB && stream.write_all(chunk).is_ok() {
        written += chunk.len() as u64;
    }
    written
}

/// Whether the peer ends the connection (end of stream or reset) before the read timeout.
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) => return matches!(error.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        }
    }
}

/// Connects a client to a server that behaves as `behaviour`, and checks that the client
/// reports a failed connection, closes its socket, and read no more than `max_written`
/// of what the server sent. The client keeps its default message limit (100 MB) unless
/// it connects by WebSocket alone, where it is set to 1 MB.
async fn gives_up<R: Runtime>(
    behaviour: Hostile,
    transports: Transports,
    timeout: Duration,
    max_written: u64,
) {
    let (addr, seen) = hostile_server(behaviour);
    let mut client = ClientBuilder::<R>::new(&format!("http://{addr}"))
        .unwrap()
        .transports(transports)
        .no_reconnection()
        .timeout(timeout);
    if matches!(transports, Transports::WebSocket) {
        client = client.max_message_size(1_000_000);
    }
    let socket = client.build();
    let (failed, mut failures) = mpsc::unbounded();
    socket.on_connect_error(move |_, failure| {
        failed.unbounded_send(failure.message().to_owned()).ok();
    });
    socket.connect();
    let what = format!("connect error against {behaviour:?}");
    let failure = within::<R, _>(Duration::from_secs(20), &what, failures.next()).await;
    assert!(failure.is_some(), "{what}");
    let seen = within::<R, _>(Duration::from_secs(40), "the server's report", seen).await.unwrap();
    assert!(seen.client_closed, "{behaviour:?}: the client kept its connection open ({seen:?})");
    assert!(seen.written <= max_written, "{behaviour:?}: the client took {} bytes", seen.written);
}

fn on_each_runtime<F: Future<Output = ()>, G: Future<Output = ()>>(
    tokio_body: impl Fn() -> F,
    smol_body: impl Fn() -> G,
) {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    tokio.block_on(tokio_body());
    smol::block_on(smol_body());
}

/// Loopback buffers hold a few MiB; a client that read up to its 100 MB default limit, or
/// everything, would take more.
const BUFFERED: u64 = 64 << 20;

#[test]
fn a_server_that_never_answers_the_handshake() {
    let timeout = Duration::from_millis(500);
    on_each_runtime(
        || gives_up::<Tokio>(Hostile::Silent, Transports::Polling, timeout, 0),
        || gives_up::<Smol>(Hostile::Silent, Transports::Polling, timeout, 0),
    );
}

#[test]
fn a_websocket_that_never_opens() {
    let timeout = Duration::from_millis(500);
    on_each_runtime(
        || gives_up::<Tokio>(Hostile::Silent, Transports::WebSocket, timeout, 0),
        || gives_up::<Smol>(Hostile::Silent, Transports::WebSocket, timeout, 0),
    );
}

#[test]
fn a_websocket_that_opens_and_then_says_nothing() {
    let timeout = Duration::from_millis(500);
    on_each_runtime(
        || gives_up::<Tokio>(Hostile::MuteWebSocket, Transports::WebSocket, timeout, 0),
        || gives_up::<Smol>(Hostile::MuteWebSocket, Transports::WebSocket, timeout, 0),
    );
}

// The timeout is long: the size limit, not the clock, must end these.

/// Before the handshake, the client reads at most 64 KiB of a response, whatever its
/// message limit.
#[test]
fn a_handshake_response_that_never_ends() {
    let timeout = Duration::from_secs(60);
    on_each_runtime(
        || gives_up::<Tokio>(Hostile::EndlessBody, Transports::Polling, timeout, BUFFERED),
        || gives_up::<Smol>(Hostile::EndlessBody, Transports::Polling, timeout, BUFFERED),
    );
}

#[test]
fn a_websocket_message_over_the_limit() {
    let timeout = Duration::from_secs(60);
    on_each_runtime(
        || gives_up::<Tokio>(Hostile::EndlessMessage, Transports::WebSocket, timeout, BUFFERED),
        || gives_up::<Smol>(Hostile::EndlessMessage, Transports::WebSocket, timeout, BUFFERED),
    );
}
