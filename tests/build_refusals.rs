//! What `polc build` refuses because the kernel, nft or sysctl.d would read
//! it otherwise than the policy says (issue #10, items 4 and 5): a table
//! named like an nft keyword (a usage error, exit 2), a sysctl outside the
//! network keys without `unsafe`, sysctl.d syntax inside a key, cgroup
//! names the kernel keeps for itself; and `--deny-warnings`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::polc;

fn policy(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pol"), text).unwrap();
    dir
}

#[test]
fn a_table_named_like_an_nft_keyword_is_a_usage_error() {
    let dir = policy(
        "group a { uid 1 }\npolicy p {\n    hook output\n    default drop\n    allow a\n}\n",
    );
    for kw in [
        "counter", "table", "chain", "accept", "drop", "ip", "inet", "meta", "sets",
    ] {
        let out = polc(dir.path(), &["build", "p.pol", "-o", "out", "--table", kw]);
        assert_eq!(out.status, 2, "--table {kw}: {}", out.stderr);
        assert!(
            out.stderr.contains("nft keyword"),
            "--table {kw}: {}",
            out.stderr
        );
        assert!(
            !dir.path().join("out").exists(),
            "--table {kw} wrote output"
        );
    }
    let out = polc(
        dir.path(),
        &["build", "p.pol", "-o", "out", "--table", "filter"],
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let ruleset = std::fs::read_to_string(dir.path().join("out/ruleset.nft")).unwrap();
    assert!(ruleset.contains("table inet filter {"));
}

#[test]
fn a_sysctl_outside_the_network_keys_needs_unsafe() {
    let dir = policy("tuning {\n    \"kernel.core_pattern\" = \"|/bin/sh -c id\"\n}\n");
    let out = polc(dir.path(), &["build", "p.pol", "-o", "out"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("P0407"), "{}", out.stderr);
    assert!(!dir.path().join("out").exists());

    let dir = policy("tuning {\n    unsafe \"kernel.core_pattern\" = \"|/bin/sh -c id\"\n}\n");
    let out = polc(dir.path(), &["build", "p.pol", "-o", "out"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("P0409"),
        "the opt-in is reported: {}",
        out.stderr
    );
    let conf = std::fs::read_to_string(dir.path().join("out/sysctl.conf")).unwrap();
    assert!(
        conf.contains("\nkernel.core_pattern = |/bin/sh -c id\n"),
        "{conf}"
    );
}

#[test]
fn sysctl_d_syntax_in_a_key_is_refused() {
    for key in [
        "-net.ipv4.tcp_ehash_entries",
        "net.ipv4.conf.*.forwarding",
        "net/../kernel/core_pattern",
    ] {
        let dir = policy(&format!("tuning {{\n    \"{key}\" = 1\n}}\n"));
        let out = polc(dir.path(), &["build", "p.pol", "-o", "out"]);
        assert_eq!(out.status, 1, "{key}: {}", out.stderr);
        assert!(out.stderr.contains("P0408"), "{key}: {}", out.stderr);
        assert!(!dir.path().join("out").exists(), "{key}");
    }
}

#[test]
fn deny_warnings_refuses_to_build_on_a_warning() {
    let dir = policy("tuning {\n    \"net.ipv4.tcp_ehash_entries\" = 65536\n}\n");
    let out = polc(
        dir.path(),
        &["build", "p.pol", "-o", "out", "--deny-warnings"],
    );
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("P0405"), "{}", out.stderr);
    assert!(out.stderr.contains("--deny-warnings"), "{}", out.stderr);
    assert!(!dir.path().join("out").exists());
    let out = polc(dir.path(), &["build", "p.pol", "-o", "out"]);
    assert_eq!(
        out.status, 0,
        "without the flag a warning builds: {}",
        out.stderr
    );
}

#[test]
fn cgroup_names_the_kernel_keeps_are_refused() {
    let deep = vec!["d"; 256].join("/");
    for (path, code) in [
        ("apps.slice/cgroup.procs", "P0146"),
        ("system.slice/memory.max", "P0146"),
        ("cpu.stat", "P0146"),
        (deep.as_str(), "P0148"),
    ] {
        let dir = policy(&format!(
            "group a {{ cgroup \"{path}\" }}\npolicy p {{\n    hook output\n    default drop\n    allow a\n}}\n"
        ));
        let out = polc(dir.path(), &["build", "p.pol", "-o", "out"]);
        assert_eq!(out.status, 1, "{path}: {}", out.stderr);
        assert!(out.stderr.contains(code), "{path}: {}", out.stderr);
    }
    // At the limits: 255 levels, and the longest path that fits PATH_MAX.
    let ok_deep = vec!["d"; 255].join("/");
    let long = {
        let mut v = vec!["x".repeat(200); 20];
        let len = v.join("/").len();
        v.push("y".repeat(4067 - len - 1));
        v.join("/")
    };
    assert_eq!(long.len(), 4067);
    for path in [ok_deep.as_str(), long.as_str(), "cpu-max/memory_max/cgroup"] {
        let dir = policy(&format!(
            "group a {{ cgroup \"{path}\" }}\npolicy p {{\n    hook output\n    default drop\n    allow a\n}}\n"
        ));
        let out = polc(dir.path(), &["check", "--no-verify", "p.pol"]);
        assert_eq!(out.status, 0, "{}: {}", &path[..20], out.stdout);
    }
    let too_long = format!("{long}z");
    let dir = policy(&format!(
        "group a {{ cgroup \"{too_long}\" }}\npolicy p {{\n    hook output\n    default drop\n    allow a\n}}\n"
    ));
    let out = polc(dir.path(), &["check", "--no-verify", "p.pol"]);
    assert_eq!(out.status, 1);
    assert!(out.stdout.contains("P0142"), "{}", out.stdout);
}
