//! A validating JSON scanner: checks RFC 8259 syntax and reports the little the decoder
//! needs (the top-level shape, the first array element, binary placeholders) without
//! building any value.

use std::ops::Range;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 512;

/// Why a JSON text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON (the byte offset of the first offending byte).
    Syntax(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A placeholder's `num` is not a non-negative integer below the attachment count.
    PlaceholderIndex,
}

/// The type of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// What the scanner learned about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: JsonKind,
    /// For a string: the range of its contents (between the quotes) and whether it has escapes.
    pub(crate) string: Option<(Range<usize>, bool)>,
    /// For a number written as a non-negative integer that fits a `u64`: its value.
    integer: Option<u64>,
    /// For a `true` literal.
    is_true: bool,
}

/// The outline of a whole JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outline {
    /// The top-level value's type.
    pub(crate) kind: JsonKind,
    /// For a top-level array: its first element, if any.
    pub(crate) first: Option<Token>,
}

/// Scans `text` as one JSON value surrounded by optional whitespace.
///
/// With `placeholders`, every object whose `_placeholder` is `true` must have a `num`
/// that indexes the slice, and the slot is set to `true`.
pub(crate) fn scan(text: &[u8], placeholders: Option<&mut [bool]>) -> Result<Outline, JsonError> {
    let mut scanner = Scanner { bytes: text, pos: 0, placeholders };
    scanner.skip_whitespace();
    let (token, first) = scanner.value(0, true)?;
    scanner.skip_whitespace();
    if scanner.pos != text.len() {
        return Err(JsonError::Syntax(scanner.pos));
    }
    Ok(Outline { kind: token.kind, first })
}

/// For a JSON array with at least one element: the offset just past the first element's
/// separator (`,`) or at the closing `]`, and whether more elements follow.
pub(crate) fn after_first_element(text: &[u8]) -> Option<(usize, bool)> {
    let mut scanner = Scanner { bytes: text, pos: 0, placeholders: None };
    scanner.skip_whitespace();
    scanner.eat(b'[').ok()?;
    scanner.skip_whitespace();
    scanner.value(1, false).ok()?;
    scanner.skip_whitespace();
    match scanner.peek()? {
        b',' => Some((scanner.pos + 1, true)),
        b']' => Some((scanner.pos, false)),
        _ => None,
    }
}

/// For a JSON array whose first element is a string: that string's contents range and
/// whether it has escapes. Reads nothing past it.
pub(crate) fn leading_string(text: &[u8]) -> Option<(Range<usize>, bool)> {
    let mut scanner = Scanner { bytes: text, pos: 0, placeholders: None };
    scanner.skip_whitespace();
    scanner.eat(b'[').ok()?;
    scanner.skip_whitespace();
    if scanner.peek()? != b'"' {
        return None;
    }
    scanner.string().ok()
}

/// For a JSON array whose last element is a string: that string's contents range, whether
/// it has escapes, and where the array would end without it (at the `,` before it, or just
/// after `[` when it is the only element).
pub(crate) fn trailing_string(text: &[u8]) -> Option<(Range<usize>, bool, usize)> {
    let mut scanner = Scanner { bytes: text, pos: 0, placeholders: None };
    scanner.skip_whitespace();
    scanner.eat(b'[').ok()?;
    let mut cut = scanner.pos;
    // The last element read: a string's contents, or `None` for another value.
    let mut last: Option<Option<(Range<usize>, bool)>> = None;
    loop {
        scanner.skip_whitespace();
        if last.is_none() && scanner.peek()? == b']' {
            return None;
        }
        let element = match scanner.peek()? {
            b'"' => Some(scanner.string().ok()?),
            _ => {
                scanner.value(1, false).ok()?;
                None
            }
        };
        last = Some(element);
        scanner.skip_whitespace();
        match scanner.peek()? {
            b',' => {
                cut = scanner.pos;
                scanner.pos += 1;
            }
            b']' => break,
            _ => return None,
        }
    }
    let (range, escaped) = last??;
    Some((range, escaped, cut))
}

struct Scanner<'a, 'p> {
    bytes: &'a [u8],
    pos: usize,
    placeholders: Option<&'p mut [bool]>,
}

impl Token {
    fn of(kind: JsonKind) -> Self {
        Token { kind, string: None, integer: None, is_true: false }
    }
}

impl Scanner<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error<T>(&self) -> Result<T, JsonError> {
        Err(JsonError::Syntax(self.pos))
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.error()
        }
    }

    /// Scans one value at the cursor (whitespace already skipped). With `want_first`,
    /// also returns the first element when the value is an array.
    fn value(&mut self, depth: usize, want_first: bool) -> Result<(Token, Option<Token>), JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1).map(|()| (Token::of(JsonKind::Object), None)),
            Some(b'[') => self.array(depth + 1, want_first).map(|first| (Token::of(JsonKind::Array), first)),
            Some(b'"') => {
                let string = self.string()?;
                Ok((Token { string: Some(string), ..Token::of(JsonKind::String) }, None))
            }
            Some(b't') => {
                self.literal(b"true").map(|()| (Token { is_true: true, ..Token::of(JsonKind::Bool) }, None))
            }
            Some(b'f') => self.literal(b"false").map(|()| (Token::of(JsonKind::Bool), None)),
            Some(b'n') => self.literal(b"null").map(|()| (Token::of(JsonKind::Null), None)),
            Some(b'-' | b'0'..=b'9') => {
                let integer = self.number()?;
                Ok((Token { integer, ..Token::of(JsonKind::Number) }, None))
            }
            _ => self.error(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            self.error()
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Scans a number; returns its value when it is a non-negative integer fitting a `u64`.
    fn number(&mut self) -> Result<Option<u64>, JsonError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.error(),
        }
        let int_end = self.pos;
        let mut integral = !negative;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if self.digits() == 0 {
                return self.error();
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            integral = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.error();
            }
        }
        if !integral {
            return Ok(None);
        }
        let digits = self.bytes.get(int_start..int_end).unwrap_or_default();
        Ok(digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))))
    }

    /// Scans a string at the opening quote; returns the range of its contents and whether
    /// it contains escapes. The input is already known to be UTF-8.
    fn string(&mut self) -> Result<(Range<usize>, bool), JsonError> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos += clean_run(self.bytes.get(self.pos..).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    let range = start..self.pos;
                    self.pos += 1;
                    return Ok((range, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            self.pos += 1;
                            let hex = self.bytes.get(self.pos..self.pos + 4);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.error();
                            }
                            self.pos += 4;
                        }
                        _ => return self.error(),
                    }
                }
                _ => return self.error(),
            }
        }
    }

    fn array(&mut self, depth: usize, want_first: bool) -> Result<Option<Token>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(None);
        }
        let mut first = None;
        loop {
            self.skip_whitespace();
            let (token, _) = self.value(depth, false)?;
            if want_first && first.is_none() {
                first = Some(token);
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(first);
                }
                _ => return self.error(),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut is_placeholder = false;
        let mut num: Option<Option<u64>> = None;
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return self.error();
            }
            let (key, _) = self.string()?;
            self.skip_whitespace();
            self.eat(b':')?;
            self.skip_whitespace();
            let (token, _) = self.value(depth, false)?;
            match self.bytes.get(key) {
                Some(b"_placeholder") => is_placeholder = token.is_true,
                Some(b"num") => num = Some(token.integer),
                _ => {}
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.error(),
            }
        }
        if let (true, Some(slots)) = (is_placeholder, self.placeholders.as_deref_mut()) {
            let index = num.flatten().and_then(|n| usize::try_from(n).ok());
            match index.and_then(|i| slots.get_mut(i)) {
                Some(slot) => *slot = true,
                None => return Err(JsonError::PlaceholderIndex),
            }
        }
        Ok(())
    }
}

/// How many bytes at the start of `bytes` need no attention inside a string: up to the
/// first quote, backslash or control character (or the end). Eight bytes at a time.
pub(crate) fn clean_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut done = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let special = has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if special != 0 {
            // The lowest flagged byte is exact; flags above it may be spurious.
            return done + (special.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    // A u8 always indexes a 256-entry table.
    #[allow(clippy::indexing_slicing)]
    let tail = chunks.remainder().iter().position(|&b| NEEDS_CARE[usize::from(b)]);
    done + tail.unwrap_or(chunks.remainder().len())
}

/// Bytes that end the fast path inside a string: the quote, the backslash, control characters.
#[allow(clippy::indexing_slicing)] // constant indexes below 256
static NEEDS_CARE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Result<JsonKind, JsonError> {
        scan(text.as_bytes(), None).map(|outline| outline.kind)
    }

    #[test]
    fn accepts_every_kind_of_value() {
        assert_eq!(kind(r#" {"a":[1,-2.5e+3,"x\"\u00e9",true,false,null,{}]} "#), Ok(JsonKind::Object));
        assert_eq!(kind("[]"), Ok(JsonKind::Array));
        assert_eq!(kind(r#""""#), Ok(JsonKind::String));
        assert_eq!(kind("-0"), Ok(JsonKind::Number));
        assert_eq!(kind("true"), Ok(JsonKind::Bool));
        assert_eq!(kind("null"), Ok(JsonKind::Null));
    }

    #[test]
    fn refuses_what_json_parse_refuses() {
        for bad in [
            "",
            " ",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\u{1}\"",
            "[1] x",
            "NaN",
            "'a'",
            "[1 2]",
        ] {
            assert!(matches!(kind(bad), Err(JsonError::Syntax(_))), "{bad:?} was accepted");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(kind(&deep), Err(JsonError::TooDeep));
        let fine = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(kind(&fine), Ok(JsonKind::Array));
    }

    #[test]
    fn reports_the_first_array_element() {
        let outline = scan(br#"["chat message", 1]"#, None).unwrap();
        let first = outline.first.unwrap();
        assert_eq!(first.kind, JsonKind::String);
        assert_eq!(first.string, Some((2..14, false)));
        let outline = scan(br#"[{"toString":"foo"}]"#, None).unwrap();
        assert_eq!(outline.first.unwrap().kind, JsonKind::Object);
    }

    proptest::proptest! {
        #[test]
        fn clean_run_stops_where_the_bytewise_scan_does(bytes in proptest::collection::vec(
            proptest::prop_oneof![proptest::num::u8::ANY, proptest::sample::select(vec![b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80])],
            0..40,
        )) {
            let expected = bytes.iter().position(|&b| NEEDS_CARE[usize::from(b)]).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(clean_run(&bytes), expected);
        }
    }

    #[test]
    fn marks_placeholders() {
        let mut slots = [false; 3];
        let text = br#"[{"num":2,"_placeholder":true},{"x":{"_placeholder":true,"num":0}}]"#;
        scan(text, Some(&mut slots)).unwrap();
        assert_eq!(slots, [true, false, true]);
    }

    #[test]
    fn refuses_bad_placeholder_indexes() {
        for num in ["3", "-1", "0.5", "1e0", "\"splice\"", "null", "99999999999999999999999"] {
            let text = format!(r#"[{{"_placeholder":true,"num":{num}}}]"#);
            assert_eq!(
                scan(text.as_bytes(), Some(&mut [false; 3])),
                Err(JsonError::PlaceholderIndex),
                "num {num} was accepted"
            );
        }
        let missing = br#"[{"_placeholder":true}]"#;
        assert_eq!(scan(missing, Some(&mut [false; 1])), Err(JsonError::PlaceholderIndex));
        let not_true = br#"[{"_placeholder":1,"num":"x"}]"#;
        assert!(scan(not_true, Some(&mut [false; 1])).is_ok());
    }
}
