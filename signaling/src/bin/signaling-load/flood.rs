//! `--mode flood`: what a hostile or broken client can make the server hold. Joins as fast
//! as 64 connections go (each join a room of two), then has the first peer of some pairs
//! send 60 KB offers to the second, who never polls, until refused. The server keeps its
//! default limits (plus any `--server-arg`); the report is the answers by status and the
//! server's RSS and peak RSS.

use crate::client::{Conn, Peer, ServerProcess};
use crate::Args;
use anyhow::{Context, Result};
use bytes::Bytes;
use hyper::Method;
use std::collections::BTreeMap;
use std::time::Instant;

const CONNECTIONS: usize = 64;

type Counts = BTreeMap<u16, u64>;

fn show(counts: &Counts) -> String {
    counts
        .iter()
        .map(|(status, n)| format!("{n} × {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn run(args: &Args, server: &mut ServerProcess) -> Result<()> {
    let addr = server.addr;
    let base = server.status_kib("VmRSS:")?;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..CONNECTIONS {
        let joins = args.joins;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut counts = Counts::new();
            let mut joined = Vec::new();
            for i in (k..joins).step_by(CONNECTIONS) {
                let room = format!("flood{}", i / 2);
                let (status, body) = conn
                    .request(
                        Method::POST,
                        &format!("/rooms/{room}/join"),
                        None,
                        Bytes::new(),
                    )
                    .await?;
                *counts.entry(status).or_default() += 1;
                if status == 200 {
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    joined.push((
                        i,
                        Peer {
                            room,
                            id: v["peer_id"].as_str().context("peer_id")?.into(),
                            token: v["token"].as_str().context("token")?.into(),
                        },
                    ));
                }
            }
            anyhow::Ok((counts, joined))
        }));
    }
    let mut counts = Counts::new();
    let mut joined = Vec::new();
    for t in tasks {
        let (c, j) = t.await??;
        for (status, n) in c {
            *counts.entry(status).or_default() += n;
        }
        joined.extend(j);
    }
    let join_secs = t0.elapsed().as_secs_f64();
    let after_joins = server.status_kib("VmRSS:")?;
    joined.sort_by_key(|(i, _)| *i);
    // Pairs where both joined: (2k, 2k+1).
    let mut pairs = Vec::new();
    for w in joined.windows(2) {
        if w[0].0 % 2 == 0 && w[1].0 == w[0].0 + 1 {
            pairs.push((w[0].1.clone(), w[1].1.clone()));
        }
    }
    println!(
        "flood: {} join attempts in {join_secs:.1} s over {CONNECTIONS} connections from one address: {}",
        args.joins,
        show(&counts)
    );
    println!(
        "  server RSS   started {:.1} MiB, after the joins {:.1} MiB",
        base as f64 / 1024.0,
        after_joins as f64 / 1024.0
    );

    // Fill: 60 KB offers from a to b until the server refuses; b never polls.
    let sdp = format!("v=0{}", "a".repeat(60_000));
    let body = Bytes::from(serde_json::json!({"type": "offer", "data": {"sdp": sdp}}).to_string());
    let fill: Vec<_> = pairs.into_iter().take(args.fill_pairs).collect();
    let n_fill = fill.len();
    let t1 = Instant::now();
    let mut tasks = Vec::new();
    for chunk in fill.chunks(n_fill.div_ceil(CONNECTIONS).max(1)) {
        let chunk = chunk.to_vec();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut counts = Counts::new();
            let mut queued = 0u64;
            for (a, _b) in chunk {
                let path = format!("/rooms/{}/peers/{}/messages", a.room, a.id);
                loop {
                    let (status, _) = conn
                        .request(Method::POST, &path, Some(&a.token), body.clone())
                        .await?;
                    *counts.entry(status).or_default() += 1;
                    if status != 200 {
                        break;
                    }
                    queued += 1;
                }
            }
            anyhow::Ok((counts, queued))
        }));
    }
    let mut counts = Counts::new();
    let mut queued = 0;
    for t in tasks {
        let (c, q) = t.await??;
        for (status, n) in c {
            *counts.entry(status).or_default() += n;
        }
        queued += q;
    }
    let rss = server.status_kib("VmRSS:")?;
    let hwm = server.status_kib("VmHWM:")?;
    println!(
        "  fill: {n_fill} senders, 60 KB offers to room-mates that never poll, in {:.1} s: {} ({queued} queued, {:.1} MB)",
        t1.elapsed().as_secs_f64(),
        show(&counts),
        queued as f64 * 60_050.0 / 1e6
    );
    println!(
        "  server RSS   with full queues {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    Ok(())
}
