//! A small HTTP/1.1 server connection: keep-alive, pipelining, Content-Length and chunked
//! request bodies, `Expect: 100-continue`, and no buffer held while a long-poll waits.
//!
//! Why not hyper: its connections keep two 8 KiB buffers for their lifetime, which makes
//! 10,000 waiting long-polls cost ~180 MB; here a waiting poll holds its task and socket only.

mod head;

use crate::error::ApiError;
use bytes::Bytes;
use head::{After, Head, MAX_HEAD};
use std::io::Write;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection's byte stream: plain TCP or TLS over it.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// Waits until bytes (or the end of the stream) arrive and reads them into `buf`;
    /// `Ok(0)` at the end. Cancel-safe, and holds no buffer of its own while it waits:
    /// it watches a waiting long-poll's connection for the client going away.
    fn watch(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send;
}

impl Transport for TcpStream {
    async fn watch(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        loop {
            self.readable().await?;
            match self.try_read_buf(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    async fn watch(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        // Cancel-safe: a partly received record stays in the TLS state, not in this future.
        self.read_buf(buf).await
    }
}

/// A connection with no request for this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// Time to receive a request's head and body once its first byte arrived, and to write a
/// response.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One parsed request, owned: the connection's read buffer is released while it is served.
#[derive(Debug)]
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// The address the connection comes from (join-rate buckets).
    pub client: Option<std::net::IpAddr>,
}

/// A response.
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub body: Bytes,
    pub extra: Option<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Bytes) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            cache_control: "no-store",
            body,
            extra: None,
        }
    }

    pub fn error(e: &ApiError) -> Reply {
        let mut r = Reply::json(e.status(), e.body());
        if let Some(secs) = e.retry_after_secs() {
            r.extra = Some(("Retry-After", secs.to_string()));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = e {
            r.extra = Some(("Allow", allow.to_string()));
        }
        r
    }

    /// A transport-level error (the request could not be read as HTTP/1.1).
    fn transport(status: u16, code: &str, message: &str) -> Reply {
        let v = serde_json::json!({"error": {"code": code, "message": message}});
        Reply::json(status, Bytes::from(v.to_string()))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The `Date` header value, formatted once per second per thread.
fn http_date() -> String {
    use std::cell::RefCell;
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            *c = (secs, httpdate::fmt_http_date(now));
        }
        c.1.clone()
    })
}

enum ReadError {
    /// The peer closed, timed out before sending anything, or the server is stopping.
    Closed,
    /// Answer this and close.
    Reply(Reply),
}

pub(crate) struct Conn<S> {
    stream: S,
    /// Bytes read and not consumed yet; empty (and unallocated) between requests.
    buf: Vec<u8>,
    client: Option<std::net::IpAddr>,
}

impl<S: Transport> Conn<S> {
    /// `client`: the peer's address (join-rate buckets).
    pub fn new(stream: S, client: Option<std::net::IpAddr>) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::new(),
            client,
        }
    }

    /// Reads more bytes into `buf`; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 512 {
            self.buf.reserve(2048);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// Reads the next request head. `stopping` resolves when the server shuts down; it only
    /// interrupts a connection that has not started a request.
    async fn read_head(
        &mut self,
        stopping: impl std::future::Future<Output = ()>,
    ) -> Result<Head, ReadError> {
        tokio::pin!(stopping);
        let mut deadline = None;
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = self.parse_head()? {
                    return Ok(head);
                }
            }
            let timeout = match deadline {
                Some(d) => d,
                None if self.buf.is_empty() => tokio::time::Instant::now() + IDLE_TIMEOUT,
                None => {
                    let d = tokio::time::Instant::now() + IO_TIMEOUT;
                    deadline = Some(d);
                    d
                }
            };
            let idle = self.buf.is_empty();
            tokio::select! {
                n = self.fill() => match n {
                    Ok(0) | Err(_) => return Err(ReadError::Closed),
                    Ok(_) => {
                        if deadline.is_none() {
                            deadline = Some(tokio::time::Instant::now() + IO_TIMEOUT);
                        }
                    }
                },
                _ = tokio::time::sleep_until(timeout) => {
                    return Err(if idle {
                        ReadError::Closed
                    } else {
                        ReadError::Reply(Reply::transport(408, "request_timeout", "the request head did not arrive in time"))
                    });
                }
                _ = &mut stopping, if idle => return Err(ReadError::Closed),
            }
        }
    }

    fn parse_head(&mut self) -> Result<Option<Head>, ReadError> {
        let parsed = head::parse(&self.buf, self.client)?;
        Ok(parsed.map(|(head, n)| {
            self.buf.drain(..n);
            head
        }))
    }

    /// Reads the body announced by `head`, at most `max` bytes.
    async fn read_body(&mut self, head: &Head, max: usize) -> Result<Bytes, ReadError> {
        let has_body = head.chunked || head.content_length.is_some_and(|l| l > 0);
        if !has_body {
            return Ok(Bytes::new());
        }
        let too_large = || ReadError::Reply(Reply::error(&ApiError::BodyTooLarge { max }));
        if head.content_length.is_some_and(|l| l > max as u64) {
            return Err(too_large());
        }
        if head.expect_continue && self.buf.is_empty() {
            self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let read = async {
            match head.content_length {
                Some(len) => {
                    let len = len as usize;
                    while self.buf.len() < len {
                        if self.fill().await.map_err(|_| ReadError::Closed)? == 0 {
                            return Err(ReadError::Closed);
                        }
                    }
                    let body = Bytes::copy_from_slice(&self.buf[..len]);
                    self.buf.drain(..len);
                    Ok(body)
                }
                None => self.read_chunked(max).await,
            }
        };
        match tokio::time::timeout(IO_TIMEOUT, read).await {
            Ok(r) => r,
            Err(_) => Err(ReadError::Reply(Reply::transport(
                408,
                "request_timeout",
                "the request body did not arrive in time",
            ))),
        }
    }

    async fn read_chunked(&mut self, max: usize) -> Result<Bytes, ReadError> {
        let bad = || {
            ReadError::Reply(Reply::transport(
                400,
                "bad_request",
                "malformed chunked body",
            ))
        };
        let mut body = Vec::new();
        loop {
            let (skip, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(c)) => break c,
                    Ok(httparse::Status::Partial) if self.buf.len() < 1024 => {
                        if self.fill().await.map_err(|_| ReadError::Closed)? == 0 {
                            return Err(ReadError::Closed);
                        }
                    }
                    _ => return Err(bad()),
                }
            };
            self.buf.drain(..skip);
            if size == 0 {
                // Trailers, if any, up to the empty line.
                loop {
                    if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        self.buf.drain(..end + 2);
                        if end == 0 {
                            return Ok(Bytes::from(body));
                        }
                    } else if self.buf.len() > MAX_HEAD {
                        return Err(bad());
                    } else if self.fill().await.map_err(|_| ReadError::Closed)? == 0 {
                        return Err(ReadError::Closed);
                    }
                }
            }
            if body.len() as u64 + size > max as u64 {
                return Err(ReadError::Reply(Reply::error(&ApiError::BodyTooLarge {
                    max,
                })));
            }
            let size = size as usize;
            while self.buf.len() < size + 2 {
                if self.fill().await.map_err(|_| ReadError::Closed)? == 0 {
                    return Err(ReadError::Closed);
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(bad());
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        match tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(ReadError::Closed),
        }
    }

    async fn send(&mut self, reply: &Reply, after: After) -> Result<(), ReadError> {
        let mut out = Vec::with_capacity(200 + reply.body.len());
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\ndate: {}\r\n",
            reply.status,
            reason(reply.status),
            http_date(),
        );
        // A 204 has neither body nor Content-Length (RFC 9110, 8.6).
        if reply.status != 204 {
            let _ = write!(
                out,
                "content-length: {}\r\ncontent-type: {}\r\ncache-control: {}\r\n",
                reply.body.len(),
                reply.content_type,
                reply.cache_control
            );
        }
        if let Some((name, value)) = &reply.extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if after == After::Close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&reply.body);
        self.write_all(&out).await
    }

    /// Answers `reply` without reading a request, and closes (over `max_connections`).
    pub async fn refuse(mut self, reply: &Reply) {
        let _ = self.send(reply, After::Close).await;
        let _ = self.stream.shutdown().await;
    }

    /// Serves requests until the client closes, an error closes the connection, or the
    /// server stops. `handle` answers one request; `stopping()` resolves on shutdown and
    /// `is_stopping()` says whether it has begun.
    pub async fn serve<H, F, St, SF>(
        mut self,
        max_body: usize,
        handle: H,
        stopping: St,
        is_stopping: impl Fn() -> bool,
    ) where
        H: Fn(Req) -> F,
        F: std::future::Future<Output = Reply>,
        St: Fn() -> SF,
        SF: std::future::Future<Output = ()>,
    {
        loop {
            let mut head = match self.read_head(stopping()).await {
                Ok(h) => h,
                Err(ReadError::Closed) => return,
                Err(ReadError::Reply(r)) => {
                    let _ = self.send(&r, After::Close).await;
                    return;
                }
            };
            match self.read_body(&head, max_body).await {
                Ok(body) => head.req.body = body,
                Err(ReadError::Closed) => return,
                Err(ReadError::Reply(r)) => {
                    // The rest of the body is unread: the connection cannot be reused.
                    let _ = self.send(&r, After::Close).await;
                    return;
                }
            }
            self.release_if_empty();
            let watch_close = head.req.method == "GET";
            let reply = handle(head.req);
            tokio::pin!(reply);
            let reply = loop {
                tokio::select! {
                    r = &mut reply => break r,
                    // A client that goes away ends its waiting poll. Bytes that come meanwhile
                    // are the next (pipelined) request.
                    read = self.stream.watch(&mut self.buf), if watch_close && self.buf.len() < MAX_HEAD => {
                        match read {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                }
            };
            let after = if is_stopping() {
                After::Close
            } else {
                head.after
            };
            if self.send(&reply, after).await.is_err() || after == After::Close {
                let _ = self.stream.shutdown().await;
                return;
            }
        }
    }
}
