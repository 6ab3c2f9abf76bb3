//! One WebSocket connection, for the server's sessions and the client's alike: Engine.IO
//! frames to and from tungstenite messages, and the loop that relays them both ways.

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use async_tungstenite::{WebSocketSender, WebSocketStream};
use bytes::Bytes;
use engineio_proto::{ByteString, Frame, deadline_after};
use futures_channel::{mpsc, oneshot};
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::{BoxFuture, Fuse};
use futures_util::{FutureExt, SinkExt, StreamExt, select_biased};

use crate::Runtime;
use crate::runtime::until;

/// How much tungstenite reads at once. It zero-fills this much before every read and keeps
/// it resident, so its default (128 KiB) costs a 128 KiB memset per message and 128 KiB per
/// idle connection; larger messages still arrive, in more reads.
pub(crate) const READ_BUFFER: usize = 2048;

/// How long to wait for the peer's answer to our close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

/// tungstenite's settings for a connection that accepts messages up to `max_message` bytes.
pub(crate) fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// What the state machine asks of a connection.
pub(crate) enum Command {
    /// Write these frames, then report [`Report::Drained`].
    Send(Vec<Frame>),
    /// Close with this code (none: a close frame without one), then end.
    Close(Option<u16>),
}

/// What a connection tells the state machine.
pub(crate) enum Report {
    /// A message arrived.
    Frame(Frame),
    /// A message over the size limit arrived; nothing more is read.
    TooLarge,
    /// The last [`Command::Send`] batch is written.
    Drained,
}

/// What the connection does after a report.
pub(crate) enum Flow {
    /// Goes on.
    Go,
    /// Reads nothing more until this resolves (the application holds too much of what
    /// this peer sent); writes go on.
    Wait(oneshot::Receiver<()>),
    /// Ends.
    Stop,
}

type Sink<S> = WebSocketSender<S>;

/// What the reading side of [`pump`] got.
enum Read {
    Message(Option<Result<Message, WsError>>),
    /// A pause ended.
    Resumed,
}

/// Relays `socket` both ways until it ends, the state machine closes it, or `report`
/// says [`Flow::Stop`]. Messages keep being read while a batch is written, so a peer's
/// pongs are seen during a long write; a batch that makes no progress within
/// `write_timeout` ends the connection. Reading pauses while `report` says
/// [`Flow::Wait`].
pub(crate) async fn pump<R, S>(
    socket: WebSocketStream<S>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    write_timeout: Duration,
    mut report: impl FnMut(Report) -> Flow,
) where
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = socket.split();
    let mut idle_sink = Some(sink);
    let mut writing: Fuse<BoxFuture<'static, Option<Sink<S>>>> = Fuse::terminated();
    let mut reading = true;
    let mut paused: Option<oneshot::Receiver<()>> = None;
    let mut turns: u32 = 0;
    loop {
        let read = async {
            if let Some(readable) = paused.as_mut() {
                // Resolves when readable, or when the state machine is gone.
                let _ = readable.await;
                return Read::Resumed;
            }
            match reading {
                true => Read::Message(stream.next().await),
                false => std::future::pending().await,
            }
        };
        let command = async {
            match idle_sink.is_some() {
                true => inbox.next().await,
                false => std::future::pending().await,
            }
        };
        select_biased! {
            written = writing => match written {
                Some(sink) => {
                    idle_sink = Some(sink);
                    if let Flow::Stop = report(Report::Drained) {
                        break;
                    }
                }
                None => break,
            },
            command = command.fuse() => match (command, idle_sink.take()) {
                (Some(Command::Send(batch)), Some(sink)) => {
                    writing = write_within::<R, S>(sink, batch, write_timeout).boxed().fuse();
                }
                (Some(Command::Close(code)), Some(mut sink)) => {
                    // Complete the closing handshake: the peer answers our close frame, and
                    // handles the frames sent before it, before the connection ends.
                    let handshake = async {
                        let frame = code.map(|code| CloseFrame { code: CloseCode::from(code), reason: Utf8Bytes::default() });
                        if sink.close(frame).await.is_ok() {
                            while let Some(Ok(_)) = stream.next().await {}
                        }
                    };
                    // Boxed: once per connection, and every connection's task would
                    // otherwise be sized for it.
                    Box::pin(until::<R, _>(Instant::now() + CLOSE_HANDSHAKE, handshake)).await;
                    break;
                }
                _ => break,
            },
            // Last: a peer whose frames are always there must not starve the write (and
            // its timeout) or the state machine's commands.
            read = read.fuse() => match read {
                Read::Resumed => paused = None,
                Read::Message(Some(Ok(message))) => match received(message) {
                    Received::Frame(frame) => match report(Report::Frame(frame)) {
                        Flow::Go => {}
                        Flow::Wait(readable) => paused = Some(readable),
                        Flow::Stop => break,
                    },
                    Received::Control => {}
                    Received::End => break,
                },
                Read::Message(Some(Err(WsError::Capacity(error)))) => {
                    tracing::debug!(%error, "websocket message over the size limit");
                    reading = false;
                    if let Flow::Stop = report(Report::TooLarge) {
                        break;
                    }
                }
                Read::Message(Some(Err(_)) | None) => break,
            },
        }
        turns = turns.wrapping_add(1);
        if turns % FAIR_SHARE == 0 {
            // A peer that floods does not keep the executor's thread either.
            yield_now().await;
        }
    }
}

/// How many turns a connection's loop takes before it lets the executor run others.
const FAIR_SHARE: u32 = 64;

/// Returns after one turn of the executor.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

/// Writes `frames` and gives the sink back, or `None` when the connection failed or the
/// write did not finish within `timeout`.
async fn write_within<R: Runtime, S>(
    mut sink: Sink<S>,
    frames: Vec<Frame>,
    timeout: Duration,
) -> Option<Sink<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let written = until::<R, _>(deadline_after(Instant::now(), timeout), write(&mut sink, frames)).await;
    (written == Some(true)).then_some(sink)
}

/// What a received WebSocket message means to Engine.IO.
enum Received {
    /// An Engine.IO frame.
    Frame(Frame),
    /// A ping, pong or raw frame: nothing to do.
    Control,
    /// A close frame, or text that is not UTF-8: the connection ends.
    End,
}

/// Reads a received message.
fn received(message: Message) -> Received {
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
fn message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Text(Utf8Bytes::try_from(text.into_bytes()).unwrap_or_default()),
        Frame::Binary(bytes) => Message::Binary(bytes),
    }
}

/// Writes `frames` in order and flushes; `false` if the connection failed.
async fn write<S>(sink: &mut S, frames: Vec<Frame>) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    for frame in frames {
        if sink.feed(message(frame)).await.is_err() {
            return false;
        }
    }
    sink.flush().await.is_ok()
}
