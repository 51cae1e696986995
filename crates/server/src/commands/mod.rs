//! Commands the node runs itself (`Handler::Node`): they need connection state, clients or configuration.
//!
//! - `connection`: PING, QUIT, SELECT, HELLO, AUTH, RESET.
//! - `client`: CLIENT and its subcommands (UNBLOCK ends another client's blocking command).
//! - `info`: INFO.
//! - `config_cmd`: CONFIG GET/SET/RESETSTAT/HELP.
//! - `server`: TIME, SLOWLOG, SHUTDOWN.
//! - `introspection`: COMMAND and its subcommands, produced from the command table.
//! - `pubsub`: SUBSCRIBE and the other pub/sub commands, with each connection's subscriptions.
//! - `replication`: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, ROLE, READONLY, READWRITE, WAIT.
//! - `cluster`: CLUSTER and its subcommands, ASKING.

use std::borrow::Cow;

use bytes::Bytes;
use resp::Frame;
use store::NodeCommand;

use crate::conn::Conn;

mod client;
pub mod cluster;
mod config_cmd;
mod connection;
mod info;
mod introspection;
pub mod pubsub;
mod replication;
mod server;

/// Runs a node command for the connection `conn`.
pub fn run(conn: &mut Conn, cmd: NodeCommand, args: &[Bytes]) -> Frame {
    use NodeCommand::*;
    match cmd {
        Ping => connection::ping(conn, args),
        Quit => connection::quit(conn, args),
        Select => connection::select(conn, args),
        Hello => connection::hello(conn, args),
        Auth => connection::auth(conn, args),
        Reset => connection::reset(conn, args),
        ClientId => client::id(conn, args),
        ClientSetName => client::setname(conn, args),
        ClientGetName => client::getname(conn, args),
        ClientList => client::list(conn, args),
        ClientInfo => client::info(conn, args),
        ClientKill => client::kill(conn, args),
        ClientSetInfo => client::setinfo(conn, args),
        ClientUnblock => client::unblock(conn, args),
        ClientReply => client::reply(conn, args),
        ClientHelp => client::help(conn, args),
        Info => info::info(conn, args),
        ConfigGet => config_cmd::get(conn, args),
        ConfigSet => config_cmd::set(conn, args),
        ConfigResetStat => config_cmd::resetstat(conn, args),
        ConfigHelp => config_cmd::help(conn, args),
        Time => server::time(conn, args),
        SlowlogGet => server::slowlog_get(conn, args),
        SlowlogLen => server::slowlog_len(conn, args),
        SlowlogReset => server::slowlog_reset(conn, args),
        SlowlogHelp => server::slowlog_help(conn, args),
        Shutdown => server::shutdown(conn, args),
        Command => introspection::command(conn, args),
        CommandCount => introspection::count(conn, args),
        CommandInfo => introspection::info(conn, args),
        CommandDocs => introspection::docs(conn, args),
        CommandGetKeys => introspection::getkeys(conn, args),
        CommandList => introspection::list(conn, args),
        CommandHelp => introspection::help(conn, args),
        Bgsave => replication::bgsave(conn, args),
        Bgrewriteaof => replication::bgrewriteaof(conn, args),
        Lastsave => replication::lastsave(conn, args),
        Role => replication::role(conn, args),
        Readonly => replication::readonly(conn, args),
        Readwrite => replication::readwrite(conn, args),
        Publish => pubsub::publish(conn, args),
        Spublish => pubsub::spublish(conn, args),
        PubsubChannels => pubsub::channels(conn, args),
        PubsubNumsub => pubsub::num_sub(conn, args),
        PubsubNumpat => pubsub::num_pat(conn, args),
        PubsubShardChannels => pubsub::shard_channels(conn, args),
        PubsubShardNumsub => pubsub::shard_num_sub(conn, args),
        PubsubHelp => pubsub::help(conn, args),
        Subscribe | Unsubscribe | Psubscribe | Punsubscribe | Ssubscribe | Sunsubscribe => {
            let mut frames = run_multi(conn, cmd, args).unwrap_or_default();
            frames.pop().unwrap_or(Frame::Null)
        }
        Multi => crate::multi::multi(conn, args),
        Discard => crate::multi::discard(conn, args),
        Unwatch => crate::multi::unwatch(conn, args),
        ClusterInfo => cluster::info(conn, args),
        ClusterMyId => cluster::myid(conn, args),
        ClusterMyShardId => cluster::myshardid(conn, args),
        ClusterNodes => cluster::nodes(conn, args),
        ClusterReplicas => cluster::replicas(conn, args),
        ClusterSlots => cluster::slots(conn, args),
        ClusterShards => cluster::shards(conn, args),
        ClusterKeySlot => cluster::keyslot(conn, args),
        ClusterCountKeysInSlot => cluster::countkeysinslot(conn, args),
        ClusterGetKeysInSlot => cluster::getkeysinslot(conn, args),
        ClusterHelp => cluster::help(conn, args),
        Asking => cluster::asking(conn, args),
        Save | Wait | Exec | Watch | ClusterBootstrap | ClusterMembership | ClusterMigration => {
            Frame::error("ERR command must run asynchronously")
        }
    }
}

/// Runs a command that answers with several replies (one confirmation per channel); `None` for the others.
pub fn run_multi(conn: &mut Conn, cmd: NodeCommand, args: &[Bytes]) -> Option<Vec<Frame>> {
    use crate::pubsub::Kind;
    use NodeCommand::*;
    Some(match cmd {
        Subscribe => pubsub::subscribe(conn, args, Kind::Channel),
        Psubscribe => pubsub::subscribe(conn, args, Kind::Pattern),
        Ssubscribe => pubsub::subscribe(conn, args, Kind::Shard),
        Unsubscribe => pubsub::unsubscribe(conn, args, Kind::Channel),
        Punsubscribe => pubsub::unsubscribe(conn, args, Kind::Pattern),
        Sunsubscribe => pubsub::unsubscribe(conn, args, Kind::Shard),
        _ => return None,
    })
}

/// Whether the command waits for the shard (a snapshot, replicas) and must run through [`run_async`].
pub fn is_async(cmd: NodeCommand) -> bool {
    matches!(
        cmd,
        NodeCommand::Save
            | NodeCommand::Wait
            | NodeCommand::Exec
            | NodeCommand::Watch
            | NodeCommand::ClusterBootstrap
            | NodeCommand::ClusterMembership
            | NodeCommand::ClusterMigration
    )
}

/// Runs a node command that waits for the shard.
pub async fn run_async(conn: &mut Conn, cmd: NodeCommand, args: &[Bytes]) -> Frame {
    match cmd {
        NodeCommand::Save => replication::save(conn, args).await,
        NodeCommand::Wait => replication::wait(conn, args).await,
        NodeCommand::Exec => crate::multi::exec(conn, args).await,
        NodeCommand::Watch => crate::multi::watch(conn, args).await,
        NodeCommand::ClusterBootstrap => cluster::bootstrap(conn, args).await,
        NodeCommand::ClusterMembership => crate::cluster::membership::command(conn, args).await,
        NodeCommand::ClusterMigration => crate::migration::command(conn, args).await,
        other => run(conn, other, args),
    }
}

/// Redis' `addReplyHelp`: a header naming the command as sent, the lines, and the HELP footer, as status replies.
fn help_reply(cmd: &[u8], lines: &[&'static str]) -> Frame {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Frame::Simple(Cow::Owned(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(cmd).to_ascii_uppercase()
    ))));
    out.extend(lines.iter().map(|l| Frame::simple(l)));
    out.push(Frame::simple("HELP"));
    out.push(Frame::simple("    Prints this help."));
    Frame::Array(out)
}

/// Redis' `addReplySubcommandSyntaxError`.
fn subcommand_syntax_error(args: &[Bytes]) -> Frame {
    Frame::error_owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        store::errors::sanitize(&args[1], 128),
        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
    ))
}

/// An argument as text for error messages and names, with invalid UTF-8 replaced.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bulk reply from an owned string, without copying it.
fn bulk_string(s: String) -> Frame {
    Frame::Bulk(Bytes::from(s))
}
