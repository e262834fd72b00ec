//! What the Queue and Blob services share: resource names and their rules, a path segment
//! decoded, metadata headers (in the case the client sent) and their XML.

use std::collections::BTreeMap;

use wiremock::Request;

use super::xml::Xml;

/// Checks a queue or container name: 3 to 63 characters (`OutOfRangeInput`), lower-case
/// letters, digits and single hyphens, starting and ending with a letter or digit
/// (`InvalidResourceName`).
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("OutOfRangeInput");
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err("InvalidResourceName")
    }
}

/// The `x-ms-meta-*` headers of a request, names lower-cased.
pub(crate) fn metadata(request: &Request) -> BTreeMap<String, String> {
    // Names in the case the client wrote them, when the server saw it (hyper lowers them).
    let cased: Vec<&str> = request
        .headers
        .get(super::header_case::CASE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').collect())
        .unwrap_or_default();
    request
        .headers
        .iter()
        .filter_map(|(n, v)| {
            let name = n.as_str().strip_prefix("x-ms-meta-")?;
            let name = cased
                .iter()
                .find(|c| c.eq_ignore_ascii_case(name))
                .map_or(name, |c| *c);
            Some((name.to_string(), v.to_str().unwrap_or_default().to_string()))
        })
        .collect()
}

/// A path segment, percent-decoded (a blob name may hold spaces, `%20` on the wire).
pub(crate) fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A `<Metadata>` element (`<Metadata/>` when there is none).
pub(crate) fn metadata_xml(xml: &mut Xml, m: &BTreeMap<String, String>) {
    if m.is_empty() {
        xml.empty("Metadata");
        return;
    }
    xml.open("Metadata");
    for (k, v) in m {
        xml.element(k, v);
    }
    xml.close("Metadata");
}
