//! Where a node keeps its Raft logs: a small storage trait and its implementations.
//!
//! [`LogBackend`] is everything the Raft log of one group asks of a store, so the engine can change without
//! touching the Raft side. A node opens one store ([`NodeStorage`]) holding every group's log, so one flush
//! makes every group durable at once.
//!
//! Three engines are implemented:
//! - [`AofLog`] (the default, [`crate::aof`]): per group, append-only segment files with Redis' `appendfsync`
//!   semantics. An append is one `write(2)`, done before it is acknowledged, so a `kill -9` of the process loses
//!   no acknowledged write under any policy; `fdatasync` (every append under `always` with group commit, once a
//!   second under `everysec`) only guards against an operating system crash or power loss. The embedded
//!   databases cannot offer that cheaply: redb's commits without `fsync` are lost with the process (a `kill -9`
//!   under `everysec` lost all 2,000 acknowledged writes of `tests/crash.rs`), and a durable redb commit costs
//!   more than an `fdatasync` of the appended bytes (`examples/bench.rs`: 1.3-1.6x the writes/s under
//!   `always`, 4-8x under `everysec`).
//! - redb 2 ([`RedbLog`]): a copy-on-write B-tree in one file, tables per group.
//! - sled 0.34.7 ([`SledLog`]): can deadlock under sustained append-then-purge (its segment truncation waits on
//!   its own saturated thread pool; reproduced by `BENCH_ENGINE=sled BENCH_ONLY=growth cargo run --release -p
//!   raft --example bench`).
//!
//! redb and sled stay selectable ([`Engine`]) for comparison.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use redb::{ReadableTable, TableDefinition};

use crate::aof::{AofLog, AofNode, DEFAULT_SEGMENT_BYTES};
use crate::durability::{Durable, Flusher, FsyncPolicy};
use crate::types::GroupId;

/// The operations the Raft log of one group needs from a key-value store. Log entries are keyed by index;
/// metadata (vote, committed, last purged) by name. Writes must be applied in call order.
pub trait LogBackend: Clone + Send + Sync + 'static {
    /// A metadata value.
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Stores a metadata value (durable at the next flush).
    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()>;
    /// Stores entries, each under its index, with one metadata value riding along (so a metadata update costs
    /// no commit of its own). A crash may keep the batch, none of it or (for the AOF) a prefix of it: never a
    /// gap. Raft appends after the last entry (it truncates before it overwrites); an engine may take an append at
    /// or below an existing index as a truncation from there.
    fn put_entries(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        meta: Option<(&str, Vec<u8>)>,
    ) -> io::Result<()>;
    /// Entries with `start <= index < end`, in index order.
    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>>;
    /// The entry with the highest index.
    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>>;
    /// Removes every entry with `index >= since` (conflict truncation).
    fn remove_since(&self, since: u64) -> io::Result<()>;
    /// Removes every entry with `index <= upto` (purge after a snapshot).
    fn remove_upto(&self, upto: u64) -> io::Result<()>;
}

/// Which embedded store keeps the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// Append-only segment files per group (see [`crate::aof`]).
    #[default]
    Aof,
    /// redb: a copy-on-write B-tree with real `fsync` on durable commits.
    Redb,
    /// sled 0.34.7 (see the module notes on its deadlock).
    Sled,
}

/// Options of a node's store.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// The engine.
    pub engine: Engine,
    /// Page cache size in bytes for redb and sled (sled's default of 1 GiB is far more than a log needs).
    pub cache_capacity: u64,
    /// AOF: the size past which a segment file is closed and a new one started (purges delete whole segments).
    pub segment_bytes: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            fsync: FsyncPolicy::Everysec,
            engine: Engine::Aof,
            cache_capacity: 64 * 1024 * 1024,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// The store of one node: the logs of every group it hosts (in one engine), a snapshot directory, and the
/// flusher that applies the fsync policy. Cheap to clone.
#[derive(Clone)]
pub struct NodeStorage {
    inner: Arc<NodeInner>,
}

enum Db {
    Aof(Arc<AofNode>),
    Sled(sled::Db),
    Redb(Arc<redb::Database>, PathBuf),
}

struct NodeInner {
    db: Db,
    snapshot_dir: PathBuf,
    flusher: Flusher,
}

struct AofDurable(Arc<AofNode>);

impl Durable for AofDurable {
    fn flush(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>> {
        let node = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || node.sync())
                .await
                .map_err(io::Error::other)?
        })
    }

    fn flush_blocking(&self) -> io::Result<()> {
        self.0.sync()
    }

    fn early_flush(&self) -> bool {
        // Every append is already in the page cache: flushing earlier than the policy says saves nothing.
        false
    }
}

struct SledDurable(sled::Db);

impl Durable for SledDurable {
    fn flush(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>> {
        Box::pin(async move {
            self.0.flush_async().await?;
            Ok(())
        })
    }

    fn flush_blocking(&self) -> io::Result<()> {
        self.0.flush()?;
        Ok(())
    }
}

struct RedbDurable(Arc<redb::Database>);

fn redb_err(e: impl Into<redb::Error>) -> io::Error {
    io::Error::other(e.into())
}

fn redb_sync(db: &redb::Database) -> io::Result<()> {
    // An empty durable commit: makes every earlier non-durable commit durable (and lets redb free pages).
    let mut tx = db.begin_write().map_err(redb_err)?;
    tx.set_durability(redb::Durability::Immediate);
    tx.commit().map_err(redb_err)
}

impl Durable for RedbDurable {
    fn flush(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + '_>> {
        let db = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || redb_sync(&db))
                .await
                .map_err(io::Error::other)?
        })
    }

    fn flush_blocking(&self) -> io::Result<()> {
        redb_sync(&self.0)
    }
}

impl NodeStorage {
    /// Opens (or creates) the store under `dir`: `dir/aof/` (or `dir/log.redb`, or `dir/log/` for sled) holds
    /// the logs, `dir/snapshots` the snapshot files. Must be called inside a tokio runtime (the flusher runs
    /// there).
    pub fn open(dir: impl AsRef<Path>, options: &StorageOptions) -> io::Result<NodeStorage> {
        let dir = dir.as_ref();
        let snapshot_dir = dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir)?;
        let (db, durable): (Db, Arc<dyn Durable>) = match options.engine {
            Engine::Aof => {
                let node = Arc::new(AofNode::open(&dir.join("aof"), options.segment_bytes)?);
                (Db::Aof(node.clone()), Arc::new(AofDurable(node)))
            }
            Engine::Sled => {
                let db = sled::Config::new()
                    .path(dir.join("log"))
                    .cache_capacity(options.cache_capacity)
                    .open()?;
                (Db::Sled(db.clone()), Arc::new(SledDurable(db)))
            }
            Engine::Redb => {
                let path = dir.join("log.redb");
                let db = Arc::new(
                    redb::Database::builder()
                        .set_cache_size(options.cache_capacity as usize)
                        .create(&path)
                        .map_err(redb_err)?,
                );
                (Db::Redb(db.clone(), path), Arc::new(RedbDurable(db)))
            }
        };
        let flusher = Flusher::start(durable, options.fsync);
        Ok(NodeStorage {
            inner: Arc::new(NodeInner {
                db,
                snapshot_dir,
                flusher,
            }),
        })
    }

    /// The log backend of `group`, created empty if new.
    pub fn group_log(&self, group: GroupId) -> io::Result<GroupLog> {
        match &self.inner.db {
            Db::Aof(node) => Ok(GroupLog::Aof(node.group(group)?)),
            Db::Sled(db) => Ok(GroupLog::Sled(SledLog {
                logs: db.open_tree(format!("group/{group}/log"))?,
                meta: db.open_tree(format!("group/{group}/meta"))?,
            })),
            Db::Redb(db, _) => Ok(GroupLog::Redb(RedbLog {
                db: db.clone(),
                log: Arc::from(format!("group/{group}/log")),
                meta: Arc::from(format!("group/{group}/meta")),
            })),
        }
    }

    /// Deletes everything stored for `group` (its replica left this node). The group must be shut down.
    pub fn remove_group(&self, group: GroupId) -> io::Result<()> {
        let (log, meta) = (format!("group/{group}/log"), format!("group/{group}/meta"));
        match &self.inner.db {
            Db::Aof(node) => node.remove_group(group)?,
            Db::Sled(db) => {
                db.drop_tree(log)?;
                db.drop_tree(meta)?;
            }
            Db::Redb(db, _) => {
                let tx = db.begin_write().map_err(redb_err)?;
                tx.delete_table(LogTable::new(&log)).map_err(redb_err)?;
                tx.delete_table(MetaTable::new(&meta)).map_err(redb_err)?;
                tx.commit().map_err(redb_err)?;
            }
        }
        match std::fs::remove_file(self.snapshot_path(group)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Where the snapshot of `group` is kept.
    pub fn snapshot_path(&self, group: GroupId) -> PathBuf {
        self.inner.snapshot_dir.join(format!("group-{group}.snap"))
    }

    /// The flusher: fsync policy, statistics.
    pub fn flusher(&self) -> &Flusher {
        &self.inner.flusher
    }

    /// Bytes the log store uses on disk (to watch its growth under append-then-purge).
    pub fn size_on_disk(&self) -> io::Result<u64> {
        match &self.inner.db {
            Db::Aof(node) => node.size_on_disk(),
            Db::Sled(db) => Ok(db.size_on_disk()?),
            // Blocks actually allocated: redb's file is sparse where it reserved space it never wrote.
            Db::Redb(_, path) => {
                use std::os::unix::fs::MetadataExt;
                Ok(std::fs::metadata(path)?.blocks() * 512)
            }
        }
    }

    /// Flushes everything and stops the flusher (graceful shutdown); later writes flush inline.
    pub async fn close(&self) -> io::Result<()> {
        self.inner.flusher.close().await
    }
}

/// The log of one group inside a node's sled database: entries keyed by big-endian index (so sled's order is
/// index order), metadata by name.
#[derive(Clone)]
pub struct SledLog {
    logs: sled::Tree,
    meta: sled::Tree,
}

fn index_of(key: &[u8]) -> io::Result<u64> {
    let a: [u8; 8] = key
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "log key is not 8 bytes"))?;
    Ok(u64::from_be_bytes(a))
}

impl LogBackend for SledLog {
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()> {
        self.meta.insert(key, value)?;
        Ok(())
    }

    fn put_entries(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        meta: Option<(&str, Vec<u8>)>,
    ) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for (index, data) in entries {
            batch.insert(&index.to_be_bytes(), data);
        }
        self.logs.apply_batch(batch)?;
        if let Some((k, v)) = meta {
            self.meta.insert(k, v)?;
        }
        Ok(())
    }

    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for kv in self.logs.range(start.to_be_bytes()..end.to_be_bytes()) {
            let (k, v) = kv?;
            out.push((index_of(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        match self.logs.last()? {
            Some((k, v)) => Ok(Some((index_of(&k)?, v.to_vec()))),
            None => Ok(None),
        }
    }

    fn remove_since(&self, since: u64) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for k in self.logs.range(since.to_be_bytes()..).keys() {
            batch.remove(k?);
        }
        self.logs.apply_batch(batch)?;
        Ok(())
    }

    fn remove_upto(&self, upto: u64) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for k in self.logs.range(..=upto.to_be_bytes()).keys() {
            batch.remove(k?);
        }
        self.logs.apply_batch(batch)?;
        Ok(())
    }
}

type LogTable<'a> = TableDefinition<'a, u64, &'static [u8]>;
type MetaTable<'a> = TableDefinition<'a, &'static str, &'static [u8]>;

/// The log of one group in a node's redb database: a table of entries keyed by index and a table of metadata.
/// Every write is its own commit without `fsync`; the node's flusher makes them durable with one empty durable
/// commit (redb persists every earlier commit with it).
#[derive(Clone)]
pub struct RedbLog {
    db: Arc<redb::Database>,
    log: Arc<str>,
    meta: Arc<str>,
}

impl RedbLog {
    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> io::Result<()> {
        let mut tx = self.db.begin_write().map_err(redb_err)?;
        tx.set_durability(redb::Durability::None);
        f(&tx).map_err(io::Error::other)?;
        tx.commit().map_err(redb_err)
    }

    fn read_log<R: Default>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<u64, &'static [u8]>) -> Result<R, redb::Error>,
    ) -> io::Result<R> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        match tx.open_table(LogTable::new(&self.log)) {
            Ok(t) => f(&t).map_err(io::Error::other),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(R::default()),
            Err(e) => Err(redb_err(e)),
        }
    }
}

impl LogBackend for RedbLog {
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(redb_err)?;
        match tx.open_table(MetaTable::new(&self.meta)) {
            Ok(t) => Ok(t.get(key).map_err(redb_err)?.map(|v| v.value().to_vec())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(redb_err(e)),
        }
    }

    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()> {
        self.write(|tx| {
            tx.open_table(MetaTable::new(&self.meta))?
                .insert(key, value.as_slice())?;
            Ok(())
        })
    }

    fn put_entries(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        meta: Option<(&str, Vec<u8>)>,
    ) -> io::Result<()> {
        self.write(|tx| {
            let mut t = tx.open_table(LogTable::new(&self.log))?;
            for (index, data) in &entries {
                t.insert(index, data.as_slice())?;
            }
            if let Some((k, v)) = &meta {
                tx.open_table(MetaTable::new(&self.meta))?
                    .insert(*k, v.as_slice())?;
            }
            Ok(())
        })
    }

    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.read_log(|t| {
            let mut out = Vec::new();
            for kv in t.range(start..end)? {
                let (k, v) = kv?;
                out.push((k.value(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        self.read_log(|t| Ok(t.last()?.map(|(k, v)| (k.value(), v.value().to_vec()))))
    }

    fn remove_since(&self, since: u64) -> io::Result<()> {
        self.write(|tx| {
            tx.open_table(LogTable::new(&self.log))?
                .retain_in(since.., |_, _| false)?;
            Ok(())
        })
    }

    fn remove_upto(&self, upto: u64) -> io::Result<()> {
        self.write(|tx| {
            tx.open_table(LogTable::new(&self.log))?
                .retain_in(..=upto, |_, _| false)?;
            Ok(())
        })
    }
}

/// The log of one group in whichever engine the node uses.
#[derive(Clone)]
pub enum GroupLog {
    /// In append-only files.
    Aof(AofLog),
    /// In sled.
    Sled(SledLog),
    /// In redb.
    Redb(RedbLog),
}

impl LogBackend for GroupLog {
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        match self {
            GroupLog::Aof(l) => l.get_meta(key),
            GroupLog::Sled(l) => l.get_meta(key),
            GroupLog::Redb(l) => l.get_meta(key),
        }
    }

    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()> {
        match self {
            GroupLog::Aof(l) => l.put_meta(key, value),
            GroupLog::Sled(l) => l.put_meta(key, value),
            GroupLog::Redb(l) => l.put_meta(key, value),
        }
    }

    fn put_entries(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        meta: Option<(&str, Vec<u8>)>,
    ) -> io::Result<()> {
        match self {
            GroupLog::Aof(l) => l.put_entries(entries, meta),
            GroupLog::Sled(l) => l.put_entries(entries, meta),
            GroupLog::Redb(l) => l.put_entries(entries, meta),
        }
    }

    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        match self {
            GroupLog::Aof(l) => l.entries(start, end),
            GroupLog::Sled(l) => l.entries(start, end),
            GroupLog::Redb(l) => l.entries(start, end),
        }
    }

    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        match self {
            GroupLog::Aof(l) => l.last_entry(),
            GroupLog::Sled(l) => l.last_entry(),
            GroupLog::Redb(l) => l.last_entry(),
        }
    }

    fn remove_since(&self, since: u64) -> io::Result<()> {
        match self {
            GroupLog::Aof(l) => l.remove_since(since),
            GroupLog::Sled(l) => l.remove_since(since),
            GroupLog::Redb(l) => l.remove_since(since),
        }
    }

    fn remove_upto(&self, upto: u64) -> io::Result<()> {
        match self {
            GroupLog::Aof(l) => l.remove_upto(upto),
            GroupLog::Sled(l) => l.remove_upto(upto),
            GroupLog::Redb(l) => l.remove_upto(upto),
        }
    }
}
