//! Where cvnotify may send credentials, and whose they are: an endpoint must be `https`, or
//! plain `http` on a loopback host (an emulator or the simulation) or when the user says the
//! host is an emulator; a storage URL names its account in its host (`acct.queue.core...`) or,
//! path style on an IP address or `localhost`, in its first path segment.

use crate::storage::auth::{AccountKey, Credentials};

/// Why an endpoint is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    NotAUrl(String),
    /// Plain http to a host that is not loopback, without `--emulator`.
    #[error("plain http is refused except for loopback hosts or with --emulator")]
    PlainHttp,
    /// Neither http nor https.
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    /// The URL does not say which account it belongs to.
    #[error("cannot tell the account name from the URL")]
    NoAccount,
}

fn parse(url: &str) -> Result<url::Url, EndpointError> {
    url::Url::parse(url).map_err(|e| EndpointError::NotAUrl(e.to_string()))
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether credentials may be sent to `url`: https always; plain http only to a loopback host,
/// or anywhere when `emulator` says the host is an emulator.
pub fn check_transport(url: &str, emulator: bool) -> Result<(), EndpointError> {
    let parsed = parse(url)?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if emulator || is_loopback(&parsed) => Ok(()),
        "http" => Err(EndpointError::PlainHttp),
        other => Err(EndpointError::Scheme(other.to_string())),
    }
}

/// The account a storage URL belongs to: the first path segment on an IP address or
/// `localhost` (path style, as emulators serve), else the first label of the host.
pub fn account_name(url: &str) -> Result<String, EndpointError> {
    let parsed = parse(url)?;
    let path_style = matches!(parsed.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        || parsed
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost"));
    let name = if path_style {
        parsed
            .path_segments()
            .and_then(|mut s| s.next())
            .map(str::to_string)
    } else {
        parsed
            .host_str()
            .and_then(|h| h.split('.').next())
            .map(str::to_string)
    };
    name.filter(|n| !n.is_empty())
        .ok_or(EndpointError::NoAccount)
}

/// The queue or container a storage URL names: the segment after the account on an IP
/// address or `localhost` (path style), else the first path segment; `None` when it names
/// only the account.
pub fn resource_name(url: &str) -> Option<String> {
    let parsed = parse(url).ok()?;
    let path_style = matches!(parsed.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        || parsed
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("localhost"));
    let mut segments = parsed.path_segments()?.filter(|s| !s.is_empty());
    if path_style {
        segments.next();
    }
    segments.next().map(str::to_string)
}

/// A usage error unless `url` (given with `flag`) names a `kind` (`queue` or `container`).
pub fn require_resource(url: &str, flag: &str, kind: &str) -> Result<(), String> {
    if resource_name(url).is_some() {
        return Ok(());
    }
    let service = if kind == "queue" { "queue" } else { "blob" };
    let port = if kind == "queue" { 10001 } else { 10000 };
    Err(format!(
        "{flag} names no {kind}: give https://ACCOUNT.{service}.core.windows.net/{upper} (on an emulator, http://127.0.0.1:{port}/ACCOUNT/{upper})",
        upper = kind.to_uppercase()
    ))
}

/// Shared Key credentials for the account `url` belongs to.
pub fn shared_key(url: &str, key: AccountKey) -> Result<Credentials, EndpointError> {
    Ok(Credentials::SharedKey {
        account: account_name(url)?,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_url_names_its_resource_after_the_account() {
        let name = |u: &str| resource_name(u);
        assert_eq!(
            name("https://a.queue.core.windows.net/q?sv=1"),
            Some("q".into())
        );
        assert_eq!(name("https://a.queue.core.windows.net/"), None);
        assert_eq!(
            name("http://127.0.0.1:10001/devstoreaccount1/q"),
            Some("q".into())
        );
        assert_eq!(name("http://127.0.0.1:10001/devstoreaccount1"), None);
        assert_eq!(name("http://localhost:10001/devstoreaccount1/"), None);
        assert!(
            require_resource("http://127.0.0.1:1/acct", "--queue", "queue")
                .unwrap_err()
                .contains("--queue names no queue")
        );
    }

    #[test]
    fn plain_http_only_to_loopback_or_an_emulator() {
        assert_eq!(
            check_transport("https://a.queue.core.windows.net/q", false),
            Ok(())
        );
        assert_eq!(
            check_transport("http://127.0.0.1:10001/devstoreaccount1/q", false),
            Ok(())
        );
        assert_eq!(check_transport("http://localhost/x", false), Ok(()));
        assert_eq!(
            check_transport("http://azurite:10001/x", false),
            Err(EndpointError::PlainHttp)
        );
        assert_eq!(check_transport("http://azurite:10001/x", true), Ok(()));
        assert!(matches!(
            check_transport("ftp://a/b", true),
            Err(EndpointError::Scheme(_))
        ));
    }

    #[test]
    fn the_account_comes_from_the_host_or_the_first_segment() {
        assert_eq!(
            account_name("https://acct.queue.core.windows.net/q").unwrap(),
            "acct"
        );
        assert_eq!(
            account_name("http://127.0.0.1:10001/devstoreaccount1/q").unwrap(),
            "devstoreaccount1"
        );
        assert_eq!(
            account_name("http://127.0.0.1:10001/"),
            Err(EndpointError::NoAccount)
        );
    }
}
