//! Reading arguments with the rule they were written with: a tuple takes one argument per
//! element, `()` takes none, any other type takes the first argument. Extra arguments are
//! ignored, as JavaScript ignores them; a missing one is an error, unless the type is an
//! `Option` (then it is `None`).
//!
//! [`ArgsDeserializer`] wraps the deserializer of the whole array (`[name, ...args]` with the
//! name skipped, or an ack's `[...args]`), so typed arguments are read straight out of the
//! received text: nothing is copied first.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::fmt;

/// Deserializes the arguments held in the array `inner` deserializes.
pub(crate) struct ArgsDeserializer<D> {
    pub(crate) inner: D,
    /// Whether the array starts with an event name to skip.
    pub(crate) skip_name: bool,
}

/// The deserializer method the target type called, replayed on the first argument.
#[derive(Clone, Copy)]
enum Hint {
    Any,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    String,
    Bytes,
    ByteBuf,
    Option,
    UnitStruct(&'static str),
    NewtypeStruct(&'static str),
    Seq,
    TupleStruct(&'static str, usize),
    Map,
    Struct(&'static str, &'static [&'static str]),
    Enum(&'static str, &'static [&'static str]),
    Identifier,
    IgnoredAny,
}

macro_rules! first_argument {
    ($($method:ident => $hint:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.first(visitor, $hint)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ArgsDeserializer<D> {
    type Error = D::Error;

    first_argument! {
        deserialize_any => Hint::Any;
        deserialize_bool => Hint::Bool;
        deserialize_i8 => Hint::I8;
        deserialize_i16 => Hint::I16;
        deserialize_i32 => Hint::I32;
        deserialize_i64 => Hint::I64;
        deserialize_i128 => Hint::I128;
        deserialize_u8 => Hint::U8;
        deserialize_u16 => Hint::U16;
        deserialize_u32 => Hint::U32;
        deserialize_u64 => Hint::U64;
        deserialize_u128 => Hint::U128;
        deserialize_f32 => Hint::F32;
        deserialize_f64 => Hint::F64;
        deserialize_char => Hint::Char;
        deserialize_str => Hint::Str;
        deserialize_string => Hint::String;
        deserialize_bytes => Hint::Bytes;
        deserialize_byte_buf => Hint::ByteBuf;
        deserialize_option => Hint::Option;
        deserialize_seq => Hint::Seq;
        deserialize_map => Hint::Map;
        deserialize_identifier => Hint::Identifier;
        deserialize_ignored_any => Hint::IgnoredAny;
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_seq(Spread { visitor: UnitVisitor(visitor), skip_name: self.skip_name })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.first(visitor, Hint::UnitStruct(name))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name == super::SPREAD {
            return self.inner.deserialize_seq(Rest { visitor, skip_name: self.skip_name });
        }
        self.first(visitor, Hint::NewtypeStruct(name))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_seq(Spread { visitor, skip_name: self.skip_name })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.first(visitor, Hint::TupleStruct(name, len))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.first(visitor, Hint::Struct(name, fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.first(visitor, Hint::Enum(name, variants))
    }
}

impl<'de, D: Deserializer<'de>> ArgsDeserializer<D> {
    fn first<V: Visitor<'de>>(self, visitor: V, hint: Hint) -> Result<V::Value, D::Error> {
        self.inner.deserialize_seq(First { visitor, hint, skip_name: self.skip_name })
    }
}

/// Skips the name, if any; afterwards, ignores the arguments nobody read.
fn skip_name<'de, A: SeqAccess<'de>>(seq: &mut A, skip: bool) -> Result<(), A::Error> {
    if skip {
        seq.next_element::<IgnoredAny>()?;
    }
    Ok(())
}

fn drain<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Hands the arguments to a tuple's visitor as its elements.
struct Spread<V> {
    visitor: V,
    skip_name: bool,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Spread<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        skip_name(&mut seq, self.skip_name)?;
        let value = self.visitor.visit_seq(&mut seq)?;
        drain(&mut seq)?;
        Ok(value)
    }
}

/// Hands every argument to a [`Spread`](super::Spread) as one sequence.
struct Rest<V> {
    visitor: V,
    skip_name: bool,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Rest<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        skip_name(&mut seq, self.skip_name)?;
        let value =
            self.visitor.visit_newtype_struct(serde::de::value::SeqAccessDeserializer::new(&mut seq))?;
        drain(&mut seq)?;
        Ok(value)
    }
}

/// `()` reads no argument: it visits an empty sequence's worth of nothing.
struct UnitVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for UnitVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no argument")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        drain(&mut seq)?;
        self.0.visit_unit()
    }
}

/// Reads the first argument with the method the target type asked for.
struct First<V> {
    visitor: V,
    hint: Hint,
    skip_name: bool,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for First<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        skip_name(&mut seq, self.skip_name)?;
        let mut visitor = Some(self.visitor);
        let value = seq.next_element_seed(HintSeed { visitor: &mut visitor, hint: self.hint })?;
        drain(&mut seq)?;
        match (value, visitor) {
            (Some(value), _) => Ok(value),
            // No argument at all: an `Option` is `None`, anything else is missing.
            (None, Some(visitor)) if matches!(self.hint, Hint::Option) => visitor.visit_none(),
            (None, _) => Err(de::Error::invalid_length(0, &"one argument")),
        }
    }
}

struct HintSeed<'v, V> {
    visitor: &'v mut Option<V>,
    hint: Hint,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for HintSeed<'_, V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let Some(v) = self.visitor.take() else {
            return Err(de::Error::custom("argument visited twice"));
        };
        match self.hint {
            Hint::Any => d.deserialize_any(v),
            Hint::Bool => d.deserialize_bool(v),
            Hint::I8 => d.deserialize_i8(v),
            Hint::I16 => d.deserialize_i16(v),
            Hint::I32 => d.deserialize_i32(v),
            Hint::I64 => d.deserialize_i64(v),
            Hint::I128 => d.deserialize_i128(v),
            Hint::U8 => d.deserialize_u8(v),
            Hint::U16 => d.deserialize_u16(v),
            Hint::U32 => d.deserialize_u32(v),
            Hint::U64 => d.deserialize_u64(v),
            Hint::U128 => d.deserialize_u128(v),
            Hint::F32 => d.deserialize_f32(v),
            Hint::F64 => d.deserialize_f64(v),
            Hint::Char => d.deserialize_char(v),
            Hint::Str => d.deserialize_str(v),
            Hint::String => d.deserialize_string(v),
            Hint::Bytes => d.deserialize_bytes(v),
            Hint::ByteBuf => d.deserialize_byte_buf(v),
            Hint::Option => d.deserialize_option(v),
            Hint::UnitStruct(name) => d.deserialize_unit_struct(name, v),
            Hint::NewtypeStruct(name) => d.deserialize_newtype_struct(name, v),
            Hint::Seq => d.deserialize_seq(v),
            Hint::TupleStruct(name, len) => d.deserialize_tuple_struct(name, len, v),
            Hint::Map => d.deserialize_map(v),
            Hint::Struct(name, fields) => d.deserialize_struct(name, fields, v),
            Hint::Enum(name, variants) => d.deserialize_enum(name, variants, v),
            Hint::Identifier => d.deserialize_identifier(v),
            Hint::IgnoredAny => d.deserialize_ignored_any(v),
        }
    }
}
