//! One task per WebSocket connection: reads frames into the state machine, writes the
//! batches it hands out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Utf8Bytes};
use engineio_proto::Frame;
use engineio_proto::server::{Endpoint, WsTicket};
use futures_channel::mpsc;
use futures_util::{StreamExt, select_biased};
use hyper::upgrade::OnUpgrade;

use super::{Shared, Traced};
use crate::Runtime;
use crate::frames::{self, Received};
use crate::futures_io::FuturesIo;

/// How long to wait for the peer's answer to our close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

/// What the state machine asks of a connection task.
pub(super) enum WsCommand {
    /// Write these frames, then report the batch drained.
    Send(Vec<Frame>),
    /// Close with this code.
    Close(u16),
}

/// Completes the upgrade and runs the connection until it closes.
pub(super) async fn run<R, D>(
    shared: Arc<Shared<D>>,
    on_upgrade: OnUpgrade,
    ticket: WsTicket,
    max_payload: usize,
) where
    R: Runtime,
    D: Endpoint + Send + 'static,
    D::Event: Traced + Send + 'static,
{
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            return;
        }
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(crate::frames::READ_BUFFER)
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload));
    let socket = WebSocketStream::from_raw_socket(FuturesIo(upgraded), Role::Server, Some(config)).await;
    let (commands, mut inbox) = mpsc::unbounded();
    let conn = shared.with_state(|state| {
        let conn = state.endpoint.engine().ws_opened(Instant::now(), ticket);
        state.conns.insert(conn, commands);
        conn
    });
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
                    Some(Err(WsError::Capacity(error))) => {
                        tracing::debug!(%error, "websocket message over max payload");
                        let _ = sink.close(Some(close_frame(1009))).await;
                        break;
                    }
                    Some(Err(_)) | None => break,
                };
                shared.with_state(|state| state.endpoint.engine().handle_ws_frame(Instant::now(), conn, frame));
            }
            command = inbox.next() => match command {
                Some(WsCommand::Send(batch)) => {
                    if !frames::write(&mut sink, batch).await {
                        break;
                    }
                    shared.with_state(|state| state.endpoint.engine().handle_ws_drained(Instant::now(), conn));
                }
                Some(WsCommand::Close(code)) => {
                    // Complete the closing handshake: the peer answers our close frame, and
                    // handles the frames sent before it, before the connection ends.
                    if sink.close(Some(close_frame(code))).await.is_ok() {
                        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
                        crate::runtime::until::<R, _>(Instant::now() + CLOSE_HANDSHAKE, drain).await;
                    }
                    break;
                }
                None => break,
            },
        }
    }
    shared.with_state(|state| {
        state.conns.remove(&conn);
        state.endpoint.engine().handle_ws_closed(Instant::now(), conn);
    });
}

fn close_frame(code: u16) -> CloseFrame {
    CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::default() }
}
