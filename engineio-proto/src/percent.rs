//! Percent-encoding of query strings, as JavaScript's `encodeURIComponent` writes them and
//! Node's `querystring` reads them.

/// Appends `text` to `out`, every byte but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX`.
pub(crate) fn encode_into(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// The value of `key` in `query` (`a=1&b=2`), decoded: `%XX` escapes and `+` as a space.
/// Malformed escapes stay as written; bytes that are not UTF-8 become U+FFFD.
pub(crate) fn query_value(query: &str, key: &str) -> Option<String> {
    query_pairs(query).find_map(|(name, value)| (name == key).then_some(value))
}

/// Every `name=value` pair of `query`, decoded as [`query_value`] decodes them, in order;
/// empty pairs are skipped.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(name), decode(value))
    })
}

fn decode(text: &str) -> String {
    let mut rest = text.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let [first, tail @ ..] = rest {
        let escaped = match (first, tail) {
            (b'%', [high, low, ..]) => hex(*high).zip(hex(*low)).map(|(high, low)| high << 4 | low),
            _ => None,
        };
        match (first, escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                rest = tail.get(2..).unwrap_or_default();
            }
            (b'+', None) => {
                out.push(b' ');
                rest = tail;
            }
            (byte, None) => {
                out.push(*byte);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_values_decode_back() {
        let mut query = String::from("a=");
        encode_into(&mut query, "Zoë & co=1%");
        assert_eq!(query, "a=Zo%C3%AB%20%26%20co%3D1%25");
        assert_eq!(query_value(&query, "a").as_deref(), Some("Zoë & co=1%"));
    }

    #[test]
    fn plus_is_a_space_and_bad_escapes_stay() {
        assert_eq!(query_value("x=1&n=a+b%2&k", "n").as_deref(), Some("a b%2"));
        assert_eq!(query_value("x=1&k", "k").as_deref(), Some(""));
        assert_eq!(query_value("x=%FF", "x").as_deref(), Some("\u{fffd}"));
        assert_eq!(query_value("x=1", "y"), None);
    }
}
