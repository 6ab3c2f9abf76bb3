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

use super::{number, rooms_of};
use crate::cluster::msgpack;
use crate::server::Room;
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
    /// Its `data`, `null` when unset.
    pub data: Value,
}

impl StoredSession {
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
}

/// The key of the session of `pid`.
pub fn session_key(pid: &str) -> String {
    format!("{SESSION_PREFIX}{pid}")
}

/// Whether `offset` is a stream entry id (`<ms>-<seq>`), as the adapter checks before it
/// restores anything.
pub fn is_offset(offset: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    offset.split_once('-').is_some_and(|(ms, seq)| digits(ms) && digits(seq))
}

/// The first entry id after `offset` (an exclusive range for Redis before 6.2).
pub fn next_offset(offset: &str) -> Option<String> {
    let (ms, seq) = offset.split_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    Some(format!("{ms}-{}", seq.checked_add(1)?))
}

/// A stream entry as a `ClusterAdapter` message (`{uid, nsp, type, data}`); `data` is
/// JSON, or base64 MessagePack when it carried binary. `None` for anything else.
pub(super) fn entry_message(fields: &[(Bytes, Bytes)]) -> Option<Value> {
    let field = |name: &str| fields.iter().find(|(key, _)| &key[..] == name.as_bytes()).map(|(_, v)| v);
    let text = |name: &str| field(name).and_then(|v| std::str::from_utf8(v).ok());
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

/// The packets a restored socket of `namespace` in `rooms` missed, among the stream entries
/// after its offset (`(id, fields)`, in order): the namespace's broadcasts that its rooms
/// select, each with its entry id appended as offset (the adapter's `restoreSession`).
pub fn missed_packets(
    entries: &[(String, Vec<(Bytes, Bytes)>)],
    namespace: &Namespace,
    rooms: &[Room],
) -> Vec<Payload> {
    let mut missed = Vec::new();
    for (id, fields) in entries {
        let Some(message) = entry_message(fields) else { continue };
        let is_broadcast = message.get("type").and_then(number) == Some(3);
        if !is_broadcast || message.get("nsp").and_then(Value::as_str) != Some(namespace.as_str()) {
            continue;
        }
        let Some(data) = message.get("data") else { continue };
        let (Some(packet), Some(opts)) = (data.get("packet"), data.get("opts")) else { continue };
        let Some(Value::Array(args)) = packet.get("data") else { continue };
        let (to, except) = (rooms_of(opts.get("rooms")), rooms_of(opts.get("except")));
        let included = to.is_empty() || rooms.iter().any(|room| to.contains(room));
        if included && !rooms.iter().any(|room| except.contains(room)) {
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
        ];
        let rooms = [Room::from("me"), Room::from("r")];
        let missed: Vec<String> = missed_packets(&entries, &Namespace::main(), &rooms)
            .iter()
            .map(|p| p.json().to_string())
            .collect();
        assert_eq!(missed, [r#"["tick",0,"1-0"]"#, r#"["tick",1,"2-0"]"#]);
    }
}
