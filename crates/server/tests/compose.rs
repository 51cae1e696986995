//! deploy/docker-compose.yml end to end: the three containers elect a leader, a client on the host writes
//! continuously through the published ports, the leader container is killed (`docker kill`), then another leader
//! crashes (SIGKILL from outside, which the restart policy answers), and every acknowledged write is still there,
//! on every node, and after a restart of the whole project from its volumes.
//!
//! Ignored by a plain `cargo test`: it needs a Docker engine and the image `shoal:local` (or `SHOAL_IMAGE`).
//! deploy/test-compose.sh builds the image and runs it with `--ignored`.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Acknowledged writes: key -> value.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

/// Instants of the acknowledgements, in order, to see how long clients went without one.
type AckTimes = Arc<Mutex<Vec<Instant>>>;

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

    /// The container id of node `i` (0-based).
    fn container(&self, i: usize) -> String {
        self.run(&["ps", "-q", &format!("shoal{}", i + 1)])
            .trim()
            .to_string()
    }

    fn conn(&self, i: usize) -> Option<redis::Connection> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.ports[i])).ok()?;
        let con = c
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(con)
    }

    fn role(&self, i: usize) -> Option<String> {
        let v: redis::Value = redis::cmd("ROLE").query(&mut self.conn(i)?).ok()?;
        match v {
            redis::Value::Array(items) => match items.first()? {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        }
    }

    fn info_u64(&self, i: usize, field: &str) -> Option<u64> {
        let text: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut self.conn(i)?)
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The node that answers ROLE with `master`, waiting up to `timeout`.
    fn wait_leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = (0..3).find(|&i| self.role(i).as_deref() == Some("master")) {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader after {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until node `i` follows a leader again.
    fn wait_follower(&self, i: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.role(i).as_deref() != Some("slave")
            || self.info_u64(i, "raft_leader_id").is_none()
        {
            assert!(Instant::now() < deadline, "shoal{} did not rejoin", i + 1);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls the two nodes other than `dead` with a SET until one accepts it; returns when that happened.
    fn wait_new_leader_write(&self, dead: usize, timeout: Duration) -> Instant {
        let start = Instant::now();
        let others: Vec<usize> = (0..3).filter(|&i| i != dead).collect();
        let mut conns: Vec<Option<redis::Connection>> = others.iter().map(|_| None).collect();
        loop {
            for (j, c) in conns.iter_mut().enumerate() {
                if c.is_none() {
                    *c = self.conn(others[j]);
                }
                if let Some(con) = c {
                    let r: redis::RedisResult<String> =
                        redis::cmd("SET").arg("probe").arg("1").query(con);
                    match r {
                        Ok(_) => return Instant::now(),
                        Err(e) if e.is_io_error() || e.is_timeout() => *c = None,
                        Err(_) => {}
                    }
                }
            }
            assert!(
                start.elapsed() < timeout,
                "no node accepted a write {timeout:?} after the leader died"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Writers that SET unique keys through the published ports on whichever node accepts writes, recording every
/// acknowledged write and when it was acknowledged, until `stop`.
fn start_writers(
    ports: [u16; 3],
    threads: usize,
    stop: Arc<AtomicBool>,
    acked: Acked,
    times: AckTimes,
) -> Vec<std::thread::JoinHandle<()>> {
    let target = Arc::new(AtomicUsize::new(0));
    (0..threads)
        .map(|t| {
            let (stop, acked, times, target) =
                (stop.clone(), acked.clone(), times.clone(), target.clone());
            std::thread::spawn(move || {
                let mut con: Option<(usize, redis::Connection)> = None;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let idx = target.load(Ordering::Relaxed) % 3;
                    if con.as_ref().map(|(j, _)| *j) != Some(idx) {
                        con = redis::Client::open(format!("redis://127.0.0.1:{}/", ports[idx]))
                            .ok()
                            .and_then(|c| {
                                c.get_connection_with_timeout(Duration::from_millis(300))
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
                            times.lock().unwrap().push(Instant::now());
                            i += 1;
                        }
                        Err(_) => {
                            // Not the leader, no leader yet, or the container died: try the next node. A write
                            // whose outcome is unknown is not counted; the next one uses a new key.
                            i += 1;
                            con = None;
                            target.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
            })
        })
        .collect()
}

/// The longest time without any acknowledged write between `from` and `to`.
fn longest_gap(times: &AckTimes, from: Instant, to: Instant) -> Duration {
    let times = times.lock().unwrap();
    let mut last = from;
    let mut gap = Duration::ZERO;
    for &t in times.iter().filter(|&&t| t > from && t <= to) {
        gap = gap.max(t - last);
        last = t;
    }
    gap.max(to.saturating_duration_since(last))
}

/// Every acknowledged write is readable on node `i`.
fn assert_all_present(p: &Project, i: usize, acked: &Acked) {
    let acked = acked.lock().unwrap();
    let mut c = p.conn(i).expect("node answers");
    let keys: Vec<&String> = acked.keys().collect();
    for chunk in keys.chunks(500) {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        for (k, v) in chunk.iter().zip(values) {
            assert_eq!(
                v.as_ref(),
                Some(&acked[*k]),
                "acknowledged write {k} missing on shoal{}",
                i + 1
            );
        }
    }
}

/// Waits until the three nodes have applied the same index twice in a row, then returns their digests.
fn settled_digests(p: &Project) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    loop {
        let applied: Vec<Option<u64>> =
            (0..3).map(|i| p.info_u64(i, "raft_last_applied")).collect();
        let same = applied.iter().all(|a| a.is_some() && *a == applied[0]);
        if same && last.as_ref() == Some(&applied) {
            let digests: Vec<String> = (0..3)
                .map(|i| {
                    redis::cmd("DEBUG")
                        .arg("DIGEST")
                        .query(&mut p.conn(i).unwrap())
                        .unwrap()
                })
                .collect();
            return digests;
        }
        last = same.then_some(applied);
        assert!(Instant::now() < deadline, "nodes never settled");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A crash of container `id`'s process, seen by Docker as an exit it did not ask for (so the restart policy applies):
/// SIGKILL to the container's main process when its pid is visible from here, else `docker kill` and a manual
/// `docker start` (a remote engine). Returns whether the signal was sent, and when.
fn crash(id: &str) -> (bool, Instant) {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", id]);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == "shoal-server" {
        let at = Instant::now();
        let ok = Command::new("kill")
            .args(["-9", &pid])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return (true, at);
        }
    }
    let at = Instant::now();
    docker(&["kill", id]);
    (false, at)
}

#[test]
#[ignore = "needs a Docker engine and the image: deploy/test-compose.sh builds it and runs this test"]
fn compose_shard_fails_over_and_keeps_every_acknowledged_write() {
    let image = std::env::var("SHOAL_IMAGE").unwrap_or_else(|_| "shoal:local".into());
    assert!(
        Command::new("docker")
            .args(["image", "inspect", &image])
            .output()
            .is_ok_and(|o| o.status.success()),
        "image {image} missing: run deploy/build-image.sh"
    );
    let p = Project {
        compose: compose_command(),
        name: format!("shoaltest{}", std::process::id()),
        ports: [free_port(), free_port(), free_port()],
    };
    let started = Instant::now();
    p.run(&["up", "-d"]);
    let leader = p.wait_leader(Duration::from_secs(60));
    // Container ids stay the same across kill, start and restart (and `compose ps` is slow with docker-compose v1).
    let ids: Vec<String> = (0..3).map(|i| p.container(i)).collect();
    eprintln!(
        "compose up: shoal{} leads after {} ms",
        leader + 1,
        started.elapsed().as_millis()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acked = Arc::default();
    let times: AckTimes = Arc::default();
    let writers = start_writers(p.ports, 2, stop.clone(), acked.clone(), times.clone());
    std::thread::sleep(Duration::from_secs(1));

    // 1: `docker kill` the leader; the survivors elect another that takes writes.
    let before = acked.lock().unwrap().len();
    assert!(before > 0, "no write acknowledged before the kill");
    let kill_start = Instant::now();
    docker(&["kill", &ids[leader]]);
    let killed = Instant::now();
    let served = p.wait_new_leader_write(leader, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(1));
    let kill_failover = served - killed;
    let kill_gap = longest_gap(&times, kill_start, Instant::now());
    assert!(
        acked.lock().unwrap().len() > before,
        "the writers never reached the new leader"
    );
    eprintln!(
        "docker kill shoal{}: a new leader took a write {} ms after `docker kill` returned ({} ms for the kill \
         itself); longest time the writers went without an acknowledgement: {} ms",
        leader + 1,
        kill_failover.as_millis(),
        (killed - kill_start).as_millis(),
        kill_gap.as_millis()
    );
    docker(&["start", &ids[leader]]);
    p.wait_follower(leader, Duration::from_secs(30));

    // 2: the new leader's process crashes; the survivors take over and Docker restarts the container.
    let second = p.wait_leader(Duration::from_secs(30));
    let id = ids[second].clone();
    let restarts = |id: &str| -> u64 {
        docker(&["inspect", "-f", "{{.RestartCount}}", id])
            .parse()
            .unwrap()
    };
    let restarts_before = restarts(&id);
    let before = acked.lock().unwrap().len();
    let (by_signal, crash_start) = crash(&id);
    let served = p.wait_new_leader_write(second, Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(1));
    let crash_failover = served - crash_start;
    let crash_gap = longest_gap(&times, crash_start, Instant::now());
    assert!(acked.lock().unwrap().len() > before);
    if by_signal {
        let deadline = Instant::now() + Duration::from_secs(30);
        while restarts(&id) == restarts_before {
            assert!(
                Instant::now() < deadline,
                "the restart policy did not restart shoal{}",
                second + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    } else {
        docker(&["start", &id]);
    }
    p.wait_follower(second, Duration::from_secs(30));
    eprintln!(
        "crash (SIGKILL) of shoal{}: a new leader took a write {} ms after the signal; longest time without an \
         acknowledgement: {} ms; {}",
        second + 1,
        crash_failover.as_millis(),
        crash_gap.as_millis(),
        if by_signal {
            "restarted by the restart policy"
        } else {
            "pid not visible here: killed and started with docker"
        }
    );

    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let n = acked.lock().unwrap().len();

    // Every acknowledged write is on the leader, and the three nodes hold the same keyspace.
    let leader = p.wait_leader(Duration::from_secs(30));
    assert_all_present(&p, leader, &acked);
    let digests = settled_digests(&p);
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "replicas differ: {digests:?}"
    );

    // The volumes keep the data across a restart of the whole project.
    p.run(&["stop", "-t", "10"]);
    p.run(&["start"]);
    let leader = p.wait_leader(Duration::from_secs(60));
    assert_all_present(&p, leader, &acked);
    eprintln!(
        "{n} writes acknowledged, none lost through both failovers and a full restart; test took {} s",
        started.elapsed().as_secs()
    );
    // Liveness on a loaded CI machine, not speed: the numbers above are the measurement.
    assert!(kill_failover < Duration::from_secs(5), "{kill_failover:?}");
    assert!(
        crash_failover < Duration::from_secs(5),
        "{crash_failover:?}"
    );
}
