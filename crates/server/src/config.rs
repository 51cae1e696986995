//! Configuration with redis.conf parameter names: file, command-line flags and `CONFIG GET/SET`.

use std::collections::BTreeMap;

/// How a parameter's value is checked and normalised.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Integer within bounds.
    Int(i64, i64),
    /// Integer within the first bounds, then clamped to the second (Redis' `hz`).
    Clamped(i64, i64, i64, i64),
    /// `save` points: pairs of seconds (at least 1) and changes (at least 0), or empty.
    SavePoints,
    /// Byte size with Redis' units (`1gb`, `512mb`, `100k`); reported as plain bytes.
    Memory(i64, i64),
    /// `yes` / `no`.
    Bool,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// Free text.
    Str,
    /// `notify-keyspace-events`: class characters, echoed in Redis' canonical order.
    KeyspaceEvents,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups; only the classes named change.
    BufferLimits,
}

/// One configuration parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// redis.conf name.
    pub name: &'static str,
    /// Older name Redis still accepts.
    pub alias: Option<&'static str>,
    /// Value rules.
    pub kind: Kind,
    /// Built-in default.
    pub default: &'static str,
    /// Whether `CONFIG SET` may change it at run time.
    pub mutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable,
    }
}

const GB: i64 = 1024 * 1024 * 1024;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const FSYNC: &[&str] = &["always", "everysec", "no"];
/// In Redis' order, which its error message lists.
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every parameter Shoal knows, with Redis' names and defaults.
pub const PARAMS: &[Param] = &[
    p("port", Kind::Int(0, 65535), "6379", false),
    p("bind", Kind::Str, "127.0.0.1 -::1", false),
    p("dir", Kind::Str, "./", false),
    p("maxclients", Kind::Int(1, 1_000_000), "10000", true),
    p("timeout", Kind::Int(0, i32::MAX as i64), "0", true),
    p("tcp-keepalive", Kind::Int(0, i32::MAX as i64), "300", true),
    p("tcp-backlog", Kind::Int(0, i32::MAX as i64), "511", false),
    p(
        "proto-max-bulk-len",
        Kind::Memory(1024 * 1024, i64::MAX),
        "536870912",
        true,
    ),
    p(
        "client-query-buffer-limit",
        Kind::Memory(1024 * 1024, i64::MAX),
        "1073741824",
        true,
    ),
    p(
        "slowlog-log-slower-than",
        Kind::Int(-1, i64::MAX),
        "10000",
        true,
    ),
    p("slowlog-max-len", Kind::Int(0, i64::MAX), "128", true),
    p("hz", Kind::Clamped(0, i32::MAX as i64, 1, 500), "10", true),
    p("active-expire-effort", Kind::Int(1, 10), "1", true),
    p("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    p("logfile", Kind::Str, "", false),
    p("databases", Kind::Int(1, i32::MAX as i64), "1", false),
    p("requirepass", Kind::Str, "", true),
    p("appendonly", Kind::Bool, "yes", true),
    p("appendfsync", Kind::Enum(FSYNC), "everysec", true),
    p("appendfilename", Kind::Str, "appendonly.aof", false),
    p("save", Kind::SavePoints, "3600 1 300 100 60 10000", true),
    p(
        "auto-aof-rewrite-percentage",
        Kind::Int(0, i32::MAX as i64),
        "100",
        true,
    ),
    p(
        "auto-aof-rewrite-min-size",
        Kind::Memory(0, i64::MAX),
        "67108864",
        true,
    ),
    // Shoal's replication: this node's Raft id and the voters of its shard (`id@host:port[@busport] ...`).
    p("node-id", Kind::Int(0, i64::MAX), "0", false),
    p("shard-replicas", Kind::Str, "", false),
    // Redis' name for the cluster-bus port; 0 means the client port + 10000.
    p("cluster-port", Kind::Int(0, 65535), "0", false),
    // Redis' name for how long a silent leader is given before a replica takes over (ms): every Raft group's
    // minimum election timeout (the maximum is 1.5 times it, the heartbeat a quarter).
    p(
        "cluster-node-timeout",
        Kind::Int(20, 3_600_000),
        "100",
        false,
    ),
    // How the leader proves a read is linearizable: a quorum round per batch of reads, or a leader lease.
    p(
        "read-consistency",
        Kind::Enum(&["readindex", "lease"]),
        "readindex",
        true,
    ),
    p("dbfilename", Kind::Str, "dump.rdb", true),
    p("maxmemory", Kind::Memory(0, i64::MAX), "0", true),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true),
    p("maxmemory-samples", Kind::Int(1, 64), "5", true),
    p("maxmemory-eviction-tenacity", Kind::Int(0, 100), "10", true),
    p("lfu-log-factor", Kind::Int(0, i32::MAX as i64), "10", true),
    p("lfu-decay-time", Kind::Int(0, i32::MAX as i64), "1", true),
    p("notify-keyspace-events", Kind::KeyspaceEvents, "", true),
    p("lazyfree-lazy-user-del", Kind::Bool, "no", true),
    p("lazyfree-lazy-user-flush", Kind::Bool, "no", true),
    p("protected-mode", Kind::Bool, "no", true),
    // Shoal stays in the foreground (run it under a supervisor or a container); only `no` is accepted.
    p("daemonize", Kind::Enum(&["no"]), "no", false),
    p("pidfile", Kind::Str, "", false),
    p("io-threads", Kind::Int(1, 128), "1", false),
    // Cluster mode: the node hosts replicas of several shards and waits for `shoal-server cluster create`.
    p("cluster-enabled", Kind::Bool, "no", false),
    p("latency-tracking", Kind::Bool, "yes", true),
    // Encoding thresholds, with Redis' built-in defaults (its sample redis.conf lowers the first to 128).
    Param {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        kind: Kind::Int(0, i64::MAX),
        default: "512",
        mutable: true,
    },
    Param {
        name: "hash-max-listpack-value",
        alias: Some("hash-max-ziplist-value"),
        kind: Kind::Memory(0, i64::MAX),
        default: "64",
        mutable: true,
    },
    Param {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        kind: Kind::Int(0, i64::MAX),
        default: "128",
        mutable: true,
    },
    Param {
        name: "zset-max-listpack-value",
        alias: Some("zset-max-ziplist-value"),
        kind: Kind::Memory(0, i64::MAX),
        default: "64",
        mutable: true,
    },
    p(
        "stream-node-max-bytes",
        Kind::Memory(0, i64::MAX),
        "4096",
        true,
    ),
    p(
        "stream-node-max-entries",
        Kind::Int(0, i64::MAX),
        "100",
        true,
    ),
    p(
        "set-max-intset-entries",
        Kind::Int(0, i64::MAX),
        "512",
        true,
    ),
    Param {
        name: "list-max-listpack-size",
        alias: Some("list-max-ziplist-size"),
        kind: Kind::Int(i32::MIN as i64, i32::MAX as i64),
        default: "-2",
        mutable: true,
    },
    // Accepted (Redis' tests and configs set it) but list nodes are never compressed.
    p(
        "list-compress-depth",
        Kind::Int(0, i32::MAX as i64),
        "0",
        true,
    ),
    p(
        "client-output-buffer-limit",
        Kind::BufferLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
];

/// Looks a parameter up by name or alias, in any case.
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parses a byte size with Redis' units (`memtoull`): b, k, kb, m, mb, g, gb, any case.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let (num, mul): (&str, i64) = if let Some(n) = lower.strip_suffix("gb") {
        (n, GB)
    } else if let Some(n) = lower.strip_suffix("mb") {
        (n, 1024 * 1024)
    } else if let Some(n) = lower.strip_suffix("kb") {
        (n, 1024)
    } else if let Some(n) = lower.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = lower.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = lower.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = lower.strip_suffix('b') {
        (n, 1)
    } else {
        (lower.as_str(), 1)
    };
    let v: i64 = num.parse().ok()?;
    v.checked_mul(mul)
}

/// Checks `value` against `param` and returns its canonical text, or Redis' reason for refusing it.
pub fn normalize(param: &Param, value: &str) -> Result<String, String> {
    match param.kind {
        Kind::Int(min, max) => {
            let v: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Clamped(min, max, lo, hi) => {
            let v = normalize(
                &Param {
                    kind: Kind::Int(min, max),
                    ..*param
                },
                value,
            )?;
            Ok(v.parse::<i64>().unwrap_or(lo).clamp(lo, hi).to_string())
        }
        Kind::SavePoints => {
            let words: Vec<&str> = value.split_whitespace().collect();
            let valid = words.len().is_multiple_of(2)
                && words.iter().enumerate().all(|(i, w)| {
                    w.parse::<i64>()
                        .is_ok_and(|v| v >= if i % 2 == 0 { 1 } else { 0 })
                });
            if !valid {
                return Err("Invalid save parameters".into());
            }
            Ok(words.join(" "))
        }
        Kind::Memory(min, max) => {
            let v =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            words
                .iter()
                .find(|w| **w == lower)
                .map(|w| w.to_string())
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                })
        }
        Kind::Str => Ok(value.to_string()),
        Kind::KeyspaceEvents => store::notify::parse_classes(value.as_bytes())
            .map(store::notify::classes_to_string)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
        Kind::BufferLimits => crate::pubsub::parse_buffer_limits(param.default, value),
    }
}

/// The node's configuration: every parameter's current canonical value.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// Path of the config file the node started from, if any (for `INFO server`'s `config_file`).
    pub file: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: PARAMS
                .iter()
                .map(|p| (p.name, p.default.to_string()))
                .collect(),
            file: None,
        }
    }
}

impl Config {
    /// Builds the configuration from Redis-style arguments: `[file] [--name value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut rest = args;
        if let Some(first) = rest.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first)
                    .map_err(|e| format!("can't open config file '{first}': {e}"))?;
                cfg.load_text(&text)?;
                cfg.file = Some(first.clone());
                rest = &rest[1..];
            }
        }
        // As Redis does, flags are turned into config lines: `--port 6380 --bind a b` -> "port 6380\nbind a b".
        let mut text = String::new();
        for a in rest {
            if let Some(name) = a.strip_prefix("--") {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(name);
            } else {
                text.push(' ');
                text.push_str(&quote(a));
            }
        }
        cfg.load_text(&text)?;
        Ok(cfg)
    }

    /// Applies redis.conf-style lines.
    pub fn load_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words =
                split_words(line).ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
            let Some((name, vals)) = words.split_first() else {
                continue;
            };
            let p = param(name).ok_or_else(|| {
                format!("line {}: Bad directive or wrong number of arguments", n + 1)
            })?;
            let v = self
                .normalize(p, &vals.join(" "))
                .map_err(|e| format!("line {}: {name}: {e}", n + 1))?;
            self.values.insert(p.name, v);
        }
        Ok(())
    }

    /// Checks `value` for `param` like [`normalize`]; parameters set in parts (`client-output-buffer-limit`)
    /// apply to their current value.
    pub fn normalize(&self, param: &Param, value: &str) -> Result<String, String> {
        match param.kind {
            Kind::BufferLimits => crate::pubsub::parse_buffer_limits(self.get(param.name), value),
            _ => normalize(param, value),
        }
    }

    /// Current value of a parameter by its canonical name.
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// Integer value of a numeric parameter (0 if not numeric).
    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    /// Whether a yes/no parameter is yes.
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Sets an already normalised value.
    pub fn set_normalized(&mut self, name: &'static str, value: String) {
        self.values.insert(name, value);
    }

    /// Every parameter with its value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

fn quote(s: &str) -> String {
    if s.is_empty() || s.contains([' ', '"', '\'', '\\']) {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s.to_string()
    }
}

/// Splits a config line into words with Redis' quoting (the same `sdssplitargs` rules as inline commands).
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let words = resp::split_args(&bytes::Bytes::copy_from_slice(line.as_bytes()))?;
    Some(
        words
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let args: Vec<String> = [
            "--port",
            "6380",
            "--bind",
            "127.0.0.1",
            "::1",
            "--maxclients",
            "5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let c = Config::from_args(&args).unwrap();
        assert_eq!(c.get("port"), "6380");
        assert_eq!(c.get("bind"), "127.0.0.1 ::1");
        assert_eq!(c.get_i64("maxclients"), 5);
    }

    #[test]
    fn memory_units_and_bad_values() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512MB"), Some(512 << 20));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("x"), None);
        let p = param("proto-max-bulk-len").unwrap();
        assert_eq!(normalize(p, "1gb").unwrap(), "1073741824");
        assert!(normalize(param("port").unwrap(), "70000").is_err());
        let lp = param("LIST-MAX-ZIPLIST-SIZE").unwrap();
        assert_eq!(lp.name, "list-max-listpack-size");
        assert_eq!(normalize(lp, "-5").unwrap(), "-5");
        assert!(normalize(lp, "2147483648").is_err());
        assert!(normalize(param("list-compress-depth").unwrap(), "-1").is_err());
        assert!(normalize(param("appendfsync").unwrap(), "sometimes").is_err());
        let hz = param("hz").unwrap();
        assert_eq!(normalize(hz, "1000").unwrap(), "500");
        assert_eq!(normalize(hz, "0").unwrap(), "1");
        assert!(normalize(hz, "-1").is_err());
        let save = param("save").unwrap();
        assert_eq!(normalize(save, " 900  1 60 10").unwrap(), "900 1 60 10");
        assert_eq!(normalize(save, "").unwrap(), "");
        for bad in ["900", "0 1", "900 -1", "a 1"] {
            assert_eq!(normalize(save, bad).unwrap_err(), "Invalid save parameters");
        }
        assert_eq!(
            normalize(param("maxmemory-policy").unwrap(), "x").unwrap_err(),
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, \
             volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
        let mut c = Config::default();
        assert!(c.load_text("nosuchthing 1").is_err());
        assert!(c.load_text("port \"6380").is_err());
    }
}
