//! Random argument lists for the commands the node runs itself (CLIENT, CONFIG, HELLO, COMMAND, ...): whatever
//! they get, the server answers and keeps running.

mod common;

use std::io::{Read, Write};

use common::Server;

const COMMANDS: &[&[&str]] = &[
    &["CLIENT"],
    &["CONFIG"],
    &["HELLO"],
    &["AUTH"],
    &["COMMAND"],
    &["SLOWLOG"],
    &["INFO"],
    &["SELECT"],
    &["PING"],
    &["ECHO"],
    &["TIME"],
    &["RESET"],
    &["OBJECT"],
    &["MEMORY"],
];

const WORDS: &[&str] = &[
    "LIST",
    "INFO",
    "KILL",
    "ID",
    "SETNAME",
    "GETNAME",
    "SETINFO",
    "LIB-NAME",
    "GET",
    "SET",
    "RESETSTAT",
    "HELP",
    "COUNT",
    "DOCS",
    "GETKEYS",
    "FILTERBY",
    "PATTERN",
    "ACLCAT",
    "MODULE",
    "LEN",
    "RESET",
    "USAGE",
    "SAMPLES",
    "ENCODING",
    "3",
    "2",
    "4",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "*",
    "?",
    "[",
    "\\",
    "",
    "hz",
    "slowlog-max-len",
    "maxclients",
    "timeout",
    "SKIPME",
    "yes",
    "no",
    "ADDR",
    "127.0.0.1:1",
    "TYPE",
    "normal",
    "pubsub",
    "USER",
    "default",
    "nan",
    "1e400",
    "a b",
    "x\r\ny",
    "all",
    "everything",
];

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_node_commands_never_take_the_server_down() {
    let mut s = Server::start();
    let mut rng = 0x5eed_u64;
    for _ in 0..3000 {
        let mut c = s.raw();
        let base = COMMANDS[(next(&mut rng) % COMMANDS.len() as u64) as usize];
        let mut args: Vec<&str> = base.to_vec();
        for _ in 0..next(&mut rng) % 6 {
            args.push(WORDS[(next(&mut rng) % WORDS.len() as u64) as usize]);
        }
        let mut req = format!("*{}\r\n", args.len());
        for a in &args {
            req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        c.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        // Every command answers something (CLIENT KILL of ourselves answers by closing).
        let _ = c.read(&mut buf);
    }
    assert!(s.is_running(), "the server died");
    let mut c = s.raw();
    c.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap();
    // Random CONFIG SETs may have set a password or a client limit: any reply proves the node serves.
    assert!(n > 0 && matches!(buf[0], b'+' | b'-'), "{:?}", &buf[..n]);
}
