//! Server commands: INFO, CONFIG, TIME, SLOWLOG, SHUTDOWN, COMMAND. The server runs them (`Handler::Node`);
//! the rows live here so the table is declared in one place.

use crate::table::{acl, flags, CommandSpec, Handler, NodeCommand};

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "get",
        -3,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::ConfigGet),
    )
    .doc(
        "server",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Get the values of configuration parameters",
    ),
    CommandSpec::new(
        "set",
        -4,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::ConfigSet),
    )
    .doc(
        "server",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Set configuration parameters to the given values",
    ),
    CommandSpec::new(
        "resetstat",
        2,
        flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::ConfigResetStat),
    )
    .doc(
        "server",
        "2.0.0",
        "O(1)",
        "Reset the stats returned by INFO",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::ConfigHelp),
    )
    .doc(
        "server",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];
const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "get",
        -2,
        flags::ADMIN | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::SlowlogGet),
    )
    .doc(
        "server",
        "2.2.12",
        "O(N) where N is the number of entries returned",
        "Get the slow log's entries",
    ),
    CommandSpec::new(
        "len",
        2,
        flags::ADMIN | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::SlowlogLen),
    )
    .doc("server", "2.2.12", "O(1)", "Get the slow log's length"),
    CommandSpec::new(
        "reset",
        2,
        flags::ADMIN | flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::SlowlogReset),
    )
    .doc(
        "server",
        "2.2.12",
        "O(N) where N is the number of entries in the slowlog",
        "Clear all entries from the slow log",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        0,
        Handler::Node(NodeCommand::SlowlogHelp),
    )
    .doc(
        "server",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];
const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "count",
        2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandCount),
    )
    .doc(
        "server",
        "2.8.13",
        "O(1)",
        "Get total number of Redis commands",
    ),
    CommandSpec::new(
        "info",
        -2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandInfo),
    )
    .doc(
        "server",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        "Get array of specific Redis command details, or all when no argument is given.",
    ),
    CommandSpec::new(
        "docs",
        -2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandDocs),
    )
    .doc(
        "server",
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        "Get array of specific Redis command documentation",
    ),
    CommandSpec::new(
        "getkeys",
        -4,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandGetKeys),
    )
    .doc(
        "server",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        "Extract keys given a full Redis command",
    ),
    CommandSpec::new(
        "list",
        -2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandList),
    )
    .doc(
        "server",
        "7.0.0",
        "O(N) where N is the total number of Redis commands",
        "Get an array of Redis command names",
    ),
    CommandSpec::new(
        "help",
        2,
        flags::LOADING | flags::STALE,
        acl::CONNECTION,
        Handler::Node(NodeCommand::CommandHelp),
    )
    .doc(
        "server",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[
CommandSpec::new("info", -1, flags::LOADING | flags::STALE, acl::DANGEROUS, Handler::Node(NodeCommand::Info))
    .doc("server", "1.0.0", "O(1)", "Get information and statistics about the server"),
CommandSpec::new("config", -2, 0, 0, Handler::Container)
    .subcommands(CONFIG_SUBCOMMANDS)
    .doc("server", "2.0.0", "Depends on subcommand.", "A container for server configuration commands"),
CommandSpec::new("time", 1, flags::LOADING | flags::STALE | flags::FAST, 0, Handler::Node(NodeCommand::Time))
    .doc("server", "2.6.0", "O(1)", "Return the current server time"),
CommandSpec::new("slowlog", -2, 0, 0, Handler::Container)
    .subcommands(SLOWLOG_SUBCOMMANDS)
    .doc("server", "2.2.12", "Depends on subcommand.", "A container for slow log commands"),
CommandSpec::new("shutdown", -1, flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::NO_MULTI | flags::ALLOW_BUSY, 0, Handler::Node(NodeCommand::Shutdown))
    .doc("server", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously save the dataset to disk and then shut down the server"),
CommandSpec::new("command", -1, flags::LOADING | flags::STALE, acl::CONNECTION, Handler::Node(NodeCommand::Command))
    .subcommands(COMMAND_SUBCOMMANDS)
    .doc("server", "2.8.13", "O(N) where N is the total number of Redis commands", "Get array of Redis command details"),
CommandSpec::new("save", 1, flags::ADMIN | flags::NOSCRIPT | flags::NO_MULTI, 0, Handler::Node(NodeCommand::Save))
    .doc("server", "1.0.0", "O(N) where N is the total number of keys in all databases", "Synchronously save the dataset to disk"),
CommandSpec::new("bgsave", -1, flags::ADMIN | flags::NOSCRIPT, 0, Handler::Node(NodeCommand::Bgsave))
    .doc("server", "1.0.0", "O(N) where N is the total number of keys in all databases", "Asynchronously save the dataset to disk"),
CommandSpec::new("bgrewriteaof", 1, flags::ADMIN | flags::NOSCRIPT, 0, Handler::Node(NodeCommand::Bgrewriteaof))
    .doc("server", "1.0.0", "O(1)", "Asynchronously rewrite the append-only file"),
CommandSpec::new("lastsave", 1, flags::LOADING | flags::STALE | flags::FAST, acl::ADMIN | acl::DANGEROUS, Handler::Node(NodeCommand::Lastsave))
    .doc("server", "1.0.0", "O(1)", "Get the UNIX time stamp of the last successful save to disk"),
CommandSpec::new("role", 1, flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST, acl::ADMIN | acl::DANGEROUS, Handler::Node(NodeCommand::Role))
    .doc("server", "2.8.12", "O(1)", "Return the role of the instance in the context of replication"),
CommandSpec::new("readonly", 1, flags::FAST | flags::LOADING | flags::STALE, acl::CONNECTION, Handler::Node(NodeCommand::Readonly))
    .doc("cluster", "3.0.0", "O(1)", "Enables read queries for a connection to a cluster replica node"),
CommandSpec::new("readwrite", 1, flags::FAST | flags::LOADING | flags::STALE, acl::CONNECTION, Handler::Node(NodeCommand::Readwrite))
    .doc("cluster", "3.0.0", "O(1)", "Disables read queries for a connection to a cluster replica node"),
CommandSpec::new("wait", 3, flags::NOSCRIPT, acl::CONNECTION, Handler::Node(NodeCommand::Wait))
    .doc("generic", "3.0.0", "O(1)", "Wait for the synchronous replication of all the write commands sent in the context of the current connection"),
];
