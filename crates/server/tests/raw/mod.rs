//! A raw RESP connection for tests that check exact reply bytes, and small reply accessors.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use redis::Value;

use crate::common::Server;

/// A raw connection that sends commands as multibulk and reads whole replies, to check the exact bytes.
pub struct Raw {
    /// The buffered socket.
    pub r: BufReader<TcpStream>,
}

impl Raw {
    /// Connects to `server`.
    pub fn new(server: &Server) -> Raw {
        Raw {
            r: BufReader::new(server.raw()),
        }
    }

    /// Sends one command as a multibulk request.
    pub fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.r.get_mut().write_all(&out).expect("write");
    }

    /// Sends a command and returns its whole reply as text, exactly as received.
    pub fn call(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.reply()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read");
        assert!(l.ends_with("\r\n"), "truncated reply line {l:?}");
        l
    }

    /// Reads one complete RESP2/RESP3 reply.
    pub fn reply(&mut self) -> String {
        let head = self.line();
        let (kind, rest) = head.split_at(1);
        let n: i64 = rest.trim_end().parse().unwrap_or(0);
        let mut out = head.clone();
        match kind {
            "$" | "=" | "!" if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut body).expect("read body");
                out.push_str(&String::from_utf8_lossy(&body));
            }
            "*" | "~" | ">" => {
                for _ in 0..n.max(0) {
                    out.push_str(&self.reply());
                }
            }
            "%" => {
                for _ in 0..n * 2 {
                    out.push_str(&self.reply());
                }
            }
            _ => {}
        }
        out
    }

    /// Whether the server closed the connection: end of stream (or a reset) before the read timeout.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match self.r.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

/// The text of a string-like reply.
pub fn bulk(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Okay => "OK".into(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The value of an integer reply.
pub fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}
