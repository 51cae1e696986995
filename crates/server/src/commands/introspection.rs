//! COMMAND [COUNT|INFO|DOCS|GETKEYS|LIST|HELP], produced from the command table in Redis 7's shapes.

use std::borrow::Cow;

use bytes::Bytes;
use resp::Frame;
use store::cmd::is;
use store::table::{acl, flags, table, CommandSpec, KeySpec};

use super::{help_reply, text};
use crate::conn::Conn;

/// Finds `name` or `container|sub` in any case (Redis' `lookupCommandBySds`).
fn lookup_by_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|b| *b == b'|');
    let top = store::lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) => top.subcommand(sub),
        _ => None,
    }
}

fn simple(s: &'static str) -> Frame {
    Frame::simple(s)
}

fn key(s: &'static str) -> Frame {
    Frame::bulk_static(s)
}

/// Command flags as `COMMAND INFO` lists them; `may_replicate` is hidden, as Redis hides it.
fn flag_names(spec: &CommandSpec) -> Frame {
    Frame::Set(
        flags::NAMES
            .iter()
            .filter(|(bit, name)| spec.flags & bit != 0 && *name != "may_replicate")
            .map(|(_, name)| simple(name))
            .collect(),
    )
}

fn categories(spec: &CommandSpec) -> Frame {
    let cats = spec.acl_categories();
    Frame::Set(
        acl::NAMES
            .iter()
            .filter(|(bit, _)| cats & bit != 0)
            .map(|(_, name)| Frame::Simple(Cow::Owned(format!("@{name}"))))
            .collect(),
    )
}

/// Access flags of a key spec, from what the table knows: whether the command writes.
fn key_flags(spec: &CommandSpec) -> Frame {
    let mut f = Vec::new();
    if spec.flags & flags::WRITE != 0 {
        f.push(simple("RW"));
    } else if spec.flags & flags::READONLY != 0 {
        f.push(simple("RO"));
    }
    Frame::Set(f)
}

fn key_specs(spec: &CommandSpec) -> Frame {
    let (begin, find) = match spec.keys {
        KeySpec::None => return Frame::Set(Vec::new()),
        KeySpec::Range { first, last, step } => (
            Frame::Map(vec![
                (key("type"), key("index")),
                (
                    key("spec"),
                    Frame::Map(vec![(key("index"), Frame::Integer(first as i64))]),
                ),
            ]),
            Frame::Map(vec![
                (key("type"), key("range")),
                (
                    key("spec"),
                    Frame::Map(vec![
                        // Relative to the first key when counted from the start, as key specs are.
                        (
                            key("lastkey"),
                            Frame::Integer(if last >= 0 { last - first } else { last } as i64),
                        ),
                        (key("keystep"), Frame::Integer(step as i64)),
                        (key("limit"), Frame::Integer(0)),
                    ]),
                ),
            ]),
        ),
        // Key positions computed from the arguments: the table has no declarative spec for them.
        KeySpec::Custom { .. } => {
            let unknown = || {
                Frame::Map(vec![
                    (key("type"), key("unknown")),
                    (key("spec"), Frame::Map(Vec::new())),
                ])
            };
            (unknown(), unknown())
        }
    };
    Frame::Set(vec![Frame::Map(vec![
        (key("flags"), key_flags(spec)),
        (key("begin_search"), begin),
        (key("find_keys"), find),
    ])])
}

/// `[name, arity, flags, first, last, step, categories, tips, key specs, subcommands]`.
fn command_info(spec: &'static CommandSpec) -> Frame {
    let (first, last, step) = match spec.keys {
        KeySpec::None => (0, 0, 0),
        KeySpec::Range { first, last, step }
        | KeySpec::Custom {
            first, last, step, ..
        } => (first, last, step),
    };
    let subcommands = if spec.subcommands.is_empty() {
        Frame::Set(Vec::new())
    } else {
        Frame::Array(spec.subcommands.iter().map(command_info).collect())
    };
    Frame::Array(vec![
        Frame::bulk(table().full_name(spec)),
        Frame::Integer(spec.arity as i64),
        flag_names(spec),
        Frame::Integer(first as i64),
        Frame::Integer(last as i64),
        Frame::Integer(step as i64),
        categories(spec),
        Frame::Set(Vec::new()),
        key_specs(spec),
        subcommands,
    ])
}

fn command_docs(spec: &'static CommandSpec) -> Frame {
    let d = &spec.doc;
    let mut m = Vec::with_capacity(5);
    if !d.summary.is_empty() {
        m.push((key("summary"), Frame::bulk_static(d.summary)));
    }
    if !d.since.is_empty() {
        m.push((key("since"), Frame::bulk_static(d.since)));
    }
    m.push((key("group"), Frame::bulk_static(d.group)));
    if !d.complexity.is_empty() {
        m.push((key("complexity"), Frame::bulk_static(d.complexity)));
    }
    if !spec.subcommands.is_empty() {
        m.push((
            key("subcommands"),
            Frame::Map(
                spec.subcommands
                    .iter()
                    .map(|s| (Frame::bulk(table().full_name(s)), command_docs(s)))
                    .collect(),
            ),
        ));
    }
    Frame::Map(m)
}

/// `COMMAND`: every command's info.
pub fn command(_conn: &mut Conn, _args: &[Bytes]) -> Frame {
    Frame::Array(table().all().iter().map(|s| command_info(s)).collect())
}

/// `COMMAND COUNT`.
pub fn count(_conn: &mut Conn, _args: &[Bytes]) -> Frame {
    Frame::Integer(table().len() as i64)
}

/// `COMMAND INFO [name ...]`: a null for each unknown name.
pub fn info(conn: &mut Conn, args: &[Bytes]) -> Frame {
    if args.len() == 2 {
        return command(conn, args);
    }
    Frame::Array(
        args[2..]
            .iter()
            .map(|n| lookup_by_name(n).map_or(Frame::Null, command_info))
            .collect(),
    )
}

/// `COMMAND DOCS [name ...]`: a map of the known names to their documentation.
pub fn docs(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
        table().all().to_vec()
    } else {
        args[2..].iter().filter_map(|n| lookup_by_name(n)).collect()
    };
    Frame::Map(
        specs
            .into_iter()
            .map(|s| (Frame::bulk(table().full_name(s)), command_docs(s)))
            .collect(),
    )
}

/// `COMMAND GETKEYS command [arg ...]`.
pub fn getkeys(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    let cmd = &args[2..];
    let Some(top) = store::lookup(&cmd[0]) else {
        return Frame::error("ERR Invalid command specified");
    };
    let spec = if cmd.len() >= 2 && !top.subcommands.is_empty() {
        match top.subcommand(&cmd[1]) {
            Some(s) => s,
            None => return Frame::error("ERR Invalid command specified"),
        }
    } else {
        top
    };
    if matches!(spec.keys, KeySpec::None) {
        return Frame::error("ERR The command has no key arguments");
    }
    if !spec.arity_ok(cmd.len()) {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    match spec.key_positions(cmd) {
        Ok(pos) if !pos.is_empty() => Frame::Array(
            pos.into_iter()
                .filter_map(|i| cmd.get(i).cloned().map(Frame::Bulk))
                .collect(),
        ),
        _ if spec.flags & flags::NO_MANDATORY_KEYS != 0 => Frame::Array(Vec::new()),
        _ => Frame::error("ERR Invalid arguments specified for command"),
    }
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`: names, subcommands included.
pub fn list(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    enum Filter {
        None,
        Module,
        Acl(u32),
        Pattern(Bytes),
    }
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "filterby") && args.len() - 1 - i == 2 {
            let arg = &args[i + 2];
            filter = if is(&args[i + 1], "module") {
                Filter::Module
            } else if is(&args[i + 1], "aclcat") {
                let name = text(arg).to_ascii_lowercase();
                Filter::Acl(
                    acl::NAMES
                        .iter()
                        .find(|(_, n)| *n == name)
                        .map_or(0, |(bit, _)| *bit),
                )
            } else if is(&args[i + 1], "pattern") {
                Filter::Pattern(arg.clone())
            } else {
                return store::errors::SYNTAX;
            };
            i += 3;
        } else {
            return store::errors::SYNTAX;
        }
    }
    let keep = |spec: &'static CommandSpec| -> bool {
        match &filter {
            Filter::None => true,
            // No module can be loaded, so no command belongs to one.
            Filter::Module => false,
            Filter::Acl(bit) => *bit != 0 && spec.acl_categories() & bit != 0,
            Filter::Pattern(p) => store::glob::matches(p, table().full_name(spec).as_bytes(), true),
        }
    };
    let mut out = Vec::new();
    for spec in table().all() {
        if keep(spec) {
            out.push(Frame::bulk(table().full_name(spec)));
        }
        for sub in spec.subcommands {
            if keep(sub) {
                out.push(Frame::bulk(table().full_name(sub)));
            }
        }
    }
    Frame::Array(out)
}

/// `COMMAND HELP`.
pub fn help(_conn: &mut Conn, args: &[Bytes]) -> Frame {
    help_reply(
        &args[0],
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    )
}
