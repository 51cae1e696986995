//! What a command runs with, and the unit of the write path.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Inputs of one command execution. For writes these are stamped by the leader into the log entry, so every
/// replica computes the same result.
#[derive(Debug)]
pub struct ExecCtx {
    /// Unix time in milliseconds that the command sees as "now".
    pub now_ms: i64,
    /// Deterministic random source seeded from the entry.
    pub rng: Rng,
    /// Whether this execution may change the keyspace (a write on the write path).
    pub write: bool,
    /// Count of changes made (Redis' `dirty`), read by the server for persistence statistics.
    pub dirty: u64,
    /// Set while an [`Op::Block`] runs: a blocking command that finds nothing to serve answers
    /// [`crate::blocking::WOULD_BLOCK`] instead of its non-blocking reply.
    pub blocking: bool,
}

impl ExecCtx {
    /// Context for a write applied from a log entry.
    pub fn for_write(now_ms: i64, seed: u64) -> ExecCtx {
        ExecCtx {
            now_ms,
            rng: Rng::new(seed),
            write: true,
            dirty: 0,
            blocking: false,
        }
    }

    /// Context for a read served at `now_ms`.
    pub fn for_read(now_ms: i64, seed: u64) -> ExecCtx {
        ExecCtx {
            now_ms,
            rng: Rng::new(seed),
            write: false,
            dirty: 0,
            blocking: false,
        }
    }
}

/// SplitMix64: small, fast and fully determined by its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence follows from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// One operation inside a log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// A client write command, arguments including the name.
    Command(Vec<Bytes>),
    /// Delete these keys if, at the entry's time, they are past their deadline (active and lazy expiry).
    ExpireIfDue(Vec<Bytes>),
    /// A blocking command (BLPOP, BLMOVE, ...) proposed by a client that may wait: it runs like
    /// [`Op::Command`], except that when nothing can be served it changes nothing and replies
    /// [`crate::blocking::WOULD_BLOCK`], which the server turns into a wait (never into a reply).
    Block(Vec<Bytes>),
}

/// The unit of the write path: what a single node applies directly and a replicated shard puts in its log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Leader's wall clock in milliseconds when the entry was proposed.
    pub time_ms: i64,
    /// Leader's random seed for any random choice the entry's commands make.
    pub seed: u64,
    /// Operations applied in order, atomically with respect to other entries.
    pub ops: Vec<Op>,
}

/// Applies one entry to the keyspace: every operation in order, with the entry's stamped time and seed. This is
/// the only way the keyspace changes, on a single node as on every replica of a shard.
pub fn apply(ks: &mut crate::Keyspace, entry: &LogEntry) -> (Vec<resp::Frame>, u64) {
    let mut ctx = ExecCtx::for_write(entry.time_ms, entry.seed);
    let mut replies = Vec::with_capacity(entry.ops.len());
    for op in &entry.ops {
        replies.push(apply_op(ks, &mut ctx, op));
    }
    (replies, ctx.dirty)
}

/// Applies one operation with a write context.
pub fn apply_op(ks: &mut crate::Keyspace, ctx: &mut ExecCtx, op: &Op) -> resp::Frame {
    match op {
        Op::Command(args) => crate::cmd::execute(ks, ctx, args),
        Op::Block(args) => {
            ctx.blocking = true;
            let reply = crate::cmd::execute(ks, ctx, args);
            ctx.blocking = false;
            reply
        }
        Op::ExpireIfDue(keys) => {
            let mut n = 0;
            for k in keys {
                if ks.expire_if_due(k, ctx.now_ms) {
                    n += 1;
                    ctx.dirty += 1;
                }
            }
            resp::Frame::Integer(n)
        }
    }
}
