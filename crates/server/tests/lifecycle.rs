//! Starting from a config file plus flags, and graceful shutdown on SIGTERM and SIGINT.

mod common;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cmd, free_port, Server};

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn config_file_then_flags_override_it() {
    let dir = std::env::temp_dir().join(format!("shoal-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let file = dir.join("shoal.conf");
    std::fs::write(
        &file,
        format!("# a redis.conf-style file\nport {port}\nbind 127.0.0.1\nmaxclients 77\nslowlog-max-len \"64\"\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .arg(&file)
        .args(["--maxclients", "99", "--dir"])
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let get = |c: &mut redis::Connection, name: &str| -> Vec<String> {
        redis::cmd("CONFIG").arg("GET").arg(name).query(c).unwrap()
    };
    assert_eq!(get(&mut c, "maxclients"), vec!["maxclients", "99"]);
    assert_eq!(
        get(&mut c, "slowlog-max-len"),
        vec!["slowlog-max-len", "64"]
    );
    assert_eq!(
        get(&mut c, "port"),
        vec!["port".to_string(), port.to_string()]
    );
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(
        info.contains(&format!("config_file:{}", file.display())),
        "{info}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_is_refused_at_startup() {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args(["--port", "not-a-port"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FATAL CONFIG FILE ERROR"));
    let out = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args(["--no-such-parameter", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn signal_exits_cleanly(sig: &str) {
    let mut s = Server::start();
    let mut c = s.client();
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]).unwrap(), redis::Value::Okay);
    let status = Command::new("kill")
        .args([sig, &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        s.wait_exit(Duration::from_secs(10)),
        "server did not exit 0 after {sig}"
    );
    // The connection was closed by the server, not left hanging.
    assert!(cmd(&mut c, &["PING"]).is_err());
}

#[test]
fn sigterm_shuts_down_gracefully() {
    signal_exits_cleanly("-TERM");
}

#[test]
fn sigint_shuts_down_gracefully() {
    signal_exits_cleanly("-INT");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    use std::io::{Read, Write};
    let s = Server::start_with(&["--timeout", "1"]);
    let mut idle = s.raw();
    let mut busy = s.raw();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    // The busy client keeps talking past the timeout and stays connected.
    while started.elapsed() < Duration::from_millis(2500) {
        busy.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(busy.read(&mut buf).unwrap(), 7);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The idle one was closed by the server: reading gives end of stream.
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn logfile_and_pidfile_are_written() {
    let dir = std::env::temp_dir().join(format!("shoal-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("shoal.log");
    let pid = dir.join("shoal.pid");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--loglevel",
            "verbose",
        ])
        .arg("--dir")
        .arg(&dir)
        .arg("--logfile")
        .arg(&log)
        .arg("--pidfile")
        .arg(&pid)
        .env_remove("RUST_LOG")
        .spawn()
        .unwrap();
    wait_listening(port);
    let written: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(written, child.id());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("ready to accept connections"), "{text}");
    assert!(!pid.exists(), "the pid file is removed at exit");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_modes_are_refused() {
    for (name, value) in [("--daemonize", "yes"), ("--cluster-enabled", "maybe")] {
        let out = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
            .args([name, value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name} {value} was accepted");
    }
}

#[test]
fn config_set_loglevel_applies_at_once() {
    let dir = std::env::temp_dir().join(format!("shoal-loglevel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("shoal.log");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal-server"))
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--loglevel",
            "warning",
        ])
        .arg("--dir")
        .arg(&dir)
        .arg("--logfile")
        .arg(&log)
        .env_remove("RUST_LOG")
        .spawn()
        .unwrap();
    wait_listening(port);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("ready to accept connections"),
        "info lines hidden at warning: {text}"
    );
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("verbose")
        .query(&mut c)
        .unwrap();
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut c);
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("shutdown"),
        "the info-level shutdown line is logged after the change: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn health_check_flag_probes_a_node_with_ping() {
    let probe = |addr: &str| {
        Command::new(env!("CARGO_BIN_EXE_shoal-server"))
            .args(["--health-check", addr])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    let s = Server::start();
    assert_eq!(probe(&format!("127.0.0.1:{}", s.port)), Some(0));
    let guarded = Server::start_with(&["--requirepass", "secret"]);
    assert_eq!(probe(&format!("127.0.0.1:{}", guarded.port)), Some(0));
    assert_eq!(probe(&format!("127.0.0.1:{}", free_port())), Some(1));
    assert_eq!(probe("no-such-host.invalid:6379"), Some(1));
}
