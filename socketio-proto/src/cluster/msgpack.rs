//! MessagePack as `notepack.io` writes and reads it: the encoding of the Node Redis
//! adapters' broadcasts. [`encode`] gives the bytes notepack gives for the same value;
//! [`decode`] reads what notepack (or any MessagePack writer) wrote.
//!
//! notepack's choices, which [`encode`] follows: the smallest integer form for integral
//! numbers (also for `1.0`, which JavaScript cannot tell from `1`), `float 64` for every
//! other number, `str 8` from 32 bytes, `bin` for buffers. One deviation: an integral
//! number beyond 64 bits goes as `float 64`, where notepack writes it modulo 2^64. [`decode`] reads JavaScript's
//! way too: timestamps become the ISO strings `Date.toJSON` gives, the legacy `undefined`
//! extension is `null` in arrays and absent from objects, an unknown extension is the
//! array `[type, bytes]`, and numeric map keys become strings. It is strict where notepack
//! is lenient: text that is not UTF-8 and trailing bytes are errors.
//!
//! ```
//! use socketio_proto::Value;
//! use socketio_proto::cluster::msgpack;
//!
//! let value = Value::Array(vec!["hello".into(), 1.into()]);
//! let bytes = msgpack::encode(&value);
//! assert_eq!(bytes, b"\x92\xa5hello\x01");
//! assert_eq!(msgpack::decode(&bytes)?, value);
//! # Ok::<(), msgpack::MsgpackError>(())
//! ```

use bytes::Bytes;
use serde_json::Number;

use crate::Value;

/// How deeply [`decode`] lets arrays and maps nest.
pub const MAX_DEPTH: usize = 128;

/// Why bytes could not be read as MessagePack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    /// The bytes end inside a value.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A byte that starts no value (`0xc1`).
    #[error("invalid type byte 0x{byte:02x} at byte {offset}")]
    InvalidType {
        /// The byte.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// A string that is not UTF-8.
    #[error("a string at byte {0} is not UTF-8")]
    InvalidUtf8(usize),
    /// A map key that is neither a string nor a number.
    #[error("a map key at byte {0} is neither a string nor a number")]
    InvalidKey(usize),
    /// Arrays and maps nest deeper than [`MAX_DEPTH`].
    #[error("nested too deeply")]
    TooDeep,
    /// Bytes after the value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
}

// ---- encoding ----

/// `value` as notepack encodes the same JavaScript value.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends `value`, encoded, to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => encode_number(n, out),
        Value::String(s) => encode_str(s, out),
        Value::Binary(b) => {
            encode_len(b.len(), [0xc4, 0xc5, 0xc6], out);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            encode_container_len(items.len(), 0x90, [0xdc, 0xdd], out);
            for item in items {
                encode_into(item, out);
            }
        }
        Value::Object(entries) => {
            encode_container_len(entries.len(), 0x80, [0xde, 0xdf], out);
            for (key, item) in entries {
                encode_str(key, out);
                encode_into(item, out);
            }
        }
    }
}

/// Appends a string.
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    match u8::try_from(s.len()) {
        Ok(len) if len < 0x20 => out.push(0xa0 | len),
        _ => encode_len(s.len(), [0xd9, 0xda, 0xdb], out),
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends an unsigned integer in its smallest form.
pub fn encode_uint(v: u64, out: &mut Vec<u8>) {
    if let Ok(v) = u8::try_from(v) {
        match v < 0x80 {
            true => out.push(v),
            false => out.extend_from_slice(&[0xcc, v]),
        }
    } else if let Ok(v) = u16::try_from(v) {
        out.push(0xcd);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(v) {
        out.push(0xce);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Appends a negative integer in its smallest form.
fn encode_negative(v: i64, out: &mut Vec<u8>) {
    match i8::try_from(v) {
        Ok(v) if v >= -0x20 => out.extend_from_slice(&v.to_be_bytes()),
        _ => encode_wide_negative(v, out),
    }
}

/// A negative integer below -32.
fn encode_wide_negative(v: i64, out: &mut Vec<u8>) {
    if let Ok(v) = i8::try_from(v) {
        out.push(0xd0);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i16::try_from(v) {
        out.push(0xd1);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i32::try_from(v) {
        out.push(0xd2);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(v) = n.as_u64() {
        return encode_uint(v, out);
    }
    if let Some(v) = n.as_i64() {
        return encode_negative(v, out);
    }
    let v = n.as_f64().unwrap_or(f64::NAN);
    // JavaScript has one number type: an integral value is an integer to notepack.
    // The range checks make the casts exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if v.is_finite() && v.fract() == 0.0 {
        if (0.0..18_446_744_073_709_551_616.0).contains(&v) {
            return encode_uint(v as u64, out);
        }
        if (-9_223_372_036_854_775_808.0..0.0).contains(&v) {
            return encode_negative(v as i64, out);
        }
    }
    out.push(0xcb);
    out.extend_from_slice(&v.to_be_bytes());
}

/// A length as one of three forms: 8, 16 or 32 bits.
fn encode_len(len: usize, markers: [u8; 3], out: &mut Vec<u8>) {
    let [m8, m16, m32] = markers;
    if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[m8, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(m16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// An array or map length: the fix form under 16, else 16 or 32 bits.
fn encode_container_len(len: usize, fix: u8, markers: [u8; 2], out: &mut Vec<u8>) {
    let [m16, m32] = markers;
    match (u8::try_from(len), u16::try_from(len)) {
        (Ok(len), _) if len < 0x10 => out.push(fix | len),
        (_, Ok(len)) => {
            out.push(m16);
            out.extend_from_slice(&len.to_be_bytes());
        }
        _ => {
            out.push(m32);
            out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
}

// ---- decoding ----

/// Reads one MessagePack value that spans all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value, MsgpackError> {
    let mut reader = Reader { bytes, offset: 0 };
    let value = reader.value(0)?.unwrap_or(Value::Null);
    match bytes.len() - reader.offset {
        0 => Ok(value),
        rest => Err(MsgpackError::TrailingBytes(rest)),
    }
}

/// A position in the input.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], MsgpackError> {
        let end = self.offset.checked_add(len).ok_or(MsgpackError::Truncated(self.offset))?;
        let taken = self.bytes.get(self.offset..end).ok_or(MsgpackError::Truncated(self.offset))?;
        self.offset = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MsgpackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MsgpackError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn len(&mut self, width: usize) -> Result<usize, MsgpackError> {
        let len = match width {
            1 => u32::from(self.u8()?),
            2 => u32::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?),
        };
        Ok(usize::try_from(len).unwrap_or(usize::MAX))
    }

    /// One value; `None` for JavaScript's `undefined`.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, MsgpackError> {
        let start = self.offset;
        let marker = self.u8()?;
        let value = match marker {
            0x00..=0x7f => Value::from(u64::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.list(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f))?,
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let len = self.len(1 << (marker - 0xc4))?;
                Value::Binary(Bytes::copy_from_slice(self.take(len)?))
            }
            0xc7..=0xc9 => {
                let len = self.len(1 << (marker - 0xc7))?;
                let kind = i8::from_be_bytes(self.array()?);
                return self.ext(kind, len);
            }
            0xca => float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(u64::from(self.u8()?)),
            0xcd => Value::from(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::from(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Value::from(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::from(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => {
                let kind = i8::from_be_bytes(self.array()?);
                return self.ext(kind, 1 << (marker - 0xd4));
            }
            0xd9..=0xdb => {
                let len = self.len(1 << (marker - 0xd9))?;
                self.str(len)?
            }
            0xdc | 0xdd => {
                let len = self.len(if marker == 0xdc { 2 } else { 4 })?;
                self.list(len, depth)?
            }
            0xde | 0xdf => {
                let len = self.len(if marker == 0xde { 2 } else { 4 })?;
                self.map(len, depth)?
            }
            0xe0..=0xff => Value::from(i64::from(i8::from_be_bytes([marker]))),
            0xc1 => return Err(MsgpackError::InvalidType { byte: marker, offset: start }),
        };
        Ok(Some(value))
    }

    fn str(&mut self, len: usize) -> Result<Value, MsgpackError> {
        let start = self.offset;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(|s| Value::String(s.to_owned()))
            .map_err(|_| MsgpackError::InvalidUtf8(start))
    }

    fn list(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        // Every item takes a byte at least: the length cannot make us reserve more.
        let mut items = Vec::with_capacity(len.min(self.bytes.len() - self.offset));
        for _ in 0..len {
            items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        let mut entries = Vec::with_capacity(len.min(self.bytes.len() - self.offset));
        for _ in 0..len {
            let at = self.offset;
            let key = match self.value(depth + 1)? {
                Some(Value::String(key)) => key,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(MsgpackError::InvalidKey(at)),
            };
            // A key set twice keeps its first place and its last value, as in JavaScript.
            match (self.value(depth + 1)?, entries.iter().position(|(k, _)| *k == key)) {
                (Some(value), Some(index)) => {
                    if let Some(entry) = entries.get_mut(index) {
                        *entry = (key, value);
                    }
                }
                (Some(value), None) => entries.push((key, value)),
                (None, Some(index)) => {
                    entries.remove(index);
                }
                (None, None) => {}
            }
        }
        Ok(Value::Object(entries))
    }

    /// An extension value of `len` bytes, read as notepack reads it.
    fn ext(&mut self, kind: i8, len: usize) -> Result<Option<Value>, MsgpackError> {
        let data = self.take(len)?;
        let value = match (kind, data) {
            // notepack's legacy `undefined`.
            (0, [_]) => return Ok(None),
            // notepack's legacy date: milliseconds as a signed 64-bit integer.
            (0, &[a, b, c, d, e, f, g, h]) => date(i64::from_be_bytes([a, b, c, d, e, f, g, h]) as f64),
            // notepack's legacy ArrayBuffer (in the variable-length forms).
            (0, bytes) => Value::Binary(Bytes::copy_from_slice(bytes)),
            (-1, &[a, b, c, d]) => date(f64::from(u32::from_be_bytes([a, b, c, d])) * 1e3),
            (-1, &[a, b, c, d, e, f, g, h]) => {
                let hi = u32::from_be_bytes([a, b, c, d]);
                let lo = u32::from_be_bytes([e, f, g, h]);
                let seconds = f64::from(hi & 0x3) * 4_294_967_296.0 + f64::from(lo);
                date(seconds * 1e3 + f64::from(hi >> 2) / 1e6)
            }
            (-1, &[n0, n1, n2, n3, s0, s1, s2, s3, s4, s5, s6, s7]) => {
                let nanos = u32::from_be_bytes([n0, n1, n2, n3]);
                let seconds = i64::from_be_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
                date(seconds as f64 * 1e3 + f64::from(nanos) / 1e6)
            }
            (kind, bytes) => {
                Value::Array(vec![Value::from(i64::from(kind)), Value::Binary(Bytes::copy_from_slice(bytes))])
            }
        };
        Ok(Some(value))
    }
}

/// A number as JSON carries it: `null` for what JSON cannot say (NaN, infinities), as
/// `JSON.stringify` writes them.
fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// The most milliseconds from the epoch a JavaScript `Date` holds.
const MAX_DATE_MS: f64 = 8.64e15;

/// A JavaScript date as `Date.toJSON` writes it (`2024-05-01T12:00:00.000Z`), or `null`
/// for an invalid one.
fn date(ms: f64) -> Value {
    // `new Date(x)` truncates its argument toward zero.
    let ms = ms.trunc();
    if !ms.is_finite() || ms.abs() > MAX_DATE_MS {
        return Value::Null;
    }
    // Integral and within ±8.64e15: exact.
    #[allow(clippy::cast_possible_truncation)]
    let ms = ms as i64;
    Value::String(iso_date(ms))
}

/// The date `ms` milliseconds after the epoch as `Date.toJSON` writes it
/// (`2024-05-01T12:00:00.000Z`; years outside 0 to 9999 as `+010000` or `-000001`).
///
/// ```
/// assert_eq!(socketio_proto::cluster::msgpack::iso_date(1_795_521_600_123), "2026-11-24T12:00:00.123Z");
/// ```
pub fn iso_date(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        _ if year < 0 => format!("-{:06}", -year),
        _ => format!("+{year:06}"),
    };
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(json: &str) -> Value {
        Value::Number(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn integers_take_their_smallest_form_floats_take_64_bits() {
        let cases: &[(&str, &[u8])] = &[
            ("0", &[0x00]),
            ("127", &[0x7f]),
            ("128", &[0xcc, 0x80]),
            ("256", &[0xcd, 0x01, 0x00]),
            ("65536", &[0xce, 0, 1, 0, 0]),
            ("4294967296", &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            ("-1", &[0xff]),
            ("-32", &[0xe0]),
            ("-33", &[0xd0, 0xdf]),
            ("-129", &[0xd1, 0xff, 0x7f]),
            ("-32769", &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
            ("-2147483649", &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]),
            ("1.0", &[0x01]),
            ("1e3", &[0xcd, 0x03, 0xe8]),
            ("1.5", &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
        ];
        for (json, bytes) in cases {
            assert_eq!(encode(&num(json)), *bytes, "{json}");
        }
    }

    #[test]
    fn lengths_switch_forms_where_notepack_does() {
        assert_eq!(encode(&Value::String("a".repeat(31)))[0], 0xbf);
        assert_eq!(encode(&Value::String("a".repeat(32)))[..2], [0xd9, 32]);
        assert_eq!(encode(&Value::String("a".repeat(256)))[..3], [0xda, 1, 0]);
        assert_eq!(encode(&Value::Binary(Bytes::from(vec![0; 3])))[..2], [0xc4, 3]);
        assert_eq!(encode(&Value::Array(vec![Value::Null; 15]))[0], 0x9f);
        assert_eq!(encode(&Value::Array(vec![Value::Null; 16]))[..3], [0xdc, 0, 16]);
        let map: Vec<_> = (0..16).map(|i| (i.to_string(), Value::Null)).collect();
        assert_eq!(encode(&Value::Object(map))[..3], [0xde, 0, 16]);
    }

    #[test]
    fn decodes_what_javascript_would_see() {
        // Timestamps: 32, 64 and 96 bits, and notepack's legacy date.
        assert_eq!(decode(&[0xd6, 0xff, 0, 0, 0, 0]).unwrap(), Value::from("1970-01-01T00:00:00.000Z"));
        let ts64 = [0xd7, 0xff, 0x1d, 0xcd, 0x65, 0x00, 0x65, 0x92, 0x00, 0x80];
        assert_eq!(decode(&ts64).unwrap(), Value::from("2024-01-01T00:00:00.125Z"));
        let mut ts96 = vec![0xc7, 12, 0xff, 0, 0, 0, 0];
        ts96.extend_from_slice(&(-86_400i64).to_be_bytes());
        assert_eq!(decode(&ts96).unwrap(), Value::from("1969-12-31T00:00:00.000Z"));
        let mut legacy = vec![0xd7, 0x00];
        legacy.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        assert_eq!(decode(&legacy).unwrap(), Value::from("2023-11-14T22:13:20.123Z"));
        // undefined: null in an array, absent from an object.
        assert_eq!(decode(&[0x91, 0xd4, 0, 0]).unwrap(), Value::Array(vec![Value::Null]));
        assert_eq!(decode(&[0x81, 0xa1, b'a', 0xd4, 0, 0]).unwrap(), Value::Object(vec![]));
        // Other extensions: [type, bytes]; numeric keys: strings; float NaN: null.
        assert_eq!(
            decode(&[0xd4, 5, 9]).unwrap(),
            Value::Array(vec![5.into(), Value::Binary(Bytes::from_static(&[9]))])
        );
        assert_eq!(decode(&[0x81, 0x07, 0xc3]).unwrap(), Value::Object(vec![("7".into(), true.into())]));
        assert_eq!(decode(&[0xca, 0x7f, 0xc0, 0, 0]).unwrap(), Value::Null);
    }

    #[test]
    fn hostile_input_is_an_error_never_a_panic_or_a_huge_allocation() {
        assert_eq!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]), Err(MsgpackError::Truncated(5)));
        assert_eq!(decode(&[0xc6, 0xff, 0xff, 0xff, 0xff]), Err(MsgpackError::Truncated(5)));
        assert_eq!(decode(&[0xc1]), Err(MsgpackError::InvalidType { byte: 0xc1, offset: 0 }));
        assert_eq!(decode(&[0xa1, 0xff]), Err(MsgpackError::InvalidUtf8(1)));
        assert_eq!(decode(&[0xc0, 0xc0]), Err(MsgpackError::TrailingBytes(1)));
        assert_eq!(decode(&[0x81, 0x90, 0xc0]), Err(MsgpackError::InvalidKey(1)));
        assert_eq!(decode(&[0x91; 200]), Err(MsgpackError::TooDeep));
        assert_eq!(decode(&[]), Err(MsgpackError::Truncated(0)));
    }

    #[test]
    fn dates_outside_four_digit_years_use_the_extended_form() {
        assert_eq!(date(-62_198_755_200_000.0), Value::from("-000001-01-01T00:00:00.000Z"));
        assert_eq!(date(253_402_300_800_000.0), Value::from("+010000-01-01T00:00:00.000Z"));
        assert_eq!(date(8.64e15 + 1.0), Value::Null);
    }
}
