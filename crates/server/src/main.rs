//! `shoal-server [config-file] [--name value ...]`: runs one Shoal node.
//! `shoal-server cluster create host:port ... --shards N --replicas R`: creates a cluster of running nodes.

use std::process::ExitCode;

use server::config::Config;
use server::node::{self, Node};
use tracing::{error, info};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        // The version line is for a terminal, as `redis-server -v` prints it.
        let line = format!("Shoal server v={}\n", env!("CARGO_PKG_VERSION"));
        let _ = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes());
        return ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("--health-check") {
        return health_check(args.get(1).map_or("127.0.0.1:6379", String::as_str));
    }
    if args.first().map(String::as_str) == Some("cluster") {
        return server::admin::main(&args[1..]);
    }
    let config = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("*** FATAL CONFIG FILE ERROR ***\n{e}\n").as_bytes(),
            );
            return ExitCode::from(1);
        }
    };
    if let Err(e) = server::logging::init(config.get("loglevel"), config.get("logfile")) {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("Can't open the log file: {e}\n").as_bytes(),
        );
        return ExitCode::from(1);
    }
    let pidfile = config.get("pidfile").to_string();
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            error!(%pidfile, error = %e, "failed to write the pid file");
        }
    }
    // `io-threads` keeps Redis' name: the threads that serve connections. One thread runs everything on the main
    // thread, as Redis' event loop does, with no cross-thread wake-ups.
    let threads = config.get_i64("io-threads").max(1) as usize;
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        let port = config.get_i64("port") as u16;
        let bind = config.get("bind").to_string();
        let backlog = config.get_i64("tcp-backlog").clamp(0, u32::MAX as i64) as u32;
        let cluster_mode = config.get_bool("cluster-enabled");
        let node = Node::new(config);
        if cluster_mode {
            match server::cluster::ClusterNode::start(&node).await {
                Ok(c) => {
                    let _ = node.cluster.set(c);
                }
                Err(e) => {
                    error!(error = %e, "cannot start cluster mode");
                    return ExitCode::from(1);
                }
            }
        } else {
            match server::replication::Replication::start(&node).await {
                Ok(r) => node.shard.set_replication(r),
                Err(e) => {
                    error!(error = %e, "cannot start the shard");
                    return ExitCode::from(1);
                }
            }
        }
        node.refresh_hot_config();
        let listeners = match node::bind(&bind, port, backlog).await {
            Ok(l) if !l.is_empty() => l,
            Ok(_) => {
                error!(%bind, "no address to listen on");
                return ExitCode::from(1);
            }
            Err(e) => {
                error!(%bind, port, error = %e, "could not bind");
                return ExitCode::from(1);
            }
        };
        let signals = tokio::spawn(wait_for_signal(node.clone()));
        info!(version = env!("CARGO_PKG_VERSION"), port, "shoal starting");
        node::run(node, listeners).await;
        signals.abort();
        ExitCode::SUCCESS
    });
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    code
}

async fn wait_for_signal(node: std::sync::Arc<Node>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("received SIGTERM, scheduling shutdown"),
        _ = int.recv() => info!("received SIGINT, scheduling shutdown"),
    }
    node.shutdown();
}

/// `shoal-server --health-check [host:port]`: exits 0 if a node answers PING there (or asks for a password),
/// 1 otherwise. Container health checks run it: a `FROM scratch` image has no shell and no redis-cli.
fn health_check(addr: &str) -> ExitCode {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let timeout = Duration::from_secs(2);
    let probe = || -> std::io::Result<bool> {
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut s = TcpStream::connect_timeout(&target, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf)?;
        let reply = &buf[..n];
        Ok(reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            let _ = std::io::stderr()
                .write_all(format!("{addr}: unexpected reply to PING\n").as_bytes());
            ExitCode::from(1)
        }
        Err(e) => {
            let _ = std::io::stderr().write_all(format!("{addr}: {e}\n").as_bytes());
            ExitCode::from(1)
        }
    }
}
