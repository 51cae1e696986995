//! Metadata changes of resharding: starting slot moves, finishing them, and the plan that evens out the slots
//! of every shard (`shoal-server cluster rebalance`).
//!
//! A move is two compare-and-set changes of the metadata: one records `migrations[slot] = {from, to}` (the
//! source's leader then moves the keys, clients get `-ASK` for keys already gone), the other, once the source
//! holds no key of the slot, makes the destination its owner (clients get `-MOVED`).

use crate::meta::{Metadata, Migration, ShardId};
use crate::slot::{Slot, SLOTS};

/// Parses `a-b,c,d-e` (inclusive ranges of slots).
pub fn parse_slot_ranges(s: &str) -> Result<Vec<(Slot, Slot)>, String> {
    let bad = || format!("invalid slot range '{s}' (want e.g. 100-200,300)");
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= SLOTS {
            return Err(bad());
        }
        out.push((a as Slot, b as Slot));
    }
    Ok(out)
}

/// `meta` with the moves `(slot, to)` recorded, at the next epoch; `None` if there is nothing to change (every
/// slot already belongs to, or is already moving to, its destination). Refuses unknown shards, unassigned slots
/// and slots already moving elsewhere.
pub fn start_moves(meta: &Metadata, moves: &[(Slot, ShardId)]) -> Result<Option<Metadata>, String> {
    let mut next = meta.clone();
    let mut changed = false;
    for &(slot, to) in moves {
        if !meta.shards.contains_key(&to) {
            return Err(format!("unknown shard {to}"));
        }
        let Some(from) = meta.slots.owner(slot) else {
            return Err(format!("slot {slot} is not assigned"));
        };
        if from == to {
            continue;
        }
        match meta.migrations.get(&slot) {
            Some(m) if m.to == to => continue,
            Some(m) => {
                return Err(format!(
                    "slot {slot} is already moving from shard {} to shard {}",
                    m.from, m.to
                ))
            }
            None => {}
        }
        next.migrations.insert(slot, Migration { from, to });
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    next.epoch = meta.epoch + 1;
    next.validate()?;
    Ok(Some(next))
}

/// `meta` with the moves of `slots` finished (each owned by its destination, no longer moving), at the next
/// epoch; `None` if none of them is moving.
pub fn finish_moves(meta: &Metadata, slots: &[Slot]) -> Option<Metadata> {
    let mut next = meta.clone();
    let mut changed = false;
    for slot in slots {
        if let Some(m) = next.migrations.remove(slot) {
            next.slots.assign(*slot, *slot, m.to);
            changed = true;
        }
    }
    changed.then(|| {
        next.epoch = meta.epoch + 1;
        next
    })
}

/// The moves that give every shard the same number of slots, within one, moving as few slots as possible:
/// shards above their share give their highest slots to shards below theirs. Slots already moving count for
/// their destination and are not moved again.
pub fn rebalance_plan(meta: &Metadata) -> Vec<(Slot, ShardId)> {
    let shards: Vec<ShardId> = meta.shards.keys().copied().collect();
    if shards.is_empty() {
        return Vec::new();
    }
    // Each shard's slots as they will be once the moves under way end.
    let mut held: std::collections::BTreeMap<ShardId, Vec<Slot>> =
        shards.iter().map(|s| (*s, Vec::new())).collect();
    for slot in 0..SLOTS as Slot {
        let owner = match meta.migrations.get(&slot) {
            Some(m) => m.to,
            None => match meta.slots.owner(slot) {
                Some(o) => o,
                None => continue,
            },
        };
        if let Some(v) = held.get_mut(&owner) {
            v.push(slot);
        }
    }
    let total: usize = held.values().map(Vec::len).sum();
    let (base, extra) = (total / shards.len(), total % shards.len());
    // The shards holding most keep the larger shares, so fewer slots move.
    let mut order = shards.clone();
    order.sort_by_key(|s| (std::cmp::Reverse(held[s].len()), *s));
    let quota: std::collections::BTreeMap<ShardId, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, base + usize::from(i < extra)))
        .collect();
    let mut spare: Vec<Slot> = Vec::new();
    for s in &shards {
        let v = held.get_mut(s).expect("every shard");
        let keep = quota[s];
        if v.len() > keep {
            // Moving slots (not movable again) are the ones kept first.
            v.sort_by_key(|slot| (!meta.migrations.contains_key(slot), *slot));
            spare.extend(
                v.drain(keep..)
                    .filter(|slot| !meta.migrations.contains_key(slot)),
            );
        }
    }
    spare.sort_unstable();
    let mut plan = Vec::new();
    for s in &shards {
        let need = quota[s].saturating_sub(held[s].len());
        for _ in 0..need {
            match spare.pop() {
                Some(slot) => plan.push((slot, *s)),
                None => break,
            }
        }
    }
    plan.sort_unstable();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::{NodeInfo, ShardInfo};

    fn meta(shards: usize) -> Metadata {
        let nodes = (1..=3)
            .map(|i| NodeInfo {
                id: 0,
                host: "127.0.0.1".into(),
                port: 7000 + i,
                bus_port: 17000 + i,
            })
            .collect();
        Metadata::layout(nodes, shards, 2).unwrap()
    }

    fn counts(m: &Metadata) -> Vec<usize> {
        m.shards
            .keys()
            .map(|s| {
                m.slots
                    .ranges_of(*s)
                    .iter()
                    .map(|(a, b)| usize::from(b - a) + 1)
                    .sum()
            })
            .collect()
    }

    fn apply(m: &Metadata, plan: &[(Slot, ShardId)]) -> Metadata {
        let next = start_moves(m, plan).unwrap().unwrap_or_else(|| m.clone());
        let slots: Vec<Slot> = plan.iter().map(|p| p.0).collect();
        finish_moves(&next, &slots).unwrap_or(next)
    }

    #[test]
    fn slot_ranges_parse() {
        assert_eq!(
            parse_slot_ranges("100-200,300").unwrap(),
            vec![(100, 200), (300, 300)]
        );
        assert!(parse_slot_ranges("5-1").is_err());
        assert!(parse_slot_ranges("16384").is_err());
        assert!(parse_slot_ranges("a").is_err());
        assert!(parse_slot_ranges("").is_err());
    }

    #[test]
    fn moves_start_and_finish_through_the_next_epochs() {
        let m = meta(3);
        let next = start_moves(&m, &[(0, 2), (1, 2), (5461, 2)])
            .unwrap()
            .unwrap();
        assert_eq!(next.epoch, m.epoch + 1);
        assert_eq!(
            next.migrations.len(),
            2,
            "slot 5461 already belongs to shard 2"
        );
        assert_eq!(next.migrations[&0], Migration { from: 1, to: 2 });
        // Asking again changes nothing; another destination is refused.
        assert_eq!(start_moves(&next, &[(0, 2)]).unwrap(), None);
        assert!(start_moves(&next, &[(0, 3)]).is_err());
        assert!(start_moves(&next, &[(0, 9)]).is_err());
        let done = finish_moves(&next, &[0]).unwrap();
        assert_eq!(done.slots.owner(0), Some(2));
        assert_eq!(done.slots.owner(1), Some(1));
        assert!(done.migrations.contains_key(&1) && !done.migrations.contains_key(&0));
        assert_eq!(done.epoch, next.epoch + 1);
        done.validate().unwrap();
        assert_eq!(finish_moves(&done, &[0]), None);
    }

    #[test]
    fn rebalance_evens_out_the_slots() {
        // Already even: nothing to do.
        assert!(rebalance_plan(&meta(3)).is_empty());
        // A new, empty shard gets a third of the slots, taken from the two others.
        let mut m = meta(2);
        m.shards.insert(
            3,
            ShardInfo {
                id: 3,
                replicas: vec![3, 1],
            },
        );
        let plan = rebalance_plan(&m);
        assert_eq!(plan.len(), 5461);
        assert!(plan.iter().all(|p| p.1 == 3));
        let after = apply(&m, &plan);
        let c = counts(&after);
        assert!(
            c.iter().max().unwrap() - c.iter().min().unwrap() <= 1,
            "{c:?}"
        );
        assert!(rebalance_plan(&after).is_empty());
        // Lopsided: shard 1 holds almost everything.
        let mut m = meta(3);
        m.slots.assign(0, 16000, 1);
        let plan = rebalance_plan(&m);
        let after = apply(&m, &plan);
        let c = counts(&after);
        assert!(
            c.iter().max().unwrap() - c.iter().min().unwrap() <= 1,
            "{c:?}"
        );
        // Only slots of the overfull shard moved.
        assert!(plan.iter().all(|(s, _)| m.slots.owner(*s) == Some(1)));
        // Moves under way count for their destination.
        let mut m = meta(2);
        m.shards.insert(
            3,
            ShardInfo {
                id: 3,
                replicas: vec![3, 1],
            },
        );
        let started = start_moves(&m, &[(0, 3), (1, 3)]).unwrap().unwrap();
        let plan = rebalance_plan(&started);
        assert_eq!(plan.len(), 5459);
        assert!(plan.iter().all(|(s, _)| *s > 1));
    }
}
