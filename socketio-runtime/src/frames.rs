//! Engine.IO frames to and from tungstenite messages, for the server's and the client's
//! WebSockets alike.

use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use bytes::Bytes;
use engineio_proto::{ByteString, Frame};

/// How much tungstenite reads at once. It zero-fills this much before every read and keeps
/// it resident, so its default (128 KiB) costs a 128 KiB memset per message and 128 KiB per
/// idle connection; larger messages still arrive, in more reads.
pub(crate) const READ_BUFFER: usize = 2048;

/// What a received WebSocket message means to Engine.IO.
pub(crate) enum Received {
    /// An Engine.IO frame.
    Frame(Frame),
    /// A ping, pong or raw frame: nothing to do.
    Control,
    /// A close frame, or text that is not UTF-8: the connection ends.
    End,
}

/// Reads a received message.
pub(crate) fn received(message: Message) -> Received {
    match message {
        Message::Text(text) => match ByteString::try_from(Bytes::from(text)) {
            Ok(text) => Received::Frame(Frame::Text(text)),
            Err(_) => Received::End,
        },
        Message::Binary(bytes) => Received::Frame(Frame::Binary(bytes)),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Received::Control,
        Message::Close(_) => Received::End,
    }
}

/// The message that carries `frame`.
pub(crate) fn message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Text(Utf8Bytes::try_from(text.into_bytes()).unwrap_or_default()),
        Frame::Binary(bytes) => Message::Binary(bytes),
    }
}

/// Writes `frames` in order and flushes; `false` if the connection failed.
pub(crate) async fn write<S>(sink: &mut S, frames: Vec<Frame>) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    use futures_util::SinkExt;
    for frame in frames {
        if sink.feed(message(frame)).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}
