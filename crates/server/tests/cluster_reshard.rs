//! Online slot migration through the real binary: `shoal-server cluster move-slots` and `rebalance` while the
//! `redis` crate's cluster clients write to the slots being moved; afterwards every acknowledged write is readable,
//! every key is in one shard only, `CLUSTER SLOTS` names the new owner and the old one answers `-MOVED`. One test
//! kills the source shard's leader (SIGKILL) in the middle of the move.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::procs::Proc;
use redis::Commands;

/// What the writers had acknowledged (and what failed, which may or may not have been applied).
#[derive(Default)]
struct Ledger {
    /// Per counter key: increments acknowledged, increments that returned an error.
    counters: HashMap<String, (i64, i64)>,
    /// Keys created with SET during the move, with their value.
    created: HashMap<String, String>,
    /// Errors seen, for the report.
    errors: Vec<String>,
}

struct Writers {
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts `n` writers, each with its own cluster connection: INCRBY 1 on the counters round-robin, and every
/// fifth operation a SET of a new key whose tag is one of the counters' (so it lands in a moving slot).
fn start_writers(procs: &[Proc], n: usize, counters: &[String]) -> Writers {
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut threads = Vec::new();
    for w in 0..n {
        let client = cluster_client(procs);
        let (stop, ledger, counters) = (stop.clone(), ledger.clone(), counters.to_vec());
        threads.push(std::thread::spawn(move || {
            let mut con = eventually("cluster connection", || client.get_connection().ok());
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let key = &counters[i % counters.len()];
                let r: redis::RedisResult<i64> = con.incr(key, 1);
                {
                    let mut l = ledger.lock().unwrap();
                    let e = l.counters.entry(key.clone()).or_default();
                    match r {
                        Ok(_) => e.0 += 1,
                        Err(err) => {
                            e.1 += 1;
                            l.errors.push(format!("INCR {key}: {err}"));
                            // A node is down: do not spin on it.
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                if i % 5 == 0 {
                    let tag = key.split('}').next().unwrap_or("").trim_start_matches('{');
                    let new = format!("{{{tag}}}:new:{w}:{i}");
                    let value = format!("v{w}-{i}");
                    let r: redis::RedisResult<()> = con.set(&new, &value);
                    let mut l = ledger.lock().unwrap();
                    match r {
                        Ok(()) => {
                            l.created.insert(new, value);
                        }
                        Err(err) => l.errors.push(format!("SET {new}: {err}")),
                    }
                }
                i += n;
            }
        }));
    }
    Writers {
        stop,
        ledger,
        threads,
    }
}

impl Writers {
    fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("writer thread");
        }
        Arc::try_unwrap(self.ledger)
            .ok()
            .expect("writers stopped")
            .into_inner()
            .unwrap()
    }
}

/// Runs `shoal-server cluster <args>` and returns its standard output; fails the test if it fails.
fn tool(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    admin(&args).unwrap_or_else(|e| panic!("cluster {args:?} failed: {e}"))
}

/// Counter keys: `per_slot` keys in each of `slots`.
fn counter_keys(slots: std::ops::Range<u16>, per_slot: usize) -> Vec<String> {
    let per = key_per_slot();
    let mut out = Vec::new();
    for s in slots {
        let base = &per[usize::from(s)];
        for j in 0..per_slot {
            out.push(format!("{base}:c{j}"));
        }
    }
    out
}

/// Loads `n` filler keys of various types into each of `slots`, in pipelines.
fn fill(procs: &[Proc], slots: std::ops::Range<u16>, n: usize) -> Vec<String> {
    let per = key_per_slot();
    let client = cluster_client(procs);
    let mut keys = Vec::new();
    let mut pipe = redis::cluster::ClusterPipeline::new();
    let mut queued = 0;
    for s in slots {
        let base = &per[usize::from(s)];
        for j in 0..n {
            queued += 1;
            let key = format!("{base}:f{j}");
            match j % 4 {
                0 => pipe.set(&key, format!("value-{j}")).ignore(),
                1 => pipe.rpush(&key, &["a", "b", "c"]).ignore(),
                2 => pipe.hset(&key, "field", j).ignore(),
                _ => pipe.zadd(&key, "m", j).ignore(),
            };
            keys.push(key);
        }
        if queued >= 2000 {
            let _: () = pipelined(&client, &pipe);
            pipe = redis::cluster::ClusterPipeline::new();
            queued = 0;
        }
    }
    if queued > 0 {
        let _: () = pipelined(&client, &pipe);
    }
    keys
}

/// Checks what the writers acknowledged and the fillers against the cluster, and that each key of `slots` is
/// held by one shard only (`CLUSTER GETKEYSINSLOT` lists every shard replica's keys on a node, and every node here
/// holds a replica of every shard, so a key left behind would be listed twice).
fn verify(procs: &[Proc], ledger: &Ledger, fillers: &[String], slots: std::ops::Range<u16>) {
    let client = cluster_client(procs);
    let counters: Vec<(&String, &(i64, i64))> = ledger.counters.iter().collect();
    let mut pipe = redis::cluster::ClusterPipeline::new();
    for (key, _) in &counters {
        pipe.get(*key);
    }
    let values: Vec<Option<i64>> = pipelined(&client, &pipe);
    let mut expected: HashMap<u16, std::collections::HashSet<String>> = HashMap::new();
    let mut expect = |k: &str| {
        expected
            .entry(cluster::key_slot(k.as_bytes()))
            .or_default()
            .insert(k.to_string())
    };
    for ((key, (acked, failed)), v) in counters.iter().zip(values) {
        let v = v.unwrap_or(0);
        assert!(
            *acked <= v && v <= acked + failed,
            "{key}: {v}, acknowledged {acked} increments, {failed} failed"
        );
        if v > 0 {
            expect(key);
        }
    }
    let created: Vec<(&String, &String)> = ledger.created.iter().collect();
    let mut pipe = redis::cluster::ClusterPipeline::new();
    for (key, _) in &created {
        pipe.get(*key);
    }
    let values: Vec<Option<String>> = pipelined(&client, &pipe);
    for ((key, value), got) in created.iter().zip(values) {
        assert_eq!(got.as_deref(), Some(value.as_str()), "{key}");
        expect(key);
    }
    let mut pipe = redis::cluster::ClusterPipeline::new();
    for key in fillers {
        pipe.exists(key);
    }
    let values: Vec<bool> = pipelined(&client, &pipe);
    for (key, there) in fillers.iter().zip(values) {
        assert!(there, "{key} was lost");
        expect(key);
    }
    // A replica applies a batch's release a little after its leader (it learns the commit with the next append
    // or heartbeat), so a moved key can show in both shards' replicas for a moment: wait for that to pass, and fail
    // only on what stays.
    for p in procs {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(problem) = replica_problem(p, slots.clone(), &expected) {
            assert!(Instant::now() < deadline, "{problem}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What is wrong with the keys node `p` lists for `slots`: a key held by two shards, or fewer keys than
/// `expected`; `None` when nothing is.
fn replica_problem(
    p: &Proc,
    slots: std::ops::Range<u16>,
    expected: &HashMap<u16, std::collections::HashSet<String>>,
) -> Option<String> {
    let Some(mut c) = p.conn() else {
        return Some(format!("port {}: no connection", p.port));
    };
    let mut pipe = redis::pipe();
    for s in slots.clone() {
        pipe.cmd("CLUSTER").arg("GETKEYSINSLOT").arg(s).arg(100_000);
    }
    let lists: Vec<Vec<String>> = match pipe.query(&mut c) {
        Ok(l) => l,
        Err(e) => return Some(format!("port {}: {e}", p.port)),
    };
    for (s, keys) in slots.zip(lists) {
        let distinct: std::collections::HashSet<&String> = keys.iter().collect();
        if distinct.len() != keys.len() {
            return Some(format!(
                "slot {s}: {} keys held by two shards on port {}",
                keys.len() - distinct.len(),
                p.port
            ));
        }
        let want = expected.get(&s).map_or(0, |w| w.len());
        // Keys of SETs that failed (perhaps applied) may be there too.
        if keys.len() < want {
            return Some(format!(
                "slot {s}: {} of {want} keys on port {}",
                keys.len(),
                p.port
            ));
        }
    }
    None
}

#[test]
fn slots_move_online_while_clients_write() {
    let _g = serial();
    let procs = start_cluster(3, 3, 3);
    // Slots 0-59 (shard 1) move to shard 2; 60-79 stay, written all along too.
    let fillers = fill(&procs, 0..80, 10);
    // Hot counters: one in every fourth slot, each incremented many times during the move.
    let counters: Vec<String> = counter_keys(0..80, 1).into_iter().step_by(4).collect();
    let old_owner = eventually("slot map", || leader_of(&procs[0], 10));
    let writers = start_writers(&procs, 4, &counters);
    std::thread::sleep(Duration::from_millis(500));
    let before: i64 = writers
        .ledger
        .lock()
        .unwrap()
        .counters
        .values()
        .map(|c| c.0)
        .sum();
    eprintln!("before the move: {before} increments in 1 s");
    let start = Instant::now();
    let out = tool(&[
        "move-slots",
        "--slots",
        "0-59",
        "--to",
        "2",
        &format!("127.0.0.1:{}", procs[1].port),
        "--timeout",
        "50",
    ]);
    let took = start.elapsed();
    assert!(out.contains("[OK] 60 slots moved"), "{out}");
    std::thread::sleep(Duration::from_millis(300));
    let ledger = writers.finish();
    eprintln!(
        "moved 60 slots ({} keys) in {took:?} under 4 writers: {before} increments in the 0.5 s before, {} in all, {} keys created, {} errors {:?}",
        60 * 12,
        ledger.counters.values().map(|c| c.0).sum::<i64>(),
        ledger.created.len(),
        ledger.errors.len(),
        ledger.errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        ledger.errors.is_empty(),
        "{:?}",
        &ledger.errors[..ledger.errors.len().min(10)]
    );
    verify(&procs, &ledger, &fillers, 0..80);

    // Every node names shard 2's leader for the moved slots, and the old owner sends clients there.
    let new_owner = eventually("slot map", || leader_of(&procs[1], 30));
    assert_ne!(new_owner, old_owner);
    for p in &procs {
        eventually("new owner everywhere", || {
            (leader_of(p, 30)? == new_owner && leader_of(p, 70)? == old_owner).then_some(())
        });
    }
    let key = &counters[0];
    let slot = cluster::key_slot(key.as_bytes());
    assert_eq!(
        reply_line(old_owner, &["GET", key]).unwrap(),
        format!("-MOVED {slot} 127.0.0.1:{new_owner}")
    );
    // Moving them back is the same operation.
    let out = tool(&[
        "move-slots",
        "--slots",
        "0-59",
        "--to",
        "1",
        &format!("127.0.0.1:{}", procs[2].port),
    ]);
    assert!(out.contains("[OK] 60 slots moved"), "{out}");
    verify(&procs, &ledger, &fillers, 0..80);
    assert_eq!(
        eventually("slot map", || leader_of(&procs[0], 30)),
        old_owner
    );
}

#[test]
fn rebalance_evens_out_the_shards() {
    let _g = serial();
    let procs = start_cluster(3, 3, 3);
    let addr = format!("127.0.0.1:{}", procs[0].port);
    let out = tool(&["rebalance", &addr]);
    assert!(out.contains("already evenly spread"), "{out}");
    // Unbalance: shard 3 gets 100 slots of shard 1, with keys in them.
    let fillers = fill(&procs, 5300..5400, 3);
    let out = tool(&["move-slots", "--slots", "5300-5399", "--to", "3", &addr]);
    assert!(out.contains("[OK] 100 slots moved"), "{out}");
    let counters: Vec<String> = counter_keys(5350..5400, 1).into_iter().step_by(5).collect();
    let writers = start_writers(&procs, 2, &counters);
    let out = tool(&["rebalance", &addr]);
    let ledger = writers.finish();
    eprintln!("{out}");
    assert!(out.contains("[OK]"), "{out}");
    assert!(
        ledger.errors.is_empty(),
        "{:?}",
        &ledger.errors[..ledger.errors.len().min(10)]
    );
    verify(&procs, &ledger, &fillers, 5300..5400);
    // Each shard owns 5461 or 5462 slots again.
    let ranges = eventually("slot map", || slots(&procs[0]));
    let mut per_leader: HashMap<u16, i64> = HashMap::new();
    for (a, b, ports) in ranges {
        *per_leader.entry(ports[0]).or_default() += b - a + 1;
    }
    let counts: Vec<i64> = per_leader.values().copied().collect();
    assert_eq!(counts.iter().sum::<i64>(), 16384);
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{per_leader:?}"
    );
    let out = tool(&["rebalance", &addr]);
    assert!(out.contains("already evenly spread"), "{out}");
}

#[test]
fn source_leader_killed_mid_move_loses_nothing() {
    let _g = serial();
    let mut procs = start_cluster(3, 3, 3);
    // 100 slots of 25 keys: 10 batches, long enough to kill the source's leader in the middle.
    let fillers = fill(&procs, 0..100, 25);
    let counters: Vec<String> = counter_keys(0..100, 1).into_iter().step_by(5).collect();
    let source_leader = eventually("slot map", || leader_of(&procs[0], 10));
    let victim = procs
        .iter()
        .position(|p| p.port == source_leader)
        .expect("a node leads shard 1");
    let admin_node = procs[(victim + 1) % 3].port;
    let writers = start_writers(&procs, 3, &counters);
    let mover = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_shoal-server"))
            .args([
                "cluster",
                "move-slots",
                "--slots",
                "0-99",
                "--to",
                "2",
                &format!("127.0.0.1:{admin_node}"),
                "--timeout",
                "50",
            ])
            .output()
            .expect("run move-slots")
    });
    // Kill the source's leader once some keys have left it.
    eventually("first batches moved", || {
        // A filler key gone from the source answers ASK there.
        fillers
            .iter()
            .step_by(25)
            .any(|k| reply_line(source_leader, &["GET", k]).is_some_and(|r| r.starts_with("-ASK")))
            .then_some(())
    });
    procs[victim].kill9();
    let out = mover.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "move-slots failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[OK] 100 slots moved"), "{stdout}");
    procs[victim].start();
    procs[victim].wait_ready(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let ledger = writers.finish();
    eprintln!(
        "{stdout}\nkilled node {victim}; {} increments, {} keys created, {} errors {:?}",
        ledger.counters.values().map(|c| c.0).sum::<i64>(),
        ledger.created.len(),
        ledger.errors.len(),
        ledger.errors.iter().take(5).collect::<Vec<_>>()
    );
    verify(&procs, &ledger, &fillers, 0..100);
}
