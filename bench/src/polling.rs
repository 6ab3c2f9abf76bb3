//! A minimal long-polling Socket.IO client over one kept-alive HTTP/1.1 connection, for the
//! idle-memory scenario: handshake, namespace connect, then one GET left waiting.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connected polling client whose next GET is waiting at the server.
pub struct Idle {
    _stream: TcpStream,
}

fn broken(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Opens a polling session, connects the main namespace, and leaves a GET waiting.
pub async fn connect(addr: SocketAddr) -> io::Result<Idle> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(1024);
    let open = exchange(&mut stream, &mut buf, addr, "GET", "", None).await?;
    let text = String::from_utf8_lossy(&open);
    let sid = text
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| broken("no sid in the handshake"))?
        .to_owned();
    let query = format!("&sid={sid}");
    exchange(&mut stream, &mut buf, addr, "POST", &query, Some(b"40")).await?;
    let connected = exchange(&mut stream, &mut buf, addr, "GET", &query, None).await?;
    if !connected.windows(2).any(|w| w == b"40") {
        return Err(broken("the namespace did not answer"));
    }
    stream.write_all(request(addr, "GET", &query, None).as_slice()).await?;
    Ok(Idle { _stream: stream })
}

fn request(addr: SocketAddr, method: &str, query: &str, body: Option<&[u8]>) -> Vec<u8> {
    let body = body.unwrap_or_default();
    let mut request = format!(
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Sends one request and reads its response body (by Content-Length or chunked).
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    addr: SocketAddr,
    method: &str,
    query: &str,
    body: Option<&[u8]>,
) -> io::Result<Vec<u8>> {
    stream.write_all(&request(addr, method, query, body)).await?;
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        fill(stream, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return Err(broken("the server refused a poll"));
    }
    buf.advance(head_end);
    let header = |name: &str| {
        head.lines().find_map(|line| line.strip_prefix(name).map(|value| value.trim().to_owned()))
    };
    if let Some(length) = header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < length {
            fill(stream, buf).await?;
        }
        return Ok(buf.split_to(length).to_vec());
    }
    if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
                    break end;
                }
                fill(stream, buf).await?;
            };
            let size = usize::from_str_radix(String::from_utf8_lossy(&buf[..line_end]).trim(), 16)
                .map_err(|_| broken("bad chunk size"))?;
            buf.advance(line_end + 2);
            while buf.len() < size + 2 {
                fill(stream, buf).await?;
            }
            body.extend_from_slice(&buf[..size]);
            buf.advance(size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
    Err(broken("a response without length"))
}

async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<()> {
    if stream.read_buf(buf).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
