//! Packet payloads: raw JSON text plus binary attachments.

use std::borrow::Cow;

use bytes::Bytes;
use bytestring::ByteString;
use serde::{Serialize, de::DeserializeOwned};

use crate::json_scan::{self, JsonError};
use crate::{DecodeError, EncodeError, Value};

/// Event names with a meaning of their own, which applications may not emit or receive.
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// Whether `name` is one of the [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// The data of a packet: JSON text kept as received, plus the binary attachments its
/// placeholders (`{"_placeholder":true,"num":N}`) refer to.
///
/// Nothing is parsed until asked: a payload can be forwarded to other sockets as it is.
///
/// ```
/// use socketio_proto::Payload;
///
/// let payload = Payload::event("chat message", &("hello",)).unwrap();
/// assert_eq!(payload.json(), r#"["chat message","hello"]"#);
/// assert_eq!(payload.event_name().as_deref(), Some("chat message"));
/// let (name, text): (String, String) = payload.deserialize().unwrap();
/// assert_eq!((name.as_str(), text.as_str()), ("chat message", "hello"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Payload {
    json: ByteString,
    attachments: Vec<Bytes>,
}

impl Payload {
    /// Wraps JSON text the caller vouches for, with its attachments.
    pub(crate) fn from_parts(json: ByteString, attachments: Vec<Bytes>) -> Self {
        Payload { json, attachments }
    }

    /// Wraps JSON text after checking that it is valid JSON.
    pub fn from_json(json: impl Into<ByteString>) -> Result<Self, DecodeError> {
        let json = json.into();
        json_scan::scan(json.as_bytes(), None).map_err(json_error)?;
        Ok(Payload { json, attachments: Vec::new() })
    }

    /// Serializes `value` as JSON (with no binary attachments).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, EncodeError> {
        let json = serde_json::to_vec(value)?;
        Ok(Payload { json: into_text(json), attachments: Vec::new() })
    }

    /// Encodes a dynamic value, binary parts as attachments.
    pub fn from_value(value: &Value) -> Self {
        let mut json = Vec::new();
        let mut attachments = Vec::new();
        value.write_json(&mut json, &mut attachments);
        Payload { json: into_text(json), attachments }
    }

    /// The payload of an event: `[name, ...args]`, where `args` serializes to a JSON array
    /// (a tuple, a slice, a `Vec`), or to `null` (`()`) for no arguments.
    pub fn event<T: Serialize + ?Sized>(name: &str, args: &T) -> Result<Self, EncodeError> {
        check_event_name(name)?;
        let args = serde_json::to_vec(args)?;
        let inner: &[u8] = if args == b"null" {
            b""
        } else {
            args.strip_prefix(b"[")
                .and_then(|rest| rest.strip_suffix(b"]"))
                .ok_or(EncodeError::ArgumentsNotArray)?
        };
        let mut json = Vec::with_capacity(name.len() + args.len() + 4);
        json.push(b'[');
        serde_json::to_writer(&mut json, name)?;
        if !inner.is_empty() {
            json.push(b',');
            json.extend_from_slice(inner);
        }
        json.push(b']');
        Ok(Payload { json: into_text(json), attachments: Vec::new() })
    }

    /// The payload of an event with dynamic arguments that may hold binary data.
    pub fn event_values(name: &str, args: &[Value]) -> Result<Self, EncodeError> {
        check_event_name(name)?;
        let mut items = Vec::with_capacity(args.len() + 1);
        items.push(Value::from(name));
        items.extend_from_slice(args);
        Ok(Payload::from_value(&Value::Array(items)))
    }

    /// The arguments of an event payload (`[name, ...args]` becomes `[...args]`), without
    /// parsing them; attachments stay shared. `None` when this is not an event payload.
    pub fn event_args(&self) -> Option<Payload> {
        let (at, more) = json_scan::after_first_element(self.json.as_bytes())?;
        let json = if more {
            let mut json = String::with_capacity(self.json.len() + 1 - at);
            json.push('[');
            json.push_str(self.json.get(at..)?);
            ByteString::from(json)
        } else {
            ByteString::from_static("[]")
        };
        Some(Payload { json, attachments: self.attachments.clone() })
    }

    /// The payload of event `name` whose arguments are the array `args` (see
    /// [`Payload::event_args`]), without parsing them.
    pub fn event_with_args(name: &str, args: &Payload) -> Result<Self, EncodeError> {
        check_event_name(name)?;
        let inner = args
            .json
            .trim()
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .ok_or(EncodeError::ArgumentsNotArray)?;
        let mut json = Vec::with_capacity(name.len() + args.json.len() + 4);
        json.push(b'[');
        serde_json::to_writer(&mut json, name)?;
        if !inner.trim().is_empty() {
            json.push(b',');
            json.extend_from_slice(inner.as_bytes());
        }
        json.push(b']');
        Ok(Payload { json: into_text(json), attachments: args.attachments.clone() })
    }

    /// The JSON text, with placeholders where binary attachments go.
    pub fn json(&self) -> &ByteString {
        &self.json
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Adds a received attachment.
    pub(crate) fn push_attachment(&mut self, bytes: Bytes) {
        self.attachments.push(bytes);
    }

    /// Whether the payload carries binary attachments.
    pub fn has_binary(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// Parses the JSON text into `T`. Placeholders appear as the objects they are.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.json)
    }

    /// Parses the payload into a dynamic [`Value`], with attachments put in place.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        let value: Value = serde_json::from_str(&self.json)
            .map_err(|e| DecodeError::InvalidJson { offset: e.column().saturating_sub(1) })?;
        if self.attachments.is_empty() {
            return Ok(value);
        }
        value.resolve_placeholders(&self.attachments).ok_or(DecodeError::InvalidPlaceholder)
    }

    /// The event name, when the payload is an array whose first element is a string.
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        let outline = json_scan::scan(self.json.as_bytes(), None).ok()?;
        let (range, escaped) = outline.first?.string?;
        string_at(&self.json, range, escaped)
    }
}

/// The contents of the JSON string whose contents span `range` of `json`, unescaped.
pub(crate) fn string_at(json: &str, range: std::ops::Range<usize>, escaped: bool) -> Option<Cow<'_, str>> {
    if !escaped {
        return json.get(range).map(Cow::Borrowed);
    }
    let quoted = json.get(range.start.checked_sub(1)?..range.end + 1)?;
    serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
}

fn check_event_name(name: &str) -> Result<(), EncodeError> {
    if is_reserved_event(name) { Err(EncodeError::ReservedEventName(name.to_owned())) } else { Ok(()) }
}

fn into_text(json: Vec<u8>) -> ByteString {
    // serde_json and our writer only produce UTF-8.
    ByteString::try_from(Bytes::from(json)).unwrap_or_default()
}

pub(crate) fn json_error(error: JsonError) -> DecodeError {
    match error {
        JsonError::Syntax(offset) => DecodeError::InvalidJson { offset },
        JsonError::TooDeep => DecodeError::PayloadTooDeep,
        JsonError::PlaceholderIndex => DecodeError::InvalidPlaceholder,
    }
}
