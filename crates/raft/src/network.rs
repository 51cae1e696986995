//! How a group's Raft messages reach its peers.
//!
//! openraft asks a [`RaftNetworkFactory`] for one connection per peer. This module holds the in-process
//! transport, [`LocalRouter`]: enough for a single-voter group (which never sends an RPC) and for clusters of
//! several nodes inside one process in tests, with isolation switches to simulate partitions. The gRPC transport
//! between processes implements the same two traits, and a [`crate::ShardGroup`] takes either.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::RwLock;

use crate::types::typ::Raft;
use crate::types::{GroupId, Node, NodeId, TypeConfig};

/// In-process registry of the Raft groups of every node, by `(node, group)`. Cheap to clone.
#[derive(Clone, Default)]
pub struct LocalRouter {
    inner: Arc<RwLock<RouterState>>,
}

#[derive(Default)]
struct RouterState {
    targets: HashMap<(NodeId, GroupId), Raft>,
    isolated: HashSet<NodeId>,
}

#[derive(Debug)]
struct Down(String);

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Down {}

impl LocalRouter {
    /// An empty router.
    pub fn new() -> LocalRouter {
        LocalRouter::default()
    }

    /// Makes `raft` reachable as group `group` on node `node`.
    pub fn register(&self, node: NodeId, group: GroupId, raft: Raft) {
        self.inner.write().targets.insert((node, group), raft);
    }

    /// Removes a group of a node (before shutting it down).
    pub fn unregister(&self, node: NodeId, group: GroupId) {
        self.inner.write().targets.remove(&(node, group));
    }

    /// Cuts (or restores) every message to and from `node`.
    pub fn set_isolated(&self, node: NodeId, isolated: bool) {
        let mut s = self.inner.write();
        if isolated {
            s.isolated.insert(node);
        } else {
            s.isolated.remove(&node);
        }
    }

    /// The network factory for group `group` as seen from node `from`.
    pub fn network(&self, from: NodeId, group: GroupId) -> LocalNetwork {
        LocalNetwork {
            router: self.clone(),
            from,
            group,
        }
    }

    fn target<E: std::error::Error>(
        &self,
        from: NodeId,
        to: NodeId,
        group: GroupId,
    ) -> Result<Raft, RPCError<NodeId, Node, E>> {
        let s = self.inner.read();
        if s.isolated.contains(&from) || s.isolated.contains(&to) {
            return Err(RPCError::Unreachable(Unreachable::new(&Down(format!(
                "node {to} is partitioned from node {from}"
            )))));
        }
        s.targets.get(&(to, group)).cloned().ok_or_else(|| {
            RPCError::Unreachable(Unreachable::new(&Down(format!(
                "group {group} is not running on node {to}"
            ))))
        })
    }
}

/// [`RaftNetworkFactory`] of one group on one node over a [`LocalRouter`].
#[derive(Clone)]
pub struct LocalNetwork {
    router: LocalRouter,
    from: NodeId,
    group: GroupId,
}

/// A connection to one peer over a [`LocalRouter`].
pub struct LocalConnection {
    router: LocalRouter,
    from: NodeId,
    to: NodeId,
    group: GroupId,
}

impl RaftNetworkFactory<TypeConfig> for LocalNetwork {
    type Network = LocalConnection;

    async fn new_client(&mut self, target: NodeId, _node: &Node) -> LocalConnection {
        LocalConnection {
            router: self.router.clone(),
            from: self.from,
            to: target,
            group: self.group,
        }
    }
}

fn remote<E: std::error::Error>(
    to: NodeId,
    e: RaftError<NodeId, E>,
) -> RPCError<NodeId, Node, RaftError<NodeId, E>> {
    match e {
        RaftError::Fatal(f) => RPCError::Network(NetworkError::new(&f)),
        e => RPCError::RemoteError(RemoteError::new(to, e)),
    }
}

impl RaftNetwork<TypeConfig> for LocalConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        let raft = self.router.target(self.from, self.to, self.group)?;
        raft.append_entries(rpc)
            .await
            .map_err(|e| remote(self.to, e))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let raft = self.router.target(self.from, self.to, self.group)?;
        raft.install_snapshot(rpc)
            .await
            .map_err(|e| remote(self.to, e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        let raft = self.router.target(self.from, self.to, self.group)?;
        raft.vote(rpc).await.map_err(|e| remote(self.to, e))
    }
}
