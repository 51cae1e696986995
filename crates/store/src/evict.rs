//! Eviction under `maxmemory`: the policies, what an access records in an object, and how the leader picks
//! victims by sampling (Redis' `evict.c` approximations).
//!
//! Access information lives in [`crate::keyspace::Object::lru`] (Redis keeps 24 bits in each object): the last
//! access in seconds under LRU policies, or, under LFU, minutes of the last decrement (16 bits) and a
//! logarithmic use counter (8 bits). Reads update it on the node that serves them; it is not replicated state,
//! since only the leader picks victims and the victims it picks travel in the log ([`crate::exec::Op::Evict`]).

use crate::exec::Rng;
use crate::keyspace::{lru_clock, Keyspace, Object};

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse writes that grow memory.
    NoEviction,
    /// Least recently used among all keys.
    AllkeysLru,
    /// Least frequently used among all keys.
    AllkeysLfu,
    /// Any key.
    AllkeysRandom,
    /// Least recently used among keys with a deadline.
    VolatileLru,
    /// Least frequently used among keys with a deadline.
    VolatileLfu,
    /// Any key with a deadline.
    VolatileRandom,
    /// The key with the nearest deadline.
    VolatileTtl,
}

impl Policy {
    /// Parses Redis' policy name.
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// Whether the policy needs per-object access data (LRU or LFU).
    pub fn tracks_access(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::VolatileLru | Policy::VolatileLfu
        )
    }

    /// Whether objects record a use counter instead of an access time.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Redis' `LFU_INIT_VAL`: a new key's counter, so it is not evicted before it had a chance to be used.
const LFU_INIT_VAL: u32 = 5;
/// Candidates kept between sampling rounds (Redis' `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// What an access records in an object, from `maxmemory-policy`, `lfu-log-factor` and `lfu-decay-time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessTracking {
    /// Record a use counter (LFU policies) instead of the access time.
    pub lfu: bool,
    /// `lfu-log-factor`: how many accesses it takes to raise the counter.
    pub log_factor: u32,
    /// `lfu-decay-time`: minutes per decrement of an unused counter (0: never).
    pub decay_minutes: u32,
    /// Whether small integers count as shared objects (`OBJECT REFCOUNT`): Redis stops sharing them when a
    /// `maxmemory` with an LRU or LFU policy needs per-object access data.
    pub shared_integers: bool,
}

impl Default for AccessTracking {
    fn default() -> Self {
        AccessTracking {
            lfu: false,
            log_factor: 10,
            decay_minutes: 1,
            shared_integers: true,
        }
    }
}

fn minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u32) & 0xffff
}

impl AccessTracking {
    /// The field of an object created at `now_ms`.
    pub fn created(&self, now_ms: i64) -> u32 {
        if self.lfu {
            (minutes(now_ms) << 8) | LFU_INIT_VAL
        } else {
            lru_clock(now_ms)
        }
    }

    /// The field after an access at `now_ms` to `key` (the key seeds the counter's coin toss, so no random
    /// source is needed).
    pub fn touch(&self, field: u32, now_ms: i64, key: &[u8]) -> u32 {
        if !self.lfu {
            return lru_clock(now_ms);
        }
        let mut counter = self.decayed(field, now_ms);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
            let p = 1.0 / (base * self.log_factor as f64 + 1.0);
            let r = (toss(key, now_ms) >> 11) as f64 / (1u64 << 53) as f64;
            if r < p {
                counter += 1;
            }
        }
        (minutes(now_ms) << 8) | counter
    }

    /// The use counter of `field` after the decay due at `now_ms` (`OBJECT FREQ`).
    pub fn decayed(&self, field: u32, now_ms: i64) -> u32 {
        let counter = field & 0xff;
        if self.decay_minutes == 0 {
            return counter;
        }
        let last = field >> 8;
        let now = minutes(now_ms);
        let elapsed = if now >= last {
            now - last
        } else {
            65535 - last + now
        };
        counter.saturating_sub(elapsed / self.decay_minutes)
    }

    /// How good a victim `o` is under `policy` at `now_ms`: higher is evicted first.
    fn score(&self, policy: Policy, o: &Object, now_ms: i64) -> u64 {
        match policy {
            Policy::VolatileTtl => u64::MAX - o.expire_at.max(0) as u64,
            p if p.is_lfu() => 255 - u64::from(self.decayed(o.lru, now_ms)),
            _ => u64::from(o.idle_secs(now_ms)),
        }
    }
}

fn toss(key: &[u8], now_ms: i64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ now_ms as u64;
    for b in key {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    Rng::new(h).next_u64()
}

impl Keyspace {
    /// Picks up to `want` distinct keys to evict under `policy`, sampling `samples` keys per round as Redis
    /// does (a pool of the best candidates carries over between rounds). Read-only: the caller proposes their
    /// deletion through the log. Empty under `noeviction` or when no key qualifies.
    pub fn eviction_victims(
        &self,
        policy: Policy,
        samples: usize,
        want: usize,
        now_ms: i64,
        rng: &mut Rng,
    ) -> Vec<Vec<u8>> {
        let pool_len = if policy.volatile_only() {
            self.volatile_len()
        } else {
            self.len()
        };
        let want = want.min(pool_len);
        let mut victims: Vec<Vec<u8>> = Vec::with_capacity(want);
        if policy == Policy::NoEviction || want == 0 {
            return victims;
        }
        let draw = |rng: &mut Rng| -> Option<&[u8]> {
            if policy.volatile_only() {
                self.random_volatile(rng)
            } else {
                self.random_entry(rng)
            }
        };
        let random = matches!(policy, Policy::AllkeysRandom | Policy::VolatileRandom);
        let access = self.config.access;
        let mut pool: Vec<(u64, Vec<u8>)> = Vec::with_capacity(POOL_SIZE + samples);
        // Bounded: a pathological table never turns one call into an endless loop.
        let mut rounds = want * 4 + 8;
        while victims.len() < want && rounds > 0 {
            rounds -= 1;
            if random {
                if let Some(k) = draw(rng) {
                    if !victims.iter().any(|v| v == k) {
                        victims.push(k.to_vec());
                    }
                }
                continue;
            }
            for _ in 0..samples.max(1) {
                let Some(k) = draw(rng) else { break };
                if victims.iter().any(|v| v == k) || pool.iter().any(|(_, p)| p == k) {
                    continue;
                }
                if let Some(o) = self.get_raw(k) {
                    pool.push((access.score(policy, o, now_ms), k.to_vec()));
                }
            }
            // Best candidates last; keep the pool small.
            pool.sort_by_key(|(s, _)| *s);
            if pool.len() > POOL_SIZE {
                pool.drain(..pool.len() - POOL_SIZE);
            }
            if let Some((_, k)) = pool.pop() {
                victims.push(k);
            }
        }
        victims
    }

    /// Deletes `key` to free memory (the applied form of an eviction): counts it and emits `evicted`.
    pub fn evict(&mut self, key: &[u8]) -> bool {
        if self.remove(key).is_none() {
            return false;
        }
        self.stats.evicted_keys += 1;
        self.notify(crate::notify::class::EVICTED, "evicted", key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ExecCtx;
    use crate::keyspace::NO_EXPIRE;
    use crate::value::Value;

    fn ks_with(n: usize, ttl_every: usize) -> Keyspace {
        let mut ks = Keyspace::new();
        let ctx = ExecCtx::for_write(1_000_000, 1);
        for i in 0..n {
            let exp = if ttl_every > 0 && i % ttl_every == 0 {
                20_000_000 + i as i64
            } else {
                NO_EXPIRE
            };
            ks.set(&ctx, format!("k{i}").as_bytes(), Value::Int(i as i64), exp);
        }
        ks
    }

    #[test]
    fn volatile_policies_only_pick_keys_with_a_deadline() {
        let ks = ks_with(100, 10);
        let mut rng = Rng::new(7);
        for p in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let v = ks.eviction_victims(p, 5, 5, 1_000_000, &mut rng);
            assert_eq!(v.len(), 5, "{p:?}");
            for k in &v {
                assert_ne!(ks.get_raw(k).unwrap().expire_at, NO_EXPIRE);
            }
        }
        assert!(ks
            .eviction_victims(Policy::NoEviction, 5, 5, 0, &mut rng)
            .is_empty());
        let none = ks_with(10, 0);
        assert!(none
            .eviction_victims(Policy::VolatileLru, 5, 5, 0, &mut rng)
            .is_empty());
    }

    #[test]
    fn lru_prefers_idle_keys_and_ttl_the_nearest_deadline() {
        let mut ks = ks_with(50, 1);
        // Every key but k7 is read much later.
        let ctx = ExecCtx::for_read(9_000_000, 1);
        for i in 0..50 {
            if i != 7 {
                ks.read(&ctx, format!("k{i}").as_bytes());
            }
        }
        // Sampling draws with replacement: with 400 draws out of 50 keys every key is seen (the seed is fixed).
        let mut rng = Rng::new(3);
        let v = ks.eviction_victims(Policy::AllkeysLru, 400, 1, 9_000_000, &mut rng);
        assert_eq!(v, vec![b"k7".to_vec()]);
        let v = ks.eviction_victims(Policy::VolatileTtl, 400, 1, 9_000_000, &mut rng);
        assert_eq!(v, vec![b"k0".to_vec()]);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let a = AccessTracking {
            lfu: true,
            ..Default::default()
        };
        let mut f = a.created(0);
        assert_eq!(a.decayed(f, 0), LFU_INIT_VAL);
        for i in 0..10_000 {
            f = a.touch(f, i, b"hot");
        }
        let c = a.decayed(f, 10_000);
        assert!(c > 10 && c < 255, "{c}");
        // Ten minutes later the counter lost ten.
        assert_eq!(a.decayed(f, 10_000 + 10 * 60_000), c - 10);
    }
}
