//! The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis. Bitmaps are ordinary string values; an
//! integer-encoded string is read as its decimal text and becomes a plain string once a write changes it.

use std::borrow::Cow;

use bytes::Bytes;
use resp::Frame;

use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::table::{acl, flags, CommandSpec, Handler, Writes};
use crate::value::Value;

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "setbit",
        4,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        Handler::Keyspace(setbit),
    )
    .keys(1, 1, 1)
    .doc(
        "bitmap",
        "2.2.0",
        "O(1)",
        "Sets or clears the bit at offset in the string value stored at key",
    ),
    CommandSpec::new(
        "getbit",
        3,
        flags::READONLY | flags::FAST,
        acl::BITMAP,
        Handler::Keyspace(getbit),
    )
    .keys(1, 1, 1)
    .doc(
        "bitmap",
        "2.2.0",
        "O(1)",
        "Returns the bit value at offset in the string value stored at key",
    ),
    CommandSpec::new(
        "bitcount",
        -2,
        flags::READONLY,
        acl::BITMAP,
        Handler::Keyspace(bitcount),
    )
    .keys(1, 1, 1)
    .doc("bitmap", "2.6.0", "O(N)", "Count set bits in a string"),
    CommandSpec::new(
        "bitpos",
        -3,
        flags::READONLY,
        acl::BITMAP,
        Handler::Keyspace(bitpos),
    )
    .keys(1, 1, 1)
    .doc(
        "bitmap",
        "2.8.7",
        "O(N)",
        "Find first bit set or clear in a string",
    ),
    CommandSpec::new(
        "bitop",
        -4,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        Handler::Keyspace(bitop),
    )
    .keys(2, -1, 1)
    .writes(Writes::FirstKey)
    .doc(
        "bitmap",
        "2.6.0",
        "O(N)",
        "Perform bitwise operations between strings",
    ),
    CommandSpec::new(
        "bitfield",
        -2,
        flags::WRITE | flags::DENYOOM,
        acl::BITMAP,
        Handler::Keyspace(bitfield),
    )
    .keys(1, 1, 1)
    .doc(
        "bitmap",
        "3.2.0",
        "O(1) for each subcommand specified",
        "Perform arbitrary bitfield integer operations on strings",
    ),
    CommandSpec::new(
        "bitfield_ro",
        -2,
        flags::READONLY | flags::FAST,
        acl::BITMAP,
        Handler::Keyspace(bitfield_ro),
    )
    .keys(1, 1, 1)
    .doc(
        "bitmap",
        "6.0.0",
        "O(1) for each subcommand specified",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
    ),
];

/// Redis' default `proto-max-bulk-len`: the largest string a bit offset may address.
const PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

const ERR_BIT_OFFSET: Frame = Frame::error("ERR bit offset is not an integer or out of range");
const ERR_BIT_VALUE: Frame = Frame::error("ERR bit is not an integer or out of range");
const ERR_BITPOS_BIT: Frame = Frame::error("ERR The bit argument must be 1 or 0.");
const ERR_BITOP_NOT: Frame = Frame::error("ERR BITOP NOT must be called with a single source key.");
const ERR_BITFIELD_TYPE: Frame = Frame::error(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
const ERR_OVERFLOW_TYPE: Frame = Frame::error("ERR Invalid OVERFLOW type specified");
const ERR_BITFIELD_RO: Frame = Frame::error("ERR BITFIELD_RO only supports the GET subcommand");

// ---------------------------------------------------------------------------------------------------------
// Access to string values
// ---------------------------------------------------------------------------------------------------------

/// The bytes of a string value (the decimal text of an integer), or WRONGTYPE.
fn string_of(v: &Value) -> Result<Cow<'_, [u8]>, Frame> {
    match v {
        Value::Str(s) => Ok(Cow::Borrowed(s)),
        Value::Int(i) => Ok(Cow::Owned(crate::num::format_i64(*i))),
        #[allow(unreachable_patterns)]
        _ => Err(errors::WRONGTYPE),
    }
}

/// A string moved out of the keyspace so bits can be edited without copying it.
struct Taken {
    /// The string's bytes (empty for a missing key).
    buf: Vec<u8>,
    /// Whether the key existed.
    existed: bool,
    /// Whether the keyspace still holds the original value (an integer), so an unchanged string need not be
    /// put back.
    still_stored: bool,
}

/// Takes the string at `key` for editing; every argument must already be validated, because the caller has to
/// hand the bytes back with [`put_back`].
fn take_string(ks: &mut Keyspace, ctx: &ExecCtx, key: &[u8]) -> Result<Taken, Frame> {
    match ks.lookup(ctx, key) {
        None => Ok(Taken {
            buf: Vec::new(),
            existed: false,
            still_stored: false,
        }),
        Some(o) => match &mut o.value {
            Value::Str(s) => Ok(Taken {
                buf: std::mem::take(s),
                existed: true,
                still_stored: false,
            }),
            Value::Int(i) => Ok(Taken {
                buf: crate::num::format_i64(*i),
                existed: true,
                still_stored: true,
            }),
            #[allow(unreachable_patterns)]
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Stores an edited string back under `key`, keeping the key's TTL (a new key gets none).
fn put_back(ks: &mut Keyspace, ctx: &ExecCtx, key: &[u8], taken: Taken, changed: bool) {
    if changed || (taken.existed && !taken.still_stored) {
        ks.set_keep_ttl(ctx, key, Value::Str(taken.buf));
    }
}

/// Zero-pads `buf` so that byte `byte` exists; returns whether it grew. `byte` comes from a validated offset,
/// so it is below `PROTO_MAX_BULK_LEN` plus a few bytes. Capacity grows like Redis' sds (doubling below 1MB,
/// then 1MB at a time) so repeated growth stays linear, but never reserves past the size limit.
fn grow_to(buf: &mut Vec<u8>, byte: u64) -> bool {
    let needed = byte as usize + 1;
    if buf.len() >= needed {
        return false;
    }
    if buf.capacity() == 0 {
        // A new string is sized exactly, as Redis does, and zeroed allocations come cheaply from the allocator.
        *buf = vec![0; needed];
        return true;
    }
    if buf.capacity() < needed {
        const MB: usize = 1024 * 1024;
        let greedy = if needed < MB { needed * 2 } else { needed + MB };
        let target = greedy.min(needed.max(PROTO_MAX_BULK_LEN as usize));
        buf.reserve_exact(target - buf.len());
    }
    buf.resize(needed, 0);
    true
}

/// Parses a bit offset as Redis' `getBitOffsetFromArgument`: a non-negative integer addressing a byte below
/// proto-max-bulk-len. With `hash_bits` (BITFIELD), `#N` means `N * hash_bits`.
fn bit_offset(arg: &[u8], hash_bits: Option<u32>, limit: u64) -> Result<u64, Frame> {
    let (digits, mult) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let n = crate::num::parse_i64(digits).ok_or(ERR_BIT_OFFSET)?;
    // Redis multiplies without an overflow check; wrapping reproduces what it computes.
    let n = n.wrapping_mul(mult);
    if n < 0 || (n as u64 >> 3) >= limit {
        return Err(ERR_BIT_OFFSET);
    }
    Ok(n as u64)
}

// ---------------------------------------------------------------------------------------------------------
// Bit scanning
// ---------------------------------------------------------------------------------------------------------

/// Eight bytes as a big-endian word, so bit 0 of the bitmap is the word's most significant bit.
#[inline]
fn be_word(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_be_bytes(a)
}

/// Number of set bits in `b`, a word at a time.
fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(32);
    let mut n = 0u64;
    for c in &mut chunks {
        // Four independent words per step keep the popcount units busy.
        n += u64::from(be_word(&c[..8]).count_ones())
            + u64::from(be_word(&c[8..16]).count_ones())
            + u64::from(be_word(&c[16..24]).count_ones())
            + u64::from(be_word(&c[24..]).count_ones());
    }
    let mut words = chunks.remainder().chunks_exact(8);
    for c in &mut words {
        n += u64::from(be_word(c).count_ones());
    }
    for &c in words.remainder() {
        n += u64::from(c.count_ones());
    }
    n
}

/// Number of set bits in the inclusive bit range `[s, e]`, which lies within `p`.
fn count_range(p: &[u8], s: u64, e: u64) -> u64 {
    let (sb, eb) = ((s >> 3) as usize, (e >> 3) as usize);
    let mut n = popcount(&p[sb..=eb]);
    let before = (s & 7) as u32;
    if before > 0 {
        n -= u64::from((p[sb] >> (8 - before)).count_ones());
    }
    let after = 7 - (e & 7) as u32;
    if after > 0 {
        n -= u64::from((p[eb] & ((1u8 << after) - 1)).count_ones());
    }
    n
}

/// Position of the first bit equal to `bit` in `b`, skipping whole words that cannot contain it.
fn first_bit(b: &[u8], bit: bool) -> Option<u64> {
    let skip = if bit { 0 } else { u64::MAX };
    let mut pos = 0u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = be_word(c);
        if w != skip {
            let k = if bit {
                w.leading_zeros()
            } else {
                w.leading_ones()
            };
            return Some(pos + u64::from(k));
        }
        pos += 64;
    }
    for &c in chunks.remainder() {
        if c != skip as u8 {
            let k = if bit {
                c.leading_zeros()
            } else {
                c.leading_ones()
            };
            return Some(pos + u64::from(k));
        }
        pos += 8;
    }
    None
}

/// Position of the first bit equal to `bit` among bits `lo..=hi` (0..=7) of `byte`.
fn bit_in_byte(byte: u8, bit: bool, lo: u64, hi: u64) -> Option<u64> {
    (lo..=hi).find(|&i| ((byte >> (7 - i)) & 1 == 1) == bit)
}

/// Position of the first bit equal to `bit` in the inclusive bit range `[s, e]`, which lies within `p`.
fn find_in_range(p: &[u8], bit: bool, s: u64, e: u64) -> Option<u64> {
    let (sb, eb) = ((s >> 3) as usize, (e >> 3) as usize);
    let base = |byte: usize| byte as u64 * 8;
    if sb == eb {
        return bit_in_byte(p[sb], bit, s & 7, e & 7).map(|i| base(sb) + i);
    }
    if let Some(i) = bit_in_byte(p[sb], bit, s & 7, 7) {
        return Some(base(sb) + i);
    }
    if let Some(i) = first_bit(&p[sb + 1..eb], bit) {
        return Some(base(sb + 1) + i);
    }
    bit_in_byte(p[eb], bit, 0, e & 7).map(|i| base(eb) + i)
}

/// Resolves BITCOUNT/BITPOS `start`/`end` (bytes, or bits with `in_bits`; negative from the end) against a
/// string of `len` bytes, clamping as Redis does. Gives the inclusive bit range, or `None` when it is empty.
fn resolve_range(len: usize, start: i64, end: i64, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s += total;
    }
    if e < 0 {
        e += total;
    }
    s = s.max(0);
    e = e.max(0);
    if e >= total {
        e = total - 1;
    }
    if s > e {
        None
    } else if in_bits {
        Some((s as u64, e as u64))
    } else {
        Some((s as u64 * 8, e as u64 * 8 + 7))
    }
}

/// Parses the `BYTE|BIT` unit argument; true for bits.
fn unit_is_bit(arg: &Bytes) -> Result<bool, Frame> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

// ---------------------------------------------------------------------------------------------------------
// SETBIT, GETBIT, BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------------------------------

/// SETBIT key offset value
fn setbit(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setbit_inner(ks, ctx, args))
}

fn setbit_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let offset = bit_offset(&args[2], None, ks.config.proto_max_bulk_len)?;
    let on = match crate::num::parse_i64(&args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(ERR_BIT_VALUE),
    };
    let mut taken = take_string(ks, ctx, &args[1])?;
    let created = !taken.existed;
    let grew = grow_to(&mut taken.buf, offset >> 3);
    let byte = &mut taken.buf[(offset >> 3) as usize];
    let mask = 1u8 << (7 - (offset & 7));
    let old = *byte & mask != 0;
    let changed = created || grew || old != on;
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
    put_back(ks, ctx, &args[1], taken, changed);
    // Redis 7.0 reports SETBIT even when the bit already had that value.
    ks.notify(ev::STRING, "setbit", &args[1]);
    if changed {
        ctx.dirty += 1;
    }
    Ok(Frame::Integer(i64::from(old)))
}

/// GETBIT key offset
fn getbit(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(getbit_inner(ks, ctx, args))
}

fn getbit_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let offset = bit_offset(&args[2], None, ks.config.proto_max_bulk_len)?;
    let Some(o) = ks.read(ctx, &args[1]) else {
        return Ok(Frame::Integer(0));
    };
    let s = string_of(&o.value)?;
    let bit = s
        .get((offset >> 3) as usize)
        .is_some_and(|b| b & (1 << (7 - (offset & 7))) != 0);
    Ok(Frame::Integer(i64::from(bit)))
}

/// BITCOUNT key [start end [BYTE|BIT]]
fn bitcount(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(bitcount_inner(ks, ctx, args))
}

fn bitcount_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let Some(o) = ks.read(ctx, &args[1]) else {
        return Ok(Frame::Integer(0));
    };
    let s = string_of(&o.value)?;
    let range = match args.len() {
        2 => resolve_range(s.len(), 0, -1, false),
        4 | 5 => {
            let start = arg_i64(&args[2])?;
            let end = arg_i64(&args[3])?;
            // Redis answers this case before looking at the unit argument.
            if start < 0 && end < 0 && start > end {
                return Ok(Frame::Integer(0));
            }
            let in_bits = match args.get(4) {
                Some(u) => unit_is_bit(u)?,
                None => false,
            };
            resolve_range(s.len(), start, end, in_bits)
        }
        _ => return Err(errors::SYNTAX),
    };
    let n = range.map_or(0, |(b, e)| count_range(&s, b, e));
    Ok(Frame::Integer(n as i64))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
fn bitpos(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(bitpos_inner(ks, ctx, args))
}

fn bitpos_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let bit = match arg_i64(&args[2])? {
        0 => false,
        1 => true,
        _ => return Err(ERR_BITPOS_BIT),
    };
    // A missing key is an endless run of zero bits.
    let Some(o) = ks.read(ctx, &args[1]) else {
        return Ok(Frame::Integer(if bit { -1 } else { 0 }));
    };
    let s = string_of(&o.value)?;
    let (range, end_given) = match args.len() {
        3 => (resolve_range(s.len(), 0, -1, false), false),
        4..=6 => {
            let start = arg_i64(&args[3])?;
            let in_bits = match args.get(5) {
                Some(u) => unit_is_bit(u)?,
                None => false,
            };
            match args.get(4) {
                Some(e) => (resolve_range(s.len(), start, arg_i64(e)?, in_bits), true),
                None => (resolve_range(s.len(), start, -1, in_bits), false),
            }
        }
        _ => return Err(errors::SYNTAX),
    };
    let Some((b, e)) = range else {
        return Ok(Frame::Integer(-1));
    };
    let pos = match find_in_range(&s, bit, b, e) {
        Some(p) => p as i64,
        // Without an explicit end the string counts as zero-padded on the right.
        None if !bit && !end_given => e as i64 + 1,
        None => -1,
    };
    Ok(Frame::Integer(pos))
}

// ---------------------------------------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(bitop_inner(ks, ctx, args))
}

fn bitop_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let op = if is(&args[1], "and") {
        BitOp::And
    } else if is(&args[1], "or") {
        BitOp::Or
    } else if is(&args[1], "xor") {
        BitOp::Xor
    } else if is(&args[1], "not") {
        BitOp::Not
    } else {
        return Err(errors::SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(ERR_BITOP_NOT);
    }
    let dest = &args[2];
    let sources = &args[3..];

    // First pass: one counted lookup per source (as Redis), type checks and the result length.
    let mut maxlen = 0usize;
    for key in sources {
        if let Some(o) = ks.read(ctx, key) {
            maxlen = maxlen.max(string_of(&o.value)?.len());
        }
    }

    if maxlen == 0 {
        if ks.remove(dest).is_some() {
            ks.notify(ev::GENERIC, "del", dest);
            ctx.dirty += 1;
        }
        return Ok(Frame::Integer(0));
    }

    // Second pass: fold the sources into the result; a missing or short source reads as zero bytes.
    let mut res = vec![0u8; maxlen];
    for (i, key) in sources.iter().enumerate() {
        let src = match ks.peek(ctx.now_ms, key) {
            Some(o) => string_of(&o.value)?,
            None => Cow::Borrowed(&[][..]),
        };
        let n = src.len();
        if i == 0 {
            res[..n].copy_from_slice(&src);
            if op == BitOp::Not {
                res.iter_mut().for_each(|b| *b = !*b);
            }
            continue;
        }
        match op {
            BitOp::And => {
                res.iter_mut().zip(src.iter()).for_each(|(r, s)| *r &= s);
                res[n.min(maxlen)..].fill(0);
            }
            BitOp::Or => res.iter_mut().zip(src.iter()).for_each(|(r, s)| *r |= s),
            BitOp::Xor => res.iter_mut().zip(src.iter()).for_each(|(r, s)| *r ^= s),
            BitOp::Not => {}
        }
    }
    ks.set(ctx, dest, Value::Str(res), NO_EXPIRE);
    ks.notify(ev::STRING, "set", dest);
    ctx.dirty += 1;
    Ok(Frame::Integer(maxlen as i64))
}

// ---------------------------------------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum FieldOpKind {
    Get,
    Set,
    IncrBy,
}

/// One parsed BITFIELD operation.
#[derive(Clone, Copy, Debug)]
struct FieldOp {
    kind: FieldOpKind,
    offset: u64,
    bits: u32,
    signed: bool,
    /// SET value or INCRBY increment.
    value: i64,
    overflow: Overflow,
}

/// Parses a bitfield type: `i1`..`i64` or `u1`..`u63` (the `i`/`u` is case-sensitive, as in Redis).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Frame> {
    // Redis reads the type as a C string, so it ends at a NUL byte.
    let arg = arg.split(|&b| b == 0).next().unwrap_or(&[]);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ERR_BITFIELD_TYPE),
    };
    match crate::num::parse_i64(&arg[1..]) {
        Some(n) if n >= 1 && (n <= 63 || (signed && n == 64)) => Ok((signed, n as u32)),
        _ => Err(ERR_BITFIELD_TYPE),
    }
}

/// Parses BITFIELD's operations (from `args[2]`), validating every argument before anything runs.
fn parse_field_ops(args: &[Bytes], limit: u64) -> Result<Vec<FieldOp>, Frame> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let remaining = args.len() - j - 1;
        let sub = &args[j];
        let kind = if is(sub, "get") && remaining >= 2 {
            FieldOpKind::Get
        } else if is(sub, "set") && remaining >= 3 {
            FieldOpKind::Set
        } else if is(sub, "incrby") && remaining >= 3 {
            FieldOpKind::IncrBy
        } else if is(sub, "overflow") && remaining >= 1 {
            let t = &args[j + 1];
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(ERR_OVERFLOW_TYPE);
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = field_type(&args[j + 1])?;
        let offset = bit_offset(&args[j + 2], Some(bits), limit)?;
        let value = if kind == FieldOpKind::Get {
            0
        } else {
            arg_i64(&args[j + 3])?
        };
        ops.push(FieldOp {
            kind,
            offset,
            bits,
            signed,
            value,
            overflow,
        });
        j += if kind == FieldOpKind::Get { 3 } else { 4 };
    }
    Ok(ops)
}

/// Reads an unsigned `bits`-wide field at bit `offset`; bytes past the end of `p` read as zero.
fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let byte = (offset >> 3) as usize;
    let mut buf = [0u8; 16];
    if byte < p.len() {
        let n = (p.len() - byte).min(9);
        buf[..n].copy_from_slice(&p[byte..byte + n]);
    }
    let x = u128::from_be_bytes(buf) << (offset & 7);
    (x >> (128 - bits)) as u64
}

/// Reads a two's complement `bits`-wide field at bit `offset`.
fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(p, offset, bits);
    if bits < 64 && u & (1 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `p` must already cover the field.
fn set_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = (offset >> 3) as usize;
    let n = (p.len() - byte).min(9);
    let mut buf = [0u8; 16];
    buf[..n].copy_from_slice(&p[byte..byte + n]);
    let low = 128 - (offset & 7) as u32 - bits;
    let ones = u128::MAX >> (128 - bits);
    let x = (u128::from_be_bytes(buf) & !(ones << low)) | ((u128::from(value) & ones) << low);
    p[byte..byte + n].copy_from_slice(&x.to_be_bytes()[..n]);
}

/// Redis' `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves the `bits`-wide unsigned range, and
/// the value to store instead under WRAP or SAT. Ported literally so edge cases answer as Redis does.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrapped = || value.wrapping_add(incr as u64) & !u64::MAX.checked_shl(bits).unwrap_or(0);
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        None
    }
}

/// Redis' `checkSignedBitfieldOverflow`, ported literally (including which limit SAT picks when a SET value
/// is far below the range, where Redis' `max - value` wraps around).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrapped() })
    } else {
        None
    }
}

/// Runs a SET or INCRBY on `buf`: the reply, and whether the stored field changed.
fn run_write_op(buf: &mut [u8], op: &FieldOp) -> (Frame, bool) {
    let (reply, old, new) = if op.signed {
        let old = get_signed(buf, op.offset, op.bits);
        let (ow, new, ret) = if op.kind == FieldOpKind::IncrBy {
            let ow = signed_overflow(old, op.value, op.bits, op.overflow);
            let new = ow.unwrap_or_else(|| old.wrapping_add(op.value));
            (ow.is_some(), new, new)
        } else {
            let ow = signed_overflow(op.value, 0, op.bits, op.overflow);
            (ow.is_some(), ow.unwrap_or(op.value), old)
        };
        if ow && op.overflow == Overflow::Fail {
            return (Frame::Null, false);
        }
        (Frame::Integer(ret), old as u64, new as u64)
    } else {
        let old = get_unsigned(buf, op.offset, op.bits);
        let (ow, new, ret) = if op.kind == FieldOpKind::IncrBy {
            let ow = unsigned_overflow(old, op.value, op.bits, op.overflow);
            let new = ow.unwrap_or_else(|| old.wrapping_add(op.value as u64));
            (ow.is_some(), new, new)
        } else {
            let ow = unsigned_overflow(op.value as u64, 0, op.bits, op.overflow);
            (ow.is_some(), ow.unwrap_or(op.value as u64), old)
        };
        if ow && op.overflow == Overflow::Fail {
            return (Frame::Null, false);
        }
        // Unsigned fields are at most 63 bits wide, so every value fits an i64.
        (Frame::Integer(ret as i64), old, new)
    };
    set_field(buf, op.offset, op.bits, new);
    (reply, old != new)
}

/// Runs a GET on `p` (zero-padded past its end).
fn run_get(p: &[u8], op: &FieldOp) -> Frame {
    if op.signed {
        Frame::Integer(get_signed(p, op.offset, op.bits))
    } else {
        Frame::Integer(get_unsigned(p, op.offset, op.bits) as i64)
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL]
fn bitfield(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(bitfield_generic(ks, ctx, args, false))
}

/// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(bitfield_generic(ks, ctx, args, true))
}

fn bitfield_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    read_only: bool,
) -> Result<Frame, Frame> {
    let ops = parse_field_ops(args, ks.config.proto_max_bulk_len)?;
    let key = &args[1];
    let highest = ops
        .iter()
        .filter(|op| op.kind != FieldOpKind::Get)
        .map(|op| op.offset + u64::from(op.bits) - 1)
        .max();

    let Some(highest) = highest else {
        // Only GETs: a read, where a missing key reads as zeros.
        let Some(o) = ks.read(ctx, key) else {
            return Ok(Frame::Array(
                ops.iter().map(|op| run_get(&[], op)).collect(),
            ));
        };
        let s = string_of(&o.value)?;
        return Ok(Frame::Array(ops.iter().map(|op| run_get(&s, op)).collect()));
    };
    if read_only {
        return Err(ERR_BITFIELD_RO);
    }

    let mut taken = take_string(ks, ctx, key)?;
    let grew = grow_to(&mut taken.buf, highest >> 3) || !taken.existed;
    let mut changes = 0u64;
    let mut replies = Vec::with_capacity(ops.len());
    for op in &ops {
        if op.kind == FieldOpKind::Get {
            replies.push(run_get(&taken.buf, op));
            continue;
        }
        let (r, changed) = run_write_op(&mut taken.buf, op);
        if r != Frame::Null && (grew || changed) {
            changes += 1;
        }
        replies.push(r);
    }
    // Redis leaves its dirty counter alone when every write failed on OVERFLOW FAIL even though the key was
    // created or padded; that is still a change of state, so it is counted here.
    let dirty = if changes == 0 && grew { 1 } else { changes };
    put_back(ks, ctx, key, taken, dirty > 0);
    if dirty > 0 {
        ks.notify(ev::STRING, "setbit", key);
    }
    ctx.dirty += dirty;
    Ok(Frame::Array(replies))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::run;
    use crate::cmd::testing::{err, int};
    use crate::exec::Rng;

    const NOW: i64 = 1_700_000_000_000;

    fn nil() -> Frame {
        Frame::Null
    }
    fn ok() -> Frame {
        Frame::ok()
    }
    fn bulk(b: &[u8]) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(b))
    }
    fn arr(v: Vec<Frame>) -> Frame {
        Frame::Array(v)
    }

    /// Splits a command line on spaces; `""` is an empty argument and `\xNN` a raw byte.
    fn parse_line(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|tok| {
                if tok == "\"\"" {
                    return Bytes::new();
                }
                let b = tok.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < b.len() {
                    if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                        let hex = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex escape");
                        out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                        i += 4;
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                Bytes::from(out)
            })
            .collect()
    }

    /// Runs raw arguments as `testing::run` does, returning the reply and the dirty count.
    fn exec(ks: &mut Keyspace, now_ms: i64, args: &[Bytes]) -> (Frame, u64) {
        let write = crate::cmd::resolve(args).is_ok_and(|s| s.is_write());
        let mut ctx = if write {
            ExecCtx::for_write(now_ms, 42)
        } else {
            ExecCtx::for_read(now_ms, 42)
        };
        let f = crate::cmd::execute(ks, &mut ctx, args);
        (f, ctx.dirty)
    }

    /// Runs a command line (see [`parse_line`]), returning the reply and the dirty count.
    fn line(ks: &mut Keyspace, l: &str) -> (Frame, u64) {
        exec(ks, NOW, &parse_line(l))
    }

    /// Runs each command line and compares its reply with the expected one.
    fn script(ks: &mut Keyspace, steps: &[(&str, Frame)]) {
        for (l, want) in steps {
            let (got, _) = line(ks, l);
            assert_eq!(&got, want, "command: {l}");
        }
    }

    fn stored(ks: &Keyspace, key: &str) -> Option<Value> {
        ks.peek(NOW, key.as_bytes()).map(|o| o.value.clone())
    }

    fn set_raw(ks: &mut Keyspace, key: &str, v: &[u8]) {
        let ctx = ExecCtx::for_write(NOW, 1);
        ks.set(&ctx, key.as_bytes(), Value::Str(v.to_vec()), NO_EXPIRE);
    }

    // -----------------------------------------------------------------------------------------------------
    // Table rows
    // -----------------------------------------------------------------------------------------------------

    #[test]
    fn table_rows_match_redis() {
        let acl_names = |name: &str| {
            let spec = crate::table::lookup(name.as_bytes()).expect("declared");
            let c = spec.acl_categories();
            acl::NAMES
                .iter()
                .filter(|(bit, _)| c & bit != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
        };
        let flag_names = |name: &str| {
            let spec = crate::table::lookup(name.as_bytes()).expect("declared");
            flags::NAMES
                .iter()
                .filter(|(bit, _)| spec.flags & bit != 0)
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
        };
        // (name, arity, flags, categories) as `COMMAND INFO` of redis-server 7.0.15 lists them.
        let rows: &[(&str, i32, &[&str], &[&str])] = &[
            (
                "setbit",
                4,
                &["write", "denyoom"],
                &["write", "bitmap", "slow"],
            ),
            (
                "getbit",
                3,
                &["readonly", "fast"],
                &["read", "bitmap", "fast"],
            ),
            ("bitcount", -2, &["readonly"], &["read", "bitmap", "slow"]),
            ("bitpos", -3, &["readonly"], &["read", "bitmap", "slow"]),
            (
                "bitop",
                -4,
                &["write", "denyoom"],
                &["write", "bitmap", "slow"],
            ),
            (
                "bitfield",
                -2,
                &["write", "denyoom"],
                &["write", "bitmap", "slow"],
            ),
            (
                "bitfield_ro",
                -2,
                &["readonly", "fast"],
                &["read", "bitmap", "fast"],
            ),
        ];
        for (name, arity, fl, cats) in rows {
            let spec = crate::table::lookup(name.to_uppercase().as_bytes()).expect("declared");
            assert_eq!(spec.arity, *arity, "{name}");
            assert_eq!(flag_names(name), *fl, "{name}");
            assert_eq!(acl_names(name), *cats, "{name}");
            assert_eq!(spec.doc.group, "bitmap", "{name}");
        }
        let keys = |l: &str| {
            let args = parse_line(l);
            crate::cmd::resolve(&args)
                .expect("resolves")
                .key_positions(&args)
                .expect("keys")
        };
        assert_eq!(keys("SETBIT k 1 1"), vec![1]);
        assert_eq!(keys("GETBIT k 1"), vec![1]);
        assert_eq!(keys("BITCOUNT k 0 1"), vec![1]);
        assert_eq!(keys("BITPOS k 1 0 1"), vec![1]);
        assert_eq!(keys("BITOP AND d a b c"), vec![2, 3, 4, 5]);
        assert_eq!(keys("BITFIELD k GET u8 0"), vec![1]);
        assert_eq!(keys("BITFIELD_RO k GET u8 0"), vec![1]);
        let doc = crate::table::lookup(b"bitfield_ro").expect("declared").doc;
        assert_eq!(doc.since, "6.0.0");
        assert_eq!(doc.complexity, "O(1) for each subcommand specified");
        assert_eq!(
            doc.summary,
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"
        );
    }

    // -----------------------------------------------------------------------------------------------------
    // State, dirty counting and TTLs
    // -----------------------------------------------------------------------------------------------------

    #[test]
    fn dirty_counts_only_changes() {
        // The idea of bitops.tcl "SETBIT/BITFIELD only increase dirty when the value changed".
        let mut ks = Keyspace::new();
        let d = |ks: &mut Keyspace, l: &str| line(ks, l).1;
        // A new key always counts.
        assert_eq!(d(&mut ks, "SETBIT foo 0 0"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo2 SET i5 0 0"), 1);
        // No change.
        assert_eq!(d(&mut ks, "SETBIT foo 0 0"), 0);
        assert_eq!(d(&mut ks, "BITFIELD foo2 SET i5 0 0"), 0);
        // A change, then the same again.
        assert_eq!(d(&mut ks, "SETBIT foo 0 1"), 1);
        assert_eq!(d(&mut ks, "SETBIT foo 0 1"), 0);
        assert_eq!(d(&mut ks, "SETBIT foo 0 0"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo2 SET i5 0 1"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo2 SET i5 0 1"), 0);
        // INCRBY by a non-zero amount always changes.
        assert_eq!(d(&mut ks, "BITFIELD foo3 INCRBY i5 0 1"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo3 INCRBY i5 0 1"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo3 INCRBY i5 0 0"), 0);
        // Growing the string alone counts.
        assert_eq!(d(&mut ks, "SETBIT foo 90 0"), 1);
        assert_eq!(d(&mut ks, "BITFIELD foo2 SET i5 90 0"), 1);
        // Every changing operation of one BITFIELD counts; GETs and failed writes do not.
        assert_eq!(
            d(
                &mut ks,
                "BITFIELD foo3 SET u8 0 1 SET u8 8 2 GET u8 0 OVERFLOW FAIL INCRBY u8 0 300"
            ),
            2
        );
        // When growing, each successful write counts even if its field keeps its value.
        assert_eq!(d(&mut ks, "BITFIELD foo3 SET u8 200 0 SET u8 208 0"), 2);
        // All writes failing on a new key: Redis counts nothing, we count the creation.
        assert_eq!(d(&mut ks, "BITFIELD pad OVERFLOW FAIL SET u8 8 1000"), 1);
        assert_eq!(stored(&ks, "pad"), Some(Value::Str(vec![0, 0])));
        assert_eq!(d(&mut ks, "BITFIELD pad OVERFLOW FAIL SET u8 8 1000"), 0);
        // Reads and errors never count.
        assert_eq!(d(&mut ks, "BITFIELD foo GET u8 0"), 0);
        assert_eq!(d(&mut ks, "BITFIELD foo SET u8 0 1 GET x 0"), 0);
        assert_eq!(d(&mut ks, "SETBIT foo 0 2"), 0);
        // BITOP: a stored result counts, deleting an existing destination counts, deleting nothing does not.
        assert_eq!(d(&mut ks, "BITOP OR dest foo"), 1);
        assert_eq!(d(&mut ks, "BITOP OR dest foo"), 1);
        assert_eq!(d(&mut ks, "BITOP OR dest nokey"), 1);
        assert_eq!(d(&mut ks, "BITOP OR dest nokey"), 0);
        assert_eq!(d(&mut ks, "BITOP NOT dest foo foo"), 0);
    }

    #[test]
    fn edits_keep_the_ttl_and_bitop_clears_it() {
        let mut ks = Keyspace::new();
        let ctx = ExecCtx::for_write(NOW, 1);
        let deadline = NOW + 10_000;
        for key in ["a", "b", "n", "d"] {
            run(&mut ks, NOW, &["SET", key, "1"]);
            assert!(ks.set_expire(&ctx, key.as_bytes(), deadline));
        }
        let ttl = |ks: &Keyspace, k: &str| ks.peek(NOW, k.as_bytes()).map(|o| o.expire_at);
        assert_eq!(run(&mut ks, NOW, &["SETBIT", "a", "100", "1"]), int(0));
        assert_eq!(ttl(&ks, "a"), Some(deadline));
        assert_eq!(
            run(&mut ks, NOW, &["BITFIELD", "b", "SET", "u8", "0", "65"]),
            arr(vec![int(49)])
        );
        assert_eq!(ttl(&ks, "b"), Some(deadline));
        assert_eq!(stored(&ks, "b"), Some(Value::Str(b"A".to_vec())));
        // An edit that changes nothing leaves an integer value as it was.
        assert_eq!(run(&mut ks, NOW, &["SETBIT", "n", "2", "1"]), int(1));
        assert_eq!(stored(&ks, "n"), Some(Value::Int(1)));
        assert_eq!(ttl(&ks, "n"), Some(deadline));
        // BITOP replaces its destination, TTL included.
        assert_eq!(run(&mut ks, NOW, &["BITOP", "OR", "d", "a"]), int(13));
        assert_eq!(ttl(&ks, "d"), Some(NO_EXPIRE));
        assert_eq!(ks.volatile_len(), 3);
    }

    #[test]
    fn expired_keys_are_missing() {
        let mut ks = Keyspace::new();
        let ctx = ExecCtx::for_write(NOW, 1);
        run(&mut ks, NOW, &["SET", "k", "\u{7f}"]);
        assert!(ks.set_expire(&ctx, b"k", NOW + 10));
        let later = NOW + 20;
        assert_eq!(run(&mut ks, later, &["GETBIT", "k", "7"]), int(0));
        assert_eq!(run(&mut ks, later, &["BITCOUNT", "k"]), int(0));
        assert_eq!(run(&mut ks, later, &["BITPOS", "k", "0"]), int(0));
        assert_eq!(
            run(&mut ks, later, &["BITFIELD_RO", "k", "GET", "u8", "0"]),
            arr(vec![int(0)])
        );
        assert_eq!(run(&mut ks, later, &["BITOP", "NOT", "d", "k"]), int(0));
        // A write after the deadline starts from an empty string without a TTL.
        assert_eq!(run(&mut ks, later, &["SETBIT", "k", "0", "1"]), int(0));
        let o = ks.peek(later, b"k").expect("recreated");
        assert_eq!(o.value, Value::Str(vec![0x80]));
        assert_eq!(o.expire_at, NO_EXPIRE);
    }

    #[test]
    fn integer_values_become_strings_only_when_changed() {
        let mut ks = Keyspace::new();
        run(&mut ks, NOW, &["SET", "n", "12"]);
        assert_eq!(stored(&ks, "n"), Some(Value::Int(12)));
        assert_eq!(
            run(&mut ks, NOW, &["BITFIELD", "n", "SET", "u8", "0", "49"]),
            arr(vec![int(49)])
        );
        assert_eq!(stored(&ks, "n"), Some(Value::Int(12)));
        assert_eq!(run(&mut ks, NOW, &["SETBIT", "n", "15", "1"]), int(0));
        assert_eq!(stored(&ks, "n"), Some(Value::Str(b"13".to_vec())));
        assert_eq!(run(&mut ks, NOW, &["GET", "n"]), bulk(b"13"));
    }

    #[test]
    fn setbit_at_the_largest_offset() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run(&mut ks, NOW, &["SETBIT", "k", "4294967295", "1"]),
            int(0)
        );
        let Some(Value::Str(s)) = ks.peek(NOW, b"k").map(|o| &o.value) else {
            panic!("string expected")
        };
        assert_eq!(s.len() as u64, PROTO_MAX_BULK_LEN);
        assert!(s.capacity() as u64 <= PROTO_MAX_BULK_LEN);
        assert_eq!(s[s.len() - 1], 1);
        // Whole-string scans over 512MB are slow in debug builds; ranges near the end exercise the same code.
        assert_eq!(run(&mut ks, NOW, &["BITCOUNT", "k", "-2", "-1"]), int(1));
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "k", "1", "-1"]),
            int(4294967295)
        );
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "k", "0", "-1"]),
            int(4294967288)
        );
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "k", "0", "-1", "-1", "BIT"]),
            int(-1)
        );
        assert_eq!(run(&mut ks, NOW, &["GETBIT", "k", "4294967295"]), int(1));
        assert_eq!(
            run(&mut ks, NOW, &["SETBIT", "k", "4294967296", "1"]),
            err("ERR bit offset is not an integer or out of range")
        );
    }

    #[test]
    fn growth_reserves_like_sds_and_stays_bounded() {
        let mut v = Vec::new();
        assert!(grow_to(&mut v, 9));
        assert_eq!(v.len(), 10);
        assert!(v.capacity() >= 10 && v.capacity() <= 20);
        assert!(!grow_to(&mut v, 5));
        assert_eq!(v.len(), 10);
        // Growing a byte at a time reallocates rarely.
        let mut reallocs = 0;
        for b in 10..10_000u64 {
            let cap = v.capacity();
            grow_to(&mut v, b);
            if v.capacity() != cap {
                reallocs += 1;
            }
        }
        assert!(reallocs < 20, "{reallocs} reallocations");
        assert_eq!(v.len(), 10_000);
        assert!(v.iter().all(|&b| b == 0));
    }

    // -----------------------------------------------------------------------------------------------------
    // Models: simple bit-at-a-time versions of Redis' rules, checked against the fast code on random input
    // -----------------------------------------------------------------------------------------------------

    fn model_bit(s: &[u8], i: i64) -> bool {
        (s[(i / 8) as usize] >> (7 - i % 8)) & 1 == 1
    }

    /// Redis' index clamping, in the unit given; `None` for an empty range.
    fn model_clamp(total: i64, mut start: i64, mut end: i64) -> Option<(i64, i64)> {
        if start < 0 {
            start += total;
        }
        if end < 0 {
            end += total;
        }
        start = start.max(0);
        end = end.max(0).min(total - 1);
        (start <= end).then_some((start, end))
    }

    fn model_bit_range(s: &[u8], start: i64, end: i64, in_bits: bool) -> Option<(i64, i64)> {
        if in_bits {
            model_clamp(s.len() as i64 * 8, start, end)
        } else {
            model_clamp(s.len() as i64, start, end).map(|(a, b)| (a * 8, b * 8 + 7))
        }
    }

    fn model_bitcount(s: &[u8], range: Option<(i64, i64, bool)>) -> i64 {
        let r = match range {
            None => model_bit_range(s, 0, -1, false),
            Some((a, b, _)) if a < 0 && b < 0 && a > b => None,
            Some((a, b, bits)) => model_bit_range(s, a, b, bits),
        };
        r.map_or(0, |(a, b)| {
            (a..=b).filter(|&i| model_bit(s, i)).count() as i64
        })
    }

    fn model_bitpos(s: &[u8], bit: bool, start: Option<i64>, end: Option<(i64, bool)>) -> i64 {
        let r = match (start, end) {
            (None, _) => model_bit_range(s, 0, -1, false),
            (Some(a), None) => model_bit_range(s, a, -1, false),
            (Some(a), Some((b, bits))) => model_bit_range(s, a, b, bits),
        };
        let Some((a, b)) = r else { return -1 };
        match (a..=b).find(|&i| model_bit(s, i) == bit) {
            Some(i) => i,
            None if !bit && end.is_none() => b + 1,
            None => -1,
        }
    }

    /// A random string with long runs of 0x00 and 0xff, so word skipping gets exercised.
    fn random_bitmap(rng: &mut Rng, max_len: u64) -> Vec<u8> {
        let len = rng.below(max_len + 1) as usize;
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            let run = 1 + rng.below(40) as usize;
            let kind = rng.below(4);
            for _ in 0..run.min(len - v.len()) {
                v.push(match kind {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.next_u64() as u8,
                });
            }
        }
        v
    }

    fn random_index(rng: &mut Rng, len: usize) -> i64 {
        let span = len as i64 * 8 + 20;
        rng.below(2 * span as u64) as i64 - span
    }

    fn args(v: &[String]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn bitcount_and_bitpos_match_the_model() {
        let mut rng = Rng::new(7);
        let mut ks = Keyspace::new();
        for round in 0..3000 {
            let s = random_bitmap(&mut rng, if round % 10 == 0 { 300 } else { 40 });
            set_raw(&mut ks, "s", &s);
            let a = random_index(&mut rng, s.len());
            let b = random_index(&mut rng, s.len());
            let bits = rng.below(2) == 1;
            let unit = if bits { "BIT" } else { "BYTE" };

            let (got, _) = exec(&mut ks, NOW, &args(&["BITCOUNT".into(), "s".into()]));
            assert_eq!(got, int(model_bitcount(&s, None)), "{s:?}");
            let cmd = [
                "BITCOUNT".into(),
                "s".into(),
                a.to_string(),
                b.to_string(),
                unit.into(),
            ];
            let (got, _) = exec(&mut ks, NOW, &args(&cmd));
            assert_eq!(
                got,
                int(model_bitcount(&s, Some((a, b, bits)))),
                "{cmd:?} on {s:?}"
            );

            for bit in [false, true] {
                let bs = if bit { "1" } else { "0" };
                let cmd = ["BITPOS".into(), "s".into(), bs.into()];
                let (got, _) = exec(&mut ks, NOW, &args(&cmd));
                assert_eq!(
                    got,
                    int(model_bitpos(&s, bit, None, None)),
                    "{cmd:?} on {s:?}"
                );
                let cmd = ["BITPOS".into(), "s".into(), bs.into(), a.to_string()];
                let (got, _) = exec(&mut ks, NOW, &args(&cmd));
                assert_eq!(
                    got,
                    int(model_bitpos(&s, bit, Some(a), None)),
                    "{cmd:?} on {s:?}"
                );
                let cmd = [
                    "BITPOS".into(),
                    "s".into(),
                    bs.into(),
                    a.to_string(),
                    b.to_string(),
                    unit.into(),
                ];
                let (got, _) = exec(&mut ks, NOW, &args(&cmd));
                let want = model_bitpos(&s, bit, Some(a), Some((b, bits)));
                assert_eq!(got, int(want), "{cmd:?} on {s:?}");
            }
        }
    }

    #[test]
    fn bitpos_finds_bits_set_with_setbit() {
        // The idea of bitops.tcl's "BITPOS fuzzy testing using SETBIT".
        let mut rng = Rng::new(11);
        let mut ks = Keyspace::new();
        let mut max = 0;
        for _ in 0..200 {
            let off = rng.below(10_000);
            run(&mut ks, NOW, &["SETBIT", "ones", &off.to_string(), "1"]);
            run(&mut ks, NOW, &["SETBIT", "zeros", &off.to_string(), "1"]);
            max = max.max(off);
        }
        let mut first_one = None;
        for off in 0..=max {
            if run(&mut ks, NOW, &["GETBIT", "ones", &off.to_string()]) == int(1) {
                first_one = Some(off as i64);
                break;
            }
        }
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "ones", "1"]),
            int(first_one.expect("a set bit"))
        );
        // Fill every bit up to the end of the string, then clear one.
        let len_bits = (max / 8 + 1) * 8;
        for off in 0..len_bits {
            run(&mut ks, NOW, &["SETBIT", "zeros", &off.to_string(), "1"]);
        }
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "zeros", "0"]),
            int(len_bits as i64)
        );
        assert_eq!(
            run(&mut ks, NOW, &["BITCOUNT", "zeros"]),
            int(len_bits as i64)
        );
        let hole = rng.below(len_bits);
        run(&mut ks, NOW, &["SETBIT", "zeros", &hole.to_string(), "0"]);
        assert_eq!(
            run(&mut ks, NOW, &["BITPOS", "zeros", "0"]),
            int(hole as i64)
        );
        assert_eq!(
            run(&mut ks, NOW, &["BITCOUNT", "zeros"]),
            int(len_bits as i64 - 1)
        );
    }

    #[test]
    fn bitop_matches_the_model() {
        let mut rng = Rng::new(3);
        let mut ks = Keyspace::new();
        for round in 0..500 {
            let n = 1 + rng.below(5) as usize;
            let mut srcs: Vec<Option<Vec<u8>>> = Vec::new();
            let mut cmd_args = vec!["BITOP".to_string(), String::new(), "dest".to_string()];
            for i in 0..n {
                let key = format!("src{i}");
                if rng.below(6) == 0 {
                    ks.remove(key.as_bytes());
                    srcs.push(None);
                } else {
                    let s = random_bitmap(&mut rng, if round % 5 == 0 { 200 } else { 40 });
                    set_raw(&mut ks, &key, &s);
                    srcs.push(Some(s));
                }
                cmd_args.push(key);
            }
            let op = ["AND", "OR", "XOR", "NOT"][rng.below(if n == 1 { 4 } else { 3 }) as usize];
            cmd_args[1] = op.to_string();
            let maxlen = srcs.iter().flatten().map(Vec::len).max().unwrap_or(0);
            let byte = |i: usize, j: usize| {
                srcs[i]
                    .as_ref()
                    .and_then(|s| s.get(j).copied())
                    .unwrap_or(0)
            };
            let want: Vec<u8> = (0..maxlen)
                .map(|j| {
                    let mut out = byte(0, j);
                    for i in 1..n {
                        match op {
                            "AND" => out &= byte(i, j),
                            "OR" => out |= byte(i, j),
                            _ => out ^= byte(i, j),
                        }
                    }
                    if op == "NOT" {
                        !out
                    } else {
                        out
                    }
                })
                .collect();
            let (got, _) = exec(&mut ks, NOW, &args(&cmd_args));
            assert_eq!(got, int(maxlen as i64), "{cmd_args:?}");
            let expect = (maxlen > 0).then_some(Value::Str(want));
            assert_eq!(stored(&ks, "dest"), expect, "{cmd_args:?}");
        }
    }

    /// Bit-at-a-time field read, zero past the end.
    fn model_get(s: &[u8], offset: u64, bits: u32, signed: bool) -> i128 {
        let mut v: i128 = 0;
        for i in 0..u64::from(bits) {
            let pos = offset + i;
            let b = s
                .get((pos / 8) as usize)
                .is_some_and(|byte| (byte >> (7 - pos % 8)) & 1 == 1);
            v = (v << 1) | i128::from(b);
        }
        if signed && v >> (bits - 1) & 1 == 1 {
            v - (1i128 << bits)
        } else {
            v
        }
    }

    #[test]
    fn bitfield_get_and_set_match_the_model() {
        let mut rng = Rng::new(5);
        let mut ks = Keyspace::new();
        for _ in 0..3000 {
            let mut s = random_bitmap(&mut rng, 24);
            set_raw(&mut ks, "k", &s);
            let signed = rng.below(2) == 1;
            let bits = 1 + rng.below(if signed { 64 } else { 63 }) as u32;
            let offset = rng.below(s.len() as u64 * 8 + 16);
            let ty = format!("{}{bits}", if signed { 'i' } else { 'u' });
            let get = [
                "BITFIELD_RO".into(),
                "k".into(),
                "GET".into(),
                ty.clone(),
                offset.to_string(),
            ];
            let want = model_get(&s, offset, bits, signed);
            assert_eq!(
                exec(&mut ks, NOW, &args(&get)).0,
                arr(vec![int(want as i64)]),
                "{get:?} on {s:?}"
            );

            // SET of an in-range value writes exactly those bits and nothing else.
            let value = if signed {
                model_get(&rng.next_u64().to_be_bytes(), 0, bits, true)
            } else {
                model_get(&rng.next_u64().to_be_bytes(), 0, bits, false)
            };
            let set = [
                "BITFIELD".into(),
                "k".into(),
                "SET".into(),
                ty.clone(),
                offset.to_string(),
                value.to_string(),
            ];
            assert_eq!(
                exec(&mut ks, NOW, &args(&set)).0,
                arr(vec![int(want as i64)]),
                "{set:?} on {s:?}"
            );
            let need = ((offset + u64::from(bits) - 1) / 8 + 1) as usize;
            if s.len() < need {
                s.resize(need, 0);
            }
            for i in 0..u64::from(bits) {
                let pos = offset + i;
                let bit = (value >> (bits as u64 - 1 - i)) & 1 == 1;
                let mask = 1u8 << (7 - pos % 8);
                if bit {
                    s[(pos / 8) as usize] |= mask;
                } else {
                    s[(pos / 8) as usize] &= !mask;
                }
            }
            assert_eq!(stored(&ks, "k"), Some(Value::Str(s.clone())), "{set:?}");
        }
    }

    #[test]
    fn bitfield_overflow_detection_and_wrap_match_arithmetic() {
        // The ideas of bitfield.tcl's overflow detection and wrap fuzzing, against i128 arithmetic.
        let mut rng = Rng::new(9);
        let mut ks = Keyspace::new();
        for _ in 0..3000 {
            let bits = 1 + rng.below(64) as u32;
            let signed = bits == 64 || rng.below(2) == 1;
            let range = 1i128 << bits;
            let (min, ty) = if signed {
                (-(range / 2), format!("i{bits}"))
            } else {
                (0, format!("u{bits}"))
            };
            let max = min + range - 1;
            let pick = |rng: &mut Rng| {
                // Uniform in [2 * min, 2 * min + 2 * range), from 61 random bits to stay inside i128.
                let v = min * 2 + (((rng.next_u64() >> 3) as i128 * range * 2) >> 61);
                v.clamp(i64::MIN as i128, i64::MAX as i128)
            };
            let value = pick(&mut rng);
            let incr = pick(&mut rng);
            let set_overflows = value > max || value < min;
            let sum = if set_overflows {
                // The stored value is whatever WRAP would have made of `value`.
                value.rem_euclid(range)
                    + if signed && value.rem_euclid(range) > max {
                        -range
                    } else {
                        0
                    }
            } else {
                value
            } + incr;
            let incr_overflows = sum > max || sum < min;

            ks.remove(b"k");
            let cmd = |op: &str, v: i128| {
                args(&[
                    "BITFIELD".into(),
                    "k".into(),
                    "OVERFLOW".into(),
                    "FAIL".into(),
                    op.into(),
                    ty.clone(),
                    "0".into(),
                    v.to_string(),
                ])
            };
            let (r, _) = exec(&mut ks, NOW, &cmd("SET", value));
            assert_eq!(
                r == arr(vec![nil()]),
                set_overflows,
                "SET {ty} {value}: {r:?}"
            );
            // Store the wrapped value, then check INCRBY's detection and its WRAP result.
            let wset = args(&[
                "BITFIELD".into(),
                "k".into(),
                "SET".into(),
                ty.clone(),
                "0".into(),
                value.to_string(),
            ]);
            exec(&mut ks, NOW, &wset);
            let (r, _) = exec(&mut ks, NOW, &cmd("INCRBY", incr));
            assert_eq!(
                r == arr(vec![nil()]),
                incr_overflows,
                "{ty} {value} + {incr}: {r:?}"
            );
            let wincr = args(&[
                "BITFIELD".into(),
                "k".into(),
                "INCRBY".into(),
                ty.clone(),
                "0".into(),
                incr.to_string(),
            ]);
            exec(&mut ks, NOW, &wset);
            let (r, _) = exec(&mut ks, NOW, &wincr);
            let mut wrapped = sum.rem_euclid(range);
            if wrapped > max {
                wrapped -= range;
            }
            assert_eq!(
                r,
                arr(vec![int(wrapped as i64)]),
                "WRAP {ty} {value} + {incr}"
            );
            // SAT clamps an INCRBY to the nearest limit.
            let sat = args(&[
                "BITFIELD".into(),
                "k".into(),
                "OVERFLOW".into(),
                "SAT".into(),
                "SET".into(),
                ty.clone(),
                "0".into(),
                "0".into(),
                "INCRBY".into(),
                ty.clone(),
                "0".into(),
                incr.to_string(),
            ]);
            let (r, _) = exec(&mut ks, NOW, &sat);
            let want = incr.clamp(min, max);
            assert_eq!(
                r,
                arr(vec![int(wrapped as i64), int(want as i64)]),
                "SAT {ty} 0 + {incr}"
            );
        }
    }

    #[test]
    fn popcount_and_first_bit_agree_with_bytewise_scans() {
        let mut rng = Rng::new(13);
        for _ in 0..500 {
            let s = random_bitmap(&mut rng, 200);
            let slow: u64 = s.iter().map(|b| u64::from(b.count_ones())).sum();
            assert_eq!(popcount(&s), slow);
            for bit in [false, true] {
                let slow = (0..s.len() as i64 * 8).find(|&i| model_bit(&s, i) == bit);
                assert_eq!(first_bit(&s, bit).map(|p| p as i64), slow);
            }
        }
    }
    // Generated from redis-server 7.0.15 replies.

    /// SETBIT returns the previous bit, grows the string zero-padded; GETBIT reads past the end as 0.
    #[test]
    fn setbit_getbit_basics() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SETBIT k 7 1", int(0)),
                ("SETBIT k 7 1", int(1)),
                ("GET k", bulk(b"\x01")),
                ("SETBIT k 7 0", int(1)),
                ("GET k", bulk(b"\x00")),
                ("SETBIT k 0 1", int(0)),
                ("GETBIT k 0", int(1)),
                ("GETBIT k 1", int(0)),
                ("GETBIT k 7", int(0)),
                ("GETBIT k 100", int(0)),
                ("GETBIT nokey 0", int(0)),
                ("GETBIT nokey 4294967295", int(0)),
                ("SETBIT k 23 1", int(0)),
                ("GET k", bulk(b"\x80\x00\x01")),
                ("SETBIT k 8 0", int(0)),
                ("GET k", bulk(b"\x80\x00\x01")),
                ("SETBIT k 4 1", int(0)),
                ("GET k", bulk(b"\x88\x00\x01")),
                ("GETBIT k 4", int(1)),
                ("GETBIT k 4294967295", int(0)),
            ],
        );
    }

    /// Offset and bit value validation, in Redis' order.
    #[test]
    fn setbit_getbit_errors() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                (
                    "SETBIT k -1 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 4294967296 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 9223372036854775807 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 99999999999999999999 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k abc 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 1.5 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k +1 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 01 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k \"\" 1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 0 2",
                    err("ERR bit is not an integer or out of range"),
                ),
                (
                    "SETBIT k 0 -1",
                    err("ERR bit is not an integer or out of range"),
                ),
                (
                    "SETBIT k 0 a",
                    err("ERR bit is not an integer or out of range"),
                ),
                (
                    "SETBIT k 0 01",
                    err("ERR bit is not an integer or out of range"),
                ),
                (
                    "SETBIT k 0 \"\"",
                    err("ERR bit is not an integer or out of range"),
                ),
                (
                    "SETBIT k -1 5",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                ("GET k", nil()),
                (
                    "GETBIT k -1",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "GETBIT k 4294967296",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "GETBIT k x",
                    err("ERR bit offset is not an integer or out of range"),
                ),
                (
                    "SETBIT k 1",
                    err("ERR wrong number of arguments for 'setbit' command"),
                ),
                (
                    "GETBIT k",
                    err("ERR wrong number of arguments for 'getbit' command"),
                ),
                (
                    "GETBIT k 1 2",
                    err("ERR wrong number of arguments for 'getbit' command"),
                ),
            ],
        );
    }

    /// Integer-encoded strings are bitmaps of their decimal text.
    #[test]
    fn bits_of_integer_values() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET n 12345", ok()),
                ("GETBIT n 2", int(1)),
                ("GETBIT n 7", int(1)),
                ("GETBIT n 39", int(1)),
                ("GETBIT n 40", int(0)),
                ("BITCOUNT n", int(17)),
                ("BITPOS n 1", int(2)),
                ("BITPOS n 0", int(0)),
                ("SETBIT n 7 0", int(1)),
                ("GET n", bulk(b"02345")),
                ("SET m -1", ok()),
                ("SETBIT m 0 0", int(0)),
                ("GET m", bulk(b"-1")),
                ("SET z 7", ok()),
                ("SETBIT z 7 1", int(1)),
                ("GET z", bulk(b"7")),
            ],
        );
    }

    /// BITCOUNT over bytes and bits, negative indexes and clamping.
    #[test]
    fn bitcount_ranges() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET s foobar", ok()),
                ("BITCOUNT s", int(26)),
                ("BITCOUNT s 0 0", int(4)),
                ("BITCOUNT s 1 1", int(6)),
                ("BITCOUNT s 1 -1", int(22)),
                ("BITCOUNT s 0 -1 BYTE", int(26)),
                ("BITCOUNT s 0 -1 byte", int(26)),
                ("BITCOUNT s 0 -1 BIT", int(26)),
                ("BITCOUNT s 5 30 BIT", int(17)),
                ("BITCOUNT s 5 30 bit", int(17)),
                ("BITCOUNT s 1 1 BiT", int(1)),
                ("BITCOUNT s 7 7 BIT", int(0)),
                ("BITCOUNT s 6 6 BIT", int(1)),
                ("BITCOUNT s -3 -1 BIT", int(1)),
                ("BITCOUNT s -9 -2 bit", int(5)),
                ("BITCOUNT s 100 200", int(0)),
                ("BITCOUNT s 100 200 BIT", int(0)),
                ("BITCOUNT s -100 -50", int(4)),
                ("BITCOUNT s -100 100", int(26)),
                ("BITCOUNT s -100 2", int(16)),
                ("BITCOUNT s 3 1", int(0)),
                ("BITCOUNT s -1 -2", int(0)),
                ("BITCOUNT s -6 -7", int(0)),
                ("BITCOUNT s -6 -15 bit", int(0)),
                ("BITCOUNT s 40 47 bit", int(4)),
                ("BITCOUNT s 0 4294967296", int(26)),
                (
                    "BITCOUNT s -9223372036854775808 9223372036854775807",
                    int(26),
                ),
                (
                    "BITCOUNT s -9223372036854775808 9223372036854775807 bit",
                    int(26),
                ),
                ("SET a a", ok()),
                ("BITCOUNT a -1 -5", int(0)),
                ("BITCOUNT a -5 -1", int(3)),
                ("BITCOUNT a -5 -1 bit", int(1)),
                ("SET ab ab", ok()),
                ("BITCOUNT ab 1 -1", int(3)),
                ("SET long __PPxxxxxxxxxxxxxxxxRR__", ok()),
                ("BITCOUNT long 2 -3", int(74)),
                ("BITCOUNT long 13 170 bit", int(75)),
                ("SET e \"\"", ok()),
                ("BITCOUNT e", int(0)),
                ("BITCOUNT e 0 -1", int(0)),
                ("BITCOUNT e 0 -1 bit", int(0)),
                ("BITCOUNT e -1 0", int(0)),
                ("BITCOUNT nokey", int(0)),
                ("BITCOUNT nokey 0 1000 bit", int(0)),
            ],
        );
    }

    /// BITCOUNT argument errors; a missing key answers 0 before any argument is checked.
    #[test]
    fn bitcount_errors() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET s foobar", ok()),
                ("BITCOUNT s 0", err("ERR syntax error")),
                ("BITCOUNT s 0 1 2 3", err("ERR syntax error")),
                ("BITCOUNT s 0 -1 foo", err("ERR syntax error")),
                ("BITCOUNT s -1 -2 foo", int(0)),
                (
                    "BITCOUNT s a b",
                    err("ERR value is not an integer or out of range"),
                ),
                (
                    "BITCOUNT s 0 b",
                    err("ERR value is not an integer or out of range"),
                ),
                (
                    "BITCOUNT s a 0 foo",
                    err("ERR value is not an integer or out of range"),
                ),
                ("BITCOUNT s 0 1 bit extra", err("ERR syntax error")),
                ("BITCOUNT nokey 0", int(0)),
                ("BITCOUNT nokey a b", int(0)),
                ("BITCOUNT nokey 0 1 2 3 4 5", int(0)),
                (
                    "BITCOUNT",
                    err("ERR wrong number of arguments for 'bitcount' command"),
                ),
            ],
        );
    }

    /// BITPOS over whole strings, byte and bit ranges.
    #[test]
    fn bitpos_basics() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET s \\xff\\xf0\\x00", ok()),
                ("BITPOS s 0", int(12)),
                ("BITPOS s 1", int(0)),
                ("BITPOS s 0 0", int(12)),
                ("BITPOS s 0 1", int(12)),
                ("BITPOS s 0 2", int(16)),
                ("BITPOS s 1 2", int(-1)),
                ("BITPOS s 1 1 -1", int(8)),
                ("BITPOS s 0 0 0", int(-1)),
                ("BITPOS s 0 0 1", int(12)),
                ("BITPOS s 0 0 -1 byte", int(12)),
                ("BITPOS s 1 0 -1 BYTE", int(0)),
                ("BITPOS s 0 0 7 BIT", int(-1)),
                ("BITPOS s 0 0 11 bit", int(-1)),
                ("BITPOS s 0 0 12 bit", int(12)),
                ("BITPOS s 0 5 13 BIT", int(12)),
                ("BITPOS s 1 11 23 bit", int(11)),
                ("BITPOS s 1 12 23 bit", int(-1)),
                ("BITPOS s 0 -12 -1 bit", int(12)),
                ("BITPOS s 1 -12 -1 bit", int(-1)),
                ("BITPOS s 1 3 3 bit", int(3)),
                ("BITPOS s 0 3 3 bit", int(-1)),
                ("BITPOS s 0 13 12 bit", int(-1)),
                ("BITPOS s 0 100", int(-1)),
                ("BITPOS s 1 100", int(-1)),
                ("BITPOS s 0 -100", int(12)),
                ("BITPOS s 1 -1 -5", int(-1)),
                ("SET t \\x00\\xff\\xf0", ok()),
                ("BITPOS t 1", int(8)),
                ("BITPOS t 1 0", int(8)),
                ("BITPOS t 1 2 -1 BYTE", int(16)),
                ("BITPOS t 1 7 15 BIT", int(8)),
                ("BITPOS t 1 7 -3 bit", int(8)),
                ("BITPOS t 1 9 -3 bit", int(9)),
                ("BITPOS t 0 8 19 bit", int(-1)),
                ("BITPOS t 0 8 20 bit", int(20)),
                ("BITPOS t 0 1", int(20)),
                ("SET f \\xff\\xff\\xff", ok()),
                ("BITPOS f 0", int(24)),
                ("BITPOS f 0 0", int(24)),
                ("BITPOS f 0 1", int(24)),
                ("BITPOS f 0 0 -1", int(-1)),
                ("BITPOS f 0 0 -1 bit", int(-1)),
                ("BITPOS f 0 0 23 BIT", int(-1)),
                ("BITPOS f 1 0 -1 bit", int(0)),
                ("SET z \\x00\\x00\\x00", ok()),
                ("BITPOS z 1", int(-1)),
                ("BITPOS z 1 0 -1", int(-1)),
                ("BITPOS z 1 0 -1 bit", int(-1)),
                ("BITPOS z 0", int(0)),
                ("BITPOS z 0 1", int(8)),
                ("BITPOS z 0 1 1", int(8)),
                ("SET a a", ok()),
                ("BITPOS a 1 -1 -5", int(1)),
                ("BITPOS a 0 -1 -5", int(0)),
                ("SET e \"\"", ok()),
                ("BITPOS e 0", int(-1)),
                ("BITPOS e 1", int(-1)),
                ("BITPOS e 0 0", int(-1)),
                ("BITPOS e 0 0 -1", int(-1)),
                ("BITPOS nokey 1", int(-1)),
                ("BITPOS nokey 0", int(0)),
                ("BITPOS nokey 0 5 6", int(0)),
                ("BITPOS nokey 1 5 6 bit", int(-1)),
                ("BITPOS nokey 0 a b c d e", int(0)),
            ],
        );
    }

    /// BITPOS across whole 64-bit words and unaligned heads and tails.
    #[test]
    fn bitpos_long_strings() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET z \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01", ok()),
                ("BITPOS z 1", int(167)),
                ("BITPOS z 1 3", int(167)),
                ("BITPOS z 1 3 -1", int(167)),
                ("BITPOS z 1 3 -2", int(-1)),
                ("BITPOS z 1 5 167 bit", int(167)),
                ("BITPOS z 1 5 166 bit", int(-1)),
                ("BITPOS z 0", int(0)),
                ("BITPOS z 0 20", int(160)),
                ("BITPOS z 0 20 20", int(160)),
                ("SET o \\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe", ok()),
                ("BITPOS o 0", int(151)),
                ("BITPOS o 0 1", int(151)),
                ("BITPOS o 0 1 -1", int(151)),
                ("BITPOS o 0 1 -2", int(-1)),
                ("BITPOS o 0 1 150 bit", int(-1)),
                ("BITPOS o 0 1 151 bit", int(151)),
                ("BITPOS o 0 3 -9 bit", int(-1)),
                ("BITPOS o 1 3 -9 bit", int(3)),
                ("SET w \\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff", ok()),
                ("BITPOS w 0", int(128)),
                ("BITPOS w 0 0 -1", int(-1)),
                ("BITPOS w 0 3", int(128)),
                ("BITPOS w 0 3 127 bit", int(-1)),
            ],
        );
    }

    /// BITPOS argument errors and their order.
    #[test]
    fn bitpos_errors() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET s \\xff\\xf0\\x00", ok()),
                ("BITPOS s 2", err("ERR The bit argument must be 1 or 0.")),
                ("BITPOS s -1", err("ERR The bit argument must be 1 or 0.")),
                (
                    "BITPOS s a",
                    err("ERR value is not an integer or out of range"),
                ),
                (
                    "BITPOS s 1 a",
                    err("ERR value is not an integer or out of range"),
                ),
                (
                    "BITPOS s 1 0 a",
                    err("ERR value is not an integer or out of range"),
                ),
                ("BITPOS s 1 0 1 foo", err("ERR syntax error")),
                (
                    "BITPOS s 1 a 1 foo",
                    err("ERR value is not an integer or out of range"),
                ),
                ("BITPOS s 1 0 a foo", err("ERR syntax error")),
                (
                    "BITPOS s 1 0 a bit",
                    err("ERR value is not an integer or out of range"),
                ),
                ("BITPOS s 1 0 1 bit extra", err("ERR syntax error")),
                (
                    "BITPOS nokey 2",
                    err("ERR The bit argument must be 1 or 0."),
                ),
                (
                    "BITPOS nokey x",
                    err("ERR value is not an integer or out of range"),
                ),
                (
                    "BITPOS s",
                    err("ERR wrong number of arguments for 'bitpos' command"),
                ),
            ],
        );
    }

    /// BITOP AND, OR, XOR and NOT with zero padding, missing keys and integer sources.
    #[test]
    fn bitop_basics() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET a \\x01\\x02\\xff", ok()),
                ("SET b \\x0f", ok()),
                ("BITOP AND d a b", int(3)),
                ("GET d", bulk(b"\x01\x00\x00")),
                ("BITOP OR d a b", int(3)),
                ("GET d", bulk(b"\x0f\x02\xff")),
                ("BITOP XOR d a b", int(3)),
                ("GET d", bulk(b"\x0e\x02\xff")),
                ("BITOP and d b a", int(3)),
                ("GET d", bulk(b"\x01\x00\x00")),
                ("BITOP NOT d a", int(3)),
                ("GET d", bulk(b"\xfe\xfd\x00")),
                ("BITOP not d b", int(1)),
                ("GET d", bulk(b"\xf0")),
                ("BITOP AND r1 a", int(3)),
                ("BITOP OR r2 a", int(3)),
                ("BITOP XOR r3 a", int(3)),
                ("GET r1", bulk(b"\x01\x02\xff")),
                ("GET r2", bulk(b"\x01\x02\xff")),
                ("GET r3", bulk(b"\x01\x02\xff")),
                ("BITOP AND r4 nokey a", int(3)),
                ("GET r4", bulk(b"\x00\x00\x00")),
                ("BITOP OR r5 nokey a nokey2", int(3)),
                ("GET r5", bulk(b"\x01\x02\xff")),
                ("BITOP XOR r6 nokey a", int(3)),
                ("GET r6", bulk(b"\x01\x02\xff")),
                ("BITOP XOR r7 a a b", int(3)),
                ("GET r7", bulk(b"\x0f\x00\x00")),
                ("SET n 123", ok()),
                ("BITOP NOT r8 n", int(3)),
                ("GET r8", bulk(b"\xce\xcd\xcc")),
                ("BITOP OR r9 n a", int(3)),
                ("GET r9", bulk(b"12\xff")),
                ("SET k \\xaa\\x00\\xff\\x55", ok()),
                ("BITOP NOT k k", int(4)),
                ("GET k", bulk(b"U\xff\x00\xaa")),
                ("BITOP AND k k k a", int(4)),
                ("GET k", bulk(b"\x01\x02\x00\x00")),
            ],
        );
    }

    /// An empty result deletes the destination; operation name and NOT arity errors.
    #[test]
    fn bitop_empty_results_and_errors() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET d something", ok()),
                ("BITOP AND d nokey1 nokey2", int(0)),
                ("GET d", nil()),
                ("SET e \"\"", ok()),
                ("SET d something", ok()),
                ("BITOP OR d e", int(0)),
                ("GET d", nil()),
                ("BITOP NOT d e", int(0)),
                ("GET d", nil()),
                ("SET a abc", ok()),
                ("BITOP OR x a e", int(3)),
                ("GET x", bulk(b"abc")),
                ("BITOP OR y e a", int(3)),
                ("GET y", bulk(b"abc")),
                (
                    "BITOP NOT d a b",
                    err("ERR BITOP NOT must be called with a single source key."),
                ),
                (
                    "BITOP NOT d",
                    err("ERR wrong number of arguments for 'bitop' command"),
                ),
                ("BITOP FOO d a", err("ERR syntax error")),
                ("BITOP ANDX d a", err("ERR syntax error")),
                (
                    "BITOP d a",
                    err("ERR wrong number of arguments for 'bitop' command"),
                ),
                ("SET n 5", ok()),
                ("BITOP NOT d n", int(1)),
                ("GET d", bulk(b"\xca")),
            ],
        );
    }

    /// BITFIELD SET returns the old value, GET reads, signed and unsigned.
    #[test]
    fn bitfield_set_get_basics() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("BITFIELD bits SET i8 0 -100", arr(vec![int(0)])),
                ("BITFIELD bits SET i8 0 101", arr(vec![int(-100)])),
                ("BITFIELD bits GET i8 0", arr(vec![int(101)])),
                ("BITFIELD u SET u8 0 255", arr(vec![int(0)])),
                ("BITFIELD u SET u8 0 100", arr(vec![int(255)])),
                ("BITFIELD u GET u8 0", arr(vec![int(100)])),
                (
                    "BITFIELD t SET i8 0 255 SET i8 0 100 GET i8 0",
                    arr(vec![int(0), int(-1), int(100)]),
                ),
                (
                    "BITFIELD v SET u8 0 255 INCRBY u8 0 100 GET u8 0",
                    arr(vec![int(0), int(99), int(99)]),
                ),
                ("BITFIELD h SET u8 #0 65", arr(vec![int(0)])),
                ("BITFIELD h SET u8 #1 66", arr(vec![int(0)])),
                ("BITFIELD h SET u8 #2 67", arr(vec![int(0)])),
                ("GET h", bulk(b"ABC")),
                (
                    "BITFIELD h GET u8 #1 GET u16 #1 GET i4 #3 GET u4 #3",
                    arr(vec![int(66), int(17152), int(2), int(2)]),
                ),
                ("BITFIELD c SET u8 #0 10", arr(vec![int(0)])),
                (
                    "BITFIELD c INCRBY u8 #0 100 INCRBY u8 #0 100",
                    arr(vec![int(110), int(210)]),
                ),
                ("BITFIELD only", arr(vec![])),
                ("BITFIELD c", arr(vec![])),
                ("BITFIELD c OVERFLOW SAT", arr(vec![])),
                ("BITFIELD_RO c", arr(vec![])),
                (
                    "BITFIELD mystring SET i8 0 10 SET i8 64 10 INCRBY i8 10 99900",
                    arr(vec![int(0), int(0), int(60)]),
                ),
                (
                    "GET mystring",
                    bulk(b"\x0a\x0f\x00\x00\x00\x00\x00\x00\x0a"),
                ),
                ("SET one 1", ok()),
                (
                    "BITFIELD one GET u1 0 GET u1 2 GET u8 0 GET u8 8",
                    arr(vec![int(0), int(1), int(49), int(0)]),
                ),
            ],
        );
    }

    /// Fields that cross byte boundaries, up to 64 bits, and reads past the end.
    #[test]
    fn bitfield_unaligned_fields() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("BITFIELD k SET u5 3 17", arr(vec![int(0)])),
                ("GET k", bulk(b"\x11")),
                ("BITFIELD k GET u5 3 GET i5 3 GET u16 0 GET i16 0 GET u1 3 GET u1 4", arr(vec![int(17), int(-15), int(4352), int(4352), int(1), int(0)])),
                ("BITFIELD k SET i64 5 -2", arr(vec![int(2305843009213693952)])),
                ("GET k", bulk(b"\x17\xff\xff\xff\xff\xff\xff\xff\xf0")),
                ("BITFIELD k GET i64 5 GET u63 5 GET u63 6 GET i64 0 GET u8 68 GET u8 100 GET i64 4294967231", arr(vec![int(-2), int(9223372036854775807), int(9223372036854775806), int(1729382256910270463), int(0), int(0), int(0)])),
                ("BITFIELD k SET u63 1 9223372036854775807", arr(vec![int(1729382256910270463)])),
                ("GET k", bulk(b"\x7f\xff\xff\xff\xff\xff\xff\xff\xf0")),
                ("BITFIELD k GET u63 1 GET i63 1 GET u2 0 GET i64 0", arr(vec![int(9223372036854775807), int(-1), int(1), int(9223372036854775807)])),
                ("BITFIELD k SET i1 0 1 GET i1 0 GET u1 0", arr(vec![int(0), int(-1), int(1)])),
                ("BITFIELD k SET i64 3 -9223372036854775808 GET i64 3 GET u63 3 GET u63 4", arr(vec![int(-1), int(-9223372036854775808), int(4611686018427387904), int(0)])),
                ("BITFIELD k SET u7 #3 127 GET u7 #3 GET u14 #1", arr(vec![int(0), int(127), int(127)])),
                ("GET k", bulk(b"\xf0\x00\x07\xf0\x00\x00\x00\x00\x10")),
            ],
        );
    }

    /// INCRBY and SET under OVERFLOW WRAP, SAT and FAIL, for narrow and full-width types.
    #[test]
    fn bitfield_overflow_modes() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("BITFIELD a SET u8 #0 100", arr(vec![int(0)])),
                ("BITFIELD a OVERFLOW WRAP INCRBY u8 #0 257", arr(vec![int(101)])),
                ("BITFIELD a GET u8 #0", arr(vec![int(101)])),
                ("BITFIELD a OVERFLOW wrap INCRBY u8 #0 255", arr(vec![int(100)])),
                ("BITFIELD a GET u8 #0", arr(vec![int(100)])),
                ("BITFIELD b SET u8 #0 100", arr(vec![int(0)])),
                ("BITFIELD b OVERFLOW SAT INCRBY u8 #0 257", arr(vec![int(255)])),
                ("BITFIELD b GET u8 #0", arr(vec![int(255)])),
                ("BITFIELD b OVERFLOW sat INCRBY u8 #0 -255", arr(vec![int(0)])),
                ("BITFIELD b GET u8 #0", arr(vec![int(0)])),
                ("BITFIELD c SET i8 #0 100", arr(vec![int(0)])),
                ("BITFIELD c OVERFLOW WRAP INCRBY i8 #0 257", arr(vec![int(101)])),
                ("BITFIELD c GET i8 #0", arr(vec![int(101)])),
                ("BITFIELD c OVERFLOW WRAP INCRBY i8 #0 255", arr(vec![int(100)])),
                ("BITFIELD c GET i8 #0", arr(vec![int(100)])),
                ("BITFIELD d SET u8 #0 100", arr(vec![int(0)])),
                ("BITFIELD d OVERFLOW SAT INCRBY i8 #0 257", arr(vec![int(127)])),
                ("BITFIELD d GET i8 #0", arr(vec![int(127)])),
                ("BITFIELD d OVERFLOW SAT INCRBY i8 #0 -255", arr(vec![int(-128)])),
                ("BITFIELD d GET i8 #0", arr(vec![int(-128)])),
                ("BITFIELD e OVERFLOW FAIL INCRBY u2 0 5 OVERFLOW SAT INCRBY u2 0 5 OVERFLOW WRAP INCRBY u2 0 5 INCRBY u2 0 -1", arr(vec![nil(), int(3), int(0), int(3)])),
                ("BITFIELD e OVERFLOW FAIL INCRBY u2 0 -3 INCRBY u2 0 3 INCRBY u2 0 -3 GET u2 0", arr(vec![int(0), int(3), int(0), int(0)])),
                ("BITFIELD e OVERFLOW FAIL SET u2 0 4 SET u2 0 -1 SET u2 0 3 GET u2 0", arr(vec![nil(), nil(), int(0), int(3)])),
                ("BITFIELD e OVERFLOW WRAP SET u2 0 6 SET u2 0 -1 GET u2 0", arr(vec![int(3), int(2), int(3)])),
                ("BITFIELD e OVERFLOW SAT SET u2 0 6 SET u2 0 -1 GET u2 0", arr(vec![int(3), int(3), int(3)])),
                ("BITFIELD f OVERFLOW FAIL SET i4 0 8 SET i4 0 -9 SET i4 0 7 SET i4 0 -8 GET i4 0", arr(vec![nil(), nil(), int(0), int(7), int(-8)])),
                ("BITFIELD f OVERFLOW WRAP SET i4 0 8 SET i4 0 -9 SET i4 0 23", arr(vec![int(-8), int(-8), int(7)])),
                ("BITFIELD f OVERFLOW SAT SET i4 0 8 SET i4 0 -9 SET i4 0 1000", arr(vec![int(7), int(7), int(-8)])),
                ("BITFIELD g OVERFLOW SAT INCRBY i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -1", arr(vec![int(9223372036854775807), int(9223372036854775807), int(-1), int(-9223372036854775808), int(-9223372036854775808)])),
                ("BITFIELD g OVERFLOW WRAP SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -1 INCRBY i64 0 -9223372036854775808", arr(vec![int(-9223372036854775808), int(-9223372036854775808), int(9223372036854775807), int(-1)])),
                ("BITFIELD g OVERFLOW FAIL SET i64 0 9223372036854775807 INCRBY i64 0 1 INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -9223372036854775808 GET i64 0", arr(vec![int(-1), nil(), int(-1), nil(), int(-1)])),
                ("BITFIELD h OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -9223372036854775808 INCRBY u63 0 -1", arr(vec![int(9223372036854775807), int(9223372036854775807), int(0), int(0)])),
                ("BITFIELD h OVERFLOW WRAP SET u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -1 SET u63 0 -1 INCRBY u63 0 -9223372036854775808", arr(vec![int(0), int(0), int(9223372036854775807), int(9223372036854775807), int(9223372036854775807)])),
                ("BITFIELD h OVERFLOW FAIL SET u63 0 -1 SET u63 0 5 INCRBY u63 0 -6 INCRBY u63 0 9223372036854775807 INCRBY u63 0 9223372036854775802 GET u63 0", arr(vec![nil(), int(9223372036854775807), nil(), nil(), int(9223372036854775807), int(9223372036854775807)])),
                ("BITFIELD i OVERFLOW WRAP SET i8 0 -9223372036854775808 GET i8 0", arr(vec![int(0), int(0)])),
                ("BITFIELD i OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0", arr(vec![int(0), int(127)])),
                ("BITFIELD i OVERFLOW SAT SET i8 0 -9223372036854775681 SET i8 0 -9223372036854775680 SET i8 0 -9223372036854775679 GET i8 0", arr(vec![int(127), int(127), int(-128), int(-128)])),
                ("BITFIELD i OVERFLOW SAT SET u8 0 -1 SET u8 0 256 SET u8 0 -9223372036854775808 GET u8 0", arr(vec![int(128), int(255), int(255), int(255)])),
                ("BITFIELD i OVERFLOW SAT SET i8 0 9223372036854775807 SET i8 0 -129 SET i8 0 128", arr(vec![int(-1), int(127), int(-128)])),
                ("BITFIELD i OVERFLOW FAIL SET i8 0 -9223372036854775808 SET u8 0 -1", arr(vec![nil(), nil()])),
                ("BITFIELD j OVERFLOW SAT INCRBY u8 0 -9223372036854775808 INCRBY u8 0 9223372036854775807 INCRBY i8 0 9223372036854775807 INCRBY i8 0 -9223372036854775808", arr(vec![int(0), int(255), int(127), int(-128)])),
                ("BITFIELD j OVERFLOW WRAP INCRBY u8 0 -9223372036854775808 INCRBY u8 0 9223372036854775807 INCRBY i8 0 9223372036854775807 INCRBY i8 0 -9223372036854775808", arr(vec![int(128), int(127), int(126), int(126)])),
            ],
        );
    }

    /// An OVERFLOW FAIL write still creates or pads the string, as in Redis.
    #[test]
    fn bitfield_fail_pads_string() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("BITFIELD f OVERFLOW FAIL SET u8 8 1000", arr(vec![nil()])),
                ("GET f", bulk(b"\x00\x00")),
                (
                    "BITFIELD f OVERFLOW FAIL INCRBY u8 24 1000",
                    arr(vec![nil()]),
                ),
                ("GET f", bulk(b"\x00\x00\x00\x00")),
                ("BITFIELD f GET u8 100", arr(vec![int(0)])),
                ("GET f", bulk(b"\x00\x00\x00\x00")),
            ],
        );
    }

    /// BITFIELD reads and writes the decimal text of integer values.
    #[test]
    fn bitfield_on_integer_values() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET n 12345", ok()),
                (
                    "BITFIELD n GET u8 0 GET u8 8 GET u8 40",
                    arr(vec![int(49), int(50), int(0)]),
                ),
                ("BITFIELD n SET u8 0 50", arr(vec![int(49)])),
                ("GET n", bulk(b"22345")),
                ("SET m 42", ok()),
                ("BITFIELD m SET u8 0 52", arr(vec![int(52)])),
                ("GET m", bulk(b"42")),
                ("BITFIELD m INCRBY u8 #2 48", arr(vec![int(48)])),
                ("GET m", bulk(b"420")),
            ],
        );
    }

    /// BITFIELD parse errors, in Redis' order, leave the key untouched.
    #[test]
    fn bitfield_errors() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("SET k abc", ok()),
                ("BITFIELD k GET", err("ERR syntax error")),
                ("BITFIELD k GET u8", err("ERR syntax error")),
                ("BITFIELD k SET u8 0", err("ERR syntax error")),
                ("BITFIELD k INCRBY u8 0", err("ERR syntax error")),
                ("BITFIELD k OVERFLOW", err("ERR syntax error")),
                ("BITFIELD k OVERFLOW bla", err("ERR Invalid OVERFLOW type specified")),
                ("BITFIELD k OVERFLOW bla GET x 0", err("ERR Invalid OVERFLOW type specified")),
                ("BITFIELD k FOO u8 0", err("ERR syntax error")),
                ("BITFIELD k GET x8 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET I8 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET U8 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET u64 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET i65 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET i0 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET u0 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET u 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET i 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET i-1 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET u+1 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET u08 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET \"\" 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k GET i8 -1", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 #-1", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 #", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 ##1", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 abc", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 1.0", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 4294967296", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 4294967295", arr(vec![int(0)])),
                ("BITFIELD k GET i8 #536870912", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD k GET i8 #536870911", arr(vec![int(0)])),
                ("BITFIELD k GET u8 #2305843009213693952", arr(vec![int(97)])),
                ("BITFIELD k GET i64 #288230376151711744", arr(vec![int(7017280021047803904)])),
                ("BITFIELD k GET i64 #288230376151711745", arr(vec![int(0)])),
                ("BITFIELD k SET i8 0 x", err("ERR value is not an integer or out of range")),
                ("BITFIELD k SET i8 0 1.5", err("ERR value is not an integer or out of range")),
                ("BITFIELD k INCRBY i8 0 99999999999999999999", err("ERR value is not an integer or out of range")),
                ("BITFIELD k INCRBY i8 0 1 foo", err("ERR syntax error")),
                ("BITFIELD k SET u8 0 65 GET x 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD k SET u8 0 65 OVERFLOW nope", err("ERR Invalid OVERFLOW type specified")),
                ("BITFIELD k SET u8 99 65 GET u8 -5", err("ERR bit offset is not an integer or out of range")),
                ("BITFIELD new SET u8 0 1 GET x 0", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("GET k", bulk(b"abc")),
                ("GET new", nil()),
                ("BITFIELD k get u8 0 Get u8 8 GET u8 16 gEt u8 24", arr(vec![int(97), int(98), int(99), int(0)])),
            ],
        );
    }

    /// BITFIELD_RO runs GETs and refuses writes after parsing them.
    #[test]
    fn bitfield_ro() {
        let mut ks = Keyspace::new();
        script(
            &mut ks,
            &[
                ("BITFIELD k SET u8 0 255 SET u8 8 100", arr(vec![int(0), int(0)])),
                ("BITFIELD_RO k GET u8 0 GET i8 0 GET u8 8 GET u8 #5", arr(vec![int(255), int(-1), int(100), int(0)])),
                ("BITFIELD_RO k GET u8 0 OVERFLOW SAT GET u8 8", arr(vec![int(255), int(100)])),
                ("BITFIELD_RO k", arr(vec![])),
                ("BITFIELD_RO nokey", arr(vec![])),
                ("BITFIELD_RO nokey GET i16 0", arr(vec![int(0)])),
                ("BITFIELD_RO k SET u8 0 1", err("ERR BITFIELD_RO only supports the GET subcommand")),
                ("BITFIELD_RO k GET u8 0 INCRBY u8 0 1", err("ERR BITFIELD_RO only supports the GET subcommand")),
                ("BITFIELD_RO k SET u8 0 100 GET u8 0", err("ERR BITFIELD_RO only supports the GET subcommand")),
                ("BITFIELD_RO k SET u8 0 x", err("ERR value is not an integer or out of range")),
                ("BITFIELD_RO k GET x 0 SET u8 0 1", err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")),
                ("BITFIELD_RO k GET", err("ERR syntax error")),
                ("BITFIELD_RO k OVERFLOW x", err("ERR Invalid OVERFLOW type specified")),
                ("GET k", bulk(b"\xffd")),
            ],
        );
    }
}
