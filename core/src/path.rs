//! Where in a message something is: [`FieldPath`] (`Content.iterationId`) and [`Snippet`], a short,
//! escaped quotation of input text that is safe to print in one line.

use alloc::boxed::Box;
use core::fmt;

/// Longest quotation kept from the input, in characters; longer text is cut with `…`.
pub const SNIPPET_MAX_CHARS: usize = 48;

/// A bounded quotation of input text. Control characters, quotes and backslashes are escaped
/// when displayed, so an error line stays one line whatever a queue writer put there.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Snippet {
    text: Box<str>,
    truncated: bool,
}

impl Snippet {
    /// Quotes `text`, keeping at most [`SNIPPET_MAX_CHARS`] characters. Secret values are
    /// replaced by `REDACTED` ([`crate::redact`]): a snippet quotes what a queue writer sent,
    /// and that must never carry a signature into an error or a report.
    pub fn new(text: &str) -> Self {
        let (kept, truncated) = match text.char_indices().nth(SNIPPET_MAX_CHARS) {
            Some((end, _)) => (text.get(..end).unwrap_or(text), true),
            None => (text, false),
        };
        Self {
            text: Box::from(&*crate::redact::redact(kept)),
            truncated,
        }
    }

    /// The kept text, unescaped.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the original text was longer than what is kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// `"text"` with Rust-style escapes, and `…` after the quote when cut.
impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for ch in self.text.chars() {
            fmt::Display::fmt(&ch.escape_debug(), f)?;
        }
        f.write_str("\"")?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One step of a [`FieldPath`]: a key as it was written in the message.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathKey(Snippet);

impl PathKey {
    /// A key as written in the input.
    pub fn new(key: &str) -> Self {
        Self(Snippet::new(key))
    }

    /// The key text (possibly truncated).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    fn is_plain(&self) -> bool {
        let s = self.0.as_str();
        !s.is_empty()
            && !self.0.is_truncated()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }
}

/// Where a value sits in a message: the whole message, a top-level key, or a key inside an
/// object value (`Content.projectId`). Keys are kept as the message wrote them, so a path points
/// at what is really in the input (`content.ProjectId` when that is what was sent).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    top: Option<PathKey>,
    inner: Option<PathKey>,
}

impl FieldPath {
    /// The message as a whole (displayed as `$`).
    pub const fn root() -> Self {
        Self {
            top: None,
            inner: None,
        }
    }

    /// A top-level key.
    pub fn top(key: &str) -> Self {
        Self {
            top: Some(PathKey::new(key)),
            inner: None,
        }
    }

    /// A key inside the object under a top-level key.
    pub fn inner(top: &str, key: &str) -> Self {
        Self {
            top: Some(PathKey::new(top)),
            inner: Some(PathKey::new(key)),
        }
    }

    /// Whether this is the whole message.
    pub fn is_root(&self) -> bool {
        self.top.is_none()
    }
}

/// `Content.projectId`; a key that is not a plain identifier is bracketed and quoted
/// (`Content["a.b"]`); the whole message is `$`.
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(top) = &self.top else {
            return f.write_str("$");
        };
        for (n, key) in core::iter::once(top).chain(self.inner.as_ref()).enumerate() {
            match (key.is_plain(), n) {
                (true, 0) => f.write_str(key.as_str())?,
                (true, _) => write!(f, ".{}", key.as_str())?,
                (false, _) => write!(f, "[{}]", key.0)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn paths_render_plain_and_quoted_keys() {
        assert_eq!(format!("{}", FieldPath::root()), "$");
        assert_eq!(
            format!("{}", FieldPath::inner("Content", "projectId")),
            "Content.projectId"
        );
        assert_eq!(
            format!("{}", FieldPath::inner("Content", "a.b")),
            "Content[\"a.b\"]"
        );
        assert_eq!(format!("{}", FieldPath::top("x\ny")), "[\"x\\ny\"]");
    }

    #[test]
    fn snippets_never_quote_a_secret() {
        assert_eq!(
            Snippet::new("x?sv=1&SIG=abc%2B&se=2").as_str(),
            "x?sv=1&SIG=REDACTED&se=2"
        );
        assert_eq!(
            Snippet::new("AccountKey=k3y==;rest").as_str(),
            "AccountKey=REDACTED;rest"
        );
        assert_eq!(Snippet::new("designs").as_str(), "designs");
        assert_eq!(Snippet::new("ılsig=é").as_str(), "ılsig=é");
    }

    #[test]
    fn snippets_are_bounded_and_escaped() {
        let long = "é".repeat(100);
        let s = Snippet::new(&long);
        assert!(s.is_truncated());
        assert_eq!(s.as_str().chars().count(), SNIPPET_MAX_CHARS);
        assert_eq!(format!("{}", Snippet::new("a\"\u{1}")), "\"a\\\"\\u{1}\"");
    }
}
