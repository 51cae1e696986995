//! `format_double` against a table printed once by C's `printf("%.17g")` (glibc): special values, random bit
//! patterns and short binary fractions, whose decimal expansions end in ties that must round to even.

use resp::format_double;

#[test]
fn matches_printf_table() {
    let table = include_str!("data/double_printf.txt");
    let mut checked = 0;
    for line in table.lines() {
        let (bits, want) = line.split_once(' ').expect("table line is `hexbits text`");
        let v = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
        assert_eq!(format_double(v), want, "bits {bits}");
        checked += 1;
    }
    assert!(checked > 600, "table has {checked} rows");
}

#[test]
fn infinities_and_nan() {
    assert_eq!(format_double(f64::INFINITY), "inf");
    assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    assert_eq!(format_double(f64::NAN), "nan");
    assert_eq!(format_double(-f64::NAN), "-nan");
}
