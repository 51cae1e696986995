//! Cluster mode through the real binary: three processes, three shards of three replicas each, created with
//! `shoal-server cluster create`; the `redis` crate's cluster client across every slot; redirects; and a shard
//! leader killed with SIGKILL under a cluster client's write load.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::procs::{free_port_pair, Proc};
use redis::Value;

/// One cluster test at a time: each runs three servers hosting four Raft groups each.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts `n` nodes in cluster mode and creates a cluster of `shards` x `replicas` over them.
fn start_cluster(n: usize, shards: usize, replicas: usize) -> Vec<Proc> {
    let procs: Vec<Proc> = (0..n)
        .map(|i| {
            let port = free_port_pair();
            Proc::spawn(
                i as u64 + 1,
                port,
                &[
                    "--cluster-enabled".to_string(),
                    "yes".to_string(),
                    // Twice the default: fewer spurious elections when other builds load the machine.
                    "--cluster-node-timeout".to_string(),
                    "200".to_string(),
                    // Every node is killed at once in one test: only `always` keeps what was acknowledged just
                    // before (under everysec all replicas may lose their last second, as docs/persistence.md says).
                    "--appendfsync".to_string(),
                    "always".to_string(),
                ],
            )
        })
        .collect();
    for p in &procs {
        p.wait_ready(Duration::from_secs(20));
    }
    let mut args = vec!["cluster".to_string(), "create".to_string()];
    args.extend(procs.iter().map(|p| format!("127.0.0.1:{}", p.port)));
    args.extend([
        "--shards".to_string(),
        shards.to_string(),
        "--replicas".to_string(),
        replicas.to_string(),
        "--timeout".to_string(),
        "60".to_string(),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args(&args)
        .output()
        .expect("run cluster create");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cluster create failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[OK] All 16384 slots covered"), "{stdout}");
    procs
}

fn cluster_client(procs: &[Proc]) -> redis::cluster::ClusterClient {
    let nodes: Vec<String> = procs
        .iter()
        .map(|p| format!("redis://127.0.0.1:{}/", p.port))
        .collect();
    redis::cluster::ClusterClientBuilder::new(nodes)
        .retries(30)
        .min_retry_wait(20)
        .max_retry_wait(200)
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Runs an idempotent cluster pipeline, again on a fresh connection (which reloads the slot map) if a leader
/// changed meanwhile: the client follows `-MOVED` for single commands, not inside a pipeline.
fn pipelined<T: redis::FromRedisValue>(
    client: &redis::cluster::ClusterClient,
    pipe: &redis::cluster::ClusterPipeline,
) -> T {
    let mut last = None;
    for _ in 0..100 {
        match client.get_connection().and_then(|mut c| pipe.query(&mut c)) {
            Ok(v) => return v,
            Err(e) => {
                last = Some(e.to_string().chars().take(300).collect::<String>());
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    panic!("pipeline kept failing: {last:?}");
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        other => format!("{other:?}"),
    }
}

fn info_field(p: &Proc, field: &str) -> Option<String> {
    let mut c = p.conn()?;
    let v: Value = redis::cmd("CLUSTER").arg("INFO").query(&mut c).ok()?;
    text(&v).lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|s| s.trim().to_string())
    })
}

/// `CLUSTER SLOTS` of `p`: (start, end, [ports, leader first]).
fn slots(p: &Proc) -> Option<Vec<(i64, i64, Vec<u16>)>> {
    let mut c = p.conn()?;
    let v: Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut c).ok()?;
    let Value::Array(ranges) = v else { return None };
    let mut out = Vec::new();
    for r in ranges {
        let Value::Array(items) = r else { return None };
        let (Value::Int(a), Value::Int(b)) = (&items[0], &items[1]) else {
            return None;
        };
        let mut ports = Vec::new();
        for n in &items[2..] {
            let Value::Array(n) = n else { return None };
            let Value::Int(port) = n[1] else { return None };
            ports.push(port as u16);
        }
        out.push((*a, *b, ports));
    }
    Some(out)
}

/// The port of the node leading the shard of `slot`, as `p` sees it.
fn leader_of(p: &Proc, slot: u16) -> Option<u16> {
    slots(p)?
        .into_iter()
        .find(|(a, b, _)| (*a..=*b).contains(&i64::from(slot)))
        .and_then(|(_, _, ports)| ports.first().copied())
}

/// Sends one command on a fresh socket and returns the first line of the reply, exactly as sent.
fn reply_line(port: u16, args: &[&str]) -> Option<String> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    Some(line.trim_end().to_string())
}

fn raw(procs: &[Proc], port: u16) -> redis::Connection {
    connect(
        procs
            .iter()
            .find(|p| p.port == port)
            .expect("a node of the cluster"),
    )
}

/// A connection to `p`, retried for a while (accepting can be slow on a loaded machine).
fn connect(p: &Proc) -> redis::Connection {
    eventually("connect", || p.conn())
}

/// Retries `f` (which may meet a leader change, on a loaded machine) until it returns `Some`, up to 20 s.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A key name for every slot (`{t<n>}` tags found by walking n).
fn key_per_slot() -> Vec<String> {
    let mut keys = vec![String::new(); cluster::SLOTS];
    let mut missing = cluster::SLOTS;
    let mut n = 0u64;
    while missing > 0 {
        let tag = format!("t{n}");
        let slot = usize::from(cluster::key_slot(tag.as_bytes()));
        if keys[slot].is_empty() {
            keys[slot] = format!("{{{tag}}}:slot{slot}");
            missing -= 1;
        }
        n += 1;
    }
    keys
}

#[test]
fn cluster_create_serves_every_slot_with_redis_formats() {
    let _g = serial();
    let procs = start_cluster(3, 3, 3);
    let ports: Vec<u16> = procs.iter().map(|p| p.port).collect();

    // CLUSTER INFO, MYID, SLOTS, NODES, SHARDS on every node.
    for p in &procs {
        eventually("cluster_state ok", || {
            (info_field(p, "cluster_state")? == "ok").then_some(())
        });
        let field = |name: &str| eventually("CLUSTER INFO", || info_field(p, name));
        assert_eq!(field("cluster_known_nodes"), "3");
        assert_eq!(field("cluster_size"), "3");
        assert_eq!(field("cluster_slots_assigned"), "16384");
        let mut c = connect(p);
        let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
        assert_eq!(id, format!("{:040x}", p.id));
        let s = eventually("CLUSTER SLOTS", || slots(p));
        let ranges: Vec<(i64, i64)> = s.iter().map(|(a, b, _)| (*a, *b)).collect();
        // redis-cli's split of 16384 slots over 3 masters.
        assert_eq!(ranges, vec![(0, 5460), (5461, 10922), (10923, 16383)]);
        for (_, _, nodes) in &s {
            let mut sorted = nodes.clone();
            sorted.sort_unstable();
            let mut all = ports.clone();
            all.sort_unstable();
            assert_eq!(sorted, all, "each shard has a replica on every node");
        }
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
        let lines: Vec<&str> = nodes.lines().collect();
        assert_eq!(lines.len(), 3, "{nodes}");
        let mine = lines.iter().find(|l| l.contains("myself")).unwrap();
        let fields: Vec<&str> = mine.split(' ').collect();
        assert_eq!(fields[0], id);
        assert_eq!(
            fields[1],
            format!("127.0.0.1:{}@{}", p.port, p.port + 10000)
        );
        assert!(fields.len() >= 8, "{mine}");
        let shards: Value = redis::cmd("CLUSTER").arg("SHARDS").query(&mut c).unwrap();
        let Value::Array(shards) = shards else {
            panic!("{shards:?}")
        };
        assert_eq!(shards.len(), 3);
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg("{user1000}.following")
            .query(&mut c)
            .unwrap();
        assert_eq!(slot, 3443);
    }

    // Leaders are spread: each node leads one shard (CLUSTER NODES: three masters with one range each).
    eventually("one shard led by each node", || {
        let mut c = procs[0].conn()?;
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).ok()?;
        let masters = nodes
            .lines()
            .filter(|l| l.split(' ').nth(2).is_some_and(|f| f.contains("master")))
            .filter(|l| l.split(' ').count() == 9)
            .count();
        (masters == 3).then_some(())
    });

    // The cluster client writes one key in every slot and reads every one back.
    let client = cluster_client(&procs);
    let keys = key_per_slot();
    for chunk in keys.chunks(512) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("SET").arg(k).arg(format!("v-{k}")).ignore();
        }
        let () = pipelined(&client, &pipe);
    }
    for chunk in keys.chunks(512) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("GET").arg(k);
        }
        let got: Vec<String> = pipelined(&client, &pipe);
        for (k, v) in chunk.iter().zip(got) {
            assert_eq!(v, format!("v-{k}"));
        }
    }
    // Every slot holds its key on the replicas of its shard (all three nodes here).
    for slot in [0u16, 5460, 5461, 12182, 16383] {
        let key = &keys[usize::from(slot)];
        for p in &procs {
            eventually("replica caught up", || {
                let mut c = p.conn()?;
                let n: i64 = redis::cmd("CLUSTER")
                    .arg("COUNTKEYSINSLOT")
                    .arg(slot)
                    .query(&mut c)
                    .ok()?;
                if n != 1 {
                    return None;
                }
                let got: Vec<String> = redis::cmd("CLUSTER")
                    .arg("GETKEYSINSLOT")
                    .arg(slot)
                    .arg(10)
                    .query(&mut c)
                    .ok()?;
                assert_eq!(got, vec![key.clone()]);
                Some(())
            });
        }
    }

    // MOVED from a node that does not lead the key's shard, naming the leader.
    let slot = cluster::key_slot(b"foo");
    eventually("MOVED names the leader", || {
        let leader = leader_of(&procs[0], slot)?;
        let other = *ports.iter().find(|p| **p != leader)?;
        let line = reply_line(other, &["SET", "foo", "1"])?;
        (line == format!("-MOVED {slot} 127.0.0.1:{leader}")).then_some(())
    });

    // Keys of different shards: CROSSSLOT. Keys of different slots in one shard: served, atomically.
    // "bar" (5061) and "hello" (866) are in shard 1 (0-5460), "foo" (12182) in shard 3.
    eventually("multi-key rules", || {
        let leader = leader_of(&procs[0], 866)?;
        let line = reply_line(leader, &["MSET", "bar", "1", "foo", "2"])?;
        assert_eq!(
            line,
            "-CROSSSLOT Keys in request don't hash to the same slot"
        );
        let mut c = raw(&procs, leader);
        let () = redis::cmd("MSET")
            .arg("bar")
            .arg("b")
            .arg("hello")
            .arg("h")
            .query(&mut c)
            .ok()?;
        let got: Vec<String> = redis::cmd("MGET")
            .arg("bar")
            .arg("hello")
            .query(&mut c)
            .ok()?;
        assert_eq!(got, vec!["b", "h"]);
        Some(())
    });

    // READONLY lets a replica serve a (possibly stale) read of its shard; without it, MOVED.
    let key = &keys[usize::from(slot)];
    eventually("READONLY read on a replica", || {
        let leader = leader_of(&procs[0], slot)?;
        let other = *ports.iter().find(|p| **p != leader)?;
        let mut c = raw(&procs, other);
        let moved = reply_line(other, &["GET", key])?;
        assert!(moved.starts_with(&format!("-MOVED {slot} ")), "{moved}");
        let () = redis::cmd("READONLY").query(&mut c).ok()?;
        let v: String = redis::cmd("GET").arg(key).query(&mut c).ok()?;
        assert_eq!(v, format!("v-{key}"));
        Some(())
    });

    // Blocking commands wait on their shard's leader and are served by a push through the cluster client.
    let qslot = cluster::key_slot(b"queue");
    let waiter = eventually("BLPOP parks on the leader", || {
        let leader = leader_of(&procs[0], qslot)?;
        let other = *ports.iter().find(|p| **p != leader)?;
        let line = reply_line(other, &["BLPOP", "queue", "1"])?;
        assert!(line.starts_with(&format!("-MOVED {qslot} ")), "{line}");
        let mut c = raw(&procs, leader);
        Some(std::thread::spawn(move || {
            redis::cmd("BLPOP")
                .arg("queue")
                .arg(10)
                .query::<Option<(String, String)>>(&mut c)
        }))
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut con = client.get_connection().unwrap();
    let _: i64 = redis::cmd("RPUSH")
        .arg("queue")
        .arg("job")
        .query(&mut con)
        .unwrap();
    match waiter.join().unwrap() {
        Ok(got) => assert_eq!(got, Some(("queue".into(), "job".into()))),
        // A leader change while it waited (possible on a loaded machine) ends the wait with TRYAGAIN.
        Err(e) => assert_eq!(e.code(), Some("TRYAGAIN"), "{e}"),
    }

    // ASKING does not make a slot that is not being imported servable.
    eventually("ASKING without a migration", || {
        let leader = leader_of(&procs[0], slot)?;
        let other = *ports.iter().find(|p| **p != leader)?;
        let mut c = raw(&procs, other);
        let () = redis::cmd("ASKING").query(&mut c).ok()?;
        let e = redis::cmd("SET")
            .arg("foo")
            .arg("x")
            .query::<()>(&mut c)
            .err()?;
        (e.code() == Some("MOVED")).then_some(())
    });
}

#[test]
fn cluster_commands_are_refused_outside_cluster_mode() {
    let _g = serial();
    let p = Proc::spawn(0, free_port_pair(), &[]);
    let mut c = p.wait_ready(Duration::from_secs(20));
    for args in [
        vec!["CLUSTER", "INFO"],
        vec!["CLUSTER", "SLOTS"],
        vec!["CLUSTER", "KEYSLOT", "x"],
        vec!["ASKING"],
    ] {
        let e = redis::cmd(args[0])
            .arg(&args[1..])
            .query::<Value>(&mut c)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("This instance has cluster support disabled"),
            "{args:?}: {e}"
        );
    }
    let info: String = redis::cmd("INFO").arg("cluster").query(&mut c).unwrap();
    assert!(info.contains("cluster_enabled:0"), "{info}");
}

/// Writes acknowledged through the cluster client: key -> value.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

#[test]
fn shard_leader_killed_under_cluster_client_load_loses_nothing() {
    let _g = serial();
    let mut procs = start_cluster(3, 3, 3);
    let client = cluster_client(&procs);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (client, stop, acked) = (client.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                let mut i = 0u64;
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // INCRBY on a fresh key replies its amount: a reply that is not exactly it (a reply
                    // meant for another command) is not counted as an acknowledgement.
                    let (k, n) = (format!("w{t}:{i}"), i as i64 + 1);
                    match redis::cmd("INCRBY").arg(&k).arg(n).query::<i64>(&mut con) {
                        Ok(got) if got == n => {
                            acked.lock().unwrap().insert(k, n.to_string());
                            i += 1;
                        }
                        Ok(_) => i += 1,
                        Err(_) => {
                            errors += 1;
                            std::thread::sleep(Duration::from_millis(10));
                            if let Ok(c) = client.get_connection() {
                                con = c;
                            }
                        }
                    }
                }
                errors
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    // Kill the leader of the shard holding slot 0.
    let before = eventually("a leader for slot 0", || leader_of(&procs[0], 0));
    let victim = procs.iter().position(|p| p.port == before).unwrap();
    let survivor = (victim + 1) % procs.len();
    let acked_before = acked.lock().unwrap().len();
    let killed_at = Instant::now();
    procs[victim].kill9();
    let named = eventually("a new leader in CLUSTER SLOTS", || {
        let l = leader_of(&procs[survivor], 0)?;
        (l != before).then_some(l)
    });
    let failover = killed_at.elapsed();
    eprintln!(
        "CLUSTER SLOTS named the new leader of slot 0 ({named}) {} ms after the kill",
        failover.as_millis()
    );
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    let errors: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > acked_before,
        "writes went on after the kill ({} before, {} after, {errors} errors)",
        acked_before,
        acked.len()
    );
    // Generous for a debug build on a loaded machine; the measured time is printed above.
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );

    // Every acknowledged write is there (read through the cluster client from the surviving leaders).
    let keys: Vec<&String> = acked.keys().collect();
    for chunk in keys.chunks(256) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("GET").arg(*k);
        }
        let got: Vec<Option<i64>> = pipelined(&client, &pipe);
        for (k, v) in chunk.iter().zip(got) {
            let n: i64 = acked[*k].parse().unwrap();
            // A client retry may have applied the increment twice (at least once), never zero times.
            if v.is_none_or(|v| v < n || v % n != 0) {
                let held: Vec<String> = procs
                    .iter()
                    .filter_map(|p| {
                        let mut c = p.conn()?;
                        let () = redis::cmd("READONLY").query(&mut c).ok()?;
                        let v: Option<String> = redis::cmd("GET").arg(*k).query(&mut c).ok()?;
                        Some(format!("{}={v:?}", p.port))
                    })
                    .collect();
                panic!(
                    "lost {k} (acknowledged {n}, read {v:?}; slot {}; replicas: {held:?}; killed {before})",
                    cluster::key_slot(k.as_bytes())
                );
            }
        }
    }

    // The killed node comes back with its data directory and rejoins its shards.
    procs[victim].start();
    procs[victim].wait_ready(Duration::from_secs(20));
    eventually("the restarted node reports cluster_state ok", || {
        (info_field(&procs[victim], "cluster_state")? == "ok").then_some(())
    });
    let mut sizes: HashMap<u16, i64> = HashMap::new();
    for p in &procs {
        let mut c = connect(p);
        let v: i64 = redis::cmd("CLUSTER")
            .arg("COUNTKEYSINSLOT")
            .arg(cluster::key_slot(b"w0:0"))
            .query(&mut c)
            .unwrap();
        sizes.insert(p.port, v);
    }
    assert!(sizes.values().all(|n| *n >= 1), "{sizes:?}");
}

#[test]
fn a_cluster_restarted_from_its_directories_serves_its_data() {
    let _g = serial();
    let mut procs = start_cluster(3, 3, 2);
    let client = cluster_client(&procs);
    let keys: Vec<String> = (0..300).map(|i| format!("restart:{i}")).collect();
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg(k).ignore();
    }
    let () = pipelined(&client, &pipe);
    // SIGKILL every node, then start them again: each rejoins its shards from `cluster.state` and its logs.
    for p in &mut procs {
        p.kill9();
    }
    for p in &mut procs {
        p.start();
    }
    for p in &procs {
        p.wait_ready(Duration::from_secs(20));
        eventually("cluster_state ok after the restart", || {
            (info_field(p, "cluster_state")? == "ok").then_some(())
        });
        assert_eq!(
            eventually("epoch", || info_field(p, "cluster_current_epoch")),
            "1"
        );
    }
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("GET").arg(k);
    }
    let got: Vec<Option<String>> = pipelined(&cluster_client(&procs), &pipe);
    for (k, v) in keys.iter().zip(got) {
        assert_eq!(v.as_deref(), Some(k.as_str()));
    }
    // Two replicas per shard: each node holds two of the three shards.
    let s = eventually("CLUSTER SLOTS", || slots(&procs[0]));
    assert!(s.iter().all(|(_, _, nodes)| nodes.len() == 2), "{s:?}");
}
