//! `polc apply --confirm` under a real systemd as PID 1 (issue 12):
//! `scripts/vm` boots Debian's stock kernel under qemu (TCG) with systemd
//! 252 as PID 1 and runs `tests/vm/confirm.sh` in it. Policy A allows udp 9;
//! B allows udp 10 and sets `net.ipv4.tcp_autocorking = 0`. `polc apply A`,
//! then `polc apply B --confirm 8` arms a transient systemd timer
//! (`polc-revert-pol-2.timer`, in `systemctl list-timers`); unconfirmed, it
//! fires and puts back A's generation, A's table and tcp_autocorking, and
//! `polc status` is clean. `polc apply B --confirm 30` then `polc confirm
//! --any-session`: past the 30 s window B is still current and the timer
//! is gone.
//! Needs root (CI runs as root); without it the test says SKIPPED. When the
//! VM cache (/var/cache/polc-vm, or POLC_VM_CACHE) is missing it runs
//! `scripts/vm setup` first: apt-get and ~500 MB, once per machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{has_line, is_root, line_starting, vm_systemd_scenario};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/confirm.sh");

#[test]
fn unconfirmed_apply_is_reverted_by_a_systemd_timer() {
    if !is_root() {
        eprintln!(
            "SKIPPED unconfirmed_apply_is_reverted_by_a_systemd_timer: needs root for qemu and apt-get"
        );
        return;
    }
    let stdout = vm_systemd_scenario(SCENARIO);
    let has = |line: &str| has_line(&stdout, line);
    let find = |prefix: &str| line_starting(&stdout, prefix);
    assert_eq!(
        find("apply A: "),
        "apply A: current -> generations/1, udp ports 9, tcp_autocorking 1"
    );
    assert!(
        has("apply B --confirm 8: armed with: systemd timer polc-revert-pol-2.timer"),
        "stdout:\n{stdout}"
    );
    assert!(
        has("apply B --confirm 8: list-timers: polc-revert-pol-2.timer"),
        "stdout:\n{stdout}"
    );
    let reverted = find("not confirmed: ");
    assert!(
        reverted.ends_with(
            "current -> generations/1, udp ports 9, tcp_autocorking 1 (before B: 1), timers: none"
        ),
        "{reverted}"
    );
    assert!(
        has("not confirmed: polc status: status: clean"),
        "stdout:\n{stdout}"
    );
    let kept = find("confirmed, past the window: ");
    assert!(
        kept.ends_with("udp ports 10, tcp_autocorking 0, timers: none"),
        "{kept}"
    );
    assert!(
        has("confirmed: polc status: status: clean"),
        "stdout:\n{stdout}"
    );
    assert!(has("all checks passed"), "stdout:\n{stdout}");
    eprintln!("{stdout}");
}
