//! The state machine of a shard: its keyspace, changed only by applying committed entries, and its snapshots
//! (the RDB role), kept in one file per group.

use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use parking_lot::Mutex;
use store::Keyspace;

use crate::types::typ::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use crate::types::{Replies, TypeConfig};

/// What the last snapshot build cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotReport {
    /// Keys written.
    pub keys: u64,
    /// Size of the snapshot data in bytes.
    pub bytes: u64,
    /// How long the keyspace lock was held in all, over every step of the walk.
    pub lock_held: Duration,
    /// The longest single hold of the keyspace lock: the most a read or a write of the shard waited for the
    /// snapshot.
    pub longest_hold: Duration,
    /// Times the lock was taken for the walk.
    pub lock_holds: u64,
    /// The whole walk over the keyspace, during which reads and applies went on between steps.
    pub copy: Duration,
    /// Keys a write changed before the walk reached them, whose state at the snapshot's index was copied first.
    pub saved_keys: u64,
    /// Most bytes those copies held at once: the memory the snapshot cost beyond its own buffer.
    pub saved_peak_bytes: u64,
    /// The whole build: copy, checksum, write and fsync of the file.
    pub total: Duration,
}

/// Counters the server reads (persistence statistics, time stamping).
#[derive(Debug, Default)]
pub struct ApplyStats {
    /// Changes applied (Redis' `dirty`), summed over entries.
    pub dirty: AtomicU64,
    /// Largest entry time applied so far: a new leader stamps no earlier time than this.
    pub last_time_ms: AtomicI64,
    /// Entries applied since start.
    pub entries: AtomicU64,
    /// The last snapshot build.
    pub last_snapshot: Mutex<Option<SnapshotReport>>,
}

const FILE_MAGIC: &[u8; 8] = b"SHOALRSN";

/// The persisted snapshot of one group: a file holding the snapshot's Raft metadata and the keyspace data,
/// replaced atomically (write, fsync, rename, fsync the directory).
#[derive(Clone)]
pub struct SnapshotFile {
    path: PathBuf,
    // Serializes replacements (a build and an install may finish together) and remembers what is on disk.
    current: Arc<Mutex<Option<SnapshotMeta>>>,
}

fn other(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl SnapshotFile {
    /// The snapshot kept at `path` (which may not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> io::Result<SnapshotFile> {
        let f = SnapshotFile {
            path: path.into(),
            current: Arc::new(Mutex::new(None)),
        };
        *f.current.lock() = f.read()?.map(|(m, _)| m);
        Ok(f)
    }

    /// Metadata of the snapshot on disk.
    pub fn meta(&self) -> Option<SnapshotMeta> {
        self.current.lock().clone()
    }

    /// Reads the snapshot on disk: its metadata and keyspace data.
    pub fn read(&self) -> io::Result<Option<(SnapshotMeta, Vec<u8>)>> {
        let buf = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if buf.len() < 16 || &buf[..8] != FILE_MAGIC {
            return Err(other("snapshot file: bad header"));
        }
        let meta_len = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
        let crc = u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]);
        let meta_bytes = buf
            .get(16..16 + meta_len)
            .ok_or_else(|| other("snapshot file: truncated metadata"))?;
        if crc32fast::hash(meta_bytes) != crc {
            return Err(other("snapshot file: metadata checksum mismatch"));
        }
        let meta: SnapshotMeta = postcard::from_bytes(meta_bytes).map_err(io::Error::other)?;
        // The keyspace data carries its own checksum, verified when it is loaded.
        Ok(Some((meta, buf[16 + meta_len..].to_vec())))
    }

    /// Makes `data` the persisted snapshot unless the one on disk is newer; returns whether it was written.
    pub fn save(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<bool> {
        let mut cur = self.current.lock();
        if cur
            .as_ref()
            .is_some_and(|c| c.last_log_id > meta.last_log_id)
        {
            return Ok(false);
        }
        let meta_bytes = postcard::to_allocvec(meta).map_err(io::Error::other)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(FILE_MAGIC)?;
            f.write_all(&(meta_bytes.len() as u32).to_le_bytes())?;
            f.write_all(&crc32fast::hash(&meta_bytes).to_le_bytes())?;
            f.write_all(&meta_bytes)?;
            f.write_all(data)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        *cur = Some(meta.clone());
        Ok(true)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The state machine of one shard group over the keyspace the server serves from.
pub struct ShardStateMachine {
    keyspace: Arc<Mutex<Keyspace>>,
    /// Held by the snapshot walk while it runs: installing a snapshot replaces the keyspace, so it waits.
    walking: Arc<tokio::sync::Mutex<()>>,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    file: SnapshotFile,
    stats: Arc<ApplyStats>,
}

impl ShardStateMachine {
    /// Restores the state from the persisted snapshot, if any, into `keyspace` (replacing its content: the
    /// state is the snapshot plus the log, which openraft re-applies after this).
    pub fn open(
        keyspace: Arc<Mutex<Keyspace>>,
        file: SnapshotFile,
    ) -> io::Result<ShardStateMachine> {
        let mut sm = ShardStateMachine {
            keyspace,
            walking: Arc::new(tokio::sync::Mutex::new(())),
            last_applied: None,
            last_membership: StoredMembership::default(),
            file,
            stats: Arc::new(ApplyStats::default()),
        };
        match sm.file.read()? {
            Some((meta, data)) => {
                let ks = store::snapshot::load(&data).map_err(|e| other(&e.to_string()))?;
                sm.replace_keyspace(ks);
                sm.last_applied = meta.last_log_id;
                sm.last_membership = meta.last_membership;
            }
            None => sm.keyspace.lock().clear(),
        }
        Ok(sm)
    }

    /// Counters shared with the server.
    pub fn stats(&self) -> Arc<ApplyStats> {
        self.stats.clone()
    }

    fn replace_keyspace(&self, mut ks: Keyspace) {
        let old = {
            let mut cur = self.keyspace.lock();
            ks.stats = cur.stats.clone();
            ks.config = cur.config.clone();
            // Blocked clients may be served by anything in the new state.
            ks.set_ready_hook(cur.ready_hook());
            ks.signal_all_ready();
            std::mem::replace(&mut *cur, ks)
        };
        // Freeing a large keyspace takes a while: outside the lock.
        drop(old);
    }
}

/// Most keys written under one hold of the keyspace lock.
pub const STEP_KEYS: usize = 1_000;
/// Most bytes written under one hold of the keyspace lock (a step of large values ends early).
pub const STEP_BYTES: usize = 256 << 10;
/// Longest a step holds the keyspace lock (give or take the keys of 64 buckets).
pub const STEP_TIME: Duration = Duration::from_millis(1);

/// What walking the keyspace cost.
#[derive(Clone, Copy, Debug, Default)]
struct WalkCost {
    keys: u64,
    held: Duration,
    longest: Duration,
    holds: u64,
    copy: Duration,
    saved_keys: u64,
    saved_peak_bytes: u64,
}

/// Walks the keyspace a step at a time, releasing the lock between steps (fairly: a waiting reader or apply
/// gets it next) and growing the buffer only while the lock is free. Writes go on between steps: the walk's
/// copy-on-write keeps the snapshot at its starting index.
fn walk_stepwise(
    keyspace: &Mutex<Keyspace>,
    mut walk: store::snapshot::SnapshotWalk,
) -> (Result<store::snapshot::Unsealed, io::Error>, WalkCost) {
    let started = Instant::now();
    let mut cost = WalkCost::default();
    let limits = store::snapshot::StepLimits {
        keys: STEP_KEYS,
        bytes: STEP_BYTES,
        time: STEP_TIME,
    };
    let result = loop {
        walk.reserve(STEP_BYTES + STEP_BYTES / 2);
        let mut ks = keyspace.lock();
        let held = Instant::now();
        let step = walk.step(&mut ks, limits);
        parking_lot::MutexGuard::unlock_fair(ks);
        let h = held.elapsed();
        cost.held += h;
        cost.longest = cost.longest.max(h);
        cost.holds += 1;
        match step {
            Ok(false) => {}
            Ok(true) => break Ok(()),
            Err(e) => break Err(io::Error::other(e)),
        }
    };
    // What writes saved (and, after a FLUSHALL, the old table) is freed here, without the lock.
    walk.release();
    cost.copy = started.elapsed();
    cost.keys = walk.keys();
    cost.saved_keys = walk.saved_keys();
    cost.saved_peak_bytes = walk.saved_peak_bytes() as u64;
    let body = result.and_then(|()| walk.finish().map_err(io::Error::other));
    (body, cost)
}

/// A snapshot being built: the walk began at `last_applied` (writes since then save what they change into it);
/// the build walks the rest of the keyspace, then checksums and writes the file, all while applies go on.
pub struct ShardSnapshotBuilder {
    walk: Option<store::snapshot::SnapshotWalk>,
    keyspace: Arc<Mutex<Keyspace>>,
    /// Keeps a snapshot install from replacing the keyspace under the walk.
    walking: Option<tokio::sync::OwnedMutexGuard<()>>,
    started: Instant,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    file: SnapshotFile,
    stats: Arc<ApplyStats>,
}

impl Drop for ShardSnapshotBuilder {
    /// A builder dropped before its walk ran stops writes from saving for it.
    fn drop(&mut self) {
        if let Some(mut walk) = self.walk.take() {
            walk.abort(&mut self.keyspace.lock());
            drop(walk);
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for ShardSnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let walk = self
            .walk
            .take()
            .ok_or_else(|| other("snapshot builder used twice"))
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let keyspace = self.keyspace.clone();
        // On a blocking thread, so the runtime's workers stay free; it runs to the end even if this future is
        // dropped, and the walk then ends (and stops costing writes anything) on its own.
        let (body, cost) =
            match tokio::task::spawn_blocking(move || walk_stepwise(&keyspace, walk)).await {
                Ok(r) => r,
                Err(e) => (Err(io::Error::other(e)), WalkCost::default()),
            };
        self.walking = None;
        let body = body.map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let snapshot_id = match &self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, unique),
            None => format!("0-0-{unique}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
            snapshot_id,
        };
        let file = self.file.clone();
        let m = meta.clone();
        let data = tokio::task::spawn_blocking(move || -> io::Result<Vec<u8>> {
            let data = body.seal();
            file.save(&m, &data)?;
            Ok(data)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let report = SnapshotReport {
            keys: cost.keys,
            bytes: data.len() as u64,
            lock_held: cost.held,
            longest_hold: cost.longest,
            lock_holds: cost.holds,
            copy: cost.copy,
            saved_keys: cost.saved_keys,
            saved_peak_bytes: cost.saved_peak_bytes,
            total: self.started.elapsed(),
        };
        tracing::info!(
            keys = report.keys,
            bytes = report.bytes,
            lock_held_us = report.lock_held.as_micros() as u64,
            longest_hold_us = report.longest_hold.as_micros() as u64,
            lock_holds = report.lock_holds,
            copy_ms = report.copy.as_millis() as u64,
            saved_keys = report.saved_keys,
            saved_peak_bytes = report.saved_peak_bytes,
            total_ms = report.total.as_millis() as u64,
            "snapshot built"
        );
        *self.stats.last_snapshot.lock() = Some(report);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for ShardStateMachine {
    type SnapshotBuilder = ShardSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Replies>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            self.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(Replies::default()),
                EntryPayload::Normal(le) => {
                    // Locked per entry, not per batch: readers interleave between entries, never inside one.
                    let (frames, dirty) = store::exec::apply(&mut self.keyspace.lock(), &le);
                    self.stats.dirty.fetch_add(dirty, Ordering::Relaxed);
                    self.stats
                        .last_time_ms
                        .fetch_max(le.time_ms, Ordering::Relaxed);
                    out.push(Replies(frames));
                }
                EntryPayload::Membership(m) => {
                    self.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(Replies::default());
                }
            }
            self.stats.entries.fetch_add(1, Ordering::Relaxed);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // This runs on the state machine's task between two applies, so the walk begins exactly at
        // `last_applied`; beginning is O(1) under the lock. From then on every write to a key the walk has not
        // reached copies the key's state first (`store::snapshot::SnapshotWalk`), so applies never wait for
        // the snapshot beyond one short step of the walk.
        let walking = self.walking.clone().lock_owned().await;
        let hint = self
            .stats
            .last_snapshot
            .lock()
            .as_ref()
            .map_or(0, |r| r.bytes as usize + r.bytes as usize / 8);
        let mut walk = store::snapshot::SnapshotWalk::begin(&mut self.keyspace.lock(), 0);
        walk.reserve(hint);
        ShardSnapshotBuilder {
            walk: Some(walk),
            keyspace: self.keyspace.clone(),
            walking: Some(walking),
            started: Instant::now(),
            last_applied: self.last_applied,
            last_membership: self.last_membership.clone(),
            file: self.file.clone(),
            stats: self.stats.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let err = |e: &dyn std::error::Error| -> StorageError {
            StorageIOError::read_snapshot(Some(meta.signature()), &other(&e.to_string())).into()
        };
        // Decode (and verify) before touching anything; persist before the keyspace changes, so a crash never
        // leaves a keyspace newer than what a restart can rebuild.
        let ks = store::snapshot::load(&data).map_err(|e| err(&e))?;
        // A snapshot being built walks the keyspace about to be replaced: let it finish first.
        let _walking = self.walking.clone().lock_owned().await;
        let file = self.file.clone();
        let m = meta.clone();
        tokio::task::spawn_blocking(move || file.save(&m, &data))
            .await
            .map_err(|e| err(&e))?
            .map_err(|e| err(&e))?;
        self.replace_keyspace(ks);
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let file = self.file.clone();
        let read = tokio::task::spawn_blocking(move || file.read())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(read.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
