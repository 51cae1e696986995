//! The hash table under the keyspace.
//!
//! A chained hash table modelled on Redis' `dict.c` (7.0):
//! - power-of-two bucket arrays, one heap node per entry (`next`, key, value), new entries at the chain head;
//! - incremental rehashing: a resize allocates a second table and every `insert`/`remove` moves one bucket
//!   across (`dictRehash(d, 1)`), so growing or shrinking millions of keys never stops the server for long;
//! - `scan` with Redis' reverse-binary cursor (`dictScan`): every entry present for the whole scan is returned
//!   at least once even if the table grows, shrinks or is mid-rehash between calls;
//! - `random` as `dictGetFairRandomKey` (sample up to 15 neighbouring entries, pick one), `sample` as
//!   `dictGetSomeKeys`; the table shrinks when under 10% full so sampling stays O(1) expected.
//!
//! Determinism: the hash has a fixed seed and the layout changes only in `insert`, `remove`, `clear` and
//! `rehash_steps`, never in lookups, scans or sampling. Replicas applying the same writes therefore hold the
//! same layout, and `random`/`scan` give the same answers from the same `Rng` and cursor. (Redis also rehashes
//! on lookups and from a timer; both would make the layout depend on reads and timing, so neither is done.)
//!
//! Memory: keys up to [`INLINE_KEY_LEN`] bytes live inside the node (no second allocation), longer keys in a
//! boxed slice. Per entry this costs the node (8-byte `next` + 24-byte key + `V`) plus one 8-byte bucket pointer
//! per slot (load factor between 0.1 and 1, typically 0.5-1).
//!
//! Unsafe code: two small blocks around bucket arrays (allocating them zeroed, freeing an emptied one without
//! visiting its slots), see `zeroed_buckets` and `Table`'s `Drop`. A fixed seed lets a client that knows it
//! craft colliding keys; [`Dict::with_seed`] takes a per-deployment seed, which replicas must share.

use std::alloc::{self, Layout};
use std::hash::{BuildHasher, Hasher};
use std::mem::{self, ManuallyDrop};
use std::ptr;

use crate::exec::Rng;

type HashState = foldhash::fast::FixedState;

/// Hash seed of [`Dict::new`]: fixed so that every replica builds the same table from the same operations.
pub const DEFAULT_SEED: u64 = 0x0051_40a1;

/// Longest key stored inside its node; longer keys take a separate allocation.
pub const INLINE_KEY_LEN: usize = 22;

/// Largest bucket array [`Dict::from_shape`] accepts (2^40 slots): beyond any table a process builds.
const MAX_SHAPE_SIZE: usize = 1 << 40;
/// Bucket count of a table's first allocation (Redis' `DICT_HT_INITIAL_SIZE`).
const INITIAL_SIZE: usize = 4;
/// Shrink when fewer than this percentage of buckets' worth of entries remain (Redis' `HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;
/// Entries sampled by `random` before picking one (Redis' `GETFAIR_NUM_ENTRIES`).
const FAIR_SAMPLE: usize = 15;
/// Empty buckets one rehash step may skip while the old table is sparse (otherwise 10 per bucket, as Redis).
/// Without it, a table emptied by deletes could stay mid-rehash for a long time with its old, sparse array
/// making `random` slow; skipping null pointers in a contiguous array costs well under a microsecond.
const SPARSE_EMPTY_VISITS: usize = 1024;

/// A key owned by the table: short keys inline, so the common case needs no allocation besides the node.
enum Key {
    Inline(u8, [u8; INLINE_KEY_LEN]),
    Heap(Box<[u8]>),
}

impl Key {
    fn new(k: &[u8]) -> Key {
        if k.len() <= INLINE_KEY_LEN {
            let mut buf = [0; INLINE_KEY_LEN];
            buf[..k.len()].copy_from_slice(k);
            Key::Inline(k.len() as u8, buf)
        } else {
            Key::Heap(k.into())
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline(n, buf) => &buf[..*n as usize],
            Key::Heap(b) => b,
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Key::Inline(..) => 0,
            Key::Heap(b) => b.len(),
        }
    }
}

struct Node<V> {
    next: Link<V>,
    key: Key,
    value: V,
}

type Link<V> = Option<Box<Node<V>>>;

/// One bucket array with its entry count.
struct Table<V> {
    buckets: Box<[Link<V>]>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Table<V> {
        Table {
            buckets: Box::new([]),
            used: 0,
        }
    }

    fn with_size(size: usize) -> Table<V> {
        Table {
            buckets: zeroed_buckets(size),
            used: 0,
        }
    }

    #[inline]
    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// Index mask; only meaningful when the table has buckets.
    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// A hint to load the cache line at `p` (no effect on other targets). Never dereferences `p`, so any address is
/// allowed.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only hints the cache: it cannot fault or change memory, whatever the address; SSE is
    // part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// An all-`None` bucket array made from zeroed memory. A large array then comes as fresh pages the kernel zeroes
/// lazily, so starting a resize neither writes nor faults in the whole array (2^24 buckets are 128 MB).
fn zeroed_buckets<V>(size: usize) -> Box<[Link<V>]> {
    match try_zeroed_buckets(size) {
        Some(b) => b,
        None => match Layout::array::<Link<V>>(size) {
            Ok(layout) => alloc::handle_alloc_error(layout),
            Err(_) => panic!("bucket array size overflows"),
        },
    }
}

/// [`zeroed_buckets`], or `None` when the memory cannot be had (for sizes read from a snapshot).
fn try_zeroed_buckets<V>(size: usize) -> Option<Box<[Link<V>]>> {
    if size == 0 {
        return Some(Box::new([]));
    }
    let layout = Layout::array::<Link<V>>(size).ok()?;
    // SAFETY: `layout` has a non-zero size. All-zero bytes are a valid `Option<Box<T>>` for sized `T`, namely
    // `None` (a documented guarantee of `Option`'s representation), so every element is initialised. The
    // memory comes from the global allocator with exactly the layout a `Box<[Link<V>]>` of `size` elements
    // is freed with.
    unsafe {
        let p = alloc::alloc_zeroed(layout).cast::<Link<V>>();
        if p.is_null() {
            return None;
        }
        Some(Box::from_raw(ptr::slice_from_raw_parts_mut(p, size)))
    }
}

impl<V> Drop for Table<V> {
    /// Unlinks chains one node at a time: the default recursive drop of `Option<Box<Node>>` would overflow the
    /// stack on a pathologically long chain.
    fn drop(&mut self) {
        if self.used == 0 {
            // Every slot is `None`: free the array without visiting its elements, which for the old array of a
            // finished resize would read (and possibly fault in) all of it in one go.
            let buckets = mem::take(&mut self.buckets);
            // SAFETY: `ManuallyDrop<T>` is `repr(transparent)` over `T`, so the cast slice has the same length
            // and layout and is freed with the layout it was allocated with; no element is read. Were `used`
            // ever wrong, the nodes would leak, which is not unsound.
            drop(unsafe { Box::from_raw(Box::into_raw(buckets) as *mut [ManuallyDrop<Link<V>>]) });
            return;
        }
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

/// Walks one chain.
struct Chain<'a, V> {
    cur: Option<&'a Node<V>>,
}

impl<'a, V> Iterator for Chain<'a, V> {
    type Item = (&'a [u8], &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.cur?;
        self.cur = node.next.as_deref();
        Some((node.key.as_bytes(), &node.value))
    }
}

/// Walks one chain, values mutably.
struct ChainMut<'a, V> {
    cur: Option<&'a mut Node<V>>,
}

impl<'a, V> Iterator for ChainMut<'a, V> {
    type Item = (&'a [u8], &'a mut V);

    fn next(&mut self) -> Option<Self::Item> {
        let Node { next, key, value } = self.cur.take()?;
        self.cur = next.as_deref_mut();
        Some((key.as_bytes(), value))
    }
}

/// Unlinks the node holding `key` from the chain starting at `slot`.
fn unlink<V>(slot: &mut Link<V>, key: &[u8]) -> Option<Box<Node<V>>> {
    let mut cur = slot;
    while cur.as_ref().is_some_and(|n| n.key.as_bytes() != key) {
        // The loop condition just saw a node here.
        cur = &mut cur.as_mut()?.next;
    }
    let mut node = cur.take()?;
    *cur = node.next.take();
    Some(node)
}

/// The shape of a [`Dict`] beyond its entries: see [`Dict::shape`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Bucket counts of the table in use and of the resize target (0 when not resizing).
    pub sizes: [usize; 2],
    /// Buckets of the first table already moved by a resize in progress.
    pub rehash_idx: usize,
    /// Entries in the first table.
    pub first_len: usize,
}

/// A map from byte-string keys to `V` with stable SCAN cursors and random sampling.
pub struct Dict<V> {
    /// `tables[0]` is the table in use; while rehashing, `tables[1]` is the resize target and receives inserts.
    tables: [Table<V>; 2],
    /// While rehashing: buckets of `tables[0]` below this index have been moved (are empty).
    rehash_idx: usize,
    /// Bytes of keys stored outside their node, for [`Dict::allocated_bytes`].
    heap_key_bytes: usize,
    hasher: HashState,
}

impl<V: Clone> Clone for Dict<V> {
    /// An identical copy, layout included, so the copy samples and scans exactly as the original.
    fn clone(&self) -> Self {
        let entries = self.iter().map(|(k, v)| (k, v.clone()));
        match Dict::with_seed(0)
            .with_hasher_of(self)
            .rebuilt(self.shape(), entries, self.len())
        {
            Some(d) => d,
            None => unreachable!("a table's own layout always rebuilds it"),
        }
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::with_seed(DEFAULT_SEED)
    }
}

impl<V> Dict<V> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table hashing with `seed`; tables meant to be identical across replicas need the same seed.
    pub fn with_seed(seed: u64) -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: 0,
            heap_key_bytes: 0,
            hasher: HashState::with_seed(seed),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bucket slots (both tables while rehashing).
    pub fn capacity(&self) -> usize {
        self.tables[0].size() + self.tables[1].size()
    }

    /// Whether a resize is in progress (entries are spread over two tables).
    pub fn is_rehashing(&self) -> bool {
        self.tables[1].size() != 0
    }

    /// Estimated heap bytes held by the table: bucket arrays, nodes and out-of-line keys (allocator
    /// overhead and the values' own heap data not included).
    pub fn allocated_bytes(&self) -> usize {
        self.capacity() * mem::size_of::<Link<V>>()
            + self.len() * mem::size_of::<Node<V>>()
            + self.heap_key_bytes
    }

    /// Sizes of the allocations an entry with a `key_len`-byte key makes: its node, and the key's own buffer
    /// (0 when the key is stored inline). The bucket slot (8 bytes per slot) and `V`'s own heap data are extra.
    pub fn entry_allocations(key_len: usize) -> (usize, usize) {
        let key = if key_len > INLINE_KEY_LEN { key_len } else { 0 };
        (mem::size_of::<Node<V>>(), key)
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> usize {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish() as usize
    }

    /// Asks the CPU to start loading what a lookup of `key` reads first: its bucket slot in each table in use.
    /// Applying a batch of writes calls this a few operations ahead, so that the cache misses of different
    /// keys overlap instead of each stalling its lookup in turn. Never changes anything.
    #[inline]
    pub fn prefetch_slot(&self, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        let h = self.hash(key);
        for t in &self.tables {
            if t.used != 0 {
                prefetch(&t.buckets[h & t.mask()] as *const Link<V> as *const u8);
            }
        }
    }

    /// The next step after [`Dict::prefetch_slot`] (once the slot is likely loaded): the first node of the
    /// key's chain, its key and value.
    #[inline]
    pub fn prefetch_node(&self, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        let h = self.hash(key);
        for t in &self.tables {
            if t.used == 0 {
                continue;
            }
            if let Some(n) = t.buckets[h & t.mask()].as_deref() {
                let p = n as *const Node<V> as *const u8;
                prefetch(p);
                if mem::size_of::<Node<V>>() > 64 {
                    prefetch(p.wrapping_add(64));
                }
            }
        }
    }

    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in &self.tables {
            if t.used == 0 {
                continue;
            }
            let mut cur = t.buckets[h & t.mask()].as_deref();
            while let Some(n) = cur {
                if n.key.as_bytes() == key {
                    return Some(n);
                }
                cur = n.next.as_deref();
            }
        }
        None
    }

    fn find_mut(&mut self, key: &[u8], h: usize) -> Option<&mut Node<V>> {
        for t in &mut self.tables {
            if t.used == 0 {
                continue;
            }
            let mask = t.mask();
            let mut cur = t.buckets[h & mask].as_deref_mut();
            while let Some(n) = cur {
                if n.key.as_bytes() == key {
                    return Some(n);
                }
                cur = n.next.as_deref_mut();
            }
        }
        None
    }

    fn with_hasher_of(mut self, other: &Dict<V>) -> Dict<V> {
        self.hasher = other.hasher.clone();
        self
    }

    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.value)
    }

    /// The stored key and value under `key`.
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        self.find(key).map(|n| (n.key.as_bytes(), &n.value))
    }

    /// The value under `key`, mutably. Does not rehash, so reads through it leave the layout unchanged.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.find_mut(key, h).map(|n| &mut n.value)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; the key is copied only when new. Returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        self.rehash_step();
        let h = self.hash(key);
        if let Some(n) = self.find_mut(key, h) {
            return Some(mem::replace(&mut n.value, value));
        }
        self.expand_if_needed();
        let t = if self.is_rehashing() {
            &mut self.tables[1]
        } else {
            &mut self.tables[0]
        };
        let mask = t.mask();
        let slot = &mut t.buckets[h & mask];
        let key = Key::new(key);
        self.heap_key_bytes += key.heap_bytes();
        *slot = Some(Box::new(Node {
            next: slot.take(),
            key,
            value,
        }));
        t.used += 1;
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        for i in 0..2 {
            let t = &mut self.tables[i];
            if t.used == 0 {
                continue;
            }
            let mask = t.mask();
            if let Some(node) = unlink(&mut t.buckets[h & mask], key) {
                t.used -= 1;
                self.heap_key_bytes -= node.key.heap_bytes();
                self.shrink_if_needed();
                return Some(node.value);
            }
        }
        None
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.tables = [Table::empty(), Table::empty()];
        self.rehash_idx = 0;
        self.heap_key_bytes = 0;
    }

    /// Every entry, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.tables
            .iter()
            .flat_map(|t| t.buckets.iter())
            .flat_map(|b| Chain { cur: b.as_deref() })
    }

    /// Every entry with its value mutable, in table order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut V)> {
        self.tables
            .iter_mut()
            .flat_map(|t| t.buckets.iter_mut())
            .flat_map(|b| ChainMut {
                cur: b.as_deref_mut(),
            })
    }

    /// Visits the entries of the cursor's next bucket(s) and returns the next cursor (0 when done).
    ///
    /// Redis' `dictScan`: the cursor's high bits are incremented in reverse-binary order, so an entry present
    /// from the first call to the last is visited at least once whatever resizes happen in between; entries
    /// may be visited more than once. Mid-rehash it visits the cursor's bucket of the smaller table and all
    /// buckets of the larger table that expand it.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let mut emit = |t: &Table<V>, idx: u64| {
            for (k, val) in (Chain {
                cur: t.buckets[idx as usize].as_deref(),
            }) {
                f(k, val);
            }
        };
        if !self.is_rehashing() {
            let t0 = &self.tables[0];
            let m0 = t0.mask() as u64;
            emit(t0, v & m0);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, large) = if self.tables[0].size() > self.tables[1].size() {
                (&self.tables[1], &self.tables[0])
            } else {
                (&self.tables[0], &self.tables[1])
            };
            let m0 = small.mask() as u64;
            let m1 = large.mask() as u64;
            emit(small, v & m0);
            loop {
                emit(large, v & m1);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// The hash `key` is placed by; `hash & (n - 1)` is its bucket in a table of `n` buckets.
    pub(crate) fn hash_of(&self, key: &[u8]) -> u64 {
        self.hash(key) as u64
    }

    /// Visits every entry whose hash is `class` modulo `classes` (a power of two), whatever the table's size
    /// or resize progress: the buckets `class + i * classes` of a table at least that large, or the entries of
    /// bucket `class` modulo the size of a smaller one whose hash matches. Walking classes `0..classes` in
    /// order therefore visits each entry once, and which classes are done does not depend on the layout, so
    /// the walk stays exact while the table grows, shrinks and rehashes between two classes.
    pub(crate) fn visit_class<'a>(
        &'a self,
        class: usize,
        classes: usize,
        mut f: impl FnMut(&'a [u8], &'a V),
    ) {
        debug_assert!(classes.is_power_of_two() && class < classes);
        for t in &self.tables {
            if t.used == 0 {
                continue;
            }
            let size = t.size();
            if size >= classes {
                let mut i = class;
                while i < size {
                    for (k, v) in (Chain {
                        cur: t.buckets[i].as_deref(),
                    }) {
                        f(k, v);
                    }
                    i += classes;
                }
            } else {
                for (k, v) in (Chain {
                    cur: t.buckets[class & t.mask()].as_deref(),
                }) {
                    if self.hash(k) & (classes - 1) == class {
                        f(k, v);
                    }
                }
            }
        }
    }

    /// A random entry, chosen with `rng` (Redis' `dictGetFairRandomKey`): samples up to 15 entries from
    /// neighbouring buckets and picks one, which is fairer than picking a bucket then a chain element.
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        let mut picked: [Option<&Node<V>>; FAIR_SAMPLE] = [None; FAIR_SAMPLE];
        let mut n = 0;
        self.sample_nodes(rng, FAIR_SAMPLE, |node| {
            picked[n] = Some(node);
            n += 1;
        });
        let node = if n == 0 {
            self.random_node(rng)
        } else {
            picked[rng.below(n as u64) as usize]
        }?;
        Some((node.key.as_bytes(), &node.value))
    }

    /// Calls `f` on up to `count` entries taken from a random stretch of buckets (Redis' `dictGetSomeKeys`) and
    /// returns how many it visited. Cheap but not uniform, and an entry may be visited twice; fewer than
    /// `count` entries may come back even when the table holds more.
    pub fn sample(&self, rng: &mut Rng, count: usize, mut f: impl FnMut(&[u8], &V)) -> usize {
        self.sample_nodes(rng, count, |n| f(n.key.as_bytes(), &n.value))
    }

    fn sample_nodes<'a>(
        &'a self,
        rng: &mut Rng,
        count: usize,
        mut f: impl FnMut(&'a Node<V>),
    ) -> usize {
        let count = count.min(self.len());
        if count == 0 {
            return 0;
        }
        let mut maxsteps = count.saturating_mul(10);
        let rehashing = self.is_rehashing();
        let tables: &[Table<V>] = if rehashing {
            &self.tables
        } else {
            &self.tables[..1]
        };
        let maxmask = tables.iter().map(Table::mask).max().unwrap_or(0);
        let mut i = rng.next_u64() as usize & maxmask;
        let mut emptylen = 0;
        let mut stored = 0;
        while stored < count && maxsteps > 0 {
            maxsteps -= 1;
            for (j, t) in tables.iter().enumerate() {
                // Buckets of the old table below the rehash index are empty; if the new table is too small to
                // hold that index either, nothing lives below the rehash index: jump to it.
                if rehashing && j == 0 && i < self.rehash_idx {
                    if i >= self.tables[1].size() {
                        i = self.rehash_idx;
                    } else {
                        continue;
                    }
                }
                if i >= t.size() {
                    continue;
                }
                match t.buckets[i].as_deref() {
                    None => {
                        emptylen += 1;
                        if emptylen >= 5 && emptylen > count {
                            i = rng.next_u64() as usize & maxmask;
                            emptylen = 0;
                        }
                    }
                    Some(first) => {
                        emptylen = 0;
                        let mut cur = Some(first);
                        while let Some(n) = cur {
                            f(n);
                            stored += 1;
                            if stored == count {
                                return stored;
                            }
                            cur = n.next.as_deref();
                        }
                    }
                }
            }
            i = (i + 1) & maxmask;
        }
        stored
    }

    /// A random non-empty bucket, then a random element of its chain (Redis' `dictGetRandomKey`).
    fn random_node(&self, rng: &mut Rng) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let [t0, t1] = &self.tables;
        let head = if self.is_rehashing() {
            // Entries live only at or after the rehash index of the old table, or in the new table.
            let s0 = t0.size();
            let span = (s0 + t1.size() - self.rehash_idx) as u64;
            loop {
                let h = self.rehash_idx + rng.below(span) as usize;
                let b = if h >= s0 {
                    &t1.buckets[h - s0]
                } else {
                    &t0.buckets[h]
                };
                if let Some(n) = b.as_deref() {
                    break n;
                }
            }
        } else {
            let mask = t0.mask();
            loop {
                if let Some(n) = t0.buckets[rng.next_u64() as usize & mask].as_deref() {
                    break n;
                }
            }
        };
        let len = Chain { cur: Some(head) }.count();
        let mut node = head;
        for _ in 0..rng.below(len as u64) {
            node = node.next.as_deref()?;
        }
        Some(node)
    }

    /// Moves up to `buckets` non-empty buckets of an in-progress resize (visiting at most ten times as many
    /// empty ones); returns whether a resize is still in progress. `insert` and `remove` already do one step
    /// each; a caller may add steps on an idle table, but only deterministically (from the write path), since
    /// the layout decides `random` and `scan` results.
    pub fn rehash_steps(&mut self, buckets: usize) -> bool {
        self.rehash(buckets, buckets.saturating_mul(10))
    }

    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            let t0 = &self.tables[0];
            let sparse = t0.used.saturating_mul(100) / t0.size().max(1) < MIN_FILL_PERCENT;
            self.rehash(1, if sparse { SPARSE_EMPTY_VISITS } else { 10 });
        }
    }

    /// Redis' `dictRehash`, with the empty-bucket budget passed in.
    fn rehash(&mut self, mut n: usize, mut empty_visits: usize) -> bool {
        if !self.is_rehashing() {
            return false;
        }
        let Dict {
            tables: [t0, t1],
            rehash_idx,
            hasher,
            ..
        } = self;
        let mask1 = t1.mask();
        while n > 0 && t0.used != 0 {
            n -= 1;
            // t0 still holds entries, so a non-empty bucket exists at or after the rehash index.
            while t0.buckets[*rehash_idx].is_none() {
                *rehash_idx += 1;
                empty_visits = empty_visits.saturating_sub(1);
                if empty_visits == 0 {
                    return true;
                }
            }
            let mut chain = t0.buckets[*rehash_idx].take();
            while let Some(mut node) = chain {
                chain = node.next.take();
                let mut h = hasher.build_hasher();
                h.write(node.key.as_bytes());
                let slot = &mut t1.buckets[h.finish() as usize & mask1];
                node.next = slot.take();
                *slot = Some(node);
                t0.used -= 1;
                t1.used += 1;
            }
            *rehash_idx += 1;
        }
        if t0.used == 0 {
            self.tables[0] = mem::replace(&mut self.tables[1], Table::empty());
            self.rehash_idx = 0;
            // Deletes during a grow can leave the new table sparse.
            self.shrink_if_needed();
            return self.is_rehashing();
        }
        true
    }

    /// The shape that, with the entries in [`Dict::iter`] order, rebuilds this exact table (bucket sizes,
    /// resize progress, chain order): what a snapshot needs so that a restored replica samples (`random`) and
    /// scans exactly as the original does.
    pub fn shape(&self) -> Shape {
        Shape {
            sizes: [self.tables[0].size(), self.tables[1].size()],
            rehash_idx: self.rehash_idx,
            first_len: self.tables[0].used,
        }
    }

    /// Rebuilds a table from its [`Shape`] and its entries in [`Dict::iter`] order (the first
    /// `layout.first_len` entries belong to the first table). Returns `None`, building nothing large, when
    /// the two do not describe a table [`Dict`] could have reached: sizes that are not powers of two or far
    /// larger than the entries need, a resize index out of range, entries below it, duplicate keys, or an
    /// entry out of the order its bucket implies.
    pub fn from_shape<K: AsRef<[u8]>>(
        layout: Shape,
        entries: impl IntoIterator<Item = (K, V)>,
        len: usize,
    ) -> Option<Dict<V>> {
        Dict::with_seed(DEFAULT_SEED).rebuilt(layout, entries, len)
    }

    /// [`Dict::from_shape`] into this empty table, keeping its hasher.
    fn rebuilt<K: AsRef<[u8]>>(
        mut self,
        layout: Shape,
        entries: impl IntoIterator<Item = (K, V)>,
        len: usize,
    ) -> Option<Dict<V>> {
        let [s0, s1] = layout.sizes;
        // Mid-resize, a table emptied by deletes keeps its old (large) array, so sizes are not bounded by the
        // entries; an array that cannot be allocated refuses the shape instead of aborting.
        let size_ok = |s: usize| s == 0 || (s.is_power_of_two() && s <= MAX_SHAPE_SIZE);
        if !size_ok(s0) || !size_ok(s1) || layout.first_len > len {
            return None;
        }
        let rehashing = s1 != 0;
        if rehashing {
            if s0 == 0 || layout.first_len == 0 || layout.rehash_idx >= s0 {
                return None;
            }
        } else if layout.rehash_idx != 0 || layout.first_len != len || (len > 0 && s0 == 0) {
            return None;
        }
        self.tables = [
            Table {
                buckets: try_zeroed_buckets(s0)?,
                used: 0,
            },
            Table {
                buckets: try_zeroed_buckets(s1)?,
                used: 0,
            },
        ];
        self.rehash_idx = layout.rehash_idx;
        // Iteration visits each table's buckets in increasing order and each chain from its head, so the
        // entries of one bucket arrive together: they are gathered, then linked in arrival order.
        let mut group: Vec<Box<Node<V>>> = Vec::new();
        let mut group_at: Option<(usize, usize)> = None;
        let mut n = 0;
        for (key, value) in entries {
            let key = key.as_ref();
            let ti = usize::from(n >= layout.first_len);
            n += 1;
            if n > len || self.contains_key(key) || group.iter().any(|g| g.key.as_bytes() == key) {
                return None;
            }
            let t = &self.tables[ti];
            if t.size() == 0 {
                return None;
            }
            let b = self.hash(key) & t.mask();
            if ti == 0 && rehashing && b < layout.rehash_idx {
                return None;
            }
            if group_at != Some((ti, b)) {
                if let Some((gt, gb)) = group_at {
                    // A bucket before the previous one cannot come later in this layout's iteration.
                    if gt == ti && b < gb {
                        return None;
                    }
                    self.link(gt, gb, &mut group);
                }
                group_at = Some((ti, b));
            }
            let key = Key::new(key);
            self.heap_key_bytes += key.heap_bytes();
            group.push(Box::new(Node {
                next: None,
                key,
                value,
            }));
        }
        if let Some((gt, gb)) = group_at {
            self.link(gt, gb, &mut group);
        }
        (n == len).then_some(self)
    }

    /// Makes `group` (in order) the chain of bucket `b` of table `ti`, which must be empty.
    fn link(&mut self, ti: usize, b: usize, group: &mut Vec<Box<Node<V>>>) {
        let t = &mut self.tables[ti];
        let mut head = t.buckets[b].take();
        t.used += group.len();
        while let Some(mut node) = group.pop() {
            node.next = head;
            head = Some(node);
        }
        t.buckets[b] = head;
    }

    /// Grows at load factor 1 (Redis' `_dictExpandIfNeeded` with resizing allowed).
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let t0 = &self.tables[0];
        if t0.size() == 0 {
            self.tables[0] = Table::with_size(INITIAL_SIZE);
        } else if t0.used >= t0.size() {
            self.resize(t0.used + 1);
        }
    }

    /// Shrinks under 10% fill (Redis' `htNeedsResize` + `dictResize`, done here instead of from a timer).
    fn shrink_if_needed(&mut self) {
        let t0 = &self.tables[0];
        if !self.is_rehashing()
            && t0.size() > INITIAL_SIZE
            && t0.used * 100 / t0.size() < MIN_FILL_PERCENT
        {
            self.resize(t0.used);
        }
    }

    /// Starts a resize to the smallest power of two holding `min` entries (Redis' `_dictExpand`).
    fn resize(&mut self, min: usize) {
        let Some(size) = min.max(INITIAL_SIZE).checked_next_power_of_two() else {
            return;
        };
        if self.is_rehashing() || size == self.tables[0].size() {
            return;
        }
        if self.tables[0].used == 0 {
            self.tables[0] = Table::with_size(size);
        } else {
            self.tables[1] = Table::with_size(size);
            self.rehash_idx = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// Checks the structural invariants: counts, bucket placement, rehash index, size bounds.
    fn check<V>(d: &Dict<V>) {
        let mut total = 0;
        for (ti, t) in d.tables.iter().enumerate() {
            assert!(t.size() == 0 || t.size().is_power_of_two());
            let mut n = 0;
            for (i, b) in t.buckets.iter().enumerate() {
                for (k, _) in (Chain { cur: b.as_deref() }) {
                    assert_eq!(d.hash(k) & t.mask(), i, "entry in the wrong bucket");
                    if ti == 0 && d.is_rehashing() {
                        assert!(i >= d.rehash_idx, "entry below the rehash index");
                    }
                    n += 1;
                }
            }
            assert_eq!(n, t.used);
            total += n;
        }
        assert_eq!(total, d.len());
        assert_eq!(d.iter().count(), d.len());
        let heap: usize = d
            .iter()
            .map(|(k, _)| if k.len() > INLINE_KEY_LEN { k.len() } else { 0 })
            .sum();
        assert_eq!(heap, d.heap_key_bytes);
    }

    fn settle<V>(d: &mut Dict<V>) {
        while d.rehash_steps(100) {}
    }

    fn scan_all<V>(d: &Dict<V>) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, |k, _| seen.push(k.to_vec()));
            if cursor == 0 {
                return seen;
            }
        }
    }

    /// Rebuilds `d` from its shape and iteration and checks the copy behaves identically.
    fn assert_same_after_rebuild(d: &Dict<usize>) {
        let entries: Vec<(Vec<u8>, usize)> = d.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        let back = Dict::from_shape(d.shape(), entries, d.len()).expect("own shape");
        check(&back);
        assert_eq!(back.shape(), d.shape());
        let order = |d: &Dict<usize>| d.iter().map(|(k, v)| (k.to_vec(), *v)).collect::<Vec<_>>();
        assert_eq!(order(&back), order(d));
        assert_eq!(scan_all(&back), scan_all(d));
        let (mut r1, mut r2) = (Rng::new(4), Rng::new(4));
        for _ in 0..200 {
            assert_eq!(back.random(&mut r1), d.random(&mut r2));
        }
        let cloned = d.clone();
        assert_eq!(order(&cloned), order(d));
        assert_eq!(cloned.shape(), d.shape());
        // Further writes keep them in step.
        let (mut a, mut b) = (back, d.clone());
        for i in 0..300 {
            a.insert(&key(50_000 + i), i);
            b.insert(&key(50_000 + i), i);
            a.remove(&key(i * 7));
            b.remove(&key(i * 7));
        }
        assert_eq!(order(&a), order(&b));
    }

    #[test]
    fn shape_rebuilds_the_same_table() {
        let mut d: Dict<usize> = Dict::new();
        assert_same_after_rebuild(&d);
        for i in 0..1000 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        assert_same_after_rebuild(&d);
        let mut i = 5000;
        while !d.is_rehashing() {
            d.insert(&key(i), 1);
            i += 1;
        }
        assert_same_after_rebuild(&d);
        // A shrink in progress (the old table is the larger one).
        for i in 0..1000 {
            d.remove(&key(i));
            if d.is_rehashing() && d.shape().sizes[0] > d.shape().sizes[1] {
                break;
            }
        }
        assert_same_after_rebuild(&d);
    }

    #[test]
    fn impossible_shapes_are_refused() {
        let mut d: Dict<usize> = Dict::new();
        for i in 0..100 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        let entries: Vec<(Vec<u8>, usize)> = d.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        let shape = d.shape();
        let bad = |s: Shape| Dict::from_shape(s, entries.clone(), entries.len()).is_none();
        assert!(bad(Shape {
            sizes: [100, 0],
            ..shape
        }));
        assert!(bad(Shape {
            sizes: [1 << 50, 0],
            ..shape
        }));
        assert!(bad(Shape {
            rehash_idx: 3,
            ..shape
        }));
        assert!(bad(Shape {
            first_len: 99,
            ..shape
        }));
        assert!(bad(Shape {
            sizes: [shape.sizes[0], 8],
            rehash_idx: shape.sizes[0],
            first_len: 50
        }));
        // Entries out of bucket order, duplicated, missing or extra.
        let mut rev = entries.clone();
        rev.reverse();
        assert!(Dict::from_shape(shape, rev, entries.len()).is_none());
        let mut dup = entries.clone();
        dup[1] = dup[0].clone();
        assert!(Dict::from_shape(shape, dup, entries.len()).is_none());
        assert!(Dict::from_shape(shape, entries[1..].to_vec(), entries.len()).is_none());
        assert!(Dict::from_shape(shape, entries.clone(), entries.len() - 1).is_none());
    }

    #[test]
    fn layout_sizes() {
        assert_eq!(mem::size_of::<Key>(), 24);
        assert_eq!(mem::size_of::<Link<u64>>(), 8);
        assert_eq!(mem::size_of::<Node<()>>(), 32);
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut d = Dict::new();
        assert!(d.is_empty());
        assert_eq!(d.get(b"a"), None);
        assert_eq!(d.remove(b"a"), None);
        assert_eq!(d.insert(b"a", 1), None);
        assert_eq!(d.insert(b"b", 2), None);
        assert_eq!(d.insert(b"a", 3), Some(1));
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(b"a"), Some(&3));
        assert_eq!(d.get_key_value(b"b"), Some((&b"b"[..], &2)));
        assert!(d.contains_key(b"b"));
        assert!(!d.contains_key(b"c"));
        *d.get_mut(b"b").unwrap() += 10;
        assert_eq!(d.get(b"b"), Some(&12));
        assert_eq!(d.get_mut(b"zz"), None);
        assert_eq!(d.remove(b"a"), Some(3));
        assert_eq!(d.remove(b"a"), None);
        assert_eq!(d.len(), 1);
        assert!(!d.contains_key(b"a"));
        check(&d);
    }

    #[test]
    fn key_lengths_inline_and_heap() {
        let mut d = Dict::new();
        let keys: Vec<Vec<u8>> = (0..=80)
            .map(|n| (0..n).map(|i| (i * 7 + n) as u8).collect())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(d.insert(k, i), None);
        }
        check(&d);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(d.get(k), Some(&i), "len {}", k.len());
            assert_eq!(d.get_key_value(k).unwrap().0, &k[..]);
        }
        // The empty key and a key that is a prefix of another are distinct.
        assert_eq!(d.get(b""), Some(&0));
        for k in keys.iter().step_by(2) {
            assert!(d.remove(k).is_some());
        }
        check(&d);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(d.get(k).is_some(), i % 2 == 1);
        }
        d.clear();
        assert_eq!(d.heap_key_bytes, 0);
    }

    #[test]
    fn matches_std_hashmap_on_mixed_operations() {
        let mut d = Dict::new();
        let mut m = HashMap::new();
        let mut rng = Rng::new(7);
        for step in 0..200_000u64 {
            let k = key(rng.below(5_000) as usize);
            match rng.below(10) {
                0..=4 => assert_eq!(d.insert(&k, step), m.insert(k.clone(), step)),
                5..=7 => assert_eq!(d.remove(&k), m.remove(&k)),
                _ => assert_eq!(d.get(&k), m.get(&k)),
            }
            if step % 20_000 == 0 {
                check(&d);
            }
        }
        assert_eq!(d.len(), m.len());
        let got: HashMap<Vec<u8>, u64> = d.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        assert_eq!(got, m);
        check(&d);
    }

    #[test]
    fn grows_incrementally() {
        let mut d = Dict::new();
        for i in 0..4 {
            d.insert(&key(i), i);
        }
        assert_eq!(d.capacity(), 4);
        assert!(!d.is_rehashing());
        d.insert(&key(4), 4);
        // The fifth insert starts a resize to 8 buckets and lands in the new table.
        assert!(d.is_rehashing());
        assert_eq!(d.tables[1].size(), 8);
        assert_eq!(d.tables[1].used, 1);
        for i in 0..5 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
        check(&d);
        for i in 5..100_000 {
            d.insert(&key(i), i);
        }
        check(&d);
        settle(&mut d);
        assert_eq!(d.capacity(), 131_072);
        for i in 0..100_000 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
    }

    #[test]
    fn a_resize_moves_one_bucket_per_write() {
        let mut d = Dict::new();
        for i in 0..65_536 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        d.insert(&key(65_536), 0);
        assert!(d.is_rehashing());
        let before = d.tables[0].used;
        d.insert(&key(65_537), 0);
        // One step moves one bucket: a handful of entries, never the whole table.
        let moved = before - d.tables[0].used;
        assert!((1..10).contains(&moved), "moved {moved}");
        check(&d);
    }

    #[test]
    fn shrinks_when_sparse() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        assert_eq!(d.capacity(), 16_384);
        for i in 100..10_000 {
            assert_eq!(d.remove(&key(i)), Some(i));
        }
        check(&d);
        settle(&mut d);
        // Shrinks happen below 10% fill, to the smallest power of two holding the entries: 16384 -> 2048 (at
        // 1638 entries) -> 256 (at 204); 100 entries fill 256 buckets to 39%, so no further shrink.
        assert_eq!(d.capacity(), 256);
        for i in 0..100 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
        for i in 0..100 {
            d.remove(&key(i));
        }
        settle(&mut d);
        assert!(d.is_empty());
        assert_eq!(d.capacity(), INITIAL_SIZE);
    }

    #[test]
    fn deletes_finish_a_sparse_rehash_quickly() {
        // Grow to 2^17 buckets, start another grow, then delete almost everything: the sparse old table must
        // be migrated and shrunk within a bounded number of further writes.
        let mut d = Dict::new();
        for i in 0..131_072 {
            d.insert(&key(i), ());
        }
        settle(&mut d);
        d.insert(&key(131_072), ());
        assert!(d.is_rehashing());
        for i in 10..=131_072 {
            d.remove(&key(i));
        }
        let mut writes = 0;
        // 10 entries: at most 64 buckets once the shrink is done (128 would be under 10% full).
        while d.is_rehashing() || d.capacity() > 64 {
            d.insert(b"tmp", ());
            d.remove(b"tmp");
            writes += 2;
            assert!(writes < 5_000, "still {} buckets", d.capacity());
        }
        check(&d);
        assert_eq!(d.len(), 10);
    }

    #[test]
    fn remove_while_rehashing_from_both_tables() {
        let mut d = Dict::new();
        for i in 0..1024 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        d.insert(&key(1024), 1024);
        assert!(d.is_rehashing());
        for i in (0..=1024).rev() {
            assert_eq!(d.remove(&key(i)), Some(i), "key {i}");
            assert_eq!(d.remove(&key(i)), None);
        }
        check(&d);
        assert!(d.is_empty());
    }

    #[test]
    fn scan_stable_table_visits_each_entry_once() {
        for n in [0usize, 1, 3, 4, 5, 100, 1000, 4097] {
            let mut d = Dict::new();
            for i in 0..n {
                d.insert(&key(i), i);
            }
            settle(&mut d);
            let seen = scan_all(&d);
            assert_eq!(seen.len(), n);
            let set: HashSet<_> = seen.into_iter().collect();
            assert_eq!(set.len(), n);
        }
    }

    #[test]
    fn scan_mid_rehash_visits_each_entry_once() {
        let mut d = Dict::new();
        for i in 0..4096 {
            d.insert(&key(i), i);
        }
        settle(&mut d);
        d.insert(&key(4096), 0);
        for i in 4097..4500 {
            d.insert(&key(i), i);
        }
        assert!(d.is_rehashing());
        let seen = scan_all(&d);
        assert_eq!(seen.len(), 4500);
        assert_eq!(seen.into_iter().collect::<HashSet<_>>().len(), 4500);

        // Mid-shrink too (the old table is the larger one).
        for i in 300..4500 {
            d.remove(&key(i));
        }
        settle(&mut d);
        d.remove(&key(299));
        d.remove(&key(298));
        for i in 0..200 {
            d.remove(&key(i));
        }
        assert!(d.is_rehashing());
        assert!(d.tables[0].size() > d.tables[1].size());
        let seen = scan_all(&d);
        assert_eq!(seen.len(), 98);
        assert_eq!(seen.into_iter().collect::<HashSet<_>>().len(), 98);
    }

    /// Runs a scan over `originals` while `between` mutates the table between calls; every original must be
    /// returned at least once.
    fn scan_under_mutation(originals: usize, mut between: impl FnMut(&mut Dict<usize>, usize)) {
        let mut d = Dict::new();
        for i in 0..originals {
            d.insert(&key(i), i);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
            calls += 1;
            between(&mut d, calls);
            assert!(calls < 10_000_000);
        }
        check(&d);
        for i in 0..originals {
            assert!(seen.contains(&key(i)), "key {i} never returned");
        }
    }

    #[test]
    fn scan_survives_growth() {
        // The first calls insert many new keys each: the table doubles several times and is often mid-rehash.
        // (Unbounded growth would outrun the cursor forever, as it would in Redis.)
        let mut next = 1_000_000;
        scan_under_mutation(5_000, |d, call| {
            for _ in 0..if call < 4_000 { 50 } else { 0 } {
                d.insert(&key(next), next);
                next += 1;
            }
        });
    }

    #[test]
    fn scan_survives_shrinking() {
        // Extra keys deleted during the scan make the table shrink from 2^17 buckets down to the originals.
        let mut d_extra: Vec<usize> = (1_000_000..1_100_000).collect();
        let mut first = true;
        scan_under_mutation(2_000, |d, _| {
            if first {
                first = false;
                for &i in &d_extra {
                    d.insert(&key(i), i);
                }
                settle(d);
            }
            for _ in 0..200 {
                if let Some(i) = d_extra.pop() {
                    d.remove(&key(i));
                }
            }
        });
    }

    #[test]
    fn scan_survives_grow_and_shrink_cycles() {
        let mut rng = Rng::new(99);
        let mut live: Vec<usize> = Vec::new();
        let mut next = 1_000_000;
        scan_under_mutation(3_000, |d, call| {
            // Alternate phases of heavy insertion and heavy deletion of non-original keys.
            let growing = (call / 40) % 2 == 0;
            for _ in 0..rng.below(300) {
                if growing || live.is_empty() {
                    d.insert(&key(next), next);
                    live.push(next);
                    next += 1;
                } else {
                    let j = rng.below(live.len() as u64) as usize;
                    let k = live.swap_remove(j);
                    d.remove(&key(k));
                }
            }
            if rng.below(4) == 0 {
                d.rehash_steps(rng.below(50) as usize);
            }
        });
    }

    #[test]
    fn scan_of_empty_table_is_done() {
        let d: Dict<()> = Dict::new();
        assert_eq!(d.scan(0, |_, _| panic!("no entries")), 0);
        assert_eq!(d.scan(12345, |_, _| panic!("no entries")), 0);
    }

    #[test]
    fn random_covers_every_entry() {
        let mut d = Dict::new();
        let mut rng = Rng::new(1);
        assert!(d.random(&mut rng).is_none());
        for i in 0..200 {
            d.insert(&key(i), i);
        }
        let mut counts = HashMap::new();
        for _ in 0..40_000 {
            let (k, v) = d.random(&mut rng).unwrap();
            assert_eq!(d.get(k), Some(v));
            *counts.entry(*v).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 200);
        // Expected 200 each; the fair sampler keeps every entry within a loose band.
        assert!(
            counts.values().all(|&c| (40..=600).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn random_mid_rehash_and_single_entry() {
        let mut rng = Rng::new(5);
        let mut d = Dict::new();
        d.insert(b"only", 1);
        for _ in 0..10 {
            assert_eq!(d.random(&mut rng), Some((&b"only"[..], &1)));
        }
        let mut d = Dict::new();
        for i in 0..1024 {
            d.insert(&key(i), 0);
        }
        settle(&mut d);
        d.insert(&key(1024), 0);
        assert!(d.is_rehashing());
        let mut seen = HashSet::new();
        for _ in 0..50_000 {
            let (k, _) = d.random(&mut rng).unwrap();
            assert!(d.contains_key(k));
            seen.insert(k.to_vec());
            let (k, _) = d
                .random_node(&mut rng)
                .map(|n| (n.key.as_bytes(), ()))
                .unwrap();
            assert!(d.contains_key(k));
        }
        assert_eq!(seen.len(), d.len());
    }

    #[test]
    fn random_stays_cheap_after_mass_delete() {
        let mut d = Dict::new();
        for i in 0..200_000 {
            d.insert(&key(i), ());
        }
        for i in 5..200_000 {
            d.remove(&key(i));
        }
        assert!(d.capacity() <= 128, "capacity {}", d.capacity());
        let mut rng = Rng::new(3);
        for _ in 0..1000 {
            assert!(d.random(&mut rng).is_some());
        }
    }

    #[test]
    fn sample_returns_present_entries() {
        let mut d = Dict::new();
        let mut rng = Rng::new(11);
        assert_eq!(d.sample(&mut rng, 5, |_, _| panic!("empty")), 0);
        for i in 0..1000 {
            d.insert(&key(i), i);
        }
        let mut got = Vec::new();
        let n = d.sample(&mut rng, 20, |k, v| got.push((k.to_vec(), *v)));
        assert_eq!(n, got.len());
        assert!(n > 0 && n <= 20);
        for (k, v) in got {
            assert_eq!(d.get(&k), Some(&v));
        }
        let n = d.sample(&mut rng, 5000, |_, _| {});
        assert!(n <= 1000);
    }

    #[test]
    fn same_operations_same_table() {
        let run = || {
            let mut d = Dict::new();
            let mut rng = Rng::new(42);
            for i in 0..20_000 {
                d.insert(&key(rng.below(30_000) as usize), i);
                if i % 3 == 0 {
                    d.remove(&key(rng.below(30_000) as usize));
                }
            }
            let order: Vec<Vec<u8>> = d.iter().map(|(k, _)| k.to_vec()).collect();
            let mut pick = Rng::new(9);
            let randoms: Vec<Vec<u8>> = (0..100)
                .map(|_| d.random(&mut pick).unwrap().0.to_vec())
                .collect();
            (order, randoms, scan_all(&d))
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn reads_do_not_change_the_layout() {
        let mut d = Dict::new();
        for i in 0..1025 {
            d.insert(&key(i), i);
        }
        assert!(d.is_rehashing());
        let idx = d.rehash_idx;
        for i in 0..1025 {
            *d.get_mut(&key(i)).unwrap() += 1;
            d.get(&key(i));
        }
        assert_eq!(d.rehash_idx, idx);
        assert!(d.is_rehashing());
    }

    #[test]
    fn iter_mut_and_clear() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(&key(i), i);
        }
        for (_, v) in d.iter_mut() {
            *v *= 2;
        }
        for i in 0..1000 {
            assert_eq!(d.get(&key(i)), Some(&(i * 2)));
        }
        let mut all: Vec<usize> = d.iter().map(|(_, v)| *v).collect();
        all.sort();
        assert_eq!(all, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        d.clear();
        assert!(d.is_empty());
        assert_eq!(d.iter().count(), 0);
        assert_eq!(d.capacity(), 0);
        assert_eq!(d.get(&key(1)), None);
        d.insert(b"again", 1);
        assert_eq!(d.get(b"again"), Some(&1));
        check(&d);
    }

    #[test]
    fn zeroed_bucket_arrays_are_empty() {
        for size in [0, 1, 4, 1 << 16] {
            let t: Table<String> = Table::with_size(size);
            assert_eq!(t.size(), size);
            assert!(t.buckets.iter().all(Option::is_none));
        }
        // A table whose entries were all moved out frees its array without touching the elements.
        let mut d = Dict::new();
        for i in 0..5000 {
            d.insert(&key(i), key(i));
        }
        settle(&mut d);
        assert_eq!(d.get(&key(4999)), Some(&key(4999)));
    }

    #[test]
    fn long_chain_drops_without_recursion() {
        let mut t: Table<u64> = Table::with_size(1);
        let mut head = None;
        for i in 0..1_000_000 {
            head = Some(Box::new(Node {
                next: head,
                key: Key::new(b"k"),
                value: i,
            }));
        }
        t.buckets[0] = head;
        t.used = 1_000_000;
        drop(t);
    }

    #[test]
    fn values_are_dropped() {
        use std::rc::Rc;
        let token = Rc::new(());
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(&key(i), Rc::clone(&token));
        }
        d.insert(&key(0), Rc::clone(&token));
        assert_eq!(Rc::strong_count(&token), 1001);
        for i in 0..500 {
            d.remove(&key(i));
        }
        assert_eq!(Rc::strong_count(&token), 501);
        d.clear();
        assert_eq!(Rc::strong_count(&token), 1);
        for i in 0..100 {
            d.insert(&key(i), Rc::clone(&token));
        }
        drop(d);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn allocated_bytes_counts_buckets_nodes_and_long_keys() {
        let mut d: Dict<u64> = Dict::new();
        assert_eq!(d.allocated_bytes(), 0);
        d.insert(b"short", 1);
        d.insert(&[b'x'; 40], 2);
        let expected = 4 * 8 + 2 * mem::size_of::<Node<u64>>() + 40;
        assert_eq!(d.allocated_bytes(), expected);
        assert_eq!(Dict::<u64>::entry_allocations(5), (40, 0));
        assert_eq!(Dict::<u64>::entry_allocations(22), (40, 0));
        assert_eq!(Dict::<u64>::entry_allocations(40), (40, 40));
    }

    /// Cost of allocating and freeing an empty bucket array, the part of a resize not spread over operations;
    /// run with `cargo test -p store --release dict::tests::bucket_array_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bucket_array_cost() {
        use std::time::{Duration, Instant};
        for exp in [20, 21, 24] {
            let (mut alloc, mut free) = (Duration::MAX, Duration::MAX);
            for _ in 0..5 {
                let t = Instant::now();
                let table: Table<u64> = Table::with_size(1 << exp);
                alloc = alloc.min(t.elapsed());
                let t = Instant::now();
                drop(table);
                free = free.min(t.elapsed());
            }
            println!("2^{exp} buckets: allocate {alloc:?}, free {free:?}");
        }
    }
}
