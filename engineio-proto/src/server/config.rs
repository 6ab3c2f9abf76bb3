//! Server configuration.

use std::time::Duration;

/// Engine.IO server settings. The defaults are the reference server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How often the server pings each session (default 25 s).
    pub ping_interval: Duration,
    /// How long the server waits for the pong before closing (default 20 s).
    pub ping_timeout: Duration,
    /// How long a WebSocket may take to complete an upgrade (default 10 s).
    pub upgrade_timeout: Duration,
    /// The largest polling body or WebSocket message accepted, in bytes (default 1 000 000);
    /// also the most a polling response carries.
    pub max_payload: usize,
    /// The most bytes buffered for one session whose client does not read; past it the
    /// session closes with [`CloseReason::BufferFull`](crate::server::CloseReason::BufferFull)
    /// (default 4 000 000). It counts what waits behind what the transport is already
    /// carrying: the batch a WebSocket is writing, the `max_payload` bytes a polling
    /// client's next poll takes. One packet larger than the limit, sent when nothing waits,
    /// always goes out.
    pub max_buffered_bytes: usize,
    /// The most bytes of one session's messages the application may hold unhandled
    /// ([`Server::hold`](crate::server::Server::hold)); past it, the session's input is not
    /// read (its WebSocket, the rest of a POST body, whose answer waits) until the
    /// application has handled half of it (default 1 000 000).
    pub max_unhandled_bytes: usize,
    /// Whether clients may use long-polling.
    pub polling: bool,
    /// Whether clients may use WebSocket.
    pub websocket: bool,
    /// Whether polling sessions may upgrade to WebSocket.
    pub allow_upgrades: bool,
    /// Cross-origin policy; `None` (the default) sends no CORS headers.
    pub cors: Option<Cors>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            max_buffered_bytes: 4_000_000,
            max_unhandled_bytes: 1_000_000,
            polling: true,
            websocket: true,
            allow_upgrades: true,
            cors: None,
        }
    }
}

/// Which origins may make cross-origin requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub(crate) origins: Option<Vec<String>>,
    pub(crate) credentials: bool,
}

impl Cors {
    /// Any origin (`Access-Control-Allow-Origin: *`), without credentials.
    pub fn any() -> Self {
        Cors { origins: None, credentials: false }
    }

    /// Only these origins (for example `https://example.com`), echoed back when they match.
    pub fn origins<I: IntoIterator<Item = S>, S: Into<String>>(origins: I) -> Self {
        Cors { origins: Some(origins.into_iter().map(Into::into).collect()), credentials: false }
    }

    /// Whether a request from `origin` (an `Origin` header value) may open a WebSocket:
    /// always under [`Cors::any`], else only an origin on the list.
    pub fn allows_websocket_from(&self, origin: &[u8]) -> bool {
        self.origins.as_ref().is_none_or(|origins| origins.iter().any(|o| o.as_bytes() == origin))
    }

    /// Allows credentials (cookies, HTTP auth). Only an explicit origin list can allow them:
    /// on [`Cors::any`] this does nothing.
    pub fn with_credentials(self) -> Self {
        let credentials = self.origins.is_some();
        Cors { credentials, ..self }
    }
}
