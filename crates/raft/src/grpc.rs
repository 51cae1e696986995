//! The Raft transport between processes: every group's RPCs over one gRPC service (`proto/raft.proto`), one
//! HTTP/2 channel per peer shared by all groups, payloads encoded with postcard.
//!
//! Client side: [`GrpcPeers`] (one per node) hands out a [`GrpcNetwork`] per group. Server side: [`GrpcRegistry`]
//! maps group ids to the local Raft handles; [`GrpcRegistry::service`] is the tonic service to mount on the
//! cluster-bus port (or [`serve`] runs a server with only it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};

use crate::types::typ::Raft;
use crate::types::{GroupId, Node, NodeId, TypeConfig};

/// Generated protobuf and tonic code.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("shoal.raft");
}

use pb::raft_bus_client::RaftBusClient;
use pb::raft_bus_server::{RaftBus, RaftBusServer};
pub use pb::PublishedMessage;
use pb::{GossipMessage, Kind, PublishAck, PublishBatch, RaftReply, RaftRequest};

/// Largest gRPC message accepted or sent: a snapshot chunk (openraft's `snapshot_max_chunk_size`, 3 MiB by
/// default) or a large append, with room to spare over tonic's 4 MiB default.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

#[derive(Debug)]
struct Msg(String);

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Msg {}

/// Channels to the peers of one node, shared by all its groups. Cheap to clone.
#[derive(Clone, Default)]
pub struct GrpcPeers {
    channels: Arc<Mutex<HashMap<NodeId, (String, Channel)>>>,
}

impl GrpcPeers {
    /// No channel yet; each is created lazily on first use.
    pub fn new() -> GrpcPeers {
        GrpcPeers::default()
    }

    /// The network factory of `group`.
    pub fn network(&self, group: GroupId) -> GrpcNetwork {
        GrpcNetwork {
            peers: self.clone(),
            group,
        }
    }

    /// Sends one gossip message to node `target` at `addr` (its member address) and returns its answer.
    pub async fn gossip(
        &self,
        target: NodeId,
        addr: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let channel = self.channel(target, addr).map_err(|e| e.0)?;
        let mut client = RaftBusClient::new(channel);
        let mut request = tonic::Request::new(GossipMessage { payload });
        request.set_timeout(timeout);
        match client.gossip(request).await {
            Ok(r) => Ok(r.into_inner().payload),
            Err(s) => Err(format!("{}: {}", s.code(), s.message())),
        }
    }

    /// Sends a batch of pub/sub messages to node `target` at `addr` (its member address) for its subscribers.
    pub async fn publish(
        &self,
        target: NodeId,
        addr: &str,
        messages: Vec<PublishedMessage>,
        timeout: Duration,
    ) -> Result<(), String> {
        let channel = self.channel(target, addr).map_err(|e| e.0)?;
        let mut client = RaftBusClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let mut request = tonic::Request::new(PublishBatch { messages });
        request.set_timeout(timeout);
        match client.publish(request).await {
            Ok(_) => Ok(()),
            Err(s) => Err(format!("{}: {}", s.code(), s.message())),
        }
    }

    fn channel(&self, target: NodeId, addr: &str) -> Result<Channel, Msg> {
        let mut ch = self.channels.lock();
        if let Some((a, c)) = ch.get(&target) {
            if a == addr {
                return Ok(c.clone());
            }
        }
        let uri = if addr.contains("://") {
            addr.to_string()
        } else {
            format!("http://{}", bus_addr(addr))
        };
        // Lazy: creating a client must not connect (openraft creates them from its core loop).
        let c = Endpoint::from_shared(uri)
            .map_err(|e| Msg(format!("bad address {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .connect_lazy();
        ch.insert(target, (addr.to_string(), c.clone()));
        Ok(c)
    }
}

/// The cluster-bus address in a member address: `host:port@cport` (Redis' notation, the client port first) names
/// `host:cport`; an address without `@` is the bus address itself.
pub fn bus_addr(addr: &str) -> String {
    match addr.split_once('@') {
        Some((client, cport)) => {
            let host = client.rsplit_once(':').map_or(client, |(h, _)| h);
            format!("{host}:{cport}")
        }
        None => addr.to_string(),
    }
}

/// [`RaftNetworkFactory`] of one group over gRPC.
#[derive(Clone)]
pub struct GrpcNetwork {
    peers: GrpcPeers,
    group: GroupId,
}

/// A gRPC connection of one group to one peer.
pub struct GrpcConnection {
    client: Result<RaftBusClient<Channel>, Msg>,
    target: NodeId,
    group: GroupId,
}

impl RaftNetworkFactory<TypeConfig> for GrpcNetwork {
    type Network = GrpcConnection;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> GrpcConnection {
        let client = self.peers.channel(target, &node.addr).map(|c| {
            RaftBusClient::new(c)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE)
        });
        GrpcConnection {
            client,
            target,
            group: self.group,
        }
    }
}

impl GrpcConnection {
    async fn call<Req, Resp, E>(
        &mut self,
        kind: Kind,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(c) => c,
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(&Msg(e.0.clone())))),
        };
        let payload =
            postcard::to_allocvec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftRequest {
            group_id: self.group,
            kind: kind as i32,
            payload,
        });
        request.set_timeout(option.hard_ttl());
        let reply = client.call(request).await.map_err(|s| {
            let e = Msg(format!("{}: {}", s.code(), s.message()));
            match s.code() {
                // Down, refusing connections, or not hosting the group: openraft backs off before retrying.
                tonic::Code::Unavailable | tonic::Code::NotFound => {
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                _ => RPCError::Network(NetworkError::new(&e)),
            }
        })?;
        let res: Result<Resp, RaftError<NodeId, E>> =
            postcard::from_bytes(&reply.into_inner().payload)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for GrpcConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.call(Kind::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Kind::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.call(Kind::Vote, &rpc, &option).await
    }
}

/// Answers a gossip message with this node's own (both opaque to the transport).
pub type GossipHandler = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// Takes in a batch of pub/sub messages forwarded by a peer.
pub type PublishHandler = Arc<dyn Fn(Vec<PublishedMessage>) + Send + Sync>;

/// The groups this node serves to its peers, and its gossip handler. Cheap to clone.
#[derive(Clone, Default)]
pub struct GrpcRegistry {
    groups: Arc<RwLock<HashMap<GroupId, Raft>>>,
    gossip: Arc<RwLock<Option<GossipHandler>>>,
    publish: Arc<RwLock<Option<PublishHandler>>>,
}

impl GrpcRegistry {
    /// No group yet.
    pub fn new() -> GrpcRegistry {
        GrpcRegistry::default()
    }

    /// Serves `raft` as group `group`.
    pub fn register(&self, group: GroupId, raft: Raft) {
        self.groups.write().insert(group, raft);
    }

    /// Answers gossip with `handler` (a node outside cluster mode answers `unimplemented`).
    pub fn set_gossip(&self, handler: GossipHandler) {
        *self.gossip.write() = Some(handler);
    }

    /// Delivers pub/sub messages forwarded by peers with `handler` (a node outside cluster mode answers
    /// `unimplemented`).
    pub fn set_publish(&self, handler: PublishHandler) {
        *self.publish.write() = Some(handler);
    }

    /// Stops serving a group (do this before shutting the group down).
    pub fn unregister(&self, group: GroupId) {
        self.groups.write().remove(&group);
    }

    /// The tonic service to mount on the cluster-bus server, with raised message limits.
    pub fn service(&self) -> RaftBusServer<GrpcRegistry> {
        RaftBusServer::new(self.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, tonic::Status> {
    postcard::from_bytes(payload)
        .map_err(|e| tonic::Status::invalid_argument(format!("bad payload: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<tonic::Response<RaftReply>, tonic::Status> {
    postcard::to_allocvec(v)
        .map(|payload| tonic::Response::new(RaftReply { payload }))
        .map_err(|e| tonic::Status::internal(format!("encode reply: {e}")))
}

#[tonic::async_trait]
impl RaftBus for GrpcRegistry {
    async fn call(
        &self,
        request: tonic::Request<RaftRequest>,
    ) -> Result<tonic::Response<RaftReply>, tonic::Status> {
        let req = request.into_inner();
        let raft = self
            .groups
            .read()
            .get(&req.group_id)
            .cloned()
            .ok_or_else(|| {
                tonic::Status::not_found(format!("group {} is not hosted here", req.group_id))
            })?;
        match Kind::try_from(req.kind) {
            Ok(Kind::AppendEntries) => encode(&raft.append_entries(decode(&req.payload)?).await),
            Ok(Kind::Vote) => encode(&raft.vote(decode(&req.payload)?).await),
            Ok(Kind::InstallSnapshot) => {
                encode(&raft.install_snapshot(decode(&req.payload)?).await)
            }
            _ => Err(tonic::Status::invalid_argument(format!(
                "unknown call kind {}",
                req.kind
            ))),
        }
    }

    async fn gossip(
        &self,
        request: tonic::Request<GossipMessage>,
    ) -> Result<tonic::Response<GossipMessage>, tonic::Status> {
        let handler = self
            .gossip
            .read()
            .clone()
            .ok_or_else(|| tonic::Status::unimplemented("this node is not in cluster mode"))?;
        let payload = handler(request.into_inner().payload);
        Ok(tonic::Response::new(GossipMessage { payload }))
    }

    async fn publish(
        &self,
        request: tonic::Request<PublishBatch>,
    ) -> Result<tonic::Response<PublishAck>, tonic::Status> {
        let handler = self
            .publish
            .read()
            .clone()
            .ok_or_else(|| tonic::Status::unimplemented("this node is not in cluster mode"))?;
        handler(request.into_inner().messages);
        Ok(tonic::Response::new(PublishAck {}))
    }
}

/// Runs a gRPC server with only the Raft service on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: GrpcRegistry,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use tokio_stream::StreamExt;
    // Replies go out at once: with Nagle's algorithm a small AppendEntries answer can wait for the peer's
    // delayed ACK, and every commit waits for that answer.
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    });
    tonic::transport::Server::builder()
        .add_service(registry.service())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
