//! A socket's handshake as the other servers of a cluster see it: the reference's
//! `socket.handshake`, which `fetchSockets()` answers carry.

use engineio_proto::server::Handshake;

use super::msgpack::iso_date;
use crate::{Payload, Value};

/// `socket.handshake` as a Node server describes it: `headers` (repeated ones joined with
/// `, `), `time` (ISO 8601) and `issued` (`issued_ms`, milliseconds since the Unix epoch:
/// the caller reads the clock), `address`, `xdomain` (an `Origin` header came), `secure`
/// (always `false`: TLS is not known here), `url`, `query` (percent-decoded) and `auth`
/// (`{}` when the client sent none).
///
/// ```
/// # use engineio_proto::server::{Handshake, TransportKind};
/// # use socketio_proto::cluster::handshake::describe;
/// # use socketio_proto::Value;
/// let handshake = Handshake {
///     uri: "/socket.io/?EIO=4&transport=polling&room=a%20b".parse().unwrap(),
///     headers: Default::default(),
///     remote: "127.0.0.1:5000".parse().ok(),
///     transport: TransportKind::Polling,
///     at: std::time::Instant::now(),
/// };
/// let described = describe(&handshake, None, 0);
/// assert_eq!(described.get("time"), Some(&Value::from("1970-01-01T00:00:00.000Z")));
/// assert_eq!(described.get("query").and_then(|q| q.get("room")), Some(&Value::from("a b")));
/// assert_eq!(described.get("address"), Some(&Value::from("127.0.0.1")));
/// ```
pub fn describe(handshake: &Handshake, auth: Option<&Payload>, issued_ms: i64) -> Value {
    let mut headers: Vec<(String, Value)> = Vec::new();
    for (name, value) in &handshake.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.iter_mut().find(|(known, _)| known == name.as_str()) {
            Some((_, Value::String(joined))) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            _ => headers.push((name.as_str().to_owned(), Value::String(value))),
        }
    }
    let query: Vec<(String, Value)> = handshake
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .filter(|key| !key.is_empty())
        .filter_map(|key| Some((key.to_owned(), Value::String(handshake.query(key)?))))
        .collect();
    let auth = auth.and_then(|auth| auth.to_value().ok()).unwrap_or(Value::Object(Vec::new()));
    Value::Object(vec![
        ("headers".into(), Value::Object(headers)),
        ("time".into(), Value::String(iso_date(issued_ms))),
        ("address".into(), handshake.remote.map(|a| a.ip().to_string()).unwrap_or_default().into()),
        ("xdomain".into(), handshake.headers.contains_key(http::header::ORIGIN).into()),
        ("secure".into(), false.into()),
        ("issued".into(), issued_ms.into()),
        ("url".into(), handshake.uri.to_string().into()),
        ("query".into(), Value::Object(query)),
        ("auth".into(), auth),
    ])
}
