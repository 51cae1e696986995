//! The keyspace: keys to objects, with lazy expiry and statistics.

use std::ptr::NonNull;

use bytes::Bytes;

use crate::dict::Dict;
use crate::exec::{ExecCtx, Rng};
use crate::types::hash::HashLimits;
use crate::value::Value;

/// `expire_at` of a key without a deadline.
pub const NO_EXPIRE: i64 = -1;

/// A key's value with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// The data.
    pub value: Value,
    /// Absolute deadline in Unix milliseconds, or [`NO_EXPIRE`].
    pub expire_at: i64,
    /// Last access, in seconds of the access clock (for `OBJECT IDLETIME`); not part of replicated state.
    pub lru: u32,
    /// Low 32 bits of the keyspace's [`Keyspace::epoch`] when the key was last written (WATCH's version):
    /// replicated state, kept in the padding after `lru` so it costs no memory.
    pub stamp: u32,
}

impl Object {
    /// An object without a deadline.
    pub fn new(value: Value) -> Object {
        Object {
            value,
            expire_at: NO_EXPIRE,
            lru: 0,
            stamp: 0,
        }
    }

    /// Whether the object is past its deadline at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now_ms
    }

    /// Whole seconds since the last access at `now_ms` (`OBJECT IDLETIME`).
    pub fn idle_secs(&self, now_ms: i64) -> u32 {
        lru_clock(now_ms).saturating_sub(self.lru)
    }
}

/// Counters for `INFO stats` and `INFO keyspace`.
#[derive(Clone, Debug, Default)]
pub struct KeyspaceStats {
    /// Successful key lookups by read commands.
    pub keyspace_hits: u64,
    /// Failed key lookups by read commands.
    pub keyspace_misses: u64,
    /// Keys deleted because their deadline passed.
    pub expired_keys: u64,
    /// Hash fields deleted because their deadline passed (Redis 7.4's `expired_subkeys`).
    pub expired_subkeys: u64,
    /// Keys deleted to stay under `maxmemory`.
    pub evicted_keys: u64,
}

/// Settings commands consult while they run. Every replica of a shard must use the same values, so they are
/// part of the node's configuration, not of a command.
#[derive(Clone, Debug)]
pub struct KeyspaceConfig {
    /// `proto-max-bulk-len`: the largest string a command may build (APPEND, SETRANGE, SETBIT, ...).
    pub proto_max_bulk_len: u64,
    /// `hash-max-listpack-entries`: most fields of a listpack-encoded hash.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value of a listpack-encoded hash.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: most members of an intset-encoded set.
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: a list node's limit, in bytes (-1 to -5: 4 KB to 64 KB) or elements (> 0).
    pub list_max_listpack_size: i32,
    /// `list-compress-depth`: accepted and reported, but nodes are never compressed.
    pub list_compress_depth: i32,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`: when a sorted set leaves the listpack.
    pub zset_limits: crate::zset::Limits,
    /// `notify-keyspace-events` and where events go.
    pub notify: crate::notify::Notifier,
    /// What an access records in [`Object::lru`]: the time (LRU) or a use counter (LFU policies).
    pub access: crate::evict::AccessTracking,
    /// `stream-node-max-bytes` and `stream-node-max-entries`: when a stream starts a new node.
    pub stream_node_limits: crate::types::stream::NodeLimits,
}

impl Default for KeyspaceConfig {
    fn default() -> Self {
        // Redis' built-in defaults (its sample redis.conf sets hash-max-listpack-entries to 128).
        KeyspaceConfig {
            proto_max_bulk_len: 512 * 1024 * 1024,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            zset_limits: crate::zset::Limits::default(),
            notify: Default::default(),
            access: Default::default(),
            stream_node_limits: crate::types::stream::NodeLimits::default(),
        }
    }
}

impl KeyspaceConfig {
    /// The hash encoding thresholds.
    pub fn hash_limits(&self) -> HashLimits {
        HashLimits {
            max_listpack_entries: self.hash_max_listpack_entries,
            max_listpack_value: self.hash_max_listpack_value,
        }
    }
}

/// One database: every key with its object, plus the set of keys that have a deadline.
#[derive(Default)]
pub struct Keyspace {
    data: Dict<Object>,
    volatile: Dict<()>,
    /// Keys of hashes holding fields with a deadline, which active expiry samples too.
    field_volatile: Dict<()>,
    /// Counters, reset by `CONFIG RESETSTAT`.
    pub stats: KeyspaceStats,
    /// Settings from the node's configuration.
    pub config: KeyspaceConfig,
    /// Expired keys that reads came across; the server deletes them through the write path.
    lazy_expired: Vec<Vec<u8>>,
    /// Keys whose lists gained elements since the server last looked (Redis' `signalKeyAsReady`).
    ready: ReadyKeys,
    /// The keys in `ready`, to record each once.
    ready_set: std::collections::HashSet<Vec<u8>, foldhash::fast::FixedState>,
    /// Told when `ready` stops being empty, so the server drains it after the running write.
    ready_hook: Option<ReadyHook>,
    /// Keyspace events of the running entry or reads, for [`Keyspace::flush_events`].
    events: Vec<crate::notify::KeyEvent>,
    /// The snapshot being written, while one is: writes save what they are about to change into it.
    cow: Option<Box<crate::snapshot::Cow>>,
    /// Entries applied so far: the version WATCH observes ([`crate::exec::Watched`]). Replicated state.
    epoch: u64,
    /// WATCH's memory of deleted keys: per bucket of key hashes ([`WATCH_BUCKETS`]), the newest epoch at which
    /// a key of the bucket that was deleted had last been written. Empty until the first deletion.
    deleted: Vec<u64>,
    /// Slots moving out, the frozen batch, batches imported: replicated state ([`crate::migrate`]).
    pub migration: crate::migrate::MigrationState,
}

/// [`Keyspace::stamp_epoch`] for a keyspace at `epoch`.
fn stamp_epoch(epoch: u64, stamp: u32) -> u64 {
    epoch.saturating_sub(u64::from((epoch as u32).wrapping_sub(stamp)))
}

/// Buckets of [`Keyspace`]'s deleted-key memory (32 KB once a key was deleted).
pub const WATCH_BUCKETS: usize = 4096;

/// The bucket of `key` in the deleted-key memory: FNV-1a, fixed forever because the table is replicated state
/// (a std or foldhash hasher may change between builds).
fn watch_bucket(key: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as usize % WATCH_BUCKETS
}

/// Called, under the keyspace's lock, when a key is signalled ready and none was pending: it must only wake
/// someone (the server's blocked-client task), never lock or wait.
pub type ReadyHook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Keys that writes made ready for clients blocked on them, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadyKeys {
    /// The keys, each once, in the order they were first signalled.
    pub keys: Vec<Vec<u8>>,
    /// Whether more keys were signalled than [`READY_KEYS_MAX`]: then any blocked key may be ready.
    pub overflowed: bool,
}

/// Most ready keys remembered between two drains: a node that never drains them does not grow.
pub const READY_KEYS_MAX: usize = 1024;

/// Most expired keys remembered between two drains: reads never grow memory without bound.
const LAZY_EXPIRED_MAX: usize = 1024;

/// Bytes glibc malloc takes for a request of `n` bytes: an 8-byte header, 16-byte granularity, 32 at least.
pub(crate) fn heap_bytes(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// Bytes one entry with a `key_len`-byte key takes in a [`Dict`] of `V` (glibc-sized): its node, the key's own
/// buffer if it is too long to live in the node, and one bucket slot (load factor 1).
fn entry_bytes<V>(key_len: usize) -> usize {
    let (node, key) = Dict::<V>::entry_allocations(key_len);
    heap_bytes(node) + heap_bytes(key) + std::mem::size_of::<usize>()
}

pub(crate) fn lru_clock(now_ms: i64) -> u32 {
    (now_ms / 1000) as u32
}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Keyspace {
        Keyspace::default()
    }

    /// Records a keyspace event of `class` named `event` about `key`, if that class is enabled: Redis'
    /// `notifyKeyspaceEvent`. Published after the entry is applied ([`Keyspace::flush_events`]).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let n = &self.config.notify;
        if !n.wants(class) {
            return;
        }
        use crate::notify::class::{KEYEVENT, KEYSPACE};
        self.events.push(crate::notify::KeyEvent {
            keyspace: n.classes & KEYSPACE != 0,
            keyevent: n.classes & KEYEVENT != 0,
            event,
            key: key.to_vec(),
        });
    }

    /// Hands the recorded events to the configured sink, in the order they happened.
    pub fn flush_events(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        if let Some(sink) = &self.config.notify.sink {
            sink(events);
        }
    }

    /// Number of keys, expired-but-not-yet-deleted ones included (as Redis' `DBSIZE`).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the keyspace holds no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// Number of hashes holding fields with a deadline.
    pub fn field_volatile_len(&self) -> usize {
        self.field_volatile.len()
    }

    /// Whether the hash under `key` is known to hold fields with a deadline.
    pub fn has_field_deadlines(&self, key: &[u8]) -> bool {
        self.field_volatile.contains_key(key)
    }

    /// Re-reads whether the object under `key` is a hash holding fields with a deadline and tracks it for
    /// active expiry accordingly; commands call it after setting or clearing field deadlines.
    pub fn sync_field_deadlines(&mut self, key: &[u8]) {
        let has = self
            .data
            .get(key)
            .is_some_and(|o| matches!(&o.value, Value::Hash(h) if h.has_deadlines()));
        match (has, self.field_volatile.contains_key(key)) {
            (true, false) => {
                self.field_volatile.insert(key, ());
            }
            (false, true) => {
                self.field_volatile.remove(key);
            }
            _ => {}
        }
    }

    /// Deletes the fields of the hash under `key` that are past their deadline at `now_ms`, and the key when
    /// no field is left: the write path's form of field expiry. Returns how many fields went.
    pub fn purge_due_fields(&mut self, key: &[u8], now_ms: i64) -> usize {
        self.before_write(key);
        let Some(o) = self.data.get_mut(key) else {
            return 0;
        };
        let Value::Hash(h) = &mut o.value else {
            return 0;
        };
        let n = h.purge_due(now_ms);
        if n == 0 {
            return 0;
        }
        let emptied = h.is_empty();
        if !emptied {
            o.stamp = self.epoch as u32;
        }
        self.stats.expired_subkeys += n as u64;
        self.notify(crate::notify::class::HASH, "hexpired", key);
        if emptied {
            self.remove(key);
            self.notify(crate::notify::class::GENERIC, "del", key);
        } else {
            self.sync_field_deadlines(key);
        }
        n
    }

    /// Reports a hash that a read found holding expired fields, for deletion through the write path (as
    /// expired keys are).
    pub fn note_due_fields(&mut self, key: &[u8]) {
        if self.lazy_expired.len() < LAZY_EXPIRED_MAX && !self.lazy_expired.iter().any(|k| k == key)
        {
            self.lazy_expired.push(key.to_vec());
        }
    }

    /// Lookup by a read command: counts a hit or miss and refreshes the access time. Expired keys are absent.
    pub fn read(&mut self, ctx: &ExecCtx, key: &[u8]) -> Option<&Object> {
        match self.live(ctx, key) {
            Some(mut o) => {
                self.stats.keyspace_hits += 1;
                let access = self.config.access;
                // SAFETY: see `live`; only `stats` and `config`, other fields, were touched since.
                let o = unsafe { o.as_mut() };
                o.lru = access.touch(o.lru, ctx.now_ms, key);
                Some(o)
            }
            None => {
                self.stats.keyspace_misses += 1;
                self.notify(crate::notify::class::KEY_MISS, "keymiss", key);
                None
            }
        }
    }

    /// Lookup by a read command that must not refresh the access time (`EXISTS`, `TYPE`, `TTL`, `OBJECT`, the
    /// `TYPE` filter of `SCAN`): counts a hit or miss like [`Keyspace::read`].
    pub fn read_notouch(&mut self, ctx: &ExecCtx, key: &[u8]) -> Option<&Object> {
        match self.live(ctx, key) {
            Some(o) => {
                self.stats.keyspace_hits += 1;
                // SAFETY: see `live`; only `stats`, a different field, was touched since.
                Some(unsafe { o.as_ref() })
            }
            None => {
                self.stats.keyspace_misses += 1;
                self.notify(crate::notify::class::KEY_MISS, "keymiss", key);
                None
            }
        }
    }

    /// Starts loading the bucket slot of `key` (see [`Dict::prefetch_slot`]); changes nothing.
    #[inline]
    pub fn prefetch_slot(&self, key: &[u8]) {
        self.data.prefetch_slot(key);
    }

    /// Starts loading the entry of `key` once its slot is likely loaded (see [`Dict::prefetch_node`]).
    #[inline]
    pub fn prefetch_entry(&self, key: &[u8]) {
        self.data.prefetch_node(key);
    }

    /// The last step: the heap data of the value of `key` (a string's bytes), which an overwrite frees.
    #[inline]
    pub fn prefetch_value(&self, key: &[u8]) {
        if let Some(Object {
            value: Value::Str(s),
            ..
        }) = self.data.get(key)
        {
            crate::dict::prefetch(s.as_ptr());
        }
    }

    /// Lookup without statistics, for writes and for commands that only inspect metadata. In a write context an
    /// expired key is deleted here, deterministically (the time is the entry's).
    pub fn lookup(&mut self, ctx: &ExecCtx, key: &[u8]) -> Option<&mut Object> {
        // The caller may change the object through the reference: a snapshot being written copies it first.
        if ctx.write {
            self.before_write(key);
        }
        // SAFETY: see `live`; nothing touched the table since.
        self.live(ctx, key).map(|mut o| unsafe { o.as_mut() })
    }

    /// The live object under `key` with a single table probe in the common case. An expired object reads as
    /// absent and is deleted (write context) or reported for deletion through the write path (read context).
    ///
    /// The pointer comes from `self.data.get_mut` and stays valid until the table is next modified; callers
    /// turn it back into a reference bound to `&mut self` before touching `self.data` again. It exists only
    /// because the borrow checker rejects returning a borrow conditionally and then using `self` on the other
    /// branch.
    fn live(&mut self, ctx: &ExecCtx, key: &[u8]) -> Option<NonNull<Object>> {
        let obj = NonNull::from(self.data.get_mut(key)?);
        // SAFETY: `obj` was just derived from an exclusive borrow of the table, which nothing has used since.
        if !unsafe { obj.as_ref() }.is_expired(ctx.now_ms) {
            return Some(obj);
        }
        if ctx.write {
            self.expire_if_due(key, ctx.now_ms);
        } else if self.lazy_expired.len() < LAZY_EXPIRED_MAX {
            self.lazy_expired.push(key.to_vec());
        }
        None
    }

    /// Lookup that neither counts nor touches nor deletes: for OBJECT-style introspection and digests.
    pub fn peek(&self, now_ms: i64, key: &[u8]) -> Option<&Object> {
        self.data.get(key).filter(|o| !o.is_expired(now_ms))
    }

    /// The object under `key` as stored, expired or not (digests compare stored state).
    pub fn get_raw(&self, key: &[u8]) -> Option<&Object> {
        self.data.get(key)
    }

    /// Whether `key` exists (not expired) at the context's time.
    pub fn exists(&mut self, ctx: &ExecCtx, key: &[u8]) -> bool {
        self.lookup(ctx, key).is_some()
    }

    fn expire_on_write(&mut self, ctx: &ExecCtx, key: &[u8]) {
        if ctx.write {
            self.expire_if_due(key, ctx.now_ms);
        } else if self.lazy_expired.len() < LAZY_EXPIRED_MAX
            && self.data.get(key).is_some_and(|o| o.is_expired(ctx.now_ms))
        {
            self.lazy_expired.push(key.to_vec());
        }
    }

    /// Takes the expired keys reads came across since the last call, for deletion through the write path.
    pub fn take_lazy_expired(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.lazy_expired)
    }

    /// Records that `key` now holds elements clients may be blocked waiting for (a list or sorted set was created or grew):
    /// Redis' `signalKeyAsReady`. Each key is kept once until [`Keyspace::take_ready_keys`]; past
    /// [`READY_KEYS_MAX`] keys only the overflow is noted.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.ready_set.contains(key) {
            return;
        }
        if self.ready.keys.is_empty() && !self.ready.overflowed {
            if let Some(hook) = &self.ready_hook {
                hook();
            }
        }
        if self.ready.keys.len() >= READY_KEYS_MAX {
            self.ready.overflowed = true;
            return;
        }
        self.ready.keys.push(key.to_vec());
        self.ready_set.insert(key.to_vec());
    }

    /// Takes the keys signalled ready since the last call, for the server to serve clients blocked on them.
    pub fn take_ready_keys(&mut self) -> ReadyKeys {
        self.ready_set.clear();
        std::mem::take(&mut self.ready)
    }

    /// Records that any key may be ready (the whole keyspace was replaced, e.g. by a snapshot).
    pub fn signal_all_ready(&mut self) {
        if let Some(hook) = &self.ready_hook {
            hook();
        }
        self.ready.overflowed = true;
    }

    /// Sets the function told when keys become ready ([`ReadyHook`]).
    pub fn set_ready_hook(&mut self, hook: Option<ReadyHook>) {
        self.ready_hook = hook;
    }

    /// The function told when keys become ready, to carry over to a keyspace that replaces this one.
    pub fn ready_hook(&self) -> Option<ReadyHook> {
        self.ready_hook.clone()
    }

    /// Deletes `key` if it is past its deadline at `now_ms`; the write path's form of expiry.
    pub fn expire_if_due(&mut self, key: &[u8], now_ms: i64) -> bool {
        if self.data.get(key).is_some_and(|o| o.is_expired(now_ms)) {
            self.remove(key);
            self.stats.expired_keys += 1;
            self.notify(crate::notify::class::EXPIRED, "expired", key);
            true
        } else {
            false
        }
    }

    /// Stores `value` under `key` with deadline `expire_at` ([`NO_EXPIRE`] for none), replacing any object.
    pub fn set(&mut self, ctx: &ExecCtx, key: &[u8], value: Value, expire_at: i64) {
        if matches!(value, Value::List(_) | Value::ZSet(_) | Value::Stream(_)) {
            self.signal_ready(key);
        }
        let fields_expire = matches!(&value, Value::Hash(h) if h.has_deadlines());
        let access = self.config.access;
        // An overwrite keeps the key's use count under LFU, as Redis' `dbOverwrite` does (the extra lookup
        // only then).
        let lru = match access.lfu.then(|| self.data.get(key)).flatten() {
            Some(old) => old.lru,
            None => access.created(ctx.now_ms),
        };
        self.before_write(key);
        let obj = Object {
            value,
            expire_at,
            lru,
            stamp: self.epoch as u32,
        };
        let old = self.data.insert(key, obj);
        if old.is_none() {
            self.notify(crate::notify::class::NEW, "new", key);
        }
        if matches!(&old, Some(o) if matches!(o.value, Value::Stream(_))) {
            // Clients blocked in XREADGROUP on a replaced stream get an error (Redis' signalDeletedKeyAsReady).
            self.signal_ready(key);
        }
        if fields_expire {
            self.field_volatile.insert(key, ());
        } else if !self.field_volatile.is_empty() {
            self.field_volatile.remove(key);
        }
        let was_volatile = old.is_some_and(|o| o.expire_at != NO_EXPIRE);
        match (was_volatile, expire_at != NO_EXPIRE) {
            (false, true) => {
                self.volatile.insert(key, ());
            }
            (true, false) => {
                self.volatile.remove(key);
            }
            _ => {}
        }
    }

    /// Stores `value` under `key`, keeping the deadline of a live existing key (`KEEPTTL`, or an in-place edit).
    pub fn set_keep_ttl(&mut self, ctx: &ExecCtx, key: &[u8], value: Value) {
        let ttl = self.lookup(ctx, key).map_or(NO_EXPIRE, |o| o.expire_at);
        self.set(ctx, key, value, ttl);
    }

    /// Deletes `key`, returning its object (even if it had expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Object> {
        self.before_write(key);
        let old = self.data.remove(key)?;
        if matches!(old.value, Value::Stream(_)) {
            // Clients blocked in XREADGROUP on a deleted stream get an error (Redis' signalDeletedKeyAsReady).
            self.signal_ready(key);
        }
        self.note_deleted(key, old.stamp);
        if old.expire_at != NO_EXPIRE {
            self.volatile.remove(key);
        }
        if !self.field_volatile.is_empty() {
            self.field_volatile.remove(key);
        }
        Some(old)
    }

    /// Sets the deadline of an existing key; returns false if the key is absent. A deadline in the past
    /// deletes the key (as Redis does, counting no expiry).
    pub fn set_expire(&mut self, ctx: &ExecCtx, key: &[u8], expire_at: i64) -> bool {
        self.before_write(key);
        let stamp = self.epoch as u32;
        let Some(o) = self.lookup(ctx, key) else {
            return false;
        };
        if expire_at <= ctx.now_ms {
            self.remove(key);
            return true;
        }
        let was = o.expire_at;
        o.expire_at = expire_at;
        o.stamp = stamp;
        if was == NO_EXPIRE {
            self.volatile.insert(key, ());
        }
        true
    }

    /// Removes the deadline of a key; returns whether it had one.
    pub fn persist(&mut self, ctx: &ExecCtx, key: &[u8]) -> bool {
        self.before_write(key);
        let stamp = self.epoch as u32;
        match self.lookup(ctx, key) {
            Some(o) if o.expire_at != NO_EXPIRE => {
                o.expire_at = NO_EXPIRE;
                o.stamp = stamp;
                self.volatile.remove(key);
                true
            }
            _ => false,
        }
    }

    /// Moves the live object under `from` to `to` with its deadline and access time, replacing what `to` held.
    /// Returns false, changing nothing, when `from` is absent; renaming a key to itself changes nothing.
    pub fn rename(&mut self, ctx: &ExecCtx, from: &[u8], to: &[u8]) -> bool {
        if self.lookup(ctx, from).is_none() {
            return false;
        }
        if from == to {
            return true;
        }
        // `to` may hold an expired object: deleting it through expiry keeps the expired_keys count as Redis'.
        self.expire_on_write(ctx, to);
        self.remove(to);
        // `remove` lets a snapshot being written note `to` (absent now) as written, so it leaves `to` out.
        let Some(mut obj) = self.remove(from) else {
            return false;
        };
        obj.stamp = self.epoch as u32;
        let volatile = obj.expire_at != NO_EXPIRE;
        if matches!(
            obj.value,
            Value::List(_) | Value::ZSet(_) | Value::Stream(_)
        ) {
            self.signal_ready(to);
        }
        let fields_expire = matches!(&obj.value, Value::Hash(h) if h.has_deadlines());
        if self.data.insert(to, obj).is_none() {
            self.notify(crate::notify::class::NEW, "new", to);
        }
        if volatile {
            self.volatile.insert(to, ());
        }
        if fields_expire {
            self.field_volatile.insert(to, ());
        }
        true
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        if !self.data.is_empty() {
            // Clients blocked in XREADGROUP on a stream that goes get an error.
            self.signal_all_ready();
        }
        // Every key is deleted: WATCH must see each as such (an O(n) pass, as freeing them is).
        if !self.data.is_empty() && self.deleted.is_empty() {
            self.deleted = vec![0; WATCH_BUCKETS];
        }
        for (k, o) in self.data.iter() {
            let slot = &mut self.deleted[watch_bucket(k)];
            *slot = (*slot).max(stamp_epoch(self.epoch, o.stamp));
        }
        match self.cow.as_deref_mut() {
            // The snapshot being written keeps the old table, which nothing changes any more.
            Some(cow) => cow.freeze(&mut self.data),
            None => self.data.clear(),
        }
        self.volatile.clear();
        self.field_volatile.clear();
    }

    /// Entries applied so far (the version WATCH observes).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Starts applying a new entry: every key written from now on gets the new epoch as its stamp.
    pub fn begin_entry(&mut self) {
        self.epoch += 1;
    }

    /// Records that `key` was written by the running entry, if it exists (the keys of a write command that
    /// changed something: Redis' `signalModifiedKey`).
    pub fn touch(&mut self, key: &[u8]) {
        // The stamp is snapshot state too.
        self.before_write(key);
        let stamp = self.epoch as u32;
        if let Some(o) = self.data.get_mut(key) {
            o.stamp = stamp;
        }
    }

    /// The full epoch a 32-bit stamp stands for: the latest one not after the current epoch with those low
    /// bits. Exact for keys written in the last 2^32 entries; an older key may look newer, never older, so a
    /// WATCH can only abort needlessly, never miss a write.
    fn stamp_epoch(&self, stamp: u32) -> u64 {
        stamp_epoch(self.epoch, stamp)
    }

    fn note_deleted(&mut self, key: &[u8], stamp: u32) {
        let e = self.stamp_epoch(stamp);
        self.mark_deleted(watch_bucket(key), e);
    }

    fn mark_deleted(&mut self, bucket: usize, epoch: u64) {
        if epoch == 0 {
            return;
        }
        if self.deleted.is_empty() {
            self.deleted = vec![0; WATCH_BUCKETS];
        }
        let slot = &mut self.deleted[bucket];
        *slot = (*slot).max(epoch);
    }

    /// What WATCH records of `key` at `now_ms`: the current epoch and whether the key is live (an expired key
    /// counts as absent, as Redis' stale watched keys).
    pub fn watch(&self, key: Bytes, now_ms: i64) -> crate::exec::Watched {
        crate::exec::Watched {
            live: self.peek(now_ms, &key).is_some(),
            key,
            epoch: self.epoch,
        }
    }

    /// Whether the key watched as `w` is unchanged at `now_ms`: EXEC runs only if this holds for every watched
    /// key. A function of replicated state and the entry's time only, so every replica decides alike.
    ///
    /// Changed means: written after the watch (its stamp is newer), deleted after the watch while it was live,
    /// expired since the watch while it was live (Redis' `isWatchedKeyExpired`), or, for a key absent or stale at
    /// the watch, created after it and deleted again (the deleted-key memory of its bucket is newer; another
    /// key of the bucket written and deleted in between aborts needlessly). A key that was stale at the watch
    /// and was deleted since is unchanged, as in Redis.
    pub fn watch_holds(&self, w: &crate::exec::Watched, now_ms: i64) -> bool {
        // A watch older than the stamps can tell apart: abort rather than risk missing a write.
        if self.epoch.saturating_sub(w.epoch) >= u64::from(u32::MAX) {
            return false;
        }
        match self.data.get(&w.key) {
            Some(o) => self.stamp_epoch(o.stamp) <= w.epoch && !(w.live && o.is_expired(now_ms)),
            None => {
                !w.live
                    && self
                        .deleted
                        .get(watch_bucket(&w.key))
                        .is_none_or(|&e| e <= w.epoch)
            }
        }
    }

    /// The replicated WATCH state besides the keys' stamps, for snapshots: the epoch and the deleted-key
    /// memory's non-zero buckets.
    pub fn watch_state(&self) -> (u64, Vec<(usize, u64)>) {
        let buckets = self
            .deleted
            .iter()
            .enumerate()
            .filter(|(_, &e)| e != 0)
            .map(|(i, &e)| (i, e))
            .collect();
        (self.epoch, buckets)
    }

    /// Restores what [`Keyspace::watch_state`] returned (snapshot load). Buckets out of range are ignored.
    pub fn restore_watch_state(&mut self, epoch: u64, buckets: &[(usize, u64)]) {
        self.epoch = epoch;
        for &(b, e) in buckets {
            if b < WATCH_BUCKETS {
                self.mark_deleted(b, e);
            }
        }
    }

    /// Sets the access field ([`Object::lru`]) of `key` (`RESTORE ... IDLETIME|FREQ`).
    pub fn set_access(&mut self, key: &[u8], lru: u32) {
        if let Some(o) = self.data.get_mut(key) {
            o.lru = lru;
        }
    }

    /// Sets the stamp of `key` as a snapshot recorded it.
    pub fn restore_stamp(&mut self, key: &[u8], stamp: u32) {
        self.before_write(key);
        if let Some(o) = self.data.get_mut(key) {
            o.stamp = stamp;
        }
    }

    /// Samples up to `samples` keys with a deadline and returns those past it at `now_ms`: active expiry's probe.
    /// Read-only: the caller proposes their deletion through the write path.
    /// Hashes holding fields past their deadline are sampled the same way (up to `samples` of them) and
    /// returned too: [`crate::exec::Op::ExpireIfDue`] deletes their due fields.
    pub fn sample_expired(&self, now_ms: i64, samples: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..samples.min(self.volatile.len()) {
            if let Some((k, _)) = self.volatile.random(rng) {
                if self.data.get(k).is_some_and(|o| o.is_expired(now_ms))
                    && !out.iter().any(|x: &Vec<u8>| x == k)
                {
                    out.push(k.to_vec());
                }
            }
        }
        for _ in 0..samples.min(self.field_volatile.len()) {
            if let Some((k, _)) = self.field_volatile.random(rng) {
                let due = self
                    .data
                    .get(k)
                    .is_some_and(|o| matches!(&o.value, Value::Hash(h) if h.has_due(now_ms)));
                if due && !out.iter().any(|x: &Vec<u8>| x == k) {
                    out.push(k.to_vec());
                }
            }
        }
        out
    }

    /// Lets a snapshot being written save `key`'s state before a write changes it (see [`crate::snapshot`]).
    #[inline]
    fn before_write(&mut self, key: &[u8]) {
        if let Some(cow) = self.cow.as_deref_mut() {
            cow.before_write(&self.data, key);
        }
    }

    /// Visits the keys of one hash class (see [`Dict::visit_class`]), for the snapshot walk.
    pub(crate) fn visit_class<'a>(
        &'a self,
        class: usize,
        classes: usize,
        f: impl FnMut(&'a [u8], &'a Object),
    ) {
        self.data.visit_class(class, classes, f)
    }

    /// The key table and the snapshot being written, for the snapshot walk.
    pub(crate) fn cow_parts(&mut self) -> (&Dict<Object>, &mut Option<Box<crate::snapshot::Cow>>) {
        (&self.data, &mut self.cow)
    }

    /// One step of a SCAN over all keys: visits the entries of the cursor's bucket(s), returns the next cursor.
    pub fn scan(&self, cursor: u64, f: impl FnMut(&[u8], &Object)) -> u64 {
        self.data.scan(cursor, f)
    }

    /// One `SCAN` call as Redis runs it: visits buckets from `cursor` until `count` keys are collected, the
    /// iteration ends, or `10 * count` more buckets were visited (so a sparse table cannot stall the call).
    /// Returns the next cursor and the keys visited, expired ones included (callers filter).
    pub fn scan_keys(&self, cursor: u64, count: usize) -> (u64, Vec<Vec<u8>>) {
        let mut keys = Vec::new();
        let mut cursor = cursor;
        let mut budget = count.saturating_mul(10);
        loop {
            cursor = self.data.scan(cursor, |k, _| keys.push(k.to_vec()));
            if cursor == 0 || budget == 0 || keys.len() >= count {
                return (cursor, keys);
            }
            budget -= 1;
        }
    }

    /// Estimated bytes the live `key` occupies (`MEMORY USAGE`): its table entry, key, value and, with a
    /// deadline, its entry in the volatile set. Allocations are counted as glibc malloc sizes them.
    pub fn memory_usage(&self, now_ms: i64, key: &[u8]) -> Option<usize> {
        let o = self.peek(now_ms, key)?;
        let value = match &o.value {
            Value::Str(s) => heap_bytes(s.capacity()),
            Value::Int(_) => 0,
            Value::Hash(h) => h.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::List(l) => l.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
            Value::Stream(st) => st.heap_size(),
        };
        let mut total = entry_bytes::<Object>(key.len()) + value;
        if o.expire_at != NO_EXPIRE {
            total += entry_bytes::<()>(key.len());
        }
        if self.field_volatile.contains_key(key) {
            total += entry_bytes::<()>(key.len());
        }
        Some(total)
    }

    /// The key table's bucket slots (both tables while resizing) and whether a resize is in progress: writes
    /// that add or remove keys change this sooner or later, reads never do. Lets a chunked walk check that
    /// nothing wrote between its chunks.
    pub fn table_layout(&self) -> (usize, bool) {
        (self.data.capacity(), self.data.is_rehashing())
    }

    /// Every entry (expired ones included; callers filter by time).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Object)> {
        self.data.iter()
    }

    /// A random key, expired or not (eviction sampling).
    pub(crate) fn random_entry(&self, rng: &mut Rng) -> Option<&[u8]> {
        self.data.random(rng).map(|(k, _)| k)
    }

    /// A random key with a deadline (eviction sampling for the volatile policies).
    pub(crate) fn random_volatile(&self, rng: &mut Rng) -> Option<&[u8]> {
        self.volatile.random(rng).map(|(k, _)| k)
    }

    /// A random live key, or `None` when there is none (gives up after a bounded number of expired draws).
    pub fn random_key(&self, now_ms: i64, rng: &mut Rng) -> Option<Vec<u8>> {
        for _ in 0..100 {
            let (k, o) = self.data.random(rng)?;
            if !o.is_expired(now_ms) {
                return Some(k.to_vec());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_stamp_costs_no_memory() {
        // The stamp lives in the padding after `lru`: an object is as large as without it.
        assert_eq!(std::mem::size_of::<Object>(), 40);
    }

    #[test]
    fn stamps_far_in_the_past_can_only_look_newer() {
        let mut ks = Keyspace::new();
        ks.epoch = (5u64 << 32) + 10;
        // Written at epoch 2^32 * 5 + 3: exact.
        assert_eq!(ks.stamp_epoch(3), (5u64 << 32) + 3);
        // Low bits above the current ones: the previous round, never a future epoch.
        assert_eq!(ks.stamp_epoch(20), (4u64 << 32) + 20);
        ks.epoch = 7;
        assert_eq!(ks.stamp_epoch(9), 0);
        // A watch older than the stamps can tell apart aborts.
        let w = crate::exec::Watched {
            key: Bytes::from_static(b"k"),
            epoch: 1,
            live: false,
        };
        ks.epoch = 1 + u64::from(u32::MAX);
        assert!(!ks.watch_holds(&w, 0));
        ks.epoch -= 1;
        assert!(ks.watch_holds(&w, 0));
    }
}
