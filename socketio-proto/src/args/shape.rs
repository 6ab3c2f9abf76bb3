//! Which form a value's arguments take: a tuple spreads into several arguments, `()` is
//! none, anything else is one argument.

use serde::ser::{self, Impossible, Serialize, Serializer};
use std::fmt;

/// How a value becomes event or ack arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `()`: no argument.
    None,
    /// A tuple (or a fixed-size array, which serde serializes as one): one argument each.
    Spread,
    /// Anything else: the value is the one argument.
    One,
}

impl Shape {
    /// Asks `value` which serializer method it calls first, and stops there: a derived
    /// `Serialize` returns at once, nothing is written.
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Shape {
        match value.serialize(Probe) {
            Err(Found(shape)) => shape,
            Ok(never) => match never {},
        }
    }
}

/// What the probe found, carried out as its "error".
#[derive(Debug)]
struct Found(Shape);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl ser::Error for Found {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Found(Shape::One)
    }
}

enum Never {}

struct Probe;

macro_rules! one {
    ($($method:ident($($arg:ty),*);)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Never, Found> {
            Err(Found(Shape::One))
        }
    )*};
}

impl Serializer for Probe {
    type Ok = Never;
    type Error = Found;
    type SerializeSeq = Impossible<Never, Found>;
    type SerializeTuple = Impossible<Never, Found>;
    type SerializeTupleStruct = Impossible<Never, Found>;
    type SerializeTupleVariant = Impossible<Never, Found>;
    type SerializeMap = Impossible<Never, Found>;
    type SerializeStruct = Impossible<Never, Found>;
    type SerializeStructVariant = Impossible<Never, Found>;

    one! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_unit(self) -> Result<Never, Found> {
        Err(Found(Shape::None))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Never, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<Never, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Never, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Found> {
        Err(Found(Shape::Spread))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Found> {
        Err(Found(Shape::One))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Found> {
        Err(Found(Shape::One))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_spread_unit_is_none_everything_else_is_one() {
        assert_eq!(Shape::of(&()), Shape::None);
        assert_eq!(Shape::of(&(1, "a")), Shape::Spread);
        assert_eq!(Shape::of(&(1,)), Shape::Spread);
        assert_eq!(Shape::of(&[1, 2]), Shape::Spread);
        assert_eq!(Shape::of("hi"), Shape::One);
        assert_eq!(Shape::of(&vec![1, 2]), Shape::One);
        assert_eq!(Shape::of(&[1, 2][..]), Shape::One);
        assert_eq!(Shape::of(&Option::<u8>::None), Shape::One);
        assert_eq!(Shape::of(&serde_json::json!({"a": 1})), Shape::One);
        assert_eq!(Shape::of(&bytes::Bytes::from_static(b"x")), Shape::One);
    }
}
