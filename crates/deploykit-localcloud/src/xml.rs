//! A tiny XML writer for the query protocol's response documents.

use quick_xml::escape::escape;

/// Builds an XML document element by element. Text is always escaped.
#[derive(Debug, Default)]
pub(crate) struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<tag xmlns="ns">`
    pub fn open_ns(&mut self, tag: &str, ns: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str(" xmlns=\"");
        self.buf.push_str(&escape(ns));
        self.buf.push_str("\">");
        self
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>text</tag>`
    pub fn leaf(&mut self, tag: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&escape(text.as_ref()));
        self.close(tag)
    }

    /// `<tag>text</tag>` only when `text` is `Some`.
    pub fn opt(&mut self, tag: &str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
        self
    }

    /// `<tag><member>a</member><member>b</member></tag>`
    pub fn members<I, S>(&mut self, tag: &str, items: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.open(tag);
        for item in items {
            self.leaf("member", item);
        }
        self.close(tag)
    }

    /// Appends already-built XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

/// A query-protocol (and REST-XML) error document:
/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub(crate) fn query_error(
    status: http::StatusCode,
    kind: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut x = Xml::new();
    x.open("ErrorResponse")
        .open("Error")
        .leaf("Type", kind)
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error")
        .leaf("RequestId", request_id)
        .close("ErrorResponse");
    xml_response(status, x.finish(), request_id)
}

/// An XML body with `text/xml` and the request id header.
pub(crate) fn xml_response(
    status: http::StatusCode,
    body: String,
    request_id: &str,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut resp = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_nests() {
        let mut x = Xml::new();
        x.open_ns("R", "urn:x")
            .leaf("A", "a<b&c")
            .opt("B", None::<&str>)
            .opt("C", Some("c"))
            .members("L", ["1", "2"])
            .close("R");
        assert_eq!(
            x.finish(),
            "<R xmlns=\"urn:x\"><A>a&lt;b&amp;c</A><C>c</C><L><member>1</member><member>2</member></L></R>"
        );
    }
}
