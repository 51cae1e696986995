//! Cluster-mode helpers shared by the cluster test files: start nodes, create a cluster, run the administration
//! tool, cluster clients, and the readers of CLUSTER INFO / SLOTS.
#![allow(dead_code)]

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::Value;

use super::procs::{free_port_pair, Proc};

/// One cluster test at a time: each runs three servers hosting four Raft groups each.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts `n` nodes in cluster mode and creates a cluster of `shards` x `replicas` over them.
pub fn start_cluster(n: usize, shards: usize, replicas: usize) -> Vec<Proc> {
    let procs: Vec<Proc> = (0..n).map(|i| start_node(i as u64 + 1)).collect();
    let mut args = vec!["create".to_string()];
    args.extend(procs.iter().map(|p| format!("127.0.0.1:{}", p.port)));
    args.extend([
        "--shards".to_string(),
        shards.to_string(),
        "--replicas".to_string(),
        replicas.to_string(),
        "--timeout".to_string(),
        "60".to_string(),
    ]);
    let stdout = admin(&args).unwrap_or_else(|e| panic!("cluster create failed: {e}"));
    assert!(stdout.contains("[OK] All 16384 slots covered"), "{stdout}");
    procs
}

/// `shoal-server cluster <args>`: its standard output, or standard output and error if it failed.
pub fn admin(args: &[String]) -> Result<String, String> {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .arg("cluster")
        .args(args)
        .output()
        .expect("run shoal-server cluster");
    eprintln!("cluster {} took {:?}", args[0], t.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Starts one node in cluster mode, of no cluster yet (`id`: the id `cluster create` will give it), and waits
/// until it answers.
pub fn start_node(id: u64) -> Proc {
    let port = free_port_pair();
    let p = Proc::spawn(
        id,
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
    );
    p.wait_ready(Duration::from_secs(20));
    p
}

/// A cluster client over `procs` (30 retries).
pub fn cluster_client(procs: &[Proc]) -> redis::cluster::ClusterClient {
    cluster_client_of(procs.iter().map(|p| p.port), 30)
}

/// A cluster client seeded with the nodes on `ports` of 127.0.0.1, retrying redirections and failures `retries`
/// times.
pub fn cluster_client_of(
    ports: impl Iterator<Item = u16>,
    retries: u32,
) -> redis::cluster::ClusterClient {
    let nodes: Vec<String> = ports.map(|p| format!("redis://127.0.0.1:{p}/")).collect();
    redis::cluster::ClusterClientBuilder::new(nodes)
        .retries(retries)
        .min_retry_wait(20)
        .max_retry_wait(200)
        .connection_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Sets `prefix:0` .. `prefix:{n-1}`, each to its own name, through `client` (retried as [`pipelined`] does);
/// returns the keys.
pub fn set_named_keys(
    client: &redis::cluster::ClusterClient,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}:{i}")).collect();
    let mut pipe = redis::cluster::cluster_pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg(k).ignore();
    }
    let () = pipelined(client, &pipe);
    keys
}

/// Runs an idempotent cluster pipeline, again on a fresh connection (which reloads the slot map) if a leader
/// changed meanwhile: the client follows `-MOVED` for single commands, not inside a pipeline.
pub fn pipelined<T: redis::FromRedisValue>(
    client: &redis::cluster::ClusterClient,
    pipe: &redis::cluster::ClusterPipeline,
) -> T {
    let mut last = None;
    for attempt in 0..100 {
        let t = Instant::now();
        match client.get_connection().and_then(|mut c| pipe.query(&mut c)) {
            Ok(v) => return v,
            Err(e) => {
                last = Some(e.to_string().chars().take(300).collect::<String>());
                eprintln!(
                    "pipeline attempt {attempt} failed after {:?}: {last:?}",
                    t.elapsed()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    panic!("pipeline kept failing: {last:?}");
}

pub fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        other => format!("{other:?}"),
    }
}

pub fn info_field(p: &Proc, field: &str) -> Option<String> {
    let mut c = p.conn()?;
    let v: Value = redis::cmd("CLUSTER").arg("INFO").query(&mut c).ok()?;
    text(&v).lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|s| s.trim().to_string())
    })
}

/// `CLUSTER SLOTS` of `p`: (start, end, [ports, leader first]).
pub fn slots(p: &Proc) -> Option<Vec<(i64, i64, Vec<u16>)>> {
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
pub fn leader_of(p: &Proc, slot: u16) -> Option<u16> {
    slots(p)?
        .into_iter()
        .find(|(a, b, _)| (*a..=*b).contains(&i64::from(slot)))
        .and_then(|(_, _, ports)| ports.first().copied())
}

/// Sends one command on a fresh socket and returns the first line of the reply, exactly as sent.
pub fn reply_line(port: u16, args: &[&str]) -> Option<String> {
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

pub fn raw(procs: &[Proc], port: u16) -> redis::Connection {
    connect(
        procs
            .iter()
            .find(|p| p.port == port)
            .expect("a node of the cluster"),
    )
}

/// A connection to `p`, retried for a while (accepting can be slow on a loaded machine).
pub fn connect(p: &Proc) -> redis::Connection {
    eventually("connect", || p.conn())
}

/// Retries `f` (which may meet a leader change, on a loaded machine) until it returns `Some`, up to 20 s.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            if start.elapsed() > Duration::from_secs(2) {
                eprintln!("{what}: {:?}", start.elapsed());
            }
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A hash tag for every slot (`{t<n>}`, found by walking n), indexed by slot.
pub fn tag_per_slot() -> Vec<String> {
    let mut tags = vec![String::new(); cluster::SLOTS];
    let mut missing = cluster::SLOTS;
    let mut n = 0u64;
    while missing > 0 {
        let tag = format!("t{n}");
        let slot = usize::from(cluster::key_slot(tag.as_bytes()));
        if tags[slot].is_empty() {
            tags[slot] = format!("{{{tag}}}");
            missing -= 1;
        }
        n += 1;
    }
    tags
}

/// A key name for every slot (its tag from [`tag_per_slot`]), indexed by slot.
pub fn key_per_slot() -> Vec<String> {
    tag_per_slot()
        .into_iter()
        .enumerate()
        .map(|(slot, tag)| format!("{tag}:slot{slot}"))
        .collect()
}
