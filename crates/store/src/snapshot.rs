//! The keyspace as one compact, versioned, checksummed byte string: the Raft snapshot, in the role of Redis' RDB.
//!
//! # Format (version 2)
//! ```text
//! "SHOALSNP"            8-byte magic
//! version               u16, little endian
//! key count             varint (exact: the reader checks it)
//! epoch                 varint: entries applied (version 2)
//! deleted               varint count, then (bucket:varint epoch:varint)* (version 2)
//! record*               [0xFB stamp:varint] [0xFC expire_at:i64 LE] type:u8 key:bytes value
//! 0xFF                  end of records
//! crc32                 u32 LE, CRC-32 (IEEE) of every byte before it
//! ```
//! `bytes` is a varint length followed by the bytes; varints are unsigned LEB128, signed integers are zigzagged
//! first. Opcodes 0xF0..=0xFF are reserved for record prefixes (as Redis reserves them in the RDB), so value types
//! take tags from 0 upwards: a string is [`TAG_STR`] (raw bytes) or [`TAG_INT`] (Redis' `int` encoding). A
//! reader meeting a tag it does not know refuses the whole snapshot rather than dropping
//! keys.
//!
//! Tags are Redis' RDB type numbers where one fits. Hashes and sets keep their encoding, and hash-table
//! encodings their exact layout (the table's shape, then the entries in iteration order), so a restored replica
//! iterates and draws random members (SPOP) exactly as the original:
//! ```text
//! TAG_HASH_PACK   key count:varint slots:u8 (field:bytes value:bytes [deadline:varint])*
//! TAG_HASH_TABLE  key shape count:varint (field:bytes value:bytes deadline:varint)*
//! TAG_SET_INTSET  key width:u8 count:varint member:zigzag-varint*   (ascending)
//! TAG_SET_TABLE   key shape count:varint member:bytes*
//! shape           size0 size1 rehash_idx first_len (varints)
//! deadline        0 for none, else Unix ms + 1
//! ```
//!
//! A list is [`TAG_LIST`] (Redis' RDB number for a quicklist): its encoding (0 `listpack`, 1 `quicklist`), a
//! varint node count, then per node a varint element count and its packed entries as `bytes` (the layout of
//! `list::pack`), so a list comes back with the same nodes and encoding. Every node is checked when read.
//!
//! A sorted set is [`TAG_ZSET`] or [`TAG_ZSET_LISTPACK`] (the numbers of Redis' RDB types for its two encodings,
//! which the load restores exactly) followed by its member count and each (score as an `f64` LE, member as
//! bytes) in order.
//!
//! A stream is [`TAG_STREAM`]: its length, last, first and largest deleted IDs, entries added, its nodes as
//! stored (key ID, live and deleted counts, packed buffer: approximate trimming depends on node boundaries),
//! then each consumer group (name, last ID, entries read, consumers with their seen times, pending entries
//! with delivery time, count and owner); see `types::stream::Stream::encode`. Every node is checked when read.
//! The epoch, the deleted-key buckets and the per-key stamps (written only when non-zero) are WATCH's state
//! (`Keyspace::watch_holds`): replicated, since EXEC decides from them at apply. Version 1 (without them) still
//! loads, with every stamp and the epoch at 0.
//!
//! Every key is written, including keys past their deadline that expiry has not deleted yet: they are part of
//! the replicated state, and a replica restored from the snapshot must be identical to the leader.
//!
//! Writing is split so a caller can hold the keyspace lock only briefly: [`ChunkedDump`] copies the keyspace a
//! chunk at a time (the lock may be released between chunks as long as nothing writes), and
//! [`Unsealed::seal`] computes the checksum afterwards, without the lock. [`dump_unsealed`] is the one-go form.

use std::fmt;

use std::collections::BTreeSet;

use crate::dict::Shape;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, Object, NO_EXPIRE};
use crate::types::hash::{Field, Hash, Table};
use crate::types::intset::IntSet;
use crate::types::listpack::Pack;
use crate::types::set::Set;
use crate::value::Value;
use crate::zset::ZSet;

/// First bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"SHOALSNP";
/// Newest format version this build writes and reads.
pub const VERSION: u16 = 2;

/// Value type tag: a string held as raw bytes.
pub const TAG_STR: u8 = 0;
/// Value type tag: a string held as an `i64`.
pub const TAG_INT: u8 = 1;
/// Value type tag: a set in a hash table (Redis' `RDB_TYPE_SET`).
pub const TAG_SET_TABLE: u8 = 2;
/// Value type tag: a hash in a hash table, with field deadlines (Redis' `RDB_TYPE_HASH`).
pub const TAG_HASH_TABLE: u8 = 4;
/// Value type tag: a set of integers in an intset (Redis' `RDB_TYPE_SET_INTSET`).
pub const TAG_SET_INTSET: u8 = 11;
/// Value type tag: a hash in a listpack, with or without deadline slots (Redis' `RDB_TYPE_HASH_LISTPACK`).
pub const TAG_HASH_PACK: u8 = 16;
/// Value type tag: a list, as its packed nodes.
pub const TAG_LIST: u8 = 18;
/// Value type tag: a sorted set in the `skiplist` encoding (Redis' `RDB_TYPE_ZSET_2`).
pub const TAG_ZSET: u8 = 5;
/// Value type tag: a sorted set in the `listpack` encoding (Redis' `RDB_TYPE_ZSET_LISTPACK`).
pub const TAG_ZSET_LISTPACK: u8 = 17;
/// A stream (Redis' RDB number for `RDB_TYPE_STREAM_LISTPACKS_2`).
pub const TAG_STREAM: u8 = 19;
/// Record prefix: the key's WATCH stamp follows (version 2).
pub const OP_STAMP: u8 = 0xFB;
/// Record prefix: the key's absolute deadline in Unix milliseconds follows.
pub const OP_EXPIRE_MS: u8 = 0xFC;
/// End of the records; the checksum follows.
pub const OP_EOF: u8 = 0xFF;

/// A snapshot that cannot be read: wrong magic, newer version, truncation, corruption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad snapshot: {}", self.0)
    }
}

impl std::error::Error for SnapshotError {}

fn err<T>(msg: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError(msg.into()))
}

/// A snapshot body without its checksum yet.
#[derive(Debug)]
pub struct Unsealed(Vec<u8>);

impl Unsealed {
    /// Size of the body so far, a good capacity hint for the next dump.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the body is empty (never true for a dumped keyspace: it has a header).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the checksum, giving the finished snapshot.
    pub fn seal(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

/// A snapshot written in steps, so a caller can release the keyspace lock between them.
///
/// The walk calls the table's SCAN step for cursors 0, 1, 2, ... up to the bucket count of the (smaller) table:
/// a SCAN step for cursor `c` visits that table's bucket `c` and, mid-resize, every bucket of the larger table
/// that `c` expands to. So over a table whose layout does not change every entry is visited exactly once, and
/// in bucket order, which walks memory far better than SCAN's reverse-binary order. (The layout of a
/// [`crate::dict::Dict`] changes only in inserts, removes, `clear` and explicit rehash steps: never in reads.) So the caller must keep writes out from
/// [`ChunkedDump::new`] to the last [`ChunkedDump::step`]; reads may run between steps. A write that changes
/// the key count or the table size in between is detected and the dump refused; one that only replaces a value
/// is not, which is why the pause is the caller's duty.
#[derive(Debug)]
pub struct ChunkedDump {
    out: Vec<u8>,
    bucket: usize,
    buckets: usize,
    records: u64,
    expected: u64,
    layout: (usize, bool),
    done: bool,
}

/// The keyspace changed while a [`ChunkedDump`] was being written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedDuringDump;

impl fmt::Display for ChangedDuringDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the keyspace was written while a snapshot was being copied")
    }
}

impl std::error::Error for ChangedDuringDump {}

impl ChunkedDump {
    /// Starts a dump of `ks` (writing the header); `capacity` pre-sizes the buffer (the size of the previous
    /// snapshot is a good guess).
    pub fn new(ks: &Keyspace, capacity: usize) -> ChunkedDump {
        let mut out = Vec::with_capacity(capacity.max(64));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        put_varint(&mut out, ks.len() as u64);
        let (epoch, deleted) = ks.watch_state();
        put_varint(&mut out, epoch);
        put_varint(&mut out, deleted.len() as u64);
        for (bucket, e) in deleted {
            put_varint(&mut out, bucket as u64);
            put_varint(&mut out, e);
        }
        let (slots, resizing) = ks.table_layout();
        // Mid-resize the slots are the sum of two powers of two; the smaller is the lowest set bit.
        let buckets = if resizing {
            slots & slots.wrapping_neg()
        } else {
            slots
        };
        ChunkedDump {
            out,
            bucket: 0,
            buckets,
            records: 0,
            expected: ks.len() as u64,
            layout: ks.table_layout(),
            done: ks.is_empty(),
        }
    }

    /// Whether every key has been written.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Keys written so far.
    pub fn keys(&self) -> u64 {
        self.records
    }

    /// Makes room for at least `bytes` more without reallocating: call it without the lock, so that the copy
    /// under the lock never stops to move the whole buffer.
    pub fn reserve(&mut self, bytes: usize) {
        self.out.reserve(bytes);
    }

    /// Writes the next keys, stopping after the bucket where `max_keys` keys or `max_bytes` bytes are reached
    /// (buckets hold about one entry, so a step overshoots by a few keys at most). Returns whether the dump is
    /// complete.
    pub fn step(
        &mut self,
        ks: &Keyspace,
        max_keys: usize,
        max_bytes: usize,
    ) -> Result<bool, ChangedDuringDump> {
        if ks.len() as u64 != self.expected || ks.table_layout() != self.layout {
            return Err(ChangedDuringDump);
        }
        if self.done {
            return Ok(true);
        }
        let start_len = self.out.len();
        let start_records = self.records;
        let out = &mut self.out;
        let records = &mut self.records;
        loop {
            if self.bucket >= self.buckets {
                self.done = true;
                break;
            }
            ks.scan(self.bucket as u64, |key, obj| {
                if obj.stamp != 0 {
                    out.push(OP_STAMP);
                    put_varint(out, u64::from(obj.stamp));
                }
                put_record(out, key, obj);
                *records += 1;
            });
            self.bucket += 1;
            if (*records - start_records) as usize >= max_keys || out.len() - start_len >= max_bytes
            {
                break;
            }
        }
        if self.done && self.records != self.expected {
            return Err(ChangedDuringDump);
        }
        Ok(self.done)
    }

    /// The finished body (all but the checksum); fails if the walk is not complete.
    pub fn finish(mut self) -> Result<Unsealed, ChangedDuringDump> {
        if !self.done || self.records != self.expected {
            return Err(ChangedDuringDump);
        }
        self.out.push(OP_EOF);
        Ok(Unsealed(self.out))
    }
}

/// One key's record as a snapshot holds it (its value, type and deadline): the input of `DEBUG DIGEST`.
pub fn record_bytes(key: &[u8], obj: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    put_record(&mut out, key, obj);
    out
}

fn put_record(out: &mut Vec<u8>, key: &[u8], obj: &Object) {
    if obj.expire_at != NO_EXPIRE {
        out.push(OP_EXPIRE_MS);
        out.extend_from_slice(&obj.expire_at.to_le_bytes());
    }
    match &obj.value {
        Value::Str(s) => {
            out.push(TAG_STR);
            put_bytes(out, key);
            put_bytes(out, s);
        }
        Value::Int(i) => {
            out.push(TAG_INT);
            put_bytes(out, key);
            put_varint(out, zigzag(*i));
        }
        Value::Hash(Hash::Pack(p)) => {
            out.push(TAG_HASH_PACK);
            put_bytes(out, key);
            put_varint(out, p.len() as u64);
            let slots = p.has_deadline_slots();
            out.push(u8::from(slots));
            for e in p.iter() {
                put_bytes(out, e.field);
                put_bytes(out, e.value);
                if slots {
                    put_varint(out, deadline_code(e.expire_at));
                }
            }
        }
        Value::Hash(Hash::Table(t)) => {
            out.push(TAG_HASH_TABLE);
            put_bytes(out, key);
            put_shape(out, t.dict().shape());
            put_varint(out, t.dict().len() as u64);
            for (k, f) in t.dict().iter() {
                put_bytes(out, k);
                put_bytes(out, &f.value);
                put_varint(out, deadline_code(f.expire_at));
            }
        }
        Value::Set(Set::Ints(ints)) => {
            out.push(TAG_SET_INTSET);
            put_bytes(out, key);
            out.push(ints.width_bytes() as u8);
            put_varint(out, ints.len() as u64);
            for v in ints.iter() {
                put_varint(out, zigzag(v));
            }
        }
        Value::Set(Set::Table(d)) => {
            out.push(TAG_SET_TABLE);
            put_bytes(out, key);
            put_shape(out, d.shape());
            put_varint(out, d.len() as u64);
            for (m, _) in d.iter() {
                put_bytes(out, m);
            }
        }
        Value::List(l) => {
            out.push(TAG_LIST);
            put_bytes(out, key);
            out.push(l.is_quicklist() as u8);
            put_varint(out, l.nodes().count() as u64);
            for (raw, count) in l.nodes() {
                put_varint(out, count as u64);
                put_bytes(out, raw);
            }
        }
        Value::ZSet(z) => {
            out.push(match z.encoding() {
                "listpack" => TAG_ZSET_LISTPACK,
                _ => TAG_ZSET,
            });
            put_bytes(out, key);
            put_varint(out, z.len() as u64);
            z.for_range(0, z.len(), false, |score, member| {
                out.extend_from_slice(&score.to_le_bytes());
                put_bytes(out, member);
            });
        }
        Value::Stream(st) => {
            out.push(TAG_STREAM);
            put_bytes(out, key);
            st.encode(out);
        }
    }
}

/// Reads a sorted set's entries and rebuilds it in the encoding its tag names, refusing NaN scores, entries out
/// of order, repeated members and empty sets.
fn read_zset(r: &mut Reader<'_>, tag: u8) -> Result<Value, SnapshotError> {
    let count = r.varint()?;
    if count == 0 {
        return err("empty sorted set");
    }
    // Each entry takes at least 9 bytes, which bounds what a hostile count can reserve.
    let cap = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min((r.buf.len() - r.pos) / 9);
    let mut entries: Vec<(f64, &[u8])> = Vec::with_capacity(cap);
    let mut seen = std::collections::HashSet::with_capacity(cap);
    for _ in 0..count {
        let b = r.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        let score = f64::from_le_bytes(a);
        let member = r.bytes()?;
        if score.is_nan() {
            return err("NaN score in a sorted set");
        }
        if let Some((ps, pm)) = entries.last() {
            if crate::zset::cmp_entry(*ps, pm, score, member) != std::cmp::Ordering::Less {
                return err("sorted set entries out of order");
            }
        }
        if !seen.insert(member) {
            return err("repeated member in a sorted set");
        }
        entries.push((score, member));
    }
    let z = if tag == TAG_ZSET_LISTPACK {
        ZSet::pack_from_sorted(entries.iter().copied())
    } else {
        ZSet::tree_from_sorted(entries.iter().copied())
    };
    Ok(Value::ZSet(z))
}

fn deadline_code(expire_at: i64) -> u64 {
    if expire_at == NO_EXPIRE {
        0
    } else {
        (expire_at as u64).wrapping_add(1)
    }
}

fn put_shape(out: &mut Vec<u8>, shape: Shape) {
    put_varint(out, shape.sizes[0] as u64);
    put_varint(out, shape.sizes[1] as u64);
    put_varint(out, shape.rehash_idx as u64);
    put_varint(out, shape.first_len as u64);
}

/// Writes the whole keyspace into a buffer, all but the checksum, in one go (the same bytes as a
/// [`ChunkedDump`] of the same state). `capacity` pre-sizes the buffer.
pub fn dump_unsealed(ks: &Keyspace, capacity: usize) -> Unsealed {
    let mut d = ChunkedDump::new(ks, capacity);
    // Nothing can change `ks` while it is borrowed here, so neither call can fail.
    match d.step(ks, usize::MAX, usize::MAX) {
        Ok(true) => {}
        other => unreachable!("a dump under one borrow cannot see a change: {other:?}"),
    }
    match d.finish() {
        Ok(u) => u,
        Err(e) => unreachable!("{e}"),
    }
}

/// Writes the whole keyspace as a finished snapshot.
pub fn dump(ks: &Keyspace) -> Vec<u8> {
    dump_unsealed(ks, 0).seal()
}

/// Checks the frame of a snapshot (magic, version, checksum) without decoding records; returns the version.
pub fn verify(data: &[u8]) -> Result<u16, SnapshotError> {
    if data.len() < MAGIC.len() + 2 + 1 + 4 {
        return err("too short");
    }
    if &data[..MAGIC.len()] != MAGIC {
        return err("wrong magic (not a Shoal snapshot)");
    }
    let version = u16::from_le_bytes([data[8], data[9]]);
    if version == 0 || version > VERSION {
        return err(format!(
            "format version {version} is not supported (this build reads up to {VERSION})"
        ));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != want {
        return err("checksum mismatch");
    }
    Ok(version)
}

/// Rebuilds a keyspace from a snapshot, checking everything: checksum, version, tags, lengths, key count.
pub fn load(data: &[u8]) -> Result<Keyspace, SnapshotError> {
    let version = verify(data)?;
    let body = &data[..data.len() - 4];
    let mut r = Reader {
        buf: body,
        pos: MAGIC.len() + 2,
    };
    let count = r.varint()?;
    let mut ks = Keyspace::new();
    if version >= 2 {
        let epoch = r.varint()?;
        let n = r.count()?;
        let mut deleted = Vec::with_capacity(n.min(crate::keyspace::WATCH_BUCKETS));
        for _ in 0..n {
            let bucket = r.usize()?;
            if bucket >= crate::keyspace::WATCH_BUCKETS {
                return err(format!("deleted-key bucket {bucket} out of range"));
            }
            deleted.push((bucket, r.varint()?));
        }
        ks.restore_watch_state(epoch, &deleted);
    }
    // Snapshot keys get an access time of 0: `lru` is not replicated state.
    let ctx = ExecCtx::for_write(0, 0);
    let mut records = 0u64;
    loop {
        let mut op = r.byte()?;
        let mut stamp = 0u32;
        if op == OP_STAMP && version >= 2 {
            stamp = u32::try_from(r.varint()?).or_else(|_| err("stamp out of range"))?;
            op = r.byte()?;
        }
        let mut expire_at = NO_EXPIRE;
        if op == OP_EXPIRE_MS {
            expire_at = r.i64_le()?;
            if expire_at == NO_EXPIRE {
                return err("deadline of -1 written as a deadline");
            }
            op = r.byte()?;
        }
        let value = match op {
            OP_EOF if expire_at == NO_EXPIRE && stamp == 0 => break,
            TAG_STR => {
                let key = r.bytes()?;
                let s = r.bytes()?;
                (key, Value::Str(s.to_vec()))
            }
            TAG_INT => {
                let key = r.bytes()?;
                let i = unzigzag(r.varint()?);
                (key, Value::Int(i))
            }
            TAG_HASH_PACK => {
                let key = r.bytes()?;
                (key, Value::Hash(Hash::Pack(read_pack(&mut r)?)))
            }
            TAG_HASH_TABLE => {
                let key = r.bytes()?;
                (key, Value::Hash(read_hash_table(&mut r)?))
            }
            TAG_SET_INTSET => {
                let key = r.bytes()?;
                (key, Value::Set(Set::Ints(read_intset(&mut r)?)))
            }
            TAG_SET_TABLE => {
                let key = r.bytes()?;
                (key, Value::Set(read_set_table(&mut r)?))
            }
            TAG_LIST => {
                let key = r.bytes()?;
                (key, Value::List(Box::new(r.list()?)))
            }
            TAG_ZSET | TAG_ZSET_LISTPACK => {
                let key = r.bytes()?;
                (key, read_zset(&mut r, op)?)
            }
            TAG_STREAM => {
                let key = r.bytes()?;
                let st = crate::types::stream::Stream::decode(r.buf, &mut r.pos)
                    .map_err(|e| SnapshotError(format!("bad stream: {e}")))?;
                (key, Value::Stream(Box::new(st)))
            }
            other => {
                return err(format!(
                    "unknown record type {other:#04x} at byte {}",
                    r.pos - 1
                ))
            }
        };
        let (key, value) = value;
        ks.set(&ctx, key, value, expire_at);
        if stamp != 0 {
            ks.restore_stamp(key, stamp);
        }
        records += 1;
    }
    if r.pos != body.len() {
        return err("bytes after the end of the records");
    }
    if records != count {
        return err(format!("header says {count} keys, found {records}"));
    }
    if ks.len() as u64 != count {
        return err("duplicate keys");
    }
    Ok(ks)
}

fn read_pack(r: &mut Reader) -> Result<Pack, SnapshotError> {
    let count = r.count()?;
    let slots = match r.byte()? {
        0 => false,
        1 => true,
        _ => return err("bad listpack deadline flag"),
    };
    let mut entries = Vec::new();
    let mut seen = BTreeSet::new();
    for _ in 0..count {
        let field = r.bytes()?;
        let value = r.bytes()?;
        let expire_at = if slots { r.deadline()? } else { NO_EXPIRE };
        if !seen.insert(field) {
            return err("duplicate hash field");
        }
        entries.push((field, value, expire_at));
    }
    Ok(Pack::from_entries(entries.iter().copied(), slots))
}

fn read_hash_table(r: &mut Reader) -> Result<Hash, SnapshotError> {
    let shape = r.shape()?;
    let count = r.count()?;
    let mut fields = Vec::new();
    for _ in 0..count {
        let field = r.bytes()?.to_vec();
        let value = r.bytes()?.into();
        let expire_at = r.deadline()?;
        fields.push((field, Field { value, expire_at }));
    }
    match Table::from_shape(shape, fields) {
        Some(t) => Ok(Hash::Table(Box::new(t))),
        None => err("hash table layout does not match its fields"),
    }
}

fn read_intset(r: &mut Reader) -> Result<IntSet, SnapshotError> {
    let width = usize::from(r.byte()?);
    let count = r.count()?;
    let mut values = Vec::new();
    for _ in 0..count {
        values.push(unzigzag(r.varint()?));
    }
    IntSet::from_sorted_at(&values, width)
        .ok_or_else(|| SnapshotError("intset not ascending or too narrow".into()))
}

fn read_set_table(r: &mut Reader) -> Result<Set, SnapshotError> {
    let shape = r.shape()?;
    let count = r.count()?;
    let mut members = Vec::new();
    for _ in 0..count {
        members.push((r.bytes()?, ()));
    }
    match crate::dict::Dict::from_shape(shape, members, count) {
        Some(d) => Ok(Set::Table(Box::new(d))),
        None => err("set table layout does not match its members"),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, SnapshotError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| SnapshotError("truncated".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.buf.len() - self.pos {
            return err("truncated (a length runs past the end)");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn i64_le(&mut self) -> Result<i64, SnapshotError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    fn varint(&mut self) -> Result<u64, SnapshotError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return err("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint longer than 10 bytes")
    }

    /// An element count, refused when the remaining bytes could not hold that many elements (each takes at
    /// least one byte), so a corrupt count never drives a long loop or a large allocation.
    fn count(&mut self) -> Result<usize, SnapshotError> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return err("truncated (a count runs past the end)");
        }
        Ok(n as usize)
    }

    fn usize(&mut self) -> Result<usize, SnapshotError> {
        usize::try_from(self.varint()?).map_err(|_| SnapshotError("size overflows".into()))
    }

    fn shape(&mut self) -> Result<Shape, SnapshotError> {
        Ok(Shape {
            sizes: [self.usize()?, self.usize()?],
            rehash_idx: self.usize()?,
            first_len: self.usize()?,
        })
    }

    fn deadline(&mut self) -> Result<i64, SnapshotError> {
        match self.varint()? {
            0 => Ok(NO_EXPIRE),
            d if d - 1 <= i64::MAX as u64 => Ok((d - 1) as i64),
            _ => err("field deadline out of range"),
        }
    }

    fn list(&mut self) -> Result<crate::list::List, SnapshotError> {
        let quicklist = match self.byte()? {
            0 => false,
            1 => true,
            other => return err(format!("unknown list encoding {other}")),
        };
        let n = self.varint()?;
        // Nodes are collected as they are read: the count is not trusted for an allocation.
        let mut nodes = Vec::new();
        for _ in 0..n {
            let count = self.varint()?;
            let count =
                usize::try_from(count).map_err(|_| SnapshotError("count overflows".into()))?;
            nodes.push((self.bytes()?.to_vec(), count));
        }
        crate::list::List::from_nodes(quicklist, nodes)
            .map_err(|e| SnapshotError(format!("bad list: {e}")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.varint()?;
        // The length is checked against the bytes present before anything is allocated for it.
        let n = usize::try_from(n).map_err(|_| SnapshotError("length overflows".into()))?;
        self.take(n)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{End, List};

    fn sample() -> Keyspace {
        let mut ks = Keyspace::new();
        let ctx = ExecCtx::for_write(1_000, 0);
        ks.set(&ctx, b"s", Value::Str(b"hello".to_vec()), NO_EXPIRE);
        ks.set(&ctx, b"empty", Value::Str(Vec::new()), NO_EXPIRE);
        ks.set(&ctx, b"", Value::Str(b"empty key".to_vec()), NO_EXPIRE);
        ks.set(&ctx, b"big", Value::Str(vec![0xAB; 100_000]), NO_EXPIRE);
        ks.set(&ctx, b"i", Value::Int(-42), NO_EXPIRE);
        ks.set(&ctx, b"min", Value::Int(i64::MIN), 5_000);
        ks.set(&ctx, b"max", Value::Int(i64::MAX), NO_EXPIRE);
        ks.set(&ctx, b"ttl", Value::Str(b"v".to_vec()), 1_700_000_000_000);
        // Past its deadline but not yet deleted: still part of the state.
        ks.set(&ctx, b"expired", Value::Str(b"x".to_vec()), 500);
        ks.set(
            &ctx,
            b"list",
            Value::List(Box::new(small_list())),
            NO_EXPIRE,
        );
        ks.set(&ctx, b"qlist", Value::List(Box::new(quicklist())), 9_000);
        ks
    }

    fn small_list() -> List {
        let mut l = List::new();
        for e in ["a", "12", "-7", "", "9223372036854775807", "hello world"] {
            l.push(-2, End::Right, e.as_bytes());
        }
        l
    }

    /// A list of many nodes, in the `quicklist` encoding.
    fn quicklist() -> List {
        let mut l = List::new();
        l.prepare_growth(-2, 100_000, 1);
        for i in 0..3000 {
            l.push(-2, End::Left, format!("element:{i}").as_bytes());
            l.push(-2, End::Right, &(i * 1000).to_string().into_bytes());
        }
        l.push(-2, End::Right, &[0xAB; 20_000]);
        assert!(l.is_quicklist() && l.nodes().count() > 5);
        l
    }

    fn entries(ks: &Keyspace) -> Vec<(Vec<u8>, Value, i64)> {
        let mut v: Vec<_> = ks
            .iter()
            .map(|(k, o)| (k.to_vec(), o.value.clone(), o.expire_at))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn round_trip_strings_ints_and_deadlines() {
        let ks = sample();
        let data = dump(&ks);
        let back = load(&data).unwrap();
        assert_eq!(entries(&back), entries(&ks));
        assert_eq!(back.volatile_len(), 4);
        assert_eq!(back.len(), ks.len());
    }

    #[test]
    fn lists_round_trip_with_their_nodes() {
        let back = load(&dump(&sample())).unwrap();
        for (key, want) in [(&b"list"[..], small_list()), (b"qlist", quicklist())] {
            let Some(Value::List(l)) = back.peek(0, key).map(|o| &o.value) else {
                panic!("list missing");
            };
            assert_eq!(**l, want);
            assert_eq!(l.encoding(), want.encoding());
            assert!(l.nodes().eq(want.nodes()), "same node layout");
        }
    }

    /// A snapshot holding one list record whose value part is `value`.
    fn list_snapshot(value: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&1u16.to_le_bytes());
        put_varint(&mut body, 1);
        body.push(TAG_LIST);
        put_bytes(&mut body, b"k");
        body.extend_from_slice(value);
        body.push(OP_EOF);
        Unsealed(body).seal()
    }

    #[test]
    fn malformed_lists_are_refused() {
        let mut good = vec![0, 1];
        put_varint(&mut good, 1);
        put_bytes(&mut good, &[0x81, b'a', 0x02]);
        assert!(load(&list_snapshot(&good)).is_ok());
        // Unknown encoding; no node; an empty node; two nodes in a listpack; a count that disagrees; a
        // backlen that disagrees; a string running past the node; a huge node count with nothing behind it.
        let mut cases: Vec<Vec<u8>> = vec![
            vec![2, 1, 1, 3, 0x81, b'a', 0x02],
            vec![0, 0],
            vec![1, 1, 0, 0],
            vec![0, 2, 1, 3, 0x81, b'a', 0x02, 1, 3, 0x81, b'a', 0x02],
            vec![0, 1, 2, 3, 0x81, b'a', 0x02],
            vec![0, 1, 1, 3, 0x81, b'a', 0x05],
            vec![0, 1, 1, 3, 0x85, b'a', 0x02],
        ];
        let mut huge = vec![1];
        put_varint(&mut huge, u64::MAX);
        cases.push(huge);
        for case in cases {
            let e = load(&list_snapshot(&case)).err().expect("refused");
            assert!(e.0.contains("list") || e.0.contains("truncated"), "{e}");
        }
    }

    #[test]
    fn round_trip_sorted_sets_in_both_encodings() {
        let mut ks = sample();
        let ctx = ExecCtx::for_write(1_000, 0);
        let small: Vec<(f64, &[u8])> = vec![(-1.5, b"a"), (0.0, b""), (2.0, b"b"), (2.0, b"c")];
        ks.set(
            &ctx,
            b"zl",
            Value::ZSet(ZSet::pack_from_sorted(small.iter().copied())),
            NO_EXPIRE,
        );
        let names: Vec<Vec<u8>> = (0..5000).map(|i| format!("m{i:05}").into_bytes()).collect();
        let mut big: Vec<(f64, &[u8])> = names
            .iter()
            .enumerate()
            .map(|(i, m)| ((i / 10) as f64 * 0.1, m.as_slice()))
            .collect();
        big.insert(0, (f64::NEG_INFINITY, b"-inf"));
        big.insert(1, (-0.0, b"-0"));
        big.push((f64::INFINITY, b"inf"));
        let tree = ZSet::tree_from_sorted(big.iter().copied());
        ks.set(&ctx, b"zs", Value::ZSet(tree), 9_000);
        let back = load(&dump(&ks)).unwrap();
        assert_eq!(entries(&back), entries(&ks));
        let enc = |k: &[u8]| back.peek(0, k).map(|o| o.value.encoding());
        assert_eq!(enc(b"zl"), Some("listpack"));
        assert_eq!(enc(b"zs"), Some("skiplist"));
        match back.peek(0, b"zs").map(|o| &o.value) {
            Some(Value::ZSet(z)) => {
                z.check();
                assert!(z
                    .score(b"-0")
                    .is_some_and(|s| s == 0.0 && s.is_sign_negative()));
            }
            other => panic!("{other:?}"),
        }
        // Re-dumping the loaded keyspace gives the same records (the order of keys may differ).
        assert_eq!(entries(&load(&dump(&back)).unwrap()), entries(&ks));
    }

    #[test]
    fn streams_round_trip_with_nodes_groups_and_pending_entries() {
        use crate::cmd::testing::run;
        let mut ks = Keyspace::new();
        ks.config.stream_node_limits.max_entries = 7;
        for i in 1..=50 {
            run(&mut ks, 1_000 + i, &["XADD", "s", "*", "f", &i.to_string()]);
        }
        run(&mut ks, 2_000, &["XDEL", "s", "1010-0", "1020-0"]);
        run(&mut ks, 2_000, &["XGROUP", "CREATE", "s", "g", "0"]);
        run(
            &mut ks,
            2_100,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "a",
                "COUNT",
                "5",
                "STREAMS",
                "s",
                ">",
            ],
        );
        run(
            &mut ks,
            2_200,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "b",
                "COUNT",
                "5",
                "STREAMS",
                "s",
                ">",
            ],
        );
        run(
            &mut ks,
            2_300,
            &["XGROUP", "CREATECONSUMER", "s", "g", "idle"],
        );
        run(
            &mut ks,
            2_300,
            &["XGROUP", "CREATE", "s", "empty", "$", "ENTRIESREAD", "3"],
        );
        run(&mut ks, 2_300, &["XADD", "e", "1-1", "f", "v"]);
        run(&mut ks, 2_300, &["XDEL", "e", "1-1"]);
        let back = load(&dump(&ks)).unwrap();
        assert_eq!(entries(&back), entries(&ks));
        assert_eq!(
            back.get_raw(b"s").map(|o| &o.value),
            ks.get_raw(b"s").map(|o| &o.value)
        );
        // Approximate trimming, which depends on node boundaries, does the same on both.
        let (mut a, mut b) = (ks, back);
        assert_eq!(
            run(&mut a, 3_000, &["XTRIM", "s", "MAXLEN", "~", "20"]),
            run(&mut b, 3_000, &["XTRIM", "s", "MAXLEN", "~", "20"])
        );
        assert_eq!(entries(&a), entries(&b));
        // A damaged stream record is refused, never half loaded.
        let data = dump(&a);
        let body = &data[..data.len() - 4];
        for cut in (MAGIC.len() + 3..body.len()).step_by(7) {
            let mut short = body[..cut].to_vec();
            short.push(OP_EOF);
            assert!(load(&Unsealed(short).seal()).is_err(), "{cut}");
        }
    }

    #[test]
    fn malformed_sorted_sets_are_refused() {
        let zset = |tag: u8, count: u64, items: &[(f64, &[u8])]| {
            let mut body = Vec::new();
            body.extend_from_slice(MAGIC);
            body.extend_from_slice(&1u16.to_le_bytes());
            put_varint(&mut body, 1);
            body.push(tag);
            put_bytes(&mut body, b"z");
            put_varint(&mut body, count);
            for (s, m) in items {
                body.extend_from_slice(&s.to_le_bytes());
                put_bytes(&mut body, m);
            }
            body.push(OP_EOF);
            load(&Unsealed(body).seal()).err().map(|e| e.0)
        };
        assert_eq!(zset(TAG_ZSET, 1, &[(1.0, b"a")]), None);
        assert_eq!(zset(TAG_ZSET_LISTPACK, 1, &[(1.0, b"a")]), None);
        assert!(zset(TAG_ZSET, 0, &[]).unwrap().contains("empty"));
        assert!(zset(TAG_ZSET, 1, &[(f64::NAN, b"a")])
            .unwrap()
            .contains("NaN"));
        assert!(zset(TAG_ZSET, 2, &[(2.0, b"a"), (1.0, b"b")])
            .unwrap()
            .contains("order"));
        assert!(zset(TAG_ZSET_LISTPACK, 2, &[(1.0, b"b"), (1.0, b"a")])
            .unwrap()
            .contains("order"));
        assert!(zset(TAG_ZSET, 2, &[(1.0, b"a"), (2.0, b"a")])
            .unwrap()
            .contains("repeated"));
        assert!(zset(TAG_ZSET, u64::MAX, &[(1.0, b"a")])
            .unwrap()
            .contains("truncated"));
    }

    #[test]
    fn empty_keyspace_round_trips() {
        let data = dump(&Keyspace::new());
        assert_eq!(&data[..8], MAGIC);
        assert!(load(&data).unwrap().is_empty());
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let data = dump(&sample());
        for i in (0..data.len()).step_by(97) {
            let mut bad = data.clone();
            bad[i] ^= 0x10;
            assert!(load(&bad).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn watch_state_round_trips() {
        let mut ks = Keyspace::new();
        let ctx = ExecCtx::for_write(0, 0);
        ks.begin_entry();
        ks.set(&ctx, b"a", Value::Int(1), NO_EXPIRE);
        ks.begin_entry();
        ks.set(&ctx, b"b", Value::Int(2), NO_EXPIRE);
        ks.set(&ctx, b"gone", Value::Int(3), NO_EXPIRE);
        ks.begin_entry();
        ks.remove(b"gone");
        let back = load(&dump(&ks)).unwrap();
        assert_eq!(back.watch_state(), ks.watch_state());
        assert_eq!(back.epoch(), 3);
        assert_eq!(back.get_raw(b"a").unwrap().stamp, 1);
        assert_eq!(back.get_raw(b"b").unwrap().stamp, 2);
        // The restored replica decides a watch as the original does.
        let w = crate::exec::Watched {
            key: bytes::Bytes::from_static(b"gone"),
            epoch: 1,
            live: false,
        };
        assert!(!ks.watch_holds(&w, 0));
        assert!(!back.watch_holds(&w, 0));
    }

    #[test]
    fn truncation_is_detected() {
        let data = dump(&sample());
        for n in [0, 5, 10, 13, data.len() / 2, data.len() - 1] {
            assert!(load(&data[..n]).is_err(), "truncated to {n} accepted");
        }
    }

    #[test]
    fn newer_version_and_unknown_tag_are_refused() {
        let mut data = dump(&sample()).to_vec();
        data[8] = 3;
        let body_len = data.len() - 4;
        let crc = crc32fast::hash(&data[..body_len]);
        data[body_len..].copy_from_slice(&crc.to_le_bytes());
        let e = load(&data).err().expect("refused");
        assert!(e.0.contains("version 3"), "{e}");

        // A well-formed snapshot holding a record of a type this build does not know.
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&1u16.to_le_bytes());
        put_varint(&mut body, 1);
        body.push(9);
        put_bytes(&mut body, b"k");
        body.push(OP_EOF);
        let data = Unsealed(body).seal();
        let e = load(&data).err().expect("refused");
        assert!(e.0.contains("unknown record type 0x09"), "{e}");
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&1u16.to_le_bytes());
        put_varint(&mut body, 1);
        body.push(TAG_STR);
        put_varint(&mut body, u64::MAX);
        body.push(OP_EOF);
        let e = load(&Unsealed(body).seal()).err().expect("refused");
        assert!(e.0.contains("truncated"), "{e}");
    }

    #[test]
    fn wrong_key_count_and_duplicates_are_refused() {
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&1u16.to_le_bytes());
        put_varint(&mut body, 2);
        for _ in 0..2 {
            body.push(TAG_INT);
            put_bytes(&mut body, b"k");
            put_varint(&mut body, zigzag(1));
        }
        body.push(OP_EOF);
        let e = load(&Unsealed(body.clone()).seal()).err().expect("refused");
        assert_eq!(e.0, "duplicate keys");
        body[10] = 3;
        let e = load(&Unsealed(body).seal()).err().expect("refused");
        assert!(e.0.contains("header says 3"), "{e}");
    }

    fn chunked(ks: &Keyspace, max_keys: usize, max_bytes: usize) -> (Vec<u8>, usize) {
        let mut d = ChunkedDump::new(ks, 0);
        let mut steps = 0;
        while !d.is_done() {
            d.reserve(1 << 10);
            steps += 1;
            assert!(steps < 1_000_000, "walk does not end");
            d.step(ks, max_keys, max_bytes).unwrap();
        }
        assert_eq!(d.keys(), ks.len() as u64);
        (d.finish().unwrap().seal(), steps)
    }

    #[test]
    fn chunked_dump_equals_one_go_dump_mid_resize_too() {
        let ctx = ExecCtx::for_write(1_000, 0);
        let mut ks = sample();
        let mut i = 0u64;
        // Stop as soon as a grow is under way, and again once it has finished: the walk must be exact in both.
        for want_rehashing in [false, true, false] {
            while ks.len() < 3000 || ks.table_layout().1 != want_rehashing {
                let v = if i.is_multiple_of(3) {
                    Value::Int(i as i64)
                } else {
                    Value::Str(format!("v{i}").into_bytes())
                };
                let ttl = if i.is_multiple_of(5) {
                    10_000 + i as i64
                } else {
                    NO_EXPIRE
                };
                ks.set(&ctx, format!("k:{i}").as_bytes(), v, ttl);
                i += 1;
            }
            for (max_keys, max_bytes) in [
                (1, usize::MAX),
                (7, usize::MAX),
                (usize::MAX, 64),
                (1000, 1000),
            ] {
                let (data, steps) = chunked(&ks, max_keys, max_bytes);
                assert_eq!(
                    data,
                    dump(&ks),
                    "chunks of {max_keys} keys / {max_bytes} bytes"
                );
                assert!(max_keys > ks.len() || steps > 1);
                assert_eq!(entries(&load(&data).unwrap()), entries(&ks));
            }
        }
    }

    #[test]
    fn chunked_dump_refuses_a_keyspace_written_between_steps() {
        let ctx = ExecCtx::for_write(1_000, 0);
        let mut ks = sample();
        let mut d = ChunkedDump::new(&ks, 0);
        assert_eq!(d.step(&ks, 2, usize::MAX), Ok(false));
        ks.set(&ctx, b"new", Value::Int(1), NO_EXPIRE);
        assert_eq!(d.step(&ks, 2, usize::MAX), Err(ChangedDuringDump));

        // A remove between steps is caught too; the finished walk gives nothing.
        let mut d = ChunkedDump::new(&ks, 0);
        ks.remove(b"new");
        assert_eq!(d.step(&ks, usize::MAX, usize::MAX), Err(ChangedDuringDump));
        assert!(d.finish().is_err(), "an incomplete walk gives no snapshot");
    }

    #[test]
    fn chunked_dump_of_empty_keyspace() {
        let ks = Keyspace::new();
        let d = ChunkedDump::new(&ks, 0);
        assert!(d.is_done());
        assert_eq!(d.finish().unwrap().seal(), dump(&ks));
    }

    /// A keyspace with every hash and set encoding, field deadlines and a table caught mid-resize.
    fn collections() -> Keyspace {
        use crate::cmd::testing::run;
        let mut ks = Keyspace::new();
        let t = 1_000;
        run(
            &mut ks,
            t,
            &["HSET", "hp", "a", "1", "b", "", "", "empty field"],
        );
        run(&mut ks, t, &["HSET", "hx", "a", "1", "b", "2"]);
        run(
            &mut ks,
            t,
            &["HPEXPIREAT", "hx", "5000", "FIELDS", "1", "b"],
        );
        run(&mut ks, t, &["HPERSIST", "hx", "FIELDS", "1", "b"]);
        run(
            &mut ks,
            t,
            &["HPEXPIREAT", "hx", "7000", "FIELDS", "1", "a"],
        );
        let mut i = 0;
        // Grow a table until a resize is under way.
        loop {
            run(
                &mut ks,
                t,
                &["HSET", "ht", &format!("f{i}"), &"v".repeat(i % 70)],
            );
            i += 1;
            let Some(Value::Hash(Hash::Table(tb))) = ks.peek(t, b"ht").map(|o| &o.value) else {
                continue;
            };
            if i > 600 && tb.dict().is_rehashing() {
                break;
            }
        }
        run(
            &mut ks,
            t,
            &["HPEXPIREAT", "ht", "9000", "FIELDS", "2", "f1", "f2"],
        );
        run(&mut ks, t, &["SADD", "si", "1", "-2", "300"]);
        run(&mut ks, t, &["SADD", "sw", "1", "70000", "5"]);
        run(&mut ks, t, &["SREM", "sw", "70000"]);
        for i in 0..100 {
            run(&mut ks, t, &["SADD", "st", &format!("m{i}")]);
        }
        run(&mut ks, t, &["PEXPIREAT", "st", "20000"]);
        ks
    }

    #[test]
    fn hashes_and_sets_round_trip_with_encodings_layouts_and_deadlines() {
        use crate::cmd::testing::run;
        let mut ks = collections();
        let data = dump(&ks);
        let mut back = load(&data).unwrap();
        assert_eq!(entries(&back), entries(&ks));
        // `entries` compares values in iteration order: tables came back with their layout.
        assert_eq!(back.field_volatile_len(), 2);
        for key in ["hp", "hx", "ht", "si", "sw", "st"] {
            let enc = |ks: &mut Keyspace| run(ks, 1_000, &["OBJECT", "ENCODING", key]);
            assert_eq!(enc(&mut back), enc(&mut ks), "{key}");
        }
        let Some(Value::Set(Set::Ints(w))) = back.peek(0, b"sw").map(|o| &o.value) else {
            panic!()
        };
        assert_eq!(w.width_bytes(), 4, "an intset keeps its width");
        // Field deadlines still expire after the restore, and the table keeps drawing the same fields.
        assert_eq!(
            run(&mut back, 8_000, &["HGETALL", "hx"]),
            run(&mut ks, 8_000, &["HGETALL", "hx"])
        );
        assert_eq!(
            run(&mut back, 8_000, &["HTTL", "ht", "FIELDS", "1", "f1"]),
            run(&mut ks, 8_000, &["HTTL", "ht", "FIELDS", "1", "f1"])
        );
        assert_eq!(
            run(&mut back, 1_000, &["HRANDFIELD", "ht", "-50"]),
            run(&mut ks, 1_000, &["HRANDFIELD", "ht", "-50"])
        );
        assert_eq!(
            run(&mut back, 1_000, &["SPOP", "st", "7"]),
            run(&mut ks, 1_000, &["SPOP", "st", "7"])
        );
    }

    #[test]
    fn corrupt_collections_are_refused() {
        fn with_record(record: impl FnOnce(&mut Vec<u8>)) -> Result<Keyspace, SnapshotError> {
            let mut body = Vec::new();
            body.extend_from_slice(MAGIC);
            body.extend_from_slice(&1u16.to_le_bytes());
            put_varint(&mut body, 1);
            record(&mut body);
            body.push(OP_EOF);
            load(&Unsealed(body).seal())
        }
        // A listpack with a duplicate field.
        let e = with_record(|b| {
            b.push(TAG_HASH_PACK);
            put_bytes(b, b"k");
            put_varint(b, 2);
            b.push(0);
            for _ in 0..2 {
                put_bytes(b, b"f");
                put_bytes(b, b"v");
            }
        });
        assert!(e.is_err());
        // A count far beyond the bytes present.
        let e = with_record(|b| {
            b.push(TAG_SET_TABLE);
            put_bytes(b, b"k");
            for v in [4, 0, 0, u32::MAX as u64] {
                put_varint(b, v);
            }
            put_varint(b, u32::MAX as u64);
        });
        assert!(e.err().unwrap().0.contains("truncated"));
        // A table shape that does not match its members.
        let e = with_record(|b| {
            b.push(TAG_SET_TABLE);
            put_bytes(b, b"k");
            for v in [3, 0, 0, 1, 1] {
                put_varint(b, v);
            }
            put_bytes(b, b"m");
        });
        assert!(e.err().unwrap().0.contains("layout"));
        // An intset out of order, or narrower than its members.
        for (width, values) in [(8, [2i64, 1]), (2, [1, 70_000])] {
            let e = with_record(|b| {
                b.push(TAG_SET_INTSET);
                put_bytes(b, b"k");
                b.push(width);
                put_varint(b, 2);
                for v in values {
                    put_varint(b, zigzag(v));
                }
            });
            assert!(e.is_err());
        }
        // A deadline that is not a valid time.
        let e = with_record(|b| {
            b.push(TAG_HASH_PACK);
            put_bytes(b, b"k");
            put_varint(b, 1);
            b.push(1);
            put_bytes(b, b"f");
            put_bytes(b, b"v");
            put_varint(b, u64::MAX);
        });
        assert!(e.is_err());
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for i in [0, 1, -1, 63, -64, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(i)), i);
        }
    }
}
