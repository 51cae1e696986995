//! The default log engine: per group, an append-only file in the manner of Redis' AOF.
//!
//! Each group has a directory `group-<id>/` holding numbered segment files (`<seq>.aof`) and one small `meta`
//! file. A segment is a 12-byte header followed by records `[len u32][crc32 u32][body]` (little-endian; the CRC
//! covers the length and the body): an entry record is `[1][index u64][payload]`, a metadata record
//! `[2][seq u64][key len u16][key][value]`. One `put_entries` call is one buffer and one `pwrite(2)`, so once it
//! returns the batch is in the operating system's page cache and survives a `kill -9` of the process whatever the
//! fsync policy; `fdatasync` (the flusher's job, see [`crate::durability`]) only matters for an operating system
//! crash or a power loss, as with Redis' `appendfsync`.
//!
//! - Memory: an index entry (segment, offset, length) per un-purged log entry; payloads are read back with
//!   `pread(2)` (the page cache keeps the recent ones).
//! - Metadata written by `put_meta` (vote, purge marker) goes to `meta`, replaced atomically (temporary file,
//!   `fsync`, rename, directory `fsync`) after the log itself is `fdatasync`ed, so it is durable before the call
//!   returns and never refers to log entries a crash could lose. Metadata riding along an append (the committed
//!   log id) is a record in the same write; a sequence number tells which of the file and a record is newer.
//! - `remove_since` deletes later segments and `ftruncate`s at the record boundary; `remove_upto` records the
//!   purge point in `meta` and deletes whole segments below it. A segment is closed (trimmed and `fdatasync`ed)
//!   once it passes the segment size, so purging reclaims space.
//! - Space is reserved ahead of the appends in [`PREALLOCATE_BYTES`] steps (`fallocate(2)`): an append then
//!   does not grow the file, so its `fdatasync` has no new file size to persist (about 30% cheaper on ext4 in
//!   an interleaved micro-benchmark). The zeros after the last record mark the end of the log.
//! - Recovery verifies every CRC. A bad record at the end of the last segment (a write cut short by a crash: it
//!   runs past the end of the file or only zeros follow it) is truncated away; it was never acknowledged under
//!   `always`. Anything else is corruption in the middle of the log, and opening fails with the file and byte
//!   offset rather than silently dropping entries that follow it.
//! - A crash may keep a prefix of a batch that was being written (records are checked one by one): the append was
//!   not acknowledged, and a prefix of a Raft log is a valid log.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::backend::LogBackend;
use crate::types::GroupId;

/// The size past which a segment is closed and a new one started.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// How far ahead of the appends space is reserved (the most a group's log holds allocated but unused).
pub const PREALLOCATE_BYTES: u64 = 4 << 20;

const SEGMENT_MAGIC: &[u8; 8] = b"SHOALAOF";
const SEGMENT_VERSION: u32 = 1;
const SEGMENT_HEADER: u64 = 12;
const RECORD_HEADER: u64 = 8;
const KIND_ENTRY: u8 = 1;
const KIND_META: u8 = 2;
/// Bytes from the start of an entry record to its payload: header, kind, index.
const ENTRY_PREFIX: u64 = RECORD_HEADER + 1 + 8;
const META_MAGIC: &[u8; 8] = b"SHOALMTA";
const META_FILE: &str = "meta";
const META_TMP: &str = "meta.tmp";

fn segment_header() -> [u8; SEGMENT_HEADER as usize] {
    let mut h = [0u8; SEGMENT_HEADER as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

fn segment_name(seq: u64) -> String {
    format!("{seq:020}.aof")
}

/// Reserves (and zero-fills, as far as readers can tell) `[from, to)` of `file`, extending it. False if the
/// file system cannot; appends then simply extend the file.
fn preallocate(file: &File, from: u64, to: u64) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(len)) = (
        libc::off_t::try_from(from),
        libc::off_t::try_from(to - from),
    ) else {
        return Ok(false);
    };
    // SAFETY: a system call on a descriptor `file` owns for the duration of the call; no memory is passed.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, off, len) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
        _ => Err(e),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn crc(len: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(body);
    h.finalize()
}

/// Appends one record whose body is `parts` concatenated.
fn push_record(buf: &mut Vec<u8>, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "log record over 4 GiB"))?;
    let start = buf.len();
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    for p in parts {
        buf.extend_from_slice(p);
    }
    let c = crc(&len.to_le_bytes(), &buf[start + RECORD_HEADER as usize..]);
    buf[start + 4..start + 8].copy_from_slice(&c.to_le_bytes());
    Ok(())
}

fn push_meta_record(buf: &mut Vec<u8>, seq: u64, key: &str, value: &[u8]) -> io::Result<()> {
    let klen = u16::try_from(key.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "metadata key too long"))?;
    push_record(
        buf,
        &[
            &[KIND_META],
            &seq.to_le_bytes(),
            &klen.to_le_bytes(),
            key.as_bytes(),
            value,
        ],
    )
}

/// Where an entry's payload is.
#[derive(Clone, Copy, Debug)]
struct Pos {
    seg: u64,
    off: u64,
    len: u32,
}

struct Segment {
    file: Arc<File>,
    /// Where the log ends (the next append goes there).
    size: u64,
    /// The file's length: zeros from `size` on (reserved space).
    alloc: u64,
    /// The highest entry index written here (purged or not); `None` if it holds no live entry.
    last: Option<u64>,
    /// Offset of the last metadata record here that is newer than the `meta` file: dropping it (truncation,
    /// deletion) first requires writing `meta`.
    newer_meta: Option<u64>,
}

struct State {
    segments: BTreeMap<u64, Segment>,
    index: BTreeMap<u64, Pos>,
    meta: BTreeMap<String, Vec<u8>>,
    /// The last metadata sequence number handed out (to a record or to the `meta` file).
    seq: u64,
    /// Entries at or below it are gone (they may linger in the current segment).
    purged: Option<u64>,
    /// The current (last) segment has writes not yet `fdatasync`ed.
    dirty: bool,
    /// Segments were created or deleted since the directory was last `fsync`ed.
    dir_dirty: bool,
    /// Why the log refuses writes (a failed `fdatasync`: the kernel may have dropped the pages, so later
    /// successes would prove nothing; Redis also stops accepting writes then).
    failed: Option<String>,
    removed: bool,
    segment_bytes: u64,
    /// False once the file system refused to preallocate.
    preallocate: bool,
}

impl State {
    fn usable(&self) -> io::Result<()> {
        if self.removed {
            return Err(io::Error::other("the group's log was removed"));
        }
        match &self.failed {
            Some(why) => Err(io::Error::other(format!("log unusable: {why}"))),
            None => Ok(()),
        }
    }

    fn current(&mut self) -> (u64, &mut Segment) {
        let (seq, seg) = self
            .segments
            .iter_mut()
            .next_back()
            .expect("a group log always has a segment");
        (*seq, seg)
    }

    fn fail(&mut self, what: &str, e: &io::Error) {
        tracing::error!("AOF {what} failed, the log refuses writes from now on: {e}");
        self.failed = Some(format!("{what} failed: {e}"));
    }
}

struct Group {
    dir: PathBuf,
    state: Mutex<State>,
    /// The node's lock, held while any handle to the log lives (as redb holds its file).
    _lock: Arc<File>,
}

/// The log of one group in its append-only files. Cheap to clone.
#[derive(Clone)]
pub struct AofLog {
    group: Arc<Group>,
}

impl Group {
    fn seg_path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// Makes the log durable, then replaces `meta` with the metadata in memory, `purged` and a new sequence
    /// number (newer than every record so far).
    fn write_meta(&self, st: &mut State, purged: Option<u64>) -> io::Result<()> {
        // The log first: the file must not record a vote or purge point ahead of entries a crash could lose.
        let file = st.current().1.file.clone();
        if let Err(e) = file.sync_data() {
            st.fail("fdatasync", &e);
            return Err(e);
        }
        st.dirty = false;
        let seq = st.seq + 1;
        let mut body = Vec::new();
        body.extend_from_slice(&seq.to_le_bytes());
        body.push(purged.is_some() as u8);
        body.extend_from_slice(&purged.unwrap_or(0).to_le_bytes());
        body.extend_from_slice(&(st.meta.len() as u32).to_le_bytes());
        for (k, v) in &st.meta {
            body.extend_from_slice(&(k.len() as u16).to_le_bytes());
            body.extend_from_slice(k.as_bytes());
            body.extend_from_slice(&(v.len() as u32).to_le_bytes());
            body.extend_from_slice(v);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(META_MAGIC);
        out.extend_from_slice(&crc(&[], &body).to_le_bytes());
        out.extend_from_slice(&body);
        let tmp = self.dir.join(META_TMP);
        {
            let mut f = File::create(&tmp)?;
            io::Write::write_all(&mut f, &out)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(META_FILE))?;
        // Also makes segment creations and deletions so far durable.
        sync_dir(&self.dir)?;
        st.dir_dirty = false;
        st.seq = seq;
        st.purged = purged;
        for seg in st.segments.values_mut() {
            seg.newer_meta = None;
        }
        Ok(())
    }

    /// Closes the current segment (durably, so only the last segment can ever have a torn tail) and starts the
    /// next one.
    fn roll(&self, st: &mut State) -> io::Result<()> {
        let (seq, cur) = st.current();
        let file = cur.file.clone();
        if cur.alloc > cur.size {
            // Give the reserved space back: a closed segment ends with its last record.
            file.set_len(cur.size)?;
            cur.alloc = cur.size;
        }
        if let Err(e) = file.sync_data() {
            st.fail("fdatasync", &e);
            return Err(e);
        }
        let next = seq + 1;
        let file = create_segment(&self.seg_path(next))?;
        st.segments.insert(
            next,
            Segment {
                file: Arc::new(file),
                size: SEGMENT_HEADER,
                alloc: SEGMENT_HEADER,
                last: None,
                newer_meta: None,
            },
        );
        st.dirty = true;
        st.dir_dirty = true;
        Ok(())
    }

    /// `fdatasync`s what was written (and the directory if segments came or went).
    fn sync(&self) -> io::Result<()> {
        let (file, dir) = {
            let mut st = self.state.lock();
            if st.removed {
                return Ok(());
            }
            st.usable()?;
            let file = if std::mem::take(&mut st.dirty) {
                Some(st.current().1.file.clone())
            } else {
                None
            };
            (file, std::mem::take(&mut st.dir_dirty))
        };
        // Outside the lock: appends go on during the fsync and are covered by the next one.
        if let Some(f) = file {
            if let Err(e) = f.sync_data() {
                self.state.lock().fail("fdatasync", &e);
                return Err(e);
            }
        }
        if dir {
            if let Err(e) = sync_dir(&self.dir) {
                self.state.lock().dir_dirty = true;
                return Err(e);
            }
        }
        Ok(())
    }

    fn remove_since(&self, st: &mut State, since: u64) -> io::Result<()> {
        let Some((_, pos)) = st.index.range(since..).next() else {
            return Ok(());
        };
        let (cut_seg, cut) = (pos.seg, pos.off - ENTRY_PREFIX);
        let later: Vec<u64> = st.segments.range(cut_seg + 1..).map(|(s, _)| *s).collect();
        let drops_meta = later.iter().any(|s| st.segments[s].newer_meta.is_some())
            || st.segments[&cut_seg].newer_meta.is_some_and(|o| o >= cut);
        if drops_meta {
            let purged = st.purged;
            self.write_meta(st, purged)?;
        }
        // Newest first, and the deletions durable before the cut: a crash leaves a prefix of the log, never a
        // truncated segment followed by stale ones.
        for s in later.iter().rev() {
            fs::remove_file(self.seg_path(*s))?;
            st.segments.remove(s);
        }
        if !later.is_empty() {
            sync_dir(&self.dir)?;
            st.dir_dirty = false;
        }
        st.index.split_off(&since);
        let last = st
            .index
            .last_key_value()
            .filter(|(_, p)| p.seg == cut_seg)
            .map(|(i, _)| *i);
        let seg = st
            .segments
            .get_mut(&cut_seg)
            .expect("segment of an indexed entry");
        seg.file.set_len(cut)?;
        seg.size = cut;
        seg.alloc = cut;
        seg.last = last;
        if seg.newer_meta.is_some_and(|o| o >= cut) {
            seg.newer_meta = None;
        }
        st.dirty = true;
        Ok(())
    }

    fn remove_upto(&self, st: &mut State, upto: u64) -> io::Result<()> {
        if st.purged.is_some_and(|p| p >= upto) {
            return Ok(());
        }
        // The purge point first: segments deleted after it (or left behind by a crash) are skipped on reopen.
        self.write_meta(st, Some(upto))?;
        st.index = match upto.checked_add(1) {
            Some(keep) => st.index.split_off(&keep),
            None => BTreeMap::new(),
        };
        let last_seq = *st.segments.keys().next_back().expect("a segment");
        let doomed: Vec<u64> = st
            .segments
            .iter()
            .take_while(|(s, seg)| **s != last_seq && seg.last.is_none_or(|l| l <= upto))
            .map(|(s, _)| *s)
            .collect();
        for s in doomed {
            fs::remove_file(self.seg_path(s))?;
            st.segments.remove(&s);
            st.dir_dirty = true;
        }
        Ok(())
    }
}

fn create_segment(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all_at(&segment_header(), 0)?;
    Ok(file)
}

impl AofLog {
    fn lock_usable(&self) -> io::Result<parking_lot::MutexGuard<'_, State>> {
        let st = self.group.state.lock();
        st.usable()?;
        Ok(st)
    }

    fn read(st: &State, pos: &Pos) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; pos.len as usize];
        st.segments
            .get(&pos.seg)
            .ok_or_else(|| io::Error::other("indexed entry in a deleted segment"))?
            .file
            .read_exact_at(&mut buf, pos.off)?;
        Ok(buf)
    }
}

impl LogBackend for AofLog {
    fn get_meta(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.group.state.lock().meta.get(key).cloned())
    }

    fn put_meta(&self, key: &str, value: Vec<u8>) -> io::Result<()> {
        if u16::try_from(key.len()).is_err() || u32::try_from(value.len()).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "metadata key or value too long",
            ));
        }
        let mut st = self.lock_usable()?;
        let old = st.meta.insert(key.to_string(), value);
        let purged = st.purged;
        if let Err(e) = self.group.write_meta(&mut st, purged) {
            match old {
                Some(v) => st.meta.insert(key.to_string(), v),
                None => st.meta.remove(key),
            };
            return Err(e);
        }
        Ok(())
    }

    fn put_entries(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        meta: Option<(&str, Vec<u8>)>,
    ) -> io::Result<()> {
        let mut st = self.lock_usable()?;
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "log entries of a batch out of order",
            ));
        }
        if let Some(&(first, _)) = entries.first() {
            // Raft truncates before it overwrites; an append at or below the last entry is taken as that
            // truncation, so the live entries stay in file order (recovery applies the same rule).
            if st.index.last_key_value().is_some_and(|(l, _)| first <= *l) {
                if let Err(e) = self.group.remove_since(&mut st, first) {
                    st.fail("truncation", &e);
                    return Err(e);
                }
            }
            // Below the purge point (only openraft's test suite does it): the log now starts at `first`.
            if st.purged.is_some_and(|p| first <= p) {
                self.group.write_meta(&mut st, first.checked_sub(1))?;
            }
        }
        let size = st.current().1.size;
        if size >= st.segment_bytes && size > SEGMENT_HEADER {
            self.group.roll(&mut st)?;
        }
        let (seg_seq, seg) = st.current();
        let base = seg.size;
        let file = seg.file.clone();
        let total: usize = entries
            .iter()
            .map(|(_, d)| d.len() + ENTRY_PREFIX as usize)
            .sum();
        let mut buf = Vec::with_capacity(total + 64);
        let mut positions = Vec::with_capacity(entries.len());
        for (index, data) in &entries {
            let off = base + buf.len() as u64 + ENTRY_PREFIX;
            push_record(&mut buf, &[&[KIND_ENTRY], &index.to_le_bytes(), data])?;
            positions.push((
                *index,
                Pos {
                    seg: seg_seq,
                    off,
                    len: data.len() as u32,
                },
            ));
        }
        let mut meta_at = None;
        if let Some((k, v)) = &meta {
            meta_at = Some((base + buf.len() as u64, st.seq + 1));
            push_meta_record(&mut buf, st.seq + 1, k, v)?;
        }
        if buf.is_empty() {
            return Ok(());
        }
        let end = base + buf.len() as u64;
        if st.preallocate && end > st.current().1.alloc {
            let from = st.current().1.alloc;
            let step = PREALLOCATE_BYTES.min(st.segment_bytes).max(1);
            let to = end.div_ceil(step) * step;
            match preallocate(&file, from, to) {
                Ok(true) => st.current().1.alloc = to,
                Ok(false) => st.preallocate = false,
                // Out of space or the like: the write below will say so if it cannot proceed either.
                Err(e) => tracing::warn!("AOF preallocation failed: {e}"),
            }
        }
        if let Err(e) = file.write_all_at(&buf, base) {
            // Leave no partial batch behind for the next append to follow.
            match file.set_len(base) {
                Ok(()) => st.current().1.alloc = base,
                Err(e2) => st.fail("truncating a failed append", &e2),
            }
            return Err(e);
        }
        let (_, seg) = st.current();
        seg.size = end;
        seg.alloc = seg.alloc.max(end);
        if let Some((i, _)) = positions.last() {
            seg.last = Some(*i);
        }
        if let Some((off, _)) = meta_at {
            seg.newer_meta = Some(off);
        }
        st.dirty = true;
        st.index.extend(positions);
        if let (Some((k, v)), Some((_, seq))) = (meta, meta_at) {
            st.meta.insert(k.to_string(), v);
            st.seq = seq;
        }
        Ok(())
    }

    fn entries(&self, start: u64, end: u64) -> io::Result<Vec<(u64, Vec<u8>)>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let st = self.group.state.lock();
        st.index
            .range(start..end)
            .map(|(i, p)| Ok((*i, Self::read(&st, p)?)))
            .collect()
    }

    fn last_entry(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        let st = self.group.state.lock();
        match st.index.last_key_value() {
            Some((i, p)) => Ok(Some((*i, Self::read(&st, p)?))),
            None => Ok(None),
        }
    }

    fn remove_since(&self, since: u64) -> io::Result<()> {
        let mut st = self.lock_usable()?;
        let r = self.group.remove_since(&mut st, since);
        if let Err(e) = &r {
            // Half done (some segments gone, the cut not made): stop rather than append after a stale tail.
            st.fail("truncation", e);
        }
        r
    }

    fn remove_upto(&self, upto: u64) -> io::Result<()> {
        let mut st = self.lock_usable()?;
        let r = self.group.remove_upto(&mut st, upto);
        if let Err(e) = &r {
            if st.purged.is_some_and(|p| p >= upto) {
                // The purge point is recorded: a segment that could not be deleted only wastes space.
                tracing::warn!("AOF purge could not delete a segment: {e}");
                return Ok(());
            }
        }
        r
    }
}

/// The append-only logs of one node: a directory per group under `root`, locked against a second opener.
pub(crate) struct AofNode {
    root: PathBuf,
    segment_bytes: u64,
    groups: Mutex<HashMap<GroupId, Arc<Group>>>,
    lock: Arc<File>,
}

impl AofNode {
    /// Opens (or creates) `root`; fails if another process or store has it open.
    pub(crate) fn open(root: &Path, segment_bytes: u64) -> io::Result<AofNode> {
        if !root.exists() {
            fs::create_dir_all(root)?;
            if let Some(parent) = root.parent() {
                sync_dir(parent)?;
            }
        }
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another process", root.display()),
            )
        })?;
        Ok(AofNode {
            root: root.to_path_buf(),
            segment_bytes: segment_bytes.max(SEGMENT_HEADER + 1),
            groups: Mutex::new(HashMap::new()),
            lock: Arc::new(lock),
        })
    }

    fn group_dir(&self, group: GroupId) -> PathBuf {
        self.root.join(format!("group-{group}"))
    }

    /// The log of `group`, recovered from its files (or created empty) on first use.
    pub(crate) fn group(&self, group: GroupId) -> io::Result<AofLog> {
        let mut groups = self.groups.lock();
        if let Some(g) = groups.get(&group) {
            return Ok(AofLog { group: g.clone() });
        }
        let g = Arc::new(recover(
            self.group_dir(group),
            &self.root,
            self.segment_bytes,
            self.lock.clone(),
        )?);
        groups.insert(group, g.clone());
        Ok(AofLog { group: g })
    }

    /// Deletes the files of `group` (its replica left this node).
    pub(crate) fn remove_group(&self, group: GroupId) -> io::Result<()> {
        if let Some(g) = self.groups.lock().remove(&group) {
            let mut st = g.state.lock();
            st.removed = true;
            st.segments.clear();
            st.index.clear();
        }
        let dir = self.group_dir(group);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        sync_dir(&self.root)
    }

    /// `fdatasync`s every group's unsynced writes.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let groups: Vec<Arc<Group>> = self.groups.lock().values().cloned().collect();
        let mut first_err = None;
        for g in groups {
            if let Err(e) = g.sync() {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Bytes allocated on disk under the root.
    pub(crate) fn size_on_disk(&self) -> io::Result<u64> {
        let mut total = 0;
        for d in fs::read_dir(&self.root)? {
            let d = d?;
            if d.file_type()?.is_dir() {
                for f in fs::read_dir(d.path())? {
                    total += f?.metadata()?.blocks() * 512;
                }
            }
        }
        Ok(total)
    }
}

struct MetaFile {
    seq: u64,
    purged: Option<u64>,
    meta: BTreeMap<String, Vec<u8>>,
}

fn read_meta(path: &Path) -> io::Result<Option<MetaFile>> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |why: &str| invalid(format!("{}: {why}", path.display()));
    if data.len() < 12 || &data[..8] != META_MAGIC {
        return Err(bad("not a Shoal log metadata file"));
    }
    let body = &data[12..];
    if crc(&[], body).to_le_bytes() != data[8..12] {
        return Err(bad(
            "checksum mismatch (the file is replaced atomically, so the disk corrupted it)",
        ));
    }
    let mut r = Reader(body);
    let trunc = || bad("truncated");
    let seq = r.u64().ok_or_else(trunc)?;
    let has_purged = r.take(1).ok_or_else(trunc)?[0] != 0;
    let purged = r.u64().ok_or_else(trunc)?;
    let n = r.u32().ok_or_else(trunc)?;
    let mut meta = BTreeMap::new();
    for _ in 0..n {
        let klen = r.u16().ok_or_else(trunc)? as usize;
        let key = r.take(klen).ok_or_else(trunc)?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| bad("key is not UTF-8"))?;
        let vlen = r.u32().ok_or_else(trunc)? as usize;
        meta.insert(key, r.take(vlen).ok_or_else(trunc)?.to_vec());
    }
    Ok(Some(MetaFile {
        seq,
        purged: has_purged.then_some(purged),
        meta,
    }))
}

/// A cursor over a byte slice (lengths come from disk: every read is bounds-checked).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// True if `file` holds only zero bytes from `from` to `len` (space a crash extended but never wrote).
fn zeros_from(file: &File, from: u64, len: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = from;
    while pos < len {
        let n = (len - pos).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], pos)?;
        if buf[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}

/// How a segment's records end.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// With the file, or where only zeros (reserved space) follow.
    Clean(u64),
    /// With a record a crash cut short: the valid part ends here and the rest must go.
    Torn(u64),
}

/// Reads every record of a segment, calling `each(offset, body)`, and says where the records end.
fn scan(
    file: &File,
    path: &Path,
    is_last: bool,
    mut each: impl FnMut(u64, &[u8]) -> io::Result<()>,
) -> io::Result<End> {
    let len = file.metadata()?.len();
    let corrupt = |pos: u64, why: &str| {
        invalid(format!(
            "{}: corrupt log record at byte {pos} of {len} ({why}); this is not the torn tail of the log, so \
             dropping it would lose the entries after it: refusing to start (restore the file or truncate it at \
             that offset by hand)",
            path.display()
        ))
    };
    let header = segment_header();
    if len < SEGMENT_HEADER {
        let mut h = vec![0u8; len as usize];
        file.read_exact_at(&mut h, 0)?;
        if is_last && (h.iter().all(|b| *b == 0) || header.starts_with(&h)) {
            return Ok(End::Torn(0));
        }
        return Err(corrupt(0, "truncated segment header"));
    }
    let mut h = [0u8; SEGMENT_HEADER as usize];
    file.read_exact_at(&mut h, 0)?;
    if h != header {
        if is_last && zeros_from(file, 0, len)? {
            return Ok(End::Torn(0));
        }
        return Err(invalid(format!(
            "{}: not a Shoal log segment (version {})",
            path.display(),
            u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"))
        )));
    }
    let mut r = BufReader::with_capacity(1 << 20, file);
    io::Seek::seek(&mut r, io::SeekFrom::Start(SEGMENT_HEADER))?;
    let mut pos = SEGMENT_HEADER;
    let mut body = Vec::new();
    // A bad record is a write cut short if nothing but zeros (space reserved or extended, never written) follows
    // it in the last segment; a crash can leave nothing else behind.
    let torn_or_corrupt = |pos: u64, end: u64, why: &str| -> io::Result<End> {
        if is_last && (end >= len || zeros_from(file, end, len)?) {
            tracing::warn!(
                "{}: torn record at byte {pos} of {len} ({why}): a crash cut a write short; truncating the log \
                 there",
                path.display()
            );
            Ok(End::Torn(pos))
        } else {
            Err(corrupt(pos, why))
        }
    };
    while pos < len {
        let rest = len - pos;
        if rest < RECORD_HEADER {
            if zeros_from(file, pos, len)? {
                return Ok(End::Clean(pos));
            }
            return torn_or_corrupt(pos, len, "truncated record header");
        }
        let mut h = [0u8; RECORD_HEADER as usize];
        r.read_exact(&mut h)?;
        if h == [0; RECORD_HEADER as usize] && zeros_from(file, pos, len)? {
            return Ok(End::Clean(pos));
        }
        let blen = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as u64;
        let want = u32::from_le_bytes(h[4..].try_into().expect("4 bytes"));
        let end = pos + RECORD_HEADER + blen;
        if blen > rest - RECORD_HEADER {
            return torn_or_corrupt(pos, end, "record runs past the end of the file");
        }
        if blen == 0 {
            return torn_or_corrupt(pos, end, "empty record");
        }
        body.resize(blen as usize, 0);
        r.read_exact(&mut body)?;
        if crc(&h[..4], &body) != want {
            return torn_or_corrupt(pos, end, "checksum mismatch");
        }
        each(pos, &body).map_err(|e| corrupt(pos, &e.to_string()))?;
        pos = end;
    }
    Ok(End::Clean(pos))
}

/// Opens a group's directory (creating it if new), rebuilding the index and the metadata from its files.
fn recover(dir: PathBuf, root: &Path, segment_bytes: u64, lock: Arc<File>) -> io::Result<Group> {
    if !dir.exists() {
        fs::create_dir_all(&dir)?;
        sync_dir(root)?;
    }
    match fs::remove_file(dir.join(META_TMP)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mf = read_meta(&dir.join(META_FILE))?.unwrap_or(MetaFile {
        seq: 0,
        purged: None,
        meta: BTreeMap::new(),
    });
    let mut seqs = Vec::new();
    for e in fs::read_dir(&dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".aof")
            .and_then(|s| s.parse::<u64>().ok())
        {
            seqs.push(n);
        }
    }
    seqs.sort_unstable();
    let mut st = State {
        segments: BTreeMap::new(),
        index: BTreeMap::new(),
        meta: mf.meta,
        seq: mf.seq,
        purged: mf.purged,
        dirty: false,
        dir_dirty: false,
        failed: None,
        removed: false,
        segment_bytes,
        preallocate: true,
    };
    let mut last_seen: Option<u64> = None;
    for (n, &seq) in seqs.iter().enumerate() {
        let is_last = n + 1 == seqs.len();
        let path = dir.join(segment_name(seq));
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut seg_last = None;
        let mut newer_meta = None;
        let end = scan(&file, &path, is_last, |pos, body| {
            let mut r = Reader(&body[1..]);
            let short = || invalid("record too short".into());
            match body[0] {
                KIND_ENTRY => {
                    let index = r.u64().ok_or_else(short)?;
                    if last_seen.is_some_and(|l| index <= l) {
                        // As when it was appended: the log from `index` on was replaced.
                        st.index.split_off(&index);
                    }
                    last_seen = Some(index);
                    seg_last = Some(index);
                    if st.purged.is_none_or(|p| index > p) {
                        let len = r.0.len() as u32;
                        st.index.insert(
                            index,
                            Pos {
                                seg: seq,
                                off: pos + ENTRY_PREFIX,
                                len,
                            },
                        );
                    }
                }
                KIND_META => {
                    let rseq = r.u64().ok_or_else(short)?;
                    let klen = r.u16().ok_or_else(short)? as usize;
                    let key = r.take(klen).ok_or_else(short)?;
                    let key = String::from_utf8(key.to_vec())
                        .map_err(|_| invalid("metadata key is not UTF-8".into()))?;
                    if rseq > mf.seq {
                        st.meta.insert(key, r.0.to_vec());
                        newer_meta = Some(pos);
                    }
                    st.seq = st.seq.max(rseq);
                }
                k => return Err(invalid(format!("unknown record kind {k}"))),
            }
            Ok(())
        })?;
        let (size, alloc) = match end {
            End::Clean(at) => (at, file.metadata()?.len()),
            End::Torn(at) => {
                // Zeros after the end again, for the next append to write over.
                file.set_len(at)?;
                if at == 0 {
                    // A segment whose creation was cut short: start it again.
                    file.write_all_at(&segment_header(), 0)?;
                }
                file.sync_data()?;
                (at.max(SEGMENT_HEADER), at.max(SEGMENT_HEADER))
            }
        };
        st.segments.insert(
            seq,
            Segment {
                file: Arc::new(file),
                size,
                alloc,
                last: seg_last,
                newer_meta,
            },
        );
    }
    let group = Group {
        dir,
        state: Mutex::new(st),
        _lock: lock,
    };
    {
        let mut st = group.state.lock();
        // Segments wholly below the purge point that a crash kept from being deleted.
        if let Some(p) = st.purged {
            let last_seq = st.segments.keys().next_back().copied();
            let doomed: Vec<u64> = st
                .segments
                .iter()
                .take_while(|(s, seg)| Some(**s) != last_seq && seg.last.is_none_or(|l| l <= p))
                .map(|(s, _)| *s)
                .collect();
            // Their metadata records are older than the meta file: it was written before any purge deletion.
            for s in doomed {
                if st.segments[&s].newer_meta.is_some() {
                    break;
                }
                fs::remove_file(group.seg_path(s))?;
                st.segments.remove(&s);
                st.dir_dirty = true;
            }
        }
        if st.segments.is_empty() {
            let file = create_segment(&group.seg_path(1))?;
            file.sync_data()?;
            st.segments.insert(
                1,
                Segment {
                    file: Arc::new(file),
                    size: SEGMENT_HEADER,
                    alloc: SEGMENT_HEADER,
                    last: None,
                    newer_meta: None,
                },
            );
            st.dir_dirty = true;
        }
        if std::mem::take(&mut st.dir_dirty) {
            sync_dir(&group.dir)?;
        }
    }
    Ok(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(range: std::ops::Range<u64>, size: usize) -> Vec<(u64, Vec<u8>)> {
        range.map(|i| (i, vec![i as u8; size])).collect()
    }

    fn indexes(log: &AofLog) -> Vec<u64> {
        log.entries(0, u64::MAX)
            .unwrap()
            .into_iter()
            .map(|(i, v)| {
                assert!(v.iter().all(|b| *b == i as u8), "payload of {i}");
                i
            })
            .collect()
    }

    fn segment_files(dir: &Path, group: GroupId) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir.join(format!("group-{group}")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "aof"))
            .collect();
        v.sort();
        v
    }

    fn reopen(dir: &Path, segment: u64) -> (AofNode, AofLog) {
        let node = AofNode::open(dir, segment).unwrap();
        let log = node.group(3).unwrap();
        (node, log)
    }

    #[test]
    fn reopen_keeps_entries_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
            log.put_entries(entries(1..6, 10), None).unwrap();
            log.put_meta("vote", b"v1".to_vec()).unwrap();
            log.put_entries(entries(6..9, 10), Some(("committed", b"c7".to_vec())))
                .unwrap();
            log.put_meta("vote", b"v2".to_vec()).unwrap();
            log.put_entries(entries(9..10, 10), Some(("committed", b"c9".to_vec())))
                .unwrap();
        }
        let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(indexes(&log), (1..10).collect::<Vec<_>>());
        assert_eq!(log.get_meta("vote").unwrap(), Some(b"v2".to_vec()));
        assert_eq!(log.get_meta("committed").unwrap(), Some(b"c9".to_vec()));
        assert_eq!(log.last_entry().unwrap().unwrap().0, 9);
        assert_eq!(log.entries(3, 5).unwrap().len(), 2);
        assert!(log
            .put_entries(vec![(12, vec![]), (11, vec![])], None)
            .is_err());
        // An append at or below the last entry replaces the log from there, now and after a reopen.
        log.put_entries(entries(5..7, 3), None).unwrap();
        assert_eq!(indexes(&log), (1..7).collect::<Vec<_>>());
        drop((_node, log));
        let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(indexes(&log), (1..7).collect::<Vec<_>>());
        assert_eq!(log.entries(5, 7).unwrap()[0].1.len(), 3);
    }

    #[test]
    fn second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = AofNode::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        assert!(AofNode::open(dir.path(), DEFAULT_SEGMENT_BYTES).is_err());
        // A log handle outliving its node still holds the lock.
        let log = a.group(1).unwrap();
        drop(a);
        assert!(AofNode::open(dir.path(), DEFAULT_SEGMENT_BYTES).is_err());
        drop(log);
        assert!(AofNode::open(dir.path(), DEFAULT_SEGMENT_BYTES).is_ok());
    }

    fn log_end(log: &AofLog) -> u64 {
        log.group.state.lock().current().1.size
    }

    fn zero(path: &Path, from: u64, to: u64) {
        let f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(&vec![0; (to - from) as usize], from)
            .unwrap();
    }

    fn set_len(path: &Path, len: u64) {
        let f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_len(len).unwrap();
    }

    #[test]
    fn torn_tail_is_truncated_away() {
        let dir = tempfile::tempdir().unwrap();
        let end = {
            let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
            log.put_entries(entries(1..4, 100), None).unwrap();
            log_end(&log)
        };
        let seg = segment_files(dir.path(), 3).pop().unwrap();
        // Space is reserved past the end of the log.
        assert_eq!(fs::metadata(&seg).unwrap().len(), PREALLOCATE_BYTES);
        let third = end - (100 + ENTRY_PREFIX);
        let torn: [&dyn Fn(); 3] = [
            // A write cut short by a kill: the rest of the record is still reserved zeros.
            &|| zero(&seg, end - 30, end),
            // The same where the file was being extended.
            &|| set_len(&seg, end - 30),
            // Cut inside the record header.
            &|| set_len(&seg, third + 3),
        ];
        for cut in torn {
            cut();
            let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
            assert_eq!(indexes(&log), vec![1, 2]);
            assert_eq!(log_end(&log), third);
            // The next append goes right after the last good record.
            log.put_entries(entries(3..4, 100), None).unwrap();
            assert_eq!(log_end(&log), end);
        }
        // Zeros after the last record are reserved space, not damage.
        set_len(&seg, PREALLOCATE_BYTES + 4096);
        let (node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(indexes(&log), vec![1, 2, 3]);
        assert_eq!(fs::metadata(&seg).unwrap().len(), PREALLOCATE_BYTES + 4096);
        // A torn record whose bytes are garbage, followed by zeros.
        log.put_entries(entries(4..5, 100), None).unwrap();
        let end = log_end(&log);
        drop((node, log));
        let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&[0xAB; 20], end - 20).unwrap();
        drop(f);
        let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        assert_eq!(indexes(&log), vec![1, 2, 3]);
    }

    #[test]
    fn corruption_in_the_middle_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
            log.put_entries(entries(1..4, 100), None).unwrap();
        }
        let seg = segment_files(dir.path(), 3).pop().unwrap();
        let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
        // A flipped byte in the payload of entry 1: entries 2 and 3 follow it.
        f.write_all_at(&[0xFF], SEGMENT_HEADER + ENTRY_PREFIX + 5)
            .unwrap();
        drop(f);
        let node = AofNode::open(dir.path(), DEFAULT_SEGMENT_BYTES).unwrap();
        let err = node.group(3).err().expect("must refuse");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("corrupt log record at byte 12"),
            "{err}"
        );
    }

    #[test]
    fn truncate_cuts_at_the_record_boundary() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
            log.put_entries(entries(1..6, 10), Some(("committed", b"c2".to_vec())))
                .unwrap();
            log.put_entries(entries(6..9, 10), Some(("committed", b"c4".to_vec())))
                .unwrap();
            log.remove_since(4).unwrap();
            assert_eq!(indexes(&log), vec![1, 2, 3]);
            // The metadata record cut away with entries 6-8 survives in the meta file.
            assert_eq!(log.get_meta("committed").unwrap(), Some(b"c4".to_vec()));
            log.put_entries(entries(4..6, 20), None).unwrap();
            log.remove_since(100).unwrap();
        }
        let (_node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        let got = log.entries(0, 100).unwrap();
        assert_eq!(
            got.iter().map(|(i, v)| (*i, v.len())).collect::<Vec<_>>(),
            vec![(1, 10), (2, 10), (3, 10), (4, 20), (5, 20)]
        );
        assert_eq!(log.get_meta("committed").unwrap(), Some(b"c4".to_vec()));
    }

    #[test]
    fn purge_deletes_whole_segments_and_truncate_spans_segments() {
        let dir = tempfile::tempdir().unwrap();
        // Segments of ~1 KiB: 100-byte entries, a new segment every 9 or so.
        let seg = 1024;
        {
            let (node, log) = reopen(dir.path(), seg);
            for i in 0..10 {
                log.put_entries(entries(i * 10 + 1..i * 10 + 11, 100), None)
                    .unwrap();
            }
            let files = segment_files(dir.path(), 3);
            assert!(files.len() >= 9, "{files:?}");
            // Closed segments give their reserved space back: they end with their last record.
            for f in &files[..files.len() - 1] {
                assert_ne!(fs::read(f).unwrap().last(), Some(&0), "{f:?}");
            }
            let before = node.size_on_disk().unwrap();

            log.remove_upto(45).unwrap();
            assert_eq!(indexes(&log), (46..=100).collect::<Vec<_>>());
            let after = segment_files(dir.path(), 3);
            assert!(after.len() <= files.len() - 4, "{after:?}");
            assert!(node.size_on_disk().unwrap() < before);

            // Conflict truncation across segments: later segments go, the cut one is truncated.
            log.remove_since(63).unwrap();
            assert_eq!(indexes(&log), (46..=62).collect::<Vec<_>>());
            assert!(segment_files(dir.path(), 3).len() < after.len());
            log.put_entries(entries(63..70, 100), None).unwrap();
            // Purging past every entry keeps only the current segment.
            log.remove_upto(69).unwrap();
            assert!(indexes(&log).is_empty());
            assert_eq!(segment_files(dir.path(), 3).len(), 1);
            log.put_entries(entries(200..203, 100), None).unwrap();
        }
        let (_node, log) = reopen(dir.path(), seg);
        assert_eq!(indexes(&log), vec![200, 201, 202]);
        log.remove_upto(200).unwrap();
        drop((_node, log));
        let (_node, log) = reopen(dir.path(), seg);
        assert_eq!(indexes(&log), vec![201, 202]);
    }

    #[test]
    fn purge_interrupted_before_deleting_is_finished_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let seg = 1024;
        {
            let (_node, log) = reopen(dir.path(), seg);
            log.put_entries(entries(1..31, 100), None).unwrap();
            log.put_entries(entries(31..41, 100), None).unwrap();
        }
        let files = segment_files(dir.path(), 3);
        // Write the purge point as `remove_upto` does, then "crash" before deleting anything.
        {
            let node = AofNode::open(dir.path(), seg).unwrap();
            let log = node.group(3).unwrap();
            let g = log.group.clone();
            let mut st = g.state.lock();
            g.write_meta(&mut st, Some(35)).unwrap();
        }
        assert_eq!(segment_files(dir.path(), 3), files);
        let (_node, log) = reopen(dir.path(), seg);
        assert_eq!(indexes(&log), (36..41).collect::<Vec<_>>());
        assert!(segment_files(dir.path(), 3).len() < files.len());
    }

    #[test]
    fn sync_clears_dirty_and_removed_group_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (node, log) = reopen(dir.path(), DEFAULT_SEGMENT_BYTES);
        log.put_entries(entries(1..3, 10), None).unwrap();
        assert!(log.group.state.lock().dirty);
        node.sync().unwrap();
        assert!(!log.group.state.lock().dirty);
        node.remove_group(3).unwrap();
        assert!(log.put_entries(entries(3..4, 10), None).is_err());
        assert!(!dir.path().join("group-3").exists());
        let log = node.group(3).unwrap();
        assert!(indexes(&log).is_empty());
    }
}
