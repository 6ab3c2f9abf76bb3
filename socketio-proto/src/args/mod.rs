//! Event and ack arguments: how a Rust value becomes arguments on the wire, and back.
//!
//! One rule, for emits, acks, broadcasts and the client alike:
//!
//! | the value | the arguments |
//! |---|---|
//! | `()` | none |
//! | a tuple `(a, b, ...)` (or a fixed-size array `[T; N]`, which serde treats as one) | one per element |
//! | anything else: a string, a number, a struct, a `Vec`, a map, a `Value` | exactly one |
//!
//! Binary data anywhere inside (a `bytes::Bytes` field, a `Vec<u8>` marked with
//! `serde_bytes`, a [`Value::Binary`](crate::Value::Binary)) goes as a binary attachment,
//! and comes back into such a field.
//!
//! ```
//! use socketio_proto::Payload;
//!
//! assert_eq!(Payload::event("hi", &"there")?.json(), r#"["hi","there"]"#);
//! assert_eq!(Payload::event("hi", &vec![1, 2])?.json(), r#"["hi",[1,2]]"#);
//! assert_eq!(Payload::event("hi", &(1, "a"))?.json(), r#"["hi",1,"a"]"#);
//! assert_eq!(Payload::event("hi", &())?.json(), r#"["hi"]"#);
//!
//! let payload = Payload::event("hi", &(1, "a"))?;
//! let first: u32 = payload.args()?; // one type: the first argument
//! let (n, s): (u32, String) = payload.args()?; // a tuple: one per argument
//! assert_eq!((first, n, s.as_str()), (1, 1, "a"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod shape;

use serde::Serialize;
use serde::de::{Deserialize, Deserializer, Visitor};
use serde::ser::{SerializeTuple, Serializer};

pub(crate) use decode::ArgsDeserializer;
pub(crate) use encode::ArgsWriter;

use crate::{EncodeError, Payload};

/// What can be sent as the arguments of an event or an ack: any serializable value (see the
/// [module rule](self)), or [`RawArgs`] received earlier and forwarded without parsing.
pub trait Args {
    /// The payload of event `name` with these arguments: `[name, ...args]`.
    fn event_payload(&self, name: &str) -> Result<Payload, EncodeError>;
    /// The payload of an ack with these arguments: `[...args]`.
    fn ack_payload(&self) -> Result<Payload, EncodeError>;
}

impl<T: Serialize + ?Sized> Args for T {
    fn event_payload(&self, name: &str) -> Result<Payload, EncodeError> {
        crate::payload::check_event_name(name)?;
        let mut prefix = Vec::with_capacity(name.len() + 32);
        prefix.push(b'[');
        serde_json::to_writer(&mut prefix, name)?;
        let mut writer = ArgsWriter::new(prefix);
        writer.write(self, true)?;
        writer.json.push(b']');
        Payload::from_writer(writer)
    }

    fn ack_payload(&self) -> Result<Payload, EncodeError> {
        let mut writer = ArgsWriter::new(Vec::from(*b"["));
        writer.write(self, false)?;
        writer.json.push(b']');
        Payload::from_writer(writer)
    }
}

/// Arguments as they were received (the JSON array and its attachments), to send on
/// without parsing: `io.to(room).emit("tick", &message.raw_args())`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArgs(Payload);

impl RawArgs {
    /// Wraps an array payload (`[...args]`).
    pub(crate) fn new(array: Payload) -> Self {
        RawArgs(array)
    }

    /// The arguments as one array payload, `[...args]`.
    pub fn as_payload(&self) -> &Payload {
        &self.0
    }
}

impl Args for RawArgs {
    fn event_payload(&self, name: &str) -> Result<Payload, EncodeError> {
        Payload::event_with_args(name, &self.0)
    }

    fn ack_payload(&self) -> Result<Payload, EncodeError> {
        Ok(self.0.clone())
    }
}

/// Every argument as one sequence: received, `Spread<Vec<T>>` reads all the arguments
/// (where a `Vec<T>` alone would read the first argument as a list); sent, `Spread(vec)`
/// sends each element as its own argument.
///
/// ```
/// use socketio_proto::{Payload, args::Spread};
///
/// let payload = Payload::event("e", &Spread(vec![1, 2, 3]))?;
/// assert_eq!(payload.json(), r#"["e",1,2,3]"#);
/// let Spread(all): Spread<Vec<u32>> = payload.args()?;
/// assert_eq!(all, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spread<T>(pub T);

/// The newtype name the argument reader recognises.
pub(crate) const SPREAD: &str = "$socketio::Spread";

impl<T: Serialize> Serialize for Spread<Vec<T>> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for item in &self.0 {
            tuple.serialize_element(item)?;
        }
        tuple.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spread<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpreadVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpreadVisitor<T> {
            type Value = Spread<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("arguments")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Spread<T>, D::Error> {
                T::deserialize(d).map(Spread)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Spread<T>, A::Error> {
                T::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Spread)
            }
        }
        deserializer.deserialize_newtype_struct(SPREAD, SpreadVisitor(std::marker::PhantomData))
    }
}
