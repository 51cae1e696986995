//! Scaling a cluster by nodes through the real binary: `shoal-server cluster add-node`, `move-replica` (under a
//! cluster client's write load, the moved replica's leader killed afterwards) and `remove-node`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::cluster::*;
use common::procs::Proc;
use redis::Value;

/// Writes acknowledged through the cluster client: key -> value.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

fn addr(p: &Proc) -> String {
    format!("127.0.0.1:{}", p.port)
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// `CLUSTER NODES` of `p`: (node id, port) of every line.
fn nodes(p: &Proc) -> Option<Vec<(u64, u16)>> {
    let mut c = p.conn()?;
    let v: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).ok()?;
    v.lines()
        .map(|l| {
            let mut f = l.split(' ');
            let id = u64::from_str_radix(f.next()?, 16).ok()?;
            let port = f.next()?.split(['@', ':']).nth(1)?.parse().ok()?;
            Some((id, port))
        })
        .collect()
}

/// A Raft group as `CLUSTER MEMBERSHIP GROUP` describes it: leader (0: none known), voters, learners.
type Group = (i64, Vec<i64>, Vec<i64>);

/// `CLUSTER MEMBERSHIP GROUP <which>` on `p`, or the error text.
fn group(p: &Proc, which: &str) -> Option<Result<Group, String>> {
    let mut c = p.conn()?;
    let v = redis::cmd("CLUSTER")
        .arg("MEMBERSHIP")
        .arg("GROUP")
        .arg(which)
        .query::<Group>(&mut c);
    Some(v.map_err(|e| e.to_string()))
}

/// Writers through the cluster client, each SETting unique keys to unique values until `stop`.
fn start_writers(
    client: &redis::cluster::ClusterClient,
    n: usize,
    stop: &Arc<AtomicBool>,
    acked: &Acked,
) -> Vec<JoinHandle<Vec<String>>> {
    (0..n)
        .map(|t| {
            let (client, stop, acked) = (client.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                let mut errors = Vec::new();
                let mut i = 0u64;

                while !stop.load(Ordering::Relaxed) {
                    let (k, v) = (format!("m{t}:{i}"), format!("v{t}:{i}:{}", i * 7919));
                    match redis::cmd("SET").arg(&k).arg(&v).query::<String>(&mut con) {
                        Ok(ok) if ok == "OK" => {
                            acked.lock().unwrap().insert(k, v);
                        }
                        Ok(other) => errors.push(format!("{k}: {other}")),
                        Err(e) => {
                            errors.push(format!("{k}: {e}"));
                            std::thread::sleep(Duration::from_millis(10));
                            if let Ok(c) = client.get_connection() {
                                con = c;
                            }
                        }
                    }
                    i += 1;
                }
                errors
            })
        })
        .collect()
}

/// Every acknowledged write reads back through the cluster client.
fn check_acked(client: &redis::cluster::ClusterClient, acked: &BTreeMap<String, String>) {
    let keys: Vec<&String> = acked.keys().collect();
    for chunk in keys.chunks(256) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("GET").arg(*k);
        }
        let got: Vec<Option<String>> = pipelined(client, &pipe);
        for (k, v) in chunk.iter().zip(got) {
            assert_eq!(v.as_ref(), Some(&acked[*k]), "lost {k}");
        }
    }
}

/// The ports `p` lists (CLUSTER SLOTS) for the range holding `slot`.
fn ports_of(p: &Proc, slot: u16) -> Option<Vec<u16>> {
    slots(p)?
        .into_iter()
        .find(|(a, b, _)| (*a..=*b).contains(&i64::from(slot)))
        .map(|(_, _, mut ports)| {
            ports.sort_unstable();
            ports
        })
}

/// `shoal-server cluster move-replica` of shard 1 from node `from` to node 4, asked through `via`.
fn move_shard_1_replica(from: u64, via: &Proc) -> Result<String, String> {
    admin(&args(&[
        "move-replica",
        "--shard",
        "1",
        "--from",
        &from.to_string(),
        "--to",
        "4",
        &addr(via),
    ]))
}

#[test]
fn add_node_then_move_a_leaders_replica_onto_it_under_load_loses_nothing() {
    let _g = serial();
    let mut procs = start_cluster(3, 2, 3);
    let client = cluster_client(&procs);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let writers = start_writers(&client, 3, &stop, &acked);

    // A fourth node of no cluster joins: every node lists it, and it becomes a voter of the metadata group.
    procs.push(start_node(4));
    let out = admin(&args(&["add-node", &addr(&procs[3]), &addr(&procs[0])])).unwrap();
    assert!(out.contains("[OK] Node"), "{out}");
    for p in &procs {
        eventually("four nodes in CLUSTER NODES", || {
            let n = nodes(p)?;
            (n.len() == 4 && n.contains(&(4, procs[3].port))).then_some(())
        });
    }
    assert_eq!(
        eventually("metadata voters", || group(&procs[0], "META")?.ok())
            .1
            .len(),
        4
    );
    // Run again, it finds the work done.
    admin(&args(&["add-node", &addr(&procs[3]), &addr(&procs[1])])).unwrap();
    assert_eq!(nodes(&procs[0]).unwrap().len(), 4);

    // Move the replica of shard 1 (slots 0-8191) that leads it onto the new node.
    std::thread::sleep(Duration::from_millis(500));
    let before = eventually("a leader for slot 0", || leader_of(&procs[0], 0));
    let from = procs.iter().find(|p| p.port == before).unwrap().id;
    let out = move_shard_1_replica(from, &procs[2])
        .unwrap_or_else(|e| panic!("move-replica failed: {e}"));
    assert!(out.contains("[OK] Shard 1 moved"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let errors: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} writes acknowledged during add-node and move-replica, {} client errors: {:?}",
        acked.len(),
        errors.len(),
        errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(acked.len() > 20, "the writers made progress");
    // Redirects and retries only (the cluster client follows them): no write failed outright.
    assert!(
        errors.iter().all(|e| !e.contains("ResponseError")),
        "{errors:?}"
    );
    check_acked(&client, &acked);

    // Every node shows the new placement; the old replica no longer hosts the group.
    let mut want: Vec<u16> = procs
        .iter()
        .filter(|p| p.id != from)
        .map(|p| p.port)
        .collect();
    want.sort_unstable();
    for p in &procs {
        eventually("CLUSTER SLOTS lists the new replica", || {
            (ports_of(p, 0)? == want).then_some(())
        });
        let shards: Value = redis::cmd("CLUSTER")
            .arg("SHARDS")
            .query(&mut connect(p))
            .unwrap();
        assert!(format!("{shards:?}").contains(&format!("{:040x}", 4)));
    }
    let old = procs.iter().find(|p| p.id == from).unwrap();
    let e = eventually("the old replica retired", || group(old, "1")).unwrap_err();
    assert!(e.contains("does not host"), "{e}");
    let (_, voters, learners) = eventually("shard 1's group", || group(&procs[3], "1")?.ok());
    let mut want_voters: Vec<i64> = (1..=4).filter(|&i| i != from as i64).collect();
    want_voters.sort_unstable();
    assert_eq!((voters, learners), (want_voters, vec![]));
    // Running the move again changes nothing.
    let out = move_shard_1_replica(from, &procs[3]).unwrap();
    assert!(out.contains("[OK] Shard 1 moved"), "{out}");

    // Kill one old replica of shard 1 (its leader if that is not the new node): the two left, one of them the
    // new node, are a quorum and serve every acknowledged write and new ones.
    let leader = eventually("a leader for slot 0", || leader_of(&procs[3], 0));
    let victim = procs
        .iter()
        .position(|p| p.id != from && p.id != 4 && (p.port == leader || leader == procs[3].port))
        .unwrap();
    procs[victim].kill9();
    eventually("shard 1 led by a survivor", || {
        let l = leader_of(&procs[3], 0)?;
        (l != procs[victim].port && l != old_port(&procs, from)).then_some(())
    });
    let client = cluster_client(&procs);
    check_acked(&client, &acked);
    let mut con = client.get_connection().unwrap();
    for i in 0..50 {
        let k = format!("{{m0}}:after:{i}");
        let () = redis::cmd("SET").arg(&k).arg(i).query(&mut con).unwrap();
        let v: i64 = redis::cmd("GET").arg(&k).query(&mut con).unwrap();
        assert_eq!(v, i);
    }
    let (_, voters, _) = eventually("shard 1's group", || group(&procs[3], "1")?.ok());
    assert!(voters.contains(&4));
}

fn old_port(procs: &[Proc], id: u64) -> u16 {
    procs.iter().find(|p| p.id == id).unwrap().port
}

#[test]
fn remove_node_moves_its_replicas_away_and_every_slot_is_still_served() {
    let _g = serial();
    // Three shards of two replicas: node 1 holds shards 1 and 3, which move to the nodes that lack them.
    let procs = start_cluster(3, 3, 2);
    let client = cluster_client(&procs);
    let keys = key_per_slot();
    for chunk in keys.chunks(1024) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("SET").arg(k).arg(format!("v-{k}")).ignore();
        }
        let () = pipelined(&client, &pipe);
    }

    // The tool is killed once its first step (a learner for the first shard to move) is recorded, then run
    // again: it carries on from the metadata.
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args(["cluster", "remove-node", "1", &addr(&procs[1])])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let interrupted = eventually("a learner recorded", || {
        let mut c = procs[2].conn()?;
        let blob: Vec<u8> = redis::cmd("CLUSTER")
            .arg("MEMBERSHIP")
            .arg("META")
            .arg("LOCAL")
            .query(&mut c)
            .ok()?;
        let meta = cluster::Metadata::decode(&blob).ok()?;
        if !meta.learners.is_empty() {
            return Some(true);
        }
        // Finished before a poll saw the step: nothing was interrupted.
        cli.try_wait().ok()?.map(|_| false)
    });
    let _ = cli.kill();
    let _ = cli.wait();
    eprintln!("remove-node interrupted after its first step: {interrupted}");
    let out = admin(&args(&["remove-node", "1", &addr(&procs[1])]))
        .unwrap_or_else(|e| panic!("remove-node failed: {e}"));
    assert!(out.contains("[OK] Node"), "{out}");

    // The removed node forgot the cluster: no identity, no slot served.
    let gone = &procs[0];
    let mut c = connect(gone);
    let id: String = redis::cmd("CLUSTER").arg("MYID").query(&mut c).unwrap();
    assert_eq!(id, "0".repeat(40));
    let line = reply_line(gone.port, &["SET", "foo", "1"]).unwrap();
    assert!(line.starts_with("-CLUSTERDOWN"), "{line}");
    assert!(std::fs::read_dir(gone.dir.join("shoal"))
        .unwrap()
        .all(|e| e.unwrap().file_name() != "cluster.state"));

    // The others: two nodes, every slot served by two replicas on them, the metadata group's voters follow.
    let rest = &procs[1..];
    let mut ports: Vec<u16> = rest.iter().map(|p| p.port).collect();
    ports.sort_unstable();
    for p in rest {
        eventually("two nodes, all slots", || {
            let n = nodes(p)?;
            if n.len() != 2 || info_field(p, "cluster_state")? != "ok" {
                return None;
            }
            let s = slots(p)?;
            let covered: i64 = s.iter().map(|(a, b, _)| b - a + 1).sum();
            let placed = s.iter().all(|(_, _, n)| {
                let mut n = n.clone();
                n.sort_unstable();
                n == ports
            });
            (covered == 16384 && placed).then_some(())
        });
    }
    let (_, voters, _) = eventually("metadata voters", || group(&procs[1], "META")?.ok());
    assert_eq!(voters, vec![2, 3]);
    let client = cluster_client(rest);
    for chunk in keys.chunks(1024) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("GET").arg(k);
        }
        let got: Vec<Option<String>> = pipelined(&client, &pipe);
        for (k, v) in chunk.iter().zip(got) {
            assert_eq!(v, Some(format!("v-{k}")), "{k}");
        }
    }

    // Two nodes with two replicas of every shard: no node can go, and nothing is changed by trying.
    let e = admin(&args(&["remove-node", "2", &addr(&procs[2])])).unwrap_err();
    assert!(
        e.contains("every other node already holds a replica of shard"),
        "{e}"
    );
    assert_eq!(nodes(&procs[2]).unwrap().len(), 2);
}

#[test]
fn add_node_with_rebalance_gives_the_new_node_its_share_of_replicas() {
    let _g = serial();
    let mut procs = start_cluster(3, 3, 2);
    let client = cluster_client(&procs);
    let keys = set_named_keys(&client, "rebalance", 500);

    procs.push(start_node(4));
    let t0 = std::time::Instant::now();
    let out = admin(&args(&[
        "add-node",
        &addr(&procs[3]),
        &addr(&procs[0]),
        "--rebalance",
    ]))
    .unwrap_or_else(|e| panic!("add-node --rebalance failed: {e}"));
    eprintln!("add-node --rebalance took {:?}", t0.elapsed());
    // Six replicas over four nodes: one moves to the new node (2, 2, 1, 1).
    assert!(out.contains("[OK] Replicas balanced (1 moved)"), "{out}");
    for p in &procs {
        eventually("the new node holds one shard", || {
            let s = slots(p)?;
            let held = |port: u16| s.iter().filter(|(_, _, n)| n.contains(&port)).count();
            let counts: Vec<usize> = procs.iter().map(|q| held(q.port)).collect();
            let mut sorted = counts.clone();
            sorted.sort_unstable();
            (sorted == vec![1, 1, 2, 2] && counts[3] == 1).then_some(())
        });
    }
    // Balanced already: running it again moves nothing.
    let out = admin(&args(&["rebalance-replicas", &addr(&procs[3])])).unwrap();
    assert!(out.contains("(0 moved)"), "{out}");
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("GET").arg(k);
    }
    let got: Vec<Option<String>> = pipelined(&cluster_client(&procs), &pipe);
    for (k, v) in keys.iter().zip(got) {
        assert_eq!(v.as_deref(), Some(k.as_str()));
    }
}
