//! A shard group end to end: batched writes, restart recovery, snapshots and log purge, several nodes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use raft::{
    FsyncPolicy, GroupConfig, LocalRouter, NodeStorage, ShardGroup, StorageOptions, WriteError,
};
use resp::Frame;
use store::keyspace::NO_EXPIRE;
use store::{Keyspace, Op, Value};

const GROUP: u64 = 3;

fn cmd(args: &[&str]) -> Op {
    Op::Command(
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect(),
    )
}

fn options(fsync: FsyncPolicy) -> StorageOptions {
    StorageOptions {
        fsync,
        cache_capacity: 8 * 1024 * 1024,
        ..Default::default()
    }
}

struct Single {
    storage: NodeStorage,
    group: ShardGroup,
    ks: Arc<Mutex<Keyspace>>,
}

async fn start_single(
    dir: &std::path::Path,
    fsync: FsyncPolicy,
    tune: impl FnOnce(&mut GroupConfig),
) -> Single {
    let storage = NodeStorage::open(dir, &options(fsync)).expect("open storage");
    let ks = Arc::new(Mutex::new(Keyspace::new()));
    let router = LocalRouter::new();
    let mut config = GroupConfig::new(GROUP, 1, "127.0.0.1:16379");
    config.raft.election_timeout_min = 150;
    config.raft.election_timeout_max = 300;
    config.raft.heartbeat_interval = 50;
    tune(&mut config);
    let group = ShardGroup::start(&storage, ks.clone(), router.network(1, GROUP), config)
        .await
        .expect("start group");
    router.register(1, GROUP, group.raft().clone());
    group.initialize_single().await.expect("initialize");
    group
        .wait_for_leader(Duration::from_secs(5))
        .await
        .expect("leader");
    // Leadership is known a moment before the leader's blank entry is applied.
    let g = group.clone();
    wait_until("leader after start", move || g.is_leader()).await;
    Single { storage, group, ks }
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached in 5 s");
}

/// Waits until a restarted leader has applied its whole log, which reaches at least `applied` (read before the
/// stop). Waiting for `applied` alone is not enough: the metrics can lag the replies the writers got, so
/// `applied` may be short of the last entry, which then may still be being re-applied.
async fn wait_reapplied(group: &ShardGroup, applied: u64) {
    let g = group.clone();
    wait_until("re-applied after restart", move || {
        let m = g.metrics();
        let last = m.last_log_index.unwrap_or(0);
        g.is_leader() && last >= applied && m.last_applied.is_some_and(|l| l.index == last)
    })
    .await;
}

async fn stop(s: Single) {
    s.group.shutdown().await.expect("shutdown");
    s.storage.close().await.expect("close storage");
}

fn get(ks: &Mutex<Keyspace>, key: &str) -> Option<(Value, i64)> {
    ks.lock()
        .peek(0, key.as_bytes())
        .map(|o| (o.value.clone(), o.expire_at))
}

/// Writes `tasks * per_task` pairs of keys concurrently; every write is three commands so replies must be split
/// correctly between the writes that share an entry.
async fn write_concurrently(group: &ShardGroup, prefix: &str, tasks: usize, per_task: usize) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let g = group.clone();
        let prefix = prefix.to_string();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let a = format!("{prefix}:{t}:{i}:a");
                let b = format!("{prefix}:{t}:{i}:b");
                let replies = g
                    .write(vec![
                        cmd(&["SET", &a, &i.to_string()]),
                        cmd(&["SET", &b, "v"]),
                        cmd(&["GET", &a]),
                    ])
                    .await
                    .expect("write acknowledged");
                assert_eq!(
                    replies,
                    vec![Frame::ok(), Frame::ok(), Frame::bulk(i.to_string())]
                );
            }
        }));
    }
    for h in handles {
        h.await.expect("writer task");
    }
}

fn assert_all_present(ks: &Mutex<Keyspace>, prefix: &str, tasks: usize, per_task: usize) {
    for t in 0..tasks {
        for i in 0..per_task {
            let a = format!("{prefix}:{t}:{i}:a");
            assert_eq!(get(ks, &a), Some((Value::Int(i as i64), NO_EXPIRE)), "{a}");
            let b = format!("{prefix}:{t}:{i}:b");
            assert_eq!(
                get(ks, &b),
                Some((Value::Str(b"v".to_vec()), NO_EXPIRE)),
                "{b}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_every_acknowledged_write() {
    for fsync in [FsyncPolicy::Always, FsyncPolicy::Everysec] {
        let dir = tempfile::tempdir().unwrap();
        let s = start_single(dir.path(), fsync, |_| {}).await;
        write_concurrently(&s.group, "k", 32, 25).await;
        let stats = s.group.proposer_stats();
        assert_eq!(stats.writes, 32 * 25);
        assert_eq!(stats.ops, 3 * 32 * 25);
        assert!(
            stats.entries < stats.writes,
            "concurrent writes were not batched: {stats:?}"
        );
        if fsync == FsyncPolicy::Always {
            let f = s.storage.flusher().stats();
            assert!(f.flushes > 0 && f.flushes <= f.waited_writes, "{f:?}");
        }
        let applied = s.group.metrics().last_applied.expect("applied").index;
        assert_eq!(s.ks.lock().len(), 2 * 32 * 25);
        stop(s).await;

        let s = start_single(dir.path(), fsync, |_| {}).await;
        wait_reapplied(&s.group, applied).await;
        assert_eq!(s.ks.lock().len(), 2 * 32 * 25, "{fsync:?}");
        assert_all_present(&s.ks, "k", 32, 25);
        // Still writable after the restart, and the old state is visible to new commands.
        let r = s
            .group
            .write(vec![
                cmd(&["GET", "k:0:0:a"]),
                cmd(&["SET", "k:0:0:a", "x"]),
            ])
            .await
            .unwrap();
        assert_eq!(r, vec![Frame::bulk("0"), Frame::ok()]);
        stop(s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_purge_then_restart_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let tune = |c: &mut GroupConfig| {
        c.raft.snapshot_policy = openraft::SnapshotPolicy::Never;
        c.raft.max_in_snapshot_log_to_keep = 0;
        c.raft.purge_batch_size = 1;
    };
    let s = start_single(dir.path(), FsyncPolicy::Everysec, tune).await;
    write_concurrently(&s.group, "before", 8, 25).await;
    let r = s
        .group
        .write(vec![
            cmd(&["SET", "str", "plain"]),
            cmd(&["SET", "int", "-12345"]),
            Op::ExpireIfDue(vec![Bytes::from_static(b"int")]),
        ])
        .await
        .unwrap();
    assert_eq!(r, vec![Frame::ok(), Frame::ok(), Frame::Integer(0)]);

    let report = s
        .group
        .snapshot(Duration::from_secs(10))
        .await
        .expect("snapshot");
    assert_eq!(report.keys as usize, 2 * 8 * 25 + 2);
    let snap_index = s.group.metrics().snapshot.expect("snapshot taken").index;
    let g = s.group.clone();
    wait_until("purged", move || {
        g.metrics().purged.is_some_and(|p| p.index >= snap_index)
    })
    .await;

    // Writes after the snapshot live only in the log.
    write_concurrently(&s.group, "after", 4, 10).await;
    let applied = s.group.metrics().last_applied.unwrap().index;
    stop(s).await;

    let s = start_single(dir.path(), FsyncPolicy::Everysec, tune).await;
    let m = s.group.metrics();
    assert!(
        m.purged.is_some_and(|p| p.index >= snap_index),
        "purge not persisted: {:?}",
        m.purged
    );
    assert_eq!(
        m.snapshot.map(|s| s.index),
        Some(snap_index),
        "snapshot not found after restart"
    );
    wait_reapplied(&s.group, applied).await;
    assert_all_present(&s.ks, "before", 8, 25);
    assert_all_present(&s.ks, "after", 4, 10);
    assert_eq!(
        get(&s.ks, "str"),
        Some((Value::Str(b"plain".to_vec()), NO_EXPIRE))
    );
    assert_eq!(get(&s.ks, "int"), Some((Value::Int(-12345), NO_EXPIRE)));
    assert_eq!(s.ks.lock().len(), 2 * 8 * 25 + 2 + 2 * 4 * 10);
    stop(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_fail_over_and_catch_up_by_snapshot() {
    let router = LocalRouter::new();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let storage =
            NodeStorage::open(dirs[id as usize - 1].path(), &options(FsyncPolicy::Always)).unwrap();
        let ks = Arc::new(Mutex::new(Keyspace::new()));
        let mut config = GroupConfig::new(GROUP, id, format!("10.0.0.{id}:16379"));
        config.raft.heartbeat_interval = 50;
        config.raft.election_timeout_min = 200;
        config.raft.election_timeout_max = 400;
        config.raft.snapshot_policy = openraft::SnapshotPolicy::Never;
        config.raft.max_in_snapshot_log_to_keep = 0;
        let group = ShardGroup::start(&storage, ks.clone(), router.network(id, GROUP), config)
            .await
            .unwrap();
        router.register(id, GROUP, group.raft().clone());
        nodes.push((storage, group, ks));
    }
    let members = (1..=3u64)
        .map(|id| (id, openraft::BasicNode::new(format!("10.0.0.{id}:16379"))))
        .collect();
    assert!(nodes[0].1.initialize(members).await.unwrap());
    let leader = nodes[0]
        .1
        .wait_for_leader(Duration::from_secs(5))
        .await
        .unwrap();
    let li = leader as usize - 1;
    let l = nodes[li].1.clone();
    wait_until("leader", move || l.is_leader()).await;

    write_concurrently(&nodes[li].1, "r", 8, 10).await;
    nodes[li]
        .1
        .read_barrier()
        .await
        .expect("leader read barrier");
    let follower = (li + 1) % 3;
    match nodes[follower].1.write(vec![cmd(&["SET", "x", "y"])]).await {
        Err(WriteError::ForwardToLeader { leader_id, addr }) => {
            assert_eq!(leader_id, leader);
            assert_eq!(addr, format!("10.0.0.{leader}:16379"));
        }
        other => panic!("follower accepted a write: {other:?}"),
    }
    let applied = nodes[li].1.metrics().last_applied.unwrap().index;
    for (_, g, ks) in &nodes {
        let g = g.clone();
        wait_until("replicated", move || {
            g.metrics().last_applied.is_some_and(|l| l.index >= applied)
        })
        .await;
        assert_all_present(ks, "r", 8, 10);
    }

    // Fail over: the old leader is cut off, the other two elect a new one and keep accepting writes.
    router.set_isolated(leader, true);
    let a = &nodes[(li + 1) % 3].1;
    let b = &nodes[(li + 2) % 3].1;
    let (a2, b2) = (a.clone(), b.clone());
    wait_until("failover", move || a2.is_leader() || b2.is_leader()).await;
    let new_leader = if a.is_leader() { a.clone() } else { b.clone() };
    write_concurrently(&new_leader, "after", 4, 10).await;

    // The new leader compacts its log; the old leader, back, can only catch up through the snapshot.
    new_leader.snapshot(Duration::from_secs(10)).await.unwrap();
    let snap = new_leader.metrics().snapshot.unwrap().index;
    let nl = new_leader.clone();
    wait_until("new leader purged", move || {
        nl.metrics().purged.is_some_and(|p| p.index >= snap)
    })
    .await;
    router.set_isolated(leader, false);
    let applied = new_leader.metrics().last_applied.unwrap().index;
    let old = nodes[li].1.clone();
    wait_until("old leader caught up", move || {
        old.metrics()
            .last_applied
            .is_some_and(|l| l.index >= applied)
    })
    .await;
    assert!(
        nodes[li]
            .1
            .metrics()
            .snapshot
            .is_some_and(|s| s.index >= snap),
        "no snapshot installed"
    );
    assert_all_present(&nodes[li].2, "r", 8, 10);
    assert_all_present(&nodes[li].2, "after", 4, 10);

    for (storage, group, _) in nodes {
        router.unregister(group.config().node_id, GROUP);
        group.shutdown().await.unwrap();
        storage.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_voter_grows_to_three_and_shrinks_back() {
    let router = LocalRouter::new();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for id in 1..=3u64 {
        let storage = NodeStorage::open(
            dirs[id as usize - 1].path(),
            &options(FsyncPolicy::Everysec),
        )
        .unwrap();
        let ks = Arc::new(Mutex::new(Keyspace::new()));
        let mut config = GroupConfig::new(GROUP, id, format!("node{id}:16379"));
        config.raft.heartbeat_interval = 50;
        config.raft.election_timeout_min = 200;
        config.raft.election_timeout_max = 400;
        let group = ShardGroup::start(&storage, ks.clone(), router.network(id, GROUP), config)
            .await
            .unwrap();
        router.register(id, GROUP, group.raft().clone());
        nodes.push((storage, group, ks));
    }
    let first = nodes[0].1.clone();
    assert!(first.initialize_single().await.unwrap());
    assert!(
        !first.initialize_single().await.unwrap(),
        "initialized twice"
    );
    let f = first.clone();
    wait_until("single leader", move || f.is_leader()).await;
    write_concurrently(&first, "solo", 4, 10).await;

    let t = Duration::from_secs(10);
    first.add_voter(2, "node2:16379".into(), t).await.unwrap();
    first.add_voter(3, "node3:16379".into(), t).await.unwrap();
    let voters: Vec<u64> = first
        .metrics()
        .membership_config
        .membership()
        .voter_ids()
        .collect();
    assert_eq!(voters, vec![1, 2, 3]);
    write_concurrently(&first, "trio", 4, 10).await;
    let applied = first.metrics().last_applied.unwrap().index;
    for (_, g, ks) in &nodes {
        let g = g.clone();
        wait_until("new voters caught up", move || {
            g.metrics().last_applied.is_some_and(|l| l.index >= applied)
        })
        .await;
        assert_all_present(ks, "solo", 4, 10);
        assert_all_present(ks, "trio", 4, 10);
    }
    // A follower cannot change membership: it points at the leader.
    match nodes[1].1.remove_voter(3, false, t).await {
        Err(WriteError::ForwardToLeader { leader_id: 1, addr }) => assert_eq!(addr, "node1:16379"),
        other => panic!("follower changed membership: {other:?}"),
    }
    first.remove_voter(3, false, t).await.unwrap();
    let voters: Vec<u64> = first
        .metrics()
        .membership_config
        .membership()
        .voter_ids()
        .collect();
    assert_eq!(voters, vec![1, 2]);

    for (storage, group, _) in nodes {
        router.unregister(group.config().node_id, GROUP);
        group.shutdown().await.unwrap();
        storage.close().await.unwrap();
    }
}
