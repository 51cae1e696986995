//! Sorted sets: ZADD and the rest of Redis' sorted set family (t_zset.c). The type and its two encodings live
//! in [`crate::zset`]; this file parses arguments and shapes replies exactly as Redis 7 does.
//!
//! Inputs of ZUNION, ZINTER, ZDIFF, ZINTERCARD and their STORE forms may also be plain sets, every member
//! scoring 1 (before weights), as in Redis.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use resp::{BulkList, Frame};

use crate::blocking::{parse_timeout, unserved, Block};
use crate::cmd::{arg_i64, is, reply};
use crate::errors;
use crate::exec::ExecCtx;
use crate::keyspace::{Keyspace, NO_EXPIRE};
use crate::notify::class as ev;
use crate::table::{acl, flags, CommandSpec, Handler, Writes};
use crate::types::set::{Member, Set};
use crate::value::Value;
use crate::zset::{Limits, ZSet};

const RO: u32 = flags::READONLY;
const W: u32 = flags::WRITE;
const DENYOOM: u32 = flags::DENYOOM;
const FAST: u32 = flags::FAST;
const NOSCRIPT: u32 = flags::NOSCRIPT;
const BLOCKING: u32 = flags::BLOCKING;
const Z: u32 = acl::SORTEDSET;

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, W | DENYOOM | FAST, Z, Handler::Keyspace(zadd))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
            "Add one or more members to a sorted set, or update its score if it already exists",
        ),
    CommandSpec::new("zincrby", 4, W | DENYOOM | FAST, Z, Handler::Keyspace(zincrby))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(log(N)) where N is the number of elements in the sorted set.",
            "Increment the score of a member in a sorted set",
        ),
    CommandSpec::new("zrem", -3, W | FAST, Z, Handler::Keyspace(zrem))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
            "Remove one or more members from a sorted set",
        ),
    CommandSpec::new("zcard", 2, RO | FAST, Z, Handler::Keyspace(zcard))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(1)",
            "Get the number of members in a sorted set",
        ),
    CommandSpec::new("zcount", 4, RO | FAST, Z, Handler::Keyspace(zcount))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(log(N)) with N being the number of elements in the sorted set.",
            "Count the members in a sorted set with scores within the given values",
        ),
    CommandSpec::new("zlexcount", 4, RO | FAST, Z, Handler::Keyspace(zlexcount))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.8.9",
            "O(log(N)) with N being the number of elements in the sorted set.",
            "Count the number of members in a sorted set between a given lexicographical range",
        ),
    CommandSpec::new("zscore", 3, RO | FAST, Z, Handler::Keyspace(zscore))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(1)",
            "Get the score associated with the given member in a sorted set",
        ),
    CommandSpec::new("zmscore", -3, RO | FAST, Z, Handler::Keyspace(zmscore))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(N) where N is the number of members being requested.",
            "Get the score associated with the given members in a sorted set",
        ),
    CommandSpec::new("zrank", -3, RO | FAST, Z, Handler::Keyspace(zrank))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(log(N))",
            "Determine the index of a member in a sorted set",
        ),
    CommandSpec::new("zrevrank", -3, RO | FAST, Z, Handler::Keyspace(zrevrank))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(log(N))",
            "Determine the index of a member in a sorted set, with scores ordered from high to low",
        ),
    CommandSpec::new("zrange", -4, RO, Z, Handler::Keyspace(zrange))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
            "Return a range of members in a sorted set",
        ),
    CommandSpec::new("zrangestore", -5, W | DENYOOM, Z, Handler::Keyspace(zrangestore))
        .keys(1, 2, 1)
        .writes(Writes::FirstKey)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
            "Store a range of members from sorted set into another key",
        ),
    CommandSpec::new("zrevrange", -4, RO, Z, Handler::Keyspace(zrevrange))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
            "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        ),
    CommandSpec::new("zrangebyscore", -4, RO, Z, Handler::Keyspace(zrangebyscore))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.0.5",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
            "Return a range of members in a sorted set, by score",
        ),
    CommandSpec::new("zrevrangebyscore", -4, RO, Z, Handler::Keyspace(zrevrangebyscore))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
            "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        ),
    CommandSpec::new("zrangebylex", -4, RO, Z, Handler::Keyspace(zrangebylex))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
            "Return a range of members in a sorted set, by lexicographical range",
        ),
    CommandSpec::new("zrevrangebylex", -4, RO, Z, Handler::Keyspace(zrevrangebylex))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
            "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        ),
    CommandSpec::new("zremrangebyrank", 4, W, Z, Handler::Keyspace(zremrangebyrank))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
            "Remove all members in a sorted set within the given indexes",
        ),
    CommandSpec::new("zremrangebyscore", 4, W, Z, Handler::Keyspace(zremrangebyscore))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
            "Remove all members in a sorted set within the given scores",
        ),
    CommandSpec::new("zremrangebylex", 4, W, Z, Handler::Keyspace(zremrangebylex))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
            "Remove all members in a sorted set between the given lexicographical range",
        ),
    CommandSpec::new("zunion", -3, RO, Z, Handler::Keyspace(zunion))
        .keys_fn(0, 0, 0, keys_numkeys_first)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
            "Add multiple sorted sets",
        ),
    CommandSpec::new("zinter", -3, RO, Z, Handler::Keyspace(zinter))
        .keys_fn(0, 0, 0, keys_numkeys_first)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
            "Intersect multiple sorted sets",
        ),
    CommandSpec::new("zdiff", -3, RO, Z, Handler::Keyspace(zdiff))
        .keys_fn(0, 0, 0, keys_numkeys_first)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
            "Subtract multiple sorted sets",
        ),
    CommandSpec::new("zintercard", -3, RO, Z, Handler::Keyspace(zintercard))
        .keys_fn(0, 0, 0, keys_numkeys_first)
        .doc(
            "sorted_set",
            "7.0.0",
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
            "Intersect multiple sorted sets and return the cardinality of the result",
        ),
    CommandSpec::new("zunionstore", -4, W | DENYOOM, Z, Handler::Keyspace(zunionstore))
        .keys_fn(1, 1, 1, keys_store)
        .writes(Writes::FirstKey)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
            "Add multiple sorted sets and store the resulting sorted set in a new key",
        ),
    CommandSpec::new("zinterstore", -4, W | DENYOOM, Z, Handler::Keyspace(zinterstore))
        .keys_fn(1, 1, 1, keys_store)
        .writes(Writes::FirstKey)
        .doc(
            "sorted_set",
            "2.0.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
            "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        ),
    CommandSpec::new("zdiffstore", -4, W | DENYOOM, Z, Handler::Keyspace(zdiffstore))
        .keys_fn(1, 1, 1, keys_store)
        .writes(Writes::FirstKey)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
            "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        ),
    CommandSpec::new("zrandmember", -2, RO, Z, Handler::Keyspace(zrandmember))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "6.2.0",
            "O(N) where N is the number of elements returned",
            "Get one or multiple random elements from a sorted set",
        ),
    CommandSpec::new("zpopmin", -2, W | FAST, Z, Handler::Keyspace(zpopmin))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
            "Remove and return members with the lowest scores in a sorted set",
        ),
    CommandSpec::new("zpopmax", -2, W | FAST, Z, Handler::Keyspace(zpopmax))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
            "Remove and return members with the highest scores in a sorted set",
        ),
    CommandSpec::new("zmpop", -4, W, Z, Handler::Keyspace(zmpop))
        .keys_fn(0, 0, 0, keys_numkeys_first)
        .writes(Writes::PoppedKey)
        .doc(
            "sorted_set",
            "7.0.0",
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
            "Remove and return members with scores in a sorted set",
        ),
    CommandSpec::new("bzpopmin", -3, W | NOSCRIPT | FAST | BLOCKING, Z, Handler::Keyspace(bzpopmin))
        .keys(1, -2, 1)
        .writes(Writes::PoppedKey)
        .blocks_on(bzpop_block)
        .doc(
            "sorted_set",
            "5.0.0",
            "O(log(N)) with N being the number of elements in the sorted set.",
            "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        ),
    CommandSpec::new("bzpopmax", -3, W | NOSCRIPT | FAST | BLOCKING, Z, Handler::Keyspace(bzpopmax))
        .keys(1, -2, 1)
        .writes(Writes::PoppedKey)
        .blocks_on(bzpop_block)
        .doc(
            "sorted_set",
            "5.0.0",
            "O(log(N)) with N being the number of elements in the sorted set.",
            "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        ),
    CommandSpec::new("bzmpop", -5, W | BLOCKING, Z, Handler::Keyspace(bzmpop))
        .keys_fn(0, 0, 0, keys_bzmpop)
        .writes(Writes::PoppedKey)
        .blocks_on(bzmpop_block)
        .doc(
            "sorted_set",
            "7.0.0",
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
            "Remove and return members with scores in a sorted set or block until one is available",
        ),
    CommandSpec::new("zscan", -3, RO, Z, Handler::Keyspace(zscan))
        .keys(1, 1, 1)
        .doc(
            "sorted_set",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
            "Incrementally iterate sorted sets elements and associated scores",
        ),
];

const NOT_FLOAT_RANGE: Frame = Frame::error("ERR min or max is not a float");
const NOT_LEX_RANGE: Frame = Frame::error("ERR min or max not valid string range item");
const NAN_SCORE: Frame = Frame::error("ERR resulting score is not a number (NaN)");
const OUT_OF_RANGE: Frame = Frame::error("ERR value is out of range");
const LIMIT_NEGATIVE: Frame = Frame::error("ERR LIMIT can't be negative");
const WEIGHT_NOT_FLOAT: Frame = Frame::error("ERR weight value is not a float");
const NUMKEYS: Frame = Frame::error("ERR numkeys should be greater than 0");
const COUNT_POSITIVE: Frame = Frame::error("ERR count should be greater than 0");

/// Most members a reply with repetitions (ZRANDMEMBER with a negative count) may hold per byte of
/// `proto-max-bulk-len`: Redis builds whatever was asked for, which for a count near 2^62 exhausts memory.
const RANDOM_REPLY_BYTES_PER_MEMBER: u64 = 128;

// ---------------------------------------------------------------------------------------------------------------
// Number and range parsing
// ---------------------------------------------------------------------------------------------------------------

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtod` required to consume all of `b` (after leading white space): decimal, hexadecimal (`0x1.8p3`),
/// `inf`/`infinity`. Returns the value and whether it overflowed to an infinity or underflowed to zero (`ERANGE`).
/// NaN and anything `strtod` would stop short in are `None`.
fn strtod(b: &[u8]) -> Option<(f64, bool)> {
    let start = b.iter().position(|&c| !is_space(c))?;
    let s = &b[start..];
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some((sign * f64::INFINITY, false));
    }
    if body.len() > 2
        && body[0] == b'0'
        && (body[1] | 0x20) == b'x'
        && (body[2].is_ascii_hexdigit()
            || (body[2] == b'.' && body.get(3).is_some_and(u8::is_ascii_hexdigit)))
    {
        let (v, erange) = parse_hex(&body[2..])?;
        return Some((sign * v, erange));
    }
    // digits [. digits] [e [sign] digits], at least one digit before the exponent.
    let mut i = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while i < body.len() && body[i].is_ascii_digit() {
        nonzero |= body[i] != b'0';
        digits += 1;
        i += 1;
    }
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && body[i].is_ascii_digit() {
            nonzero |= body[i] != b'0';
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < body.len() && (body[i] | 0x20) == b'e' {
        i += 1;
        if i < body.len() && (body[i] == b'+' || body[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != body.len() {
        return None;
    }
    let v: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((sign * v, erange))
}

/// The hexadecimal significand and binary exponent after `0x`, correctly rounded (ties to even).
fn parse_hex(s: &[u8]) -> Option<(f64, bool)> {
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut i = 0;
    let mut frac = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !frac {
            frac = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        if mant >> 60 == 0 {
            mant = mant * 16 + d as u64;
            if frac {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                exp += 4;
            }
        }
        i += 1;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        i += 1;
        let neg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        let mut e: i64 = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            e = (e * 10 + (s[i] - b'0') as i64).min(1 << 40);
            i += 1;
        }
        if i == exp_start {
            return None;
        }
        exp += if neg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    Some(compose_f64(mant, sticky, exp))
}

/// `mant * 2^exp` (plus a nonzero tail below `mant` when `sticky`) rounded to the nearest double; the flag says
/// whether it overflowed to infinity or underflowed to zero.
fn compose_f64(mant: u64, sticky: bool, exp: i64) -> (f64, bool) {
    if mant == 0 {
        return (0.0, false);
    }
    let lz = mant.leading_zeros() as i64;
    let m = mant << lz;
    let e = exp - lz;
    // The value is m * 2^e with m in [2^63, 2^64); its leading bit has exponent e + 63.
    let top = e + 63;
    if top > 1023 {
        return (f64::INFINITY, true);
    }
    let shift = if top >= -1022 { 11 } else { 11 + (-1022 - top) };
    if shift > 64 {
        return (0.0, true);
    }
    let (kept, half, rest) = if shift == 64 {
        (0, m >> 63 == 1, (m << 1) != 0 || sticky)
    } else {
        (
            m >> shift,
            (m >> (shift - 1)) & 1 == 1,
            (m & ((1u64 << (shift - 1)) - 1)) != 0 || sticky,
        )
    };
    let mut q = kept;
    if half && (rest || q & 1 == 1) {
        q += 1;
    }
    if q == 0 {
        return (0.0, true);
    }
    if shift > 11 {
        // Subnormal: the value is q * 2^-1074, and q == 2^52 is the smallest normal, both spelled by q's bits.
        return (f64::from_bits(q), false);
    }
    let mut qe = e + shift;
    if q == 1 << 53 {
        q >>= 1;
        qe += 1;
    }
    let biased = qe + 52 + 1023;
    if biased >= 2047 {
        return (f64::INFINITY, true);
    }
    (
        f64::from_bits(((biased as u64) << 52) | (q & ((1u64 << 52) - 1))),
        false,
    )
}

/// A score or weight as Redis' `getDoubleFromObject` reads it: the whole argument, no leading space, not NaN,
/// and not a finite number too large or too small for a double.
pub fn parse_score(b: &[u8]) -> Option<f64> {
    if b.is_empty() || is_space(b[0]) {
        return None;
    }
    let (v, erange) = strtod(b)?;
    if erange || v.is_nan() {
        return None;
    }
    Some(v)
}

/// One end of a score range (`zslParseRange`): `(` makes it exclusive; `inf`, `-inf` and anything `strtod`
/// reads whole are accepted (an empty text is 0, as C sees it); NaN is not.
fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    // C string semantics: strtod stops at a NUL and the check looks at that NUL.
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    let (ex, body) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let v = if body.is_empty() {
        0.0
    } else {
        strtod(body)?.0
    };
    (!v.is_nan()).then_some((v, ex))
}

/// A score range.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Frame> {
        let (min, minex) = parse_score_bound(min).ok_or(NOT_FLOAT_RANGE)?;
        let (max, maxex) = parse_score_bound(max).ok_or(NOT_FLOAT_RANGE)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lex range: `-` and `+` are the smallest and largest strings, `(` and `[` open and closed ends.
#[derive(Clone, Copy, Debug)]
enum LexBound<'a> {
    Min,
    Max,
    Open(&'a [u8]),
    Closed(&'a [u8]),
}

/// A lex range (`zslParseLexRange`).
#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: LexBound<'a>,
    max: LexBound<'a>,
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound<'_>> {
    match b.first() {
        Some(b'+') if b.len() == 1 || b[1] == 0 => Some(LexBound::Max),
        Some(b'-') if b.len() == 1 || b[1] == 0 => Some(LexBound::Min),
        Some(b'(') => Some(LexBound::Open(&b[1..])),
        Some(b'[') => Some(LexBound::Closed(&b[1..])),
        _ => None,
    }
}

impl<'a> LexRange<'a> {
    fn parse(min: &'a [u8], max: &'a [u8]) -> Result<LexRange<'a>, Frame> {
        Ok(LexRange {
            min: parse_lex_bound(min).ok_or(NOT_LEX_RANGE)?,
            max: parse_lex_bound(max).ok_or(NOT_LEX_RANGE)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Open(v) => m > v,
            LexBound::Closed(v) => m >= v,
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match self.max {
            LexBound::Max => true,
            LexBound::Min => false,
            LexBound::Open(v) => m < v,
            LexBound::Closed(v) => m <= v,
        }
    }
}

/// Where a range lies in a set, as indexes `start..end` in ascending order.
fn score_span(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let start = z.partition_point(|s, _| !r.gte_min(s));
    let end = z.partition_point(|s, _| r.lte_max(s));
    (start, end.max(start))
}

fn lex_span(z: &ZSet, r: &LexRange<'_>) -> (usize, usize) {
    let start = z.partition_point(|_, m| !r.gte_min(m));
    let end = z.partition_point(|_, m| r.lte_max(m));
    (start, end.max(start))
}

/// Redis' rank range sanitising: negative indexes count from the end; `None` when the range is empty.
fn rank_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize + 1))
}

// ---------------------------------------------------------------------------------------------------------------
// Lookups and reply helpers
// ---------------------------------------------------------------------------------------------------------------

/// The sorted set under `key` for a read command (counting a hit or miss): `None` if absent, WRONGTYPE for
/// another type.
fn read_zset<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a ZSet>, Frame> {
    match ks.read(ctx, key) {
        None => Ok(None),
        Some(o) => match &o.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// The sorted set under `key` for a write command: `None` if absent, WRONGTYPE for another type.
fn write_zset<'a>(
    ks: &'a mut Keyspace,
    ctx: &ExecCtx,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, Frame> {
    match ks.lookup(ctx, key) {
        None => Ok(None),
        Some(o) => match &mut o.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

fn bulk(m: &[u8]) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(m))
}

/// Members alone, or members with their scores (pairs: nested in RESP3, flat in RESP2). The members are copied
/// into one buffer and each reply element is a slice of it: one allocation per reply, not one per member.
fn entries_reply(entries: Vec<(f64, &[u8])>, withscores: bool) -> Frame {
    let mut list = reply_list(
        entries.len(),
        entries.iter().map(|(_, m)| m.len()).sum(),
        withscores,
    );
    for (s, m) in entries {
        list.push(m, s);
    }
    Frame::BulkList(list)
}

/// An empty range reply for `count` members of `bytes` bytes in all: members alone, or with their scores.
fn reply_list(count: usize, bytes: usize, withscores: bool) -> BulkList {
    if withscores {
        BulkList::with_scores(count, bytes)
    } else {
        BulkList::with_capacity(count, bytes)
    }
}

/// Stores a computed result under `dst` (replacing whatever was there, deadline included), or deletes `dst`
/// when the result is empty; replies with the result's size (ZUNIONSTORE, ZRANGESTORE, ...).
fn store_result(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    dst: &[u8],
    z: Option<ZSet>,
    event: &'static str,
) -> Frame {
    match z {
        Some(z) if !z.is_empty() => {
            let n = z.len();
            ks.set(ctx, dst, Value::ZSet(z), NO_EXPIRE);
            ks.notify(ev::ZSET, event, dst);
            ctx.dirty += 1;
            Frame::Integer(n as i64)
        }
        _ => {
            if ks.lookup(ctx, dst).is_some() {
                ks.remove(dst);
                ks.notify(ev::GENERIC, "del", dst);
                ctx.dirty += 1;
            }
            Frame::Integer(0)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------------------------------

/// ZADD's flags.
#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// What adding one member did (Redis' `zsetAdd` out flags).
enum Added {
    /// A new member.
    New(f64),
    /// The score changed (or, with INCR, was confirmed) to this.
    Updated(f64),
    /// Same score: nothing changed, but the member counts as processed.
    Same(f64),
    /// NX, XX, GT or LT prevented the change.
    Nop,
}

/// Redis' `zsetAdd`: `Err` only when INCR makes the score NaN.
fn add_one(
    z: &mut ZSet,
    score: f64,
    member: &[u8],
    f: AddFlags,
    limits: Limits,
) -> Result<Added, Frame> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok(Added::Nop);
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(NAN_SCORE);
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok(Added::Nop);
            }
            if score != cur {
                z.update(member, cur, score);
                Ok(Added::Updated(score))
            } else {
                Ok(Added::Same(score))
            }
        }
        None if f.xx => Ok(Added::Nop),
        None => {
            z.insert(score, member, limits);
            Ok(Added::New(score))
        }
    }
}

fn zadd(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zadd_generic(ks, ctx, args, false))
}

fn zincrby(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zadd_generic(ks, ctx, args, true))
}

/// ZADD and ZINCRBY (Redis' `zaddGenericCommand`: ZINCRBY is ZADD with INCR, options included).
fn zadd_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    incr: bool,
) -> Result<Frame, Frame> {
    let mut f = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut idx = 2;
    while idx < args.len() {
        let opt = &args[idx];
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "ch") {
            ch = true;
        } else if is(opt, "incr") {
            f.incr = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = args.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return Err(Frame::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Err(Frame::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 2 {
        return Err(Frame::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Every score is checked before anything changes: the command runs fully or not at all.
    let pairs: Vec<(f64, &Bytes)> = args[idx..]
        .chunks_exact(2)
        .map(|p| {
            parse_score(&p[0])
                .map(|s| (s, &p[1]))
                .ok_or(errors::NOT_FLOAT)
        })
        .collect::<Result<_, _>>()?;
    let key = &args[1];
    let limits = ks.config.zset_limits;
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    if write_zset(ks, ctx, key)?.is_none() {
        if f.xx {
            return Ok(if f.incr {
                Frame::Null
            } else {
                Frame::Integer(0)
            });
        }
        let z = ZSet::for_first_member(pairs[0].1.len(), limits);
        ks.set(ctx, key, Value::ZSet(z), NO_EXPIRE);
    }
    let Some(z) = write_zset(ks, ctx, key)? else {
        return Err(errors::WRONGTYPE);
    };
    let mut outcome = Ok(());
    for (score, member) in pairs {
        match add_one(z, score, member, f, limits) {
            Err(e) => {
                outcome = Err(e);
                break;
            }
            Ok(Added::New(s)) => {
                added += 1;
                processed += 1;
                last = s;
            }
            Ok(Added::Updated(s)) => {
                updated += 1;
                processed += 1;
                last = s;
            }
            Ok(Added::Same(s)) => {
                processed += 1;
                last = s;
            }
            Ok(Added::Nop) => {}
        }
    }
    if z.is_empty() {
        ks.remove(key);
    }
    if added > 0 {
        // Clients blocked in BZPOPMIN & co. may wait on a key that was created since they registered.
        ks.signal_ready(key);
    }
    if added + updated > 0 {
        ks.notify(ev::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    ctx.dirty += added + updated;
    outcome?;
    Ok(if f.incr {
        if processed > 0 {
            Frame::Double(last)
        } else {
            Frame::Null
        }
    } else {
        Frame::Integer((if ch { added + updated } else { added }) as i64)
    })
}

fn zrem(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrem_inner(ks, ctx, args))
}

fn zrem_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let key = &args[1];
    let Some(z) = write_zset(ks, ctx, key)? else {
        return Ok(Frame::Integer(0));
    };
    let mut deleted = 0;
    for m in &args[2..] {
        if z.remove(m) {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    let empty = z.is_empty();
    if deleted > 0 {
        ks.notify(ev::ZSET, "zrem", key);
    }
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    }
    ctx.dirty += deleted;
    Ok(Frame::Integer(deleted as i64))
}

// ---------------------------------------------------------------------------------------------------------------
// ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK
// ---------------------------------------------------------------------------------------------------------------

fn zcard(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_zset(ks, ctx, &args[1]).map(|z| Frame::Integer(z.map_or(0, ZSet::len) as i64)))
}

fn zcount(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let r = ScoreRange::parse(&args[2], &args[3])?;
        let n = read_zset(ks, ctx, &args[1])?.map_or(0, |z| {
            let (a, b) = score_span(z, &r);
            b - a
        });
        Ok(Frame::Integer(n as i64))
    })())
}

fn zlexcount(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let r = LexRange::parse(&args[2], &args[3])?;
        let n = read_zset(ks, ctx, &args[1])?.map_or(0, |z| {
            let (a, b) = lex_span(z, &r);
            b - a
        });
        Ok(Frame::Integer(n as i64))
    })())
}

fn zscore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_zset(ks, ctx, &args[1]).map(|z| {
        z.and_then(|z| z.score(&args[2]))
            .map_or(Frame::Null, Frame::Double)
    }))
}

fn zmscore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(read_zset(ks, ctx, &args[1]).map(|z| {
        Frame::Array(
            args[2..]
                .iter()
                .map(|m| {
                    z.and_then(|z| z.score(m))
                        .map_or(Frame::Null, Frame::Double)
                })
                .collect(),
        )
    }))
}

fn zrank(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrank_generic(ks, ctx, args, false))
}

fn zrevrank(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrank_generic(ks, ctx, args, true))
}

/// ZRANK and ZREVRANK, with Redis 7.2's WITHSCORE.
fn zrank_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    rev: bool,
) -> Result<Frame, Frame> {
    let name = if rev { "zrevrank" } else { "zrank" };
    if args.len() > 4 {
        return Err(errors::wrong_arity(name));
    }
    let withscore = match args.get(3) {
        None => false,
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(errors::SYNTAX),
    };
    let missing = if withscore {
        Frame::NullArray
    } else {
        Frame::Null
    };
    let Some(z) = read_zset(ks, ctx, &args[1])? else {
        return Ok(missing);
    };
    let Some((rank, score)) = z.rank(&args[2]) else {
        return Ok(missing);
    };
    let rank = if rev { z.len() - 1 - rank } else { rank } as i64;
    Ok(if withscore {
        Frame::Array(vec![Frame::Integer(rank), Frame::Double(score)])
    } else {
        Frame::Integer(rank)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// ZRANGE and its older forms, ZRANGESTORE
// ---------------------------------------------------------------------------------------------------------------

/// How a range is expressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

fn zrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Auto,
        None,
    ))
}

fn zrangestore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        2,
        Some(&args[1]),
        RangeKind::Auto,
        None,
    ))
}

fn zrevrange(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Rank,
        Some(true),
    ))
}

fn zrangebyscore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Score,
        Some(false),
    ))
}

fn zrevrangebyscore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Score,
        Some(true),
    ))
}

fn zrangebylex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Lex,
        Some(false),
    ))
}

fn zrevrangebylex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrange_generic(
        ks,
        ctx,
        args,
        1,
        None,
        RangeKind::Lex,
        Some(true),
    ))
}

/// Indexes `start..end`, in the walking direction, after LIMIT: a negative offset finds nothing (Redis walks
/// off the end of the set), a negative count means no limit.
fn apply_limit(span: (usize, usize), offset: i64, count: i64) -> (usize, usize) {
    let (a, b) = span;
    if offset < 0 {
        return (a, a);
    }
    let start = a
        .saturating_add(usize::try_from(offset).unwrap_or(usize::MAX))
        .min(b);
    let end = match usize::try_from(count) {
        Ok(c) => start.saturating_add(c).min(b),
        Err(_) => b,
    };
    (start, end)
}

/// Redis' `zrangeGenericCommand`: ZRANGE (`store` None), ZRANGESTORE, and the older ZREVRANGE,
/// Z[REV]RANGEBYSCORE and Z[REV]RANGEBYLEX, which fix the kind and direction.
fn zrange_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    key_idx: usize,
    store: Option<&Bytes>,
    mut kind: RangeKind,
    mut rev: Option<bool>,
) -> Result<Frame, Frame> {
    let key = &args[key_idx];
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = key_idx + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if kind == RangeKind::Auto && is(a, "bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is(a, "byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err(Frame::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(Frame::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&args[key_idx + 1], &args[key_idx + 2]);
    if rev && kind != RangeKind::Rank {
        // The range is given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Parsed<'a> {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange<'a>),
    }
    let parsed = match kind {
        RangeKind::Score => Parsed::Score(ScoreRange::parse(lo, hi)?),
        RangeKind::Lex => Parsed::Lex(LexRange::parse(lo, hi)?),
        _ => Parsed::Rank(arg_i64(lo)?, arg_i64(hi)?),
    };
    let limits = ks.config.zset_limits;
    let z = match read_zset(ks, ctx, key)? {
        Some(z) => z,
        None => {
            return Ok(match store {
                Some(dst) => store_result(ks, ctx, dst, None, "zrangestore"),
                None => Frame::Array(Vec::new()),
            })
        }
    };
    let len = z.len();
    // Indexes in the walking direction (from the highest entry when `rev`).
    let flip = |(a, b): (usize, usize)| if rev { (len - b, len - a) } else { (a, b) };
    let (start, end) = match parsed {
        Parsed::Rank(a, b) => rank_span(a, b, len).unwrap_or((0, 0)),
        Parsed::Score(r) => apply_limit(flip(score_span(z, &r)), offset, limit),
        Parsed::Lex(r) => apply_limit(flip(lex_span(z, &r)), offset, limit),
    };
    let Some(dst) = store else {
        // Straight from the walk into the reply's buffer.
        let count = end.saturating_sub(start);
        let mut list = reply_list(count, count * 16, withscores);
        z.for_range(start, end, rev, |s, m| list.push(m, s));
        return Ok(Frame::BulkList(list));
    };
    let mut entries: Vec<(f64, &[u8])> = Vec::with_capacity(end.saturating_sub(start));
    z.for_range(start, end, rev, |s, m| entries.push((s, m)));
    if rev {
        entries.reverse();
    }
    let result = if kind == RangeKind::Rank && entries.len() > limits.max_entries {
        ZSet::tree_from_sorted(entries.iter().copied())
    } else {
        ZSet::from_sorted(&entries, limits)
    };
    Ok(store_result(ks, ctx, dst, Some(result), "zrangestore"))
}

// ---------------------------------------------------------------------------------------------------------------
// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX
// ---------------------------------------------------------------------------------------------------------------

fn zremrangebyrank(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let (a, b) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
        zremrange(ks, ctx, &args[1], "zremrangebyrank", |z| {
            rank_span(a, b, z.len())
        })
    })())
}

fn zremrangebyscore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let r = ScoreRange::parse(&args[2], &args[3])?;
        zremrange(ks, ctx, &args[1], "zremrangebyscore", |z| {
            Some(score_span(z, &r))
        })
    })())
}

fn zremrangebylex(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let r = LexRange::parse(&args[2], &args[3])?;
        zremrange(ks, ctx, &args[1], "zremrangebylex", |z| {
            Some(lex_span(z, &r))
        })
    })())
}

/// Removes the entries `span` picks (ascending indexes) and deletes the key once empty.
fn zremrange(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    key: &[u8],
    event: &'static str,
    span: impl FnOnce(&ZSet) -> Option<(usize, usize)>,
) -> Result<Frame, Frame> {
    let Some(z) = write_zset(ks, ctx, key)? else {
        return Ok(Frame::Integer(0));
    };
    let Some((a, b)) = span(z) else {
        return Ok(Frame::Integer(0));
    };
    let deleted = z.remove_range(a, b);
    let empty = z.is_empty();
    if deleted > 0 {
        ks.notify(ev::ZSET, event, key);
    }
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    }
    ctx.dirty += deleted as u64;
    Ok(Frame::Integer(deleted as i64))
}

// ---------------------------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the STORE forms
// ---------------------------------------------------------------------------------------------------------------

/// Which set operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How scores of a member found in several inputs combine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis' `zunionInterAggregate`: a NaN sum (inf + -inf) is 0; MIN and MAX keep the current value against NaN.
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// An input of the set operations: a sorted set, or a plain set whose members all score 1 (Redis' `zsetopsrc`).
#[derive(Clone, Copy)]
enum Source<'a> {
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl<'a> Source<'a> {
    /// The view of an input value, or WRONGTYPE for anything but a sorted set or a set.
    fn of(v: &'a Value) -> Result<Source<'a>, Frame> {
        match v {
            Value::ZSet(z) => Ok(Source::Sorted(z)),
            Value::Set(s) => Ok(Source::Plain(s)),
            _ => Err(errors::WRONGTYPE),
        }
    }

    fn len(self) -> usize {
        match self {
            Source::Sorted(z) => z.len(),
            Source::Plain(s) => s.len(),
        }
    }

    /// Calls `f` on every (score, member); intset members stay integers so lookups in other intsets need no
    /// formatting.
    fn for_each(self, mut f: impl FnMut(f64, Member<'a>)) {
        match self {
            Source::Sorted(z) => z.for_range(0, z.len(), false, |s, m| f(s, Member::Bytes(m))),
            Source::Plain(s) => s.iter().for_each(|m| f(1.0, m)),
        }
    }

    /// The score of `m` in this input (1 for a set member), if it is a member.
    fn score(self, m: Member) -> Option<f64> {
        match self {
            Source::Sorted(z) => z.score(&m.to_bytes()),
            Source::Plain(s) => s.contains_member(m).then_some(1.0),
        }
    }
}

/// A member as bytes borrowed from its input, or formatted from an intset's integer.
fn member_bytes(m: Member<'_>) -> Cow<'_, [u8]> {
    match m {
        Member::Int(i) => Cow::Owned(crate::num::format_i64(i)),
        Member::Bytes(b) => Cow::Borrowed(b),
    }
}

fn zunion(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, None, SetOp::Union, false))
}

fn zinter(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, None, SetOp::Inter, false))
}

fn zdiff(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, None, SetOp::Diff, false))
}

fn zintercard(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, None, SetOp::Inter, true))
}

fn zunionstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, Some(&args[1]), SetOp::Union, false))
}

fn zinterstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, Some(&args[1]), SetOp::Inter, false))
}

fn zdiffstore(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(setop(ks, ctx, args, Some(&args[1]), SetOp::Diff, false))
}

/// Redis' `zunionInterDiffGenericCommand`.
fn setop(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    dst: Option<&Bytes>,
    op: SetOp,
    card_only: bool,
) -> Result<Frame, Frame> {
    let numkeys_idx = if dst.is_some() { 2 } else { 1 };
    let setnum = arg_i64(&args[numkeys_idx])?;
    if setnum < 1 {
        return Err(Frame::error_owned(format!(
            "ERR at least 1 input key is needed for '{}' command",
            args[0].to_ascii_lowercase().escape_ascii()
        )));
    }
    let first = numkeys_idx + 1;
    if setnum > (args.len() - first) as i64 {
        return Err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[first..first + setnum];
    // Inputs are looked up (and type-checked) before the options are parsed, as Redis does.
    let mut present = Vec::with_capacity(setnum);
    for k in keys {
        match ks.read(ctx, k) {
            None => present.push(false),
            Some(o) => {
                Source::of(&o.value)?;
                present.push(true);
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = first + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_score(&args[j + 1 + i]).ok_or(WEIGHT_NOT_FLOAT)?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            let v = &args[j + 1];
            how = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            let l = arg_i64(&args[j + 1]).map_err(|_| LIMIT_NEGATIVE)?;
            limit = usize::try_from(l).map_err(|_| LIMIT_NEGATIVE)?;
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }

    let ks_ro: &Keyspace = ks;
    let mut srcs: Vec<(Option<Source>, f64)> = Vec::with_capacity(setnum);
    for (i, k) in keys.iter().enumerate() {
        let z = match (present[i], ks_ro.peek(ctx.now_ms, k)) {
            (true, Some(o)) => Some(Source::of(&o.value)?),
            _ => None,
        };
        srcs.push((z, weights[i]));
    }
    let size = |s: &(Option<Source>, f64)| s.0.map_or(0, Source::len);
    if op != SetOp::Diff {
        // Smallest first (a stable sort, as glibc's qsort is for arrays this small): an intersection walks the
        // smallest input, and sums add up in this order.
        srcs.sort_by_key(size);
    }

    let mut result: Vec<(f64, Cow<[u8]>)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Inter => {
            if let Some(first_set) = srcs[0].0.filter(|z| z.len() > 0) {
                let w0 = srcs[0].1;
                let mut done = false;
                first_set.for_each(|s, m| {
                    if done {
                        return;
                    }
                    let mut score = w0 * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for (other, w) in &srcs[1..] {
                        match other.and_then(|o| o.score(m)) {
                            Some(v) => aggregate(&mut score, v * w, how),
                            None => return,
                        }
                    }
                    if card_only {
                        cardinality += 1;
                        done = limit != 0 && cardinality >= limit;
                    } else {
                        result.push((score, member_bytes(m)));
                    }
                });
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<Cow<[u8]>, f64, foldhash::fast::FixedState> =
                HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0));
            for (z, w) in &srcs {
                let Some(z) = z else { continue };
                z.for_each(|s, m| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    acc.entry(member_bytes(m))
                        .and_modify(|t| aggregate(t, score, how))
                        .or_insert(score);
                });
            }
            result = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        SetOp::Diff => {
            if let Some(first_set) = srcs[0].0 {
                first_set.for_each(|s, m| {
                    if srcs[1..]
                        .iter()
                        .all(|(o, _)| o.is_none_or(|o| o.score(m).is_none()))
                    {
                        result.push((s, member_bytes(m)));
                    }
                });
            }
        }
    }
    if card_only {
        return Ok(Frame::Integer(cardinality as i64));
    }
    result.sort_by(|a, b| crate::zset::cmp_entry(a.0, &a.1, b.0, &b.1));
    let result: Vec<(f64, &[u8])> = result.iter().map(|(s, m)| (*s, &m[..])).collect();
    match dst {
        None => Ok(entries_reply(result, withscores)),
        Some(dst) => {
            let z =
                (!result.is_empty()).then(|| ZSet::from_sorted(&result, ks_ro.config.zset_limits));
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            Ok(store_result(ks, ctx, dst, z, event))
        }
    }
}

/// Key positions of commands with `numkeys` at index 1 and the keys after it (ZUNION, ZINTER, ZDIFF,
/// ZINTERCARD, ZMPOP).
fn keys_numkeys_first(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    numkeys_positions(args, 1)
}

/// Key positions of the STORE forms: the destination, then `numkeys` keys after the count at index 2.
fn keys_store(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    let mut keys = numkeys_positions(args, 2)?;
    keys.insert(0, 1);
    Ok(keys)
}

/// Positions of the `numkeys` keys following the count at `idx`; an invalid count is an error (Redis'
/// `genericGetKeys` finds no keys then).
fn numkeys_positions(args: &[Bytes], idx: usize) -> Result<Vec<usize>, Frame> {
    let n = args
        .get(idx)
        .and_then(|a| crate::num::parse_i64(a))
        .ok_or(errors::SYNTAX)?;
    let available = args.len().saturating_sub(idx + 1);
    if n < 1 || n as u64 > available as u64 {
        return Err(errors::SYNTAX);
    }
    Ok((idx + 1..idx + 1 + n as usize).collect())
}

// ---------------------------------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------------------------------

fn zrandmember(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zrandmember_inner(ks, ctx, args))
}

fn zrandmember_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    if args.len() < 3 {
        let Some(z) = read_zset(ks, ctx, &args[1])? else {
            return Ok(Frame::Null);
        };
        return Ok(z.random(&mut ctx.rng).map_or(Frame::Null, |(_, m)| bulk(m)));
    }
    let l = arg_i64(&args[2])?;
    if l == i64::MIN {
        return Err(Frame::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(errors::SYNTAX),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(OUT_OF_RANGE);
    }
    let max_reply = ks.config.proto_max_bulk_len / RANDOM_REPLY_BYTES_PER_MEMBER;
    let Some(z) = read_zset(ks, ctx, &args[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let count = l.unsigned_abs();
    let size = z.len();
    if count == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let rng = &mut ctx.rng;
    if l < 0 || count == 1 {
        // Picks with repetition: the reply's size is the client's number, so it is bounded.
        if count > max_reply {
            return Err(OUT_OF_RANGE);
        }
        let mut picks = Vec::with_capacity(count as usize);
        match z {
            ZSet::Listpack(_) => {
                let mut all = Vec::with_capacity(size);
                z.for_range(0, size, false, |s, m| all.push((s, m)));
                for _ in 0..count {
                    picks.push(all[rng.below(size as u64) as usize]);
                }
            }
            ZSet::Tree(_) => {
                for _ in 0..count {
                    if let Some(e) = z.random(rng) {
                        picks.push(e);
                    }
                }
            }
        }
        return Ok(entries_reply(picks, withscores));
    }
    let mut all = Vec::with_capacity(size);
    if count as usize >= size || count.saturating_mul(3) > size as u64 {
        z.for_range(0, size, false, |s, m| all.push((s, m)));
    }
    if count as usize >= size {
        // The whole set, in order.
        return Ok(entries_reply(all, withscores));
    }
    let count = count as usize;
    if count * 3 > size {
        // Close to the whole set: drop random members until `count` remain.
        while all.len() > count {
            let i = rng.below(all.len() as u64) as usize;
            all.swap_remove(i);
        }
        return Ok(entries_reply(all, withscores));
    }
    // Far fewer than the set holds: draw distinct ranks.
    let mut seen: HashSet<usize, foldhash::fast::FixedState> =
        HashSet::with_capacity_and_hasher(count, foldhash::fast::FixedState::with_seed(0));
    let mut picks = Vec::with_capacity(count);
    while picks.len() < count {
        let i = rng.below(size as u64) as usize;
        if seen.insert(i) {
            if let Some(e) = z.get(i) {
                picks.push(e);
            }
        }
    }
    Ok(entries_reply(picks, withscores))
}

// ---------------------------------------------------------------------------------------------------------------
// ZPOPMIN, ZPOPMAX, ZMPOP
// ---------------------------------------------------------------------------------------------------------------

/// Reply shapes of the pop family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopShape {
    /// ZPOPMIN/ZPOPMAX without a count: `[member, score]`.
    Flat,
    /// ZPOPMIN/ZPOPMAX with a count: member/score pairs (nested in RESP3, flat in RESP2).
    Pairs,
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    KeyFlat,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]`.
    KeyNested,
}

/// Pops up to `count` members from the low end (or, with `max`, the high end) of the sorted set under `key`,
/// deleting the key once empty, and builds the reply in `shape`. `Ok(None)` when the key is absent: the caller
/// tries its next key (or, for BZPOPMIN/BZPOPMAX/BZMPOP, blocks until a write makes one ready); WRONGTYPE for
/// another type. A `count` of 0 on a present key pops nothing and gives an empty array, as ZPOPMIN does.
pub fn pop(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    key: &[u8],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Result<Option<Frame>, Frame> {
    let Some(z) = write_zset(ks, ctx, key)? else {
        return Ok(None);
    };
    if count == 0 {
        return Ok(Some(Frame::Array(Vec::new())));
    }
    let n = count.min(z.len());
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        match z.pop(max) {
            Some((s, m)) => popped.push((Frame::Bulk(Bytes::from(m)), Frame::Double(s))),
            None => break,
        }
    }
    let empty = z.is_empty();
    if !popped.is_empty() {
        ks.notify(ev::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    if empty {
        ks.remove(key);
        ks.notify(ev::GENERIC, "del", key);
    }
    ctx.dirty += popped.len() as u64;
    let key = Frame::Bulk(Bytes::copy_from_slice(key));
    Ok(Some(match shape {
        PopShape::Flat => Frame::Array(popped.into_iter().flat_map(|(m, s)| [m, s]).collect()),
        PopShape::Pairs => Frame::Pairs(popped),
        PopShape::KeyFlat => Frame::Array(
            std::iter::once(key)
                .chain(popped.into_iter().flat_map(|(m, s)| [m, s]))
                .collect(),
        ),
        PopShape::KeyNested => Frame::Array(vec![
            key,
            Frame::Array(
                popped
                    .into_iter()
                    .map(|(m, s)| Frame::Array(vec![m, s]))
                    .collect(),
            ),
        ]),
    }))
}

fn zpopmin(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zpop_generic(ks, ctx, args, false))
}

fn zpopmax(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zpop_generic(ks, ctx, args, true))
}

fn zpop_generic(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    args: &[Bytes],
    max: bool,
) -> Result<Frame, Frame> {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let (count, shape) = match args.get(2) {
        None => (1, PopShape::Flat),
        Some(a) => {
            let c = arg_i64(a).map_err(|_| errors::OUT_OF_RANGE)?;
            let c = usize::try_from(c).map_err(|_| errors::OUT_OF_RANGE)?;
            (c, PopShape::Pairs)
        }
    };
    Ok(pop(ks, ctx, &args[1], max, count, shape)?.unwrap_or_else(|| Frame::Array(Vec::new())))
}

fn zmpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply((|| {
        let (keys, max, count) = parse_mpop(args, 1)?;
        for k in keys {
            if let Some(f) = pop(ks, ctx, k, max, count, PopShape::KeyNested)? {
                return Ok(f);
            }
        }
        Ok(Frame::NullArray)
    })())
}

/// Key positions of BZMPOP (`timeout numkeys` then the keys).
fn keys_bzmpop(args: &[Bytes]) -> Result<Vec<usize>, Frame> {
    numkeys_positions(args, 2)
}

// Blocking forms (Redis' blockingGenericZpopCommand): served now when a key holds members, else
// `WOULD_BLOCK` for a client that may wait, or the null array Redis replies when blocking is not allowed.

fn bzpopmin(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    bzpop(ks, ctx, args, false)
}

fn bzpopmax(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    bzpop(ks, ctx, args, true)
}

/// `BZPOP(MIN|MAX) key [key ...] timeout`: the timeout is checked first, then the keys in order (the first of
/// another type is WRONGTYPE even if a later key holds members).
fn bzpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes], max: bool) -> Frame {
    let last = args.len() - 1;
    if let Err(e) = parse_timeout(&args[last], ctx.now_ms) {
        return e;
    }
    bpop_keys(ks, ctx, &args[1..last], max, 1, PopShape::KeyFlat)
}

fn bzpop_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let last = args.len().checked_sub(1).filter(|&l| l >= 2)?;
    let timeout = parse_timeout(&args[last], now_ms).ok()?;
    Some(Block::new(&args[1..last], timeout))
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`: the other arguments are checked before the
/// timeout.
fn bzmpop(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    let (keys, max, count) = match parse_mpop(args, 2) {
        Ok(m) => m,
        Err(e) => return e,
    };
    if let Err(e) = parse_timeout(&args[1], ctx.now_ms) {
        return e;
    }
    bpop_keys(ks, ctx, keys, max, count, PopShape::KeyNested)
}

fn bzmpop_block(args: &[Bytes], now_ms: i64) -> Option<Block> {
    let (keys, _, _) = parse_mpop(args, 2).ok()?;
    let timeout = parse_timeout(&args[1], now_ms).ok()?;
    Some(Block::new(keys, timeout))
}

/// Pops from the first of `keys` holding a sorted set; none does: [`unserved`].
fn bpop_keys(
    ks: &mut Keyspace,
    ctx: &mut ExecCtx,
    keys: &[Bytes],
    max: bool,
    count: usize,
    shape: PopShape,
) -> Frame {
    for k in keys {
        match pop(ks, ctx, k, max, count, shape) {
            Err(e) => return e,
            Ok(Some(f)) => return f,
            Ok(None) => {}
        }
    }
    unserved(ctx, Frame::NullArray)
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` starting at `numkeys_idx` (ZMPOP, and BZMPOP after its
/// timeout): the keys, whether to pop the highest scores, and the count.
pub fn parse_mpop(args: &[Bytes], numkeys_idx: usize) -> Result<(&[Bytes], bool, usize), Frame> {
    let numkeys = arg_i64(&args[numkeys_idx]).map_err(|_| NUMKEYS)?;
    if numkeys < 1 {
        return Err(NUMKEYS);
    }
    let where_idx = numkeys_idx as u64 + numkeys as u64 + 1;
    if where_idx >= args.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let where_idx = where_idx as usize;
    let max = if is(&args[where_idx], "min") {
        false
    } else if is(&args[where_idx], "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            let c = arg_i64(&args[j + 1]).map_err(|_| COUNT_POSITIVE)?;
            if c < 1 {
                return Err(COUNT_POSITIVE);
            }
            count = Some(usize::try_from(c).unwrap_or(usize::MAX));
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok((&args[numkeys_idx + 1..where_idx], max, count.unwrap_or(1)))
}

// ---------------------------------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------------------------------

/// A score as ZSCAN spells it: `%.17g`, except that a listpack holds integral scores within +-2^62 as
/// integers (Redis' `double2ll`) and ZSCAN returns those digits (1e18 is `1000000000000000000` there).
fn scan_score_text(s: f64, listpack: bool) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if listpack && s.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&s) {
        (s as i64).to_string()
    } else {
        resp::format_double(s)
    }
}

fn zscan(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Frame {
    reply(zscan_inner(ks, ctx, args))
}

fn zscan_inner(ks: &mut Keyspace, ctx: &mut ExecCtx, args: &[Bytes]) -> Result<Frame, Frame> {
    let cursor = super::keys::parse_cursor(&args[2]).ok_or(super::keys::INVALID_CURSOR)?;
    let Some(z) = read_zset(ks, ctx, &args[1])? else {
        return Ok(Frame::Array(vec![
            Frame::bulk_static("0"),
            Frame::Array(Vec::new()),
        ]));
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            let c = arg_i64(&args[i + 1])?;
            if c < 1 {
                return Err(errors::SYNTAX);
            }
            count = usize::try_from(c).unwrap_or(usize::MAX);
        } else if is(&args[i], "match") && has_value {
            let p = &args[i + 1];
            pattern = (p.as_ref() != b"*").then_some(p.as_ref());
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let listpack = matches!(z, ZSet::Listpack(_));
    let mut out = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| crate::glob::matches(p, m, false)) {
            out.push(bulk(m));
            out.push(Frame::Bulk(Bytes::from(scan_score_text(s, listpack))));
        }
    });
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(out),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{arr, b, err};
    use crate::cmd::testing::{run, run_dirty};

    const T: i64 = 1_700_000_000_000;

    fn pairs(items: &[(&str, f64)]) -> Frame {
        Frame::Pairs(
            items
                .iter()
                .map(|(m, s)| (b(m), Frame::Double(*s)))
                .collect(),
        )
    }

    /// Cases checked against glibc's `strtod` (value bits, and ERANGE where the value is 0 or infinite).
    #[test]
    fn strtod_matches_glibc() {
        let cases: &[(&str, bool, u64, bool)] = &[
            ("0x1p3", true, 0x4020000000000000, false),
            ("0x1.8p1", true, 0x4008000000000000, false),
            ("0X.8", true, 0x3fe0000000000000, false),
            ("0x1p-1074", true, 0x1, false),
            ("0x1p-1075", true, 0x0, true),
            ("0x1.0000000000001p-1075", true, 0x1, true),
            ("0x1p1024", true, 0x7ff0000000000000, true),
            ("0x1.fffffffffffffp1023", true, 0x7fefffffffffffff, false),
            ("0x1.fffffffffffff8p1023", true, 0x7ff0000000000000, true),
            ("0x123456789abcdef123p0", true, 0x44323456789abcdf, false),
            ("0x1.00000000000008p0", true, 0x3ff0000000000000, false),
            ("0x1.00000000000018p0", true, 0x3ff0000000000002, false),
            ("0x1.000000000000081p0", true, 0x3ff0000000000001, false),
            ("0xp1", false, 0, false),
            ("0x", false, 0, false),
            ("0x1p", false, 0, false),
            ("0x1.p+2", true, 0x4010000000000000, false),
            ("-0x10", true, 0xc030000000000000, false),
            ("1e400", true, 0x7ff0000000000000, true),
            ("1e-400", true, 0x0, true),
            ("4.9e-324", true, 0x1, true),
            ("2.4e-324", true, 0x0, true),
            ("2.5e-324", true, 0x1, true),
            ("1e308", true, 0x7fe1ccf385ebc8a0, false),
            (".5", true, 0x3fe0000000000000, false),
            ("5.", true, 0x4014000000000000, false),
            (".", false, 0, false),
            (" 1", true, 0x3ff0000000000000, false),
            ("1 ", false, 0, false),
            ("+inf", true, 0x7ff0000000000000, false),
            ("-Infinity", true, 0xfff0000000000000, false),
            ("1e", false, 0, false),
            ("1e+", false, 0, false),
            ("1e-5", true, 0x3ee4f8b588e368f1, false),
            ("0", true, 0x0, false),
            ("-0", true, 0x8000000000000000, false),
            ("00012", true, 0x4028000000000000, false),
            ("1.7976931348623157e308", true, 0x7fefffffffffffff, false),
            ("1.7976931348623159e308", true, 0x7ff0000000000000, true),
            ("0x.000001p0", true, 0x3e70000000000000, false),
            ("0x0.0000000000001p-1022", true, 0x1, false),
        ];
        for &(text, ok, bits, erange) in cases {
            let got = strtod(text.as_bytes());
            assert_eq!(got.is_some(), ok, "{text}");
            if let Some((v, e)) = got {
                assert_eq!(v.to_bits(), bits, "{text}");
                if v == 0.0 || v.is_infinite() {
                    assert_eq!(e, erange, "{text}");
                }
            }
        }
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"4.9e-324"), Some(f64::from_bits(1)));
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"1\0"), None);
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score_bound(b""), Some((0.0, false)));
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"(1e400"), Some((f64::INFINITY, true)));
        assert_eq!(parse_score_bound(b"2\0junk"), Some((2.0, false)));
        assert_eq!(parse_score_bound(b"   "), None);
        assert_eq!(parse_score_bound(b"nan"), None);
        assert_eq!(parse_score_bound(b"(nan"), None);
    }

    fn setup(ks: &mut Keyspace) {
        run(
            ks,
            T,
            &["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        );
        run(ks, T, &["set", "s", "x"]);
    }

    #[test]
    fn zadd_options_replies_and_dirty() {
        let mut ks = Keyspace::new();
        assert_eq!(
            run_dirty(&mut ks, T, &["zadd", "z", "1", "a", "2", "b"]),
            (Frame::Integer(2), 2)
        );
        assert_eq!(
            run_dirty(
                &mut ks,
                T,
                &["zadd", "z", "ch", "1", "a", "5", "b", "0", "c"]
            ),
            (Frame::Integer(2), 2)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "xx", "9", "new"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "nx", "9", "a"]),
            Frame::Integer(0)
        );
        assert_eq!(run(&mut ks, T, &["zscore", "z", "a"]), Frame::Double(1.0));
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "gt", "ch", "0", "a", "7", "b"]),
            Frame::Integer(1)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "lt", "ch", "3", "a", "8", "b"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "incr", "2", "a"]),
            Frame::Double(3.0)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "incr", "nx", "2", "a"]),
            Frame::Null
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "incr", "gt", "-2", "a"]),
            Frame::Null
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "nokey", "xx", "incr", "1", "a"]),
            Frame::Null
        );
        assert_eq!(run(&mut ks, T, &["exists", "nokey"]), Frame::Integer(0));
        assert_eq!(
            run(&mut ks, T, &["zincrby", "z", "-inf", "a"]),
            Frame::Double(f64::NEG_INFINITY)
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zincrby", "z", "+inf", "a"]),
            (err("ERR resulting score is not a number (NaN)"), 0)
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "nan", "a"]),
            errors::NOT_FLOAT
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "1", "a", "x", "b"]),
            errors::NOT_FLOAT
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "1"]),
            errors::wrong_arity("zadd")
        );
        assert_eq!(run(&mut ks, T, &["zadd", "z", "nx", "1"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "nx", "xx", "1", "a"]),
            err("ERR XX and NX options at the same time are not compatible")
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "gt", "lt", "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            run(&mut ks, T, &["zadd", "z", "incr", "1", "a", "2", "b"]),
            err("ERR INCR option supports a single increment-element pair")
        );
        assert_eq!(
            run(&mut ks, T, &["zincrby", "z", "nx", "1"]),
            errors::SYNTAX
        );
        run(&mut ks, T, &["set", "s", "x"]);
        assert_eq!(run(&mut ks, T, &["zadd", "s", "1", "a"]), errors::WRONGTYPE);
        // Syntax is checked before the type.
        assert_eq!(run(&mut ks, T, &["zadd", "s", "x", "a"]), errors::NOT_FLOAT);
    }

    #[test]
    fn encodings_follow_the_limits() {
        let mut ks = Keyspace::new();
        ks.config.zset_limits = Limits {
            max_entries: 3,
            max_value: 4,
        };
        run(&mut ks, T, &["zadd", "z", "1", "a", "2", "b", "3", "c"]);
        assert_eq!(run(&mut ks, T, &["object", "encoding", "z"]), b("listpack"));
        run(&mut ks, T, &["zadd", "z", "4", "d"]);
        assert_eq!(run(&mut ks, T, &["object", "encoding", "z"]), b("skiplist"));
        // Shrinking does not convert back.
        run(&mut ks, T, &["zrem", "z", "a", "b", "c"]);
        assert_eq!(run(&mut ks, T, &["object", "encoding", "z"]), b("skiplist"));
        run(&mut ks, T, &["zadd", "long", "1", "abcde"]);
        assert_eq!(
            run(&mut ks, T, &["object", "encoding", "long"]),
            b("skiplist")
        );
        run(&mut ks, T, &["zadd", "short", "1", "abcd"]);
        run(&mut ks, T, &["zadd", "short", "1", "abcde"]);
        assert_eq!(
            run(&mut ks, T, &["object", "encoding", "short"]),
            b("skiplist")
        );
        // A stored result that fits becomes a listpack again.
        run(&mut ks, T, &["zunionstore", "u", "1", "z"]);
        assert_eq!(run(&mut ks, T, &["object", "encoding", "u"]), b("listpack"));
        assert_eq!(run(&mut ks, T, &["type", "u"]), Frame::simple("zset"));
        // -0 survives in a skiplist, becomes 0 in a listpack.
        run(&mut ks, T, &["zadd", "z", "-0", "neg"]);
        assert_eq!(
            run(&mut ks, T, &["zscore", "z", "neg"]),
            Frame::Double(-0.0)
        );
        run(&mut ks, T, &["zadd", "small", "-0", "neg"]);
        assert!(
            matches!(run(&mut ks, T, &["zscore", "small", "neg"]), Frame::Double(v) if v.to_bits() == 0)
        );
    }

    #[test]
    fn ranges_by_rank_score_and_lex() {
        let mut ks = Keyspace::new();
        setup(&mut ks);
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "0", "-1"]),
            arr(&["a", "b", "c", "d"])
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "-2", "100", "rev"]),
            arr(&["b", "a"])
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "1", "2", "withscores"]),
            pairs(&[("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(run(&mut ks, T, &["zrevrange", "z", "0", "0"]), arr(&["d"]));
        assert_eq!(run(&mut ks, T, &["zrange", "z", "3", "1"]), arr(&[]));
        assert_eq!(run(&mut ks, T, &["zrange", "nokey", "0", "-1"]), arr(&[]));
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "(1", "3", "byscore"]),
            arr(&["b", "c"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrange", "z", "+inf", "-inf", "byscore", "rev", "limit", "1", "2"]
            ),
            arr(&["c", "b"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrangebyscore", "z", "-inf", "+inf", "limit", "-1", "2"]
            ),
            arr(&[])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrangebyscore", "z", "-inf", "+inf", "limit", "2", "-5"]
            ),
            arr(&["c", "d"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrevrangebyscore", "z", "3", "(1", "withscores"]
            ),
            pairs(&[("c", 3.0), ("b", 2.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zrangebylex", "z", "[b", "(d"]),
            arr(&["b", "c"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrevrangebylex", "z", "+", "-", "limit", "0", "1"]
            ),
            arr(&["d"])
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "+", "-", "bylex", "rev"]),
            arr(&["d", "c", "b", "a"])
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "0", "-1", "limit", "0", "1"]),
            err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        );
        // LIMIT x -1 is no limit at all, so it passes with a rank range, as in Redis.
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "0", "0", "limit", "0", "-1"]),
            arr(&["a"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrange", "z", "-", "+", "bylex", "withscores"]
            ),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "a", "b", "byscore"]),
            NOT_FLOAT_RANGE
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "a", "b", "bylex"]),
            NOT_LEX_RANGE
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "z", "a", "b"]),
            errors::NOT_INTEGER
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrange", "z", "0", "1", "rev", "byscore", "bylex"]
            ),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zrevrange", "z", "0", "1", "rev"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "s", "0", "1"]),
            errors::WRONGTYPE
        );
        assert_eq!(
            run(&mut ks, T, &["zcount", "z", "(1", "+inf"]),
            Frame::Integer(3)
        );
        assert_eq!(
            run(&mut ks, T, &["zcount", "z", "3", "1"]),
            Frame::Integer(0)
        );
        assert_eq!(run(&mut ks, T, &["zcount", "z", "x", "1"]), NOT_FLOAT_RANGE);
        assert_eq!(
            run(&mut ks, T, &["zlexcount", "z", "(a", "[c"]),
            Frame::Integer(2)
        );
        assert_eq!(
            run(&mut ks, T, &["zlexcount", "z", "a", "[c"]),
            NOT_LEX_RANGE
        );
        assert_eq!(
            run(&mut ks, T, &["zlexcount", "z", "(c", "(c"]),
            Frame::Integer(0)
        );
    }

    #[test]
    fn rank_score_card_and_removal() {
        let mut ks = Keyspace::new();
        setup(&mut ks);
        assert_eq!(run(&mut ks, T, &["zrank", "z", "c"]), Frame::Integer(2));
        assert_eq!(run(&mut ks, T, &["zrevrank", "z", "c"]), Frame::Integer(1));
        assert_eq!(
            run(&mut ks, T, &["zrevrank", "z", "c", "withscore"]),
            Frame::Array(vec![Frame::Integer(1), Frame::Double(3.0)])
        );
        assert_eq!(run(&mut ks, T, &["zrank", "z", "x"]), Frame::Null);
        assert_eq!(
            run(&mut ks, T, &["zrank", "z", "x", "withscore"]),
            Frame::NullArray
        );
        assert_eq!(
            run(&mut ks, T, &["zrank", "nokey", "x", "withscore"]),
            Frame::NullArray
        );
        assert_eq!(run(&mut ks, T, &["zrank", "z", "x", "bad"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["zrank", "z", "x", "withscore", "y"]),
            errors::wrong_arity("zrank")
        );
        assert_eq!(run(&mut ks, T, &["zcard", "z"]), Frame::Integer(4));
        assert_eq!(run(&mut ks, T, &["zcard", "nokey"]), Frame::Integer(0));
        assert_eq!(run(&mut ks, T, &["zcard", "s"]), errors::WRONGTYPE);
        assert_eq!(
            run(&mut ks, T, &["zmscore", "z", "a", "x", "d"]),
            Frame::Array(vec![Frame::Double(1.0), Frame::Null, Frame::Double(4.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zmscore", "nokey", "a"]),
            Frame::Array(vec![Frame::Null])
        );
        assert_eq!(
            run(&mut ks, T, &["zremrangebyscore", "z", "(1", "2"]),
            Frame::Integer(1)
        );
        assert_eq!(
            run(&mut ks, T, &["zremrangebylex", "z", "[d", "+"]),
            Frame::Integer(1)
        );
        assert_eq!(
            run(&mut ks, T, &["zremrangebyrank", "z", "5", "10"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zremrangebyrank", "z", "0", "-1"]),
            (Frame::Integer(2), 2)
        );
        assert_eq!(run(&mut ks, T, &["exists", "z"]), Frame::Integer(0));
        setup(&mut ks);
        assert_eq!(
            run_dirty(&mut ks, T, &["zrem", "z", "a", "x", "b"]),
            (Frame::Integer(2), 2)
        );
        assert_eq!(
            run(&mut ks, T, &["zrem", "z", "c", "d", "e"]),
            Frame::Integer(2)
        );
        assert_eq!(run(&mut ks, T, &["exists", "z"]), Frame::Integer(0));
        assert_eq!(run(&mut ks, T, &["zrem", "s", "a"]), errors::WRONGTYPE);
    }

    #[test]
    fn set_operations() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["zadd", "a", "1", "x", "2", "y", "3", "z"]);
        run(&mut ks, T, &["zadd", "b", "10", "y", "20", "z", "30", "w"]);
        run(&mut ks, T, &["set", "s", "x"]);
        assert_eq!(
            run(&mut ks, T, &["zunion", "2", "a", "b", "withscores"]),
            pairs(&[("x", 1.0), ("y", 12.0), ("z", 23.0), ("w", 30.0)])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &[
                    "zinter",
                    "2",
                    "a",
                    "b",
                    "weights",
                    "2",
                    "1",
                    "aggregate",
                    "max",
                    "withscores"
                ]
            ),
            pairs(&[("y", 10.0), ("z", 20.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zdiff", "2", "a", "b", "withscores"]),
            pairs(&[("x", 1.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zintercard", "2", "a", "b"]),
            Frame::Integer(2)
        );
        assert_eq!(
            run(&mut ks, T, &["zintercard", "2", "a", "b", "limit", "1"]),
            Frame::Integer(1)
        );
        assert_eq!(
            run(&mut ks, T, &["zintercard", "2", "a", "b", "limit", "-1"]),
            LIMIT_NEGATIVE
        );
        assert_eq!(
            run_dirty(
                &mut ks,
                T,
                &["zunionstore", "dst", "2", "a", "b", "aggregate", "min"]
            ),
            (Frame::Integer(4), 1)
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "dst", "0", "-1", "withscores"]),
            pairs(&[("x", 1.0), ("y", 2.0), ("z", 3.0), ("w", 30.0)])
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zinterstore", "dst", "2", "a", "nokey"]),
            (Frame::Integer(0), 1)
        );
        assert_eq!(run(&mut ks, T, &["exists", "dst"]), Frame::Integer(0));
        assert_eq!(
            run_dirty(&mut ks, T, &["zdiffstore", "dst", "1", "nokey"]),
            (Frame::Integer(0), 0)
        );
        assert_eq!(run(&mut ks, T, &["zunion", "1", "s"]), errors::WRONGTYPE);
        assert_eq!(
            run(&mut ks, T, &["zunion", "0", "a"]),
            err("ERR at least 1 input key is needed for 'zunion' command")
        );
        assert_eq!(
            run(&mut ks, T, &["ZINTERSTORE", "d", "0", "a"]),
            err("ERR at least 1 input key is needed for 'zinterstore' command")
        );
        assert_eq!(run(&mut ks, T, &["zunion", "3", "a", "b"]), errors::SYNTAX);
        assert_eq!(run(&mut ks, T, &["zunion", "x", "a"]), errors::NOT_INTEGER);
        assert_eq!(
            run(&mut ks, T, &["zunion", "2", "a", "b", "weights", "1"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zunion", "1", "a", "weights", "x"]),
            WEIGHT_NOT_FLOAT
        );
        assert_eq!(
            run(&mut ks, T, &["zunion", "1", "a", "aggregate", "avg"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zdiff", "1", "a", "weights", "1"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zunionstore", "d", "1", "a", "withscores"]),
            errors::SYNTAX
        );
        // inf + -inf sums to 0; weight 0 times inf is 0.
        run(&mut ks, T, &["zadd", "p", "inf", "m"]);
        run(&mut ks, T, &["zadd", "n", "-inf", "m"]);
        assert_eq!(
            run(&mut ks, T, &["zunion", "2", "p", "n", "withscores"]),
            pairs(&[("m", 0.0)])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zunion", "1", "p", "weights", "0", "withscores"]
            ),
            pairs(&[("m", 0.0)])
        );
    }

    /// Plain sets as inputs: members score 1, intset members are compared as integers, results are ordered and
    /// encoded like any computed sorted set (expected replies from Redis 7.0.15).
    #[test]
    fn set_operations_with_plain_sets() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["sadd", "si", "1", "2", "3", "5"]);
        run(&mut ks, T, &["sadd", "si2", "3", "5", "7", "-1"]);
        run(&mut ks, T, &["sadd", "sh", "a", "b", "c", "3"]);
        run(&mut ks, T, &["sadd", "sh2", "b", "c", "d", "01"]);
        run(
            &mut ks,
            T,
            &["zadd", "z", "1", "a", "2", "b", "3", "3", "4", "x"],
        );
        run(
            &mut ks,
            T,
            &["zadd", "z2", "0.5", "5", "1.5", "c", "2.5", "01"],
        );
        run(&mut ks, T, &["set", "str", "v"]);
        assert_eq!(
            run(&mut ks, T, &["zunion", "2", "si", "si2", "withscores"]),
            pairs(&[
                ("-1", 1.0),
                ("1", 1.0),
                ("2", 1.0),
                ("7", 1.0),
                ("3", 2.0),
                ("5", 2.0)
            ])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &[
                    "zunion",
                    "3",
                    "si",
                    "sh",
                    "z",
                    "weights",
                    "2",
                    "3",
                    "0.5",
                    "withscores"
                ]
            ),
            pairs(&[
                ("1", 2.0),
                ("2", 2.0),
                ("5", 2.0),
                ("x", 2.0),
                ("c", 3.0),
                ("a", 3.5),
                ("b", 4.0),
                ("3", 6.5)
            ])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &[
                    "zunion",
                    "2",
                    "sh",
                    "sh2",
                    "weights",
                    "inf",
                    "-inf",
                    "withscores"
                ]
            ),
            pairs(&[
                ("01", f64::NEG_INFINITY),
                ("d", f64::NEG_INFINITY),
                ("b", 0.0),
                ("c", 0.0),
                ("3", f64::INFINITY),
                ("a", f64::INFINITY)
            ])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &[
                    "zinter",
                    "2",
                    "sh",
                    "sh2",
                    "weights",
                    "2",
                    "5",
                    "aggregate",
                    "max",
                    "withscores"
                ]
            ),
            pairs(&[("b", 5.0), ("c", 5.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zinter", "2", "z2", "si", "withscores"]),
            pairs(&[("5", 1.5)])
        );
        assert_eq!(
            run(&mut ks, T, &["zinter", "2", "z2", "sh2", "withscores"]),
            pairs(&[("c", 2.5), ("01", 3.5)])
        );
        assert_eq!(
            run(&mut ks, T, &["zinter", "3", "sh", "sh2", "z"]),
            arr(&["b"])
        );
        assert_eq!(
            run(&mut ks, T, &["zintercard", "2", "si", "si2"]),
            Frame::Integer(2)
        );
        assert_eq!(
            run(&mut ks, T, &["zintercard", "2", "sh", "z", "limit", "1"]),
            Frame::Integer(1)
        );
        assert_eq!(
            run(&mut ks, T, &["zdiff", "2", "si", "si2", "withscores"]),
            pairs(&[("1", 1.0), ("2", 1.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zdiff", "2", "z", "sh", "withscores"]),
            pairs(&[("x", 4.0)])
        );
        assert_eq!(
            run(&mut ks, T, &["zdiff", "2", "sh2", "z2"]),
            arr(&["b", "d"])
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zunionstore", "d", "2", "si", "sh"]),
            (Frame::Integer(7), 1)
        );
        assert_eq!(run(&mut ks, T, &["object", "encoding", "d"]), b("listpack"));
        assert_eq!(
            run(&mut ks, T, &["zrange", "d", "0", "-1"]),
            arr(&["1", "2", "5", "a", "b", "c", "3"])
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zinterstore", "d", "2", "si", "nokey"]),
            (Frame::Integer(0), 1)
        );
        let mut sadd = vec!["sadd".to_string(), "big".to_string()];
        sadd.extend((0..200).map(|i| i.to_string()));
        let sadd: Vec<&str> = sadd.iter().map(String::as_str).collect();
        run(&mut ks, T, &sadd);
        assert_eq!(run(&mut ks, T, &["object", "encoding", "big"]), b("intset"));
        assert_eq!(
            run(&mut ks, T, &["zdiffstore", "d", "2", "big", "si"]),
            Frame::Integer(196)
        );
        assert_eq!(run(&mut ks, T, &["object", "encoding", "d"]), b("skiplist"));
        assert_eq!(
            run(&mut ks, T, &["zrange", "d", "0", "2"]),
            arr(&["0", "10", "100"])
        );
        run(&mut ks, T, &["rpush", "lst", "a"]);
        for k in ["str", "lst"] {
            assert_eq!(
                run(&mut ks, T, &["zinter", "2", "si", k]),
                errors::WRONGTYPE
            );
            assert_eq!(
                run(&mut ks, T, &["zdiffstore", "d", "2", k, "si"]),
                errors::WRONGTYPE
            );
        }
    }

    #[test]
    fn pops_and_random_members() {
        let mut ks = Keyspace::new();
        setup(&mut ks);
        assert_eq!(
            run(&mut ks, T, &["zpopmin", "z"]),
            Frame::Array(vec![b("a"), Frame::Double(1.0)])
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zpopmax", "z", "2"]),
            (pairs(&[("d", 4.0), ("c", 3.0)]), 2)
        );
        assert_eq!(run(&mut ks, T, &["zpopmin", "z", "0"]), arr(&[]));
        assert_eq!(
            run(&mut ks, T, &["zpopmin", "z", "-1"]),
            errors::OUT_OF_RANGE
        );
        assert_eq!(run(&mut ks, T, &["zpopmin", "z", "1", "2"]), errors::SYNTAX);
        assert_eq!(run(&mut ks, T, &["zpopmin", "s"]), errors::WRONGTYPE);
        assert_eq!(
            run(&mut ks, T, &["zpopmin", "z", "5"]),
            pairs(&[("b", 2.0)])
        );
        assert_eq!(run(&mut ks, T, &["exists", "z"]), Frame::Integer(0));
        assert_eq!(run(&mut ks, T, &["zpopmin", "z"]), arr(&[]));
        setup(&mut ks);
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zmpop", "2", "nokey", "z", "max", "count", "2"]
            ),
            Frame::Array(vec![
                b("z"),
                Frame::Array(vec![
                    Frame::Array(vec![b("d"), Frame::Double(4.0)]),
                    Frame::Array(vec![b("c"), Frame::Double(3.0)]),
                ])
            ])
        );
        assert_eq!(
            run(&mut ks, T, &["zmpop", "1", "nokey", "min"]),
            Frame::NullArray
        );
        assert_eq!(
            run(&mut ks, T, &["zmpop", "1", "s", "min"]),
            errors::WRONGTYPE
        );
        assert_eq!(run(&mut ks, T, &["zmpop", "0", "z", "min"]), NUMKEYS);
        assert_eq!(run(&mut ks, T, &["zmpop", "x", "z", "min"]), NUMKEYS);
        assert_eq!(run(&mut ks, T, &["zmpop", "2", "z", "min"]), errors::SYNTAX);
        assert_eq!(
            run(&mut ks, T, &["zmpop", "1", "z", "left"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zmpop", "1", "z", "min", "count", "0"]),
            COUNT_POSITIVE
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zmpop", "1", "z", "min", "count", "1", "count", "1"]
            ),
            errors::SYNTAX
        );

        setup(&mut ks);
        assert!(matches!(
            run(&mut ks, T, &["zrandmember", "z"]),
            Frame::Bulk(_)
        ));
        assert_eq!(run(&mut ks, T, &["zrandmember", "nokey"]), Frame::Null);
        assert_eq!(run(&mut ks, T, &["zrandmember", "nokey", "3"]), arr(&[]));
        assert_eq!(run(&mut ks, T, &["zrandmember", "z", "0"]), arr(&[]));
        assert_eq!(
            run(&mut ks, T, &["zrandmember", "z", "10"]),
            arr(&["a", "b", "c", "d"])
        );
        match run(&mut ks, T, &["zrandmember", "z", "-10", "withscores"]) {
            Frame::Pairs(p) => assert_eq!(p.len(), 10),
            other => panic!("{other:?}"),
        }
        for n in ["2", "3"] {
            match run(&mut ks, T, &["zrandmember", "z", n]) {
                Frame::Array(v) => {
                    let set: HashSet<_> = v.iter().map(|f| format!("{f:?}")).collect();
                    assert_eq!(set.len(), n.parse::<usize>().unwrap());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            run(&mut ks, T, &["zrandmember", "z", "1", "withscores", "x"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrandmember", "z", "-4611686018427387904", "withscores"]
            ),
            OUT_OF_RANGE
        );
        assert_eq!(
            run(&mut ks, T, &["zrandmember", "z", "-9223372036854775808"]),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        // A count with repetitions is bounded by proto-max-bulk-len instead of exhausting memory.
        assert_eq!(
            run(&mut ks, T, &["zrandmember", "z", "-4611686018427387903"]),
            OUT_OF_RANGE
        );
        assert_eq!(
            run(&mut ks, T, &["zrandmember", "s", "1"]),
            errors::WRONGTYPE
        );
        // The same seed gives the same picks.
        let a = run(&mut ks, T, &["zrandmember", "z", "-20"]);
        assert_eq!(run(&mut ks, T, &["zrandmember", "z", "-20"]), a);
    }

    #[test]
    fn zscan_walks_both_encodings() {
        let mut ks = Keyspace::new();
        setup(&mut ks);
        assert_eq!(
            run(&mut ks, T, &["zscan", "z", "0", "match", "[ab]"]),
            Frame::Array(vec![b("0"), arr(&["a", "1", "b", "2"])])
        );
        assert_eq!(
            run(&mut ks, T, &["zscan", "z", "x"]),
            err("ERR invalid cursor")
        );
        run(
            &mut ks,
            T,
            &[
                "zadd",
                "ints",
                "1e18",
                "m",
                "-4611686018427387904",
                "n",
                "1e19",
                "o",
                "0.5",
                "p",
            ],
        );
        assert_eq!(
            run(&mut ks, T, &["zscan", "ints", "0"]),
            Frame::Array(vec![
                b("0"),
                arr(&[
                    "n",
                    "-4611686018427387904",
                    "p",
                    "0.5",
                    "m",
                    "1000000000000000000",
                    "o",
                    "1e+19"
                ])
            ])
        );
        assert_eq!(
            run(&mut ks, T, &["zscan", "z", "0", "count", "0"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zscan", "z", "0", "type", "zset"]),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zscan", "nokey", "0", "count", "0"]),
            Frame::Array(vec![b("0"), arr(&[])])
        );
        assert_eq!(run(&mut ks, T, &["zscan", "s", "0"]), errors::WRONGTYPE);
        let mut args: Vec<String> = vec!["zadd".into(), "big".into()];
        for i in 0..1000 {
            args.push(format!("{}.5", i));
            args.push(format!("m{i}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut ks, T, &refs);
        let mut cursor = "0".to_string();
        let mut seen = HashSet::new();
        loop {
            let Frame::Array(v) = run(&mut ks, T, &["zscan", "big", &cursor, "count", "50"]) else {
                panic!()
            };
            let Frame::Bulk(c) = &v[0] else { panic!() };
            let Frame::Array(items) = &v[1] else { panic!() };
            for p in items.chunks(2) {
                let (Frame::Bulk(m), Frame::Bulk(s)) = (&p[0], &p[1]) else {
                    panic!()
                };
                let i: usize = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
                assert_eq!(s.as_ref(), format!("{i}.5").as_bytes());
                seen.insert(i);
            }
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn zrangestore_and_keys_commands() {
        let mut ks = Keyspace::new();
        setup(&mut ks);
        assert_eq!(
            run_dirty(&mut ks, T, &["zrangestore", "d", "z", "1", "-1"]),
            (Frame::Integer(3), 1)
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "d", "0", "-1"]),
            arr(&["b", "c", "d"])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &[
                    "zrangestore",
                    "d",
                    "z",
                    "[c",
                    "-",
                    "bylex",
                    "rev",
                    "limit",
                    "0",
                    "5"
                ]
            ),
            Frame::Integer(3)
        );
        assert_eq!(
            run(&mut ks, T, &["zrange", "d", "0", "-1", "withscores"]),
            pairs(&[("a", 1.0), ("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(
            run(
                &mut ks,
                T,
                &["zrangestore", "d", "z", "0", "-1", "withscores"]
            ),
            errors::SYNTAX
        );
        assert_eq!(
            run(&mut ks, T, &["zrangestore", "d", "s", "0", "-1"]),
            errors::WRONGTYPE
        );
        assert_eq!(
            run_dirty(&mut ks, T, &["zrangestore", "d", "nokey", "0", "-1"]),
            (Frame::Integer(0), 1)
        );
        assert_eq!(run(&mut ks, T, &["exists", "d"]), Frame::Integer(0));
        // Keys commands see the type.
        assert_eq!(run(&mut ks, T, &["copy", "z", "c"]), Frame::Integer(1));
        assert_eq!(
            run(&mut ks, T, &["zrange", "c", "0", "-1"]),
            arr(&["a", "b", "c", "d"])
        );
        assert_eq!(run(&mut ks, T, &["rename", "c", "r"]), Frame::ok());
        assert_eq!(run(&mut ks, T, &["zcard", "r"]), Frame::Integer(4));
        assert_eq!(
            run(&mut ks, T, &["scan", "0", "type", "zset", "count", "100"]),
            Frame::Array(vec![
                b("0"),
                match run(&mut ks, T, &["scan", "0", "type", "zset", "count", "100"]) {
                    Frame::Array(v) => v[1].clone(),
                    other => panic!("{other:?}"),
                }
            ])
        );
        assert!(matches!(run(&mut ks, T, &["memory", "usage", "z"]), Frame::Integer(n) if n > 0));
        let ctx = ExecCtx::for_read(T, 0);
        assert!(ks.memory_usage(ctx.now_ms, b"z").is_some());
    }

    #[test]
    fn key_positions_of_numkeys_commands() {
        let args =
            |v: &[&str]| -> Vec<Bytes> { v.iter().map(|s| Bytes::from(s.to_string())).collect() };
        let spec = |n: &str| crate::table::lookup(n.as_bytes()).unwrap();
        assert_eq!(
            spec("zunion").key_positions(&args(&["zunion", "2", "a", "b", "weights", "1", "2"])),
            Ok(vec![2, 3])
        );
        assert_eq!(
            spec("zunionstore").key_positions(&args(&["zunionstore", "d", "2", "a", "b"])),
            Ok(vec![1, 3, 4])
        );
        assert_eq!(
            spec("zmpop").key_positions(&args(&["zmpop", "1", "a", "min"])),
            Ok(vec![2])
        );
        assert!(spec("zunion")
            .key_positions(&args(&["zunion", "3", "a"]))
            .is_err());
        assert!(spec("zunion")
            .key_positions(&args(&["zunion", "0", "a"]))
            .is_err());
        assert_eq!(
            spec("zrangestore").key_positions(&args(&["zrangestore", "d", "s", "0", "1"])),
            Ok(vec![1, 2])
        );
    }

    /// Runs `args` as a client that may block proposes it ([`crate::Op::Block`]).
    fn run_block(ks: &mut Keyspace, args: &[&str]) -> Frame {
        let args: Vec<Bytes> = args.iter().map(|s| Bytes::from(s.to_string())).collect();
        let mut ctx = ExecCtx::for_write(T, 1);
        let reply = crate::exec::apply_op(ks, &mut ctx, &crate::Op::Block(args));
        assert!(!ctx.blocking);
        reply
    }

    #[test]
    fn blocking_pops_serve_now_or_would_block() {
        use crate::blocking::is_would_block;
        let mut ks = Keyspace::new();
        for cmd in [
            &["BZPOPMIN", "a", "b", "0"][..],
            &["BZPOPMAX", "a", "1.5"],
            &["BZMPOP", "0", "2", "a", "b", "min", "count", "3"],
        ] {
            assert!(is_would_block(&run_block(&mut ks, cmd)), "{cmd:?}");
            // Not allowed to wait (MULTI, scripts): the null array, as Redis.
            assert_eq!(run(&mut ks, T, cmd), Frame::NullArray, "{cmd:?}");
        }
        assert_eq!(ks.len(), 0);
        run(
            &mut ks,
            T,
            &["ZADD", "b", "1", "x", "2", "y", "3", "z", "4", "w"],
        );
        let key_flat = |k: &str, m: &str, s: f64| Frame::Array(vec![b(k), b(m), Frame::Double(s)]);
        assert_eq!(
            run_block(&mut ks, &["BZPOPMIN", "a", "b", "0"]),
            key_flat("b", "x", 1.0)
        );
        assert_eq!(
            run(&mut ks, T, &["BZPOPMAX", "a", "b", "0"]),
            key_flat("b", "w", 4.0)
        );
        let nested = |k: &str, items: &[(&str, f64)]| {
            Frame::Array(vec![
                b(k),
                Frame::Array(
                    items
                        .iter()
                        .map(|(m, s)| Frame::Array(vec![b(m), Frame::Double(*s)]))
                        .collect(),
                ),
            ])
        };
        assert_eq!(
            run_block(
                &mut ks,
                &["BZMPOP", "0", "2", "a", "b", "max", "count", "5"]
            ),
            nested("b", &[("z", 3.0), ("y", 2.0)])
        );
        assert_eq!(run(&mut ks, T, &["EXISTS", "b"]), Frame::Integer(0));
        // Types are checked key by key, in the command's order.
        run(&mut ks, T, &["SET", "s", "x"]);
        run(&mut ks, T, &["ZADD", "c", "5", "m"]);
        assert_eq!(
            run_block(&mut ks, &["BZPOPMIN", "a", "s", "c", "0"]),
            errors::WRONGTYPE
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "0", "2", "s", "c", "min"]),
            errors::WRONGTYPE
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "0", "3", "a", "c", "s", "min"]),
            nested("c", &[("m", 5.0)])
        );
    }

    #[test]
    fn blocking_pop_errors_in_redis_order() {
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["SET", "s", "x"]);
        let negative = err("ERR timeout is negative");
        let not_float = err("ERR timeout is not a float or out of range");
        assert_eq!(run_block(&mut ks, &["BZPOPMIN", "s", "-1"]), negative);
        assert_eq!(run_block(&mut ks, &["BZPOPMAX", "s", "x"]), not_float);
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "x", "0", "a", "min"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "x", "1", "a", "up"]),
            errors::SYNTAX
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "x", "2", "a", "min"]),
            errors::SYNTAX
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "x", "1", "a", "min", "count", "0"]),
            COUNT_POSITIVE
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "x", "1", "a", "min"]),
            not_float
        );
        assert_eq!(
            run_block(&mut ks, &["BZMPOP", "-1", "1", "s", "min"]),
            negative
        );
        assert_eq!(
            run(&mut ks, T, &["BZMPOP", "0", "1", "a"]),
            err("ERR wrong number of arguments for 'bzmpop' command")
        );
        assert_eq!(
            run(&mut ks, T, &["BZPOPMIN", "a"]),
            err("ERR wrong number of arguments for 'bzpopmin' command")
        );
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn blocking_rows_and_ready_signals() {
        let args =
            |v: &[&str]| -> Vec<Bytes> { v.iter().map(|s| Bytes::from(s.to_string())).collect() };
        let block = |v: &[&str]| {
            let a = args(v);
            let spec = crate::cmd::resolve(&a).unwrap();
            (spec.block_on.unwrap())(&a, T)
        };
        assert_eq!(
            block(&["bzpopmin", "a", "b", "a", "0.5"]),
            Some(Block::new(&args(&["a", "b"]), 500))
        );
        assert_eq!(
            block(&["bzmpop", "2", "2", "a", "b", "max", "count", "9"]),
            Some(Block::new(&args(&["a", "b"]), 2000))
        );
        assert_eq!(block(&["bzmpop", "2", "3", "a", "b", "max"]), None);
        let spec = |n: &str| crate::table::lookup(n.as_bytes()).unwrap();
        assert_eq!(
            spec("bzmpop").key_positions(&args(&["bzmpop", "0", "2", "a", "b", "min"])),
            Ok(vec![3, 4])
        );
        assert_eq!(
            spec("bzpopmax").key_positions(&args(&["bzpopmax", "a", "b", "0"])),
            Ok(vec![1, 2])
        );

        let ready = |ks: &mut Keyspace| -> Vec<Vec<u8>> { ks.take_ready_keys().keys };
        let mut ks = Keyspace::new();
        run(&mut ks, T, &["ZADD", "a", "1", "x"]);
        run(&mut ks, T, &["ZADD", "b", "1", "x"]);
        assert_eq!(ready(&mut ks), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(crate::blocking::servable(&ks, T, b"a"), 1);
        // Updating scores adds nothing anyone waits for.
        run(&mut ks, T, &["ZADD", "a", "2", "x"]);
        run(&mut ks, T, &["ZADD", "a", "XX", "2", "y"]);
        assert!(ready(&mut ks).is_empty());
        run(&mut ks, T, &["ZADD", "a", "2", "y"]);
        run(&mut ks, T, &["ZINCRBY", "c", "1", "x"]);
        run(&mut ks, T, &["ZUNIONSTORE", "d", "2", "a", "b"]);
        run(&mut ks, T, &["ZRANGESTORE", "e", "a", "0", "-1"]);
        run(&mut ks, T, &["ZINTERSTORE", "f", "2", "a", "b"]);
        run(&mut ks, T, &["ZDIFFSTORE", "g", "1", "a"]);
        run(&mut ks, T, &["COPY", "a", "h"]);
        run(&mut ks, T, &["RENAME", "b", "i"]);
        let keys: Vec<&[u8]> = vec![b"a", b"c", b"d", b"e", b"f", b"g", b"h", b"i"];
        assert_eq!(ready(&mut ks), keys);
        assert_eq!(crate::blocking::servable(&ks, T, b"d"), 2);
        assert_eq!(crate::blocking::servable(&ks, T, b"b"), 0);
    }
}
