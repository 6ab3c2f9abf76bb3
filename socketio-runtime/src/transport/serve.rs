//! The standalone HTTP/1.1 listener.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use engineio_proto::deadline_after;
use futures_util::future::{Either, select};
use hyper::body::Incoming;
use hyper::server::conn::http1;

use super::deadlines::{RuntimeTimer, WriteDeadline};
use super::{RemoteAddr, ResponseBody, Served, Shared};
use crate::Runtime;
use crate::futures_io::{FuturesIo, HyperIo};
use crate::runtime::until;
use crate::tls::ServerTls;
use engineio_proto::server::Encrypted;

/// The first pause after a failed accept, doubled while failures last.
const ACCEPT_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(5);
/// The longest pause between accepts that fail.
const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// The requests outside the server's path go to the application's fallback. Returns when
/// the server shuts down (the listener is dropped with it).
pub(crate) async fn serve_with<R, D, F, Fut>(
    listener: R::Listener,
    shared: Arc<Shared<D>>,
    fallback: F,
) -> io::Result<()>
where
    R: Runtime,
    D: Served,
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = http::Response<ResponseBody>> + Send + 'static,
{
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let (accept, shutting_down) = (pin!(R::accept(&listener)), pin!(shared.lifecycle.shutting_down()));
        let Either::Left((accepted, _)) = select(accept, shutting_down).await else {
            return Ok(());
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            Err(error) => {
                // Out of descriptors or buffers, a connection aborted before it was taken,
                // a filter's refusal: none of them is the listener's end. Keep accepting,
                // backing off while the errors last.
                tracing::warn!(%error, retry_in = ?backoff, "accept failed");
                R::sleep_until(engineio_proto::deadline_after(std::time::Instant::now(), backoff)).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let shared = shared.clone();
        let fallback = fallback.clone();
        let open = shared.lifecycle.connection();
        R::spawn(async move {
            match shared.tls.as_ref().map(ServerTls::acceptor) {
                None => serve_connection::<R, _, _, _, _>(stream, remote, false, shared, fallback).await,
                // Boxed: a TLS connection's state is several times a plain one's, and every
                // plain connection's task would otherwise be sized for it.
                Some(acceptor) => {
                    Box::pin(async move {
                        let timeout = shared.limits.header_timeout;
                        if let Some(stream) = tls_handshake::<R>(acceptor, stream, remote, timeout).await {
                            serve_connection::<R, _, _, _, _>(
                                HyperIo(stream),
                                remote,
                                true,
                                shared,
                                fallback,
                            )
                            .await;
                        }
                    })
                    .await
                }
            }
            drop(open);
        });
    }
}

/// The TLS handshake of an accepted connection, bounded like a request head by `timeout`.
async fn tls_handshake<R: Runtime>(
    acceptor: futures_rustls::TlsAcceptor,
    stream: R::Stream,
    remote: SocketAddr,
    timeout: std::time::Duration,
) -> Option<futures_rustls::server::TlsStream<FuturesIo<R::Stream>>> {
    match until::<R, _>(deadline_after(Instant::now(), timeout), acceptor.accept(FuturesIo(stream))).await {
        Some(Ok(stream)) => Some(stream),
        Some(Err(error)) => {
            tracing::debug!(%error, %remote, "TLS handshake failed");
            None
        }
        None => {
            tracing::debug!(%remote, "TLS handshake timed out");
            None
        }
    }
}

/// Serves HTTP/1.1 on one accepted connection (plain or TLS) until it closes; on shutdown,
/// the request under way is answered, then it closes.
async fn serve_connection<R, D, F, Fut, S>(
    stream: S,
    remote: SocketAddr,
    encrypted: bool,
    shared: Arc<Shared<D>>,
    fallback: F,
) where
    R: Runtime,
    D: Served,
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = http::Response<ResponseBody>> + Send + 'static,
    S: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let (limits, shutting_down) = (shared.limits, shared.lifecycle.shutting_down());
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(RemoteAddr(remote));
        if encrypted {
            request.extensions_mut().insert(Encrypted);
        }
        let shared = shared.clone();
        let fallback = fallback.clone();
        async move {
            let response = if request.uri().path().starts_with(&shared.path) {
                shared.handle::<R, _>(request).await
            } else {
                fallback(request).await
            };
            Ok::<_, Infallible>(response)
        }
    });
    let stream = WriteDeadline::<R, _>::new(stream, limits.write_timeout());
    let connection = http1::Builder::new()
        .timer(RuntimeTimer::<R>::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .serve_connection(stream, service)
        .with_upgrades();
    let mut connection = pin!(connection);
    let result = match select(connection.as_mut(), pin!(shutting_down)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %remote, "http connection ended with an error");
    }
}

/// An application for `serve_with` / `listen_with`: answers `GET /` with the HTML page
/// `html`, and 404 elsewhere.
///
/// ```no_run
/// # async fn run<R: socketio_runtime::Runtime>(io: socketio_runtime::server::SocketIo<R>) -> std::io::Result<()> {
/// io.listen_with("127.0.0.1:3000", socketio_runtime::html_page("<h1>hello</h1>")).await
/// # }
/// ```
pub fn html_page(
    html: &'static str,
) -> impl Fn(http::Request<Incoming>) -> std::future::Ready<http::Response<ResponseBody>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |request| {
        if request.uri().path() != "/" {
            return std::future::ready(not_found_response());
        }
        let mut response =
            http::Response::new(ResponseBody::from(bytes::Bytes::from_static(html.as_bytes())));
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
        std::future::ready(response)
    }
}

fn not_found_response() -> http::Response<ResponseBody> {
    let mut response = http::Response::new(ResponseBody::default());
    *response.status_mut() = http::StatusCode::NOT_FOUND;
    response
}

/// Answers 404.
pub(crate) async fn not_found(_: http::Request<Incoming>) -> http::Response<ResponseBody> {
    not_found_response()
}
