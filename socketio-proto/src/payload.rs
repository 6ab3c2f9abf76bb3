//! Packet payloads: raw JSON text plus binary attachments.

use std::borrow::Cow;

use bytes::Bytes;
use bytestring::ByteString;
use serde::{Serialize, de::DeserializeOwned};

use crate::args::{Args, ArgsDeserializer, ArgsWriter, RawArgs};
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
/// let payload = Payload::event("chat message", &"hello").unwrap();
/// assert_eq!(payload.json(), r#"["chat message","hello"]"#);
/// assert_eq!(payload.event_name().as_deref(), Some("chat message"));
/// let text: String = payload.args().unwrap();
/// assert_eq!(text, "hello");
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

    /// The payload of an event: `[name, ...args]`, with the [arguments rule](crate::args):
    /// a tuple spreads into several arguments, `()` is none, any other value is one argument;
    /// binary data inside goes as attachments.
    pub fn event<A: Args + ?Sized>(name: &str, args: &A) -> Result<Self, EncodeError> {
        args.event_payload(name)
    }

    /// The payload of an event with dynamic arguments, one per element of `args`; binary
    /// values go as attachments without being copied.
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

    /// Takes the output of the argument encoder.
    pub(crate) fn from_writer(writer: ArgsWriter) -> Result<Self, EncodeError> {
        let json = String::from_utf8(writer.json).map_err(|_| {
            <serde_json::Error as serde::ser::Error>::custom("the encoder wrote invalid UTF-8")
        })?;
        Ok(Payload { json: json.into(), attachments: writer.attachments })
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

    /// An event's arguments, typed, with the [arguments rule](crate::args): a tuple takes one
    /// argument per element, `()` none, any other type the first argument. Binary
    /// attachments fill `bytes::Bytes` (or `Vec<u8>`) fields.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.read_args(true)
    }

    /// The arguments of an array payload (an ack's, `[...args]`), typed with the same rule
    /// as [`Payload::args`].
    pub fn array_args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.read_args(false)
    }

    fn read_args<T: DeserializeOwned>(&self, skip_name: bool) -> Result<T, serde_json::Error> {
        if self.attachments.is_empty() {
            let mut json = serde_json::Deserializer::from_str(&self.json);
            let value = T::deserialize(ArgsDeserializer { inner: &mut json, skip_name })?;
            json.end()?;
            return Ok(value);
        }
        let value = self.to_value().map_err(<serde_json::Error as serde::de::Error>::custom)?;
        T::deserialize(ArgsDeserializer { inner: value, skip_name })
    }

    /// An event's arguments as they are, to forward without parsing (see [`RawArgs`]).
    pub fn raw_args(&self) -> RawArgs {
        RawArgs::new(self.args_or_empty())
    }

    /// An event's arguments as dynamic values, binary attachments in place.
    pub fn arg_values(&self) -> Result<Vec<Value>, DecodeError> {
        match self.args_or_empty().to_value()? {
            Value::Array(items) => Ok(items),
            other => Ok(vec![other]),
        }
    }

    /// The payload of an ack (`[...args]`), with the [arguments rule](crate::args).
    pub fn ack_args<A: Args + ?Sized>(args: &A) -> Result<Self, EncodeError> {
        args.ack_payload()
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

    /// The payload with `text` appended as its last element (an array payload's JSON ends
    /// in `]`): how a stored packet carries its recovery offset. Attachments stay shared.
    pub fn with_trailing_string(&self, text: &str) -> Payload {
        let body = self.json.trim_end();
        let Some(open) = body.strip_suffix(']') else {
            return self.clone();
        };
        let empty = open.trim_end().ends_with('[');
        let mut json = String::with_capacity(body.len() + json_string_len(text) + 1);
        json.push_str(open);
        if !empty {
            json.push(',');
        }
        write_json_string(&mut json, text);
        json.push(']');
        Payload { json: json.into(), attachments: self.attachments.clone() }
    }

    /// Splits off the last element when it is a string: the payload without it, and the
    /// string (a recovery offset the server appended). `None` otherwise.
    pub fn split_trailing_string(&self) -> Option<(Payload, String)> {
        let (range, escaped, cut) = json_scan::trailing_string(self.json.as_bytes())?;
        let text = string_at(&self.json, range, escaped)?.into_owned();
        let mut json = String::with_capacity(cut + 1);
        json.push_str(self.json.get(..cut)?);
        json.push(']');
        Some((Payload { json: json.into(), attachments: self.attachments.clone() }, text))
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

pub(crate) fn check_event_name(name: &str) -> Result<(), EncodeError> {
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
