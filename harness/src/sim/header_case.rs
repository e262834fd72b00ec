//! The case a client wrote its metadata names in (`x-ms-meta-MixedCase`), read off the request
//! heads as they pass from the connection to hyper, which gives every header name in lower case.
//! Azure and Azurite keep the case the client sent; the standalone server hands it to the world
//! in [`CASE_HEADER`].
//!
//! [`HeadScanner`] is a plain value fed the connection's bytes: it finds each request's head,
//! notes the metadata names that are not all lower case, and skips the body by its
//! `Content-Length`. A body sent in chunks ends the scanning for that connection (its later
//! requests keep lower-case names: nothing is ever attributed to the wrong request).
//!
//! The way back is the same problem: hyper writes header names in lower case, so a reply's
//! metadata names ([`CasedNames`], put on the response by the server) are written back into
//! the response's head in their case by [`recase_head`], which changes the case of bytes and
//! nothing else. [`CaseTap`] is the thin driver around the connection, both ways.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The internal header that carries a request's metadata names as the client wrote them (comma
/// separated); a client's own header of this name is dropped.
pub(crate) const CASE_HEADER: &str = "x-cvnotify-metadata-names";

/// The longest head line scanned; a longer one ends the scanning for the connection.
const MAX_LINE: usize = 16 * 1024;

/// Where the scanner is in the connection's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// In a head: the line so far, whether the request line was seen, the names noted, the
    /// body's length and whether it is chunked.
    Head {
        line: Vec<u8>,
        started: bool,
        names: Vec<String>,
        length: u64,
        chunked: bool,
    },
    /// In a body: the bytes left.
    Body(u64),
    /// Given up (a chunked body, an over-long line).
    Off,
}

impl Place {
    fn head() -> Self {
        Self::Head {
            line: Vec::new(),
            started: false,
            names: Vec::new(),
            length: 0,
            chunked: false,
        }
    }
}

/// Finds each request head in a connection's bytes and the metadata names it carries.
#[derive(Debug, Clone)]
pub(crate) struct HeadScanner {
    place: Place,
    /// One entry per head seen, in order: its names not in lower case.
    heads: VecDeque<Vec<String>>,
}

impl Default for HeadScanner {
    fn default() -> Self {
        Self {
            place: Place::head(),
            heads: VecDeque::new(),
        }
    }
}

impl HeadScanner {
    /// Feeds the next bytes read from the connection.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.place {
                Place::Off => return,
                Place::Body(left) => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    *left -= n as u64;
                    bytes = bytes.get(n..).unwrap_or_default();
                    if *left == 0 {
                        self.place = Place::head();
                    }
                }
                Place::Head { line, .. } => {
                    let end = bytes.iter().position(|&b| b == b'\n');
                    let take = end.map_or(bytes.len(), |e| e + 1);
                    if line.len() + take > MAX_LINE {
                        self.place = Place::Off;
                        return;
                    }
                    line.extend_from_slice(bytes.get(..take).unwrap_or_default());
                    bytes = bytes.get(take..).unwrap_or_default();
                    if end.is_some() {
                        self.line_ended();
                    }
                }
            }
        }
    }

    fn line_ended(&mut self) {
        let Place::Head {
            line,
            started,
            names,
            length,
            chunked,
        } = &mut self.place
        else {
            return;
        };
        let text = String::from_utf8_lossy(line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        line.clear();
        if !*started {
            // Empty lines before a request line are allowed (RFC 9112, 2.2).
            *started = !text.is_empty();
            return;
        }
        if !text.is_empty() {
            if let Some((name, value)) = text.split_once(':') {
                let name = name.trim();
                let lower = name.to_ascii_lowercase();
                if lower == "content-length" {
                    *length = value.trim().parse().unwrap_or(0);
                } else if lower == "transfer-encoding" {
                    *chunked = value.to_ascii_lowercase().contains("chunked");
                } else if let Some(meta) = name.get("x-ms-meta-".len()..)
                    && lower.starts_with("x-ms-meta-")
                    && meta.chars().any(|c| c.is_ascii_uppercase())
                {
                    names.push(meta.to_string());
                }
            }
            return;
        }
        // The head's end.
        self.heads.push_back(std::mem::take(names));
        self.place = match (*chunked, *length) {
            (true, _) => Place::Off,
            (false, 0) => Place::head(),
            (false, n) => Place::Body(n),
        };
    }

    /// The names of the oldest head not yet taken: `None` when no head is known (scanning
    /// ended), so nothing is attributed to the wrong request.
    pub(crate) fn take(&mut self) -> Option<Vec<String>> {
        self.heads.pop_front()
    }
}

/// A response's metadata names in their case (a response extension the server sets).
#[derive(Debug, Clone, Default)]
pub(crate) struct CasedNames(pub(crate) Vec<String>);

/// A response head (`buf` starts with one) with the given metadata header names written in
/// their case; `None` when there is nothing to change. Only the head is touched, and only the
/// case of its bytes.
pub(crate) fn recase_head(buf: &[u8], names: &[String]) -> Option<Vec<u8>> {
    if names.is_empty() || !buf.starts_with(b"HTTP/1.") {
        return None;
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let mut out = buf.to_vec();
    let mut at = 0;
    while let Some(line) = out.get(at..end) {
        let next = line
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(end, |p| at + p + 2);
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = line.get(..colon).unwrap_or_default();
            let wanted = names.iter().find(|n| {
                let full = format!("x-ms-meta-{n}");
                full.len() == name.len() && full.as_bytes().eq_ignore_ascii_case(name)
            });
            if let Some(n) = wanted
                && let Some(slot) = out.get_mut(at + "x-ms-meta-".len()..at + colon)
            {
                slot.copy_from_slice(n.as_bytes());
            }
        }
        if next <= at {
            break;
        }
        at = next;
    }
    Some(out)
}

/// What a connection's two directions share: the request heads seen, and the names to case in
/// the next response head.
#[derive(Debug, Default)]
pub(crate) struct Cases {
    pub(crate) incoming: HeadScanner,
    pub(crate) outgoing: Vec<String>,
}

/// A connection whose incoming bytes a shared [`HeadScanner`] sees and whose response heads
/// get their metadata names' case back.
pub(crate) struct CaseTap<S> {
    inner: S,
    cases: Arc<Mutex<Cases>>,
}

impl<S> CaseTap<S> {
    pub(crate) fn new(inner: S, cases: Arc<Mutex<Cases>>) -> Self {
        Self { inner, cases }
    }

    fn cases(&self) -> std::sync::MutexGuard<'_, Cases> {
        self.cases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CaseTap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled
            && let Some(new) = buf.filled().get(before..)
            && !new.is_empty()
        {
            self.cases().incoming.feed(new);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CaseTap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let recased = {
            let mut cases = self.cases();
            let recased = recase_head(buf, &cases.outgoing);
            if recased.is_some() {
                cases.outgoing.clear();
            }
            recased
        };
        // The same bytes but for their case: what is written of one is written of the other.
        match recased {
            Some(out) => Pin::new(&mut self.inner).poll_write(cx, &out),
            None => Pin::new(&mut self.inner).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_per_head_across_reads_and_bodies_are_skipped() {
        let wire = b"PUT /a HTTP/1.1\r\nX-Ms-Meta-MixedCase: 1\r\nx-ms-meta-lower: 2\r\nContent-Length: 30\r\n\r\nx-ms-meta-InBody: not a header\r\nGET /b HTTP/1.1\r\nx-ms-meta-Second: 3\r\n\r\n";
        // Fed one byte at a time, as a slow client sends it.
        let mut one = HeadScanner::default();
        for b in wire.iter() {
            one.feed(std::slice::from_ref(b));
        }
        let mut whole = HeadScanner::default();
        whole.feed(wire);
        for scanner in [&mut one, &mut whole] {
            assert_eq!(scanner.take(), Some(vec!["MixedCase".to_string()]));
            assert_eq!(scanner.take(), Some(vec!["Second".to_string()]));
            assert_eq!(scanner.take(), None);
        }
    }

    #[test]
    fn a_chunked_body_ends_the_scanning_rather_than_guess() {
        let mut s = HeadScanner::default();
        s.feed(
            b"PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nx-ms-meta-A: 1\r\n\r\n5\r\nGET /",
        );
        s.feed(b" HTTP/1.1\r\nx-ms-meta-B: 1\r\n\r\n");
        assert_eq!(s.take(), Some(vec!["A".to_string()]));
        assert_eq!(s.take(), None);
    }

    #[test]
    fn response_heads_get_the_case_back_and_bodies_do_not() {
        let names = vec!["MixedCase".to_string()];
        let head = b"HTTP/1.1 200 OK\r\nx-ms-meta-mixedcase: Yes\r\nx-ms-meta-other: 1\r\ncontent-length: 24\r\n\r\nx-ms-meta-mixedcase: no\r\n";
        let out = recase_head(head, &names).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nx-ms-meta-MixedCase: Yes\r\nx-ms-meta-other: 1\r\ncontent-length: 24\r\n\r\nx-ms-meta-mixedcase: no\r\n"
        );
        assert_eq!(recase_head(b"body bytes", &names), None);
        assert_eq!(recase_head(head, &[]), None);
    }

    #[test]
    fn an_endless_line_is_not_buffered() {
        let mut s = HeadScanner::default();
        for _ in 0..100 {
            s.feed(&[b'a'; 1024]);
        }
        assert_eq!(s.place, Place::Off);
    }
}
