//! HTTP requests on the engine path: polling, handshakes, and the WebSocket handshake.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::server::{BodyError, BodyTicket, Handled, PollId, Response};
use http::{HeaderValue, Request, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tokio::sync::oneshot;

use super::{EngineIo, remote_of, ws};

/// The peer's address, read from the request extensions for handshakes. The built-in
/// listener inserts it; when mounting the engine in another server, insert it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// Errors of request bodies we can read.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl EngineIo {
    /// Answers one HTTP request. Requests outside the engine path get 404.
    pub async fn handle<B>(&self, mut request: Request<B>) -> http::Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if !request.uri().path().starts_with(self.path()) {
            return status(StatusCode::NOT_FOUND);
        }
        let remote = remote_of(&request);
        let on_upgrade = request
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut request));
        let (parts, body) = request.into_parts();
        let now = Instant::now();

        let (waiter, answer) = oneshot::channel();
        let mut waiter = Some(waiter);
        let handled = self.with_state(|state| {
            let handled = state.server.handle_request(now, &parts, remote);
            if let (Handled::Pending(poll), Some(waiter)) = (&handled, waiter.take()) {
                state.polls.insert(*poll, waiter);
            }
            handled
        });
        let handled = match handled {
            Handled::Incoming(incoming) => {
                let verdict = self
                    .inner
                    .allow_request
                    .as_ref()
                    .map_or(Ok(()), |allow| allow(incoming.handshake()));
                match verdict {
                    Ok(()) => {
                        self.with_state(|state| state.server.accept(Instant::now(), incoming))
                    }
                    Err(message) => Handled::Respond(
                        self.with_state(|state| state.server.refuse(incoming, message.as_deref())),
                    ),
                }
            }
            other => other,
        };
        match handled {
            Handled::Respond(response) => full(response),
            Handled::Pending(poll) => {
                let guard = PollGuard {
                    engine: self.clone(),
                    poll,
                    answered: false,
                };
                guard.wait(answer).await
            }
            Handled::ReadBody(ticket) => self.read_body(&parts.headers, body, ticket).await,
            Handled::WebSocket(ticket) => {
                let Some(accept) = websocket_accept(&parts.headers) else {
                    return status(StatusCode::BAD_REQUEST);
                };
                let Some(on_upgrade) = on_upgrade else {
                    return status(StatusCode::BAD_REQUEST);
                };
                tokio::spawn(ws::run(
                    self.clone(),
                    on_upgrade,
                    ticket,
                    self.inner.max_payload,
                ));
                switching_protocols(accept)
            }
            Handled::Incoming(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// Reads a POST body within the ticket's limit and hands it to the state machine.
    async fn read_body<B>(
        &self,
        headers: &http::HeaderMap,
        body: B,
        ticket: BodyTicket,
    ) -> http::Response<Full<Bytes>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut guard = BodyGuard {
            engine: self.clone(),
            ticket: Some(ticket),
        };
        let limit = guard.ticket.as_ref().map_or(0, BodyTicket::limit);
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = if declared.is_some_and(|len| len > limit as u64) {
            // Refused before reading a byte of it.
            Err(BodyError::TooLarge)
        } else {
            match Limited::new(body, limit).collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                    Err(BodyError::TooLarge)
                }
                Err(_) => Err(BodyError::Aborted),
            }
        };
        match guard.finish(body) {
            Some(response) => full(response),
            None => status(StatusCode::BAD_REQUEST),
        }
    }
}

/// Tells the state machine when a long-poll's connection went away unanswered.
struct PollGuard {
    engine: EngineIo,
    poll: PollId,
    answered: bool,
}

impl PollGuard {
    async fn wait(mut self, answer: oneshot::Receiver<Response>) -> http::Response<Full<Bytes>> {
        let response = answer.await;
        self.answered = true;
        match response {
            Ok(response) => full(response),
            Err(_) => status(StatusCode::BAD_REQUEST),
        }
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if !self.answered {
            let poll = self.poll;
            self.engine.with_state(|state| {
                state.polls.remove(&poll);
                state.server.handle_poll_aborted(Instant::now(), poll);
            });
        }
    }
}

/// Tells the state machine when a POST's connection went away mid-body.
struct BodyGuard {
    engine: EngineIo,
    ticket: Option<BodyTicket>,
}

impl BodyGuard {
    fn finish(&mut self, body: Result<Bytes, BodyError>) -> Option<Response> {
        let ticket = self.ticket.take()?;
        self.engine
            .with_state(|state| state.server.handle_body(Instant::now(), ticket, body))
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        self.finish(Err(BodyError::Aborted));
    }
}

/// The `Sec-WebSocket-Accept` value, if this is a valid version 13 handshake.
fn websocket_accept(headers: &http::HeaderMap) -> Option<HeaderValue> {
    if headers.get(header::SEC_WEBSOCKET_VERSION)?.as_bytes() != b"13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    HeaderValue::from_str(&accept).ok()
}

fn switching_protocols(accept: HeaderValue) -> http::Response<Full<Bytes>> {
    let mut response = status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

fn full(response: Response) -> http::Response<Full<Bytes>> {
    response.map(Full::new)
}

fn status(code: StatusCode) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

impl<B> tower_service::Service<Request<B>> for EngineIo
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let engine = self.clone();
        Box::pin(async move { Ok(engine.handle(request).await) })
    }
}
