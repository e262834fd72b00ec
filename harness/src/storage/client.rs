//! One Azure Storage resource (a queue or a container) over HTTP: builds each request (version,
//! date, authorization), retries what is safe to retry, and turns failures into [`StorageError`]s
//! that never carry a URL (a SAS lives in the query) or a key.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{Method, StatusCode, Url};

use super::auth::{Credentials, STORAGE_VERSION, Signer};
use cvnotify_wire::xml;

/// When to retry and how long to wait (the Functions host and the storage SDKs retry the same
/// statuses: 429, 500, 503, timeouts, connection failures).
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first wait; each next one doubles, with up to half of it added at random.
    pub initial_backoff: Duration,
    /// The longest single wait.
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: Self = Self {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        max_elapsed: Duration::ZERO,
    };

    /// The wait before attempt `attempt + 1`: the server's `x-ms-retry-after-ms` or
    /// `Retry-After` when it gave one, else exponential backoff with jitter.
    pub(crate) fn wait(
        &self,
        attempt: u32,
        server: Option<Duration>,
        jitter: &mut Jitter,
    ) -> Duration {
        if let Some(d) = server {
            // The server's word, capped so that a broken header cannot stall a client for hours.
            return d.min(Duration::from_secs(120));
        }
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        let extra = base.mul_f64(jitter.next_unit() * 0.5);
        (base + extra).min(self.max_backoff)
    }
}

/// Jitter for backoff: a small xorshift, seeded per client from the clock (jitter needs to be
/// different between clients, not unpredictable).
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(seed | 1)
    }

    /// A number in [0, 1).
    pub(crate) fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A failed storage request.
#[derive(Debug)]
pub enum StorageError {
    /// The service answered with an error status.
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// `x-ms-error-code` or the body's `Code` (`QueueNotFound`, `MessageNotFound`, ...).
        code: Option<String>,
        /// The body's `Message`, first line.
        message: Option<String>,
    },
    /// No answer: connection refused or reset, timeout, TLS.
    Transport(String),
    /// An answer that is not what the API documents.
    Body(xml::XmlError),
    /// The resource URL is not usable.
    Url(String),
    /// One of the above, in a named call on a named resource, with what to do about it when
    /// that is known.
    Call {
        /// The Storage REST operation (`Get Messages`, `Put Blob`).
        call: &'static str,
        /// `queue NAME` or `container NAME`.
        on: String,
        /// What to do, when the failure says (a refused request without credentials).
        hint: Option<&'static str>,
        /// What happened.
        error: Box<StorageError>,
    },
}

impl StorageError {
    /// The service's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => code.as_deref(),
            Self::Call { error, .. } => error.code(),
            _ => None,
        }
    }

    /// The failure itself, without the call it happened in.
    pub fn cause(&self) -> &Self {
        match self {
            Self::Call { error, .. } => error.cause(),
            other => other,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status {
                status,
                code,
                message,
            } => {
                write!(f, "storage answered {status}")?;
                if status.is_success() {
                    f.write_str(", not the status this call documents")?;
                }
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                if let Some(message) = message {
                    write!(
                        f,
                        ": {}",
                        cvnotify_core::redact::redact(message.lines().next().unwrap_or_default())
                    )?;
                }
                Ok(())
            }
            Self::Transport(why) => write!(f, "storage unreachable: {why}"),
            Self::Body(e) => write!(f, "the answer is not what the call documents: {e}"),
            Self::Url(why) => write!(f, "storage URL: {why}"),
            Self::Call {
                call,
                on,
                hint,
                error,
            } => {
                write!(f, "{call} on {on}: {error}")?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for StorageError {}

/// The longest answer body a client reads, in bytes. The largest documented answer is a Get
/// Messages page: 32 messages of at most 64 KiB, which XML escaping can grow six times (about
/// 12 MiB); a List Blobs page of 5,000 blobs is a few MiB. A longer body is refused as it
/// arrives, without being held, so a misbehaving peer cannot grow memory.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Why an answer's body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The connection failed while it came.
    Transport(reqwest::Error),
    /// It was longer than the limit (this many bytes at least).
    TooLarge(u64),
}

/// Reads an answer's body as text, at most `limit` bytes (invalid UTF-8 is replaced, as
/// `Response::text` does).
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<String, BodyError> {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if let Some(length) = response.content_length()
        && length > limit_u64
    {
        return Err(BodyError::TooLarge(length));
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A transport error's text without the URL reqwest would print (it may hold a SAS).
pub(crate) fn describe_transport(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    let inner = e.without_url().to_string();
    format!("{kind} ({})", cvnotify_core::redact::redact(&inner))
}

fn transport(e: reqwest::Error) -> StorageError {
    StorageError::Transport(describe_transport(e))
}

/// Runs `attempt` until it succeeds, fails for good, or `policy` says stop. `retryable` says
/// whether an outcome may be retried and how long the server asked to wait.
pub(crate) async fn with_retries<T, E, F, Fut>(
    policy: RetryPolicy,
    mut attempt: F,
    retryable: impl Fn(&Result<T, E>) -> (bool, Option<Duration>),
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut jitter = Jitter::new();
    let mut attempts = 0;
    loop {
        let outcome = attempt().await;
        let (again, server) = retryable(&outcome);
        attempts += 1;
        let wait = policy.wait(attempts - 1, server, &mut jitter);
        if !again
            || attempts >= policy.max_attempts
            || started.elapsed() + wait > policy.max_elapsed
        {
            return outcome;
        }
        tokio::time::sleep(wait).await;
    }
}

/// Whether an HTTP status is worth retrying (429, 500, 503), and the server's wait.
pub(crate) fn retry_status(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> (bool, Option<Duration>) {
    if matches!(status.as_u16(), 429 | 500 | 503) {
        (true, server_wait(headers))
    } else {
        (false, None)
    }
}

/// Where a request goes.
pub(crate) struct Target<'a> {
    suffix: &'a str,
    blob: Option<&'a str>,
    query: &'a [(&'a str, String)],
    headers: &'a [(&'a str, &'a str)],
}

/// A response that arrived.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    /// The answer, when its status is one of `expected`; else the error it carries.
    pub(crate) fn expect(self, expected: &[u16]) -> Result<Self, StorageError> {
        if expected.contains(&self.status.as_u16()) {
            Ok(self)
        } else {
            Err(failure(&self))
        }
    }

    /// The text of the header `name`, which the call documents.
    pub(crate) fn header(&self, name: &str) -> Result<&str, StorageError> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| StorageError::Body(xml::XmlError(format!("no {name} header"))))
    }
}

/// One storage resource: a queue (`https://acct.queue.core.windows.net/q`) or a container.
#[derive(Clone)]
pub struct Resource {
    http: reqwest::Client,
    /// The resource URL without its query.
    base: Url,
    credentials: Credentials,
    retry: RetryPolicy,
}

/// The URL without its query (where a SAS would be).
impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("url", &self.base.as_str())
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Resource {
    /// A resource at `url`. A query on the URL is taken as a SAS unless credentials are given.
    pub fn new(
        url: &str,
        credentials: Option<Credentials>,
        retry: RetryPolicy,
    ) -> Result<Self, StorageError> {
        let mut base = Url::parse(url).map_err(|e| StorageError::Url(e.to_string()))?;
        let credentials = match (credentials, base.query()) {
            (Some(c), _) => c,
            (None, Some(q)) if !q.is_empty() => Credentials::Sas(super::auth::SasToken::new(q)),
            (None, _) => Credentials::Anonymous,
        };
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(transport)?;
        Ok(Self {
            http,
            base,
            credentials,
            retry,
        })
    }

    /// The resource URL without query.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// A sibling resource (same account and credentials): `<queue>-poison` next to `<queue>`.
    pub fn sibling(&self, name: &str) -> Result<Self, StorageError> {
        let mut base = self.base.clone();
        let mut segments: Vec<String> = base
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        match segments.last_mut() {
            Some(last) => *last = name.to_string(),
            None => return Err(StorageError::Url("the URL has no resource name".into())),
        }
        base.set_path(&segments.join("/"));
        Ok(Self {
            base,
            ..self.clone()
        })
    }

    /// The resource's name (the last path segment).
    pub fn name(&self) -> &str {
        self.base
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
    }

    /// Names the call `call` on this resource (`kind`: `queue` or `container`) in an error,
    /// with a hint when the failure says what to do.
    pub(crate) fn during(
        &self,
        kind: &str,
        call: &'static str,
        error: StorageError,
    ) -> StorageError {
        if matches!(error, StorageError::Call { .. }) {
            return error;
        }
        let named = crate::endpoint::resource_name(self.base.as_str());
        let name = named.as_deref().unwrap_or_default();
        let hint = match &error {
            StorageError::Status { status, .. }
                if matches!(status.as_u16(), 401 | 403)
                    && matches!(self.credentials, Credentials::Anonymous) =>
            {
                Some(
                    "the URL carries no SAS and no account key was given: append a SAS to the URL, or name the key's environment variable with --account-key-env",
                )
            }
            StorageError::Status { status, .. } if status.as_u16() == 403 => Some(
                "the SAS or key was refused: check that it is for this account, unexpired, and allows this operation",
            ),
            StorageError::Status { status, .. } if name.is_empty() && status.is_client_error() => {
                Some(match kind {
                    "queue" => {
                        "the URL names no queue: https://ACCOUNT.queue.core.windows.net/QUEUE"
                    }
                    _ => {
                        "the URL names no container: https://ACCOUNT.blob.core.windows.net/CONTAINER"
                    }
                })
            }
            _ => None,
        };
        let on = if name.is_empty() {
            format!("{kind} (no name in the URL)")
        } else {
            format!("{kind} {name}")
        };
        StorageError::Call {
            call,
            on,
            hint,
            error: Box::new(error),
        }
    }

    /// Sends one request to a path under the resource (`messages`, `messages/{id}`), with
    /// retries when `retry` says the call is safe to repeat.
    pub(crate) async fn send(
        &self,
        method: Method,
        suffix: &str,
        query: &[(&str, String)],
        body: Option<String>,
        retry: bool,
    ) -> Result<Answer, StorageError> {
        let target = Target {
            suffix,
            blob: None,
            query,
            headers: &[],
        };
        self.send_to(method, &target, body, retry).await
    }

    /// Sends one request about the blob `name` (percent-encoded as one path segment); reads
    /// retry, writes do not.
    pub(crate) async fn send_blob(
        &self,
        method: Method,
        name: &str,
        body: Option<String>,
    ) -> Result<Answer, StorageError> {
        let retry = matches!(method, Method::GET | Method::HEAD);
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("x-ms-blob-type", "BlockBlob")]
        } else {
            &[]
        };
        let target = Target {
            suffix: "",
            blob: Some(name),
            query: &[],
            headers,
        };
        self.send_to(method, &target, body, retry).await
    }

    async fn send_to(
        &self,
        method: Method,
        target: &Target<'_>,
        body: Option<String>,
        retry: bool,
    ) -> Result<Answer, StorageError> {
        let policy = if retry { self.retry } else { RetryPolicy::NONE };
        with_retries(
            policy,
            || self.attempt(method.clone(), target, body.clone()),
            |outcome| match outcome {
                Ok(a) => retry_status(a.status, &a.headers),
                Err(StorageError::Transport(_)) => (true, None),
                Err(_) => (false, None),
            },
        )
        .await
    }

    async fn attempt(
        &self,
        method: Method,
        target: &Target<'_>,
        body: Option<String>,
    ) -> Result<Answer, StorageError> {
        let mut url = self.base.clone();
        if !target.suffix.is_empty() {
            let path = format!("{}/{}", url.path().trim_end_matches('/'), target.suffix);
            url.set_path(&path);
        }
        if let Some(name) = target.blob {
            match url.path_segments_mut() {
                Ok(mut segments) => {
                    segments.pop_if_empty().push(name);
                }
                Err(()) => return Err(StorageError::Url("the URL cannot hold a blob name".into())),
            }
        }
        if !target.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in target.query {
                pairs.append_pair(k, v);
            }
        }
        let date = httpdate::fmt_http_date(SystemTime::now());
        let length = body.as_ref().map_or(0, String::len);
        let mut headers: Vec<(String, String)> = vec![
            ("x-ms-date".into(), date),
            ("x-ms-version".into(), STORAGE_VERSION.into()),
            ("content-length".into(), length.to_string()),
        ];
        if body.is_some() && target.blob.is_none() {
            headers.push(("content-type".into(), "application/xml".into()));
        }
        headers.extend(
            target
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string())),
        );
        match &self.credentials {
            Credentials::SharedKey { account, key } => {
                let decoded: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let auth = Signer { account, key }.authorization(
                    method.as_str(),
                    url.path(),
                    &decoded,
                    &headers,
                );
                headers.push(("authorization".into(), auth));
            }
            Credentials::Sas(sas) => {
                let joined = match url.query() {
                    Some(q) if !q.is_empty() => format!("{q}&{}", sas.query()),
                    _ => sas.query().to_string(),
                };
                url.set_query(Some(&joined));
            }
            Credentials::Anonymous => {}
        }
        // The path only: the query may hold a SAS, the headers a Shared Key signature.
        let (shown_method, path) = (method.clone(), url.path().to_string());
        let mut request = self.http.request(method, url);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|e| {
            tracing::debug!(method = %shown_method, path, "storage request got no answer");
            transport(e)
        })?;
        let status = response.status();
        tracing::debug!(
            method = %shown_method,
            path,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "storage"
        );
        let headers = response.headers().clone();
        let body = read_body(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::Transport(e) => transport(e),
                BodyError::TooLarge(n) => StorageError::Body(xml::XmlError(format!(
                    "the answer has {n} bytes or more, more than any documented answer \
                     ({MAX_ANSWER_BYTES}); not read"
                ))),
            })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The wait the server asked for: `x-ms-retry-after-ms`, else `Retry-After` in seconds.
pub(crate) fn server_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    number("x-ms-retry-after-ms")
        .map(Duration::from_millis)
        .or_else(|| number("retry-after").map(Duration::from_secs))
}

/// The error of a failed answer.
pub(crate) fn failure(answer: &Answer) -> StorageError {
    let (code, message) = xml::read_error(&answer.body);
    let header = answer
        .headers
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    StorageError::Status {
        status: answer.status,
        code: header.or(code),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_within_bounds_and_honours_the_server() {
        let p = RetryPolicy::default();
        let mut j = Jitter(12345);
        let waits: Vec<Duration> = (0..8).map(|a| p.wait(a, None, &mut j)).collect();
        for (a, w) in waits.iter().enumerate() {
            let base = p.initial_backoff.saturating_mul(1 << a).min(p.max_backoff);
            assert!(
                *w >= base && *w <= (base.mul_f64(1.5)).min(p.max_backoff),
                "attempt {a}: {w:?}"
            );
        }
        assert_eq!(
            p.wait(0, Some(Duration::from_millis(1500)), &mut j),
            Duration::from_millis(1500)
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(server_wait(&headers), Some(Duration::from_secs(3)));
        headers.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(server_wait(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn a_sas_on_the_url_becomes_the_credentials_and_never_prints() {
        let r = Resource::new(
            "https://a.queue.core.windows.net/q?sv=1&sig=CANARY",
            None,
            RetryPolicy::NONE,
        )
        .unwrap();
        assert_eq!(r.url().as_str(), "https://a.queue.core.windows.net/q");
        assert!(!format!("{r:?}").contains("CANARY"));
        assert_eq!(r.name(), "q");
        assert_eq!(
            r.sibling("q-poison").unwrap().url().as_str(),
            "https://a.queue.core.windows.net/q-poison"
        );
    }
}
