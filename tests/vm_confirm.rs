//! `polc apply --confirm` under a real systemd as PID 1 (issue 12):
//! `scripts/vm` boots Debian's stock kernel under qemu (TCG) with systemd
//! 252 as PID 1 and runs `tests/vm/confirm.sh` in it. Policy A allows udp 9;
//! B allows udp 10 and sets `net.ipv4.tcp_autocorking = 0`. `polc apply A`,
//! then `polc apply B --confirm 8` arms a transient systemd timer
//! (`polc-revert-pol-2.timer`, in `systemctl list-timers`); unconfirmed, it
//! fires and puts back A's generation, A's table and tcp_autocorking, and
//! `polc status` is clean. `polc apply B --confirm 5` then `polc confirm
//! --any-session`: 7 s later B is still current and the timer is gone.
//! Needs root (CI runs as root); without it the test says SKIPPED. When the
//! VM cache (/var/cache/polc-vm, or POLC_VM_CACHE) is missing it runs
//! `scripts/vm setup` first: apt-get and ~500 MB, once per machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const VM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm");
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/confirm.sh");

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `scripts/vm check`, and `scripts/vm setup` when it fails.
fn ensure_vm() {
    let ready = Command::new(VM)
        .arg("check")
        .output()
        .expect("run scripts/vm check")
        .status
        .success();
    if ready {
        return;
    }
    eprintln!("vm_confirm: the VM is not set up: running scripts/vm setup");
    let out = Command::new(VM)
        .arg("setup")
        .output()
        .expect("run scripts/vm setup");
    assert!(
        out.status.success(),
        "scripts/vm setup failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unconfirmed_apply_is_reverted_by_a_systemd_timer() {
    if !is_root() {
        eprintln!(
            "SKIPPED unconfirmed_apply_is_reverted_by_a_systemd_timer: needs root for qemu and apt-get"
        );
        return;
    }
    ensure_vm();
    let out = Command::new(VM)
        .args(["run", "--systemd", "--timeout", "900", "--", "env"])
        .arg(format!("POLC={}", env!("CARGO_BIN_EXE_polc")))
        .args(["bash", SCENARIO])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/vm run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the VM scenario failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let has = |line: &str| lines.contains(&line);
    let find = |prefix: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting `{prefix}`:\n{stdout}"))
    };
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
    let kept = find("confirmed, 7 s later: ");
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
