//! Load benchmark of the signaling server (docs/benchmarks.md, "Signaling server").
//!
//! Spawns `mobilertc-signaling` as a separate process (so its RSS and CPU time are its own),
//! then either
//! * `relay`: R rooms × 2 peers, every peer long-polling on its own connection (2R polls),
//!   senders posting chat messages to their room-mate; reports relayed messages/s and the
//!   send→delivered latency (p50/p99/max), closed-loop (as fast as it goes) or paced; or
//! * `idle`: N peers each with a waiting long-poll; reports the server's VmRSS; or
//! * `flood`: as many joins as fast as they go, then full queues, against the server's
//!   default limits; reports the answers and the server's peak RSS.
//!
//! Load generator and server share the machine: the report says how many cores each had.

mod client;
mod flood;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use client::{join_all, Conn, Peer, ServerProcess};
use hyper::Method;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Relay,
    Idle,
    Flood,
}

/// Load benchmark of mobilertc-signaling: relayed messages/s and latency, idle-poll memory.
#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "relay")]
    mode: Mode,
    /// The server binary (default: mobilertc-signaling next to this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// relay: rooms of 2 peers, each peer long-polling (2 × rooms polls).
    #[arg(long, default_value_t = 500)]
    rooms: usize,
    /// relay: sender tasks, each with its own connection and one request in flight.
    #[arg(long, default_value_t = 64)]
    senders: usize,
    /// relay: total messages per second offered (0: as fast as the senders go).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// relay: measured seconds (after a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// idle: number of idle long-polls.
    #[arg(long, default_value_t = 10_000)]
    polls: usize,
    /// Pin the server to CPU 0 and the load generator to CPU 1.
    #[arg(long)]
    pin: bool,
    /// Worker threads of the server (0: the server's default, one per CPU). One server
    /// thread and one load thread give each a core of a 2-core machine.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// flood: join attempts, each in a room of two.
    #[arg(long, default_value_t = 200_000)]
    joins: usize,
    /// flood: joined pairs whose first peer then fills the second's queue with 60 KB offers.
    #[arg(long, default_value_t = 200)]
    fill_pairs: usize,
    /// An extra flag for the server (repeat for several), e.g. `--server-arg=--max-peers=500`.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// relay: server instances on one private redis-server (started for the run); peers
    /// poll on instance i mod N and send through another, so messages cross instances.
    /// 1 without --redis: the in-memory server.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Use Redis even with one instance (a private redis-server, started for the run).
    #[arg(long)]
    redis: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    raise_nofile_limit()?;
    let server_bin = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("mobilertc-signaling"),
    };
    if args.instances == 0 || (args.instances > 1 && args.mode != Mode::Relay) {
        bail!("--instances N (N > 1) is for --mode relay");
    }
    let redis = match args.redis || args.instances > 1 {
        false => None,
        true => {
            let bin = mobilertc_signaling::testing::find_redis_server()
                .context("redis-server not found (Debian: apt-get install redis-server)")?;
            let dir = std::env::temp_dir().join(format!("signaling-load-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            Some(mobilertc_signaling::testing::RedisServer::start(&bin, &dir))
        }
    };
    let redis_url = redis.as_ref().map(|r| r.url());
    let mut servers = (0..args.instances)
        .map(|_| ServerProcess::spawn(&server_bin, &args, redis_url.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    let server = &mut servers[0];
    if args.pin {
        pin(0, 1)?; // ourselves (and the threads created from now on) on CPU 1
        pin(server.pid(), 0)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        match args.mode {
            Mode::Relay => relay(&args, &mut servers, redis.as_ref()).await,
            Mode::Idle => idle(&args, &mut servers[0]).await,
            Mode::Flood => flood::run(&args, &mut servers[0]).await,
        }
    });
    for s in &mut servers {
        s.stop()?;
    }
    if let Some(r) = redis {
        let dir = r.dir().to_path_buf();
        drop(r);
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// The 1-minute load average.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn raise_nofile_limit() -> Result<()> {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            bail!("setrlimit: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Pins the whole thread group `pid` (0: this process) to `cpu`.
fn pin(pid: u32, cpu: usize) -> Result<()> {
    let tasks: Vec<u32> = if pid == 0 {
        vec![0]
    } else {
        std::fs::read_dir(format!("/proc/{pid}/task"))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    };
    for tid in tasks {
        // SAFETY: a zeroed cpu_set_t with one bit set, passed by pointer with its size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(tid as i32, std::mem::size_of_val(&set), &set) != 0 {
                bail!(
                    "sched_setaffinity({tid}, cpu {cpu}): {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}

/// Finds every `"t":<digits>` in a poll answer: the send times (ns since the start).
fn send_times(body: &[u8], out: &mut Vec<u64>) {
    const KEY: &[u8] = b"\"t\":";
    let mut i = 0;
    while let Some(pos) = body[i..].windows(KEY.len()).position(|w| w == KEY) {
        let mut j = i + pos + KEY.len();
        let mut n = 0u64;
        while j < body.len() && body[j].is_ascii_digit() {
            n = n * 10 + (body[j] - b'0') as u64;
            j += 1;
        }
        out.push(n);
        i = j;
    }
}

/// The highest `"seq":N` of a poll answer (0 if none).
fn last_seq(body: &[u8]) -> u64 {
    const KEY: &[u8] = b"{\"seq\":";
    let Some(pos) = body.windows(KEY.len()).rposition(|w| w == KEY) else {
        return 0;
    };
    body[pos + KEY.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + (b - b'0') as u64)
}

struct Stats {
    delivered: AtomicU64,
    latencies_ns: Mutex<Vec<u64>>,
    measuring: AtomicBool,
}

async fn relay(
    args: &Args,
    servers: &mut [ServerProcess],
    redis: Option<&mobilertc_signaling::testing::RedisServer>,
) -> Result<()> {
    let addrs: Vec<_> = servers.iter().map(|s| s.addr).collect();
    let addr = addrs[0];
    let t0 = Instant::now();
    let pairs = join_all(addr, args.rooms, 16).await?;
    eprintln!(
        "joined {} peers in {:.1} s",
        pairs.len() * 2,
        t0.elapsed().as_secs_f64()
    );
    let stats = Arc::new(Stats {
        delivered: AtomicU64::new(0),
        latencies_ns: Mutex::new(Vec::with_capacity(1 << 20)),
        measuring: AtomicBool::new(false),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();

    // One long-poll per peer, each on its own connection.
    let mut pollers = Vec::new();
    for (j, peer) in pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .enumerate()
    {
        let (stats, stop) = (stats.clone(), stop.clone());
        let addr = addrs[j % addrs.len()];
        pollers.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let path = format!("/rooms/{}/peers/{}/messages", peer.room, peer.id);
            let mut times = Vec::new();
            // The first peer of a room has its mate's join queued, the second nothing.
            let (status, body) = conn
                .request(
                    Method::GET,
                    &format!("{path}?after=0&timeout_ms=0"),
                    Some(&peer.token),
                    Bytes::new(),
                )
                .await?;
            if status != 200 {
                bail!("poll: {status}");
            }
            let mut after = last_seq(&body);
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = conn
                    .request(
                        Method::GET,
                        &format!("{path}?after={after}&timeout_ms=1000"),
                        Some(&peer.token),
                        Bytes::new(),
                    )
                    .await?;
                let now = epoch.elapsed().as_nanos() as u64;
                if status != 200 {
                    bail!("poll: {status} {}", String::from_utf8_lossy(&body));
                }
                times.clear();
                send_times(&body, &mut times);
                after = after.max(last_seq(&body));
                if stats.measuring.load(Ordering::Relaxed) && !times.is_empty() {
                    stats
                        .delivered
                        .fetch_add(times.len() as u64, Ordering::Relaxed);
                    let mut l = stats.latencies_ns.lock().unwrap();
                    l.extend(times.iter().map(|t| now.saturating_sub(*t)));
                }
            }
            anyhow::Ok(())
        }));
    }
    // Let every poll reach the server before sending.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let senders = args.senders.min(pairs.len() * 2).max(1);
    let per_sender_interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(senders as f64 / args.rate as f64));
    let pairs = Arc::new(pairs);
    let sent = Arc::new(AtomicU64::new(0));
    let mut sender_tasks = Vec::new();
    for k in 0..senders {
        let (pairs, stop, sent) = (pairs.clone(), stop.clone(), sent.clone());
        let addr = addrs[(k + 1) % addrs.len()];
        sender_tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            // This sender's peers: every `senders`-th one, alternating a→b and b→a.
            let mine: Vec<(Peer, String)> = pairs
                .iter()
                .flat_map(|(a, b)| [(a.clone(), b.id.clone()), (b.clone(), a.id.clone())])
                .skip(k)
                .step_by(senders)
                .collect();
            let paths: Vec<String> = mine
                .iter()
                .map(|(p, _)| format!("/rooms/{}/peers/{}/messages", p.room, p.id))
                .collect();
            let mut tick = per_sender_interval.map(|i| {
                let mut t = tokio::time::interval(i);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if let Some(t) = &mut tick {
                    t.tick().await;
                }
                let i = n % mine.len();
                n += 1;
                let (from, to) = &mine[i];
                let t = epoch.elapsed().as_nanos() as u64;
                let body =
                    format!(r#"{{"to":"{to}","type":"chat","data":{{"text":"load","t":{t}}}}}"#);
                let (status, resp) = conn
                    .request(
                        Method::POST,
                        &paths[i],
                        Some(&from.token),
                        Bytes::from(body),
                    )
                    .await?;
                if status != 200 {
                    bail!("send: {status} {}", String::from_utf8_lossy(&resp));
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    let cpu_all = |servers: &mut [ServerProcess]| -> Result<f64> {
        let mut sum = 0.0;
        for s in servers.iter_mut() {
            sum += s.cpu_secs()?;
        }
        Ok(sum)
    };
    let redis_pid = redis.and_then(|r| r.pid());
    let redis_cpu = || redis_pid.map(client::cpu_secs_of).transpose();
    let cpu0 = cpu_all(servers)?;
    let redis0 = redis_cpu()?;
    let load0 = loadavg();
    let t0 = Instant::now();
    stats.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stats.measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_all(servers)? - cpu0;
    let redis_used = redis_cpu()?.zip(redis0).map(|(b, a)| b - a);
    let mut rss = 0;
    for s in servers.iter_mut() {
        rss += s.status_kib("VmRSS:")?;
    }
    stop.store(true, Ordering::Relaxed);
    for t in sender_tasks {
        t.await??;
    }
    for t in pollers {
        t.await??;
    }

    let delivered = stats.delivered.load(Ordering::Relaxed);
    let mut l = std::mem::take(&mut *stats.latencies_ns.lock().unwrap());
    if l.is_empty() {
        bail!("no message was delivered while measuring");
    }
    l.sort_unstable();
    let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)] as f64 / 1e6;
    let rate = delivered as f64 / elapsed;
    println!(
        "relay: instances={} store={} rooms={} polls={} senders={} offered={} threads server={} load={} pinned={}",
        servers.len(),
        if redis.is_some() { "redis" } else { "memory" },
        args.rooms,
        args.rooms * 2,
        senders,
        if args.rate == 0 {
            "max".to_string()
        } else {
            format!("{}/s", args.rate)
        },
        args.server_threads,
        args.threads,
        args.pin
    );
    println!("  relayed      {rate:.0} msg/s ({delivered} in {elapsed:.1} s)");
    println!(
        "  latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "  server CPU   {:.2} s for {:.1} s ({:.0}% of one core), {:.1} µs per relayed message",
        cpu,
        elapsed,
        100.0 * cpu / elapsed,
        1e6 * cpu / delivered as f64
    );
    println!(
        "               = {:.0} msg/s per fully used server core (derived)",
        delivered as f64 / cpu
    );
    if let Some(r) = redis_used {
        println!(
            "  redis CPU    {:.2} s ({:.0}% of one core), {:.1} µs per relayed message",
            r,
            100.0 * r / elapsed,
            1e6 * r / delivered as f64
        );
    }
    println!(
        "  server RSS   {:.1} MiB (all instances)",
        rss as f64 / 1024.0
    );
    println!(
        "  load average {load0} before, {} after (other work on the machine shows here)",
        loadavg()
    );
    Ok(())
}

async fn idle(args: &Args, server: &mut ServerProcess) -> Result<()> {
    let addr = server.addr;
    let base = server.status_kib("VmRSS:")?;
    let rooms = args.polls.div_ceil(2);
    let t0 = Instant::now();
    let pairs = join_all(addr, rooms, 16).await?;
    let joined = server.status_kib("VmRSS:")?;
    eprintln!(
        "joined {} peers in {:.1} s",
        rooms * 2,
        t0.elapsed().as_secs_f64()
    );
    let peers: Vec<Peer> = pairs
        .into_iter()
        .flat_map(|(a, b)| [a, b])
        .take(args.polls)
        .collect();
    // Each peer acknowledges what it has, then waits; connect in waves to spare the backlog.
    let waiting = Arc::new(AtomicU64::new(0));
    let mut polls = Vec::new();
    for chunk in peers.chunks(250) {
        let mut opened = Vec::new();
        for peer in chunk.iter().cloned() {
            opened.push(tokio::spawn(async move {
                let mut conn = Conn::open(addr).await?;
                let path = format!("/rooms/{}/peers/{}/messages", peer.room, peer.id);
                let (_, body) = conn
                    .request(
                        Method::GET,
                        &format!("{path}?timeout_ms=0"),
                        Some(&peer.token),
                        Bytes::new(),
                    )
                    .await?;
                anyhow::Ok((conn, path, peer, last_seq(&body)))
            }));
        }
        for o in opened {
            let (mut conn, path, peer, after) = o.await??;
            let waiting = waiting.clone();
            polls.push(tokio::spawn(async move {
                waiting.fetch_add(1, Ordering::Relaxed);
                conn.request(
                    Method::GET,
                    &format!("{path}?after={after}"),
                    Some(&peer.token),
                    Bytes::new(),
                )
                .await
            }));
        }
    }
    // Give the last requests time to reach the server and settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = polls.iter().filter(|p| !p.is_finished()).count();
    if still != args.polls {
        bail!("only {still} of {} polls are waiting", args.polls);
    }
    let rss = server.status_kib("VmRSS:")?;
    let hwm = server.status_kib("VmHWM:")?;
    println!(
        "idle: {} waiting long-polls ({} peers in {} rooms), pinned={}",
        still,
        rooms * 2,
        rooms,
        args.pin
    );
    println!("  server RSS   started {:.1} MiB, after joins {:.1} MiB, with the polls {:.1} MiB (peak {:.1} MiB)",
        base as f64 / 1024.0, joined as f64 / 1024.0, rss as f64 / 1024.0, hwm as f64 / 1024.0);
    println!(
        "  per peer     {:.2} KiB (join), per waiting poll {:.2} KiB (connection + request)",
        (joined - base) as f64 / (rooms * 2) as f64,
        rss.saturating_sub(joined) as f64 / still as f64
    );
    // Stopping the server answers them all 503.
    Ok(())
}
