//! Cluster mode through the real binary: three processes, three shards of three replicas each, created with
//! `shoal-server cluster create`; the `redis` crate's cluster client across every slot; redirects; and a shard
//! leader killed with SIGKILL under a cluster client's write load.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::procs::{free_port_pair, Proc};
use redis::Value;

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
    let keys = set_named_keys(&client, "restart", 300);
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
