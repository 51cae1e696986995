//! Persistence and replication commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, ROLE, READONLY, READWRITE, WAIT.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use resp::Frame;
use store::cmd::is;

use crate::conn::Conn;
use crate::replication::Replication;

fn repl(conn: &Conn) -> Result<std::sync::Arc<Replication>, Frame> {
    conn.node
        .default_shard()
        .replication()
        .cloned()
        .ok_or_else(|| Frame::error("LOADING Shoal is loading the dataset in memory"))
}

/// `SAVE`: builds a snapshot (the RDB's role) and waits for it; the log up to it is then compacted.
pub async fn save(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let r = match repl(conn) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match r.save(false).await {
        Ok(()) => Frame::ok(),
        Err(e) => e,
    }
}

/// `BGSAVE [SCHEDULE]`: starts a snapshot in the background.
pub fn bgsave(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if args.len() == 2 && is(a, "schedule") => true,
        Some(_) => return store::errors::SYNTAX,
    };
    background(conn, false, schedule)
}

/// `BGREWRITEAOF`: compacts the log, which here is a snapshot plus a purge of the entries it covers.
pub fn bgrewriteaof(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    background(conn, true, false)
}

fn background(conn: &mut Conn, rewrite: bool, schedule: bool) -> Frame {
    let r = match repl(conn) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if r.persistence.in_progress.load(Ordering::Acquire) {
        return if schedule {
            Frame::simple("Background saving scheduled")
        } else if rewrite {
            Frame::error("ERR Background append only file rewriting already in progress")
        } else {
            Frame::error("ERR Background save already in progress")
        };
    }
    tokio::spawn(async move {
        let _ = r.save(rewrite).await;
    });
    if rewrite {
        Frame::simple("Background append only file rewriting started")
    } else {
        Frame::simple("Background saving started")
    }
}

/// `LASTSAVE`: Unix time of the last successful snapshot.
pub fn lastsave(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    match repl(conn) {
        Ok(r) => Frame::Integer(r.persistence.lastsave.load(Ordering::Relaxed)),
        Err(e) => e,
    }
}

/// `ROLE`: `master` with its replicas and their offsets on the shard leader, `slave` with the leader's address
/// elsewhere. Offsets are Raft log indexes.
pub fn role(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let r = match repl(conn) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let m = r.group.metrics();
    let offset = |x: Option<u64>| Frame::Integer(x.unwrap_or(0) as i64);
    if r.group.is_leader() {
        let replicas = r
            .replicas(&m)
            .into_iter()
            .map(|v| {
                Frame::Array(vec![
                    Frame::bulk(v.host),
                    Frame::bulk(v.port),
                    Frame::bulk(v.matched.unwrap_or(0).to_string()),
                ])
            })
            .collect();
        Frame::Array(vec![
            Frame::bulk_static("master"),
            offset(m.last_log_index),
            Frame::Array(replicas),
        ])
    } else {
        let (host, port, state) = match r.leader_client() {
            Some((h, p)) => (h, p.parse::<i64>().unwrap_or(0), "connected"),
            None => (String::new(), 0, "connect"),
        };
        Frame::Array(vec![
            Frame::bulk_static("slave"),
            Frame::bulk(host),
            Frame::Integer(port),
            Frame::bulk_static(state),
            offset(m.last_applied.map(|l| l.index)),
        ])
    }
}

/// `READONLY`: this connection accepts stale reads from a replica.
pub fn readonly(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    conn.readonly = true;
    Frame::ok()
}

/// `READWRITE`: back to reads from the leader only.
pub fn readwrite(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    conn.readonly = false;
    Frame::ok()
}

/// `WAIT numreplicas timeout`: waits until that many replicas hold the log up to this point (every write this
/// client was answered for is in it), or the timeout (ms, 0 = forever) passes; replies how many do. Acknowledged
/// writes are already on a majority; WAIT lets a client ask for more.
pub async fn wait(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let (Some(n), Some(timeout)) = (
        store::num::parse_i64(&args[1]),
        store::num::parse_i64(&args[2]),
    ) else {
        return store::errors::NOT_INTEGER;
    };
    if timeout < 0 {
        return Frame::error("ERR timeout is negative");
    }
    let r = match repl(conn) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if !r.group.is_leader() {
        return Frame::error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let target = r.group.metrics().last_log_index;
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    loop {
        let m = r.group.metrics();
        let acked = m.replication.as_ref().map_or(0, |rep| {
            rep.iter()
                .filter(|(id, l)| **id != r.node_id && l.map(|l| l.index) >= target)
                .count()
        }) as i64;
        if acked >= n || deadline.is_some_and(|d| Instant::now() >= d) || !r.group.is_leader() {
            return Frame::Integer(acked);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
