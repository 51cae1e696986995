//! The data structures behind the collection types, each with a compact encoding for small values and a
//! [`crate::dict::Dict`]-based one for large values, switching at Redis' thresholds.
//!
//! - `intset`: a sorted array of integers packed at the narrowest width that holds them (Redis' intset).
//! - `listpack`: field/value pairs in one allocation, for small hashes (Redis' listpack / listpackex).
//! - `hash`: [`hash::Hash`], a listpack or a hash table, with per-field deadlines (Redis 7.4).
//! - `set`: [`set::Set`], an intset or a hash table.
//! - `stream`: [`stream::Stream`], nodes of packed entries under a B-tree, with consumer groups.

pub mod hash;
pub mod intset;
pub mod listpack;
pub mod set;
pub mod stream;

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes [`put_varint`] writes for `v`.
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a varint written by [`put_varint`] at `*pos`, advancing it. The buffers it reads are built by this
/// crate, so a malformed varint is a bug; it reads as much as is there rather than panicking.
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        if shift < 64 {
            v |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

/// Bytes glibc malloc takes for a request of `n` bytes (see `keyspace::heap_bytes`).
pub(crate) fn heap_bytes(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_with_their_length() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut pos = 0;
            assert_eq!(get_varint(&out, &mut pos), v);
            assert_eq!(pos, out.len());
        }
    }
}
