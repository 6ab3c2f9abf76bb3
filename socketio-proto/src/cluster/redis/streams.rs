//! Connection state recovery on the streams adapter (`@socket.io/redis-streams-adapter`
//! 0.3), without IO: how a kept session is stored in Redis, which offsets are stream ids,
//! and which entries of the stream a restored socket missed.
//!
//! A session is kept under `sio:session:<pid>` (`SET ... PX maxDisconnectionDuration`) as
//! base64 MessagePack of `{sid, pid, rooms, data}`. Restoring takes it (`GETDEL`), checks
//! that the client's offset is still an entry (`XRANGE stream offset offset`), then reads
//! the entries after it (`XRANGE stream <next> +`): the broadcasts of the namespace that the
//! session's rooms select are the missed packets, each with its entry id as offset.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use std::time::Duration;

use super::{number, rooms_of, selector_of};
use crate::cluster::msgpack;
use crate::cluster::resp::{Reply, command, stream_entries};
use crate::server::Selector;
use crate::server::recovery::offset_order;
use crate::server::{ExternalSession, Room, SocketId};
use crate::{Namespace, Payload, Value};

/// The key prefix of kept sessions (`sessionKeyPrefix`).
pub const SESSION_PREFIX: &str = "sio:session:";

/// A kept session, as the streams adapter stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    /// The socket id (a Node server's are 20 characters long, ours 22).
    pub sid: String,
    /// The private id the client proves itself with.
    pub pid: String,
    /// Its rooms, its own id among them.
    pub rooms: Vec<Room>,
    /// Its `data` (`{}` when unset, as a Node server's `socket.data` starts).
    pub data: Value,
}

impl StoredSession {
    /// The session of socket `sid`; unset `data` is stored as `{}`, which a Node server
    /// restoring it expects.
    pub fn new(sid: String, pid: String, rooms: Vec<Room>, data: Option<Value>) -> Self {
        StoredSession { sid, pid, rooms, data: data.unwrap_or_else(|| Value::Object(Vec::new())) }
    }

    /// The value to `SET`: base64 MessagePack.
    pub fn encode(&self) -> String {
        let rooms = Value::Array(self.rooms.iter().map(|room| Value::from(&**room)).collect());
        let session = Value::Object(vec![
            ("sid".into(), self.sid.as_str().into()),
            ("pid".into(), self.pid.as_str().into()),
            ("rooms".into(), rooms),
            ("data".into(), self.data.clone()),
        ]);
        STANDARD.encode(msgpack::encode(&session))
    }

    /// A stored value read back (`GETDEL`); `None` when it is not one.
    pub fn decode(stored: &[u8]) -> Option<StoredSession> {
        let session = msgpack::decode(&STANDARD.decode(stored).ok()?).ok()?;
        Some(StoredSession {
            sid: session.get("sid")?.as_str()?.to_owned(),
            pid: session.get("pid")?.as_str()?.to_owned(),
            rooms: rooms_of(session.get("rooms")),
            data: session.get("data").cloned().unwrap_or(Value::Null),
        })
    }

    /// The command that keeps it for `ttl` (`SET sio:session:<pid> <value> PX <ms>`).
    pub fn store_command(&self, ttl: Duration) -> Vec<u8> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1).to_string();
        let (key, value) = (session_key(&self.pid), self.encode());
        command(&[b"SET", key.as_bytes(), value.as_bytes(), b"PX", millis.as_bytes()])
    }
}

/// Where a stream reader starts: `XREAD` from `$` skips what is appended before its first
/// call arrives, so a reader first asks for the last entry's id with this command
/// (`XREVRANGE stream + - COUNT 1`) and reads from [`reading_position`] of its reply.
pub fn last_entry_command(stream: &str) -> Vec<u8> {
    command(&[b"XREVRANGE", stream.as_bytes(), b"+", b"-", b"COUNT", b"1"])
}

/// The id to read on from, given the reply to [`last_entry_command`]: the last entry's,
/// or `0-0` for an empty stream; `None` for an error.
pub fn reading_position(reply: Reply) -> Option<String> {
    if matches!(reply, Reply::Error(_)) {
        return None;
    }
    Some(stream_entries(reply).pop().map_or_else(|| "0-0".to_owned(), |(id, _)| id))
}

/// How long an `XREAD` of [`read_command`] waits for entries before it answers with none.
pub const READ_BLOCK: Duration = Duration::from_secs(5);

/// How a stream reader reads on from `position` (an entry id): `XREAD`, blocking up to
/// [`READ_BLOCK`], at most 100 entries.
pub fn read_command(stream: &str, position: &str) -> Vec<u8> {
    command(&[
        b"XREAD",
        b"COUNT",
        b"100",
        b"BLOCK",
        READ_BLOCK.as_millis().to_string().as_bytes(),
        b"STREAMS",
        stream.as_bytes(),
        position.as_bytes(),
    ])
}

/// Entries read per `XRANGE` while restoring a session.
const RANGE_COUNT: usize = 1000;

/// The most `XRANGE` calls one restoration makes (the adapter's
/// `RESTORE_SESSION_MAX_XRANGE_CALLS`). Past it the session is refused rather than restored
/// with a gap.
const MAX_RANGE_CALLS: usize = 100;

/// Restoring a kept session from the stream (the adapter's `restoreSession`), one Redis
/// command at a time: take the session (`GETDEL`), check that the client's offset is still
/// an entry, then read the entries after it.
///
/// ```
/// use socketio_proto::cluster::redis::streams::{SessionRestore, Restoring};
/// use socketio_proto::cluster::resp::Reply;
/// use socketio_proto::Namespace;
///
/// let (mut restore, getdel) = SessionRestore::start("socket.io", Namespace::main(), "pid", "17-0").unwrap();
/// assert!(getdel.starts_with(b"*2\r\n$6\r\nGETDEL\r\n"));
/// // No such session: the client gets a new socket.
/// assert!(matches!(restore.handle_reply(Reply::Nil), Restoring::Refused));
/// ```
#[derive(Debug)]
pub struct SessionRestore {
    stream: String,
    namespace: Namespace,
    step: Step,
    session: Option<StoredSession>,
    missed: Vec<Payload>,
    through: String,
    calls: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Take,
    CheckOffset,
    Read,
    Ready,
}

/// What a [`SessionRestore`] needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restoring {
    /// Send this command and hand its reply to [`SessionRestore::handle_reply`].
    Send(Vec<u8>),
    /// The session and its missed events are read up to [`SessionRestore::through`]:
    /// [`SessionRestore::finish`] gives them.
    Ready,
    /// No session under that pid, its offset is no longer in the stream, or the stream
    /// could not be read to its end: the client gets a new socket.
    Refused,
}

impl SessionRestore {
    /// Starts restoring the session of `pid` in `namespace` from `offset`, the last the
    /// client got; with the first command to send. `None` when `offset` is not a stream
    /// entry id (nothing to look up).
    pub fn start(stream: &str, namespace: Namespace, pid: &str, offset: &str) -> Option<(Self, Vec<u8>)> {
        if !is_offset(offset) {
            return None;
        }
        let restore = SessionRestore {
            stream: stream.to_owned(),
            namespace,
            step: Step::Take,
            session: None,
            missed: Vec::new(),
            through: offset.to_owned(),
            calls: 0,
        };
        Some((restore, command(&[b"GETDEL", session_key(pid).as_bytes()])))
    }

    /// Takes the reply to the last command sent.
    pub fn handle_reply(&mut self, reply: Reply) -> Restoring {
        match self.step {
            Step::Take => {
                let session = reply.as_bytes().and_then(StoredSession::decode);
                if session.as_ref().and_then(|session| SocketId::parse(&session.sid)).is_none() {
                    return Restoring::Refused;
                }
                self.session = session;
                self.step = Step::CheckOffset;
                let offset = self.through.as_bytes();
                Restoring::Send(command(&[b"XRANGE", self.stream.as_bytes(), offset, offset]))
            }
            Step::CheckOffset => match stream_entries(reply).is_empty() {
                true => Restoring::Refused,
                false => self.read_on(),
            },
            // An error part-way (a busy or loading Redis) would leave a gap.
            Step::Read if matches!(reply, Reply::Error(_)) => Restoring::Refused,
            Step::Read => {
                let entries = stream_entries(reply);
                let session = self.session.as_ref();
                if let Some((socket, rooms)) =
                    session.and_then(|s| Some((SocketId::parse(&s.sid)?, &s.rooms)))
                {
                    self.missed.extend(missed_packets(&entries, &self.namespace, socket, rooms));
                }
                if let Some((id, _)) = entries.last() {
                    self.through.clone_from(id);
                }
                if entries.len() >= RANGE_COUNT {
                    return self.read_on();
                }
                self.step = Step::Ready;
                Restoring::Ready
            }
            // Nothing was asked.
            Step::Ready => Restoring::Refused,
        }
    }

    /// Where the missed events are read up to.
    pub fn through(&self) -> &str {
        &self.through
    }

    /// Reads the entries after [`Self::through`]: after [`Restoring::Ready`], when the
    /// server delivered events after it that it no longer keeps
    /// ([`Server::lost_after`](crate::server::Server::lost_after)).
    pub fn read_on(&mut self) -> Restoring {
        self.calls += 1;
        let Some(next) = next_offset(&self.through).filter(|_| self.calls <= MAX_RANGE_CALLS) else {
            return Restoring::Refused;
        };
        self.step = Step::Read;
        let count = RANGE_COUNT.to_string();
        Restoring::Send(command(&[
            b"XRANGE",
            self.stream.as_bytes(),
            next.as_bytes(),
            b"+",
            b"COUNT",
            count.as_bytes(),
        ]))
    }

    /// The restored socket and its data (`None` when the store had `null`), once
    /// [`Restoring::Ready`]; `None` before.
    pub fn finish(self) -> Option<(ExternalSession, Option<Value>)> {
        let session = self.session.filter(|_| self.step == Step::Ready)?;
        let socket = SocketId::parse(&session.sid)?;
        let restored = ExternalSession {
            socket,
            pid: session.pid,
            rooms: session.rooms,
            missed: self.missed,
            through: self.through,
        };
        let data = Some(session.data).filter(|data| *data != Value::Null);
        Some((restored, data))
    }
}

/// The key of the session of `pid`.
pub fn session_key(pid: &str) -> String {
    format!("{SESSION_PREFIX}{pid}")
}

/// Whether `offset` is a stream entry id (`<ms>-<seq>`), as the adapter checks before it
/// restores anything.
pub fn is_offset(offset: &str) -> bool {
    offset_order(offset).is_some()
}

/// The first entry id after `offset` (the adapter's `nextOffset`).
pub fn next_offset(offset: &str) -> Option<String> {
    let (ms, seq) = offset_order(offset)?;
    Some(format!("{ms}-{}", seq.checked_add(1)?))
}

/// The value of field `name` of a stream entry.
fn entry_field<'a>(fields: &'a [(Bytes, Bytes)], name: &str) -> Option<&'a Bytes> {
    fields.iter().find(|(key, _)| &key[..] == name.as_bytes()).map(|(_, value)| value)
}

/// The same, as text.
fn entry_text<'a>(fields: &'a [(Bytes, Bytes)], name: &str) -> Option<&'a str> {
    entry_field(fields, name).and_then(|value| std::str::from_utf8(value).ok())
}

/// A logged broadcast read from a stream entry without building its arguments: they stay
/// the JSON text they arrived as (a slice of the entry, not a copy).
pub(super) struct LoggedBroadcast<'a> {
    pub(super) uid: &'a str,
    pub(super) nsp: &'a str,
    pub(super) selector: Selector,
    pub(super) payload: Payload,
}

/// The entry as a [`LoggedBroadcast`] when it is one (type 3, JSON, no request id, its
/// arguments an array); `None` for anything else, which [`entry_message`] reads.
pub(super) fn logged_broadcast(fields: &[(Bytes, Bytes)]) -> Option<LoggedBroadcast<'_>> {
    #[derive(serde::Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        packet: Packet<'a>,
        opts: Value,
        #[serde(rename = "requestId", default)]
        request_id: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Packet<'a> {
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let (field, text) = (|name| entry_field(fields, name), |name| entry_text(fields, name));
    let data = field("data").filter(|data| data.first() == Some(&b'{') && text("type") == Some("3"))?;
    let parsed: Data<'_> = serde_json::from_slice(data).ok()?;
    let args = parsed.packet.data.get();
    if parsed.request_id.is_some() || !args.starts_with('[') {
        return None;
    }
    let json = bytestring::ByteString::try_from(data.slice_ref(args.as_bytes())).ok()?;
    Some(LoggedBroadcast {
        uid: text("uid")?,
        nsp: text("nsp")?,
        selector: selector_of(&parsed.opts),
        payload: Payload::from_parts(json, Vec::new()),
    })
}

/// A stream entry as a `ClusterAdapter` message (`{uid, nsp, type, data}`); `data` is
/// JSON, or base64 MessagePack when it carried binary. `None` for anything else.
pub(super) fn entry_message(fields: &[(Bytes, Bytes)]) -> Option<Value> {
    let (field, text) = (|name| entry_field(fields, name), |name| entry_text(fields, name));
    let kind: u64 = text("type")?.parse().ok()?;
    let data = field("data")?;
    let data = match data.first() {
        Some(b'{') => serde_json::from_slice::<Value>(data).ok()?,
        _ => msgpack::decode(&STANDARD.decode(data).ok()?).ok()?,
    };
    Some(Value::Object(vec![
        ("uid".into(), text("uid")?.into()),
        ("nsp".into(), text("nsp")?.into()),
        ("type".into(), kind.into()),
        ("data".into(), data),
    ]))
}

/// The packets a restored `socket` of `namespace` in `rooms` missed, among the stream
/// entries after its offset (`(id, fields)`, in order): the namespace's logged broadcasts
/// that select it, each with its entry id appended as offset (the adapter's
/// `restoreSession`; volatile ones are left out, as a server delivering them live does not
/// hold them back).
pub fn missed_packets(
    entries: &[(String, Vec<(Bytes, Bytes)>)],
    namespace: &Namespace,
    socket: SocketId,
    rooms: &[Room],
) -> Vec<Payload> {
    let mut missed = Vec::new();
    for (id, fields) in entries {
        if let Some(broadcast) = logged_broadcast(fields) {
            let selected = broadcast.selector.includes(socket, rooms) && !broadcast.selector.volatile;
            if broadcast.nsp == namespace.as_str() && selected {
                missed.push(broadcast.payload.with_trailing_string(id));
            }
            continue;
        }
        let Some(message) = entry_message(fields) else { continue };
        let is_broadcast = message.get("type").and_then(number) == Some(3);
        if !is_broadcast || message.get("nsp").and_then(Value::as_str) != Some(namespace.as_str()) {
            continue;
        }
        let Some(data) = message.get("data") else { continue };
        let (Some(packet), Some(opts)) = (data.get("packet"), data.get("opts")) else { continue };
        let Some(Value::Array(args)) = packet.get("data") else { continue };
        let selector = selector_of(opts);
        if !selector.volatile && selector.includes(socket, rooms) {
            let mut args = args.clone();
            args.push(Value::String(id.clone()));
            missed.push(Payload::from_value(&Value::Array(args)));
        }
    }
    missed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Node's `@socket.io/redis-streams-adapter` stores (`@msgpack/msgpack`) for
    /// `{sid, pid, rooms: [sid, "r"], data: {value: "va", n: 1.5, bin: <1 2 3>}}`.
    const FROM_NODE: &str = "hKNzaWS0dWI1QzVRUjFLdXBNVmhBQUFBQUGjcGlktEc2WXRQYkhPM2NQYWxJNXgtX0FFpXJvb21zkrR1YjVDNVFSMUt1cE1WaEFBQUFBQaFypGRhdGGDpXZhbHVlonZhoW7LP/gAAAAAAACjYmluxAMBAgM=";

    #[test]
    fn sessions_read_node_s_and_round_trip() {
        let session = StoredSession::decode(FROM_NODE.as_bytes()).unwrap();
        assert_eq!(
            (session.sid.as_str(), session.pid.as_str()),
            ("ub5C5QR1KupMVhAAAAAA", "G6YtPbHO3cPalI5x-_AE")
        );
        assert_eq!(session.rooms, [Room::from("ub5C5QR1KupMVhAAAAAA"), Room::from("r")]);
        assert_eq!(session.data.get("value"), Some(&Value::from("va")));
        assert_eq!(
            session.data.get("bin").and_then(Value::as_binary).map(|b| &b[..]),
            Some(&[1u8, 2, 3][..])
        );
        assert_eq!(StoredSession::decode(session.encode().as_bytes()), Some(session));
        assert_eq!(StoredSession::decode(b"not base64!"), None);
        assert_eq!(session_key("p"), "sio:session:p");
    }

    #[test]
    fn offsets_are_stream_ids() {
        assert!(is_offset("1700000000000-0") && is_offset("1-23"));
        for bad in ["", "-", "1-", "-1", "a-1", "1-1-1", "Q8DC8zJ", "1 -1"] {
            assert!(!is_offset(bad), "{bad}");
        }
        assert_eq!(next_offset("17-4").as_deref(), Some("17-5"));
    }

    /// A volatile broadcast, as the adapter appends it.
    const VOLATILE: &str = r#"{"packet":{"type":2,"data":["v"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"volatile":true}}}"#;

    #[test]
    fn missed_packets_are_the_namespace_s_broadcasts_its_rooms_select() {
        let entry = |uid: &str, nsp: &str, kind: &str, data: &str| -> Vec<(Bytes, Bytes)> {
            [("uid", uid), ("nsp", nsp), ("type", kind), ("data", data)]
                .into_iter()
                .map(|(k, v)| (Bytes::from(k.to_owned()), Bytes::from(v.to_owned())))
                .collect()
        };
        let broadcast = |args: &str, rooms: &str, except: &str| {
            format!(
                r#"{{"packet":{{"type":2,"data":{args},"nsp":"/"}},"opts":{{"rooms":{rooms},"except":{except},"flags":{{}}}}}}"#
            )
        };
        let entries = vec![
            ("1-0".to_owned(), entry("a", "/", "3", &broadcast(r#"["tick",0]"#, r#"["r"]"#, "[]"))),
            ("1-1".to_owned(), entry("a", "/", "3", &broadcast(r#"["other"]"#, r#"["x"]"#, "[]"))),
            ("1-2".to_owned(), entry("a", "/", "3", &broadcast(r#"["all"]"#, "[]", r#"["r"]"#))),
            ("1-3".to_owned(), entry("a", "/chat", "3", &broadcast(r#"["elsewhere"]"#, "[]", "[]"))),
            ("1-4".to_owned(), entry("a", "/", "4", r#"{"opts":{"rooms":[],"except":[]},"rooms":["z"]}"#)),
            ("2-0".to_owned(), entry("b", "/", "3", &broadcast(r#"["tick",1]"#, "[]", "[]"))),
            ("2-1".to_owned(), entry("b", "/", "3", "garbage")),
            ("2-2".to_owned(), entry("b", "/", "3", VOLATILE)),
        ];
        let rooms = [Room::from("me"), Room::from("r")];
        let me = SocketId::parse("ub5C5QR1KupMVhAAAAAA").unwrap();
        let missed: Vec<String> = missed_packets(&entries, &Namespace::main(), me, &rooms)
            .iter()
            .map(|p| p.json().to_string())
            .collect();
        assert_eq!(missed, [r#"["tick",0,"1-0"]"#, r#"["tick",1,"2-0"]"#]);
    }

    #[test]
    fn a_logged_broadcast_s_arguments_are_forwarded_as_they_came_never_parsed() {
        let data = Bytes::from_static(
            br#"{"packet":{"type":2,"data":["chat", 1.50, "\u00e9"],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}"#,
        );
        let fields: Vec<(Bytes, Bytes)> = vec![
            (Bytes::from_static(b"uid"), Bytes::from_static(b"n")),
            (Bytes::from_static(b"nsp"), Bytes::from_static(b"/")),
            (Bytes::from_static(b"type"), Bytes::from_static(b"3")),
            (Bytes::from_static(b"data"), data.clone()),
        ];
        let broadcast = logged_broadcast(&fields).unwrap();
        assert_eq!((broadcast.uid, broadcast.nsp), ("n", "/"));
        assert_eq!(broadcast.selector.rooms, [Room::from("r")]);
        let json: &str = broadcast.payload.json();
        assert_eq!(json, r#"["chat", 1.50, "\u00e9"]"#, "the text as written, not re-encoded");
        let within = data.as_ptr_range();
        assert!(within.contains(&json.as_ptr()), "a slice of the entry, not a copy");

        // With a request id (answers wanted) or binary (MessagePack), the general reading.
        let with_field = |data: &'static [u8]| {
            let mut fields = fields.clone();
            fields[3].1 = Bytes::from_static(data);
            fields
        };
        let asking = br#"{"requestId":"x","packet":{"type":2,"data":["q"],"nsp":"/"},"opts":{"rooms":[],"except":[]}}"#;
        assert!(logged_broadcast(&with_field(asking)).is_none());
        assert!(logged_broadcast(&with_field(b"gqZwYWNrZXQ=")).is_none());
        let not_args = br#"{"packet":{"type":2,"data":"x","nsp":"/"},"opts":{"rooms":[],"except":[]}}"#;
        assert!(logged_broadcast(&with_field(not_args)).is_none());
    }

    fn xrange_reply(entries: &[(&str, &str)]) -> Reply {
        let bulk = |text: &str| Reply::Bulk(Bytes::from(text.to_owned()));
        Reply::Array(
            entries
                .iter()
                .map(|(id, data)| {
                    let fields = [("uid", "n"), ("nsp", "/"), ("type", "3"), ("data", *data)];
                    let fields = fields.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect();
                    Reply::Array(vec![bulk(id), Reply::Array(fields)])
                })
                .collect(),
        )
    }

    #[test]
    fn a_session_is_restored_with_what_it_missed_one_command_at_a_time() {
        let tick = |i: u32| {
            format!(
                r#"{{"packet":{{"type":2,"data":["tick",{i}],"nsp":"/"}},"opts":{{"rooms":["r"],"except":[]}}}}"#
            )
        };
        let text = |command: &[u8]| String::from_utf8_lossy(command).replace("\r\n", " ");
        assert!(SessionRestore::start("socket.io", Namespace::main(), "p", "Q8DC8zJ").is_none());

        let (mut restore, getdel) =
            SessionRestore::start("socket.io", Namespace::main(), "p", "5-0").unwrap();
        assert_eq!(text(&getdel), "*2 $6 GETDEL $13 sio:session:p ");
        let Restoring::Send(check) = restore.handle_reply(Reply::Bulk(FROM_NODE.into())) else { panic!() };
        assert_eq!(text(&check), "*4 $6 XRANGE $9 socket.io $3 5-0 $3 5-0 ");
        let Restoring::Send(read) = restore.handle_reply(xrange_reply(&[("5-0", &tick(0))])) else {
            panic!()
        };
        assert_eq!(text(&read), "*6 $6 XRANGE $9 socket.io $3 5-1 $1 + $5 COUNT $4 1000 ");
        let reply = xrange_reply(&[("6-0", &tick(1)), ("6-1", &tick(2))]);
        assert_eq!(restore.handle_reply(reply), Restoring::Ready);
        assert_eq!(restore.through(), "6-1");

        // The server delivered past 6-1 meanwhile: read on from there.
        let Restoring::Send(more) = restore.read_on() else { panic!() };
        assert_eq!(text(&more), "*6 $6 XRANGE $9 socket.io $3 6-2 $1 + $5 COUNT $4 1000 ");
        assert_eq!(restore.handle_reply(xrange_reply(&[("7-0", &tick(3))])), Restoring::Ready);
        let (restored, data) = restore.finish().unwrap();
        let missed: Vec<String> = restored.missed.iter().map(|p| p.json().to_string()).collect();
        assert_eq!(missed, [r#"["tick",1,"6-0"]"#, r#"["tick",2,"6-1"]"#, r#"["tick",3,"7-0"]"#]);
        assert_eq!((restored.through.as_str(), restored.pid.as_str()), ("7-0", "G6YtPbHO3cPalI5x-_AE"));
        assert_eq!(restored.socket.to_string(), "ub5C5QR1KupMVhAAAAAA");
        assert_eq!(data.unwrap().get("value"), Some(&Value::from("va")));

        // Refused: no session, or its offset is no longer in the stream.
        let (mut restore, _) = SessionRestore::start("socket.io", Namespace::main(), "p", "5-0").unwrap();
        assert_eq!(restore.handle_reply(Reply::Nil), Restoring::Refused);
        let (mut restore, _) = SessionRestore::start("socket.io", Namespace::main(), "p", "5-0").unwrap();
        restore.handle_reply(Reply::Bulk(FROM_NODE.into()));
        assert_eq!(restore.handle_reply(Reply::Array(Vec::new())), Restoring::Refused);
        assert!(restore.finish().is_none());
        // An error part-way leaves no gap: refused.
        let (mut restore, _) = SessionRestore::start("socket.io", Namespace::main(), "p", "5-0").unwrap();
        restore.handle_reply(Reply::Bulk(FROM_NODE.into()));
        restore.handle_reply(xrange_reply(&[("5-0", &tick(0))]));
        assert_eq!(restore.handle_reply(Reply::Error("LOADING".into())), Restoring::Refused);
    }

    #[test]
    fn a_reader_starts_after_the_last_entry() {
        let text = String::from_utf8(last_entry_command("s")).unwrap();
        assert_eq!(
            text,
            "*6\r\n$9\r\nXREVRANGE\r\n$1\r\ns\r\n$1\r\n+\r\n$1\r\n-\r\n$5\r\nCOUNT\r\n$1\r\n1\r\n"
        );
        assert_eq!(reading_position(xrange_reply(&[("9-3", "{}")])).as_deref(), Some("9-3"));
        assert_eq!(reading_position(Reply::Array(Vec::new())).as_deref(), Some("0-0"));
        assert_eq!(reading_position(Reply::Error("WRONGTYPE".into())), None);
    }

    #[test]
    fn a_stored_session_is_set_with_its_expiry() {
        let session = StoredSession::decode(FROM_NODE.as_bytes()).unwrap();
        let command = String::from_utf8(session.store_command(Duration::from_secs(120))).unwrap();
        assert!(command.starts_with("*5\r\n$3\r\nSET\r\n$32\r\nsio:session:G6YtPbHO3cPalI5x-_AE\r\n"));
        assert!(command.ends_with("$2\r\nPX\r\n$6\r\n120000\r\n"), "{command}");
    }
}
