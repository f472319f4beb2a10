//! The request head: request line, target, and the headers the server acts on, checked
//! against RFC 9112 (one Host, origin- or absolute-form targets, chunked at most once).

use super::{ReadError, Reply, Req};
use bytes::Bytes;

/// Largest request head (request line + headers).
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 48;

/// The path and query of a request target: those of origin-form (`/path?query`) or of
/// absolute-form (`http://host/path?query`, RFC 9112 3.2.2, an empty path being `/`);
/// `None` for anything else (`healthz`, `*`, an authority alone).
fn origin_form(target: &str) -> Option<(&str, Option<&str>)> {
    let rest = if target.starts_with('/') {
        target
    } else {
        let (scheme, rest) = target.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        &rest[rest.find(['/', '?']).unwrap_or(rest.len())..]
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Some((if path.is_empty() { "/" } else { path }, query))
}

/// A Host value: empty, or a host (name, IPv4, `[IPv6]`) with an optional port; no
/// whitespace, userinfo, path or other delimiters.
fn valid_host(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    value.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
            )
    })
}

/// The transfer codings of a request, over all its `Transfer-Encoding` lines.
#[derive(Default)]
struct Codings {
    lines: usize,
    chunked: usize,
    other: Option<String>,
}

impl Codings {
    fn add(&mut self, value: &str) {
        self.lines += 1;
        // Empty list elements are allowed and ignored (RFC 9110, 5.6.1).
        for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if coding.eq_ignore_ascii_case("chunked") {
                self.chunked += 1;
            } else if self.other.is_none() {
                self.other = Some(coding.to_string());
            }
        }
    }
}

/// What the connection does after a request.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum After {
    KeepAlive,
    Close,
}

/// A request head with everything the server needs from it.
pub(super) struct Head {
    pub req: Req,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub expect_continue: bool,
    pub after: After,
}

/// Parses the request head at the start of `buf`: the head and its length, `None` while
/// it is incomplete.
pub(super) fn parse(
    buf: &[u8],
    client: Option<std::net::IpAddr>,
) -> Result<Option<(Head, usize)>, ReadError> {
    let too_large = || {
        ReadError::Reply(Reply::transport(
            431,
            "headers_too_large",
            &format!("the request head is over {MAX_HEAD} bytes or {MAX_HEADERS} headers"),
        ))
    };
    let bad = |m: &str| ReadError::Reply(Reply::transport(400, "bad_request", m));
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let n = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(too_large()),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(too_large()),
        Err(e) => return Err(bad(&format!("not an HTTP/1.1 request: {e}"))),
    };
    if n > MAX_HEAD {
        return Err(too_large());
    }
    let (path, query) = origin_form(r.path.unwrap_or("")).ok_or_else(|| {
        bad("the request target must be a path starting with / (or an absolute http URL)")
    })?;
    let mut head = Head {
        req: Req {
            method: r.method.unwrap_or("").to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            authorization: None,
            content_type: None,
            body: Bytes::new(),
            client,
        },
        content_length: None,
        chunked: false,
        expect_continue: false,
        // HTTP/1.0 closes unless asked otherwise.
        after: if r.version == Some(0) {
            After::Close
        } else {
            After::KeepAlive
        },
    };
    let (mut hosts, mut codings) = (0, Codings::default());
    for h in r.headers.iter() {
        let value = || String::from_utf8_lossy(h.value).trim().to_string();
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            if !valid_host(h.value) {
                return Err(bad("invalid Host header"));
            }
        } else if name.eq_ignore_ascii_case("authorization") {
            head.req.authorization = Some(value());
        } else if name.eq_ignore_ascii_case("content-type") {
            head.req.content_type = Some(value());
        } else if name.eq_ignore_ascii_case("content-length") {
            let v = value();
            let len = v
                .parse::<u64>()
                .ok()
                .filter(|_| v.bytes().all(|b| b.is_ascii_digit()));
            match (len, head.content_length) {
                (Some(l), None) => head.content_length = Some(l),
                (Some(l), Some(prev)) if l == prev => {}
                _ => return Err(bad("invalid or conflicting Content-Length")),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Several lines are one list (RFC 9110, 5.3): `chunked` on two lines is
            // `chunked, chunked`.
            codings.add(&value());
        } else if name.eq_ignore_ascii_case("expect") {
            head.expect_continue = value().eq_ignore_ascii_case("100-continue");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value().split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    head.after = After::Close;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    head.after = After::KeepAlive;
                }
            }
        }
    }
    // RFC 9112, 3.2: exactly one Host in an HTTP/1.1 request, at most one in any.
    match (hosts, r.version) {
        (0, Some(1)) => return Err(bad("an HTTP/1.1 request needs a Host header")),
        (0 | 1, _) => {}
        _ => return Err(bad("more than one Host header")),
    }
    if codings.lines > 0 {
        if let Some(other) = codings.other {
            return Err(ReadError::Reply(Reply::transport(
                501,
                "not_implemented",
                &format!("transfer coding {other:?} is not supported (only chunked)"),
            )));
        }
        // RFC 9112, 6.1: chunked at most once; 6.1 also: HTTP/1.0 has no
        // Transfer-Encoding, so its framing is faulty.
        if codings.chunked != 1 || r.version == Some(0) {
            return Err(bad(
                "Transfer-Encoding must name chunked exactly once (over all its lines), \
                 in HTTP/1.1",
            ));
        }
        head.chunked = true;
    }
    if head.chunked && head.content_length.is_some() {
        return Err(bad("both Content-Length and Transfer-Encoding"));
    }
    Ok(Some((head, n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets() {
        assert_eq!(origin_form("/healthz"), Some(("/healthz", None)));
        assert_eq!(origin_form("/m?after=1"), Some(("/m", Some("after=1"))));
        assert_eq!(origin_form("http://h:1/m?a"), Some(("/m", Some("a"))));
        assert_eq!(origin_form("HTTPS://h"), Some(("/", None)));
        assert_eq!(origin_form("http://h?a"), Some(("/", Some("a"))));
        for bad in ["healthz", "*", "h:80", "", "ftp://h/x", "healthz?x=/"] {
            assert_eq!(origin_form(bad), None, "{bad}");
        }
    }

    #[test]
    fn host_values() {
        for ok in [
            "",
            "x",
            "localhost:8080",
            "127.0.0.1",
            "[::1]:443",
            "a-b.example",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok}");
        }
        for bad in ["a b", "u@h", "h/x", "h?x", "h\\x"] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }
}
