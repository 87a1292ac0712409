//! vti6, fq and autocorking for real (issue 14): what this machine's kernel
//! lacks (ip6_vti, ESP, sch_fq), in `scripts/vm`'s VM (Debian's stock
//! kernel under qemu, TCG), one boot per scenario:
//!
//! - `tests/vm/tunnels.sh`: examples/corp-tunnel.pol applied on a host
//!   namespace (apply.sh), a gateway namespace behind a vti6 of its own,
//!   ESP SAs and policies with mark 42 on both ends as an IKE daemon
//!   installs them. The vti6 link, address and routes; corp-apps traffic
//!   (UDP and TCP, IPv4 and IPv6) echoed through the tunnel with the SA
//!   counters rising and only ESP and ND on the underlay; traffic from
//!   outside corp-apps dropped with no counter moving; IKE allowed under
//!   corp-tunnel.pol, dropped under ike-blocked.pol, as `polc check` says;
//!   tunnels.sh idempotent, fixing a vti6 changed by hand, refusing a dummy
//!   of its name and a second vti6 on the same endpoints and key.
//! - `tests/vm/tuning.sh`: examples/tuning.pol's sysctls read back as
//!   written and fq at the root of eth0; every qdisc kind of the language
//!   through a generated tuning.sh.
//! - `tests/vm/autocork.sh` (`--cpus 2`): TcpExtTCPAutoCorking rises with a
//!   policy's `tcp_autocorking = on` and stays with `off`.
//!
//! Needs root (CI runs as root); without it each test says SKIPPED. When
//! the VM cache (/var/cache/polc-vm, or POLC_VM_CACHE) is missing it runs
//! `scripts/vm setup` first: apt-get and ~500 MB, once per machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Mutex, PoisonError};
use support::{has_line, is_root, line_starting, vm_scenario};

/// One VM at a time: the tests of one file run on parallel threads, and
/// three qemu processes at once on two cores would only slow each other.
static ONE_VM: Mutex<()> = Mutex::new(());

fn scenario(name: &str) -> String {
    format!("{}/tests/vm/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The number N of the first `(+N)` in `line`.
fn plus(line: &str) -> u64 {
    line.split("(+")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `(+N)` in `{line}`"))
}

#[test]
fn vti6_tunnel_carries_corp_apps_over_esp() {
    if !is_root() {
        eprintln!(
            "SKIPPED vti6_tunnel_carries_corp_apps_over_esp: needs root for qemu and apt-get"
        );
        return;
    }
    let _vm = ONE_VM.lock().unwrap_or_else(PoisonError::into_inner);
    let stdout = vm_scenario(&scenario("tunnels.sh"), &[]);
    keep_log("tunnels", &stdout);
    let has = |line: &str| has_line(&stdout, line);
    let find = |prefix: &str| line_starting(&stdout, prefix);
    for line in [
        "polc check corp-tunnel.pol: exit 0, no findings: no P0211",
        "apply.sh (corp-tunnel.pol) on the host side: exit 0: apply.sh: loaded table inet pol",
        "vti6 link: vti6-corp-vpn vti6 local 2001:db8::1 remote 2001:db8:ffff::1 ikey 0.0.0.42 okey 0.0.0.42 mtu 1400 up",
        "vti6 address: fd00:42::1/64",
        "vti6 routes: 10.20.0.0/16 2001:db8:100::/48",
        "neighbours on ul0 before any traffic: none",
        "corp-apps: udp 10.20.1.1/9000 src 192.0.2.1 echoed",
        "corp-apps: tcp 10.20.1.1/9000 src 192.0.2.1 echoed",
        "corp-apps: udp 2001:db8:100::1/9000 src fd00:42::1 echoed",
        "corp-apps: tcp 2001:db8:100::1/9000 src fd00:42::1 echoed",
        "corp-apps traffic: ESP packet counters rose on both ends in both directions: yes",
        "outside corp-apps: udp 10.20.1.1/9000 src 192.0.2.1 EPERM",
        "outside corp-apps: tcp 10.20.1.1/9000 src 192.0.2.1 no-answer",
        "outside corp-apps: udp 2001:db8:100::1/9000 src fd00:42::1 EPERM",
        "outside corp-apps: tcp 2001:db8:100::1/9000 src fd00:42::1 no-answer",
        "IKE under corp-tunnel.pol: udp 2001:db8:ffff::1/500 src 2001:db8::1 sent, the gateway received it",
        "tunnels.sh over it: exit 0, same ifindex: vti6 local 2001:db8::1 remote 2001:db8:ffff::1 ikey 0.0.0.42 okey 0.0.0.42 mtu 1400 up, routes: 10.20.0.0/16 2001:db8:100::/48",
        "after the fix, corp-apps: udp 2001:db8:100::1/9000 src fd00:42::1 echoed",
        "polc check ike-blocked.pol: exit 1, P0210 P0211: P0211 (udp 40000 -> 500 drop)",
        "polc check ike-blocked.pol narrowed to the routes: exit 0, P0211: P0211 (udp 40000 -> 500 drop)",
        "apply.sh (ike-blocked.pol) on the host side: exit 0: apply.sh: loaded table inet pol",
        "IKE under ike-blocked.pol: udp 2001:db8:ffff::1/500 src 2001:db8::1 EPERM, the gateway received nothing",
        "all checks passed",
    ] {
        assert!(has(line), "no line `{line}`:\nstdout:\n{stdout}");
    }
    // The SA counters, before -> after the corp-apps traffic, both ends.
    for prefix in [
        "ESP 0x00001001 host -> gateway, on the host (out): 0 -> ",
        "ESP 0x00001001 host -> gateway, on the gateway (in): 0 -> ",
        "ESP 0x00001002 gateway -> host, on the gateway (out): 0 -> ",
        "ESP 0x00001002 gateway -> host, on the host (in): 0 -> ",
    ] {
        let line = find(prefix);
        assert!(!line.starts_with(&format!("{prefix}0 ")), "{line}");
    }
    let capture = find("underlay capture on ul0 during corp-apps traffic: ");
    assert!(
        capture.ends_with(" other, 0 with the payload in clear") && capture.contains(", 0 other,"),
        "{capture}"
    );
    let neighbour = find("neighbour 2001:db8:ffff::1 on ul0: ");
    assert!(
        ["REACHABLE", "STALE", "DELAY", "PROBE"]
            .iter()
            .any(|s| neighbour.starts_with(&format!("neighbour 2001:db8:ffff::1 on ul0: {s} "))),
        "{neighbour}"
    );
    let outside = find("outside corp-apps: ESP counters ");
    assert!(
        outside.starts_with("outside corp-apps: ESP counters unchanged ("),
        "{outside}"
    );
    let again = find("tunnels.sh run again: ");
    assert!(
        again.starts_with("tunnels.sh run again: exit 0, link unchanged (ifindex "),
        "{again}"
    );
    // Refused by --check already, saying why, and left alone.
    let dummy = find("a dummy named vti6-corp-vpn: ");
    assert!(
        dummy.starts_with("a dummy named vti6-corp-vpn: tunnels.sh --check exit 1 (tunnels.sh: interface vti6-corp-vpn exists and is not a vti6 tunnel); tunnels.sh exit 1 (tunnels.sh: interface vti6-corp-vpn exists and is not a vti6 tunnel)")
            && dummy.ends_with("; still a dummy: yes"),
        "{dummy}"
    );
    let second = find("another vti6 on 2001:db8::1 -> 2001:db8:ffff::1 key 42: ");
    assert_eq!(
        second,
        "another vti6 on 2001:db8::1 -> 2001:db8:ffff::1 key 42: tunnels.sh --check exit 1 (tunnels.sh: cannot set up vti6-corp-vpn: the vti6 link other already has local 2001:db8::1 remote 2001:db8:ffff::1 key 42 (the kernel allows one such link))"
    );
    eprintln!("{stdout}");
}

#[test]
fn tuning_sysctls_and_qdiscs_apply_on_debians_kernel() {
    if !is_root() {
        eprintln!(
            "SKIPPED tuning_sysctls_and_qdiscs_apply_on_debians_kernel: needs root for qemu and apt-get"
        );
        return;
    }
    let _vm = ONE_VM.lock().unwrap_or_else(PoisonError::into_inner);
    let stdout = vm_scenario(&scenario("tuning.sh"), &[]);
    keep_log("tuning", &stdout);
    let has = |line: &str| has_line(&stdout, line);
    let find = |prefix: &str| line_starting(&stdout, prefix);
    for line in [
        "examples with a tuning block: tuning.pol",
        "tuning.pol: tuning.sh --check: exit 0",
        "tuning.pol: tuning.sh: exit 0",
        "tuning.pol: net.core.default_qdisc = fq: pfifo_fast -> fq",
        "tuning.pol: net.ipv4.tcp_congestion_control = bbr: reno -> bbr",
        "tuning.pol: net.ipv4.tcp_autocorking = 1: 0 -> 1",
        "tuning.pol: net.ipv4.tcp_notsent_lowat = 16384: 4294967295 -> 16384",
        "tuning.pol: net.ipv4.tcp_pacing_ss_ratio = 200: 150 -> 200",
        "tuning.pol: net.ipv4.tcp_pacing_ca_ratio = 120: 110 -> 120",
        "tuning.pol: net.ipv4.tcp_limit_output_bytes = 1048576: 262144 -> 1048576",
        "tuning.pol: tuning.sh again: exit 0, nothing changed",
        "qdisc kinds tuning.sh applied, as tc shows them: pfifo_fast pfifo bfifo fq fq_codel fq_pie cake sfq htb noqueue prio netem pie codel (14)",
        "qdisc kinds tuning.sh refused: mq multiq (2)",
        "all checks passed",
    ] {
        assert!(has(line), "no line `{line}`:\nstdout:\n{stdout}");
    }
    let fq = find("tuning.pol: tc qdisc show dev eth0: ");
    assert!(
        fq.starts_with("tuning.pol: tc qdisc show dev eth0: fq root ")
            && fq.contains(" flow_limit "),
        "{fq}"
    );
    eprintln!("{stdout}");
}

#[test]
fn autocorking_follows_the_policys_tuning() {
    if !is_root() {
        eprintln!(
            "SKIPPED autocorking_follows_the_policys_tuning: needs root for qemu and apt-get"
        );
        return;
    }
    let _vm = ONE_VM.lock().unwrap_or_else(PoisonError::into_inner);
    let stdout = vm_scenario(&scenario("autocork.sh"), &["--cpus", "2"]);
    keep_log("autocork", &stdout);
    let has = |line: &str| has_line(&stdout, line);
    let find = |prefix: &str| line_starting(&stdout, prefix);
    for line in [
        "tcp_autocorking = on: tuning.sh exit 0, net.ipv4.tcp_autocorking 0 -> 1, eth0: fq",
        "tcp_autocorking = off: tuning.sh exit 0, net.ipv4.tcp_autocorking 1 -> 0, eth0: fq",
        "all checks passed",
    ] {
        assert!(has(line), "no line `{line}`:\nstdout:\n{stdout}");
    }
    let on = find("tcp_autocorking = on: TcpExtTCPAutoCorking ");
    assert!(plus(on) >= 20, "{on}");
    let off = find("tcp_autocorking = off: TcpExtTCPAutoCorking ");
    assert_eq!(plus(off), 0, "{off}");
    let fq = find("fq on the sender's eth0: ");
    assert!(fq.starts_with("fq on the sender's eth0: fq root "), "{fq}");
    let verdict = find("autocorking counter: ");
    assert!(
        verdict.ends_with("off +0: the policy's setting decides it"),
        "{verdict}"
    );
    eprintln!("{stdout}");
}

/// The scenario's output, kept in the target directory
/// (`target/tmp/vm_kernel-NAME.log`): passing tests' output is not shown,
/// and these lines are what issue 14 asks to quote.
fn keep_log(name: &str, stdout: &str) {
    let path =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vm_kernel-{name}.log"));
    let _ = std::fs::write(path, stdout);
}
