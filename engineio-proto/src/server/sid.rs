//! Session ids.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An Engine.IO session id: 128 random bits, written as 22 characters of base64url.
///
/// The bits come from the [`SidSource`](crate::server::SidSource) the server was given;
/// adapters pass a CSPRNG, tests a counter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(u128);

impl Sid {
    /// Length of the text form.
    pub const LEN: usize = 22;

    /// The id with these bits.
    pub const fn from_u128(bits: u128) -> Self {
        Sid(bits)
    }

    /// The id's bits.
    pub const fn to_u128(self) -> u128 {
        self.0
    }

    /// Parses the text form; `None` for anything that is not exactly a sid.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != Self::LEN {
            return None;
        }
        let mut bytes = [0u8; 16];
        let written = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).ok()?;
        let sid = Sid(u128::from_be_bytes(bytes));
        // Reject non-canonical spellings (different trailing bits) so one sid has one name.
        (written == 16 && sid.to_string() == text).then_some(sid)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; Self::LEN];
        let written = URL_SAFE_NO_PAD.encode_slice(self.0.to_be_bytes(), &mut out).unwrap_or(0);
        f.write_str(std::str::from_utf8(out.get(..written).unwrap_or_default()).unwrap_or_default())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for bits in [0, 1, u128::MAX, 0x0123_4567_89ab_cdef_0011_2233_4455_6677] {
            let sid = Sid::from_u128(bits);
            let text = sid.to_string();
            assert_eq!(text.len(), Sid::LEN);
            assert_eq!(Sid::parse(&text), Some(sid));
        }
    }

    #[test]
    fn anything_else_is_not_a_sid() {
        for text in [
            "",
            "__proto__",
            "constructor",
            "toString",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "+AAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(Sid::parse(text), None, "{text:?}");
        }
        assert_eq!(Sid::parse(&"A".repeat(10_000)), None);
    }
}
