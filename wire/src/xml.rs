//! The XML bodies of the queue and blob REST APIs, read and written with quick-xml's serde
//! support (docs/protocol.md §2 and 3): Get/Peek Messages' `QueueMessagesList`, Put Message's
//! `QueueMessage`, List Blobs' `EnumerationResults`, and the `Error` body of a failure.

use serde::{Deserialize, Serialize};

/// Why a response body is not what the API documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unexpected XML: {}", self.0)
    }
}

#[derive(Debug, Deserialize)]
struct MessagesList {
    #[serde(rename = "QueueMessage", default)]
    messages: Vec<MessageXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MessageXml {
    message_id: String,
    insertion_time: String,
    expiration_time: Option<String>,
    pop_receipt: Option<String>,
    time_next_visible: Option<String>,
    dequeue_count: Option<u32>,
    message_text: Option<String>,
}

/// One message of a Get, Peek or Put Messages answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    /// `MessageId`.
    pub message_id: String,
    /// `InsertionTime`, milliseconds since the epoch.
    pub insertion_time: u64,
    /// `ExpirationTime`, when given.
    pub expiration_time: Option<u64>,
    /// `PopReceipt` (Get and Put only).
    pub pop_receipt: Option<String>,
    /// `TimeNextVisible` (Get and Put only).
    pub time_next_visible: Option<u64>,
    /// `DequeueCount` (Get and Peek only).
    pub dequeue_count: Option<u32>,
    /// `MessageText`, XML-unescaped (Get and Peek only).
    pub message_text: Option<String>,
}

/// An RFC 1123 time (`Fri, 09 Oct 2009 21:04:30 GMT`) as milliseconds since the epoch.
fn http_time(text: &str, field: &str) -> Result<u64, XmlError> {
    let t = httpdate::parse_http_date(text.trim())
        .map_err(|_| XmlError(format!("{field} is not an RFC 1123 time")))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| XmlError(format!("{field} is before 1970")))?;
    u64::try_from(d.as_millis()).map_err(|_| XmlError(format!("{field} is out of range")))
}

/// Reads a `QueueMessagesList` body.
pub fn read_messages(xml: &str) -> Result<Vec<ListedMessage>, XmlError> {
    let list: MessagesList =
        quick_xml::de::from_str(&as_xml10(xml)).map_err(|e| XmlError(e.to_string()))?;
    list.messages
        .into_iter()
        .map(|m| {
            Ok(ListedMessage {
                insertion_time: http_time(&m.insertion_time, "InsertionTime")?,
                expiration_time: m
                    .expiration_time
                    .as_deref()
                    .map(|t| http_time(t, "ExpirationTime"))
                    .transpose()?,
                time_next_visible: m
                    .time_next_visible
                    .as_deref()
                    .map(|t| http_time(t, "TimeNextVisible"))
                    .transpose()?,
                message_id: m.message_id,
                pop_receipt: m.pop_receipt,
                dequeue_count: m.dequeue_count,
                message_text: m.message_text,
            })
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename = "QueueMessage")]
struct PutBody<'a> {
    #[serde(rename = "MessageText")]
    message_text: &'a str,
}

/// The Put/Update Message body for `text` (escaped by the serializer). The characters an XML
/// reader's end-of-line handling would rewrite (`\r`; and U+0085, U+2028, which quick-xml
/// treats by XML 1.1's rules) are written as character references, so the text comes back exactly.
pub fn message_body(text: &str) -> Result<String, XmlError> {
    let body = quick_xml::se::to_string(&PutBody { message_text: text })
        .map_err(|e| XmlError(e.to_string()))?;
    Ok(body
        .replace('\r', "&#13;")
        .replace('\u{85}', "&#133;")
        .replace('\u{2028}', "&#8232;"))
}

/// The storage services answer in XML 1.0, where U+0085 and U+2028 are ordinary characters;
/// quick-xml's deserializer applies XML 1.1's end-of-line rules to them. Written as character
/// references first, they are read as themselves. (They cannot occur in names or markup.)
fn as_xml10(xml: &str) -> std::borrow::Cow<'_, str> {
    if xml.contains(['\u{85}', '\u{2028}']) {
        std::borrow::Cow::Owned(
            xml.replace('\u{85}', "&#133;")
                .replace('\u{2028}', "&#8232;"),
        )
    } else {
        std::borrow::Cow::Borrowed(xml)
    }
}

#[derive(Debug, Deserialize)]
struct Enumeration {
    #[serde(rename = "Blobs", default)]
    blobs: Blobs,
    #[serde(rename = "NextMarker", default)]
    next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Blobs {
    #[serde(rename = "Blob", default)]
    blobs: Vec<BlobXml>,
}

#[derive(Debug, Deserialize)]
struct BlobXml {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Properties", default)]
    properties: BlobProperties,
}

#[derive(Debug, Default, Deserialize)]
struct BlobProperties {
    #[serde(rename = "Content-Length", default)]
    content_length: Option<u64>,
}

/// One blob of a List Blobs page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    /// The name (XML-unescaped; not percent-encoded).
    pub name: String,
    /// `Content-Length`.
    pub size: Option<u64>,
}

/// One page of a List Blobs answer: the blobs, and the marker of the next page (none: done).
pub fn read_blob_page(xml: &str) -> Result<(Vec<ListedBlob>, Option<String>), XmlError> {
    let e: Enumeration =
        quick_xml::de::from_str(&as_xml10(xml)).map_err(|e| XmlError(e.to_string()))?;
    let blobs = e
        .blobs
        .blobs
        .into_iter()
        .map(|b| ListedBlob {
            name: b.name,
            size: b.properties.content_length,
        })
        .collect();
    let next = e.next_marker.filter(|m| !m.trim().is_empty());
    Ok((blobs, next))
}

#[derive(Debug, Deserialize)]
struct ErrorXml {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

/// The `Code` and `Message` of an `Error` body, when it is one.
pub fn read_error(xml: &str) -> (Option<String>, Option<String>) {
    match quick_xml::de::from_str::<ErrorXml>(xml) {
        Ok(e) => (e.code, e.message),
        Err(_) => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_messages_list() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>5974b586-0df3-4e2d-ad0c-18e3892bfca2</MessageId><InsertionTime>Fri, 09 Oct 2009 21:04:30 GMT</InsertionTime><ExpirationTime>Fri, 16 Oct 2009 21:04:30 GMT</ExpirationTime><PopReceipt>YzQ4Yzg1MDItYTc0Ny00OWNjLTkxYTUtZGM0MDFiZDAwYzEw</PopReceipt><TimeNextVisible>Fri, 09 Oct 2009 23:29:20 GMT</TimeNextVisible><DequeueCount>1</DequeueCount><MessageText>{"a":"&lt;b&gt;"}</MessageText></QueueMessage></QueueMessagesList>"#;
        let m = read_messages(xml).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].message_text.as_deref(), Some(r#"{"a":"<b>"}"#));
        assert_eq!(m[0].insertion_time, 1_255_122_270_000);
        assert_eq!(m[0].dequeue_count, Some(1));
        assert_eq!(read_messages("<QueueMessagesList/>").unwrap(), vec![]);
        assert!(read_messages("<QueueMessagesList><QueueMessage><MessageId>x</MessageId><InsertionTime>yesterday</InsertionTime></QueueMessage></QueueMessagesList>").is_err());
        assert!(read_messages("not xml").is_err());
    }

    #[test]
    fn writes_an_escaped_put_body() {
        assert_eq!(
            message_body("<a & b>").unwrap(),
            "<QueueMessage><MessageText>&lt;a &amp; b&gt;</MessageText></QueueMessage>"
        );
    }

    #[test]
    fn reads_blob_pages_and_errors() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" ContainerName="c"><Prefix/><Blobs><Blob><Name>p - i.ONNX</Name><Properties><Content-Length>42</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob></Blobs><NextMarker>m2</NextMarker></EnumerationResults>"#;
        let (blobs, next) = read_blob_page(xml).unwrap();
        assert_eq!(
            blobs,
            vec![ListedBlob {
                name: "p - i.ONNX".into(),
                size: Some(42)
            }]
        );
        assert_eq!(next.as_deref(), Some("m2"));
        let (_, done) =
            read_blob_page("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>")
                .unwrap();
        assert_eq!(done, None);
        let (code, _) = read_error(
            "<?xml version=\"1.0\"?><Error><Code>QueueNotFound</Code><Message>The specified queue does not exist.</Message></Error>",
        );
        assert_eq!(code.as_deref(), Some("QueueNotFound"));
    }
}
