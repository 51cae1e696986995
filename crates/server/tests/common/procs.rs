//! Processes of a replicated shard on loopback ports: start, kill -9, restart with the same data directory.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `shoal-server` process that can be killed and restarted on the same port and directory.
pub struct Proc {
    child: Option<Child>,
    /// Raft node id (0 for a single node started without replicas).
    pub id: u64,
    /// RESP port (the cluster bus is this + 10000).
    pub port: u16,
    /// Data directory, kept across restarts, removed on drop.
    pub dir: PathBuf,
    args: Vec<String>,
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A port `p` such that `p` and `p + 10000` are both free now.
pub fn free_port_pair() -> u16 {
    for _ in 0..1000 {
        // Both ports below Linux's ephemeral range (32768 and up): a port freed by a killed node must not be
        // taken by some client's outgoing connection before the node restarts on it.
        let p = 10000 + (random_u64() % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
        {
            return p;
        }
    }
    panic!("no free port pair");
}

impl Proc {
    /// Starts a process with `--port`, `--dir` and `extra` flags; does not wait for it to serve.
    pub fn spawn(id: u64, port: u16, extra: &[String]) -> Proc {
        let dir = std::env::temp_dir().join(format!(
            "shoal-repl-{}-{}-{}",
            std::process::id(),
            port,
            random_u64() % 100_000
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec![
            "--port".to_string(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut p = Proc {
            child: None,
            id,
            port,
            dir,
            args,
        };
        p.start();
        p
    }

    /// (Re)starts the process with its original flags and directory.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
            .args(&self.args)
            .env("RUST_LOG", "error,openraft=off")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shoal-server");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the process runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Erases the data directory (the process must be stopped): a replica that lost its disk.
    pub fn wipe(&mut self) {
        assert!(self.child.is_none());
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::create_dir_all(&self.dir).unwrap();
    }

    /// A client connection with short timeouts, or `None` if the process does not answer.
    pub fn conn(&self) -> Option<redis::Connection> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).ok()?;
        let con = c
            .get_connection_with_timeout(Duration::from_millis(300))
            .ok()?;
        con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        con.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
        Some(con)
    }

    /// Waits until the process answers PING.
    pub fn wait_ready(&self, timeout: Duration) -> redis::Connection {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(mut c) = self.conn() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return c;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `ROLE`'s first element (`master` / `slave`), if the process answers.
    pub fn role(&self) -> Option<String> {
        let mut c = self.conn()?;
        let v: redis::Value = redis::cmd("ROLE").query(&mut c).ok()?;
        match v {
            redis::Value::Array(items) => match items.first()? {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A field of `INFO replication` as a number.
    pub fn info_u64(&self, field: &str) -> Option<u64> {
        let mut c = self.conn()?;
        let text: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `n` processes forming one shard (`--node-id`, `--shard-replicas`), plus `extra` flags on each.
pub fn start_shard(n: usize, extra: &[&str]) -> Vec<Proc> {
    let ports: Vec<u16> = (0..n).map(|_| free_port_pair()).collect();
    let replicas = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}@127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    ports
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut args = vec![
                "--node-id".to_string(),
                (i + 1).to_string(),
                "--shard-replicas".into(),
                replicas.clone(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            Proc::spawn(i as u64 + 1, p, &args)
        })
        .collect()
}

/// Index of the process that answers ROLE with `master`, waiting up to `timeout`.
pub fn wait_leader(procs: &[Proc], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        for (i, p) in procs.iter().enumerate() {
            if p.role().as_deref() == Some("master") {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader elected");
        std::thread::sleep(Duration::from_millis(20));
    }
}
