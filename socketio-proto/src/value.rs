//! A dynamic payload value that can hold binary data.

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON value that may also hold binary attachments, for payloads whose shape is only
/// known at run time.
///
/// Objects keep their keys in order, as JavaScript objects do.
///
/// ```
/// use socketio_proto::{Payload, Value};
///
/// let args = Value::Array(vec!["file".into(), Value::Binary(vec![1u8, 2, 3].into())]);
/// let payload = Payload::from_value(&args);
/// assert_eq!(payload.json(), r#"["file",{"_placeholder":true,"num":0}]"#);
/// assert_eq!(payload.attachments().len(), 1);
/// assert_eq!(payload.to_value().unwrap(), args);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`
    #[default]
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// Binary data, sent as an attachment.
    Binary(Bytes),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The value of `key` in an object (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether any binary data is inside.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(items) => items.iter().any(Value::has_binary),
            Value::Object(members) => members.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// Exactly how many bytes [`Value::write_json`] writes, when the placeholders it writes
    /// are numbered from `first_attachment`: buffers are sized once and handed to `Bytes`
    /// without spare capacity.
    pub(crate) fn json_len(&self, first_attachment: &mut usize) -> usize {
        match self {
            Value::Null | Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => number_len(n),
            Value::String(s) => json_string_len(s),
            Value::Binary(_) => {
                let len = r#"{"_placeholder":true,"num":}"#.len() + decimal_len(*first_attachment as u64);
                *first_attachment += 1;
                len
            }
            Value::Array(items) => {
                let inner: usize = items.iter().map(|v| v.json_len(first_attachment)).sum();
                2 + inner + items.len().saturating_sub(1)
            }
            Value::Object(members) => {
                let inner: usize =
                    members.iter().map(|(k, v)| json_string_len(k) + 1 + v.json_len(first_attachment)).sum();
                2 + inner + members.len().saturating_sub(1)
            }
        }
    }

    /// Writes this value as JSON, binary replaced by numbered placeholders whose bytes are
    /// appended to `attachments` in document order (as the reference encoder does).
    pub(crate) fn write_json(&self, out: &mut String, attachments: &mut Vec<Bytes>) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => write_number(out, n),
            Value::String(s) => write_json_string(out, s),
            Value::Binary(bytes) => {
                out.push_str(r#"{"_placeholder":true,"num":"#);
                write_u64(out, attachments.len() as u64);
                out.push('}');
                attachments.push(bytes.clone());
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out, attachments);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, key);
                    out.push(':');
                    value.write_json(out, attachments);
                }
                out.push('}');
            }
        }
    }

    /// Replaces placeholder objects by the attachments they name.
    pub(crate) fn resolve_placeholders(self, attachments: &[Bytes]) -> Option<Value> {
        Some(match self {
            Value::Object(members) if is_placeholder(&members) => {
                let num = members.iter().rev().find(|(k, _)| k == "num")?;
                let index = match &num.1 {
                    Value::Number(n) => usize::try_from(n.as_u64()?).ok()?,
                    _ => return None,
                };
                Value::Binary(attachments.get(index)?.clone())
            }
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| Some((k, v.resolve_placeholders(attachments)?)))
                    .collect::<Option<_>>()?,
            ),
            Value::Array(items) => Value::Array(
                items.into_iter().map(|v| v.resolve_placeholders(attachments)).collect::<Option<_>>()?,
            ),
            other => other,
        })
    }
}

fn is_placeholder(members: &[(String, Value)]) -> bool {
    members.iter().rev().find(|(k, _)| k == "_placeholder").is_some_and(|(_, v)| *v == Value::Bool(true))
}

/// Appends a JSON number; integers without going through `fmt`.
fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(v) = n.as_u64() {
        write_u64(out, v);
    } else if let Some(v) = n.as_i64() {
        out.push('-');
        write_u64(out, v.unsigned_abs());
    } else {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(out, "{n}");
    }
}

/// How many decimal digits `v` has.
pub(crate) fn decimal_len(v: u64) -> usize {
    v.checked_ilog10().map_or(1, |log| log as usize + 1)
}

fn number_len(n: &serde_json::Number) -> usize {
    if let Some(v) = n.as_u64() {
        decimal_len(v)
    } else if let Some(v) = n.as_i64() {
        1 + decimal_len(v.unsigned_abs())
    } else {
        n.to_string().len()
    }
}

/// How long `s` is as a JSON string, quotes and escapes included.
pub(crate) fn json_string_len(s: &str) -> usize {
    let mut len = s.len() + 2;
    let mut rest = s.as_bytes();
    loop {
        let clean = crate::json_scan::clean_run(rest);
        let Some((&byte, tail)) = rest.get(clean..).and_then(<[u8]>::split_first) else {
            return len;
        };
        len += match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            _ => 5,
        };
        rest = tail;
    }
}

/// Appends the decimal digits of `v`.
pub(crate) fn write_u64(out: &mut impl std::fmt::Write, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(slot) = digits.get_mut(at) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits are UTF-8; writing into our sinks cannot fail.
    let _ = out.write_str(std::str::from_utf8(digits.get(at..).unwrap_or_default()).unwrap_or_default());
}

/// Appends `s` as a JSON string, escaped as `JSON.stringify` and serde_json do.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    loop {
        let clean = crate::json_scan::clean_run(rest.as_bytes());
        let (run, tail) = rest.split_at_checked(clean).unwrap_or((rest, ""));
        out.push_str(run);
        let Some(byte) = tail.bytes().next() else {
            break;
        };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                let hex = |nibble: u8| char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'));
                out.push(hex(byte >> 4));
                out.push(hex(byte & 0x0f));
            }
        }
        rest = tail.get(1..).unwrap_or_default();
    }
    out.push('"');
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(n.into())
            }
        }
    )*};
}
from_number!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for Value {
    /// Finite numbers become numbers; NaN and infinities become `null`, as in `JSON.stringify`.
    fn from(n: f64) -> Self {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(s.into())
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(b)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((key, value)) = map.next_entry()? {
            members.push((key, value));
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(value: &Value) -> String {
        let mut out = String::new();
        value.write_json(&mut out, &mut Vec::new());
        out
    }

    proptest! {
        #[test]
        fn string_lengths_are_exact(s in any::<String>()) {
            let mut out = String::new();
            write_json_string(&mut out, &s);
            prop_assert_eq!(out.len(), json_string_len(&s));
            prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn number_lengths_are_exact(n in any::<i64>(), u in any::<u64>(), f in any::<f64>()) {
            for value in [Value::from(n), Value::from(u), Value::from(f)] {
                prop_assert_eq!(written(&value).len(), value.json_len(&mut 0));
            }
        }
    }

    #[test]
    fn nested_lengths_are_exact() {
        let value = Value::Array(vec![
            Value::Object(vec![
                ("a\"b".into(), Value::Binary(Bytes::from_static(b"x"))),
                (
                    "c".into(),
                    Value::Array(vec![Value::Null, true.into(), false.into(), Value::Array(vec![])]),
                ),
                ("d".into(), Value::Object(vec![])),
            ]),
            Value::Binary(Bytes::new()),
            "\u{1}\n".into(),
        ]);
        let mut numbered = 0;
        assert_eq!(written(&value).len(), value.json_len(&mut numbered));
        assert_eq!(numbered, 2);
        let mut many = Value::Array((0..12).map(|_| Value::Binary(Bytes::new())).collect());
        assert_eq!(written(&many).len(), many.json_len(&mut 0));
        many = Value::Array(vec![]);
        assert_eq!(written(&many).len(), many.json_len(&mut 0));
    }
}
