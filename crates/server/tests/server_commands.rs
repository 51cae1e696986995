//! Server commands through the real binary: INFO, CONFIG, TIME, SLOWLOG, SHUTDOWN and COMMAND.

mod common;
mod raw;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{cmd, err, Server};
use raw::{bulk, int, Raw};
use redis::Value;

/// `INFO` text parsed into `field -> value`, plus the section titles in order.
fn info(c: &mut redis::Connection, args: &[&str]) -> (Vec<String>, HashMap<String, String>) {
    let mut full = vec!["INFO"];
    full.extend_from_slice(args);
    let text = bulk(&cmd(c, &full).unwrap());
    let mut titles = Vec::new();
    let mut fields = HashMap::new();
    for line in text.split("\r\n") {
        if let Some(t) = line.strip_prefix("# ") {
            titles.push(t.to_string());
        } else if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.to_string(), v.to_string());
        } else {
            assert!(line.is_empty(), "malformed INFO line {line:?}");
        }
    }
    (titles, fields)
}

fn num(fields: &HashMap<String, String>, name: &str) -> i64 {
    fields
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} not an integer"))
}

const DEFAULT_TITLES: &[&str] = &[
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Errorstats",
    "Cluster",
    "Keyspace",
];

#[test]
fn info_sections_and_fields() {
    let s = Server::start();
    let mut c = s.client();
    let (titles, f) = info(&mut c, &[]);
    assert_eq!(titles, DEFAULT_TITLES);
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["shoal_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(num(&f, "tcp_port"), s.port as i64);
    assert_eq!(f["run_id"].len(), 40);
    assert_eq!(num(&f, "arch_bits"), 64);
    assert!(num(&f, "process_id") > 0);
    assert!(f["executable"].ends_with("shoal-server"));
    assert_eq!(f["role"], "master");
    assert_eq!(f["master_replid"].len(), 40);
    assert_ne!(f["master_replid"], f["run_id"]);
    // The harness' readiness probe may still be winding down; only this client stays.
    let deadline = Instant::now() + Duration::from_secs(5);
    while num(&info(&mut c, &["clients"]).1, "connected_clients") != 1 {
        assert!(
            Instant::now() < deadline,
            "connected_clients never settled to 1"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(num(&f, "maxclients"), 10000);
    assert!(num(&f, "used_memory") > 0);
    assert!(num(&f, "used_memory_rss") > 0);
    assert!(num(&f, "used_memory_peak") >= num(&f, "used_memory"));
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert_eq!(num(&f, "loading"), 0);
    assert_eq!(num(&f, "cluster_enabled"), 0);
    assert!(f["used_cpu_user"].contains('.'));
    assert!(num(&f, "total_connections_received") >= 1);
    for field in [
        "uptime_in_seconds",
        "hz",
        "blocked_clients",
        "rdb_changes_since_last_save",
        "rdb_last_save_time",
        "aof_enabled",
        "instantaneous_ops_per_sec",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "rejected_connections",
        "expired_keys",
        "keyspace_hits",
        "keyspace_misses",
        "total_error_replies",
        "connected_slaves",
    ] {
        num(&f, field);
    }

    // Section names in any case; unknown ones give nothing; `all` adds commandstats.
    let (titles, _) = info(&mut c, &["SERVER", "clients"]);
    assert_eq!(titles, ["Server", "Clients"]);
    let (titles, f) = info(&mut c, &["nosuch"]);
    assert!(titles.is_empty() && f.is_empty());
    let (titles, _) = info(&mut c, &["default"]);
    assert_eq!(titles, DEFAULT_TITLES);
    let (all, _) = info(&mut c, &["all"]);
    assert!(all.contains(&"Commandstats".to_string()));
    let (everything, _) = info(&mut c, &["everything"]);
    assert_eq!(all, everything);
    let (titles, _) = info(&mut c, &["commandstats"]);
    assert_eq!(titles, ["Commandstats"]);
}

#[test]
fn info_keyspace_and_stats_follow_commands() {
    let s = Server::start();
    let mut c = s.client();
    let (_, f) = info(&mut c, &["keyspace"]);
    assert!(!f.contains_key("db0"), "empty keyspace has no db line");
    cmd(&mut c, &["SET", "a", "1"]).unwrap();
    cmd(&mut c, &["SET", "b", "2"]).unwrap();
    cmd(&mut c, &["EXPIRE", "b", "100"]).unwrap();
    cmd(&mut c, &["GET", "a"]).unwrap();
    cmd(&mut c, &["GET", "nope"]).unwrap();
    let (_, f) = info(&mut c, &["keyspace"]);
    assert_eq!(f["db0"], "keys=2,expires=1,avg_ttl=0");
    let (_, f) = info(&mut c, &["stats", "persistence"]);
    assert_eq!(num(&f, "keyspace_hits"), 1);
    assert_eq!(num(&f, "keyspace_misses"), 1);
    assert!(num(&f, "rdb_changes_since_last_save") >= 2);
    assert!(num(&f, "total_commands_processed") >= 4);

    // commandstats counts calls, failures and rejections by full name.
    cmd(&mut c, &["CONFIG", "GET", "hz"]).unwrap();
    err(&mut c, &["GET"]);
    err(&mut c, &["EXPIRE", "a"]);
    let (_, f) = info(&mut c, &["commandstats"]);
    assert!(
        f["cmdstat_set"].starts_with("calls=2,usec="),
        "{}",
        f["cmdstat_set"]
    );
    assert!(f["cmdstat_set"].ends_with(",rejected_calls=0,failed_calls=0"));
    assert!(f["cmdstat_get"].ends_with(",rejected_calls=1,failed_calls=0"));
    assert!(f["cmdstat_expire"].starts_with("calls=1,"));
    assert!(f["cmdstat_expire"].ends_with(",rejected_calls=1,failed_calls=0"));
    assert!(f["cmdstat_config|get"].starts_with("calls=1,"));
    assert!(!f.contains_key("cmdstat_ping"));

    // errorstats counts error replies by code.
    err(&mut c, &["NOSUCHCOMMAND"]);
    err(&mut c, &["SET", "a", "b", "XX", "NX"]);
    let (_, f) = info(&mut c, &["errorstats", "stats"]);
    assert!(num(&f, "total_error_replies") >= 4);
    assert!(f["errorstat_ERR"].starts_with("count="));
    assert!(
        f["errorstat_ERR"]
            .trim_start_matches("count=")
            .parse::<i64>()
            .unwrap()
            >= 4
    );
}

#[test]
fn info_is_verbatim_in_resp3() {
    let s = Server::start();
    let mut raw = Raw::new(&s);
    let r2 = raw.call(&["INFO", "server"]);
    assert!(r2.starts_with('$') && r2.contains("# Server\r\nredis_version:7.0.15\r\n"));
    raw.call(&["HELLO", "3"]);
    let r3 = raw.call(&["INFO", "server"]);
    assert!(
        r3.starts_with('=') && r3.contains("\r\ntxt:# Server\r\n"),
        "{r3}"
    );
}

#[test]
fn info_rates_and_memory_are_measured() {
    let s = Server::start();
    let mut c = s.client();
    // Keep the server busy across several 100 ms samples.
    let until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < until {
        cmd(&mut c, &["PING"]).unwrap();
    }
    let (_, f) = info(&mut c, &["stats"]);
    assert!(num(&f, "instantaneous_ops_per_sec") > 0, "{f:?}");
    assert!(f["instantaneous_input_kbps"].parse::<f64>().unwrap() > 0.0);

    let (_, before) = info(&mut c, &["memory"]);
    let big = "x".repeat(8 << 20);
    cmd(&mut c, &["SET", "big", &big]).unwrap();
    let (_, after) = info(&mut c, &["memory"]);
    let grew = num(&after, "used_memory") - num(&before, "used_memory");
    assert!(grew >= 8 << 20, "used_memory grew by {grew}");
    assert!(num(&after, "used_memory_peak") >= num(&after, "used_memory"));
    cmd(&mut c, &["DEL", "big"]).unwrap();
    let (_, freed) = info(&mut c, &["memory"]);
    assert!(num(&freed, "used_memory") < num(&after, "used_memory") - (6 << 20));
}

fn config_get(c: &mut redis::Connection, pattern: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(pattern);
    let Value::Array(items) = cmd(c, &args).unwrap() else {
        panic!("CONFIG GET replies a flat array in RESP2");
    };
    items
        .chunks(2)
        .map(|p| (bulk(&p[0]), bulk(&p[1])))
        .collect()
}

#[test]
fn config_get_and_set() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(
        config_get(&mut c, &["slowlog-max-len"]),
        [("slowlog-max-len".into(), "128".into())]
    );
    // An exact name is echoed as given; unknown names are left out.
    assert_eq!(
        config_get(&mut c, &["PORT", "nosuch"]),
        [("PORT".to_string(), s.port.to_string())]
    );
    let all = config_get(&mut c, &["*"]);
    assert_eq!(all.len(), server::config::PARAMS.len());

    assert_eq!(
        cmd(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "slowlog-max-len",
                "5",
                "client-query-buffer-limit",
                "10mb"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    assert_eq!(config_get(&mut c, &["slowlog-max-len"])[0].1, "5");
    assert_eq!(
        config_get(&mut c, &["client-query-buffer-limit"])[0].1,
        "10485760"
    );
    let (_, f) = info(&mut c, &["memory"]);
    assert_eq!(num(&f, "maxmemory"), 0);
    // hz is clamped as in Redis.
    cmd(&mut c, &["CONFIG", "SET", "hz", "1000"]).unwrap();
    assert_eq!(config_get(&mut c, &["hz"])[0].1, "500");
    cmd(&mut c, &["CONFIG", "SET", "maxclients", "77"]).unwrap();
    let (_, f) = info(&mut c, &["clients"]);
    assert_eq!(num(&f, "maxclients"), 77);
}

#[test]
fn config_get_patterns() {
    let s = Server::start();
    let mut c = s.client();
    // A parameter matched twice is listed once.
    let slowlog = config_get(&mut c, &["slowlog*", "SLOWLOG-max-len"]);
    let names: Vec<&str> = slowlog.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["slowlog-log-slower-than", "slowlog-max-len"]);
    let mut mem: Vec<String> = config_get(&mut c, &["MAXMEMORY*"])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    mem.sort();
    assert_eq!(
        mem,
        [
            "maxmemory",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
    assert_eq!(config_get(&mut c, &["h?"]), [("hz".into(), "10".into())]);
    assert!(config_get(&mut c, &["zz*"]).is_empty());
}

#[test]
fn config_set_errors_change_nothing() {
    let s = Server::start();
    let mut c = s.client();
    for (args, e) in [
        (
            &["CONFIG", "SET", "nosuch", "1"][..],
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
        ),
        (
            &["CONFIG", "SET", "hz", "10", "nosuch", "1"][..],
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
        ),
        (
            &["CONFIG", "SET", "hz", "abc"][..],
            "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into \
             an integer",
        ),
        (
            &["CONFIG", "SET", "HZ", "10", "hz", "11"][..],
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter",
        ),
        (
            &["CONFIG", "SET", "daemonize", "yes"][..],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
        ),
        (
            &["CONFIG", "SET", "appendonly", "maybe"][..],
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or \
             'no'",
        ),
        (
            &["CONFIG", "SET", "proto-max-bulk-len", "1zb"][..],
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a \
             memory value",
        ),
        (
            &["CONFIG", "SET", "appendfsync", "foo"][..],
            "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be \
             one of the following: always, everysec, no",
        ),
        (
            &["CONFIG", "SET", "active-expire-effort", "11"][..],
            "ERR CONFIG SET failed (possibly related to argument 'active-expire-effort') - argument must be \
             between 1 and 10 inclusive",
        ),
        (
            &["CONFIG", "SET", "save", "100"][..],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters",
        ),
        (
            &["CONFIG", "SET", "hz", "1", "maxclients"][..],
            "ERR syntax error",
        ),
        (
            &["CONFIG", "SET", "hz"][..],
            "ERR wrong number of arguments for 'config|set' command",
        ),
        (
            &["CONFIG", "GET"][..],
            "ERR wrong number of arguments for 'config|get' command",
        ),
        (
            &["CONFIG", "REWRITE"][..],
            "ERR unknown subcommand 'REWRITE'. Try CONFIG HELP.",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    // All or nothing: a bad value later in the list leaves the earlier ones unchanged.
    err(
        &mut c,
        &["CONFIG", "SET", "slowlog-max-len", "7", "hz", "abc"],
    );
    assert_eq!(config_get(&mut c, &["slowlog-max-len"])[0].1, "128");
    assert_eq!(config_get(&mut c, &["hz"])[0].1, "10");
}

#[test]
fn config_set_requirepass_applies_to_new_connections() {
    let s = Server::start();
    let mut c = s.client();
    cmd(&mut c, &["CONFIG", "SET", "requirepass", "pw"]).unwrap();
    // The connection that set it stays authenticated, as in Redis.
    assert_eq!(bulk(&cmd(&mut c, &["PING"]).unwrap()), "PONG");
    let mut raw = Raw::new(&s);
    assert_eq!(raw.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(raw.call(&["AUTH", "pw"]), "+OK\r\n");
    assert_eq!(raw.call(&["PING"]), "+PONG\r\n");
}

#[test]
fn config_resetstat_and_help() {
    let s = Server::start();
    let mut c = s.client();
    for _ in 0..5 {
        cmd(&mut c, &["SET", "k", "v"]).unwrap();
        cmd(&mut c, &["GET", "k"]).unwrap();
        cmd(&mut c, &["GET", "missing"]).unwrap();
    }
    err(&mut c, &["NOSUCH"]);
    assert_eq!(cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap(), Value::Okay);
    let (_, f) = info(&mut c, &["all"]);
    assert!(num(&f, "total_commands_processed") <= 2);
    assert_eq!(num(&f, "keyspace_hits"), 0);
    assert_eq!(num(&f, "keyspace_misses"), 0);
    assert_eq!(num(&f, "total_error_replies"), 0);
    assert!(!f.contains_key("cmdstat_set"));
    assert!(!f.contains_key("cmdstat_get"));
    assert!(!f.contains_key("errorstat_ERR"));
    assert!(f["cmdstat_config|resetstat"].starts_with("calls=1,"));
    // The changes since the last save are not a statistic.
    assert!(num(&f, "rdb_changes_since_last_save") >= 5);

    let Value::Array(lines) = cmd(&mut c, &["CONFIG", "HELP"]).unwrap() else {
        panic!("help is an array");
    };
    assert_eq!(
        bulk(&lines[0]),
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert!(lines.iter().any(|l| bulk(l) == "RESETSTAT"));
}

#[test]
fn time_is_now() {
    let s = Server::start();
    let mut c = s.client();
    let Value::Array(t) = cmd(&mut c, &["TIME"]).unwrap() else {
        panic!("TIME replies an array");
    };
    assert!(matches!(t[0], Value::BulkString(_)) && matches!(t[1], Value::BulkString(_)));
    let secs: u64 = bulk(&t[0]).parse().unwrap();
    let usecs: u64 = bulk(&t[1]).parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(usecs < 1_000_000);
    assert_eq!(
        err(&mut c, &["TIME", "x"]),
        "ERR wrong number of arguments for 'time' command"
    );
}

#[test]
fn slowlog_records_slow_commands() {
    let s = Server::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut c = s.client();
    cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
    cmd(&mut c, &["CLIENT", "SETNAME", "slowpoke"]).unwrap();
    cmd(&mut c, &["SET", "foo", "bar"]).unwrap();
    cmd(&mut c, &["GET", "foo"]).unwrap();

    let Value::Array(entries) = cmd(&mut c, &["SLOWLOG", "GET", "2"]).unwrap() else {
        panic!("SLOWLOG GET replies an array");
    };
    assert_eq!(entries.len(), 2);
    // SLOWLOG itself is logged too, as in Redis: RESET, SETNAME, SET, GET, GET 2.
    assert_eq!(int(&cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap()), 5);
    // Newest first: the GET, then the SET.
    let Value::Array(e) = &entries[1] else {
        panic!("an entry is an array")
    };
    assert_eq!(e.len(), 6);
    let Value::Array(get_entry) = &entries[0] else {
        panic!("an entry is an array")
    };
    assert_eq!(int(&get_entry[0]), int(&e[0]) + 1);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((int(&e[1]) - now).abs() <= 2);
    assert!(int(&e[2]) >= 0);
    let Value::Array(argv) = &e[3] else {
        panic!("arguments are an array")
    };
    let argv: Vec<String> = argv.iter().map(bulk).collect();
    assert_eq!(argv, ["SET", "foo", "bar"]);
    assert!(bulk(&e[4]).starts_with("127.0.0.1:"));
    assert_eq!(bulk(&e[5]), "slowpoke");

    let Value::Array(all) = cmd(&mut c, &["SLOWLOG", "GET", "-1"]).unwrap() else {
        panic!("array")
    };
    assert!(all.len() >= 4);
    let Value::Array(none) = cmd(&mut c, &["SLOWLOG", "GET", "0"]).unwrap() else {
        panic!("array")
    };
    assert!(none.is_empty());

    // Long argument lists and values are cut as Redis cuts them.
    let keys: Vec<String> = (0..40).map(|i| format!("{i:0>200}")).collect();
    let mut args = vec!["DEL"];
    args.extend(keys.iter().map(String::as_str));
    cmd(&mut c, &args).unwrap();
    let Value::Array(last) = cmd(&mut c, &["SLOWLOG", "GET", "1"]).unwrap() else {
        panic!("array")
    };
    let Value::Array(e) = &last[0] else {
        panic!("entry")
    };
    let Value::Array(argv) = &e[3] else {
        panic!("args")
    };
    assert_eq!(argv.len(), 32);
    assert_eq!(bulk(&argv[31]), "... (10 more arguments)");
    assert_eq!(
        bulk(&argv[2]),
        format!("{}... (72 more bytes)", &keys[1][..128])
    );

    for (args, e) in [
        (
            &["SLOWLOG", "GET", "-2"][..],
            "ERR count should be greater than or equal to -1",
        ),
        (
            &["SLOWLOG", "GET", "x"][..],
            "ERR count should be greater than or equal to -1",
        ),
        (
            &["SLOWLOG", "GET", "1", "2"][..],
            "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
        ),
        (
            &["SLOWLOG", "LEN", "1"][..],
            "ERR wrong number of arguments for 'slowlog|len' command",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }

    // slowlog-max-len trims the log; a negative threshold stops logging.
    cmd(&mut c, &["CONFIG", "SET", "slowlog-max-len", "2"]).unwrap();
    assert!(int(&cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap()) <= 2);
    cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]).unwrap();
    assert_eq!(cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap(), Value::Okay);
    cmd(&mut c, &["SET", "foo", "baz"]).unwrap();
    assert_eq!(int(&cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap()), 0);

    let Value::Array(help) = cmd(&mut c, &["SLOWLOG", "HELP"]).unwrap() else {
        panic!("array")
    };
    assert_eq!(
        bulk(&help[0]),
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

#[test]
fn shutdown_exits_cleanly_without_reply() {
    let mut s = Server::start();
    let mut c = s.client();
    for (args, e) in [
        (&["SHUTDOWN", "ABORT"][..], "ERR No shutdown in progress."),
        (&["SHUTDOWN", "NOSAVE", "SAVE"][..], "ERR syntax error"),
        (&["SHUTDOWN", "ABORT", "NOW"][..], "ERR syntax error"),
        (&["SHUTDOWN", "LATER"][..], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
    assert!(s.is_running());
    let mut other = Raw::new(&s);
    other.call(&["PING"]);
    let mut raw = Raw::new(&s);
    raw.send(&["SHUTDOWN", "NOSAVE", "NOW"]);
    // No reply: the connection just closes.
    assert!(raw.closed());
    assert!(other.closed());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.is_running() {
        assert!(Instant::now() < deadline, "server still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.terminate(), "exit status is 0");
}

#[test]
fn shutdown_plain_also_exits() {
    let mut s = Server::start();
    let mut raw = Raw::new(&s);
    raw.send(&["shutdown"]);
    assert!(raw.closed());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.is_running() {
        assert!(Instant::now() < deadline, "server still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(s.terminate());
}

#[test]
fn command_count_list_and_help() {
    let s = Server::start();
    let mut c = s.client();
    let table = store::table::table();
    assert_eq!(
        int(&cmd(&mut c, &["COMMAND", "COUNT"]).unwrap()),
        table.len() as i64
    );
    let Value::Array(all) = cmd(&mut c, &["COMMAND"]).unwrap() else {
        panic!("array")
    };
    assert_eq!(all.len(), table.len());

    let names = |c: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let Value::Array(v) = cmd(c, args).unwrap() else {
            panic!("array")
        };
        v.iter().map(bulk).collect()
    };
    let list = names(&mut c, &["COMMAND", "LIST"]);
    let subs: usize = table.all().iter().map(|s| s.subcommands.len()).sum();
    assert_eq!(list.len(), table.len() + subs);
    for n in [
        "get",
        "config",
        "config|get",
        "client|kill",
        "command|getkeys",
    ] {
        assert!(list.contains(&n.to_string()), "{n} missing");
    }
    let strings = names(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]);
    assert!(strings.contains(&"get".to_string()));
    assert!(!strings.contains(&"ping".to_string()));
    assert!(names(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]).is_empty());
    assert!(names(&mut c, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]).is_empty());
    assert_eq!(
        err(&mut c, &["COMMAND", "LIST", "FILTERBY", "color", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT"]),
        "ERR syntax error"
    );
    let help = names(&mut c, &["COMMAND", "HELP"]);
    assert_eq!(
        help[0],
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

#[test]
fn command_list_by_pattern() {
    let s = Server::start();
    let mut c = s.client();
    let Value::Array(v) = cmd(
        &mut c,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG*"],
    )
    .unwrap() else {
        panic!("array")
    };
    let mut configs: Vec<String> = v.iter().map(bulk).collect();
    configs.sort();
    assert_eq!(
        configs,
        [
            "config",
            "config|get",
            "config|help",
            "config|resetstat",
            "config|set"
        ]
    );
}

#[test]
fn command_info_matches_redis_shape() {
    let s = Server::start();
    let mut raw = Raw::new(&s);
    // Redis 7.0.15's reply for GET, except that Shoal's key spec flags say only RO (Redis adds "access").
    assert_eq!(
        raw.call(&["COMMAND", "INFO", "get"]),
        "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
         *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n\
         *1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n\
         $12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
         $9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n\
         *6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
    );
    // A container lists its subcommands; an unknown name is a null.
    let config = raw.call(&["COMMAND", "INFO", "config", "nosuch", "CONFIG|GET"]);
    assert!(
        config.starts_with(
            "*3\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n"
        ),
        "{config}"
    );
    assert!(config.contains(
        "$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"
    ));
    assert!(config.contains("\r\n$-1\r\n*10\r\n$10\r\nconfig|get\r\n"));
    // In RESP3 the flag lists are sets.
    raw.call(&["HELLO", "3"]);
    let r3 = raw.call(&["COMMAND", "INFO", "set"]);
    assert!(
        r3.starts_with("*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n"),
        "{r3}"
    );
    assert_eq!(raw.call(&["COMMAND", "INFO", "nosuch"]), "*1\r\n_\r\n");
}

#[test]
fn command_docs() {
    let s = Server::start();
    let mut raw = Raw::new(&s);
    raw.call(&["HELLO", "3"]);
    let d = raw.call(&["COMMAND", "DOCS", "get", "nosuch"]);
    assert!(
        d.starts_with("%1\r\n$3\r\nget\r\n%4\r\n$7\r\nsummary\r\n"),
        "{d}"
    );
    assert!(d.contains(
        "$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n"
    ));
    let d = raw.call(&["COMMAND", "DOCS", "slowlog"]);
    assert!(d.contains("$11\r\nsubcommands\r\n%4\r\n"), "{d}");
    assert!(d.contains("$11\r\nslowlog|get\r\n"));
    let all = raw.call(&["COMMAND", "DOCS"]);
    assert!(all.starts_with(&format!("%{}\r\n", store::table::table().len())));
}

#[test]
fn command_getkeys() {
    let s = Server::start();
    let mut c = s.client();
    let keys = |c: &mut redis::Connection, args: &[&str]| -> Vec<String> {
        let mut full = vec!["COMMAND", "GETKEYS"];
        full.extend_from_slice(args);
        let Value::Array(v) = cmd(c, &full).unwrap() else {
            panic!("array")
        };
        v.iter().map(bulk).collect()
    };
    assert_eq!(keys(&mut c, &["SET", "a", "b"]), ["a"]);
    assert_eq!(keys(&mut c, &["del", "a", "b", "c"]), ["a", "b", "c"]);
    assert_eq!(keys(&mut c, &["GET", "x"]), ["x"]);
    for (args, e) in [
        (
            &["COMMAND", "GETKEYS", "nosuch", "a"][..],
            "ERR Invalid command specified",
        ),
        (
            &["COMMAND", "GETKEYS", "config", "nosuch", "x"][..],
            "ERR Invalid command specified",
        ),
        (
            &["COMMAND", "GETKEYS", "ping", "x"][..],
            "ERR The command has no key arguments",
        ),
        (
            &["COMMAND", "GETKEYS", "config", "get", "x"][..],
            "ERR The command has no key arguments",
        ),
        (
            &["COMMAND", "GETKEYS", "get", "a", "b"][..],
            "ERR Invalid number of arguments specified for command",
        ),
        (
            &["COMMAND", "GETKEYS", "get"][..],
            "ERR wrong number of arguments for 'command|getkeys' command",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
}
