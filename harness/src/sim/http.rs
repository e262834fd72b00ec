//! What every simulated storage answer has, as the storage services write it: `x-ms-request-id`,
//! `x-ms-version`, `Date`, the client's `x-ms-client-request-id` echoed, XML bodies as
//! `application/xml`, and errors as `x-ms-error-code` plus an `<Error>` body (none on HEAD).

use std::time::SystemTime;

use super::xml::Xml;
use wiremock::{Request, ResponseTemplate};

/// The storage REST version the simulation answers with when a request names none.
pub(crate) const DEFAULT_VERSION: &str = "2021-08-06";

/// An answer being built.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

impl Reply {
    /// An answer with no body.
    pub(crate) fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_type: None,
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// An XML body ([`Xml`]: with the declaration the services write).
    pub(crate) fn xml(mut self, body: Xml) -> Self {
        self.body = body.into_bytes();
        self.content_type = Some("application/xml".into());
        self
    }

    /// A body of bytes of `content_type`.
    /// An empty `content_type` is none: the body goes without a Content-Type.
    pub(crate) fn bytes(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = body;
        self.content_type = (!content_type.is_empty()).then(|| content_type.to_string());
        self
    }

    /// Sets a header, replacing any of the same name.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }

    /// wiremock's answer (for a world served by a wiremock server).
    pub(crate) fn template(&self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status);
        for (name, value) in &self.headers {
            t = t.append_header(name.as_str(), value.as_str());
        }
        match &self.content_type {
            Some(mime) => t.set_body_raw(self.body.clone(), mime),
            None if !self.body.is_empty() => t.set_body_bytes(self.body.clone()),
            None => t,
        }
    }
}

/// A storage error: `x-ms-error-code`, and the `<Error>` body with the message, the request id
/// and the time (as the services write it), unless the request was a HEAD.
pub(crate) fn storage_error(status: u16, code: &str, message: &str, request: &Request) -> Reply {
    detailed_error(status, code, message, &[], request)
}

/// [`storage_error`] with the detail elements the services add after the message (the query
/// parameter at fault and its allowed range, a limit, a reason).
pub(crate) fn detailed_error(
    status: u16,
    code: &str,
    message: &str,
    details: &[(&str, String)],
    request: &Request,
) -> Reply {
    let reply = Reply::new(status).header("x-ms-error-code", code);
    if request.method.as_str() == "HEAD" {
        return reply;
    }
    let mut xml = Xml::new();
    xml.open("Error").element("Code", code).element(
        "Message",
        format!("{message}\nRequestId:{{request-id}}\nTime:{{time}}"),
    );
    for (name, value) in details {
        xml.element(name, value);
    }
    xml.close("Error");
    reply.xml(xml)
}

/// The error messages of the codes the simulation answers with (the storage services' texts).
pub(crate) fn message_of(code: &str) -> &'static str {
    match code {
        "QueueNotFound" => "The specified queue does not exist.",
        "QueueAlreadyExists" => "The specified queue already exists.",
        "MessageNotFound" => "The specified message does not exist.",
        "PopReceiptMismatch" => {
            "The specified pop receipt did not match the pop receipt for a dequeued message."
        }
        "ContainerNotFound" => "The specified container does not exist.",
        "ContainerAlreadyExists" => "The specified container already exists.",
        "BlobNotFound" => "The specified blob does not exist.",
        "BlobAlreadyExists" => "The specified blob already exists.",
        "InvalidRange" => "The range specified is invalid for the current size of the resource.",
        "InvalidResourceName" => "The specified resource name contains invalid characters.",
        "OutOfRangeInput" => {
            "The specified resource name length is not within the permissible limits."
        }
        "OutOfRangeQueryParameterValue" => {
            "One of the query parameters specified in the request URI is outside the permissible range."
        }
        "InvalidQueryParameterValue" => {
            "Value for one of the query parameters specified in the request URI is invalid."
        }
        "InvalidXmlDocument" => "XML specified is not syntactically valid.",
        "RequestBodyTooLarge" => {
            "The request body is too large and exceeds the maximum permissible limit."
        }
        "MissingRequiredHeader" => {
            "An HTTP header that's mandatory for this request is not specified."
        }
        "InvalidMetadata" => {
            "The metadata specified is invalid. It has characters that are not permitted."
        }
        "MissingRequiredQueryParameter" => {
            "A query parameter that's mandatory for this request is not specified."
        }
        "InvalidHeaderValue" => {
            "The value for one of the HTTP headers is not in the correct format."
        }
        "AuthenticationFailed" => {
            // Azurite's text (Azure's has a space after the first full stop).
            "Server failed to authenticate the request.Make sure the value of the Authorization header is formed correctly including the signature."
        }
        "AuthorizationFailure" => {
            "Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature."
        }
        "AuthorizationPermissionMismatch" => {
            "This request is not authorized to perform this operation using this permission."
        }
        "AuthorizationServiceMismatch" => {
            "This request is not authorized to perform this operation using this service."
        }
        "AuthorizationResourceTypeMismatch" => {
            "This request is not authorized to perform this operation using this resource type."
        }
        "AuthorizationProtocolMismatch" => {
            "This request is not authorized to perform this operation using this protocol."
        }
        "UnsupportedHttpVerb" => "The resource doesn't support specified Http Verb.",
        "InvalidUri" => "The requested URI does not represent any resource on the server.",
        "ResourceNotFound" => "The specified resource does not exist.",
        "ServerBusy" => {
            "The server is currently unable to receive requests. Please retry your request."
        }
        "InternalError" => "The server encountered an internal error. Please retry the request.",
        _ => "The request failed.",
    }
}

/// The HTTP status of a storage error code (the queue and blob services' error tables).
pub(crate) fn status_of(code: &str) -> u16 {
    match code {
        "QueueNotFound" | "MessageNotFound" | "ContainerNotFound" | "BlobNotFound"
        | "ResourceNotFound" => 404,
        "QueueAlreadyExists"
        | "QueueBeingDeleted"
        | "QueueDisabled"
        | "QueueNotEmpty"
        | "ContainerAlreadyExists"
        | "ContainerBeingDeleted"
        | "BlobAlreadyExists" => 409,
        "AuthenticationFailed" | "AuthorizationFailure" | "AuthorizationPermissionMismatch" => 403,
        "InternalError" | "OperationTimedOut" => 500,
        "ServerBusy" => 503,
        _ => 400,
    }
}

/// [`storage_error`] with the code's own message.
pub(crate) fn error(status: u16, code: &str, request: &Request) -> Reply {
    storage_error(status, code, message_of(code), request)
}

/// An HTTP date.
pub(crate) fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// The request's query parameter `name` (the first of that name), percent-decoded.
pub(crate) fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The request's header `name`, as text.
pub(crate) fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Completes a reply with what every storage answer carries. `request_id` is the answer's
/// `x-ms-request-id`, `now` its `Date`. A HEAD answer keeps its headers (a Content-Length
/// says what a GET would send) but no body.
pub(crate) fn finish(
    mut reply: Reply,
    request: &Request,
    request_id: &str,
    now: SystemTime,
) -> Reply {
    let version = header(request, "x-ms-version").unwrap_or(DEFAULT_VERSION);
    let time = time::OffsetDateTime::from(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if reply.body.windows(12).any(|w| w == b"{request-id}") {
        reply.body = String::from_utf8_lossy(&reply.body)
            .replace("{request-id}", request_id)
            .replace("{time}", &time)
            .into_bytes();
    }
    for (name, value) in [
        ("x-ms-request-id", request_id.to_string()),
        ("x-ms-version", version.to_string()),
        ("date", http_date(now)),
        ("server", "cvnotify-simulation".to_string()),
    ] {
        reply.set(name, value);
    }
    if let Some(id) = header(request, "x-ms-client-request-id") {
        reply.set("x-ms-client-request-id", id.to_string());
    }
    if request.method.as_str() == "HEAD" {
        reply.body.clear();
        reply.content_type = None;
    } else if reply.content_type.is_none() && !reply.body.is_empty() {
        reply.content_type = Some("application/octet-stream".into());
    }
    reply
}
