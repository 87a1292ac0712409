//! `polc apply`, `confirm` and `rollback` against the real kernel, in a
//! fresh network namespace (nft and the per-namespace sysctl
//! `net.ipv4.tcp_autocorking` are the namespace's own), with the
//! generations under a temporary `--root`:
//! - a failing load (nft injected to fail) reverts to the previous
//!   generation: its table, and the sysctl the new one changed;
//! - a ruleset nft rejects, a build with no policy over a loaded table, a
//!   missing build, an unknown generation, not root, no cgroup2 hierarchy:
//!   exit 2 and nothing changed;
//! - `--confirm 2` not confirmed reverts on its own (a detached process
//!   here: systemd is not PID 1), also after the applying session hangs
//!   up, and when the apply itself is killed half-way (armed before the
//!   kernel changes); confirmed stays.
//!
//! Needs root (CI runs as root); without it the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::is_root;

const A: &str =
    "policy egress {\n  hook output\n  default drop\n  allow to 192.0.2.0/24 udp 9\n}\n";
const B: &str = "policy egress {\n  hook output\n  default drop\n  allow to 192.0.2.0/24 udp 10\n}\ntuning { net.ipv4.tcp_autocorking = 0 }\n";

/// A build with a cgroup group: it needs a cgroup v2 hierarchy.
const G: &str = "group g { cgroup \"polapply/g\" }\npolicy egress {\n  hook output\n  default drop\n  allow g to 192.0.2.0/24 udp 9\n}\n";

const SCENARIO: &str = r#"set -eu
cd "$WORK"
mkdir root
cur() { readlink root/var/lib/polc/pol/current || echo none; }
cork() { cat /proc/sys/net/ipv4/tcp_autocorking; }
rules() { nft list table inet pol | grep -o 'udp dport [0-9]*' | tr '\n' ' '; }
expect_status() { # WANT CMD...: run CMD, check its exit status
	want=$1; shift
	set +e; "$@" 2>>log; got=$?; set -e
	[ "$got" = "$want" ] || { echo "exit $got, want $want: $*" >&2; cat log >&2; exit 1; }
}

"$POLC" apply A --root root 2>>log
echo "A applied: current=$(cur) autocorking=$(cork) rules=$(rules)"

# The load fails (once) after tuning.sh changed the sysctl: back to
# generation 1, whose load then succeeds.
cat >fail-nft <<'FAKE'
#!/bin/sh
for a in "$@"; do case $a in */pol-load.*) [ "$1" = -f ] && [ ! -e "$WORK/failed-once" ] && { touch "$WORK/failed-once"; echo 'fake nft: load fails' >&2; exit 1; } ;; esac; done
exec nft "$@"
FAKE
chmod +x fail-nft
expect_status 1 env NFT="$WORK/fail-nft" "$POLC" apply B --root root
grep 'reverted to generation 1' log >/dev/null
echo "B with a failing load: exit 1, current=$(cur) autocorking=$(cork) rules=$(rules)"

# nft rejects the ruleset: refused before anything changed.
cat >reject-nft <<'FAKE'
#!/bin/sh
[ "$1" = -c ] && { echo 'fake nft: syntax error' >&2; exit 1; }
exec nft "$@"
FAKE
chmod +x reject-nft
gens=$(ls root/var/lib/polc/pol/generations | tr '\n' ' ')
expect_status 2 env NFT="$WORK/reject-nft" "$POLC" apply B --root root
[ "$(ls root/var/lib/polc/pol/generations | tr '\n' ' ')" = "$gens" ]
echo "B rejected by nft -c: exit 2, generations=$gens current=$(cur) autocorking=$(cork) rules=$(rules)"

# A build without a policy does not empty the loaded table.
expect_status 2 "$POLC" apply EMPTY --root root
grep 'this build has no policy' log >/dev/null
echo "empty build: exit 2, current=$(cur) rules=$(rules)"

# Bad input.
expect_status 2 "$POLC" apply no-such-dir --root root
expect_status 2 setpriv --reuid=65534 --regid=65534 --clear-groups "$POLC" apply B --root root
grep 'must run as root' log >/dev/null
expect_status 2 env POL_CGROUP2=/nonexistent "$POLC" apply G --root root
grep 'no cgroup v2 hierarchy is mounted at /nonexistent' log >/dev/null
expect_status 2 "$POLC" rollback --root root --to 99
grep 'has no generation 99' log >/dev/null
echo "missing build, unknown generation, not root, no cgroup2: exit 2"

# Not confirmed: reverts on its own, also when the session that applied
# hangs up right after (as an SSH session dying does): the apply runs in a
# session of its own whose process group then gets SIGHUP.
setsid -w sh -c '"$POLC" apply B --root root --confirm 2 2>>log; kill -HUP 0' || true
echo "B applied with --confirm 2: current=$(cur) autocorking=$(cork) rules=$(rules)"
i=0
while [ "$(cur)" != generations/1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
echo "not confirmed, after $((i / 10)).$((i % 10)) s: current=$(cur) autocorking=$(cork) rules=$(rules)"
[ ! -e root/var/lib/polc/pol/pending.json ]

# Confirmed: stays.
"$POLC" apply B --root root --confirm 2 2>>log
"$POLC" confirm --root root --any-session 2>>log
sleep 3
echo "confirmed, 3 s later: current=$(cur) autocorking=$(cork) rules=$(rules)"
expect_status 2 "$POLC" confirm --root root --any-session

# apply.sh --confirm SECS is polc apply DIR --confirm SECS.
printf '#!/bin/sh\necho "polc $*"\n' >fake-polc
chmod +x fake-polc
[ "$(POLC="$WORK/fake-polc" sh A/apply.sh --confirm 5)" = "polc apply $WORK/A --confirm 5" ]

# By hand: back to the previous generation.
"$POLC" rollback --root root 2>>log
echo "rollback: current=$(cur) autocorking=$(cork) rules=$(rules)"

# An apply killed half-way — after tuning.sh, while nft loads — with its
# whole session (an SSH session dying): the revert was armed before the
# kernel changed, so it still happens.
cat >slow-nft <<'FAKE'
#!/bin/sh
# Only the first load hangs: the revert (which inherits NFT) loads at once.
for a in "$@"; do case $a in */pol-load.*) [ "$1" = -f ] && [ ! -e "$WORK/loading" ] && { touch "$WORK/loading"; sleep 30; } ;; esac; done
exec nft "$@"
FAKE
chmod +x slow-nft
setsid sh -c 'exec env NFT="$WORK/slow-nft" "$POLC" apply B --root root --confirm 2 2>>log' &
session=$!
while [ ! -e loading ]; do sleep 0.1; done
echo "killed while loading: current=$(cur) autocorking=$(cork) rules=$(rules)"
kill -9 "-$session"
i=0
while { [ "$(cur)" != generations/1 ] || [ "$(cork)" != 1 ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
echo "after the kill: current=$(cur) autocorking=$(cork) rules=$(rules)"
"#;

#[test]
fn apply_reverts_on_failure_and_unless_confirmed() {
    if !is_root() {
        eprintln!("\n*** SKIPPED apply_reverts_on_failure_and_unless_confirmed: needs root ***\n");
        return;
    }
    let polc = env!("CARGO_BIN_EXE_polc");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    for (name, text) in [
        ("A", A),
        ("B", B),
        ("EMPTY", "group x { uid 1 }\n"),
        ("G", G),
    ] {
        let src = work.join(format!("{name}.pol"));
        std::fs::write(&src, text).unwrap();
        let o = Command::new(polc)
            .args(["build", src.to_str().unwrap(), "-o"])
            .arg(work.join(name))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", SCENARIO])
        .env("POLC", polc)
        .env("WORK", work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(work.join("log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "scenario failed:\n{stdout}\n{stderr}\nlog:\n{log}"
    );
    println!("{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let want = [
        "A applied: current=generations/1 autocorking=1 rules=udp dport 9 ",
        "B with a failing load: exit 1, current=generations/1 autocorking=1 rules=udp dport 9 ",
        "B rejected by nft -c: exit 2, generations=1 2  current=generations/1 autocorking=1 rules=udp dport 9 ",
        "empty build: exit 2, current=generations/1 rules=udp dport 9 ",
        "missing build, unknown generation, not root, no cgroup2: exit 2",
        "B applied with --confirm 2: current=generations/3 autocorking=0 rules=udp dport 10 ",
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(lines.get(i).copied(), Some(*w), "line {i} of:\n{stdout}");
    }
    assert!(
        lines[6].starts_with("not confirmed, after ")
            && lines[6].ends_with(": current=generations/1 autocorking=1 rules=udp dport 9 "),
        "{stdout}"
    );
    assert_eq!(
        lines[7],
        "confirmed, 3 s later: current=generations/4 autocorking=0 rules=udp dport 10 "
    );
    assert_eq!(
        lines[8],
        "rollback: current=generations/1 autocorking=1 rules=udp dport 9 "
    );
    assert!(
        lines[9].starts_with("killed while loading: current=generations/")
            && lines[9].ends_with(" autocorking=0 rules=udp dport 9 "),
        "{stdout}"
    );
    assert_eq!(
        lines[10],
        "after the kill: current=generations/1 autocorking=1 rules=udp dport 9 "
    );
}
