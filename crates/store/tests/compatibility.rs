//! Keeps docs/compatibility.md in step with the command table: every Redis command, supported or not yet.
//! Regenerate with `SHOAL_UPDATE_DOCS=1 cargo test -p store --test compatibility`.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn supported(name: &str) -> bool {
    let mut parts = name.split(' ');
    let Some(top) = parts.next().and_then(|n| store::lookup(n.as_bytes())) else {
        return false;
    };
    match parts.next() {
        None => true,
        Some(sub) => top.subcommand(sub.as_bytes()).is_some(),
    }
}

fn render() -> String {
    let list =
        std::fs::read_to_string(docs().join("redis-commands.txt")).expect("redis-commands.txt");
    let mut groups: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (group, name) = line.split_once(' ').expect("group name");
        groups
            .entry(group.to_string())
            .or_default()
            .push((name.to_string(), supported(name)));
    }
    let total: usize = groups.values().map(Vec::len).sum();
    let done: usize = groups.values().flatten().filter(|(_, s)| *s).count();
    let mut out = String::new();
    out.push_str("# Redis command compatibility\n\n");
    out.push_str(
        "Generated from the command table by `crates/store/tests/compatibility.rs` (run it with\n",
    );
    out.push_str("`SHOAL_UPDATE_DOCS=1` to refresh). A supported command gives Redis 7.0's replies and errors; a command\n");
    out.push_str("marked *not yet* answers `ERR unknown command` (a subcommand: `ERR unknown subcommand`).\n\n");
    out.push_str(&format!("{done} of {total} commands supported.\n"));
    for (group, mut cmds) in groups {
        cmds.sort();
        let n = cmds.iter().filter(|(_, s)| *s).count();
        out.push_str(&format!(
            "\n## {group} ({n}/{})\n\n| command | status |\n|---|---|\n",
            cmds.len()
        ));
        for (name, ok) in cmds {
            out.push_str(&format!(
                "| {} | {} |\n",
                name.to_uppercase(),
                if ok { "supported" } else { "not yet" }
            ));
        }
    }
    out
}

#[test]
fn compatibility_table_is_current() {
    let want = render();
    let path = docs().join("compatibility.md");
    if std::env::var_os("SHOAL_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write compatibility.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "docs/compatibility.md is stale: run SHOAL_UPDATE_DOCS=1 cargo test -p store --test compatibility");
}

#[test]
fn every_table_command_is_a_redis_command() {
    let list =
        std::fs::read_to_string(docs().join("redis-commands.txt")).expect("redis-commands.txt");
    for spec in store::table::table().all() {
        let known = list
            .lines()
            .any(|l| l.split_once(' ').is_some_and(|(_, n)| n == spec.name));
        assert!(known, "{} is not a Redis command", spec.name);
    }
}
