//! HTTP requests on the engine path: polling, handshakes, and the WebSocket handshake.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use engineio_proto::server::{BodyError, BodyTicket, Handled, PollId, PostBody, Posted, Response};
use futures_channel::oneshot;
use futures_util::FutureExt;
use http::{HeaderValue, Request, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full};

use super::{Served, Shared, ws};
use crate::Runtime;

/// The peer's address, read from the request extensions for handshakes. The built-in
/// listener inserts it; when mounting the server in another one, insert it too (and
/// [`Encrypted`](crate::Encrypted) for a request that came over TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// Errors of request bodies we can read.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response.
pub type ResponseBody = Full<Bytes>;

impl<D> Shared<D>
where
    D: Served,
{
    /// Answers one HTTP request. Requests outside the path get 404.
    pub(crate) async fn handle<R, B>(self: Arc<Self>, mut request: Request<B>) -> http::Response<ResponseBody>
    where
        R: Runtime,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Some(rest) = request.uri().path().strip_prefix(&*self.path) else {
            return status(StatusCode::NOT_FOUND);
        };
        if let (Some(script), "socket.io.js" | "socket.io.min.js") = (&self.client_script, rest) {
            return javascript(script.clone());
        }
        let remote = request.extensions().get::<RemoteAddr>().map(|r| r.0);
        let on_upgrade =
            request.headers().contains_key(header::UPGRADE).then(|| hyper::upgrade::on(&mut request));
        let (parts, body) = request.into_parts();
        let now = Instant::now();

        let (waiter, answer) = oneshot::channel();
        let mut waiter = Some(waiter);
        let handled = self.with_state(|state| {
            let handled = state.endpoint.engine().handle_request(now, &parts, remote);
            if let (Handled::Pending(poll), Some(waiter)) = (&handled, waiter.take()) {
                state.polls.insert(*poll, waiter);
            }
            handled
        });
        let handled = match handled {
            // Boxed, as the body read below: every request's future is sized for its
            // largest path, and a waiting long-poll's lives as long as it waits.
            Handled::Incoming(incoming) => Box::pin(self.admit::<R>(incoming)).await,
            other => other,
        };
        match handled {
            Handled::Respond(response) => full(response),
            Handled::Pending(poll) => {
                // The request's head points into the connection's read buffer: let it go
                // while the poll waits, or the buffer stays for as long as the poll does.
                drop((parts, body));
                PollGuard { shared: self, poll, answered: false }.wait(answer).await
            }
            Handled::ReadBody(ticket) => {
                let timeout = self.limits.body_timeout;
                let guard = BodyGuard { shared: self, ticket: Some(ticket), rest: None };
                Box::pin(guard.read::<R, _>(&parts.headers, body, timeout)).await
            }
            Handled::WebSocket(ticket) => {
                let (Some(accept), Some(on_upgrade)) = (websocket_accept(&parts.headers), on_upgrade) else {
                    return status(StatusCode::BAD_REQUEST);
                };
                R::spawn(ws::run::<R, D>(self, on_upgrade, ticket));
                switching_protocols(accept)
            }
            Handled::Incoming(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// Runs the application's `allow_request` check on a new session, then accepts or
    /// refuses it.
    async fn admit<R: Runtime>(&self, incoming: engineio_proto::server::Incoming) -> Handled {
        let verdict = match &self.allow_request {
            Some(allow) => {
                // A check that panics, or does not decide in time, refuses.
                let handshake = Arc::new(incoming.handshake().clone());
                let check = AssertUnwindSafe(async { allow(handshake).await }).catch_unwind();
                let deadline = engineio_proto::deadline_after(Instant::now(), self.limits.body_timeout);
                match crate::runtime::until::<R, _>(deadline, check).await {
                    Some(Ok(verdict)) => verdict,
                    Some(Err(_)) => {
                        tracing::error!("allow_request panicked");
                        Err(None)
                    }
                    None => Err(Some("Timeout".to_owned())),
                }
            }
            None => Ok(()),
        };
        self.with_state(|state| match verdict {
            Ok(()) => state.endpoint.engine().accept(Instant::now(), incoming),
            Err(message) => Handled::Respond(state.endpoint.engine().refuse(incoming, message.as_deref())),
        })
    }
}

/// A long-poll waiting for its answer; tells the state machine if its connection goes away.
struct PollGuard<D>
where
    D: Served,
{
    shared: Arc<Shared<D>>,
    poll: PollId,
    answered: bool,
}

impl<D> PollGuard<D>
where
    D: Served,
{
    async fn wait(mut self, answer: oneshot::Receiver<Response>) -> http::Response<ResponseBody> {
        let response = answer.await;
        self.answered = true;
        match response {
            Ok(response) => full(response),
            Err(_) => status(StatusCode::BAD_REQUEST),
        }
    }
}

impl<D> Drop for PollGuard<D>
where
    D: Served,
{
    fn drop(&mut self) {
        if !self.answered {
            let poll = self.poll;
            self.shared.with_state(|state| {
                state.polls.remove(&poll);
                state.endpoint.engine().handle_poll_aborted(Instant::now(), poll);
            });
        }
    }
}

/// A POST whose body is being read, then handled; tells the state machine if its
/// connection goes away.
struct BodyGuard<D>
where
    D: Served,
{
    shared: Arc<Shared<D>>,
    ticket: Option<BodyTicket>,
    /// The rest of the body, still to handle.
    rest: Option<PostBody>,
}

impl<D> BodyGuard<D>
where
    D: Served,
{
    /// Reads the body within the ticket's limit and `timeout`, and hands it to the state
    /// machine. A body that does not arrive in time gets 408 (and the session closes).
    async fn read<R: Runtime, B>(
        mut self,
        headers: &http::HeaderMap,
        body: B,
        timeout: std::time::Duration,
    ) -> http::Response<ResponseBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let limit = self.ticket.as_ref().map_or(0, BodyTicket::limit);
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let deadline = engineio_proto::deadline_after(Instant::now(), timeout);
        let Some(body) = crate::runtime::until::<R, _>(deadline, read_within(body, limit, declared)).await
        else {
            tracing::debug!("polling body not received within the body timeout");
            let _ = self.finish(Err(BodyError::Aborted));
            return status(StatusCode::REQUEST_TIMEOUT);
        };
        match self.handle(body).await {
            Some(response) => full(response),
            None => status(StatusCode::BAD_REQUEST),
        }
    }

    /// Hands the body to the state machine a step at a time, the lock let go between steps;
    /// while the application holds too much of this session, the rest waits (and with it
    /// the answer, and the client's next POST).
    async fn handle(&mut self, body: Result<Bytes, BodyError>) -> Option<Response> {
        let ticket = self.ticket.take()?;
        let shared = self.shared.clone();
        let mut posted =
            shared.with_state(|state| state.endpoint.engine().handle_body_step(Instant::now(), ticket, body));
        loop {
            let rest = match posted {
                Posted::Answer(response) => return response,
                Posted::More(rest) => rest,
            };
            let sid = rest.sid();
            self.rest = Some(rest);
            if let Some(readable) = shared.with_state(|state| state.until_readable(sid)) {
                let _ = readable.await;
            }
            let rest = self.rest.take()?;
            posted = shared.with_state(|state| state.endpoint.engine().continue_body(Instant::now(), rest));
        }
    }

    fn finish(&mut self, body: Result<Bytes, BodyError>) -> Option<Response> {
        let ticket = self.ticket.take()?;
        self.shared.with_state(|state| state.endpoint.engine().handle_body(Instant::now(), ticket, body))
    }
}

impl<D> Drop for BodyGuard<D>
where
    D: Served,
{
    fn drop(&mut self) {
        self.finish(Err(BodyError::Aborted));
        if let Some(rest) = self.rest.take() {
            self.shared.with_state(|state| state.endpoint.engine().abort_body(Instant::now(), rest));
        }
    }
}

/// How much of a refused body is still read and dropped, so that a client that is still
/// sending gets its 413 instead of a connection reset (closing a socket with unread data
/// resets it). A larger declared body is refused before a byte of it is read.
const REFUSED_BODY_DRAIN: u64 = 4 << 20;

/// Reads `body` whole if it fits in `limit` bytes; a larger one is refused
/// ([`BodyError::TooLarge`]) after reading and dropping the rest of it, up to
/// [`REFUSED_BODY_DRAIN`] bytes past the limit.
async fn read_within<B>(body: B, limit: usize, declared: Option<u64>) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = limit as u64;
    if declared.is_some_and(|len| len > limit.saturating_add(REFUSED_BODY_DRAIN)) {
        return Err(BodyError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(if seen > limit { BodyError::TooLarge } else { BodyError::Aborted });
        };
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len() as u64);
        if seen > limit.saturating_add(REFUSED_BODY_DRAIN) {
            return Err(BodyError::TooLarge);
        }
        if seen <= limit {
            chunks.push(data);
        } else {
            chunks.clear();
        }
    }
    match chunks.len() {
        _ if seen > limit => Err(BodyError::TooLarge),
        0 => Ok(Bytes::new()),
        1 => Ok(chunks.pop().unwrap_or_default()),
        _ => Ok(chunks.concat().into()),
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

fn switching_protocols(accept: HeaderValue) -> http::Response<ResponseBody> {
    let mut response = status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

fn javascript(script: Bytes) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(Full::new(script));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=0"));
    response
}

fn full(response: Response) -> http::Response<ResponseBody> {
    response.map(Full::new)
}

fn status(code: StatusCode) -> http::Response<ResponseBody> {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
