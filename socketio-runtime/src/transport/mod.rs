//! The transport adapter, shared by the Engine.IO and Socket.IO servers: one lock around a
//! sans-IO [`Endpoint`], HTTP on hyper, WebSocket on async-tungstenite, the runtime's timers.

mod http;
mod serve;
mod timer;
mod ws;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::IdMap;
use engineio_proto::server::{ConnId, Endpoint, Handshake, Output, PollId, Response};
use futures_channel::{mpsc, oneshot};

use crate::Runtime;

pub use self::http::{BoxError, RemoteAddr, ResponseBody};
use crate::websocket::Command as WsCommand;
pub use serve::html_page;
pub(crate) use serve::{not_found, serve_with};

/// Decides whether a handshake may open a session: `Err(message)` refuses it with HTTP 403
/// (`message` replaces the default "Forbidden").
pub type AllowRequest = Arc<dyn Fn(&Handshake) -> Result<(), Option<String>> + Send + Sync>;

/// Events worth a debug trace, the reference's `DEBUG=engine*,socket.io*`.
pub(crate) trait Traced {
    fn trace(&self);
}

/// The endpoint, the lock around it, and what the IO tasks need.
pub(crate) struct Shared<D: Endpoint> {
    state: Mutex<State<D>>,
    /// Wakes the timer task when a deadline earlier than the one it sleeps until appears;
    /// dropping it (with the server) ends the task.
    timer: mpsc::UnboundedSender<()>,
    pub(crate) path: String,
    allow_request: Option<AllowRequest>,
    max_payload: usize,
    ws_write_timeout: Duration,
    client_script: Option<bytes::Bytes>,
}

/// Everything behind the lock: the state machine and where its outputs go.
pub(crate) struct State<D: Endpoint> {
    pub(crate) endpoint: D,
    polls: IdMap<PollId, oneshot::Sender<Response>>,
    conns: IdMap<ConnId, mpsc::UnboundedSender<WsCommand>>,
    events: mpsc::UnboundedSender<D::Event>,
    /// The deadline the timer task sleeps until.
    timer_armed: Option<Instant>,
}

impl<D: Endpoint> State<D>
where
    D::Event: Traced,
{
    /// Routes every pending output: responses to their waiting requests, frames to their
    /// connection tasks, events to the application, in order.
    fn drive(&mut self) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Respond { poll, response } => {
                    if let Some(waiter) = self.polls.remove(&poll) {
                        let _ = waiter.send(response);
                    }
                }
                Output::WsSend { conn, frames } => {
                    if let Some(socket) = self.conns.get(&conn) {
                        let _ = socket.unbounded_send(WsCommand::Send(frames));
                    }
                }
                Output::WsClose { conn, code } => {
                    if let Some(socket) = self.conns.get(&conn) {
                        let _ = socket.unbounded_send(WsCommand::Close(Some(code)));
                    }
                }
                Output::Event(event) => {
                    event.trace();
                    let _ = self.events.unbounded_send(event);
                }
            }
        }
    }
}

/// Settings of the transport adapter itself.
pub(crate) struct Options {
    pub(crate) path: String,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) max_payload: usize,
    /// How long a WebSocket write may make no progress before the connection ends.
    pub(crate) ws_write_timeout: Duration,
    /// The browser client, served at `<path>socket.io.js` and `<path>socket.io.min.js`.
    pub(crate) client_script: Option<bytes::Bytes>,
}

impl<D> Shared<D>
where
    D: Endpoint + Send + 'static,
    D::Event: Traced + Send + 'static,
{
    /// Wraps `endpoint`, starts its timer task, and returns the receiving end of its events.
    /// Must run inside the runtime `R`.
    pub(crate) fn start<R: Runtime>(
        endpoint: D,
        options: Options,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<D::Event>) {
        let (events, receiver) = mpsc::unbounded();
        let state =
            State { endpoint, polls: IdMap::default(), conns: IdMap::default(), events, timer_armed: None };
        let (timer, wake) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            timer,
            path: normalize_path(&options.path),
            allow_request: options.allow_request,
            max_payload: options.max_payload,
            ws_write_timeout: options.ws_write_timeout,
            client_script: options.client_script,
        });
        R::spawn(timer::run::<R, D>(Arc::downgrade(&shared), wake));
        (shared, receiver)
    }

    /// Runs `f` on the state under the lock, then routes the outputs and re-arms the timer.
    /// Never held across an await.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State<D>) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut state);
        state.drive();
        let next = state.endpoint.poll_timeout();
        if next.is_some() && (state.timer_armed.is_none() || next < state.timer_armed) {
            state.timer_armed = next;
            let _ = self.timer.unbounded_send(());
        }
        result
    }
}

/// `/socket.io` and `/socket.io/` both become `/socket.io/`, as in the reference.
fn normalize_path(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

/// The HTTP entry points of a server type `$server<R>` holding `shared: Arc<Shared<_>>`:
/// `handle`, `listen`, `serve`, `serve_with`, `path`, and `tower::Service`.
macro_rules! http_entry_points {
    ($server:ident) => {
        impl<R: $crate::Runtime> $server<R> {
            /// The path this server answers under, for example `/socket.io/`.
            pub fn path(&self) -> &str {
                &self.shared.path
            }

            /// Answers one HTTP request (404 outside the path).
            pub async fn handle<B>(
                &self,
                request: ::http::Request<B>,
            ) -> ::http::Response<$crate::ResponseBody>
            where
                B: ::http_body::Body<Data = ::bytes::Bytes> + Send + 'static,
                B::Error: Into<$crate::BoxError>,
            {
                self.shared.clone().handle::<R, B>(request).await
            }

            /// Binds `addr` (`host:port`) and serves until an accept error.
            pub async fn listen(self, addr: impl Into<String>) -> ::std::io::Result<()> {
                self.serve(R::bind(addr.into()).await?).await
            }

            /// Serves connections from `listener`; other paths get 404.
            pub async fn serve(self, listener: R::Listener) -> ::std::io::Result<()> {
                $crate::transport::serve_with::<R, _, _, _>(
                    listener,
                    self.shared,
                    $crate::transport::not_found,
                )
                .await
            }

            /// Binds `addr` (`host:port`) and serves, handing requests outside this
            /// server's path to `app` (see [`serve_with`](Self::serve_with)).
            pub async fn listen_with<F, Fut>(self, addr: impl Into<String>, app: F) -> ::std::io::Result<()>
            where
                F: Fn(::http::Request<::hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
                Fut: ::std::future::Future<Output = ::http::Response<$crate::ResponseBody>> + Send + 'static,
            {
                self.serve_with(R::bind(addr.into()).await?, app).await
            }

            /// Serves connections from `listener`, handing requests outside this server's
            /// path to `app` (the application's own pages), the way Socket.IO shares a
            /// Node HTTP server.
            pub async fn serve_with<F, Fut>(self, listener: R::Listener, app: F) -> ::std::io::Result<()>
            where
                F: Fn(::http::Request<::hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
                Fut: ::std::future::Future<Output = ::http::Response<$crate::ResponseBody>> + Send + 'static,
            {
                $crate::transport::serve_with::<R, _, _, _>(listener, self.shared, app).await
            }
        }

        impl<R: $crate::Runtime, B> ::tower_service::Service<::http::Request<B>> for $server<R>
        where
            B: ::http_body::Body<Data = ::bytes::Bytes> + Send + 'static,
            B::Error: Into<$crate::BoxError>,
        {
            type Response = ::http::Response<$crate::ResponseBody>;
            type Error = ::std::convert::Infallible;
            type Future = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
            >;

            fn poll_ready(
                &mut self,
                _: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), Self::Error>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: ::http::Request<B>) -> Self::Future {
                let shared = self.shared.clone();
                Box::pin(async move { Ok(shared.handle::<R, B>(request).await) })
            }
        }
    };
}
pub(crate) use http_entry_points;

/// The settings both server builders share, for a builder with fields `engine`
/// (`ServerConfig`), `path` (`String`) and `allow_request` (`Option<AllowRequest>`).
macro_rules! engine_builder_methods {
    () => {
        /// How often sessions are pinged (default 25 s).
        pub fn ping_interval(mut self, interval: ::std::time::Duration) -> Self {
            self.engine.ping_interval = interval;
            self
        }

        /// How long to wait for a pong before closing (default 20 s).
        pub fn ping_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.engine.ping_timeout = timeout;
            self
        }

        /// How long a WebSocket may take to complete an upgrade (default 10 s).
        pub fn upgrade_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.engine.upgrade_timeout = timeout;
            self
        }

        /// Largest accepted message or polling body, in bytes (default 1 000 000).
        pub fn max_payload(mut self, bytes: usize) -> Self {
            self.engine.max_payload = bytes;
            self
        }

        /// Most bytes buffered for a client that does not read (default 4 000 000); past it
        /// the session closes with reason "buffer full".
        pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
            self.engine.max_buffered_bytes = bytes;
            self
        }

        /// Which transports clients may use (both by default).
        pub fn transports(mut self, transports: $crate::Transports) -> Self {
            (self.engine.polling, self.engine.websocket) = transports.enabled();
            self
        }

        /// Cross-origin policy (none by default).
        pub fn cors(mut self, cors: ::engineio_proto::server::Cors) -> Self {
            self.engine.cors = Some(cors);
            self
        }

        /// The path to answer under.
        pub fn path(mut self, path: impl Into<String>) -> Self {
            self.path = path.into();
            self
        }

        /// A check every engine handshake must pass; see [`AllowRequest`](crate::AllowRequest).
        pub fn allow_request(
            mut self,
            check: impl Fn(&::engineio_proto::server::Handshake) -> Result<(), Option<String>>
            + Send
            + Sync
            + 'static,
        ) -> Self {
            self.allow_request = Some(::std::sync::Arc::new(check));
            self
        }

        /// Every Engine.IO setting at once.
        pub fn engine_config(mut self, config: ::engineio_proto::server::ServerConfig) -> Self {
            self.engine = config;
            self
        }
    };
}
pub(crate) use engine_builder_methods;

#[cfg(test)]
mod tests {
    #[test]
    fn pooled_ids_never_repeat_across_refills() {
        let ids: std::collections::HashSet<u128> = (0..1000).map(|_| crate::ids::random_u128()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
    }
}
