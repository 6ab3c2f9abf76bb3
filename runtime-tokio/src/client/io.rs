//! The client's IO: HTTP requests (hyper, pooled) and WebSockets (async-tungstenite), each
//! reporting back to the client task over one channel.

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use engineio_proto::Frame;
use engineio_proto::client::{Method, RequestId, WsId};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::frames::{self, Received};

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

/// Performs requests and opens WebSockets for one client.
pub(super) struct Io {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    events: mpsc::UnboundedSender<IoEvent>,
    headers: http::HeaderMap,
}

impl Io {
    pub(super) fn new(events: mpsc::UnboundedSender<IoEvent>, headers: http::HeaderMap) -> Self {
        let http = HttpClient::builder(TokioExecutor::new()).build_http();
        Io { http, events, headers }
    }

    /// Sends a request on its own task; its result comes back as [`IoEvent::Response`].
    pub(super) fn request(&self, id: RequestId, method: Method, uri: String, body: Bytes) {
        let http = self.http.clone();
        let events = self.events.clone();
        let mut builder = http::Request::builder().uri(uri);
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
        tokio::spawn(async move {
            let result = match request {
                Ok(request) => match http.request(request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.into_body().collect().await {
                            Ok(body) => Ok((status, body.to_bytes())),
                            Err(error) => Err(error.to_string()),
                        }
                    }
                    Err(error) => Err(error.to_string()),
                },
                Err(error) => Err(error.to_string()),
            };
            let _ = events.send(IoEvent::Response(id, result));
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
        tokio::spawn(async move {
            let Ok(request) = request else {
                let _ = events.send(IoEvent::WsClosed(id));
                return;
            };
            let config = WebSocketConfig::default().max_message_size(Some(max_message));
            let connected = async_tungstenite::tokio::connect_async_with_config(request, Some(config)).await;
            let Ok((socket, _)) = connected else {
                let _ = events.send(IoEvent::WsClosed(id));
                return;
            };
            let (commands, mut inbox) = mpsc::unbounded_channel();
            if events.send(IoEvent::WsOpen(id, commands)).is_err() {
                return;
            }
            let (mut sink, mut stream) = socket.split();
            loop {
                tokio::select! {
                    message = stream.next() => {
                        let frame = match message {
                            Some(Ok(message)) => match frames::received(message) {
                                Received::Frame(frame) => frame,
                                Received::Control => continue,
                                Received::End => break,
                            },
                            Some(Err(_)) | None => break,
                        };
                        if events.send(IoEvent::WsFrame(id, frame)).is_err() {
                            break;
                        }
                    }
                    command = inbox.recv() => match command {
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
            let _ = events.send(IoEvent::WsClosed(id));
        });
    }
}
