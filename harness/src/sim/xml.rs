//! The storage services' XML answer bodies, written with quick-xml's writer: elements as
//! events, text escaped by quick-xml, and a carriage return kept as a character reference
//! (an XML reader turns a bare one into a line feed, and a message text must come back as it
//! was put).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// An XML body being written, with the declaration the services write.
pub(crate) struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    /// A body with its declaration (`<?xml version="1.0" encoding="utf-8"?>`).
    pub(crate) fn new() -> Self {
        let mut xml = Self {
            writer: Writer::new(Vec::new()),
        };
        xml.event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        xml
    }

    fn event(&mut self, event: Event<'_>) {
        // Writing into a vector cannot fail.
        let _ = self.writer.write_event(event);
    }

    /// Opens `name`, with these attributes.
    pub(crate) fn open_with(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        let mut start = BytesStart::new(name);
        for (key, value) in attributes {
            start.push_attribute((*key, *value));
        }
        self.event(Event::Start(start));
        self
    }

    /// Opens `name`.
    pub(crate) fn open(&mut self, name: &str) -> &mut Self {
        self.open_with(name, &[])
    }

    /// Closes `name`.
    pub(crate) fn close(&mut self, name: &str) -> &mut Self {
        self.event(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name/>`.
    pub(crate) fn empty(&mut self, name: &str) -> &mut Self {
        self.event(Event::Empty(BytesStart::new(name)));
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub(crate) fn element(&mut self, name: &str, text: impl std::fmt::Display) -> &mut Self {
        let text = text.to_string();
        self.open(name);
        if text.contains('\r') {
            let escaped = quick_xml::escape::escape(&text).replace('\r', "&#xD;");
            self.event(Event::Text(BytesText::from_escaped(escaped)));
        } else {
            self.event(Event::Text(BytesText::new(&text)));
        }
        self.close(name)
    }

    /// `<name>text</name>`, or `<name/>` when the text is empty.
    pub(crate) fn tag(&mut self, name: &str, text: &str) -> &mut Self {
        if text.is_empty() {
            self.empty(name)
        } else {
            self.element(name, text)
        }
    }

    /// The body.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::Xml;

    #[test]
    fn text_is_escaped_and_a_carriage_return_survives_a_reader() {
        let mut xml = Xml::new();
        xml.open_with("R", &[("A", "a\"&<")])
            .element("T", "x < y & 'z'\r\n")
            .tag("E", "")
            .close("R");
        let text = String::from_utf8(xml.into_bytes()).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><R A=\"a&quot;&amp;&lt;\"><T>x &lt; y &amp; &apos;z&apos;&#xD;\n</T><E/></R>"
        );
    }
}
