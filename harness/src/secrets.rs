//! Finding and removing secrets in text that is about to be written or was just read: SAS
//! signatures (`sig=` in a URL query), storage account keys (`AccountKey=`), and training keys.
//! A recording never holds one: the writer redacts them, the reader refuses lines that carry one.

use base64::Engine as _;

/// What replaces a secret value.
pub(crate) const REDACTED: &str = "REDACTED";

/// The kinds of secret looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Secret {
    /// A SAS signature: `sig=` with a value other than `REDACTED`.
    SasSignature,
    /// A storage account key in a connection string.
    AccountKey,
}

impl Secret {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::SasSignature => "a SAS signature (sig=)",
            Self::AccountKey => "a storage account key (AccountKey=)",
        }
    }
}

/// Byte ranges of secret values in `text`, with their kind. Names are matched case-insensitively,
/// and `sig` also when percent-encoded (`%73ig`).
fn secret_values(text: &str) -> Vec<(Secret, std::ops::Range<usize>)> {
    // The fast path: find each `=` (memchr) and look at the two bytes before it; almost every
    // string has no `ig=` or `ey=` at all.
    let bytes = text.as_bytes();
    let mut maybe = false;
    let mut from = 0;
    while let Some(pos) = text.get(from..).and_then(|rest| rest.find('=')) {
        let at = from + pos;
        if let Some(before) = at.checked_sub(2).and_then(|s| bytes.get(s..at))
            && (before.eq_ignore_ascii_case(b"ig") || before.eq_ignore_ascii_case(b"ey"))
        {
            maybe = true;
            break;
        }
        from = at + 1;
    }
    if !maybe {
        return Vec::new();
    }
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    // A value is the run of characters a signature or key is written with: base64 and
    // percent-encoding.
    let value_char = |b: &&u8| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'%' | b'+' | b'/' | b'=' | b'-' | b'_' | b'.' | b'~')
    };
    for (needle, kind) in [
        ("sig=", Secret::SasSignature),
        ("%73ig=", Secret::SasSignature),
        ("accountkey=", Secret::AccountKey),
    ] {
        let mut from = 0;
        while let Some(pos) = lower.get(from..).and_then(|rest| rest.find(needle)) {
            let start = from + pos;
            // `sig=` must start a parameter: after `?`, `&`, `;` or at the start.
            let boundary = start == 0
                || matches!(
                    lower.as_bytes().get(start - 1),
                    Some(b'?' | b'&' | b';' | b' ' | b'"')
                );
            let value_start = start + needle.len();
            let value_len = bytes
                .get(value_start..)
                .map_or(0, |v| v.iter().take_while(value_char).count());
            if boundary && value_len > 0 {
                found.push((kind, value_start..value_start + value_len));
            }
            from = value_start;
        }
    }
    found.sort_by_key(|(_, r)| r.start);
    found
}

/// The first secret in `text` that is not already redacted, looking inside base64 too.
pub(crate) fn find(text: &str) -> Option<Secret> {
    let direct = secret_values(text)
        .into_iter()
        .find(|(_, r)| text.get(r.clone()).is_some_and(|v| v != REDACTED))
        .map(|(kind, _)| kind);
    direct.or_else(|| decoded(text).and_then(|inner| find_plain(&inner)))
}

/// The first secret in `text` that is not already redacted, without looking inside base64.
pub(crate) fn find_plain(text: &str) -> Option<Secret> {
    secret_values(text)
        .into_iter()
        .find(|(_, r)| text.get(r.clone()).is_some_and(|v| v != REDACTED))
        .map(|(kind, _)| kind)
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

/// `text` with every secret value replaced by [`REDACTED`]. A base64 text is decoded, redacted
/// and encoded again. Returns whether anything changed.
pub(crate) fn redact(text: &str) -> (String, bool) {
    let (plain, changed) = redact_plain(text);
    if changed {
        return (plain, true);
    }
    if let Some(inner) = decoded(text) {
        let (inner, changed) = redact_plain(&inner);
        if changed {
            return (
                base64::engine::general_purpose::STANDARD.encode(inner),
                true,
            );
        }
    }
    (plain, false)
}

fn redact_plain(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    for (_, r) in secret_values(text) {
        if r.start < last || text.get(r.clone()) == Some(REDACTED) {
            continue;
        }
        out.push_str(text.get(last..r.start).unwrap_or_default());
        out.push_str(REDACTED);
        last = r.end;
        changed = true;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    (out, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_redacts_signatures_and_keys() {
        let url = "https://a.blob.core.windows.net/c/m.zip?sv=1&sig=CANARY%2B%3D&se=2";
        assert_eq!(find(url), Some(Secret::SasSignature));
        let (r, changed) = redact(url);
        assert!(changed);
        assert_eq!(
            r,
            "https://a.blob.core.windows.net/c/m.zip?sv=1&sig=REDACTED&se=2"
        );
        assert_eq!(find(&r), None);
        assert_eq!(
            find("DefaultEndpointsProtocol=https;AccountKey=abc==;X=y"),
            Some(Secret::AccountKey)
        );
        assert_eq!(find("design=sig=x"), None, "sig= must start a parameter");
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(format!("{{\"modelUri\":\"{url}\"}}"));
        assert_eq!(find(&b64), Some(Secret::SasSignature));
        let (r, changed) = redact(&b64);
        assert!(changed);
        assert_eq!(find(&r), None);
        assert_eq!(redact("no secrets"), ("no secrets".to_string(), false));
    }
}
