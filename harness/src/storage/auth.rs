//! How requests to Azure Storage are authorized: Shared Key (an account key signs each request,
//! as Azurite's development account does) or a SAS (a signed query string appended to every
//! URL, as real accounts usually give). Neither key nor signature ever appears in `Debug`,
//! `Display`, errors or logs: both are held in types whose formatting says `REDACTED`.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The storage REST version sent as `x-ms-version` (supported by Azurite 3.35 and Azure).
pub const STORAGE_VERSION: &str = "2021-08-06";

/// An account key (decoded), never printed.
#[derive(Clone)]
pub struct AccountKey(Vec<u8>);

impl AccountKey {
    /// From the base64 text a connection string or the portal gives.
    pub fn from_base64(text: &str) -> Result<Self, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(Self)
    }

    /// From base64 text as Node's decoder reads it (the JS SDK signs so): the URL-safe
    /// alphabet too, padding optional. A key like Azurite's test key `testing_key` decodes.
    pub fn from_base64_lenient(text: &str) -> Result<Self, base64::DecodeError> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        let engine = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        engine.decode(normal).map(Self)
    }

    /// From the decoded bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The decoded key, for signing.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as a connection string writes it.
    pub(crate) fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(REDACTED)")
    }
}

/// A SAS token: the query string (without `?`), never printed.
#[derive(Clone)]
pub struct SasToken(String);

impl SasToken {
    /// From a query string, with or without its leading `?`.
    pub fn new(query: &str) -> Self {
        Self(query.trim_start_matches('?').to_string())
    }

    pub(crate) fn query(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasToken(REDACTED)")
    }
}

/// How to authorize.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// Shared Key: the account name and key sign every request.
    SharedKey {
        /// The account name (`devstoreaccount1` on Azurite).
        account: String,
        /// The key.
        key: AccountKey,
    },
    /// A SAS appended to every URL.
    Sas(SasToken),
    /// No authorization (a public resource; Azurite refuses these).
    Anonymous,
}

/// The Shared Key string-to-sign of one request (learn.microsoft.com, "Authorize with Shared
/// Key": the Blob, Queue and File services' format), then its signature.
pub struct Signer<'a> {
    /// The account name.
    pub account: &'a str,
    /// Its key.
    pub key: &'a AccountKey,
}

impl Signer<'_> {
    /// The `Authorization` header value. `path` is the URL path as sent (percent-encoded);
    /// `query` the decoded query parameters; `headers` every header that will be sent.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
    ) -> String {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or("", |(_, v)| v.as_str())
        };
        // Content-Length is empty when zero (versions 2015-02-21 and later).
        let length = match header("content-length") {
            "0" => "",
            other => other,
        };
        let mut ms: Vec<(String, &str)> = headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
            .collect();
        ms.sort();
        let mut canonical_headers = String::new();
        for (n, v) in ms {
            canonical_headers.push_str(&format!("{n}:{v}\n"));
        }
        let mut resource = format!("/{}{}", self.account, path);
        let mut params: Vec<(String, &str)> = query
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .collect();
        params.sort();
        for (n, v) in params {
            resource.push_str(&format!("\n{n}:{v}"));
        }
        let to_sign = format!(
            "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n{canonical_headers}{resource}",
            header("content-encoding"),
            header("content-language"),
            header("content-md5"),
            header("content-type"),
            header("if-modified-since"),
            header("if-match"),
            header("if-none-match"),
            header("if-unmodified-since"),
            header("range"),
        );
        let signature = sign(&self.key.0, &to_sign);
        format!("SharedKey {}:{signature}", self.account)
    }
}

/// HMAC-SHA256 of `text` under `key`, in base64: the signature of Shared Key and of a SAS, and the
/// one place it is computed.
pub(crate) fn sign(key: &[u8], text: &str) -> String {
    // HMAC takes a key of every length (RFC 2104: a longer one is hashed first); the
    // constructor's error is for MACs with fixed key sizes, and cannot happen here.
    #[allow(
        clippy::expect_used,
        reason = "HMAC takes keys of every length (RFC 2104)"
    )]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of every length");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let key = AccountKey::from_base64("Q0FOQVJZa2V5").unwrap();
        let creds = Credentials::SharedKey {
            account: "a".into(),
            key,
        };
        assert!(
            !format!("{creds:?}").contains("CANARY")
                && !format!("{creds:?}").contains("Q0FOQVJZa2V5")
        );
        let sas = Credentials::Sas(SasToken::new("?sv=1&sig=CANARY"));
        assert!(!format!("{sas:?}").contains("CANARY"));
    }

    /// The signature follows the documented string-to-sign: the same request signed twice is
    /// the same, and any canonicalized part changes it.
    #[test]
    fn shared_key_signs_the_canonical_request() {
        let key = AccountKey::from_base64("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==").unwrap();
        let signer = Signer {
            account: "devstoreaccount1",
            key: &key,
        };
        let headers = vec![
            (
                "x-ms-date".to_string(),
                "Thu, 26 Nov 2026 08:00:00 GMT".to_string(),
            ),
            ("x-ms-version".to_string(), STORAGE_VERSION.to_string()),
        ];
        let query = vec![("numofmessages".to_string(), "32".to_string())];
        let a = signer.authorization("GET", "/devstoreaccount1/q/messages", &query, &headers);
        assert_eq!(
            a,
            signer.authorization("GET", "/devstoreaccount1/q/messages", &query, &headers)
        );
        assert!(a.starts_with("SharedKey devstoreaccount1:"));
        assert_ne!(
            a,
            signer.authorization("DELETE", "/devstoreaccount1/q/messages", &query, &headers)
        );
        assert_ne!(
            a,
            signer.authorization("GET", "/devstoreaccount1/q/messages", &[], &headers)
        );
    }
}
