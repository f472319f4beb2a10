//! `mobilertc-signaling --listen 127.0.0.1:8080`: the signaling server (docs/signaling.md).

use anyhow::Context;
use clap::Parser;
use mobilertc_signaling::{Config, IceConfig, Server, Tls, TlsSource};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// The signaling server of mobilertc: rooms, HTTP long-polling, protocol v1.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0: any free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Longest a poll waits, and the default `timeout_ms`.
    #[arg(long, default_value_t = 25_000)]
    poll_timeout_ms: u64,
    /// A peer that has not polled for this long (and has no poll waiting) is removed.
    #[arg(long, default_value_t = 60_000)]
    expire_after_ms: u64,
    /// Largest request body.
    #[arg(long, default_value_t = 65_536)]
    max_body_bytes: usize,
    /// Peers per room.
    #[arg(long, default_value_t = 16)]
    max_room_peers: usize,
    /// Unacknowledged messages per peer.
    #[arg(long, default_value_t = 256)]
    max_queue: usize,
    /// Sends per second and peer (0: unlimited).
    #[arg(long, default_value_t = 50)]
    rate_per_sec: u32,
    /// Sends a peer may make in a burst.
    #[arg(long, default_value_t = 200)]
    rate_burst: u32,
    /// Peers on the whole server.
    #[arg(long, default_value_t = 10_000)]
    max_peers: usize,
    /// Rooms on the whole server.
    #[arg(long, default_value_t = 5_000)]
    max_rooms: usize,
    /// Bytes of unacknowledged messages in all queues together.
    #[arg(long, default_value_t = 64 << 20)]
    max_queued_bytes: usize,
    /// Joins per second from one client address (0: unlimited).
    #[arg(long, default_value_t = 5)]
    join_rate_per_sec: u32,
    /// Joins one client address may make in a burst.
    #[arg(long, default_value_t = 30)]
    join_burst: u32,
    /// Open connections (more are answered 503 and closed).
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Serve HTTPS with a certificate made now for these names (comma-separated DNS names
    /// and IP addresses, e.g. `localhost,192.168.1.20`); its fingerprints are printed.
    #[arg(long, value_delimiter = ',', num_args = 1.., value_name = "NAMES")]
    tls_self_signed: Option<Vec<String>>,
    /// With --tls-self-signed: also write the certificate (PEM) here, for clients to trust.
    #[arg(long, requires = "tls_self_signed")]
    tls_cert_out: Option<std::path::PathBuf>,
    /// A STUN URL for clients, in the join answer (repeat for several).
    #[arg(long = "stun", value_name = "URL")]
    stun: Vec<String>,
    /// A TURN URL for clients (repeat for several, e.g. `turn:HOST:3478?transport=udp`);
    /// each join gets a short-lived credential for them (needs --turn-secret).
    #[arg(long = "turn", value_name = "URL")]
    turn: Vec<String>,
    /// The secret shared with the TURN server (coturn's static-auth-secret). Prefer the
    /// environment variable or --turn-secret-file: a command line is visible to other users.
    #[arg(long, env = "MOBILERTC_TURN_SECRET", hide_env_values = true)]
    turn_secret: Option<String>,
    /// A file whose first line is the TURN secret.
    #[arg(long, conflicts_with = "turn_secret")]
    turn_secret_file: Option<std::path::PathBuf>,
    /// Seconds a TURN credential stays valid after the join.
    #[arg(long, default_value_t = 86_400)]
    turn_ttl_secs: u64,
    /// No join/leave/expiry lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// Keep rooms, peers and queues in this Redis (redis://HOST:PORT[/DB]), shared by every
    /// instance given the same one; without it they live in this process.
    #[arg(long, env = "MOBILERTC_REDIS", value_name = "URL")]
    redis: Option<String>,
    /// Runtime worker threads (default: one per CPU).
    #[arg(long)]
    threads: Option<usize>,
}

fn raise_nofile_limit() {
    // Every long-poll holds a socket: lift the soft limit to the hard one (often 1024 → 1M).
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn main() {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let result = runtime
        .enable_all()
        .build()
        .context("starting the tokio runtime")
        .and_then(|rt| rt.block_on(run(args)));
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    raise_nofile_limit();
    let turn_secret = match &args.turn_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the TURN secret from {}", path.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
        ),
        None => args.turn_secret.clone(),
    };
    let config = Config {
        poll_timeout: Duration::from_millis(args.poll_timeout_ms),
        expire_after: Duration::from_millis(args.expire_after_ms),
        max_body_bytes: args.max_body_bytes,
        max_room_peers: args.max_room_peers,
        max_queue: args.max_queue,
        rate_per_sec: args.rate_per_sec,
        rate_burst: args.rate_burst,
        max_peers: args.max_peers,
        max_rooms: args.max_rooms,
        max_queued_bytes: args.max_queued_bytes,
        join_rate_per_sec: args.join_rate_per_sec,
        join_burst: args.join_burst,
        max_connections: args.max_connections,
        ice: IceConfig {
            stun_urls: args.stun.clone(),
            turn_urls: args.turn.clone(),
            turn_secret,
            turn_ttl: Duration::from_secs(args.turn_ttl_secs),
        },
        log: !args.quiet,
        redis: args.redis.clone(),
    };
    let source = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (_, _, Some(names)) => Some(TlsSource::SelfSigned {
            names: names.clone(),
        }),
        _ => None,
    };
    let tls = match &source {
        Some(source) => Some(Tls::load(source).context("setting up TLS")?),
        None => None,
    };
    if let (Some(path), Some(tls)) = (&args.tls_cert_out, &tls) {
        std::fs::write(path, &tls.cert_pem)
            .with_context(|| format!("writing the certificate to {}", path.display()))?;
    }
    let mut server = Server::bind(args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let Some(tls) = tls.clone() {
        server = server.with_tls(tls);
    }
    let mut out = std::io::stdout().lock();
    // The first line is what tools parse; the certificate's fingerprints follow.
    writeln!(out, "listening on {}", server.url())?;
    if let Some(tls) = &tls {
        writeln!(out, "certificate sha256 {}", tls.fingerprint())?;
        writeln!(out, "certificate spki-sha256 {}", tls.spki_pin())?;
    }
    out.flush()?;
    drop(out);
    server.run_until(stop_signal()).await?;
    eprintln!("stopped");
    Ok(())
}
