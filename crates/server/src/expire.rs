//! Active expiry: the background sweep that finds keys past their deadline and deletes them through the
//! write path, as Redis' `activeExpireCycle` does (bounded samples and time per cycle).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use store::exec::{Op, Rng};

use crate::node::{unix_ms, Node};

/// Keys sampled per round (Redis' ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const SAMPLES: usize = 20;
/// Another round runs while more than this percentage of the sample had expired.
const ACCEPTABLE_STALE_PERCENT: usize = 10;
/// Share of each cycle the sweep may use (Redis' ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC).
const TIME_PERCENT: u64 = 25;

/// Runs until the task is aborted.
pub async fn active_expiry(node: Arc<Node>) {
    let mut rng = Rng::new(unix_ms() as u64 ^ 0x5eed);
    loop {
        let period_ms = 1000 / node.hot.hz.load(Ordering::Relaxed).max(1);
        tokio::time::sleep(Duration::from_millis(period_ms)).await;
        // Redis' `active-expire-effort`: each step above 1 samples more keys, tolerates fewer stale ones and
        // may use a little more of the period.
        let effort = node
            .hot
            .active_expire_effort
            .load(Ordering::Relaxed)
            .clamp(1, 10) as usize
            - 1;
        let samples = SAMPLES + SAMPLES / 4 * effort;
        let acceptable_stale = ACCEPTABLE_STALE_PERCENT - effort;
        let budget = Duration::from_millis(period_ms * (TIME_PERCENT + 2 * effort as u64) / 100);
        let start = Instant::now();
        // Every shard this node leads shares the cycle's time budget (cluster mode hosts several).
        for shard in node.all_shards() {
            if start.elapsed() >= budget {
                break;
            }
            cycle(&shard, samples, acceptable_stale, start, budget, &mut rng).await;
        }
    }
}

/// One expiry cycle over `shard`, if this node leads it: rounds of samples while enough of them had expired.
async fn cycle(
    shard: &crate::shard::Shard,
    samples: usize,
    acceptable_stale: usize,
    start: Instant,
    budget: Duration,
    rng: &mut Rng,
) {
    {
        // Only the leader expires keys; replicas delete them when its entries arrive.
        while let Some(repl) = shard.replication().filter(|r| r.group.is_leader()) {
            let now = unix_ms();
            let (sampled, keys) = {
                let shard = shard.lock();
                let ks = shard.keyspace();
                // Keys with a deadline, and hashes whose fields have one: each kind is sampled.
                let sampled = ks.volatile_len().min(samples) + ks.field_volatile_len().min(samples);
                if sampled == 0 {
                    break;
                }
                let keys: Vec<Bytes> = ks
                    .sample_expired(now, samples, rng)
                    .into_iter()
                    .map(Bytes::from)
                    .collect();
                (sampled, keys)
            };
            let expired = keys.len();
            if expired > 0 && repl.group.write(vec![Op::ExpireIfDue(keys)]).await.is_err() {
                break;
            }
            if expired * 100 <= sampled * acceptable_stale || start.elapsed() >= budget {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
