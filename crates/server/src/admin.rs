//! `shoal-server cluster ...`: administration of a cluster of running nodes, over their client port.
//!
//! `cluster create host:port[@busport] ... [--shards N] [--replicas R]` numbers the nodes 1, 2, ... in the order
//! given, splits the 16384 slots evenly over N shards (redis-cli's split), places each shard's R replicas on
//! distinct nodes (shard s on nodes s, s+1, ... round the ring, so every node is the first replica, and leader,
//! of as many shards as any other), sends every node the layout (`CLUSTER BOOTSTRAP`), and waits until every
//! node reports `cluster_state:ok`.
//!
//! It is idempotent, so a deployment can run it on every start (the compose file's one-shot service): when every
//! node given already belongs to one cluster that knows all of them, it changes nothing, waits for
//! `cluster_state:ok` and succeeds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cluster::{Metadata, NodeInfo};
use resp::Frame;

use crate::cluster::membership;

const USAGE: &str = "usage: shoal-server cluster create host:port[@busport] [host:port ...] [--shards N] [--replicas R] [--timeout SECONDS]
       shoal-server cluster move-slots --slots A-B[,C-D...] --to SHARD host:port [--timeout SECONDS]
       shoal-server cluster rebalance host:port [--timeout SECONDS]";

/// Runs `shoal-server cluster <args>`; prints to stdout/stderr (a command-line tool, not the server).
pub fn main(args: &[String]) -> ExitCode {
    let result = match args.first().map(String::as_str) {
        Some("create") => create(&args[1..]),
        Some("move-slots") => crate::migration::move_slots_cli(&args[1..]),
        Some("rebalance") => crate::migration::rebalance_cli(&args[1..]),
        Some("add-node") => membership::add_node(&args[1..]),
        Some("move-replica") => membership::move_replica(&args[1..]),
        Some("rebalance-replicas") => membership::rebalance_replicas(&args[1..]),
        Some("remove-node") => membership::remove_node(&args[1..]),
        _ => Err(format!("{USAGE}\n{}", membership::USAGE)),
    };
    match result {
        Ok(report) => {
            let _ = std::io::stdout().write_all(report.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = std::io::stderr().write_all(format!("[ERR] {e}\n").as_bytes());
            ExitCode::from(1)
        }
    }
}

/// The options of `cluster create`.
#[derive(Debug, PartialEq, Eq)]
pub struct CreateOptions {
    /// The nodes, in the order given (node ids follow it).
    pub nodes: Vec<NodeInfo>,
    /// Number of shards (default: one per node).
    pub shards: usize,
    /// Replicas per shard (default: 3, or fewer nodes).
    pub replicas: usize,
    /// How long to wait for the cluster to be ready.
    pub timeout: Duration,
}

pub(crate) fn parse_node(word: &str) -> Result<NodeInfo, String> {
    let bad = || format!("invalid node address '{word}' (want host:port[@busport])");
    let (client, bus) = match word.split_once('@') {
        Some((c, b)) => (c, Some(b)),
        None => (word, None),
    };
    let (host, port) = client.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let bus_port = match bus {
        Some(b) => b.parse().map_err(|_| bad())?,
        None => port.checked_add(10000).ok_or_else(bad)?,
    };
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(NodeInfo {
        id: 0,
        host: host.to_string(),
        port,
        bus_port,
    })
}

/// Parses the arguments of `cluster create`.
pub fn parse_create(args: &[String]) -> Result<CreateOptions, String> {
    let mut nodes = Vec::new();
    let (mut shards, mut replicas, mut timeout) = (None, None, 30u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--shards" => shards = Some(value("--shards")? as usize),
            "--replicas" => replicas = Some(value("--replicas")? as usize),
            "--timeout" => timeout = value("--timeout")?,
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            s => nodes.push(parse_node(s)?),
        }
    }
    if nodes.is_empty() {
        return Err(USAGE.to_string());
    }
    Ok(CreateOptions {
        shards: shards.unwrap_or(nodes.len()),
        replicas: replicas.unwrap_or(nodes.len().min(3)),
        nodes,
        timeout: Duration::from_secs(timeout),
    })
}

/// A minimal blocking RESP client for the administration commands.
pub(crate) struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(addr: &str) -> Result<Client, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("cannot reach {addr}: {e}"))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub(crate) fn call(&mut self, args: &[&[u8]]) -> Result<Frame, String> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&req).map_err(|e| e.to_string())?;
        loop {
            if let Some((frame, used)) = resp::parse_reply(&self.buf).map_err(|e| e.0.clone())? {
                self.buf.drain(..used);
                return Ok(frame);
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

pub(crate) fn frame_text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(text).into_owned(),
        Frame::Simple(s) | Frame::Error(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Waits until every node reports `cluster_state:ok`.
fn wait_ok(clients: &mut [(NodeInfo, Client)], deadline: Instant) -> Result<(), String> {
    for (n, c) in clients {
        loop {
            let info = frame_text(&c.call(&[b"CLUSTER", b"INFO"])?);
            if info.contains("cluster_state:ok") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not report cluster_state:ok in time:\n{info}",
                    n.client_addr()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// The `host:port` addresses in a `CLUSTER NODES` reply.
fn nodes_addrs(reply: &str) -> Vec<String> {
    reply
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .map(|a| a.split('@').next().unwrap_or(a).to_string())
        .collect()
}

/// Whether every node already belongs to a cluster whose `CLUSTER NODES` lists all of them.
fn already_created(clients: &mut [(NodeInfo, Client)]) -> Result<bool, String> {
    let wanted: Vec<String> = clients.iter().map(|(n, _)| n.client_addr()).collect();
    for (n, c) in clients.iter_mut() {
        let id = frame_text(&c.call(&[b"CLUSTER", b"MYID"])?);
        if id.bytes().all(|b| b == b'0') {
            return Ok(false);
        }
        let known = nodes_addrs(&frame_text(&c.call(&[b"CLUSTER", b"NODES"])?));
        if let Some(missing) = wanted.iter().find(|a| !known.contains(a)) {
            return Err(format!(
                "{} already belongs to a cluster that does not include {missing}",
                n.client_addr()
            ));
        }
    }
    Ok(true)
}

fn create(args: &[String]) -> Result<String, String> {
    let opts = parse_create(args)?;
    let meta = Metadata::layout(opts.nodes, opts.shards, opts.replicas)?;
    let blob = meta.encode();
    let mut clients = Vec::new();
    for n in meta.nodes.values() {
        let mut c = Client::connect(&n.client_addr())?;
        let info = c.call(&[b"CLUSTER", b"INFO"])?;
        if let Frame::Error(e) = &info {
            return Err(format!("{}: {e}", n.client_addr()));
        }
        clients.push((n.clone(), c));
    }
    let deadline = Instant::now() + opts.timeout;
    if already_created(&mut clients)? {
        wait_ok(&mut clients, deadline)?;
        return Ok(format!(
            "[OK] The {} nodes already form a cluster: nothing changed.\n",
            clients.len()
        ));
    }
    for (n, c) in &mut clients {
        let id = n.id.to_string();
        if let Frame::Error(e) = c.call(&[b"CLUSTER", b"BOOTSTRAP", id.as_bytes(), &blob])? {
            return Err(format!("{}: {e}", n.client_addr()));
        }
    }
    wait_ok(&mut clients, deadline)?;
    let mut out = String::new();
    for s in meta.shards.values() {
        let ranges: Vec<String> = meta
            .slots
            .ranges_of(s.id)
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect();
        let replicas: Vec<String> = s
            .replicas
            .iter()
            .map(|r| meta.nodes[r].client_addr())
            .collect();
        out.push_str(&format!(
            "shard {} slots {} replicas {}\n",
            s.id,
            ranges.join(","),
            replicas.join(" ")
        ));
    }
    out.push_str(&format!(
        "[OK] All 16384 slots covered: {} nodes, {} shards x {} replicas.\n",
        meta.nodes.len(),
        meta.shards.len(),
        opts.replicas
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn create_options_parse_with_defaults() {
        let o = parse_create(&args("127.0.0.1:7001 127.0.0.1:7002 h:7003@9000")).unwrap();
        assert_eq!((o.shards, o.replicas), (3, 3));
        assert_eq!(o.nodes[0].bus_port, 17001);
        assert_eq!(o.nodes[2].bus_port, 9000);
        assert_eq!(o.nodes[2].host, "h");
        let o = parse_create(&args("a:1 b:2 c:3 d:4 --shards 8 --replicas 2")).unwrap();
        assert_eq!((o.shards, o.replicas), (8, 2));
        let o = parse_create(&args("a:1")).unwrap();
        assert_eq!((o.shards, o.replicas), (1, 1));
        assert!(parse_create(&args("")).is_err());
        assert!(parse_create(&args("a:1 --shards")).is_err());
        assert!(parse_create(&args("a:1 --bogus 1")).is_err());
        assert!(parse_create(&args("a")).is_err());
        assert!(parse_create(&args("a:0")).is_err());
        assert!(parse_create(&args(":1")).is_err());
    }

    #[test]
    fn cluster_nodes_addresses_drop_the_bus_port() {
        let reply = "0001 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460\n\
                     0002 h:7002@9000 slave 0001 0 0 1 connected\n";
        assert_eq!(nodes_addrs(reply), ["10.0.0.1:7001", "h:7002"]);
        assert!(nodes_addrs("").is_empty());
    }
}
