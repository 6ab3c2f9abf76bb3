//! Which transports a server accepts or a client uses.

/// Which transports a server accepts, or a client uses (the reference's `transports`
/// option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transports {
    /// Both: a client starts on long-polling and upgrades to WebSocket (the default).
    #[default]
    PollingAndWebSocket,
    /// Long-polling only (`["polling"]`).
    Polling,
    /// WebSocket only, no polling handshake (`["websocket"]`).
    WebSocket,
}

impl Transports {
    /// Whether long-polling and WebSocket are on, in that order.
    pub(crate) fn enabled(self) -> (bool, bool) {
        match self {
            Transports::PollingAndWebSocket => (true, true),
            Transports::Polling => (true, false),
            Transports::WebSocket => (false, true),
        }
    }
}
