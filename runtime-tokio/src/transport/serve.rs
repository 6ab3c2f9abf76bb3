//! The standalone HTTP/1.1 listener.

use std::convert::Infallible;
use std::io;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use std::sync::Arc;

use engineio_proto::server::Endpoint;

use super::{RemoteAddr, Shared, Traced};

/// Accepts connections and serves each with hyper on its own task.
pub(crate) async fn serve<D>(listener: TcpListener, shared: Arc<Shared<D>>) -> io::Result<()>
where
    D: Endpoint + Send + 'static,
    D::Event: Traced + Send + 'static,
{
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) if is_transient(&error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(RemoteAddr(remote));
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(shared.handle(request).await) }
            });
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "http connection ended with an error");
            }
        });
    }
}

/// Accept errors that concern one connection (or a passing shortage), not the listener.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    ) || error.raw_os_error().is_some_and(|code| code == 24 || code == 23)
}
