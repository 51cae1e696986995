//! Number parsing and formatting with Redis' rules.

/// Parses a decimal `i64` as Redis' `string2ll`: optional `-`, digits, no spaces, no `+`, no leading zeros
/// other than a lone `0`.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a float as Redis' `strtold` checks do: no surrounding spaces, finite or `inf`, never NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() || b[b.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let lower = s.to_ascii_lowercase();
    let v: f64 = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        t if t.starts_with("nan") => return None,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Decimal text of an `i64`.
pub fn format_i64(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

pub use long_double::LongDouble;

/// Software model of the x86-64 `long double` (x87 80-bit extended precision: 64-bit significand, exponent
/// range of IEEE binary64-extended) that Redis' `INCRBYFLOAT` and `HINCRBYFLOAT` compute in.
///
/// Redis parses both operands with `strtold`, adds them in `long double` and prints the sum with `%.17Lf`. The
/// digits users see depend on each of those roundings (for instance `0.1 + 0.2` shows as `0.3`, and
/// `12345678901234567.1` as `12345678901234567.099609375`), so this module reproduces the three steps exactly:
/// correctly rounded decimal/hexadecimal parsing, correctly rounded addition and exact decimal printing, all
/// with round-to-nearest-even, subnormals and overflow as glibc on x86-64 does them. Arbitrary-precision
/// integers make the roundings exact; their sizes are bounded by the 5 KiB input limit and the format's range.
mod long_double {
    use std::cmp::Ordering;

    /// Smallest exponent of the unit in the last place (subnormals and the smallest normals).
    const MIN_EXP: i64 = -16445;
    /// Largest binary exponent of a finite value's leading bit.
    const MAX_LEAD: i64 = 16383;
    /// Largest exponent of the unit in the last place of a finite value.
    const MAX_EXP: i64 = MAX_LEAD - 63;
    /// Redis' `MAX_LONG_DOUBLE_CHARS`: longer inputs are refused before `strtold` sees them.
    const MAX_CHARS: usize = 5 * 1024;
    /// `10^19`, the largest power of ten in a `u64`.
    const TEN19: u64 = 10_000_000_000_000_000_000;

    /// A `long double` value. Opaque, so only this module's correctly rounded operations make one.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LongDouble(Ld);

    impl LongDouble {
        /// Parses as Redis' `string2ld`: the whole input must be a number `strtold` accepts (decimal,
        /// hexadecimal, `inf`/`infinity`), with no leading space, at most 5119 bytes, not NaN, and not a
        /// finite number that overflows or underflows to zero.
        pub fn parse(b: &[u8]) -> Option<LongDouble> {
            Ld::parse(b).map(LongDouble)
        }

        /// The exact value of an integer (every `i64` fits the 64-bit significand).
        pub fn from_i64(v: i64) -> LongDouble {
            LongDouble(Ld::from_i64(v))
        }

        /// Whether the value is finite.
        pub fn is_finite(&self) -> bool {
            self.0.is_finite()
        }

        /// The correctly rounded sum; an infinity for overflow, `None` for NaN (opposite infinities).
        pub fn plus(self, other: LongDouble) -> Option<LongDouble> {
            self.0.plus(other.0).map(LongDouble)
        }

        /// C's `(long long)ceill(self * k)`: the product rounded to the 64-bit significand (as the x87
        /// multiplies), then rounded up to an integer; `None` when it is infinite or outside `i64` (where the
        /// x87 conversion gives `LLONG_MIN`). Redis 7.0 converts blocking timeouts so from seconds to ms.
        pub fn mul_ceil(self, k: u32) -> Option<i64> {
            self.0.mul_ceil(k)
        }

        /// Formats as Redis' `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` without trailing fractional zeros (nor
        /// a trailing dot), `-0` shown as `0`, infinities as `inf`/`-inf`.
        pub fn to_human(self) -> String {
            self.0.to_human()
        }
    }

    /// `mant * 2^exp` for finite values (zero when `mant` is 0); always within the format's range.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Ld {
        /// A finite value.
        Finite {
            /// Sign (zero keeps its sign, as IEEE does).
            neg: bool,
            /// Significand, at most 64 bits.
            mant: u64,
            /// Power of two the significand is scaled by.
            exp: i32,
        },
        /// An infinity.
        Infinite {
            /// Sign.
            neg: bool,
        },
    }

    impl Ld {
        fn parse(b: &[u8]) -> Option<Ld> {
            if b.is_empty() || b.len() >= MAX_CHARS {
                return None;
            }
            let (neg, body) = match b[0] {
                b'-' => (true, &b[1..]),
                b'+' => (false, &b[1..]),
                _ => (false, b),
            };
            if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
                return Some(Ld::Infinite { neg });
            }
            if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
                parse_hex(neg, &body[2..])
            } else {
                parse_dec(neg, body)
            }
        }

        fn mul_ceil(self, k: u32) -> Option<i64> {
            let Ld::Finite { neg, mant, exp } = self else {
                return None;
            };
            let mut p = mant as u128 * k as u128;
            let mut e = exp as i64;
            let bits = 128 - p.leading_zeros() as i64;
            if bits > 64 {
                // Round to nearest, ties to even, keeping 64 significant bits.
                let sh = (bits - 64) as u32;
                let rem = p & ((1u128 << sh) - 1);
                let half = 1u128 << (sh - 1);
                p >>= sh;
                e += sh as i64;
                if rem > half || (rem == half && p & 1 == 1) {
                    p += 1;
                    if p >> 64 != 0 {
                        p >>= 1;
                        e += 1;
                    }
                }
            }
            // The magnitude truncated, and whether a fraction was dropped (ceil then rounds a positive up).
            let (mag, frac) = if p == 0 {
                (0, false)
            } else if e >= 0 {
                if e >= 64 {
                    return None;
                }
                (p << e, false)
            } else if e <= -128 {
                (0, true)
            } else {
                (p >> -e, p & ((1u128 << -e) - 1) != 0)
            };
            let mag = if frac && !neg { mag + 1 } else { mag };
            if neg {
                if mag > 1u128 << 63 {
                    return None;
                }
                Some((mag as i128).wrapping_neg() as i64)
            } else {
                i64::try_from(mag).ok()
            }
        }

        /// The exact value of an integer (every `i64` fits the 64-bit significand).
        fn from_i64(v: i64) -> Ld {
            Ld::Finite {
                neg: v < 0,
                mant: v.unsigned_abs(),
                exp: 0,
            }
        }

        /// Whether the value is finite.
        fn is_finite(&self) -> bool {
            matches!(self, Ld::Finite { .. })
        }

        /// The correctly rounded sum; an infinity for overflow, `None` for NaN (opposite infinities).
        fn plus(self, other: Ld) -> Option<Ld> {
            use Ld::*;
            match (self, other) {
                (Infinite { neg: a }, Infinite { neg: b }) => (a == b).then_some(self),
                (Infinite { .. }, _) => Some(self),
                (_, Infinite { .. }) => Some(other),
                (
                    Finite {
                        neg: na,
                        mant: ma,
                        exp: ea,
                    },
                    Finite {
                        neg: nb,
                        mant: mb,
                        exp: eb,
                    },
                ) => {
                    if ma == 0 && mb == 0 {
                        return Some(Finite {
                            neg: na && nb,
                            mant: 0,
                            exp: 0,
                        });
                    }
                    if mb == 0 {
                        return Some(self);
                    }
                    if ma == 0 {
                        return Some(other);
                    }
                    let e = ea.min(eb) as i64;
                    if (ea - eb).unsigned_abs() < 64 {
                        // Both aligned significands fit in 127 bits.
                        let a = (ma as u128) << (ea as i64 - e);
                        let b = (mb as u128) << (eb as i64 - e);
                        let (neg, sum) = match (na == nb, a.cmp(&b)) {
                            (true, _) => (na, a + b),
                            (false, Ordering::Equal) => (false, 0),
                            (false, Ordering::Greater) => (na, a - b),
                            (false, Ordering::Less) => (nb, b - a),
                        };
                        if let Some(r) = round_small(neg, sum, 1, e) {
                            return Some(r.unwrap_or(Infinite { neg }));
                        }
                    }
                    let a = Big::from_u128(ma as u128).shl((ea as i64 - e) as u64);
                    let b = Big::from_u128(mb as u128).shl((eb as i64 - e) as u64);
                    let (neg, sum) = if na == nb {
                        (na, a.plus(&b))
                    } else {
                        match a.cmp(&b) {
                            // Exact cancellation gives +0 when rounding to nearest.
                            Ordering::Equal => {
                                return Some(Finite {
                                    neg: false,
                                    mant: 0,
                                    exp: 0,
                                })
                            }
                            Ordering::Greater => (na, a.minus(&b)),
                            Ordering::Less => (nb, b.minus(&a)),
                        }
                    };
                    // Every sum of representable values is a multiple of 2^MIN_EXP, so only overflow fails.
                    Some(round(neg, &sum, &Big::one(), e).unwrap_or(Infinite { neg }))
                }
            }
        }

        /// Formats as Redis' `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` without trailing fractional zeros (nor
        /// a trailing dot), `-0` shown as `0`, infinities as `inf`/`-inf`.
        fn to_human(self) -> String {
            let (neg, mant, exp) = match self {
                Ld::Infinite { neg } => return if neg { "-inf" } else { "inf" }.to_string(),
                Ld::Finite { neg, mant, exp } => (neg, mant, exp as i64),
            };
            let mut out = String::new();
            if neg {
                out.push('-');
            }
            if (0..64).contains(&exp) {
                out.push_str(&((mant as u128) << exp).to_string());
            } else if exp >= 0 {
                out.push_str(&Big::from_u128(mant as u128).shl(exp as u64).to_decimal());
            } else {
                let s = (-exp) as u64;
                let (int, frac) = if s >= 64 {
                    (0u128, mant as u128)
                } else {
                    ((mant >> s) as u128, (mant & ((1u64 << s) - 1)) as u128)
                };
                // frac < 2^64, so frac * 10^17 < 2^121: the 17 digits and the rounding fit in a u128.
                let scaled = frac * 100_000_000_000_000_000u128;
                let (mut digits, round_up) = if s >= 122 {
                    // scaled < 2^121 <= half a unit of the 17th digit: rounds down to zero.
                    (0u128, false)
                } else {
                    let digits = scaled >> s;
                    let rem = scaled - (digits << s);
                    let half = 1u128 << (s - 1);
                    let up = rem > half || (rem == half && digits & 1 == 1);
                    (digits, up)
                };
                let mut int = int;
                if round_up {
                    digits += 1;
                    if digits == 100_000_000_000_000_000 {
                        digits = 0;
                        int += 1;
                    }
                }
                out.push_str(&int.to_string());
                let frac = format!("{digits:017}");
                let frac = frac.trim_end_matches('0');
                if !frac.is_empty() {
                    out.push('.');
                    out.push_str(frac);
                }
            }
            if out == "-0" {
                out.remove(0);
            }
            out
        }
    }

    /// `digits[.digits][e[+-]digits]` (at least one digit in the significand).
    fn parse_dec(neg: bool, s: &[u8]) -> Option<Ld> {
        let (digits, frac_len, rest) = significand(s, 10)?;
        let exp10 = exponent(rest, b'e')?;
        let p10 = exp10.saturating_sub(frac_len as i64);
        let sig = digits.iter().skip_while(|&&d| d == 0).count() as i64;
        if sig == 0 {
            return Some(zero(neg));
        }
        // The value lies in [10^(sig-1+p10), 10^(sig+p10)); the largest finite value is about 1.19e4932 and
        // half the smallest subnormal about 1.82e-4951.
        if sig - 1 + p10 >= 4933 || sig + p10 <= -4951 {
            return None;
        }
        if sig <= 38 && (-27..=27).contains(&p10) {
            let d = digits.iter().fold(0u128, |acc, &x| acc * 10 + x as u128);
            // 10^k = 5^k * 2^k keeps the odd factor small enough for u128 arithmetic.
            let five = 5u128.pow(p10.unsigned_abs() as u32);
            let fast = if p10 >= 0 {
                d.checked_mul(five)
                    .and_then(|n| round_small(neg, n, 1, p10))
            } else {
                round_small(neg, d, five, p10)
            };
            if let Some(r) = fast {
                return r;
            }
        }
        let mut n = Big::zero();
        for chunk in digits.chunks(19) {
            let mut v = 0u64;
            for &d in chunk {
                v = v * 10 + d as u64;
            }
            n.mul_small(10u64.pow(chunk.len() as u32));
            n.add_small(v);
        }
        if p10 >= 0 {
            n.mul_pow10(p10 as u64);
            round(neg, &n, &Big::one(), 0)
        } else {
            let mut d = Big::one();
            d.mul_pow10((-p10) as u64);
            round(neg, &n, &d, 0)
        }
    }

    /// `hexdigits[.hexdigits][p[+-]digits]` after the `0x` prefix.
    fn parse_hex(neg: bool, s: &[u8]) -> Option<Ld> {
        let (digits, frac_len, rest) = significand(s, 16)?;
        let exp2 = exponent(rest, b'p')?;
        let shift = exp2.saturating_sub(4 * frac_len as i64);
        let mut n = Big::zero();
        for &d in digits.iter().skip_while(|&&d| d == 0) {
            n.mul_small(16);
            n.add_small(d as u64);
        }
        if n.is_zero() {
            return Some(zero(neg));
        }
        let lead = n.bits() as i64 - 1 + shift;
        if !(MIN_EXP - 1..=MAX_LEAD).contains(&lead) {
            return None;
        }
        round(neg, &n, &Big::one(), shift)
    }

    fn zero(neg: bool) -> Ld {
        Ld::Finite {
            neg,
            mant: 0,
            exp: 0,
        }
    }

    /// Splits `digits[.digits]` off `s`: the digit values, how many follow the dot, and the rest.
    fn significand(s: &[u8], radix: u32) -> Option<(Vec<u8>, usize, &[u8])> {
        let mut digits = Vec::new();
        let mut frac_len = 0;
        let mut seen_dot = false;
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            if c == b'.' && !seen_dot {
                seen_dot = true;
            } else if let Some(d) = (c as char).to_digit(radix) {
                digits.push(d as u8);
                if seen_dot {
                    frac_len += 1;
                }
            } else {
                break;
            }
            i += 1;
        }
        if digits.is_empty() {
            return None;
        }
        Some((digits, frac_len, &s[i..]))
    }

    /// Parses an optional `<marker>[+-]digits` that must end the input; saturates far beyond any range.
    fn exponent(s: &[u8], marker: u8) -> Option<i64> {
        if s.is_empty() {
            return Some(0);
        }
        if s[0] | 0x20 != marker {
            return None;
        }
        let (neg, digits) = match s.get(1) {
            Some(b'-') => (true, &s[2..]),
            Some(b'+') => (false, &s[2..]),
            _ => (false, &s[1..]),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut v: i64 = 0;
        for &c in digits {
            v = (v * 10 + (c - b'0') as i64).min(1 << 40);
        }
        Some(if neg { -v } else { v })
    }

    /// Rounds `num / den * 2^shift` (positive `num`, `den`) to the nearest `long double`, ties to even.
    /// `None` when it overflows or a non-zero value rounds to zero (the cases `strtold` flags `ERANGE`).
    fn round(neg: bool, num: &Big, den: &Big, shift: i64) -> Option<Ld> {
        if num.is_zero() {
            return Some(zero(neg));
        }
        // floor(log2(num / den)) is l or l - 1.
        let mut l = num.bits() as i64 - den.bits() as i64;
        let ge = if l >= 0 {
            num.cmp(&den.shl(l as u64)) != Ordering::Less
        } else {
            num.shl((-l) as u64).cmp(den) != Ordering::Less
        };
        if !ge {
            l -= 1;
        }
        let lead = l + shift;
        if lead > MAX_LEAD {
            return None;
        }
        if lead < MIN_EXP - 1 {
            return None;
        }
        let q_exp = (lead - 63).max(MIN_EXP);
        let t = shift - q_exp;
        let (n2, d2) = if t >= 0 {
            (num.shl(t as u64), den.clone())
        } else {
            (num.clone(), den.shl((-t) as u64))
        };
        let (mut q, r) = div_rem(n2, &d2);
        match r.shl(1).cmp(&d2) {
            Ordering::Greater => q += 1,
            Ordering::Equal if q & 1 == 1 => q += 1,
            _ => {}
        }
        let mut exp = q_exp;
        if q == 1u128 << 64 {
            q = 1u128 << 63;
            exp += 1;
        }
        if exp > MAX_EXP || q == 0 {
            return None;
        }
        Some(Ld::Finite {
            neg,
            mant: q as u64,
            exp: exp as i32,
        })
    }

    /// [`round`] for operands that fit in machine integers; `None` when they do not fit or the result is near
    /// the edges of the range (the general path handles those).
    fn round_small(neg: bool, num: u128, den: u128, shift: i64) -> Option<Option<Ld>> {
        if num == 0 {
            return Some(Some(zero(neg)));
        }
        if den == 0 || den >= 1 << 126 {
            return None;
        }
        let nb = 128 - num.leading_zeros() as i64;
        let db = 128 - den.leading_zeros() as i64;
        let mut l = nb - db;
        let ge = if l >= 0 {
            num >= den << l
        } else {
            num << -l >= den
        };
        if !ge {
            l -= 1;
        }
        let lead = l + shift;
        if !(MIN_EXP + 63..=MAX_LEAD).contains(&lead) {
            return None;
        }
        let q_exp = lead - 63;
        let t = shift - q_exp;
        let (n2, d2) = if t >= 0 {
            if nb + t > 127 {
                return None;
            }
            (num << t, den)
        } else {
            if db - t > 126 {
                return None;
            }
            (num, den << -t)
        };
        let mut q = n2 / d2;
        let r = n2 % d2;
        match (r << 1).cmp(&d2) {
            Ordering::Greater => q += 1,
            Ordering::Equal if q & 1 == 1 => q += 1,
            _ => {}
        }
        let mut exp = q_exp;
        if q == 1u128 << 64 {
            q = 1u128 << 63;
            exp += 1;
        }
        if exp > MAX_EXP {
            return Some(None);
        }
        Some(Some(Ld::Finite {
            neg,
            mant: q as u64,
            exp: exp as i32,
        }))
    }

    /// Quotient and remainder of `num / den` for a quotient known to be below 2^127.
    fn div_rem(mut num: Big, den: &Big) -> (u128, Big) {
        if num.cmp(den) == Ordering::Less {
            return (0, num);
        }
        let k = num.bits() - den.bits();
        let mut d = den.shl(k);
        let mut q = 0u128;
        for i in (0..=k).rev() {
            if num.cmp(&d) != Ordering::Less {
                num.sub_assign(&d);
                q |= 1u128 << i;
            }
            d.shr1();
        }
        (q, num)
    }

    /// Unsigned arbitrary-precision integer, little-endian 64-bit limbs without high zero limbs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Big(Vec<u64>);

    impl Big {
        fn zero() -> Big {
            Big(Vec::new())
        }

        fn one() -> Big {
            Big(vec![1])
        }

        fn from_u128(v: u128) -> Big {
            let mut b = Big(vec![v as u64, (v >> 64) as u64]);
            b.trim();
            b
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn bits(&self) -> u64 {
            match self.0.last() {
                None => 0,
                Some(&top) => self.0.len() as u64 * 64 - top.leading_zeros() as u64,
            }
        }

        fn mul_small(&mut self, m: u64) {
            let mut carry = 0u128;
            for limb in self.0.iter_mut() {
                let v = *limb as u128 * m as u128 + carry;
                *limb = v as u64;
                carry = v >> 64;
            }
            if carry != 0 {
                self.0.push(carry as u64);
            }
            self.trim();
        }

        fn add_small(&mut self, a: u64) {
            let mut carry = a;
            for limb in self.0.iter_mut() {
                if carry == 0 {
                    return;
                }
                let (v, o) = limb.overflowing_add(carry);
                *limb = v;
                carry = o as u64;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }

        fn mul_pow10(&mut self, mut n: u64) {
            while n >= 19 {
                self.mul_small(TEN19);
                n -= 19;
            }
            self.mul_small(10u64.pow(n as u32));
        }

        fn shl(&self, n: u64) -> Big {
            if self.is_zero() {
                return Big::zero();
            }
            let (limbs, bits) = ((n / 64) as usize, (n % 64) as u32);
            let mut out = vec![0u64; limbs];
            out.reserve(self.0.len() + 1);
            if bits == 0 {
                out.extend_from_slice(&self.0);
            } else {
                let mut carry = 0u64;
                for &l in &self.0 {
                    out.push((l << bits) | carry);
                    carry = l >> (64 - bits);
                }
                out.push(carry);
            }
            let mut b = Big(out);
            b.trim();
            b
        }

        fn shr1(&mut self) {
            let mut carry = 0u64;
            for limb in self.0.iter_mut().rev() {
                let v = *limb;
                *limb = (v >> 1) | (carry << 63);
                carry = v & 1;
            }
            self.trim();
        }

        fn cmp(&self, o: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }

        fn plus(&self, o: &Big) -> Big {
            let (long, short) = if self.0.len() >= o.0.len() {
                (self, o)
            } else {
                (o, self)
            };
            let mut out = Vec::with_capacity(long.0.len() + 1);
            let mut carry = false;
            for (i, &l) in long.0.iter().enumerate() {
                let s = short.0.get(i).copied().unwrap_or(0);
                let (v1, o1) = l.overflowing_add(s);
                let (v2, o2) = v1.overflowing_add(carry as u64);
                out.push(v2);
                carry = o1 || o2;
            }
            if carry {
                out.push(1);
            }
            Big(out)
        }

        /// `self - o`, for `self >= o`.
        fn minus(&self, o: &Big) -> Big {
            let mut out = self.clone();
            out.sub_assign(o);
            out
        }

        /// `self -= o`, for `self >= o`.
        fn sub_assign(&mut self, o: &Big) {
            let mut borrow = false;
            for (i, l) in self.0.iter_mut().enumerate() {
                let s = o.0.get(i).copied().unwrap_or(0);
                if s == 0 && !borrow && i >= o.0.len() {
                    break;
                }
                let (v1, b1) = l.overflowing_sub(s);
                let (v2, b2) = v1.overflowing_sub(borrow as u64);
                *l = v2;
                borrow = b1 || b2;
            }
            self.trim();
        }

        /// Divides in place by `d`, returning the remainder.
        fn div_small(&mut self, d: u64) -> u64 {
            let mut rem = 0u128;
            for limb in self.0.iter_mut().rev() {
                let cur = (rem << 64) | *limb as u128;
                *limb = (cur / d as u128) as u64;
                rem = cur % d as u128;
            }
            self.trim();
            rem as u64
        }

        fn to_decimal(&self) -> String {
            let mut n = self.clone();
            let mut chunks = Vec::new();
            while !n.is_zero() {
                chunks.push(n.div_small(TEN19));
            }
            let mut s = chunks.pop().unwrap_or(0).to_string();
            for c in chunks.iter().rev() {
                s.push_str(&format!("{c:019}"));
            }
            s
        }
    }
}

/// Redis' `INCRBYFLOAT`/`HINCRBYFLOAT` arithmetic on texts: `current` (absent is 0) plus `incr`, formatted
/// as Redis stores the result.
pub fn incr_by_float(current: Option<LongDouble>, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let incr = LongDouble::parse(incr).ok_or(IncrFloatError::NotFloat)?;
    let cur = current.unwrap_or(LongDouble::from_i64(0));
    match cur.plus(incr) {
        Some(v) if v.is_finite() => Ok(v.to_human().into_bytes()),
        _ => Err(IncrFloatError::NanOrInfinity),
    }
}

/// Why [`incr_by_float`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The increment is not a valid float (`ERR value is not a valid float`).
    NotFloat,
    /// The sum is NaN or infinite (`ERR increment would produce NaN or Infinity`).
    NanOrInfinity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    /// What the sum should give; every expected value was produced by glibc's `strtold` + `long double` +
    /// `%.17Lf` on x86-64 (the code path of Redis 7.0.15) and cross-checked against redis-server.
    enum Want {
        Ok(&'static str),
        /// Too long to spell: leading digits and total length.
        Long(&'static str, usize),
        Err(IncrFloatError),
    }

    #[test]
    fn incr_by_float_matches_redis_long_double() {
        use IncrFloatError::*;
        use Want::{Err, Long, Ok};
        let cases: &[(Option<&str>, &str, Want)] = &[
            (None, "0.1", Ok("0.1")),
            (Some("0.1"), "0.2", Ok("0.3")),
            (Some("1.5"), "-1.5", Ok("0")),
            (None, "-0", Ok("0")),
            (Some("10"), "1.5", Ok("11.5")),
            (Some("3.0000000000000000005"), "0", Ok("3")),
            (None, "9223372036854775808", Ok("9223372036854775808")),
            (None, "18446744073709551617", Ok("18446744073709551616")),
            (None, "18446744073709551619", Ok("18446744073709551620")),
            (Some("9223372036854775807"), "1", Ok("9223372036854775808")),
            (
                Some("-9223372036854775808"),
                "-1",
                Ok("-9223372036854775809"),
            ),
            (Some("5.0e3"), "0x10", Ok("5016")),
            (Some("0x1p-18"), "0", Ok("0.00000381469726562")),
            (Some("0x3p-18"), "0", Ok("0.00001144409179688")),
            (Some("0x1p-57"), "0", Ok("0.00000000000000001")),
            (Some("-0x1p-57"), "0", Ok("-0.00000000000000001")),
            (Some("0x1p-58"), "0", Ok("0")),
            (Some("-0.000000000000000005"), "0", Ok("0")),
            (Some("0.000000000000000015"), "0", Ok("0.00000000000000002")),
            (Some("0.99999999999999999"), "0", Ok("0.99999999999999999")),
            (Some("0.999999999999999995"), "0", Ok("1")),
            (Some("-0.999999999999999995"), "0", Ok("-1")),
            (
                Some("12345678901234567.1"),
                "0",
                Ok("12345678901234567.099609375"),
            ),
            (
                Some("12345678901234567.1"),
                "-12345678901234567",
                Ok("0.099609375"),
            ),
            (
                None,
                "1.18973149535723176502e+4932",
                Long("1189731495357231765021263853030970205169", 4933),
            ),
            (None, "1.18973149535723176508e+4932", Err(NotFloat)),
            (None, "3.6451995318824746025e-4951", Ok("0")),
            (None, "1.8225997659412373012e-4951", Err(NotFloat)),
            (None, "1.8225997659412373013e-4951", Ok("0")),
            (None, "0x1p-16445", Ok("0")),
            (None, "0x1p-16446", Err(NotFloat)),
            (None, "0x1p16384", Err(NotFloat)),
            (None, "0x1.ffffffffffffffffp16383", Err(NotFloat)),
            (
                None,
                "0x1.fffffffffffffffep16383",
                Long("1189731495357231765021263853030970205169", 4933),
            ),
            (Some("1e4932"), "1e4932", Err(NanOrInfinity)),
            (Some("inf"), "-inf", Err(NanOrInfinity)),
            (Some("inf"), "1", Err(NanOrInfinity)),
            (None, "nan", Err(NotFloat)),
            (None, "NaN", Err(NotFloat)),
            (None, "Infinity", Err(NanOrInfinity)),
            (Some("1e-5000"), "1", Err(NotFloat)),
            (Some("0e99999999999999999999999"), "1", Ok("1")),
            (Some("1e99999999999999999"), "1", Err(NotFloat)),
            (None, "1.e5", Ok("100000")),
            (None, "+.5e-1", Ok("0.05")),
            (None, "0x1.P2", Ok("4")),
            (None, "0xg", Err(NotFloat)),
            (None, "0x", Err(NotFloat)),
            (None, "0x.8", Ok("0.5")),
            (None, ".", Err(NotFloat)),
            (None, "1e", Err(NotFloat)),
            (None, "1e+", Err(NotFloat)),
            (None, " 1", Err(NotFloat)),
            (None, "1 ", Err(NotFloat)),
            (None, "--1", Err(NotFloat)),
            (None, "1_0", Err(NotFloat)),
            (
                Some("1e308"),
                "1e308",
                Long("1999999999999999999933717593116912913211", 309),
            ),
            (None, "2.5e-1", Ok("0.25")),
            (None, "100e-2", Ok("1")),
            (None, "1234.5678", Ok("1234.56779999999999997")),
            (None, "-1234.5678", Ok("-1234.56779999999999997")),
            (None, "0.00001", Ok("0.00001")),
            (None, "1e20", Ok("100000000000000000000")),
            (
                None,
                "1.7976931348623157e308",
                Long("1797693134862315699959210467741044340483", 309),
            ),
            (
                None,
                "123456789012345678901234567890",
                Ok("123456789012345678899921813504"),
            ),
            (None, "0.30000000000000000001", Ok("0.3")),
        ];
        for (cur, incr, want) in cases {
            let got = match cur.map(|c| LongDouble::parse(c.as_bytes())) {
                Some(None) => std::result::Result::Err(NotFloat),
                Some(Some(c)) => incr_by_float(Some(c), incr.as_bytes()),
                None => incr_by_float(None, incr.as_bytes()),
            };
            match (want, got) {
                (Ok(w), std::result::Result::Ok(g)) => {
                    assert_eq!(String::from_utf8(g).unwrap(), *w, "{cur:?} + {incr}")
                }
                (Long(prefix, len), std::result::Result::Ok(g)) => {
                    assert!(g.starts_with(prefix.as_bytes()), "{cur:?} + {incr}");
                    assert_eq!(g.len(), *len, "{cur:?} + {incr}");
                }
                (Err(w), std::result::Result::Err(g)) => assert_eq!(*w, g, "{cur:?} + {incr}"),
                (_, g) => panic!("{cur:?} + {incr}: unexpected {g:?}"),
            }
        }
    }

    #[test]
    fn long_double_input_length_limit() {
        // Redis copies the text into a 5 KiB buffer first: 5119 bytes are parsed, 5120 refused.
        assert!(LongDouble::parse(&[b'0'; 5119]).is_some());
        assert!(LongDouble::parse(&[b'0'; 5120]).is_none());
        assert!(LongDouble::parse(b"").is_none());
    }

    #[test]
    fn long_double_from_i64_is_exact() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1 << 53 | 1] {
            assert_eq!(LongDouble::from_i64(v).to_human(), v.to_string());
        }
        assert_eq!(
            LongDouble::from_i64(i64::MAX)
                .plus(LongDouble::from_i64(i64::MAX))
                .unwrap()
                .to_human(),
            "18446744073709551614"
        );
    }
}
