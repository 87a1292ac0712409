//! The boot unit under a real boot (issue 11): `tests/vm/boot-order.sh`
//! builds `examples/workstation.pol`, runs `polc install OUT --root TREE`
//! on the host, and boots Debian's stock kernel under qemu (TCG) with
//! systemd 252 as PID 1 and TREE copied over the guest's / (`scripts/vm run
//! --systemd --root-overlay TREE`). Inside: `polc-pol.service` is active,
//! table inet pol is loaded and `polc status` finds it clean, and the unit
//! became active before `network-pre.target` (`systemctl show`
//! `ActiveEnterTimestampMonotonic`), a target only its `Wants=` pulls in.
//! The negative control boots TREE without the boot unit: no table, and
//! network-pre.target not reached.
//! Needs root (CI runs as root); without it the test says SKIPPED. When the
//! VM cache (/var/cache/polc-vm, or POLC_VM_CACHE) is missing it runs
//! `scripts/vm setup` first: apt-get and ~500 MB, once per machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::{ensure_vm, has_line, is_root, run_ok};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/boot-order.sh");

#[test]
fn installed_boot_unit_loads_the_table_before_network_pre_target() {
    if !is_root() {
        eprintln!(
            "SKIPPED installed_boot_unit_loads_the_table_before_network_pre_target: needs root for qemu and apt-get"
        );
        return;
    }
    ensure_vm();
    // The scenario runs on the host and boots the VM twice (with and
    // without the boot unit).
    let stdout = run_ok(
        Command::new("bash")
            .arg(SCENARIO)
            .env("POLC", env!("CARGO_BIN_EXE_polc"))
            .env("POLC_VM_TIMEOUT", "900")
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        SCENARIO,
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let has = |line: &str| has_line(&stdout, line);
    let starts = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    assert!(
        starts("polc install --root: ")
            && stdout.contains("/etc/systemd/system/sysinit.target.wants/polc-pol.service"),
        "stdout:\n{stdout}"
    );
    assert!(has("polc-pol.service: active"), "stdout:\n{stdout}");
    assert!(
        starts("table inet pol loaded at boot ("),
        "stdout:\n{stdout}"
    );
    let order = lines
        .iter()
        .find(|l| l.starts_with("polc-pol.service active at "))
        .unwrap_or_else(|| panic!("no ordering line:\n{stdout}"));
    assert!(order.ends_with(": before"), "{order}");
    assert!(
        has("polc status after boot: status: clean"),
        "stdout:\n{stdout}"
    );
    assert!(
        has("without the boot unit: no table"),
        "the negative control: stdout:\n{stdout}"
    );
    assert!(
        has("without the boot unit: polc-pol.service inactive, network-pre.target inactive"),
        "the negative control: stdout:\n{stdout}"
    );
    assert!(has("all checks passed"), "stdout:\n{stdout}");
    eprintln!("{stdout}");
}
