//! The keyspace as one compact, versioned, checksummed byte string: the Raft snapshot, in the role of Redis' RDB.
//!
//! # Format (version 3)
//! ```text
//! "SHOALSNP"            8-byte magic
//! version               u16, little endian
//! key count             varint (exact: the reader checks it)
//! epoch                 varint: entries applied (version 2)
//! deleted               varint count, then (bucket:varint epoch:varint)* (version 2)
//! migration             (version 3) slots moving out: count, slot*; frozen batch number; frozen keys: count,
//!                       key:bytes*; last batch number; imported: count, (source shard, batch)* (all varints)
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
//! Records come in a canonical order: by hash class (the key's hash modulo the key table's bucket count when the
//! snapshot began), then by key bytes, so the bytes are a function of the state and that count alone.
//!
//! Writing is split so a caller holds the keyspace lock only briefly and writes go on meanwhile:
//! [`SnapshotWalk`] writes the keyspace a step at a time with copy-on-write of the keys it has yet to reach
//! (see [`Cow`]), and [`Unsealed::seal`] computes the checksum afterwards, without the lock. [`dump_unsealed`]
//! is the one-go form.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use crate::dict::{Dict, Shape};
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
pub const VERSION: u16 = 3;

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

/// Limits of one [`SnapshotWalk::step`]: it stops after the class where one of them is reached.
#[derive(Clone, Copy, Debug)]
pub struct StepLimits {
    /// Most keys written.
    pub keys: usize,
    /// Most bytes written.
    pub bytes: usize,
    /// Longest time spent (checked every few classes). Only where the walk pauses depends on it, never what
    /// it writes.
    pub time: Duration,
}

impl StepLimits {
    /// No limit: the rest of the walk in one step.
    pub const NONE: StepLimits = StepLimits {
        keys: usize::MAX,
        bytes: usize::MAX,
        time: Duration::MAX,
    };
}

/// Classes visited between two looks at the clock.
const CLASSES_PER_CLOCK_CHECK: usize = 64;

/// Source of walk ids, so that objects a finished walk stamped are never mistaken for a later walk's.
static NEXT_WALK_ID: AtomicU32 = AtomicU32::new(1);

/// The copy-on-write side of a snapshot being written, kept in the [`Keyspace`] while the walk runs.
///
/// The walk visits the key table by *class*: the hash modulo `classes`, the table's bucket count when the walk
/// began. Classes below `cursor` are written. The first write to a key of a class not yet written first saves
/// the key's record as it was when the walk began, or, for a key absent then, notes the key as new; the walk
/// writes saved records in place of the table's objects for those keys and leaves new keys out. Which classes are done depends only on the hash, never on the table's layout, so
/// the table may grow, shrink and rehash between steps (see [`crate::dict::Dict::visit_class`]).
#[derive(Debug)]
pub struct Cow {
    id: u32,
    classes: usize,
    cursor: usize,
    /// Keys written before the walk reached their class, by class.
    saved: BTreeMap<usize, Vec<Saved>>,
    saved_keys: u64,
    saved_bytes: usize,
    peak_bytes: usize,
    /// The table as it was when `FLUSHALL` emptied the keyspace mid-walk: the walk goes on over it.
    frozen: Option<Dict<Object>>,
}

/// A key a write touched before the walk reached it.
#[derive(Debug)]
enum Saved {
    /// It existed when the walk began: its record as it was then.
    Record(Vec<u8>),
    /// It did not: the walk leaves it out.
    New(Box<[u8]>),
}

impl Saved {
    fn key(&self) -> &[u8] {
        match self {
            Saved::Record(r) => record_key(r),
            Saved::New(k) => k,
        }
    }

    fn bytes(&self) -> usize {
        SAVED_OVERHEAD
            + match self {
                Saved::Record(r) => r.capacity(),
                Saved::New(k) => k.len(),
            }
    }
}

impl Cow {
    /// Saves `key`'s record (or notes it as new) unless the walk already wrote its class or an earlier write
    /// saved it. Called before every change to `key`, insertions included.
    pub(crate) fn before_write(&mut self, data: &Dict<Object>, key: &[u8]) {
        if self.frozen.is_some() {
            return;
        }
        let class = data.hash_of(key) as usize & (self.classes - 1);
        if class < self.cursor {
            return;
        }
        let list = self.saved.entry(class).or_default();
        if list.iter().any(|s| s.key() == key) {
            return;
        }
        let saved = match data.get(key) {
            Some(obj) => {
                let mut rec = Vec::new();
                put_stored(&mut rec, key, obj);
                self.saved_keys += 1;
                Saved::Record(rec)
            }
            None => Saved::New(key.into()),
        };
        self.saved_bytes += saved.bytes();
        self.peak_bytes = self.peak_bytes.max(self.saved_bytes);
        list.push(saved);
    }

    /// Hands the table to the walk, leaving `data` empty: what `FLUSHALL` does while a walk runs.
    pub(crate) fn freeze(&mut self, data: &mut Dict<Object>) {
        if self.frozen.is_none() {
            self.frozen = Some(std::mem::take(data));
        } else {
            data.clear();
        }
    }
}

/// Bytes a saved key costs beyond its buffer: its entry and a share of the map's nodes (an estimate).
const SAVED_OVERHEAD: usize = 32;

/// A snapshot written in steps while writes go on between them: the state at the moment of
/// [`SnapshotWalk::begin`], byte for byte what [`dump`] gives of that state.
///
/// Records come in class order (hash modulo the table's bucket count at the start; see [`Cow`]) and by key
/// bytes within a class, so the bytes depend only on the state and the table's size, not on what was written
/// while the walk ran. Memory besides the output: a write to a key the walk has yet to reach keeps one copy of
/// that key's record until the walk gets there (so at most one extra copy of each key that existed at the
/// start, and far less when writes are spread out); a key created meanwhile keeps a copy of its name until
/// then; a `FLUSHALL` keeps the old table until the walk ends.
#[derive(Debug)]
pub struct SnapshotWalk {
    id: u32,
    out: Vec<u8>,
    classes: usize,
    records: u64,
    expected: u64,
    done: bool,
    /// The copy-on-write state once the walk finished, to be dropped without the lock.
    retired: Option<Box<Cow>>,
    saved_keys: u64,
    peak_bytes: usize,
}

/// The snapshot walk was cancelled (another one began, or the keyspace was replaced), or its records do not add
/// up to the keys it began with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkAborted;

impl fmt::Display for WalkAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the snapshot walk was cancelled or lost track of the keyspace")
    }
}

impl std::error::Error for WalkAborted {}

/// Bucket count of the table, the smaller one mid-resize (there the slots are the sum of two powers of two,
/// and the smaller is the lowest set bit).
fn classes_of(ks: &Keyspace) -> usize {
    let (slots, resizing) = ks.table_layout();
    if resizing {
        slots & slots.wrapping_neg()
    } else {
        slots
    }
}

/// Magic, version, key count and WATCH's state: all of the snapshot before its records.
fn header(out: &mut Vec<u8>, ks: &Keyspace) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    put_varint(out, ks.len() as u64);
    let (epoch, deleted) = ks.watch_state();
    put_varint(out, epoch);
    put_varint(out, deleted.len() as u64);
    for (bucket, e) in deleted {
        put_varint(out, bucket as u64);
        put_varint(out, e);
    }
    let m = &ks.migration;
    put_varint(out, m.out_slots.len() as u64);
    for s in &m.out_slots {
        put_varint(out, u64::from(*s));
    }
    put_varint(out, m.batch);
    put_varint(out, m.frozen.len() as u64);
    for k in &m.frozen {
        put_bytes(out, k);
    }
    put_varint(out, m.last_batch);
    put_varint(out, m.imported.len() as u64);
    for (src, b) in &m.imported {
        put_varint(out, *src);
        put_varint(out, *b);
    }
}

/// Reads the migration state of a version 3 header.
fn read_migration(r: &mut Reader) -> Result<crate::migrate::MigrationState, SnapshotError> {
    let mut m = crate::migrate::MigrationState::default();
    for _ in 0..r.count()? {
        let s = r.varint()?;
        if s >= u64::from(crate::migrate::SLOTS) {
            return err("slot out of range");
        }
        m.out_slots.insert(s as u16);
    }
    m.batch = r.varint()?;
    for _ in 0..r.count()? {
        m.frozen.insert(bytes::Bytes::copy_from_slice(r.bytes()?));
    }
    m.last_batch = r.varint()?;
    for _ in 0..r.count()? {
        let src = r.varint()?;
        m.imported.insert(src, r.varint()?);
    }
    if (m.batch == 0) != m.frozen.is_empty() || m.batch > m.last_batch {
        return err("inconsistent migration state");
    }
    Ok(m)
}

/// Keys with their values and deadlines, in the records' format (a batch of keys moving to another shard):
/// a key count, then each key's record. Missing keys are left out.
pub fn encode_records(ks: &Keyspace, keys: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let present: Vec<(&[u8], &Object)> = keys
        .iter()
        .filter_map(|k| ks.get_raw(k).map(|o| (*k, o)))
        .collect();
    put_varint(&mut out, present.len() as u64);
    for (k, o) in present {
        put_record(&mut out, k, o);
    }
    out
}

/// `DUMP`'s payload: the value as a snapshot record (no key, no deadline), then the format version (u16 LE) and
/// a CRC-32 of everything before it (u32 LE).
pub fn dump_value(obj: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    let bare = Object {
        value: obj.value.clone(),
        expire_at: NO_EXPIRE,
        lru: 0,
        stamp: 0,
    };
    put_record(&mut out, b"", &bare);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Why a `RESTORE` payload is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Wrong footer: another format version, or a checksum mismatch.
    Footer,
    /// The footer is right but the value does not decode.
    Data,
}

/// Decodes [`dump_value`]'s payload.
pub fn restore_value(payload: &[u8]) -> Result<Value, PayloadError> {
    if payload.len() < 7 {
        return Err(PayloadError::Footer);
    }
    let (body, crc) = payload.split_at(payload.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(PayloadError::Footer);
    }
    let (rec, version) = body.split_at(body.len() - 2);
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version == 0 || version > VERSION {
        return Err(PayloadError::Footer);
    }
    let mut r = Reader { buf: rec, pos: 0 };
    let op = r.byte().map_err(|_| PayloadError::Data)?;
    match read_record(&mut r, op) {
        Ok(Some((_, value, NO_EXPIRE))) if r.pos == rec.len() => Ok(value),
        _ => Err(PayloadError::Data),
    }
}

/// Decodes [`encode_records`]' format, checking every record as a snapshot load does.
pub fn decode_records(buf: &[u8]) -> Result<Vec<(Vec<u8>, Value, i64)>, SnapshotError> {
    let mut r = Reader { buf, pos: 0 };
    let n = r.count()?;
    let mut out = Vec::with_capacity(n.min(buf.len()));
    for _ in 0..n {
        let op = r.byte()?;
        let (key, value, expire_at) = read_record(&mut r, op)?
            .ok_or_else(|| SnapshotError("unexpected end of records".into()))?;
        out.push((key.to_vec(), value, expire_at));
    }
    if r.pos != buf.len() {
        return err("bytes after the end of the records");
    }
    Ok(out)
}

/// A key's record as stored in a snapshot: its WATCH stamp when non-zero, then [`put_record`].
fn put_stored(out: &mut Vec<u8>, key: &[u8], obj: &Object) {
    if obj.stamp != 0 {
        out.push(OP_STAMP);
        put_varint(out, u64::from(obj.stamp));
    }
    put_record(out, key, obj);
}

impl SnapshotWalk {
    /// Starts a snapshot of `ks` as it is now (writing the header; O(1)) and makes writes save what they change
    /// until the walk is done. A walk already running is cancelled. `capacity` pre-sizes the output (the
    /// size of the previous snapshot is a good guess).
    pub fn begin(ks: &mut Keyspace, capacity: usize) -> SnapshotWalk {
        let mut out = Vec::with_capacity(capacity.max(64));
        header(&mut out, ks);
        let classes = classes_of(ks);
        let id = loop {
            let id = NEXT_WALK_ID.fetch_add(1, AtomicOrdering::Relaxed);
            if id != 0 {
                break id;
            }
        };
        let done = ks.is_empty();
        let (_, cow) = ks.cow_parts();
        *cow = (!done).then(|| {
            Box::new(Cow {
                id,
                classes,
                cursor: 0,
                saved: BTreeMap::new(),
                saved_keys: 0,
                saved_bytes: 0,
                peak_bytes: 0,
                frozen: None,
            })
        });
        SnapshotWalk {
            id,
            out,
            classes,
            records: 0,
            expected: ks.len() as u64,
            done,
            retired: None,
            saved_keys: 0,
            peak_bytes: 0,
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

    /// Keys whose record a write saved before the walk reached them.
    pub fn saved_keys(&self) -> u64 {
        self.saved_keys
    }

    /// Most bytes the saved records held at once (an estimate: buffers plus bookkeeping).
    pub fn saved_peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Makes room for at least `bytes` more without reallocating: call it without the lock, so that a step
    /// under the lock never stops to move the whole buffer.
    pub fn reserve(&mut self, bytes: usize) {
        self.out.reserve(bytes);
    }

    /// Writes the next classes of keys until a limit is reached; returns whether the walk is complete (and
    /// then writes no longer save anything).
    pub fn step(&mut self, ks: &mut Keyspace, limits: StepLimits) -> Result<bool, WalkAborted> {
        if self.done {
            return Ok(true);
        }
        let (data, slot) = ks.cow_parts();
        let Some(cow) = slot.as_deref_mut().filter(|c| c.id == self.id) else {
            return Err(WalkAborted);
        };
        let started = Instant::now();
        let start_len = self.out.len();
        let start_records = self.records;
        let Cow {
            cursor,
            saved,
            saved_bytes,
            frozen,
            ..
        } = cow;
        let table = frozen.as_ref().unwrap_or(data);
        let mut group: Vec<(&[u8], &Object)> = Vec::new();
        while *cursor < self.classes {
            let class = *cursor;
            group.clear();
            table.visit_class(class, self.classes, |k, o| group.push((k, o)));
            let mine = match saved.first_key_value() {
                Some((&c, _)) if c == class => saved.remove(&class).unwrap_or_default(),
                _ => Vec::new(),
            };
            if mine.is_empty() {
                if group.len() > 1 {
                    group.sort_unstable_by(|a, b| a.0.cmp(b.0));
                }
                for (k, o) in &group {
                    put_stored(&mut self.out, k, o);
                }
                self.records += group.len() as u64;
            } else {
                // The table's objects of keys no write touched, and the saved records, merged by key.
                let mut all: Vec<(&[u8], Option<&Object>, &[u8])> = group
                    .iter()
                    .filter(|(k, _)| !mine.iter().any(|s| s.key() == *k))
                    .map(|&(k, o)| (k, Some(o), &[][..]))
                    .chain(mine.iter().filter_map(|s| match s {
                        Saved::Record(r) => Some((record_key(r), None, &r[..])),
                        Saved::New(_) => None,
                    }))
                    .collect();
                all.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (k, o, r) in &all {
                    match o {
                        Some(o) => put_stored(&mut self.out, k, o),
                        None => self.out.extend_from_slice(r),
                    }
                }
                self.records += all.len() as u64;
                *saved_bytes -= mine.iter().map(Saved::bytes).sum::<usize>();
            }
            *cursor += 1;
            if (self.records - start_records) as usize >= limits.keys
                || self.out.len() - start_len >= limits.bytes
                || (class % CLASSES_PER_CLOCK_CHECK == CLASSES_PER_CLOCK_CHECK - 1
                    && started.elapsed() >= limits.time)
            {
                break;
            }
        }
        if *cursor < self.classes {
            return Ok(false);
        }
        // Done: writes stop saving. The state (a frozen table maybe) is dropped by the caller, unlocked.
        self.done = true;
        self.retired = slot.take();
        if let Some(c) = &self.retired {
            self.saved_keys = c.saved_keys;
            self.peak_bytes = c.peak_bytes;
        }
        if self.records != self.expected {
            return Err(WalkAborted);
        }
        Ok(true)
    }

    /// Cancels the walk: writes stop saving for it. Does nothing if another walk replaced it.
    pub fn abort(&mut self, ks: &mut Keyspace) {
        let (_, slot) = ks.cow_parts();
        if slot.as_ref().is_some_and(|c| c.id == self.id) {
            self.retired = slot.take();
        }
        self.done = true;
        self.expected = u64::MAX;
    }

    /// Frees what the walk kept for writes (call it without the lock: it may hold a whole old table).
    pub fn release(&mut self) {
        self.retired = None;
    }

    /// The finished body (all but the checksum); fails if the walk did not complete.
    pub fn finish(mut self) -> Result<Unsealed, WalkAborted> {
        if !self.done || self.records != self.expected {
            return Err(WalkAborted);
        }
        self.out.push(OP_EOF);
        Ok(Unsealed(std::mem::take(&mut self.out)))
    }
}

/// The key of a record written by [`put_record`].
fn record_key(rec: &[u8]) -> &[u8] {
    // The record was written by `put_stored`, so it parses.
    let mut r = Reader { buf: rec, pos: 0 };
    if rec.first() == Some(&OP_STAMP) {
        r.pos = 1;
        let _stamp = r.varint();
    }
    if rec.get(r.pos) == Some(&OP_EXPIRE_MS) {
        r.pos += 9;
    }
    let _tag = r.byte();
    r.bytes().unwrap_or_default()
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
/// [`SnapshotWalk`] of the same state). `capacity` pre-sizes the buffer.
pub fn dump_unsealed(ks: &Keyspace, capacity: usize) -> Unsealed {
    let mut out = Vec::with_capacity(capacity.max(64));
    header(&mut out, ks);
    let classes = classes_of(ks);
    let mut group: Vec<(&[u8], &Object)> = Vec::new();
    if !ks.is_empty() {
        for class in 0..classes {
            group.clear();
            ks.visit_class(class, classes, |k, o| group.push((k, o)));
            group.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (k, o) in &group {
                put_stored(&mut out, k, o);
            }
        }
    }
    out.push(OP_EOF);
    Unsealed(out)
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
    if version >= 3 {
        ks.migration = read_migration(&mut r)?;
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
        if op == OP_EOF && stamp == 0 {
            break;
        }
        let Some((key, value, expire_at)) = read_record(&mut r, op)? else {
            return err("end of records after a record prefix");
        };
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

/// A decoded record: key, value, deadline.
type Record<'a> = (&'a [u8], Value, i64);

/// One record, from its first byte `op` on (after any stamp): key, value, deadline. `None` at the end mark.
fn read_record<'a>(r: &mut Reader<'a>, mut op: u8) -> Result<Option<Record<'a>>, SnapshotError> {
    let mut expire_at = NO_EXPIRE;
    if op == OP_EXPIRE_MS {
        expire_at = r.i64_le()?;
        if expire_at == NO_EXPIRE {
            return err("deadline of -1 written as a deadline");
        }
        op = r.byte()?;
    }
    let value = match op {
        OP_EOF => return Ok(None),
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
            (key, Value::Hash(Hash::Pack(read_pack(r)?)))
        }
        TAG_HASH_TABLE => {
            let key = r.bytes()?;
            (key, Value::Hash(read_hash_table(r)?))
        }
        TAG_SET_INTSET => {
            let key = r.bytes()?;
            (key, Value::Set(Set::Ints(read_intset(r)?)))
        }
        TAG_SET_TABLE => {
            let key = r.bytes()?;
            (key, Value::Set(read_set_table(r)?))
        }
        TAG_LIST => {
            let key = r.bytes()?;
            (key, Value::List(Box::new(r.list()?)))
        }
        TAG_ZSET | TAG_ZSET_LISTPACK => {
            let key = r.bytes()?;
            (key, read_zset(r, op)?)
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
    Ok(Some((key, value, expire_at)))
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
        data[8] = 4;
        let body_len = data.len() - 4;
        let crc = crc32fast::hash(&data[..body_len]);
        data[body_len..].copy_from_slice(&crc.to_le_bytes());
        let e = load(&data).err().expect("refused");
        assert!(e.0.contains("version 4"), "{e}");

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
    fn migration_state_round_trips_and_version_2_still_loads() {
        let mut ks = sample();
        ks.migration.out_slots.extend([5, 16383]);
        ks.migration.batch = 3;
        ks.migration.last_batch = 3;
        ks.migration.frozen.insert(bytes::Bytes::from_static(b"s"));
        ks.migration.imported.insert(2, 9);
        let back = load(&dump(&ks)).unwrap();
        assert_eq!(back.migration, ks.migration);
        assert_eq!(dump(&back), dump(&ks));
        // A batch number without keys is refused.
        ks.migration.frozen.clear();
        assert!(load(&dump(&ks)).is_err());

        // Version 2: no migration state.
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&2u16.to_le_bytes());
        put_varint(&mut body, 1);
        put_varint(&mut body, 7);
        put_varint(&mut body, 0);
        body.push(TAG_STR);
        put_bytes(&mut body, b"k");
        put_bytes(&mut body, b"v");
        body.push(OP_EOF);
        let back = load(&Unsealed(body).seal()).unwrap();
        assert!(back.migration.is_empty());
        assert!(back.get_raw(b"k").is_some());

        // A batch of records.
        let ks = sample();
        let keys: Vec<&[u8]> = ks.iter().map(|(k, _)| k).collect();
        let records = decode_records(&encode_records(&ks, &keys)).unwrap();
        assert_eq!(records.len(), ks.len());
        for (k, v, expire_at) in &records {
            let o = ks.get_raw(k).unwrap();
            assert_eq!(o.expire_at, *expire_at);
            assert_eq!(record_bytes(k, o), {
                let mut out = Vec::new();
                put_record(
                    &mut out,
                    k,
                    &Object {
                        value: v.clone(),
                        expire_at: *expire_at,
                        lru: 0,
                        stamp: 0,
                    },
                );
                out
            });
        }
        let enc = encode_records(&ks, &keys);
        for cut in 0..enc.len() {
            assert!(decode_records(&enc[..cut]).is_err());
        }
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

    fn limits(keys: usize, bytes: usize) -> StepLimits {
        StepLimits {
            keys,
            bytes,
            time: Duration::MAX,
        }
    }

    fn walked(ks: &mut Keyspace, max_keys: usize, max_bytes: usize) -> (Vec<u8>, usize) {
        let mut d = SnapshotWalk::begin(ks, 0);
        let mut steps = 0;
        while !d.is_done() {
            d.reserve(1 << 10);
            steps += 1;
            assert!(steps < 1_000_000, "walk does not end");
            d.step(ks, limits(max_keys, max_bytes)).unwrap();
        }
        assert_eq!(d.keys(), ks.len() as u64);
        assert_eq!(d.saved_keys(), 0);
        (d.finish().unwrap().seal(), steps)
    }

    #[test]
    fn walk_equals_one_go_dump_mid_resize_too() {
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
                let (data, steps) = walked(&mut ks, max_keys, max_bytes);
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
    fn walk_of_empty_keyspace() {
        let mut ks = Keyspace::new();
        let d = SnapshotWalk::begin(&mut ks, 0);
        assert!(d.is_done());
        assert_eq!(d.finish().unwrap().seal(), dump(&ks));
        // Nothing is left for writes to save into.
        ks.set(&ExecCtx::for_write(0, 0), b"k", Value::Int(1), NO_EXPIRE);
        assert!(ks.cow_parts().1.is_none());
    }

    /// A small deterministic generator for the write mixes below.
    struct Mix(u64);

    impl Mix {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// One random write: modify in place (through `lookup`, as commands do), replace, delete, add, expire,
    /// rename, or a field deadline purge.
    fn random_write(ks: &mut Keyspace, ctx: &ExecCtx, mix: &mut Mix, keys: u64) {
        // Each write its own entry, so stamps (WATCH's state, in the snapshot too) change as well.
        ks.begin_entry();
        let k = format!("k:{}", mix.below(keys + keys / 2)).into_bytes();
        match mix.below(8) {
            0 => {
                if let Some(o) = ks.lookup(ctx, &k) {
                    match &mut o.value {
                        Value::Str(s) => s.extend_from_slice(b"+appended"),
                        Value::Int(i) => *i = i.wrapping_add(1),
                        _ => {}
                    }
                    ks.touch(&k);
                }
            }
            1 => ks.set(ctx, &k, Value::Str(b"replaced".to_vec()), NO_EXPIRE),
            2 | 3 => {
                ks.remove(&k);
            }
            4 => ks.set(ctx, &k, Value::Int(mix.below(1000) as i64), 50_000),
            5 => {
                ks.set_expire(ctx, &k, 90_000);
            }
            6 => {
                let to = format!("k:{}", mix.below(keys * 2)).into_bytes();
                ks.rename(ctx, &k, &to);
            }
            _ => {
                ks.persist(ctx, &k);
            }
        }
    }

    fn filled(keys: u64) -> Keyspace {
        let ctx = ExecCtx::for_write(1_000, 0);
        let mut ks = Keyspace::new();
        for i in 0..keys {
            let v = if i % 3 == 0 {
                Value::Int(i as i64)
            } else {
                Value::Str(format!("value {i}").into_bytes())
            };
            ks.set(&ctx, format!("k:{i}").as_bytes(), v, NO_EXPIRE);
        }
        ks
    }

    /// The heart of copy-on-write: whatever writes run between steps (keys changed in place, replaced,
    /// deleted, added, renamed, the table growing, shrinking and rehashing under the walk), the walk gives the
    /// exact bytes a one-go dump gave at its start.
    #[test]
    fn walk_is_the_state_at_its_start_whatever_writes_run_during_it() {
        let ctx = ExecCtx::for_write(2_000, 0);
        for (seed, keys, writes_per_step, max_keys) in [
            (1u64, 2_000u64, 5u64, 50usize),
            (2, 2_000, 40, 10),
            (3, 500, 200, 7),
            (4, 3_000, 1, 1),
            (5, 1_000, 1_000, 100),
        ] {
            let mut ks = filled(keys);
            let mut mix = Mix(seed);
            let before = dump(&ks);
            let before_entries = entries(&ks);
            let mut walk = SnapshotWalk::begin(&mut ks, 0);
            let mut steps = 0;
            while !walk.is_done() {
                for _ in 0..writes_per_step {
                    random_write(&mut ks, &ctx, &mut mix, keys);
                }
                walk.step(&mut ks, limits(max_keys, usize::MAX)).unwrap();
                steps += 1;
            }
            assert!(steps > 5, "seed {seed}: {steps} steps");
            assert!(walk.saved_keys() > 0, "seed {seed}: no write was copied");
            let data = walk.finish().unwrap().seal();
            assert!(
                data == before,
                "seed {seed}: the walk is not the state at its start"
            );
            assert_eq!(entries(&load(&data).unwrap()), before_entries);
            // Writes after the walk save nothing.
            random_write(&mut ks, &ctx, &mut mix, keys);
            assert!(ks.cow_parts().1.is_none());
        }
    }

    /// Deleting most keys mid-walk shrinks the table (and adding many grows it) under the walk.
    #[test]
    fn walk_survives_shrinking_and_growing_tables() {
        let ctx = ExecCtx::for_write(2_000, 0);
        let mut ks = filled(4_000);
        let before = dump(&ks);
        let (size0, _) = ks.table_layout();
        let mut walk = SnapshotWalk::begin(&mut ks, 0);
        walk.step(&mut ks, limits(100, usize::MAX)).unwrap();
        for i in 0..3_900 {
            ks.remove(format!("k:{i}").as_bytes());
        }
        let (small, _) = ks.table_layout();
        assert!(
            small < size0,
            "the table did not shrink: {small} vs {size0}"
        );
        walk.step(&mut ks, limits(100, usize::MAX)).unwrap();
        for i in 0..20_000 {
            ks.set(
                &ctx,
                format!("new:{i}").as_bytes(),
                Value::Int(i),
                NO_EXPIRE,
            );
        }
        assert!(ks.table_layout().0 > size0, "the table did not grow");
        while !walk.step(&mut ks, limits(100, usize::MAX)).unwrap() {
            ks.set(&ctx, b"k:3999", Value::Int(-1), NO_EXPIRE);
        }
        assert!(walk.finish().unwrap().seal() == before);
    }

    #[test]
    fn flushall_during_a_walk_keeps_the_old_table_for_it() {
        let ctx = ExecCtx::for_write(2_000, 0);
        let mut ks = filled(2_000);
        let before = dump(&ks);
        let mut walk = SnapshotWalk::begin(&mut ks, 0);
        walk.step(&mut ks, limits(300, usize::MAX)).unwrap();
        ks.remove(b"k:1999");
        ks.clear();
        ks.set(&ctx, b"k:5", Value::Int(5), NO_EXPIRE);
        assert_eq!(ks.len(), 1);
        while !walk.step(&mut ks, limits(300, usize::MAX)).unwrap() {
            ks.clear();
            ks.set(&ctx, b"k:7", Value::Int(7), NO_EXPIRE);
        }
        walk.release();
        assert!(walk.finish().unwrap().seal() == before);
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn a_new_walk_cancels_the_running_one() {
        let mut ks = filled(1_000);
        let mut first = SnapshotWalk::begin(&mut ks, 0);
        first.step(&mut ks, limits(10, usize::MAX)).unwrap();
        let mut second = SnapshotWalk::begin(&mut ks, 0);
        assert_eq!(
            first.step(&mut ks, limits(10, usize::MAX)),
            Err(WalkAborted)
        );
        assert!(first.finish().is_err());
        second.abort(&mut ks);
        assert!(ks.cow_parts().1.is_none());
        assert!(
            second.finish().is_err(),
            "an aborted walk gives no snapshot"
        );
        // A keyspace replaced under the walk (a snapshot installed) fails it too.
        let mut third = SnapshotWalk::begin(&mut ks, 0);
        let mut other = filled(10);
        assert_eq!(third.step(&mut other, StepLimits::NONE), Err(WalkAborted));
    }

    /// A write to a key the walk has not reached copies it once, and the copy goes when the walk passes it.
    #[test]
    fn saved_records_are_counted_once_and_freed() {
        let ctx = ExecCtx::for_write(2_000, 0);
        let mut ks = filled(1_000);
        let mut walk = SnapshotWalk::begin(&mut ks, 0);
        for _ in 0..3 {
            for i in 0..1_000 {
                ks.set(&ctx, format!("k:{i}").as_bytes(), Value::Int(0), NO_EXPIRE);
            }
        }
        {
            let (_, cow) = ks.cow_parts();
            let c = cow.as_deref().unwrap();
            assert_eq!(c.saved_keys, 1_000);
            assert!(c.saved_bytes > 0);
        }
        walk.step(&mut ks, StepLimits::NONE).unwrap();
        assert_eq!(walk.saved_keys(), 1_000);
        assert!(walk.saved_peak_bytes() >= 1_000 * SAVED_OVERHEAD);
        let retired = walk.retired.as_deref().unwrap();
        assert_eq!(
            retired.saved_bytes, 0,
            "every saved record was written and freed"
        );
        assert!(retired.saved.is_empty());
    }

    #[test]
    fn record_key_reads_back_the_key() {
        let ks = sample();
        for (k, o) in ks.iter() {
            assert_eq!(record_key(&record_bytes(k, o)), k);
            let mut stamped = o.clone();
            stamped.stamp = 300;
            let mut rec = Vec::new();
            put_stored(&mut rec, k, &stamped);
            assert_eq!(rec[0], OP_STAMP);
            assert_eq!(record_key(&rec), k);
        }
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
