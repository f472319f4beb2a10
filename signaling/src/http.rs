//! HTTP/1.1 front: routing, headers and bodies, the accept loop and graceful shutdown.

use crate::config::Config;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::protocol::{check_name, parse_join, parse_poll_query, parse_send};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The browser peer, served at `GET /`.
const INDEX_HTML: &str = include_str!("../web/index.html");

/// How long `run_until` waits for requests in flight after the shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

type Body = Full<Bytes>;

fn json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json(e.status(), e.body());
    match e {
        ApiError::RateLimited {
            retry_after_secs, ..
        } => {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(*retry_after_secs));
        }
        ApiError::MethodNotAllowed { allow, .. } => {
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        _ => {}
    }
    r
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::MissingToken)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::MissingToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::MissingToken);
    }
    Ok(token)
}

/// Reads a POST body: at most `max` bytes, JSON (or no `Content-Type`) when not empty.
async fn read_body(headers: &HeaderMap, body: Incoming, max: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ApiError::BodyTooLarge { max });
    }
    let body = Limited::new(body, max)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::BodyTooLarge { max }
            } else {
                ApiError::BadJson(format!("the body could not be read: {e}"))
            }
        })?
        .to_bytes();
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes());
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !body.is_empty() && !mime.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType(ct.into_owned()));
        }
    }
    Ok(body)
}

fn method_not_allowed(method: &Method, allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow,
    }
}

async fn handle(hub: Arc<Hub>, req: Request<Incoming>) -> Response<Body> {
    match route(&hub, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

/// Splits `/a/b/c` into at most `N` segments; `None` when there are more.
fn segments<const N: usize>(path: &str) -> Option<([&str; N], usize)> {
    let mut out = [""; N];
    let mut n = 0;
    for seg in path.strip_prefix('/').unwrap_or(path).split('/') {
        *out.get_mut(n)? = seg;
        n += 1;
    }
    Some((out, n))
}

async fn route(hub: &Arc<Hub>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    let (path, method, headers) = (parts.uri.path(), &parts.method, &parts.headers);
    let not_found = || ApiError::NotFound(path.to_string());
    let (seg, n) = segments::<5>(path).ok_or_else(not_found)?;
    match &seg[..n] {
        [""] => {
            if method != Method::GET {
                return Err(method_not_allowed(method, "GET"));
            }
            let mut r = Response::new(Full::new(Bytes::from_static(INDEX_HTML.as_bytes())));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            Ok(r)
        }
        ["healthz"] => {
            if method != Method::GET {
                return Err(method_not_allowed(method, "GET"));
            }
            Ok(json(
                StatusCode::OK,
                Bytes::from_static(b"{\"status\":\"ok\"}"),
            ))
        }
        ["rooms", room, "join"] => {
            if method != Method::POST {
                return Err(method_not_allowed(method, "POST"));
            }
            check_name("room", room)?;
            let body = read_body(headers, body, hub.config.max_body_bytes).await?;
            let name = parse_join(&body)?;
            let j = hub.join(room, name)?;
            let c = &hub.config;
            let peers: Vec<_> = j
                .peers
                .iter()
                .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                .collect();
            let v = serde_json::json!({
                "peer_id": j.peer_id, "token": j.token, "room": j.room, "peers": peers,
                "poll_timeout_ms": c.poll_timeout.as_millis() as u64,
                "expire_after_ms": c.expire_after.as_millis() as u64,
                "limits": {
                    "max_body_bytes": c.max_body_bytes, "max_room_peers": c.max_room_peers,
                    "max_queue": c.max_queue, "rate_per_sec": c.rate_per_sec,
                    "rate_burst": c.rate_burst,
                },
            });
            Ok(json(StatusCode::OK, Bytes::from(v.to_string())))
        }
        ["rooms", room, "peers", peer, "messages"] => {
            check_name("room", room)?;
            check_name("peer id", peer)?;
            if method == Method::GET {
                let q = parse_poll_query(parts.uri.query())?;
                let token = bearer(headers)?;
                drop(body);
                let body = hub.poll(room, peer, token, q).await?;
                Ok(json(StatusCode::OK, body))
            } else if method == Method::POST {
                let token = bearer(headers)?;
                let body = read_body(headers, body, hub.config.max_body_bytes).await?;
                let answer = hub.send(room, peer, token, parse_send(&body))?;
                Ok(json(StatusCode::OK, answer))
            } else {
                Err(method_not_allowed(method, "GET, POST"))
            }
        }
        ["rooms", room, "peers", peer, "leave"] => {
            if method != Method::POST {
                return Err(method_not_allowed(method, "POST"));
            }
            check_name("room", room)?;
            check_name("peer id", peer)?;
            let token = bearer(headers)?;
            // The body carries nothing, but is held to the same rules as every POST body.
            read_body(headers, body, hub.config.max_body_bytes).await?;
            hub.leave(room, peer, token)?;
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        _ => Err(not_found()),
    }
}

/// A server bound to its address, not yet running.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    hub: Arc<Hub>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see `local_addr`). Fails on an unusable config.
    pub async fn bind(addr: SocketAddr, config: Config) -> std::io::Result<Server> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener,
            local_addr,
            hub: Arc::new(Hub::new(config)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes; then stops accepting, answers waiting polls with
    /// 503, lets requests in flight finish (at most 5 s) and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server { listener, hub, .. } = self;
        let reaper = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(hub.expire_interval());
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    hub.expire(std::time::Instant::now());
                }
            })
        };
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new());
        tokio::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: wait for connections to close instead of spinning.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let hub = hub.clone();
            let service = hyper::service::service_fn(move |req| {
                let hub = hub.clone();
                async move { Ok::<_, Infallible>(handle(hub, req).await) }
            });
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                // Errors here are clients going away mid-request: nothing to answer.
                let _ = conn.await;
            });
        }
        drop(listener);
        hub.begin_shutdown();
        reaper.abort();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
        Ok(())
    }
}

/// A server on its own thread and tokio runtime, for tests and demos in non-async code.
/// Dropping it shuts the server down gracefully and joins the thread.
pub struct BackgroundServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl BackgroundServer {
    /// `http://127.0.0.1:PORT`, the base URL of the protocol.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (waiting polls answer 503) and returns how its run ended.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Binds `addr` and serves on a new thread with a 2-worker tokio runtime.
pub fn spawn_background(addr: SocketAddr, config: Config) -> std::io::Result<BackgroundServer> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("signaling")
        .enable_all()
        .build()?;
    let server = runtime.block_on(Server::bind(addr, config))?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("signaling-server".into())
        .spawn(move || {
            runtime.block_on(server.run_until(async {
                // A dropped sender (the handle leaked away) also stops the server.
                let _ = stopped.await;
            }))
        })?;
    Ok(BackgroundServer {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}
