//! SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.
//!
//! A connection's own subscriptions live in [`Subscriptions`]; the node's registry ([`crate::pubsub`]) maps
//! names back to connections for delivery.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexSet;
use resp::Frame;

use super::{help_reply, subcommand_syntax_error};
use crate::conn::Conn;
use crate::pubsub::{Kind, PubSub, Subscriber};

type NameSet = IndexSet<Bytes, foldhash::fast::RandomState>;

/// What one connection is subscribed to, in subscription order (unsubscribing from all answers in that order).
#[derive(Default)]
pub struct Subscriptions {
    /// The connection's message queue, created on its first subscription.
    pub queue: Option<Arc<Subscriber>>,
    channels: NameSet,
    patterns: NameSet,
    shard: NameSet,
}

impl Subscriptions {
    fn set(&mut self, kind: Kind) -> &mut NameSet {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Channels, patterns and shard channels together: non-zero puts a RESP2 client in subscribed mode.
    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// The count a (un)subscribe confirmation reports: channels and patterns together, shard channels apart.
    fn reported(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Shard => self.shard.len() as i64,
            _ => (self.channels.len() + self.patterns.len()) as i64,
        }
    }

    /// Leaves every subscription without confirmations (RESET, connection close).
    pub fn clear(&mut self, pubsub: &PubSub, id: u64) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(self.set(kind)) {
                pubsub.unsubscribe(kind, &name, id);
            }
        }
    }
}

fn verbs(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::Shard => ("ssubscribe", "sunsubscribe"),
    }
}

fn publish_counts(conn: &Conn) {
    let s = &conn.subs;
    let h = &conn.handle;
    h.sub.store(s.channels.len() as u32, Ordering::Relaxed);
    h.psub.store(s.patterns.len() as u32, Ordering::Relaxed);
    h.ssub.store(s.shard.len() as u32, Ordering::Relaxed);
}

/// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`: one confirmation per name, with the count after it. In cluster mode
/// SSUBSCRIBE's channels must be in one shard hosted here, else the redirect is the only reply.
pub fn subscribe(conn: &mut Conn, args: &[Bytes], kind: Kind) -> Vec<Frame> {
    if kind == Kind::Shard {
        if let Err(e) = crate::routing::route_shard_channels(&conn.node, &args[1..], false) {
            return vec![e];
        }
    }
    let queue = conn
        .subs
        .queue
        .get_or_insert_with(|| Subscriber::new(conn.handle.clone(), conn.protocol))
        .clone();
    let mut out = Vec::with_capacity(args.len() - 1);
    for name in &args[1..] {
        if conn.subs.set(kind).insert(name.clone()) {
            conn.node.pubsub.subscribe(kind, name, &queue);
        }
        out.push(Frame::Push(vec![
            Frame::bulk_static(verbs(kind).0),
            Frame::Bulk(name.clone()),
            Frame::Integer(conn.subs.reported(kind)),
        ]));
    }
    publish_counts(conn);
    out
}

/// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`: the named ones, or all; one confirmation each, and one with a
/// null name when there was nothing to leave.
pub fn unsubscribe(conn: &mut Conn, args: &[Bytes], kind: Kind) -> Vec<Frame> {
    let names: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        conn.subs.set(kind).iter().cloned().collect()
    };
    let verb = verbs(kind).1;
    let mut out = Vec::with_capacity(names.len().max(1));
    for name in names {
        if conn.subs.set(kind).shift_remove(&name) {
            conn.node.pubsub.unsubscribe(kind, &name, conn.handle.id);
        }
        out.push(Frame::Push(vec![
            Frame::bulk_static(verb),
            Frame::Bulk(name),
            Frame::Integer(conn.subs.reported(kind)),
        ]));
    }
    if out.is_empty() {
        out.push(Frame::Push(vec![
            Frame::bulk_static(verb),
            Frame::Null,
            Frame::Integer(conn.subs.reported(kind)),
        ]));
    }
    publish_counts(conn);
    out
}

/// Leaves every subscription silently (RESET).
pub fn reset(conn: &mut Conn) {
    let node = conn.node.clone();
    conn.subs.clear(&node.pubsub, conn.handle.id);
    publish_counts(conn);
}

/// `PUBLISH channel message`: the number of this node's clients that received it (in cluster mode it also goes
/// to every other node's subscribers; as in Redis Cluster, only local receivers are counted).
pub fn publish(conn: &mut Conn, args: &[Bytes]) -> Frame {
    Frame::Integer(conn.node.pubsub.publish(&args[1], &args[2], false) as i64)
}

/// `SPUBLISH shardchannel message`: in cluster mode, routed like a write to the channel's slot (`-MOVED` unless
/// this node leads its shard), then delivered here and on the shard's other replicas; local receivers counted.
pub fn spublish(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if let Err(e) = crate::routing::route_shard_channels(&conn.node, &args[1..2], true) {
        return e;
    }
    Frame::Integer(conn.node.pubsub.publish(&args[1], &args[2], true) as i64)
}

fn list(conn: &mut Conn, args: &[Bytes], kind: Kind) -> Frame {
    if args.len() > 3 {
        return subcommand_syntax_error(args);
    }
    let names = conn.node.pubsub.names(kind, args.get(2).map(|p| &p[..]));
    Frame::Array(names.into_iter().map(Frame::Bulk).collect())
}

fn numsub(conn: &mut Conn, args: &[Bytes], kind: Kind) -> Frame {
    let mut out = Vec::with_capacity(2 * (args.len() - 2));
    for name in &args[2..] {
        out.push(Frame::Bulk(name.clone()));
        out.push(Frame::Integer(conn.node.pubsub.count(kind, name) as i64));
    }
    // Redis replies a flat array (not a map) in both protocols.
    Frame::Array(out)
}

/// `PUBSUB CHANNELS [pattern]`.
pub fn channels(conn: &mut Conn, args: &[Bytes]) -> Frame {
    list(conn, args, Kind::Channel)
}

/// `PUBSUB SHARDCHANNELS [pattern]`.
pub fn shard_channels(conn: &mut Conn, args: &[Bytes]) -> Frame {
    list(conn, args, Kind::Shard)
}

/// `PUBSUB NUMSUB [channel ...]`.
pub fn num_sub(conn: &mut Conn, args: &[Bytes]) -> Frame {
    numsub(conn, args, Kind::Channel)
}

/// `PUBSUB SHARDNUMSUB [shardchannel ...]`.
pub fn shard_num_sub(conn: &mut Conn, args: &[Bytes]) -> Frame {
    numsub(conn, args, Kind::Shard)
}

/// `PUBSUB NUMPAT`: distinct patterns with subscribers.
pub fn num_pat(conn: &mut Conn, _args: &[Bytes]) -> Frame {
    Frame::Integer(conn.node.pubsub.totals().1 as i64)
}

/// `PUBSUB HELP`.
pub fn help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    help_reply(
        &args[0],
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}
