//! How the simulated storage services authorize a request, as Azure Storage and Azurite do:
//! Shared Key (the `Authorization` header's signature, computed over the request with the
//! account key), an account SAS, or a service SAS (queue, container or blob), each signature
//! verified against the account key; then the SAS's expiry, start, protocol, services, resource
//! types and permissions against what the operation needs. A request none of them authorizes
//! gets 403 with Azurite's code: `AuthenticationFailed` from the Queue service,
//! `AuthorizationFailure` from the Blob service, or the mismatch that failed.

use std::time::SystemTime;

use wiremock::Request;

use crate::storage::AccountKey;

/// Azurite's well-known development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key (public: every emulator uses it).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Which storage service a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StorageService {
    Queue,
    Blob,
}

/// The resource level an operation works on (account SAS `srt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// The service (`s`): list queues or containers.
    Service,
    /// A queue or container (`c`).
    Container,
    /// A message or blob (`o`).
    Object,
}

/// What an operation needs from a SAS: its level, and any one of these permission letters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Needs {
    pub(crate) level: Level,
    /// Account SAS permission letters (any one suffices).
    pub(crate) account: &'static str,
    /// Service SAS permission letters (any one suffices).
    pub(crate) service: &'static str,
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No credentials, or a signature that does not verify, or an expired or not yet valid SAS.
    AuthenticationFailed,
    /// A SAS for other permissions.
    PermissionMismatch,
    /// An account SAS for other services.
    ServiceMismatch,
    /// An account SAS for other resource types.
    ResourceTypeMismatch,
    /// A SAS limited to https, used over http.
    ProtocolMismatch,
}

impl Refusal {
    /// The error code `service` answers with (Azurite's Blob service says
    /// `AuthorizationFailure` where its Queue service, like Azure, says `AuthenticationFailed`).
    pub(crate) fn code(self, service: StorageService) -> &'static str {
        match self {
            Self::AuthenticationFailed if service == StorageService::Blob => "AuthorizationFailure",
            Self::AuthenticationFailed => "AuthenticationFailed",
            Self::PermissionMismatch => "AuthorizationPermissionMismatch",
            Self::ServiceMismatch => "AuthorizationServiceMismatch",
            Self::ResourceTypeMismatch => "AuthorizationResourceTypeMismatch",
            Self::ProtocolMismatch => "AuthorizationProtocolMismatch",
        }
    }
}

fn hmac(key: &[u8], text: &str) -> String {
    crate::storage::sign(key, text)
}

/// Compares two signatures in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The decoded query parameters, names as written.
fn query(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

fn param<'q>(q: &'q [(String, String)], name: &str) -> Option<&'q str> {
    q.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The Shared Key string-to-sign of a request (learn.microsoft.com, "Authorize with Shared
/// Key", the Blob and Queue services' format).
fn shared_key_string(request: &Request, account: &str) -> String {
    let header = |name: &str| {
        request
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let length = match header("content-length").as_str() {
        "0" => String::new(),
        other => other.to_string(),
    };
    let mut ms: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-ms-"))
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.to_str().unwrap_or_default().trim().to_string(),
            )
        })
        .collect();
    ms.sort();
    // Repeated headers join their values with commas.
    let mut canonical_headers = String::new();
    let mut last: Option<String> = None;
    for (n, v) in ms {
        if last.as_deref() == Some(n.as_str()) {
            canonical_headers.pop();
            canonical_headers.push_str(&format!(",{v}\n"));
        } else {
            canonical_headers.push_str(&format!("{n}:{v}\n"));
        }
        last = Some(n);
    }
    let mut resource = format!("/{account}{}", request.url.path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (n, v) in query(request) {
        let n = n.to_ascii_lowercase();
        match params.iter_mut().find(|(k, _)| *k == n) {
            Some((_, vs)) => vs.push(v),
            None => params.push((n, vec![v])),
        }
    }
    params.sort();
    for (n, mut vs) in params {
        vs.sort();
        resource.push_str(&format!("\n{n}:{}", vs.join(",")));
    }
    format!(
        "{}\n{}\n{}\n{length}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{canonical_headers}{resource}",
        request.method.as_str(),
        header("content-encoding"),
        header("content-language"),
        header("content-md5"),
        header("content-type"),
        header("date"),
        header("if-modified-since"),
        header("if-match"),
        header("if-none-match"),
        header("if-unmodified-since"),
        header("range"),
    )
}

/// A SAS time: ISO 8601, seconds optional (`2099-01-01T00:00:00Z`, `2099-01-01T00:00Z`).
fn sas_time(text: &str) -> Option<SystemTime> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            let with_seconds = text.strip_suffix('Z').map(|t| format!("{t}:00Z"))?;
            time::OffsetDateTime::parse(
                &with_seconds,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        })?;
    Some(SystemTime::from(parsed))
}

/// What a request may do, given the accounts' keys.
pub(crate) struct Authorizer<'a> {
    pub(crate) account: &'a str,
    pub(crate) key: &'a AccountKey,
    /// The account's second key, when it has one: Azure gives every account two, so that one
    /// can be rotated while the other signs.
    pub(crate) secondary: Option<&'a AccountKey>,
}

impl Authorizer<'_> {
    /// Checks the request. `resource` is the queue or container name and `blob` the blob name
    /// (for service SAS canonical names); `now` the service's time; `https` whether the
    /// request came over TLS (never, on loopback).
    pub(crate) fn check(
        &self,
        request: &Request,
        service: StorageService,
        needs: Needs,
        resource: Option<&str>,
        blob: Option<&str>,
        now: SystemTime,
    ) -> Result<(), Refusal> {
        if let Some(auth) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            return self.shared_key(request, auth);
        }
        let q = query(request);
        let Some(sig) = param(&q, "sig") else {
            return Err(Refusal::AuthenticationFailed);
        };
        // A signature given twice is no signature (Azurite refuses it; judging the first would
        // let a request carry a second one nobody checks).
        if q.iter().filter(|(n, _)| n == "sig").count() > 1 {
            return Err(Refusal::AuthenticationFailed);
        }
        let (Some(version), Some(permissions), Some(expiry)) =
            (param(&q, "sv"), param(&q, "sp"), param(&q, "se"))
        else {
            return Err(Refusal::AuthenticationFailed);
        };
        let get = |n: &str| param(&q, n).unwrap_or_default();
        let (signed, account_sas) = if let Some(services) = param(&q, "ss") {
            let mut fields = vec![
                self.account,
                permissions,
                services,
                get("srt"),
                get("st"),
                expiry,
                get("sip"),
                get("spr"),
                version,
            ];
            if version >= "2020-12-06" {
                fields.push(get("ses"));
            }
            fields.push("");
            (fields.join("\n"), true)
        } else {
            let canonical = match service {
                StorageService::Queue => {
                    format!("/queue/{}/{}", self.account, resource.unwrap_or_default())
                }
                StorageService::Blob => match (get("sr"), blob) {
                    ("b" | "bs" | "bv", Some(b)) => {
                        format!(
                            "/blob/{}/{}/{b}",
                            self.account,
                            resource.unwrap_or_default()
                        )
                    }
                    _ => format!("/blob/{}/{}", self.account, resource.unwrap_or_default()),
                },
            };
            let mut fields = vec![
                permissions,
                get("st"),
                expiry,
                canonical.as_str(),
                get("si"),
                get("sip"),
                get("spr"),
                version,
            ];
            if service == StorageService::Blob {
                if version >= "2018-11-09" {
                    fields.extend([get("sr"), get("snapshot")]);
                }
                if version >= "2020-12-06" {
                    fields.push(get("ses"));
                }
                fields.extend([
                    get("rscc"),
                    get("rscd"),
                    get("rsce"),
                    get("rscl"),
                    get("rsct"),
                ]);
            }
            (fields.join("\n"), false)
        };
        if !self.signed(&signed, sig) {
            return Err(Refusal::AuthenticationFailed);
        }
        let expired = sas_time(expiry).is_none_or(|e| e <= now);
        let early = param(&q, "st").is_some_and(|st| sas_time(st).is_none_or(|s| s > now));
        if expired || early {
            return Err(Refusal::AuthenticationFailed);
        }
        if get("spr") == "https" {
            return Err(Refusal::ProtocolMismatch);
        }
        if account_sas {
            let letter = match service {
                StorageService::Queue => 'q',
                StorageService::Blob => 'b',
            };
            if !get("ss").contains(letter) {
                return Err(Refusal::ServiceMismatch);
            }
            let level = match needs.level {
                Level::Service => 's',
                Level::Container => 'c',
                Level::Object => 'o',
            };
            if !get("srt").contains(level) {
                return Err(Refusal::ResourceTypeMismatch);
            }
            if !needs.account.chars().any(|p| permissions.contains(p)) {
                return Err(Refusal::PermissionMismatch);
            }
        } else {
            // A service SAS is for one queue or container: no service-level operations.
            if needs.level == Level::Service
                || !needs.service.chars().any(|p| permissions.contains(p))
            {
                return Err(Refusal::PermissionMismatch);
            }
        }
        Ok(())
    }

    /// Whether `signature` is `text` signed with either of the account's keys.
    fn signed(&self, text: &str, signature: &str) -> bool {
        std::iter::once(self.key)
            .chain(self.secondary)
            .any(|key| same(&hmac(key.bytes(), text), signature))
    }

    fn shared_key(&self, request: &Request, auth: &str) -> Result<(), Refusal> {
        let Some(("SharedKey", credential)) = auth.split_once(' ') else {
            return Err(Refusal::AuthenticationFailed);
        };
        let Some((account, signature)) = credential.split_once(':') else {
            return Err(Refusal::AuthenticationFailed);
        };
        if account != self.account {
            return Err(Refusal::AuthenticationFailed);
        }
        if self.signed(&shared_key_string(request, account), signature) {
            Ok(())
        } else {
            Err(Refusal::AuthenticationFailed)
        }
    }
}

/// [`account_sas`] for Azurite's development account (the token Azurite's documentation gives).
pub fn dev_account_sas() -> String {
    let key =
        AccountKey::from_base64(DEV_KEY).unwrap_or_else(|_| AccountKey::from_bytes(Vec::new()));
    account_sas(DEV_ACCOUNT, &key)
}

/// An account SAS for `account` signed with `key`: both services, every resource type and
/// permission, valid until 2099 (version 2021-08-06).
pub fn account_sas(account: &str, key: &AccountKey) -> String {
    let (sp, ss, srt, se, spr, sv) = (
        "rwdlacup",
        "bq",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2021-08-06",
    );
    let to_sign = format!("{account}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let sig = crate::storage::sign(key.bytes(), &to_sign);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    format!(
        "sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
        enc(se),
        enc(spr),
        enc(&sig)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_development_account_sas_is_the_one_azurite_documents() {
        assert_eq!(
            super::dev_account_sas(),
            "sv=2021-08-06&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=1tmwxodjvXAEaYjPSDfgKvuIi8qNP7dj%2FNoQuCE3hXg%3D"
        );
    }
}
