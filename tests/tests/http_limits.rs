//! The HTTP side cuts off slow, idle, oversized, stalled and silent peers, and frees what they
//! held: an engine server on tokio with short limits, raw sockets against it, and the
//! process's open file descriptors counted before and after.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use engineio_proto::server::{Event, Sid};
use interop_tests::raw::{self, RawWs};
use socketio_tokio::engine::{Builder, EngineIo, Events};

const ENGINE: &str = "/engine.io/";

/// The short limits these tests run with.
fn short_limits() -> Builder {
    EngineIo::builder()
        .http_header_timeout(Duration::from_millis(300))
        .http_body_timeout(Duration::from_millis(300))
        .write_timeout(Duration::from_millis(300))
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(200))
        .max_buffered_bytes(64 << 20)
}

/// An engine server with short limits, serving in the background.
async fn serve() -> (EngineIo, Events, SocketAddr) {
    serve_built(short_limits()).await
}

/// The server `builder` makes, serving in the background.
async fn serve_built(builder: Builder) -> (EngineIo, Events, SocketAddr) {
    let (engine, events) = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(engine.clone().serve(listener));
    (engine, events, addr)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The tests count the process's descriptors, so they run one at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A raw connection that gives up reading after 10 s.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Reads until the server closes the connection; panics if it is still open after 10 s.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return data,
            Err(error) => panic!("the server kept the connection open: {error}"),
        }
    }
}

/// The process's open file descriptors.
fn open_fds() -> usize {
    interop_tests::process::open_fds(std::process::id())
}

/// Waits up to 10 s for `condition`.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A WebSocket session whose peer reads nothing, sent 32 MB (more than the kernel buffers
/// of both ends hold, so the server's writes stall; fewer if the session ends first).
async fn stalled_websocket(engine: &EngineIo, events: &mut Events, addr: SocketAddr) -> (RawWs, Sid) {
    let peer =
        blocking(move || RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).unwrap()).await;
    let Some(Event::Opened { sid, .. }) = events.next().await else { panic!("no session") };
    let chunk = engineio_proto::Frame::Text("4".repeat(64 * 1024).into());
    for _ in 0..512 {
        if engine.send_frame(sid, chunk.clone()).is_err() {
            break;
        }
        tokio::task::yield_now().await;
    }
    (peer, sid)
}

/// Runs blocking socket work off the runtime's threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

#[test]
fn half_sent_heads_and_idle_keep_alive_connections_are_closed() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (_engine, _events, addr) = serve().await;
        blocking(move || {
            let baseline = open_fds();
            // Half a request line, then nothing (slowloris).
            let mut slow = connect(addr);
            slow.write_all(format!("GET {ENGINE}?EIO=4&transport=polling HTTP/1.1\r\nHost: x").as_bytes())
                .unwrap();
            assert!(read_until_closed(&mut slow).is_empty(), "no answer to half a head");
            // A complete request on a kept-alive connection, then silence.
            let mut idle = connect(addr);
            idle.write_all(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let answered = String::from_utf8(read_until_closed(&mut idle)).unwrap();
            assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
            drop((slow, idle));
            eventually("the server let go of both connections", || open_fds() == baseline);
        })
        .await;
    });
}

#[test]
fn a_body_that_never_finishes_gets_408_and_its_session_closes() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (engine, _events, addr) = serve().await;
        let counted = engine.clone();
        blocking(move || {
            let open = raw::request(addr, "GET", &format!("{ENGINE}?EIO=4&transport=polling"), &[], b"");
            let sid = open.text()[1..].split('"').nth(3).unwrap().to_owned();
            assert_eq!(counted.session_count(), 1);
            let mut post = connect(addr);
            let head = format!(
                "POST {ENGINE}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4only part"
            );
            post.write_all(head.as_bytes()).unwrap();
            let answer = String::from_utf8(read_until_closed(&mut post)).unwrap();
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
            eventually("the session closed", || counted.session_count() == 0);
        })
        .await;
    });
}

#[test]
fn oversized_heads_get_431() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (_engine, _events, addr) = serve().await;
        blocking(move || {
            let big = "x".repeat(20 * 1024);
            let response = raw::request(
                addr,
                "GET",
                &format!("{ENGINE}?EIO=4&transport=polling"),
                &[("X-Big", &big)],
                b"",
            );
            assert_eq!(response.status, 431);
            let fits = "x".repeat(12 * 1024);
            let response = raw::request(
                addr,
                "GET",
                &format!("{ENGINE}?EIO=4&transport=polling"),
                &[("X-Fits", &fits)],
                b"",
            );
            assert_eq!(response.status, 200);
        })
        .await;
    });
}

#[test]
fn a_websocket_peer_that_stops_reading_is_cut_off_and_freed() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (engine, mut events, addr) = serve().await;
        let baseline = blocking(open_fds).await;
        let (peer, sid) = stalled_websocket(&engine, &mut events, addr).await;
        loop {
            match events.next().await {
                Some(Event::Closed { sid: closed, .. }) if closed == sid => break,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
        assert_eq!(engine.session_count(), 0);
        // The peer still holds its end open without reading: only its own descriptor
        // remains, the server's end is closed.
        blocking(move || {
            eventually("the server let go of the stalled socket", || open_fds() == baseline + 1)
        })
        .await;
        drop(peer);
    });
}

#[test]
fn pongs_are_read_while_a_large_batch_is_being_written() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let builder = EngineIo::builder()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(200))
            .write_timeout(Duration::from_secs(2))
            .max_buffered_bytes(64 << 20);
        let (engine, mut events, addr) = serve_built(builder).await;
        let mut peer =
            blocking(move || RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).unwrap())
                .await;
        let Some(Event::Opened { sid, .. }) = events.next().await else { panic!("no session") };
        peer = blocking(move || {
            let _open = peer.read();
            peer
        })
        .await;
        // More than the kernel buffers hold: the write stalls while the peer reads nothing.
        let chunk = engineio_proto::Frame::Text("4".repeat(64 * 1024).into());
        for _ in 0..512 {
            engine.send_frame(sid, chunk.clone()).unwrap();
        }
        // The peer answers the pings it cannot see yet, as fast as it can, until the server
        // ends the connection; those pongs must keep the session alive meanwhile.
        let ponging = tokio::task::spawn_blocking(move || {
            let mut sent = 0u64;
            while peer.try_send_text("3") {
                sent += 1;
            }
            sent
        });
        let reason = loop {
            match events.next().await {
                Some(Event::Closed { sid: closed, reason }) if closed == sid => break reason,
                Some(_) => {}
                None => panic!("events ended"),
            }
        };
        let sent = ponging.await.unwrap();
        assert_ne!(
            reason,
            engineio_proto::server::CloseReason::PingTimeout,
            "the pongs were not read ({sent} sent)"
        );
        assert!(sent > 0);
    });
}

#[test]
fn a_polling_response_the_peer_does_not_read_is_cut_off_and_freed() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let builder = EngineIo::builder()
            .write_timeout(Duration::from_millis(300))
            .max_payload(64 << 20)
            .max_buffered_bytes(64 << 20);
        let (engine, events, addr) = serve_built(builder).await;
        let baseline = blocking(open_fds).await;
        let open = blocking(move || {
            raw::request(addr, "GET", &format!("{ENGINE}?EIO=4&transport=polling"), &[], b"")
        })
        .await;
        let sid_text = open.text()[1..].split('"').nth(3).unwrap().to_owned();
        drop(events);
        // 32 MB waits for the next poll: more than the kernel buffers of both ends hold.
        let sid = engineio_proto::server::Sid::parse(&sid_text).unwrap();
        let chunk = engineio_proto::Frame::Text("x".repeat(64 * 1024).into());
        for _ in 0..512 {
            engine.send_frame(sid, chunk.clone()).unwrap();
        }
        // The peer asks for it, then reads nothing.
        let peer = blocking(move || {
            let mut peer = connect(addr);
            let poll =
                format!("GET {ENGINE}?EIO=4&transport=polling&sid={sid_text} HTTP/1.1\r\nHost: x\r\n\r\n");
            peer.write_all(poll.as_bytes()).unwrap();
            eventually("the server took the poll", || open_fds() == baseline + 2);
            // Only the peer's own descriptor remains once the server gave up the write.
            eventually("the server let go of the stalled response", || open_fds() == baseline + 1);
            peer
        })
        .await;
        drop(peer);
    });
}

#[test]
fn a_session_whose_messages_the_application_does_not_take_is_not_read() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (engine, mut events, addr) = serve_built(EngineIo::builder().max_unhandled_bytes(10_000)).await;
        let flooder =
            blocking(move || RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).unwrap())
                .await;
        let Some(Event::Opened { sid, .. }) = events.next().await else { panic!("no session") };
        // 2 000 messages of 266 bytes as held: the session pauses after 38.
        let gauge = engine.clone();
        let flooder = blocking(move || {
            let mut ws = flooder;
            for n in 0..2000 {
                ws.send_text(&format!("4{n:0>9}"));
            }
            eventually("the limit reached", || gauge.unhandled_bytes(sid) >= 10_000);
            // The server answers other sessions meanwhile, and reads no more of this one.
            for _ in 0..20 {
                let mut other = RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).unwrap();
                assert!(matches!(other.read(), raw::WsRead::Text(open) if open.starts_with("0{")));
            }
            ws
        })
        .await;
        let held = engine.unhandled_bytes(sid);
        assert!((10_000..10_000 + 266).contains(&held), "{held} bytes read while the application took none");
        // Taken, they make room for the rest: every one arrives.
        let mut messages = 0;
        let all = async {
            while messages < 2000 {
                if let Some(Event::Message { .. }) = events.next().await {
                    messages += 1;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all).await.expect("every message arrives");
        assert_eq!(engine.unhandled_bytes(sid), 0);
        drop(flooder);
    });
}

/// A WebSocket peer that gets the close frame and never answers it, nor closes its end,
/// is let go once the closing handshake's bound (2 s) passes.
#[test]
fn a_peer_that_never_answers_the_close_frame_is_let_go() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let (engine, mut events, addr) = serve().await;
        let baseline = blocking(open_fds).await;
        let mut peer =
            blocking(move || RawWs::connect(addr, &format!("{ENGINE}?EIO=4&transport=websocket")).unwrap())
                .await;
        let Some(Event::Opened { sid, .. }) = events.next().await else { panic!("no session") };
        engine.close_session(sid);
        let peer = blocking(move || {
            loop {
                match peer.read() {
                    raw::WsRead::Close(_) => return peer,
                    raw::WsRead::Text(_) => {}
                    other => panic!("expected the close frame, got {other:?}"),
                }
            }
        })
        .await;
        // The peer holds its end open and silent: only its own descriptor remains once
        // the server gives up waiting for the answer.
        blocking(move || eventually("the server let go of the silent peer", || open_fds() == baseline + 1))
            .await;
        drop(peer);
    });
}

/// `close()` returns once the shutdown grace has passed, even while a connection's write
/// is stalled (its own write timeout is a minute here).
#[test]
fn close_returns_after_the_shutdown_grace_while_a_write_is_stalled() {
    let _serial = one_at_a_time();
    runtime().block_on(async {
        let builder =
            short_limits().write_timeout(Duration::from_secs(60)).shutdown_grace(Duration::from_millis(500));
        let (engine, mut events, addr) = serve_built(builder).await;
        let (peer, _) = stalled_websocket(&engine, &mut events, addr).await;
        interop_tests::wait::within::<socketio_tokio::Tokio, _>(
            Duration::from_secs(10),
            "close() within the shutdown grace",
            engine.close(),
        )
        .await;
        drop(peer);
    });
}

/// The request of a long-poll in use: one GET, marked with `marker` in its extensions.
fn marked_poll(sid: &str, marker: &std::sync::Arc<()>) -> http::Request<http_body_util::Empty<bytes::Bytes>> {
    let mut request = http::Request::get(format!("{ENGINE}?EIO=4&transport=polling&sid={sid}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    request.extensions_mut().insert(marker.clone());
    request
}

/// A request's head points into its connection's read buffer: a long-poll that kept it while
/// waiting kept a second buffer alive for every idle polling client.
#[test]
fn a_waiting_poll_holds_nothing_of_its_request() {
    runtime().block_on(async {
        let (engine, _events) = EngineIo::builder().build();
        let open = http::Request::get(format!("{ENGINE}?EIO=4&transport=polling"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let open = http_body_util::BodyExt::collect(engine.handle(open).await.into_body()).await.unwrap();
        let open = String::from_utf8(open.to_bytes().to_vec()).unwrap();
        let sid = open[1..].split('"').nth(3).unwrap().to_owned();

        let marker = std::sync::Arc::new(());
        let mut poll = std::pin::pin!(engine.handle(marked_poll(&sid, &marker)));
        assert!(futures_util::poll!(poll.as_mut()).is_pending(), "the poll waits");
        assert_eq!(std::sync::Arc::strong_count(&marker), 1, "the waiting poll let its request go");

        let sid = Sid::parse(&sid).unwrap();
        engine.send_frame(sid, engineio_proto::Frame::Text("4hello".into())).unwrap();
        let answer = http_body_util::BodyExt::collect(poll.await.into_body()).await.unwrap();
        assert_eq!(&answer.to_bytes()[..], b"4hello");
    });
}
