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
    /// Delete these keys to free memory: victims the leader picked under `maxmemory` (each counts in
    /// `evicted_keys` and emits `evicted`).
    Evict(Vec<Bytes>),
    /// A blocked client's command proposed again once its keys became ready: runs like [`Op::Block`], with
    /// `ctx.retry` set.
    Retry(Vec<Bytes>),
    /// A MULTI/EXEC transaction: its keyspace commands (reads too, so the whole transaction sees one state) run
    /// one after the other, with nothing in between, if every watched key is unchanged; otherwise none runs and
    /// the reply is a null array.
    Multi(Transaction),
    /// A step of moving hash slots to another shard ([`crate::migrate`]): `FREEZE`, `IMPORT` or `RELEASE` with
    /// its arguments.
    Migration(Vec<Bytes>),
}

/// The keyspace part of one EXEC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    /// What WATCH observed of each watched key; applying decides from it whether to run.
    pub watched: Vec<Watched>,
    /// The queued keyspace commands, in order, arguments including the name.
    pub commands: Vec<Vec<Bytes>>,
}

/// One watched key as the leader saw it at WATCH time ([`crate::Keyspace::watch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    /// The key.
    pub key: Bytes,
    /// The keyspace's epoch (entries applied) when it was watched.
    pub epoch: u64,
    /// Whether it existed and was not past its deadline.
    pub live: bool,
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
const OP_EVICT: u8 = 4;
const OP_RETRY: u8 = 5;
const OP_MULTI: u8 = 3;
const OP_MIGRATION: u8 = 6;
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

fn put_args(out: &mut Vec<u8>, args: &[Bytes]) {
    put_varint(out, args.len() as u64);
    for a in args {
        put_varint(out, a.len() as u64);
        out.extend_from_slice(a);
    }
}

/// One length-prefixed byte string of `b`, as a slice of `buf` (which `b` is the unread tail of).
fn get_bytes(buf: &Bytes, b: &mut &[u8]) -> Option<Bytes> {
    let len = get_varint(b)? as usize;
    if len > b.len() {
        return None;
    }
    let start = buf.len() - b.len();
    b.advance(len);
    Some(buf.slice(start..start + len))
}

fn get_args(buf: &Bytes, b: &mut &[u8]) -> Option<Vec<Bytes>> {
    let argc = get_varint(b)?;
    // Every argument takes at least a byte: a count from the buffer cannot reserve more than it holds.
    let mut args = Vec::with_capacity((argc as usize).min(b.len()));
    for _ in 0..argc {
        args.push(get_bytes(buf, b)?);
    }
    Some(args)
}

fn get_transaction(buf: &Bytes, b: &mut &[u8]) -> Option<Transaction> {
    let n = get_varint(b)?;
    let mut watched = Vec::with_capacity((n as usize).min(b.len() / 3));
    for _ in 0..n {
        let epoch = get_varint(b)?;
        let (&live, rest) = b.split_first()?;
        *b = rest;
        if live > 1 {
            return None;
        }
        let key = get_bytes(buf, b)?;
        watched.push(Watched {
            key,
            epoch,
            live: live == 1,
        });
    }
    let n = get_varint(b)?;
    let mut commands = Vec::with_capacity((n as usize).min(b.len()));
    for _ in 0..n {
        commands.push(get_args(buf, b)?);
    }
    Some(Transaction { watched, commands })
}

impl LogEntry {
    /// The entry in its wire and log format: version, time, seed, then each operation as a tag, an argument
    /// count and length-prefixed arguments.
    pub fn encode(&self) -> Vec<u8> {
        let args: usize = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Command(a)
                | Op::ExpireIfDue(a)
                | Op::Block(a)
                | Op::Retry(a)
                | Op::Migration(a)
                | Op::Evict(a) => a.iter().map(|x| x.len() + 2).sum::<usize>() + 3,
                Op::Multi(tx) => {
                    tx.watched.iter().map(|w| w.key.len() + 12).sum::<usize>()
                        + tx.commands
                            .iter()
                            .map(|c| c.iter().map(|x| x.len() + 2).sum::<usize>() + 3)
                            .sum::<usize>()
                        + 6
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
                Op::Evict(a) => (OP_EVICT, a),
                Op::Retry(a) => (OP_RETRY, a),
                Op::Migration(a) => (OP_MIGRATION, a),
                Op::Multi(tx) => {
                    // Tag, watched count, (epoch, live, key)*, command count, then each command as an argument
                    // list.
                    out.push(OP_MULTI);
                    put_varint(&mut out, tx.watched.len() as u64);
                    for w in &tx.watched {
                        put_varint(&mut out, w.epoch);
                        out.push(w.live as u8);
                        put_varint(&mut out, w.key.len() as u64);
                        out.extend_from_slice(&w.key);
                    }
                    put_varint(&mut out, tx.commands.len() as u64);
                    for c in &tx.commands {
                        put_args(&mut out, c);
                    }
                    continue;
                }
            };
            out.push(tag);
            put_args(&mut out, args);
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
            if tag == OP_MULTI {
                ops.push(Op::Multi(get_transaction(&buf, &mut b)?));
                continue;
            }
            let args = get_args(&buf, &mut b)?;
            ops.push(match tag {
                OP_COMMAND => Op::Command(args),
                OP_EXPIRE_IF_DUE => Op::ExpireIfDue(args),
                OP_BLOCK => Op::Block(args),
                OP_EVICT => Op::Evict(args),
                OP_RETRY => Op::Retry(args),
                OP_MIGRATION => Op::Migration(args),
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
    ks.begin_entry();
    let mut ctx = ExecCtx::for_write(entry.time_ms, entry.seed);
    let ops = &entry.ops[..];
    let mut replies = Vec::with_capacity(ops.len());
    if ops.len() > 1 {
        for op in &ops[..ops.len().min(PREFETCH_SLOT_AHEAD)] {
            if let Some(k) = first_arg(op) {
                ks.prefetch_slot(k);
            }
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if let Some(k) = ops.get(i + PREFETCH_SLOT_AHEAD).and_then(first_arg) {
            ks.prefetch_slot(k);
        }
        if let Some(k) = ops.get(i + PREFETCH_NODE_AHEAD).and_then(first_arg) {
            ks.prefetch_entry(k);
        }
        if let Some(k) = ops.get(i + PREFETCH_VALUE_AHEAD).and_then(first_arg) {
            ks.prefetch_value(k);
        }
        replies.push(apply_op(ks, &mut ctx, op));
    }
    // The entry is applied: its keyspace events go out now, in order.
    ks.flush_events();
    (replies, ctx.dirty)
}

/// How far ahead of the operation being applied the next keys' bucket slots, then their entries, then their
/// values' heap data are prefetched: each step reads what the one before loaded. A batch of writes to random keys
/// is otherwise three cache misses per key one after the other; `cargo bench -p store --bench apply` measured
/// SETs over 100,000 keys 40-65% faster with it.
const PREFETCH_SLOT_AHEAD: usize = 8;
const PREFETCH_NODE_AHEAD: usize = 4;
const PREFETCH_VALUE_AHEAD: usize = 2;

/// The argument after the command name: the key of nearly every write, and harmless to prefetch otherwise.
fn first_arg(op: &Op) -> Option<&[u8]> {
    match op {
        Op::Command(args) | Op::Block(args) | Op::Retry(args) => args.get(1).map(|k| &k[..]),
        _ => None,
    }
}

/// Applies one operation with a write context.
pub fn apply_op(ks: &mut crate::Keyspace, ctx: &mut ExecCtx, op: &Op) -> resp::Frame {
    match op {
        Op::Command(args) => run_write(ks, ctx, args),
        Op::Migration(args) => crate::migrate::apply(ks, ctx, args),
        Op::Block(args) => {
            ctx.blocking = true;
            let reply = run_write(ks, ctx, args);
            ctx.blocking = false;
            reply
        }
        Op::Evict(keys) => {
            let mut n = 0;
            for k in keys {
                // A key on its way to another shard stays until it has left.
                if ks.migration.is_frozen(k) {
                    continue;
                }
                if ks.evict(k) {
                    n += 1;
                    ctx.dirty += 1;
                }
            }
            resp::Frame::Integer(n)
        }
        Op::Retry(args) => {
            // A blocked client whose key is moving keeps waiting (its key cannot be served here now).
            if crate::migrate::check_command(ks, args).is_some() {
                return crate::blocking::WOULD_BLOCK;
            }
            ctx.blocking = true;
            ctx.retry = true;
            let reply = crate::cmd::execute(ks, ctx, args);
            ctx.blocking = false;
            ctx.retry = false;
            reply
        }
        Op::Multi(tx) => {
            if ks.migration.active()
                && tx
                    .commands
                    .iter()
                    .any(|c| crate::migrate::check_command(ks, c).is_some())
            {
                return resp::Frame::error(crate::migrate::TX_MIGRATING);
            }
            if !tx.watched.iter().all(|w| ks.watch_holds(w, ctx.now_ms)) {
                return resp::Frame::NullArray;
            }
            resp::Frame::Array(
                tx.commands
                    .iter()
                    .map(|args| run_write(ks, ctx, args))
                    .collect(),
            )
        }
        Op::ExpireIfDue(keys) => {
            let mut n = 0;
            for k in keys {
                if ks.migration.is_frozen(k) {
                    continue;
                }
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

/// Runs one command on the write path; when it changed something (`ctx.dirty` grew), its keys that exist get
/// the entry's stamp, which is what WATCH compares (Redis' `signalModifiedKey`).
fn run_write(ks: &mut crate::Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> resp::Frame {
    let spec = match crate::cmd::resolve(args) {
        Ok(spec) => spec,
        Err(e) => return e,
    };
    if ks.migration.active() {
        if let Some(refused) = spec
            .key_positions(args)
            .ok()
            .and_then(|p| crate::migrate::check_keys(ks, p.iter().map(|&i| args[i].as_ref())))
        {
            return resp::Frame::error(refused);
        }
    }
    let crate::Handler::Keyspace(f) = spec.handler else {
        return resp::Frame::error("ERR command not executable against the keyspace");
    };
    let dirty = ctx.dirty;
    let reply = f(ks, ctx, args);
    if ctx.dirty != dirty && spec.writes != crate::table::Writes::AllKeys {
        // Sources are only read: only the destination counts as touched.
        match (spec.writes, &reply) {
            (crate::table::Writes::PoppedKey, resp::Frame::Array(items)) => {
                if let Some(resp::Frame::Bulk(key)) = items.first() {
                    ks.touch(key);
                }
            }
            (crate::table::Writes::PoppedKey, _) => {}
            (w, _) => {
                if let Ok(positions) = spec.key_positions(args) {
                    let dst = match w {
                        crate::table::Writes::FirstKey => positions.first(),
                        _ => positions.last(),
                    };
                    if let Some(&i) = dst {
                        ks.touch(&args[i]);
                    }
                }
            }
        }
    } else if ctx.dirty != dirty {
        match spec.keys {
            // The common case without allocating a list of positions.
            crate::table::KeySpec::Range { first, last, step } if step > 0 && first > 0 => {
                let argc = args.len() as i32;
                let last = if last < 0 { argc + last } else { last };
                let mut i = first;
                while i <= last && i < argc {
                    ks.touch(&args[i as usize]);
                    i += step;
                }
            }
            crate::table::KeySpec::None => {}
            _ => {
                if let Ok(positions) = spec.key_positions(args) {
                    for i in positions {
                        ks.touch(&args[i]);
                    }
                }
            }
        }
    }
    reply
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
                Op::Evict(vec![Bytes::from("victim")]),
                Op::Retry(vec![Bytes::from("XREAD"), Bytes::from("x")]),
                Op::Multi(Transaction {
                    watched: vec![
                        Watched {
                            key: Bytes::from("w"),
                            epoch: u64::MAX,
                            live: true,
                        },
                        Watched {
                            key: Bytes::new(),
                            epoch: 0,
                            live: false,
                        },
                    ],
                    commands: vec![
                        vec![Bytes::from("INCR"), Bytes::from("c")],
                        vec![],
                        vec![Bytes::from("GET"), Bytes::from("c")],
                    ],
                }),
                Op::Multi(Transaction::default()),
                Op::Migration(vec![Bytes::from("RELEASE"), Bytes::from("3")]),
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

#[cfg(test)]
mod watch_tests {
    use super::*;
    use crate::Keyspace;
    use resp::Frame;

    fn cmd(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    fn entry(time_ms: i64, ops: Vec<Op>) -> LogEntry {
        LogEntry {
            time_ms,
            seed: 1,
            ops: ops.into(),
            wire: WireCache::default(),
        }
    }

    fn run(ks: &mut Keyspace, time_ms: i64, args: &[&str]) -> Frame {
        apply(ks, &entry(time_ms, vec![Op::Command(cmd(args))]))
            .0
            .remove(0)
    }

    /// EXEC of `INCR counter` with `watched`, at `time_ms`.
    fn exec(ks: &mut Keyspace, time_ms: i64, watched: Vec<Watched>) -> Frame {
        let tx = Transaction {
            watched,
            commands: vec![cmd(&["INCR", "counter"])],
        };
        apply(ks, &entry(time_ms, vec![Op::Multi(tx)])).0.remove(0)
    }

    fn watch(ks: &Keyspace, key: &str, now: i64) -> Watched {
        ks.watch(Bytes::copy_from_slice(key.as_bytes()), now)
    }

    fn ran(f: &Frame) -> bool {
        !matches!(f, Frame::NullArray)
    }

    #[test]
    fn unchanged_keys_let_exec_run_and_writes_abort_it() {
        let mut ks = Keyspace::new();
        run(&mut ks, 0, &["SET", "x", "1"]);
        let w = vec![watch(&ks, "x", 0), watch(&ks, "absent", 0)];
        // Writes to other keys do not matter.
        run(&mut ks, 0, &["SET", "y", "1"]);
        assert_eq!(
            exec(&mut ks, 0, w.clone()),
            Frame::Array(vec![Frame::Integer(1)])
        );
        // A write to the key, even of the same value, aborts; so does one to an absent watched key.
        let w = vec![watch(&ks, "x", 0)];
        run(&mut ks, 0, &["SET", "x", "1"]);
        assert!(!ran(&exec(&mut ks, 0, w)));
        let w = vec![watch(&ks, "absent", 0)];
        run(&mut ks, 0, &["SET", "absent", "1"]);
        assert!(!ran(&exec(&mut ks, 0, w)));
        // Created and deleted again: still a change.
        let w = vec![watch(&ks, "z", 0)];
        run(&mut ks, 0, &["SET", "z", "1"]);
        run(&mut ks, 0, &["DEL", "z"]);
        assert!(!ran(&exec(&mut ks, 0, w)));
        // Deleted, or deleted and recreated.
        let w = vec![watch(&ks, "x", 0)];
        run(&mut ks, 0, &["DEL", "x"]);
        assert!(!ran(&exec(&mut ks, 0, w)));
        run(&mut ks, 0, &["SET", "x", "1"]);
        let w = vec![watch(&ks, "x", 0)];
        run(&mut ks, 0, &["DEL", "x"]);
        run(&mut ks, 0, &["SET", "x", "1"]);
        assert!(!ran(&exec(&mut ks, 0, w)));
    }

    #[test]
    fn failed_and_no_op_writes_do_not_touch() {
        let mut ks = Keyspace::new();
        run(&mut ks, 0, &["SET", "s", "abc"]);
        run(&mut ks, 0, &["SADD", "set", "a"]);
        let w = vec![watch(&ks, "s", 0), watch(&ks, "set", 0)];
        assert!(run(&mut ks, 0, &["INCR", "s"]).is_error());
        assert_eq!(run(&mut ks, 0, &["SADD", "set", "a"]), Frame::Integer(0));
        assert_eq!(run(&mut ks, 0, &["DEL", "nothing"]), Frame::Integer(0));
        assert!(ran(&exec(&mut ks, 0, w)));
    }

    #[test]
    fn expiry_rules_follow_redis() {
        let mut ks = Keyspace::new();
        // Live at WATCH, past its deadline at EXEC: aborts even before anything deletes it.
        run(&mut ks, 0, &["SET", "k", "1", "PX", "100"]);
        let w = vec![watch(&ks, "k", 50)];
        assert!(!ran(&exec(&mut ks, 200, w)));
        // Already stale at WATCH: neither its deletion nor a FLUSHALL is a change.
        run(&mut ks, 300, &["SET", "stale", "1", "PX", "1"]);
        let w = vec![watch(&ks, "stale", 400)];
        assert!(ran(&exec(&mut ks, 400, w.clone())));
        apply(
            &mut ks,
            &entry(400, vec![Op::ExpireIfDue(vec![Bytes::from("stale")])]),
        );
        assert!(ran(&exec(&mut ks, 400, w.clone())));
        // ... but being written again is.
        run(&mut ks, 400, &["SET", "stale", "2"]);
        assert!(!ran(&exec(&mut ks, 400, w)));
        run(&mut ks, 500, &["SET", "stale2", "1", "PX", "1"]);
        let w = vec![watch(&ks, "stale2", 600)];
        run(&mut ks, 600, &["FLUSHALL"]);
        assert!(ran(&exec(&mut ks, 600, w)));
        // A live key removed by FLUSHALL, or by expiry, was changed; an absent one was not.
        run(&mut ks, 700, &["SET", "k", "1", "PX", "100"]);
        let w = vec![watch(&ks, "k", 700), watch(&ks, "never", 700)];
        run(&mut ks, 700, &["FLUSHALL"]);
        assert!(!ran(&exec(&mut ks, 700, w.clone())));
        assert!(ran(&exec(&mut ks, 700, w[1..].to_vec())));
        // EXPIRE on the key touches it.
        run(&mut ks, 700, &["SET", "e", "1"]);
        let w = vec![watch(&ks, "e", 700)];
        run(&mut ks, 700, &["EXPIRE", "e", "10"]);
        assert!(!ran(&exec(&mut ks, 700, w)));
    }

    #[test]
    fn transaction_runs_every_command_and_reports_runtime_errors() {
        let mut ks = Keyspace::new();
        run(&mut ks, 0, &["SET", "s", "abc"]);
        let tx = Transaction {
            watched: vec![],
            commands: vec![
                cmd(&["INCR", "n"]),
                cmd(&["INCR", "s"]),
                cmd(&["GET", "n"]),
                cmd(&["BLPOP", "nolist", "0"]),
            ],
        };
        let r = apply(&mut ks, &entry(0, vec![Op::Multi(tx)])).0.remove(0);
        let Frame::Array(items) = r else {
            panic!("{r:?}")
        };
        assert_eq!(items[0], Frame::Integer(1));
        assert!(items[1].is_error());
        assert_eq!(items[2], Frame::Bulk(Bytes::from("1")));
        // A blocking command inside a transaction does not block.
        assert_eq!(items[3], Frame::NullArray);
    }

    /// Every write command that changes its key must abort a watch of it: a command that changes a key without
    /// counting `ctx.dirty` would slip through WATCH.
    #[test]
    fn every_write_command_touches_its_keys() {
        let strs = &["SET s abc", "SET n 5"][..];
        let coll = &[
            "RPUSH l a b c",
            "SADD st a b",
            "HSET h f v g w",
            "ZADD z 1 a 2 b",
            "SET s abc",
        ][..];
        let cases: &[(&[&str], &str, &str)] = &[
            (strs, "s", "SET s x"),
            (strs, "s", "SET s abc"),
            (strs, "new", "SETNX new 1"),
            (strs, "s", "SETEX s 100 x"),
            (strs, "s", "PSETEX s 100000 x"),
            (strs, "s", "MSET a 1 s 2"),
            (strs, "new", "MSETNX new 1 other 2"),
            (strs, "s", "APPEND s d"),
            (strs, "n", "INCR n"),
            (strs, "n", "DECR n"),
            (strs, "n", "INCRBY n 2"),
            (strs, "n", "DECRBY n 2"),
            (strs, "n", "INCRBYFLOAT n 1.5"),
            (strs, "s", "GETSET s x"),
            (strs, "s", "GETDEL s"),
            (strs, "s", "GETEX s EX 100"),
            (strs, "s", "SETRANGE s 1 zz"),
            (strs, "s", "SETBIT s 1 1"),
            (strs, "d", "BITOP OR d s s"),
            (strs, "s", "BITFIELD s SET u8 0 7"),
            (strs, "s", "DEL s"),
            (strs, "s", "UNLINK s"),
            (strs, "s", "EXPIRE s 100"),
            (strs, "s", "PEXPIRE s 100000"),
            (strs, "s", "EXPIREAT s 99999999999"),
            (strs, "s", "PEXPIREAT s 99999999999999"),
            (strs, "s", "RENAME s t"),
            (strs, "t", "RENAME s t"),
            (strs, "t", "RENAMENX s t"),
            (strs, "t", "COPY s t"),
            (strs, "s", "FLUSHALL"),
            (strs, "s", "FLUSHDB"),
            (coll, "h", "HSET h f x"),
            (coll, "h", "HSETNX h new v"),
            (coll, "h", "HMSET h f x"),
            (coll, "h", "HDEL h f"),
            (coll, "h", "HINCRBY h n 1"),
            (coll, "h", "HINCRBYFLOAT h n 1.5"),
            (coll, "h", "HEXPIRE h 100 FIELDS 1 f"),
            (coll, "h", "HPEXPIRE h 100000 FIELDS 1 f"),
            (coll, "h", "HEXPIREAT h 4000000000 FIELDS 1 f"),
            (coll, "h", "HPEXPIREAT h 4000000000000 FIELDS 1 f"),
            (coll, "st", "SADD st c"),
            (coll, "st", "SREM st a"),
            (coll, "st", "SPOP st"),
            (coll, "st", "SMOVE st st2 a"),
            (coll, "st2", "SMOVE st st2 a"),
            (coll, "d", "SINTERSTORE d st"),
            (coll, "d", "SUNIONSTORE d st"),
            (coll, "d", "SDIFFSTORE d st"),
            (coll, "l", "LPUSH l x"),
            (coll, "l", "RPUSH l x"),
            (coll, "l", "LPUSHX l x"),
            (coll, "l", "RPUSHX l x"),
            (coll, "l", "LPOP l"),
            (coll, "l", "RPOP l"),
            (coll, "l", "LSET l 0 x"),
            (coll, "l", "LINSERT l BEFORE b x"),
            (coll, "l", "LREM l 0 a"),
            (coll, "l", "LTRIM l 1 -1"),
            (coll, "l", "LMOVE l l2 LEFT RIGHT"),
            (coll, "l2", "LMOVE l l2 LEFT RIGHT"),
            (coll, "l", "RPOPLPUSH l l2"),
            (coll, "l", "LMPOP 1 l LEFT"),
            (coll, "l", "BLPOP l 0"),
            (coll, "l", "BRPOP l 0"),
            (coll, "l", "BLMOVE l l2 LEFT RIGHT 0"),
            (coll, "l2", "BRPOPLPUSH l l2 0"),
            (coll, "l", "BLMPOP 0 1 l LEFT"),
            (coll, "z", "ZADD z 3 c"),
            (coll, "z", "ZINCRBY z 1 a"),
            (coll, "z", "ZREM z a"),
            (coll, "z", "ZPOPMIN z"),
            (coll, "z", "ZPOPMAX z"),
            (coll, "z", "ZMPOP 1 z MIN"),
            (coll, "z", "BZPOPMIN z 0"),
            (coll, "z", "BZPOPMAX z 0"),
            (coll, "z", "BZMPOP 0 1 z MAX"),
            (coll, "z", "ZREMRANGEBYRANK z 0 0"),
            (coll, "z", "ZREMRANGEBYSCORE z 0 1"),
            (coll, "z", "ZREMRANGEBYLEX z - +"),
            (coll, "d", "ZUNIONSTORE d 1 z"),
            (coll, "d", "ZINTERSTORE d 1 z"),
            (coll, "d", "ZDIFFSTORE d 1 z"),
            (coll, "d", "ZRANGESTORE d z 0 -1"),
            (coll, "h", "PERSIST h"),
        ];
        // Sources of a STORE command are only read.
        for (key, write) in [
            ("st", "SUNIONSTORE d st"),
            ("z", "ZUNIONSTORE d 1 z"),
            ("z", "ZRANGESTORE d z 0 -1"),
            ("s", "BITOP NOT d s"),
            ("s", "COPY s t"),
            ("l2", "BLPOP l l2 0"),
            ("l2", "LMPOP 2 l l2 LEFT"),
            ("l", "BLMPOP 0 2 l2 l RIGHT"),
            ("z2", "BZPOPMIN z z2 0"),
            ("z", "BZPOPMAX z2 z 0"),
            ("z2", "ZMPOP 2 z z2 MIN"),
            ("z2", "BZMPOP 0 2 z z2 MIN"),
        ] {
            let mut ks = Keyspace::new();
            for c in coll.iter().chain(&["RPUSH l2 x", "ZADD z2 1 a"]) {
                run(&mut ks, 0, &c.split(' ').collect::<Vec<_>>());
            }
            let w = vec![watch(&ks, key, 0)];
            let r = run(&mut ks, 0, &write.split(' ').collect::<Vec<_>>());
            assert!(!r.is_error(), "{write}: {r:?}");
            assert!(
                ran(&exec(&mut ks, 0, w)),
                "{write} touched its source {key}"
            );
        }
        for (setup, key, write) in cases {
            let mut ks = Keyspace::new();
            for c in setup.iter() {
                let r = run(&mut ks, 0, &c.split(' ').collect::<Vec<_>>());
                assert!(!r.is_error(), "{c}: {r:?}");
            }
            if *write == "PERSIST h" {
                run(&mut ks, 0, &["EXPIRE", "h", "100"]);
            }
            let w = vec![watch(&ks, key, 0)];
            let r = run(&mut ks, 0, &write.split(' ').collect::<Vec<_>>());
            assert!(!r.is_error(), "{write}: {r:?}");
            assert!(!ran(&exec(&mut ks, 0, w)), "{write} did not touch {key}");
        }
    }
}
