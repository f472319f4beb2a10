//! Routing of protocol v1 onto the hub, the accept loop and graceful shutdown.

use crate::config::Config;
use crate::conn::{Conn, Reply, Req, Transport};
use crate::error::ApiError;
use crate::hub::Hub;
use crate::protocol::{check_name, parse_join, parse_leave, parse_poll_query, parse_send};
use crate::store::{Shared, Store};
use crate::tls::Tls;
use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The browser peer, served at `GET /`.
const INDEX_HTML: &str = include_str!("../web/index.html");

/// How long `run_until` waits for requests in flight after the shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Time for a client to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The token of `Authorization: Bearer <token>`.
fn bearer(req: &Req) -> Result<&str, ApiError> {
    let value = req.authorization.as_deref().ok_or(ApiError::MissingToken)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::MissingToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::MissingToken);
    }
    Ok(token)
}

/// The body of a POST: JSON (or no `Content-Type`) when not empty. Its size was checked
/// while reading it.
fn json_body(req: &Req) -> Result<&[u8], ApiError> {
    if let Some(ct) = &req.content_type {
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !req.body.is_empty() && !mime.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType(ct.clone()));
        }
    }
    Ok(&req.body)
}

fn method_not_allowed(method: &str, allow: &'static str) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        allow,
    }
}

/// One server's state: its shared parts and the store behind them.
#[derive(Clone)]
pub(crate) struct App {
    pub shared: Arc<Shared>,
    pub store: Arc<dyn Store>,
}

async fn handle(hub: App, req: Req) -> Reply {
    match route(&hub, &req).await {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
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

async fn route(app: &App, req: &Req) -> Result<Reply, ApiError> {
    let (shared, store) = (&app.shared, &app.store);
    let (path, method) = (req.path.as_str(), req.method.as_str());
    let not_found = || ApiError::NotFound(path.to_string());
    let (seg, n) = segments::<5>(path).ok_or_else(not_found)?;
    match &seg[..n] {
        [""] => {
            if method != "GET" {
                return Err(method_not_allowed(method, "GET"));
            }
            Ok(Reply {
                status: 200,
                content_type: "text/html; charset=utf-8",
                cache_control: "no-cache",
                body: Bytes::from_static(INDEX_HTML.as_bytes()),
                extra: None,
            })
        }
        ["healthz"] => {
            if method != "GET" {
                return Err(method_not_allowed(method, "GET"));
            }
            Ok(Reply::json(200, Bytes::from_static(b"{\"status\":\"ok\"}")))
        }
        ["rooms", room, "join"] => {
            if method != "POST" {
                return Err(method_not_allowed(method, "POST"));
            }
            check_name("room", room)?;
            if let Some(ip) = req.client {
                shared
                    .limits
                    .take_join(&shared.config, ip, std::time::Instant::now())?;
            }
            let name = parse_join(json_body(req)?)?;
            let j = store.join(room, name).await?;
            let c = &shared.config;
            let peers: Vec<_> = j
                .peers
                .iter()
                .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                .collect();
            let (ice_servers, ice_ttl) = c.ice.for_peer(&j.peer_id, std::time::SystemTime::now());
            let v = serde_json::json!({
                "peer_id": j.peer_id, "token": j.token, "room": j.room, "peers": peers,
                "ice_servers": ice_servers, "ice_servers_ttl_s": ice_ttl,
                "poll_timeout_ms": c.poll_timeout.as_millis() as u64,
                "expire_after_ms": c.expire_after.as_millis() as u64,
                "limits": {
                    "max_body_bytes": c.max_body_bytes, "max_room_peers": c.max_room_peers,
                    "max_queue": c.max_queue, "rate_per_sec": c.rate_per_sec,
                    "rate_burst": c.rate_burst,
                },
            });
            Ok(Reply::json(200, Bytes::from(v.to_string())))
        }
        ["rooms", room, "peers", peer, "messages"] => {
            if method != "GET" && method != "POST" {
                return Err(method_not_allowed(method, "GET, POST"));
            }
            check_name("room", room)?;
            check_name("peer id", peer)?;
            if method == "GET" {
                let q = parse_poll_query(req.query.as_deref())?;
                let token = bearer(req)?;
                let body = store.poll(room, peer, token, q).await?;
                Ok(Reply::json(200, body))
            } else {
                let token = bearer(req)?;
                let body = json_body(req)?;
                let answer = store.send(room, peer, token, parse_send(body)).await?;
                Ok(Reply::json(200, answer))
            }
        }
        ["rooms", room, "peers", peer, "leave"] => {
            if method != "POST" {
                return Err(method_not_allowed(method, "POST"));
            }
            check_name("room", room)?;
            check_name("peer id", peer)?;
            let token = bearer(req)?;
            // The body carries nothing, but is held to the same rules as every POST body:
            // size and Content-Type first, then (once the token is checked) a JSON object.
            let body = json_body(req)?;
            store.leave(room, peer, token, parse_leave(body)).await?;
            Ok(Reply {
                status: 204,
                content_type: "",
                cache_control: "",
                body: Bytes::new(),
                extra: None,
            })
        }
        _ => Err(not_found()),
    }
}

/// Counts open connections so shutdown can wait for them.
#[derive(Default)]
struct Connections {
    open: AtomicUsize,
    closed: Notify,
}

struct ConnGuard(Arc<Connections>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

impl Connections {
    async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// A server bound to its address, not yet running.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    hub: App,
    tls: Option<Tls>,
}

async fn serve<S: Transport>(stream: S, client: Option<std::net::IpAddr>, hub: App) {
    let max_body = hub.shared.config.max_body_bytes;
    Conn::new(stream, client)
        .serve(
            max_body,
            |req| handle(hub.clone(), req),
            || hub.shared.stopped(),
            || hub.shared.is_shutting_down(),
        )
        .await;
}

impl Server {
    /// Binds `addr` (port 0 picks a free port; see `local_addr`). Fails on an unusable config.
    pub async fn bind(addr: SocketAddr, config: Config) -> std::io::Result<Server> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let store: Arc<dyn Store> = match shared.config.redis.clone() {
            None => Arc::new(Hub::new(shared.clone())),
            Some(url) => Arc::new(
                crate::redis_store::RedisStore::connect(&url, shared.clone())
                    .await
                    .map_err(|e| std::io::Error::other(format!("Redis at {url}: {e:#}")))?,
            ),
        };
        Ok(Server {
            listener,
            local_addr,
            hub: App { shared, store },
            tls: None,
        })
    }

    /// Serves HTTPS with this certificate instead of plain HTTP.
    pub fn with_tls(mut self, tls: Tls) -> Server {
        self.tls = Some(tls);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes; then stops accepting, answers waiting polls with
    /// 503, lets requests in flight finish (at most 5 s) and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Server {
            listener, hub, tls, ..
        } = self;
        let reaper = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(hub.shared.expire_interval());
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    hub.store.expire().await;
                    let shared = &hub.shared;
                    let now = std::time::Instant::now();
                    shared.limits.forget_full_buckets(&shared.config, now);
                }
            })
        };
        let connections = Arc::new(Connections::default());
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
            let open = connections.open.fetch_add(1, Ordering::SeqCst);
            let guard = ConnGuard(connections.clone());
            let hub = hub.clone();
            let _ = stream.set_nodelay(true);
            let client = stream.peer_addr().ok().map(|a| a.ip());
            if open >= hub.shared.config.max_connections {
                if tls.is_none() {
                    tokio::spawn(async move {
                        let _guard = guard;
                        let full = ApiError::ServerFull {
                            what: "connections",
                            retry_after_secs: 1,
                        };
                        Conn::new(stream, client).refuse(&Reply::error(&full)).await;
                    });
                }
                // Over TLS an answer would cost a handshake: the connection is just closed.
                continue;
            }
            let tls = tls.clone();
            tokio::spawn(async move {
                let _guard = guard;
                match tls {
                    None => serve(stream, client, hub).await,
                    Some(tls) => {
                        let handshake = tls.acceptor.accept(stream);
                        if let Ok(Ok(stream)) =
                            tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await
                        {
                            serve(stream, client, hub).await;
                        }
                    }
                }
            });
        }
        drop(listener);
        hub.shared.begin_shutdown();
        reaper.abort();
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, connections.all_closed()).await;
        Ok(())
    }
}

/// A server on its own thread and tokio runtime, for tests and demos in non-async code.
/// Dropping it shuts the server down gracefully and joins the thread.
pub struct BackgroundServer {
    addr: SocketAddr,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl BackgroundServer {
    /// `http://127.0.0.1:PORT` (`https://` with TLS), the base URL of the protocol.
    pub fn url(&self) -> String {
        self.url.clone()
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
    spawn_background_with(addr, config, None)
}

/// [`spawn_background`], serving HTTPS when `tls` is given.
pub fn spawn_background_with(
    addr: SocketAddr,
    config: Config,
    tls: Option<Tls>,
) -> std::io::Result<BackgroundServer> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("signaling")
        .enable_all()
        .build()?;
    let mut server = runtime.block_on(Server::bind(addr, config))?;
    if let Some(tls) = tls {
        server = server.with_tls(tls);
    }
    let addr = server.local_addr();
    let url = server.url();
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
        url,
        stop: Some(stop),
        thread: Some(thread),
    })
}
