//! openraft's log storage over a [`LogBackend`]: the shard's AOF.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{EntryPayload, OptionalSend, RaftLogReader};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{GroupLog, LogBackend, NodeStorage};
use crate::durability::Flusher;
use crate::types::typ::{Entry, LogId, StorageError, StorageIOError, Vote};
use crate::types::{GroupId, TypeConfig};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The Raft log of one group: entries (postcard-encoded) and vote/committed/purge markers in a [`LogBackend`],
/// acknowledged according to the node's fsync policy. Cheap to clone (clones share the same log).
#[derive(Clone)]
pub struct LogStore<B: LogBackend = GroupLog> {
    backend: B,
    flusher: Flusher,
    // The committed log id not yet written: it rides along with the next append instead of costing a commit of
    // its own (the value is an optimisation for restarts; a stale one only means re-applying less at once).
    committed: Arc<Mutex<Option<Vec<u8>>>>,
    // The latest entries, decoded and contiguous up to the last one: openraft reads every entry back to apply it
    // and again for each follower, so recent entries are served from here instead of the backend.
    recent: Arc<Mutex<VecDeque<Entry>>>,
    /// Estimated bytes the recent-entry cache holds: memory that `maxmemory` does not count (Redis leaves
    /// its AOF buffer out the same way), since evicting keys cannot free it.
    recent_bytes: Arc<AtomicU64>,
}

/// Estimated heap bytes one cached entry holds: its operations (argument vectors and bytes) and its encoding.
fn cached_bytes(e: &Entry) -> u64 {
    // The entry's shared parts: the operations' slice, the encoding's cell.
    let mut n = std::mem::size_of::<Entry>() + 64;
    if let EntryPayload::Normal(le) = &e.payload {
        n += 16 + le.ops.len() * std::mem::size_of::<store::Op>();
        // An argument vector, its arguments, and their share of the encoding (lengths as varints).
        let args = |a: &[bytes::Bytes]| {
            let bytes: usize = a.iter().map(|x| x.len()).sum();
            16 + std::mem::size_of_val(a) + 2 * bytes + 3 + 2 * a.len()
        };
        for op in le.ops.iter() {
            n += match op {
                store::Op::Command(a)
                | store::Op::ExpireIfDue(a)
                | store::Op::Block(a)
                | store::Op::Retry(a)
                | store::Op::Migration(a)
                | store::Op::Evict(a) => args(a),
                store::Op::Multi(tx) => {
                    let watched: usize = tx.watched.iter().map(|w| 64 + 2 * w.key.len()).sum();
                    watched + tx.commands.iter().map(|c| args(c)).sum::<usize>()
                }
            };
        }
    }
    n as u64
}

/// Most entries kept in the recent-entry cache (entries share their operations, so a copy is a reference count).
const RECENT_ENTRIES: usize = 4096;

impl LogStore<GroupLog> {
    /// The log of `group` in the node's store.
    pub fn open(node: &NodeStorage, group: GroupId) -> io::Result<LogStore<GroupLog>> {
        Ok(LogStore::new(
            node.group_log(group)?,
            node.flusher().clone(),
        ))
    }
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

fn decode_entry(data: &[u8]) -> Result<Entry, StorageError> {
    postcard::from_bytes(data).map_err(read_err)
}

impl<B: LogBackend> LogStore<B> {
    /// A log over `backend`, flushed by `flusher`.
    pub fn new(backend: B, flusher: Flusher) -> LogStore<B> {
        LogStore {
            backend,
            flusher,
            committed: Arc::new(Mutex::new(None)),
            recent: Arc::new(Mutex::new(VecDeque::new())),
            recent_bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The estimated bytes held by the recent-entry cache, kept current as entries come and go.
    pub fn cache_bytes(&self) -> Arc<AtomicU64> {
        self.recent_bytes.clone()
    }

    /// Recomputes the cache's byte estimate after it changed (each entry's estimate is fixed, so this never
    /// drifts).
    fn account(&self, recent: &VecDeque<Entry>) {
        let total = recent.iter().map(cached_bytes).sum();
        self.recent_bytes.store(total, Ordering::Relaxed);
    }

    fn meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        match self.backend.get_meta(key).map_err(read_err)? {
            Some(v) => Ok(Some(postcard::from_bytes(&v).map_err(read_err)?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), io::Error> {
        let v = postcard::to_allocvec(value).map_err(io::Error::other)?;
        self.backend.put_meta(key, v)
    }
}

impl<B: LogBackend> RaftLogReader<TypeConfig> for LogStore<B> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(x) => x.saturating_add(1),
            Bound::Excluded(x) => *x,
            Bound::Unbounded => u64::MAX,
        };
        {
            let recent = self.recent.lock();
            if let Some(first) = recent.front().map(|e| e.log_id.index) {
                if start >= first {
                    // The cache holds everything from `first` to the last entry of the log.
                    let from = (start - first) as usize;
                    let to = (end.saturating_sub(first).min(recent.len() as u64)) as usize;
                    return Ok(recent.range(from.min(to)..to).cloned().collect());
                }
            }
        }
        let raw = self.backend.entries(start, end).map_err(read_err)?;
        raw.iter().map(|(_, v)| decode_entry(v)).collect()
    }
}

impl<B: LogBackend> RaftLogStorage<TypeConfig> for LogStore<B> {
    type LogReader = LogStore<B>;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.meta(LAST_PURGED)?;
        let last = match self.backend.last_entry().map_err(read_err)? {
            Some((_, v)) => Some(decode_entry(&v)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let e = |e: io::Error| -> StorageError { StorageIOError::write_vote(&e).into() };
        self.put(VOTE, vote).map_err(e)?;
        if let Some(v) = self.committed.lock().take() {
            self.backend.put_meta(COMMITTED, v).map_err(e)?;
        }
        // Whatever the fsync policy: a vote forgotten in a crash could elect two leaders in one term.
        self.flusher.sync().await.map_err(e)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.meta(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        *self.committed.lock() = Some(postcard::to_allocvec(&committed).map_err(write_err)?);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        if let Some(v) = self.committed.lock().as_ref() {
            return postcard::from_bytes::<Option<LogId>>(v).map_err(read_err);
        }
        Ok(self.meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Vec::new();
        let mut decoded = Vec::new();
        for e in entries {
            batch.push((
                e.log_id.index,
                postcard::to_allocvec(&e).map_err(write_err)?,
            ));
            decoded.push(e);
        }
        let committed = self.committed.lock().take().map(|v| (COMMITTED, v));
        self.backend
            .put_entries(batch, committed)
            .map_err(write_err)?;
        {
            let mut recent = self.recent.lock();
            for e in decoded {
                // An append never leaves a gap; one that does not follow the cache (after a truncation or a
                // snapshot install) starts it over.
                if recent
                    .back()
                    .is_some_and(|b| b.log_id.index + 1 != e.log_id.index)
                {
                    recent.clear();
                    self.recent_bytes.store(0, Ordering::Relaxed);
                }
                self.recent_bytes
                    .fetch_add(cached_bytes(&e), Ordering::Relaxed);
                recent.push_back(e);
            }
            while recent.len() > RECENT_ENTRIES {
                if let Some(old) = recent.pop_front() {
                    self.recent_bytes
                        .fetch_sub(cached_bytes(&old), Ordering::Relaxed);
                }
            }
        }
        self.flusher
            .after_write(move |r| callback.log_io_completed(r));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut recent = self.recent.lock();
            recent.retain(|e| e.log_id.index < log_id.index);
            self.account(&recent);
        }
        self.backend.remove_since(log_id.index).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The marker first: a crash between the two steps leaves entries at or below it, which are ignored,
        // rather than a log whose start nobody recorded.
        self.put(LAST_PURGED, &log_id).map_err(write_err)?;
        {
            let mut recent = self.recent.lock();
            recent.retain(|e| e.log_id.index > log_id.index);
            self.account(&recent);
        }
        self.backend.remove_upto(log_id.index).map_err(write_err)
    }
}
