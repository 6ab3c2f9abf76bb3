//! A listener whose accepts fail (out of buffers, memory, a filter's refusal) keeps
//! serving: the engine on a runtime whose first accepts return those errors.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use interop_tests::raw;
use socketio_runtime::Runtime;
use socketio_tokio::Tokio;

/// Tokio, except that the next accepts fail with the errors in `FAILURES`.
#[derive(Debug, Clone, Copy)]
struct FailingAccepts;

/// ENOBUFS, ENOMEM, EPROTO, EPERM, ECONNABORTED, EMFILE: what a busy or filtered host
/// returns from accept.
const FAILURES: [i32; 6] = [105, 12, 71, 1, 103, 24];
static FAILED: AtomicUsize = AtomicUsize::new(0);

impl Runtime for FailingAccepts {
    type Listener = <Tokio as Runtime>::Listener;
    type Stream = <Tokio as Runtime>::Stream;

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        Tokio::spawn(task);
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send + 'static {
        Tokio::sleep_until(deadline)
    }

    fn bind(addr: String) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        Tokio::bind(addr)
    }

    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        let n = FAILED.fetch_add(1, Ordering::SeqCst);
        match FAILURES.get(n) {
            Some(&code) => Err(io::Error::from_raw_os_error(code)),
            None => Tokio::accept(listener).await,
        }
    }

    fn connect(addr: String) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        Tokio::connect(addr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_are_logged_and_the_listener_carries_on() {
    let (engine, _events) = socketio_runtime::engine::EngineIo::<FailingAccepts>::builder().build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(engine.serve(listener));
    let handshake = tokio::task::spawn_blocking(move || {
        raw::request(addr, "GET", "/engine.io/?EIO=4&transport=polling", &[], b"")
    })
    .await
    .unwrap();
    assert_eq!(handshake.status, 200, "{}", handshake.text());
    assert!(
        FAILED.load(Ordering::SeqCst) > FAILURES.len(),
        "every failure was met, then an accept succeeded"
    );
    assert!(!served.is_finished(), "the server still serves");
}
