//! Writing arguments as JSON with binary attachments, in one pass.
//!
//! serde_json writes the text; a [`Formatter`] of ours drops the brackets of a spread tuple
//! and turns every byte array (`serialize_bytes`: `bytes::Bytes`, `serde_bytes`) into a
//! placeholder `{"_placeholder":true,"num":N}` whose bytes become attachment `N`.

use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::shape::Shape;
use crate::EncodeError;

/// JSON text and attachments being built.
pub(crate) struct ArgsWriter {
    pub(crate) json: Vec<u8>,
    pub(crate) attachments: Vec<Bytes>,
}

impl ArgsWriter {
    /// A writer whose text starts with `prefix` (`[` and maybe an event name).
    pub(crate) fn new(prefix: Vec<u8>) -> Self {
        ArgsWriter { json: prefix, attachments: Vec::new() }
    }

    /// Appends the arguments `args` stands for, each preceded by a comma when
    /// `after_first` (there is an element before them), else separated by commas.
    pub(crate) fn write<T: Serialize + ?Sized>(
        &mut self,
        args: &T,
        after_first: bool,
    ) -> Result<(), EncodeError> {
        let shape = Shape::of(args);
        if shape == Shape::None {
            return Ok(());
        }
        if shape == Shape::One && after_first {
            self.json.push(b',');
        }
        let formatter = ArgsFormatter {
            depth: 0,
            spread: shape == Shape::Spread,
            after_first,
            attachments: &mut self.attachments,
        };
        let mut serializer = serde_json::Serializer::with_formatter(&mut self.json, formatter);
        args.serialize(&mut serializer)?;
        Ok(())
    }
}

/// serde_json's compact output, with a spread top-level array and binary placeholders.
struct ArgsFormatter<'a> {
    /// Arrays and objects open around the current position.
    depth: usize,
    /// The top-level array is a tuple of arguments: its brackets are not written.
    spread: bool,
    /// Something precedes the arguments, so even the first one takes a comma.
    after_first: bool,
    attachments: &'a mut Vec<Bytes>,
}

impl ArgsFormatter<'_> {
    fn at_spread_level(&self) -> bool {
        self.spread && self.depth == 1
    }
}

impl Formatter for ArgsFormatter<'_> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.at_spread_level() { Ok(()) } else { writer.write_all(b"[") }
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let spread = self.at_spread_level();
        self.depth -= 1;
        if spread { Ok(()) } else { writer.write_all(b"]") }
    }

    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        let comma = !first || (self.at_spread_level() && self.after_first);
        if comma { writer.write_all(b",") } else { Ok(()) }
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        CompactFormatter.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        CompactFormatter.end_object(writer)
    }

    fn write_byte_array<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        write!(writer, r#"{{"_placeholder":true,"num":{}}}"#, self.attachments.len())?;
        self.attachments.push(Bytes::copy_from_slice(value));
        Ok(())
    }
}
