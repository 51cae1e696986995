//! `maxmemory` enforcement: before a write that may grow memory (`DENYOOM`), and periodically, the shard's
//! leader picks victims under `maxmemory-policy` and proposes their deletion as an ordinary log entry
//! ([`Op::Evict`]), so every replica deletes the same keys; a write that cannot get room is refused with
//! Redis' `-OOM`.
//!
//! In cluster mode memory is the node's, counted over every hosted shard (replicas take memory as leaders do),
//! and each shard's leader evicts from it: a node evicts from the shards it leads, the largest first, and a node
//! over `maxmemory` because of shards it only follows relies on their leaders (which hold the same data and so
//! are over too) to delete through the log.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use resp::Frame;
use store::evict::Policy;
use store::exec::{Op, Rng};

use crate::node::{unix_ms, Node};

/// Redis' reply to a `DENYOOM` command that cannot get room.
pub const OOM: Frame = Frame::error("OOM command not allowed when used memory > 'maxmemory'.");

/// Most bytes freed beyond the excess by one eviction entry (0.5% of `maxmemory` up to this).
const EVICTION_HEADROOM_MAX: u64 = 256 * 1024;
/// Most keys deleted by one eviction entry.
const MAX_VICTIMS_PER_ENTRY: usize = 64;

const POLICIES: [Policy; 8] = [
    Policy::NoEviction,
    Policy::AllkeysLru,
    Policy::AllkeysLfu,
    Policy::AllkeysRandom,
    Policy::VolatileLru,
    Policy::VolatileLfu,
    Policy::VolatileRandom,
    Policy::VolatileTtl,
];

/// The node's eviction settings and the lock that lets one eviction run at a time.
pub struct Evictor {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU64,
    tenacity: AtomicU64,
    running: tokio::sync::Mutex<Rng>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(0),
            samples: AtomicU64::new(5),
            tenacity: AtomicU64::new(10),
            running: tokio::sync::Mutex::new(Rng::new(unix_ms() as u64 ^ 0xe71c7)),
        }
    }
}

/// Memory counted against `maxmemory`: what the process allocated (Redis' `used_memory`) less what the log
/// keeps in memory, which evicting keys cannot free (Redis leaves its AOF buffer out the same way).
pub fn used_memory(node: &Node) -> u64 {
    (crate::alloc::allocated() as u64).saturating_sub(log_memory(node))
}

/// What the logs of every hosted shard keep in memory (`mem_not_counted_for_evict`).
pub fn log_memory(node: &Node) -> u64 {
    match node.cluster() {
        None => node.shard.replication().map_or(0, |r| r.log_memory()),
        Some(c) => c
            .shards()
            .iter()
            .filter_map(|(_, s)| s.replication().map(|r| r.log_memory()))
            .sum(),
    }
}

/// The shards this node may evict from (those it leads), largest first, with their groups.
fn led_shards(
    node: &Node,
) -> Vec<(
    Arc<crate::shard::Shard>,
    Arc<crate::replication::Replication>,
)> {
    let mut led: Vec<(
        usize,
        Arc<crate::shard::Shard>,
        Arc<crate::replication::Replication>,
    )> = node
        .all_shards()
        .into_iter()
        .filter_map(|s| {
            let r = s.replication()?.clone();
            if !r.group.is_leader() {
                return None;
            }
            let len = s.lock().keyspace().len();
            Some((len, s, r))
        })
        .collect();
    led.sort_by_key(|(len, _, _)| std::cmp::Reverse(*len));
    led.into_iter().map(|(_, s, r)| (s, r)).collect()
}

impl Evictor {
    /// Applies `maxmemory`, `maxmemory-policy`, `maxmemory-samples` and `maxmemory-eviction-tenacity`.
    pub fn configure(&self, maxmemory: u64, policy: Policy, samples: usize, tenacity: u64) {
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
        let i = POLICIES.iter().position(|p| *p == policy).unwrap_or(0);
        self.policy.store(i as u8, Ordering::Relaxed);
        self.samples.store(samples as u64, Ordering::Relaxed);
        self.tenacity.store(tenacity, Ordering::Relaxed);
    }

    fn policy(&self) -> Policy {
        POLICIES[self.policy.load(Ordering::Relaxed) as usize % POLICIES.len()]
    }

    /// Bytes above `maxmemory` (0 when under it or without a limit).
    pub fn excess(&self, node: &Node) -> u64 {
        let max = self.maxmemory.load(Ordering::Relaxed);
        if max == 0 {
            return 0;
        }
        used_memory(node).saturating_sub(max)
    }

    /// Makes room before a `DENYOOM` write: evicts until memory is under `maxmemory`, or for a bounded number
    /// of entries (the rest is left to the next write or the periodic check). `Err(OOM)` when over the limit
    /// and nothing can be evicted (`noeviction`, or no key qualifies).
    pub async fn make_room(&self, node: &Node) -> Result<(), Frame> {
        if self.excess(node) == 0 {
            return Ok(());
        }
        let policy = self.policy();
        if policy == Policy::NoEviction {
            return Err(OOM);
        }
        // A follower refuses the write anyway (`-READONLY`, `-MOVED`); only leaders evict.
        if led_shards(node).is_empty() {
            return Ok(());
        }
        let mut rng = self.running.lock().await;
        // Redis' tenacity: 10 is the default effort; each unit allows proportionally more work per call.
        let rounds = 1 + self.tenacity.load(Ordering::Relaxed) as usize / 2;
        for _ in 0..rounds {
            let excess = self.excess(node);
            if excess == 0 {
                return Ok(());
            }
            // The largest led shard with a key the policy allows; the others if it has none.
            let mut evicted = false;
            for (shard, repl) in led_shards(node) {
                let victims = self.pick_victims(&shard, policy, excess, &mut rng);
                if victims.is_empty() {
                    continue;
                }
                if let Err(e) = repl.group.write(vec![Op::Evict(victims)]).await {
                    tracing::debug!(error = %e, "eviction entry not applied");
                    return Ok(());
                }
                evicted = true;
                break;
            }
            if !evicted {
                return Err(OOM);
            }
        }
        Ok(())
    }

    /// Victims in `shard` to cover `excess` bytes (by their estimated size), at least one, plus a little headroom:
    /// each eviction is a log entry, so freeing a few keys ahead saves rounds.
    fn pick_victims(
        &self,
        shard: &crate::shard::Shard,
        policy: Policy,
        excess: u64,
        rng: &mut Rng,
    ) -> Vec<Bytes> {
        let shard = shard.lock();
        let ks = shard.keyspace();
        let now = unix_ms();
        let samples = self.samples.load(Ordering::Relaxed) as usize;
        let picked = ks.eviction_victims(policy, samples, MAX_VICTIMS_PER_ENTRY, now, rng);
        let max = self.maxmemory.load(Ordering::Relaxed);
        let target = excess + (max / 200).min(EVICTION_HEADROOM_MAX);
        let mut freed = 0u64;
        let mut chosen = Vec::new();
        for k in picked {
            freed += ks.memory_usage(now, &k).unwrap_or(64) as u64;
            chosen.push(Bytes::from(k));
            if freed >= target {
                break;
            }
        }
        chosen
    }
}

/// Keeps evicting while memory stays above `maxmemory` without writes to trigger it (Redis' eviction time
/// proc): every 100 ms. Runs until aborted.
pub async fn cron(node: Arc<Node>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if node.evictor.excess(&node) > 0 {
            let _ = node.evictor.make_room(&node).await;
        }
    }
}
