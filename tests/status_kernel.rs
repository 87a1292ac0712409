//! `polc build --prove`, then `polc status` against the real kernel, in fresh network and mount
//! namespaces (cgroup2 mounted privately), generations under a temporary
//! `--root`: clean after `polc apply`, then each kind of drift after a
//! hand edit — a rule appended that changes no verdict (drift, but proved
//! equal), a rule inserted that changes one (drift, not proved, witness),
//! a sysctl, the root qdisc, a re-created cgroup (stale id in its set,
//! cleared by refresh.sh), the table deleted — and bad input (exit 2).
//!
//! Needs root (CI runs as root); without it the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::is_root;

const POLICY: &str = r#"group app { cgroup "polstatus.slice/app" }
policy egress {
  hook output
  default drop
  allow app to 192.0.2.0/24 udp 9
  allow to 198.51.100.0/24 tcp 443
  drop to 203.0.113.0/24
}
tuning {
  net.ipv4.tcp_autocorking = 0
  qdisc "lo" pfifo
}
"#;

const SCENARIO: &str = r#"set -eu
mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up
cd "$WORK"
mkdir root
st() { # LABEL: run polc status, print its exit status and its lines of interest
	set +e
	"$POLC" status --root root >out.txt 2>&1
	rc=$?
	set -e
	echo "== $1: exit $rc"
	grep -E '^(drift|proved|not proved|DIFFERS|  |observed|status)' out.txt || true
}
handle_of() { nft -a list chain inet pol policy-egress | grep -F "$1" | sed 's/.*# handle //'; }

"$POLC" apply S --root root 2>>log
st "after apply"
nft add rule inet pol policy-egress ip daddr 203.0.113.5 accept
st "a rule appended after the drop that covers it"
nft delete rule inet pol policy-egress handle "$(handle_of 'ip daddr 203.0.113.5 accept')"
nft insert rule inet pol policy-egress ip daddr 203.0.113.5 accept
st "a rule inserted at the top"
nft delete rule inet pol policy-egress handle "$(handle_of 'ip daddr 203.0.113.5 accept')"
printf '1\n' >/proc/sys/net/ipv4/tcp_autocorking
st "sysctl changed"
printf '0\n' >/proc/sys/net/ipv4/tcp_autocorking
tc qdisc del dev lo root
st "qdisc removed"
tc qdisc replace dev lo root pfifo
rmdir /sys/fs/cgroup/polstatus.slice/app
mkdir /sys/fs/cgroup/polstatus.slice/app
st "cgroup re-created"
sh root/var/lib/polc/pol/current/refresh.sh >/dev/null
st "after refresh.sh"
nft delete table inet pol
st "table deleted"
set +e
"$POLC" status no-such-build >/dev/null 2>err1.txt; echo "== missing build: exit $?"
"$POLC" status --root root --table other >/dev/null 2>err2.txt; echo "== no generation of table other: exit $?"
set -e
cat err1.txt err2.txt
"#;

#[test]
fn status_is_clean_after_apply_and_names_each_drift() {
    if !is_root() {
        eprintln!(
            "\n*** SKIPPED status_is_clean_after_apply_and_names_each_drift: needs root ***\n"
        );
        return;
    }
    let polc = env!("CARGO_BIN_EXE_polc");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(work.join("s.pol"), POLICY).unwrap();
    let o = Command::new(polc)
        .args(["build", "s.pol", "-o", "S", "--prove"])
        .current_dir(work)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("polc build: proved: the ruleset, loaded by nft, decides every first packet of a flow as the policy"),
        "{err}"
    );
    let out = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", SCENARIO])
        .env("POLC", polc)
        .env("WORK", work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(work.join("log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "scenario failed:\n{stdout}\n{}\nlog:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    // The section of the output after `== LABEL`.
    let section = |label: &str| -> String {
        let start = stdout
            .find(&format!("== {label}:"))
            .unwrap_or_else(|| panic!("no section {label}:\n{stdout}"));
        let rest = &stdout[start..];
        let end = rest[3..].find("\n== ").map_or(rest.len(), |e| e + 4);
        rest[..end].to_string()
    };
    let s = section("after apply");
    assert!(
        s.contains("exit 0") && s.contains("proved: the live table") && s.contains("status: clean"),
        "{s}"
    );
    assert!(s.contains("observed: TcpExtTCPAutoCorking = "), "{s}");
    let s = section("a rule appended after the drop that covers it");
    assert!(
        s.contains("exit 1")
            && s.contains("the kernel has a rule the build does not: ip daddr 203.0.113.5 accept"),
        "{s}"
    );
    assert!(
        s.contains("proved: the live table"),
        "a rule that changes no verdict must still prove equal:\n{s}"
    );
    let s = section("a rule inserted at the top");
    assert!(
        s.contains("exit 1") && s.contains("DIFFERS") && s.contains("drop -> allow"),
        "{s}"
    );
    assert!(s.contains("203.0.113.5"), "no witness:\n{s}");
    let s = section("sysctl changed");
    assert!(
        s.contains("exit 1")
            && s.contains(
                "drift: sysctl net.ipv4.tcp_autocorking: the kernel has 1, the build sets 0"
            ),
        "{s}"
    );
    let s = section("qdisc removed");
    assert!(
        s.contains("exit 1")
            && s.contains("drift: qdisc lo: the root qdisc is noqueue, the build sets pfifo"),
        "{s}"
    );
    let s = section("cgroup re-created");
    assert!(
        s.contains("exit 1") && s.contains("the kernel lacks elements: \"polstatus.slice/app\""),
        "{s}"
    );
    assert!(s.contains("id(s) of cgroups that no longer exist"), "{s}");
    assert!(
        s.contains("allow -> drop"),
        "the group's packets are dropped now:\n{s}"
    );
    let s = section("after refresh.sh");
    assert!(s.contains("exit 0") && s.contains("status: clean"), "{s}");
    let s = section("table deleted");
    assert!(
        s.contains("exit 1") && s.contains("table inet pol is not loaded"),
        "{s}"
    );
    assert!(stdout.contains("== missing build: exit 2"), "{stdout}");
    assert!(
        stdout.contains("== no generation of table other: exit 2"),
        "{stdout}"
    );
}
