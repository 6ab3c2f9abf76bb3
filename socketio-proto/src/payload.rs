//! Packet payloads: raw JSON text plus binary attachments.

use std::borrow::Cow;

use bytes::Bytes;
use bytestring::ByteString;
use serde::{Serialize, de::DeserializeOwned};

use crate::json_scan::{self, JsonError};
use crate::value::{json_string_len, write_json_string};
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
        let json = serde_json::to_string(value)?;
        Ok(Payload { json: json.into(), attachments: Vec::new() })
    }

    /// Encodes a dynamic value, binary parts as attachments.
    pub fn from_value(value: &Value) -> Self {
        let mut json = String::with_capacity(value.json_len(&mut 0));
        let mut attachments = Vec::new();
        value.write_json(&mut json, &mut attachments);
        Payload { json: json.into(), attachments }
    }

    /// The payload of an event: `[name, ...args]`, where `args` serializes to a JSON array
    /// (a tuple, a slice, a `Vec`), or to `null` (`()`) for no arguments.
    pub fn event<T: Serialize + ?Sized>(name: &str, args: &T) -> Result<Self, EncodeError> {
        check_event_name(name)?;
        let args = serde_json::to_string(args)?;
        let inner = if args == "null" {
            ""
        } else {
            args.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or(EncodeError::ArgumentsNotArray)?
        };
        Ok(Payload { json: event_json(name, inner).into(), attachments: Vec::new() })
    }

    /// The payload of an event with dynamic arguments that may hold binary data.
    pub fn event_values(name: &str, args: &[Value]) -> Result<Self, EncodeError> {
        check_event_name(name)?;
        let mut numbered = 0;
        let len =
            2 + json_string_len(name) + args.iter().map(|a| 1 + a.json_len(&mut numbered)).sum::<usize>();
        let mut json = String::with_capacity(len);
        let mut attachments = Vec::new();
        json.push('[');
        write_json_string(&mut json, name);
        for arg in args {
            json.push(',');
            arg.write_json(&mut json, &mut attachments);
        }
        json.push(']');
        Ok(Payload { json: json.into(), attachments })
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

    /// [`Payload::event_args`], or `[]` when this is not an event payload.
    pub fn args_or_empty(&self) -> Payload {
        self.event_args()
            .unwrap_or_else(|| Payload { json: ByteString::from_static("[]"), attachments: Vec::new() })
    }

    /// An event's arguments, typed (usually a tuple, one element per argument).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.args_or_empty().deserialize()
    }

    /// An event's arguments as dynamic values, binary attachments in place.
    pub fn arg_values(&self) -> Result<Vec<Value>, DecodeError> {
        match self.args_or_empty().to_value()? {
            Value::Array(items) => Ok(items),
            other => Ok(vec![other]),
        }
    }

    /// The arguments of an ack: `args` serializes to a JSON array (a tuple, slice, `Vec`),
    /// or to `null` (`()`) for none.
    pub fn ack_args<T: Serialize + ?Sized>(args: &T) -> Result<Self, EncodeError> {
        let json = serde_json::to_string(args)?;
        if json == "null" {
            return Ok(Payload { json: ByteString::from_static("[]"), attachments: Vec::new() });
        }
        if !(json.starts_with('[') && json.ends_with(']')) {
            return Err(EncodeError::ArgumentsNotArray);
        }
        Ok(Payload { json: json.into(), attachments: Vec::new() })
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
        Ok(Payload { json: event_json(name, inner).into(), attachments: args.attachments.clone() })
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
    /// Reads only that element.
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        let (range, escaped) = json_scan::leading_string(self.json.as_bytes())?;
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

/// `[name,inner]`, or `[name]` when `inner` is blank.
fn event_json(name: &str, inner: &str) -> String {
    let inner_len = if inner.trim().is_empty() { 0 } else { inner.len() + 1 };
    let mut json = String::with_capacity(2 + json_string_len(name) + inner_len);
    json.push('[');
    write_json_string(&mut json, name);
    if !inner.trim().is_empty() {
        json.push(',');
        json.push_str(inner);
    }
    json.push(']');
    json
}

pub(crate) fn json_error(error: JsonError) -> DecodeError {
    match error {
        JsonError::Syntax(offset) => DecodeError::InvalidJson { offset },
        JsonError::TooDeep => DecodeError::PayloadTooDeep,
        JsonError::PlaceholderIndex => DecodeError::InvalidPlaceholder,
    }
}
