//! Cluster mode: keyless commands that act on a whole keyspace (DBSIZE, SCAN, KEYS, RANDOMKEY, FLUSHALL,
//! FLUSHDB, DEBUG DIGEST) answer for every shard this node stands for, not one.
//!
//! Redis Cluster clients send these to every master and combine the answers, so each node answers for the shards
//! it *leads*: summed over the nodes, every shard counts once. A node that leads nothing answers, like a Redis
//! replica, for the shard it is shown as a replica of in `CLUSTER NODES` (its first hosted shard), from its own
//! possibly stale copy. Reads of a led shard are linearizable as any read there; FLUSHALL and FLUSHDB go through
//! the log of each led shard (one entry per shard: a flush is atomic per shard, not across shards).

use std::sync::Arc;

use bytes::Bytes;
use cluster::ShardId;
use resp::Frame;
use store::exec::Op;
use store::CommandSpec;

use crate::conn::{propose_expiry, Conn};
use crate::node::unix_ms;
use crate::routing::Target;
use crate::shard::Shard;

/// SCAN's cursor keeps the shard id in its top bits; a shard's own cursor (a dict bucket index) fits below.
const SCAN_SHARD_SHIFT: u32 = 48;
const SCAN_INNER_MASK: u64 = (1 << SCAN_SHARD_SHIFT) - 1;

/// Redis' reply to a write on a replica.
const READONLY: Frame = Frame::error("READONLY You can't write against a read only replica.");

/// The shards this node answers keyless commands for, by id: those it leads, else (a node leading nothing) its
/// first hosted shard, as a replica. The flag tells whether this node leads the shard.
pub fn answered_shards(conn_node: &crate::node::Node) -> Vec<(ShardId, Arc<Shard>, bool)> {
    let Some(c) = conn_node.cluster() else {
        return vec![(0, conn_node.shard.clone(), true)];
    };
    let view = c.view();
    let hosted = c.shards();
    let led: Vec<(ShardId, Arc<Shard>, bool)> = hosted
        .iter()
        .filter(|(id, _)| view.leaders.get(id) == Some(&view.me))
        .map(|(id, s)| (*id, s.clone(), true))
        .collect();
    if !led.is_empty() {
        return led;
    }
    hosted
        .into_iter()
        .next()
        .map(|(id, s)| (id, s, false))
        .into_iter()
        .collect()
}

/// Runs a command whose spec covers every shard (`CommandSpec::spans_shards`); `None` when this node hosts no shard yet (it then runs where any
/// keyless command does).
pub async fn run(conn: &mut Conn, spec: &'static CommandSpec, args: &[Bytes]) -> Option<Frame> {
    let shards = answered_shards(&conn.node);
    if shards.is_empty() {
        return None;
    }
    Some(match spec.name {
        "flushall" | "flushdb" => flush(conn, &shards, args).await,
        "scan" => scan(conn, spec, &shards, args).await,
        "randomkey" => randomkey(conn, spec, &shards, args).await,
        _ => {
            let replies = match read_each(conn, spec, &shards, args).await {
                Ok(r) => r,
                Err(e) => return Some(e),
            };
            combine(spec.name, replies)
        }
    })
}

/// Checks reads may be served from `shard` now: linearizable on a led shard; a replica's copy as it is.
async fn check(conn: &Conn, id: ShardId, shard: &Arc<Shard>, leads: bool) -> Result<(), Frame> {
    if !leads {
        return Ok(());
    }
    let target = Target {
        shard: shard.clone(),
        id,
        slot: None,
    };
    conn.check_reads(&target, shard.replication().map(|r| r.as_ref()))
        .await
}

/// Runs a read on one shard, proposing the deletion of expired keys it came across.
fn read_one(conn: &mut Conn, shard: &Shard, spec: &CommandSpec, args: &[Bytes]) -> Frame {
    let seed = conn.next_seed();
    let (reply, expired) = {
        let mut g = shard.lock();
        let reply = g.read(spec, args, unix_ms(), seed);
        g.keyspace_mut().flush_events();
        (reply, g.take_lazy_expired())
    };
    if !expired.is_empty() {
        propose_expiry(shard.replication().map(|r| r.as_ref()), expired);
    }
    reply
}

async fn read_each(
    conn: &mut Conn,
    spec: &CommandSpec,
    shards: &[(ShardId, Arc<Shard>, bool)],
    args: &[Bytes],
) -> Result<Vec<Frame>, Frame> {
    let mut out = Vec::with_capacity(shards.len());
    for (id, shard, leads) in shards {
        check(conn, *id, shard, *leads).await?;
        let reply = read_one(conn, shard, spec, args);
        if reply.is_error() {
            return Err(reply);
        }
        out.push(reply);
    }
    Ok(out)
}

/// DBSIZE sums, KEYS concatenates, DEBUG DIGEST combines the shards' digests as one keyspace's would be.
fn combine(name: &str, replies: Vec<Frame>) -> Frame {
    match name {
        "dbsize" => Frame::Integer(
            replies
                .iter()
                .map(|r| match r {
                    Frame::Integer(n) => *n,
                    _ => 0,
                })
                .sum(),
        ),
        "keys" => Frame::Array(
            replies
                .into_iter()
                .flat_map(|r| match r {
                    Frame::Array(items) => items,
                    _ => Vec::new(),
                })
                .collect(),
        ),
        _ => {
            let mut acc = DigestParts::default();
            for r in &replies {
                let text = match r {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    Frame::Simple(s) => s.to_string(),
                    other => return other.clone(),
                };
                match DigestParts::parse(&text) {
                    Some(d) => acc.add(d),
                    None => return r.clone(),
                }
            }
            Frame::Bulk(Bytes::from(acc.hex()))
        }
    }
}

/// A `DEBUG DIGEST` as its three parts (the third cut to 32 bits as shown): keys mix into the first and third by
/// XOR and into the second by addition, so the digests of disjoint shards combine into the digest of their union.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
struct DigestParts(u64, u64, u32);

impl DigestParts {
    fn parse(hex: &str) -> Option<DigestParts> {
        if hex.len() != 40 || !hex.is_ascii() {
            return None;
        }
        Some(DigestParts(
            u64::from_str_radix(&hex[..16], 16).ok()?,
            u64::from_str_radix(&hex[16..32], 16).ok()?,
            u32::from_str_radix(&hex[32..], 16).ok()?,
        ))
    }

    fn add(&mut self, o: DigestParts) {
        self.0 ^= o.0;
        self.1 = self.1.wrapping_add(o.1);
        self.2 ^= o.2;
    }

    fn hex(&self) -> String {
        format!("{:016x}{:016x}{:08x}", self.0, self.1, self.2)
    }
}

/// FLUSHALL / FLUSHDB: one entry in the log of each led shard. The first error is the reply (after every shard
/// was tried, so a flush that fails on one shard still empties the others).
async fn flush(conn: &mut Conn, shards: &[(ShardId, Arc<Shard>, bool)], args: &[Bytes]) -> Frame {
    if shards.iter().all(|(_, _, leads)| !leads) {
        return READONLY;
    }
    let mut first_error = None;
    for (id, shard, _) in shards {
        let Some(r) = shard.replication().cloned() else {
            first_error.get_or_insert(Frame::error(
                "LOADING Shoal is loading the dataset in memory",
            ));
            continue;
        };
        let reply = match r.group.write(vec![Op::Command(args.to_vec())]).await {
            Ok(mut frames) => frames.pop().unwrap_or(Frame::ok()),
            Err(e) => {
                let target = Target {
                    shard: shard.clone(),
                    id: *id,
                    slot: None,
                };
                crate::routing::refused(&conn.node, &target, &e)
            }
        };
        if reply.is_error() && first_error.is_none() {
            first_error = Some(reply);
        }
    }
    first_error.unwrap_or(Frame::ok())
}

/// Splits a cluster SCAN cursor into the shard to continue with (the first answered shard at or after the one
/// it names) and that shard's own cursor; `None` when no such shard is left.
fn scan_position(shards: &[(ShardId, Arc<Shard>, bool)], cursor: u64) -> Option<(usize, u64)> {
    let shard = cursor >> SCAN_SHARD_SHIFT;
    let inner = cursor & SCAN_INNER_MASK;
    let i = shards.iter().position(|(id, _, _)| *id >= shard)?;
    // A cursor naming a shard no longer answered here restarts at the next one.
    let inner = if shards[i].0 == shard { inner } else { 0 };
    Some((i, inner))
}

fn scan_cursor(shard: ShardId, inner: u64) -> u64 {
    (shard << SCAN_SHARD_SHIFT) | inner
}

/// SCAN over the answered shards in id order: the cursor is `shard id << 48 | the shard's cursor`, an opaque
/// number to the client, 0 at both ends as in Redis.
async fn scan(
    conn: &mut Conn,
    spec: &CommandSpec,
    shards: &[(ShardId, Arc<Shard>, bool)],
    args: &[Bytes],
) -> Frame {
    let Some(cursor) = store::cmd::keys::parse_cursor(&args[1]) else {
        // The shard's own SCAN gives Redis' error for a bad cursor.
        return read_one(conn, &shards[0].1, spec, args);
    };
    let Some((i, inner)) = scan_position(shards, cursor) else {
        return Frame::Array(vec![Frame::bulk("0"), Frame::Array(Vec::new())]);
    };
    let (id, shard, leads) = &shards[i];
    if let Err(e) = check(conn, *id, shard, *leads).await {
        return e;
    }
    let mut shard_args = args.to_vec();
    shard_args[1] = Bytes::from(inner.to_string());
    let reply = read_one(conn, shard, spec, &shard_args);
    let Frame::Array(mut parts) = reply else {
        return reply;
    };
    let next_inner = match parts.first() {
        Some(Frame::Bulk(b)) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u64>().ok()),
        _ => None,
    };
    let Some(next_inner) = next_inner else {
        return Frame::Array(parts);
    };
    let next = if next_inner != 0 {
        scan_cursor(*id, next_inner & SCAN_INNER_MASK)
    } else {
        shards
            .get(i + 1)
            .map_or(0, |(next, _, _)| scan_cursor(*next, 0))
    };
    parts[0] = Frame::Bulk(Bytes::from(next.to_string()));
    Frame::Array(parts)
}

/// RANDOMKEY: a shard picked with probability proportional to its size, then a random key of it (another shard
/// if that one had only expired keys).
async fn randomkey(
    conn: &mut Conn,
    spec: &CommandSpec,
    shards: &[(ShardId, Arc<Shard>, bool)],
    args: &[Bytes],
) -> Frame {
    let mut order: Vec<usize> = (0..shards.len()).collect();
    let sizes: Vec<u64> = shards
        .iter()
        .map(|(_, s, _)| s.lock().keyspace().len() as u64)
        .collect();
    let total: u64 = sizes.iter().sum();
    if total > 0 {
        let mut pick = conn.next_seed() % total;
        let first = sizes
            .iter()
            .position(|&n| {
                if pick < n {
                    true
                } else {
                    pick -= n;
                    false
                }
            })
            .unwrap_or(0);
        order.rotate_left(first);
    }
    for i in order {
        let (id, shard, leads) = &shards[i];
        if let Err(e) = check(conn, *id, shard, *leads).await {
            return e;
        }
        let reply = read_one(conn, shard, spec, args);
        if !matches!(reply, Frame::Null) {
            return reply;
        }
    }
    Frame::Null
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_disjoint_shards_combine_like_one_keyspace() {
        let a = DigestParts::parse("0123456789abcdeffedcba987654321000112233").unwrap();
        let b = DigestParts::parse("ffffffffffffffff0000000000000001ffffffff").unwrap();
        let mut acc = DigestParts::default();
        acc.add(a);
        assert_eq!(acc.hex(), "0123456789abcdeffedcba987654321000112233");
        acc.add(b);
        assert_eq!(acc.hex(), "fedcba9876543210fedcba9876543211ffeeddcc");
        // The empty digest is neutral, as an empty shard should be.
        acc.add(DigestParts::parse(&"0".repeat(40)).unwrap());
        assert_eq!(acc.hex(), "fedcba9876543210fedcba9876543211ffeeddcc");
        assert!(DigestParts::parse("xyz").is_none());
    }

    #[test]
    fn scan_cursors_walk_the_shards_in_order() {
        let s = |id| (id, Arc::new(Shard::new()), true);
        let shards = vec![s(1), s(3)];
        assert_eq!(scan_position(&shards, 0), Some((0, 0)));
        assert_eq!(scan_position(&shards, scan_cursor(1, 42)), Some((0, 42)));
        assert_eq!(scan_position(&shards, scan_cursor(3, 7)), Some((1, 7)));
        // Shard 2 is not answered here (any more): its walk restarts at shard 3.
        assert_eq!(scan_position(&shards, scan_cursor(2, 7)), Some((1, 0)));
        assert_eq!(scan_position(&shards, scan_cursor(4, 0)), None);
    }
}
