//! Hashes (Redis' `t_hash.c`): fields to values, each field optionally with a deadline (Redis 7.4's hash field
//! expiration).
//!
//! Small hashes are a [`Pack`] (`listpack`, or `listpackex` once a field got a deadline); a hash grows into a
//! [`Table`] (`hashtable`) when it holds more than `hash-max-listpack-entries` fields or is given a field or
//! value longer than `hash-max-listpack-value` bytes, and never shrinks back, as in Redis.
//!
//! Deadlines: a field past its deadline is still stored until a write removes it ([`Hash::purge_due`]); the
//! commands treat it as absent (the `*_live` accessors take the time). The table keeps its fields with
//! deadlines in a `BTreeSet` ordered by deadline, so due fields are found without a scan.

use std::collections::BTreeSet;

use super::heap_bytes;
use super::listpack::Pack;
use crate::dict::{Dict, Shape};
use crate::exec::Rng;
use crate::keyspace::NO_EXPIRE;

/// The encoding thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields a listpack holds.
    pub max_listpack_entries: usize,
    /// Longest field or value a listpack holds.
    pub max_listpack_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            max_listpack_entries: 512,
            max_listpack_value: 64,
        }
    }
}

/// A value in a [`Table`] with its deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The value.
    pub value: Box<[u8]>,
    /// Deadline in Unix ms, or [`NO_EXPIRE`].
    pub expire_at: i64,
}

/// A large hash: a [`Dict`] of fields, plus the fields with a deadline ordered by it.
#[derive(Clone, Debug, Default)]
pub struct Table {
    map: Dict<Field>,
    deadlines: BTreeSet<(i64, Box<[u8]>)>,
}

impl PartialEq for Table {
    /// Same fields, values and deadlines in the same iteration order.
    fn eq(&self, other: &Table) -> bool {
        self.map.len() == other.map.len() && self.map.iter().eq(other.map.iter())
    }
}

impl Table {
    fn set(&mut self, field: &[u8], value: &[u8], keep_deadline: bool) -> bool {
        if let Some(f) = self.map.get_mut(field) {
            f.value = value.into();
            if !keep_deadline && f.expire_at != NO_EXPIRE {
                self.deadlines.remove(&(f.expire_at, field.into()));
                f.expire_at = NO_EXPIRE;
            }
            return false;
        }
        self.map.insert(
            field,
            Field {
                value: value.into(),
                expire_at: NO_EXPIRE,
            },
        );
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.remove(field) {
            Some(f) => {
                if f.expire_at != NO_EXPIRE {
                    self.deadlines.remove(&(f.expire_at, field.into()));
                }
                true
            }
            None => false,
        }
    }

    fn set_deadline(&mut self, field: &[u8], expire_at: i64) -> bool {
        let Some(f) = self.map.get_mut(field) else {
            return false;
        };
        if f.expire_at != NO_EXPIRE {
            self.deadlines.remove(&(f.expire_at, field.into()));
        }
        f.expire_at = expire_at;
        if expire_at != NO_EXPIRE {
            self.deadlines.insert((expire_at, field.into()));
        }
        true
    }

    fn purge_due(&mut self, now_ms: i64) -> usize {
        let mut n = 0;
        while let Some((at, _)) = self.deadlines.first() {
            if *at > now_ms {
                break;
            }
            if let Some((_, field)) = self.deadlines.pop_first() {
                self.map.remove(&field);
                n += 1;
            }
        }
        n
    }

    /// The field table, for snapshots.
    pub fn dict(&self) -> &Dict<Field> {
        &self.map
    }

    /// Rebuilds a table from a snapshot's shape and fields; `None` if they do not fit together.
    pub fn from_shape(shape: Shape, fields: Vec<(Vec<u8>, Field)>) -> Option<Table> {
        let len = fields.len();
        let deadlines = fields
            .iter()
            .filter(|(_, f)| f.expire_at != NO_EXPIRE)
            .map(|(k, f)| (f.expire_at, k.as_slice().into()))
            .collect();
        let map = Dict::from_shape(shape, fields, len)?;
        Some(Table { map, deadlines })
    }
}

/// A hash value.
#[derive(Clone, Debug, PartialEq)]
pub enum Hash {
    /// Few short fields in one buffer (`listpack` / `listpackex`).
    Pack(Pack),
    /// A hash table (`hashtable`).
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

/// A field, its value and its deadline ([`NO_EXPIRE`] for none).
pub type Entry<'a> = (&'a [u8], &'a [u8], i64);

impl Hash {
    /// An empty hash (a listpack, as Redis creates them).
    pub fn new() -> Hash {
        Hash::Pack(Pack::new())
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(p) if p.has_deadline_slots() => "listpackex",
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Number of fields, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len(),
            Hash::Table(t) => t.map.len(),
        }
    }

    /// Whether no field is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of fields live at `now_ms`.
    pub fn live_len(&self, now_ms: i64) -> usize {
        if !self.has_due(now_ms) {
            return self.len();
        }
        self.iter().filter(|e| live(e.2, now_ms)).count()
    }

    /// Every stored field in iteration order, expired ones included.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Entry<'_>> + '_> {
        match self {
            Hash::Pack(p) => Box::new(p.iter().map(|e| (e.field, e.value, e.expire_at))),
            Hash::Table(t) => Box::new(t.map.iter().map(|(k, f)| (k, &f.value[..], f.expire_at))),
        }
    }

    /// The fields live at `now_ms` in iteration order.
    pub fn live(&self, now_ms: i64) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.iter().filter(move |e| live(e.2, now_ms))
    }

    /// The stored value and deadline of `field`, even if expired.
    pub fn get(&self, field: &[u8]) -> Option<(&[u8], i64)> {
        match self {
            Hash::Pack(p) => p.find(field).map(|e| (e.value, e.expire_at)),
            Hash::Table(t) => t.map.get(field).map(|f| (&f.value[..], f.expire_at)),
        }
    }

    /// The value of `field` if it is live at `now_ms`.
    pub fn get_live(&self, field: &[u8], now_ms: i64) -> Option<&[u8]> {
        self.get(field)
            .filter(|(_, e)| live(*e, now_ms))
            .map(|(v, _)| v)
    }

    /// The earliest field deadline.
    pub fn min_deadline(&self) -> Option<i64> {
        match self {
            Hash::Pack(p) => p.min_deadline(),
            Hash::Table(t) => t.deadlines.first().map(|(at, _)| *at),
        }
    }

    /// Whether some field has a deadline.
    pub fn has_deadlines(&self) -> bool {
        match self {
            Hash::Pack(p) => p.has_deadlines(),
            Hash::Table(t) => !t.deadlines.is_empty(),
        }
    }

    /// Whether some stored field is past its deadline at `now_ms`.
    pub fn has_due(&self, now_ms: i64) -> bool {
        self.min_deadline().is_some_and(|at| at <= now_ms)
    }

    /// Becomes a table if any of `lens` (the lengths of the fields and values about to be written) is over
    /// the listpack limit: Redis' `hashTypeTryConversion`.
    pub fn convert_for_lengths(
        &mut self,
        lens: impl IntoIterator<Item = usize>,
        limits: &HashLimits,
    ) {
        if matches!(self, Hash::Pack(_)) && lens.into_iter().any(|n| n > limits.max_listpack_value)
        {
            self.convert_to_table();
        }
    }

    /// Turns a listpack into a table, fields in the same order and deadlines kept.
    pub fn convert_to_table(&mut self) {
        let Hash::Pack(p) = self else {
            return;
        };
        let mut t = Table::default();
        for e in p.iter() {
            t.set(e.field, e.value, false);
            if e.expire_at != NO_EXPIRE {
                t.set_deadline(e.field, e.expire_at);
            }
        }
        *self = Hash::Table(Box::new(t));
    }

    /// Sets `field` to `value` (Redis' `hashTypeSet`): an existing field keeps its deadline only when
    /// `keep_deadline` (HINCRBY) and loses it otherwise (HSET). Converts to a table past the limits. Returns
    /// whether the field is new.
    pub fn set(
        &mut self,
        field: &[u8],
        value: &[u8],
        keep_deadline: bool,
        limits: &HashLimits,
    ) -> bool {
        if matches!(self, Hash::Pack(_))
            && (field.len() > limits.max_listpack_value || value.len() > limits.max_listpack_value)
        {
            self.convert_to_table();
        }
        match self {
            Hash::Pack(p) => {
                let new = p.set(field, value, keep_deadline);
                if p.len() > limits.max_listpack_entries {
                    self.convert_to_table();
                }
                new
            }
            Hash::Table(t) => t.set(field, value, keep_deadline),
        }
    }

    /// Removes `field`; returns whether it was stored.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Sets or ([`NO_EXPIRE`]) clears the deadline of a stored field; returns whether it is stored.
    pub fn set_deadline(&mut self, field: &[u8], expire_at: i64) -> bool {
        match self {
            Hash::Pack(p) => p.set_deadline(field, expire_at),
            Hash::Table(t) => t.set_deadline(field, expire_at),
        }
    }

    /// Removes the fields past their deadline at `now_ms`; returns how many.
    pub fn purge_due(&mut self, now_ms: i64) -> usize {
        if !self.has_due(now_ms) {
            return 0;
        }
        match self {
            Hash::Pack(p) => p.remove_where(|e| !live(e.expire_at, now_ms)),
            Hash::Table(t) => t.purge_due(now_ms),
        }
    }

    /// A random stored field with its value (the table's fair sampling, or a uniform position in a pack).
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(p) => {
                let n = p.len();
                if n == 0 {
                    return None;
                }
                p.iter()
                    .nth(rng.below(n as u64) as usize)
                    .map(|e| (e.field, e.value))
            }
            Hash::Table(t) => t.map.random(rng).map(|(k, f)| (k, &f.value[..])),
        }
    }

    /// Estimated heap bytes (allocations as glibc malloc sizes them), for `MEMORY USAGE`.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Pack(p) => heap_bytes(p.alloc_len()),
            Hash::Table(t) => {
                let mut n = heap_bytes(std::mem::size_of::<Table>());
                let [s0, s1] = t.map.shape().sizes;
                n += heap_bytes(s0 * 8) + heap_bytes(s1 * 8);
                for (k, f) in t.map.iter() {
                    let (node, key) = Dict::<Field>::entry_allocations(k.len());
                    n += heap_bytes(node) + heap_bytes(key) + heap_bytes(f.value.len());
                }
                // A B-tree element: the deadline, the boxed field and its share of a node.
                for (_, k) in &t.deadlines {
                    n += heap_bytes(k.len()) + 32;
                }
                n
            }
        }
    }
}

/// Whether a field with deadline `expire_at` is live at `now_ms`.
pub fn live(expire_at: i64, now_ms: i64) -> bool {
    expire_at == NO_EXPIRE || expire_at > now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits {
        max_listpack_entries: 4,
        max_listpack_value: 8,
    };

    fn fields(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>, i64)> {
        h.iter()
            .map(|(f, v, e)| (f.to_vec(), v.to_vec(), e))
            .collect()
    }

    #[test]
    fn grows_into_a_table_past_the_entry_limit() {
        let mut h = Hash::new();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", false, &LIMITS));
        }
        assert_eq!(h.encoding(), "listpack");
        let before = fields(&h);
        assert!(h.set(b"f4", b"v", false, &LIMITS));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        for (f, v, _) in before {
            assert_eq!(h.get(&f), Some((&v[..], NO_EXPIRE)));
        }
        // No way back.
        for i in 0..5 {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.is_empty());
    }

    #[test]
    fn long_fields_or_values_make_a_table() {
        let mut h = Hash::new();
        h.set(b"a", b"12345678", false, &LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"a", b"123456789", false, &LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.convert_for_lengths([1, 8, 3], &LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.convert_for_lengths([1, 9], &LIMITS);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn deadlines_in_both_encodings() {
        for table in [false, true] {
            let mut h = Hash::new();
            for f in ["a", "b", "c"] {
                h.set(f.as_bytes(), b"v", false, &LIMITS);
            }
            if table {
                h.convert_to_table();
            }
            assert!(!h.has_deadlines());
            assert!(h.set_deadline(b"a", 100));
            assert!(h.set_deadline(b"b", 200));
            assert!(!h.set_deadline(b"zz", 200));
            assert_eq!(h.encoding(), if table { "hashtable" } else { "listpackex" });
            assert_eq!(h.min_deadline(), Some(100));
            assert!(!h.has_due(99));
            assert!(h.has_due(100));
            assert_eq!(h.live_len(100), 2);
            assert_eq!(h.get_live(b"a", 99), Some(&b"v"[..]));
            assert_eq!(h.get_live(b"a", 100), None);
            assert_eq!(h.get(b"a"), Some((&b"v"[..], 100)));
            assert_eq!(h.live(150).count(), 2);
            // HSET drops the deadline, HINCRBY keeps it.
            h.set(b"b", b"w", true, &LIMITS);
            assert_eq!(h.get(b"b"), Some((&b"w"[..], 200)));
            h.set(b"b", b"x", false, &LIMITS);
            assert_eq!(h.get(b"b"), Some((&b"x"[..], NO_EXPIRE)));
            assert_eq!(h.min_deadline(), Some(100));
            assert_eq!(h.purge_due(99), 0);
            assert_eq!(h.purge_due(100), 1);
            assert_eq!(h.len(), 2);
            assert!(!h.has_deadlines());
            h.set_deadline(b"c", 300);
            h.set_deadline(b"c", NO_EXPIRE);
            assert!(!h.has_deadlines());
            // Conversion keeps deadlines.
            h.set_deadline(b"c", 400);
            h.convert_to_table();
            assert_eq!(h.get(b"c"), Some((&b"v"[..], 400)));
            assert_eq!(h.min_deadline(), Some(400));
            assert!(h.remove(b"c"));
            assert_eq!(h.min_deadline(), None);
        }
    }

    #[test]
    fn random_picks_stored_fields() {
        let mut rng = Rng::new(1);
        assert!(Hash::new().random(&mut rng).is_none());
        for table in [false, true] {
            let mut h = Hash::new();
            for f in ["a", "b", "c"] {
                h.set(f.as_bytes(), f.as_bytes(), false, &LIMITS);
            }
            if table {
                h.convert_to_table();
            }
            let mut seen = BTreeSet::new();
            for _ in 0..100 {
                let (f, v) = h.random(&mut rng).unwrap();
                assert_eq!(f, v);
                seen.insert(f.to_vec());
            }
            assert_eq!(seen.len(), 3);
        }
    }

    #[test]
    fn table_rebuilds_from_its_shape() {
        let mut h = Hash::new();
        for i in 0..50 {
            h.set(format!("f{i}").as_bytes(), b"v", false, &LIMITS);
        }
        h.set_deadline(b"f3", 77);
        let Hash::Table(t) = &h else { panic!() };
        let fields: Vec<(Vec<u8>, Field)> = t
            .dict()
            .iter()
            .map(|(k, f)| (k.to_vec(), f.clone()))
            .collect();
        let back = Table::from_shape(t.dict().shape(), fields).unwrap();
        assert_eq!(&back, &**t);
        assert_eq!(Hash::Table(Box::new(back)).min_deadline(), Some(77));
        assert!(h.heap_bytes() > 50 * 48);
    }
}
