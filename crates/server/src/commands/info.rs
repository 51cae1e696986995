//! INFO: Redis' sections and field names, with numbers Shoal actually measures. Fields for machinery Shoal does
//! not have (forks, a replication backlog) show the value Redis shows when that machinery is idle.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use resp::Frame;

use super::connection::REDIS_VERSION;
use crate::conn::Conn;
use crate::metrics::{bytes_to_human, process};
use crate::node::{unix_ms, Node};

/// Sections of a plain `INFO` (Redis' `default_sections`).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// `INFO [section ...]`.
pub fn info(conn: &mut Conn, args: &[Bytes]) -> Frame {
    Frame::Verbatim {
        format: *b"txt",
        text: Bytes::from(info_string(&conn.node, &args[1..])),
    }
}

/// Which sections to print, as Redis' `genInfoSectionDict` decides (names in any case).
struct Selection {
    names: HashSet<String>,
    all: bool,
}

impl Selection {
    fn new(args: &[Bytes]) -> Selection {
        let mut names = HashSet::new();
        let mut all = false;
        let defaults = |names: &mut HashSet<String>| {
            names.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
        };
        if args.is_empty() {
            defaults(&mut names);
        }
        for a in args {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            match name.as_str() {
                "default" => defaults(&mut names),
                "all" | "everything" => all = true,
                _ => {
                    names.insert(name);
                }
            }
        }
        Selection { names, all }
    }

    fn wants(&self, section: &str) -> bool {
        self.all || self.names.contains(section)
    }
}

/// The text of `INFO` for `args` (section names, `default`, `all`, `everything`).
pub fn info_string(node: &Node, args: &[Bytes]) -> String {
    let sel = Selection::new(args);
    let mut out = String::with_capacity(4096);
    let section = |out: &mut String, title: &str| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {title}\r\n");
    };
    if sel.wants("server") {
        section(&mut out, "Server");
        server(node, &mut out);
    }
    if sel.wants("clients") {
        section(&mut out, "Clients");
        clients(node, &mut out);
    }
    if sel.wants("memory") {
        section(&mut out, "Memory");
        memory(node, &mut out);
    }
    if sel.wants("persistence") {
        section(&mut out, "Persistence");
        persistence(node, &mut out);
    }
    if sel.wants("stats") {
        section(&mut out, "Stats");
        stats(node, &mut out);
    }
    if sel.wants("replication") {
        section(&mut out, "Replication");
        replication(node, &mut out);
    }
    if sel.wants("cpu") {
        section(&mut out, "CPU");
        cpu(&mut out);
    }
    if sel.wants("module_list") || sel.wants("modules") {
        // No modules can be loaded: the section is always empty.
        section(&mut out, "Modules");
    }
    if sel.wants("commandstats") {
        section(&mut out, "Commandstats");
        commandstats(node, &mut out);
    }
    if sel.wants("errorstats") {
        section(&mut out, "Errorstats");
        errorstats(node, &mut out);
    }
    if sel.wants("cluster") {
        section(&mut out, "Cluster");
        let enabled = node.config.read().get_bool("cluster-enabled");
        let _ = write!(out, "cluster_enabled:{}\r\n", enabled as u8);
    }
    if sel.wants("keyspace") {
        section(&mut out, "Keyspace");
        keyspace(node, &mut out);
    }
    out
}

/// Appends `name:value\r\n` lines.
macro_rules! fields {
    ($out:expr, $($name:literal => $value:expr),* $(,)?) => {
        $( let _ = write!($out, concat!($name, ":{}\r\n"), $value); )*
    };
}

fn server(node: &Node, out: &mut String) {
    let cfg = node.config.read();
    let uptime = node.started.elapsed().as_secs();
    let now_ms = unix_ms();
    let port = node
        .bound
        .lock()
        .first()
        .map_or(cfg.get_i64("port"), |a| a.port() as i64);
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = cfg
        .file
        .as_ref()
        .map(|f| {
            std::fs::canonicalize(f)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| f.clone())
        })
        .unwrap_or_default();
    let mode = if cfg.get_bool("cluster-enabled") {
        "cluster"
    } else {
        "standalone"
    };
    fields!(out,
        "redis_version" => REDIS_VERSION,
        "shoal_version" => env!("CARGO_PKG_VERSION"),
        "redis_mode" => mode,
        "os" => process::os(),
        "arch_bits" => usize::BITS,
        "multiplexing_api" => if cfg!(target_os = "linux") { "epoll" } else { "kqueue" },
        "process_id" => std::process::id(),
        "process_supervised" => "no",
        "run_id" => node.run_id,
        "tcp_port" => port,
        "server_time_usec" => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros()),
        "uptime_in_seconds" => uptime,
        "uptime_in_days" => uptime / 86400,
        "hz" => cfg.get_i64("hz"),
        "configured_hz" => cfg.get_i64("hz"),
        // Redis' LRU clock: seconds, 24 bits.
        "lru_clock" => (now_ms / 1000) & ((1 << 24) - 1),
        "executable" => executable,
        "config_file" => config_file,
        "io_threads_active" => 0,
    );
}

fn clients(node: &Node, out: &mut String) {
    let all = node.clients.all();
    let max_in = all
        .iter()
        .map(|c| c.qbuf.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let max_out = all
        .iter()
        .map(|c| c.omem.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let (watching, watched_keys) = crate::multi::watch_counts(node);
    fields!(out,
        "connected_clients" => all.len(),
        "cluster_connections" => 0,
        "maxclients" => node.hot.maxclients.load(Ordering::Relaxed),
        "client_recent_max_input_buffer" => max_in,
        "client_recent_max_output_buffer" => max_out,
        "blocked_clients" => blocked(node, |b| b.blocked_clients()),
        "tracking_clients" => 0,
        "clients_in_timeout_table" => blocked(node, |b| b.with_timeout()),
        "total_blocking_keys" => blocked(node, |b| b.blocking_keys()),
        "total_blocking_keys_on_nokey" => 0,
        "watching_clients" => watching,
        "total_watched_keys" => watched_keys,
    );
}

fn memory(node: &Node, out: &mut String) {
    let used = crate::alloc::allocated() as u64;
    let peak = node.metrics.peak_memory(used as usize) as u64;
    let rss = process::rss_bytes();
    let total = process::total_system_memory();
    let (maxmemory, policy) = {
        let cfg = node.config.read();
        (
            cfg.get_i64("maxmemory").max(0) as u64,
            cfg.get("maxmemory-policy").to_string(),
        )
    };
    let startup = node.memory_startup as u64;
    let frag = if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    };
    fields!(out,
        "used_memory" => used,
        "used_memory_human" => bytes_to_human(used),
        "used_memory_rss" => rss,
        "used_memory_rss_human" => bytes_to_human(rss),
        "used_memory_peak" => peak,
        "used_memory_peak_human" => bytes_to_human(peak),
        "used_memory_peak_perc" => format!("{:.2}%", if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 }),
        "used_memory_startup" => startup,
        "total_system_memory" => total,
        "total_system_memory_human" => bytes_to_human(total),
        "maxmemory" => maxmemory,
        "maxmemory_human" => bytes_to_human(maxmemory),
        "maxmemory_policy" => policy,
        "mem_fragmentation_ratio" => format!("{frag:.2}"),
        "mem_fragmentation_bytes" => rss as i64 - used as i64,
        "mem_not_counted_for_evict" => crate::evict::log_memory(node),
        "mem_allocator" => "libc",
    );
}

/// A blocked-client count summed over the registries of every shard the node holds.
fn blocked(node: &Node, f: impl Fn(&crate::blocking::Blocking) -> usize) -> usize {
    node.all_shards().iter().map(|s| f(&s.blocking)).sum()
}

fn persistence(node: &Node, out: &mut String) {
    let Some(r) = node.default_shard().replication().cloned() else {
        fields!(out, "loading" => 1);
        return;
    };
    let p = &r.persistence;
    let running = p.in_progress.load(Ordering::Relaxed);
    let rewriting = running && p.rewrite_in_progress.load(Ordering::Relaxed);
    let current_secs = if running {
        (unix_ms() - p.started_ms.load(Ordering::Relaxed)) / 1000
    } else {
        -1
    };
    let status = |ok: bool| if ok { "ok" } else { "err" };
    let last_ok = p.last_ok.load(Ordering::Relaxed);
    let flush = r.storage.flusher().stats();
    let size = r.storage.size_on_disk().unwrap_or(0);
    let appendonly = node.config.read().get_bool("appendonly");
    fields!(out,
        "loading" => 0,
        "async_loading" => 0,
        "rdb_changes_since_last_save" => r.dirty_since_save(),
        "rdb_bgsave_in_progress" => running as u8,
        "rdb_last_save_time" => p.lastsave.load(Ordering::Relaxed),
        "rdb_last_bgsave_status" => status(last_ok),
        "rdb_last_bgsave_time_sec" => p.last_secs.load(Ordering::Relaxed),
        "rdb_current_bgsave_time_sec" => current_secs,
        "rdb_saves" => p.saves.load(Ordering::Relaxed),
        "rdb_last_cow_size" => 0,
        "rdb_last_load_keys_expired" => 0,
        "rdb_last_load_keys_loaded" => 0,
        "aof_enabled" => appendonly as u8,
        "aof_rewrite_in_progress" => rewriting as u8,
        "aof_rewrite_scheduled" => 0,
        "aof_last_rewrite_time_sec" => p.last_secs.load(Ordering::Relaxed),
        "aof_current_rewrite_time_sec" => if rewriting { current_secs } else { -1 },
        "aof_last_bgrewrite_status" => status(last_ok),
        "aof_rewrites" => p.rewrites.load(Ordering::Relaxed),
        "aof_last_write_status" => "ok",
        "aof_current_size" => size,
        "aof_base_size" => p.base_size.load(Ordering::Relaxed),
        "aof_fsync_policy" => r.storage.flusher().policy().as_str(),
        "aof_fsyncs" => flush.flushes,
        "snapshot_longest_lock_hold_us" => p.last_longest_hold_us.load(Ordering::Relaxed),
        "snapshot_cow_saved_keys" => p.last_saved_keys.load(Ordering::Relaxed),
        "snapshot_cow_peak_bytes" => p.last_saved_peak_bytes.load(Ordering::Relaxed),
    );
}

fn stats(node: &Node, out: &mut String) {
    let s = &node.stats;
    // Hits and misses of every shard the node holds.
    let mut ks = store::keyspace::KeyspaceStats::default();
    for shard in node.all_shards() {
        let s = shard.lock().keyspace().stats.clone();
        ks.keyspace_hits += s.keyspace_hits;
        ks.keyspace_misses += s.keyspace_misses;
        ks.expired_keys += s.expired_keys;
        ks.expired_subkeys += s.expired_subkeys;
        ks.evicted_keys += s.evicted_keys;
    }
    let m = &node.metrics;
    let (channels, patterns, shard_channels) = node.pubsub.totals();
    fields!(out,
        "total_connections_received" => s.total_connections_received.load(Ordering::Relaxed),
        "total_commands_processed" => s.total_commands_processed.load(Ordering::Relaxed),
        "instantaneous_ops_per_sec" => m.ops_per_sec(),
        "total_net_input_bytes" => s.total_net_input_bytes.load(Ordering::Relaxed),
        "total_net_output_bytes" => s.total_net_output_bytes.load(Ordering::Relaxed),
        "total_net_repl_input_bytes" => 0,
        "total_net_repl_output_bytes" => 0,
        "instantaneous_input_kbps" => format!("{:.2}", m.input_kbps()),
        "instantaneous_output_kbps" => format!("{:.2}", m.output_kbps()),
        "instantaneous_input_repl_kbps" => "0.00",
        "instantaneous_output_repl_kbps" => "0.00",
        "rejected_connections" => s.rejected_connections.load(Ordering::Relaxed),
        "sync_full" => 0,
        "sync_partial_ok" => 0,
        "sync_partial_err" => 0,
        "expired_keys" => ks.expired_keys,
        "expired_subkeys" => ks.expired_subkeys,
        "evicted_keys" => ks.evicted_keys,
        "evicted_clients" => 0,
        "keyspace_hits" => ks.keyspace_hits,
        "keyspace_misses" => ks.keyspace_misses,
        "pubsub_channels" => channels,
        "pubsub_patterns" => patterns,
        "pubsubshard_channels" => shard_channels,
        "latest_fork_usec" => 0,
        "total_forks" => 0,
        "migrate_cached_sockets" => 0,
        "tracking_total_keys" => 0,
        "tracking_total_items" => 0,
        "tracking_total_prefixes" => 0,
        "unexpected_error_replies" => 0,
        "total_error_replies" => s.total_error_replies.load(Ordering::Relaxed),
        "dump_payload_sanitizations" => 0,
    );
}

fn replication(node: &Node, out: &mut String) {
    let Some(r) = node.default_shard().replication().cloned() else {
        fields!(out, "role" => "master", "connected_slaves" => 0);
        return;
    };
    let m = r.group.metrics();
    let leader = r.group.is_leader();
    if leader {
        let replicas = r.replicas(&m);
        fields!(out,
            "role" => "master",
            "connected_slaves" => replicas.len(),
        );
        for (i, v) in replicas.iter().enumerate() {
            let state = if v.matched.is_some() {
                "online"
            } else {
                "wait_bgsave"
            };
            out.push_str(&format!(
                "slave{i}:ip={},port={},state={state},offset={},raft_id={}\r\n",
                v.host,
                v.port,
                v.matched.unwrap_or(0),
                v.id
            ));
        }
    } else {
        let (host, port) = r
            .leader_client()
            .unwrap_or_else(|| (String::new(), "0".to_string()));
        let up = !host.is_empty();
        let applied = m.last_applied.map_or(0, |l| l.index);
        fields!(out,
            "role" => "slave",
            "master_host" => host,
            "master_port" => port,
            "master_link_status" => if up { "up" } else { "down" },
            "master_sync_in_progress" => 0,
            "slave_read_repl_offset" => m.last_log_index.unwrap_or(0),
            "slave_repl_offset" => applied,
            "slave_priority" => 100,
            "slave_read_only" => 1,
            "replica_announced" => 1,
            "connected_slaves" => 0,
        );
    }
    fields!(out,
        "master_failover_state" => "no-failover",
        "master_replid" => node.replid,
        "master_replid2" => "0000000000000000000000000000000000000000",
        "master_repl_offset" => m.last_log_index.unwrap_or(0),
        "second_repl_offset" => -1,
        "repl_backlog_active" => 0,
        "repl_backlog_size" => 0,
        "repl_backlog_first_byte_offset" => 0,
        "repl_backlog_histlen" => 0,
        "raft_node_id" => r.node_id,
        "raft_term" => m.current_term,
        "raft_leader_id" => m.current_leader.map_or(-1, |l| l as i64),
        "raft_last_applied" => m.last_applied.map_or(0, |l| l.index),
        "raft_snapshot_index" => m.snapshot.map_or(0, |l| l.index),
        "raft_purged_index" => m.purged.map_or(0, |l| l.index),
        "raft_appends_coalesced" => r.appends_coalesced(),
    );
}

fn seconds(usec: u64) -> String {
    format!("{}.{:06}", usec / 1_000_000, usec % 1_000_000)
}

fn cpu(out: &mut String) {
    let (sys, user) = process::cpu_usec(false);
    let (csys, cuser) = process::cpu_usec(true);
    fields!(out,
        "used_cpu_sys" => seconds(sys),
        "used_cpu_user" => seconds(user),
        "used_cpu_sys_children" => seconds(csys),
        "used_cpu_user_children" => seconds(cuser),
    );
}

/// Redis' `getSafeInfoString`: characters that would break the `INFO` format become `_`.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| if "#:\n\r".contains(c) { '_' } else { c })
        .collect()
}

fn commandstats(node: &Node, out: &mut String) {
    let stats = node.command_stats.lock();
    let table = store::table::table();
    let mut line = |name: &str| {
        if let Some(s) = stats.get(name) {
            if s.calls > 0 || s.failed_calls > 0 || s.rejected_calls > 0 {
                let per_call = if s.calls == 0 {
                    0.0
                } else {
                    s.usec as f64 / s.calls as f64
                };
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                    safe(name),
                    s.calls,
                    s.usec,
                    per_call,
                    s.rejected_calls,
                    s.failed_calls
                );
            }
        }
    };
    for spec in table.all() {
        line(spec.name);
        for sub in spec.subcommands {
            line(table.full_name(sub));
        }
    }
}

fn errorstats(node: &Node, out: &mut String) {
    for (code, count) in node.error_stats.lock().iter() {
        let _ = write!(out, "errorstat_{}:count={count}\r\n", safe(code));
    }
}

fn keyspace(node: &Node, out: &mut String) {
    // In cluster mode, the shards this node answers DBSIZE for (those it leads), summed.
    let (mut keys, mut expires) = (0, 0);
    for (_, shard, _) in crate::keyless::answered_shards(node) {
        let shard = shard.lock();
        let ks = shard.keyspace();
        keys += ks.len();
        expires += ks.volatile_len();
    }
    if keys > 0 || expires > 0 {
        // avg_ttl is an estimate Redis keeps from expiry sampling; Shoal does not keep one and reports 0.
        let _ = write!(out, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
}
