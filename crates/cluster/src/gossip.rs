//! What nodes tell each other over the cluster bus several times a second: the metadata they hold (a node hearing
//! of a newer epoch adopts it) and who leads the shards they host (with the Raft term, so newer news wins).
//! Gossip is news, not authority: metadata only ever changes through the metadata group.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::meta::{NodeId, ShardId};

/// One gossip message (sent, and answered with the receiver's own).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gossip {
    /// The sender (0: not part of a cluster yet).
    pub from: NodeId,
    /// The epoch of the sender's metadata.
    pub epoch: u64,
    /// The sender's metadata ([`crate::Metadata::encode`]), small enough to send whole.
    pub meta: Vec<u8>,
    /// `(shard, leader, term)` for each shard the sender hosts and knows a leader of.
    pub leaders: Vec<(ShardId, NodeId, u64)>,
}

impl Gossip {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes [`Gossip::encode`]'s form.
    pub fn decode(b: &[u8]) -> Option<Gossip> {
        postcard::from_bytes(b).ok()
    }
}

/// The leaders heard of by gossip, the highest term winning.
#[derive(Clone, Debug, Default)]
pub struct LeaderNews {
    by_shard: HashMap<ShardId, (NodeId, u64)>,
}

impl LeaderNews {
    /// Records what a message says; returns whether any leader changed.
    pub fn merge(&mut self, leaders: &[(ShardId, NodeId, u64)]) -> bool {
        let mut changed = false;
        for &(shard, leader, term) in leaders {
            match self.by_shard.get(&shard) {
                Some(&(l, t)) if t > term || (t == term && l == leader) => {}
                _ => {
                    self.by_shard.insert(shard, (leader, term));
                    changed = true;
                }
            }
        }
        changed
    }

    /// The leader of `shard` and its term, if heard of.
    pub fn get(&self, shard: ShardId) -> Option<(NodeId, u64)> {
        self.by_shard.get(&shard).copied()
    }
}

/// The leader to route to: this node's own Raft state for a shard it hosts (`local`: leader if known, and the
/// term), unless gossip names a leader of a later term (this replica is behind, e.g. cut off); gossip alone for
/// the others.
pub fn pick_leader(
    local: Option<(Option<NodeId>, u64)>,
    news: Option<(NodeId, u64)>,
) -> Option<NodeId> {
    match (local, news) {
        (Some((_, term)), Some((l, t))) if t > term => Some(l),
        (Some((l, _)), _) => l,
        (None, Some((l, _))) => Some(l),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_terms_win() {
        let mut n = LeaderNews::default();
        assert!(n.merge(&[(1, 1, 5), (2, 2, 1)]));
        assert!(!n.merge(&[(1, 1, 5)]));
        assert!(!n.merge(&[(1, 3, 4)]));
        assert!(n.merge(&[(1, 3, 6)]));
        assert_eq!(n.get(1), Some((3, 6)));
        assert_eq!(n.get(9), None);
    }

    #[test]
    fn own_raft_state_wins_unless_gossip_is_newer() {
        assert_eq!(pick_leader(Some((Some(1), 5)), Some((2, 4))), Some(1));
        assert_eq!(pick_leader(Some((None, 5)), Some((2, 5))), None);
        assert_eq!(pick_leader(Some((Some(1), 5)), Some((2, 6))), Some(2));
        assert_eq!(pick_leader(None, Some((2, 6))), Some(2));
        assert_eq!(pick_leader(None, None), None);
    }

    #[test]
    fn messages_round_trip() {
        let g = Gossip {
            from: 2,
            epoch: 7,
            meta: vec![1, 2, 3],
            leaders: vec![(1, 2, 9)],
        };
        assert_eq!(Gossip::decode(&g.encode()), Some(g));
        assert_eq!(
            Gossip::decode(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
            None
        );
    }
}
