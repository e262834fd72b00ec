//! The standalone server (`simulate`, `verify`): a [`Handler`] (the simulation's `EndpointHandler`) over HTTP/1.1 on a loopback
//! port, an accept loop and hyper's connection handling, nothing kept per request once it is
//! answered. The embedded simulation is served by wiremock instead (`Simulation::start`);
//! this server is for what wiremock cannot do: it numbers connections for the journal, reads
//! the case of metadata names off the wire, and a peer cannot tip it over:
//! - a storage request is authorized on its head, before its body is read: a refused upload
//!   is answered at once and its body never buffered;
//! - a body is read up to the service's limit ([`MAX_QUEUE_BODY`], [`MAX_BODY`]); a longer one
//!   gets 413 without being read;
//! - a request head must arrive within [`HEADER_READ_TIMEOUT`];
//! - when accepting fails (the descriptor table is full), the loop waits and tries again,
//!   backing off to [`ACCEPT_BACKOFF_MAX`], instead of spinning; serving resumes by itself.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};

use super::header_case::{CASE_HEADER, CaseTap, CasedNames, Cases};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::http::Reply;

/// The largest request body read (a Put Blob of a model backup fits; Azure's single Put Blob
/// limit is larger, but nothing a client of the integration sends comes near).
pub const MAX_BODY: usize = 256 * 1024 * 1024;

/// The largest body the Queue service reads: one message is at most 64 KiB of text, and its
/// XML (and base64) around it stay far below this.
pub(crate) const MAX_QUEUE_BODY: usize = 1024 * 1024;

/// How long a client has to send a request's head.
pub(crate) const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest wait between failed accepts.
pub(crate) const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// A running server; stopped (its connections too) when dropped.
#[derive(Debug)]
pub struct Server {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// `listener` made async, or a fresh one on a free loopback port when `None`.
pub(crate) async fn listen(
    listener: Option<std::net::TcpListener>,
) -> std::io::Result<TcpListener> {
    match listener {
        Some(l) => {
            l.set_nonblocking(true)?;
            TcpListener::from_std(l)
        }
        None => TcpListener::bind("127.0.0.1:0").await,
    }
}

/// What the server serves: one endpoint of a simulation.
pub(crate) trait Handler: Clone + Send + Sync + 'static {
    /// Whether a request is refused on its head alone (its body is then never read).
    fn refused_on_head(&self, head: &wiremock::Request) -> bool;
    /// The largest body it reads.
    fn max_body(&self) -> usize;
    /// The number of the next TCP connection accepted.
    fn next_connection(&self) -> u64;
    /// Answers one request, which came on TCP connection `connection` (its number and how
    /// many of the server's connections were open): the reply and how long to hold it back.
    fn handle(
        &self,
        request: &mut wiremock::Request,
        connection: Option<(u64, u32)>,
    ) -> (Reply, std::time::Duration);
}

impl Server {
    /// Serves `service` on `listener` (a free loopback port when `None`).
    pub(crate) async fn start(
        listener: Option<std::net::TcpListener>,
        service: impl Handler,
    ) -> std::io::Result<Self> {
        let listener = listen(listener).await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            // How many of this server's connections are open: a client's concurrency, as the
            // journal tells it (a pool opens a connection for a request that finds the others
            // busy, and keeps it).
            let open = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let mut backoff = std::time::Duration::from_millis(10);
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    // Finished connections are reaped as they end, so the set stays small.
                    Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                };
                let stream = match accepted {
                    Ok((stream, _)) => {
                        backoff = std::time::Duration::from_millis(10);
                        stream
                    }
                    Err(_) => {
                        // Out of descriptors (or another passing failure): accepting again at
                        // once would fail again, spinning a core. Wait, and let finished
                        // connections go meanwhile.
                        let pause = tokio::time::sleep(backoff);
                        tokio::pin!(pause);
                        loop {
                            tokio::select! {
                                () = &mut pause => break,
                                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                            }
                        }
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let service = service.clone();
                // Numbered across the simulation's servers, in the order they were accepted.
                let connection = service.next_connection();
                let open = std::sync::Arc::clone(&open);
                let cases = std::sync::Arc::new(std::sync::Mutex::new(Cases::default()));
                let stream = CaseTap::new(stream, std::sync::Arc::clone(&cases));
                connections.spawn(async move {
                    let _counted = Open::count(&open);
                    let handler = service_fn(move |request| {
                        let service = service.clone();
                        let now = open.load(std::sync::atomic::Ordering::Relaxed);
                        // Taken for every request, in order, so each gets its own head's names.
                        let cases = std::sync::Arc::clone(&cases);
                        let cased = cases
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .incoming
                            .take();
                        async move {
                            let mut response =
                                answer(&service, address, (connection, now), request, cased).await;
                            // Its head is the next thing written on the connection.
                            if let Some(CasedNames(names)) = response.extensions_mut().remove() {
                                cases
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .outgoing = names;
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        Ok(Self { address, task })
    }

    /// Where it listens.
    pub fn address(&self) -> &SocketAddr {
        &self.address
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection counted as open while this lives.
struct Open(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl Open {
    fn count(open: &std::sync::Arc<std::sync::atomic::AtomicU32>) -> Self {
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(std::sync::Arc::clone(open))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One request, answered; `connection` is its connection's number and how many of the
/// server's connections were open when it came.
async fn answer(
    service: &impl Handler,
    address: SocketAddr,
    connection: (u64, u32),
    request: hyper::Request<hyper::body::Incoming>,
    cased: Option<Vec<String>>,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    // The metadata names as the client wrote them, for the world (never a client's own).
    parts.headers.remove(CASE_HEADER);
    if let Some(names) = cased.filter(|n| !n.is_empty())
        && let Ok(value) = hyper::header::HeaderValue::from_str(&names.join(","))
    {
        parts.headers.insert(CASE_HEADER, value);
    }
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let Ok(url) = url::Url::parse(&format!("http://{address}{target}")) else {
        return response(Reply::new(400), false);
    };
    let mut request = wiremock::Request {
        url,
        method: parts.method,
        headers: parts.headers,
        body: Vec::new(),
    };
    // Authorized on its head: a refused request is answered (and journaled) without its body
    // being read, and the connection closed, since the body is left unread.
    if service.refused_on_head(&request) {
        let (reply, delay) = service.handle(&mut request, Some(connection));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut answer = response(reply, request.method == hyper::Method::HEAD);
        answer.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        return answer;
    }
    let declared = request
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > service.max_body()) {
        return too_large();
    }
    request.body = match read_body(body, service.max_body(), declared).await {
        Some(body) => body,
        None => return too_large(),
    };
    let head = request.method == hyper::Method::HEAD;
    // The world takes an upload's body as it is (no copy: a blob's bytes are held once).
    let (reply, delay) = service.handle(&mut request, Some(connection));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response(reply, head)
}

/// Reads a body into one buffer, sized up front from its declared length (the pages are only
/// touched as bytes arrive), so that it is held once, not once in pieces and again joined;
/// `None` past `limit` (or a broken body).
async fn read_body(
    mut body: hyper::body::Incoming,
    limit: usize,
    declared: Option<usize>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        if out.len() + data.len() > limit {
            return None;
        }
        out.extend_from_slice(&data);
    }
    Some(out)
}

/// 413 for a body over the service's limit, left unread: the connection closes.
fn too_large() -> hyper::Response<Full<Bytes>> {
    let mut answer = response(Reply::new(413), false);
    answer.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    answer
}

fn response(reply: Reply, head: bool) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(reply.status);
    // Metadata names not in lower case, for the connection to write in their case.
    let cased: Vec<String> = reply
        .headers
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("x-ms-meta-"))
        .filter(|n| n.chars().any(|c| c.is_ascii_uppercase()))
        .map(str::to_string)
        .collect();
    if !cased.is_empty() {
        builder = builder.extension(CasedNames(cased));
    }
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(mime) = &reply.content_type {
        builder = builder.header("content-type", mime.as_str());
    }
    // A storage error's reason phrase is its message, as Azure and Azurite send it: the only
    // words a client has for the error of a HEAD, which has no body.
    let reason = reply
        .headers
        .iter()
        .find(|(n, _)| n == "x-ms-error-code")
        .map(|(_, code)| super::http::message_of(code))
        .filter(|m| *m != super::http::message_of(""));
    // A HEAD answer's Content-Length (when the reply gives one) says what a GET would send.
    let body = if head { Vec::new() } else { reply.body };
    if let Some(reason) = reason {
        builder = builder.extension(hyper::ext::ReasonPhrase::from_static(reason.as_bytes()));
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}
