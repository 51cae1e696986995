//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis 7's replies.
//!
//! While a client is in MULTI, [`intercept`] queues its commands (`+QUEUED`) or records a queueing error that
//! makes EXEC answer `-EXECABORT`. EXEC sends every queued keyspace command, reads included, as one
//! [`Op::Multi`]: one log entry, applied atomically on every replica, which also decides the WATCH check from
//! what the leader observed at WATCH time ([`store::Keyspace::watch_holds`]). A transaction without writes
//! runs on the read path instead: after the linearizability check, the check and the reads under one lock.
//! Node commands (PING, CONFIG, INFO, ...) run after the keyspace part, each reply in its place in EXEC's array.
//!
//! In cluster mode a transaction is routed as one unit, as Redis Cluster routes it: each command is routed when
//! queued (a `-MOVED`, `-CROSSSLOT` or `-TRYAGAIN` then makes EXEC answer `-EXECABORT`), WATCH routes its keys,
//! and EXEC routes every queued and watched key together: they must all be in one shard this node leads (or
//! hosts, for a read-only transaction on a `READONLY` connection), else EXEC answers `-CROSSSLOT` (or `-MOVED`
//! after a leader change) and the transaction is discarded. Shoal's rule is one shard, not one slot, as for its
//! multi-key commands.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use resp::Frame;
use store::exec::{Op, Transaction, Watched};
use store::table::flags;
use store::{CommandSpec, Handler, NodeCommand};

use crate::conn::{propose_expiry, Conn};
use crate::node::{unix_ms, Node};

/// A command queued after MULTI.
pub struct Queued {
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
}

/// A client's open transaction.
#[derive(Default)]
pub struct MultiState {
    queued: Vec<Queued>,
    /// A command was refused while queueing: EXEC discards the transaction.
    failed: bool,
    /// Commands accepted (`multi=` of CLIENT LIST), kept or not.
    count: usize,
    /// Bytes the queue holds.
    bytes: usize,
}

/// Most bytes of queued commands: an EXEC is one log entry, which must fit in one replication message
/// (`raft::grpc::MAX_MESSAGE`) with room for other entries, so a larger transaction is refused while queueing
/// instead of leaving a shard unable to replicate it.
pub const MAX_TRANSACTION_BYTES: usize = raft::grpc::MAX_MESSAGE / 2;

/// Redis' reply to EXEC after a queueing error.
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Handles a command arriving while the client is in MULTI, given what admitting it gave. Returns the reply
/// when the command was queued or refused; `None` for the commands that run at once (EXEC, DISCARD, MULTI,
/// WATCH, QUIT, RESET), as in Redis.
pub fn intercept(
    conn: &mut Conn,
    admitted: &Result<&'static CommandSpec, Frame>,
    args: &[Bytes],
) -> Option<Frame> {
    let spec = match admitted {
        Ok(spec) => *spec,
        Err(reply) => {
            mark_failed(conn);
            return Some(reply.clone());
        }
    };
    if matches!(
        spec.handler,
        Handler::Node(
            NodeCommand::Exec
                | NodeCommand::Discard
                | NodeCommand::Multi
                | NodeCommand::Watch
                | NodeCommand::Quit
                | NodeCommand::Reset
        )
    ) {
        return None;
    }
    if spec.flags & flags::NO_MULTI != 0 {
        mark_failed(conn);
        return Some(Frame::error("ERR Command not allowed inside a transaction"));
    }
    if let Handler::Container = spec.handler {
        mark_failed(conn);
        return Some(Frame::error("ERR missing subcommand"));
    }
    // Cluster mode: a command this node cannot serve is redirected when queued, as in Redis.
    if matches!(spec.handler, Handler::Keyspace(_)) && conn.node.cluster().is_some() {
        if let Err(reply) = crate::routing::route(&conn.node, spec, args, conn.readonly, false) {
            mark_failed(conn);
            return Some(reply);
        }
    }
    let state = conn.multi.as_mut()?;
    // `multi-mem`: the arguments' bytes plus each queued command's bookkeeping, as Redis counts it.
    let bytes = args.iter().map(|a| a.len()).sum::<usize>()
        + std::mem::size_of_val(args)
        + std::mem::size_of::<Queued>();
    if state.bytes + bytes > MAX_TRANSACTION_BYTES {
        // Refused and dropped: the queue no longer holds memory for a transaction that will be discarded.
        state.failed = true;
        state.queued = Vec::new();
        state.bytes = 0;
        conn.handle.multi_mem.store(0, Ordering::Relaxed);
        return Some(Frame::error_owned(format!(
            "ERR transaction too large: its commands must fit in one {} MiB log entry",
            MAX_TRANSACTION_BYTES >> 20
        )));
    }
    state.count += 1;
    conn.handle
        .multi
        .store(state.count as i64, Ordering::Relaxed);
    if state.failed {
        // EXEC will answer EXECABORT: keep nothing, reply as Redis does.
        return Some(Frame::simple("QUEUED"));
    }
    state.bytes += bytes;
    // Copied, as Redis copies argv: a queued argument must not pin the connection's read buffer.
    state.queued.push(Queued {
        spec,
        args: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
    });
    conn.handle
        .multi_mem
        .store(state.bytes as u64, Ordering::Relaxed);
    Some(Frame::simple("QUEUED"))
}

fn mark_failed(conn: &mut Conn) {
    if let Some(state) = conn.multi.as_mut() {
        state.failed = true;
    }
}

/// Leaves MULTI, dropping the queue (EXEC, DISCARD, RESET).
fn end_multi(conn: &mut Conn) -> Option<MultiState> {
    conn.handle.multi.store(-1, Ordering::Relaxed);
    conn.handle.multi_mem.store(0, Ordering::Relaxed);
    conn.multi.take()
}

/// Forgets the watched keys, returning them.
fn take_watched(conn: &Conn) -> Vec<Watched> {
    conn.handle.dirty_cas.store(false, Ordering::Relaxed);
    std::mem::take(&mut *conn.handle.watched.lock())
}

/// `MULTI`.
pub fn multi(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    if conn.multi.is_some() {
        return Frame::error("ERR MULTI calls can not be nested");
    }
    conn.multi = Some(MultiState::default());
    conn.handle.multi.store(0, Ordering::Relaxed);
    Frame::ok()
}

/// `DISCARD`.
pub fn discard(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    if end_multi(conn).is_none() {
        return Frame::error("ERR DISCARD without MULTI");
    }
    take_watched(conn);
    Frame::ok()
}

/// `UNWATCH`.
pub fn unwatch(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    take_watched(conn);
    Frame::ok()
}

/// The shard a transaction runs on: the node's only shard; in cluster mode the one shard all of its keys (queued
/// and watched) live in, routed as one command would be.
fn transaction_target(
    conn: &Conn,
    queued: &[Queued],
    watched: &[Watched],
) -> Result<crate::routing::Target, Frame> {
    let mut keys: Vec<&[u8]> = watched.iter().map(|w| w.key.as_ref()).collect();
    let mut write = false;
    for q in queued {
        if matches!(q.spec.handler, Handler::Keyspace(_)) {
            keys.extend(crate::routing::command_keys(q.spec, &q.args));
            write |= q.spec.is_write();
        }
    }
    crate::routing::route_keys(&conn.node, &keys, write, conn.readonly, false)
}

/// `RESET`'s part: out of MULTI, nothing watched.
pub fn reset(conn: &mut Conn) {
    end_multi(conn);
    take_watched(conn);
}

/// `WATCH key [key ...]`: records, for each key not watched yet, the keyspace's epoch and whether the key is
/// live, as this node's state shows after the linearizability check.
pub async fn watch(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if conn.multi.is_some() {
        return Frame::error("ERR WATCH inside MULTI is not allowed");
    }
    // The new keys and those already watched must be in one shard (the transaction's, in cluster mode).
    let keys: Vec<Bytes> = conn
        .handle
        .watched
        .lock()
        .iter()
        .map(|w| w.key.clone())
        .chain(args[1..].iter().cloned())
        .collect();
    let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
    let target =
        match crate::routing::route_keys(&conn.node, &key_refs, false, conn.readonly, false) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
    let repl = target.shard.replication().cloned();
    if let Err(reply) = conn.check_reads(&target, repl.as_deref()).await {
        return reply;
    }
    let g = target.shard.lock();
    let now = unix_ms();
    let mut watched = conn.handle.watched.lock();
    // As Redis, a key already watched keeps its first observation. A set keeps a long WATCH linear.
    let mut seen: std::collections::HashSet<Bytes> =
        watched.iter().map(|w| w.key.clone()).collect();
    for key in &args[1..] {
        if seen.insert(key.clone()) {
            watched.push(g.keyspace().watch(Bytes::copy_from_slice(key), now));
        }
    }
    Frame::ok()
}

/// `EXEC`.
pub async fn exec(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let Some(state) = conn.multi.take() else {
        return Frame::error("ERR EXEC without MULTI");
    };
    // `CLIENT LIST` run inside the transaction still shows it (`flags=x`), as in Redis.
    let reply = run_transaction(conn, state).await;
    conn.handle.multi.store(-1, Ordering::Relaxed);
    conn.handle.multi_mem.store(0, Ordering::Relaxed);
    reply
}

async fn run_transaction(conn: &mut Conn, state: MultiState) -> Frame {
    let watched = take_watched(conn);
    if state.failed {
        return Frame::error(EXECABORT);
    }
    let target = match transaction_target(conn, &state.queued, &watched) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let repl = target.shard.replication().cloned();
    let queued = state.queued;
    let mut replies: Vec<Option<Frame>> = vec![None; queued.len()];
    let keyspace: Vec<usize> = (0..queued.len())
        .filter(|&i| matches!(queued[i].spec.handler, Handler::Keyspace(_)))
        .collect();
    let start = Instant::now();
    if keyspace.iter().any(|&i| queued[i].spec.is_write()) {
        let Some(r) = &repl else {
            return Frame::error("LOADING Shoal is loading the dataset in memory");
        };
        let tx = Transaction {
            watched,
            commands: keyspace.iter().map(|&i| queued[i].args.clone()).collect(),
        };
        let mut frames = match r.group.write(vec![Op::Multi(tx)]).await {
            Ok(frames) => frames,
            Err(e) => return crate::routing::refused(&conn.node, &target, &e),
        };
        match frames.pop() {
            Some(Frame::Array(items)) if items.len() == keyspace.len() => {
                for (&i, reply) in keyspace.iter().zip(items) {
                    replies[i] = Some(reply);
                }
            }
            Some(Frame::NullArray) => return Frame::NullArray,
            other => {
                return other.unwrap_or_else(|| Frame::error("ERR transaction was not applied"))
            }
        }
    } else if !keyspace.is_empty() || !watched.is_empty() {
        // Reads only: served from this node's state, like any read, under one lock so they see one state.
        if let Err(reply) = conn.check_reads(&target, repl.as_deref()).await {
            return reply;
        }
        let expired = {
            let mut g = target.shard.lock();
            let now = unix_ms();
            if !watched.iter().all(|w| g.keyspace().watch_holds(w, now)) {
                return Frame::NullArray;
            }
            for &i in &keyspace {
                let seed = conn.next_seed();
                replies[i] = Some(g.read(queued[i].spec, &queued[i].args, now, seed));
            }
            g.take_lazy_expired()
        };
        if !expired.is_empty() {
            propose_expiry(repl.as_deref(), expired);
        }
    }
    // The keyspace part's time is shared by its commands, as a pipeline's is.
    let usec = start.elapsed().as_micros() as u64 / keyspace.len().max(1) as u64;
    let mut out = Vec::with_capacity(queued.len());
    for (q, reply) in queued.iter().zip(replies) {
        let (reply, usec) = match (reply, q.spec.handler) {
            (Some(reply), _) => (reply, usec),
            (None, Handler::Node(cmd)) => {
                let t = Instant::now();
                let reply = if crate::commands::is_async(cmd) {
                    // Boxed: EXEC is itself run through `run_async`.
                    Box::pin(crate::commands::run_async(conn, cmd, &q.args)).await
                } else {
                    crate::commands::run(conn, cmd, &q.args)
                };
                (reply, t.elapsed().as_micros() as u64)
            }
            (None, _) => (Frame::error("ERR missing subcommand"), 0),
        };
        conn.executed(q.spec, &q.args, usec, &reply);
        // An error inside the array counts in `errorstats` as a top-level one does (Redis counts every error
        // reply it adds).
        if let Frame::Error(msg) = &reply {
            conn.node.record_error_reply(msg);
        }
        out.push(reply);
    }
    Frame::Array(out)
}

/// Sets the `d` flag (`CLIENT LIST`) of every client whose watched keys changed: what its EXEC would find now.
pub fn refresh_dirty_flags(node: &Node) {
    let clients = node.clients.all();
    if clients.iter().all(|c| c.watched.lock().is_empty()) {
        return;
    }
    let now = unix_ms();
    for c in clients {
        let watched = c.watched.lock();
        let Some(shard) = watched_shard(node, &watched) else {
            continue;
        };
        let g = shard.lock();
        let dirty = !watched.iter().all(|w| g.keyspace().watch_holds(w, now));
        c.dirty_cas.store(dirty, Ordering::Relaxed);
    }
}

/// The shard holding a client's watched keys (all in one: WATCH refuses others); `None` when none are watched
/// or, in cluster mode, their shard is not hosted here any more.
fn watched_shard(node: &Node, watched: &[Watched]) -> Option<std::sync::Arc<crate::shard::Shard>> {
    let first = watched.first()?;
    match node.cluster() {
        None => Some(node.shard.clone()),
        Some(c) => {
            let owner = c.meta().slots.owner(cluster::key_slot(&first.key))?;
            c.shard(owner)
        }
    }
}

/// Clients watching keys and keys watched, for `INFO clients` (Redis 7.4's `watching_clients` and
/// `total_watched_keys`; a key watched by several clients counts once).
pub fn watch_counts(node: &Node) -> (usize, usize) {
    let mut clients = 0;
    let mut keys = std::collections::HashSet::new();
    for c in node.clients.all() {
        let watched = c.watched.lock();
        if !watched.is_empty() {
            clients += 1;
            keys.extend(watched.iter().map(|w| w.key.clone()));
        }
    }
    (clients, keys.len())
}
