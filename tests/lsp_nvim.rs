//! A real editor as the client: headless Neovim (Debian's 0.7.2, its
//! built-in LSP client, no user configuration) starts `polc lsp` on
//! tests/fixtures/lsp/shadowed.pol, receives the verifier's finding for
//! the shadowed rule, and asks for the definition of `corp`, which is in
//! the imported names.pol (`tests/lsp/nvim.sh`, `tests/lsp/nvim.lua`).
//! Needs Neovim: nvim.sh installs it with apt-get when it is missing and
//! the test runs as root (CI); otherwise the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;
use support::{is_root, repo};

#[test]
fn neovim_receives_the_finding_and_goes_to_the_imported_definition() {
    let have_nvim = Command::new("nvim").arg("--version").output().is_ok();
    if !have_nvim && !is_root() {
        eprintln!("SKIPPED neovim_receives_the_finding_and_goes_to_the_imported_definition: needs nvim (or root to install it)");
        return;
    }
    let fixture = repo().join("tests/fixtures/lsp/shadowed.pol");
    // Line 9 (1-based), column 22: `corp` in `allow browser to corp …`.
    let out = Command::new("bash")
        .arg(repo().join("tests/lsp/nvim.sh"))
        .arg(&fixture)
        .args(["9", "22"])
        .env("POLC", env!("CARGO_BIN_EXE_polc"))
        // The verifier's findings follow the front end's (empty) list.
        .env("POL_SETTLE_MS", "3000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"CLIENT polc"), "{stdout}");
    assert!(lines.contains(&"DIAGNOSTICS 1"), "{stdout}");
    let diag = lines
        .iter()
        .find(|l| l.starts_with("DIAG "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        diag.starts_with(
            "DIAG 10:5 error P0301 rule never matches: every packet it matches is decided earlier"
        ),
        "{diag}"
    );
    assert!(
        diag.contains("witness: group `browser` (cgroup \"apps.slice/firefox.slice\")"),
        "{diag}"
    );
    let names = std::fs::canonicalize(repo().join("tests/fixtures/lsp/names.pol")).unwrap();
    let want = format!("DEF file://{} 2:9", names.display());
    assert!(lines.contains(&want.as_str()), "want {want}:\n{stdout}");
}
