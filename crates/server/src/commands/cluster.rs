//! CLUSTER and ASKING: the client face of cluster mode, in Redis' formats.
//!
//! Redis describes a cluster as masters and their replicas; in Shoal a node leads some shards and follows others.
//! `CLUSTER SLOTS` and `CLUSTER SHARDS` are exact (per slot range: the shard's leader, then its live replicas);
//! `CLUSTER NODES`, one line per node, shows a node as `master` of the slots of the shards it leads, or as a
//! `slave` of the leader of its first shard when it leads none.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use cluster::{key_slot, node_name, shard_name, Metadata, NodeId, ShardId, View, SLOTS};
use resp::Frame;
use store::cmd::arg_i64;

use crate::cluster::ClusterNode;
use crate::conn::Conn;

/// Redis' reply to cluster commands outside cluster mode.
pub const DISABLED: Frame = Frame::error("ERR This instance has cluster support disabled");

fn cluster(conn: &Conn) -> Result<Arc<ClusterNode>, Frame> {
    conn.node.cluster().cloned().ok_or(DISABLED)
}

fn text(s: String) -> Frame {
    Frame::Verbatim {
        format: *b"txt",
        text: Bytes::from(s),
    }
}

/// Whether every slot is assigned and every shard has a known leader, as seen from this node.
fn state_ok(view: &View) -> bool {
    view.me != 0
        && view.meta.slots.assigned() == SLOTS
        && view
            .meta
            .shards
            .keys()
            .all(|s| view.leaders.contains_key(s))
}

/// `CLUSTER INFO`.
pub fn info(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let view = c.view();
    let meta = &view.meta;
    let assigned = meta.slots.assigned();
    let served: usize = meta
        .slots
        .ranges()
        .iter()
        .filter(|(_, _, s)| view.leaders.contains_key(s))
        .map(|(a, b, _)| usize::from(*b) - usize::from(*a) + 1)
        .sum();
    let size = meta
        .shards
        .keys()
        .filter(|s| !meta.slots.ranges_of(**s).is_empty())
        .count();
    let mut out = String::new();
    let _ = write!(
        out,
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{served}\r\n\
         cluster_slots_pfail:0\r\ncluster_slots_fail:{}\r\ncluster_known_nodes:{}\r\ncluster_size:{size}\r\n\
         cluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
        if state_ok(&view) { "ok" } else { "fail" },
        assigned - served,
        meta.nodes.len(),
        meta.epoch,
        meta.epoch,
    );
    let (sent, received) = c.gossip_counts();
    let _ = write!(
        out,
        "cluster_stats_messages_sent:{sent}\r\ncluster_stats_messages_received:{received}\r\n"
    );
    if let Some(f) = c.forwarder() {
        // Redis' per-type bus counters for pub/sub, and Shoal's count of messages a peer's full queue (or a
        // failed send) dropped.
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let s = &f.stats;
        let _ = write!(
            out,
            "cluster_stats_messages_publish_sent:{}\r\ncluster_stats_messages_publishshard_sent:{}\r\n\
             cluster_stats_messages_publish_received:{}\r\ncluster_stats_messages_publishshard_received:{}\r\n\
             cluster_stats_messages_publish_dropped:{}\r\n",
            n(&s.publish_sent),
            n(&s.publishshard_sent),
            n(&s.publish_received),
            n(&s.publishshard_received),
            n(&s.dropped),
        );
    }
    text(out)
}

/// `CLUSTER MYID`.
pub fn myid(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    match cluster(conn) {
        Ok(c) => Frame::bulk(node_name(c.me())),
        Err(e) => e,
    }
}

/// `CLUSTER MYSHARDID`: the shard keyless commands of this node run against.
pub fn myshardid(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    match cluster(conn) {
        Ok(c) => Frame::bulk(shard_name(c.default_shard().map_or(0, |(id, _)| id))),
        Err(e) => e,
    }
}

fn ranges_text(ranges: &[(u16, u16)]) -> String {
    let mut out = String::new();
    for (a, b) in ranges {
        if a == b {
            let _ = write!(out, " {a}");
        } else {
            let _ = write!(out, " {a}-{b}");
        }
    }
    out
}

fn unix_ms_at(t: std::time::Instant) -> i64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    now - t.elapsed().as_millis() as i64
}

/// One `CLUSTER NODES` line per node (no newline), with the node it is shown as a replica of.
fn node_lines(c: &ClusterNode, view: &View) -> Vec<(NodeId, String, Option<NodeId>)> {
    let meta = &view.meta;
    let mut out = Vec::new();
    for n in meta.nodes.values() {
        let led: Vec<ShardId> = meta
            .shards
            .keys()
            .copied()
            .filter(|s| view.leaders.get(s) == Some(&n.id))
            .collect();
        let mut ranges: Vec<(u16, u16)> =
            led.iter().flat_map(|s| meta.slots.ranges_of(*s)).collect();
        ranges.sort_unstable();
        let alive = c.is_alive(n.id);
        let mut flags = String::new();
        if n.id == view.me {
            flags.push_str("myself,");
        }
        let master_of = if led.is_empty() {
            flags.push_str("slave");
            meta.shards_of(n.id)
                .first()
                .and_then(|s| view.leaders.get(s))
                .copied()
        } else {
            flags.push_str("master");
            None
        };
        if !alive {
            flags.push_str(",fail");
        }
        let master = master_of.map_or_else(|| "-".to_string(), node_name);
        let pong = if n.id == view.me {
            0
        } else {
            c.last_seen(n.id).map_or(0, unix_ms_at)
        };
        let line = format!(
            "{} {} {flags} {master} 0 {pong} {} {}{}",
            n.name(),
            n.member_addr(),
            meta.epoch,
            if alive { "connected" } else { "disconnected" },
            ranges_text(&ranges),
        );
        out.push((n.id, line, master_of));
    }
    out
}

/// `CLUSTER NODES`.
pub fn nodes(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let view = c.view();
    let mut out = String::new();
    for (_, line, _) in node_lines(&c, &view) {
        out.push_str(&line);
        out.push('\n');
    }
    text(out)
}

/// `CLUSTER REPLICAS node-id` (and `CLUSTER SLAVES`): the `CLUSTER NODES` lines of the nodes shown as replicas
/// of that master (nodes leading no shard, under the leader of their first shard).
pub fn replicas(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let view = c.view();
    let lines = node_lines(&c, &view);
    let Some((id, _, master_of)) = lines
        .iter()
        .find(|(id, _, _)| node_name(*id).as_bytes() == args[2].as_ref())
    else {
        return Frame::error_owned(format!(
            "ERR Unknown node {}",
            String::from_utf8_lossy(&args[2])
        ));
    };
    if master_of.is_some() {
        return Frame::error("ERR The specified node is not a master");
    }
    let id = *id;
    Frame::Array(
        lines
            .into_iter()
            .filter(|(_, _, m)| *m == Some(id))
            .map(|(_, line, _)| Frame::bulk(line))
            .collect(),
    )
}

fn node_entry(meta: &Metadata, id: NodeId) -> Option<Frame> {
    let n = meta.nodes.get(&id)?;
    Some(Frame::Array(vec![
        Frame::bulk(&n.host),
        Frame::Integer(i64::from(n.port)),
        Frame::bulk(n.name()),
        Frame::Map(Vec::new()),
    ]))
}

/// The nodes to list for a shard: its leader (or preferred leader when none is known), then its live replicas.
fn shard_nodes(c: &ClusterNode, view: &View, shard: ShardId) -> Vec<(NodeId, bool)> {
    let Some(info) = view.meta.shards.get(&shard) else {
        return Vec::new();
    };
    let leader = view
        .leaders
        .get(&shard)
        .copied()
        .or_else(|| info.replicas.first().copied());
    let mut out: Vec<(NodeId, bool)> = leader.into_iter().map(|l| (l, true)).collect();
    for r in &info.replicas {
        if Some(*r) != leader && c.is_alive(*r) {
            out.push((*r, false));
        }
    }
    out
}

/// `CLUSTER SLOTS`: per slot range, the leader of its shard then the live replicas.
pub fn slots(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let view = c.view();
    let meta = &view.meta;
    let mut out = Vec::new();
    for (start, end, shard) in meta.slots.ranges() {
        let mut entry = vec![
            Frame::Integer(i64::from(start)),
            Frame::Integer(i64::from(end)),
        ];
        entry.extend(
            shard_nodes(&c, &view, shard)
                .into_iter()
                .filter_map(|(id, _)| node_entry(meta, id)),
        );
        out.push(Frame::Array(entry));
    }
    Frame::Array(out)
}

/// `CLUSTER SHARDS`: per shard, its slot ranges and its replicas with role and health.
pub fn shards(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let view = c.view();
    let meta = &view.meta;
    let mut out = Vec::new();
    for (id, info) in &meta.shards {
        let mut slots = Vec::new();
        for (a, b) in meta.slots.ranges_of(*id) {
            slots.push(Frame::Integer(i64::from(a)));
            slots.push(Frame::Integer(i64::from(b)));
        }
        let leader = view.leaders.get(id).copied();
        let offsets = c.replication_offsets(*id);
        let mut nodes = Vec::new();
        let mut order: Vec<NodeId> = leader.into_iter().collect();
        order.extend(info.replicas.iter().filter(|r| Some(**r) != leader));
        for n in order {
            let Some(node) = meta.nodes.get(&n) else {
                continue;
            };
            let health = if c.is_alive(n) { "online" } else { "fail" };
            nodes.push(Frame::Map(vec![
                (Frame::bulk("id"), Frame::bulk(node.name())),
                (Frame::bulk("port"), Frame::Integer(i64::from(node.port))),
                (Frame::bulk("ip"), Frame::bulk(&node.host)),
                (Frame::bulk("endpoint"), Frame::bulk(&node.host)),
                (
                    Frame::bulk("role"),
                    Frame::bulk(if Some(n) == leader {
                        "master"
                    } else {
                        "replica"
                    }),
                ),
                (
                    Frame::bulk("replication-offset"),
                    Frame::Integer(offsets.get(&n).copied().unwrap_or(0) as i64),
                ),
                (Frame::bulk("health"), Frame::bulk(health)),
            ]));
        }
        out.push(Frame::Map(vec![
            (Frame::bulk("slots"), Frame::Array(slots)),
            (Frame::bulk("nodes"), Frame::Array(nodes)),
        ]));
    }
    Frame::Array(out)
}

/// `CLUSTER KEYSLOT key`.
pub fn keyslot(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if let Err(e) = cluster(conn) {
        return e;
    }
    Frame::Integer(i64::from(key_slot(&args[2])))
}

fn slot_arg(b: &[u8], invalid: &'static str) -> Result<u16, Frame> {
    let n = arg_i64(b)?;
    if (0..SLOTS as i64).contains(&n) {
        Ok(n as u16)
    } else {
        Err(Frame::error(invalid))
    }
}

/// The keys of `slot` in the shard replicas on this node, up to `max`. Normally only the slot's owner holds any;
/// counting every replica here also shows a key left behind by a slot move (it would be counted twice).
fn keys_in_slot(c: &ClusterNode, slot: u16, max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (_, shard) in c.shards() {
        let g = shard.lock();
        out.extend(
            g.keyspace()
                .iter()
                .filter(|(k, _)| key_slot(k) == slot)
                .take(max - out.len())
                .map(|(k, _)| k.to_vec()),
        );
        if out.len() >= max {
            break;
        }
    }
    out
}

/// `CLUSTER COUNTKEYSINSLOT slot`: keys of the slot held here (a walk of the shard's keys: Shoal keeps no
/// per-slot index).
pub fn countkeysinslot(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match slot_arg(&args[2], "ERR Invalid slot") {
        Ok(slot) => Frame::Integer(keys_in_slot(&c, slot, usize::MAX).len() as i64),
        Err(e) => e,
    }
}

/// `CLUSTER GETKEYSINSLOT slot count`.
pub fn getkeysinslot(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let invalid = "ERR Invalid slot or number of keys";
    let slot = match arg_i64(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let count = match arg_i64(&args[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if !(0..SLOTS as i64).contains(&slot) || count < 0 {
        return Frame::error(invalid);
    }
    let keys = keys_in_slot(
        &c,
        slot as u16,
        usize::try_from(count).unwrap_or(usize::MAX),
    );
    Frame::Array(keys.into_iter().map(Frame::bulk).collect())
}

/// `CLUSTER BOOTSTRAP node-id metadata`: sent by `shoal-server cluster create` to every node of a new cluster.
pub async fn bootstrap(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let c = match cluster(conn) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let me = match arg_i64(&args[2]) {
        Ok(n) if n > 0 => n as NodeId,
        _ => return Frame::error("ERR invalid node id"),
    };
    let meta = match Metadata::decode(&args[3]) {
        Ok(m) => m,
        Err(e) => return Frame::error_owned(format!("ERR {e}")),
    };
    match c.bootstrap(me, meta).await {
        Ok(()) => Frame::ok(),
        Err(e) => Frame::error_owned(format!("ERR {e}")),
    }
}

/// `CLUSTER HELP`.
pub fn help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    super::help_reply(
        &args[0],
        &[
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MYID",
            "    Return the node id.",
            "MYSHARDID",
            "    Return the node's shard id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "BOOTSTRAP <node-id> <metadata>",
            "    Make this node part of a new cluster (sent by `shoal-server cluster create`).",
            "MEMBERSHIP <step> [<arg> ...]",
            "    A step of adding, moving or removing replicas (sent by `shoal-server cluster add-node`...).",
        ],
    )
}

/// `ASKING`: the next command may run on a slot being imported here.
pub fn asking(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    if let Err(e) = cluster(conn) {
        return e;
    }
    conn.asking = true;
    Frame::ok()
}
