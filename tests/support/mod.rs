//! Shared helpers of the end-to-end tests: run the real `polc` binary and
//! read fixture headers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `polc ARGS` in `dir`, without colours.
pub fn polc(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run polc");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The codes of a fixture's `# expect: P0001 P0002 — why` header line(s).
pub fn expected_codes(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("# expect:"))
        .flat_map(|rest| {
            rest.split('—')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|c| c.starts_with('P'))
        .collect()
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// True when the tests run as root (the kernel, VM and Ansible tests need
/// it; without it they say SKIPPED).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Run `cmd`, assert it succeeded (printing both streams if not), and
/// return its stdout.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// The first line of `text` that starts with `prefix`.
pub fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting `{prefix}`:\n{text}"))
}

/// True when `text` has `line` as one of its lines.
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

/// `scripts/vm`, the VM runner (docs/testing.md).
pub const VM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/vm");

/// `scripts/vm check`, and `scripts/vm setup` when it fails (a fresh CI
/// machine: apt-get and ~500 MB, once).
pub fn ensure_vm() {
    let ready = Command::new(VM)
        .arg("check")
        .output()
        .expect("run scripts/vm check")
        .status
        .success();
    if !ready {
        eprintln!("the VM is not set up: running scripts/vm setup");
        run_ok(Command::new(VM).arg("setup"), "scripts/vm setup");
    }
}

/// Run `bash SCENARIO` (a path under the repository) in the VM with systemd
/// as PID 1 and `POLC` set to this build's binary; returns its stdout.
pub fn vm_systemd_scenario(scenario: &str) -> String {
    ensure_vm();
    run_ok(
        Command::new(VM)
            .args(["run", "--systemd", "--timeout", "900", "--", "env"])
            .arg(format!("POLC={}", env!("CARGO_BIN_EXE_polc")))
            .args(["bash", scenario])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        scenario,
    )
}

/// Run `bash SCENARIO` (a path under the repository) in the VM without
/// systemd, as `scripts/vm run VM_ARGS... -- env POLC=... bash SCENARIO`
/// (VM_ARGS such as `--cpus 2`), with `POLC` set to this build's binary;
/// returns its stdout.
pub fn vm_scenario(scenario: &str, vm_args: &[&str]) -> String {
    ensure_vm();
    run_ok(
        Command::new(VM)
            .arg("run")
            .args(vm_args)
            .args(["--timeout", "600", "--", "env"])
            .arg(format!("POLC={}", env!("CARGO_BIN_EXE_polc")))
            .args(["bash", scenario])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        scenario,
    )
}
