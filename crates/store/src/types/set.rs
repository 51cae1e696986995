//! Sets (Redis 7.0's `t_set.c`): an [`IntSet`] while every member is an integer and there are at most
//! `set-max-intset-entries` of them, else a hash table of members. Like Redis 7.0 there is no listpack
//! encoding for small sets of strings (7.2 added one), and a set never converts back.

use std::borrow::Cow;

use super::heap_bytes;
use super::intset::IntSet;
use crate::dict::Dict;
use crate::exec::Rng;

/// A member as stored: an integer of an intset, or bytes of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    /// An intset element.
    Int(i64),
    /// A table member.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member as the client sees it.
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Member::Int(i) => Cow::Owned(crate::num::format_i64(*i)),
            Member::Bytes(b) => Cow::Borrowed(b),
        }
    }
}

/// A set value.
#[derive(Clone, Debug)]
pub enum Set {
    /// Integers only, few of them (`intset`).
    Ints(IntSet),
    /// A hash table of members (`hashtable`).
    Table(Box<Dict<()>>),
}

impl PartialEq for Set {
    /// Same encoding and the same members in the same order.
    fn eq(&self, other: &Set) -> bool {
        match (self, other) {
            (Set::Ints(a), Set::Ints(b)) => a == b,
            (Set::Table(a), Set::Table(b)) => {
                a.len() == b.len() && a.iter().map(|e| e.0).eq(b.iter().map(|e| e.0))
            }
            _ => false,
        }
    }
}

/// The member's value if it is the canonical text of an `i64` (Redis' `string2ll`).
fn as_int(m: &[u8]) -> Option<i64> {
    if m.len() <= 20 {
        crate::num::parse_i64(m)
    } else {
        None
    }
}

impl Set {
    /// An empty set with the encoding Redis' `setTypeCreate` picks for a first member `first`.
    pub fn new_for(first: &[u8]) -> Set {
        if as_int(first).is_some() {
            Set::Ints(IntSet::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// An empty intset (the start of Redis' SINTERSTORE/SUNIONSTORE results).
    pub fn new_intset() -> Set {
        Set::Ints(IntSet::new())
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.contains(v)),
            Set::Table(d) => d.contains_key(m),
        }
    }

    /// Whether a member of another set is a member of this one, without formatting integers for intsets.
    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (Set::Ints(s), Member::Int(v)) => s.contains(v),
            (_, Member::Bytes(b)) => self.contains(b),
            (Set::Table(d), Member::Int(v)) => d.contains_key(&crate::num::format_i64(v)),
        }
    }

    /// Adds `m` (Redis' `setTypeAdd`): a non-integer, or an intset past `max_intset` members, turns the set
    /// into a table. Returns whether `m` is new.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Set::Ints(s) = self {
            match as_int(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_table();
                    }
                    return true;
                }
                None => self.convert_to_table(),
            }
        }
        match self {
            Set::Table(d) => {
                if d.contains_key(m) {
                    false
                } else {
                    d.insert(m, ());
                    true
                }
            }
            Set::Ints(_) => false,
        }
    }

    /// Adds a member of another set (see [`Set::add`]).
    pub fn add_member(&mut self, m: Member, max_intset: usize) -> bool {
        match (&mut *self, m) {
            (Set::Ints(s), Member::Int(v)) => {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset {
                    self.convert_to_table();
                }
                true
            }
            _ => self.add(&m.to_bytes(), max_intset),
        }
    }

    /// Removes `m`; returns whether it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.remove(v)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    /// Turns an intset into a table, members in ascending order.
    pub fn convert_to_table(&mut self) {
        if let Set::Ints(s) = self {
            let mut d = Dict::new();
            for v in s.iter() {
                d.insert(&crate::num::format_i64(v), ());
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// The members in iteration order (ascending for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            Set::Ints(s) => Box::new(s.iter().map(Member::Int)),
            Set::Table(d) => Box::new(d.iter().map(|(k, _)| Member::Bytes(k))),
        }
    }

    /// A random member: a uniform element of an intset, or the table's fair sampling.
    pub fn random(&self, rng: &mut Rng) -> Option<Member<'_>> {
        match self {
            Set::Ints(s) if s.is_empty() => None,
            Set::Ints(s) => s.get(rng.below(s.len() as u64) as usize).map(Member::Int),
            Set::Table(d) => d.random(rng).map(|(k, _)| Member::Bytes(k)),
        }
    }

    /// Estimated heap bytes (allocations as glibc malloc sizes them), for `MEMORY USAGE`.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Ints(s) => heap_bytes(s.alloc_len()),
            Set::Table(d) => {
                let mut n = heap_bytes(std::mem::size_of::<Dict<()>>());
                let [s0, s1] = d.shape().sizes;
                n += heap_bytes(s0 * 8) + heap_bytes(s1 * 8);
                for (k, _) in d.iter() {
                    let (node, key) = Dict::<()>::entry_allocations(k.len());
                    n += heap_bytes(node) + heap_bytes(key);
                }
                n
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s.iter().map(|m| m.to_bytes().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = Set::new_for(b"1");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"3", 3));
        assert!(s.add(b"1", 3));
        assert!(!s.add(b"1", 3));
        assert!(s.add(b"-2", 3));
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"-2") && !s.contains(b"-02") && !s.contains(b"x"));
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(
            members(&s),
            vec![b"-2".to_vec(), b"1".to_vec(), b"3".to_vec(), b"4".to_vec()]
        );
        let mut s = Set::new_for(b"1");
        s.add(b"1", 10);
        s.add(b"01", 10);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 2);
        assert_eq!(Set::new_for(b"a").encoding(), "hashtable");
    }

    #[test]
    fn membership_across_encodings() {
        let mut ints = Set::new_intset();
        ints.add(b"5", 512);
        let mut table = Set::new_for(b"a");
        table.add(b"a", 512);
        table.add(b"5", 512);
        assert!(table.contains_member(Member::Int(5)));
        assert!(ints.contains_member(Member::Bytes(b"5")));
        assert!(!ints.contains_member(Member::Bytes(b"a")));
        assert!(ints.remove(b"5") && !ints.remove(b"5") && !ints.remove(b"a"));
        assert!(table.remove(b"a"));
        assert!(ints.add_member(Member::Int(7), 512));
        assert!(ints.add_member(Member::Bytes(b"b"), 512));
        assert_eq!(ints.encoding(), "hashtable");
        assert!(!ints.add_member(Member::Int(7), 512));
    }

    #[test]
    fn random_members() {
        let mut rng = Rng::new(2);
        assert!(Set::new_intset().random(&mut rng).is_none());
        let mut s = Set::new_intset();
        for i in 0..5 {
            s.add(i.to_string().as_bytes(), 512);
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(s.random(&mut rng).unwrap().to_bytes().into_owned());
        }
        assert_eq!(seen.len(), 5);
        s.convert_to_table();
        assert!(s.contains(b"4"));
        assert!(s.heap_bytes() > 5 * 32);
    }
}
