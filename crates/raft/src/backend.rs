//! Where a node keeps its Raft logs: a small storage trait and its sled implementation.
//!
//! [`LogBackend`] is everything the Raft log of one group asks of a store, so sled can be swapped for redb or
//! fjall without touching the Raft side. A node opens one store ([`NodeStorage`]) and gives each group its own
//! trees in it (the group id is in the tree names), so one flush makes every group durable at once.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use crate::durability::{Durable, Flusher, FsyncPolicy};
use crate::types::GroupId;

/// The operations the Raft log of one group needs from a key-value store. Log entries are keyed by index;
/// metadata (vote, committed, last purged) by name. Writes must be applied in call order.
pub trait LogBackend: Clone + Send + Sync + 'static {
    /// A metadata value.
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Stores a metadata value (durable at the next flush).
    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()>;
    /// Stores entries atomically (all or none survive a crash), each under its index.
    fn put_entries(&self, entries: Vec<(u64, Vec<u8>)>) -> io::Result<()>;
    /// Entries with `start <= index < end`, in index order.
    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>>;
    /// The entry with the highest index.
    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>>;
    /// Removes every entry with `index >= since` (conflict truncation).
    fn remove_since(&self, since: u64) -> io::Result<()>;
    /// Removes every entry with `index <= upto` (purge after a snapshot).
    fn remove_upto(&self, upto: u64) -> io::Result<()>;
}

/// Options of a node's store.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// `appendfsync`.
    pub fsync: FsyncPolicy,
    /// sled's page cache size in bytes (its default of 1 GiB is far more than a log needs).
    pub cache_capacity: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            fsync: FsyncPolicy::Everysec,
            cache_capacity: 64 * 1024 * 1024,
        }
    }
}

/// The store of one node: one sled database for the logs of every group it hosts, a snapshot directory, and the
/// flusher that applies the fsync policy. Cheap to clone.
#[derive(Clone)]
pub struct NodeStorage {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    db: sled::Db,
    snapshot_dir: PathBuf,
    flusher: Flusher,
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

impl NodeStorage {
    /// Opens (or creates) the store under `dir`: `dir/log` holds sled, `dir/snapshots` the snapshot files. Must
    /// be called inside a tokio runtime (the flusher runs there).
    pub fn open(dir: impl AsRef<Path>, options: &StorageOptions) -> io::Result<NodeStorage> {
        let dir = dir.as_ref();
        let snapshot_dir = dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir)?;
        let db = sled::Config::new()
            .path(dir.join("log"))
            .cache_capacity(options.cache_capacity)
            .open()?;
        let flusher = Flusher::start(Arc::new(SledDurable(db.clone())), options.fsync);
        Ok(NodeStorage {
            inner: Arc::new(NodeInner {
                db,
                snapshot_dir,
                flusher,
            }),
        })
    }

    /// The log backend of `group`, created empty if new.
    pub fn group_log(&self, group: GroupId) -> io::Result<SledLog> {
        Ok(SledLog {
            logs: self.inner.db.open_tree(format!("group/{group}/log"))?,
            meta: self.inner.db.open_tree(format!("group/{group}/meta"))?,
        })
    }

    /// Deletes everything stored for `group` (its replica left this node). The group must be shut down.
    pub fn remove_group(&self, group: GroupId) -> io::Result<()> {
        self.inner.db.drop_tree(format!("group/{group}/log"))?;
        self.inner.db.drop_tree(format!("group/{group}/meta"))?;
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

    /// Bytes sled uses on disk (to watch its growth under append-then-purge).
    pub fn size_on_disk(&self) -> io::Result<u64> {
        Ok(self.inner.db.size_on_disk()?)
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

    fn put_entries(&self, entries: Vec<(u64, Vec<u8>)>) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for (index, data) in entries {
            batch.insert(&index.to_be_bytes(), data);
        }
        self.logs.apply_batch(batch)?;
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
