//! Every file `polc build` writes under `systemd/` passes `systemd-analyze
//! verify` (systemd 252 here; it need not be PID 1). `verify` only reads a
//! drop-in through its unit, so each drop-in directory gets a stub unit of
//! its name (`ExecStart=/bin/true`) in a temporary unit directory, searched
//! first (`SYSTEMD_UNIT_PATH=DIR:`). Slices and their refresh services are
//! verified as they are. Clean means exit status 0 *and* no output: systemd
//! only warns, exit 0, about a command line with unbalanced quotes.
//!
//! Without `systemd-analyze` the test says SKIPPED loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use pol_backends::{build, BuildOptions};
use std::path::Path;
use std::process::Command;

/// Units and slices with every kind of name the quoting must carry: a
/// template instance, an escaped `\x2d`, nested slices, a socket.
const POLICY: &str = r#"
group web { unit "nginx.service" }
group getty { unit "getty@tty1.service" }
group escaped { unit "foo\\x2dbar.service" }
group sock { unit "cups.socket" }
group nested { unit "polc-verify.slice/job.service" }
group browser { slice "polc_browser-firefox.slice" }
group mine { slice "app-chat.slice" user 1000 }
policy egress {
    hook output
    default drop
    allow web to 192.0.2.0/24 tcp 443
    allow { getty, escaped, sock, nested } to 192.0.2.0/24 udp 9
    allow browser to 198.51.100.0/24 tcp 443
    allow mine to 198.51.100.0/24 tcp 443
}
"#;

fn analyze() -> bool {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn stub(name: &str) -> String {
    if name.ends_with(".socket") {
        "[Socket]\nListenStream=/run/polc-verify-test.sock\n".into()
    } else {
        "[Service]\nExecStart=/bin/true\n".into()
    }
}

/// Verify every unit under `dir/systemd`; returns how many were checked.
fn verify_dir(out: &Path) -> Result<usize, String> {
    let sd = out.join("systemd");
    let units = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for e in std::fs::read_dir(&sd).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let dst = units.path().join(&name);
        if e.file_type().unwrap().is_dir() {
            let unit = name.strip_suffix(".d").unwrap().to_string();
            std::fs::create_dir(&dst).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), dst.join(f.file_name())).unwrap();
            }
            std::fs::write(units.path().join(&unit), stub(&unit)).unwrap();
            if let Some(svc) = unit.strip_suffix(".socket") {
                std::fs::write(
                    units.path().join(format!("{svc}.service")),
                    stub("x.service"),
                )
                .unwrap();
            }
            checked.push(unit);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            checked.push(name);
        }
    }
    checked.sort();
    checked.dedup();
    for u in &checked {
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(units.path().join(u))
            .env("SYSTEMD_UNIT_PATH", format!("{}:", units.path().display()))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if !o.status.success() || !text.trim().is_empty() {
            return Err(format!(
                "`systemd-analyze verify {u}` is not clean:\n{text}"
            ));
        }
    }
    Ok(checked.len())
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    if !analyze() {
        eprintln!(
            "\n*** SKIPPED generated_units_pass_systemd_analyze_verify: no systemd-analyze ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("units.pol");
    std::fs::write(&file, POLICY).unwrap();
    let c = pol_lang::compile(&file, &pol_lang::CompileOptions::default());
    let program = c.program.unwrap_or_else(|| panic!("{:?}", c.diagnostics));
    let arts = build(&program, &c.sources, &BuildOptions::default()).unwrap();
    let names: Vec<&str> = arts.iter().map(|a| &a.name[..]).collect();
    for want in [
        "systemd/nginx.service.d/50-polc.conf",
        "systemd/getty@tty1.service.d/50-polc.conf",
        "systemd/foo\\x2dbar.service.d/50-polc.conf",
        "systemd/cups.socket.d/50-polc.conf",
        "systemd/job.service.d/50-polc.conf",
        "systemd/polc_browser-firefox.slice",
        "systemd/polc-refresh-polc_browser-firefox.service",
        "systemd/polc-pol.service",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    // A user manager's units get nothing (no privileged hook there).
    assert!(!names.iter().any(|n| n.contains("app-chat")), "{names:?}");
    let escaped = arts
        .iter()
        .find(|a| a.name == "systemd/foo\\x2dbar.service.d/50-polc.conf")
        .unwrap();
    assert!(
        escaped.contents.contains(
            "ExecStartPre=+nft 'add element inet pol cg_escaped_l2 { \"system.slice/foo\\\\x2dbar.service\" }'"
        ),
        "{}",
        escaped.contents
    );
    let out = dir.path().join("out");
    pol_backends::output::write_dir(&out, &arts).unwrap();
    let n = verify_dir(&out).unwrap();
    assert_eq!(
        n, 8,
        "every unit, slice and drop-in, and the boot unit, was verified"
    );

    // The workstation example (README's build) is clean too.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let c = pol_lang::compile(
        &repo.join("examples/workstation.pol"),
        &pol_lang::CompileOptions::default(),
    );
    let program = c.program.unwrap();
    let arts = build(&program, &c.sources, &BuildOptions::default()).unwrap();
    let out = dir.path().join("ws");
    pol_backends::output::write_dir(&out, &arts).unwrap();
    assert!(verify_dir(&out).unwrap() >= 1);
}

/// The same check must fail on a broken unit, or it proves nothing.
#[test]
fn verify_catches_a_broken_drop_in() {
    if !analyze() {
        eprintln!("\n*** SKIPPED verify_catches_a_broken_drop_in: no systemd-analyze ***\n");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let d = out.path().join("systemd/web.service.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("50-polc.conf"),
        "[Service]\nExecStartPre=+nft 'add element inet pol s { \"x\" }\n",
    )
    .unwrap();
    assert!(verify_dir(out.path()).is_err());
}
