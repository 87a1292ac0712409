//! `cargo bench --bench status` (as root): `polc status DIR` on generated
//! policies of 1,000 / 10,000 / 100,000 rules (`POL_BENCH_SIZES`,
//! comma-separated), each built and loaded into a fresh network namespace
//! (cgroup directories on a tmpfs). Reports the median of 3 runs of a
//! clean status (the live table read back and proved equal to the
//! build's), then inserts one rule that changes a verdict and shows what
//! status prints (drift, witness) and its time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark driver"
)]

#[path = "../backends/tests/support/mod.rs"]
mod support;

use pol_backends::manifest::Manifest;
use pol_backends::BuildOptions;
use std::process::Command;

const SCRIPT: &str = r#"set -eu
mount -t tmpfs polc-bench /sys/fs/cgroup
xargs -d '\n' -r -I{} mkdir -p "/sys/fs/cgroup/{}" <"$DIR/../cgroups"
{ cat "$DIR/ruleset.nft"; sh "$DIR/refresh.sh" --print; } | nft -f -
ms() { echo $(( $(date +%s%N) / 1000000 )); }
for i in 1 2 3; do
	s=$(ms)
	POL_STATUS_TIMING=1 "$POLC" status "$DIR" >"$DIR/../status.txt" 2>"$DIR/../timing.txt" || { cat "$DIR/../status.txt"; exit 1; }
	echo "clean $(( $(ms) - s ))"
done
grep -E '^(proved|checked)' "$DIR/../status.txt" | sed 's/^/  | /'
sed 's/^/  | /' "$DIR/../timing.txt"
nft insert rule inet pol "$CHAIN" ip daddr 203.0.113.9 tcp dport 4444 accept
s=$(ms)
set +e
"$POLC" status "$DIR" >"$DIR/../drift.txt"
rc=$?
set -e
echo "drift $(( $(ms) - s )) exit $rc"
grep -E '^(drift|  )' "$DIR/../drift.txt" | head -8 | sed 's/^/  | /'
"#;

fn main() {
    if Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() != "0")
        .unwrap_or(true)
    {
        eprintln!("bench status: needs root (network and mount namespaces, nft)");
        return;
    }
    let sizes: Vec<usize> = std::env::var("POL_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let polc = env!("CARGO_BIN_EXE_polc");
    for n in sizes {
        let (program, sources) = support::gen::bench_policy(n, 7);
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("build");
        let arts = pol_backends::build(&program, &sources, &BuildOptions::default()).unwrap();
        pol_backends::output::write_dir(&dir, &arts).unwrap();
        let m =
            Manifest::parse(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        let mut cg = m.host.cgroups.clone();
        cg.extend(m.host.systemd_cgroups.clone());
        std::fs::write(t.path().join("cgroups"), cg.join("\n") + "\n").unwrap();
        let chain = format!("policy-{}", program.policies[0].name);
        let out = Command::new("unshare")
            .args(["-n", "-m", "--propagation", "private", "sh", "-c", SCRIPT])
            .env("POLC", polc)
            .env("DIR", &dir)
            .env("CHAIN", &chain)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            println!(
                "{n} rules: failed\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let mut clean: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("clean ")?.parse().ok())
            .collect();
        clean.sort_unstable();
        println!(
            "{n} rules: polc status clean, median of 3: {} ms (runs {clean:?})",
            clean.get(1).copied().unwrap_or(0)
        );
        for l in text.lines().filter(|l| !l.starts_with("clean ")) {
            println!("{l}");
        }
    }
}
