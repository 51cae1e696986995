//! What a command runs with, and the unit of the write path.

use bytes::Bytes;
use bytes::{Buf, BufMut};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    /// Set while an [`Op::Retry`] runs: the command of a client that was blocked, proposed again after a write
    /// made its keys ready (XREADGROUP then reports a deleted stream or group as Redis does for a blocked client).
    pub retry: bool,
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
            retry: false,
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
            retry: false,
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
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A client write command, arguments including the name.
    Command(Vec<Bytes>),
    /// Delete these keys if, at the entry's time, they are past their deadline, and the fields of these hashes
    /// that are past theirs (active and lazy expiry).
    ExpireIfDue(Vec<Bytes>),
    /// A blocking command (BLPOP, BLMOVE, ...) proposed by a client that may wait: it runs like
    /// [`Op::Command`], except that when nothing can be served it changes nothing and replies
    /// [`crate::blocking::WOULD_BLOCK`], which the server turns into a wait (never into a reply).
    Block(Vec<Bytes>),
    /// A blocked client's command proposed again once its keys became ready: runs like [`Op::Block`], with
    /// `ctx.retry` set.
    Retry(Vec<Bytes>),
}

/// The unit of the write path: what a single node applies directly and a replicated shard puts in its log.
///
/// Serialized (log file, Raft RPCs) as one byte string in a compact format ([`LogEntry::encode`]) so that decoding
/// costs one allocation per entry, not one per argument: every argument is a slice of that one buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Leader's wall clock in milliseconds when the entry was proposed.
    pub time_ms: i64,
    /// Leader's random seed for any random choice the entry's commands make.
    pub seed: u64,
    /// Operations applied in order, atomically with respect to other entries.
    /// Shared, so that the copies Raft keeps (log cache, replication, apply) cost a reference count each.
    pub ops: std::sync::Arc<[Op]>,
    /// The encoded form, computed once and shared by every copy: the log and each follower's AppendEntries
    /// serialize the same entry.
    pub wire: WireCache,
}

/// A lazily filled, shared copy of an entry's encoding. Compares equal to any other: it is derived data.
#[derive(Clone, Default)]
pub struct WireCache(std::sync::Arc<std::sync::OnceLock<Bytes>>);

impl WireCache {
    /// A cache already holding `b` (an entry decoded from `b`).
    pub fn filled(b: Bytes) -> WireCache {
        let c = WireCache::default();
        let _ = c.0.set(b);
        c
    }
}

impl PartialEq for WireCache {
    fn eq(&self, _: &WireCache) -> bool {
        true
    }
}

impl std::fmt::Debug for WireCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WireCache")
    }
}

const OP_COMMAND: u8 = 0;
const OP_EXPIRE_IF_DUE: u8 = 1;
const OP_BLOCK: u8 = 2;
const OP_RETRY: u8 = 5;
/// Format version, first byte of every encoded entry.
const ENTRY_FORMAT: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

impl LogEntry {
    /// The entry in its wire and log format: version, time, seed, then each operation as a tag, an argument
    /// count and length-prefixed arguments.
    pub fn encode(&self) -> Vec<u8> {
        let args: usize = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Command(a) | Op::ExpireIfDue(a) | Op::Block(a) | Op::Retry(a) => {
                    a.iter().map(|x| x.len() + 2).sum::<usize>() + 3
                }
            })
            .sum();
        let mut out = Vec::with_capacity(args + 20);
        out.push(ENTRY_FORMAT);
        out.put_i64_le(self.time_ms);
        out.put_u64_le(self.seed);
        put_varint(&mut out, self.ops.len() as u64);
        for op in self.ops.iter() {
            let (tag, args) = match op {
                Op::Command(a) => (OP_COMMAND, a),
                Op::ExpireIfDue(a) => (OP_EXPIRE_IF_DUE, a),
                Op::Block(a) => (OP_BLOCK, a),
                Op::Retry(a) => (OP_RETRY, a),
            };
            out.push(tag);
            put_varint(&mut out, args.len() as u64);
            for a in args {
                put_varint(&mut out, a.len() as u64);
                out.extend_from_slice(a);
            }
        }
        out
    }

    /// Decodes [`LogEntry::encode`]'s format; every argument is a slice of `buf`. `None` if malformed.
    pub fn decode(buf: Bytes) -> Option<LogEntry> {
        let mut b: &[u8] = &buf;
        if b.first() != Some(&ENTRY_FORMAT) || b.len() < 17 {
            return None;
        }
        b.advance(1);
        let time_ms = b.get_i64_le();
        let seed = b.get_u64_le();
        let n = get_varint(&mut b)?;
        // Every operation takes at least two bytes: a count from the buffer cannot reserve more than it holds.
        let mut ops = Vec::with_capacity((n as usize).min(b.len() / 2));
        for _ in 0..n {
            let (&tag, rest) = b.split_first()?;
            b = rest;
            let argc = get_varint(&mut b)?;
            let mut args = Vec::with_capacity((argc as usize).min(b.len()));
            for _ in 0..argc {
                let len = get_varint(&mut b)? as usize;
                if len > b.len() {
                    return None;
                }
                let start = buf.len() - b.len();
                args.push(buf.slice(start..start + len));
                b.advance(len);
            }
            ops.push(match tag {
                OP_COMMAND => Op::Command(args),
                OP_EXPIRE_IF_DUE => Op::ExpireIfDue(args),
                OP_BLOCK => Op::Block(args),
                OP_RETRY => Op::Retry(args),
                _ => return None,
            });
        }
        b.is_empty().then(|| LogEntry {
            time_ms,
            seed,
            ops: ops.into(),
            wire: WireCache::filled(buf.clone()),
        })
    }
}

impl Serialize for LogEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.wire.0.get_or_init(|| Bytes::from(self.encode())))
    }
}

impl<'de> Deserialize<'de> for LogEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LogEntry, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LogEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an encoded log entry")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<LogEntry, E> {
                LogEntry::decode(Bytes::copy_from_slice(v))
                    .ok_or_else(|| E::custom("malformed log entry"))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<LogEntry, E> {
                LogEntry::decode(Bytes::from(v)).ok_or_else(|| E::custom("malformed log entry"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LogEntry, A::Error> {
                // Formats without a native byte string (JSON) send the bytes as a sequence.
                let mut v = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    v.push(b);
                }
                self.visit_byte_buf(v)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Applies one entry to the keyspace: every operation in order, with the entry's stamped time and seed. This is
/// the only way the keyspace changes, on a single node as on every replica of a shard.
pub fn apply(ks: &mut crate::Keyspace, entry: &LogEntry) -> (Vec<resp::Frame>, u64) {
    let mut ctx = ExecCtx::for_write(entry.time_ms, entry.seed);
    let mut replies = Vec::with_capacity(entry.ops.len());
    for op in entry.ops.iter() {
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
        Op::Retry(args) => {
            ctx.blocking = true;
            ctx.retry = true;
            let reply = crate::cmd::execute(ks, ctx, args);
            ctx.blocking = false;
            ctx.retry = false;
            reply
        }
        Op::ExpireIfDue(keys) => {
            let mut n = 0;
            for k in keys {
                if ks.expire_if_due(k, ctx.now_ms) {
                    n += 1;
                    ctx.dirty += 1;
                } else {
                    let fields = ks.purge_due_fields(k, ctx.now_ms);
                    if fields > 0 {
                        n += 1;
                        ctx.dirty += fields as u64;
                    }
                }
            }
            resp::Frame::Integer(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogEntry {
        LogEntry {
            time_ms: -5,
            seed: u64::MAX,
            ops: [
                Op::Command(vec![
                    Bytes::from("SET"),
                    Bytes::from("k"),
                    Bytes::from(vec![0u8; 300]),
                ]),
                Op::ExpireIfDue(vec![Bytes::new(), Bytes::from("x")]),
                Op::Command(vec![]),
                Op::Block(vec![
                    Bytes::from("BLPOP"),
                    Bytes::from("l"),
                    Bytes::from("0"),
                ]),
                Op::Retry(vec![Bytes::from("XREAD"), Bytes::from("x")]),
            ]
            .into(),
            wire: WireCache::default(),
        }
    }

    #[test]
    fn entries_round_trip_through_the_compact_format() {
        let e = sample();
        let enc = e.encode();
        assert_eq!(LogEntry::decode(Bytes::from(enc.clone())), Some(e.clone()));
        let empty = LogEntry {
            time_ms: 0,
            seed: 0,
            ops: Vec::new().into(),
            wire: WireCache::default(),
        };
        assert_eq!(LogEntry::decode(Bytes::from(empty.encode())), Some(empty));
        // Every truncation and a trailing byte are rejected, never a panic.
        for cut in 0..enc.len() {
            assert_eq!(LogEntry::decode(Bytes::copy_from_slice(&enc[..cut])), None);
        }
        let mut long = enc.clone();
        long.push(0);
        assert_eq!(LogEntry::decode(Bytes::from(long)), None);
        // A huge announced count does not allocate for it.
        let mut bogus = enc[..17].to_vec();
        bogus.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(LogEntry::decode(Bytes::from(bogus)), None);
    }
}
