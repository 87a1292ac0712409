//! Kernel tests of whole artifact sets: the examples, every clean fixture,
//! the hostile fixture, tunnels.sh, apply.sh, and shellcheck over every
//! generated script.

use super::{probe_case, run_in_ns, temp_dir, write_artifacts};
use crate::inbound;
use crate::plan::{Ctx, Probe};
use crate::probe::sh;
use pol_backends::BuildOptions;
use pol_lang::ir::{Program, Selector};
use pol_lang::sets::addr::{v4_prefixes, v6_prefixes};
use pol_lang::span::SourceMap;
use std::path::{Path, PathBuf};

pub type Test = (&'static str, &'static dyn Fn() -> Result<String, String>);
pub const TESTS: &[Test] = &[
    (
        "examples_and_fixtures_load_and_behave",
        &examples_and_fixtures,
    ),
    ("hostile_fixture_loads_and_behaves", &hostile_fixture),
    ("tunnels_sh_in_netns", &tunnels_sh),
    ("apply_sh_idempotent_check_and_restore", &apply_sh),
    (
        "apply_sh_check_says_what_apply_would_hit",
        &apply_sh_check_host,
    ),
    ("generated_scripts_pass_shellcheck", &shellcheck_all),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            pol_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "pol") {
            out.push(p);
        }
    }
}

/// Every example and every fixture that compiles without errors.
pub fn clean_inputs() -> Vec<(PathBuf, Program, SourceMap)> {
    let mut files = Vec::new();
    pol_files(&repo().join("examples"), &mut files);
    pol_files(&repo().join("tests/fixtures"), &mut files);
    pol_files(&repo().join("backends/tests/fixtures"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let c = pol_lang::compile(&f, &pol_lang::CompileOptions::default());
        if let Some(p) = c.program {
            if !c.diagnostics.has_errors() {
                out.push((f, p, c.sources));
            }
        }
    }
    out
}

/// Network setup for a real policy: default routes out of the veth, and a
/// veth stand-in (no ARP) for each tunnel, configured by tunnels.sh.
fn setup_script(program: &Program) -> String {
    let mut s = String::from(
        "set -e\nip route add default via 192.0.2.2\nip -6 route add default via 2001:db8:f::2\n",
    );
    for (i, t) in program.tunnels.iter().enumerate() {
        s.push_str(&format!("ip link add '{}' type veth peer name pol-standin{i}\nip link set '{}' arp off\nip link set pol-standin{i} up\n", t.dev, t.dev));
    }
    if !program.tunnels.is_empty() {
        s.push_str("POL_TUNNEL_STANDIN=1 sh \"$(dirname \"$0\")/tunnels.sh\"\n");
    }
    s
}

fn local_or_onlink(a: &str) -> bool {
    a.starts_with("127.")
        || a == "::1"
        || a.starts_with("192.0.2.")
        || a.starts_with("2001:db8:f:")
        || a.starts_with("0.")
        || a.starts_with("224.")
        || a.starts_with("ff")
        || a.starts_with("fe80")
        || a == "::"
        || a.starts_with("255.")
}

/// Probes for a real policy: the first address of every rule's `to` and
/// of every tunnel's routes, plus the standard ones, with common services.
fn probes_for(program: &Program) -> Vec<Probe> {
    let mut dsts: Vec<(bool, String)> = Vec::new();
    let mut add = |set: &pol_lang::sets::AddrSet| {
        for (a, _) in v4_prefixes(&set.v4).into_iter().take(3) {
            dsts.push((
                false,
                std::net::Ipv4Addr::from(u32::from(a).wrapping_add(1)).to_string(),
            ));
        }
        for (a, _) in v6_prefixes(&set.v6).into_iter().take(3) {
            dsts.push((
                true,
                std::net::Ipv6Addr::from(u128::from(a).wrapping_add(1)).to_string(),
            ));
        }
    };
    for p in &program.policies {
        for r in &p.rules {
            add(&r.matches.to);
        }
    }
    for t in &program.tunnels {
        add(&t.routes);
    }
    for d in ["93.184.216.34", "8.8.8.8", "198.18.0.1"] {
        dsts.push((false, d.into()));
    }
    for d in ["2606:2800:220:1::1", "2001:db8:100::1"] {
        dsts.push((true, d.into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    dsts.retain(|(_, a)| !local_or_onlink(a) && seen.insert(a.clone()));
    dsts.truncate(24);
    let mut v = Vec::new();
    for (v6, d) in dsts {
        for (proto, dport) in [
            (6, 22),
            (6, 53),
            (6, 80),
            (6, 443),
            (6, 587),
            (6, 993),
            (6, 5432),
            (17, 53),
            (17, 443),
            (if v6 { 58 } else { 1 }, 0),
        ] {
            v.push(Probe {
                v6,
                proto,
                dst: d.clone(),
                dport,
            });
        }
    }
    v
}

fn contexts_for(program: &Program) -> Vec<Ctx> {
    let mut v = vec![Ctx {
        cgroup: None,
        classid: 0,
    }];
    for g in &program.groups {
        let cg = g.selectors.iter().find_map(|s| {
            if let Selector::Cgroup(p) = s {
                Some(p.as_str().to_string())
            } else {
                None
            }
        });
        let cls = g.classids().next().map_or(0, |c| c.0);
        for c in [
            Ctx {
                cgroup: cg.clone(),
                classid: 0,
            },
            Ctx {
                cgroup: None,
                classid: cls,
            },
            Ctx {
                cgroup: cg,
                classid: cls,
            },
        ] {
            if !v.contains(&c) {
                v.push(c);
            }
        }
    }
    v.truncate(12);
    v
}

/// Load `program` and probe its output policies from every context (the
/// `__in_ns` child) and its input policies from the peer namespace
/// (inbound/). Returns the number of probes sent and, when the input
/// policies could not be probed, why.
fn load_and_probe(
    tag: &str,
    program: &Program,
    sources: &SourceMap,
) -> Result<(usize, Option<&'static str>), String> {
    let has_output = program
        .policies
        .iter()
        .any(|p| p.hook == pol_lang::ast::Hook::Output);
    let why_not_input = inbound::unprobeable(program);
    let mut n = 0;
    if has_output {
        let dir = temp_dir(tag);
        std::fs::write(dir.join("setup.sh"), setup_script(program)).map_err(|e| e.to_string())?;
        n += probe_case(
            &dir,
            program,
            sources,
            &BuildOptions::default(),
            &contexts_for(program),
            &probes_for(program),
        )?;
        cleanup(program);
        let _ = std::fs::remove_dir_all(&dir);
    } else if why_not_input.is_some() {
        // Nothing to probe: load and list only.
        let dir = temp_dir(tag);
        std::fs::write(dir.join("setup.sh"), setup_script(program)).map_err(|e| e.to_string())?;
        write_artifacts(&dir, program, sources, &BuildOptions::default())?;
        std::fs::write(dir.join("plan.txt"), "").map_err(|e| e.to_string())?;
        run_in_ns(&dir)?;
        let listed = std::fs::read_to_string(dir.join("listed.nft")).map_err(|e| e.to_string())?;
        super::check_comments(program, sources, &listed)?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    if why_not_input.is_none() {
        n += inbound::probe_program_inputs(&format!("{tag}-input"), program, sources)?;
    }
    Ok((n, why_not_input.filter(|w| *w != inbound::NO_INPUT)))
}

/// Remove the cgroups a case created on the host's cgroup2 hierarchy
/// (deepest first; ones that existed before and are in use stay).
fn cleanup(program: &Program) {
    let root = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    let mut paths = pol_backends::cgroups::cgroup_paths(program);
    paths.reverse();
    for p in paths {
        let _ = std::fs::remove_dir(Path::new(root).join(p));
    }
}

fn examples_and_fixtures() -> Result<String, String> {
    let inputs = clean_inputs();
    let mut report = Vec::new();
    let mut total = 0;
    for (f, program, sources) in &inputs {
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (n, note) = load_and_probe(&format!("ex-{name}"), program, sources)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        total += n;
        match note {
            Some(why) => report.push(format!("{name}: {n} ({why})")),
            None => report.push(format!("{name}: {n}")),
        }
    }
    Ok(format!(
        "{} inputs loaded, {total} probes sent ({})",
        inputs.len(),
        report.join(", ")
    ))
}

fn hostile_fixture() -> Result<String, String> {
    let f = repo().join("backends/tests/fixtures/hostile.pol");
    let c = pol_lang::compile(&f, &pol_lang::CompileOptions::default());
    let program = c
        .program
        .ok_or_else(|| format!("hostile.pol does not compile: {:?}", c.diagnostics))?;
    let dir = temp_dir("hostile-build");
    write_artifacts(&dir, &program, &c.sources, &BuildOptions::default())?;
    for s in ["cgroups.sh", "tunnels.sh", "tuning.sh", "apply.sh"] {
        sh(&format!("sh -n '{}/{s}'", dir.display()), &[])?;
    }
    let (n, _) = load_and_probe("hostile", &program, &c.sources)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!("{n} probes sent"))
}

fn tunnels_sh() -> Result<String, String> {
    let f = repo().join("examples/corp-tunnel.pol");
    let c = pol_lang::compile(&f, &pol_lang::CompileOptions::default());
    let program = c.program.ok_or("corp-tunnel.pol does not compile")?;
    let t = program
        .tunnels
        .first()
        .ok_or("corp-tunnel.pol has no tunnel")?;
    let dir = temp_dir("tunnels");
    write_artifacts(&dir, &program, &c.sources, &BuildOptions::default())?;
    let d = dir.display();
    let has_vti6 = sh("unshare -n sh -c 'ip link add pol-probe type vti6 local 2001:db8::1 remote 2001:db8::2 key 1'", &[]).is_ok();
    let mut checks = String::new();
    let addr = format!("{}/{}", t.address.0, t.address.1);
    checks.push_str(&format!("ip -6 addr show dev '{dev}' | grep -q '{addr}'\n[ \"$(cat /proc/sys/net/ipv6/conf/{dev}/disable_policy)\" = 1 ]\n", dev = t.dev));
    for (a, l) in v6_prefixes(&t.routes.v6) {
        checks.push_str(&format!(
            "ip -6 route show dev '{}' | grep -q '{a}/{l}'\n",
            t.dev
        ));
    }
    for (a, l) in v4_prefixes(&t.routes.v4) {
        checks.push_str(&format!(
            "ip -4 route show dev '{}' | grep -q '{a}/{l}'\n",
            t.dev
        ));
    }
    // --check changes nothing: no link is left, whatever the kernel has.
    let check = sh(
        &format!(
            "unshare -n sh -c 'sh {d}/tunnels.sh --check; s=$?; ! ip link show dev {dev} >/dev/null 2>&1 && exit $s; echo --check created {dev} >&2; exit 99'",
            dev = t.dev
        ),
        &[],
    );
    match (&check, has_vti6) {
        (Ok(_), true) => {}
        (Err(e), false)
            if e.contains("the kernel lacks vti6") && !e.contains("exit status: 99") => {}
        _ => return Err(format!("tunnels.sh --check (vti6: {has_vti6}): {check:?}")),
    }
    let how = if has_vti6 {
        sh(&format!("unshare -n sh -c 'set -e; ip link set lo up; sh {d}/tunnels.sh; sh {d}/tunnels.sh; {}'", checks.replace('\'', "'\\''")), &[])?;
        "vti6 present: real vti6 link"
    } else {
        // The kernel lacks vti6: tunnels.sh must say so, and the address
        // and route commands run against a veth stand-in.
        let err = sh(&format!("unshare -n sh {d}/tunnels.sh"), &[])
            .err()
            .ok_or("tunnels.sh succeeded without vti6")?;
        if !err.contains("the kernel lacks vti6") {
            return Err(format!(
                "tunnels.sh failed without naming the missing feature: {err}"
            ));
        }
        let script = format!(
            "set -e\nip link set lo up\nip link add '{dev}' type veth peer name pol-standin\nip link set pol-standin up\nPOL_TUNNEL_STANDIN=1 sh {d}/tunnels.sh\nPOL_TUNNEL_STANDIN=1 sh {d}/tunnels.sh\n{checks}",
            dev = t.dev
        );
        std::fs::write(dir.join("standin.sh"), script).map_err(|e| e.to_string())?;
        sh(&format!("unshare -n sh {d}/standin.sh"), &[])?;
        "kernel lacks vti6: said so, then ran addresses and routes on a veth stand-in (twice)"
    };
    let _ = std::fs::remove_dir_all(&dir);
    Ok(how.to_string())
}

fn apply_sh() -> Result<String, String> {
    use pol_lang::ast::{Hook, Verdict};
    use pol_lang::ir::{Match, Qdisc, Sysctl, SysctlValue};
    use support_gen::*;
    let prefix = format!("poltest-apply-{}", std::process::id());
    let mut b = Builder::new();
    let g = b.group("app", vec![cg(&format!("{prefix}/app svc"))]);
    let p = b.policy("egress", Hook::Output, Verdict::Reject);
    b.rule(
        p,
        Verdict::Allow,
        Match {
            groups: Some(vec![g]),
            ..Match::any()
        },
    );
    let span = b.line("tuning");
    b.program.tuning.sysctls.push(Sysctl {
        key: "net.ipv4.tcp_autocorking".into(),
        value: SysctlValue::Int(0),
        per_netns: true,
        checked: true,
        span,
    });
    b.program.tuning.qdiscs.push(Qdisc {
        dev: "lo".into(),
        kind: "pfifo".into(),
        span,
    });
    let (program, sources) = b.finish("apply.pol");
    let dir = temp_dir("apply");
    write_artifacts(&dir, &program, &sources, &BuildOptions::default())?;
    // Builds without a policy: refused over a loaded table unless built
    // with --allow-empty.
    let (empty, empty_src) = Builder::new().finish("empty.pol");
    write_artifacts(
        &dir.join("empty"),
        &empty,
        &empty_src,
        &BuildOptions::default(),
    )?;
    write_artifacts(
        &dir.join("empty-allowed"),
        &empty,
        &empty_src,
        &BuildOptions {
            allow_empty: true,
            ..BuildOptions::default()
        },
    )?;
    let d = dir.display();
    let script = format!(
        r#"set -eu
mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up
# --check before anything exists (cgroups checked on a throwaway tmpfs)
sh {d}/apply.sh --check
[ ! -e "/sys/fs/cgroup/{prefix}" ]
sh {d}/apply.sh
nft list ruleset >{d}/first.txt
sh {d}/apply.sh
nft list ruleset >{d}/second.txt
cmp {d}/first.txt {d}/second.txt
[ "$(cat /proc/sys/net/ipv4/tcp_autocorking)" = 0 ]
tc qdisc show dev lo | grep -q pfifo
sh {d}/apply.sh --check
# a failing load leaves the previous table loaded
cat >{d}/fake-nft <<'FAKE'
#!/bin/sh
# apply.sh loads ruleset.nft plus refresh.sh's elements from a temporary pol-load.* file
for a in "$@"; do case $a in */ruleset.nft|*/pol-load.*) [ "$1" = -f ] && {{ echo 'fake nft: load fails' >&2; exit 1; }} ;; esac; done
exec nft "$@"
FAKE
chmod +x {d}/fake-nft
nft add rule inet pol policy-egress counter comment '"marker"'
if NFT={d}/fake-nft sh {d}/apply.sh 2>{d}/err.txt; then echo 'apply.sh succeeded with a failing nft' >&2; exit 1; fi
grep -q 'the previous table inet pol is still loaded' {d}/err.txt
nft list ruleset | grep -q marker
# a build without a policy does not empty the loaded table...
if sh {d}/empty/apply.sh 2>{d}/err-empty.txt; then echo 'an empty build emptied the table' >&2; exit 1; fi
grep -q 'this build has no policy' {d}/err-empty.txt
nft list ruleset | grep -q marker
# ...unless built with --allow-empty
sh {d}/empty-allowed/apply.sh
! nft list ruleset | grep -q marker
rmdir "/sys/fs/cgroup/{prefix}/app svc" "/sys/fs/cgroup/{prefix}"
# a ruleset nft rejects changes nothing: no cgroup, no sysctl, no qdisc
nft delete table inet pol
printf '1\n' >/proc/sys/net/ipv4/tcp_autocorking
tc qdisc del dev lo root
cat >{d}/reject-nft <<'FAKE'
#!/bin/sh
[ "$1" = -c ] && {{ echo 'fake nft: the ruleset does not parse' >&2; exit 1; }}
exec nft "$@"
FAKE
chmod +x {d}/reject-nft
if NFT={d}/reject-nft sh {d}/apply.sh 2>{d}/err-reject.txt; then echo 'apply.sh succeeded with a rejected ruleset' >&2; exit 1; fi
grep -q 'does not pass nft -c; nothing changed' {d}/err-reject.txt
[ ! -e "/sys/fs/cgroup/{prefix}" ]
[ "$(cat /proc/sys/net/ipv4/tcp_autocorking)" = 1 ]
! tc qdisc show dev lo | grep -q pfifo
! nft list tables | grep -q pol
"#
    );
    std::fs::write(dir.join("t.sh"), script).map_err(|e| e.to_string())?;
    sh(
        &format!("unshare -n -m --propagation private sh {d}/t.sh"),
        &[],
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok("check without cgroups, two runs identical, a failed load keeps the table, an empty build refused (allowed with --allow-empty), a rejected ruleset changes nothing".into())
}

/// `apply.sh --check` fails for the reasons `apply.sh` would, and says
/// which: not root (it used to say "no private mount namespace" or "does
/// not pass nft -c"), and no cgroup2 hierarchy where cgroups.sh needs one
/// (it used to pass, over its throwaway tmpfs).
fn apply_sh_check_host() -> Result<String, String> {
    use pol_lang::ast::{Hook, Verdict};
    use pol_lang::ir::Match;
    use support_gen::*;
    let mut b = Builder::new();
    let g = b.group("app", vec![cg("poltest-check.slice/app.scope")]);
    let p = b.policy("egress", Hook::Output, Verdict::Drop);
    b.rule(
        p,
        Verdict::Allow,
        Match {
            groups: Some(vec![g]),
            ..Match::any()
        },
    );
    let (program, sources) = b.finish("check.pol");
    let dir = temp_dir("apply-check");
    write_artifacts(&dir, &program, &sources, &BuildOptions::default())?;
    let d = dir.display();
    let script = format!(
        r#"set -u
expect_failure() {{
	want=$1
	shift
	if out=$("$@" 2>&1); then echo "passed: $*" >&2; exit 1; fi
	case $out in *"$want"*) ;; *) printf 'wanted "%s" from %s, got:\n%s\n' "$want" "$*" "$out" >&2; exit 1 ;; esac
}}
nobody='setpriv --reuid=65534 --regid=65534 --clear-groups'
expect_failure 'must run as root' $nobody sh {d}/apply.sh --check
expect_failure 'must run as root' $nobody sh {d}/apply.sh
mount -t tmpfs pol-not-cgroup2 /sys/fs/cgroup
expect_failure 'no cgroup v2 hierarchy' sh {d}/apply.sh --check
umount /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
sh {d}/apply.sh --check
"#
    );
    std::fs::write(dir.join("t.sh"), script).map_err(|e| e.to_string())?;
    sh(
        &format!("unshare -n -m --propagation private sh {d}/t.sh"),
        &[],
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok("as nobody: must run as root; without cgroup2: said so; with it: passes".into())
}

mod support_gen {
    pub use crate::support::gen::*;
}

fn shellcheck_all() -> Result<String, String> {
    if sh("command -v shellcheck", &[]).is_err() {
        return Err(
            "shellcheck is not installed (CI installs it: apt-get install shellcheck)".into(),
        );
    }
    let dir = temp_dir("shellcheck");
    let mut n = 0;
    let mut sets: Vec<(String, Program, SourceMap)> = clean_inputs()
        .into_iter()
        .map(|(f, p, s)| {
            (
                f.file_stem()
                    .map(|x| x.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                p,
                s,
            )
        })
        .collect();
    for seed in 0..5 {
        let (p, s) = crate::support::gen::kernel_policy(seed, "x");
        sets.push((format!("random-{seed}"), p, s));
    }
    for (name, program, sources) in &sets {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
        write_artifacts(&sub, program, sources, &BuildOptions::default())?;
        for s in ["cgroups.sh", "tunnels.sh", "tuning.sh", "apply.sh"] {
            let f = sub.join(s);
            sh(
                &format!("sh -n '{0}' && shellcheck -s sh '{0}'", f.display()),
                &[],
            )?;
            n += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!("{n} scripts pass sh -n and shellcheck"))
}
