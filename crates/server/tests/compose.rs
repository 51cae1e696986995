//! deploy/docker-compose.yml end to end: `up` brings a 3-node cluster (3 shards x 3 replicas) up and creates it;
//! a second `up` changes nothing; the `redis` crate's cluster client on the host writes unique values across every
//! slot, recording each acknowledged write; the container leading a shard is killed (`docker kill`) and a write to
//! that shard's slots succeeds again within seconds (the time is printed); nothing acknowledged is lost, and the
//! data survives a stop and `up` of the whole project from its volumes (the one-shot create runs again and leaves
//! the cluster as it is).
//!
//! Ignored by a plain `cargo test`: it needs a Docker engine and the image `shoal:local` (or `SHOAL_IMAGE`).
//! deploy/test-compose.sh builds the image and runs it with `--ignored`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{cluster_client_of, pipelined, tag_per_slot, text};
use common::procs::free_port_pair;
use redis::Value;

/// Acknowledged writes: key -> value.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

/// The compose project under test; `down -v` on drop, after printing the containers' logs if the test failed.
struct Project {
    compose: Vec<String>,
    name: String,
    ports: [u16; 3],
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/docker-compose.yml"
        );
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .args(["-f", file, "-p", &self.name])
            .args(args);
        for (i, p) in self.ports.iter().enumerate() {
            c.env(format!("SHOAL_PORT{}", i + 1), p.to_string());
        }
        // The test checks that nothing acknowledged is lost when a node is killed: everysec (the default) keeps
        // that as long as a majority of each shard's replicas survives, which is what the test does.
        c.env("SHOAL_APPENDFSYNC", "everysec");
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run compose");
        assert!(
            out.status.success(),
            "compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The container id of `service`.
    fn container(&self, service: &str) -> String {
        let id = self.run(&["ps", "-a", "-q", service]).trim().to_string();
        assert!(!id.is_empty(), "no container for {service}");
        id
    }

    /// Waits for the one-shot `create` service to exit; asserts it succeeded and returns its last output line.
    fn wait_create(&self) -> String {
        let id = self.container("create");
        let code = docker(&["wait", &id]);
        let logs = Command::new("docker")
            .args(["logs", &id])
            .output()
            .expect("docker logs");
        let text = String::from_utf8_lossy(&logs.stdout).into_owned()
            + &String::from_utf8_lossy(&logs.stderr);
        assert_eq!(code, "0", "cluster create failed:\n{text}");
        text.lines().last().unwrap_or_default().to_string()
    }

    fn conn(&self, i: usize) -> Option<redis::Connection> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.ports[i])).ok()?;
        let con = c
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(con)
    }

    fn cluster_info(&self, i: usize, field: &str) -> Option<String> {
        let v: Value = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut self.conn(i)?)
            .ok()?;
        text(&v).lines().find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|s| s.trim().to_string())
        })
    }

    /// Waits until node `i` reports `cluster_state:ok`.
    fn wait_ok(&self, i: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.cluster_info(i, "cluster_state").as_deref() != Some("ok") {
            assert!(
                Instant::now() < deadline,
                "node{} not ok after {timeout:?}",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port of the node leading the shard of `slot`, as node `i` sees it (`CLUSTER SLOTS`).
    fn leader_of(&self, i: usize, slot: u16) -> Option<u16> {
        let v: Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut self.conn(i)?)
            .ok()?;
        let Value::Array(ranges) = v else { return None };
        ranges.into_iter().find_map(|r| {
            let Value::Array(items) = r else { return None };
            let (Value::Int(a), Value::Int(b)) = (&items[0], &items[1]) else {
                return None;
            };
            if !(*a..=*b).contains(&i64::from(slot)) {
                return None;
            }
            let Value::Array(leader) = items.get(2)? else {
                return None;
            };
            match leader.get(1)? {
                Value::Int(p) => Some(*p as u16),
                _ => None,
            }
        })
    }

    fn cluster_client(&self, retries: u32) -> redis::cluster::ClusterClient {
        cluster_client_of(self.ports.iter().copied(), retries)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(out) = self
                .command(&["logs", "--no-color", "--tail", "40"])
                .output()
            {
                eprintln!("{}", String::from_utf8_lossy(&out.stdout));
            }
        }
        let _ = self
            .command(&["down", "-v", "--remove-orphans", "-t", "5"])
            .output();
    }
}

/// `docker compose` (the v2 plugin) if present, else `docker-compose`.
fn compose_command() -> Vec<String> {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if plugin {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writers through the cluster client: write number n goes to slot n % 16384 with a value no other write has;
/// every acknowledged write is recorded, until `stop`.
fn start_writers(
    client: &redis::cluster::ClusterClient,
    threads: usize,
    stop: &Arc<AtomicBool>,
    acked: &Acked,
) -> Vec<std::thread::JoinHandle<u64>> {
    let tags = Arc::new(tag_per_slot());
    let next = Arc::new(AtomicU64::new(0));
    (0..threads)
        .map(|_| {
            let (client, stop, acked, tags, next) = (
                client.clone(),
                stop.clone(),
                acked.clone(),
                tags.clone(),
                next.clone(),
            );
            std::thread::spawn(move || {
                let mut con = None;
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if con.is_none() {
                        con = client.get_connection().ok();
                    }
                    let Some(c) = con.as_mut() else {
                        errors += 1;
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let key = format!("{}:w{n}", tags[(n % cluster::SLOTS as u64) as usize]);
                    let value = format!("v{n}");
                    match redis::cmd("SET").arg(&key).arg(&value).query::<String>(c) {
                        Ok(r) if r == "OK" => {
                            acked.lock().unwrap().insert(key, value);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            // Unknown outcome: not counted; the next write uses a new key. A fresh connection
                            // reloads the slot map.
                            errors += 1;
                            con = None;
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                errors
            })
        })
        .collect()
}

/// Every acknowledged write reads back its value through the cluster client.
fn assert_all_present(client: &redis::cluster::ClusterClient, acked: &Acked, when: &str) {
    let acked = acked.lock().unwrap();
    let keys: Vec<&String> = acked.keys().collect();
    for chunk in keys.chunks(500) {
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("GET").arg(*k);
        }
        let got: Vec<Option<String>> = pipelined(client, &pipe);
        for (k, v) in chunk.iter().zip(got) {
            assert_eq!(
                v.as_ref(),
                Some(&acked[*k]),
                "acknowledged write {k} (slot {}) missing {when}",
                cluster::key_slot(k.as_bytes())
            );
        }
    }
}

#[test]
#[ignore = "needs a Docker engine and the image: deploy/test-compose.sh builds it and runs this test"]
fn compose_cluster_fails_over_and_keeps_every_acknowledged_write() {
    let image = std::env::var("SHOAL_IMAGE").unwrap_or_else(|_| "shoal:local".into());
    assert!(
        Command::new("docker")
            .args(["image", "inspect", &image])
            .output()
            .is_ok_and(|o| o.status.success()),
        "image {image} missing: run deploy/build-image.sh"
    );
    let mut ports = [0u16; 3];
    for i in 0..3 {
        ports[i] = loop {
            let p = free_port_pair();
            if !ports[..i]
                .iter()
                .any(|q| q.abs_diff(p) == 0 || q.abs_diff(p) == 10000)
            {
                break p;
            }
        };
    }
    let p = Project {
        compose: compose_command(),
        name: format!("shoaltest{}", std::process::id()),
        ports,
    };
    let started = Instant::now();
    p.run(&["up", "-d"]);
    let created = p.wait_create();
    assert!(created.contains("All 16384 slots covered"), "{created}");
    for i in 0..3 {
        p.wait_ok(i, Duration::from_secs(30));
    }
    eprintln!(
        "compose up: cluster created and ok after {} ms",
        started.elapsed().as_millis()
    );
    // A second `up` runs the one-shot again: it finds the cluster and changes nothing.
    p.run(&["up", "-d"]);
    let again = p.wait_create();
    assert!(again.contains("already form a cluster"), "{again}");
    assert_eq!(
        p.cluster_info(0, "cluster_current_epoch").as_deref(),
        Some("1")
    );
    let ids: Vec<String> = (1..=3).map(|i| p.container(&format!("node{i}"))).collect();

    let client = p.cluster_client(30);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let writers = start_writers(&client, 4, &stop, &acked);
    // Every slot gets a write before the kill.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < cluster::SLOTS {
        assert!(
            Instant::now() < deadline,
            "only {} writes acknowledged in 60 s",
            acked.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // `docker kill` the container leading the shard of slot 0; time until a write to that slot succeeds again.
    let leader_port = p.leader_of(0, 0).expect("a leader for slot 0");
    let victim = p.ports.iter().position(|&q| q == leader_port).unwrap();
    let survivor = (victim + 1) % 3;
    let probe_key = format!("{}:probe", tag_per_slot()[0]);
    let probe = p.cluster_client(1);
    let before = acked.lock().unwrap().len();
    let kill_start = Instant::now();
    docker(&["kill", &ids[victim]]);
    let killed = Instant::now();
    let mut con = None;
    let served = loop {
        if con.is_none() {
            con = probe.get_connection().ok();
        }
        if let Some(c) = con.as_mut() {
            match redis::cmd("SET")
                .arg(&probe_key)
                .arg("1")
                .query::<String>(c)
            {
                Ok(_) => break Instant::now(),
                Err(_) => con = None,
            }
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no write to slot 0 succeeded within 30 s of killing node{}",
            victim + 1
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let failover = served - killed;
    let new_leader = p.leader_of(survivor, 0);
    eprintln!(
        "docker kill node{} (leader of slot 0; the kill took {} ms): a write to slot 0 succeeded {} ms after the \
         kill returned; CLUSTER SLOTS now names port {new_leader:?}",
        victim + 1,
        (killed - kill_start).as_millis(),
        failover.as_millis()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        acked.lock().unwrap().len() > before,
        "the writers made no progress after the kill"
    );

    // The killed node comes back with its volume and rejoins its shards.
    docker(&["start", &ids[victim]]);
    p.wait_ok(victim, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let errors: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let n = acked.lock().unwrap().len();
    assert_all_present(&client, &acked, "after the failover");

    // The whole project stops and comes back from its volumes; the one-shot create leaves the cluster as it is.
    p.run(&["stop", "-t", "10"]);
    p.run(&["up", "-d"]);
    let again = p.wait_create();
    assert!(again.contains("already form a cluster"), "{again}");
    for i in 0..3 {
        p.wait_ok(i, Duration::from_secs(60));
    }
    assert_eq!(
        p.cluster_info(0, "cluster_current_epoch").as_deref(),
        Some("1")
    );
    assert_all_present(&p.cluster_client(30), &acked, "after the project restarted");
    eprintln!(
        "{n} writes acknowledged ({errors} failed or unknown), none lost through the failover and a restart of the \
         project; test took {} s",
        started.elapsed().as_secs()
    );
    // Liveness on a loaded CI machine, not speed: the number above is the measurement.
    assert!(failover < Duration::from_secs(10), "{failover:?}");
}
