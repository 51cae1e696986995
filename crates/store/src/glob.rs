//! Redis' glob-style pattern matching (`stringmatchlen`): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.
//!
//! Same answers as Redis 7.0's `stringmatchlen` (util.c), quirks included:
//! - an empty subject matches only the empty pattern (`*` does not match `""`);
//! - inside `[...]` an escaped character is compared case-sensitively even with `nocase`, a range's ends are
//!   swapped when reversed and compared as C `char`s (signed: bytes >= 0x80 sort below ASCII), then lowercased
//!   for `nocase` after the swap; an unterminated `[` set runs to the end of the pattern;
//! - a trailing lone `\` matches a literal backslash.
//!
//! Redis matches recursively, one level per `*`, and since 7.0 gives up on the outer stars once an inner star
//! has failed at every position (`skipLongerMatches`), which makes the cost polynomial. The loop below is the
//! equivalent iteration: only the most recent star is ever backtracked. It needs no recursion, so a pattern
//! with a million stars cannot overflow the stack, and costs O(pattern x subject) at worst.

/// Whether `s` matches `pattern`, case-sensitively unless `nocase`.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let p = pattern;
    if s.is_empty() {
        // Redis' matching loop never starts on an empty subject.
        return p.is_empty();
    }
    let (mut pi, mut si) = (0, 0);
    // Pattern index after the latest star, and the subject index that star's match currently ends at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            if p[pi] == b'*' {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                pi += 1;
                star = Some((pi, si));
                continue;
            }
            let (ok, next) = match_one(p, pi, s[si], nocase);
            if ok {
                pi = next;
                si += 1;
                continue;
            }
        }
        // Mismatch, or pattern used up with subject left: let the latest star swallow one more byte. Like
        // Redis, a star never swallows the subject's last byte (the rest of the pattern needs at least one).
        match star {
            Some((sp, ss)) if ss + 1 < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// The byte at `i`, or NUL past the end (Redis reads the terminator of its NUL-terminated pattern there).
#[inline]
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

/// `tolower` in the C locale, on a value that may be a negative (signed) `char`.
#[inline]
fn c_tolower(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[inline]
fn eq_byte(a: u8, b: u8, nocase: bool) -> bool {
    a == b || (nocase && a.eq_ignore_ascii_case(&b))
}

/// Matches the non-star pattern token at `pi` against byte `c`; returns the result and the next token's index.
fn match_one(p: &[u8], pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => match_set(p, pi + 1, c, nocase),
        b'\\' => {
            let q = if p.len() - pi >= 2 { pi + 1 } else { pi };
            (eq_byte(p[q], c, nocase), q + 1)
        }
        b => (eq_byte(b, c, nocase), pi + 1),
    }
}

/// A `[...]` set whose body starts at `i`.
fn match_set(p: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let not = at(p, i) == b'^';
    if not {
        i += 1;
    }
    let mut matched = false;
    loop {
        let rem = p.len() - i;
        if at(p, i) == b'\\' && rem >= 2 {
            i += 1;
            if p[i] == c {
                matched = true;
            }
        } else if at(p, i) == b']' {
            break;
        } else if rem == 0 {
            // Unterminated set: Redis steps back onto the last byte so the caller's advance ends the pattern.
            i -= 1;
            break;
        } else if rem >= 3 && p[i + 1] == b'-' {
            let (mut start, mut end) = (p[i] as i8 as i32, p[i + 2] as i8 as i32);
            let mut cc = c as i8 as i32;
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            if nocase {
                start = c_tolower(start);
                end = c_tolower(end);
                cc = c_tolower(cc);
            }
            i += 2;
            if cc >= start && cc <= end {
                matched = true;
            }
        } else if eq_byte(p[i], c, nocase) {
            matched = true;
        }
        i += 1;
    }
    (matched != not, i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), true)
    }

    /// A line-by-line transliteration of Redis 7.0.15's recursive `stringmatchlen_impl`, as the reference the
    /// iterative matcher is checked against. Out-of-range reads yield NUL, as from Redis' terminated strings.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn imp(
            p: &[u8],
            mut pi: usize,
            s: &[u8],
            mut si: usize,
            nocase: bool,
            skip: &mut bool,
        ) -> bool {
            let lower = |c: i32| c_tolower(c);
            let ch = |i: usize| at(p, i);
            while pi < p.len() && si < s.len() {
                match p[pi] {
                    b'*' => {
                        while pi < p.len() && ch(pi + 1) == b'*' {
                            pi += 1;
                        }
                        if p.len() - pi == 1 {
                            return true;
                        }
                        while si < s.len() {
                            if imp(p, pi + 1, s, si, nocase, skip) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            si += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => si += 1,
                    b'[' => {
                        pi += 1;
                        let not = ch(pi) == b'^';
                        if not {
                            pi += 1;
                        }
                        let mut matched = false;
                        loop {
                            let plen = p.len() - pi;
                            if ch(pi) == b'\\' && plen >= 2 {
                                pi += 1;
                                if ch(pi) == s[si] {
                                    matched = true;
                                }
                            } else if ch(pi) == b']' {
                                break;
                            } else if plen == 0 {
                                pi -= 1;
                                break;
                            } else if plen >= 3 && ch(pi + 1) == b'-' {
                                let mut start = ch(pi) as i8 as i32;
                                let mut end = ch(pi + 2) as i8 as i32;
                                let mut c = s[si] as i8 as i32;
                                if start > end {
                                    std::mem::swap(&mut start, &mut end);
                                }
                                if nocase {
                                    start = lower(start);
                                    end = lower(end);
                                    c = lower(c);
                                }
                                pi += 2;
                                if c >= start && c <= end {
                                    matched = true;
                                }
                            } else if !nocase {
                                if ch(pi) == s[si] {
                                    matched = true;
                                }
                            } else if lower(ch(pi) as i8 as i32) == lower(s[si] as i8 as i32) {
                                matched = true;
                            }
                            pi += 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        si += 1;
                    }
                    c => {
                        let c = if c == b'\\' && p.len() - pi >= 2 {
                            pi += 1;
                            ch(pi)
                        } else {
                            c
                        };
                        let ok = if nocase {
                            lower(c as i8 as i32) == lower(s[si] as i8 as i32)
                        } else {
                            c == s[si]
                        };
                        if !ok {
                            return false;
                        }
                        si += 1;
                    }
                }
                pi += 1;
                if si == s.len() {
                    while ch(pi) == b'*' {
                        pi += 1;
                    }
                    break;
                }
            }
            pi == p.len() && si == s.len()
        }
        imp(p, 0, s, 0, nocase, &mut false)
    }

    #[test]
    fn literals_and_question_mark() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(!m("hello", "Hello"));
        assert!(m("h?llo", "hallo"));
        assert!(m("h?llo", "hxllo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("???", "abc"));
        assert!(!m("???", "ab"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        // Binary subjects and patterns, NUL included.
        assert!(matches(b"a\0?", b"a\0\xff", false));
        assert!(!matches(b"a\0", b"a\x01", false));
    }

    #[test]
    fn stars() {
        assert!(m("*", "anything"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h*llo", "hello"));
        assert!(!m("h*llo", "helo"));
        assert!(m("*o", "hello"));
        assert!(m("h*", "h"));
        assert!(m("h**", "h"));
        assert!(m("h***o*", "hello"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("*:*:*", "user:1:name"));
        // Redis never lets `*` match the empty subject.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // Reversed ranges are swapped.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("[z-a]", "m"));
        assert!(m("[^a-c]", "d"));
        assert!(!m("[^a-c]", "b"));
        assert!(m("[0-9][0-9]", "42"));
        // `-` at the end is literal; `[a-]` is the range a..']' (reversed): ] ^ _ ` a.
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "-"));
        assert!(m("[-a]", "-"));
        // An escaped `]` inside a set, and escapes of special bytes.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "b"));
        // `]` first is the end of an empty set: nothing matches, negated everything does.
        assert!(!m("[]a", "a"));
        assert!(m("[^]", "x"));
        // Unterminated sets run to the end of the pattern.
        assert!(m("[abc", "b"));
        assert!(!m("[abc", "d"));
        assert!(!m("[", "["));
        assert!(m("[^", "x"));
        assert!(m("a[", "a") == reference(b"a[", b"a", false));
        // Bytes >= 0x80 are signed chars in Redis' ranges: [a-\xff] is -1..'a', which holds NUL and 0xff but
        // not 'b' or 0x80.
        assert!(matches(b"[a-\xff]", b"\xff", false));
        assert!(matches(b"[a-\xff]", b"\0", false));
        assert!(matches(b"[a-\xff]", b"a", false));
        assert!(!matches(b"[a-\xff]", b"b", false));
        assert!(!matches(b"[a-\xff]", b"\x80", false));
        assert!(matches(b"[\x80-\xff]", b"\x90", false));
    }

    #[test]
    fn escapes() {
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "a"));
        assert!(m("\\[a]", "[a]"));
        assert!(m("\\a", "a"));
        // A lone trailing backslash is literal.
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "a"));
        assert!(m("*\\", "xx\\"));
    }

    #[test]
    fn nocase() {
        assert!(mi("HeLLo", "hello"));
        assert!(mi("h?LLO", "HeLlo"));
        assert!(mi("h[AE]llo", "hello"));
        assert!(mi("h[a-f]llo", "hEllo"));
        assert!(mi("h[A-F]llo", "hello"));
        assert!(mi("*ELLO", "hello"));
        assert!(mi("\\H", "h"));
        assert!(!mi("h[^E]llo", "hello"));
        // Escapes inside a set stay case-sensitive.
        assert!(!mi("[\\E]", "e"));
        assert!(mi("[\\E]", "E"));
        // Ranges are lowercased after the swap: Z-a becomes z..a, which holds nothing.
        assert!(!mi("[Z-a]", "z"));
        assert!(!mi("[Z-a]", "a"));
        assert!(m("[Z-a]", "_"));
        // As redis-server 7.0.15's `COMMAND LIST FILTERBY PATTERN` (a nocase match) answers for `get`.
        assert!(mi("GE?", "get"));
        assert!(mi("[F-H]ET", "get"));
        assert!(!mi("[\\G]et", "get"));
        assert!(mi("[\\g]et", "get"));
        assert!(!mi("[Z-a]et", "get"));
        // Only ASCII letters fold.
        assert!(!matches("é".as_bytes(), "É".as_bytes(), true));
    }

    #[test]
    fn no_exponential_blowup() {
        let long = vec![b'a'; 1_000_000];
        assert!(!matches(b"*a*a*a*a*a*a*a*a*a*b", &long, false));
        assert!(!matches(
            b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
            &long,
            false
        ));
        assert!(matches(b"*a*a*a*a*a*a*a*a*a*a", &long, false));
        // The regression case from Redis' test suite.
        assert!(!m(
            "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ));
        // A pattern of many stars needs no recursion.
        let mut pat = b"*x".repeat(200_000);
        pat.push(b'b');
        assert!(!matches(&pat, &vec![b'x'; 300_000], false));
    }

    /// Results recorded from redis-server 7.0.15 (`KEYS` over a database holding every subject, the empty key
    /// included: `**` does not return it).
    #[test]
    fn agrees_with_redis_server() {
        let subjects: &[&[u8]] = &[
            b"a",
            b"b",
            b"ab",
            b"abc",
            b"aXc",
            b"a-c",
            b"a]c",
            b"a\\c",
            b"a*c",
            b"a?c",
            b"A",
            b"hello",
            b"hallo",
            b"hxllo",
            b"hllo",
            b"heeeello",
            b"[",
            b"]",
            b"^",
            b"-",
            b"_",
            b"\\",
            b"\xff",
            b"\x80",
            b"z",
            b"",
        ];
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"a", &[b"a"]),
            (
                b"a?c",
                &[b"a*c", b"a-c", b"a?c", b"aXc", b"a\\c", b"a]c", b"abc"],
            ),
            (b"a\\?c", &[b"a?c"]),
            (b"a\\*c", &[b"a*c"]),
            (
                b"a*",
                &[
                    b"a", b"a*c", b"a-c", b"a?c", b"aXc", b"a\\c", b"a]c", b"ab", b"abc",
                ],
            ),
            (
                b"h*llo",
                &[b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"],
            ),
            (b"h[ae]llo", &[b"hallo", b"hello"]),
            (b"h[^e]llo", &[b"hallo", b"hxllo"]),
            (b"a[a-z]c", &[b"abc"]),
            (b"a[z-a]c", &[b"abc"]),
            (b"a[A-Z]c", &[b"aXc"]),
            (b"a[\\]]c", &[b"a]c"]),
            (b"a[\\\\]c", &[b"a\\c"]),
            (b"a[-]c", &[b"a-c"]),
            (b"a[a-]c", &[]),
            (b"[", &[]),
            (b"\\[", &[b"["]),
            (b"[[]", &[b"["]),
            (
                b"[^a-y]",
                &[
                    b"-", b"A", b"[", b"\\", b"]", b"^", b"_", b"z", b"\x80", b"\xff",
                ],
            ),
            (
                b"[a-\xff]",
                &[b"-", b"A", b"[", b"\\", b"]", b"^", b"_", b"a", b"\xff"],
            ),
            (b"[\x80-\xff]", &[b"\x80", b"\xff"]),
            (b"\\", &[b"\\"]),
            (b"a\\", &[]),
            (b"[abc", &[b"a", b"b"]),
            (
                b"[^",
                &[
                    b"-", b"A", b"[", b"\\", b"]", b"^", b"_", b"a", b"b", b"z", b"\x80", b"\xff",
                ],
            ),
            (
                b"**",
                &[
                    b"-",
                    b"A",
                    b"[",
                    b"\\",
                    b"]",
                    b"^",
                    b"_",
                    b"a",
                    b"a*c",
                    b"a-c",
                    b"a?c",
                    b"aXc",
                    b"a\\c",
                    b"a]c",
                    b"ab",
                    b"abc",
                    b"b",
                    b"hallo",
                    b"heeeello",
                    b"hello",
                    b"hllo",
                    b"hxllo",
                    b"z",
                    b"\x80",
                    b"\xff",
                ],
            ),
            (
                b"*?",
                &[
                    b"-",
                    b"A",
                    b"[",
                    b"\\",
                    b"]",
                    b"^",
                    b"_",
                    b"a",
                    b"a*c",
                    b"a-c",
                    b"a?c",
                    b"aXc",
                    b"a\\c",
                    b"a]c",
                    b"ab",
                    b"abc",
                    b"b",
                    b"hallo",
                    b"heeeello",
                    b"hello",
                    b"hllo",
                    b"hxllo",
                    b"z",
                    b"\x80",
                    b"\xff",
                ],
            ),
            (
                b"?*",
                &[
                    b"-",
                    b"A",
                    b"[",
                    b"\\",
                    b"]",
                    b"^",
                    b"_",
                    b"a",
                    b"a*c",
                    b"a-c",
                    b"a?c",
                    b"aXc",
                    b"a\\c",
                    b"a]c",
                    b"ab",
                    b"abc",
                    b"b",
                    b"hallo",
                    b"heeeello",
                    b"hello",
                    b"hllo",
                    b"hxllo",
                    b"z",
                    b"\x80",
                    b"\xff",
                ],
            ),
            (b"[]]", &[]),
            (b"[]a]", &[]),
            (
                b"a[^]c",
                &[b"a*c", b"a-c", b"a?c", b"aXc", b"a\\c", b"a]c", b"abc"],
            ),
            (b"*\\", &[b"\\"]),
            (b"h[a-e-x]llo", &[b"hallo", b"hello", b"hxllo"]),
        ];
        for (pat, expected) in cases {
            let mut got: Vec<&[u8]> = subjects
                .iter()
                .copied()
                .filter(|s| matches(pat, s, false))
                .collect();
            got.sort();
            let mut want: Vec<&[u8]> = expected.to_vec();
            want.sort();
            assert_eq!(got, want, "pattern {:?}", String::from_utf8_lossy(pat));
        }
    }

    /// The iterative matcher agrees with the recursive reference on every small pattern over an alphabet of
    /// the special bytes, and on random longer ones.
    #[test]
    fn agrees_with_reference_transliteration() {
        let alphabet: &[u8] = b"a*?[]^-\\A";
        let subjects: Vec<Vec<u8>> = {
            let chars: &[u8] = b"aA-]\\*";
            let mut all = vec![Vec::new()];
            let mut layer = vec![Vec::new()];
            for _ in 0..3 {
                layer = layer
                    .iter()
                    .flat_map(|s: &Vec<u8>| {
                        chars.iter().map(move |&c| {
                            let mut t = s.clone();
                            t.push(c);
                            t
                        })
                    })
                    .collect();
                all.extend(layer.iter().cloned());
            }
            all
        };
        let mut pattern = Vec::new();
        let mut checked = 0u64;
        // Every pattern up to 4 bytes over the alphabet.
        fn each(p: &mut Vec<u8>, alphabet: &[u8], depth: usize, f: &mut dyn FnMut(&[u8])) {
            f(p);
            if depth == 0 {
                return;
            }
            for &c in alphabet {
                p.push(c);
                each(p, alphabet, depth - 1, f);
                p.pop();
            }
        }
        each(&mut pattern, alphabet, 4, &mut |p| {
            for s in &subjects {
                for nocase in [false, true] {
                    assert_eq!(
                        matches(p, s, nocase),
                        reference(p, s, nocase),
                        "pattern {:?} subject {:?} nocase {nocase}",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(s)
                    );
                    checked += 1;
                }
            }
        });
        // Random longer patterns and subjects.
        let mut rng = crate::exec::Rng::new(12);
        let bytes: &[u8] = b"ab*?[]^-\\Z\xe9";
        for _ in 0..300_000 {
            let p: Vec<u8> = (0..rng.below(14))
                .map(|_| bytes[rng.below(bytes.len() as u64) as usize])
                .collect();
            let s: Vec<u8> = (0..rng.below(14))
                .map(|_| bytes[rng.below(bytes.len() as u64) as usize])
                .collect();
            let nocase = rng.below(2) == 0;
            assert_eq!(
                matches(&p, &s, nocase),
                reference(&p, &s, nocase),
                "{p:?} {s:?} {nocase}"
            );
            checked += 1;
        }
        assert!(checked > 1_000_000);
    }
}
