//! A socket's handshake as the other servers of a cluster see it: the reference's
//! `socket.handshake`, which `fetchSockets()` answers carry.

use engineio_proto::server::Handshake;

use super::msgpack::civil_from_days;
use crate::{Payload, Value};

/// `socket.handshake` as a Node server describes it: `headers` (repeated ones joined with
/// `, `), `time` (as JavaScript writes a date, in UTC) and `issued` (`issued_ms`,
/// milliseconds since the Unix epoch: the caller reads the clock), `address`, `xdomain`
/// (an `Origin` header came), `secure` (it came over TLS), `url`, `query`
/// (percent-decoded) and `auth` (`{}` when the client sent none).
///
/// ```
/// # use engineio_proto::server::{Handshake, TransportKind};
/// # use socketio_proto::cluster::handshake::describe;
/// # use socketio_proto::Value;
/// let handshake = Handshake {
///     uri: "/socket.io/?EIO=4&transport=polling&room=a%20b&my%20key=1&tag=x&tag=y".parse().unwrap(),
///     headers: Default::default(),
///     remote: "127.0.0.1:5000".parse().ok(),
///     transport: TransportKind::Polling,
///     at: std::time::Instant::now(),
///     secure: false,
/// };
/// let described = describe(&handshake, None, 0);
/// assert_eq!(described.get("time"), Some(&Value::from("Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)")));
/// let query = described.get("query").unwrap();
/// assert_eq!(query.get("room"), Some(&Value::from("a b")));
/// assert_eq!(query.get("my key"), Some(&Value::from("1")));
/// assert_eq!(query.get("tag"), Some(&Value::Array(vec!["x".into(), "y".into()])));
/// assert_eq!(described.get("address"), Some(&Value::from("127.0.0.1")));
/// ```
pub fn describe(handshake: &Handshake, auth: Option<&Payload>, issued_ms: i64) -> Value {
    let headers = handshake
        .headers
        .keys()
        .map(|name| {
            let values: Vec<_> = handshake
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect();
            (name.as_str().to_owned(), Value::String(values.join(", ")))
        })
        .collect();
    // A repeated name gives an array of its values, as Node's `querystring`.
    let mut query: Vec<(String, Value)> = Vec::new();
    for (name, value) in handshake.query_pairs() {
        match query.iter_mut().find(|(known, _)| *known == name) {
            Some((_, Value::Array(values))) => values.push(value.into()),
            Some((_, first)) => *first = Value::Array(vec![std::mem::take(first), value.into()]),
            None => query.push((name, value.into())),
        }
    }
    let auth = auth.and_then(|auth| auth.to_value().ok()).unwrap_or(Value::Object(Vec::new()));
    Value::Object(vec![
        ("headers".into(), Value::Object(headers)),
        ("time".into(), Value::String(date_string(issued_ms))),
        ("address".into(), handshake.remote.map(|a| a.ip().to_string()).unwrap_or_default().into()),
        ("xdomain".into(), handshake.headers.contains_key(http::header::ORIGIN).into()),
        ("secure".into(), handshake.secure.into()),
        ("issued".into(), issued_ms.into()),
        ("url".into(), handshake.uri.to_string().into()),
        ("query".into(), Value::Object(query)),
        ("auth".into(), auth),
    ])
}

/// The date `ms` milliseconds after the epoch as JavaScript's `String(new Date(ms))` writes
/// it on a server in UTC: `Tue Nov 24 2026 12:00:00 GMT+0000 (Coordinated Universal Time)`.
fn date_string(ms: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = usize::try_from((days + 4).rem_euclid(7)).ok().and_then(|d| WEEKDAYS.get(d)).unwrap_or(&"");
    let month = usize::try_from(month - 1).ok().and_then(|m| MONTHS.get(m)).unwrap_or(&"");
    let (h, m, s) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60);
    format!("{weekday} {month} {day:02} {year:04} {h:02}:{m:02}:{s:02} GMT+0000 (Coordinated Universal Time)")
}

#[cfg(test)]
mod tests {
    use super::date_string;

    #[test]
    fn dates_read_as_javascript_writes_them() {
        // `TZ=UTC node -e 'console.log(String(new Date(ms)))'`
        assert_eq!(
            date_string(1_795_521_600_123),
            "Tue Nov 24 2026 12:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(date_string(-1), "Wed Dec 31 1969 23:59:59 GMT+0000 (Coordinated Universal Time)");
    }
}
