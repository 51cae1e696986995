//! The routing step of a connection: which shard a keyspace command runs on, or the redirect it gets instead.
//!
//! Outside cluster mode every command runs on the node's only shard. In cluster mode the command's keys (the
//! command table's key specs) and the connection's `ASKING`/`READONLY` state go through [`cluster::route`], the one
//! place where slot and redirect decisions are made.

use std::sync::Arc;

use bytes::Bytes;
use cluster::{key_slot, Redirect, Request, Route, ShardId};
use raft::WriteError;
use resp::Frame;
use store::CommandSpec;

use crate::node::Node;
use crate::replication::{client_host_port, not_served};
use crate::shard::Shard;

/// Where a keyspace command runs.
#[derive(Clone)]
pub struct Target {
    /// The shard.
    pub shard: Arc<Shard>,
    /// Its id (0 outside cluster mode).
    pub id: ShardId,
    /// In cluster mode, the slot of the command's first key (named by `-MOVED` if the write finds this node is
    /// no longer the leader); `None` for keyless commands and outside cluster mode.
    pub slot: Option<u16>,
}

/// Routes one keyspace command. `Err` is the reply the client gets instead (a redirect or a refusal).
pub fn route(
    node: &Node,
    spec: &CommandSpec,
    args: &[Bytes],
    readonly: bool,
    asking: bool,
) -> Result<Target, Frame> {
    if node.cluster().is_none() {
        return Ok(Target {
            shard: node.shard.clone(),
            id: 0,
            slot: None,
        });
    }
    let keys = command_keys(spec, args);
    route_keys(node, &keys, spec.is_write(), readonly, asking)
}

/// The keys of one command, by the command table's key specs (none for malformed arguments: the command then
/// runs where keyless ones do and gives its own error).
pub fn command_keys<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    let positions = spec.key_positions(args).unwrap_or_default();
    positions
        .iter()
        .filter_map(|&i| args.get(i).map(|a| a.as_ref()))
        .collect()
}

/// Routes a set of keys (one command's, or a whole transaction's) as one unit: the shard they all live in, on
/// this node; or the reply the client gets instead. `write`: some of them are written.
pub fn route_keys(
    node: &Node,
    keys: &[&[u8]],
    write: bool,
    readonly: bool,
    asking: bool,
) -> Result<Target, Frame> {
    let Some(c) = node.cluster() else {
        return Ok(Target {
            shard: node.shard.clone(),
            id: 0,
            slot: None,
        });
    };
    let view = c.view();
    let req = Request {
        keys,
        write,
        asking,
        readonly,
    };
    // A missing key counts as absent (`-ASK`) only once the shard's replicated state marks its slot as moving
    // out: until then a command may still create it here, and must, to be found when the slot's keys move.
    let present = |shard: ShardId, key: &[u8]| {
        c.shard(shard).is_some_and(|s| {
            let g = s.lock();
            let ks = g.keyspace();
            ks.get_raw(key).is_some() || !ks.migration.moving_out(store::migrate::key_slot(key))
        })
    };
    match cluster::route(&view, &req, &present) {
        Route::Keyless => {
            let (id, shard) = c.default_shard().unwrap_or((0, node.shard.clone()));
            Ok(Target {
                shard,
                id,
                slot: None,
            })
        }
        Route::Local(id) => match c.shard(id) {
            Some(shard) => Ok(Target {
                shard,
                id,
                slot: keys.first().map(|k| key_slot(k)),
            }),
            None => Err(Frame::error_owned(Redirect::TryAgainNoLeader.message())),
        },
        Route::Refuse(r) => Err(Frame::error_owned(r.message())),
    }
}

/// Routes the shard channels of SSUBSCRIBE (`write` false) or SPUBLISH (`write` true) as keys: they must all be
/// in one shard, which this node leads (SPUBLISH) or hosts (SSUBSCRIBE, as a Redis replica serves it); else the
/// redirect or refusal the client gets. Always `Ok` outside cluster mode.
pub fn route_shard_channels(node: &Node, channels: &[Bytes], write: bool) -> Result<(), Frame> {
    let Some(c) = node.cluster() else {
        return Ok(());
    };
    let keys: Vec<&[u8]> = channels.iter().map(|k| k.as_ref()).collect();
    let view = c.view();
    let req = Request {
        keys: &keys,
        write,
        asking: false,
        readonly: !write,
    };
    // Channels are not stored: a slot being moved is served where its shard is led until the move ends.
    match cluster::route(&view, &req, &|_, _| true) {
        Route::Keyless | Route::Local(_) => Ok(()),
        Route::Refuse(r) => Err(Frame::error_owned(r.message())),
    }
}

/// Whether `args` routes to the same shard as `target` (so it may join the same run of writes or reads).
pub fn same_target(
    node: &Node,
    target: &Target,
    spec: &CommandSpec,
    args: &[Bytes],
    readonly: bool,
) -> bool {
    if node.cluster().is_none() {
        return true;
    }
    // A command answered over several shards runs on its own.
    if spec.spans_shards(args) {
        return false;
    }
    route(node, spec, args, readonly, false).is_ok_and(|t| t.id == target.id)
}

/// The reply for a write or linearizable read the target's group could not serve here: in cluster mode a
/// redirect to the leader it names (`-MOVED`), else the replica's answer (`-READONLY`).
pub fn refused(node: &Node, target: &Target, e: &WriteError) -> Frame {
    if node.cluster().is_none() {
        return not_served(e);
    }
    match (e, target.slot) {
        (WriteError::ForwardToLeader { addr, .. }, Some(slot)) if !addr.is_empty() => {
            let (host, port) = client_host_port(addr);
            Frame::error_owned(format!("MOVED {slot} {host}:{port}"))
        }
        // The shard's replica left this node while the command waited (cluster move-replica): the client
        // retries, and is redirected.
        (WriteError::Fatal(_), _)
            if node.cluster().is_some_and(|c| c.shard(target.id).is_none()) =>
        {
            Frame::error_owned(Redirect::TryAgainNoLeader.message())
        }
        (WriteError::Fatal(_), _) => not_served(e),
        _ => Frame::error_owned(Redirect::TryAgainNoLeader.message()),
    }
}
