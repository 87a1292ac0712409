//! The Ansible role (`deploy/ansible`, issue 12) in a real play:
//! `tests/ansible/run.sh` installs ansible-core from PyPI into a venv under
//! /var/cache/polc-ansible (once per machine; apt-get installs python3-venv
//! when `python3 -m venv` fails) and runs `deploy/ansible/site.yml` with
//! `ansible-playbook -c local` against localhost inside `unshare -n -m`,
//! with polc's generations and /etc files on a tmpfs (`polc_root`). The
//! first run changes the host, the second reports no change, a new policy
//! is a new generation, a table deleted behind polc's back is applied
//! again; `polc status` is clean after each, and once the confirm deadline
//! has passed nothing was reverted (the play confirmed from a reset
//! connection). Needs root (CI runs as root) and, the first time, network
//! access to PyPI; without root the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::{is_root, line_starting, run_ok};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ansible/run.sh");

#[test]
fn ansible_play_changes_once_then_reports_no_change() {
    if !is_root() {
        eprintln!(
            "SKIPPED ansible_play_changes_once_then_reports_no_change: needs root for unshare, nft and the venv cache"
        );
        return;
    }
    let stdout = run_ok(
        Command::new("bash")
            .arg(SCRIPT)
            .env("POLC", env!("CARGO_BIN_EXE_polc"))
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        "tests/ansible/run.sh",
    );
    let find = |prefix: &str| line_starting(&stdout, prefix);
    let changed = |prefix: &str| -> u32 {
        let recap = find(prefix);
        recap
            .split_whitespace()
            .find_map(|w| w.strip_prefix("changed="))
            .unwrap_or_else(|| panic!("no changed= in `{recap}`"))
            .parse()
            .unwrap()
    };
    assert!(changed("run 1 (policy A): ") > 0, "{stdout}");
    assert_eq!(changed("run 2 (policy A again): "), 0, "{stdout}");
    assert!(changed("run 3 (policy B): ") > 0, "{stdout}");
    assert!(changed("run 4 (table deleted): ") > 0, "{stdout}");
    assert_eq!(changed("run 5 (policy B again): "), 0, "{stdout}");
    for (label, want) in [
        (
            "run 1: ",
            "current -> generations/1, udp ports 9, tcp_autocorking 1",
        ),
        (
            "run 2: ",
            "current -> generations/1, udp ports 9, tcp_autocorking 1",
        ),
        (
            "run 3: ",
            "current -> generations/2, udp ports 10, tcp_autocorking 0",
        ),
        (
            "run 4: ",
            "current -> generations/2, udp ports 10, tcp_autocorking 0",
        ),
        (
            "after the confirm deadline: ",
            "current -> generations/2, udp ports 10, tcp_autocorking 0",
        ),
    ] {
        assert_eq!(
            find(&format!("{label}current")),
            format!("{label}{want}"),
            "{stdout}"
        );
        assert_eq!(
            find(&format!("{label}polc status")),
            format!("{label}polc status: status: clean"),
            "{stdout}"
        );
    }
    assert!(support::has_line(&stdout, "all checks passed"), "{stdout}");
    eprintln!("{stdout}");
}
