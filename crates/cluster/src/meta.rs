//! Cluster metadata: the nodes, the shards and their replicas, which shard owns each slot, slots being moved,
//! and the epoch that versions it all. Changed only through the metadata Raft group; every node keeps a copy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::slot::{Slot, SLOTS};

/// A node: one process, the same id in every Raft group it is part of.
pub type NodeId = u64;
/// A shard, which is also the id of its Raft group. Data shards are numbered from 1.
pub type ShardId = u64;

/// Raft group id of the metadata group. Data shards use their shard id (from 1); group 0 stays the single shard
/// of a node outside cluster mode, so a data directory never mixes the two meanings.
pub const META_GROUP: u64 = u64::MAX;

/// Most voters of the metadata group: the first nodes by id (more only slow its commits down).
pub const META_VOTERS: usize = 5;

/// A node as clients and peers reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Raft node id.
    pub id: NodeId,
    /// Host (or IP) announced to clients and peers.
    pub host: String,
    /// RESP port.
    pub port: u16,
    /// Cluster-bus (gRPC) port.
    pub bus_port: u16,
}

impl NodeInfo {
    /// `host:port`, where clients go (`-MOVED`, `CLUSTER SLOTS`).
    pub fn client_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `host:port@cport`, Redis' notation, also the address stored in the Raft memberships.
    pub fn member_addr(&self) -> String {
        format!("{}:{}@{}", self.host, self.port, self.bus_port)
    }

    /// The 40-character name Redis clients see (`CLUSTER MYID`, `CLUSTER NODES`): the id in hexadecimal.
    pub fn name(&self) -> String {
        node_name(self.id)
    }
}

/// The 40-character hexadecimal name of node `id`.
pub fn node_name(id: NodeId) -> String {
    format!("{id:040x}")
}

/// The 40-character hexadecimal name of shard `id` (`CLUSTER MYSHARDID`, `CLUSTER SHARDS`).
pub fn shard_name(id: ShardId) -> String {
    format!("{id:040x}")
}

/// A shard: one Raft group with replicas on distinct nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Shard (and Raft group) id.
    pub id: ShardId,
    /// Nodes holding a replica (the group's voters), the preferred leader first.
    pub replicas: Vec<NodeId>,
}

/// A slot being moved from one shard to another (`ASK` while it lasts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// The shard that owns the slot until the move ends.
    pub from: ShardId,
    /// The shard receiving its keys.
    pub to: ShardId,
}

/// Which shard owns each slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMap {
    owner: Box<[ShardId]>,
}

impl Default for SlotMap {
    fn default() -> SlotMap {
        SlotMap {
            owner: vec![0; SLOTS].into_boxed_slice(),
        }
    }
}

impl SlotMap {
    /// The shard owning `slot`, if any.
    pub fn owner(&self, slot: Slot) -> Option<ShardId> {
        match self.owner.get(usize::from(slot)) {
            Some(&0) | None => None,
            Some(&s) => Some(s),
        }
    }

    /// Assigns the slots `start..=end` to `shard` (0 unassigns).
    pub fn assign(&mut self, start: Slot, end: Slot, shard: ShardId) {
        for s in usize::from(start)..=usize::from(end).min(SLOTS - 1) {
            self.owner[s] = shard;
        }
    }

    /// Runs of consecutive slots with the same owner: `(start, end, shard)`, in slot order, unassigned runs left
    /// out.
    pub fn ranges(&self) -> Vec<(Slot, Slot, ShardId)> {
        let mut out: Vec<(Slot, Slot, ShardId)> = Vec::new();
        for (slot, &shard) in self.owner.iter().enumerate() {
            if shard == 0 {
                continue;
            }
            match out.last_mut() {
                Some((_, end, s)) if *s == shard && usize::from(*end) + 1 == slot => {
                    *end = slot as Slot
                }
                _ => out.push((slot as Slot, slot as Slot, shard)),
            }
        }
        out
    }

    /// The ranges owned by `shard`.
    pub fn ranges_of(&self, shard: ShardId) -> Vec<(Slot, Slot)> {
        self.ranges()
            .into_iter()
            .filter(|r| r.2 == shard)
            .map(|(a, b, _)| (a, b))
            .collect()
    }

    /// Number of slots with an owner.
    pub fn assigned(&self) -> usize {
        self.owner.iter().filter(|&&s| s != 0).count()
    }
}

impl Serialize for SlotMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ranges().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SlotMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SlotMap, D::Error> {
        let ranges = Vec::<(Slot, Slot, ShardId)>::deserialize(d)?;
        let mut map = SlotMap::default();
        for (a, b, shard) in ranges {
            if a > b || usize::from(b) >= SLOTS {
                return Err(serde::de::Error::custom("slot range out of bounds"));
            }
            map.assign(a, b, shard);
        }
        Ok(map)
    }
}

/// Everything the cluster agrees on, versioned by `epoch` (Redis' `cluster_current_epoch`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Incremented by every change; a node hearing of a higher one adopts that copy.
    pub epoch: u64,
    /// Every node, by id.
    pub nodes: BTreeMap<NodeId, NodeInfo>,
    /// Every shard, by id.
    pub shards: BTreeMap<ShardId, ShardInfo>,
    /// Slot owners.
    pub slots: SlotMap,
    /// Slots being moved.
    pub migrations: BTreeMap<Slot, Migration>,
    /// Replicas being added to a shard (`shoal-server cluster move-replica`): the node hosts the group as a Raft
    /// learner, catching up, until it replaces a voter. Last, so that older copies still decode.
    pub learners: BTreeMap<ShardId, Vec<NodeId>>,
}

/// [`Metadata`] as encoded before `learners` existed (the metadata group's log and `cluster.state` may hold it).
#[derive(Deserialize)]
struct MetadataV1 {
    epoch: u64,
    nodes: BTreeMap<NodeId, NodeInfo>,
    shards: BTreeMap<ShardId, ShardInfo>,
    slots: SlotMap,
    migrations: BTreeMap<Slot, Migration>,
}

impl Metadata {
    /// The layout `cluster create` sets up: `shards` shards of `replicas` replicas each over `nodes` (ids
    /// 1, 2, ... in the order given), slots split evenly in shard order, shard `s`'s replicas on the `replicas`
    /// nodes that follow node `s` round the ring, so replicas are on distinct nodes and every node is the preferred
    /// leader of as many shards as any other (within one).
    pub fn layout(
        nodes: Vec<NodeInfo>,
        shards: usize,
        replicas: usize,
    ) -> Result<Metadata, String> {
        let n = nodes.len();
        if n == 0 {
            return Err("a cluster needs at least one node".into());
        }
        if shards == 0 || shards > SLOTS {
            return Err(format!(
                "the number of shards must be between 1 and {SLOTS}"
            ));
        }
        if replicas == 0 || replicas > n {
            return Err(format!(
                "{replicas} replicas per shard need as many distinct nodes, there are {n}"
            ));
        }
        let mut meta = Metadata {
            epoch: 1,
            ..Metadata::default()
        };
        for (i, mut node) in nodes.into_iter().enumerate() {
            node.id = i as NodeId + 1;
            if meta
                .nodes
                .values()
                .any(|o| o.host == node.host && o.port == node.port)
            {
                return Err(format!("node {}:{} is listed twice", node.host, node.port));
            }
            meta.nodes.insert(node.id, node);
        }
        // redis-cli's split, so a Shoal cluster of N shards has the ranges a Redis cluster of N masters has.
        let per_shard = SLOTS as f64 / shards as f64;
        let mut cursor = 0.0f64;
        let mut first = 0usize;
        for s in 0..shards {
            let id = s as ShardId + 1;
            let replicas = (0..replicas).map(|j| ((s + j) % n) as NodeId + 1).collect();
            meta.shards.insert(id, ShardInfo { id, replicas });
            let mut last = (cursor + per_shard - 1.0).round() as usize;
            if last > SLOTS - 1 || s == shards - 1 {
                last = SLOTS - 1;
            }
            last = last.max(first);
            meta.slots.assign(first as Slot, last as Slot, id);
            first = last + 1;
            cursor += per_shard;
        }
        Ok(meta)
    }

    /// The shards with a replica on `node`.
    pub fn shards_of(&self, node: NodeId) -> Vec<ShardId> {
        self.shards
            .values()
            .filter(|s| s.replicas.contains(&node))
            .map(|s| s.id)
            .collect()
    }

    /// The shards whose group `node` runs: those it is a replica of, and those it is joining as a learner.
    pub fn hosted_by(&self, node: NodeId) -> Vec<ShardId> {
        self.shards
            .values()
            .filter(|s| {
                s.replicas.contains(&node)
                    || self.learners.get(&s.id).is_some_and(|l| l.contains(&node))
            })
            .map(|s| s.id)
            .collect()
    }

    /// The voters of the metadata group: the first [`META_VOTERS`] nodes by id.
    pub fn meta_voters(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().take(META_VOTERS).collect()
    }

    /// Checks the invariants every copy must hold: replicas are known nodes, distinct within a shard; slot
    /// owners and migrations name known shards.
    pub fn validate(&self) -> Result<(), String> {
        for s in self.shards.values() {
            if s.id == 0 || s.id == META_GROUP {
                return Err(format!("shard id {} is reserved", s.id));
            }
            if s.replicas.is_empty() {
                return Err(format!("shard {} has no replica", s.id));
            }
            for (i, r) in s.replicas.iter().enumerate() {
                if !self.nodes.contains_key(r) {
                    return Err(format!("shard {} names unknown node {r}", s.id));
                }
                if s.replicas[..i].contains(r) {
                    return Err(format!("shard {} has two replicas on node {r}", s.id));
                }
            }
        }
        for (shard, learners) in &self.learners {
            let Some(s) = self.shards.get(shard) else {
                return Err(format!("learners of unknown shard {shard}"));
            };
            for (i, l) in learners.iter().enumerate() {
                if !self.nodes.contains_key(l) {
                    return Err(format!("shard {shard} names unknown learner {l}"));
                }
                if s.replicas.contains(l) || learners[..i].contains(l) {
                    return Err(format!("shard {shard} has two replicas on node {l}"));
                }
            }
        }
        for (_, _, shard) in self.slots.ranges() {
            if !self.shards.contains_key(&shard) {
                return Err(format!("slots assigned to unknown shard {shard}"));
            }
        }
        for (slot, m) in &self.migrations {
            if self.slots.owner(*slot) != Some(m.from) || !self.shards.contains_key(&m.to) {
                return Err(format!("migration of slot {slot} does not match its owner"));
            }
        }
        Ok(())
    }

    /// The compact binary form stored in the metadata group's log and snapshots, and gossiped.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes [`Metadata::encode`]'s form and validates it.
    pub fn decode(b: &[u8]) -> Result<Metadata, String> {
        let m: Metadata = match postcard::from_bytes(b) {
            Ok(m) => m,
            Err(e) => match postcard::from_bytes::<MetadataV1>(b) {
                Ok(v1) => Metadata {
                    epoch: v1.epoch,
                    nodes: v1.nodes,
                    shards: v1.shards,
                    slots: v1.slots,
                    migrations: v1.migrations,
                    learners: BTreeMap::new(),
                },
                Err(_) => return Err(format!("bad metadata: {e}")),
            },
        };
        m.validate()?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16) -> NodeInfo {
        NodeInfo {
            id: 0,
            host: "127.0.0.1".into(),
            port,
            bus_port: port + 10000,
        }
    }

    #[test]
    fn layout_splits_slots_evenly_and_spreads_replicas() {
        let m = Metadata::layout(vec![node(7001), node(7002), node(7003)], 3, 3).unwrap();
        m.validate().unwrap();
        assert_eq!(m.epoch, 1);
        assert_eq!(m.slots.assigned(), SLOTS);
        assert_eq!(
            m.slots.ranges(),
            vec![(0, 5460, 1), (5461, 10922, 2), (10923, 16383, 3)]
        );
        assert_eq!(m.shards[&1].replicas, vec![1, 2, 3]);
        assert_eq!(m.shards[&2].replicas, vec![2, 3, 1]);
        assert_eq!(m.shards[&3].replicas, vec![3, 1, 2]);
        assert_eq!(m.shards_of(2), vec![1, 2, 3]);
        // The split is redis-cli's (`--cluster create` with 3 masters gives the ranges above).
        for shards in [1, 2, 5, 7, 16, 100, 16384] {
            let m = Metadata::layout(vec![node(1)], shards, 1).unwrap();
            assert_eq!(m.slots.assigned(), SLOTS);
            assert_eq!(m.slots.ranges().len(), shards);
        }
        let m = Metadata::layout(vec![node(1), node(2), node(3), node(4)], 8, 2).unwrap();
        for s in m.shards.values() {
            assert_ne!(s.replicas[0], s.replicas[1]);
        }
        let mut leads = [0; 5];
        for s in m.shards.values() {
            leads[s.replicas[0] as usize] += 1;
        }
        assert_eq!(&leads[1..], &[2, 2, 2, 2]);
        assert_eq!(m.meta_voters(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn layout_refuses_impossible_requests() {
        assert!(Metadata::layout(vec![node(1), node(2)], 2, 3).is_err());
        assert!(Metadata::layout(vec![], 1, 1).is_err());
        assert!(Metadata::layout(vec![node(1)], 0, 1).is_err());
        assert!(Metadata::layout(vec![node(1), node(1)], 1, 1).is_err());
    }

    #[test]
    fn metadata_round_trips_and_is_validated() {
        let mut m = Metadata::layout(vec![node(7001), node(7002), node(7003)], 3, 2).unwrap();
        m.migrations.insert(5, Migration { from: 1, to: 2 });
        let back = Metadata::decode(&m.encode()).unwrap();
        assert_eq!(back, m);
        m.migrations.insert(5, Migration { from: 2, to: 1 });
        assert!(Metadata::decode(&m.encode()).is_err());
        assert!(Metadata::decode(b"\xff\xff").is_err());
    }

    #[test]
    fn learners_are_hosted_and_validated_and_older_copies_decode() {
        let mut m = Metadata::layout(vec![node(7001), node(7002), node(7003)], 3, 2).unwrap();
        m.nodes.insert(
            4,
            NodeInfo {
                id: 4,
                ..node(7004)
            },
        );
        assert_eq!(m.hosted_by(4), Vec::<ShardId>::new());
        m.learners.insert(2, vec![4]);
        m.validate().unwrap();
        assert_eq!(m.hosted_by(4), vec![2]);
        assert_eq!(m.shards_of(4), Vec::<ShardId>::new());
        assert_eq!(Metadata::decode(&m.encode()).unwrap(), m);
        m.learners.insert(2, vec![2]);
        assert!(m.validate().is_err(), "a learner that is already a replica");
        m.learners.insert(2, vec![9]);
        assert!(m.validate().is_err(), "an unknown learner");
        m.learners.clear();
        m.learners.insert(9, vec![4]);
        assert!(m.validate().is_err(), "learners of an unknown shard");
        // A copy encoded before learners existed (the same fields, without the last) still decodes.
        m.learners.clear();
        #[derive(Serialize)]
        struct V1<'a>(
            u64,
            &'a BTreeMap<NodeId, NodeInfo>,
            &'a BTreeMap<ShardId, ShardInfo>,
            &'a SlotMap,
            &'a BTreeMap<Slot, Migration>,
        );
        let old = postcard::to_allocvec(&V1(m.epoch, &m.nodes, &m.shards, &m.slots, &m.migrations))
            .unwrap();
        assert_eq!(Metadata::decode(&old).unwrap(), m);
    }

    #[test]
    fn slot_map_ranges_merge_runs() {
        let mut s = SlotMap::default();
        assert_eq!(s.owner(0), None);
        s.assign(0, 9, 1);
        s.assign(10, 19, 2);
        s.assign(20, 29, 1);
        s.assign(5, 5, 0);
        assert_eq!(
            s.ranges(),
            vec![(0, 4, 1), (6, 9, 1), (10, 19, 2), (20, 29, 1)]
        );
        assert_eq!(s.ranges_of(1), vec![(0, 4), (6, 9), (20, 29)]);
        assert_eq!(s.owner(15), Some(2));
        assert_eq!(s.assigned(), 29);
    }

    #[test]
    fn names_are_forty_hex_characters() {
        assert_eq!(node_name(1), format!("{}1", "0".repeat(39)));
        assert_eq!(shard_name(255).len(), 40);
    }
}
