//! [`parse`]: a queue message's raw `MessageText` in, a typed [`Parsed`] or a [`ParseError`] out.
//! Two stages: `capture` reads the JSON with serde_json and records what it holds; `validate`
//! judges that record against the documented format. Neither panics on any input, and both are
//! linear in the input (keys of one object are compared after sorting: n log n in their count).

mod capture;
mod keys;
mod validate;

use alloc::vec::Vec;

use serde::de::DeserializeSeed as _;

use crate::deviation::Deviation;
use crate::encoding::{self, BOM, Detected, Encoding};
use crate::error::{ParseError, ParseErrorKind, SyntaxProblem};
use crate::notification::{Notification, Version};

/// The largest message accepted, in bytes: what an Azure Storage queue message can hold
/// (64 KiB, docs/protocol.md §2). Checked before anything else is read.
pub const MAX_MESSAGE_BYTES: usize = 65_536;

/// The deepest nesting of arrays and objects accepted; the envelope object is level 1.
pub const MAX_DEPTH: usize = 128;

/// How to parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Reject any message with a deviation.
    pub strict: bool,
}

impl ParseOptions {
    /// Tolerant: deviations are reported, not rejected.
    pub const TOLERANT: Self = Self { strict: false };
    /// Strict: every deviation is a rejection.
    pub const STRICT: Self = Self { strict: true };
}

/// An accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// How the text carried the JSON.
    pub encoding: Encoding,
    /// The `version` written.
    pub version: Version,
    /// What the message says.
    pub notification: Notification,
    /// Where it departs from the documented shape, in a fixed order.
    pub deviations: Vec<Deviation>,
}

/// Parses one message's raw text (the queue's `MessageText`, after XML unescaping).
pub fn parse(raw: &[u8], options: ParseOptions) -> Result<Parsed, ParseError> {
    let fail = |encoding, kind| Err(ParseError::new(encoding, kind));
    if raw.len() > MAX_MESSAGE_BYTES {
        return fail(None, ParseErrorKind::TooLarge { len: raw.len() });
    }
    match encoding::detect(raw) {
        Detected::Empty => fail(None, ParseErrorKind::Empty),
        Detected::ByteOrderMark => fail(None, ParseErrorKind::ByteOrderMark),
        Detected::Plain => parse_json(raw, Encoding::Plain, options),
        Detected::Base64 => match encoding::decode_base64(raw) {
            Ok(json) => parse_json(&json, Encoding::Base64, options),
            Err(problem) => fail(
                Some(Encoding::Base64),
                ParseErrorKind::InvalidBase64(problem),
            ),
        },
    }
}

fn parse_json(
    bytes: &[u8],
    encoding: Encoding,
    options: ParseOptions,
) -> Result<Parsed, ParseError> {
    let error = |kind| ParseError::new(Some(encoding), kind);
    if bytes.starts_with(BOM) {
        return Err(error(ParseErrorKind::ByteOrderMark));
    }
    if bytes.iter().all(|&b| encoding::is_json_whitespace(b)) {
        return Err(error(ParseErrorKind::Empty));
    }
    let text = core::str::from_utf8(bytes).map_err(|e| {
        error(ParseErrorKind::InvalidUtf8 {
            offset: e.valid_up_to(),
        })
    })?;
    let ctx = capture::Ctx::new(text);
    let mut env = capture::Envelope::default();
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let seed = capture::DocumentSeed {
        ctx: &ctx,
        env: &mut env,
    };
    let doc = seed
        .deserialize(&mut de)
        .and_then(|doc| de.end().map(|()| doc));
    let doc = doc.map_err(|e| error(syntax_error(&e, text, ctx.too_deep.get())))?;
    if let capture::Document::NotObject(found) = doc {
        let offset = bytes
            .iter()
            .position(|&b| !encoding::is_json_whitespace(b))
            .unwrap_or(0);
        return Err(error(ParseErrorKind::NotAnObject { found, offset }));
    }
    let checked = validate::validate(&env).map_err(|kind| error(*kind))?;
    if options.strict
        && let Some(first) = checked.deviations.first()
    {
        let total = checked.deviations.len();
        return Err(error(ParseErrorKind::Strict {
            deviation: first.clone(),
            total,
        }));
    }
    Ok(Parsed {
        encoding,
        version: checked.version,
        notification: checked.notification,
        deviations: checked.deviations,
    })
}

/// Turns a serde_json error into ours, with a byte offset from its line and column.
fn syntax_error(e: &serde_json::Error, text: &str, too_deep: bool) -> ParseErrorKind {
    let (line, column) = (e.line(), e.column());
    let offset = if e.classify() == serde_json::error::Category::Eof {
        text.len()
    } else {
        byte_offset(text, line, column)
    };
    if too_deep {
        return ParseErrorKind::TooDeep {
            offset: (line > 0).then_some(offset),
        };
    }
    let message = alloc::format!("{e}");
    ParseErrorKind::Syntax {
        offset,
        line,
        column,
        problem: SyntaxProblem::from_serde_message(&message),
    }
}

/// The offset of 1-based `line` and `column` (serde_json counts bytes, and points at the
/// offending byte).
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = match line.checked_sub(2) {
        None => 0,
        Some(newlines) => text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .nth(newlines)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    line_start
        .saturating_add(column.saturating_sub(1))
        .min(text.len())
}
