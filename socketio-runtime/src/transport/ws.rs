//! One task per WebSocket connection: completes the upgrade, then relays frames between
//! the socket and the state machine (see [`crate::websocket::pump`]).

use std::sync::Arc;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::Role;
use engineio_proto::server::WsTicket;
use futures_channel::mpsc;
use hyper::upgrade::OnUpgrade;

use super::{Served, Shared};
use crate::Runtime;
use crate::futures_io::FuturesIo;
use crate::websocket::{self, Flow, Report};

/// Completes the upgrade and runs the connection until it closes. Messages over the
/// server's `max_payload` are not read; the engine decides what follows. A write that makes
/// no progress for the write timeout ends the connection.
pub(super) async fn run<R: Runtime, D: Served>(
    shared: Arc<Shared<D>>,
    on_upgrade: OnUpgrade,
    ticket: WsTicket,
) {
    let _open = shared.lifecycle.connection();
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            return;
        }
    };
    relay::<R, D>(&shared, upgraded, ticket).await;
}

/// Relays frames between an upgraded connection and the state machine until it closes.
async fn relay<R: Runtime, D: Served>(
    shared: &Shared<D>,
    upgraded: hyper::upgrade::Upgraded,
    ticket: WsTicket,
) {
    let (config, write_timeout) = (websocket::config(shared.max_payload), shared.limits.write_timeout());
    let socket = WebSocketStream::from_raw_socket(FuturesIo(upgraded), Role::Server, Some(config)).await;
    let (commands, inbox) = mpsc::unbounded();
    let conn = shared.with_state(|state| {
        let conn = state.endpoint.engine().ws_opened(Instant::now(), ticket);
        state.conns.insert(conn, commands);
        conn
    });
    websocket::pump::<R, _>(socket, inbox, write_timeout, |report| {
        shared.with_state(|state| {
            let engine = state.endpoint.engine();
            match report {
                Report::Frame(frame) => {
                    engine.handle_ws_frame(Instant::now(), conn, frame);
                    // The application may now hold too much of this session.
                    let sid = state.endpoint.engine().session_of(conn);
                    match sid.and_then(|sid| state.until_readable(sid)) {
                        Some(readable) => return Flow::Wait(readable),
                        None => return Flow::Go,
                    }
                }
                Report::TooLarge => engine.handle_ws_too_large(Instant::now(), conn),
                Report::Drained => engine.handle_ws_drained(Instant::now(), conn),
            }
            Flow::Go
        })
    })
    .await;
    shared.with_state(|state| {
        state.conns.remove(&conn);
        state.endpoint.engine().handle_ws_closed(Instant::now(), conn);
    });
}
