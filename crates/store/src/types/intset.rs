//! A set of integers as one sorted array (Redis' `intset.c`): every element at the width of the widest one
//! (2, 4 or 8 bytes, little endian), found by binary search. Adding a wider element rewrites the array at the
//! new width; the width never shrinks, as in Redis.

use std::cmp::Ordering;

/// Sorted distinct integers in one allocation: a width byte, then the elements.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet(Box<[u8]>);

/// The narrowest width holding `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn read(b: &[u8], width: usize) -> i64 {
    match width {
        2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

fn write(out: &mut Vec<u8>, v: i64, width: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::new()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl IntSet {
    /// An empty set at the narrowest width.
    pub fn new() -> IntSet {
        IntSet(Box::new([2]))
    }

    fn width(&self) -> usize {
        usize::from(self.0[0])
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        (self.0.len() - 1) / self.width()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let at = 1 + i.checked_mul(w)?;
        self.0.get(at..at + w).map(|b| read(b, w))
    }

    /// Index of `v`, or where it would go.
    fn search(&self, v: i64) -> Result<usize, usize> {
        if width_for(v) > self.width() {
            // Wider than every element: it would go first (negative) or last.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).map_or(Ordering::Greater, |m| m.cmp(&v)) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Whether `v` is an element.
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Adds `v`; returns whether it was new.
    pub fn insert(&mut self, v: i64) -> bool {
        let Err(at) = self.search(v) else {
            return false;
        };
        let old_w = self.width();
        let w = old_w.max(width_for(v));
        let len = self.len();
        let mut out = Vec::with_capacity(1 + (len + 1) * w);
        out.push(w as u8);
        if w == old_w {
            out.extend_from_slice(&self.0[1..1 + at * w]);
            write(&mut out, v, w);
            out.extend_from_slice(&self.0[1 + at * w..]);
        } else {
            for (i, x) in self.iter().enumerate() {
                if i == at {
                    write(&mut out, v, w);
                }
                write(&mut out, x, w);
            }
            if at == len {
                write(&mut out, v, w);
            }
        }
        self.0 = out.into_boxed_slice();
        true
    }

    /// Removes `v`; returns whether it was there.
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(at) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let mut out = Vec::with_capacity(self.0.len() - w);
        out.extend_from_slice(&self.0[..1 + at * w]);
        out.extend_from_slice(&self.0[1 + (at + 1) * w..]);
        self.0 = out.into_boxed_slice();
        true
    }

    /// The elements in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let w = self.width();
        self.0[1..].chunks_exact(w).map(move |b| read(b, w))
    }

    /// Builds a set from ascending distinct elements (a snapshot's); `None` if they are not.
    pub fn from_sorted(values: &[i64]) -> Option<IntSet> {
        if values.windows(2).any(|p| p[0] >= p[1]) {
            return None;
        }
        let w = values.iter().map(|&v| width_for(v)).max().unwrap_or(2);
        let mut out = Vec::with_capacity(1 + values.len() * w);
        out.push(w as u8);
        for &v in values {
            write(&mut out, v, w);
        }
        Some(IntSet(out.into_boxed_slice()))
    }

    /// The width in bytes every element is stored at (2, 4 or 8).
    pub fn width_bytes(&self) -> usize {
        self.width()
    }

    /// [`IntSet::from_sorted`] at a given width (as a snapshot recorded it), which must hold every element.
    pub fn from_sorted_at(values: &[i64], width: usize) -> Option<IntSet> {
        let s = IntSet::from_sorted(values)?;
        if !matches!(width, 2 | 4 | 8) || width < s.width() {
            return None;
        }
        let mut out = Vec::with_capacity(1 + values.len() * width);
        out.push(width as u8);
        for &v in values {
            write(&mut out, v, width);
        }
        Some(IntSet(out.into_boxed_slice()))
    }

    /// Bytes of the allocation.
    pub fn alloc_len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_order_and_upgrades_width() {
        let mut s = IntSet::new();
        assert!(s.is_empty());
        for v in [5, -3, 100, 5, 0] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 0, 5, 100]);
        assert_eq!(s.width(), 2);
        assert!(s.insert(70_000));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width(), 8);
        assert!(!s.insert(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 0, 5, 100, 70_000, i64::MAX]
        );
        assert_eq!(s.len(), 7);
        assert!(s.contains(70_000) && s.contains(-3) && !s.contains(6));
        assert_eq!(s.get(1), Some(-3));
        assert_eq!(s.get(7), None);
        assert_eq!(s.get(usize::MAX), None);
    }

    #[test]
    fn wide_values_are_not_found_in_narrow_sets() {
        let s = IntSet::from_sorted(&[1, 2, 3]).unwrap();
        assert!(!s.contains(1 << 40));
        assert!(!s.contains(-(1 << 40)));
        assert!(!s.contains(i64::MIN));
    }

    #[test]
    fn remove_and_from_sorted() {
        let mut s = IntSet::from_sorted(&[-70_000, 1, 2, 3]).unwrap();
        assert!(s.remove(2));
        assert!(!s.remove(2));
        assert!(s.remove(-70_000));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 3]);
        // The width stays.
        assert_eq!(s.width(), 4);
        assert!(IntSet::from_sorted(&[2, 1]).is_none());
        assert!(IntSet::from_sorted(&[1, 1]).is_none());
        assert_eq!(IntSet::from_sorted(&[]).unwrap(), IntSet::new());
    }

    #[test]
    fn matches_a_btreeset_under_random_edits() {
        let mut rng = crate::exec::Rng::new(3);
        let mut s = IntSet::new();
        let mut model = std::collections::BTreeSet::new();
        for _ in 0..5000 {
            let v = match rng.below(3) {
                0 => rng.below(100) as i64 - 50,
                1 => rng.below(200_000) as i64 - 100_000,
                _ => rng.next_u64() as i64 >> rng.below(64),
            };
            if rng.below(3) == 0 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
        }
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            model.into_iter().collect::<Vec<_>>()
        );
    }
}
