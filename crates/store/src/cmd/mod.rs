//! Command implementations, one file per family. Each family declares its table rows in a `COMMANDS` slice
//! next to the functions that run them.

use bytes::Bytes;
use resp::Frame;

use crate::errors;
use crate::table::CommandSpec;

pub mod bitmap;
pub mod cluster;
pub mod connection;
pub mod debug;
pub mod hash;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod stream;
pub mod string;
pub mod transactions;
pub mod zset;

/// Every family's declarations; the table is built from these.
pub const FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    keys::COMMANDS,
    string::COMMANDS,
    bitmap::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    list::COMMANDS,
    debug::COMMANDS,
    zset::COMMANDS,
    pubsub::COMMANDS,
    stream::COMMANDS,
    transactions::COMMANDS,
    cluster::COMMANDS,
];

/// Parses an integer argument, or gives Redis' "not an integer" error.
pub fn arg_i64(b: &[u8]) -> Result<i64, Frame> {
    crate::num::parse_i64(b).ok_or(errors::NOT_INTEGER)
}

/// Parses a float argument, or gives Redis' "not a valid float" error.
pub fn arg_f64(b: &[u8]) -> Result<f64, Frame> {
    crate::num::parse_f64(b).ok_or(errors::NOT_FLOAT)
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &Bytes, name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Turns a `Result` whose error is itself a reply into the reply.
pub fn reply(r: Result<Frame, Frame>) -> Frame {
    r.unwrap_or_else(|e| e)
}

/// Resolves `args` to the command (or subcommand) spec that runs them, checking arity as Redis does.
pub fn resolve(args: &[Bytes]) -> Result<&'static CommandSpec, Frame> {
    let Some(name) = args.first() else {
        return Err(Frame::error("ERR empty command"));
    };
    let Some(spec) = crate::table::lookup(name) else {
        return Err(errors::unknown_command(name, &args[1..]));
    };
    if !spec.arity_ok(args.len()) {
        return Err(errors::wrong_arity(spec.name));
    }
    if spec.subcommands.is_empty()
        || (args.len() == 1 && !matches!(spec.handler, crate::Handler::Container))
    {
        return Ok(spec);
    }
    let sub_name = &args[1];
    let Some(sub) = spec.subcommand(sub_name) else {
        return Err(errors::unknown_subcommand(spec.name, sub_name));
    };
    if !sub.arity_ok(args.len()) {
        return Err(errors::wrong_arity(&format!("{}|{}", spec.name, sub.name)));
    }
    Ok(sub)
}

/// Runs a keyspace command from its arguments: lookup, arity check, subcommand, handler. Node commands are
/// refused here; the server runs those.
pub fn execute(ks: &mut crate::Keyspace, ctx: &mut crate::ExecCtx, args: &[Bytes]) -> Frame {
    match resolve(args) {
        Err(e) => e,
        Ok(spec) => match spec.handler {
            crate::Handler::Keyspace(f) => f(ks, ctx, args),
            _ => Frame::error("ERR command not executable against the keyspace"),
        },
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the families' unit tests.
    use super::*;

    /// Runs a command given as strings at time `now_ms`, as a write if its spec says so.
    pub fn run(ks: &mut crate::Keyspace, now_ms: i64, args: &[&str]) -> Frame {
        run_dirty(ks, now_ms, args).0
    }

    /// Runs a command like [`run`], also returning how many changes it counted (`ctx.dirty`).
    pub fn run_dirty(ks: &mut crate::Keyspace, now_ms: i64, args: &[&str]) -> (Frame, u64) {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let write = resolve(&args).is_ok_and(|s| s.is_write());
        let mut ctx = if write {
            crate::ExecCtx::for_write(now_ms, 42)
        } else {
            crate::ExecCtx::for_read(now_ms, 42)
        };
        // Replies are compared element by element: packed lists as the frames they stand for.
        let reply = execute(ks, &mut ctx, &args).expand_lists();
        (reply, ctx.dirty)
    }

    /// A bulk-string reply.
    pub fn b(s: &str) -> Frame {
        Frame::bulk(s)
    }

    /// An integer reply.
    pub fn int(i: i64) -> Frame {
        Frame::Integer(i)
    }

    /// An error reply.
    pub fn err(s: &str) -> Frame {
        Frame::error_owned(s.to_string())
    }

    /// An array reply of bulk strings.
    pub fn arr(items: &[&str]) -> Frame {
        Frame::Array(items.iter().map(|s| b(s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Rng;
    use crate::table::Handler;

    /// Argument words that reach the parsers' edges: extreme and malformed numbers, option names, keys.
    const WORDS: &[&str] = &[
        "0",
        "1",
        "-1",
        "2",
        "-2",
        "7",
        "64",
        "-64",
        "100",
        "-100",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "18446744073709551616",
        "4294967295",
        "1e400",
        "-1e400",
        "nan",
        "inf",
        "-inf",
        "0.5",
        "",
        "x",
        "k",
        "n",
        "b",
        "missing",
        "*",
        "i64",
        "u63",
        "i8",
        "u1",
        "i65",
        "#3",
        "#-1",
        "#9223372036854775807",
        "get",
        "set",
        "incrby",
        "overflow",
        "wrap",
        "sat",
        "fail",
        "idx",
        "len",
        "withmatchlen",
        "minmatchlen",
        "count",
        "match",
        "type",
        "string",
        "ex",
        "px",
        "exat",
        "pxat",
        "keepttl",
        "persist",
        "nx",
        "xx",
        "gt",
        "lt",
        "bit",
        "byte",
        "replace",
        "db",
        "samples",
        "and",
        "or",
        "xor",
        "not",
        "abs",
        "absttl",
        "idletime",
        "freq",
        "help",
        "fields",
        "withvalues",
        "novalues",
        "limit",
        "left",
        "right",
        "before",
        "after",
        "rank",
        "maxlen",
        "l",
        "z",
        "withscores",
        "withscore",
        "byscore",
        "bylex",
        "rev",
        "limit",
        "weights",
        "aggregate",
        "min",
        "max",
        "(1",
        "[a",
        "(a",
        "-",
        "+",
        "incr",
        "ch",
        "streams",
        "group",
        "g",
        "c",
        "$",
        ">",
        "mkstream",
        "entriesread",
        "nomkstream",
        "minid",
        "~",
        "=",
        "justid",
        "force",
        "idle",
        "retrycount",
        "lastid",
        "full",
        "noack",
        "block",
        "0-1",
        "1-1",
        "(1-1",
        "18446744073709551615-18446744073709551615",
    ];

    /// Every keyspace command (and subcommand) run with random argument lists around its arity: whatever a
    /// client sends, key extraction and the handler must reply rather than panic or overflow (tests run with
    /// overflow checks).
    #[test]
    fn no_argument_list_panics() {
        let mut rng = Rng::new(7);
        let mut specs: Vec<(Vec<&str>, &CommandSpec)> = Vec::new();
        for family in FAMILIES {
            for spec in *family {
                specs.push((vec![spec.name], spec));
                for sub in spec.subcommands {
                    specs.push((vec![spec.name, sub.name], sub));
                }
            }
        }
        let mut failures = Vec::new();
        for (prefix, spec) in specs {
            if !matches!(spec.handler, Handler::Keyspace(_) | Handler::Container) {
                continue;
            }
            let min = spec.arity.unsigned_abs() as usize;
            for _ in 0..1500 {
                let argc = prefix.len() + rng.below((min + 6) as u64) as usize;
                let mut args: Vec<Bytes> =
                    prefix.iter().map(|s| Bytes::from(s.to_string())).collect();
                while args.len() < argc {
                    // Existing keys often enough that handlers get past "no such key".
                    let w = if rng.below(4) == 0 {
                        ["k", "n", "b", "h", "s", "i", "l", "z", "zbig", "x"]
                            [rng.below(10) as usize]
                    } else {
                        WORDS[rng.below(WORDS.len() as u64) as usize]
                    };
                    args.push(Bytes::from(w.to_string()));
                }
                let mut ks = crate::Keyspace::new();
                let mut ctx = crate::ExecCtx::for_write(1_700_000_000_000, 1);
                for setup in [
                    &["set", "k", "hello"][..],
                    &["set", "n", "10"],
                    &["set", "b", "\u{ff}\u{0f}"],
                    &["hset", "h", "x", "1", "k", "v"],
                    &["hpexpire", "h", "100000", "fields", "1", "x"],
                    &["sadd", "s", "1", "x"],
                    &["sadd", "i", "1", "2"],
                    &["rpush", "l", "a", "1", "b", "-2", "a"],
                    &["zadd", "z", "1", "a", "2", "b", "-inf", "c"],
                    &["xadd", "x", "1-1", "a", "1"],
                    &["xadd", "x", "2-1", "a", "2", "b", "3"],
                    &["xgroup", "create", "x", "g", "0"],
                    &["xreadgroup", "group", "g", "c", "streams", "x", ">"],
                    &["xdel", "x", "1-1"],
                ] {
                    let setup: Vec<Bytes> =
                        setup.iter().map(|s| Bytes::from(s.to_string())).collect();
                    execute(&mut ks, &mut ctx, &setup);
                }
                if args.iter().any(|a| a.as_ref() == b"zbig") {
                    // Past the (lowered) listpack limit: the skiplist encoding.
                    ks.config.zset_limits.max_entries = 8;
                    let mut zbig: Vec<Bytes> = vec![Bytes::from("zadd"), Bytes::from("zbig")];
                    for i in 0..12 {
                        zbig.push(Bytes::from((i % 13).to_string()));
                        zbig.push(Bytes::from(format!("m{i}")));
                    }
                    execute(&mut ks, &mut ctx, &zbig);
                }
                let write = resolve(&args).is_ok_and(|s| s.is_write());
                ctx.write = write;
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if let Ok(spec) = resolve(&args) {
                        let _ = spec.key_positions(&args);
                    }
                    execute(&mut ks, &mut ctx, &args)
                }));
                if run.is_err() {
                    failures.push(args);
                }
            }
        }
        assert!(
            failures.is_empty(),
            "panicked on {} lists, first: {:?}",
            failures.len(),
            failures.first()
        );
    }
}
