//! The server's URL, split into what requests need, and query encoding.

use std::fmt;
use std::str::FromStr;

/// A server URL as a client is given it: `http://host:port/path?query`, or `https`, `ws`,
/// `wss` (the scheme picks TLS; the port defaults to 80 or 443; no scheme means `http`).
///
/// ```
/// use engineio_proto::client::ServerUrl;
///
/// let url: ServerUrl = "https://example.com/admin?token=abc".parse().unwrap();
/// assert!(url.secure);
/// assert_eq!(url.authority(), "example.com:443");
/// assert_eq!(url.path, "/admin");
/// assert_eq!(url.query, "token=abc");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Whether the scheme asks for TLS (`https`, `wss`).
    pub secure: bool,
    /// The host name or address (an IPv6 address keeps its brackets).
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The URL's path, `/` when it has none. Engine.IO ignores it; Socket.IO reads it as
    /// the namespace.
    pub path: String,
    /// The URL's query as written (already encoded), without the `?`.
    pub query: String,
}

/// Why a server URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A scheme other than `http`, `https`, `ws` and `wss`.
    #[error("unsupported URL scheme {0:?} (http, https, ws or wss)")]
    UnsupportedScheme(String),
    /// Nothing between the scheme and the path.
    #[error("the URL has no host")]
    MissingHost,
    /// A port that is not a number from 0 to 65535.
    #[error("invalid port {0:?} in the URL")]
    InvalidPort(String),
}

impl ServerUrl {
    /// Splits `url` (see the [type docs](ServerUrl)).
    pub fn parse(url: &str) -> Result<ServerUrl, UrlError> {
        let url = url.split('#').next().unwrap_or_default();
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(UrlError::UnsupportedScheme(scheme.to_owned())),
        };
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match before_query.find('/') {
            Some(slash) => before_query.split_at(slash),
            None => (before_query, "/"),
        };
        // Credentials (`user:pass@`) are not sent; drop them.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let (host, port) = split_port(authority)?;
        if host.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        Ok(ServerUrl { secure, host: host.to_owned(), port, path: path.to_owned(), query: query.to_owned() })
    }

    /// `host:port`, what to connect to (and the `Host` header).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl FromStr for ServerUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        ServerUrl::parse(url)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

/// `host` and the port after it, if any (`[::1]:3000`, `example.com`).
fn split_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let port_start = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].find(':').map(|colon| bracket + colon),
        None => authority.rfind(':'),
    };
    let Some(colon) = port_start else {
        return Ok((authority, None));
    };
    let (host, port) = (&authority[..colon], &authority[colon + 1..]);
    if port.is_empty() {
        return Ok((host, None));
    }
    port.parse().map(|port| (host, Some(port))).map_err(|_| UrlError::InvalidPort(port.to_owned()))
}

/// Appends `key=value` to `query`, both percent-encoded as JavaScript's
/// `encodeURIComponent` does (what the reference client sends).
///
/// ```
/// let mut query = String::from("a=1");
/// engineio_proto::client::append_query(&mut query, "name", "Zoë & co");
/// assert_eq!(query, "a=1&name=Zo%C3%AB%20%26%20co");
/// ```
pub fn append_query(query: &mut String, key: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    crate::percent::encode_into(query, key);
    query.push('=');
    crate::percent::encode_into(query, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ServerUrl {
        ServerUrl::parse(text).unwrap()
    }

    #[test]
    fn schemes_pick_tls_and_default_ports() {
        assert_eq!((url("http://h").secure, url("http://h").port), (false, 80));
        assert_eq!((url("ws://h").secure, url("ws://h").port), (false, 80));
        assert_eq!((url("https://h").secure, url("https://h").port), (true, 443));
        assert_eq!((url("WSS://h:8443").secure, url("wss://h:8443").port), (true, 8443));
        assert_eq!(url("localhost:3000").authority(), "localhost:3000");
        assert_eq!(ServerUrl::parse("ftp://h"), Err(UrlError::UnsupportedScheme("ftp".into())));
    }

    #[test]
    fn host_port_path_and_query() {
        let parsed = url("http://user:pw@[::1]:3000/admin/x?a=1&b=%20#frag");
        assert_eq!(parsed.host, "[::1]");
        assert_eq!(parsed.port, 3000);
        assert_eq!(parsed.path, "/admin/x");
        assert_eq!(parsed.query, "a=1&b=%20");
        assert_eq!(url("http://h:1?x").path, "/");
        assert_eq!(url("http://[::1]").authority(), "[::1]:80");
        assert_eq!(url("http://h:").port, 80);
        assert_eq!(ServerUrl::parse("http://h:99999"), Err(UrlError::InvalidPort("99999".into())));
        assert_eq!(ServerUrl::parse("http:///path"), Err(UrlError::MissingHost));
        assert_eq!(url("https://h/p?q=1").to_string(), "https://h:443/p?q=1");
    }

    #[test]
    fn query_values_are_encoded_like_encode_uri_component() {
        let mut query = String::new();
        append_query(&mut query, "k y", "a&b=c/d?é");
        append_query(&mut query, "t", "-_.!~*'()");
        assert_eq!(query, "k%20y=a%26b%3Dc%2Fd%3F%C3%A9&t=-_.!~*'()");
    }
}
