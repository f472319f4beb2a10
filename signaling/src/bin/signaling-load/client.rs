//! The load generator's side of the wire: the server process it starts and measures, and
//! an HTTP/1.1 client connection (hyper's, independent of the server's own HTTP layer).

use crate::{Args, Mode};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::io::BufRead;

pub(crate) struct ServerProcess {
    child: std::process::Child,
    pub(crate) addr: std::net::SocketAddr,
}

impl ServerProcess {
    /// Starts the server; with `redis`, as an instance on that Redis.
    pub(crate) fn spawn(
        bin: &std::path::Path,
        args: &Args,
        redis: Option<&str>,
    ) -> Result<ServerProcess> {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["--listen", "127.0.0.1:0", "--quiet"]);
        if let Some(url) = redis {
            cmd.args(["--redis", url]);
        }
        if args.mode != Mode::Flood {
            // The harness is the only client: no per-peer or per-address limits, room for
            // every peer (the flood keeps the server's defaults: measuring them is its point).
            cmd.args(["--rate-per-sec", "0", "--join-rate-per-sec", "0"]);
            cmd.args(["--max-room-peers", "2", "--max-queue", "100000"]);
            cmd.args(["--max-peers", "1000000", "--max-rooms", "1000000"]);
            cmd.args(["--max-connections", "1000000"]);
        }
        cmd.args(&args.server_arg);
        if args.server_threads > 0 {
            cmd.args(["--threads", &args.server_threads.to_string()]);
        }
        if args.mode == Mode::Idle {
            // The polls must outlast the setup of all of them.
            cmd.args(["--poll-timeout-ms", "600000", "--expire-after-ms", "600000"]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it: cargo build --release -p mobilertc-signaling)",
                    bin.display()
                )
            })?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .context("reading the server's first line")?;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line from the server: {line:?}"))?
            .parse()?;
        Ok(ServerProcess { child, addr })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn status_kib(&mut self, field: &str) -> Result<u64> {
        self.check_alive()?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .with_context(|| format!("no {field} in /proc/{}/status", self.pid()))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmRSS value")?
            .parse()?)
    }

    pub(crate) fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited during the run ({status}): killed from outside?");
        }
        Ok(())
    }

    /// User + system CPU seconds of the server so far.
    pub(crate) fn cpu_secs(&mut self) -> Result<f64> {
        self.check_alive()?;
        cpu_secs_of(self.pid())
    }

    pub(crate) fn stop(&mut self) -> Result<()> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the server exited with {status}");
        }
        Ok(())
    }
}

/// User + system CPU seconds of process `pid` so far.
pub(crate) fn cpu_secs_of(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_comm = &stat[stat.rfind(')').context("stat")? + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted after the command name (field 3 is index 0).
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks as f64 / hz)
}

/// One HTTP/1.1 connection to the server.
pub(crate) struct Conn {
    tx: SendRequest<Full<Bytes>>,
    addr: std::net::SocketAddr,
}

impl Conn {
    pub(crate) async fn open(addr: std::net::SocketAddr) -> Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .context("connect")?;
        tcp.set_nodelay(true)?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { tx, addr })
    }

    pub(crate) async fn request(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        self.tx.ready().await?;
        let resp = self.tx.send_request(req.body(Full::new(body))?).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

#[derive(Clone)]
pub(crate) struct Peer {
    pub(crate) room: String,
    pub(crate) id: String,
    pub(crate) token: String,
}

pub(crate) async fn join(conn: &mut Conn, room: &str) -> Result<Peer> {
    let (status, body) = conn
        .request(
            Method::POST,
            &format!("/rooms/{room}/join"),
            None,
            Bytes::new(),
        )
        .await?;
    if status != 200 {
        bail!("join {room}: {status} {}", String::from_utf8_lossy(&body));
    }
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(Peer {
        room: room.into(),
        id: v["peer_id"].as_str().context("peer_id")?.into(),
        token: v["token"].as_str().context("token")?.into(),
    })
}

/// Joins `rooms` rooms with two peers each, over `parallel` connections.
pub(crate) async fn join_all(
    addr: std::net::SocketAddr,
    rooms: usize,
    parallel: usize,
) -> Result<Vec<(Peer, Peer)>> {
    let mut tasks = Vec::new();
    for k in 0..parallel {
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut out = Vec::new();
            for r in (k..rooms).step_by(parallel) {
                let room = format!("room{r}");
                let a = join(&mut conn, &room).await?;
                let b = join(&mut conn, &room).await?;
                out.push((r, a, b));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(r, _, _)| *r);
    Ok(all.into_iter().map(|(_, a, b)| (a, b)).collect())
}
