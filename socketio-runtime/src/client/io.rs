//! The client's IO: HTTP requests (hyper, over a small pool of kept-alive connections) and
//! WebSockets (async-tungstenite), each reporting back to the client task over one channel.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::client::{Method, RequestId, WsId};
use futures_channel::mpsc;
use futures_util::{StreamExt, select_biased};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};

use crate::Runtime;
use crate::frames::{self, Received};
use crate::futures_io::FuturesIo;

/// What IO reports to the client task.
pub(super) enum IoEvent {
    Response(RequestId, Result<(u16, Bytes), String>),
    WsOpen(WsId, mpsc::UnboundedSender<WsCommand>),
    WsFrame(WsId, Frame),
    WsClosed(WsId),
}

/// What the client task asks of a WebSocket.
pub(super) enum WsCommand {
    Send(Vec<Frame>),
    Close,
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
    runtime: PhantomData<R>,
}

impl<R: Runtime> Io<R> {
    pub(super) fn new(
        events: mpsc::UnboundedSender<IoEvent>,
        headers: http::HeaderMap,
        authority: String,
    ) -> Self {
        Io { authority, pool: Pool::default(), events, headers, runtime: PhantomData }
    }

    /// Sends a request on its own task; its result comes back as [`IoEvent::Response`].
    pub(super) fn request(&self, id: RequestId, method: Method, uri: String, body: Bytes) {
        let events = self.events.clone();
        let mut builder = http::Request::builder().uri(uri).header(http::header::HOST, &self.authority);
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
        let (pool, authority) = (self.pool.clone(), self.authority.clone());
        R::spawn(async move {
            let result = match request {
                Ok(request) => send::<R>(&pool, authority, request).await,
                Err(error) => Err(error.to_string()),
            };
            let _ = events.unbounded_send(IoEvent::Response(id, result));
        });
    }

    /// Opens a WebSocket on its own task, which then relays its frames both ways.
    pub(super) fn websocket(&self, id: WsId, uri: String, max_message: usize) {
        let events = self.events.clone();
        // The handshake headers come from tungstenite; ours are added to them.
        let request = uri.into_client_request().map(|mut request| {
            request.headers_mut().extend(self.headers.clone());
            request
        });
        let authority = self.authority.clone();
        R::spawn(async move {
            let Ok(request) = request else {
                let _ = events.unbounded_send(IoEvent::WsClosed(id));
                return;
            };
            let config = WebSocketConfig::default()
                .read_buffer_size(crate::frames::READ_BUFFER)
                .max_message_size(Some(max_message));
            let connected = match R::connect(authority).await {
                Ok(stream) => {
                    async_tungstenite::client_async_with_config(request, FuturesIo(stream), Some(config))
                        .await
                        .ok()
                }
                Err(_) => None,
            };
            let Some((socket, _)) = connected else {
                let _ = events.unbounded_send(IoEvent::WsClosed(id));
                return;
            };
            let (commands, mut inbox) = mpsc::unbounded();
            if events.unbounded_send(IoEvent::WsOpen(id, commands)).is_err() {
                return;
            }
            let (mut sink, mut stream) = socket.split();
            loop {
                select_biased! {
                    message = stream.next() => {
                        let frame = match message {
                            Some(Ok(message)) => match frames::received(message) {
                                Received::Frame(frame) => frame,
                                Received::Control => continue,
                                Received::End => break,
                            },
                            Some(Err(_)) | None => break,
                        };
                        if events.unbounded_send(IoEvent::WsFrame(id, frame)).is_err() {
                            break;
                        }
                    }
                    command = inbox.next() => match command {
                        Some(WsCommand::Send(batch)) => {
                            if !frames::write(&mut sink, batch).await {
                                break;
                            }
                        }
                        Some(WsCommand::Close) | None => {
                            let _ = sink.close(None).await;
                            break;
                        }
                    },
                }
            }
            let _ = events.unbounded_send(IoEvent::WsClosed(id));
        });
    }
}

/// Sends `request` on a pooled connection (a new one if none is ready) and reads the whole
/// response; the connection goes back to the pool afterwards. When a pooled connection
/// fails before the request left (the server closed it while it sat idle), the request goes
/// again on a new connection.
async fn send<R: Runtime>(
    pool: &Pool,
    authority: String,
    request: http::Request<Full<Bytes>>,
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
                let mut sender = open::<R>(authority).await?;
                let response = try_send(&mut sender, request).await.map_err(|failed| failed.error)?;
                (sender, response)
            }
            Err(failed) => return Err(failed.error),
        },
        None => {
            let mut sender = open::<R>(authority).await?;
            let response = try_send(&mut sender, request).await.map_err(|failed| failed.error)?;
            (sender, response)
        }
    };
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
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
async fn open<R: Runtime>(authority: String) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = R::connect(authority).await.map_err(|e| e.to_string())?;
    let (sender, connection) = http1::handshake(stream).await.map_err(|e| e.to_string())?;
    R::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
