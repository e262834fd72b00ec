//! The simulated Blob service (learn.microsoft.com, "Blob service REST API"), path style
//! (`/{account}/{container}/{blob}`), as Azurite 3.35 answers it, for block blobs: list
//! containers; create, delete, get the properties and set the metadata of a container; list
//! blobs (prefix, delimiter, paging, metadata); put, get (ranges), get the properties of, and
//! delete a blob; with the service's headers (ETag, Last-Modified, Content-MD5, ...), conditions
//! (`If-None-Match: *`, `If-Match`) and errors.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use cvnotify_core::client::Call;
use md5::Digest as _;
use wiremock::Request;

use super::auth::{Level, Needs};
use super::context::Cx;
use super::http::{Reply, error, header, http_date, query, storage_error};
use super::lease::{self, Holder, Lease};
use super::shared::{check_name, metadata, metadata_xml, percent_decoded};
use super::xml::Xml;

/// One container.
#[derive(Debug, Clone)]
pub(crate) struct ContainerState {
    pub(crate) etag: String,
    pub(crate) last_modified: SystemTime,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) blobs: BTreeMap<String, BlobState>,
    /// Blocks put and not yet committed, per blob name: block id → bytes.
    pub(crate) staged: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Per blob name with staged blocks and no committed blob: when its first block was staged,
    /// and the ETag it lists with (List Blobs `include=uncommittedblobs`).
    pub(crate) uncommitted: BTreeMap<String, (SystemTime, String)>,
    pub(crate) lease: Lease,
    /// Anonymous read access given when it was created (`x-ms-blob-public-access`): to its
    /// blobs (`blob`), or to its blobs and their list (`container`).
    pub(crate) public_access: Option<PublicAccess>,
}

impl ContainerState {
    /// An empty container made at `now` with `etag`: private, without metadata, unleased.
    pub(crate) fn new(etag: String, now: SystemTime) -> Self {
        Self {
            etag,
            last_modified: now,
            metadata: BTreeMap::new(),
            blobs: BTreeMap::new(),
            staged: BTreeMap::new(),
            uncommitted: BTreeMap::new(),
            lease: Lease::Available,
            public_access: None,
        }
    }
}

/// Which anonymous reads a container allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicAccess {
    /// Its blobs' contents and properties.
    Blob,
    /// Those, its properties and the list of its blobs.
    Container,
}

impl PublicAccess {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "blob" => Some(Self::Blob),
            "container" => Some(Self::Container),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Blob => "blob",
            Self::Container => "container",
        }
    }

    /// Whether it lets a request without credentials do `op` (as Azurite's list has it).
    pub(crate) fn allows(self, op: BlobOp) -> bool {
        let blob_reads = matches!(
            op,
            BlobOp::GetBlob | BlobOp::GetBlobProperties | BlobOp::GetBlockList
        );
        match self {
            Self::Blob => blob_reads,
            Self::Container => {
                blob_reads || matches!(op, BlobOp::GetContainerProperties | BlobOp::ListBlobs)
            }
        }
    }
}

/// One block blob.
#[derive(Debug, Clone)]
pub(crate) struct BlobState {
    pub(crate) body: Vec<u8>,
    /// Its content type; empty when Set Blob Properties cleared it (then none is answered).
    pub(crate) content_type: String,
    pub(crate) content_md5: String,
    pub(crate) etag: String,
    pub(crate) created: SystemTime,
    pub(crate) last_modified: SystemTime,
    pub(crate) metadata: BTreeMap<String, String>,
    /// The content headers Put Blob set (`x-ms-blob-cache-control`, ...), as
    /// [`CONTENT_HEADERS`] names them, each kept when given.
    pub(crate) content: [Option<String>; 4],
    /// When it was made by Copy Blob: the copy's id, its source as given, its size, and when
    /// it completed.
    pub(crate) copy: Option<(String, String, usize, SystemTime)>,
    /// Its committed blocks (id, size), when Put Block List made it.
    pub(crate) blocks: Vec<(String, usize)>,
    pub(crate) lease: Lease,
}

impl BlobState {
    /// A blob a request wrote whole (Put Blob, Put Block List): `body` with its stored MD5
    /// property, the request's content type, headers and metadata, and its `(etag, created,
    /// last modified)`.
    fn written(
        request: &Request,
        body: Vec<u8>,
        content_md5: String,
        (etag, created, last_modified): (String, SystemTime, SystemTime),
    ) -> Self {
        Self {
            content_md5,
            body,
            content_type: content_type_of(request),
            etag,
            created,
            last_modified,
            metadata: metadata(request),
            content: content_headers(request),
            copy: None,
            blocks: Vec::new(),
            lease: Lease::Available,
        }
    }
}

/// The content headers a blob keeps: the response header, the Put Blob request header that sets
/// it, and the List Blobs element (in the order Azurite lists them, around `Content-MD5`).
const CONTENT_HEADERS: [(&str, &str, &str); 4] = [
    (
        "content-encoding",
        "x-ms-blob-content-encoding",
        "Content-Encoding",
    ),
    (
        "content-language",
        "x-ms-blob-content-language",
        "Content-Language",
    ),
    (
        "content-disposition",
        "x-ms-blob-content-disposition",
        "Content-Disposition",
    ),
    ("cache-control", "x-ms-blob-cache-control", "Cache-Control"),
];

/// The content headers of a Put Blob: each from its `x-ms-blob-` header, or else (encoding and
/// language) the plain one.
fn content_headers(request: &Request) -> [Option<String>; 4] {
    CONTENT_HEADERS.map(|(plain, blob, _)| {
        header(request, blob)
            .or_else(|| {
                matches!(plain, "content-encoding" | "content-language")
                    .then(|| header(request, plain))
                    .flatten()
            })
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    })
}

/// The List Blobs elements of the blob's content headers `which` (in [`CONTENT_HEADERS`]'s
/// order), those it has.
fn content_xml(xml: &mut Xml, b: &BlobState, which: std::ops::Range<usize>) {
    for k in which {
        if let (Some((_, _, element)), Some(Some(value))) =
            (CONTENT_HEADERS.get(k), b.content.get(k))
        {
            xml.element(element, value);
        }
    }
}

/// The base64 MD5 of `body`, as Content-MD5 writes it.
fn md5_of(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

/// What a blob request is, for authorization and for the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobOp {
    ListContainers,
    CreateContainer,
    DeleteContainer,
    GetContainerProperties,
    SetContainerMetadata,
    ListBlobs,
    PutBlob,
    GetBlob,
    GetBlobProperties,
    DeleteBlob,
    /// Copy Blob (a Put with `x-ms-copy-source`): within the account, done at once.
    CopyBlob,
    /// Put Block: a block staged for a later Put Block List.
    PutBlock,
    /// Put Block List: the blob made of staged and committed blocks.
    PutBlockList,
    /// Get Block List.
    GetBlockList,
    /// Set Blob Properties (its content type and headers, all at once).
    SetBlobProperties,
    /// Set Blob Metadata.
    SetBlobMetadata,
    /// Lease Blob (acquire, renew, change, release, break).
    LeaseBlob,
    /// Lease Container.
    LeaseContainer,
}

impl BlobOp {
    /// The operation, as the core names it (and the journal writes it).
    pub(crate) fn call(self) -> Call {
        match self {
            Self::ListContainers => Call::ListContainers,
            Self::CreateContainer => Call::CreateContainer,
            Self::DeleteContainer => Call::DeleteContainer,
            Self::GetContainerProperties => Call::GetContainerProperties,
            Self::SetContainerMetadata => Call::SetContainerMetadata,
            Self::ListBlobs => Call::ListBlobs,
            Self::PutBlob => Call::PutBlob,
            Self::GetBlob => Call::GetBlob,
            Self::GetBlobProperties => Call::GetBlobProperties,
            Self::DeleteBlob => Call::DeleteBlob,
            Self::CopyBlob => Call::CopyBlob,
            Self::PutBlock => Call::PutBlock,
            Self::PutBlockList => Call::PutBlockList,
            Self::GetBlockList => Call::GetBlockList,
            Self::SetBlobProperties => Call::SetBlobProperties,
            Self::SetBlobMetadata => Call::SetBlobMetadata,
            Self::LeaseBlob => Call::LeaseBlob,
            Self::LeaseContainer => Call::LeaseContainer,
        }
    }

    /// What it needs of a SAS (account SAS letters; blob SAS letters).
    pub(crate) fn needs(self) -> Needs {
        let n = |level, account, service| Needs {
            level,
            account,
            service,
        };
        match self {
            Self::ListContainers => n(Level::Service, "l", ""),
            // Operations on a container itself are not for a service SAS (no letter grants
            // them): an account SAS or the key.
            Self::CreateContainer => n(Level::Container, "cw", ""),
            Self::DeleteContainer => n(Level::Container, "d", ""),
            Self::GetContainerProperties => n(Level::Container, "r", ""),
            Self::SetContainerMetadata => n(Level::Container, "w", ""),
            Self::ListBlobs => n(Level::Container, "l", "l"),
            Self::PutBlob | Self::CopyBlob | Self::PutBlockList => n(Level::Object, "cw", "cw"),
            Self::PutBlock | Self::SetBlobProperties | Self::SetBlobMetadata | Self::LeaseBlob => {
                n(Level::Object, "w", "w")
            }
            Self::LeaseContainer => n(Level::Container, "w", ""),
            Self::GetBlockList => n(Level::Object, "r", "r"),
            Self::GetBlob | Self::GetBlobProperties => n(Level::Object, "r", "r"),
            Self::DeleteBlob => n(Level::Object, "d", "d"),
        }
    }
}

/// Which operation a request is (`segments` after the account), or the error for one that is
/// none.
pub(crate) fn operation(request: &Request, segments: &[&str]) -> Result<BlobOp, Reply> {
    let method = request.method.as_str();
    let restype = query(request, "restype");
    let comp = query(request, "comp");
    Ok(
        match (segments, method, restype.as_deref(), comp.as_deref()) {
            ([], "GET", _, Some("list")) => BlobOp::ListContainers,
            ([_], "PUT", Some("container"), None) => BlobOp::CreateContainer,
            ([_], "DELETE", Some("container"), None) => BlobOp::DeleteContainer,
            // Get Container Metadata answers as Get Container Properties does.
            ([_], "GET" | "HEAD", Some("container"), None | Some("metadata")) => {
                BlobOp::GetContainerProperties
            }
            ([_], "PUT", Some("container"), Some("metadata")) => BlobOp::SetContainerMetadata,
            ([_], "GET", Some("container"), Some("list")) => BlobOp::ListBlobs,
            ([_], "PUT", Some("container"), Some("lease")) => BlobOp::LeaseContainer,
            ([_, _, ..], "PUT", None, Some("lease")) => BlobOp::LeaseBlob,
            ([_, _, ..], "PUT", None, Some("block")) => BlobOp::PutBlock,
            ([_, _, ..], "PUT", None, Some("properties")) => BlobOp::SetBlobProperties,
            ([_, _, ..], "PUT", None, Some("metadata")) => BlobOp::SetBlobMetadata,
            ([_, _, ..], "PUT", None, Some("blocklist")) => BlobOp::PutBlockList,
            ([_, _, ..], "GET", None, Some("blocklist")) => BlobOp::GetBlockList,
            ([_, _, ..], "PUT", None, None) if header(request, "x-ms-copy-source").is_some() => {
                BlobOp::CopyBlob
            }
            ([_, _, ..], "PUT", None, None) => BlobOp::PutBlob,
            ([_, _, ..], "GET", None, None) => BlobOp::GetBlob,
            ([_, _, ..], "HEAD", None, None) => BlobOp::GetBlobProperties,
            ([_, _, ..], "DELETE", None, None) => BlobOp::DeleteBlob,
            ([_, _, ..], _, None, None) => return Err(error(405, "UnsupportedHttpVerb", request)),
            _ => return Err(error(400, "InvalidUri", request)),
        },
    )
}

/// The blob name of a request's path (segments after the container, percent-decoded).
pub(crate) fn blob_name(request: &Request, segments: &[&str]) -> String {
    // Everything after `/{account}/{container}/`, as written: a blob name may start with or
    // repeat `/` (`c////dir//x` is the blob `///dir//x`, not `dir/x`), and `\` in it is `/`, as
    // Azure and Azurite store it.
    let path = request.url.path();
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let raw = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(rest)) if !rest.is_empty() => Some(rest),
        _ => None,
    };
    match raw {
        Some(rest) => percent_decoded(rest).replace('\\', "/"),
        None => segments
            .iter()
            .skip(1)
            .map(|s| percent_decoded(s))
            .collect::<Vec<_>>()
            .join("/"),
    }
}

/// A `Range`/`x-ms-range` of `bytes=START-END` or `bytes=START-`, clamped to `len`; `Err` when
/// it starts beyond the blob.
fn range(request: &Request, len: usize) -> Option<Result<(usize, usize), ()>> {
    let text = header(request, "x-ms-range").or_else(|| header(request, "range"))?;
    let spec = text.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: usize = a.trim().parse().ok()?;
    let end: usize = match b.trim() {
        "" => len.saturating_sub(1),
        e => e.parse().ok()?,
    };
    if start >= len || end < start {
        return Some(Err(()));
    }
    Some(Ok((start, end.min(len.saturating_sub(1)))))
}

/// The headers a blob's properties go out in.
fn blob_headers(mut r: Reply, b: &BlobState, now: SystemTime) -> Reply {
    r = r
        .header("last-modified", http_date(b.last_modified))
        .header("x-ms-creation-time", http_date(b.created))
        .header("etag", format!("\"{}\"", b.etag))
        .header("x-ms-blob-type", "BlockBlob");
    r = lease_headers(r, &b.lease, now)
        .header("accept-ranges", "bytes")
        .header("x-ms-server-encrypted", "true");
    if let Some((id, source, size, done)) = &b.copy {
        r = r
            .header("x-ms-copy-id", id.clone())
            .header("x-ms-copy-source", source.clone())
            .header("x-ms-copy-status", "success")
            .header("x-ms-copy-progress", format!("{size}/{size}"))
            .header("x-ms-copy-completion-time", http_date(*done));
    }
    for ((name, ..), value) in CONTENT_HEADERS.iter().zip(&b.content) {
        if let Some(v) = value {
            r = r.header(name, v.clone());
        }
    }
    for (k, v) in &b.metadata {
        r = r.header(&format!("x-ms-meta-{k}"), v.clone());
    }
    r
}

/// The headers that say how a blob or container is leased, as of `now`.
fn lease_headers(r: Reply, lease: &Lease, now: SystemTime) -> Reply {
    let lease = lease.at(now);
    let r = r
        .header("x-ms-lease-state", lease.state())
        .header("x-ms-lease-status", lease.status());
    match lease.duration() {
        Some(d) => r.header("x-ms-lease-duration", d),
        None => r,
    }
}

/// The List Blobs and List Containers elements of a lease, as of `now`.
fn lease_xml(xml: &mut Xml, lease: &Lease, now: SystemTime) {
    let lease = lease.at(now);
    xml.element("LeaseStatus", lease.status())
        .element("LeaseState", lease.state());
    if let Some(d) = lease.duration() {
        xml.element("LeaseDuration", d);
    }
}

/// The refusal of an operation a lease does not admit.
fn lease_refusal(refusal: lease::Refusal, holder: Holder, request: &Request) -> Reply {
    let (status, code, message) = refusal.answer(holder);
    storage_error(status, code, message, request)
}

/// Whether the lease admits this request (its `x-ms-lease-id`) writing (`Access::Write`) or
/// reading what it guards, or the refusal.
fn admits(
    lease: &Lease,
    holder: Holder,
    access: Access,
    request: &Request,
    now: SystemTime,
) -> Result<(), Reply> {
    let given = header(request, "x-ms-lease-id");
    match access {
        Access::Write => lease.admits_write(given, now),
        Access::Read => lease.admits_read(given, now),
    }
    .map_err(|r| lease_refusal(r, holder, request))
}

/// Whether an operation writes or reads what a lease guards.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// A Lease Blob or Lease Container request applied to `lease` (replaced when granted): the
/// answer, with the `etag` and `last_modified` of what it leases.
fn lease_request(
    request: &Request,
    lease: &mut Lease,
    fresh: String,
    (etag, last_modified): (&str, SystemTime),
    now: SystemTime,
) -> Reply {
    let action = match lease::action(|name| header(request, name)) {
        Ok(action) => action,
        Err((status, code, name)) => {
            return super::http::detailed_error(
                status,
                code,
                super::http::message_of(code),
                &[("HeaderName", name.to_string())],
                request,
            );
        }
    };
    let (next, granted) = match lease.apply(&action, now, fresh) {
        Ok(granted) => granted,
        Err(refusal) => return lease_refusal(refusal, Holder::Blob, request),
    };
    *lease = next;
    let status = match (&action, &granted) {
        (lease::Action::Acquire { .. }, _) => 201,
        (_, lease::Granted::BreaksIn(_)) => 202,
        _ => 200,
    };
    let reply = Reply::new(status)
        .header("etag", format!("\"{etag}\""))
        .header("last-modified", http_date(last_modified));
    match granted {
        lease::Granted::Id(id) => reply.header("x-ms-lease-id", id),
        lease::Granted::Released => reply,
        lease::Granted::BreaksIn(secs) => reply.header("x-ms-lease-time", secs.to_string()),
    }
}

/// A content type clients may send that is a valid header value.
fn content_type_of(request: &Request) -> String {
    header(request, "x-ms-blob-content-type")
        .or_else(|| header(request, "content-type"))
        .filter(|t| !t.is_empty() && reqwest::header::HeaderValue::from_str(t).is_ok())
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// The Blob service's state: its containers, by name.
#[derive(Debug, Default)]
pub(crate) struct Blobs {
    pub(crate) containers: BTreeMap<String, ContainerState>,
}

/// The request a Copy Blob's source is read with, when the world must check that the source's
/// SAS may read it: a source URL with a SAS, in an asynchronous copy (Azurite asks its own
/// service for the source's metadata with that SAS; a Copy Blob From URL,
/// `x-ms-requires-sync: true`, within the account it does not check so).
pub(crate) fn copy_source_probe(request: &Request) -> Option<Request> {
    let source = url::Url::parse(header(request, "x-ms-copy-source")?).ok()?;
    let synchronous =
        header(request, "x-ms-requires-sync").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let signed = source.query_pairs().any(|(n, _)| n == "sig");
    (!synchronous && signed).then(|| Request {
        url: source,
        method: hyper::Method::HEAD,
        headers: hyper::HeaderMap::new(),
        body: Vec::new(),
    })
}

impl Blobs {
    /// Answers one blob request; `segments` are the path after the account.
    pub(crate) fn answer(
        &mut self,
        cx: &mut Cx<'_>,
        request: &mut Request,
        op: BlobOp,
        segments: &[&str],
        endpoint: &str,
    ) -> Reply {
        let now = cx.now;
        if op == BlobOp::ListContainers {
            return self.list_containers(cx, request, endpoint);
        }
        let Some(raw) = segments.first() else {
            return error(400, "InvalidUri", request);
        };
        // `$logs` arrives as `%24logs`.
        let decoded = percent_decoded(raw);
        let name = decoded.as_str();
        // The system containers' names are outside the naming rules, and valid.
        let system = matches!(name, "$root" | "$logs" | "$web");
        if !system && let Err(code) = check_name(name) {
            return error(400, code, request);
        }
        match op {
            BlobOp::CreateContainer => {
                if self.containers.contains_key(name) {
                    return error(409, "ContainerAlreadyExists", request);
                }
                let public_access = match header(request, "x-ms-blob-public-access") {
                    None | Some("") => None,
                    Some(text) => match PublicAccess::parse(text) {
                        Some(access) => Some(access),
                        None => {
                            return super::http::detailed_error(
                                400,
                                "InvalidHeaderValue",
                                super::http::message_of("InvalidHeaderValue"),
                                &[
                                    ("HeaderName", "x-ms-blob-public-access".to_string()),
                                    ("HeaderValue", text.to_string()),
                                ],
                                request,
                            );
                        }
                    },
                };
                let etag = cx.seq.etag();
                let state = ContainerState {
                    public_access,
                    metadata: metadata(request),
                    ..ContainerState::new(etag.clone(), now)
                };
                self.containers.insert(name.to_string(), state);
                return Reply::new(201)
                    .header("etag", format!("\"{etag}\""))
                    .header("last-modified", http_date(now));
            }
            BlobOp::DeleteContainer => {
                let Some(container) = self.containers.get(name) else {
                    return error(404, "ContainerNotFound", request);
                };
                if let Err(refusal) = admits(
                    &container.lease,
                    Holder::Container,
                    Access::Write,
                    request,
                    now,
                ) {
                    return refusal;
                }
                self.containers.remove(name);
                return Reply::new(202);
            }
            _ => {}
        }
        if op == BlobOp::CopyBlob {
            return self.copy_blob(cx, request, name, &blob_name(request, segments), now);
        }
        let fresh = cx.seq.etag();
        let lease_id = matches!(op, BlobOp::LeaseBlob | BlobOp::LeaseContainer).then(|| {
            uuid::Uuid::from_bytes(crate::seed::guid_bytes(
                u64::from(cx.seq.seed),
                cx.seq.serial(),
                0x1ea5,
            ))
            .to_string()
        });
        let Some(container) = self.containers.get_mut(name) else {
            return error(404, "ContainerNotFound", request);
        };
        // Operations on the container itself that its lease guards as reads.
        if matches!(
            op,
            BlobOp::GetContainerProperties | BlobOp::SetContainerMetadata
        ) && let Err(refusal) = admits(
            &container.lease,
            Holder::Container,
            Access::Read,
            request,
            now,
        ) {
            return refusal;
        }
        // Operations on a blob that its lease guards.
        if let Some(blob) = (segments.len() > 1).then(|| blob_name(request, segments)) {
            let reads = matches!(
                op,
                BlobOp::GetBlob | BlobOp::GetBlobProperties | BlobOp::GetBlockList
            );
            let writes = matches!(
                op,
                BlobOp::PutBlob
                    | BlobOp::PutBlock
                    | BlobOp::PutBlockList
                    | BlobOp::SetBlobProperties
                    | BlobOp::SetBlobMetadata
            );
            let existing = container.blobs.get(&blob);
            let held = existing.map(|b| b.lease.clone()).unwrap_or_default();
            // Conditions are judged first (Delete Blob's below, with its own).
            let conditions_first = matches!(op, BlobOp::DeleteBlob | BlobOp::LeaseBlob)
                || (reads && existing.is_some());
            if !conditions_first {
                let check = if reads {
                    admits(&held, Holder::Blob, Access::Read, request, now)
                } else if writes {
                    admits(&held, Holder::Blob, Access::Write, request, now)
                } else {
                    Ok(())
                };
                if let Err(refusal) = check {
                    return refusal;
                }
            }
        }
        match op {
            BlobOp::GetContainerProperties => {
                let r = Reply::new(200)
                    .header("etag", format!("\"{}\"", container.etag))
                    .header("last-modified", http_date(container.last_modified));
                let mut r = lease_headers(r, &container.lease, now);
                if let Some(access) = container.public_access {
                    r = r.header("x-ms-blob-public-access", access.as_str());
                }
                let mut r = r
                    .header("x-ms-has-immutability-policy", "false")
                    .header("x-ms-has-legal-hold", "false");
                for (k, v) in &container.metadata {
                    r = r.header(&format!("x-ms-meta-{k}"), v.clone());
                }
                r
            }
            BlobOp::SetContainerMetadata => {
                if let Err(refusal) =
                    preconditions(request, &container.etag, container.last_modified, false)
                {
                    return refusal;
                }
                container.metadata = metadata(request);
                container.etag = fresh;
                container.last_modified = now;
                Reply::new(200)
                    .header("etag", format!("\"{}\"", container.etag))
                    .header("last-modified", http_date(now))
            }
            BlobOp::ListBlobs => list_blobs(request, name, container, endpoint, now),
            BlobOp::LeaseContainer => {
                let (etag, modified) = (container.etag.clone(), container.last_modified);
                let mut reply = lease_request(
                    request,
                    &mut container.lease,
                    lease_id.unwrap_or_default(),
                    (&etag, modified),
                    now,
                );
                // The container's words for the same refusals.
                if reply.status >= 400 {
                    reply = match lease::action(|n| header(request, n))
                        .ok()
                        .and_then(|a| container.lease.apply(&a, now, String::new()).err())
                    {
                        Some(refusal) => lease_refusal(refusal, Holder::Container, request),
                        None => reply,
                    };
                }
                reply
            }
            BlobOp::LeaseBlob => {
                let blob = blob_name(request, segments);
                let Some(b) = container.blobs.get_mut(&blob) else {
                    return error(404, "BlobNotFound", request);
                };
                if let Err(refusal) = preconditions(request, &b.etag, b.last_modified, false) {
                    return refusal;
                }
                let (etag, modified) = (b.etag.clone(), b.last_modified);
                lease_request(
                    request,
                    &mut b.lease,
                    lease_id.unwrap_or_default(),
                    (&etag, modified),
                    now,
                )
            }
            BlobOp::PutBlob => {
                let blob = blob_name(request, segments);
                put_blob(request, container, &blob, fresh, now)
            }
            BlobOp::GetBlob | BlobOp::GetBlobProperties => {
                let blob = blob_name(request, segments);
                let Some(b) = container.blobs.get(&blob) else {
                    return error(404, "BlobNotFound", request);
                };
                if let Err(refusal) = preconditions(request, &b.etag, b.last_modified, true) {
                    return refusal;
                }
                if let Err(refusal) = admits(&b.lease, Holder::Blob, Access::Read, request, now) {
                    return refusal;
                }
                get_blob(request, b, op == BlobOp::GetBlobProperties, now)
            }
            BlobOp::DeleteBlob => {
                let blob = blob_name(request, segments);
                if let Some(b) = container.blobs.get(&blob) {
                    if let Err(refusal) = preconditions(request, &b.etag, b.last_modified, false) {
                        return refusal;
                    }
                    if let Err(refusal) =
                        admits(&b.lease, Holder::Blob, Access::Write, request, now)
                    {
                        return refusal;
                    }
                }
                match container.blobs.remove(&blob) {
                    Some(_) => Reply::new(202).header("x-ms-delete-type-permanent", "true"),
                    None => error(404, "BlobNotFound", request),
                }
            }
            BlobOp::PutBlock => {
                let blob = blob_name(request, segments);
                put_block(request, container, &blob, (fresh, now))
            }
            BlobOp::PutBlockList => {
                let blob = blob_name(request, segments);
                put_block_list(request, container, &blob, fresh, now)
            }
            BlobOp::GetBlockList => {
                get_block_list(request, container, &blob_name(request, segments))
            }
            BlobOp::SetBlobProperties | BlobOp::SetBlobMetadata => {
                let blob = blob_name(request, segments);
                let Some(b) = container.blobs.get_mut(&blob) else {
                    return error(404, "BlobNotFound", request);
                };
                if let Err(refusal) = preconditions(request, &b.etag, b.last_modified, false) {
                    return refusal;
                }
                b.lease = b.lease.after_write(now);
                if op == BlobOp::SetBlobMetadata {
                    b.metadata = metadata(request);
                } else {
                    // Every property the request leaves out is cleared (Azure's rule).
                    b.content_type = header(request, "x-ms-blob-content-type")
                        .unwrap_or_default()
                        .to_string();
                    b.content = CONTENT_HEADERS.map(|(_, name, _)| {
                        header(request, name)
                            .filter(|v| !v.is_empty())
                            .map(str::to_string)
                    });
                    b.content_md5 = header(request, "x-ms-blob-content-md5")
                        .unwrap_or_default()
                        .to_string();
                }
                b.etag = fresh;
                b.last_modified = now;
                let reply = Reply::new(200)
                    .header("etag", format!("\"{}\"", b.etag))
                    .header("last-modified", http_date(now));
                if op == BlobOp::SetBlobMetadata {
                    reply.header("x-ms-request-server-encrypted", "true")
                } else {
                    reply
                }
            }
            BlobOp::ListContainers
            | BlobOp::CreateContainer
            | BlobOp::DeleteContainer
            | BlobOp::CopyBlob => error(400, "InvalidUri", request),
        }
    }

    /// Copy Blob within the account, done at once (as Azurite does): the source (a URL of this
    /// account's Blob service, any host) must exist; the copy takes its content, content type
    /// and headers, and its metadata unless the request gives metadata of its own.
    fn copy_blob(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request,
        container: &str,
        blob: &str,
        now: SystemTime,
    ) -> Reply {
        let Some(source) = header(request, "x-ms-copy-source").map(str::to_string) else {
            return error(400, "MissingRequiredHeader", request);
        };
        let Ok(source_url) = url::Url::parse(&source) else {
            return super::http::detailed_error(
                400,
                "InvalidHeaderValue",
                super::http::message_of("InvalidHeaderValue"),
                &[
                    ("HeaderName", "x-ms-copy-source".to_string()),
                    ("HeaderValue", source.clone()),
                ],
                request,
            );
        };
        // A source that carries a SAS is read with it: the world checked that the SAS may read
        // it ([`copy_source_probe`]), and a refusal refuses the copy.
        let signed = source_url.query_pairs().any(|(n, _)| n == "sig");
        if let Some(refusal) = cx.copy_source_refused.take() {
            let code = refusal
                .headers
                .iter()
                .find(|(n, _)| n == "x-ms-error-code")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            return storage_error(
                refusal.status,
                "CannotVerifyCopySource",
                super::http::message_of(&code),
                request,
            );
        }
        let Some((from_container, from_blob)) = Some(source_url).and_then(|u| {
            let path = u.path().trim_start_matches('/').to_string();
            let mut parts = path.splitn(3, '/');
            let (account, c, b) = (parts.next()?, parts.next()?, parts.next()?);
            (account == cx.account && !b.is_empty())
                .then(|| (percent_decoded(c), percent_decoded(b).replace('\\', "/")))
        }) else {
            return storage_error(
                404,
                "CannotVerifyCopySource",
                "The specified resource does not exist",
                request,
            );
        };
        let Some(original) = self
            .containers
            .get(&from_container)
            .and_then(|c| c.blobs.get(&from_blob))
            .cloned()
        else {
            // A source read with its SAS is verified first (CannotVerifyCopySource); one in the
            // account without a SAS is looked up directly, as Azurite does (BlobNotFound).
            return if signed {
                storage_error(
                    404,
                    "CannotVerifyCopySource",
                    "The specified resource does not exist",
                    request,
                )
            } else {
                error(404, "BlobNotFound", request)
            };
        };
        let etag = cx.seq.etag();
        let copy_id = uuid::Uuid::from_bytes(crate::seed::guid_bytes(
            u64::from(cx.seq.seed),
            cx.seq.serial(),
            0x0c09,
        ))
        .to_string();
        let Some(target) = self.containers.get_mut(container) else {
            return error(404, "ContainerNotFound", request);
        };
        let given = metadata(request);
        let existing = target.blobs.get(blob);
        if let Err(refusal) = write_conditions(request, existing) {
            return refusal;
        }
        // A leased destination is written only with its lease id; the copy keeps its lease.
        let held = existing.map(|b| b.lease.clone()).unwrap_or_default();
        if let Err(refusal) = admits(&held, Holder::Blob, Access::Write, request, now) {
            return refusal;
        }
        let created = existing.map_or(now, |b| b.created);
        let size = original.body.len();
        target.blobs.insert(
            blob.to_string(),
            BlobState {
                etag: etag.clone(),
                created,
                last_modified: now,
                metadata: if given.is_empty() {
                    original.metadata
                } else {
                    given
                },
                copy: Some((copy_id.clone(), source, size, now)),
                blocks: Vec::new(),
                lease: held.after_write(now),
                ..original
            },
        );
        Reply::new(202)
            .header("etag", format!("\"{etag}\""))
            .header("last-modified", http_date(now))
            .header("x-ms-copy-id", copy_id)
            .header("x-ms-copy-status", "success")
    }

    fn list_containers(&self, cx: &Cx<'_>, request: &Request, endpoint: &str) -> Reply {
        let now = cx.now;
        let prefix = query(request, "prefix").unwrap_or_default();
        let marker = query(request, "marker").unwrap_or_default();
        let max = match query(request, "maxresults").map(|m| m.parse::<usize>()) {
            None => 5000,
            Some(Ok(m)) if (1..=5000).contains(&m) => m,
            Some(_) => return error(400, "OutOfRangeQueryParameterValue", request),
        };
        let with_metadata = query(request, "include").is_some_and(|i| i.contains("metadata"));
        // As Azurite pages: after the marker, and the next marker is the last name given.
        let names: Vec<(&String, &ContainerState)> = self
            .containers
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix) && n.as_str() > marker.as_str())
            .take(max + 1)
            .collect();
        let (page, next) = if names.len() > max {
            let page = names.get(..max).unwrap_or_default();
            (page, page.last().map(|(n, _)| (*n).clone()))
        } else {
            (names.as_slice(), None)
        };
        let mut xml = Xml::new();
        xml.open_with("EnumerationResults", &[("ServiceEndpoint", endpoint)])
            .tag("Prefix", &prefix)
            .element("MaxResults", max)
            .open("Containers");
        for (n, c) in page {
            xml.open("Container")
                .element("Name", n)
                .open("Properties")
                .element("Last-Modified", http_date(c.last_modified))
                .element("Etag", format!("\"{}\"", c.etag));
            lease_xml(&mut xml, &c.lease, now);
            if let Some(a) = c.public_access {
                xml.element("PublicAccess", a.as_str());
            }
            xml.element("HasImmutabilityPolicy", false)
                .element("HasLegalHold", false)
                .close("Properties");
            // Only metadata there is (Azurite leaves out an empty `<Metadata/>`).
            if with_metadata && !c.metadata.is_empty() {
                metadata_xml(&mut xml, &c.metadata);
            }
            xml.close("Container");
        }
        xml.close("Containers")
            .tag("NextMarker", next.as_deref().unwrap_or_default())
            .close("EnumerationResults");
        Reply::new(200).xml(xml)
    }

    /// Writes a blob the service puts itself (a backup, the test blob).
    pub(crate) fn put_blob(
        &mut self,
        cx: &mut Cx<'_>,
        container: &str,
        name: &str,
        body: Vec<u8>,
    ) -> bool {
        let now = cx.now;
        let etag = cx.seq.etag();
        let Some(c) = self.containers.get_mut(container) else {
            return false;
        };
        let created = c.blobs.get(name).map_or(now, |b| b.created);
        c.blobs.insert(
            name.to_string(),
            BlobState {
                content_md5: md5_of(&body),
                body,
                content_type: "application/octet-stream".into(),
                etag,
                created,
                last_modified: now,
                metadata: BTreeMap::new(),
                content: Default::default(),
                copy: None,
                blocks: Vec::new(),
                lease: Lease::Available,
            },
        );
        true
    }
}

fn put_blob(
    request: &mut Request,
    container: &mut ContainerState,
    blob: &str,
    etag: String,
    now: SystemTime,
) -> Reply {
    if blob.is_empty() || blob.len() > 1024 {
        return error(400, "InvalidUri", request);
    }
    match header(request, "x-ms-blob-type") {
        Some("BlockBlob") => {}
        Some(_) => {
            return storage_error(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
                request,
            );
        }
        None => return error(400, "MissingRequiredHeader", request),
    }
    let existing = container.blobs.get(blob);
    if let Err(refusal) = write_conditions(request, existing) {
        return refusal;
    }
    let md5 = md5_of(&request.body);
    if let Err(refusal) = check_md5(request) {
        return refusal;
    }
    let created = existing.map_or(now, |b| b.created);
    let lease = existing
        .map(|b| b.lease.after_write(now))
        .unwrap_or_default();
    // The upload's bytes become the blob's: taken, not copied.
    let body = std::mem::take(&mut request.body);
    let state = BlobState {
        lease,
        ..BlobState::written(request, body, md5.clone(), (etag.clone(), created, now))
    };
    container.blobs.insert(blob.to_string(), state);
    Reply::new(201)
        .header("etag", format!("\"{etag}\""))
        .header("last-modified", http_date(now))
        .header("content-md5", md5)
        .header("x-ms-request-server-encrypted", "true")
}

fn get_blob(request: &Request, b: &BlobState, head: bool, now: SystemTime) -> Reply {
    let len = b.body.len();
    if head {
        let mut reply =
            blob_headers(Reply::new(200), b, now).header("content-length", len.to_string());
        if !b.content_type.is_empty() {
            reply = reply.header("content-type", b.content_type.clone());
        }
        if !b.content_md5.is_empty() {
            reply = reply.header("content-md5", b.content_md5.clone());
        }
        let reply = reply
            .header("x-ms-access-tier", "Hot")
            .header("x-ms-access-tier-inferred", "true");
        // A copy has no tier change of its own, and says it is not incremental (as Azurite).
        return if b.copy.is_some() {
            reply.header("x-ms-incremental-copy", "false")
        } else {
            reply.header("x-ms-access-tier-change-time", http_date(b.created))
        };
    }
    // The stored MD5 property (empty: none, as for a blob made of blocks, or one whose
    // properties were set without it) is answered only when there is one; a whole blob's
    // content MD5 always is, as Azurite has it.
    let stored = |r: Reply| {
        if b.content_md5.is_empty() {
            r
        } else {
            r.header("x-ms-blob-content-md5", b.content_md5.clone())
        }
    };
    match range(request, len) {
        None => stored(blob_headers(Reply::new(200), b, now))
            .header("content-md5", md5_of(&b.body))
            .bytes(b.body.clone(), &b.content_type),
        Some(Ok((start, end))) => {
            let part = b.body.get(start..=end).unwrap_or_default().to_vec();
            let mut reply = stored(blob_headers(Reply::new(206), b, now))
                .header("content-range", format!("bytes {start}-{end}/{len}"));
            // The range's own MD5 when asked for (a client checking each piece it downloads).
            if header(request, "x-ms-range-get-content-md5")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                reply = reply.header("content-md5", md5_of(&part));
            }
            reply.bytes(part, &b.content_type)
        }
        Some(Err(())) => {
            error(416, "InvalidRange", request).header("content-range", format!("bytes */{len}"))
        }
    }
}

/// What List Blobs lists under a name.
#[derive(Clone, Copy)]
enum Listed<'a> {
    Blob(&'a BlobState),
    /// Staged blocks only: since when, and its ETag.
    Uncommitted(&'a (SystemTime, String)),
}

fn list_blobs(
    request: &Request,
    name: &str,
    container: &ContainerState,
    endpoint: &str,
    now: SystemTime,
) -> Reply {
    let prefix = query(request, "prefix").unwrap_or_default();
    let delimiter = query(request, "delimiter").unwrap_or_default();
    let marker = query(request, "marker").unwrap_or_default();
    let max = match query(request, "maxresults").map(|m| m.parse::<usize>()) {
        None => 5000,
        Some(Ok(m)) if (1..=5000).contains(&m) => m,
        Some(_) => return error(400, "OutOfRangeQueryParameterValue", request),
    };
    let include = query(request, "include").unwrap_or_default();
    let with_metadata = include.contains("metadata");
    // Blobs, and with `uncommittedblobs` the names that have only staged blocks, in name order.
    let uncommitted = include
        .contains("uncommittedblobs")
        .then_some(&container.uncommitted);
    let mut names: BTreeMap<&String, Listed<'_>> = container
        .blobs
        .range(marker.clone()..)
        .map(|(n, b)| (n, Listed::Blob(b)))
        .collect();
    for (n, u) in uncommitted
        .into_iter()
        .flat_map(|u| u.range(marker.clone()..))
    {
        names.entry(n).or_insert(Listed::Uncommitted(u));
    }
    // The entries in name order after the marker: blobs, and (with a delimiter) the prefixes
    // they roll up into. As Azurite pages, the next marker is the last entry given.
    let mut entries: Vec<(String, Option<Listed<'_>>)> = Vec::new();
    for (n, b) in names {
        if !n.starts_with(&prefix) || *n <= marker {
            continue;
        }
        let rest = n.get(prefix.len()..).unwrap_or_default();
        match (!delimiter.is_empty())
            .then(|| rest.find(&delimiter))
            .flatten()
        {
            Some(at) => {
                let rolled = format!(
                    "{prefix}{}",
                    rest.get(..at + delimiter.len()).unwrap_or_default()
                );
                if entries.last().is_none_or(|(last, _)| *last != rolled) && rolled > marker {
                    entries.push((rolled, None));
                }
            }
            None => entries.push((n.clone(), Some(b))),
        }
        if entries.len() > max {
            break;
        }
    }
    let more = entries.len() > max;
    entries.truncate(max);
    let next = more
        .then(|| entries.last().map(|(n, _)| n.clone()))
        .flatten();
    let mut xml = Xml::new();
    xml.open_with(
        "EnumerationResults",
        &[("ServiceEndpoint", endpoint), ("ContainerName", name)],
    )
    .tag("Prefix", &prefix)
    .tag("Marker", &marker)
    .element("MaxResults", max);
    if !delimiter.is_empty() {
        xml.tag("Delimiter", &delimiter);
    }
    xml.open("Blobs");
    for (n, b) in &entries {
        match b {
            // Azurite lists one with its times, its ETag and no content.
            Some(Listed::Uncommitted((since, etag))) => {
                let at = http_date(*since);
                xml.open("Blob")
                    .element("Name", n)
                    .open("Properties")
                    .element("Creation-Time", &at)
                    .element("Last-Modified", &at)
                    .element("Etag", etag)
                    .element("Content-Length", 0)
                    .element("BlobType", "BlockBlob");
                lease_xml(&mut xml, &Lease::Available, now);
                xml.close("Properties").close("Blob");
            }
            Some(Listed::Blob(b)) => {
                xml.open("Blob")
                    .element("Name", n)
                    .open("Properties")
                    .element("Creation-Time", http_date(b.created))
                    .element("Last-Modified", http_date(b.last_modified))
                    .element("Etag", &b.etag)
                    .element("Content-Length", b.body.len());
                if !b.content_type.is_empty() {
                    xml.element("Content-Type", &b.content_type);
                }
                content_xml(&mut xml, b, 0..2);
                if !b.content_md5.is_empty() {
                    xml.element("Content-MD5", &b.content_md5);
                }
                content_xml(&mut xml, b, 2..4);
                xml.element("BlobType", "BlockBlob");
                lease_xml(&mut xml, &b.lease, now);
                xml.element("ServerEncrypted", true)
                    .element("AccessTier", "Hot")
                    .element("AccessTierInferred", true)
                    .element("AccessTierChangeTime", http_date(b.created))
                    .close("Properties");
                if with_metadata && !b.metadata.is_empty() {
                    metadata_xml(&mut xml, &b.metadata);
                }
                xml.close("Blob");
            }
            None => {
                xml.open("BlobPrefix")
                    .element("Name", n)
                    .close("BlobPrefix");
            }
        }
    }
    xml.close("Blobs")
        .tag("NextMarker", next.as_deref().unwrap_or_default())
        .close("EnumerationResults");
    Reply::new(200).xml(xml)
}

/// The HTTP preconditions of a request on a resource with `etag` last modified at `modified`
/// (Azure's conditional headers): `If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`. A read (`read`: Get Blob, Get Blob Properties) that only failed
/// `If-None-Match` or `If-Modified-Since` gets 304 Not Modified, and one with
/// `If-None-Match: *` 400 `UnsatisfiableCondition`; every other failure 412 `ConditionNotMet`. A precondition is never ignored: ignoring one is worse than refusing it.
fn preconditions(
    request: &Request,
    etag: &str,
    modified: SystemTime,
    read: bool,
) -> Result<(), Reply> {
    let matches = |list: &str| {
        list.split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|t| t == "*" || t == etag)
    };
    let since = |name: &str| header(request, name).and_then(|d| httpdate::parse_http_date(d).ok());
    // HTTP dates have one-second resolution: compare whole seconds.
    let secs = |t: SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let failed = || {
        Err(storage_error(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met.",
            request,
        ))
    };
    if let Some(list) = header(request, "if-match")
        && !matches(list)
    {
        return failed();
    }
    if let Some(t) = since("if-unmodified-since")
        && secs(modified) > secs(t)
    {
        return failed();
    }
    // `If-None-Match: *` on a read can never be met: the resource exists (Azurite answers 400
    // `UnsatisfiableCondition`).
    if read && header(request, "if-none-match").is_some_and(|l| l.trim() == "*") {
        return Err(storage_error(
            400,
            "UnsatisfiableCondition",
            "The request includes an unsatisfiable condition for this operation.",
            request,
        ));
    }
    // A write's `If-None-Match: *` on something that exists is let through, as Azurite does
    // (Put Blob, Put Block List and Copy Blob refuse it themselves, with 409).
    let none_match = header(request, "if-none-match").filter(|l| read || l.trim() != "*");
    let not_modified = none_match.is_some_and(matches)
        || since("if-modified-since").is_some_and(|t| secs(modified) <= secs(t));
    if not_modified {
        if read {
            // Not Modified carries the error code but no body, as Azurite sends it.
            let mut reply = storage_error(
                304,
                "ConditionNotMet",
                "The condition specified using HTTP conditional header(s) is not met.",
                request,
            );
            reply.body = Vec::new();
            return Err(reply);
        }
        return failed();
    }
    Ok(())
}

/// Whether the body is what the request's Content-MD5 (or, for Put Blob, its
/// `x-ms-blob-content-md5`) says: 400 `Md5Mismatch` when it is not.
fn check_md5(request: &Request) -> Result<(), Reply> {
    match header(request, "content-md5").or_else(|| header(request, "x-ms-blob-content-md5")) {
        Some(sent) if sent != md5_of(&request.body) => Err(storage_error(
            400,
            "Md5Mismatch",
            "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
            request,
        )),
        _ => Ok(()),
    }
}

/// The conditions of a request that writes a whole blob (Put Blob, Put Block List, Copy Blob)
/// over `existing`, as Azurite judges them: `If-None-Match: *` onto a blob is 409
/// `BlobAlreadyExists`; the others as for any write; on no blob, only an `If-Match` other than
/// `*` fails.
fn write_conditions(request: &Request, existing: Option<&BlobState>) -> Result<(), Reply> {
    match existing {
        Some(_) if header(request, "if-none-match").is_some_and(|v| v.trim() == "*") => {
            Err(error(409, "BlobAlreadyExists", request))
        }
        Some(b) => preconditions(request, &b.etag, b.last_modified, false),
        None if header(request, "if-match").is_some_and(|m| m.trim() != "*") => Err(storage_error(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met.",
            request,
        )),
        None => Ok(()),
    }
}

/// The most a blob's staged blocks may hold together (as one Put Blob may).
const MAX_STAGED: usize = super::serve::MAX_BODY;

/// Put Block: the block kept, uncommitted, under its id (base64, at most 64 bytes decoded).
fn put_block(
    request: &mut Request,
    container: &mut ContainerState,
    blob: &str,
    (etag, now): (String, SystemTime),
) -> Reply {
    use base64::Engine as _;
    let Some(id) = query(request, "blockid") else {
        return error(400, "MissingRequiredQueryParameter", request);
    };
    let valid = base64::engine::general_purpose::STANDARD
        .decode(&id)
        .is_ok_and(|d| !d.is_empty() && d.len() <= 64);
    if !valid {
        return super::http::detailed_error(
            400,
            "InvalidQueryParameterValue",
            super::http::message_of("InvalidQueryParameterValue"),
            &[
                ("QueryParameterName", "blockid".to_string()),
                ("QueryParameterValue", id),
                ("Reason", "Not a valid base64 string.".to_string()),
            ],
            request,
        );
    }
    // A blob's uncommitted block ids all have one length (Azure's rule).
    let length = |id: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(id)
            .map_or(0, |d| d.len())
    };
    if container
        .staged
        .get(blob)
        .is_some_and(|s| s.keys().any(|k| length(k) != length(&id)))
    {
        return storage_error(
            400,
            "InvalidBlobOrBlock",
            "The specified blob or block content is invalid.",
            request,
        );
    }
    if let Err(refusal) = check_md5(request) {
        return refusal;
    }
    if !container.blobs.contains_key(blob) {
        container
            .uncommitted
            .entry(blob.to_string())
            .or_insert_with(|| (now, etag));
    }
    let staged = container.staged.entry(blob.to_string()).or_default();
    let held: usize = staged
        .iter()
        .filter(|(k, _)| **k != id)
        .map(|(_, b)| b.len())
        .sum();
    if held + request.body.len() > MAX_STAGED {
        return error(413, "RequestBodyTooLarge", request);
    }
    staged.insert(id, std::mem::take(&mut request.body));
    Reply::new(201).header("x-ms-request-server-encrypted", "true")
}

/// Put Block List: the blob made of the listed blocks, each the latest staged one
/// (`Latest`, else the committed one), the staged one (`Uncommitted`) or the committed one
/// (`Committed`); a block listed that is not there refuses the list (`InvalidBlockList`).
fn put_block_list(
    request: &Request,
    container: &mut ContainerState,
    blob: &str,
    etag: String,
    now: SystemTime,
) -> Reply {
    if let Err(refusal) = write_conditions(request, container.blobs.get(blob)) {
        return refusal;
    }
    let Some(list) = block_list(&request.body) else {
        return error(400, "InvalidXmlDocument", request);
    };
    let staged = container.staged.get(blob);
    let committed = container.blobs.get(blob);
    let committed_block = |id: &str| -> Option<Vec<u8>> {
        let b = committed?;
        let mut at = 0;
        for (k, size) in &b.blocks {
            if k == id {
                return b.body.get(at..at + size).map(<[u8]>::to_vec);
            }
            at += size;
        }
        None
    };
    let mut body = Vec::new();
    let mut blocks = Vec::new();
    for (kind, id) in &list {
        let bytes = match kind.as_str() {
            "Uncommitted" => staged.and_then(|s| s.get(id)).cloned(),
            "Committed" => committed_block(id),
            _ => staged
                .and_then(|s| s.get(id))
                .cloned()
                .or_else(|| committed_block(id)),
        };
        let Some(bytes) = bytes else {
            return storage_error(
                400,
                "InvalidBlockList",
                "The specified block list is invalid.",
                request,
            );
        };
        blocks.push((id.clone(), bytes.len()));
        body.extend_from_slice(&bytes);
    }
    let created = committed.map_or(now, |b| b.created);
    container.staged.remove(blob);
    container.uncommitted.remove(blob);
    // No MD5 property unless the request gives the whole blob's.
    let md5 = header(request, "x-ms-blob-content-md5")
        .unwrap_or_default()
        .to_string();
    let lease = committed
        .map(|b| b.lease.after_write(now))
        .unwrap_or_default();
    let state = BlobState {
        blocks,
        lease,
        ..BlobState::written(request, body, md5, (etag.clone(), created, now))
    };
    container.blobs.insert(blob.to_string(), state);
    // Its Content-MD5 is the request's (the list's), as Azure documents it.
    Reply::new(201)
        .header("etag", format!("\"{etag}\""))
        .header("last-modified", http_date(now))
        .header("content-md5", md5_of(&request.body))
        .header("x-ms-request-server-encrypted", "true")
}

/// The `(kind, block id)` entries of a `BlockList` body, in order; `None` when it is not one.
fn block_list(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut root = false;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name == "BlockList" {
                    root = true;
                } else if matches!(name.as_str(), "Latest" | "Committed" | "Uncommitted") {
                    current = Some(name);
                } else {
                    return None;
                }
            }
            quick_xml::events::Event::Text(t) => {
                if let Some(kind) = &current {
                    out.push((kind.clone(), t.decode().ok()?.trim().to_string()));
                }
            }
            // `<BlockList/>`: the empty list (a blob of no blocks).
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"BlockList" => {
                root = true;
            }
            quick_xml::events::Event::End(_) => current = None,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    root.then_some(out)
}

/// Get Block List: the committed blocks, the staged ones, or both (`blocklisttype`).
fn get_block_list(request: &Request, container: &ContainerState, blob: &str) -> Reply {
    let kind = query(request, "blocklisttype").unwrap_or_else(|| "committed".into());
    let (with_committed, with_staged) = match kind.to_ascii_lowercase().as_str() {
        "committed" => (true, false),
        "uncommitted" => (false, true),
        "all" => (true, true),
        _ => return error(400, "InvalidQueryParameterValue", request),
    };
    let committed = container.blobs.get(blob);
    let staged = container.staged.get(blob);
    if committed.is_none() && staged.is_none() {
        return error(404, "BlobNotFound", request);
    }
    let blocks = |xml: &mut Xml, list: &str, items: Vec<(String, usize)>| {
        if items.is_empty() {
            xml.empty(list);
            return;
        }
        xml.open(list);
        for (id, size) in items {
            xml.open("Block")
                .element("Name", id)
                .element("Size", size)
                .close("Block");
        }
        xml.close(list);
    };
    let mut xml = Xml::new();
    xml.open("BlockList");
    if with_committed {
        let items = committed.map(|b| b.blocks.clone()).unwrap_or_default();
        blocks(&mut xml, "CommittedBlocks", items);
    }
    if with_staged {
        let items: Vec<(String, usize)> = staged
            .map(|s| s.iter().map(|(k, v)| (k.clone(), v.len())).collect())
            .unwrap_or_default();
        blocks(&mut xml, "UncommittedBlocks", items);
    }
    xml.close("BlockList");
    // A blob with only staged blocks answers as an empty one (Azurite keeps a placeholder).
    let (modified, etag, length) = committed
        .map_or((container.last_modified, container.etag.clone(), 0), |b| {
            (b.last_modified, b.etag.clone(), b.body.len())
        });
    Reply::new(200)
        .header("last-modified", http_date(modified))
        .header("etag", format!("\"{etag}\""))
        .header("x-ms-blob-content-length", length.to_string())
        .xml(xml)
}

#[cfg(test)]
mod public_access_tests {
    use super::{BlobOp, PublicAccess};

    #[test]
    fn only_the_two_documented_levels_exist_and_neither_opens_writes() {
        assert_eq!(PublicAccess::parse("blob"), Some(PublicAccess::Blob));
        assert_eq!(
            PublicAccess::parse("container"),
            Some(PublicAccess::Container)
        );
        // Azurite keeps any word; Azure knows these two (and refuses others with 400).
        assert_eq!(PublicAccess::parse("everyone"), None);
        assert!(PublicAccess::Blob.allows(BlobOp::GetBlob));
        assert!(!PublicAccess::Blob.allows(BlobOp::ListBlobs));
        assert!(PublicAccess::Container.allows(BlobOp::ListBlobs));
        for write in [
            BlobOp::PutBlob,
            BlobOp::DeleteBlob,
            BlobOp::LeaseBlob,
            BlobOp::CopyBlob,
        ] {
            assert!(!PublicAccess::Container.allows(write));
        }
    }
}
