//! The one secret rule of cvnotify: what a secret looks like in text, and how it is replaced by
//! [`REDACTED`]. Every printer and writer (errors, reports, recordings, logs) goes through here,
//! so a rule change is made once.
//!
//! A secret is the value of a parameter named `sig` (a SAS signature) or `AccountKey` (a storage
//! account key in a connection string):
//! - the name matches ignoring ASCII case, also when percent-encoded (`%73ig`, `S%49G`);
//! - it is assigned with `=`, or with `%3D` inside an encoded URL;
//! - it starts a parameter: at the start of the text, or after one of `? & ; , | < > ( ) [ ] { }`,
//!   a quote or whitespace, written plainly or percent-encoded (`%26sig=`, an encoded URL inside
//!   another's query). After a letter, digit, `=`, `/`, `.`, `-` or `_` it does not (`design=x`
//!   is not a signature);
//! - the value is the run of characters signatures and keys are written with (base64 and
//!   percent-encoding: letters, digits, `% + / = - _ . ~`), and is not empty.
//!
//! A value that is already `REDACTED` is not a secret. [`find_deep`] and [`redact_deep`] also
//! look inside a text that is standard base64 of UTF-8 (a queue message a producer encoded).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::{ControlFlow, Range};

use base64::Engine as _;

/// What replaces a secret value.
pub const REDACTED: &str = "REDACTED";

/// The kinds of secret the rule finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretKind {
    /// A SAS signature (`sig=`).
    SasSignature,
    /// A storage account key (`AccountKey=`).
    AccountKey,
}

impl SecretKind {
    /// What it is, for a sentence ("the line carries a SAS signature (sig=)").
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SasSignature => "a SAS signature (sig=)",
            Self::AccountKey => "a storage account key (AccountKey=)",
        }
    }
}

/// One secret value found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretValue {
    /// What kind.
    pub kind: SecretKind,
    /// Where its value is, in bytes.
    pub range: Range<usize>,
}

const fn is_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'+' | b'/' | b'=' | b'-' | b'_' | b'.' | b'~')
}

const fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'%'
}

const fn is_boundary(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'?' | b'&'
                | b';'
                | b','
                | b'|'
                | b'<'
                | b'>'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'"'
                | b'\''
                | b'`'
        )
}

const fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The names longer than this (decoded) are not looked at: `accountkey` is the longest.
const LONGEST_TOKEN: usize = 3 * 24;

/// Whether the name token `raw` (letters, digits, `%`), preceded in the text by `before`, names
/// a secret parameter; and which.
fn secret_name(raw: &[u8], before: Option<u8>) -> Option<SecretKind> {
    if !raw.contains(&b'%') {
        // Nothing to decode (name bytes are letters and digits, none a boundary).
        return name_kind(raw, before.is_none_or(is_boundary));
    }
    // Percent-decode the token (a `%` not followed by two hex digits stays itself).
    let mut decoded: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match (
            b,
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                decoded.push(h << 4 | l);
                i += 3;
            }
            _ => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    // The name is what follows the last boundary inside the decoded token; without one, the
    // byte before the token must be a boundary (or the text starts there).
    let (name, bounded) = match decoded.iter().rposition(|&b| is_boundary(b)) {
        Some(at) => (decoded.get(at + 1..).unwrap_or_default(), true),
        None => (decoded.as_slice(), before.is_none_or(is_boundary)),
    };
    name_kind(name, bounded)
}

/// Which secret a decoded parameter name names, when it is bounded (a whole name).
fn name_kind(name: &[u8], bounded: bool) -> Option<SecretKind> {
    if !bounded {
        return None;
    }
    if name.eq_ignore_ascii_case(b"sig") {
        Some(SecretKind::SasSignature)
    } else if name.eq_ignore_ascii_case(b"accountkey") {
        Some(SecretKind::AccountKey)
    } else {
        None
    }
}

/// Whether a query parameter's name (as written, possibly percent-encoded) names a secret.
pub(crate) fn is_secret_name(name: &str) -> bool {
    secret_name(name.as_bytes(), None).is_some()
}

/// Every secret value in `text`, in order, whether already redacted or not.
fn values(text: &str) -> Vec<SecretValue> {
    let mut found = Vec::new();
    scan(text, |v| {
        found.push(v);
        ControlFlow::Continue(())
    });
    found
}

/// Hands every secret value in `text` to `each`, in order, until it says to stop.
fn scan(text: &str, mut each: impl FnMut(SecretValue) -> ControlFlow<()>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // The next `=` or `%3D`.
        let Some(offset) = bytes
            .get(at..)
            .and_then(|rest| memchr::memchr2(b'=', b'%', rest))
        else {
            break;
        };
        let eq = at + offset;
        let assign_len = match bytes.get(eq..eq + 3) {
            _ if bytes.get(eq) == Some(&b'=') => 1,
            Some([b'%', b'3', b'd' | b'D']) => 3,
            _ => {
                at = eq + 1;
                continue;
            }
        };
        // The name token before it.
        let mut start = eq;
        while start > 0 && eq - start < LONGEST_TOKEN {
            match bytes.get(start - 1) {
                Some(&b) if is_name_byte(b) => start -= 1,
                _ => break,
            }
        }
        let value_start = eq + assign_len;
        let kind = bytes
            .get(start..eq)
            .filter(|t| !t.is_empty())
            .and_then(|token| {
                secret_name(
                    token,
                    start.checked_sub(1).and_then(|b| bytes.get(b).copied()),
                )
            });
        let value_len = bytes
            .get(value_start..)
            .map_or(0, |v| v.iter().take_while(|&&b| is_value_byte(b)).count());
        match kind {
            Some(kind) if value_len > 0 => {
                let value = SecretValue {
                    kind,
                    range: value_start..value_start + value_len,
                };
                if each(value).is_break() {
                    return;
                }
                at = value_start + value_len;
            }
            _ => at = value_start,
        }
    }
}

/// Every secret value in `text` that is not already [`REDACTED`], in order.
pub fn secrets(text: &str) -> Vec<SecretValue> {
    values(text)
        .into_iter()
        .filter(|v| text.get(v.range.clone()) != Some(REDACTED))
        .collect()
}

/// The kind of the first secret in `text` that is not already redacted.
pub fn find(text: &str) -> Option<SecretKind> {
    // The fast path: no `=` and no `%` (of `%3D`), nothing to find.
    memchr::memchr2(b'=', b'%', text.as_bytes())?;
    // The first one not already redacted, found without collecting the rest.
    let mut first = None;
    scan(text, |v| {
        if text.get(v.range.clone()) == Some(REDACTED) {
            return ControlFlow::Continue(());
        }
        first = Some(v.kind);
        ControlFlow::Break(())
    });
    first
}

/// [`find`], and when `text` is standard base64 of UTF-8 text, [`find`] in that text too.
pub fn find_deep(text: &str) -> Option<SecretKind> {
    find(text).or_else(|| decoded(text).and_then(|inner| find(&inner)))
}

/// `text` with every secret value replaced by [`REDACTED`]; borrowed when there is none.
pub fn redact(text: &str) -> Cow<'_, str> {
    let found = secrets(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for v in found {
        out.push_str(text.get(last..v.range.start).unwrap_or_default());
        out.push_str(REDACTED);
        last = v.range.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Cow::Owned(out)
}

/// [`redact`]; and when `text` has no secret of its own but is standard base64 of UTF-8 text
/// that has, that text redacted and encoded again. Returns whether anything changed.
pub fn redact_deep(text: &str) -> (Cow<'_, str>, bool) {
    let plain = redact(text);
    if let Cow::Owned(_) = plain {
        return (plain, true);
    }
    if let Some(inner) = decoded(text)
        && let Cow::Owned(redacted) = redact(&inner)
    {
        let encoded = base64::engine::general_purpose::STANDARD.encode(redacted);
        return (Cow::Owned(encoded), true);
    }
    (plain, false)
}

/// The text of a standard-base64 string, when it is one and decodes to UTF-8.
fn decoded(text: &str) -> Option<String> {
    if text.len() < 8
        || text
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
    {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn signatures_and_keys_are_found_and_redacted() {
        let url = "https://a.blob.core.windows.net/c/m.zip?sv=1&sig=CANARY%2B%3D&se=2";
        assert_eq!(find(url), Some(SecretKind::SasSignature));
        assert_eq!(
            redact(url),
            "https://a.blob.core.windows.net/c/m.zip?sv=1&sig=REDACTED&se=2"
        );
        assert_eq!(find(&redact(url)), None);
        assert_eq!(
            find("DefaultEndpointsProtocol=https;AccountKey=abc==;X=y"),
            Some(SecretKind::AccountKey)
        );
        assert_eq!(redact("AccountKey=k3y==;rest"), "AccountKey=REDACTED;rest");
        assert_eq!(redact("x?sv=1&SIG=abc%2B&se=2"), "x?sv=1&SIG=REDACTED&se=2");
    }

    #[test]
    fn the_name_must_start_a_parameter() {
        assert_eq!(
            find("design=sig=x"),
            None,
            "after `=`: a value, not a parameter"
        );
        assert_eq!(find("designs"), None);
        assert_eq!(find("mysig=abc"), None);
        assert_eq!(find("ılsig=é"), None);
        assert_eq!(find("sig="), None, "no value");
        assert_eq!(find("sig=REDACTED"), None, "already redacted");
        assert_eq!(find("a b sig=x"), Some(SecretKind::SasSignature));
        assert_eq!(find("{\"q\":\"sig=x\"}"), Some(SecretKind::SasSignature));
    }

    #[test]
    fn encoded_names_and_nested_urls_are_found() {
        assert_eq!(find("?%73ig=x"), Some(SecretKind::SasSignature));
        assert_eq!(find("?S%49G=x"), Some(SecretKind::SasSignature));
        assert_eq!(find("?%73%69%67=x"), Some(SecretKind::SasSignature));
        let nested = "https://h/p?next=https%3A%2F%2Fa%2Fb%3Fsv%3D1%26sig%3DCANARY";
        assert_eq!(find(nested), Some(SecretKind::SasSignature));
        assert!(!redact(nested).contains("CANARY"));
        assert_eq!(find("?accountKEY%3dx"), Some(SecretKind::AccountKey));
    }

    #[test]
    fn base64_texts_are_looked_into_on_request() {
        let url = "https://a/b?sig=CANARY";
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(format!("{{\"modelUri\":\"{url}\"}}"));
        assert_eq!(find(&b64), None);
        assert_eq!(find_deep(&b64), Some(SecretKind::SasSignature));
        let (r, changed) = redact_deep(&b64);
        assert!(changed);
        assert_eq!(find_deep(&r), None);
        assert_eq!(
            redact_deep("no secrets"),
            (Cow::Borrowed("no secrets"), false)
        );
    }
}
