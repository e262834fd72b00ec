//! [`ParseError`]: why a message was rejected, where (JSON path, byte offset), in one line a
//! person understands. Errors never quote a `modelUri` (it may carry a SAS signature) and quote
//! other input only as bounded, escaped [`Snippet`]s.

use alloc::boxed::Box;
use core::fmt;

use crate::deviation::Deviation;
use crate::encoding::{Base64Problem, Encoding};
use crate::id::GuidError;
use crate::model_uri::ModelUriError;
use crate::path::{FieldPath, Snippet};

/// The kind of a JSON value, for "expected X, found Y".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JsonKind {
    /// `{...}`.
    Object,
    /// `[...]`.
    Array,
    /// `"..."`.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

impl JsonKind {
    /// The word used in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Object => "an object",
            Self::Array => "an array",
            Self::String => "a string",
            Self::Number => "a number",
            Self::Bool => "a boolean",
            Self::Null => "null",
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with text that is not JSON. Derived from `serde_json`'s error; `Other` keeps
/// any case the mapping does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyntaxProblem {
    /// The text ends inside a value.
    UnexpectedEnd,
    /// A value was expected here.
    ExpectedValue,
    /// A misspelled `true`, `false` or `null`.
    InvalidLiteral,
    /// `:` expected after a key.
    ExpectedColon,
    /// `,` or `}` expected in an object.
    ExpectedCommaOrBrace,
    /// `,` or `]` expected in an array.
    ExpectedCommaOrBracket,
    /// A comma before `}` or `]`.
    TrailingComma,
    /// An object key that is not a string.
    KeyMustBeString,
    /// A backslash escape that JSON does not have, or a bad `\u` escape.
    InvalidEscape,
    /// A `\u` escape naming a lone surrogate or no character.
    InvalidUnicodeEscape,
    /// A control character (U+0000 to U+001F) inside a string.
    ControlCharacter,
    /// A number that does not follow the JSON grammar.
    InvalidNumber,
    /// A number too large for a 64-bit float.
    NumberOutOfRange,
    /// Something after the end of the object.
    TrailingCharacters,
    /// Any other syntax error.
    Other,
}

impl SyntaxProblem {
    /// Maps `serde_json`'s message (its error codes are not public) to a problem.
    pub(crate) fn from_serde_message(message: &str) -> Self {
        const TABLE: &[(&str, SyntaxProblem)] = &[
            ("EOF while parsing", SyntaxProblem::UnexpectedEnd),
            ("expected value", SyntaxProblem::ExpectedValue),
            ("expected ident", SyntaxProblem::InvalidLiteral),
            ("expected `:`", SyntaxProblem::ExpectedColon),
            ("expected `,` or `}`", SyntaxProblem::ExpectedCommaOrBrace),
            ("expected `,` or `]`", SyntaxProblem::ExpectedCommaOrBracket),
            ("trailing comma", SyntaxProblem::TrailingComma),
            ("key must be a string", SyntaxProblem::KeyMustBeString),
            ("invalid escape", SyntaxProblem::InvalidEscape),
            (
                "unexpected end of hex escape",
                SyntaxProblem::InvalidUnicodeEscape,
            ),
            (
                "invalid unicode code point",
                SyntaxProblem::InvalidUnicodeEscape,
            ),
            (
                "lone leading surrogate",
                SyntaxProblem::InvalidUnicodeEscape,
            ),
            ("control character", SyntaxProblem::ControlCharacter),
            ("invalid number", SyntaxProblem::InvalidNumber),
            ("number out of range", SyntaxProblem::NumberOutOfRange),
            ("trailing characters", SyntaxProblem::TrailingCharacters),
        ];
        TABLE
            .iter()
            .find(|(prefix, _)| message.starts_with(prefix))
            .map_or(Self::Other, |(_, p)| *p)
    }

    /// The sentence.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnexpectedEnd => "the text ends inside a value",
            Self::ExpectedValue => "a JSON value was expected",
            Self::InvalidLiteral => "misspelled true, false or null",
            Self::ExpectedColon => "':' expected after the key",
            Self::ExpectedCommaOrBrace => "',' or '}' expected",
            Self::ExpectedCommaOrBracket => "',' or ']' expected",
            Self::TrailingComma => "comma before the closing bracket",
            Self::KeyMustBeString => "object key is not a string",
            Self::InvalidEscape => "invalid escape in a string",
            Self::InvalidUnicodeEscape => "\\u escape is not a valid character",
            Self::ControlCharacter => "unescaped control character in a string",
            Self::InvalidNumber => "invalid number",
            Self::NumberOutOfRange => "number out of range",
            Self::TrailingCharacters => "text after the end of the JSON object",
            Self::Other => "invalid JSON",
        }
    }
}

/// The documented values a field may take, for [`ParseErrorKind::UnknownStatus`].
pub type Expected = &'static [&'static str];

/// Every reason a message is rejected. Offsets are byte offsets into the JSON text: the message
/// itself when it is plain, the decoded bytes when it is base64 (except [`Self::InvalidBase64`],
/// whose offset is into the message text). A string value's offset is that of its first
/// character after the opening quote; where a value has no string text (a number, an escaped
/// string) the offset is that of its key, and where that too is unknown, `None`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParseErrorKind {
    /// Longer than a queue message can be.
    TooLarge {
        /// Bytes received.
        len: usize,
    },
    /// Nothing, or only whitespace.
    Empty,
    /// A UTF-8 byte-order mark at the start (RFC 8259 section 8.1).
    ByteOrderMark,
    /// Read as base64 (see [`crate::encoding`]) but not valid standard padded base64.
    InvalidBase64(Base64Problem),
    /// Bytes that are not UTF-8.
    InvalidUtf8 {
        /// First invalid byte.
        offset: usize,
    },
    /// Not JSON.
    Syntax {
        /// Byte offset.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, in bytes.
        column: usize,
        /// What is wrong.
        problem: SyntaxProblem,
    },
    /// Nested more than [`crate::MAX_DEPTH`] levels.
    TooDeep {
        /// Where the limit was crossed.
        offset: Option<usize>,
    },
    /// The top-level value is not an object.
    NotAnObject {
        /// What it is.
        found: JsonKind,
        /// Where it starts.
        offset: usize,
    },
    /// A key that appears twice in one object, counting keys that differ only in letter case.
    DuplicateKey {
        /// The second occurrence; for a repeat inside a nested value, the field holding it.
        path: FieldPath,
        /// The repeated key as written the second time.
        key: Snippet,
        /// Offset of the second occurrence.
        offset: Option<usize>,
    },
    /// A required field is absent.
    MissingField {
        /// Where it should be.
        path: FieldPath,
    },
    /// A field of the wrong JSON type.
    WrongType {
        /// The field.
        path: FieldPath,
        /// Offset of the value (or its key).
        offset: Option<usize>,
        /// What the format needs.
        expected: JsonKind,
        /// What was there.
        found: JsonKind,
    },
    /// `version` is a string but not `"1.<digits>"`.
    UnsupportedVersion {
        /// The field.
        path: FieldPath,
        /// Offset of the value.
        offset: Option<usize>,
        /// The version written.
        found: Snippet,
    },
    /// An id that is not a GUID in canonical form.
    InvalidGuid {
        /// The field.
        path: FieldPath,
        /// Offset of the value.
        offset: Option<usize>,
        /// What is wrong.
        problem: GuidError,
    },
    /// A status that is not one of the documented values (compared exactly).
    UnknownStatus {
        /// The field.
        path: FieldPath,
        /// Offset of the value.
        offset: Option<usize>,
        /// The value written.
        found: Snippet,
        /// The documented values.
        expected: Expected,
    },
    /// A `modelUri` that is not an absolute http(s) URI.
    InvalidModelUri {
        /// The field.
        path: FieldPath,
        /// Offset of the value.
        offset: Option<usize>,
        /// What is wrong (the URI itself is never quoted).
        problem: ModelUriError,
    },
    /// Strict mode: a deviation, the first of `total`.
    Strict {
        /// The first deviation.
        deviation: Deviation,
        /// How many deviations the message had in all.
        total: usize,
    },
}

/// The stable code of a [`ParseErrorKind`], without its details: [`ParseErrorCode::ALL`] is every
/// code a rejection can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParseErrorCode {
    /// `too-large`.
    TooLarge,
    /// `empty`.
    Empty,
    /// `byte-order-mark`.
    ByteOrderMark,
    /// `invalid-base64`.
    InvalidBase64,
    /// `invalid-utf8`.
    InvalidUtf8,
    /// `syntax`.
    Syntax,
    /// `too-deep`.
    TooDeep,
    /// `not-an-object`.
    NotAnObject,
    /// `duplicate-key`.
    DuplicateKey,
    /// `missing-field`.
    MissingField,
    /// `wrong-type`.
    WrongType,
    /// `unsupported-version`.
    UnsupportedVersion,
    /// `invalid-guid`.
    InvalidGuid,
    /// `unknown-status`.
    UnknownStatus,
    /// `invalid-model-uri`.
    InvalidModelUri,
    /// `strict`.
    Strict,
}

impl ParseErrorCode {
    /// Every code.
    pub const ALL: [Self; 16] = [
        Self::TooLarge,
        Self::Empty,
        Self::ByteOrderMark,
        Self::InvalidBase64,
        Self::InvalidUtf8,
        Self::Syntax,
        Self::TooDeep,
        Self::NotAnObject,
        Self::DuplicateKey,
        Self::MissingField,
        Self::WrongType,
        Self::UnsupportedVersion,
        Self::InvalidGuid,
        Self::UnknownStatus,
        Self::InvalidModelUri,
        Self::Strict,
    ];

    /// The code as reports and snapshots write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too-large",
            Self::Empty => "empty",
            Self::ByteOrderMark => "byte-order-mark",
            Self::InvalidBase64 => "invalid-base64",
            Self::InvalidUtf8 => "invalid-utf8",
            Self::Syntax => "syntax",
            Self::TooDeep => "too-deep",
            Self::NotAnObject => "not-an-object",
            Self::DuplicateKey => "duplicate-key",
            Self::MissingField => "missing-field",
            Self::WrongType => "wrong-type",
            Self::UnsupportedVersion => "unsupported-version",
            Self::InvalidGuid => "invalid-guid",
            Self::UnknownStatus => "unknown-status",
            Self::InvalidModelUri => "invalid-model-uri",
            Self::Strict => "strict",
        }
    }
}

impl ParseErrorKind {
    /// The code of this kind.
    pub const fn kind_code(&self) -> ParseErrorCode {
        match self {
            Self::TooLarge { .. } => ParseErrorCode::TooLarge,
            Self::Empty => ParseErrorCode::Empty,
            Self::ByteOrderMark => ParseErrorCode::ByteOrderMark,
            Self::InvalidBase64(_) => ParseErrorCode::InvalidBase64,
            Self::InvalidUtf8 { .. } => ParseErrorCode::InvalidUtf8,
            Self::Syntax { .. } => ParseErrorCode::Syntax,
            Self::TooDeep { .. } => ParseErrorCode::TooDeep,
            Self::NotAnObject { .. } => ParseErrorCode::NotAnObject,
            Self::DuplicateKey { .. } => ParseErrorCode::DuplicateKey,
            Self::MissingField { .. } => ParseErrorCode::MissingField,
            Self::WrongType { .. } => ParseErrorCode::WrongType,
            Self::UnsupportedVersion { .. } => ParseErrorCode::UnsupportedVersion,
            Self::InvalidGuid { .. } => ParseErrorCode::InvalidGuid,
            Self::UnknownStatus { .. } => ParseErrorCode::UnknownStatus,
            Self::InvalidModelUri { .. } => ParseErrorCode::InvalidModelUri,
            Self::Strict { .. } => ParseErrorCode::Strict,
        }
    }

    /// A stable code for reports and snapshots.
    pub const fn code(&self) -> &'static str {
        self.kind_code().as_str()
    }

    /// The JSON path the error is about; the whole message (`$`) for errors of the text itself.
    pub fn path(&self) -> FieldPath {
        match self {
            Self::DuplicateKey { path, .. }
            | Self::MissingField { path }
            | Self::WrongType { path, .. }
            | Self::UnsupportedVersion { path, .. }
            | Self::InvalidGuid { path, .. }
            | Self::UnknownStatus { path, .. }
            | Self::InvalidModelUri { path, .. } => path.clone(),
            Self::Strict { deviation, .. } => deviation.path.clone(),
            Self::TooLarge { .. }
            | Self::Empty
            | Self::ByteOrderMark
            | Self::InvalidBase64(_)
            | Self::InvalidUtf8 { .. }
            | Self::Syntax { .. }
            | Self::TooDeep { .. }
            | Self::NotAnObject { .. } => FieldPath::root(),
        }
    }

    /// The byte offset, where known (see the type's doc for what it counts).
    pub const fn offset(&self) -> Option<usize> {
        match self {
            Self::ByteOrderMark => Some(0),
            Self::InvalidBase64(p) => p.offset(),
            Self::InvalidUtf8 { offset }
            | Self::Syntax { offset, .. }
            | Self::NotAnObject { offset, .. } => Some(*offset),
            Self::Strict { deviation, .. } => deviation.offset,
            Self::TooDeep { offset }
            | Self::DuplicateKey { offset, .. }
            | Self::WrongType { offset, .. }
            | Self::UnsupportedVersion { offset, .. }
            | Self::InvalidGuid { offset, .. }
            | Self::UnknownStatus { offset, .. }
            | Self::InvalidModelUri { offset, .. } => *offset,
            Self::TooLarge { .. } | Self::Empty | Self::MissingField { .. } => None,
        }
    }
}

/// The sentence, without path or offset.
impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(
                f,
                "{len} bytes; a queue message carries at most {} bytes",
                crate::MAX_MESSAGE_BYTES
            ),
            Self::Empty => f.write_str("empty message"),
            Self::ByteOrderMark => f.write_str("starts with a UTF-8 byte-order mark"),
            Self::InvalidBase64(p) => write!(f, "read as base64 (first byte is not '{{'): {p}"),
            Self::InvalidUtf8 { .. } => f.write_str("not valid UTF-8"),
            Self::Syntax {
                line,
                column,
                problem,
                ..
            } => {
                write!(
                    f,
                    "not JSON: {} (line {line}, column {column})",
                    problem.as_str()
                )
            }
            Self::TooDeep { .. } => {
                write!(f, "nested deeper than {} levels", crate::MAX_DEPTH)
            }
            Self::NotAnObject { found, .. } => write!(f, "the JSON is {found}, not an object"),
            Self::DuplicateKey { key, .. } => {
                write!(f, "key {key} appears twice (letter case ignored)")
            }
            Self::MissingField { .. } => f.write_str("required field is missing"),
            Self::WrongType {
                expected, found, ..
            } => write!(f, "expected {expected}, found {found}"),
            Self::UnsupportedVersion { found, .. } => {
                write!(
                    f,
                    "version {found} is not supported; expected \"1.0\" (or another \"1.x\")"
                )
            }
            Self::InvalidGuid { problem, .. } => write!(f, "not a GUID: {problem}"),
            Self::UnknownStatus {
                found, expected, ..
            } => {
                write!(f, "{found} is not one of ")?;
                for (n, e) in expected.iter().enumerate() {
                    let sep = if n == 0 { "" } else { ", " };
                    write!(f, "{sep}\"{e}\"")?;
                }
                Ok(())
            }
            Self::InvalidModelUri { problem, .. } => write!(f, "invalid modelUri: {problem}"),
            Self::Strict { deviation, total } => {
                write!(f, "strict mode: {}: {}", deviation.code(), deviation.kind)?;
                if *total > 1 {
                    write!(f, " and {} more deviation(s)", total - 1)?;
                }
                Ok(())
            }
        }
    }
}

/// A rejected message: what is wrong, and which encoding it was read as. Boxed, so that the
/// `Result` of an accepted message stays small; the allocation happens only on rejection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParseError(Box<(Option<Encoding>, ParseErrorKind)>);

impl ParseError {
    /// An error for a message read as `encoding` (`None`: refused before it was decided).
    pub fn new(encoding: Option<Encoding>, kind: ParseErrorKind) -> Self {
        Self(Box::new((encoding, kind)))
    }

    /// The encoding the message was read as, `None` when refused before that was decided.
    pub fn encoding(&self) -> Option<Encoding> {
        self.0.0
    }

    /// What is wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.0.1
    }

    /// The stable code of the kind.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

/// One line: `Content.projectId (byte 57 of the base64-decoded text): not a GUID: ...`.
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (encoding, kind) = &*self.0;
        let path = kind.path();
        let at = kind.offset().map(|offset| {
            let decoded = *encoding == Some(Encoding::Base64)
                && !matches!(kind, ParseErrorKind::InvalidBase64(_));
            (
                offset,
                if decoded {
                    " of the base64-decoded text"
                } else {
                    ""
                },
            )
        });
        match (path.is_root(), at) {
            (true, None) => {}
            (true, Some((offset, of))) => write!(f, "byte {offset}{of}: ")?,
            (false, None) => write!(f, "{path}: ")?,
            (false, Some((offset, of))) => write!(f, "{path} (byte {offset}{of}): ")?,
        }
        fmt::Display::fmt(kind, f)
    }
}

impl core::error::Error for ParseError {}
