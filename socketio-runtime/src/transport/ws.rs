//! One task per WebSocket connection: completes the upgrade, then relays frames between
//! the socket and the state machine (see [`crate::websocket::pump`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::Role;
use engineio_proto::server::{Endpoint, WsTicket};
use futures_channel::mpsc;
use hyper::upgrade::OnUpgrade;

use super::{AppEvent, Shared};
use crate::Runtime;
use crate::futures_io::FuturesIo;
use crate::websocket::{self, Flow, Report};

/// Completes the upgrade and runs the connection until it closes. Messages over
/// `max_payload` are not read; the engine decides what follows. A write that makes no
/// progress for `write_timeout` ends the connection.
pub(super) async fn run<R, D>(
    shared: Arc<Shared<D>>,
    on_upgrade: OnUpgrade,
    ticket: WsTicket,
    max_payload: usize,
    write_timeout: Duration,
) where
    R: Runtime,
    D: Endpoint + Send + 'static,
    D::Event: AppEvent + Send + 'static,
{
    let _open = shared.lifecycle.connection();
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            return;
        }
    };
    relay::<R, D>(&shared, upgraded, ticket, max_payload, write_timeout).await;
}

/// Relays frames between an upgraded connection and the state machine until it closes.
async fn relay<R, D>(
    shared: &Shared<D>,
    upgraded: hyper::upgrade::Upgraded,
    ticket: WsTicket,
    max_payload: usize,
    write_timeout: Duration,
) where
    R: Runtime,
    D: Endpoint + Send + 'static,
    D::Event: AppEvent + Send + 'static,
{
    let config = websocket::config(max_payload);
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
