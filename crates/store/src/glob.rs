//! Redis' glob-style pattern matching (`stringmatchlen`): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.

/// Whether `s` matches `pattern`, case-sensitively unless `nocase`.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // PLACEHOLDER: exact comparison or "*". To be replaced with the full matcher.
    pattern == b"*"
        || if nocase {
            pattern.eq_ignore_ascii_case(s)
        } else {
            pattern == s
        }
}
