//! Test support for the Redis mode, shared by this crate's tests and the calling app's: a
//! private `redis-server` (Debian's package) and server instances as real processes.
//! Everything started here is killed (SIGKILL) and reaped on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set by `cargo xtask test --ci`: a missing redis-server fails the Redis tests instead of
/// skipping them.
pub const REQUIRE_REDIS_ENV: &str = "MOBILERTC_REQUIRE_REDIS";

/// `redis-server` on PATH or in /usr/bin.
pub fn find_redis_server() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/bin/redis-server")).filter(|p| p.is_file()))
}

/// The redis-server to use, or `None` after printing why the test is skipped; panics instead
/// when [`REQUIRE_REDIS_ENV`] is set.
pub fn redis_or_skip(test: &str) -> Option<PathBuf> {
    let found = find_redis_server();
    if found.is_none() {
        let why = "redis-server is not installed (Debian: apt-get install redis-server; \
                   `cargo xtask test` installs it)";
        if std::env::var_os(REQUIRE_REDIS_ENV).is_some() {
            panic!("{test}: {REQUIRE_REDIS_ENV} is set but {why}");
        }
        eprintln!("SKIPPED {test}: {why} (set {REQUIRE_REDIS_ENV}=1 to make this a failure)");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A redis-server on a private loopback port with its own config and directory (no
/// persistence, nothing shared with a system Redis); killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `bin` with a config in `dir` and waits until it answers PING.
    pub fn start(bin: &Path, dir: &Path) -> RedisServer {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join("redis.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\n\
                 dir {dir}\nlogfile {dir}/redis.log\nsave \"\"\nappendonly no\n\
                 databases 1\n",
                dir = dir.display()
            );
            std::fs::write(&conf, text).expect("writing redis.conf");
            let child = Command::new(bin)
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let mut server = RedisServer {
                child: Some(child),
                port,
                dir: dir.to_path_buf(),
            };
            if server.wait_ready(Duration::from_secs(10)) {
                return server;
            }
            last = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            server.kill();
        }
        panic!("redis-server did not start; its log:\n{last}");
    }

    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false; // exited (port taken?)
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its directory (config, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `mobilertc-signaling` process; `kill` is SIGKILL (no shutdown, no leave), as is drop.
pub struct ServerProcess {
    child: Option<Child>,
    /// The base URL it printed (`http://127.0.0.1:PORT`).
    pub url: String,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `bin --listen 127.0.0.1:0 ARGS…` and reads the URL from its first line.
    pub fn start(bin: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let Some(url) = line
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_string)
        else {
            let _ = child.kill();
            let status = child.wait();
            panic!("{} did not start ({status:?}): {line:?}", bin.display());
        };
        // Keep draining stdout so the process never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("listening on http://ADDR");
        ServerProcess {
            child: Some(child),
            url,
            addr,
        }
    }

    /// SIGKILL, and reaped.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
