//! Test harness: starts the real `shoal-server` binary on a free port and connects independent clients.
#![allow(dead_code)]

pub mod cluster;
pub mod procs;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    /// RESP port.
    pub port: u16,
    /// Data directory (removed on drop).
    pub dir: PathBuf,
}

/// A port nobody listens on right now (another process may still take it before we bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Server {
    /// Starts a server with default settings.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra `--name value` flags. A free port can be taken by another test's server
    /// between our probe and its bind, so the harness checks that the process answering is its own child.
    pub fn start_with(extra: &[&str]) -> Server {
        for _ in 0..10 {
            if let Some(s) = Server::try_start(extra) {
                return s;
            }
        }
        panic!("could not start shoal-server");
    }

    fn try_start(extra: &[&str]) -> Option<Server> {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("shoal-test-{}-{}", std::process::id(), port));
        let _ = std::fs::create_dir_all(&dir);
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shoal-server");
        let mut server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if !server.is_running() {
                return None;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                let mine = format!("process_id:{}\r\n", server.child.id());
                s.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n").ok()?;
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&got);
                    if text.contains(&mine) {
                        return Some(server);
                    }
                    if text.starts_with("-NOAUTH") {
                        // A password hides INFO: a child that lost the port race exits at once, so check it lives.
                        std::thread::sleep(Duration::from_millis(100));
                        return server.is_running().then_some(server);
                    }
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return None,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                    if got.len() > 1 << 20 {
                        return None;
                    }
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous client connection from the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// A raw TCP connection for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit; true if it exited with status 0 within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for the process to exit, returning whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        self.wait_exit(Duration::from_secs(10))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command and returns the reply as a `redis::Value`.
pub fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// Runs a command expected to fail and returns the error text as the server sent it (`CODE message`).
pub fn err(con: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(con, args) {
        Ok(v) => panic!("expected an error from {args:?}, got {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("");
            let detail = e.detail().unwrap_or("");
            if code.is_empty() {
                detail.to_string()
            } else if detail.is_empty() {
                code.to_string()
            } else {
                format!("{code} {detail}")
            }
        }
    }
}

/// Writes raw bytes and reads whatever arrives until `expect_len` bytes or the connection closes/times out.
pub fn raw_roundtrip(s: &mut TcpStream, bytes: &[u8], expect_len: usize) -> Vec<u8> {
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < expect_len {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Runs a command with binary arguments.
pub fn cmd_bytes(con: &mut redis::Connection, args: &[&[u8]]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// Runs a command that must succeed and returns its reply.
pub fn ok(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    cmd(con, args).unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// A bulk string reply, for comparing with `ok`.
pub fn vb(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

/// An integer reply, for comparing with `ok`.
pub fn vi(i: i64) -> redis::Value {
    redis::Value::Int(i)
}

/// One field of `INFO <section>` as text.
pub fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text = match cmd(con, &["INFO", section]).ok()? {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::VerbatimString { text, .. } => text,
        _ => return None,
    };
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

/// Milliseconds since the Unix epoch, by this machine's clock (the server's, too).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
