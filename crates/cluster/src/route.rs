//! The one place that decides where a command runs: on a shard of this node, or elsewhere (`-MOVED`, `-ASK`),
//! or nowhere (`-CROSSSLOT`, `-TRYAGAIN`, `-CLUSTERDOWN`).
//!
//! Shoal differs from Redis in one rule: the keys of a multi-key command need only be in one *shard*, not one
//! slot, because a shard applies a whole command in one log entry whatever slots its keys hash to.

use std::collections::HashMap;
use std::sync::Arc;

use crate::meta::{Metadata, NodeId, ShardId};
use crate::slot::{key_slot, Slot};

/// Who leads each shard as this node knows it, with the metadata they refer to.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// This node.
    pub me: NodeId,
    /// The metadata copy in force here.
    pub meta: Arc<Metadata>,
    /// The leader of each shard: this node's own Raft state for the shards it hosts, gossip for the others.
    pub leaders: HashMap<ShardId, NodeId>,
}

/// What routing needs to know about one command.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Its keys, in order (the command table's key specs).
    pub keys: &'a [&'a [u8]],
    /// Whether it may write.
    pub write: bool,
    /// The connection sent `ASKING` just before it.
    pub asking: bool,
    /// The connection is in `READONLY` mode (stale reads from a replica are fine).
    pub readonly: bool,
}

/// Where a command goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// It has no keys: it runs on this node, against its default shard.
    Keyless,
    /// Run it on this node's replica of the shard.
    Local(ShardId),
    /// Do not run it: answer with this error.
    Refuse(Redirect),
}

/// Why a command is not served here, as the client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// The slot lives elsewhere: the client should update its slot map and go to `addr`.
    Moved {
        /// The slot of the command's first key.
        slot: Slot,
        /// `host:port` of the shard's leader.
        addr: String,
    },
    /// The slot is being moved and this key is already at its destination: ask there, once.
    Ask {
        /// The slot.
        slot: Slot,
        /// `host:port` of the destination shard's leader.
        addr: String,
    },
    /// The keys are in different shards.
    CrossSlot,
    /// Some keys of a multi-key command have moved and others not yet.
    TryAgainMigrating,
    /// The shard has no leader right now (an election is under way).
    TryAgainNoLeader,
    /// A slot of the command has no owner.
    Unassigned,
}

impl Redirect {
    /// The error reply, in Redis' words.
    pub fn message(&self) -> String {
        match self {
            Redirect::Moved { slot, addr } => format!("MOVED {slot} {addr}"),
            Redirect::Ask { slot, addr } => format!("ASK {slot} {addr}"),
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::TryAgainMigrating => {
                "TRYAGAIN Multiple keys request during rehashing of slot".into()
            }
            Redirect::TryAgainNoLeader => {
                "TRYAGAIN No leader elected for this shard yet, retry shortly".into()
            }
            Redirect::Unassigned => "CLUSTERDOWN Hash slot not served".into(),
        }
    }
}

impl View {
    /// The client address of the node that leads `shard`, or that should (its preferred leader) when no leader
    /// is known here; `None` when it leads nothing here and this node hosts it (an election is under way).
    fn leader_addr(&self, shard: ShardId) -> Option<String> {
        let leader = match self.leaders.get(&shard) {
            Some(&l) => l,
            None => {
                let info = self.meta.shards.get(&shard)?;
                if info.replicas.contains(&self.me) {
                    return None;
                }
                *info.replicas.first()?
            }
        };
        self.meta.nodes.get(&leader).map(|n| n.client_addr())
    }

    fn leads(&self, shard: ShardId) -> bool {
        self.leaders.get(&shard) == Some(&self.me)
    }

    fn hosts(&self, shard: ShardId) -> bool {
        self.meta
            .shards
            .get(&shard)
            .is_some_and(|s| s.replicas.contains(&self.me))
    }

    fn elsewhere(&self, shard: ShardId, slot: Slot) -> Route {
        match self.leader_addr(shard) {
            Some(addr) => Route::Refuse(Redirect::Moved { slot, addr }),
            None => Route::Refuse(Redirect::TryAgainNoLeader),
        }
    }
}

/// Decides where `req` runs. `present(shard, key)` tells whether a key exists in a shard this node leads; it is
/// asked only for slots being moved out of such a shard.
pub fn route(view: &View, req: &Request<'_>, present: &dyn Fn(ShardId, &[u8]) -> bool) -> Route {
    let Some(first) = req.keys.first() else {
        return Route::Keyless;
    };
    let meta = &view.meta;
    let first_slot = key_slot(first);
    let mut shard = None;
    let mut migrating = false;
    for key in req.keys {
        let slot = key_slot(key);
        let owner = match meta.slots.owner(slot) {
            Some(o) => o,
            None => return Route::Refuse(Redirect::Unassigned),
        };
        match shard {
            None => shard = Some(owner),
            Some(s) if s != owner => return Route::Refuse(Redirect::CrossSlot),
            Some(_) => {}
        }
        migrating |= meta.migrations.contains_key(&slot);
    }
    let Some(shard) = shard else {
        return Route::Keyless;
    };
    if migrating {
        if let Some(route) = route_migrating(view, req, shard) {
            return route;
        }
        if view.leads(shard) {
            return migrating_from_here(view, req, shard, present);
        }
    }
    if view.leads(shard) {
        return Route::Local(shard);
    }
    if req.readonly && !req.write && view.hosts(shard) {
        return Route::Local(shard);
    }
    view.elsewhere(shard, first_slot)
}

/// At the destination of a move: after `ASKING`, a command whose every slot is being imported into a shard this
/// node leads runs there.
fn route_migrating(view: &View, req: &Request<'_>, owner: ShardId) -> Option<Route> {
    if !req.asking {
        return None;
    }
    let mut target = None;
    for key in req.keys {
        let m = view.meta.migrations.get(&key_slot(key))?;
        if m.from != owner || target.is_some_and(|t| t != m.to) {
            return None;
        }
        target = Some(m.to);
    }
    let target = target?;
    view.leads(target).then_some(Route::Local(target))
}

/// At the source of a move: keys still here are served here; a command whose keys are all gone (and all bound to
/// the same destination) is sent there with `-ASK`; a mix waits (`-TRYAGAIN`).
fn migrating_from_here(
    view: &View,
    req: &Request<'_>,
    shard: ShardId,
    present: &dyn Fn(ShardId, &[u8]) -> bool,
) -> Route {
    let mut here = 0;
    let mut gone_to = None;
    for key in req.keys {
        if present(shard, key) {
            here += 1;
            continue;
        }
        let slot = key_slot(key);
        match view.meta.migrations.get(&slot) {
            // A missing key of a slot that is not moving simply does not exist: it belongs here.
            None => here += 1,
            Some(m) => match gone_to {
                None => gone_to = Some((m.to, slot)),
                Some((to, _)) if to == m.to => {}
                Some(_) => return Route::Refuse(Redirect::TryAgainMigrating),
            },
        }
    }
    match gone_to {
        None => Route::Local(shard),
        Some(_) if here > 0 => Route::Refuse(Redirect::TryAgainMigrating),
        Some((to, slot)) => match view.leader_addr(to) {
            Some(addr) => Route::Refuse(Redirect::Ask { slot, addr }),
            None => Route::Refuse(Redirect::TryAgainNoLeader),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{Migration, NodeInfo};

    fn nodes() -> Vec<NodeInfo> {
        (1..=3)
            .map(|i| NodeInfo {
                id: 0,
                host: "127.0.0.1".into(),
                port: 7000 + i,
                bus_port: 17000 + i,
            })
            .collect()
    }

    /// 3 nodes, 3 shards of 2 replicas: shard 1 on nodes 1,2; shard 2 on 2,3; shard 3 on 3,1; each led by its
    /// first replica. Seen from node 1.
    fn view() -> View {
        let meta = Metadata::layout(nodes(), 3, 2).unwrap();
        View {
            me: 1,
            meta: Arc::new(meta),
            leaders: [(1, 1), (2, 2), (3, 3)].into(),
        }
    }

    fn req<'a>(keys: &'a [&'a [u8]], write: bool) -> Request<'a> {
        Request {
            keys,
            write,
            asking: false,
            readonly: false,
        }
    }

    fn nothing(_: ShardId, _: &[u8]) -> bool {
        false
    }

    // Slots: "foo" 12182 (shard 3), "bar" 5061 (shard 1), "hello" 866 (shard 1), "key" 12539 (shard 3),
    // "{user1000}.x" 3443 (shard 1); shard 1 owns 0-5460, 2 owns 5461-10922, 3 owns 10923-16383.

    #[test]
    fn keyless_commands_run_here() {
        assert_eq!(route(&view(), &req(&[], false), &nothing), Route::Keyless);
    }

    #[test]
    fn keys_of_a_shard_this_node_leads_run_here() {
        let v = view();
        assert_eq!(route(&v, &req(&[b"bar"], true), &nothing), Route::Local(1));
        assert_eq!(
            route(&v, &req(&[b"hello"], false), &nothing),
            Route::Local(1)
        );
    }

    #[test]
    fn keys_led_elsewhere_are_moved_to_the_leader() {
        let v = view();
        assert_eq!(
            route(&v, &req(&[b"foo"], true), &nothing),
            Route::Refuse(Redirect::Moved {
                slot: 12182,
                addr: "127.0.0.1:7003".into()
            })
        );
        assert_eq!(
            Redirect::Moved {
                slot: 12182,
                addr: "127.0.0.1:7003".into()
            }
            .message(),
            "MOVED 12182 127.0.0.1:7003"
        );
        // After a failover the new leader is named.
        let mut v = view();
        v.leaders.insert(3, 1);
        assert_eq!(route(&v, &req(&[b"foo"], true), &nothing), Route::Local(3));
        v.leaders.insert(1, 2);
        assert_eq!(
            route(&v, &req(&[b"bar"], true), &nothing),
            Route::Refuse(Redirect::Moved {
                slot: 5061,
                addr: "127.0.0.1:7002".into()
            })
        );
    }

    #[test]
    fn multi_key_commands_run_when_all_keys_are_in_one_shard() {
        let v = view();
        // Different slots, same shard: Shoal runs it (Redis would refuse).
        assert_eq!(
            route(
                &v,
                &req(&[b"bar", b"hello", b"{user1000}.x"], true),
                &nothing
            ),
            Route::Local(1)
        );
        // Different shards: refused whoever leads them.
        let r = route(&v, &req(&[b"bar", b"foo"], true), &nothing);
        assert_eq!(r, Route::Refuse(Redirect::CrossSlot));
        assert_eq!(
            Redirect::CrossSlot.message(),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
        // One shard led elsewhere: moved, with the first key's slot.
        assert_eq!(
            route(&v, &req(&[b"key", b"foo"], false), &nothing),
            Route::Refuse(Redirect::Moved {
                slot: 12539,
                addr: "127.0.0.1:7003".into()
            })
        );
    }

    #[test]
    fn readonly_reads_run_on_a_local_replica() {
        let v = view();
        // Node 1 holds a replica of shard 3 ("foo"), led by node 3.
        let mut r = req(&[b"foo"], false);
        r.readonly = true;
        assert_eq!(route(&v, &r, &nothing), Route::Local(3));
        // Writes still go to the leader.
        r.write = true;
        assert!(matches!(
            route(&v, &r, &nothing),
            Route::Refuse(Redirect::Moved { .. })
        ));
        // A shard with no replica here: moved even in READONLY mode. Shard 2 lives on nodes 2 and 3.
        let mut r = req(&[b"a"], false); // slot 15495 -> shard 3
        r.readonly = true;
        assert_eq!(route(&v, &r, &nothing), Route::Local(3));
        let key = (0..1000)
            .map(|i| format!("k{i}"))
            .find(|k| view().meta.slots.owner(key_slot(k.as_bytes())) == Some(2))
            .unwrap();
        let keys: &[&[u8]] = &[key.as_bytes()];
        let mut r = req(keys, false);
        r.readonly = true;
        assert!(matches!(
            route(&v, &r, &nothing),
            Route::Refuse(Redirect::Moved { .. })
        ));
    }

    #[test]
    fn unassigned_slots_and_missing_leaders() {
        let mut meta = Metadata::layout(nodes(), 3, 2).unwrap();
        meta.slots.assign(5061, 5061, 0);
        let mut v = View {
            me: 1,
            meta: Arc::new(meta),
            leaders: [(3, 3)].into(),
        };
        assert_eq!(
            route(&v, &req(&[b"bar"], false), &nothing),
            Route::Refuse(Redirect::Unassigned)
        );
        assert_eq!(
            Redirect::Unassigned.message(),
            "CLUSTERDOWN Hash slot not served"
        );
        // Shard 1 is hosted here and has no leader: an election is under way.
        assert_eq!(
            route(&v, &req(&[b"hello"], true), &nothing),
            Route::Refuse(Redirect::TryAgainNoLeader)
        );
        assert!(Redirect::TryAgainNoLeader
            .message()
            .starts_with("TRYAGAIN "));
        // Shard 2 is not hosted here and no leader was heard of: its preferred leader (node 2).
        v.leaders.clear();
        let key = (0..1000)
            .map(|i| format!("k{i}"))
            .find(|k| v.meta.slots.owner(key_slot(k.as_bytes())) == Some(2))
            .unwrap();
        let keys: &[&[u8]] = &[key.as_bytes()];
        assert_eq!(
            route(&v, &req(keys, true), &nothing),
            Route::Refuse(Redirect::Moved {
                slot: key_slot(key.as_bytes()),
                addr: "127.0.0.1:7002".into()
            })
        );
        // No metadata at all (before `cluster create`): nothing is served.
        let empty = View::default();
        assert_eq!(
            route(&empty, &req(&[b"x"], false), &nothing),
            Route::Refuse(Redirect::Unassigned)
        );
    }

    fn migrating_view(me: NodeId) -> View {
        // Slot 5061 ("bar") moves from shard 1 (led by node 1) to shard 2 (led by node 2).
        let mut meta = Metadata::layout(nodes(), 3, 2).unwrap();
        meta.migrations.insert(5061, Migration { from: 1, to: 2 });
        View {
            me,
            meta: Arc::new(meta),
            leaders: [(1, 1), (2, 2), (3, 3)].into(),
        }
    }

    #[test]
    fn source_of_a_move_serves_present_keys_and_asks_for_the_rest() {
        let v = migrating_view(1);
        let present = |_: ShardId, k: &[u8]| k == b"bar";
        // Still here: served.
        assert_eq!(route(&v, &req(&[b"bar"], true), &present), Route::Local(1));
        // Gone: ASK the destination's leader.
        let ask = Route::Refuse(Redirect::Ask {
            slot: 5061,
            addr: "127.0.0.1:7002".into(),
        });
        assert_eq!(route(&v, &req(&[b"bar"], true), &nothing), ask);
        assert_eq!(
            Redirect::Ask {
                slot: 5061,
                addr: "127.0.0.1:7002".into()
            }
            .message(),
            "ASK 5061 127.0.0.1:7002"
        );
        // Another slot of the same shard that does not move, missing or not: here.
        assert_eq!(
            route(&v, &req(&[b"hello"], true), &nothing),
            Route::Local(1)
        );
        // Moving key gone, other key here: wait.
        let only_hello = |_: ShardId, k: &[u8]| k == b"hello";
        assert_eq!(
            route(&v, &req(&[b"bar", b"hello"], true), &only_hello),
            Route::Refuse(Redirect::TryAgainMigrating)
        );
        assert_eq!(
            route(&v, &req(&[b"bar", b"{bar}x"], false), &present),
            Route::Refuse(Redirect::TryAgainMigrating)
        );
        // Both keys of the moving slot gone: ASK.
        assert_eq!(route(&v, &req(&[b"bar", b"{bar}x"], false), &nothing), ask);
    }

    #[test]
    fn destination_of_a_move_serves_only_after_asking() {
        let v = migrating_view(2);
        let mut r = req(&[b"bar"], true);
        // Without ASKING: the owner is still shard 1.
        assert_eq!(
            route(&v, &r, &nothing),
            Route::Refuse(Redirect::Moved {
                slot: 5061,
                addr: "127.0.0.1:7001".into()
            })
        );
        r.asking = true;
        assert_eq!(route(&v, &r, &nothing), Route::Local(2));
        // ASKING does not make a non-moving slot of shard 1 servable here.
        let mut r = req(&[b"hello"], true);
        r.asking = true;
        assert!(matches!(
            route(&v, &r, &nothing),
            Route::Refuse(Redirect::Moved { .. })
        ));
        // ASKING on a node that does not lead the destination: moved to the owner.
        let v3 = migrating_view(3);
        let mut r = req(&[b"bar"], true);
        r.asking = true;
        assert!(matches!(
            route(&v3, &r, &nothing),
            Route::Refuse(Redirect::Moved { .. })
        ));
    }
}
