//! Minimal raw HTTP/1.1 and WebSocket clients over std sockets, for sending what no
//! well-behaved client would.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connecting");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Sends raw bytes as a request on a new connection and reads the response until the
/// server closes the connection.
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut stream = connect(addr);
    // The server may answer and close before reading all of it: ignore write errors.
    let _ = stream.write_all(request);
    read_response(&mut stream)
}

/// Sends raw bytes as a request on a new connection, as an HTTP client does: a failed
/// write (the server closed while the request was still going out) is an error, as it is
/// for Node's `http` client, whatever the server answered.
pub fn strict_request(addr: SocketAddr, request: &[u8]) -> std::io::Result<HttpResponse> {
    let mut stream = connect(addr);
    stream.write_all(request)?;
    Ok(read_response(&mut stream))
}

/// One request with `Connection: close`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    raw_request(addr, &request_bytes(addr, method, path, headers, body))
}

/// A request sent whole, its response not read yet.
#[derive(Debug)]
pub struct SentRequest(TcpStream);

impl SentRequest {
    /// Reads the response.
    pub fn response(mut self) -> HttpResponse {
        read_response(&mut self.0)
    }
}

/// [`request`] sent, and its response left to read.
pub fn send_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> SentRequest {
    let mut stream = connect(addr);
    let _ = stream.write_all(&request_bytes(addr, method, path, headers, body));
    SentRequest(stream)
}

fn request_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Reads a whole response (until EOF or a complete `Content-Length` body).
fn read_response(stream: &mut TcpStream) -> HttpResponse {
    read_response_after(stream, Vec::new())
}

/// [`read_response`] when `data` was already read.
fn read_response_after(stream: &mut TcpStream, mut data: Vec<u8>) -> HttpResponse {
    let mut buf = [0u8; 65536];
    loop {
        if let Some(response) = parse(&data) {
            return response;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    parse(&data).unwrap_or_else(|| panic!("no complete response in {:?}", String::from_utf8_lossy(&data)))
}

fn parse(data: &[u8]) -> Option<HttpResponse> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&data[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = &data[end + 4..];
    let length =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
    match length {
        Some(length) if body.len() >= length => {
            Some(HttpResponse { status, headers, body: body[..length].to_vec() })
        }
        Some(_) => None,
        None if status == 101 || status == 204 => Some(HttpResponse { status, headers, body: Vec::new() }),
        None => None,
    }
}

/// A raw WebSocket client connection.
#[derive(Debug)]
pub struct RawWs {
    stream: TcpStream,
}

/// A frame read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsRead {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame, with its code.
    Close(Option<u16>),
    /// The connection ended without a close frame.
    Eof,
}

/// One client frame as it goes on the wire: this first byte (FIN, RSV bits, opcode), then
/// `payload`, masked. Repeat it to write a flood in one go.
pub fn masked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first];
    let len = payload.len();
    if let Ok(short @ 0..126) = u8::try_from(len) {
        frame.push(0x80 | short);
    } else if let Ok(medium) = u16::try_from(len) {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&medium.to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x12, 0x34, 0x56, 0x78];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

impl RawWs {
    /// Performs the WebSocket handshake on `path`; returns the connection, or the refusal.
    pub fn connect(addr: SocketAddr, path: &str) -> Result<RawWs, HttpResponse> {
        Self::connect_with(addr, path, &[])
    }

    /// [`RawWs::connect`] with extra request headers.
    pub fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<RawWs, HttpResponse> {
        let mut stream = connect(addr);
        let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        stream.write_all(request.as_bytes()).expect("writing the handshake");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        let response = read_response_after(&mut stream, head);
        if response.status == 101 { Ok(RawWs { stream }) } else { Err(response) }
    }

    /// Sends a text frame; `false` once the connection fails.
    pub fn try_send_text(&mut self, text: &str) -> bool {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let Ok(len) = u8::try_from(text.len()).map(|len| len.min(125)) else { return false };
        let mut frame = vec![0x81, 0x80 | len];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().take(125).enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).is_ok()
    }

    /// Writes raw bytes.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Writes one masked frame with this first byte (FIN, RSV bits, opcode).
    pub fn send_frame(&mut self, first: u8, payload: &[u8]) {
        self.write_raw(&masked_frame(first, payload));
    }

    /// Sends a text frame.
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(0x81, text.as_bytes());
    }

    /// Reads the next data or close frame (answering nothing; pings are skipped).
    pub fn read(&mut self) -> WsRead {
        loop {
            let mut head = [0u8; 2];
            if self.stream.read_exact(&mut head).is_err() {
                return WsRead::Eof;
            }
            let opcode = head[0] & 0x0f;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                if self.stream.read_exact(&mut ext).is_err() {
                    return WsRead::Eof;
                }
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                if self.stream.read_exact(&mut ext).is_err() {
                    return WsRead::Eof;
                }
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
            if self.stream.read_exact(&mut payload).is_err() {
                return WsRead::Eof;
            }
            match opcode {
                1 => return WsRead::Text(String::from_utf8_lossy(&payload).into_owned()),
                2 => return WsRead::Binary(payload),
                8 => {
                    return WsRead::Close(payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])));
                }
                _ => continue,
            }
        }
    }

    /// Reads until a text frame that is not a ping (`2`), answering pings with pongs.
    pub fn read_text(&mut self) -> WsRead {
        loop {
            match self.read() {
                WsRead::Text(text) if text == "2" => self.send_text("3"),
                other => return other,
            }
        }
    }

    /// Stops writing (half-close).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// A WebSocket session kept alive by a thread that answers pings, and that echoes on request.
#[derive(Debug)]
pub struct KeepAlive {
    requests: std::sync::mpsc::Sender<String>,
    echoes: std::sync::mpsc::Receiver<WsRead>,
}

impl RawWs {
    /// Hands the connection to a thread that answers every ping.
    pub fn keep_alive(mut self) -> KeepAlive {
        let (requests, inbox) = std::sync::mpsc::channel::<String>();
        let (reply, echoes) = std::sync::mpsc::channel();
        let _ = self.stream.set_read_timeout(Some(Duration::from_millis(20)));
        std::thread::spawn(move || {
            loop {
                match inbox.try_recv() {
                    Ok(text) => self.send_text(&text),
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                    Err(std::sync::mpsc::TryRecvError::Empty) => {}
                }
                let mut probe = [0u8; 1];
                match self.stream.peek(&mut probe) {
                    Ok(0) => {
                        let _ = reply.send(WsRead::Eof);
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => continue,
                }
                let _ = self.stream.set_read_timeout(Some(Duration::from_secs(10)));
                let frame = self.read();
                let _ = self.stream.set_read_timeout(Some(Duration::from_millis(20)));
                match frame {
                    WsRead::Text(text) if text == "2" => self.send_text("3"),
                    other => {
                        let closed = matches!(other, WsRead::Eof | WsRead::Close(_));
                        let _ = reply.send(other);
                        if closed {
                            return;
                        }
                    }
                }
            }
        });
        KeepAlive { requests, echoes }
    }
}

impl KeepAlive {
    /// Sends `4<tag>` and returns what came back (the echo, on a healthy session).
    pub fn echo(&self, tag: &str) -> WsRead {
        let _ = self.requests.send(format!("4{tag}"));
        self.echoes.recv_timeout(Duration::from_secs(10)).unwrap_or(WsRead::Eof)
    }
}
