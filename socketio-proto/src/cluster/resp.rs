//! RESP2, the Redis protocol, without IO: commands out, replies in.
//!
//! A command is an array of bulk strings ([`command`]); a reply is a [`Reply`], read from
//! whatever bytes arrived so far by a [`ReplyReader`]. On a subscribed connection the
//! messages are replies too: `["message", channel, payload]`,
//! `["pmessage", pattern, channel, payload]`, `["smessage", channel, payload]`
//! ([`PubSubMessage::from_reply`]).
//!
//! ```
//! use socketio_proto::cluster::resp::{command, Reply, ReplyReader};
//!
//! assert_eq!(command(&[b"PUBLISH", b"ch", b"hi"]), b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\nhi\r\n");
//!
//! let mut reader = ReplyReader::default();
//! reader.feed(b":2\r\n*1\r\n$2\r");
//! assert_eq!(reader.next_reply()?, Some(Reply::Integer(2)));
//! assert_eq!(reader.next_reply()?, None); // the rest is incomplete
//! reader.feed(b"\nok\r\n");
//! assert_eq!(reader.next_reply()?, Some(Reply::Array(vec![Reply::Bulk(b"ok"[..].into())])));
//! # Ok::<(), socketio_proto::cluster::resp::RespError>(())
//! ```

use bytes::{Bytes, BytesMut};

/// The command `args` (`["PUBLISH", channel, message]`), encoded.
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|arg| arg.len() + 16).sum::<usize>());
    command_into(&mut out, args);
    out
}

/// Appends the command `args` to `out`.
pub fn command_into(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`: the command failed.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// `$-1` or `*-1`.
    Nil,
    /// An array.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply's bytes, when it is a string of either kind.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(bytes) => Some(bytes),
            Reply::Simple(text) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// The reply in its encoded form (what a server would send).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => out.extend_from_slice(format!("+{text}\r\n").as_bytes()),
            Reply::Error(text) => out.extend_from_slice(format!("-{text}\r\n").as_bytes()),
            Reply::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(bytes) => {
                out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode_into(out);
                }
            }
        }
    }
}

/// A message on a subscribed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubMessage {
    /// The channel it was published on.
    pub channel: Bytes,
    /// What was published.
    pub payload: Bytes,
}

impl PubSubMessage {
    /// The message a subscribed connection's reply carries; `None` for the other replies
    /// (subscription confirmations).
    pub fn from_reply(reply: Reply) -> Option<Self> {
        let Reply::Array(items) = reply else {
            return None;
        };
        let mut items = items.into_iter();
        let kind = items.next()?;
        let (channel, payload) = match kind.as_bytes()? {
            b"message" | b"smessage" => (items.next()?, items.next()?),
            b"pmessage" => (items.nth(1)?, items.next()?),
            _ => return None,
        };
        match (channel, payload) {
            (Reply::Bulk(channel), Reply::Bulk(payload)) => Some(PubSubMessage { channel, payload }),
            _ => None,
        }
    }
}

/// One stream entry: its id and its fields, in order.
pub type StreamEntry = (String, Vec<(Bytes, Bytes)>);

/// The entries of an `XREAD` reply (`[[stream, [[id, [field, value, ...]], ...]], ...]`,
/// the entries of every stream in order) or of an `XRANGE` reply (`[[id, [...]], ...]`).
/// Anything else gives none; a malformed entry is skipped.
pub fn stream_entries(reply: Reply) -> Vec<StreamEntry> {
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for item in items {
        let Reply::Array(parts) = item else { continue };
        let mut parts = parts.into_iter();
        match (parts.next(), parts.next()) {
            // XREAD: a stream's name and its entries.
            (Some(Reply::Bulk(_)), Some(Reply::Array(stream)))
                if stream.iter().all(|e| matches!(e, Reply::Array(_))) =>
            {
                entries.extend(stream.into_iter().filter_map(entry));
            }
            (Some(id), Some(fields)) => entries.extend(entry(Reply::Array(vec![id, fields]))),
            _ => {}
        }
    }
    entries
}

/// `[id, [field, value, ...]]`.
fn entry(reply: Reply) -> Option<StreamEntry> {
    let Reply::Array(parts) = reply else { return None };
    let mut parts = parts.into_iter();
    let (Some(Reply::Bulk(id)), Some(Reply::Array(values))) = (parts.next(), parts.next()) else {
        return None;
    };
    let mut fields = Vec::new();
    let mut values = values.into_iter();
    while let (Some(Reply::Bulk(key)), Some(Reply::Bulk(value))) = (values.next(), values.next()) {
        fields.push((key, value));
    }
    Some((String::from_utf8(id.to_vec()).ok()?, fields))
}

/// Why the bytes from Redis cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    /// A byte that starts no reply type, or a malformed length or integer.
    #[error("malformed reply")]
    Malformed,
    /// A reply longer or more nested than the reader's limits.
    #[error("reply over the limits")]
    TooLarge,
}

/// Most nested arrays in a reply.
const MAX_DEPTH: usize = 16;

/// Reads replies out of the bytes of a connection, as they arrive.
///
/// A reply that has not fully arrived is checked once: each read goes on from where the
/// last one stopped, so a large reply arriving in many small reads costs its length, not
/// its length times the number of reads.
#[derive(Debug)]
pub struct ReplyReader {
    buffer: BytesMut,
    max_bulk: usize,
    progress: Progress,
}

/// How much of the reply at the start of the buffer was checked: where its next element
/// starts, and how many elements each array it is inside still has to come.
#[derive(Debug, Default)]
struct Progress {
    at: usize,
    open: Vec<usize>,
}

impl Default for ReplyReader {
    /// A reader that takes bulk strings up to 512 MB, Redis's own limit.
    fn default() -> Self {
        ReplyReader::new(512 << 20)
    }
}

impl ReplyReader {
    /// A reader refusing bulk strings and arrays longer than `max_bulk`.
    pub fn new(max_bulk: usize) -> Self {
        ReplyReader { buffer: BytesMut::new(), max_bulk, progress: Progress::default() }
    }

    /// Adds bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// How many bytes wait for the rest of their reply.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete reply, `None` until its last byte came. After an error the
    /// connection is unusable.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, RespError> {
        let Some(length) = self.complete_length()? else {
            return Ok(None);
        };
        let frozen = self.buffer.split_to(length).freeze();
        let mut cursor = Cursor { input: &frozen, at: 0, max_bulk: self.max_bulk };
        let shape = cursor.reply(0)?.ok_or(RespError::Malformed)?;
        Ok(Some(shape.build(&frozen)))
    }

    /// The length of the reply at the start of the buffer once it is complete, checking on
    /// from where the last call stopped.
    fn complete_length(&mut self) -> Result<Option<usize>, RespError> {
        let progress = &mut self.progress;
        let mut cursor = Cursor { input: &self.buffer, at: progress.at, max_bulk: self.max_bulk };
        loop {
            if progress.open.len() > MAX_DEPTH {
                return Err(RespError::TooLarge);
            }
            let Some(head) = cursor.head()? else {
                return Ok(None);
            };
            progress.at = cursor.at;
            match head {
                Head::Array(length) if length > 0 => progress.open.push(length),
                _ => {
                    // One more element of the innermost open array, which may complete it
                    // and so on outwards.
                    while let Some(remaining) = progress.open.last_mut() {
                        *remaining -= 1;
                        if *remaining > 0 {
                            break;
                        }
                        progress.open.pop();
                    }
                }
            }
            if progress.open.is_empty() {
                return Ok(Some(std::mem::take(progress).at));
            }
        }
    }
}

/// A parsed reply whose bulk strings are still ranges of the input.
enum Shape {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(usize, usize),
    Nil,
    Array(Vec<Shape>),
}

impl Shape {
    fn build(self, input: &Bytes) -> Reply {
        match self {
            Shape::Simple(text) => Reply::Simple(text),
            Shape::Error(text) => Reply::Error(text),
            Shape::Integer(n) => Reply::Integer(n),
            Shape::Nil => Reply::Nil,
            Shape::Bulk(start, end) => Reply::Bulk(input.slice(start..end)),
            Shape::Array(items) => Reply::Array(items.into_iter().map(|item| item.build(input)).collect()),
        }
    }
}

struct Cursor<'a> {
    input: &'a [u8],
    at: usize,
    max_bulk: usize,
}

impl<'a> Cursor<'a> {
    /// One line without its CRLF; `None` when incomplete.
    fn line(&mut self) -> Result<Option<&'a [u8]>, RespError> {
        let input = self.input;
        let rest = input.get(self.at..).unwrap_or_default();
        let Some(end) = rest.windows(2).position(|pair| pair == b"\r\n") else {
            // A line (a length, a status) is short; a long one without an end is hostile.
            return if rest.len() > 64 << 10 { Err(RespError::TooLarge) } else { Ok(None) };
        };
        self.at += end + 2;
        Ok(rest.get(..end))
    }

    fn integer(line: &[u8]) -> Result<i64, RespError> {
        std::str::from_utf8(line).ok().and_then(|text| text.parse().ok()).ok_or(RespError::Malformed)
    }

    /// A length: `-1` is nil, others up to the bulk limit.
    fn length(&self, line: &[u8]) -> Result<Option<usize>, RespError> {
        match Self::integer(line)? {
            -1 => Ok(None),
            n => {
                let n = usize::try_from(n).map_err(|_| RespError::Malformed)?;
                if n > self.max_bulk { Err(RespError::TooLarge) } else { Ok(Some(n)) }
            }
        }
    }

    /// The next element's header, and a bulk string's bytes; `None` (and nothing
    /// consumed) when incomplete.
    fn head(&mut self) -> Result<Option<Head<'a>>, RespError> {
        let start = self.at;
        let head = self.complete_head();
        if !matches!(head, Ok(Some(_))) {
            self.at = start;
        }
        head
    }

    fn complete_head(&mut self) -> Result<Option<Head<'a>>, RespError> {
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        let (&kind, rest) = line.split_first().ok_or(RespError::Malformed)?;
        Ok(Some(match kind {
            b'+' => Head::Simple(rest),
            b'-' => Head::Error(rest),
            b':' => Head::Integer(Self::integer(rest)?),
            b'$' => {
                let Some(length) = self.length(rest)? else {
                    return Ok(Some(Head::Nil));
                };
                let start = self.at;
                let end = start + length;
                if self.input.len() < end + 2 {
                    return Ok(None);
                }
                if self.input.get(end..end + 2) != Some(b"\r\n") {
                    return Err(RespError::Malformed);
                }
                self.at = end + 2;
                Head::Bulk(start, end)
            }
            b'*' => match self.length(rest)? {
                Some(length) => Head::Array(length),
                None => Head::Nil,
            },
            _ => return Err(RespError::Malformed),
        }))
    }

    fn reply(&mut self, depth: usize) -> Result<Option<Shape>, RespError> {
        if depth > MAX_DEPTH {
            return Err(RespError::TooLarge);
        }
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Ok(Some(match head {
            Head::Simple(line) => Shape::Simple(text(line)),
            Head::Error(line) => Shape::Error(text(line)),
            Head::Integer(n) => Shape::Integer(n),
            Head::Bulk(start, end) => Shape::Bulk(start, end),
            Head::Nil => Shape::Nil,
            Head::Array(length) => {
                // Every element takes at least 3 bytes: no allocation beyond what arrived.
                let mut items = Vec::with_capacity(length.min(self.input.len() / 3));
                for _ in 0..length {
                    match self.reply(depth + 1)? {
                        Some(item) => items.push(item),
                        None => return Ok(None),
                    }
                }
                Shape::Array(items)
            }
        }))
    }
}

/// An element's header as it arrived: a line's text, a bulk string's range, an array's
/// length.
enum Head<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    Bulk(usize, usize),
    Nil,
    Array(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_entries_of_xread_and_xrange() {
        let bulk = |s: &str| Reply::Bulk(Bytes::from(s.to_owned()));
        let entry =
            |id: &str, value: &str| Reply::Array(vec![bulk(id), Reply::Array(vec![bulk("k"), bulk(value)])]);
        let field = |value: &str| vec![(Bytes::from("k"), Bytes::from(value.to_owned()))];
        let xread = Reply::Array(vec![Reply::Array(vec![
            bulk("socket.io"),
            Reply::Array(vec![entry("1-0", "a"), entry("1-1", "b")]),
        ])]);
        assert_eq!(stream_entries(xread), [("1-0".to_owned(), field("a")), ("1-1".to_owned(), field("b"))]);
        let xrange = Reply::Array(vec![entry("2-0", "c")]);
        assert_eq!(stream_entries(xrange), [("2-0".to_owned(), field("c"))]);
        assert!(stream_entries(Reply::Nil).is_empty(), "an XREAD that timed out");
        let broken =
            Reply::Array(vec![Reply::Array(vec![bulk("1-0"), bulk("not fields")]), Reply::Integer(3)]);
        assert!(stream_entries(broken).is_empty());
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Reply>, RespError> {
        let mut reader = ReplyReader::default();
        reader.feed(bytes);
        let mut replies = Vec::new();
        while let Some(reply) = reader.next_reply()? {
            replies.push(reply);
        }
        Ok(replies)
    }

    #[test]
    fn reads_every_reply_type() {
        let replies =
            read_all(b"+OK\r\n-ERR no\r\n:-3\r\n$-1\r\n*-1\r\n$0\r\n\r\n*2\r\n$1\r\na\r\n*0\r\n").unwrap();
        assert_eq!(
            replies,
            vec![
                Reply::Simple("OK".into()),
                Reply::Error("ERR no".into()),
                Reply::Integer(-3),
                Reply::Nil,
                Reply::Nil,
                Reply::Bulk(Bytes::new()),
                Reply::Array(vec![Reply::Bulk("a".into()), Reply::Array(vec![])]),
            ]
        );
    }

    #[test]
    fn reads_pubsub_messages() {
        let message = |items: &[&str]| {
            Reply::Array(
                items.iter().map(|item| Reply::Bulk(Bytes::copy_from_slice(item.as_bytes()))).collect(),
            )
        };
        let expected = Some(PubSubMessage { channel: "c".into(), payload: "p".into() });
        assert_eq!(PubSubMessage::from_reply(message(&["message", "c", "p"])), expected);
        assert_eq!(PubSubMessage::from_reply(message(&["smessage", "c", "p"])), expected);
        assert_eq!(PubSubMessage::from_reply(message(&["pmessage", "c*", "c", "p"])), expected);
        let confirmation =
            Reply::Array(vec![Reply::Bulk("subscribe".into()), Reply::Bulk("c".into()), Reply::Integer(1)]);
        assert_eq!(PubSubMessage::from_reply(confirmation), None);
    }

    #[test]
    fn a_partial_reply_is_checked_once() {
        let mut reader = ReplyReader::default();
        reader.feed(b"*3\r\n$1\r\na\r\n$5\r\nbc");
        assert_eq!(reader.next_reply(), Ok(None));
        assert_eq!(
            (reader.progress.at, reader.progress.open.as_slice()),
            (11, &[2][..]),
            "the next read goes on at the incomplete bulk string"
        );
        reader.feed(b"def\r\n*1\r\n:7");
        assert_eq!(reader.next_reply(), Ok(None));
        assert_eq!((reader.progress.at, reader.progress.open.as_slice()), (26, &[1, 1][..]));
        reader.feed(b"\r\n+next\r\n");
        let bulk = |text: &'static str| Reply::Bulk(Bytes::from_static(text.as_bytes()));
        let nested = Reply::Array(vec![Reply::Integer(7)]);
        assert_eq!(reader.next_reply(), Ok(Some(Reply::Array(vec![bulk("a"), bulk("bcdef"), nested]))));
        assert_eq!(reader.next_reply(), Ok(Some(Reply::Simple("next".into()))));
        assert_eq!((reader.progress.at, reader.buffered()), (0, 0));
    }

    #[test]
    fn refuses_hostile_input() {
        assert_eq!(read_all(b"?\r\n"), Err(RespError::Malformed));
        assert_eq!(read_all(b"$3\r\nabcd\r\n"), Err(RespError::Malformed));
        assert_eq!(read_all(b":x\r\n"), Err(RespError::Malformed));
        assert_eq!(read_all(b"$-2\r\n"), Err(RespError::Malformed));
        assert_eq!(read_all(b"$999999999999\r\n"), Err(RespError::TooLarge));
        assert_eq!(read_all(b"*999999999999\r\n"), Err(RespError::TooLarge));
        assert_eq!(read_all(&b"*1\r\n".repeat(100)), Err(RespError::TooLarge));
        assert_eq!(read_all(&vec![b'+'; 100_000]), Err(RespError::TooLarge));
        // A huge announced array allocates nothing before its elements arrive.
        assert_eq!(read_all(b"*100000000\r\n:1\r\n"), Ok(vec![]));
    }
}
