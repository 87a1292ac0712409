//! `polc exec` for real: in a private mount namespace with cgroup2 mounted
//! at /sys/fs/cgroup, a command launched with `polc exec FILE GROUP -- CMD`
//! runs in the group's cgroup (read back from `/proc/self/cgroup`), and a
//! group whose cgroup does not exist is a clear error, not a silent run.
//! Needs root (CI runs as root); without it the test says SKIPPED.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn exec_runs_the_command_in_the_groups_cgroup() {
    if !is_root() {
        eprintln!(
            "SKIPPED exec_runs_the_command_in_the_groups_cgroup: needs root for mount namespaces"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let slice = format!("polc-exec-test-{}.slice", std::process::id());
    let policy = dir.path().join("exec.pol");
    std::fs::write(
        &policy,
        format!("group app {{ cgroup \"{slice}/app.scope\" }}\ngroup ghost {{ cgroup \"{slice}/missing.scope\" }}\npolicy p {{\n    hook output\n    default drop\n    allow app\n}}\n"),
    )
    .unwrap();
    let polc = env!("CARGO_BIN_EXE_polc");
    let script = format!(
        r#"set -eu
mount -t cgroup2 none /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/{slice}/app.scope
trap 'rmdir /sys/fs/cgroup/{slice}/app.scope /sys/fs/cgroup/{slice} 2>/dev/null || true' EXIT
"$POLC" exec "$POLICY" app -- cat /proc/self/cgroup
if "$POLC" exec "$POLICY" ghost -- true 2>/tmp/polc-exec-err-$$; then echo "ghost ran"; exit 1; fi
cat /tmp/polc-exec-err-$$ >&2
rm -f /tmp/polc-exec-err-$$
"#
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .env("POLC", polc)
        .env("POLICY", &policy)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exec test failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let v2 = stdout
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap_or_else(|| panic!("no cgroup v2 line:\n{stdout}"));
    assert_eq!(
        v2,
        format!("0::/{slice}/app.scope"),
        "the command runs in the group's cgroup"
    );
    assert!(
        stderr.contains("does not exist"),
        "a missing cgroup is explained: {stderr}"
    );
}
