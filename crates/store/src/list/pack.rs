//! A packed node: list elements back to back in one byte buffer, each entry self-describing in both directions.
//!
//! The entry layout follows Redis' listpack, so a node takes the bytes a listpack would and the size limits of
//! `list-max-listpack-size` apply to the same numbers:
//!
//! ```text
//! entry   = encoding [payload] backlen
//! 0xxxxxxx                         integer 0..=127
//! 10LLLLLL <L bytes>               string of 0..=63 bytes
//! 110xxxxx yyyyyyyy                integer -4096..=4095 (13-bit two's complement, high bits first)
//! 1110LLLL LLLLLLLL <L bytes>      string of 0..=4095 bytes (length high bits first)
//! 11110000 <u32 LE> <bytes>        string of up to 2^32-1 bytes
//! 11110001 <i16 LE>                integer
//! 11110010 <i24 LE>                integer
//! 11110011 <i32 LE>                integer
//! 11110100 <i64 LE>                integer
//! 11110101 <u64 LE> <bytes>        longer string (Shoal only: listpack stops at 2^32-1)
//! ```
//! `backlen` is the length of `encoding [payload]` in 7-bit groups written so that it reads backwards: the last
//! byte holds the lowest group and has its high bit set when more groups precede it. Walking forward decodes the
//! encoding; walking backward decodes the backlen first.
//!
//! A string that is the canonical decimal form of an `i64` is stored as an integer (as Redis does), and read
//! back as the same text.

use bytes::Bytes;

/// Bytes a listpack spends outside its entries (6-byte header, end marker): counted in a node's size so the
/// limits compare the same quantity as Redis.
pub const LP_OVERHEAD: usize = 7;

/// One element as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// An integer-encoded element.
    Int(i64),
    /// A string element.
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element's bytes as a client sees them.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Elem::Int(i) => Bytes::copy_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Elem::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// Whether the element equals `needle` (compared as the bytes a client sees).
    pub fn matches(&self, needle: &Needle) -> bool {
        match self {
            Elem::Int(i) => needle.int == Some(*i),
            Elem::Str(s) => *s == needle.bytes,
        }
    }
}

/// A client argument prepared for repeated comparison with stored elements.
#[derive(Clone, Copy, Debug)]
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    /// Prepares `bytes` for comparisons.
    pub fn new(bytes: &'a [u8]) -> Needle<'a> {
        Needle {
            bytes,
            int: as_int(bytes),
        }
    }
}

/// The integer a string is stored as, if it is one's canonical form.
fn as_int(b: &[u8]) -> Option<i64> {
    if b.len() <= 20 {
        crate::num::parse_i64(b)
    } else {
        None
    }
}

/// An entry ready to be written: encoding bytes, payload and backlen.
struct Encoded<'a> {
    head: [u8; 9],
    head_len: usize,
    payload: &'a [u8],
    back: [u8; 10],
    back_len: usize,
}

impl<'a> Encoded<'a> {
    fn new(e: &'a [u8]) -> Encoded<'a> {
        let mut head = [0u8; 9];
        let (head_len, payload): (usize, &[u8]) = match as_int(e) {
            Some(v) => (encode_int(v, &mut head), &[]),
            None => (encode_str_header(e.len(), &mut head), e),
        };
        let mut enc = Encoded {
            head,
            head_len,
            payload,
            back: [0u8; 10],
            back_len: 0,
        };
        enc.back_len = encode_backlen(head_len + payload.len(), &mut enc.back);
        enc
    }

    fn len(&self) -> usize {
        self.head_len + self.payload.len() + self.back_len
    }

    /// Writes the entry into `out`, which is exactly `self.len()` bytes long.
    fn write(&self, out: &mut [u8]) {
        let (h, rest) = out.split_at_mut(self.head_len);
        h.copy_from_slice(&self.head[..self.head_len]);
        let (p, b) = rest.split_at_mut(self.payload.len());
        p.copy_from_slice(self.payload);
        b.copy_from_slice(&self.back[..self.back_len]);
    }
}

fn encode_int(v: i64, out: &mut [u8; 9]) -> usize {
    if (0..=127).contains(&v) {
        out[0] = v as u8;
        1
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u16) & 0x1fff;
        out[0] = 0xc0 | (u >> 8) as u8;
        out[1] = u as u8;
        2
    } else if i16::try_from(v).is_ok() {
        out[0] = 0xf1;
        out[1..3].copy_from_slice(&(v as i16).to_le_bytes());
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out[0] = 0xf2;
        out[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
        4
    } else if i32::try_from(v).is_ok() {
        out[0] = 0xf3;
        out[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        5
    } else {
        out[0] = 0xf4;
        out[1..9].copy_from_slice(&v.to_le_bytes());
        9
    }
}

fn encode_str_header(len: usize, out: &mut [u8; 9]) -> usize {
    if len < 64 {
        out[0] = 0x80 | len as u8;
        1
    } else if len < 4096 {
        out[0] = 0xe0 | (len >> 8) as u8;
        out[1] = len as u8;
        2
    } else if let Ok(l) = u32::try_from(len) {
        out[0] = 0xf0;
        out[1..5].copy_from_slice(&l.to_le_bytes());
        5
    } else {
        out[0] = 0xf5;
        out[1..9].copy_from_slice(&(len as u64).to_le_bytes());
        9
    }
}

/// Bytes the backlen of an entry of `l` bytes takes (listpack's thresholds, then as many 7-bit groups as needed).
fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => ((usize::BITS - l.leading_zeros()) as usize)
            .div_ceil(7)
            .max(5),
    }
}

fn encode_backlen(l: usize, out: &mut [u8; 10]) -> usize {
    let n = backlen_size(l);
    for (i, b) in out[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        let group = ((l as u64) >> shift) as u8 & 0x7f;
        *b = if i == 0 { group } else { group | 0x80 };
    }
    n
}

/// Size of an entry holding `e` (what pushing it adds to a node).
pub fn entry_size(e: &[u8]) -> usize {
    Encoded::new(e).len()
}

/// A packed run of list elements.
#[derive(Clone, Debug, Default)]
pub struct Node {
    buf: Vec<u8>,
    count: usize,
}

/// Why a stored node is not well formed.
pub type Malformed = &'static str;

impl Node {
    /// An empty node.
    pub fn new() -> Node {
        Node::default()
    }

    /// A node holding one element.
    pub fn with(e: &[u8]) -> Node {
        let mut n = Node::new();
        n.push_back(e);
        n
    }

    /// Number of elements.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size as Redis measures a listpack (`lpBytes`): the entries plus the listpack's own overhead.
    pub fn lp_bytes(&self) -> usize {
        self.buf.len() + LP_OVERHEAD
    }

    /// The packed entries, for snapshots.
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }

    /// Heap bytes held (the buffer's capacity as the allocator would round it).
    pub fn heap_bytes(&self) -> usize {
        crate::keyspace::heap_bytes(self.buf.capacity())
    }

    /// Rebuilds a node from a snapshot's bytes, checking every entry so that a damaged or hostile snapshot
    /// cannot make later reads go out of bounds.
    pub fn from_raw(buf: Vec<u8>, count: usize) -> Result<Node, Malformed> {
        let mut off = 0;
        let mut n = 0;
        while off < buf.len() {
            let (head_len, payload_len) =
                header_checked(&buf[off..]).ok_or("bad entry encoding")?;
            let l = head_len
                .checked_add(payload_len)
                .ok_or("entry length overflows")?;
            let blen = backlen_size(l);
            let end = off
                .checked_add(l)
                .and_then(|e| e.checked_add(blen))
                .ok_or("entry length overflows")?;
            if end > buf.len() {
                return Err("entry runs past the node");
            }
            let mut want = [0u8; 10];
            encode_backlen(l, &mut want);
            if buf[off + l..end] != want[..blen] {
                return Err("entry backlen does not match");
            }
            off = end;
            n += 1;
        }
        if n != count {
            return Err("node element count does not match its entries");
        }
        let mut node = Node { buf, count };
        node.buf.shrink_to_fit();
        Ok(node)
    }

    /// Makes room for `extra` more bytes, growing by a quarter at least so repeated pushes stay amortized O(1)
    /// while the slack stays far below a doubling Vec's.
    fn reserve(&mut self, extra: usize) {
        let len = self.buf.len();
        if self.buf.capacity() - len < extra {
            let want = extra.max(len / 4 + 16);
            self.buf.reserve_exact(want);
        }
    }

    /// Gives back memory after removals, keeping some slack so that alternating pushes and pops do not
    /// reallocate every time.
    fn maybe_shrink(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() > 2 * len + 64 {
            self.buf.shrink_to(len + len / 8);
        }
    }

    /// Inserts `e` as an entry starting at byte `off` (an entry boundary).
    fn insert_at(&mut self, off: usize, e: &[u8]) {
        let enc = Encoded::new(e);
        let n = enc.len();
        self.reserve(n);
        let old = self.buf.len();
        self.buf.resize(old + n, 0);
        self.buf.copy_within(off..old, off + n);
        enc.write(&mut self.buf[off..off + n]);
        self.count += 1;
    }

    /// Appends `e`.
    pub fn push_back(&mut self, e: &[u8]) {
        self.insert_at(self.buf.len(), e);
    }

    /// Prepends `e`.
    pub fn push_front(&mut self, e: &[u8]) {
        self.insert_at(0, e);
    }

    /// Decodes the entry starting at `off`: the element and the offset of the next entry.
    pub fn entry_at(&self, off: usize) -> (Elem<'_>, usize) {
        let b = &self.buf[off..];
        let (elem, l) = match b[0] {
            0x00..=0x7f => (Elem::Int(b[0] as i64), 1),
            0x80..=0xbf => {
                let n = (b[0] & 0x3f) as usize;
                (Elem::Str(&b[1..1 + n]), 1 + n)
            }
            0xc0..=0xdf => {
                let u = (((b[0] & 0x1f) as u16) << 8) | b[1] as u16;
                // Sign-extend from 13 bits.
                let v = ((u << 3) as i16 >> 3) as i64;
                (Elem::Int(v), 2)
            }
            0xe0..=0xef => {
                let n = (((b[0] & 0x0f) as usize) << 8) | b[1] as usize;
                (Elem::Str(&b[2..2 + n]), 2 + n)
            }
            0xf0 => {
                let n = u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize;
                (Elem::Str(&b[5..5 + n]), 5 + n)
            }
            0xf1 => (Elem::Int(i16::from_le_bytes([b[1], b[2]]) as i64), 3),
            0xf2 => {
                let v = i32::from_le_bytes([0, b[1], b[2], b[3]]) >> 8;
                (Elem::Int(v as i64), 4)
            }
            0xf3 => (
                Elem::Int(i32::from_le_bytes([b[1], b[2], b[3], b[4]]) as i64),
                5,
            ),
            0xf4 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[1..9]);
                (Elem::Int(i64::from_le_bytes(a)), 9)
            }
            _ => {
                // 0xf5: validated on load and written only for strings longer than u32::MAX.
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[1..9]);
                let n = u64::from_le_bytes(a) as usize;
                (Elem::Str(&b[9..9 + n]), 9 + n)
            }
        };
        (elem, off + l + backlen_size(l))
    }

    /// Offset where the entry ending at `end` (exclusive) starts.
    pub fn start_before(&self, end: usize) -> usize {
        let mut p = end - 1;
        let mut l: usize = 0;
        let mut shift = 0;
        loop {
            let b = self.buf[p];
            l |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            p -= 1;
        }
        p - l
    }

    /// Offset of the element at `idx` (`idx < count`), walking from the nearer end.
    pub fn offset_of(&self, idx: usize) -> usize {
        if idx <= self.count / 2 {
            let mut off = 0;
            for _ in 0..idx {
                off = self.entry_at(off).1;
            }
            off
        } else {
            let mut off = self.buf.len();
            for _ in idx..self.count {
                off = self.start_before(off);
            }
            off
        }
    }

    /// Length of the buffer, the end offset of the last entry.
    pub fn end(&self) -> usize {
        self.buf.len()
    }

    /// The element at `idx`.
    pub fn get(&self, idx: usize) -> Elem<'_> {
        self.entry_at(self.offset_of(idx)).0
    }

    /// Replaces the element at `idx` by `e`.
    pub fn replace(&mut self, idx: usize, e: &[u8]) {
        let off = self.offset_of(idx);
        let next = self.entry_at(off).1;
        let enc = Encoded::new(e);
        let n = enc.len();
        let old = next - off;
        if n > old {
            self.reserve(n - old);
            let len = self.buf.len();
            self.buf.resize(len + n - old, 0);
            self.buf.copy_within(next..len, off + n);
        } else if n < old {
            self.buf.copy_within(next.., off + n);
            self.buf.truncate(self.buf.len() - (old - n));
        }
        enc.write(&mut self.buf[off..off + n]);
        if n < old {
            self.maybe_shrink();
        }
    }

    /// Inserts `e` before the element at `idx` (`idx == count` appends).
    pub fn insert(&mut self, idx: usize, e: &[u8]) {
        let off = if idx == self.count {
            self.buf.len()
        } else {
            self.offset_of(idx)
        };
        self.insert_at(off, e);
    }

    /// Removes `n` elements starting at `idx` (the range must lie inside the node).
    pub fn remove_range(&mut self, idx: usize, n: usize) {
        if n == 0 {
            return;
        }
        let start = self.offset_of(idx);
        let end = if idx + n == self.count {
            self.buf.len()
        } else {
            let mut off = start;
            for _ in 0..n {
                off = self.entry_at(off).1;
            }
            off
        };
        self.buf.drain(start..end);
        self.count -= n;
        self.maybe_shrink();
    }

    /// Removes and returns the first element.
    pub fn pop_front(&mut self) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        let (e, next) = self.entry_at(0);
        let out = e.to_bytes();
        self.buf.drain(..next);
        self.count -= 1;
        self.maybe_shrink();
        Some(out)
    }

    /// Removes and returns the last element.
    pub fn pop_back(&mut self) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        let start = self.start_before(self.buf.len());
        let out = self.entry_at(start).0.to_bytes();
        self.buf.truncate(start);
        self.count -= 1;
        self.maybe_shrink();
        Some(out)
    }

    /// Splits off the elements from `idx` on into a new node; this node keeps `[0, idx)`.
    pub fn split_off(&mut self, idx: usize) -> Node {
        let off = if idx == self.count {
            self.buf.len()
        } else {
            self.offset_of(idx)
        };
        let tail = self.buf.split_off(off);
        let moved = self.count - idx;
        self.count = idx;
        self.buf.shrink_to_fit();
        Node {
            buf: tail,
            count: moved,
        }
    }

    /// Appends every element of `other`.
    pub fn append(&mut self, other: Node) {
        if self.count == 0 {
            *self = other;
            return;
        }
        self.buf.reserve_exact(other.buf.len());
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Removes elements equal to `needle`: the first `limit` matches, or the last `limit` when `from_back`.
    /// Returns how many were removed.
    pub fn remove_matches(&mut self, needle: &Needle, limit: usize, from_back: bool) -> usize {
        // Byte ranges of the matching entries, in order; a node holds few enough entries to list them.
        let mut hits: Vec<(usize, usize)> = Vec::new();
        let mut off = 0;
        while off < self.buf.len() {
            let (e, next) = self.entry_at(off);
            if e.matches(needle) {
                hits.push((off, next));
                if !from_back && hits.len() == limit {
                    break;
                }
            }
            off = next;
        }
        if from_back && hits.len() > limit {
            hits.drain(..hits.len() - limit);
        }
        if hits.is_empty() {
            return 0;
        }
        // Compact in place: move every kept run left over the removed entries.
        let mut write = hits[0].0;
        for (i, &(_, end)) in hits.iter().enumerate() {
            let keep_end = hits.get(i + 1).map_or(self.buf.len(), |h| h.0);
            self.buf.copy_within(end..keep_end, write);
            write += keep_end - end;
        }
        self.buf.truncate(write);
        self.count -= hits.len();
        self.maybe_shrink();
        hits.len()
    }

    /// Elements front to back.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        NodeIter {
            node: self,
            front: 0,
            back: self.buf.len(),
            left: self.count,
        }
    }
}

struct NodeIter<'a> {
    node: &'a Node,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        let (e, next) = self.node.entry_at(self.front);
        self.front = next;
        self.left -= 1;
        Some(e)
    }
}

impl<'a> DoubleEndedIterator for NodeIter<'a> {
    fn next_back(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        let start = self.node.start_before(self.back);
        self.back = start;
        self.left -= 1;
        Some(self.node.entry_at(start).0)
    }
}

/// Lengths of an entry's encoding bytes and payload, or `None` for an unknown encoding or a header cut short.
fn header_checked(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    let at = |i: usize| b.get(i).copied();
    Some(match first {
        0x00..=0x7f => (1, 0),
        0x80..=0xbf => (1, (first & 0x3f) as usize),
        0xc0..=0xdf => {
            at(1)?;
            (2, 0)
        }
        0xe0..=0xef => (2, (((first & 0x0f) as usize) << 8) | at(1)? as usize),
        0xf0 => {
            let l = u32::from_le_bytes([at(1)?, at(2)?, at(3)?, at(4)?]);
            (5, usize::try_from(l).ok()?)
        }
        0xf1 => {
            at(2)?;
            (3, 0)
        }
        0xf2 => {
            at(3)?;
            (4, 0)
        }
        0xf3 => {
            at(4)?;
            (5, 0)
        }
        0xf4 => {
            at(8)?;
            (9, 0)
        }
        0xf5 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b.get(1..9)?);
            (9, usize::try_from(u64::from_le_bytes(a)).ok()?)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elems(n: &Node) -> Vec<Vec<u8>> {
        n.iter().map(|e| e.to_bytes().to_vec()).collect()
    }

    const SAMPLES: &[&str] = &[
        "0",
        "1",
        "127",
        "128",
        "-1",
        "-4096",
        "4095",
        "4096",
        "-4097",
        "32767",
        "-32768",
        "32768",
        "8388607",
        "-8388608",
        "8388608",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-0",
        "01",
        "+1",
        " 1",
        "",
        "a",
        "hello",
    ];

    #[test]
    fn every_encoding_round_trips_both_ways() {
        let mut n = Node::new();
        let mut want: Vec<Vec<u8>> = SAMPLES.iter().map(|s| s.as_bytes().to_vec()).collect();
        for len in [63, 64, 4095, 4096, 70_000] {
            want.push(vec![b'x'; len]);
        }
        for w in &want {
            n.push_back(w);
        }
        assert_eq!(elems(&n), want);
        let mut rev: Vec<Vec<u8>> = n.iter().rev().map(|e| e.to_bytes().to_vec()).collect();
        rev.reverse();
        assert_eq!(rev, want);
        for (i, w) in want.iter().enumerate() {
            assert_eq!(n.get(i).to_bytes().as_ref(), &w[..]);
        }
        let back = Node::from_raw(n.raw().to_vec(), n.count()).unwrap();
        assert_eq!(elems(&back), want);
    }

    #[test]
    fn sizes_match_listpack() {
        // Entry sizes as listpack computes them (encoding + payload + backlen).
        for (e, size) in [
            ("5", 2),
            ("-5", 3),
            ("1000", 3),
            ("30000", 4),
            ("8000000", 5),
            ("2000000000", 6),
            ("9000000000", 10),
            ("abc", 5),
        ] {
            assert_eq!(entry_size(e.as_bytes()), size, "{e}");
        }
        assert_eq!(entry_size(&[b'x'; 100]), 100 + 2 + 1);
        assert_eq!(entry_size(&[b'x'; 200]), 200 + 2 + 2);
        assert_eq!(Node::new().lp_bytes(), 7);
    }

    #[test]
    fn edits_in_the_middle() {
        let mut n = Node::new();
        for i in 0..10 {
            n.push_back(format!("v{i}").as_bytes());
        }
        n.insert(3, b"new");
        n.replace(0, &[b'z'; 300]);
        n.replace(5, b"7");
        n.remove_range(8, 2);
        let got: Vec<String> = n
            .iter()
            .map(|e| String::from_utf8(e.to_bytes().to_vec()).unwrap())
            .collect();
        let z = "z".repeat(300);
        assert_eq!(got, [&z, "v1", "v2", "new", "v3", "7", "v5", "v6", "v9"]);
        assert_eq!(n.count(), 9);
        let tail = n.split_off(4);
        assert_eq!(n.count(), 4);
        assert_eq!(tail.count(), 5);
        assert_eq!(tail.get(0).to_bytes().as_ref(), b"v3");
        n.append(tail);
        assert_eq!(n.count(), 9);
        assert_eq!(n.pop_front().unwrap().as_ref(), z.as_bytes());
        assert_eq!(n.pop_back().unwrap().as_ref(), b"v9");
        assert!(Node::from_raw(n.raw().to_vec(), n.count()).is_ok());
    }

    #[test]
    fn remove_matches_from_either_end() {
        let mut n = Node::new();
        for e in ["a", "1", "a", "b", "a", "1", "a"] {
            n.push_back(e.as_bytes());
        }
        assert_eq!(n.remove_matches(&Needle::new(b"a"), 2, true), 2);
        let got: Vec<_> = n.iter().map(|e| e.to_bytes()).collect();
        assert_eq!(got, ["a", "1", "a", "b", "1"]);
        assert_eq!(n.remove_matches(&Needle::new(b"1"), usize::MAX, false), 2);
        assert_eq!(n.remove_matches(&Needle::new(b"a"), 1, false), 1);
        let got: Vec<_> = n.iter().map(|e| e.to_bytes()).collect();
        assert_eq!(got, ["a", "b"]);
        assert_eq!(n.remove_matches(&Needle::new(b"zz"), 5, false), 0);
    }

    #[test]
    fn malformed_nodes_are_refused() {
        let mut n = Node::new();
        n.push_back(b"hello");
        n.push_back(b"12345");
        let raw = n.raw().to_vec();
        assert!(Node::from_raw(raw.clone(), 3).is_err());
        for cut in 0..raw.len() {
            assert!(Node::from_raw(raw[..cut].to_vec(), 2).is_err(), "cut {cut}");
        }
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[i] ^= 1 << bit;
                // Either refused, or still a well-formed node of two entries that reads without panicking.
                if let Ok(n) = Node::from_raw(bad, 2) {
                    assert_eq!(n.iter().count(), 2);
                    assert_eq!(n.iter().rev().count(), 2);
                }
            }
        }
        assert!(Node::from_raw(vec![0xff], 1).is_err());
        assert!(Node::from_raw(
            vec![0xf5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            1
        )
        .is_err());
    }
}
