//! Scaling a cluster by nodes: adding a node, moving a shard's replica from one node to another, removing a node.
//!
//! The metadata is the plan and the Raft groups follow it, one idempotent step at a time, so that
//! `shoal-server cluster ...` can be run again after a crash at any point:
//!
//! - **add-node**: a compare-and-set adds the node to `nodes` (new id: the highest plus one); the node is told its
//!   id (`CLUSTER MEMBERSHIP JOIN`), adopts the metadata, gossips, and appears in every node's `CLUSTER NODES`.
//! - **move-replica S N1 -> N2**: (1) metadata lists N2 as a learner of S, so N2 starts S's group without
//!   initializing it (and restarts it after a crash); (2) the shard's leader adds N2 as a Raft learner and waits
//!   until it has caught up (snapshot, then log); (3) the leader replaces N1 by N2 among the voters (a removed
//!   leader commits the change, then steps down and the others elect); (4) metadata makes N2 a replica in N1's
//!   place; N1 sees a copy without it and stops and deletes its replica ([`ClusterNode::retire_shards`]).
//! - **remove-node**: every replica is moved off first (refused up front if some shard has nowhere to go), then
//!   the node leaves `nodes`; the removed node, hearing of a copy without itself, stops every group, forgets its
//!   identity and answers like a node of no cluster (`-CLUSTERDOWN`); the others stop gossiping to it.
//! - The metadata group's voters follow [`Metadata::meta_voters`]: its leader adds (as learner, then voter) and
//!   removes voters whenever the node list changes ([`follow_meta_voters`]).
//!
//! Clients see `-MOVED` (and `-TRYAGAIN` during the election that follows moving a leader's replica away): slots
//! never change owner here, only which nodes hold a shard.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster::{meta_group, Metadata, NodeId, NodeInfo, ShardId, META_GROUP};
use openraft::ChangeMembers;
use raft::{ShardGroup, WriteError};
use resp::Frame;
use tracing::{info, warn};

use super::ClusterNode;
use crate::admin::{frame_text, parse_node, Client};
use crate::conn::Conn;

/// How long the leader waits for one learner to catch up, or one membership change to commit, per request (the
/// command-line tool asks again until its own deadline).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// How often the metadata group's leader compares its voters with [`Metadata::meta_voters`].
const META_VOTERS_INTERVAL: Duration = Duration::from_millis(300);

impl ClusterNode {
    /// Stops and deletes this node's replica of every shard the metadata no longer gives it.
    pub(super) async fn retire_shards(self: &Arc<Self>, meta: &Metadata) {
        let keep: BTreeSet<ShardId> = meta.hosted_by(self.me()).into_iter().collect();
        let gone: Vec<ShardId> = self
            .shards
            .read()
            .keys()
            .filter(|id| !keep.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.retire(id).await;
        }
    }

    /// Stops this node's replica of `id` and deletes its log and snapshot.
    async fn retire(self: &Arc<Self>, id: ShardId) {
        let Some(shard) = self.shards.write().remove(&id) else {
            return;
        };
        // Out of the bus first: peers' calls must not reach a stopping group.
        self.registry.unregister(id);
        if let Some(r) = shard.replication() {
            if let Err(e) = r.group.shutdown().await {
                warn!(shard = id, error = %e, "stopping a retired replica");
            }
        }
        // Freed now rather than when the last connection lets go of the shard.
        shard.lock().keyspace_mut().clear();
        match self.storage.remove_group(id) {
            Ok(()) => info!(shard = id, "replica moved away: group stopped and deleted"),
            Err(e) => warn!(shard = id, error = %e, "deleting a retired replica's log"),
        }
        if let Some(node) = self.node.upgrade() {
            node.refresh_hot_config();
        }
    }

    /// This node was removed from the cluster: stop every group, delete their data and the recorded state, and
    /// go back to the state of a node that never joined (it can be added again as a new node).
    pub(super) async fn leave(self: &Arc<Self>) -> Result<(), String> {
        warn!(
            node_id = self.me(),
            "this node was removed from the cluster"
        );
        let ids: Vec<ShardId> = self.shards.read().keys().copied().collect();
        for id in ids {
            self.retire(id).await;
        }
        let group = self.meta_group.lock().take();
        if let Some(g) = group {
            self.registry.unregister(META_GROUP);
            let _ = g.shutdown().await;
            if let Err(e) = self.storage.remove_group(META_GROUP) {
                warn!(error = %e, "deleting the metadata group's log");
            }
        }
        match std::fs::remove_file(&self.state_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", self.state_path.display()))
            }
            _ => {}
        }
        self.me.store(0, std::sync::atomic::Ordering::Release);
        *self.meta.write() = Arc::new(Metadata::default());
        *self.news.lock() = Default::default();
        self.seen.lock().clear();
        self.refresh_view();
        Ok(())
    }

    /// `CLUSTER MEMBERSHIP JOIN`: this node (of no cluster yet) becomes node `me` of the cluster `meta` describes.
    async fn join(self: &Arc<Self>, me: NodeId, meta: Metadata) -> Result<(), String> {
        let mine = self.me();
        if mine == me {
            // Asked again (the tool was run again): adopt the copy if it is newer.
            return self.adopt(me, meta, false).await;
        }
        if mine != 0 {
            return Err(format!("this node is already node {mine} of a cluster"));
        }
        if !meta.nodes.contains_key(&me) {
            return Err(format!("node {me} is not part of that cluster"));
        }
        self.adopt(me, meta, false).await
    }

    fn local_meta_group(&self) -> Option<ShardGroup> {
        self.meta_group.lock().clone()
    }

    /// The metadata group here if this node leads it, else the error to answer: where the leader is.
    fn meta_leader(&self) -> Result<ShardGroup, Frame> {
        let Some(g) = self.local_meta_group() else {
            return Err(Frame::error(
                "TRYAGAIN this node is not a voter of the metadata group",
            ));
        };
        if leads(&g) {
            return Ok(g);
        }
        Err(self.redirect(g.leader().map(|(id, _)| id)))
    }

    /// `-REDIRECT host:port` to node `to` (the tool follows it), or `-TRYAGAIN` while no leader is known.
    fn redirect(&self, to: Option<NodeId>) -> Frame {
        match to.and_then(|id| self.meta().nodes.get(&id).map(NodeInfo::client_addr)) {
            Some(addr) if to != Some(self.me()) => Frame::error_owned(format!("REDIRECT {addr}")),
            _ => Frame::error("TRYAGAIN no leader known yet"),
        }
    }

    /// The group of shard `id` if this node leads it, else where to go.
    fn shard_leader(&self, id: ShardId) -> Result<ShardGroup, Frame> {
        let local = self
            .shard(id)
            .and_then(|s| s.replication().map(|r| r.group.clone()));
        match local {
            Some(g) if leads(&g) => Ok(g),
            Some(g) => Err(self.redirect(g.leader().map(|(l, _)| l))),
            None => Err(self.redirect(self.view().leaders.get(&id).copied())),
        }
    }
}

/// Whether this node leads `g` and is still one of its voters: a leader that has just committed a membership
/// without itself keeps leading until it steps down, and must not be asked for another change meanwhile (openraft
/// 0.9 asserts against that in debug builds).
fn leads(g: &ShardGroup) -> bool {
    let me = g.config().node_id;
    g.is_leader()
        && g.metrics()
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == me)
}

fn write_error(e: WriteError) -> String {
    match e {
        WriteError::NoLeader => "TRYAGAIN no leader elected".into(),
        e => format!("ERR {e}"),
    }
}

fn parse_id(b: &[u8]) -> Result<u64, Frame> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or(Frame::error("ERR invalid id"))
}

fn ids(v: impl IntoIterator<Item = NodeId>) -> Frame {
    Frame::Array(v.into_iter().map(|i| Frame::Integer(i as i64)).collect())
}

/// `CLUSTER MEMBERSHIP <step> ...`: the steps `shoal-server cluster add-node | move-replica | remove-node` drive.
///
/// - `JOIN <node-id> <metadata>`: on a node of no cluster, which becomes that node.
/// - `META [LOCAL]`: the metadata, from the metadata group's leader (`LOCAL`: this node's copy).
/// - `CAS <expected-epoch> <metadata>`: a compare-and-set through the metadata group (on its leader).
/// - `ADD-LEARNER <shard> <node-id>`: on the shard's leader, adds the node as a learner and waits until it has
///   caught up; the metadata must already list it as a learner of the shard.
/// - `SET-VOTERS <shard> <node-id> ...`: on the shard's leader, makes these the voters (each must be a voter or a
///   learner already); learners the metadata does not list are dropped.
/// - `GROUP <shard>|META`: this node's view of the group: leader (0: none known), voters, learners.
///
/// Errors `-REDIRECT host:port` send the caller to the group's leader.
pub async fn command(conn: &mut Conn, args: &[Bytes]) -> Frame {
    let Some(c) = conn.node.cluster().cloned() else {
        return crate::commands::cluster::DISABLED;
    };
    let step = args[2].to_ascii_uppercase();
    let rest = &args[3..];
    match (step.as_slice(), rest) {
        (b"JOIN", [id, blob]) => {
            let id = match parse_id(id) {
                Ok(i) => i,
                Err(e) => return e,
            };
            match Metadata::decode(blob) {
                Ok(meta) => match c.join(id, meta).await {
                    Ok(()) => Frame::ok(),
                    Err(e) => Frame::error_owned(format!("ERR {e}")),
                },
                Err(e) => Frame::error_owned(format!("ERR {e}")),
            }
        }
        (b"META", []) => {
            let g = match c.meta_leader() {
                Ok(g) => g,
                Err(e) => return e,
            };
            if let Err(e) = g.read_barrier().await {
                return Frame::error_owned(write_error(e));
            }
            Frame::bulk(c.meta().encode())
        }
        (b"META", [local]) if local.eq_ignore_ascii_case(b"LOCAL") => {
            Frame::bulk(c.meta().encode())
        }
        (b"CAS", [expected, blob]) => {
            let Some(expected) = std::str::from_utf8(expected)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return Frame::error("ERR invalid epoch");
            };
            let next = match Metadata::decode(blob) {
                Ok(m) => m,
                Err(e) => return Frame::error_owned(format!("ERR {e}")),
            };
            let g = match c.meta_leader() {
                Ok(g) => g,
                Err(e) => return e,
            };
            match g.write(vec![meta_group::cas_op(expected, &next)]).await {
                Ok(mut r) => {
                    let r = r.pop().unwrap_or(Frame::Null);
                    if r.is_error() {
                        return r;
                    }
                    // Adopted here before answering: the caller's next META sees its own change.
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while c.meta().epoch < next.epoch && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    info!(epoch = next.epoch, "cluster metadata changed");
                    Frame::ok()
                }
                Err(WriteError::ForwardToLeader { leader_id, .. }) => c.redirect(Some(leader_id)),
                Err(e) => Frame::error_owned(write_error(e)),
            }
        }
        (b"ADD-LEARNER", [shard, node]) => {
            let (shard, node) = match (parse_id(shard), parse_id(node)) {
                (Ok(s), Ok(n)) => (s, n),
                _ => return Frame::error("ERR invalid id"),
            };
            let g = match c.shard_leader(shard) {
                Ok(g) => g,
                Err(e) => return e,
            };
            let meta = c.meta();
            let Some(info) = meta.nodes.get(&node) else {
                return Frame::error("TRYAGAIN unknown node (metadata not heard of yet)");
            };
            if !meta.hosted_by(node).contains(&shard) {
                return Frame::error(
                    "TRYAGAIN the metadata does not list that node as a learner yet",
                );
            }
            let addr = raft::Node::new(info.member_addr());
            match tokio::time::timeout(STEP_TIMEOUT, g.raft().add_learner(node, addr, true)).await {
                Err(_) => Frame::error("TRYAGAIN the learner has not caught up yet"),
                Ok(Err(e)) => Frame::error_owned(format!("TRYAGAIN {e}")),
                Ok(Ok(_)) => {
                    info!(shard, node, "learner caught up");
                    Frame::ok()
                }
            }
        }
        (b"SET-VOTERS", [shard, voters @ ..]) if !voters.is_empty() => {
            let shard = match parse_id(shard) {
                Ok(s) => s,
                Err(e) => return e,
            };
            let mut want = BTreeSet::new();
            for v in voters {
                match parse_id(v) {
                    Ok(v) => want.insert(v),
                    Err(e) => return e,
                };
            }
            let g = match c.shard_leader(shard) {
                Ok(g) => g,
                Err(e) => return e,
            };
            match set_voters(&g, &want, &c.meta(), shard).await {
                Ok(()) => Frame::ok(),
                Err(e) => Frame::error_owned(e),
            }
        }
        (b"GROUP", [which]) => {
            let group = if which.eq_ignore_ascii_case(b"META") {
                c.local_meta_group()
            } else {
                match parse_id(which) {
                    Ok(id) => c
                        .shard(id)
                        .and_then(|s| s.replication().map(|r| r.group.clone())),
                    Err(e) => return e,
                }
            };
            let Some(g) = group else {
                return Frame::error("ERR this node does not host that group");
            };
            let m = g.metrics();
            let mem = m.membership_config.membership();
            let voters: BTreeSet<NodeId> = mem.voter_ids().collect();
            let learners: Vec<NodeId> = mem.learner_ids().collect();
            Frame::Array(vec![
                Frame::Integer(m.current_leader.unwrap_or(0) as i64),
                ids(voters),
                ids(learners),
            ])
        }
        _ => Frame::error_owned(format!(
            "ERR unknown or malformed CLUSTER MEMBERSHIP step '{}'",
            String::from_utf8_lossy(&step)
        )),
    }
}

/// Makes `want` the voters of the group this node leads, then drops the learners `meta` does not list.
async fn set_voters(
    g: &ShardGroup,
    want: &BTreeSet<NodeId>,
    meta: &Metadata,
    shard: ShardId,
) -> Result<(), String> {
    let change = |changes: ChangeMembers<NodeId, raft::Node>| async move {
        match tokio::time::timeout(STEP_TIMEOUT, g.raft().change_membership(changes, false)).await {
            Err(_) => Err("TRYAGAIN the membership change has not committed yet".to_string()),
            Ok(Err(e)) => Err(format!("TRYAGAIN {e}")),
            Ok(Ok(_)) => Ok(()),
        }
    };
    let (voters, learners, joint) = {
        let m = g.metrics();
        let mem = m.membership_config.membership();
        (
            mem.voter_ids().collect::<BTreeSet<_>>(),
            mem.learner_ids().collect::<BTreeSet<_>>(),
            mem.get_joint_config().len() > 1,
        )
    };
    if &voters != want || joint {
        for v in want {
            if !voters.contains(v) && !learners.contains(v) {
                return Err(format!(
                    "ERR node {v} is neither a voter nor a learner of shard {shard}: add it as a learner first"
                ));
            }
        }
        change(ChangeMembers::ReplaceAllVoters(want.clone())).await?;
        info!(shard, voters = ?want, "shard voters changed");
    }
    let listed: BTreeSet<NodeId> = meta
        .learners
        .get(&shard)
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let stale: BTreeSet<NodeId> = {
        let m = g.metrics();
        let mem = m.membership_config.membership();
        mem.learner_ids()
            .filter(|l| !listed.contains(l) && !want.contains(l))
            .collect()
    };
    // After a change that removed this node, the new leader drops them (the tool asks it again).
    if !stale.is_empty() && leads(g) {
        change(ChangeMembers::RemoveNodes(stale)).await?;
    }
    Ok(())
}

/// On the metadata group's leader: keeps the group's voters equal to [`Metadata::meta_voters`] (a new voter is
/// added as a learner first and promoted once it has caught up; removed nodes are dropped).
pub async fn follow_meta_voters(c: Weak<ClusterNode>) {
    let mut tick = tokio::time::interval(META_VOTERS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(node) = c.upgrade() else { return };
        if node.node.upgrade().is_none_or(|n| n.is_shutting_down()) {
            return;
        }
        let (Some(g), meta) = (node.local_meta_group(), node.meta()) else {
            continue;
        };
        if meta.epoch == 0 || !leads(&g) {
            continue;
        }
        let want: BTreeSet<NodeId> = meta.meta_voters().into_iter().collect();
        let (voters, learners) = {
            let m = g.metrics();
            let mem = m.membership_config.membership();
            if mem.get_joint_config().len() > 1 {
                continue;
            }
            (
                mem.voter_ids().collect::<BTreeSet<_>>(),
                mem.learner_ids().collect::<BTreeSet<_>>(),
            )
        };
        let extra: BTreeSet<NodeId> = learners.difference(&want).copied().collect();
        if voters == want && extra.is_empty() {
            continue;
        }
        drop(node);
        if let Err(e) = reconcile_meta_voters(&g, &meta, &want, &voters).await {
            warn!(error = %e, "metadata group voters not changed yet");
        }
    }
}

async fn reconcile_meta_voters(
    g: &ShardGroup,
    meta: &Metadata,
    want: &BTreeSet<NodeId>,
    voters: &BTreeSet<NodeId>,
) -> Result<(), String> {
    for id in want.difference(voters) {
        let Some(n) = meta.nodes.get(id) else {
            continue;
        };
        let node = raft::Node::new(n.member_addr());
        tokio::time::timeout(STEP_TIMEOUT, g.raft().add_learner(*id, node, true))
            .await
            .map_err(|_| format!("node {id} has not caught up with the metadata group yet"))?
            .map_err(|e| e.to_string())?;
    }
    let change = ChangeMembers::ReplaceAllVoters(want.clone());
    tokio::time::timeout(STEP_TIMEOUT, g.raft().change_membership(change, false))
        .await
        .map_err(|_| "membership change not committed yet".to_string())?
        .map_err(|e| e.to_string())?;
    info!(voters = ?want, "metadata group voters changed");
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// The command-line side: `shoal-server cluster add-node | move-replica | remove-node | rebalance-replicas`.
// ---------------------------------------------------------------------------------------------------------------

/// Usage of the commands of this module.
pub const USAGE: &str = "       shoal-server cluster add-node <new host:port[@busport]> <existing host:port> [--rebalance] [--timeout SECONDS]
       shoal-server cluster move-replica --shard S --from <node> --to <node> <existing host:port> [--timeout SECONDS]
       shoal-server cluster rebalance-replicas <existing host:port> [--timeout SECONDS]
       shoal-server cluster remove-node <node> <existing host:port> [--timeout SECONDS]
  (<node>: a node id, its 40-character name, or host:port)";

/// A session with the cluster: finds the metadata group's leader and the shards' leaders, follows redirects.
struct Admin {
    /// Addresses to try for the metadata group, the last leader found first.
    meta_addrs: Vec<String>,
    meta: Metadata,
    deadline: Instant,
    log: String,
}

/// An answer that means "ask again shortly, perhaps elsewhere".
fn retryable(e: &str) -> bool {
    e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN") || e.starts_with("LOADING")
}

impl Admin {
    fn connect(contact: &str, timeout: Duration) -> Result<Admin, String> {
        let mut c = Client::connect(contact)?;
        let meta = match c.call(&[b"CLUSTER", b"MEMBERSHIP", b"META", b"LOCAL"])? {
            Frame::Bulk(b) => Metadata::decode(&b)?,
            other => return Err(format!("{contact}: {}", frame_text(&other))),
        };
        if meta.epoch == 0 {
            return Err(format!("{contact} is not part of a cluster"));
        }
        let mut a = Admin {
            meta_addrs: vec![contact.to_string()],
            meta,
            deadline: Instant::now() + timeout,
            log: String::new(),
        };
        a.note_voters();
        a.refresh()?;
        Ok(a)
    }

    fn note_voters(&mut self) {
        for id in self.meta.meta_voters() {
            let addr = self.meta.nodes[&id].client_addr();
            if !self.meta_addrs.contains(&addr) {
                self.meta_addrs.push(addr);
            }
        }
    }

    fn say(&mut self, line: String) {
        self.log.push_str(&line);
        self.log.push('\n');
    }

    fn out_of_time(&self, what: &str, last: &str) -> Result<(), String> {
        if Instant::now() > self.deadline {
            return Err(format!("timed out: {what} ({last})"));
        }
        std::thread::sleep(Duration::from_millis(100));
        Ok(())
    }

    /// Sends `args` to `start`, following `-REDIRECT`s and retrying while the answer says so; `others` are tried
    /// in turn when a node cannot be reached or has no answer yet.
    fn call_leader(
        &self,
        what: &str,
        start: &[String],
        args: &[&[u8]],
    ) -> Result<(Frame, String), String> {
        let mut last = String::new();
        loop {
            for first in start {
                let mut addr = first.clone();
                for _hop in 0..4 {
                    let reply = Client::connect(&addr).and_then(|mut c| c.call(args));
                    match reply {
                        Ok(Frame::Error(e)) => {
                            if let Some(to) = e.strip_prefix("REDIRECT ") {
                                addr = to.to_string();
                                continue;
                            }
                            if !retryable(&e) {
                                return Err(format!("{addr}: {e}"));
                            }
                            last = format!("{addr}: {e}");
                        }
                        Ok(f) => return Ok((f, addr)),
                        Err(e) => last = format!("{addr}: {e}"),
                    }
                    break;
                }
            }
            self.out_of_time(what, &last)?;
        }
    }

    /// Reads the metadata from the metadata group's leader.
    fn refresh(&mut self) -> Result<(), String> {
        let (f, addr) = self.call_leader(
            "reading the metadata",
            &self.meta_addrs.clone(),
            &[b"CLUSTER", b"MEMBERSHIP", b"META"],
        )?;
        let Frame::Bulk(b) = f else {
            return Err(format!("{addr}: unexpected reply {f:?}"));
        };
        self.meta = Metadata::decode(&b)?;
        self.meta_addrs.retain(|a| a != &addr);
        self.meta_addrs.insert(0, addr);
        self.note_voters();
        Ok(())
    }

    /// Applies `change` to the current metadata through a compare-and-set, again on a fresher copy if another
    /// change won; `change` returns `None` when there is nothing to do.
    fn change(
        &mut self,
        what: &str,
        mut change: impl FnMut(&Metadata) -> Result<Option<Metadata>, String>,
    ) -> Result<bool, String> {
        loop {
            self.refresh()?;
            let Some(mut next) = change(&self.meta)? else {
                return Ok(false);
            };
            next.epoch = self.meta.epoch + 1;
            next.validate()?;
            let expected = self.meta.epoch.to_string();
            let blob = next.encode();
            let args: [&[u8]; 5] = [
                b"CLUSTER",
                b"MEMBERSHIP",
                b"CAS",
                expected.as_bytes(),
                &blob,
            ];
            match self.call_leader(what, &self.meta_addrs.clone(), &args) {
                Ok(_) => {
                    self.meta = next;
                    return Ok(true);
                }
                Err(e) if e.contains("changed meanwhile") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a step to the leader of `shard`, starting with its replicas.
    fn shard_step(&self, what: &str, shard: ShardId, args: &[&[u8]]) -> Result<(), String> {
        let start: Vec<String> = self.meta.shards[&shard]
            .replicas
            .iter()
            .map(|r| self.meta.nodes[r].client_addr())
            .collect();
        self.call_leader(what, &start, args).map(|_| ())
    }

    /// Resolves a node given as an id, a 40-character name or `host:port`.
    fn node(&self, word: &str) -> Result<NodeId, String> {
        let by_id = if word.len() == 40 {
            u64::from_str_radix(word, 16).ok()
        } else {
            word.parse::<u64>().ok()
        };
        if let Some(id) = by_id.filter(|id| self.meta.nodes.contains_key(id)) {
            return Ok(id);
        }
        self.meta
            .nodes
            .values()
            .find(|n| n.client_addr() == word)
            .map(|n| n.id)
            .ok_or_else(|| format!("no node {word} in the cluster"))
    }

    fn addr(&self, id: NodeId) -> String {
        self.meta
            .nodes
            .get(&id)
            .map_or_else(|| format!("node {id}"), NodeInfo::client_addr)
    }

    /// Moves shard `shard`'s replica from node `from` to node `to` (see the module's steps).
    fn move_replica(&mut self, shard: ShardId, from: NodeId, to: NodeId) -> Result<(), String> {
        let (fa, ta) = (self.addr(from), self.addr(to));
        self.say(format!(
            ">>> Moving the replica of shard {shard} from {fa} to {ta}"
        ));
        // 1. The target hosts the group, as a learner.
        self.change("listing the learner", |m| {
            let Some(s) = m.shards.get(&shard) else {
                return Err(format!("no shard {shard}"));
            };
            if !m.nodes.contains_key(&to) {
                return Err(format!("no node {to}"));
            }
            if s.replicas.contains(&to) {
                if s.replicas.contains(&from) {
                    return Err(format!(
                        "node {to} already holds a replica of shard {shard}"
                    ));
                }
                return Ok(None); // Done before (the tool is run again).
            }
            if !s.replicas.contains(&from) {
                return Err(format!("node {from} holds no replica of shard {shard}"));
            }
            let mut next = m.clone();
            let l = next.learners.entry(shard).or_default();
            if l.contains(&to) {
                return Ok(None);
            }
            l.push(to);
            Ok(Some(next))
        })?;
        let done = |m: &Metadata| {
            m.shards[&shard].replicas.contains(&to) && !m.shards[&shard].replicas.contains(&from)
        };
        if !done(&self.meta) {
            // 2. It catches up as a learner.
            let (s, t) = (shard.to_string(), to.to_string());
            self.shard_step(
                "the new replica catching up",
                shard,
                &[
                    b"CLUSTER",
                    b"MEMBERSHIP",
                    b"ADD-LEARNER",
                    s.as_bytes(),
                    t.as_bytes(),
                ],
            )?;
            self.say(format!("    {ta} caught up"));
            // 3. It replaces the old replica among the voters.
            let voters: Vec<String> = self.meta.shards[&shard]
                .replicas
                .iter()
                .map(|&r| if r == from { to } else { r }.to_string())
                .collect();
            let mut args: Vec<&[u8]> = vec![b"CLUSTER", b"MEMBERSHIP", b"SET-VOTERS", s.as_bytes()];
            args.extend(voters.iter().map(|v| v.as_bytes()));
            self.shard_step("the voters change", shard, &args)?;
            self.say(format!("    voters of shard {shard}: {}", voters.join(" ")));
            // 4. The metadata follows, and the old replica retires.
            self.change("recording the new replica", |m| {
                if done(m) {
                    return Ok(None);
                }
                let mut next = m.clone();
                let s = next.shards.get_mut(&shard).ok_or("shard vanished")?;
                for r in s.replicas.iter_mut() {
                    if *r == from {
                        *r = to;
                    }
                }
                if let Some(l) = next.learners.get_mut(&shard) {
                    l.retain(|n| *n != to);
                    if l.is_empty() {
                        next.learners.remove(&shard);
                    }
                }
                Ok(Some(next))
            })?;
        }
        // The old replica deletes its copy once it hears of the metadata (a node that is down does it when it
        // comes back).
        let s = shard.to_string();
        loop {
            let last = match Client::connect(&fa)
                .and_then(|mut c| c.call(&[b"CLUSTER", b"MEMBERSHIP", b"GROUP", s.as_bytes()]))
            {
                Ok(Frame::Error(e)) if e.contains("does not host") => break,
                Err(e) => {
                    self.say(format!(
                        "    {fa} is unreachable ({e}): it deletes its replica when it comes back"
                    ));
                    break;
                }
                Ok(f) => frame_text(&f),
            };
            self.out_of_time("the old replica retiring", &last)?;
        }
        self.say(format!("[OK] Shard {shard} moved from {fa} to {ta}."));
        Ok(())
    }

    /// Waits until the metadata group's voters are [`Metadata::meta_voters`].
    fn wait_meta_voters(&mut self) -> Result<(), String> {
        let want: Vec<i64> = self.meta.meta_voters().iter().map(|&i| i as i64).collect();
        loop {
            let (f, _) = self.call_leader(
                "the metadata group's voters",
                &self.meta_addrs.clone(),
                &[b"CLUSTER", b"MEMBERSHIP", b"GROUP", b"META"],
            )?;
            let got: Vec<i64> = match &f {
                Frame::Array(items) => match items.get(1) {
                    Some(Frame::Array(v)) => v
                        .iter()
                        .filter_map(|x| match x {
                            Frame::Integer(i) => Some(*i),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            if got == want {
                return Ok(());
            }
            self.out_of_time(
                "the metadata group's voters",
                &format!("{got:?}, want {want:?}"),
            )?;
        }
    }

    /// Moves replicas until no node holds two more than another ([`next_move`]).
    fn rebalance(&mut self) -> Result<usize, String> {
        let mut moves = 0;
        let limit = self
            .meta
            .shards
            .values()
            .map(|s| s.replicas.len())
            .sum::<usize>()
            + 1;
        while moves < limit {
            self.refresh()?;
            let Some((shard, from, to)) =
                pending_move(&self.meta).or_else(|| next_move(&self.meta))
            else {
                break;
            };
            self.move_replica(shard, from, to)?;
            moves += 1;
        }
        Ok(moves)
    }
}

/// Replicas and preferred leaderships (first replica) per node, every node listed.
fn counts(meta: &Metadata) -> BTreeMap<NodeId, (usize, usize)> {
    let mut c: BTreeMap<NodeId, (usize, usize)> = meta.nodes.keys().map(|&n| (n, (0, 0))).collect();
    for s in meta.shards.values() {
        for (i, r) in s.replicas.iter().enumerate() {
            if let Some(e) = c.get_mut(r) {
                e.0 += 1;
                e.1 += usize::from(i == 0);
            }
        }
        for l in meta.learners.get(&s.id).into_iter().flatten() {
            if let Some(e) = c.get_mut(l) {
                e.0 += 1;
            }
        }
    }
    c
}

/// The next move that evens out replicas over the nodes: from a node holding the most to one holding at least
/// two fewer, of a shard the receiver does not hold; a shard the giver is preferred leader of goes first when the
/// giver also has more preferred leaderships (the receiver takes its place, so leaderships even out too).
pub fn next_move(meta: &Metadata) -> Option<(ShardId, NodeId, NodeId)> {
    let c = counts(meta);
    let mut givers: Vec<NodeId> = c.keys().copied().collect();
    givers.sort_by_key(|n| (std::cmp::Reverse(c[n]), *n));
    let mut takers: Vec<NodeId> = c.keys().copied().collect();
    takers.sort_by_key(|n| (c[n], *n));
    for &from in &givers {
        for &to in &takers {
            if c[&from].0 < c[&to].0 + 2 {
                break;
            }
            let lead_first = c[&from].1 > c[&to].1;
            let best = meta
                .shards
                .values()
                .filter(|s| s.replicas.contains(&from) && !s.replicas.contains(&to))
                .filter(|s| !meta.learners.get(&s.id).is_some_and(|l| l.contains(&to)))
                .max_by_key(|s| {
                    (
                        (s.replicas[0] == from) == lead_first,
                        std::cmp::Reverse(s.id),
                    )
                });
            if let Some(s) = best {
                return Some((s.id, from, to));
            }
        }
    }
    None
}

/// A move an interrupted run left half done (a learner recorded): it goes on, replacing the shard's replica on the
/// node holding the most replicas.
fn pending_move(meta: &Metadata) -> Option<(ShardId, NodeId, NodeId)> {
    let c = counts(meta);
    let (&shard, l) = meta.learners.iter().next()?;
    let from = meta.shards[&shard]
        .replicas
        .iter()
        .max_by_key(|r| (c.get(r).copied().unwrap_or_default(), **r))?;
    Some((shard, *from, *l.first()?))
}

/// Where each replica on `gone` goes when it leaves: the node with the fewest replicas (then fewest preferred
/// leaderships) that holds none of that shard; an error naming the first shard that has nowhere to go.
pub fn evacuation(meta: &Metadata, gone: NodeId) -> Result<Vec<(ShardId, NodeId)>, String> {
    let mut c = counts(meta);
    c.remove(&gone);
    let mut plan = Vec::new();
    for s in meta.shards.values().filter(|s| s.replicas.contains(&gone)) {
        let learners = meta.learners.get(&s.id);
        // A learner already catching up (an interrupted run) is where the replica goes.
        let joining = learners.and_then(|l| l.iter().find(|n| c.contains_key(n)).copied());
        let to = joining.or_else(|| {
            c.iter()
                .filter(|(n, _)| {
                    !s.replicas.contains(n) && !learners.is_some_and(|l| l.contains(n))
                })
                .min_by_key(|(n, k)| (**k, **n))
                .map(|(n, _)| *n)
        });
        let Some(to) = to else {
            return Err(format!(
                "cannot remove node {gone}: every other node already holds a replica of shard {} (add a node \
                 first, or remove a node of a cluster with more nodes than replicas per shard)",
                s.id
            ));
        };
        if let Some(e) = c.get_mut(&to) {
            e.0 += 1;
            e.1 += usize::from(s.replicas[0] == gone);
        }
        plan.push((s.id, to));
    }
    Ok(plan)
}

struct Opts {
    words: Vec<String>,
    flags: BTreeMap<String, String>,
    timeout: Duration,
}

fn parse_opts(args: &[String], valued: &[&str], bare: &[&str]) -> Result<Opts, String> {
    let mut o = Opts {
        words: Vec::new(),
        flags: BTreeMap::new(),
        timeout: Duration::from_secs(120),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--timeout" {
            let v = it
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or("--timeout needs a number")?;
            o.timeout = Duration::from_secs(v);
        } else if valued.contains(&a.as_str()) {
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            o.flags.insert(a.clone(), v.clone());
        } else if bare.contains(&a.as_str()) {
            o.flags.insert(a.clone(), String::new());
        } else if a.starts_with("--") {
            return Err(format!("unknown option {a}\n{USAGE}"));
        } else {
            o.words.push(a.clone());
        }
    }
    Ok(o)
}

/// `cluster add-node <new> <existing> [--rebalance]`.
pub fn add_node(args: &[String]) -> Result<String, String> {
    let o = parse_opts(args, &[], &["--rebalance"])?;
    let [new, existing] = o.words.as_slice() else {
        return Err(USAGE.to_string());
    };
    let new = parse_node(new)?;
    let mut probe = Client::connect(&new.client_addr())?;
    let local = match probe.call(&[b"CLUSTER", b"MEMBERSHIP", b"META", b"LOCAL"])? {
        Frame::Bulk(b) => Metadata::decode(&b)?,
        other => return Err(format!("{}: {}", new.client_addr(), frame_text(&other))),
    };
    let mut a = Admin::connect(existing, o.timeout)?;
    let known = |m: &Metadata| {
        m.nodes
            .values()
            .find(|n| n.host == new.host && n.port == new.port)
            .map(|n| n.id)
    };
    if local.epoch != 0 && known(&a.meta).is_none() {
        return Err(format!(
            "{} is already part of a cluster (start it with an empty data directory)",
            new.client_addr()
        ));
    }
    a.say(format!(
        ">>> Adding node {} to the cluster",
        new.client_addr()
    ));
    a.change("adding the node", |m| {
        if known(m).is_some() {
            return Ok(None);
        }
        let mut next = m.clone();
        let id = m.nodes.keys().next_back().copied().unwrap_or(0) + 1;
        next.nodes.insert(id, NodeInfo { id, ..new.clone() });
        Ok(Some(next))
    })?;
    let id = known(&a.meta).ok_or("the node vanished from the metadata")?;
    let (sid, blob) = (id.to_string(), a.meta.encode());
    match probe.call(&[b"CLUSTER", b"MEMBERSHIP", b"JOIN", sid.as_bytes(), &blob])? {
        Frame::Error(e) => return Err(format!("{}: {e}", new.client_addr())),
        _ => a.say(format!(
            "    {} is node {id} ({})",
            new.client_addr(),
            cluster::node_name(id)
        )),
    }
    a.wait_meta_voters()?;
    loop {
        let info = frame_text(&probe.call(&[b"CLUSTER", b"INFO"])?);
        if info.contains("cluster_state:ok") {
            break;
        }
        a.out_of_time("the new node reporting cluster_state:ok", &info)?;
    }
    a.say(format!(
        "[OK] Node {} joined the cluster.",
        new.client_addr()
    ));
    if o.flags.contains_key("--rebalance") {
        let n = a.rebalance()?;
        a.say(format!("[OK] Replicas balanced ({n} moved)."));
    }
    Ok(a.log)
}

/// `cluster move-replica --shard S --from N1 --to N2 <existing>`.
pub fn move_replica(args: &[String]) -> Result<String, String> {
    let o = parse_opts(args, &["--shard", "--from", "--to"], &[])?;
    let ([existing], Some(shard), Some(from), Some(to)) = (
        o.words.as_slice(),
        o.flags.get("--shard"),
        o.flags.get("--from"),
        o.flags.get("--to"),
    ) else {
        return Err(USAGE.to_string());
    };
    let shard: ShardId = shard
        .parse()
        .map_err(|_| format!("invalid shard '{shard}'"))?;
    let mut a = Admin::connect(existing, o.timeout)?;
    if !a.meta.shards.contains_key(&shard) {
        return Err(format!("no shard {shard} in the cluster"));
    }
    let (from, to) = (a.node(from)?, a.node(to)?);
    if from == to {
        return Err("--from and --to name the same node".into());
    }
    a.move_replica(shard, from, to)?;
    Ok(a.log)
}

/// `cluster rebalance-replicas <existing>`.
pub fn rebalance_replicas(args: &[String]) -> Result<String, String> {
    let o = parse_opts(args, &[], &[])?;
    let [existing] = o.words.as_slice() else {
        return Err(USAGE.to_string());
    };
    let mut a = Admin::connect(existing, o.timeout)?;
    let n = a.rebalance()?;
    a.say(format!("[OK] Replicas balanced ({n} moved)."));
    Ok(a.log)
}

/// `cluster remove-node <node> <existing>`.
pub fn remove_node(args: &[String]) -> Result<String, String> {
    let o = parse_opts(args, &[], &[])?;
    let [gone, existing] = o.words.as_slice() else {
        return Err(USAGE.to_string());
    };
    let mut a = Admin::connect(existing, o.timeout)?;
    let gone = a.node(gone)?;
    if a.meta.nodes.len() == 1 {
        return Err("cannot remove the last node of a cluster".into());
    }
    let addr = a.addr(gone);
    // Refused before anything moves if some shard has nowhere to go.
    evacuation(&a.meta, gone)?;
    a.say(format!(">>> Removing node {addr} (node {gone})"));
    // Learners on it (an interrupted move to it) are dropped first.
    a.change("dropping its learners", |m| {
        if !m.learners.values().any(|l| l.contains(&gone)) {
            return Ok(None);
        }
        let mut next = m.clone();
        for l in next.learners.values_mut() {
            l.retain(|n| *n != gone);
        }
        next.learners.retain(|_, l| !l.is_empty());
        Ok(Some(next))
    })?;
    loop {
        a.refresh()?;
        let plan = evacuation(&a.meta, gone)?;
        let Some(&(shard, to)) = plan.first() else {
            break;
        };
        a.move_replica(shard, gone, to)?;
    }
    a.change("removing the node", |m| {
        if !m.nodes.contains_key(&gone) {
            return Ok(None);
        }
        let mut next = m.clone();
        next.nodes.remove(&gone);
        Ok(Some(next))
    })?;
    a.meta_addrs.retain(|x| x != &addr);
    a.wait_meta_voters()?;
    // The removed node forgets the cluster once it hears of it (by its own gossip's answers).
    loop {
        let last = match Client::connect(&addr).and_then(|mut c| c.call(&[b"CLUSTER", b"MYID"])) {
            Ok(Frame::Bulk(b)) if b.iter().all(|&c| c == b'0') => break,
            Ok(f) => frame_text(&f),
            Err(e) => {
                a.say(format!(
                    "    {addr} is unreachable ({e}): it leaves when it comes back"
                ));
                break;
            }
        };
        a.out_of_time("the removed node leaving", &last)?;
    }
    a.say(format!("[OK] Node {addr} removed from the cluster."));
    Ok(a.log)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(nodes: u16, shards: usize, replicas: usize) -> Metadata {
        let nodes = (1..=nodes)
            .map(|i| NodeInfo {
                id: 0,
                host: "127.0.0.1".into(),
                port: 7000 + i,
                bus_port: 17000 + i,
            })
            .collect();
        Metadata::layout(nodes, shards, replicas).unwrap()
    }

    fn add(m: &mut Metadata, id: NodeId) {
        m.nodes.insert(
            id,
            NodeInfo {
                id,
                host: "127.0.0.1".into(),
                port: 7000 + id as u16,
                bus_port: 17000 + id as u16,
            },
        );
    }

    fn apply(m: &mut Metadata, (shard, from, to): (ShardId, NodeId, NodeId)) {
        for r in m.shards.get_mut(&shard).unwrap().replicas.iter_mut() {
            if *r == from {
                *r = to;
            }
        }
        m.validate().unwrap();
    }

    #[test]
    fn rebalancing_evens_replicas_and_preferred_leaders() {
        for (nodes, shards, replicas, added) in
            [(3, 3, 3, 1), (3, 3, 2, 1), (3, 6, 3, 3), (4, 8, 2, 2)]
        {
            let mut m = layout(nodes, shards, replicas);
            for i in 0..added {
                add(&mut m, NodeId::from(nodes) + 1 + i);
            }
            let mut moves = 0;
            while let Some(mv) = next_move(&m) {
                apply(&mut m, mv);
                moves += 1;
                assert!(moves < 100);
            }
            let c = counts(&m);
            let (lo, hi) = (c.values().map(|v| v.0).min(), c.values().map(|v| v.0).max());
            assert!(hi.unwrap() - lo.unwrap() <= 1, "{c:?}");
            let (lo, hi) = (c.values().map(|v| v.1).min(), c.values().map(|v| v.1).max());
            assert!(
                hi.unwrap() - lo.unwrap() <= 1,
                "{nodes} {shards} {replicas} {added}: {c:?}"
            );
            assert!(moves > 0);
        }
        // Balanced already: nothing to do.
        assert_eq!(next_move(&layout(3, 3, 3)), None);
    }

    #[test]
    fn evacuation_refuses_when_a_shard_has_nowhere_to_go() {
        let m = layout(3, 3, 3);
        assert!(evacuation(&m, 2).unwrap_err().contains("shard 1"));
        let mut m = layout(3, 3, 2);
        add(&mut m, 4);
        let plan = evacuation(&m, 1).unwrap();
        // Node 1 holds shards 1 and 3; node 4 (empty) takes the first, then the least loaded that can.
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0], (1, 4));
        for (shard, to) in plan {
            assert!(!m.shards[&shard].replicas.contains(&to));
        }
        // An interrupted run left a learner: the replica goes there.
        let mut m2 = m.clone();
        m2.learners.insert(1, vec![3]);
        m2.validate().unwrap();
        assert_eq!(evacuation(&m2, 1).unwrap()[0], (1, 3));
        assert_eq!(pending_move(&m2).map(|(s, _, to)| (s, to)), Some((1, 3)));
        // Nodes that hold no replica leave without moves.
        let mut m = layout(3, 3, 3);
        add(&mut m, 4);
        assert_eq!(evacuation(&m, 4).unwrap(), vec![]);
    }
}
