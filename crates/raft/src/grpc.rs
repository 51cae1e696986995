//! The Raft transport between processes: every group's RPCs over one gRPC service (`proto/raft.proto`), one
//! HTTP/2 channel per peer shared by all groups, payloads encoded with postcard. AppendEntries and votes go over
//! the leaner [`crate::wire`] connection on the same port instead, when the peer speaks it.
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
use crate::wire::{self, CallError, WirePeer};

/// Generated protobuf and tonic code.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("shoal.raft");
}

use pb::raft_bus_client::RaftBusClient;
use pb::raft_bus_server::{RaftBus, RaftBusServer};
use pb::{GossipMessage, Kind, RaftReply, RaftRequest};

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
    /// The lean transport of AppendEntries and votes (see [`crate::wire`]), by peer.
    wires: Arc<Mutex<HashMap<NodeId, WirePeer>>>,
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

    /// Whether node `target` is called over the wire transport (see [`WirePeer::speaks_wire`]).
    pub fn speaks_wire(&self, target: NodeId) -> Option<bool> {
        self.wires.lock().get(&target).and_then(|p| p.speaks_wire())
    }

    /// The wire connection to `target` at member address `addr`; `None` for an address given as a URI (called
    /// over gRPC only).
    fn wire(&self, target: NodeId, addr: &str) -> Option<WirePeer> {
        if addr.contains("://") {
            return None;
        }
        let bus = bus_addr(addr);
        let mut w = self.wires.lock();
        if let Some(p) = w.get(&target) {
            if p.addr() == bus {
                return Some(p.clone());
            }
        }
        let p = WirePeer::new(bus);
        w.insert(target, p.clone());
        Some(p)
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
    wire: Option<WirePeer>,
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
            wire: self.peers.wire(target, &node.addr),
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

impl GrpcConnection {
    /// The call over the wire transport; `None` if the peer speaks only gRPC.
    async fn call_wire<Req, Resp, E>(
        &mut self,
        kind: wire::Call,
        req: &Req,
    ) -> Option<Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let peer = self.wire.as_ref()?;
        let reply = match peer.call(self.group, kind, req).await {
            Ok(r) => r,
            Err(CallError::Legacy) => return None,
            Err(CallError::Unreachable(e)) => {
                return Some(Err(RPCError::Unreachable(Unreachable::new(&Msg(e)))))
            }
            Err(CallError::Bad(e)) => {
                return Some(Err(RPCError::Network(NetworkError::new(&Msg(e)))))
            }
        };
        Some(
            match postcard::from_bytes::<Result<Resp, RaftError<NodeId, E>>>(&reply) {
                Ok(res) => res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e))),
                Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
            },
        )
    }
}

impl RaftNetwork<TypeConfig> for GrpcConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        if let Some(r) = self.call_wire(wire::Call::AppendEntries, &rpc).await {
            return r;
        }
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
        if let Some(r) = self.call_wire(wire::Call::Vote, &rpc).await {
            return r;
        }
        self.call(Kind::Vote, &rpc, &option).await
    }
}

/// Answers a gossip message with this node's own (both opaque to the transport).
pub type GossipHandler = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

/// The groups this node serves to its peers, and its gossip handler. Cheap to clone.
#[derive(Clone, Default)]
pub struct GrpcRegistry {
    groups: Arc<RwLock<HashMap<GroupId, Raft>>>,
    gossip: Arc<RwLock<Option<GossipHandler>>>,
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

    /// The Raft handle serving `group`, if hosted here.
    pub(crate) fn raft(&self, group: GroupId) -> Option<Raft> {
        self.groups.read().get(&group).cloned()
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
}

/// Runs the cluster bus on `listener` until `shutdown` completes: a gRPC server with only the Raft service, and
/// the wire transport of AppendEntries and votes ([`crate::wire`]) on the same port, told apart by a
/// connection's first byte.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: GrpcRegistry,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (to_grpc, incoming) =
        tokio::sync::mpsc::channel::<std::io::Result<tokio::net::TcpStream>>(64);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let accept = tokio::spawn(accept_loop(listener, registry.clone(), to_grpc, stop));
    let result = tonic::transport::Server::builder()
        .add_service(registry.service())
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(incoming),
            async move {
                shutdown.await;
                // Stops accepting and closes the wire connections (gRPC drains its own).
                let _ = stop_tx.send(true);
            },
        )
        .await;
    // The listener goes with the accept task: a restarted node can bind the port again once this returns.
    accept.abort();
    let _ = accept.await;
    result
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    registry: GrpcRegistry,
    to_grpc: tokio::sync::mpsc::Sender<std::io::Result<tokio::net::TcpStream>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let s = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "cluster bus accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Replies go out at once: with Nagle's algorithm a small AppendEntries answer can wait for the peer's
        // delayed ACK, and every commit waits for that answer.
        let _ = s.set_nodelay(true);
        let (registry, to_grpc, stop) = (registry.clone(), to_grpc.clone(), stop.clone());
        tokio::spawn(async move {
            match wire::is_wire(&s).await {
                Some(true) => wire::serve_conn(s, registry, stop).await,
                Some(false) => {
                    let _ = to_grpc.send(Ok(s)).await;
                }
                None => {}
            }
        });
    }
}
