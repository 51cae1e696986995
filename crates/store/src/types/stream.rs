//! Streams (Redis' `t_stream.c` data structure): entries ordered by 128-bit IDs, kept in nodes of packed
//! entries indexed by a B-tree on each node's first ID (Redis' rax of listpacks), plus the consumer groups with
//! their pending entries lists.
//!
//! A node holds up to `stream-node-max-entries` entries (and about `stream-node-max-bytes` bytes) in one buffer:
//! the fields of its first entry ("master fields"), then each entry as a flags byte, its ID as deltas from the
//! node's key, and its values alone when its fields are the master fields (the common case of a stream whose
//! entries share a shape), or its fields and values otherwise. Deleting an entry only sets its flag; a node
//! whose entries are all deleted is dropped. The node layout is part of the replicated state: approximate
//! trimming (`MAXLEN ~`) removes whole nodes, so snapshots keep nodes exactly as they are.
//!
//! Every time here (delivery times, consumers' seen times) comes from the entry that made the change, never
//! from a clock, so replicas hold identical groups.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::{get_varint, heap_bytes, put_varint};

/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, `None` past the largest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, `None` before `0-0`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Whether this is `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The `ms-seq` text of the ID.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(format!("{}-{}", self.ms, self.seq))
    }
}

/// Entry flag: deleted (a tombstone kept until its node goes).
const DELETED: u8 = 1;
/// Entry flag: the entry's fields are its node's master fields (only values are stored).
const SAME_FIELDS: u8 = 2;

/// Default `stream-node-max-bytes`.
pub const NODE_MAX_BYTES: usize = 4096;
/// Default `stream-node-max-entries`.
pub const NODE_MAX_ENTRIES: usize = 100;
/// Largest node and largest entry (Redis' `STREAM_LISTPACK_MAX_SIZE`).
pub const NODE_HARD_LIMIT: usize = 1 << 30;

/// One node: packed entries sharing a master-field list.
#[derive(Clone, Debug, PartialEq, Default)]
struct Node {
    /// master field count, master fields, then entries (see the module doc).
    buf: Vec<u8>,
    live: u32,
    deleted: u32,
}

/// One decoded entry of a node.
struct Raw<'a> {
    id: StreamId,
    flags_at: usize,
    deleted: bool,
    /// Field/value pairs.
    pairs: Vec<(&'a [u8], &'a [u8])>,
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let n = get_varint(buf, pos) as usize;
    let end = pos.checked_add(n).filter(|&e| e <= buf.len())?;
    let s = &buf[*pos..end];
    *pos = end;
    Some(s)
}

impl Node {
    /// A node whose master fields are `fields`.
    fn new(fields: &[&[u8]]) -> Node {
        let mut buf = Vec::new();
        put_varint(&mut buf, fields.len() as u64);
        for f in fields {
            put_bytes(&mut buf, f);
        }
        Node {
            buf,
            live: 0,
            deleted: 0,
        }
    }

    /// The master fields and where the entries start; `None` for a corrupt buffer.
    fn master(&self) -> Option<(Vec<&[u8]>, usize)> {
        let mut pos = 0;
        let n = get_varint(&self.buf, &mut pos) as usize;
        if n > self.buf.len() {
            return None;
        }
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push(get_bytes(&self.buf, &mut pos)?);
        }
        Some((fields, pos))
    }

    fn append(&mut self, key: StreamId, id: StreamId, pairs: &[(&[u8], &[u8])]) {
        let same = self.master().is_some_and(|(m, _)| {
            m.len() == pairs.len() && m.iter().zip(pairs).all(|(a, (f, _))| *a == *f)
        });
        self.buf.push(if same { SAME_FIELDS } else { 0 });
        let ms_delta = id.ms - key.ms;
        put_varint(&mut self.buf, ms_delta);
        put_varint(
            &mut self.buf,
            if ms_delta == 0 {
                id.seq - key.seq
            } else {
                id.seq
            },
        );
        if same {
            for (_, v) in pairs {
                put_bytes(&mut self.buf, v);
            }
        } else {
            put_varint(&mut self.buf, pairs.len() as u64);
            for (f, v) in pairs {
                put_bytes(&mut self.buf, f);
                put_bytes(&mut self.buf, v);
            }
        }
        self.live += 1;
    }

    /// Every entry, deleted ones included, in order; `None` for a corrupt buffer.
    fn entries(&self, key: StreamId) -> Option<Vec<Raw<'_>>> {
        let mut out = Vec::with_capacity((self.live + self.deleted) as usize);
        self.each_entry(key, |e| {
            out.push(e);
            true
        })?;
        Some(out)
    }

    /// Decodes the entries in order, deleted ones included, until `f` returns false: a range that needs a few
    /// entries of a node decodes only those. `None` for a corrupt buffer.
    fn each_entry<'a>(&'a self, key: StreamId, mut f: impl FnMut(Raw<'a>) -> bool) -> Option<()> {
        let (master, mut pos) = self.master()?;
        let buf = &self.buf[..];
        while pos < buf.len() {
            let flags_at = pos;
            let flags = buf[pos];
            pos += 1;
            let ms_delta = get_varint(buf, &mut pos);
            let seq = get_varint(buf, &mut pos);
            let id = if ms_delta == 0 {
                StreamId::new(key.ms, key.seq.checked_add(seq)?)
            } else {
                StreamId::new(key.ms.checked_add(ms_delta)?, seq)
            };
            let pairs = if flags & SAME_FIELDS != 0 {
                let mut p = Vec::with_capacity(master.len());
                for f in &master {
                    p.push((*f, get_bytes(buf, &mut pos)?));
                }
                p
            } else {
                let n = get_varint(buf, &mut pos) as usize;
                if n > buf.len() {
                    return None;
                }
                let mut p = Vec::with_capacity(n);
                for _ in 0..n {
                    let f = get_bytes(buf, &mut pos)?;
                    p.push((f, get_bytes(buf, &mut pos)?));
                }
                p
            };
            let more = f(Raw {
                id,
                flags_at,
                deleted: flags & DELETED != 0,
                pairs,
            });
            if !more {
                break;
            }
        }
        Some(())
    }
}

/// An entry as commands see it.
pub type Pairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// A pending entry: delivered to a consumer, not acknowledged yet (Redis' `streamNACK`).
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    /// When it was last delivered (the delivering entry's time, ms).
    pub delivery_time: i64,
    /// How many times it was delivered.
    pub delivery_count: u64,
    /// Its owner.
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Consumer {
    /// When it last read or claimed (ms).
    pub seen_time: i64,
    /// The IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// `entries_read` of a group whose read counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The last ID delivered to a consumer with `>`.
    pub last_id: StreamId,
    /// How many entries the group has read (its logical position), or [`ENTRIES_READ_INVALID`].
    pub entries_read: i64,
    /// Pending entries of every consumer, by ID.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// A group positioned after `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer named `name`, created (seen at `now`) if absent; its seen time becomes `now` when
    /// `refresh`. Returns whether it was created.
    pub fn consumer(&mut self, name: &[u8], now: i64, refresh: bool) -> bool {
        if let Some(c) = self.consumers.get_mut(name) {
            if refresh {
                c.seen_time = now;
            }
            false
        } else {
            self.consumers.insert(
                Bytes::copy_from_slice(name),
                Consumer {
                    seen_time: now,
                    pel: BTreeSet::new(),
                },
            );
            true
        }
    }

    /// Removes `id` from the PEL (and its owner's); returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `consumer` (which must exist) the owner of the pending `id`.
    pub fn give(&mut self, id: StreamId, consumer: &Bytes) {
        let Some(n) = self.pel.get_mut(&id) else {
            return;
        };
        if n.consumer != *consumer {
            let old = std::mem::replace(&mut n.consumer, consumer.clone());
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Deletes a consumer and its pending entries; returns how many it had, `None` if absent.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// The stored name of consumer `name` (shared with its PEL entries).
    pub fn consumer_name(&self, name: &[u8]) -> Option<Bytes> {
        self.consumers.get_key_value(name).map(|(k, _)| k.clone())
    }
}

/// How an XADD or XTRIM trims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// Nothing.
    None,
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Keep no entry below this ID.
    MinId(StreamId),
}

/// Node size limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// Bytes a node may reach before a new one starts (0: no limit but the hard one).
    pub max_bytes: usize,
    /// Entries (deleted included) a node holds before a new one starts (0: no limit).
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: NODE_MAX_BYTES,
            max_entries: NODE_MAX_ENTRIES,
        }
    }
}

/// A stream.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    /// The ID of the last entry ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID as last recorded (Redis' `first_id`), `0-0` when empty.
    pub first_id: StreamId,
    /// The largest ID ever deleted by XDEL (or set by XSETID).
    pub max_deleted_id: StreamId,
    /// How many entries were ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Bytes, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Live entries.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (`radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with ID `id` (greater than [`Stream::last_id`], checked by the caller).
    pub fn append(&mut self, id: StreamId, pairs: &[(&[u8], &[u8])], limits: NodeLimits) {
        let size: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > NODE_HARD_LIMIT {
            NODE_HARD_LIMIT
        } else {
            limits.max_bytes
        };
        let tail_full = match self.nodes.last_key_value() {
            None => true,
            Some((_, n)) => {
                n.buf.len() + size >= max_bytes
                    || (limits.max_entries > 0
                        && (n.live + n.deleted) as usize >= limits.max_entries)
            }
        };
        if tail_full {
            if let Some(mut e) = self.nodes.last_entry() {
                e.get_mut().buf.shrink_to_fit();
            }
            let fields: Vec<&[u8]> = pairs.iter().map(|(f, _)| *f).collect();
            self.nodes.insert(id, Node::new(&fields));
        }
        if let Some(mut e) = self.nodes.last_entry() {
            let key = *e.key();
            e.get_mut().append(key, id, pairs);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// Calls `f` with each live entry from `start` to `end` inclusive (descending when `rev`) until it returns
    /// false.
    pub fn range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, Pairs<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            let first = self.nodes.range(..=start).next_back().map(|(k, _)| *k);
            let from = first.unwrap_or(start);
            for (key, node) in self.nodes.range(from..=end) {
                let mut done = false;
                let decoded = node.each_entry(*key, |e| {
                    done = e.id > end || (!e.deleted && e.id >= start && !f(e.id, e.pairs));
                    !done
                });
                if done || decoded.is_none() {
                    return;
                }
            }
        } else {
            for (key, node) in self.nodes.range(..=end).rev() {
                let Some(entries) = node.entries(*key) else {
                    return;
                };
                for e in entries.into_iter().rev() {
                    if e.id < start {
                        return;
                    }
                    if e.deleted || e.id > end {
                        continue;
                    }
                    if !f(e.id, e.pairs) {
                        return;
                    }
                }
                if *key <= start {
                    return;
                }
            }
        }
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Pairs<'_>> {
        let mut out = None;
        self.range(id, id, false, |_, p| {
            out = Some(p);
            false
        });
        out
    }

    /// Whether `id` is a live entry.
    pub fn contains(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first (or last) live entry's ID.
    pub fn edge(&self, last: bool) -> Option<StreamId> {
        let mut out = None;
        self.range(StreamId::MIN, StreamId::MAX, last, |id, _| {
            out = Some(id);
            false
        });
        out
    }

    /// Deletes the live entry `id`; returns whether it existed. Does not touch `first_id` or `max_deleted_id`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let at = node
            .entries(key)
            .and_then(|es| es.into_iter().find(|e| e.id == id && !e.deleted))
            .map(|e| e.flags_at);
        let Some(at) = at else {
            return false;
        };
        node.buf[at] |= DELETED;
        node.live -= 1;
        node.deleted += 1;
        if node.live == 0 {
            self.nodes.remove(&key);
        }
        self.length -= 1;
        true
    }

    /// Redis' `streamTrim`: removes whole nodes while the strategy allows, then (unless `approx`) marks entries
    /// of the next node deleted; `limit` (0: none) caps the entries removed. Returns how many were removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        if trim == Trim::None {
            return 0;
        }
        let mut removed = 0u64;
        while let Some((&key, node)) = self.nodes.first_key_value() {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let entries = u64::from(node.live);
            if limit > 0 && removed + entries > limit {
                break;
            }
            let whole = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => {
                    let last = node
                        .entries(key)
                        .and_then(|es| es.last().map(|e| e.id))
                        .unwrap_or(key);
                    last < min
                }
                Trim::None => false,
            };
            if whole {
                self.nodes.remove(&key);
                self.length -= entries;
                removed += entries;
                continue;
            }
            if approx {
                break;
            }
            let Some(node) = self.nodes.get_mut(&key) else {
                break;
            };
            let marks: Vec<(usize, StreamId, bool)> = node
                .entries(key)
                .unwrap_or_default()
                .iter()
                .map(|e| (e.flags_at, e.id, e.deleted))
                .collect();
            for (at, id, deleted) in marks {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => id >= min,
                    Trim::None => true,
                };
                if stop {
                    break;
                }
                if !deleted {
                    node.buf[at] |= DELETED;
                    node.live -= 1;
                    node.deleted += 1;
                    self.length -= 1;
                    removed += 1;
                }
            }
            // A node emptied this way stays, as in Redis (its tombstones count toward its size).
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if removed > 0 {
            self.first_id = self.edge(false).unwrap_or(StreamId::MIN);
        }
        removed
    }

    /// Whether a tombstone may lie between `start` and the end (Redis' `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// The logical position of `id` counted from the first entry ever added, when it can be known
    /// (Redis' `streamEstimateDistanceFromFirstEverEntry`); `None` when it cannot.
    pub fn estimate_distance(&self, id: StreamId) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return Some(added);
        }
        if id == self.last_id {
            return Some(added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(added - self.length as i64);
            }
            if id == self.first_id {
                return Some(added - self.length as i64 + 1);
            }
        }
        None
    }

    /// A group's lag (entries not yet delivered), when it can be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.range_has_tombstones(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added as i64 - read)
    }

    /// Advances `group`'s position to the delivered `id` (greater than its last ID), keeping its read counter.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let valid_ahead = !self.range_has_tombstones(id);
        let estimate = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if g.entries_read != ENTRIES_READ_INVALID && valid_ahead {
            g.entries_read += 1;
        } else if added > 0 {
            g.entries_read = estimate.unwrap_or(ENTRIES_READ_INVALID);
        }
        g.last_id = id;
    }

    /// Approximate heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let nodes: usize = self
            .nodes
            .values()
            .map(|n| heap_bytes(n.buf.capacity()) + 48)
            .sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                heap_bytes(name.len())
                    + 96
                    + g.pel.len() * 72
                    + g.consumers
                        .iter()
                        .map(|(n, c)| heap_bytes(n.len()) + 64 + c.pel.len() * 24)
                        .sum::<usize>()
            })
            .sum();
        heap_bytes(std::mem::size_of::<Stream>()) + nodes + groups
    }

    /// The stream in the snapshot format: metadata, nodes as stored, then groups with their PELs and consumers.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let id = |out: &mut Vec<u8>, id: StreamId| {
            put_varint(out, id.ms);
            put_varint(out, id.seq);
        };
        put_varint(out, self.length);
        id(out, self.last_id);
        id(out, self.first_id);
        id(out, self.max_deleted_id);
        put_varint(out, self.entries_added);
        put_varint(out, self.nodes.len() as u64);
        for (k, n) in &self.nodes {
            id(out, *k);
            put_varint(out, u64::from(n.live));
            put_varint(out, u64::from(n.deleted));
            put_bytes(out, &n.buf);
        }
        put_varint(out, self.groups.len() as u64);
        for (name, g) in &self.groups {
            put_bytes(out, name);
            id(out, g.last_id);
            put_varint(out, (g.entries_read + 1) as u64);
            put_varint(out, g.consumers.len() as u64);
            for (cname, c) in &g.consumers {
                put_bytes(out, cname);
                put_varint(out, zigzag(c.seen_time));
            }
            put_varint(out, g.pel.len() as u64);
            for (pid, n) in &g.pel {
                id(out, *pid);
                put_varint(out, zigzag(n.delivery_time));
                put_varint(out, n.delivery_count);
                put_bytes(out, &n.consumer);
            }
        }
    }

    /// Reads [`Stream::encode`]'s format from `buf` at `*pos`, checking every node and the groups' consistency.
    pub fn decode(buf: &[u8], pos: &mut usize) -> Result<Stream, String> {
        let mut r = Reader { buf, pos: *pos };
        let length = r.varint()?;
        let last_id = r.id()?;
        let first_id = r.id()?;
        let max_deleted_id = r.id()?;
        let entries_added = r.varint()?;
        let mut s = Stream {
            nodes: BTreeMap::new(),
            length,
            last_id,
            first_id,
            max_deleted_id,
            entries_added,
            groups: BTreeMap::new(),
        };
        let n = r.count()?;
        let mut total = 0u64;
        let mut prev: Option<StreamId> = None;
        for _ in 0..n {
            let key = r.id()?;
            let live = u32::try_from(r.varint()?).map_err(|_| "node count")?;
            let deleted = u32::try_from(r.varint()?).map_err(|_| "node count")?;
            let node = Node {
                buf: r.bytes()?.to_vec(),
                live,
                deleted,
            };
            let entries = node.entries(key).ok_or("corrupt stream node")?;
            let (mut l, mut d) = (0u32, 0u32);
            for e in &entries {
                if prev.is_some_and(|p| e.id <= p) || e.id < key {
                    return Err("stream entries out of order".into());
                }
                prev = Some(e.id);
                if e.deleted {
                    d += 1;
                } else {
                    l += 1;
                }
            }
            if (l, d) != (live, deleted) || live == 0 || prev.is_some_and(|p| p > last_id) {
                return Err("stream node counts do not match".into());
            }
            total += u64::from(live);
            s.nodes.insert(key, node);
        }
        if total != length {
            return Err("stream length does not match its nodes".into());
        }
        let groups = r.count()?;
        for _ in 0..groups {
            let name = Bytes::copy_from_slice(r.bytes()?);
            let last = r.id()?;
            let entries_read = r.varint()? as i64 - 1;
            let mut g = Group::new(last, entries_read);
            for _ in 0..r.count()? {
                let cname = Bytes::copy_from_slice(r.bytes()?);
                let seen_time = unzigzag(r.varint()?);
                g.consumers.insert(
                    cname,
                    Consumer {
                        seen_time,
                        pel: BTreeSet::new(),
                    },
                );
            }
            for _ in 0..r.count()? {
                let pid = r.id()?;
                let delivery_time = unzigzag(r.varint()?);
                let delivery_count = r.varint()?;
                let owner = r.bytes()?;
                let Some((cname, c)) = g.consumers.iter_mut().find(|(k, _)| k[..] == *owner) else {
                    return Err("pending entry of an unknown consumer".into());
                };
                c.pel.insert(pid);
                let consumer = cname.clone();
                g.pel.insert(
                    pid,
                    Nack {
                        delivery_time,
                        delivery_count,
                        consumer,
                    },
                );
            }
            s.groups.insert(name, g);
        }
        *pos = r.pos;
        Ok(s)
    }
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated stream")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("bad varint in stream".into())
    }

    fn id(&mut self) -> Result<StreamId, String> {
        Ok(StreamId::new(self.varint()?, self.varint()?))
    }

    fn count(&mut self) -> Result<u64, String> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err("truncated stream (a count runs past the end)".into());
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| "length overflows")?;
        if n > self.buf.len() - self.pos {
            return Err("truncated stream".into());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Stream, ms: u64, fields: &[(&str, &str)], limits: NodeLimits) {
        let pairs: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(f, v)| (f.as_bytes(), v.as_bytes()))
            .collect();
        s.append(StreamId::new(ms, 0), &pairs, limits);
    }

    fn ids(s: &Stream, rev: bool) -> Vec<u64> {
        let mut out = Vec::new();
        s.range(StreamId::MIN, StreamId::MAX, rev, |id, _| {
            out.push(id.ms);
            true
        });
        out
    }

    #[test]
    fn nodes_split_and_ranges_cross_them() {
        let lim = NodeLimits {
            max_bytes: 4096,
            max_entries: 3,
        };
        let mut s = Stream::new();
        for i in 1..=10 {
            if i % 2 == 0 {
                add(&mut s, i, &[("a", "1"), ("b", "2")], lim);
            } else {
                add(&mut s, i, &[("x", &i.to_string())], lim);
            }
        }
        assert_eq!(s.node_count(), 4);
        assert_eq!(ids(&s, false), (1..=10).collect::<Vec<_>>());
        assert_eq!(ids(&s, true), (1..=10).rev().collect::<Vec<_>>());
        let p = s.get(StreamId::new(4, 0)).unwrap();
        assert_eq!(p, vec![(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"2"[..])]);
        let p = s.get(StreamId::new(5, 0)).unwrap();
        assert_eq!(p, vec![(&b"x"[..], &b"5"[..])]);
        let mut got = Vec::new();
        s.range(StreamId::new(3, 0), StreamId::new(7, 0), true, |id, _| {
            got.push(id.ms);
            true
        });
        assert_eq!(got, vec![7, 6, 5, 4, 3]);
        assert!(s.delete(StreamId::new(5, 0)));
        assert!(!s.delete(StreamId::new(5, 0)));
        assert_eq!(s.len(), 9);
        // Deleting a node's last live entries drops the node.
        assert!(s.delete(StreamId::new(10, 0)));
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.edge(true), Some(StreamId::new(9, 0)));
    }

    #[test]
    fn trims_whole_nodes_when_approximate() {
        let lim = NodeLimits {
            max_bytes: 4096,
            max_entries: 10,
        };
        let mut s = Stream::new();
        for i in 1..=35 {
            add(&mut s, i, &[("f", "v")], lim);
        }
        let mut a = s.clone();
        assert_eq!(a.trim(Trim::MaxLen(22), true, 0), 10);
        assert_eq!(a.len(), 25);
        assert_eq!(a.first_id, StreamId::new(11, 0));
        let mut b = s.clone();
        assert_eq!(b.trim(Trim::MaxLen(22), false, 0), 13);
        assert_eq!(b.len(), 22);
        assert_eq!(b.first_id, StreamId::new(14, 0));
        let mut c = s.clone();
        assert_eq!(c.trim(Trim::MinId(StreamId::new(15, 0)), false, 0), 14);
        assert_eq!(c.edge(false), Some(StreamId::new(15, 0)));
        let mut d = s.clone();
        assert_eq!(d.trim(Trim::MaxLen(0), true, 15), 10);
    }

    #[test]
    fn snapshot_form_round_trips() {
        let mut s = Stream::new();
        for i in 1..=250 {
            add(
                &mut s,
                i,
                &[("f", "v"), ("g", &i.to_string())],
                NodeLimits::default(),
            );
        }
        s.delete(StreamId::new(7, 0));
        let mut g = Group::new(StreamId::new(9, 0), 9);
        g.consumer(b"alice", 123, true);
        g.pel.insert(
            StreamId::new(3, 0),
            Nack {
                delivery_time: 100,
                delivery_count: 2,
                consumer: Bytes::from("alice"),
            },
        );
        g.consumers
            .get_mut(&b"alice"[..])
            .unwrap()
            .pel
            .insert(StreamId::new(3, 0));
        s.groups.insert(Bytes::from("g"), g);
        let mut out = Vec::new();
        s.encode(&mut out);
        let mut pos = 0;
        assert_eq!(Stream::decode(&out, &mut pos), Ok(s.clone()));
        assert_eq!(pos, out.len());
        for cut in 0..out.len() {
            let mut pos = 0;
            assert!(Stream::decode(&out[..cut], &mut pos).is_err(), "{cut}");
        }
    }
}
