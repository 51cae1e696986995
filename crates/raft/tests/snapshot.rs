//! Snapshots through the state machine: build, persist, reopen, install elsewhere; strings, ints and deadlines.

use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftSnapshotBuilder};
use parking_lot::Mutex;
use raft::{ShardStateMachine, SnapshotFile};
use store::keyspace::NO_EXPIRE;
use store::{ExecCtx, Keyspace, Value};

fn fill(ks: &mut Keyspace) {
    let ctx = ExecCtx::for_write(1_000, 0);
    for i in 0..1000 {
        let k = format!("key:{i}");
        match i % 4 {
            0 => ks.set(
                &ctx,
                k.as_bytes(),
                Value::Str(format!("value {i}").into_bytes()),
                NO_EXPIRE,
            ),
            1 => ks.set(&ctx, k.as_bytes(), Value::Int(i * -7), NO_EXPIRE),
            2 => ks.set(
                &ctx,
                k.as_bytes(),
                Value::Str(vec![i as u8; i as usize]),
                2_000_000 + i,
            ),
            _ => ks.set(&ctx, k.as_bytes(), Value::Int(i), 500), // already past its deadline: still state
        }
    }
}

fn contents(ks: &Mutex<Keyspace>) -> Vec<(Vec<u8>, Value, i64)> {
    let ks = ks.lock();
    let mut v: Vec<_> = ks
        .iter()
        .map(|(k, o)| (k.to_vec(), o.value.clone(), o.expire_at))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

#[tokio::test]
async fn build_persist_reopen_and_install() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm = ShardStateMachine::open(
        ks.clone(),
        SnapshotFile::new(dir.path().join("a.snap")).unwrap(),
    )
    .unwrap();
    assert!(sm.get_current_snapshot().await.unwrap().is_none());

    // State reached through the log: a membership entry, then the data (written directly, as apply would).
    let members = Membership::new(vec![[1u64].into_iter().collect()], None);
    let entries = vec![Entry::<raft::TypeConfig> {
        log_id: log_id(2, 5),
        payload: EntryPayload::Membership(members),
    }];
    let replies = sm.apply(entries).await.unwrap();
    assert_eq!(
        replies.len(),
        1,
        "one response per entry, membership included"
    );
    fill(&mut ks.lock());
    let want = contents(&ks);

    let snap = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(2, 5)));
    let report = sm.stats().last_snapshot.lock().clone().expect("report");
    assert_eq!(report.keys, 1000);
    assert!(report.lock_held <= report.total);

    // Reopen from the file alone: same keyspace, same applied state, same current snapshot.
    let ks2 = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm2 = ShardStateMachine::open(
        ks2.clone(),
        SnapshotFile::new(dir.path().join("a.snap")).unwrap(),
    )
    .unwrap();
    assert_eq!(contents(&ks2), want);
    assert_eq!(sm2.applied_state().await.unwrap().0, Some(log_id(2, 5)));
    let cur = sm2
        .get_current_snapshot()
        .await
        .unwrap()
        .expect("persisted snapshot");
    assert_eq!(cur.meta, snap.meta);
    assert_eq!(cur.snapshot.get_ref(), snap.snapshot.get_ref());

    // Install on another replica; its old content is replaced, its statistics kept.
    let ks3 = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm3 = ShardStateMachine::open(
        ks3.clone(),
        SnapshotFile::new(dir.path().join("b.snap")).unwrap(),
    )
    .unwrap();
    ks3.lock().set(
        &ExecCtx::for_write(0, 0),
        b"stale",
        Value::Int(1),
        NO_EXPIRE,
    );
    ks3.lock().stats.keyspace_hits = 9;
    let mut rx = sm3.begin_receiving_snapshot().await.unwrap();
    *rx = *cur.snapshot;
    sm3.install_snapshot(&cur.meta, rx).await.unwrap();
    assert_eq!(contents(&ks3), want);
    assert_eq!(ks3.lock().stats.keyspace_hits, 9);
    assert_eq!(ks3.lock().volatile_len(), 500);
    assert_eq!(
        sm3.get_current_snapshot().await.unwrap().unwrap().meta,
        snap.meta
    );

    // A corrupted snapshot is refused and changes nothing.
    let mut bad = snap.snapshot.get_ref().clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let mut meta = snap.meta.clone();
    meta.last_log_id = Some(log_id(3, 9));
    let mut rx = sm3.begin_receiving_snapshot().await.unwrap();
    *rx = std::io::Cursor::new(bad);
    assert!(sm3.install_snapshot(&meta, rx).await.is_err());
    assert_eq!(contents(&ks3), want);
    assert_eq!(
        sm3.get_current_snapshot().await.unwrap().unwrap().meta,
        snap.meta
    );
}

#[tokio::test]
async fn corrupt_snapshot_file_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.snap");
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm = ShardStateMachine::open(ks.clone(), SnapshotFile::new(&path).unwrap()).unwrap();
    fill(&mut ks.lock());
    sm.get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let mut data = std::fs::read(&path).unwrap();
    let n = data.len();
    data[n - 10] ^= 0x40;
    std::fs::write(&path, data).unwrap();
    let err = ShardStateMachine::open(
        Arc::new(Mutex::new(Keyspace::new())),
        SnapshotFile::new(&path).unwrap(),
    )
    .err()
    .expect("corruption detected");
    assert!(err.to_string().contains("checksum"), "{err}");
}

/// The copy takes the lock a chunk at a time, so reads run while a snapshot is built; the snapshot is still the
/// exact state at its log index, byte for byte what a dump of that state under one lock gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_taken_while_reads_hammer_is_an_exact_image() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm = ShardStateMachine::open(
        ks.clone(),
        SnapshotFile::new(dir.path().join("a.snap")).unwrap(),
    )
    .unwrap();
    let members = Membership::new(vec![[1u64].into_iter().collect()], None);
    sm.apply(vec![Entry::<raft::TypeConfig> {
        log_id: log_id(1, 3),
        payload: EntryPayload::Membership(members),
    }])
    .await
    .unwrap();
    {
        // Enough keys for several chunks, and stopped mid-resize so the walk covers two tables.
        let mut g = ks.lock();
        let ctx = ExecCtx::for_write(1_000, 0);
        let mut i = 0u64;
        while g.len() < 5 * raft::state_machine::STEP_KEYS || !g.table_layout().1 {
            let k = format!("key:{i}");
            let v = match i % 3 {
                0 => Value::Int(i as i64 - 50_000),
                1 => Value::Str(format!("value {i}").into_bytes()),
                _ => Value::Str(vec![b'x'; (i % 200) as usize]),
            };
            // Some deadlines already passed at the readers' time: reads of those note them for expiry.
            let ttl = match i % 7 {
                0 => 1_200,
                1 => 9_000_000,
                _ => NO_EXPIRE,
            };
            g.set(&ctx, k.as_bytes(), v, ttl);
            i += 1;
        }
    }
    let n = ks.lock().len() as u64;

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (ks, stop, reads) = (ks.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let ctx = ExecCtx::for_read(2_000, 0);
                let mut x = r;
                while !stop.load(Ordering::Relaxed) {
                    let mut g = ks.lock();
                    for _ in 0..50 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let k = format!("key:{}", (x >> 33) % (n + 100));
                        let _ = g.read(&ctx, k.as_bytes()).map(|o| o.expire_at);
                    }
                    let _ = g.scan_keys(x, 10);
                    let _ = g.take_lazy_expired();
                    drop(g);
                    reads.fetch_add(50, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while reads.load(Ordering::Relaxed) == 0 {
        std::thread::yield_now();
    }

    let before = reads.load(Ordering::Relaxed);
    let mut builder = sm.get_snapshot_builder().await;
    let during = reads.load(Ordering::Relaxed) - before;
    let snap = builder.build_snapshot().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }

    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 3)));
    let report = sm.stats().last_snapshot.lock().clone().expect("report");
    assert_eq!(report.keys, n);
    assert!(report.lock_holds >= 5, "{report:?}");
    assert!(report.longest_hold <= report.lock_held && report.lock_held <= report.copy);
    assert!(during > 0, "no read ran while the snapshot was copied");

    let data = snap.snapshot.get_ref();
    let whole = store::snapshot::dump(&ks.lock());
    assert!(
        *data == whole,
        "the snapshot differs from a dump of the same state"
    );
    let back = Arc::new(Mutex::new(store::snapshot::load(data).unwrap()));
    assert_eq!(contents(&back), contents(&ks));
}

fn command_entry(index: u64, args: &[String]) -> Entry<raft::TypeConfig> {
    let op = store::exec::Op::Command(
        args.iter()
            .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
            .collect(),
    );
    Entry::<raft::TypeConfig> {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(store::exec::LogEntry {
            time_ms: 3_000,
            seed: index,
            ops: vec![op].into(),
            wire: Default::default(),
        }),
    }
}

/// Applies go on while the snapshot is walked (copy-on-write), and the snapshot is still exactly the state at
/// the index it reports: byte for byte the dump taken before the first of those applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_the_state_at_its_index_while_applies_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let mut sm = ShardStateMachine::open(
        ks.clone(),
        SnapshotFile::new(dir.path().join("a.snap")).unwrap(),
    )
    .unwrap();
    let members = Membership::new(vec![[1u64].into_iter().collect()], None);
    sm.apply(vec![Entry::<raft::TypeConfig> {
        log_id: log_id(1, 3),
        payload: EntryPayload::Membership(members),
    }])
    .await
    .unwrap();
    {
        let mut g = ks.lock();
        let ctx = ExecCtx::for_write(1_000, 0);
        for i in 0..20 * raft::state_machine::STEP_KEYS {
            g.set(
                &ctx,
                format!("key:{i}").as_bytes(),
                Value::Str(format!("value {i}").into_bytes()),
                NO_EXPIRE,
            );
        }
    }
    let want = store::snapshot::dump(&ks.lock());
    let want_contents = contents(&ks);

    // Overwrite, append to, delete and add keys all over the table, one entry at a time: first between the
    // walk's start and its first step, then while it runs, until the build ends.
    let mut builder = sm.get_snapshot_builder().await;
    let mut x = 7u64;
    let mut next = |index: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = format!("key:{}", (x >> 33) % 30_000);
        let args: Vec<String> = match index % 4 {
            0 => vec!["SET".into(), k, "new".into()],
            1 => vec!["APPEND".into(), k, "+more".into()],
            2 => vec!["DEL".into(), k],
            _ => vec!["SET".into(), format!("added:{index}"), "x".into()],
        };
        command_entry(index, &args)
    };
    let mut index = 4;
    while index < 200 {
        sm.apply(vec![next(index)]).await.unwrap();
        index += 1;
    }
    let build = tokio::spawn(async move { builder.build_snapshot().await });
    while !build.is_finished() {
        sm.apply(vec![next(index)]).await.unwrap();
        index += 1;
        tokio::task::yield_now().await;
    }
    let snap = build.await.unwrap().unwrap();

    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 3)));
    let data = snap.snapshot.get_ref();
    assert!(*data == want, "the snapshot is not the state at its index");
    let back = Arc::new(Mutex::new(store::snapshot::load(data).unwrap()));
    assert_eq!(contents(&back), want_contents);
    let report = sm.stats().last_snapshot.lock().clone().expect("report");
    assert_eq!(report.keys, want_contents.len() as u64);
    assert!(report.saved_keys > 0, "{report:?}");
}
