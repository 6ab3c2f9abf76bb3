//! What an incoming request asks for: query parsing and the reference's error codes.

use std::borrow::Cow;

/// The two transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The `transport` query value.
    pub const fn name(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// The reference server's error codes, sent as `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: the `transport` query value is missing, unknown or disabled.
    UnknownTransport,
    /// 1: the `sid` names no open session.
    UnknownSid,
    /// 2: a handshake with a method other than GET.
    BadHandshakeMethod,
    /// 3: anything else that is wrong with the request.
    BadRequest,
    /// 4: the `allow_request` hook refused the handshake.
    Forbidden,
    /// 5: `EIO` is missing or not `4`.
    UnsupportedProtocolVersion,
}

impl ErrorCode {
    /// The numeric code.
    pub const fn code(self) -> u8 {
        match self {
            ErrorCode::UnknownTransport => 0,
            ErrorCode::UnknownSid => 1,
            ErrorCode::BadHandshakeMethod => 2,
            ErrorCode::BadRequest => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::UnsupportedProtocolVersion => 5,
        }
    }

    /// The reference's message for the code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for [`ErrorCode::Forbidden`], 400 otherwise.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }
}

/// The Engine.IO parameters of a query string.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EngineQuery<'a> {
    pub(crate) eio: Option<Cow<'a, str>>,
    pub(crate) transport: Option<Cow<'a, str>>,
    pub(crate) sid: Option<Cow<'a, str>>,
    /// One of the three appeared more than once.
    pub(crate) repeated: bool,
}

impl<'a> EngineQuery<'a> {
    /// Parses `EIO`, `transport` and `sid` out of a query string; other keys are ignored.
    pub(crate) fn parse(query: &'a str) -> Self {
        let mut out = EngineQuery::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match &*percent_decode(key) {
                "EIO" => &mut out.eio,
                "transport" => &mut out.transport,
                "sid" => &mut out.sid,
                _ => continue,
            };
            if slot.is_some() {
                out.repeated = true;
            }
            *slot = Some(percent_decode(value));
        }
        out
    }
}

/// Decodes `%XX` escapes and `+` as in `application/x-www-form-urlencoded`; invalid escapes
/// stay as they are, invalid UTF-8 becomes U+FFFD.
pub(crate) fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|&c| char::from(c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_engine_keys() {
        let q = EngineQuery::parse("EIO=4&transport=polling&t=N8hyd6w&sid=abc%2Bd");
        assert_eq!(q.eio.as_deref(), Some("4"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(q.sid.as_deref(), Some("abc+d"));
        assert!(!q.repeated);
    }

    #[test]
    fn notes_repeated_keys() {
        assert!(EngineQuery::parse("transport=polling&transport=websocket").repeated);
        assert!(EngineQuery::parse("sid=a&EIO=4&sid=a").repeated);
    }

    #[test]
    fn decoding_is_lenient() {
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
        assert_eq!(percent_decode("%E2%82%AC+x"), "€ x");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
