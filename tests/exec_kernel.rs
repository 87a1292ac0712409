//! `polc exec` for real: in a private mount namespace with cgroup2 mounted
//! at /sys/fs/cgroup, a command launched with `polc exec FILE GROUP -- CMD`
//! runs in the group's cgroup (read back from `/proc/self/cgroup`), and a
//! group whose cgroup does not exist is a clear error, not a silent run.
//! Needs root (CI runs as root); without it the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::is_root;

/// Run a `polc exec` scenario: `policy` is written to a fresh directory and
/// `body` (sh, after `set -eu` and a private cgroup2 mount at
/// /sys/fs/cgroup) runs in new network and mount namespaces with `POLC`,
/// `POLICY` and `OUT` (the build directory) set. Asserts that it succeeds
/// and returns (stdout, stderr).
fn exec_scenario(policy: &str, body: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.pol");
    std::fs::write(&file, policy).unwrap();
    let script = format!("set -eu\nmount -t cgroup2 none /sys/fs/cgroup\n{body}");
    let out = Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", &script])
        .env("POLC", env!("CARGO_BIN_EXE_polc"))
        .env("POLICY", &file)
        .env("OUT", dir.path().join("out"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exec test failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn exec_runs_the_command_in_the_groups_cgroup() {
    if !is_root() {
        eprintln!(
            "SKIPPED exec_runs_the_command_in_the_groups_cgroup: needs root for mount namespaces"
        );
        return;
    }
    let slice = format!("polc-exec-test-{}.slice", std::process::id());
    let (stdout, stderr) = exec_scenario(
        &format!("group app {{ cgroup \"{slice}/app.scope\" }}\ngroup svc {{ unit \"{slice}/missing.service\" }}\npolicy p {{\n    hook output\n    default drop\n    allow app\n    allow svc\n}}\n"),
        &format!(
            r#"trap 'rmdir /sys/fs/cgroup/{slice}/app.scope /sys/fs/cgroup/{slice} 2>/dev/null || true' EXIT
"$POLC" build "$POLICY" -o "$OUT" 2>/dev/null
sh "$OUT/apply.sh" >/dev/null
"$POLC" exec "$POLICY" app -- cat /proc/self/cgroup
if "$POLC" exec "$POLICY" svc -- true 2>/tmp/polc-exec-err-$$; then echo "svc ran"; exit 1; fi
cat /tmp/polc-exec-err-$$ >&2
rm -f /tmp/polc-exec-err-$$
"#
        ),
    );
    let v2 = stdout
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or_else(|| panic!("no cgroup v2 line:\n{stdout}"));
    assert_eq!(
        v2,
        format!("0::/{slice}/app.scope"),
        "the command runs in the group's cgroup"
    );
    assert!(
        stderr.contains("does not exist") && stderr.contains("systemd creates"),
        "a unit's missing cgroup is explained: {stderr}"
    );
}

/// Run `script` (sh) in a private mount namespace with `POLC` and `DIR`
/// set; returns (success, stdout, stderr).
fn in_mount_ns(dir: &std::path::Path, script: &str) -> (bool, String, String) {
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("POLC", env!("CARGO_BIN_EXE_polc"))
        .env("DIR", dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A uid group runs with that uid's primary group (65534 without a passwd
/// entry), a gid group as nobody with that gid, and neither keeps root's
/// gid or supplementary groups (they used to: gid 0, and uid 0 for gid).
#[test]
fn exec_of_uid_and_gid_groups_drops_root() {
    if !is_root() {
        eprintln!("SKIPPED exec_of_uid_and_gid_groups_drops_root: needs root");
        return;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    // A uid with a passwd entry (its primary gid), and one without.
    let (known, known_gid) = passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                f.get(2)?.parse::<u32>().ok()?,
                f.get(3)?.parse::<u32>().ok()?,
            ))
        })
        .find(|(u, _)| *u != 0)
        .expect("a non-root passwd entry");
    let unknown = (4242..5000)
        .find(|u| {
            !passwd
                .lines()
                .any(|l| l.split(':').nth(2) == Some(&u.to_string()))
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ids.pol");
    std::fs::write(
        &policy,
        format!("group known {{ uid {known} }}\ngroup unknown {{ uid {unknown} }}\ngroup staff {{ gid 4321 }}\ngroup both {{ uid {unknown}; gid 4321 }}\npolicy p {{\n    hook output\n    default drop\n    allow {{ known, unknown, staff, both }}\n}}\n"),
    )
    .unwrap();
    let ids = |group: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_polc"))
            .args(["exec", policy.to_str().unwrap(), group, "--", "sh", "-c"])
            .arg("echo \"$(id -u) $(id -g) $(id -G)\"")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{group}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(ids("known"), format!("{known} {known_gid} {known_gid}"));
    assert_eq!(ids("unknown"), format!("{unknown} 65534 65534"));
    assert_eq!(ids("staff"), "65534 4321 4321");
    assert_eq!(ids("both"), format!("{unknown} 4321 4321"));

    // Not root: said so, before anything runs.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_polc"))
        .args(["exec", policy.to_str().unwrap(), "staff", "--", "true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must run as root"), "{stderr}");
}

/// A group whose directory is not a cgroup is an error (exit 2): polc exec
/// used to create `cgroup.procs` there with `fs::write` and run the command
/// outside any group with exit 0. A regular file named `cgroup.procs` is
/// refused too.
#[test]
fn exec_refuses_a_directory_that_is_not_a_cgroup() {
    if !is_root() {
        eprintln!("SKIPPED exec_refuses_a_directory_that_is_not_a_cgroup: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pol"),
        "group app { cgroup \"app.slice\" }\ngroup fake { cgroup \"fake.slice\" }\npolicy p {\n    hook output\n    default drop\n    allow { app, fake }\n}\n",
    )
    .unwrap();
    let root = dir.path().join("not-cgroup2");
    std::fs::create_dir_all(root.join("app.slice")).unwrap();
    std::fs::create_dir_all(root.join("fake.slice")).unwrap();
    std::fs::write(root.join("fake.slice/cgroup.procs"), "").unwrap();
    for (group, why) in [
        ("app", "does not exist"),
        ("fake", "not on a cgroup2 file system"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_polc"))
            .args(["exec", "p.pol", group, "--", "touch", "ran"])
            .current_dir(dir.path())
            .env("POL_CGROUP2", &root)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{group}: {stderr}");
        assert!(stderr.contains(why), "{group}: {stderr}");
        assert!(!dir.path().join("ran").exists(), "{group}: the command ran");
    }
    assert!(
        !root.join("app.slice/cgroup.procs").exists(),
        "polc exec created cgroup.procs in a plain directory"
    );
}

/// A net_cls hierarchy mounted at a path with a space (`\040` in
/// /proc/self/mounts) is found by cgroups.sh and by polc exec: both used to
/// take the escaped text literally, create plain directories under it and
/// run the command outside the class.
#[test]
fn net_cls_mounted_at_a_path_with_a_space() {
    if !is_root() {
        eprintln!("SKIPPED net_cls_mounted_at_a_path_with_a_space: needs root");
        return;
    }
    if !std::fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("net_cls\t"))
    {
        eprintln!("SKIPPED net_cls_mounted_at_a_path_with_a_space: no net_cls controller");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pol"),
        "group legacy { classid 10:7 }\npolicy p {\n    hook output\n    default drop\n    allow legacy\n}\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = in_mount_ns(
        dir.path(),
        r#"set -eu
cd "$DIR"
"$POLC" build p.pol -o out >/dev/null 2>&1
mnt="$DIR/net cls"
mkdir -p "$mnt"
mount -t cgroup -o net_cls pol_test_net_cls "$mnt"
trap 'rmdir "$mnt/pol/00100007" 2>/dev/null || true; rmdir "$mnt/pol" 2>/dev/null || true; umount "$mnt"' EXIT
POL_NET_CLS="$DIR/unused" sh out/cgroups.sh
[ ! -e "$DIR/unused" ] || { echo "cgroups.sh mounted a second net_cls" >&2; exit 1; }
cat "$mnt/pol/00100007/net_cls.classid"
"$POLC" exec p.pol legacy -- cat /proc/self/cgroup
"#,
    );
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("1048583"), "net_cls.classid: {stdout}");
    assert!(
        lines.any(|l| l.contains("net_cls") && l.ends_with(":/pol/00100007")),
        "the command runs in the class: {stdout}"
    );
}

/// Issue 11 through `polc exec`: the group's cgroup is removed and created
/// again by a plain `mkdir` (or not at all); a process that enters it with
/// `polc exec` still sends, while one that joins the re-created cgroup by
/// hand is dropped (the loaded rule holds the dead id), as is a process
/// outside the group. Sending is `bash`'s `/dev/udp` (EPERM when dropped).
#[test]
fn exec_matches_after_the_cgroup_is_recreated() {
    if !is_root() {
        eprintln!("SKIPPED exec_matches_after_the_cgroup_is_recreated: needs root");
        return;
    }
    let slice = format!("polc-exec-re-{}.slice", std::process::id());
    let (stdout, stderr) = exec_scenario(
        &format!("group web {{ cgroup \"{slice}/web.service\" }}\npolicy egress {{\n    hook output\n    default drop\n    allow web to 192.0.2.0/24 udp 9\n}}\n"),
        &format!(
            r#"ip link set lo up
ip link add veth0 type veth peer name veth1
ip addr add 192.0.2.1/24 dev veth0
ip link set veth0 up
ip link set veth1 up
ip neigh replace 192.0.2.9 lladdr 02:00:00:00:00:09 dev veth0 nud permanent
CG=/sys/fs/cgroup/{slice}/web.service
trap 'rmdir "$CG" /sys/fs/cgroup/{slice} 2>/dev/null || true' EXIT
send='echo x >/dev/udp/192.0.2.9/9'
probe() {{
	if "$@" 2>/dev/null; then got=sent; else got=failed; fi
	echo "probe $name $got $want"
}}
"$POLC" build "$POLICY" -o "$OUT" 2>/dev/null
sh "$OUT/apply.sh" >/dev/null
name=exec-loaded want=sent probe "$POLC" exec "$POLICY" web -- bash -c "$send"
rmdir "$CG"; mkdir "$CG"
name=by-hand-after-mkdir want=failed probe sh -c 'echo $$ >"$1/cgroup.procs" && exec bash -c "$2"' sh "$CG" "$send"
name=exec-after-mkdir want=sent probe "$POLC" exec "$POLICY" web -- bash -c "$send"
rmdir "$CG"
name=exec-creates want=sent probe "$POLC" exec "$POLICY" web -- bash -c "$send"
[ -d "$CG" ] || echo "exec did not create the cgroup"
name=outside want=failed probe bash -c "$send"
nft delete table inet pol
name=exec-without-policy want=failed probe "$POLC" exec "$POLICY" web -- bash -c "$send"
"#
        ),
    );
    let probes: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("probe "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert_eq!(probes.len(), 6, "every probe ran:\n{stdout}\n{stderr}");
    for p in &probes {
        assert_eq!(p[2], p[3], "probe {}:\n{stdout}\n{stderr}", p[1]);
    }
    assert!(!stdout.contains("did not create"), "{stdout}");
}
