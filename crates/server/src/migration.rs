//! Online slot migration (resharding): the task that moves the keys of slots being moved out of the shards this
//! node leads, the internal commands it and `shoal-server cluster move-slots` use, and the retry of commands
//! that met a moving key.
//!
//! A move of slots S from shard A to shard B, once the metadata records it (`CLUSTER SETMIGRATION`):
//! 1. A's leader has B's leader *import* an empty batch for S: B stops treating S as moving out of B (it may have
//!    moved S out earlier) so that clients sent there with `-ASK` can create keys.
//! 2. It proposes on A's log a *freeze* of up to [`BATCH_KEYS`] keys of S: S is marked as moving out (from then
//!    on no command creates a key of S in A: a missing key is looked for in B, `-ASK`), the keys are frozen (no
//!    write changes them; reads still do) and the entry's reply carries them, serialized, with a batch number.
//! 3. B's leader proposes the *import* of the batch on B's log (replacing any key: no client can have written
//!    one of them in B, since A never sends `-ASK` for a key it holds). B remembers the batch number per source,
//!    so a batch delivered twice is applied once.
//! 4. A's leader proposes the *release* of the batch: its keys are deleted in A.
//! 5. When a walk of A's keys (after a freeze, so after S was marked) finds none of S, the metadata makes B the
//!    owner of S: clients get `-MOVED` to B.
//!
//! Everything the steps depend on is in A's and B's replicated state or in the metadata, so a leader of A that
//! took over after a failover resumes where the old one stopped: its first freeze returns the batch still frozen.
//!
//! A write that met a frozen key is proposed again once the batch has left (re-routed: it then gets `-ASK`);
//! clients see only the added latency, or `-TRYAGAIN` if that takes longer than [`SETTLE_TIMEOUT`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster::{meta_group, reshard, Metadata, NodeId, ShardId, Slot};
use resp::Frame;
use store::migrate::{self, FROZEN, MOVED_OUT};
use store::{CommandSpec, Op};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info, warn};

use crate::cluster::ClusterNode;
use crate::conn::Conn;
use crate::node::Node;

/// Most keys in one batch.
pub const BATCH_KEYS: usize = 256;
/// Most slots one step of the driver works on (one freeze entry names them all).
const STEP_SLOTS: usize = 1024;
/// Longest a command that met a moving key is retried before the client gets `-TRYAGAIN`.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for another node's answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one command to a node's client port and returns its reply.
pub async fn call(addr: &str, args: &[&[u8]]) -> Result<Frame, String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((frame, _)) = resp::parse_reply(&buf).map_err(|e| e.0.clone())? {
                return Ok(frame);
            }
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!("{addr} closed the connection"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .map_err(|_| format!("{addr} did not answer in time"))?
}

fn is_ok(f: &Frame) -> bool {
    !matches!(f, Frame::Error(_))
}

fn error_text(f: &Frame) -> String {
    match f {
        Frame::Error(e) => e.to_string(),
        other => format!("{other:?}"),
    }
}

/// Proposes the metadata compare-and-set `expected -> next` on the metadata group's leader (here, or through
/// `CLUSTER METACAS` on the node that leads it).
async fn cas(c: &Arc<ClusterNode>, expected: u64, next: &Metadata) -> Result<(), String> {
    let group = c.meta_group();
    if let Some(g) = group.as_ref().filter(|g| g.is_leader()) {
        let r = g
            .write(vec![meta_group::cas_op(expected, next)])
            .await
            .map_err(|e| e.to_string())?;
        return match r.first() {
            Some(f) if is_ok(f) => Ok(()),
            Some(f) => Err(error_text(f)),
            None => Err("no reply from the metadata group".into()),
        };
    }
    let meta = c.meta();
    let mut candidates: Vec<NodeId> = group
        .and_then(|g| g.raft().metrics().borrow().current_leader)
        .into_iter()
        .collect();
    candidates.extend(meta.meta_voters());
    let blob = next.encode();
    let expected = expected.to_string();
    let mut last = "no leader of the metadata group".to_string();
    for id in candidates {
        if id == c.me() {
            continue;
        }
        let Some(n) = meta.nodes.get(&id) else {
            continue;
        };
        match call(
            &n.client_addr(),
            &[b"CLUSTER", b"METACAS", expected.as_bytes(), &blob],
        )
        .await
        {
            Ok(f) if is_ok(&f) => return Ok(()),
            Ok(f) if error_text(&f).contains("changed meanwhile") => return Err(error_text(&f)),
            Ok(f) => last = error_text(&f),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Changes the metadata with `f` (read, change, compare-and-set, again if another change came first) and waits
/// until this node has adopted the result. `f` returning `None` means there is nothing to change.
pub async fn update_meta(
    c: &Arc<ClusterNode>,
    f: impl Fn(&Metadata) -> Result<Option<Metadata>, String>,
) -> Result<Arc<Metadata>, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let base = c.meta();
        let Some(next) = f(&base)? else {
            return Ok(base);
        };
        let err = match cas(c, base.epoch, &next).await {
            Ok(()) => {
                while c.meta().epoch < next.epoch && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                return Ok(c.meta());
            }
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(err);
        }
        debug!(error = %err, "metadata change retried");
        // Another change came first (or no leader yet): wait for this node to learn of it.
        let wait = Instant::now() + Duration::from_millis(500);
        while c.meta().epoch == base.epoch && Instant::now() < wait {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// `CLUSTER SETMIGRATION|METACAS|IMPORT|METADATA ...`: the internal commands of resharding.
pub async fn command(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let Some(c) = conn.node.cluster().cloned() else {
        return crate::commands::cluster::DISABLED;
    };
    let sub = args[1].to_ascii_uppercase();
    let r = match sub.as_slice() {
        b"SETMIGRATION" => set_migration(&c, &args[2..]).await,
        b"METACAS" => meta_cas(&c, &args[2..]).await,
        b"IMPORT" => import(&c, &args[2..]).await,
        b"METADATA" => Ok(Frame::Bulk(Bytes::from(c.meta().encode()))),
        _ => Err("ERR unknown subcommand".to_string()),
    };
    r.unwrap_or_else(Frame::error_owned)
}

fn num<T: std::str::FromStr>(b: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("ERR invalid {what}"))
}

/// `CLUSTER SETMIGRATION <to-shard> <start> <end> [<to-shard> <start> <end> ...]`: records moves of the slots
/// `start..=end` to the shards named. Replies with the metadata epoch that holds them.
async fn set_migration(c: &Arc<ClusterNode>, args: &[Bytes]) -> Result<Frame, String> {
    if args.is_empty() || !args.len().is_multiple_of(3) {
        return Err("ERR wrong number of arguments for 'cluster|setmigration' command".into());
    }
    let mut moves: Vec<(Slot, ShardId)> = Vec::new();
    for t in args.chunks(3) {
        let to: ShardId = num(&t[0], "shard id")?;
        let a: usize = num(&t[1], "slot")?;
        let b: usize = num(&t[2], "slot")?;
        if a > b || b >= cluster::SLOTS {
            return Err("ERR Invalid slot range".into());
        }
        if moves.len() + (b - a + 1) > cluster::SLOTS {
            return Err("ERR too many slots".into());
        }
        moves.extend((a..=b).map(|s| (s as Slot, to)));
    }
    let meta = update_meta(c, |m| reshard::start_moves(m, &moves))
        .await
        .map_err(|e| format!("ERR {}", e.trim_start_matches("ERR ")))?;
    info!(
        slots = moves.len(),
        epoch = meta.epoch,
        "slot moves recorded"
    );
    Ok(Frame::Integer(meta.epoch as i64))
}

/// `CLUSTER METACAS <expected-epoch> <metadata>`: proposes the compare-and-set on this node's replica of the
/// metadata group, which must lead it.
async fn meta_cas(c: &Arc<ClusterNode>, args: &[Bytes]) -> Result<Frame, String> {
    let [expected, blob] = args else {
        return Err("ERR wrong number of arguments for 'cluster|metacas' command".into());
    };
    let expected: u64 = num(expected, "epoch")?;
    let next = Metadata::decode(blob).map_err(|e| format!("ERR {e}"))?;
    match c.meta_group() {
        Some(g) if g.is_leader() => {
            let r = g
                .write(vec![meta_group::cas_op(expected, &next)])
                .await
                .map_err(|e| format!("TRYAGAIN {e}"))?;
            Ok(r.into_iter().next().unwrap_or(Frame::error("ERR no reply")))
        }
        _ => Err("TRYAGAIN this node does not lead the metadata group".into()),
    }
}

/// `CLUSTER IMPORT <dest-shard> <source-shard> <batch> <slots> <payload>`: proposes the import of a batch on this
/// node's replica of the destination shard, which it must lead.
async fn import(c: &Arc<ClusterNode>, args: &[Bytes]) -> Result<Frame, String> {
    let [dest, source, batch, slots, payload] = args else {
        return Err("ERR wrong number of arguments for 'cluster|import' command".into());
    };
    let dest: ShardId = num(dest, "shard id")?;
    let source: u64 = num(source, "shard id")?;
    let batch: u64 = num(batch, "batch")?;
    let slots: Vec<Slot> = if slots.is_empty() {
        Vec::new()
    } else {
        std::str::from_utf8(slots)
            .map_err(|_| "ERR invalid slots")?
            .split(',')
            .map(|s| num::<Slot>(s.as_bytes(), "slot"))
            .collect::<Result<_, _>>()?
    };
    let shard = c
        .shard(dest)
        .ok_or_else(|| format!("TRYAGAIN shard {dest} is not hosted here"))?;
    let repl = shard
        .replication()
        .cloned()
        .ok_or("TRYAGAIN shard is loading")?;
    let op = Op::Migration(migrate::import_op(source, batch, &slots, payload.clone()));
    let r = repl
        .group
        .write(vec![op])
        .await
        .map_err(|e| format!("TRYAGAIN {e}"))?;
    Ok(r.into_iter().next().unwrap_or(Frame::error("ERR no reply")))
}

/// Starts the task that moves keys out of the shards this node leads.
pub fn spawn_driver(c: Weak<ClusterNode>) {
    tokio::spawn(driver(c));
}

async fn driver(c: Weak<ClusterNode>) {
    // Destinations told to stop treating a slot as moving out of them, since this node took up the move.
    let mut cleared: HashSet<(ShardId, Slot)> = HashSet::new();
    let mut idle = true;
    loop {
        if idle {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(c) = c.upgrade() else { return };
        if c.node().is_none_or(|n| n.is_shutting_down()) {
            return;
        }
        let view = c.view();
        // The moves out of shards this node leads, per source and destination.
        let mut work: BTreeMap<(ShardId, ShardId), Vec<Slot>> = BTreeMap::new();
        for (slot, m) in &view.meta.migrations {
            if view.leaders.get(&m.from) == Some(&view.me) && c.shard(m.from).is_some() {
                work.entry((m.from, m.to)).or_default().push(*slot);
            }
        }
        if work.is_empty() {
            cleared.clear();
            idle = true;
            continue;
        }
        idle = false;
        for ((from, to), mut slots) in work {
            slots.truncate(STEP_SLOTS);
            if let Err(e) = step(&c, from, to, &slots, &mut cleared).await {
                warn!(from, to, error = %e, "slot migration step failed; retrying");
                cleared.clear();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The client address of the node leading `shard` as this node knows it.
fn leader_addr(c: &ClusterNode, shard: ShardId) -> Result<String, String> {
    let view = c.view();
    let leader = view
        .leaders
        .get(&shard)
        .ok_or_else(|| format!("shard {shard} has no known leader"))?;
    view.meta
        .nodes
        .get(leader)
        .map(|n| n.client_addr())
        .ok_or_else(|| format!("unknown node {leader}"))
}

/// Sends `CLUSTER IMPORT` for a batch to the destination's leader.
async fn send_import(
    c: &ClusterNode,
    to: ShardId,
    from: ShardId,
    batch: u64,
    slots: &[Slot],
    payload: &Bytes,
) -> Result<(), String> {
    let addr = leader_addr(c, to)?;
    let (to, from, batch) = (to.to_string(), from.to_string(), batch.to_string());
    let slots = migrate::slots_arg(slots);
    let r = call(
        &addr,
        &[
            b"CLUSTER",
            b"IMPORT",
            to.as_bytes(),
            from.as_bytes(),
            batch.as_bytes(),
            &slots,
            payload,
        ],
    )
    .await?;
    if is_ok(&r) {
        Ok(())
    } else {
        Err(format!("import at {addr}: {}", error_text(&r)))
    }
}

/// One step of moving `slots` from `from` (led here) to `to`: one batch moved, or the slots' owner changed.
async fn step(
    c: &Arc<ClusterNode>,
    from: ShardId,
    to: ShardId,
    slots: &[Slot],
    cleared: &mut HashSet<(ShardId, Slot)>,
) -> Result<(), String> {
    let shard = c.shard(from).ok_or("source shard not hosted here")?;
    let repl = shard.replication().cloned().ok_or("source shard loading")?;
    let fresh: Vec<Slot> = slots
        .iter()
        .copied()
        .filter(|s| !cleared.contains(&(to, *s)))
        .collect();
    if !fresh.is_empty() {
        send_import(c, to, from, 0, &fresh, &Bytes::new()).await?;
        cleared.extend(fresh.iter().map(|s| (to, *s)));
    }
    let set: HashSet<u16> = slots.iter().copied().collect();
    let t0 = Instant::now();
    let keys = migrate::keys_in_slots(shard.lock().keyspace(), &set, BATCH_KEYS);
    let t_walk = t0.elapsed();
    let picked = keys.len();
    let r = repl
        .group
        .write(vec![Op::Migration(migrate::freeze_op(slots, keys))])
        .await
        .map_err(|e| e.to_string())?;
    let (batch, payload) = match r.first() {
        Some(Frame::Array(items)) => match items.as_slice() {
            [Frame::Integer(b), Frame::Bulk(p)] => (*b as u64, p.clone()),
            _ => return Err("malformed freeze reply".into()),
        },
        Some(f) => return Err(error_text(f)),
        None => return Err("no freeze reply".into()),
    };
    if batch > 0 {
        // The batch frozen may be an older one (a failover): its destination is its keys' slots'.
        let (bslots, bto) = {
            let g = shard.lock();
            let meta = c.meta();
            let bslots: Vec<Slot> = g
                .keyspace()
                .migration
                .frozen
                .iter()
                .map(|k| migrate::key_slot(k))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let bto = bslots
                .first()
                .and_then(|s| meta.migrations.get(s))
                .map_or(to, |m| m.to);
            (bslots, bto)
        };
        let t_freeze = t0.elapsed();
        send_import(c, bto, from, batch, &bslots, &payload).await?;
        let t_import = t0.elapsed();
        let r = repl
            .group
            .write(vec![Op::Migration(migrate::release_op(batch))])
            .await
            .map_err(|e| e.to_string())?;
        debug!(from, to = bto, batch, keys = ?r.first(), ?t_walk, ?t_freeze, ?t_import, total = ?t0.elapsed(), "batch moved");
        return Ok(());
    }
    if picked > 0 {
        return Ok(());
    }
    // The slots were marked before this walk: no key of them can appear here any more.
    if !migrate::keys_in_slots(shard.lock().keyspace(), &set, 1).is_empty() {
        return Ok(());
    }
    let meta = update_meta(c, |m| Ok(reshard::finish_moves(m, slots))).await?;
    info!(
        from,
        to,
        slots = slots.len(),
        epoch = meta.epoch,
        "slots moved"
    );
    Ok(())
}

fn is_marker(f: &Frame) -> bool {
    matches!(f, Frame::Error(e) if e == FROZEN || e == MOVED_OUT)
}

/// Replaces the replies of writes that met a moving key ([`FROZEN`], [`MOVED_OUT`]) by the reply of the command
/// routed and proposed again once the key has left (a redirect, usually `-ASK`).
pub async fn settle(
    node: &Arc<Node>,
    readonly: bool,
    run: &[&'static CommandSpec],
    cmds: &[Vec<Bytes>],
    replies: &mut [Frame],
) {
    if node.cluster().is_none() || !replies.iter().any(is_marker) {
        return;
    }
    for ((spec, args), reply) in run.iter().zip(cmds).zip(replies.iter_mut()) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        while is_marker(reply) && Instant::now() < deadline {
            if matches!(reply, Frame::Error(e) if e == FROZEN) {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            let target = match crate::routing::route(node, spec, args, readonly, false) {
                Ok(t) => t,
                Err(redirect) => {
                    *reply = redirect;
                    break;
                }
            };
            let Some(r) = target.shard.replication().cloned() else {
                break;
            };
            let op = match spec.block_on {
                Some(_) => Op::Block(args.clone()),
                None => Op::Command(args.clone()),
            };
            *reply = match r.group.write(vec![op]).await {
                Ok(mut f) => f.pop().unwrap_or(Frame::Null),
                Err(e) => crate::routing::refused(node, &target, &e),
            };
        }
    }
}

/// For a read about to run on `ks`: [`MOVED_OUT`] if a key it names is missing from a slot moving out (it was
/// moved after routing: the read must be routed again).
pub fn check_read(ks: &store::Keyspace, spec: &CommandSpec, args: &[Bytes]) -> Option<Frame> {
    if !ks.migration.active() {
        return None;
    }
    let positions = spec.key_positions(args).ok()?;
    positions
        .iter()
        .any(|&i| {
            let k = &args[i];
            ks.migration.moving_out(migrate::key_slot(k)) && ks.get_raw(k).is_none()
        })
        .then(|| Frame::error(MOVED_OUT))
}

/// Replaces the replies of reads that found their key moved out after routing by the redirect they get now.
pub fn settle_reads(
    node: &Arc<Node>,
    readonly: bool,
    run: &[&'static CommandSpec],
    cmds: &[Vec<Bytes>],
    replies: &mut [(u64, Frame)],
) {
    if !replies.iter().any(|(_, f)| is_marker(f)) {
        return;
    }
    for ((spec, args), (_, reply)) in run.iter().zip(cmds).zip(replies.iter_mut()) {
        if !is_marker(reply) {
            continue;
        }
        if let Err(redirect) = crate::routing::route(node, spec, args, readonly, false) {
            *reply = redirect;
        }
        // Routed here again (the key came back): the marker stays, a `-TRYAGAIN` the client retries.
    }
}

/// The options of `cluster move-slots` and `cluster rebalance`: the node to talk to, the slots and destination
/// (move-slots only), how long to wait for the moves to end.
struct CliOptions {
    addr: String,
    slots: Vec<(Slot, Slot)>,
    to: Option<ShardId>,
    timeout: Duration,
}

fn parse_cli(args: &[String], moving: bool) -> Result<CliOptions, String> {
    let mut o = CliOptions {
        addr: String::new(),
        slots: Vec::new(),
        to: None,
        timeout: Duration::from_secs(600),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--slots" if moving => o.slots = reshard::parse_slot_ranges(&value("--slots")?)?,
            "--to" if moving => {
                o.to = Some(
                    value("--to")?
                        .parse()
                        .map_err(|_| "--to needs a shard id")?,
                )
            }
            "--timeout" => {
                o.timeout = Duration::from_secs(
                    value("--timeout")?
                        .parse()
                        .map_err(|_| "--timeout needs a number")?,
                )
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s if o.addr.is_empty() => o.addr = s.to_string(),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    if o.addr.is_empty() || (moving && (o.slots.is_empty() || o.to.is_none())) {
        return Err(if moving {
            "usage: shoal-server cluster move-slots --slots A-B[,C-D...] --to SHARD host:port"
                .into()
        } else {
            "usage: shoal-server cluster rebalance host:port".into()
        });
    }
    Ok(o)
}

fn fetch_meta(c: &mut crate::admin::Client) -> Result<Metadata, String> {
    match c.call(&[b"CLUSTER", b"METADATA"])? {
        Frame::Bulk(b) => Metadata::decode(&b),
        other => Err(crate::admin::frame_text(&other)),
    }
}

/// Records the moves (`CLUSTER SETMIGRATION`, ranges per destination) and waits until every moved slot is owned
/// by its destination, printing progress.
fn run_moves(o: &CliOptions, moves: &[(Slot, ShardId)]) -> Result<String, String> {
    let mut c = crate::admin::Client::connect(&o.addr)?;
    let start = Instant::now();
    let mut args: Vec<Vec<u8>> = vec![b"CLUSTER".to_vec(), b"SETMIGRATION".to_vec()];
    let mut sorted = moves.to_vec();
    sorted.sort_unstable();
    let mut i = 0;
    while i < sorted.len() {
        let (a, to) = sorted[i];
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].1 == to && sorted[j + 1].0 == sorted[j].0 + 1 {
            j += 1;
        }
        args.push(to.to_string().into_bytes());
        args.push(a.to_string().into_bytes());
        args.push(sorted[j].0.to_string().into_bytes());
        i = j + 1;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    if let Frame::Error(e) = c.call(&refs)? {
        return Err(format!("{}: {e}", o.addr));
    }
    let mut out = std::io::stdout();
    let mut last = usize::MAX;
    loop {
        let meta = fetch_meta(&mut c)?;
        let left = moves
            .iter()
            .filter(|(s, to)| meta.slots.owner(*s) != Some(*to))
            .count();
        if left != last {
            use std::io::Write;
            let _ = writeln!(
                out,
                "{:>6.1}s  {} of {} slots moved",
                start.elapsed().as_secs_f64(),
                moves.len() - left,
                moves.len()
            );
            last = left;
        }
        if left == 0 {
            return Ok(format!(
                "[OK] {} slots moved in {:.1}s (metadata epoch {}).\n",
                moves.len(),
                start.elapsed().as_secs_f64(),
                meta.epoch
            ));
        }
        if start.elapsed() > o.timeout {
            return Err(format!(
                "{left} slots still moving after {}s (the moves go on)",
                o.timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `shoal-server cluster move-slots --slots A-B[,...] --to SHARD host:port`.
pub fn move_slots_cli(args: &[String]) -> Result<String, String> {
    let o = parse_cli(args, true)?;
    let to = o.to.expect("checked");
    let moves: Vec<(Slot, ShardId)> = o
        .slots
        .iter()
        .flat_map(|(a, b)| (*a..=*b).map(move |s| (s, to)))
        .collect();
    run_moves(&o, &moves)
}

/// `shoal-server cluster rebalance host:port`: moves slots so every shard owns as many as any other, within one.
pub fn rebalance_cli(args: &[String]) -> Result<String, String> {
    let o = parse_cli(args, false)?;
    let meta = fetch_meta(&mut crate::admin::Client::connect(&o.addr)?)?;
    let plan = reshard::rebalance_plan(&meta);
    if plan.is_empty() {
        return Ok("[OK] The slots are already evenly spread.\n".into());
    }
    run_moves(&o, &plan)
}
