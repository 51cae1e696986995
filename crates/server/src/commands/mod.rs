//! Commands the node runs itself (`Handler::Node`): they need connection state, clients or configuration.

use bytes::Bytes;
use resp::Frame;
use store::NodeCommand;

use crate::conn::Conn;

mod connection;

/// Runs a node command for the connection `conn`.
pub fn run(conn: &mut Conn, cmd: NodeCommand, args: &[Bytes]) -> Frame {
    use NodeCommand::*;
    match cmd {
        Ping => connection::ping(conn, args),
        Quit => connection::quit(conn, args),
        Select => connection::select(conn, args),
        _ => store::errors::unknown_command(&args[0], &args[1..]),
    }
}
