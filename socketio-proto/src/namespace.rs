//! Namespace names.

use std::fmt;

use bytestring::ByteString;

use crate::EncodeError;

/// A namespace name: starts with `/` and contains no `,`. The main namespace is `/`.
///
/// ```
/// use socketio_proto::Namespace;
///
/// assert_eq!(Namespace::main().as_str(), "/");
/// assert!(Namespace::new("/admin").is_ok());
/// assert!(Namespace::new("admin").is_err());
/// assert!(Namespace::new("/a,b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(ByteString);

impl Namespace {
    /// The main namespace, `/`.
    pub fn main() -> Self {
        Namespace(ByteString::from_static("/"))
    }

    /// Checks and wraps a namespace name.
    pub fn new(name: impl Into<ByteString>) -> Result<Self, EncodeError> {
        let name = name.into();
        if name.starts_with('/') && !name.contains(',') {
            Ok(Namespace(name))
        } else {
            Err(EncodeError::InvalidNamespace(name.to_string()))
        }
    }

    /// A name the decoder already checked, copied out of the message it came in: a
    /// name kept for as long as its socket lives must not keep that whole message alive.
    pub(crate) fn from_checked(name: &str) -> Self {
        match name {
            "/" => Namespace::main(),
            name => Namespace(ByteString::from(name)),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the main namespace `/`.
    pub fn is_main(&self) -> bool {
        &*self.0 == "/"
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace::main()
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
