//! The server-wide bounds on memory (docs/signaling.md, *Limits*): how many peers and rooms
//! exist, how many bytes wait in queues, how fast one client address may join. Everything
//! here is counted, so the heap has a ceiling whatever clients do.

use crate::config::Config;
use crate::error::ApiError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bytes a queued message is counted for besides its own: the queue slot (seq + `Bytes`)
/// and the shared buffer's header, rounded up.
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// Most client addresses whose join bucket is remembered at once. A bucket that has refilled
/// is forgotten by the reaper, so only addresses that joined in the last `burst / rate`
/// seconds count; beyond this many, joins answer 503 until some are forgotten.
pub(crate) const MAX_JOIN_CLIENTS: usize = 65_536;

/// What a join-rate bucket is keyed on: an IPv4 address, or the /64 prefix of an IPv6 one
/// (one host commonly holds a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    V4(u32),
    V6Prefix(u64),
}

impl ClientKey {
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// A token bucket refilled continuously.
pub(crate) struct Bucket {
    pub tokens: f64,
    pub at: Instant,
}

impl Bucket {
    pub fn full(burst: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: burst as f64,
            at: now,
        }
    }

    /// Refills up to `burst`; returns the seconds until one token is there (0 when one is).
    pub fn refill(&mut self, rate: u32, burst: u32, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate as f64).min(burst as f64);
        self.at = now;
        if self.tokens >= 1.0 {
            0
        } else {
            (((1.0 - self.tokens) / rate as f64).ceil() as u64).max(1)
        }
    }
}

/// Server-wide counters and the join buckets.
pub(crate) struct Limits {
    pub peers: AtomicUsize,
    pub queued_bytes: AtomicUsize,
    joins: Mutex<HashMap<ClientKey, Bucket>>,
}

impl Limits {
    pub fn new() -> Limits {
        Limits {
            peers: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            joins: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one join token of `client`, or says when to retry.
    pub fn take_join(&self, config: &Config, client: IpAddr, now: Instant) -> Result<(), ApiError> {
        let (rate, burst) = (config.join_rate_per_sec, config.join_burst);
        if rate == 0 {
            return Ok(());
        }
        let mut joins = self.joins.lock().unwrap_or_else(|e| e.into_inner());
        let key = ClientKey::of(client);
        if !joins.contains_key(&key) && joins.len() >= MAX_JOIN_CLIENTS {
            return Err(ApiError::ServerFull {
                what: "join-rate table (too many client addresses joining at once)",
                retry_after_secs: (burst as u64).div_ceil(rate as u64).max(1),
            });
        }
        let bucket = joins.entry(key).or_insert_with(|| Bucket::full(burst, now));
        let wait = bucket.refill(rate, burst, now);
        if wait > 0 {
            return Err(ApiError::JoinRateLimited {
                rate,
                burst,
                retry_after_secs: wait,
            });
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// Forgets the buckets that have refilled (they behave as new ones would).
    pub fn forget_full_buckets(&self, config: &Config, now: Instant) {
        let (rate, burst) = (config.join_rate_per_sec, config.join_burst);
        let mut joins = self.joins.lock().unwrap_or_else(|e| e.into_inner());
        joins.retain(|_, b| {
            b.refill(rate, burst, now);
            b.tokens < burst as f64
        });
        if joins.capacity() > 4 * joins.len().max(64) {
            joins.shrink_to_fit();
        }
    }

    /// Reserves a place for one more peer.
    pub fn add_peer(&self, config: &Config) -> Result<(), ApiError> {
        let max = config.max_peers;
        let reserved = self
            .peers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            });
        reserved.map(|_| ()).map_err(|_| ApiError::ServerFull {
            what: "peers",
            retry_after_secs: full_retry(config),
        })
    }

    pub fn remove_peer(&self) {
        self.peers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether `bytes` more may be queued; server notifications skip this check.
    pub fn check_queue_room(&self, config: &Config, bytes: usize) -> Result<(), ApiError> {
        let now = self.queued_bytes.load(Ordering::Relaxed);
        if now.saturating_add(bytes) > config.max_queued_bytes {
            return Err(ApiError::ServerFull {
                what: "queued bytes (recipients have not acknowledged their messages)",
                retry_after_secs: 1,
            });
        }
        Ok(())
    }

    pub fn queued(&self, bytes: usize) {
        self.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn dequeued(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Retry-After of a full peer or room table: peers go when they leave or expire, so a
/// quarter of `expire_after`, between 1 and 60 s.
pub(crate) fn full_retry(config: &Config) -> u64 {
    (config.expire_after / 4)
        .clamp(Duration::from_secs(1), Duration::from_secs(60))
        .as_secs()
}

/// What a queued message is counted for.
pub(crate) fn cost(tail_len: usize) -> usize {
    tail_len + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_share_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            ClientKey::of(mapped),
            ClientKey::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn join_bucket_refills_and_is_forgotten_when_full() {
        let config = Config {
            join_rate_per_sec: 2,
            join_burst: 3,
            ..Config::default()
        };
        let l = Limits::new();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.take_join(&config, ip, t0).unwrap();
        }
        let e = l.take_join(&config, ip, t0).unwrap_err();
        assert_eq!((e.status(), e.code()), (429, "join_rate_limited"));
        // Another address has its own bucket.
        l.take_join(&config, "10.0.0.2".parse().unwrap(), t0)
            .unwrap();
        // Half a second later one token is back.
        l.take_join(&config, ip, t0 + Duration::from_millis(500))
            .unwrap();
        // 10.0.0.2's bucket has refilled by then and is forgotten; 10.0.0.1's has not.
        l.forget_full_buckets(&config, t0 + Duration::from_millis(600));
        assert_eq!(l.joins.lock().unwrap().len(), 1);
        l.forget_full_buckets(&config, t0 + Duration::from_secs(3));
        assert_eq!(l.joins.lock().unwrap().len(), 0);
    }
}
