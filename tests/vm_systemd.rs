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

mod support;

use support::{has_line, is_root, line_starting, vm_systemd_scenario};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/systemd-restart.sh");

#[test]
fn systemd_drop_in_keeps_a_restarted_unit_matched() {
    if !is_root() {
        eprintln!(
            "SKIPPED systemd_drop_in_keeps_a_restarted_unit_matched: needs root for qemu and apt-get"
        );
        return;
    }
    let stdout = vm_systemd_scenario(SCENARIO);
    let has = |line: &str| has_line(&stdout, line);
    assert!(has("before restart: sent"), "stdout:\n{stdout}");
    let after = line_starting(&stdout, "after restart (cgroup id ");
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
