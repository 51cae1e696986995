//! Double formatting exactly as C's `printf("%.17g")`, which Redis 7.0 uses for every double reply.
//!
//! The digits come from the standard library's exact (correctly rounded, ties to even) scientific formatting
//! with 16 decimals; this module only rearranges them the way `%g` does: fixed notation when the decimal
//! exponent X satisfies -4 <= X < 17, scientific otherwise, trailing zeros and a bare point removed, and an
//! exponent of at least two digits.

use std::fmt::Write;

/// Longest `%.17g` output: `-1.2345678901234567e-308` is 24 bytes.
pub(crate) const MAX_DOUBLE_LEN: usize = 32;

/// Formats as C's `%.17g` (`inf`, `-inf` for infinities), as Redis 7.0 replies doubles.
pub fn format_double(v: f64) -> String {
    let mut buf = [0u8; MAX_DOUBLE_LEN];
    let n = write_double(v, &mut buf);
    // The formatter only ever writes ASCII.
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// A fixed-size sink for `core::fmt`, so formatting needs no heap allocation.
struct StackBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for StackBuf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `%.17g` of `v` into `out` and returns its length; allocation-free for the encoder's hot path.
pub(crate) fn write_double(v: f64, out: &mut [u8; MAX_DOUBLE_LEN]) -> usize {
    if v.is_nan() {
        // glibc prints the sign bit of a NaN.
        let s: &[u8] = if v.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        };
        out[..s.len()].copy_from_slice(s);
        return s.len();
    }
    if v.is_infinite() {
        let s: &[u8] = if v > 0.0 { b"inf" } else { b"-inf" };
        out[..s.len()].copy_from_slice(s);
        return s.len();
    }

    // Scientific form with 17 significant digits: `[-]d.dddddddddddddddde[-]X`.
    let mut sci = [0u8; MAX_DOUBLE_LEN];
    let mut sink = StackBuf {
        buf: &mut sci,
        len: 0,
    };
    if write!(sink, "{v:.16e}").is_err() {
        // Cannot happen: the longest form is 24 bytes. Fall back to something valid rather than panic.
        out[0] = b'0';
        return 1;
    }
    let sci_len = sink.len;
    let sci = &sci[..sci_len];

    let negative = sci[0] == b'-';
    let body = if negative { &sci[1..] } else { sci };
    let mut digits = [0u8; 17];
    digits[0] = body[0];
    digits[1..].copy_from_slice(&body[2..18]);
    // body[18] is 'e'.
    let exp_str = &body[19..];
    let (exp_neg, exp_digits) = match exp_str.first() {
        Some(b'-') => (true, &exp_str[1..]),
        _ => (false, exp_str),
    };
    let mut exp: i32 = 0;
    for &d in exp_digits {
        exp = exp * 10 + i32::from(d - b'0');
    }
    if exp_neg {
        exp = -exp;
    }

    // Significant digits once trailing zeros go (at least one digit stays).
    let mut sig = 17;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }

    let mut w = Writer { out, n: 0 };
    if negative {
        w.push(b"-");
    }
    if (-4..17).contains(&exp) {
        if exp >= 0 {
            let int_digits = exp as usize + 1;
            w.push(&digits[..int_digits]);
            if sig > int_digits {
                w.push(b".");
                w.push(&digits[int_digits..sig]);
            }
        } else {
            w.push(b"0.");
            for _ in 0..(-exp - 1) {
                w.push(b"0");
            }
            w.push(&digits[..sig]);
        }
    } else {
        w.push(&digits[..1]);
        if sig > 1 {
            w.push(b".");
            w.push(&digits[1..sig]);
        }
        w.push(if exp < 0 { b"e-" } else { b"e+" });
        let e = exp.unsigned_abs();
        if e >= 100 {
            w.push(&[b'0' + (e / 100) as u8]);
        }
        w.push(&[b'0' + ((e / 10) % 10) as u8, b'0' + (e % 10) as u8]);
    }
    w.n
}

/// Appends into the output array; every caller stays within MAX_DOUBLE_LEN.
struct Writer<'a> {
    out: &'a mut [u8; MAX_DOUBLE_LEN],
    n: usize,
}

impl Writer<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.out[self.n..self.n + bytes.len()].copy_from_slice(bytes);
        self.n += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_values() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e300, "1.0000000000000001e+300"),
            (1e-300, "1e-300"),
            (1.0 / 3.0, "0.33333333333333331"),
            (123456789012345680000.0, "1.2345678901234568e+20"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (100.0, "100"),
            (-2.5, "-2.5"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (1234567890123456.0 + 0.25, "1234567890123456.2"),
            (1234567890123456.0 + 0.75, "1234567890123456.8"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_double(v), want, "formatting {v:e}");
        }
    }
}
