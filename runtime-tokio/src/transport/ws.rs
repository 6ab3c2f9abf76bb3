//! One task per WebSocket connection: reads frames into the state machine, writes the
//! batches it hands out.

use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::TokioAdapter;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Utf8Bytes};
use std::sync::Arc;

use engineio_proto::Frame;
use engineio_proto::server::{Endpoint, WsTicket};
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use super::{Shared, Traced};
use crate::frames::{self, Received};

/// How long to wait for the peer's answer to our close frame.
const CLOSE_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the state machine asks of a connection task.
pub(super) enum WsCommand {
    /// Write these frames, then report the batch drained.
    Send(Vec<Frame>),
    /// Close with this code.
    Close(u16),
}

/// Completes the upgrade and runs the connection until it closes.
pub(super) async fn run<D>(
    shared: Arc<Shared<D>>,
    on_upgrade: OnUpgrade,
    ticket: WsTicket,
    max_payload: usize,
) where
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
    let config =
        WebSocketConfig::default().max_message_size(Some(max_payload)).max_frame_size(Some(max_payload));
    let io = TokioAdapter::new(TokioIo::new(upgraded));
    let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let (commands, mut inbox) = mpsc::unbounded_channel();
    let conn = shared.with_state(|state| {
        let conn = state.endpoint.engine().ws_opened(Instant::now(), ticket);
        state.conns.insert(conn, commands);
        conn
    });
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
                    Some(Err(WsError::Capacity(error))) => {
                        tracing::debug!(%error, "websocket message over max payload");
                        let _ = sink.close(Some(close_frame(1009))).await;
                        break;
                    }
                    Some(Err(_)) | None => break,
                };
                shared.with_state(|state| state.endpoint.engine().handle_ws_frame(Instant::now(), conn, frame));
            }
            command = inbox.recv() => match command {
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
                        let _ = tokio::time::timeout(CLOSE_HANDSHAKE, drain).await;
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
