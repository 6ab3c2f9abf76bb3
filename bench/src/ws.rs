//! A minimal Socket.IO-over-WebSocket client: the upgrade request, frames read straight out
//! of one buffer, Engine.IO pings answered, and nothing else. Cheaper per message than any
//! full client, so the servers are what the benchmark measures.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

/// The reading half: frames come out of `buf`, refilled from the socket.
pub struct Reader {
    half: OwnedReadHalf,
    buf: BytesMut,
}

/// The writing half, shared by a connection's tasks.
#[derive(Clone)]
pub struct Writer(Arc<Mutex<OwnedWriteHalf>>);

fn broken(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Opens a WebSocket to the Engine.IO endpoint and reads the open packet.
pub async fn open(addr: SocketAddr) -> io::Result<(Reader, Writer)> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if !buf.starts_with(b"HTTP/1.1 101") {
                return Err(broken("the upgrade was refused"));
            }
            buf.advance(end + 4);
            break;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    let (half, write) = stream.into_split();
    let mut reader = Reader { half, buf };
    let writer = Writer(Arc::new(Mutex::new(write)));
    let open = reader.next().await?;
    if !open.starts_with(b"0{") {
        return Err(broken("no open packet"));
    }
    Ok((reader, writer))
}

/// Opens a WebSocket and connects the main namespace (`40`, answered by `40{"sid":...}`).
pub async fn connect(addr: SocketAddr) -> io::Result<(Reader, Writer)> {
    let (mut reader, writer) = open(addr).await?;
    writer.send(b"40").await?;
    loop {
        let message = reader.next_message(&writer).await?;
        if message.starts_with(b"40") {
            return Ok((reader, writer));
        }
        if message.starts_with(b"44") {
            return Err(broken("the namespace refused us"));
        }
    }
}

impl Reader {
    /// The next text or binary frame's payload. Cancel-safe: a partly read frame stays in
    /// the buffer.
    pub async fn next(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(frame);
            }
            if self.half.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The next message that is not an Engine.IO ping (pings are answered with a pong).
    pub async fn next_message(&mut self, writer: &Writer) -> io::Result<Bytes> {
        loop {
            let message = self.next().await?;
            if &message[..] == b"2" {
                writer.send(b"3").await?;
                continue;
            }
            return Ok(message);
        }
    }

    /// A whole data frame from the buffer, skipping control frames.
    fn parse(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            let Some(&[first, second]) = self.buf.get(..2) else {
                return Ok(None);
            };
            if first & 0x80 == 0 {
                return Err(broken("fragmented frame"));
            }
            let (len, header) = match second & 0x7f {
                126 => match self.buf.get(2..4) {
                    Some(b) => (usize::from(u16::from_be_bytes([b[0], b[1]])), 4),
                    None => return Ok(None),
                },
                127 => match self.buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                    Some(b) => {
                        (usize::try_from(u64::from_be_bytes(b)).map_err(|_| broken("huge frame"))?, 10)
                    }
                    None => return Ok(None),
                },
                short => (usize::from(short), 2),
            };
            if self.buf.len() < header + len {
                self.buf.reserve(header + len - self.buf.len());
                return Ok(None);
            }
            self.buf.advance(header);
            let payload = self.buf.split_to(len).freeze();
            match first & 0x0f {
                1 | 2 => return Ok(Some(payload)),
                8 => return Err(io::ErrorKind::ConnectionAborted.into()),
                _ => continue,
            }
        }
    }
}

impl Writer {
    /// Sends one text frame (masked with a zero key, as a client must mask).
    pub async fn send(&self, text: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(text.len() + 14);
        frame.push(0x81);
        match u16::try_from(text.len()) {
            Ok(len) if len < 126 => frame.push(0x80 | len.to_be_bytes()[1]),
            Ok(len) => {
                frame.push(0x80 | 126);
                frame.extend(len.to_be_bytes());
            }
            Err(_) => {
                frame.push(0x80 | 127);
                frame.extend((text.len() as u64).to_be_bytes());
            }
        }
        frame.extend([0; 4]);
        frame.extend(text);
        self.0.lock().await.write_all(&frame).await
    }
}
