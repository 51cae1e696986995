//! Persistence through the real binary: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, INFO persistence, the automatic
//! triggers, restarts from snapshot plus log, and one log entry per pipeline.

mod common;

use std::time::{Duration, Instant};

use common::procs::{free_port_pair, Proc};

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
        .trim()
        .to_string()
}

fn num(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    info_field(c, section, field).parse().unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn save_bgsave_rewrite_and_restart_from_snapshot_plus_log() {
    let mut p = Proc::spawn(0, free_port_pair(), &["--save".into(), "".into()]);
    let mut c = p.wait_ready(Duration::from_secs(20));
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "1");
    assert_eq!(info_field(&mut c, "persistence", "rdb_saves"), "0");
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    assert_eq!(
        num(&mut c, "persistence", "rdb_changes_since_last_save"),
        300
    );
    let before: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let ok: String = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(ok, "OK");
    let after: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(after > before, "LASTSAVE moves: {before} -> {after}");
    assert_eq!(num(&mut c, "persistence", "rdb_changes_since_last_save"), 0);
    assert_eq!(num(&mut c, "persistence", "rdb_saves"), 1);
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok"
    );
    assert!(num(&mut c, "replication", "raft_snapshot_index") > 0);
    // Writes after the snapshot live only in the log.
    for i in 300..400 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    wait_until("BGSAVE", || num(&mut c, "persistence", "rdb_saves") == 2);
    let started: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    assert_eq!(started, "Background append only file rewriting started");
    wait_until("BGREWRITEAOF", || {
        num(&mut c, "persistence", "aof_rewrites") == 1
    });
    let e = redis::cmd("BGSAVE")
        .arg("NOW")
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    let _: () = redis::cmd("INCR").arg("after").query(&mut c).unwrap();
    // kill -9: the state comes back from the last snapshot plus the log after it.
    p.kill9();
    p.start();
    let mut c = p.wait_ready(Duration::from_secs(20));
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 401);
    let v: i64 = redis::cmd("GET").arg("k399").query(&mut c).unwrap();
    assert_eq!(v, 399);
    let v: i64 = redis::cmd("GET").arg("after").query(&mut c).unwrap();
    assert_eq!(v, 1);
    // A clean shutdown (with SAVE or NOSAVE) loses nothing either.
    let _: () = redis::cmd("SET")
        .arg("last")
        .arg("x")
        .query(&mut c)
        .unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut c);
    wait_until("exit", || !p.running());
    p.kill9();
    p.start();
    let mut c = p.wait_ready(Duration::from_secs(20));
    let v: String = redis::cmd("GET").arg("last").query(&mut c).unwrap();
    assert_eq!(v, "x");
}

#[test]
fn save_points_and_log_growth_trigger_snapshots() {
    // `save 1 5`: a snapshot once 5 changes are at least a second old.
    let p = Proc::spawn(
        0,
        free_port_pair(),
        &[
            "--save".into(),
            "1 5".into(),
            "--auto-aof-rewrite-percentage".into(),
            "0".into(),
        ],
    );
    let mut c = p.wait_ready(Duration::from_secs(20));
    for i in 0..4 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(num(&mut c, "persistence", "rdb_saves"), 0, "4 changes < 5");
    let _: () = redis::cmd("SET").arg("k4").arg(4).query(&mut c).unwrap();
    wait_until("save point", || {
        num(&mut c, "persistence", "rdb_saves") == 1
    });
    assert_eq!(num(&mut c, "persistence", "aof_rewrites"), 0);
    drop(c);
    drop(p);

    // auto-aof-rewrite: a log that doubles past the minimum size is compacted.
    let p = Proc::spawn(
        0,
        free_port_pair(),
        &[
            "--save".into(),
            "".into(),
            "--auto-aof-rewrite-percentage".into(),
            "100".into(),
            "--auto-aof-rewrite-min-size".into(),
            "1mb".into(),
        ],
    );
    let mut c = p.wait_ready(Duration::from_secs(20));
    let value = "x".repeat(4096);
    let mut i = 0;
    wait_until("log growth rewrite", || {
        for _ in 0..50 {
            let _: () = redis::cmd("SET")
                .arg(format!("big{i}"))
                .arg(&value)
                .query(&mut c)
                .unwrap();
            i += 1;
        }
        num(&mut c, "persistence", "aof_rewrites") >= 1
    });
    assert!(num(&mut c, "persistence", "aof_current_size") > 0);
}

#[test]
fn a_pipeline_of_writes_is_one_log_entry() {
    let p = Proc::spawn(0, free_port_pair(), &[]);
    let mut c = p.wait_ready(Duration::from_secs(20));
    // Let the start-up entries settle.
    std::thread::sleep(Duration::from_millis(200));
    let before = num(&mut c, "replication", "raft_last_applied");
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("p99");
    let (v,): (i64,) = pipe.query(&mut c).unwrap();
    assert_eq!(v, 99);
    let after = num(&mut c, "replication", "raft_last_applied");
    assert_eq!(
        after - before,
        1,
        "100 pipelined SETs took {} entries",
        after - before
    );
}

#[test]
fn appendfsync_and_read_consistency_are_settable() {
    let p = Proc::spawn(
        0,
        free_port_pair(),
        &["--read-consistency".into(), "lease".into()],
    );
    let mut c = p.wait_ready(Duration::from_secs(20));
    for (policy, expect) in [("always", "always"), ("no", "no"), ("everysec", "everysec")] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("appendfsync")
            .arg(policy)
            .query(&mut c)
            .unwrap();
        assert_eq!(
            info_field(&mut c, "persistence", "aof_fsync_policy"),
            expect
        );
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(policy)
            .query(&mut c)
            .unwrap();
        let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
        assert_eq!(v, policy);
    }
    // appendonly no cannot switch the log off: it means appendfsync no.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .query(&mut c)
        .unwrap();
    assert_eq!(info_field(&mut c, "persistence", "aof_fsync_policy"), "no");
    assert_eq!(info_field(&mut c, "persistence", "aof_enabled"), "0");
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("read-consistency")
        .arg("sometimes")
        .query::<()>(&mut c)
        .unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
}
