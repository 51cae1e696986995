//! A small hash in one allocation, in the role of Redis' listpack (and, with deadlines, listpackex).
//!
//! ```text
//! header   varint: entry count << 1 | deadline flag
//! entry*   varint field length, field, varint value length, value [, varint deadline]
//! ```
//! With the flag set every entry carries a deadline slot: 0 for none, else the Unix-ms deadline plus one.
//! Entries stay in insertion order. Every change writes a new buffer of the exact size (one allocation and a
//! copy, as a listpack's realloc and memmove), which keeps a 10-field hash of short strings near 170 bytes:
//! less than Redis' listpack, whose entries also carry a back-length byte.

use super::{get_varint, put_varint, varint_len};
use crate::keyspace::NO_EXPIRE;

/// Field/value pairs packed in one buffer; see the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct Pack(Box<[u8]>);

/// One entry of a [`Pack`], borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The field name.
    pub field: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The field's deadline in Unix ms, or [`NO_EXPIRE`].
    pub expire_at: i64,
    /// Byte range of the entry in the buffer.
    start: usize,
    end: usize,
}

impl Default for Pack {
    fn default() -> Self {
        Pack::new()
    }
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|e| {
                (
                    String::from_utf8_lossy(e.field),
                    String::from_utf8_lossy(e.value),
                    e.expire_at,
                )
            }))
            .finish()
    }
}

fn encode_deadline(expire_at: i64) -> u64 {
    if expire_at == NO_EXPIRE {
        0
    } else {
        (expire_at as u64).wrapping_add(1)
    }
}

fn entry_len(field: &[u8], value: &[u8], expire_at: i64, with_deadline: bool) -> usize {
    let mut n =
        varint_len(field.len() as u64) + field.len() + varint_len(value.len() as u64) + value.len();
    if with_deadline {
        n += varint_len(encode_deadline(expire_at));
    }
    n
}

fn put_entry(out: &mut Vec<u8>, field: &[u8], value: &[u8], expire_at: i64, with_deadline: bool) {
    put_varint(out, field.len() as u64);
    out.extend_from_slice(field);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
    if with_deadline {
        put_varint(out, encode_deadline(expire_at));
    }
}

fn header(count: usize, with_deadlines: bool) -> u64 {
    ((count as u64) << 1) | u64::from(with_deadlines)
}

/// Walks the entries of a [`Pack`].
#[derive(Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
    deadlines: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut pos = self.pos;
        let take = |pos: &mut usize| {
            let n = get_varint(self.buf, pos) as usize;
            let at = (*pos).min(self.buf.len());
            let s = &self.buf[at..at.saturating_add(n).min(self.buf.len())];
            *pos = at + s.len();
            s
        };
        let field = take(&mut pos);
        let value = take(&mut pos);
        let expire_at = if self.deadlines {
            match get_varint(self.buf, &mut pos) {
                0 => NO_EXPIRE,
                d => (d - 1) as i64,
            }
        } else {
            NO_EXPIRE
        };
        self.pos = pos;
        Some(Entry {
            field,
            value,
            expire_at,
            start,
            end: pos,
        })
    }
}

impl Pack {
    /// An empty pack without deadline slots.
    pub fn new() -> Pack {
        Pack(Box::new([0]))
    }

    fn header(&self) -> (usize, bool, usize) {
        let mut pos = 0;
        let h = get_varint(&self.0, &mut pos);
        ((h >> 1) as usize, h & 1 == 1, pos)
    }

    /// Number of entries, expired ones included.
    pub fn len(&self) -> usize {
        self.header().0
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether entries carry deadline slots (Redis' `listpackex` encoding).
    pub fn has_deadline_slots(&self) -> bool {
        self.header().1
    }

    /// Bytes of the allocation.
    pub fn alloc_len(&self) -> usize {
        self.0.len()
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        let (_, deadlines, pos) = self.header();
        Iter {
            buf: &self.0,
            pos,
            deadlines,
        }
    }

    /// The entry for `field`.
    pub fn find(&self, field: &[u8]) -> Option<Entry<'_>> {
        self.iter().find(|e| e.field == field)
    }

    /// The pack with bytes `start..end` replaced by the given entry (or by nothing), the count changed to
    /// `count`: one allocation of the exact size.
    fn splice(
        &self,
        start: usize,
        end: usize,
        entry: Option<(&[u8], &[u8], i64)>,
        count: usize,
    ) -> Pack {
        let (_, deadlines, body) = self.header();
        let h = header(count, deadlines);
        let added = entry.map_or(0, |(f, v, e)| entry_len(f, v, e, deadlines));
        let mut out =
            Vec::with_capacity(varint_len(h) + (start - body) + added + (self.0.len() - end));
        put_varint(&mut out, h);
        out.extend_from_slice(&self.0[body..start]);
        if let Some((f, v, e)) = entry {
            put_entry(&mut out, f, v, e, deadlines);
        }
        out.extend_from_slice(&self.0[end..]);
        Pack(out.into_boxed_slice())
    }

    /// Sets `field` to `value`, appending a new field at the end. An existing field keeps its deadline when
    /// `keep_deadline`, else loses it. Returns whether the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], keep_deadline: bool) -> bool {
        let len = self.len();
        match self.find(field) {
            Some(e) => {
                let expire_at = if keep_deadline {
                    e.expire_at
                } else {
                    NO_EXPIRE
                };
                *self = self.splice(e.start, e.end, Some((field, value, expire_at)), len);
                false
            }
            None => {
                let end = self.0.len();
                *self = self.splice(end, end, Some((field, value, NO_EXPIRE)), len + 1);
                true
            }
        }
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(e) = self.find(field) else {
            return false;
        };
        let len = self.len();
        *self = self.splice(e.start, e.end, None, len - 1);
        true
    }

    /// Sets the deadline of an existing `field` ([`NO_EXPIRE`] clears it), adding deadline slots to every
    /// entry first if the pack has none. Returns whether the field exists.
    pub fn set_deadline(&mut self, field: &[u8], expire_at: i64) -> bool {
        if self.find(field).is_none() {
            return false;
        }
        if !self.has_deadline_slots() {
            let rebuilt =
                Pack::from_entries(self.iter().map(|e| (e.field, e.value, e.expire_at)), true);
            *self = rebuilt;
        }
        if let Some(e) = self.find(field) {
            let len = self.len();
            *self = self.splice(e.start, e.end, Some((e.field, e.value, expire_at)), len);
        }
        true
    }

    /// Removes the entries `drop` selects; returns how many.
    pub fn remove_where(&mut self, mut drop: impl FnMut(&Entry) -> bool) -> usize {
        let before = self.len();
        let kept: Vec<Entry> = self.iter().filter(|e| !drop(e)).collect();
        if kept.len() == before {
            return 0;
        }
        let deadlines = self.has_deadline_slots();
        let removed = before - kept.len();
        let rebuilt = Pack::from_entries(
            kept.iter().map(|e| (e.field, e.value, e.expire_at)),
            deadlines,
        );
        *self = rebuilt;
        removed
    }

    /// Builds a pack of the given entries, in order (callers guarantee distinct fields).
    pub fn from_entries<'a>(
        entries: impl Iterator<Item = (&'a [u8], &'a [u8], i64)> + Clone,
        with_deadlines: bool,
    ) -> Pack {
        let (mut count, mut size) = (0, 0);
        for (f, v, e) in entries.clone() {
            count += 1;
            size += entry_len(f, v, e, with_deadlines);
        }
        let h = header(count, with_deadlines);
        let mut out = Vec::with_capacity(varint_len(h) + size);
        put_varint(&mut out, h);
        for (f, v, e) in entries {
            put_entry(&mut out, f, v, e, with_deadlines);
        }
        Pack(out.into_boxed_slice())
    }

    /// The earliest deadline of any entry.
    pub fn min_deadline(&self) -> Option<i64> {
        if !self.has_deadline_slots() {
            return None;
        }
        self.iter()
            .map(|e| e.expire_at)
            .filter(|&e| e != NO_EXPIRE)
            .min()
    }

    /// Whether some entry has a deadline.
    pub fn has_deadlines(&self) -> bool {
        self.min_deadline().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &Pack) -> Vec<(String, String, i64)> {
        p.iter()
            .map(|e| {
                (
                    String::from_utf8(e.field.to_vec()).unwrap(),
                    String::from_utf8(e.value.to_vec()).unwrap(),
                    e.expire_at,
                )
            })
            .collect()
    }

    fn t(f: &str, v: &str, e: i64) -> (String, String, i64) {
        (f.into(), v.into(), e)
    }

    #[test]
    fn set_replace_remove_keep_order() {
        let mut p = Pack::new();
        assert!(p.is_empty());
        assert!(p.set(b"a", b"1", false));
        assert!(p.set(b"b", b"22", false));
        assert!(p.set(b"c", b"", false));
        assert!(!p.set(b"a", b"111", false));
        assert_eq!(
            pairs(&p),
            vec![t("a", "111", -1), t("b", "22", -1), t("c", "", -1)]
        );
        assert_eq!(p.len(), 3);
        assert!(p.remove(b"b"));
        assert!(!p.remove(b"b"));
        assert_eq!(pairs(&p), vec![t("a", "111", -1), t("c", "", -1)]);
        assert_eq!(p.find(b"c").map(|e| e.value), Some(&b""[..]));
        assert!(p.find(b"zz").is_none());
        // No slack: the buffer is exactly header + entries.
        assert_eq!(p.alloc_len(), 1 + (1 + 1 + 1 + 3) + (1 + 1 + 1));
    }

    #[test]
    fn deadlines_add_slots_and_follow_set() {
        let mut p = Pack::new();
        p.set(b"a", b"1", false);
        p.set(b"b", b"2", false);
        assert!(!p.has_deadline_slots());
        assert_eq!(p.min_deadline(), None);
        assert!(!p.set_deadline(b"x", 5));
        assert!(!p.has_deadline_slots());
        assert!(p.set_deadline(b"b", 1_000));
        assert!(p.has_deadline_slots());
        assert_eq!(pairs(&p), vec![t("a", "1", -1), t("b", "2", 1_000)]);
        assert_eq!(p.min_deadline(), Some(1_000));
        p.set_deadline(b"a", 0);
        assert_eq!(p.min_deadline(), Some(0));
        // Overwriting keeps the deadline only when asked to.
        p.set(b"b", b"3", true);
        assert_eq!(p.find(b"b").unwrap().expire_at, 1_000);
        p.set(b"b", b"4", false);
        assert_eq!(p.find(b"b").unwrap().expire_at, NO_EXPIRE);
        assert!(p.set(b"c", b"5", false));
        assert_eq!(
            pairs(&p),
            vec![t("a", "1", 0), t("b", "4", -1), t("c", "5", -1)]
        );
        assert_eq!(p.remove_where(|e| e.expire_at == 0), 1);
        assert_eq!(p.remove_where(|_| false), 0);
        assert_eq!(pairs(&p), vec![t("b", "4", -1), t("c", "5", -1)]);
        // The slots stay (Redis keeps listpackex too).
        assert!(p.has_deadline_slots());
        assert!(!p.has_deadlines());
    }

    #[test]
    fn long_fields_and_many_entries() {
        let mut p = Pack::new();
        let long = vec![b'x'; 300];
        for i in 0..200 {
            p.set(format!("f{i}").as_bytes(), &long, false);
        }
        assert_eq!(p.len(), 200);
        assert_eq!(p.find(b"f199").unwrap().value, &long[..]);
        for i in 0..200 {
            assert!(p.remove(format!("f{i}").as_bytes()));
        }
        assert!(p.is_empty());
        assert_eq!(p, Pack::new());
    }
}
