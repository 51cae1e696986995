//! The command table, declared once per family in `cmd/*.rs` and used for dispatch, `COMMAND`, slot routing
//! and ACLs.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use resp::Frame;

use crate::exec::ExecCtx;
use crate::keyspace::Keyspace;

/// Signature of a command that runs against the keyspace. `args[0]` is the command name (and for a
/// subcommand `args[1]` its name).
pub type CommandFn = fn(&mut Keyspace, &mut ExecCtx, &[Bytes]) -> Frame;

/// Who executes a command.
#[derive(Clone, Copy, Debug)]
pub enum Handler {
    /// A pure keyspace command; the `WRITE` flag decides whether it goes through the write path.
    Keyspace(CommandFn),
    /// A command that needs the node (connection state, configuration, clients, ...).
    Node(NodeCommand),
    /// A container whose subcommands carry the handlers.
    Container,
}

/// Commands the server crate executes itself.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeCommand {
    Ping,
    Hello,
    Auth,
    Quit,
    Reset,
    Select,
    ClientId,
    ClientSetName,
    ClientGetName,
    ClientList,
    ClientInfo,
    ClientKill,
    ClientSetInfo,
    ClientUnblock,
    ClientReply,
    ClientHelp,
    Info,
    ConfigGet,
    ConfigSet,
    ConfigResetStat,
    ConfigHelp,
    Time,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
    SlowlogHelp,
    Shutdown,
    Command,
    CommandCount,
    CommandInfo,
    CommandDocs,
    CommandGetKeys,
    CommandList,
    CommandHelp,
    Save,
    Bgsave,
    Bgrewriteaof,
    Lastsave,
    Role,
    Readonly,
    Readwrite,
    Wait,
    Subscribe,
    Unsubscribe,
    Psubscribe,
    Punsubscribe,
    Publish,
    Ssubscribe,
    Sunsubscribe,
    Spublish,
    PubsubChannels,
    PubsubNumsub,
    PubsubNumpat,
    PubsubShardChannels,
    PubsubShardNumsub,
    PubsubHelp,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    ClusterInfo,
    ClusterMyId,
    ClusterMyShardId,
    ClusterNodes,
    ClusterSlots,
    ClusterShards,
    ClusterKeySlot,
    ClusterCountKeysInSlot,
    ClusterGetKeysInSlot,
    ClusterReplicas,
    ClusterBootstrap,
    /// The internal commands of resharding (`CLUSTER SETMIGRATION`, `METACAS`, `IMPORT`, `METADATA`).
    ClusterMigration,
    /// `CLUSTER MEMBERSHIP`: a step of adding, moving or removing replicas (server/src/membership.rs).
    ClusterMembership,
    ClusterHelp,
    Asking,
}

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    /// May modify the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Never modifies the keyspace.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused when over `maxmemory`.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative command.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 6;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 7;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 8;
    /// Not shown in MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 9;
    /// Not recorded in the slow log.
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    /// O(1) or O(log n), never delays the server.
    pub const FAST: u32 = 1 << 11;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 12;
    /// May replicate even when read-only.
    pub const MAY_REPLICATE: u32 = 1 << 13;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 14;
    /// Key positions depend on the arguments.
    pub const MOVABLEKEYS: u32 = 1 << 15;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 16;
    /// May take keys to be optional.
    pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
    /// Allowed after ASKING on an importing slot.
    pub const ASKING: u32 = 1 << 18;

    /// Flag names in `COMMAND INFO` order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories. Those implied by flags (`@write`, `@read`, `@fast`, `@slow`, `@admin`, `@dangerous`,
/// `@blocking`, `@pubsub`) are derived as Redis derives them; the rest are declared.
pub mod acl {
    #![allow(missing_docs)]
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    /// Category names, in Redis' order.
    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Where a command's keys are.
#[derive(Clone, Copy, Debug)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys at `first`, then every `step`, up to `last` (negative counts from the end: -1 is the last argument).
    Range {
        /// Index of the first key.
        first: i32,
        /// Index of the last key, negative from the end.
        last: i32,
        /// Distance between keys.
        step: i32,
    },
    /// Key positions computed from the arguments (`movablekeys`); `first/last/step` are the legacy hints.
    Custom {
        /// Legacy first key hint.
        first: i32,
        /// Legacy last key hint.
        last: i32,
        /// Legacy step hint.
        step: i32,
        /// Returns the indexes of the keys in `args`, or an error reply for malformed arguments.
        find: fn(&[Bytes]) -> Result<Vec<usize>, Frame>,
    },
}

/// Text for `COMMAND DOCS`.
#[derive(Clone, Copy, Debug)]
pub struct Doc {
    /// Command group (`string`, `generic`, `connection`, ...).
    pub group: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
}

/// One command's declaration.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lower-case name (for a subcommand, the subcommand's name alone).
    pub name: &'static str,
    /// Redis arity: N exactly N arguments (name included), -N at least N.
    pub arity: i32,
    /// Bits of [`flags`].
    pub flags: u32,
    /// Declared bits of [`acl`] (flag-implied categories are added by [`CommandSpec::acl_categories`]).
    pub acl: u32,
    /// Key positions.
    pub keys: KeySpec,
    /// Who runs it.
    pub handler: Handler,
    /// Subcommands of a container (`OBJECT ENCODING`, ...).
    pub subcommands: &'static [CommandSpec],
    /// Documentation.
    pub doc: Doc,
    /// For a command that may block (BLPOP, ...): where it waits when it finds nothing ([`crate::blocking`]).
    pub block_on: Option<crate::blocking::BlockFn>,
    /// Which of its keys a write command may change (WATCH counts those as touched when it changed anything).
    pub writes: Writes,
    /// Whether a keyless command covers every shard in cluster mode (Redis' `request_policy:all_shards` tip).
    pub all_shards: AllShards,
}

/// When a keyless command is about the whole keyspace, so that in cluster mode each node answers for every shard
/// it leads (DBSIZE sums, KEYS concatenates, FLUSHALL empties each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllShards {
    /// Never (the default): it runs where it is sent.
    No,
    /// Always.
    Always,
    /// With exactly one argument, this one (case-insensitive): `DEBUG DIGEST`.
    WithArgument(&'static str),
}

/// Which keys of a write command may change: Redis' key-spec `RW`/`OW` versus `RO` flags, reduced to what
/// WATCH needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writes {
    /// Any of them (the default).
    AllKeys,
    /// Only the first key (a destination before its sources: SUNIONSTORE, ZRANGESTORE, BITOP).
    FirstKey,
    /// Only the last key (COPY's destination).
    LastKey,
    /// Only the key the reply names first: a pop from the first non-empty of several keys (BLPOP, LMPOP,
    /// BZPOPMIN, ZMPOP, ...), whose reply starts with the key it popped from.
    PoppedKey,
}

impl CommandSpec {
    /// A command with no keys and no documentation yet; refine with the builder methods.
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        acl: u32,
        handler: Handler,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            acl,
            keys: KeySpec::None,
            handler,
            subcommands: &[],
            doc: Doc {
                group: "generic",
                since: "1.0.0",
                summary: "",
                complexity: "O(1)",
            },
            block_on: None,
            writes: Writes::AllKeys,
            all_shards: AllShards::No,
        }
    }

    /// Sets key positions as a range.
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> CommandSpec {
        self.keys = KeySpec::Range { first, last, step };
        self
    }

    /// Sets computed key positions.
    pub const fn keys_fn(
        mut self,
        first: i32,
        last: i32,
        step: i32,
        find: fn(&[Bytes]) -> Result<Vec<usize>, Frame>,
    ) -> CommandSpec {
        self.keys = KeySpec::Custom {
            first,
            last,
            step,
            find,
        };
        self.flags |= flags::MOVABLEKEYS;
        self
    }

    /// Sets the documentation.
    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> CommandSpec {
        self.doc = Doc {
            group,
            since,
            summary,
            complexity,
        };
        self
    }

    /// Declares where the command waits when it may block and finds nothing to serve.
    pub const fn blocks_on(mut self, f: crate::blocking::BlockFn) -> CommandSpec {
        self.block_on = Some(f);
        self
    }

    /// Declares that only some of the keys may change ([`Writes`]).
    pub const fn writes(mut self, w: Writes) -> CommandSpec {
        self.writes = w;
        self
    }

    /// Declares the command as covering every shard (see [`AllShards`]).
    pub const fn all_shards(mut self, when: AllShards) -> CommandSpec {
        self.all_shards = when;
        self
    }

    /// Whether this call (`args` with the command name first) covers every shard (see [`AllShards`]).
    pub fn spans_shards(&self, args: &[Bytes]) -> bool {
        match self.all_shards {
            AllShards::No => false,
            AllShards::Always => true,
            AllShards::WithArgument(a) => {
                args.len() == 2 && args[1].eq_ignore_ascii_case(a.as_bytes())
            }
        }
    }

    /// Sets the subcommands of a container.
    pub const fn subcommands(mut self, subs: &'static [CommandSpec]) -> CommandSpec {
        self.subcommands = subs;
        self
    }

    /// Whether the command may modify the keyspace.
    pub fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Declared categories plus those Redis derives from flags.
    pub fn acl_categories(&self) -> u32 {
        let mut c = self.acl;
        if self.flags & flags::WRITE != 0 {
            c |= acl::WRITE;
        }
        if self.flags & flags::READONLY != 0 && c & acl::SCRIPTING == 0 {
            c |= acl::READ;
        }
        if self.flags & flags::ADMIN != 0 {
            c |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.flags & flags::PUBSUB != 0 {
            c |= acl::PUBSUB;
        }
        if self.flags & flags::FAST != 0 {
            c |= acl::FAST;
        }
        if self.flags & flags::BLOCKING != 0 {
            c |= acl::BLOCKING;
        }
        if c & acl::FAST == 0 {
            c |= acl::SLOW;
        }
        c
    }

    /// Indexes of the key arguments in `args`.
    pub fn key_positions(&self, args: &[Bytes]) -> Result<Vec<usize>, Frame> {
        match self.keys {
            KeySpec::None => Ok(Vec::new()),
            KeySpec::Range { first, last, step } => {
                let argc = args.len() as i32;
                let last = if last < 0 { argc + last } else { last };
                let mut out = Vec::new();
                let mut i = first;
                while i <= last && i < argc && step > 0 {
                    out.push(i as usize);
                    i += step;
                }
                Ok(out)
            }
            KeySpec::Custom { find, .. } => find(args),
        }
    }

    /// The subcommand named `name` (any case).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Every command, by lower-case name.
pub struct CommandTable {
    by_name: HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>,
    ordered: Vec<&'static CommandSpec>,
    /// Full names of subcommands (`client|list`), by the address of their spec.
    full_names: HashMap<usize, &'static str>,
}

impl CommandTable {
    fn build() -> CommandTable {
        let mut by_name = HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x7ab1e));
        let mut ordered = Vec::new();
        let mut full_names = HashMap::new();
        for family in crate::cmd::FAMILIES {
            for spec in family.iter() {
                let prev = by_name.insert(spec.name, spec);
                assert!(prev.is_none(), "command {} declared twice", spec.name);
                ordered.push(spec);
                for sub in spec.subcommands {
                    // Built once per process: the leak gives subcommand names the same lifetime as the table.
                    let full: &'static str =
                        Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str());
                    full_names.insert(sub as *const CommandSpec as usize, full);
                }
            }
        }
        CommandTable {
            by_name,
            ordered,
            full_names,
        }
    }

    /// Every command in declaration order.
    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.ordered
    }

    /// The name `INFO commandstats` and `CLIENT LIST` use: `get`, or `client|list` for a subcommand.
    pub fn full_name(&self, spec: &'static CommandSpec) -> &'static str {
        self.full_names
            .get(&(spec as *const CommandSpec as usize))
            .copied()
            .unwrap_or(spec.name)
    }

    /// Number of top-level commands.
    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    /// Whether the table is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }
}

static TABLE: LazyLock<CommandTable> = LazyLock::new(CommandTable::build);

/// The command table.
pub fn table() -> &'static CommandTable {
    &TABLE
}

/// Finds a command by name in any case, without allocating for names of ordinary length.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let s = std::str::from_utf8(lower).ok()?;
    TABLE.by_name.get(s).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(args: &[&str]) -> bool {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        lookup(&args[0]).unwrap().spans_shards(&args)
    }

    #[test]
    fn the_table_says_which_keyless_commands_cover_every_shard() {
        for cmd in ["DBSIZE", "KEYS", "SCAN", "RANDOMKEY", "FLUSHALL", "FLUSHDB"] {
            assert!(spans(&[cmd]), "{cmd}");
        }
        assert!(spans(&["KEYS", "*"]) && spans(&["SCAN", "0"]) && spans(&["FLUSHALL", "ASYNC"]));
        assert!(spans(&["DEBUG", "digest"]) && spans(&["debug", "DIGEST"]));
        assert!(!spans(&["DEBUG", "OBJECT", "k"]) && !spans(&["DEBUG", "digest-value", "k"]));
        for cmd in ["GET", "PING", "INFO", "CLUSTER"] {
            assert!(!spans(&[cmd]), "{cmd}");
        }
    }
}
