//! The list type: Redis 7.2's two encodings over packed nodes.
//!
//! - `listpack`: one packed node, while the list is within `list-max-listpack-size`.
//! - `quicklist`: a deque of packed nodes, each within `list-max-listpack-size` (a node takes an element while
//!   its listpack size plus the element and 8 bytes of estimated overhead stays within the limit, as Redis'
//!   `_quicklistNodeAllowInsert`). Pushes and pops touch only an end node; index lookups skip whole nodes by
//!   their counts, from the nearer end of the list.
//!
//! Conversions follow `t_list.c`: before elements are added a listpack becomes a quicklist if the sum of its
//! size and the new elements' lengths (or its count plus theirs) passes the limit; after elements are removed a
//! quicklist of a single node becomes a listpack again if that node is within half the limit.
//!
//! `list-compress-depth` is not applied: nodes are never compressed.

pub mod pack;

use std::collections::VecDeque;

use bytes::Bytes;

use pack::Node;
pub use pack::{Elem, Needle};

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

/// Redis' `SIZE_SAFETY_LIMIT`: a node limited by count still stays within this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis' `SIZE_ESTIMATE_OVERHEAD`: bytes assumed per new entry besides its payload.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Node size limits for `list-max-listpack-size` -1 to -5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Redis' `packed_threshold`: elements this large never share a node.
const LARGE_ELEMENT: usize = 1 << 30;

/// The size and count limits of a node for a `list-max-listpack-size` value (`quicklistNodeLimit`).
fn node_limit(fill: i32) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        let level = ((-(fill as i64)) - 1).min(OPTIMIZATION_LEVEL.len() as i64 - 1) as usize;
        (OPTIMIZATION_LEVEL[level], usize::MAX)
    }
}

/// Whether a node of `size` bytes and `count` elements passes the limit (`quicklistNodeExceedsLimit`).
fn exceeds_limit(fill: i32, size: usize, count: usize) -> bool {
    let (size_limit, count_limit) = node_limit(fill);
    if size_limit != usize::MAX {
        size > size_limit
    } else {
        size > SIZE_SAFETY_LIMIT || count > count_limit
    }
}

/// Whether `node` may take one more element of `sz` bytes (`_quicklistNodeAllowInsert`).
fn allow_insert(node: &Node, fill: i32, sz: usize) -> bool {
    if sz >= LARGE_ELEMENT {
        return false;
    }
    let new_sz = node.lp_bytes() + sz + SIZE_ESTIMATE_OVERHEAD;
    !exceeds_limit(fill, new_sz, node.count() + 1)
}

/// Whether two neighbouring nodes may become one (`_quicklistNodeAllowMerge`).
fn allow_merge(a: &Node, b: &Node, fill: i32) -> bool {
    let merged = a.lp_bytes() + b.lp_bytes() - pack::LP_OVERHEAD;
    !exceeds_limit(fill, merged, a.count() + b.count())
}

#[derive(Clone, Debug)]
enum Repr {
    Listpack(Node),
    Quicklist(VecDeque<Node>),
}

/// A list value.
#[derive(Clone, Debug)]
pub struct List {
    len: usize,
    repr: Repr,
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

impl PartialEq for List {
    /// Same encoding and same elements (node boundaries are not compared).
    fn eq(&self, other: &List) -> bool {
        self.len == other.len
            && self.encoding() == other.encoding()
            && self.iter_from(0, false).eq(other.iter_from(0, false))
    }
}

/// Where an element is: its node and its index inside the node.
#[derive(Clone, Copy, Debug)]
struct Pos {
    node: usize,
    idx: usize,
}

impl List {
    /// An empty list in the `listpack` encoding (a new key's list).
    pub fn new() -> List {
        List {
            len: 0,
            repr: Repr::Listpack(Node::new()),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no element (a key never holds one: the commands delete it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Quicklist(_) => "quicklist",
        }
    }

    /// Whether the list is in the `quicklist` encoding.
    pub fn is_quicklist(&self) -> bool {
        matches!(self.repr, Repr::Quicklist(_))
    }

    fn node_count(&self) -> usize {
        match &self.repr {
            Repr::Listpack(_) => 1,
            Repr::Quicklist(q) => q.len(),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match &self.repr {
            Repr::Listpack(n) => n,
            Repr::Quicklist(q) => &q[i],
        }
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        match &mut self.repr {
            Repr::Listpack(n) => n,
            Repr::Quicklist(q) => &mut q[i],
        }
    }

    /// The packed nodes, head first, for snapshots.
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], usize)> + '_ {
        (0..self.node_count()).map(|i| {
            let n = self.node(i);
            (n.raw(), n.count())
        })
    }

    /// Rebuilds a list from a snapshot's nodes (each checked), in the encoding it was written with.
    pub fn from_nodes(
        quicklist: bool,
        nodes: Vec<(Vec<u8>, usize)>,
    ) -> Result<List, pack::Malformed> {
        let mut deque = VecDeque::with_capacity(nodes.len());
        let mut len: usize = 0;
        for (buf, count) in nodes {
            if count == 0 {
                return Err("empty list node");
            }
            let node = Node::from_raw(buf, count)?;
            len = len.checked_add(count).ok_or("list length overflows")?;
            deque.push_back(node);
        }
        if len == 0 {
            return Err("empty list");
        }
        let repr = if quicklist {
            Repr::Quicklist(deque)
        } else {
            if deque.len() != 1 {
                return Err("a listpack list has exactly one node");
            }
            Repr::Listpack(deque.pop_front().unwrap_or_default())
        };
        Ok(List { len, repr })
    }

    /// Heap bytes held, the boxed list itself included.
    pub fn heap_bytes(&self) -> usize {
        let own = crate::keyspace::heap_bytes(std::mem::size_of::<List>());
        match &self.repr {
            Repr::Listpack(n) => own + n.heap_bytes(),
            Repr::Quicklist(q) => {
                own + crate::keyspace::heap_bytes(q.capacity() * std::mem::size_of::<Node>())
                    + q.iter().map(Node::heap_bytes).sum::<usize>()
            }
        }
    }

    /// Converts a listpack to a quicklist if adding `add_count` elements of `add_bytes` total length would pass
    /// the limit (`listTypeTryConversionAppend`); call before adding.
    pub fn prepare_growth(&mut self, fill: i32, add_bytes: usize, add_count: usize) {
        if let Repr::Listpack(n) = &mut self.repr {
            let size = n.lp_bytes().saturating_add(add_bytes);
            if exceeds_limit(fill, size, n.count().saturating_add(add_count)) {
                let node = std::mem::take(n);
                let mut q = VecDeque::new();
                if node.count() > 0 {
                    q.push_back(node);
                }
                self.repr = Repr::Quicklist(q);
            }
        }
    }

    /// Converts a quicklist of one node back to a listpack if that node is within half the limit
    /// (`listTypeTryConversion` with `LIST_CONV_SHRINKING`); call after removing elements.
    pub fn after_shrink(&mut self, fill: i32) {
        if let Repr::Quicklist(q) = &mut self.repr {
            if q.len() != 1 {
                return;
            }
            let (size_limit, count_limit) = node_limit(fill);
            if q[0].lp_bytes() > size_limit / 2 || self.len > count_limit / 2 {
                return;
            }
            let node = q.pop_front().unwrap_or_default();
            self.repr = Repr::Listpack(node);
        }
    }

    /// Adds `e` at one end.
    pub fn push(&mut self, fill: i32, end: End, e: &[u8]) {
        match &mut self.repr {
            Repr::Listpack(n) => match end {
                End::Left => n.push_front(e),
                End::Right => n.push_back(e),
            },
            Repr::Quicklist(q) => match end {
                End::Left => match q.front_mut() {
                    Some(n) if allow_insert(n, fill, e.len()) => n.push_front(e),
                    _ => q.push_front(Node::with(e)),
                },
                End::Right => match q.back_mut() {
                    Some(n) if allow_insert(n, fill, e.len()) => n.push_back(e),
                    _ => q.push_back(Node::with(e)),
                },
            },
        }
        self.len += 1;
    }

    /// Removes and returns the element at one end.
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let out = match &mut self.repr {
            Repr::Listpack(n) => match end {
                End::Left => n.pop_front(),
                End::Right => n.pop_back(),
            },
            Repr::Quicklist(q) => {
                let (v, empty) = match end {
                    End::Left => {
                        let n = q.front_mut()?;
                        (n.pop_front(), n.count() == 0)
                    }
                    End::Right => {
                        let n = q.back_mut()?;
                        (n.pop_back(), n.count() == 0)
                    }
                };
                if empty {
                    match end {
                        End::Left => q.pop_front(),
                        End::Right => q.pop_back(),
                    };
                }
                v
            }
        };
        if out.is_some() {
            self.len -= 1;
        }
        out
    }

    /// A Redis index (negative counts from the tail) as a position from the head, if inside the list.
    pub fn index(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 {
            len.checked_add(index)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Node and in-node index of element `i` (`i < len`), skipping whole nodes from the nearer end.
    fn locate(&self, i: usize) -> Pos {
        let nodes = self.node_count();
        if i < self.len / 2 {
            let mut acc = 0;
            for n in 0..nodes {
                let c = self.node(n).count();
                if acc + c > i {
                    return Pos {
                        node: n,
                        idx: i - acc,
                    };
                }
                acc += c;
            }
        } else {
            let mut acc = self.len;
            for n in (0..nodes).rev() {
                let c = self.node(n).count();
                acc -= c;
                if acc <= i {
                    return Pos {
                        node: n,
                        idx: i - acc,
                    };
                }
            }
        }
        // Unreachable for `i < len`; the last element is the safe answer.
        Pos {
            node: nodes - 1,
            idx: self.node(nodes - 1).count().saturating_sub(1),
        }
    }

    /// The element at position `i` from the head.
    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        if i >= self.len {
            return None;
        }
        let p = self.locate(i);
        Some(self.node(p.node).get(p.idx))
    }

    /// Replaces the element at position `i`; false if `i` is outside the list. Done in place, as Redis'
    /// `quicklistReplaceEntry` does for any element below the large-element threshold.
    pub fn set(&mut self, i: usize, e: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let p = self.locate(i);
        self.node_mut(p.node).replace(p.idx, e);
        true
    }

    /// Elements from position `start`, towards the tail (or towards the head when `reverse`).
    pub fn iter_from(&self, start: usize, reverse: bool) -> Iter<'_> {
        if start >= self.len {
            return Iter {
                list: self,
                node: 0,
                off: 0,
                left_in_node: 0,
                left: 0,
                reverse,
            };
        }
        let p = self.locate(start);
        let node = self.node(p.node);
        let off = node.offset_of(p.idx);
        if reverse {
            Iter {
                list: self,
                node: p.node,
                off: node.entry_at(off).1,
                left_in_node: p.idx + 1,
                left: start + 1,
                reverse,
            }
        } else {
            Iter {
                list: self,
                node: p.node,
                off,
                left_in_node: node.count() - p.idx,
                left: self.len - start,
                reverse,
            }
        }
    }

    /// Position of the first element equal to `needle`, from the head.
    fn find(&self, needle: &Needle) -> Option<Pos> {
        for n in 0..self.node_count() {
            if let Some(idx) = self.node(n).iter().position(|e| e.matches(needle)) {
                return Some(Pos { node: n, idx });
            }
        }
        None
    }

    /// `LINSERT`: inserts `e` before (or `after`) the first element equal to `pivot`. Returns false, changing
    /// nothing, when no element equals `pivot`.
    pub fn insert_at_pivot(&mut self, fill: i32, pivot: &[u8], after: bool, e: &[u8]) -> bool {
        let Some(p) = self.find(&Needle::new(pivot)) else {
            return false;
        };
        match &mut self.repr {
            Repr::Listpack(n) => n.insert(p.idx + after as usize, e),
            Repr::Quicklist(q) => quicklist_insert(q, fill, p, after, e),
        }
        self.len += 1;
        true
    }

    /// Removes `n` elements starting at position `start` (the range is clipped to the list).
    pub fn remove_range(&mut self, start: usize, n: usize) {
        let mut n = n.min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        let p = self.locate(start);
        self.len -= n;
        match &mut self.repr {
            Repr::Listpack(node) => node.remove_range(p.idx, n),
            Repr::Quicklist(q) => {
                let (mut ni, mut idx) = (p.node, p.idx);
                while n > 0 && ni < q.len() {
                    let c = q[ni].count();
                    let del = n.min(c - idx);
                    if del == c {
                        q.remove(ni);
                    } else {
                        q[ni].remove_range(idx, del);
                        ni += 1;
                    }
                    n -= del;
                    idx = 0;
                }
            }
        }
    }

    /// `LREM`: removes elements equal to `e`, at most `limit` (0: all), scanning from the tail when
    /// `from_tail`. Returns how many were removed.
    pub fn remove_matching(&mut self, e: &[u8], limit: usize, from_tail: bool) -> usize {
        let needle = Needle::new(e);
        let mut left = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        match &mut self.repr {
            Repr::Listpack(n) => removed = n.remove_matches(&needle, left, from_tail),
            Repr::Quicklist(q) => {
                let mut visit = |n: &mut Node| {
                    let r = n.remove_matches(&needle, left, from_tail);
                    removed += r;
                    left -= r;
                    left == 0
                };
                if from_tail {
                    for n in q.iter_mut().rev() {
                        if visit(n) {
                            break;
                        }
                    }
                } else {
                    for n in q.iter_mut() {
                        if visit(n) {
                            break;
                        }
                    }
                }
                if removed > 0 {
                    q.retain(|n| n.count() > 0);
                }
            }
        }
        self.len -= removed;
        removed
    }

    /// `LPOS`: positions of elements equal to `e`, skipping the first `rank - 1` matches (from the tail when
    /// `from_tail`), at most `count` of them (0: all), looking at no more than `maxlen` elements (0: all).
    pub fn positions(
        &self,
        e: &[u8],
        rank: u64,
        count: u64,
        maxlen: u64,
        from_tail: bool,
    ) -> Vec<usize> {
        let needle = Needle::new(e);
        let mut out = Vec::new();
        if self.len == 0 {
            return out;
        }
        let start = if from_tail { self.len - 1 } else { 0 };
        let mut matches: u64 = 0;
        for (scanned, elem) in self.iter_from(start, from_tail).enumerate() {
            if maxlen != 0 && scanned as u64 >= maxlen {
                break;
            }
            if elem.matches(&needle) {
                matches += 1;
                if matches >= rank {
                    out.push(if from_tail {
                        self.len - 1 - scanned
                    } else {
                        scanned
                    });
                    if count != 0 && out.len() as u64 >= count {
                        break;
                    }
                }
            }
        }
        out
    }
}

/// Redis' `_quicklistInsert`: puts `e` next to the element at `p`, in its node if there is room, else in a
/// neighbour with room, a new node, or a split of the node (merging what can be merged afterwards).
fn quicklist_insert(q: &mut VecDeque<Node>, fill: i32, p: Pos, after: bool, e: &[u8]) {
    let sz = e.len();
    let ni = p.node;
    let count = q[ni].count();
    let full = !allow_insert(&q[ni], fill, sz);
    let at_tail = after && p.idx + 1 == count;
    let at_head = !after && p.idx == 0;
    let avail_next = at_tail && q.get(ni + 1).is_some_and(|n| allow_insert(n, fill, sz));
    let avail_prev = at_head && ni > 0 && allow_insert(&q[ni - 1], fill, sz);
    if !full {
        q[ni].insert(p.idx + after as usize, e);
    } else if at_tail && avail_next {
        q[ni + 1].push_front(e);
    } else if at_head && avail_prev {
        q[ni - 1].push_back(e);
    } else if at_tail {
        q.insert(ni + 1, Node::with(e));
    } else if at_head {
        q.insert(ni, Node::with(e));
    } else if after {
        let mut tail = q[ni].split_off(p.idx + 1);
        tail.push_front(e);
        q.insert(ni + 1, tail);
        merge_around(q, fill, ni);
    } else {
        let rest = q[ni].split_off(p.idx);
        let mut head = std::mem::replace(&mut q[ni], rest);
        head.push_back(e);
        q.insert(ni, head);
        merge_around(q, fill, ni + 1);
    }
}

/// Merges node `b` into node `a = b - 1`.
fn merge_pair(q: &mut VecDeque<Node>, b: usize) {
    if let Some(node) = q.remove(b) {
        q[b - 1].append(node);
    }
}

/// Redis' `_quicklistMergeNodes`: tries the pairs (prev-prev, prev), (next, next-next), (prev, center) and
/// (center, next), in that order.
fn merge_around(q: &mut VecDeque<Node>, fill: i32, mut c: usize) {
    if c >= 2 && allow_merge(&q[c - 2], &q[c - 1], fill) {
        merge_pair(q, c - 1);
        c -= 1;
    }
    if c + 2 < q.len() && allow_merge(&q[c + 1], &q[c + 2], fill) {
        merge_pair(q, c + 2);
    }
    if c >= 1 && allow_merge(&q[c - 1], &q[c], fill) {
        merge_pair(q, c);
        c -= 1;
    }
    if c + 1 < q.len() && allow_merge(&q[c], &q[c + 1], fill) {
        merge_pair(q, c + 1);
    }
}

/// Elements in one direction from a starting position.
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    /// Forward: offset of the next entry; reverse: end offset of the next entry.
    off: usize,
    left_in_node: usize,
    left: usize,
    reverse: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        while self.left_in_node == 0 {
            if self.reverse {
                self.node = self.node.checked_sub(1)?;
                self.off = self.list.node(self.node).end();
            } else {
                self.node += 1;
                if self.node >= self.list.node_count() {
                    return None;
                }
                self.off = 0;
            }
            self.left_in_node = self.list.node(self.node).count();
        }
        let node = self.list.node(self.node);
        let e = if self.reverse {
            let start = node.start_before(self.off);
            self.off = start;
            node.entry_at(start).0
        } else {
            let (e, next) = node.entry_at(self.off);
            self.off = next;
            e
        };
        self.left_in_node -= 1;
        self.left -= 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model check: random operations on a list and on a `VecDeque<Vec<u8>>` must agree, under several
    /// limits, and the node invariants must hold after every step.
    fn check(l: &List, model: &VecDeque<Vec<u8>>, fill: i32) {
        assert_eq!(l.len(), model.len());
        let got: Vec<Vec<u8>> = l
            .iter_from(0, false)
            .map(|e| e.to_bytes().to_vec())
            .collect();
        assert_eq!(got.len(), model.len());
        assert!(got.iter().zip(model.iter()).all(|(a, b)| a == b));
        if !l.is_empty() {
            let rev: Vec<Vec<u8>> = l
                .iter_from(l.len() - 1, true)
                .map(|e| e.to_bytes().to_vec())
                .collect();
            assert!(rev.iter().rev().zip(model.iter()).all(|(a, b)| a == b));
        }
        let total: usize = l.nodes().map(|(_, c)| c).sum();
        assert_eq!(total, l.len());
        if l.is_quicklist() {
            assert!(l.nodes().all(|(_, c)| c > 0), "empty node in a quicklist");
        }
        let _ = fill;
    }

    fn elem(rng: &mut crate::exec::Rng) -> Vec<u8> {
        match rng.below(6) {
            0 => rng.below(300).to_string().into_bytes(),
            1 => (rng.next_u64() as i64).to_string().into_bytes(),
            2 => vec![b'x'; rng.below(600) as usize],
            3 => vec![b'y'; 3000 + rng.below(3000) as usize],
            _ => format!("e{}", rng.below(50)).into_bytes(),
        }
    }

    #[test]
    fn random_operations_agree_with_a_model() {
        for fill in [-2, -1, 1, 2, 5, 0, 128, -5] {
            let mut rng = crate::exec::Rng::new((fill as i64 + 100) as u64);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                match rng.below(10) {
                    0..=2 => {
                        let e = elem(&mut rng);
                        l.prepare_growth(fill, e.len(), 1);
                        if rng.below(2) == 0 {
                            l.push(fill, End::Left, &e);
                            m.push_front(e);
                        } else {
                            l.push(fill, End::Right, &e);
                            m.push_back(e);
                        }
                    }
                    3 => {
                        let end = if rng.below(2) == 0 {
                            End::Left
                        } else {
                            End::Right
                        };
                        let got = l.pop(end);
                        let want = match end {
                            End::Left => m.pop_front(),
                            End::Right => m.pop_back(),
                        };
                        assert_eq!(got.map(|b| b.to_vec()), want);
                        l.after_shrink(fill);
                    }
                    4 if !m.is_empty() => {
                        let i = rng.below(m.len() as u64) as usize;
                        let e = elem(&mut rng);
                        l.prepare_growth(fill, e.len(), 1);
                        assert!(l.set(i, &e));
                        m[i] = e;
                        l.after_shrink(fill);
                    }
                    5 if !m.is_empty() => {
                        let pivot = m[rng.below(m.len() as u64) as usize].clone();
                        let e = elem(&mut rng);
                        let after = rng.below(2) == 0;
                        l.prepare_growth(fill, e.len(), 1);
                        assert!(l.insert_at_pivot(fill, &pivot, after, &e));
                        let at = m.iter().position(|x| *x == pivot).unwrap();
                        m.insert(at + after as usize, e);
                    }
                    6 if !m.is_empty() => {
                        let start = rng.below(m.len() as u64) as usize;
                        let n = rng.below(20) as usize;
                        l.remove_range(start, n);
                        let end = (start + n).min(m.len());
                        m.drain(start..end);
                        l.after_shrink(fill);
                    }
                    7 if !m.is_empty() => {
                        let target = m[rng.below(m.len() as u64) as usize].clone();
                        let limit = rng.below(3) as usize;
                        let from_tail = rng.below(2) == 0;
                        let removed = l.remove_matching(&target, limit, from_tail);
                        let mut want = 0;
                        let max = if limit == 0 { usize::MAX } else { limit };
                        if from_tail {
                            let mut i = m.len();
                            while i > 0 && want < max {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    want += 1;
                                }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && want < max {
                                if m[i] == target {
                                    m.remove(i);
                                    want += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        }
                        assert_eq!(removed, want);
                        l.after_shrink(fill);
                    }
                    8 if !m.is_empty() => {
                        let i = rng.below(m.len() as u64) as usize;
                        assert_eq!(l.get(i).unwrap().to_bytes().to_vec(), m[i]);
                        let n = rng.below(10) as usize;
                        let got: Vec<Vec<u8>> = l
                            .iter_from(i, false)
                            .take(n)
                            .map(|e| e.to_bytes().to_vec())
                            .collect();
                        let want: Vec<Vec<u8>> = m.iter().skip(i).take(n).cloned().collect();
                        assert_eq!(got, want);
                    }
                    _ => {
                        let clone = l.clone();
                        assert!(clone == l);
                        let nodes = l.nodes().map(|(b, c)| (b.to_vec(), c)).collect::<Vec<_>>();
                        if !l.is_empty() {
                            let back = List::from_nodes(l.is_quicklist(), nodes).unwrap();
                            assert!(back == l);
                        }
                    }
                }
                check(&l, &m, fill);
                if m.is_empty() {
                    // A key never holds an empty list: start over as a new key would.
                    l = List::new();
                }
                let _ = step;
            }
        }
    }

    #[test]
    fn encodings_follow_the_limits() {
        let mut l = List::new();
        for i in 0..128 {
            l.prepare_growth(128, 1, 1);
            l.push(128, End::Right, format!("{i}").as_bytes());
        }
        assert_eq!(l.encoding(), "listpack");
        l.prepare_growth(128, 1, 1);
        l.push(128, End::Right, b"x");
        assert_eq!(l.encoding(), "quicklist");
        // Shrinking converts back only at half the limit (and with one node: the 129th element is alone in
        // the second node, so it goes first).
        assert_eq!(l.pop(End::Right).as_deref(), Some(&b"x"[..]));
        for _ in 0..60 {
            l.pop(End::Left);
            l.after_shrink(128);
        }
        assert_eq!(l.encoding(), "quicklist");
        for _ in 0..4 {
            l.pop(End::Left);
            l.after_shrink(128);
        }
        assert_eq!(l.len(), 64);
        assert_eq!(l.encoding(), "listpack");

        // The default limit is 8 KB per node.
        let mut l = List::new();
        let big = vec![b'a'; 1000];
        for _ in 0..8 {
            l.prepare_growth(-2, big.len(), 1);
            l.push(-2, End::Right, &big);
        }
        assert_eq!(l.encoding(), "listpack");
        l.prepare_growth(-2, big.len(), 1);
        l.push(-2, End::Right, &big);
        assert_eq!(l.encoding(), "quicklist");
        for _ in 0..30 {
            l.push(-2, End::Right, &big);
        }
        assert!(l.nodes().count() >= 4);
        assert!(l.nodes().all(|(b, _)| b.len() + pack::LP_OVERHEAD <= 8192));
    }

    #[test]
    fn positions_rank_count_maxlen() {
        let mut l = List::new();
        for e in ["a", "b", "c", "1", "2", "3", "c", "c"] {
            l.push(-2, End::Right, e.as_bytes());
        }
        assert_eq!(l.positions(b"c", 1, 1, 0, false), [2]);
        assert_eq!(l.positions(b"c", 2, 0, 0, false), [6, 7]);
        assert_eq!(l.positions(b"c", 1, 0, 0, true), [7, 6, 2]);
        assert_eq!(l.positions(b"c", 1, 0, 3, false), [2]);
        assert_eq!(l.positions(b"c", 1, 0, 2, false), Vec::<usize>::new());
        assert_eq!(l.positions(b"3", 1, 0, 0, false), [5]);
    }
}
