//! The transport adapter, shared by the Engine.IO and Socket.IO servers: one lock around a
//! sans-IO [`Endpoint`], HTTP on hyper, WebSocket on async-tungstenite, the runtime's timers.

mod deadlines;
mod http;
mod serve;
mod shutdown;
mod timer;
mod ws;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use engineio_proto::IdMap;
use engineio_proto::server::{ConnId, Endpoint, Handshake, Output, PollId, Response, Sid};
use futures_channel::{mpsc, oneshot};

use crate::Runtime;

pub use self::http::{BoxError, RemoteAddr, ResponseBody};
use crate::websocket::Command as WsCommand;
pub use serve::html_page;
pub(crate) use serve::{not_found, serve_with};

/// Decides whether a handshake may open a session: `Err(message)` refuses it with HTTP 403
/// (`message` replaces the default "Forbidden"). It may wait (a database, a token
/// service), up to the HTTP body timeout; past it, or if it panics, the handshake is refused.
pub type AllowRequest = Arc<
    dyn Fn(Arc<Handshake>) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Option<String>>> + Send>>
        + Send
        + Sync,
>;

/// An endpoint the adapter serves: a sans-IO server whose events go to the application.
pub(crate) trait Served: Endpoint<Event: AppEvent + Send + 'static> + Send + 'static {}

impl<D: Endpoint<Event: AppEvent + Send + 'static> + Send + 'static> Served for D {}

/// What the adapter needs of an endpoint's events on their way to the application.
pub(crate) trait AppEvent {
    /// A debug trace, the reference's `DEBUG=engine*,socket.io*`.
    fn trace(&self);

    /// What the application holds of a session while this event waits in its queue
    /// (`Server::hold`). Nothing by default: the Socket.IO layer holds its events itself.
    fn held(&self) -> Option<(Sid, usize)> {
        None
    }
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
    limits: HttpLimits,
    client_script: Option<bytes::Bytes>,
    pub(crate) lifecycle: Arc<shutdown::Lifecycle>,
    /// Serve over TLS with this, on the server's own listener.
    pub(crate) tls: Option<crate::ServerTls>,
}

/// Everything behind the lock: the state machine and where its outputs go.
pub(crate) struct State<D: Endpoint> {
    pub(crate) endpoint: D,
    polls: IdMap<PollId, oneshot::Sender<Response>>,
    conns: IdMap<ConnId, mpsc::UnboundedSender<WsCommand>>,
    events: mpsc::UnboundedSender<D::Event>,
    /// Readers waiting for their session to be readable again (see `Server::hold`).
    readers: IdMap<Sid, Vec<oneshot::Sender<()>>>,
    /// The deadline the timer task sleeps until.
    timer_armed: Option<Instant>,
    /// Told when the last session is gone, while shutting down.
    drained: Option<oneshot::Sender<()>>,
}

impl<D: Endpoint> State<D>
where
    D::Event: AppEvent,
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
                Output::Readable { sid } => {
                    for reader in self.readers.remove(&sid).unwrap_or_default() {
                        let _ = reader.send(());
                    }
                }
                Output::Event(event) => {
                    event.trace();
                    if let Some((sid, bytes)) = event.held() {
                        self.endpoint.engine().hold(sid, bytes);
                    }
                    let _ = self.events.unbounded_send(event);
                }
            }
        }
    }

    /// What to wait for before reading more of session `sid`: `None` when it is readable
    /// now, else a signal that comes when it is readable again (or gone).
    pub(crate) fn until_readable(&mut self, sid: Sid) -> Option<oneshot::Receiver<()>> {
        self.drive();
        if self.endpoint.engine().is_readable(sid) {
            return None;
        }
        let (readable, wait) = oneshot::channel();
        self.readers.entry(sid).or_default().push(readable);
        Some(wait)
    }
}

/// Time and size limits of the HTTP side, with Node's spirit for defaults: slow or stalled
/// peers are cut off, each with its own bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpLimits {
    /// How long a request head may take to arrive, counted from when the connection starts
    /// waiting for it: also how long an idle keep-alive connection stays (default 30 s).
    pub(crate) header_timeout: Duration,
    /// How long a POST body may take to arrive (default 60 s); past it the request gets
    /// 408 and the session closes.
    pub(crate) body_timeout: Duration,
    /// How long a write may make no progress before the connection ends; `None` for the
    /// default, `pingInterval + pingTimeout`. Also bounds WebSocket writes.
    pub(crate) write_timeout: Option<Duration>,
    /// The largest request head, in bytes (default 16 KiB, as Node; hyper needs at least
    /// 8 KiB); past it the request gets 431.
    pub(crate) max_header_bytes: usize,
    /// How long a shutdown waits for connections to close; `None` for the default,
    /// `pingInterval + pingTimeout` (what a polling client may take to fetch its last
    /// packets).
    pub(crate) shutdown_grace: Option<Duration>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            write_timeout: None,
            max_header_bytes: 16 * 1024,
            shutdown_grace: None,
        }
    }
}

impl HttpLimits {
    /// The write timeout and the shutdown grace, their defaults taken from the heartbeat
    /// of `engine`.
    pub(crate) fn resolved(mut self, engine: &engineio_proto::server::ServerConfig) -> Self {
        let heartbeat = engine.ping_interval.saturating_add(engine.ping_timeout);
        self.write_timeout = Some(self.write_timeout.unwrap_or(heartbeat));
        self.shutdown_grace = Some(self.shutdown_grace.unwrap_or(heartbeat));
        self
    }

    pub(crate) fn write_timeout(&self) -> Duration {
        self.write_timeout.unwrap_or(Duration::from_secs(45))
    }
}

/// Settings of the transport adapter itself.
pub(crate) struct Options {
    pub(crate) path: String,
    pub(crate) allow_request: Option<AllowRequest>,
    pub(crate) max_payload: usize,
    pub(crate) limits: HttpLimits,
    /// The browser client, served at `<path>socket.io.js` and `<path>socket.io.min.js`.
    pub(crate) client_script: Option<bytes::Bytes>,
    pub(crate) tls: Option<crate::ServerTls>,
}

impl<D> Shared<D>
where
    D: Served,
{
    /// Wraps `endpoint`, starts its timer task, and returns the receiving end of its events.
    /// Must run inside the runtime `R`.
    pub(crate) fn start<R: Runtime>(
        endpoint: D,
        options: Options,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<D::Event>) {
        let (events, receiver) = mpsc::unbounded();
        let state = State {
            endpoint,
            polls: IdMap::default(),
            conns: IdMap::default(),
            events,
            readers: IdMap::default(),
            timer_armed: None,
            drained: None,
        };
        let (timer, wake) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            timer,
            path: normalize_path(&options.path),
            allow_request: options.allow_request,
            max_payload: options.max_payload,
            limits: options.limits,
            client_script: options.client_script,
            lifecycle: shutdown::Lifecycle::new(),
            tls: options.tls,
        });
        R::spawn(timer::run::<R, D>(Arc::downgrade(&shared), wake));
        (shared, receiver)
    }

    /// Shuts down: the listeners stop, every session flushes and closes, kept-alive
    /// connections finish their request and close; returns once every connection is closed,
    /// or after the shutdown grace.
    pub(crate) async fn close<R: Runtime>(&self, flush: impl std::future::Future<Output = ()>) {
        let grace = self.limits.shutdown_grace.unwrap_or(Duration::from_secs(45));
        let deadline = engineio_proto::deadline_after(Instant::now(), grace);
        // First the sessions: each flushes what is queued and closes, while the listener
        // still takes the requests that fetch it (new handshakes get 503).
        let (drained, sessions_gone) = oneshot::channel();
        let first = self.with_state(|state| {
            let first = !state.endpoint.engine().is_shutting_down();
            if first {
                state.drained = Some(drained);
                state.endpoint.shutdown(Instant::now());
            }
            first
        });
        if !first {
            return;
        }
        if crate::runtime::until::<R, _>(deadline, sessions_gone).await.is_none() {
            let left = self.with_state(|state| state.endpoint.engine().session_count());
            tracing::warn!(sessions = left, "sessions still open after the shutdown grace");
        }
        // What the application still owes outside (kept sessions), before its tasks stop.
        if crate::runtime::until::<R, _>(deadline, flush).await.is_none() {
            tracing::warn!("the server's last writes were not done within the shutdown grace");
        }
        // Then the connections: listeners stop, kept-alive connections close.
        self.lifecycle.begin();
        if crate::runtime::until::<R, _>(deadline, self.lifecycle.all_closed()).await.is_none() {
            tracing::warn!(
                open = self.lifecycle.open_connections(),
                "connections still open after the shutdown grace"
            );
        }
    }

    /// Runs `f` on the state under the lock, then routes the outputs and re-arms the timer.
    /// Never held across an await.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State<D>) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut state);
        state.drive();
        if state.drained.is_some() && state.endpoint.engine().session_count() == 0 {
            if let Some(drained) = state.drained.take() {
                let _ = drained.send(());
            }
        }
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

            /// Shuts the server down (`io.close()`): its listeners stop accepting and
            /// return, every client is disconnected (Socket.IO: with "server shutting
            /// down", and no DISCONNECT packet, so it reconnects, to another server if one
            /// is up) after what was already queued for it is sent, and kept-alive
            /// connections close once their request is answered. Returns when every
            /// connection is closed, or after the shutdown grace (default
            /// `pingInterval + pingTimeout`). New handshakes meanwhile get 503. With
            /// connection state recovery on the streams adapter, the clients' sessions are
            /// written to Redis before the connections close, so they recover on another
            /// server.
            pub async fn close(&self) {
                self.shared.close::<R>(self.flush_before_close()).await
            }

            /// Binds `addr` (`host:port`) and serves until [`close`](Self::close); only a
            /// failed bind returns an error (accept errors are logged and retried with a
            /// back-off).
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
/// (`ServerConfig`), `limits` (`HttpLimits`), `path` (`String`) and `allow_request`
/// (`Option<AllowRequest>`).
macro_rules! engine_builder_methods {
    () => {
        /// How long a request head may take to arrive (default 30 s); also how long an
        /// idle keep-alive connection is kept.
        pub fn http_header_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.header_timeout = timeout;
            self
        }

        /// How long a polling POST body may take to arrive (default 60 s); past it the
        /// request gets 408 and its session closes.
        pub fn http_body_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.body_timeout = timeout;
            self
        }

        /// How long a write (an HTTP response, a WebSocket batch) may make no progress
        /// before the connection ends (default `pingInterval + pingTimeout`).
        pub fn write_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.limits.write_timeout = Some(timeout);
            self
        }

        /// Serves over TLS with this certificate and key on the server's own listener
        /// (`listen`, `serve`, `listen_with`, `serve_with`); when mounted in another
        /// HTTP server, that server does TLS. Most deployments terminate TLS at a proxy
        /// in front instead.
        pub fn tls(mut self, tls: $crate::ServerTls) -> Self {
            self.tls = Some(tls);
            self
        }

        /// How long the server's `close()` waits for sessions and connections to end (default
        /// `pingInterval + pingTimeout`).
        pub fn shutdown_grace(mut self, grace: ::std::time::Duration) -> Self {
            self.limits.shutdown_grace = Some(grace);
            self
        }

        /// The largest request head in bytes (default 16 KiB, at least 8 KiB); past it the
        /// request gets 431.
        pub fn max_header_bytes(mut self, bytes: usize) -> Self {
            self.limits.max_header_bytes = bytes.max(8192);
            self
        }

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
        /// the session closes with reason "buffer full". What the transport is already
        /// carrying is not counted: the batch a WebSocket is writing, the `max_payload`
        /// bytes a polling client's next poll takes.
        pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
            self.engine.max_buffered_bytes = bytes;
            self
        }

        /// Most bytes of one client's messages the application may have unhandled (default
        /// 1 000 000): with Socket.IO, events waiting for their handlers or in them, each
        /// counted as its size plus 256 bytes; with the engine alone, messages not yet
        /// taken from [`Events`](crate::engine::Events). Past it, nothing more is read from
        /// that client (its WebSocket, the rest of its POST, whose answer waits) until the
        /// application has caught up by half, so one client flooding fills neither memory
        /// nor anyone else's turn. Nothing is lost meanwhile, and its heartbeat waits too.
        pub fn max_unhandled_bytes(mut self, bytes: usize) -> Self {
            self.engine.max_unhandled_bytes = bytes;
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

        /// A check every engine handshake must pass (`allowRequest`), async:
        /// `Err(message)` refuses with 403; see [`AllowRequest`](crate::AllowRequest).
        ///
        /// ```no_run
        /// # fn f<R: socketio_runtime::Runtime>(builder: socketio_runtime::engine::Builder<R>) {
        /// builder.allow_request(async |handshake| match handshake.query("token") {
        ///     Some(token) if token == "secret" => Ok(()),
        ///     _ => Err(Some("a token is required".into())),
        /// });
        /// # }
        /// ```
        pub fn allow_request<F, Fut>(mut self, check: F) -> Self
        where
            F: FnOnce(::std::sync::Arc<::engineio_proto::server::Handshake>) -> Fut
                + Clone
                + Send
                + Sync
                + 'static,
            Fut: ::std::future::Future<Output = Result<(), Option<String>>> + Send + 'static,
        {
            self.allow_request =
                Some(::std::sync::Arc::new(move |handshake| Box::pin(check.clone()(handshake))));
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
