//! [`ModelUri`]: the `Content.modelUri` of an `Export` notification, an absolute `http`/`https`
//! URI (RFC 3986, parsed by `fluent-uri`). It may carry a SAS signature (seed, "Get model export
//! backups": without a backup container it is "the SAS URL for your Custom Vision model blob"),
//! so every way of printing it redacts the `sig` parameter and any userinfo; only
//! [`ModelUri::expose_secret`] gives the text back exactly.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use fluent_uri::Uri;

use crate::blob::{BackupBlobName, BlobNameError};
use crate::path::Snippet;
use crate::redact::REDACTED;

/// Why a `modelUri` is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelUriError {
    /// Not a URI reference at all (RFC 3986 grammar), at this byte of the URI text.
    Syntax {
        /// Byte index inside the URI text.
        index: usize,
    },
    /// A relative reference (no scheme): it cannot name a blob on its own.
    Relative,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme {
        /// The scheme written.
        scheme: Snippet,
    },
    /// No authority, or an empty host (`https:///x`).
    MissingHost,
}

impl fmt::Display for ModelUriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { index } => write!(f, "not an RFC 3986 URI (character {index})"),
            Self::Relative => {
                f.write_str("relative reference; an absolute http(s) URI is required")
            }
            Self::UnsupportedScheme { scheme } => {
                write!(f, "scheme {scheme} is not http or https")
            }
            Self::MissingHost => f.write_str("URI has no host"),
        }
    }
}

/// An absolute `http` or `https` URI naming an exported model.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelUri {
    uri: Uri<String>,
}

impl ModelUri {
    /// Parses and checks the rules of `Content.modelUri`.
    pub fn parse(text: &str) -> Result<Self, ModelUriError> {
        let uri = match Uri::parse(text) {
            Ok(uri) => uri,
            Err(e) => {
                return Err(match fluent_uri::UriRef::parse(text) {
                    Ok(_) => ModelUriError::Relative,
                    Err(_) => ModelUriError::Syntax { index: e.index() },
                });
            }
        };
        let scheme = uri.scheme().as_str();
        if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
            return Err(ModelUriError::UnsupportedScheme {
                scheme: Snippet::new(scheme),
            });
        }
        match uri.authority() {
            Some(a) if !a.host().is_empty() => {}
            _ => return Err(ModelUriError::MissingHost),
        }
        Ok(Self {
            uri: uri.to_owned(),
        })
    }

    /// The exact text, SAS signature included. For storage and round trips only: never log it.
    pub fn expose_secret(&self) -> &str {
        self.uri.as_str()
    }

    /// `https` or `http`, lower-cased.
    pub fn is_https(&self) -> bool {
        self.uri.scheme().as_str().eq_ignore_ascii_case("https")
    }

    /// The host, as written (a registered name or an IP literal).
    pub fn host(&self) -> &str {
        self.uri.authority().map_or("", |a| a.host())
    }

    /// The port, when one is written.
    pub fn port(&self) -> Option<&str> {
        self.uri
            .authority()
            .and_then(|a| a.port())
            .map(|p| p.as_str())
    }

    /// The path as written (percent-encoded).
    pub fn path(&self) -> &str {
        self.uri.path().as_str()
    }

    /// Whether a query or a fragment follows the path (even an empty one).
    pub fn has_query_or_fragment(&self) -> bool {
        self.uri.query().is_some() || self.uri.fragment().is_some()
    }

    /// Whether the query has a SAS signature (`sig`).
    pub fn has_sas_signature(&self) -> bool {
        self.uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| is_secret_param(p.as_str())))
    }

    /// The last path segment, percent-decoded (the blob name inside a container URI, when the
    /// blob name has no `/`). `None` when the path is empty or ends with `/`, or the decoded bytes
    /// are not UTF-8.
    pub fn last_segment_decoded(&self) -> Option<Cow<'_, str>> {
        let last = self.uri.path().segments_if_absolute()?.next_back()?;
        if last.is_empty() {
            return None;
        }
        last.decode().to_string().ok()
    }

    /// The backup blob name in the last path segment, if the URI has one. `None` when there is no
    /// last segment; `Some(Err)` when there is one that is not a backup blob name.
    pub fn backup_blob_name(&self) -> Option<Result<BackupBlobName, BlobNameError>> {
        self.last_segment_decoded()
            .map(|seg| BackupBlobName::parse(&seg))
    }

    /// A `Display` form with secrets replaced by [`REDACTED`].
    pub fn redacted(&self) -> RedactedUri<'_> {
        RedactedUri(self)
    }
}

/// `sig=...` (any case of the name, percent-encoded or not): the secret rule's name test.
fn is_secret_param(param: &str) -> bool {
    let name = param.split_once('=').map_or(param, |(n, _)| n);
    crate::redact::is_secret_name(name)
}

/// The URI with the `sig` value and any userinfo replaced by [`REDACTED`].
#[derive(Clone, Copy)]
pub struct RedactedUri<'a>(&'a ModelUri);

impl RedactedUri<'_> {
    /// The URI with its query's signature parameters and its userinfo replaced.
    fn compose(&self) -> String {
        use core::fmt::Write as _;
        let uri = &self.0.uri;
        let mut out = String::new();
        let _ = write!(out, "{}:", uri.scheme().as_str());
        if let Some(auth) = uri.authority() {
            out.push_str("//");
            if auth.has_userinfo() {
                let _ = write!(out, "{REDACTED}@");
            }
            out.push_str(auth.host());
            if let Some(port) = auth.port() {
                let _ = write!(out, ":{}", port.as_str());
            }
        }
        out.push_str(uri.path().as_str());
        if let Some(query) = uri.query() {
            out.push('?');
            for (n, param) in query.split('&').enumerate() {
                if n > 0 {
                    out.push('&');
                }
                let param = param.as_str();
                match param.split_once('=') {
                    Some((name, _)) if is_secret_param(param) => {
                        let _ = write!(out, "{name}={REDACTED}");
                    }
                    _ => out.push_str(param),
                }
            }
        }
        if let Some(fragment) = uri.fragment() {
            let _ = write!(out, "#{}", fragment.as_str());
        }
        out
    }
}

/// Composed part by part, then swept once more for anything that looks like a secret value in
/// any component (`sig=` can sit in a host: sub-delimiters are allowed in a registered name).
impl fmt::Display for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::redact::redact(&self.compose()))
    }
}

impl fmt::Debug for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Redacted.
impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.redacted(), f)
    }
}

/// Redacted.
impl fmt::Debug for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelUri({})", self.redacted())
    }
}

/// Redacted: a report that serialises a `ModelUri` never carries its signature.
impl serde::Serialize for ModelUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const CANARY: &str = "CANARYsig0123456789abcdef%3D";

    #[test]
    fn accepts_absolute_http_and_https_only() {
        assert!(ModelUri::parse("https://a.blob.core.windows.net/c/b").is_ok());
        assert!(ModelUri::parse("HTTP://127.0.0.1:10000/devstoreaccount1/c/b").is_ok());
        assert_eq!(ModelUri::parse("/c/b"), Err(ModelUriError::Relative));
        assert_eq!(ModelUri::parse("//host/c/b"), Err(ModelUriError::Relative));
        assert!(matches!(
            ModelUri::parse("ftp://host/x"),
            Err(ModelUriError::UnsupportedScheme { .. })
        ));
        assert_eq!(
            ModelUri::parse("https:///x"),
            Err(ModelUriError::MissingHost)
        );
        assert_eq!(ModelUri::parse("https:x"), Err(ModelUriError::MissingHost));
        assert!(matches!(
            ModelUri::parse("https://h/a b"),
            Err(ModelUriError::Syntax { .. })
        ));
    }

    #[test]
    fn every_printed_form_redacts_the_signature_and_userinfo() {
        let text = format!("https://user:pw@h.example/c/m.zip?sv=2021&SIG={CANARY}&se=x#f");
        let uri = ModelUri::parse(&text).unwrap();
        assert!(uri.has_sas_signature());
        for shown in [
            format!("{uri}"),
            format!("{uri:?}"),
            format!("{}", uri.redacted()),
        ] {
            assert!(!shown.contains("CANARY"), "{shown}");
            assert!(!shown.contains("pw"), "{shown}");
            assert!(shown.contains("SIG=REDACTED&se=x#f"), "{shown}");
        }
        assert_eq!(uri.expose_secret(), text);
        let encoded = ModelUri::parse(&format!("https://h/c?%73Ig={CANARY}")).unwrap();
        assert!(!format!("{encoded}").contains("CANARY"));
        // Found by fuzzing (fuzz/regressions/blob_name/sig-in-host): `&` and `=` are allowed in
        // a registered name, so a host can hold `sig=...`.
        let in_host =
            ModelUri::parse(&format!("https://cvbackup.queue.c-06&sp=raup&sig={CANARY}")).unwrap();
        assert_eq!(in_host.path(), "");
        assert!(!format!("{in_host}").contains("CANARY"), "{in_host}");
        assert!(!format!("{in_host:?}").contains("CANARY"));
    }

    #[test]
    fn finds_the_backup_blob_name_in_the_last_segment() {
        let uri = ModelUri::parse(
            "https://a.blob.core.windows.net/backups/0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b%20-%201b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b.ONNX?sig=x",
        )
        .unwrap();
        let name = uri.backup_blob_name().unwrap().unwrap();
        assert_eq!(format!("{}", name.platform()), "ONNX");
        assert!(
            ModelUri::parse("https://h/")
                .unwrap()
                .backup_blob_name()
                .is_none()
        );
    }
}
