//! The client's IO: HTTP requests (hyper, over a small pool of kept-alive connections) and
//! WebSockets (async-tungstenite), each reporting back to the client task over one channel.

use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::client::{Method, RequestId, WsId};
use futures_channel::mpsc;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};

use crate::Runtime;
use engineio_proto::deadline_after;
use rustls_pki_types::ServerName;

use crate::futures_io::{FuturesIo, HyperIo};
use crate::runtime::until;
use crate::tls::MaybeTls;
use crate::websocket::{self, Flow, Report};

/// Where the engine's commands for each WebSocket go: its channel once open, a queue while
/// it is being opened; those for a WebSocket that is gone (the engine closes what already
/// closed) are dropped, so nothing is kept for it.
#[derive(Default)]
pub(super) struct WsRoutes {
    open: HashMap<WsId, mpsc::UnboundedSender<websocket::Command>>,
    opening: HashMap<WsId, Vec<websocket::Command>>,
}

impl WsRoutes {
    /// `id` is being opened.
    pub(super) fn opening(&mut self, id: WsId) {
        self.opening.insert(id, Vec::new());
    }

    /// `id` opened: what waited for it goes first.
    pub(super) fn opened(&mut self, id: WsId, channel: mpsc::UnboundedSender<websocket::Command>) {
        for command in self.opening.remove(&id).unwrap_or_default() {
            let _ = channel.unbounded_send(command);
        }
        self.open.insert(id, channel);
    }

    /// `id` closed, or never opened.
    pub(super) fn closed(&mut self, id: WsId) {
        self.opening.remove(&id);
        self.open.remove(&id);
    }

    /// Sends `command` to `id`, or queues it while `id` is being opened.
    pub(super) fn send(&mut self, id: WsId, command: websocket::Command) {
        if let Some(channel) = self.open.get(&id) {
            let _ = channel.unbounded_send(command);
        } else if let Some(queue) = self.opening.get_mut(&id) {
            queue.push(command);
        }
    }

    /// Whether no WebSocket is open.
    pub(super) fn none_open(&self) -> bool {
        self.open.is_empty()
    }

    /// How many WebSockets it knows.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.open.len() + self.opening.len()
    }
}

/// What IO reports to the client task.
pub(super) enum IoEvent {
    Response(RequestId, Result<(u16, Bytes), String>),
    WsOpen(WsId, mpsc::UnboundedSender<websocket::Command>),
    Ws(WsId, WsEvent),
}

/// What happened on an open WebSocket.
pub(super) enum WsEvent {
    Frame(Frame),
    /// A message over the size limit; nothing more is read.
    TooLarge,
    /// A batch of frames is written.
    Drained,
    Closed,
}

/// How much the client reads, and how long it waits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// The largest WebSocket message.
    pub(super) max_message: usize,
    /// How long a WebSocket write may make no progress.
    pub(super) write_timeout: Duration,
    /// How long opening a connection may take (TCP, TLS, the WebSocket handshake), and
    /// a whole HTTP exchange.
    pub(super) connect_timeout: Duration,
}

/// The TLS settings of a client of an `https` or `wss` URL: its configuration and the name
/// the server's certificate must carry, or why they could not be made.
pub(super) type Tls = Result<(Arc<rustls::ClientConfig>, ServerName<'static>), String>;

/// A connection to the server.
type Connection<R> = MaybeTls<FuturesIo<<R as Runtime>::Stream>>;

/// Opens a connection to `authority`, through TLS when `tls` says so: nothing is sent
/// before the TLS handshake succeeded.
async fn connect<R: Runtime>(authority: String, tls: Option<Tls>) -> io::Result<Connection<R>> {
    let stream = FuturesIo(R::connect(authority).await?);
    let Some(tls) = tls else {
        return Ok(MaybeTls::Plain(stream));
    };
    let (config, name) = tls.map_err(io::Error::other)?;
    let stream = futures_rustls::TlsConnector::from(config).connect(name, stream).await?;
    Ok(MaybeTls::Client(Box::new(stream)))
}

/// Kept-alive HTTP connections to the server, ready for another request. Engine.IO has at
/// most one GET and one POST in flight, so the pool stays tiny.
type Pool = Arc<Mutex<Vec<SendRequest<Full<Bytes>>>>>;

/// Performs requests and opens WebSockets for one client.
pub(super) struct Io<R> {
    /// `host:port` of the server.
    authority: String,
    pool: Pool,
    events: mpsc::UnboundedSender<IoEvent>,
    headers: http::HeaderMap,
    limits: Limits,
    tls: Option<Tls>,
    runtime: PhantomData<R>,
}

impl<R: Runtime> Io<R> {
    pub(super) fn new(
        events: mpsc::UnboundedSender<IoEvent>,
        headers: http::HeaderMap,
        authority: String,
        limits: Limits,
        tls: Option<Tls>,
    ) -> Self {
        Io { authority, pool: Pool::default(), events, headers, limits, tls, runtime: PhantomData }
    }

    /// Sends a request on its own task; its result comes back as [`IoEvent::Response`].
    pub(super) fn request(
        &self,
        id: RequestId,
        method: Method,
        target: String,
        body: Bytes,
        max_body: usize,
        timeout: Duration,
    ) {
        let events = self.events.clone();
        let mut builder = http::Request::builder().uri(target).header(http::header::HOST, &self.authority);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let request = match method {
            Method::Get => builder.method("GET").body(Full::new(Bytes::new())),
            Method::Post => builder
                .method("POST")
                .header("content-type", "text/plain;charset=UTF-8")
                .body(Full::new(body)),
        };
        let (pool, authority, tls) = (self.pool.clone(), self.authority.clone(), self.tls.clone());
        R::spawn(async move {
            let result = match request {
                Ok(request) => send::<R>(&pool, (authority, tls), request, max_body, timeout).await,
                Err(error) => Err(error.to_string()),
            };
            let _ = events.unbounded_send(IoEvent::Response(id, result));
        });
    }

    /// Opens a WebSocket on its own task, which then relays its frames both ways.
    pub(super) fn websocket(&self, id: WsId, url: String) {
        let events = self.events.clone();
        // The handshake headers come from tungstenite; ours are added to them.
        let request = url.into_client_request().map(|mut request| {
            request.headers_mut().extend(self.headers.clone());
            request
        });
        let (authority, limits, tls) = (self.authority.clone(), self.limits, self.tls.clone());
        R::spawn(async move {
            let config = websocket::config(limits.max_message);
            let open = async {
                let stream = connect::<R>(authority, tls).await.ok()?;
                async_tungstenite::client_async_with_config(request.ok()?, stream, Some(config)).await.ok()
            };
            let deadline = deadline_after(Instant::now(), limits.connect_timeout);
            let connected = until::<R, _>(deadline, open).await.flatten();
            let Some((socket, _)) = connected else {
                let _ = events.unbounded_send(IoEvent::Ws(id, WsEvent::Closed));
                return;
            };
            let (commands, inbox) = mpsc::unbounded();
            if events.unbounded_send(IoEvent::WsOpen(id, commands)).is_err() {
                return;
            }
            websocket::pump::<R, _>(socket, inbox, limits.write_timeout, |report| {
                let event = match report {
                    Report::Frame(frame) => WsEvent::Frame(frame),
                    Report::TooLarge => WsEvent::TooLarge,
                    Report::Drained => WsEvent::Drained,
                };
                match events.unbounded_send(IoEvent::Ws(id, event)) {
                    Ok(()) => Flow::Go,
                    Err(_) => Flow::Stop,
                }
            })
            .await;
            let _ = events.unbounded_send(IoEvent::Ws(id, WsEvent::Closed));
        });
    }
}

/// Sends `request` on a pooled connection (a new one if none is ready) and reads the whole
/// response; the connection goes back to the pool afterwards. When a pooled connection
/// fails before the request left (the server closed it while it sat idle), the request goes
/// again on a new connection. A body over the message limit fails the request, and the
/// whole exchange (connecting included) is bounded by `timeout`.
async fn send<R: Runtime>(
    pool: &Pool,
    server: (String, Option<Tls>),
    request: http::Request<Full<Bytes>>,
    max_body: usize,
    timeout: Duration,
) -> Result<(u16, Bytes), String> {
    let deadline = deadline_after(Instant::now(), timeout);
    let exchange = exchange::<R>(pool, server, request, max_body);
    until::<R, _>(deadline, exchange).await.unwrap_or_else(|| Err("the request timed out".to_owned()))
}

async fn exchange<R: Runtime>(
    pool: &Pool,
    (authority, tls): (String, Option<Tls>),
    request: http::Request<Full<Bytes>>,
    max_body: usize,
) -> Result<(u16, Bytes), String> {
    let idle = {
        let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.retain(|sender| !sender.is_closed());
        pool.pop()
    };
    let (sender, response) = match idle {
        Some(mut sender) => match try_send(&mut sender, request).await {
            Ok(response) => (sender, response),
            Err(Failed { unsent: Some(request), .. }) => {
                let mut sender = open::<R>(authority, tls).await?;
                let response = try_send(&mut sender, request).await.map_err(|failed| failed.error)?;
                (sender, response)
            }
            Err(failed) => return Err(failed.error),
        },
        None => {
            let mut sender = open::<R>(authority, tls).await?;
            let response = try_send(&mut sender, request).await.map_err(|failed| failed.error)?;
            (sender, response)
        }
    };
    let status = response.status().as_u16();
    let body =
        Limited::new(response.into_body(), max_body).collect().await.map_err(|e| e.to_string())?.to_bytes();
    pool.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
    Ok((status, body))
}

/// A request that failed, given back if it never left.
struct Failed {
    unsent: Option<http::Request<Full<Bytes>>>,
    error: String,
}

async fn try_send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, Failed> {
    if let Err(error) = sender.ready().await {
        return Err(Failed { unsent: Some(request), error: error.to_string() });
    }
    sender
        .try_send_request(request)
        .await
        .map_err(|mut failed| Failed { unsent: failed.take_message(), error: failed.error().to_string() })
}

/// A new HTTP/1.1 connection to the server, its IO running on its own task.
async fn open<R: Runtime>(authority: String, tls: Option<Tls>) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = HyperIo(connect::<R>(authority, tls).await.map_err(|e| e.to_string())?);
    let (sender, connection) = http1::handshake(stream).await.map_err(|e| e.to_string())?;
    R::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::WsRoutes;
    use crate::websocket::Command;
    use engineio_proto::client::{Client, ClientConfig, Output};

    #[test]
    fn commands_for_a_websocket_that_is_gone_are_dropped() {
        // Two WebSocket ids, as an engine client numbers them.
        let mut client = Client::new(ClientConfig { polling: false, ..ClientConfig::default() });
        let Some(Output::WsConnect { id: first, .. }) = client.poll_output() else { panic!() };
        let mut client =
            Client::with_ids_from(ClientConfig { polling: false, ..ClientConfig::default() }, 10);
        let Some(Output::WsConnect { id: second, .. }) = client.poll_output() else { panic!() };

        let mut routes = WsRoutes::default();
        routes.opening(first);
        routes.send(first, Command::Close(None));
        routes.closed(first);
        // The engine closes a WebSocket that already closed: nothing is kept for it.
        routes.send(first, Command::Close(None));
        assert_eq!(routes.len(), 0);

        routes.opening(second);
        routes.send(second, Command::Send(Vec::new()));
        let (channel, mut inbox) = futures_channel::mpsc::unbounded();
        routes.opened(second, channel);
        routes.send(second, Command::Close(None));
        assert!(matches!(inbox.try_recv(), Ok(Command::Send(_))), "what waited goes first");
        assert!(matches!(inbox.try_recv(), Ok(Command::Close(None))), "then what came after");
        routes.closed(second);
        assert!(routes.none_open() && routes.len() == 0);
    }
}
