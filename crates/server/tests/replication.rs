//! Durability and replication through the real binary: kill -9 of a single node, a shard on three processes
//! (replication, READONLY replicas, ROLE), catch-up by snapshot, deterministic replicas, and failover under load.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{free_port_pair, start_shard, wait_leader, Proc};

/// The tests of this file run one at a time: each starts several servers and writers, and on two cores
/// several shards at once would starve heartbeats into spurious elections that the tests do not expect.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes acknowledged by the server: key -> value.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

/// Starts `threads` writers that SET unique keys (and INCR a per-thread counter) against whichever of `procs`
/// accepts writes, recording every acknowledged write, until `stop`.
fn start_writers(
    ports: Vec<u16>,
    threads: usize,
    stop: Arc<AtomicBool>,
    acked: Acked,
) -> Vec<std::thread::JoinHandle<u64>> {
    let target = Arc::new(AtomicUsize::new(0));
    (0..threads)
        .map(|t| {
            let (ports, stop, acked, target) =
                (ports.clone(), stop.clone(), acked.clone(), target.clone());
            std::thread::spawn(move || {
                let mut con: Option<(usize, redis::Connection)> = None;
                let mut i = 0u64;
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let idx = target.load(Ordering::Relaxed) % ports.len();
                    if con.as_ref().map(|(j, _)| *j) != Some(idx) {
                        con = redis::Client::open(format!("redis://127.0.0.1:{}/", ports[idx]))
                            .ok()
                            .and_then(|c| {
                                c.get_connection_with_timeout(Duration::from_millis(200))
                                    .ok()
                            })
                            .map(|c| {
                                let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
                                (idx, c)
                            });
                        if con.is_none() {
                            target.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    }
                    let (_, c) = con.as_mut().unwrap();
                    let key = format!("w{t}:{i}");
                    let value = format!("v{i}");
                    let r: redis::RedisResult<String> =
                        redis::cmd("SET").arg(&key).arg(&value).query(c);
                    match r {
                        Ok(_) => {
                            acked.lock().unwrap().insert(key, value);
                            i += 1;
                        }
                        Err(_) => {
                            // Not the leader, no leader yet, or the node died: try the next one.
                            errors += 1;
                            con = None;
                            target.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                errors
            })
        })
        .collect()
}

/// Checks every acknowledged write is readable on `p` (the leader: reads there are linearizable).
fn assert_all_present(p: &Proc, acked: &Acked) {
    let acked = acked.lock().unwrap();
    let mut c = p.conn().expect("leader answers");
    let keys: Vec<&String> = acked.keys().collect();
    for chunk in keys.chunks(500) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        for (k, v) in chunk.iter().zip(values) {
            assert_eq!(v.as_ref(), Some(&acked[*k]), "acknowledged write {k} lost");
        }
    }
}

fn single_node_kill9(fsync: &str) {
    let port = free_port_pair();
    let mut p = Proc::spawn(0, port, &["--appendfsync".to_string(), fsync.to_string()]);
    p.wait_ready(Duration::from_secs(20));
    for round in 0..3 {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Acked = Arc::default();
        let writers = start_writers(vec![port], 8, stop.clone(), acked.clone());
        std::thread::sleep(Duration::from_millis(400 + 150 * round));
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        let n = acked.lock().unwrap().len();
        assert!(
            n > 50,
            "too few writes acknowledged ({n}) for the test to mean anything"
        );
        p.start();
        p.wait_ready(Duration::from_secs(30));
        assert_all_present(&p, &acked);
        // Keep only this round's keys for the next check.
        let mut c = p.conn().unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    }
}

#[test]
fn single_node_kill9_loses_no_acknowledged_write_appendfsync_always() {
    let _serial = serial();
    single_node_kill9("always");
}

#[test]
fn three_replicas_replicate_and_replicas_refuse_writes() {
    let _serial = serial();
    let procs = start_shard(3, &[]);
    let leader = wait_leader(&procs, Duration::from_secs(20));
    let mut c = procs[leader].conn().unwrap();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let _: i64 = redis::cmd("INCRBY").arg("n").arg(5).query(&mut c).unwrap();
    // ROLE on the leader lists both replicas.
    let role: redis::Value = redis::cmd("ROLE").query(&mut c).unwrap();
    let redis::Value::Array(parts) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(parts[0], redis::Value::BulkString(b"master".to_vec()));
    let redis::Value::Array(replicas) = &parts[2] else {
        panic!("ROLE replicas: {:?}", parts[2])
    };
    assert_eq!(replicas.len(), 2);
    for (i, p) in procs.iter().enumerate() {
        if i == leader {
            continue;
        }
        let mut f = p.conn().unwrap();
        // Replicas catch up and serve (stale) reads, like Redis replicas.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n: Option<i64> = redis::cmd("GET").arg("n").query(&mut f).unwrap();
            if n == Some(5) {
                break;
            }
            assert!(Instant::now() < deadline, "replica did not catch up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _: () = redis::cmd("READONLY").query(&mut f).unwrap();
        let v: String = redis::cmd("GET").arg("k199").query(&mut f).unwrap();
        assert_eq!(v, "199");
        let e = redis::cmd("SET")
            .arg("x")
            .arg(1)
            .query::<()>(&mut f)
            .unwrap_err();
        assert_eq!(e.code(), Some("READONLY"));
        assert_eq!(
            e.detail(),
            Some("You can't write against a read only replica.")
        );
        let role: redis::Value = redis::cmd("ROLE").query(&mut f).unwrap();
        let redis::Value::Array(parts) = role else {
            panic!()
        };
        assert_eq!(parts[0], redis::Value::BulkString(b"slave".to_vec()));
        assert_eq!(
            parts[2],
            redis::Value::Int(procs[leader].port as i64),
            "ROLE names the leader's client port"
        );
        let info: String = redis::cmd("INFO").arg("replication").query(&mut f).unwrap();
        assert!(info.contains("role:slave"), "{info}");
        assert!(info.contains("master_link_status:up"), "{info}");
        assert!(
            info.contains(&format!("master_port:{}", procs[leader].port)),
            "{info}"
        );
    }
    let info: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
    assert!(info.contains("role:master\r\nconnected_slaves:2"), "{info}");
    assert!(info.contains("slave1:ip=127.0.0.1"), "{info}");
    // WAIT: both replicas hold everything written so far.
    let n: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut c).unwrap();
    assert_eq!(n, 2);
}

/// Waits until every process has applied the same index twice in a row and returns their digests.
fn settled_digests(procs: &[Proc]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    loop {
        let applied: Vec<Option<u64>> = procs
            .iter()
            .map(|p| p.info_u64("raft_last_applied"))
            .collect();
        let same = applied.iter().all(|a| a.is_some() && *a == applied[0]);
        if same && last == Some(applied.clone()) {
            let digests: Vec<String> = procs
                .iter()
                .map(|p| {
                    let mut c = p.conn().unwrap();
                    redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap()
                })
                .collect();
            let after: Vec<Option<u64>> = procs
                .iter()
                .map(|p| p.info_u64("raft_last_applied"))
                .collect();
            if after == applied {
                return digests;
            }
        }
        last = same.then_some(applied);
        assert!(Instant::now() < deadline, "replicas never settled");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn replicas_reach_identical_state_under_ttls_and_randomness() {
    let _serial = serial();
    let procs = start_shard(3, &["--hz", "50"]);
    let leader = wait_leader(&procs, Duration::from_secs(20));
    let port = procs[leader].port;
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut next = move |n: u64| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % n
                };
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(3) {
                    let k = format!("k{}", next(200));
                    let mut pipe = redis::pipe();
                    match next(9) {
                        0 => pipe
                            .cmd("SET")
                            .arg(&k)
                            .arg(next(1000))
                            .arg("PX")
                            .arg(1 + next(300)),
                        1 => pipe.cmd("PEXPIRE").arg(&k).arg(1 + next(200)),
                        2 => pipe.cmd("INCR").arg(&k),
                        3 => pipe.cmd("APPEND").arg(&k).arg("xy"),
                        4 => pipe.cmd("DEL").arg(&k),
                        5 => pipe.cmd("GET").arg(&k),
                        6 => pipe.cmd("SETRANGE").arg(&k).arg(next(10)).arg("ab"),
                        7 => pipe
                            .cmd("MSET")
                            .arg(&k)
                            .arg("1")
                            .arg(format!("k{}", next(200)))
                            .arg("2"),
                        _ => pipe.cmd("GETEX").arg(&k).arg("PX").arg(1 + next(100)),
                    };
                    // Errors (WRONGTYPE-like, not an integer) are part of the workload.
                    let _: redis::RedisResult<redis::Value> = pipe.query(&mut c);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");
    // Once every deadline has passed, the leader's expiry removes the volatile keys on every replica alike.
    std::thread::sleep(Duration::from_millis(800));
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");
}

#[test]
fn wiped_replica_catches_up_by_snapshot_and_log() {
    let _serial = serial();
    let mut procs = start_shard(3, &[]);
    let leader = wait_leader(&procs, Duration::from_secs(20));
    let mut c = procs[leader].conn().unwrap();
    // Enough single-command entries that a snapshot lets the leader purge the start of its log.
    for i in 0..1500 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while procs[leader].info_u64("raft_purged_index").unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "log never purged after SAVE");
        std::thread::sleep(Duration::from_millis(50));
    }
    let follower = (leader + 1) % 3;
    procs[follower].kill9();
    procs[follower].wipe();
    for i in 1500..1600 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    procs[follower].start();
    procs[follower].wait_ready(Duration::from_secs(20));
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");
    let mut f = procs[follower].conn().unwrap();
    let n: i64 = redis::cmd("DBSIZE").query(&mut f).unwrap();
    assert_eq!(n, 1600);
    assert!(procs[follower].info_u64("raft_snapshot_index").unwrap_or(0) > 0);
}

#[test]
fn leader_kill9_under_load_fails_over_within_a_second_and_loses_nothing() {
    let _serial = serial();
    let kills: usize = std::env::var("SHOAL_FAILOVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut procs = start_shard(3, &["--appendfsync", "always"]);
    wait_leader(&procs, Duration::from_secs(20));
    let ports: Vec<u16> = procs.iter().map(|p| p.port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let writers = start_writers(ports.clone(), 4, stop.clone(), acked.clone());
    let mut failovers = Vec::new();
    for _ in 0..kills {
        let leader = wait_leader(&procs, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(300));
        let before = acked.lock().unwrap().len();
        procs[leader].kill9();
        let killed = Instant::now();
        // The first write a surviving node accepts marks the end of the failover.
        let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        let mut conns: Vec<Option<redis::Connection>> =
            others.iter().map(|&i| procs[i].conn()).collect();
        'probe: loop {
            for (j, c) in conns.iter_mut().enumerate() {
                if c.is_none() {
                    *c = procs[others[j]].conn();
                }
                if let Some(con) = c {
                    let r: redis::RedisResult<String> =
                        redis::cmd("SET").arg("probe").arg("1").query(con);
                    if r.is_ok() {
                        break 'probe;
                    }
                }
            }
            assert!(
                killed.elapsed() < Duration::from_secs(10),
                "no new leader after 10 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        failovers.push(killed.elapsed());
        assert!(acked.lock().unwrap().len() >= before);
        procs[leader].start();
        procs[leader].wait_ready(Duration::from_secs(20));
        // Wait until the restarted node follows again before the next kill (a shard of three survives one loss).
        let deadline = Instant::now() + Duration::from_secs(20);
        while procs[leader].role().as_deref() != Some("slave")
            || procs[leader].info_u64("raft_leader_id").is_none()
        {
            assert!(Instant::now() < deadline, "restarted node did not rejoin");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let leader = wait_leader(&procs, Duration::from_secs(20));
    assert_all_present(&procs[leader], &acked);
    failovers.sort();
    let ms: Vec<u128> = failovers.iter().map(|d| d.as_millis()).collect();
    eprintln!(
        "failover over {} kills: min {} ms, median {} ms, p90 {} ms, max {} ms; {} writes acknowledged, none lost",
        ms.len(),
        ms[0],
        ms[ms.len() / 2],
        ms[ms.len() * 9 / 10],
        ms[ms.len() - 1],
        acked.lock().unwrap().len()
    );
    // Liveness, not speed (bench/failover.sh measures the distribution in a release build): a new leader
    // serves within a few seconds even on a loaded CI machine.
    assert!(
        ms[ms.len() / 2] < 3000,
        "median failover {} ms",
        ms[ms.len() / 2]
    );
}

#[test]
fn single_node_kill9_loses_no_acknowledged_write_appendfsync_everysec() {
    let _serial = serial();
    single_node_kill9("everysec");
}

#[test]
fn single_node_kill9_loses_no_acknowledged_write_appendfsync_no() {
    let _serial = serial();
    single_node_kill9("no");
}

/// A stream's pending entries as XINFO STREAM FULL shows them, per group: `(id, consumer, delivery time,
/// delivery count)`, plus each consumer's seen time. All of it is replicated state.
fn stream_state(c: &mut redis::Connection, key: &str) -> Vec<String> {
    fn flat(v: &redis::Value, out: &mut Vec<String>) {
        match v {
            redis::Value::Array(items) => {
                out.push(format!("[{}", items.len()));
                for i in items {
                    flat(i, out);
                }
            }
            redis::Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
            redis::Value::Int(i) => out.push(i.to_string()),
            redis::Value::Nil => out.push("nil".into()),
            other => out.push(format!("{other:?}")),
        }
    }
    let v: redis::Value = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .arg("FULL")
        .arg("COUNT")
        .arg(0)
        .query(c)
        .unwrap();
    let mut out = Vec::new();
    flat(&v, &mut out);
    out
}

/// IDs and delivery counts of `consumer`'s pending entries (XPENDING's extended form, idle time left out).
fn pending_of(c: &mut redis::Connection, consumer: &str) -> Vec<(String, i64)> {
    let rows: Vec<(String, String, i64, i64)> = redis::cmd("XPENDING")
        .arg("s")
        .arg("g")
        .arg("-")
        .arg("+")
        .arg(1000)
        .arg(consumer)
        .query(c)
        .unwrap();
    rows.into_iter()
        .map(|(id, owner, _idle, n)| {
            assert_eq!(owner, consumer);
            (id, n)
        })
        .collect()
}

#[test]
fn stream_consumers_keep_their_pending_entries_across_a_leader_failover() {
    let _serial = serial();
    let mut procs = start_shard(3, &[]);
    let leader = wait_leader(&procs, Duration::from_secs(20));
    let mut c = procs[leader].conn().unwrap();
    let mut ids = Vec::new();
    for i in 0..30 {
        // `*` IDs: the leader's time, the same on every replica.
        let id: String = redis::cmd("XADD")
            .arg("s")
            .arg("MAXLEN")
            .arg("~")
            .arg(1000)
            .arg("*")
            .arg("n")
            .arg(i)
            .query(&mut c)
            .unwrap();
        ids.push(id);
    }
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("s")
        .arg("g")
        .arg("0")
        .query(&mut c)
        .unwrap();
    for (who, n) in [("alice", 5), ("bob", 7), ("carol", 3)] {
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg(who)
            .arg("COUNT")
            .arg(n)
            .arg("STREAMS")
            .arg("s")
            .arg(">")
            .query(&mut c)
            .unwrap();
    }
    // Some history reads (a second delivery), an ACK, a claim and a deleted entry.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("bob")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg("s")
        .arg("0")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("XACK")
        .arg("s")
        .arg("g")
        .arg(&ids[0])
        .query(&mut c)
        .unwrap();
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg("s")
        .arg("g")
        .arg("carol")
        .arg(0)
        .arg(&ids[1])
        .arg("RETRYCOUNT")
        .arg(9)
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("XDEL")
        .arg("s")
        .arg(&ids[20])
        .query(&mut c)
        .unwrap();
    let before: Vec<Vec<(String, i64)>> = ["alice", "bob", "carol"]
        .iter()
        .map(|w| pending_of(&mut c, w))
        .collect();
    assert_eq!(before[0].len(), 3);
    assert_eq!(before[1].len(), 7);
    assert_eq!(before[2].len(), 4);
    let state = stream_state(&mut c, "s");
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");

    procs[leader].kill9();
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_leader = wait_leader(&procs, Duration::from_secs(20));
    assert!(others.contains(&new_leader));
    let mut n = procs[new_leader].conn().unwrap();
    // A newly elected leader serves once it has committed an entry of its term.
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis::cmd("XLEN").arg("s").query::<i64>(&mut n).is_err() {
        assert!(Instant::now() < deadline, "new leader never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every consumer sees exactly the pending entries it had, with their delivery counts and times.
    for (w, had) in ["alice", "bob", "carol"].iter().zip(&before) {
        assert_eq!(&pending_of(&mut n, w), had, "{w}");
    }
    assert_eq!(stream_state(&mut n, "s"), state);
    // New reads continue after the last delivered entry: nothing is delivered twice.
    let v: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("dave")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg("s")
        .arg(">")
        .query(&mut n)
        .unwrap();
    let redis::Value::Array(streams) = v else {
        panic!("{v:?}")
    };
    let redis::Value::Array(kv) = &streams[0] else {
        panic!()
    };
    let redis::Value::Array(entries) = &kv[1] else {
        panic!()
    };
    let redis::Value::Array(first) = &entries[0] else {
        panic!()
    };
    assert_eq!(
        first[0],
        redis::Value::BulkString(ids[15].clone().into_bytes())
    );

    // The old leader comes back as a replica and reaches the same state.
    procs[leader].start();
    procs[leader].wait_ready(Duration::from_secs(20));
    let digests = settled_digests(&procs);
    assert!(digests.iter().all(|d| d == &digests[0]), "{digests:?}");
}
