//! polc's systemd drop-in under a real systemd as PID 1: `scripts/vm` boots
//! Debian's stock kernel under qemu (TCG) with systemd 252 as PID 1 and
//! runs `tests/vm/systemd-restart.sh` in it, which loads a policy allowing
//! only `web.service`, installs the generated drop-in, and checks that the
//! unit sends before and after `systemctl restart` (its cgroup id changes),
//! that a process outside the group is dropped, and — the negative control —
//! that without the drop-in a restart leaves the unit dropped.
//! Needs root (CI runs as root); without it the test says SKIPPED. When the
//! VM cache (/var/cache/polc-vm, or POLC_VM_CACHE) is missing it runs
//! `scripts/vm setup` first: apt-get and ~500 MB, once per machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const VM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm");
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/systemd-restart.sh");

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
    eprintln!("vm_systemd: the VM is not set up: running scripts/vm setup");
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
fn systemd_drop_in_keeps_a_restarted_unit_matched() {
    if !is_root() {
        eprintln!(
            "SKIPPED systemd_drop_in_keeps_a_restarted_unit_matched: needs root for qemu and apt-get"
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
    assert!(has("before restart: sent"), "stdout:\n{stdout}");
    let after = lines
        .iter()
        .find(|l| l.starts_with("after restart (cgroup id "))
        .unwrap_or_else(|| panic!("no `after restart` line:\n{stdout}"));
    assert!(after.ends_with("): sent"), "{after}");
    assert!(
        stdout.contains("set elements after restart: \"elem\": [\"system.slice/web.service\"]"),
        "the stopped unit's element was not deleted:\n{stdout}"
    );
    let ids = after
        .trim_start_matches("after restart (cgroup id ")
        .trim_end_matches("): sent");
    let (before_id, after_id) = ids
        .split_once(" -> ")
        .unwrap_or_else(|| panic!("no `A -> B` ids in {after}"));
    assert_ne!(before_id, after_id, "the restart must re-create the cgroup");
    assert!(has("outside the group: EPERM"), "stdout:\n{stdout}");
    assert!(
        has("without the drop-in, after restart: EPERM"),
        "the negative control: stdout:\n{stdout}"
    );
    assert!(has("all checks passed"), "stdout:\n{stdout}");
    eprintln!("{stdout}");
}
