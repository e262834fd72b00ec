//! How a queue message's text carries its JSON: as the JSON itself or as standard padded base64
//! of it (docs/protocol.md §2, "Encoding conventions": v12 SDKs send text as-is, legacy SDKs and the
//! Functions trigger use base64), and the one rule that tells them apart.
//!
//! The rule: after optional JSON whitespace, a plain message starts with `{` (or `[` or `"`,
//! which can only be JSON that is then rejected as not an object). Any leading whitespace also
//! means plain JSON, since base64 has no whitespace. Everything else is read as base64. No text
//! is both: `{`, `[`, `"` and whitespace are not in the base64 alphabet, so the decision never
//! depends on trying one reading and falling back to the other.

use alloc::vec::Vec;
use base64::Engine as _;
use core::fmt;

/// Which of the two conventions a message used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The message text is the JSON document.
    Plain,
    /// The message text is standard (RFC 4648 section 4), padded base64 of the JSON document.
    Base64,
}

impl Encoding {
    /// `plain` or `base64`, as in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Base64 => "base64",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The UTF-8 byte-order mark. RFC 8259 section 8.1 forbids it in JSON sent over a network.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the first bytes of a message say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detected {
    /// Nothing but JSON whitespace (or nothing at all).
    Empty,
    /// Starts with a UTF-8 byte-order mark.
    ByteOrderMark,
    /// Read as JSON.
    Plain,
    /// Read as base64.
    Base64,
}

pub(crate) const fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Applies the rule in the module doc.
pub(crate) fn detect(bytes: &[u8]) -> Detected {
    if bytes.starts_with(BOM) {
        return Detected::ByteOrderMark;
    }
    match bytes.iter().position(|&b| !is_json_whitespace(b)) {
        None => Detected::Empty,
        Some(0) => match bytes.first() {
            Some(b'{' | b'[' | b'"') => Detected::Plain,
            _ => Detected::Base64,
        },
        Some(_) => Detected::Plain,
    }
}

/// Why a base64 message could not be decoded. Offsets are into the message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Base64Problem {
    /// A byte outside the standard alphabet (`-`/`_` of the URL-safe alphabet, whitespace,
    /// `=` before the end, or any other byte).
    InvalidByte {
        /// Byte offset in the message text.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// The number of symbols cannot be a whole number of bytes (one symbol too many or few).
    InvalidLength {
        /// Symbols counted.
        symbols: usize,
    },
    /// The last symbol carries bits that decoding would drop: truncated or corrupted input.
    NonCanonicalLastSymbol {
        /// Byte offset in the message text.
        offset: usize,
    },
    /// Padding missing, or more than the length needs.
    InvalidPadding,
}

impl Base64Problem {
    /// The byte offset in the message text, where the problem has one.
    pub const fn offset(&self) -> Option<usize> {
        match self {
            Self::InvalidByte { offset, .. } | Self::NonCanonicalLastSymbol { offset } => {
                Some(*offset)
            }
            Self::InvalidLength { .. } | Self::InvalidPadding => None,
        }
    }
}

impl fmt::Display for Base64Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidByte { byte, .. } if byte.is_ascii_graphic() => {
                write!(
                    f,
                    "'{}' is not in the standard base64 alphabet",
                    char::from(*byte)
                )
            }
            Self::InvalidByte { byte, .. } => {
                write!(
                    f,
                    "byte 0x{byte:02x} is not in the standard base64 alphabet"
                )
            }
            Self::InvalidLength { symbols } => {
                write!(f, "{symbols} base64 symbols cannot encode whole bytes")
            }
            Self::NonCanonicalLastSymbol { .. } => {
                f.write_str("the last base64 symbol has stray bits (truncated or corrupted)")
            }
            Self::InvalidPadding => f.write_str("base64 padding is missing or wrong"),
        }
    }
}

/// Decodes standard, padded, canonical base64.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, Base64Problem> {
    use base64::DecodeError as E;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| match e {
            E::InvalidByte(offset, byte) => Base64Problem::InvalidByte { offset, byte },
            E::InvalidLength(symbols) => Base64Problem::InvalidLength { symbols },
            E::InvalidLastSymbol { offset, .. } => Base64Problem::NonCanonicalLastSymbol { offset },
            E::InvalidPadding => Base64Problem::InvalidPadding,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_the_first_byte() {
        assert_eq!(detect(b""), Detected::Empty);
        assert_eq!(detect(b" \n\t"), Detected::Empty);
        assert_eq!(detect(b"{}"), Detected::Plain);
        assert_eq!(detect(b"  x"), Detected::Plain);
        assert_eq!(detect(b"[1]"), Detected::Plain);
        assert_eq!(detect(b"eyJ9"), Detected::Base64);
        assert_eq!(detect(b"null"), Detected::Base64);
        assert_eq!(detect(b"\xEF\xBB\xBF{}"), Detected::ByteOrderMark);
    }

    #[test]
    fn base64_errors_are_typed() {
        assert_eq!(decode_base64(b"e30="), Ok(b"{}".to_vec()));
        assert_eq!(
            decode_base64(b"e3-="),
            Err(Base64Problem::InvalidByte {
                offset: 2,
                byte: b'-'
            })
        );
        assert_eq!(decode_base64(b"e30"), Err(Base64Problem::InvalidPadding));
        assert_eq!(
            decode_base64(b"e31="),
            Err(Base64Problem::NonCanonicalLastSymbol { offset: 2 })
        );
    }
}
