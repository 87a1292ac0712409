//! Fuzz: hostile file names and text through the whole backend.
//!
//! Each case compiles one policy (a tunnel, cgroup groups, a sysctl, a
//! qdisc, rules with comments and log prefixes), then makes everything a
//! source or a file name can put into an artifact hostile: the entry file's
//! name, an "imported" file's name (the tunnel and some rules come from
//! it), rule comments, log prefixes, the tunnel's and groups' names, cgroup
//! path components and the sysctl value. The names go straight into the
//! `SourceMap` (the front end refuses control characters in file names;
//! the backends must be safe without that). Hostile text is made of
//! newlines, CR, quotes, `$()`, backticks, `;`, `#`, U+2028/U+2029/U+0085,
//! other controls, bidi overrides, nft statements (`flush ruleset`,
//! `table inet pwned { }`), and commands that `touch` a canary file unique
//! to the run.
//!
//! Checks, per case:
//! - every artifact has exactly as many lines as the same program built
//!   with harmless names (no text started a line of its own);
//! - `sh -n` on every script, and `shellcheck -s sh` on all of them;
//! - as root: in a fresh network + mount namespace (tmpfs over
//!   /sys/fs/cgroup and /proc/sys, a veth standing in for the tunnel),
//!   `nft -c -f ruleset.nft`, apply.sh twice, `nft -c` again, and the only
//!   table is `inet pol`; after every run, the canary must not exist.
//!
//! Values the backends cannot express exactly (a policy or table name that
//! is not an identifier, a cgroup path nft cannot quote) must be refused
//! with an error: such cases are counted as refused.
//!
//! `POL_FUZZ_CASES=N` (default 200) sets the number of cases,
//! `POL_FUZZ_SEED=N` the seed (default: from the clock; printed).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test"
)]

#[path = "support/mod.rs"]
mod support;

use pol_backends::{build, Artifact, BuildOptions};
use pol_lang::ir::{CgroupPath, Log, Program, Qdisc, Selector, SysctlValue};
use pol_lang::span::{FileId, SourceMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::gen::Rng;

const TEMPLATE: &str = r#"group app { cgroup "pol-fuzz/app" }
group web { cgroup "pol-fuzz/web" }

tunnel corp {
    local 2001:db8::1
    remote 2001:db8:ffff::1
    key 42
    address fd00:42::1/64
    routes 10.20.0.0/16
    mtu 1400
}

tuning {
    net.ipv4.tcp_congestion_control = "cubic"
}

policy egress {
    hook output
    default reject

    allow app to 198.18.0.0/24 tcp 80 log "a" comment "b"
    allow web to 198.18.0.1 tcp 443 counter comment "c"
    allow app to 10.20.0.0/16 via corp
    drop to 2001:db8:100::/48 log
    reject web to 198.18.1.0/24 udp 53
}
"#;

const SCRIPTS: [&str; 5] = [
    "cgroups.sh",
    "tunnels.sh",
    "tuning.sh",
    "refresh.sh",
    "apply.sh",
];

/// The pieces hostile text is made of; `@` is replaced by the canary path.
const FRAGMENTS: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "'",
    "\"",
    "$(touch @)",
    "`touch @`",
    ";touch @;",
    "\ntouch @\n",
    "\rtouch @ #",
    "'; touch @; '",
    "\"; touch @; \"",
    "\u{2028}touch @\u{2028}",
    "\u{85}touch @\u{85}",
    "\u{2029}",
    "#",
    "\t",
    "\u{b}",
    "\u{c}",
    "\u{1b}[2J",
    "\u{7f}",
    "\u{9b}",
    "\u{202e}",
    "\u{feff}",
    "\0",
    "\\",
    "\\n",
    "${HOME}",
    "$IFS",
    "{",
    "}",
    "*",
    "|",
    "&",
    ">",
    "<",
    " ",
    "é漢字✓",
    "flush ruleset",
    "\nflush ruleset\n",
    "\ntable inet pwned { }\n",
    "\"\ntable inet pwned { }\n#",
    "include \"/etc/passwd\"",
    "$x",
    "%s%n",
    "lib",
    "x",
    ".pol",
    "..",
];

fn hostile(rng: &mut Rng, canary: &str) -> String {
    let n = 1 + rng.below(6);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(&rng.pick(FRAGMENTS).replace('@', canary));
    }
    s
}

/// A cgroup path component from hostile text: what a cgroup path can hold
/// (no `/`, no control characters) and nft can quote, so the case builds.
fn component(h: &str) -> String {
    let c: String = h
        .chars()
        .filter(|c| *c != '/' && pol_lang::safe_text::nft::quotable(&c.to_string()))
        .take(40)
        .collect();
    if c.is_empty() || c == "." || c == ".." {
        "x".into()
    } else {
        c
    }
}

/// The texts one case puts into the program.
struct Texts {
    entry: String,
    import: String,
    comments: Vec<String>,
    logs: Vec<String>,
    tunnel: String,
    groups: Vec<String>,
    cgroups: Vec<String>,
    sysctl: String,
    policy: Option<String>,
    table: Option<String>,
}

impl Texts {
    fn hostile(rng: &mut Rng, canary: &str) -> Texts {
        let mut h = || hostile(rng, canary);
        let mut t = Texts {
            entry: format!("{}.pol", h()),
            import: format!("lib/{}.pol", h()),
            comments: (0..5).map(|_| h()).collect(),
            logs: (0..5).map(|_| h()).collect(),
            tunnel: h(),
            groups: vec!["app".into(), "web".into()],
            cgroups: (0..2).map(|_| component(&h())).collect(),
            // A value sysctl.d reads back as written: hostile, but without
            // controls or surrounding blanks (those are refused, P0408).
            sysctl: {
                let v: String = h()
                    .chars()
                    .filter(|c| !pol_lang::safe_text::sh::needs_escape(*c) && !c.is_control())
                    .collect();
                let v = v.trim();
                if v.is_empty() {
                    "x".to_string()
                } else {
                    v.to_string()
                }
            },
            policy: None,
            table: None,
        };
        // Now and then a value that must be refused.
        if rng.chance(5) {
            t.policy = Some(hostile(rng, canary));
        }
        if rng.chance(5) {
            t.table = Some(hostile(rng, canary));
        }
        // A group's name names its nft sets (`cg_GROUP_lN`): a hostile one
        // must be refused too.
        if rng.chance(5) {
            t.groups = (0..2).map(|_| hostile(rng, canary)).collect();
        }
        t
    }

    /// True when every name that reaches an nft identifier is one.
    fn names_ok(&self) -> bool {
        self.policy
            .iter()
            .chain(&self.table)
            .all(|n| pol_lang::safe_text::nft::is_identifier(n))
            && self.groups.iter().all(|g| {
                !g.is_empty()
                    && g.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
    }

    /// The same shape with harmless text: the reference line counts.
    fn harmless(&self) -> Texts {
        Texts {
            entry: "x.pol".into(),
            import: "lib/x.pol".into(),
            comments: vec!["x".into(); self.comments.len()],
            logs: vec!["x".into(); self.logs.len()],
            tunnel: "x".into(),
            groups: vec!["app".into(), "web".into()],
            // As many bytes as the hostile components: a set's elements
            // wrap by length, and the line count must only change by that.
            cgroups: self.cgroups.iter().map(|c| "x".repeat(c.len())).collect(),
            sysctl: "x".into(),
            // Kept: the reference is only built when they are nft
            // identifiers (`names_ok`), and the table names an artifact
            // (`systemd/polc-TABLE.service`).
            policy: self.policy.clone(),
            table: self.table.clone(),
        }
    }
}

/// `base` with `t` applied; the sources renamed (an import added).
fn apply(base: &Program, sources: &SourceMap, t: &Texts) -> (Program, SourceMap, BuildOptions) {
    let mut p = base.clone();
    let mut map = SourceMap::new();
    let mut entry = None;
    for (id, f) in sources.files() {
        let name = if !f.builtin && entry.is_none() {
            entry = Some(id);
            t.entry.clone()
        } else {
            f.name.clone()
        };
        map.add(name, f.text.clone(), f.builtin);
    }
    let entry = entry.expect("the template has an entry file");
    let import = map.add(t.import.clone(), sources.text(entry).to_string(), false);
    let imported = |file: &mut FileId| {
        if *file == entry {
            *file = import;
        }
    };
    for tn in &mut p.tunnels {
        tn.name = t.tunnel.clone();
        imported(&mut tn.span.file);
    }
    for (i, g) in p.groups.iter_mut().enumerate() {
        g.name = t.groups[i % t.groups.len()].clone();
        let prefix = if i == 0 { "a-" } else { "b-" };
        let path = CgroupPath::parse(&format!("pol-fuzz/{prefix}{}", t.cgroups[i % 2]))
            .expect("components are valid");
        p.cgroups.insert(&path);
        g.selectors = vec![Selector::Cgroup(path)];
    }
    for pol in &mut p.policies {
        if let Some(n) = &t.policy {
            pol.name = n.clone();
        }
        for (i, r) in pol.rules.iter_mut().enumerate() {
            r.comment = Some(t.comments[i % t.comments.len()].clone());
            r.log = Some(Log {
                prefix: Some(t.logs[i % t.logs.len()].clone()),
            });
            if i % 2 == 1 {
                imported(&mut r.span.file);
            }
        }
    }
    let site = p.tuning.sysctls[0].span;
    for s in &mut p.tuning.sysctls {
        s.value = SysctlValue::Str(t.sysctl.clone());
        imported(&mut s.span.file);
    }
    p.tuning.qdiscs = vec![Qdisc {
        dev: "lo".into(),
        kind: "pfifo".into(),
        span: site,
    }];
    let opts = BuildOptions {
        table: t.table.clone().unwrap_or_else(|| "pol".into()),
        ..BuildOptions::default()
    };
    (p, map, opts)
}

fn sh(script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{script}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs the artifacts in `dir` in a private network + mount namespace.
const RUN: &str = r#"set -eu
d=$1
mount -t tmpfs pol-fuzz-cgroup /sys/fs/cgroup
: >/sys/fs/cgroup/cgroup.controllers
ip link set lo up
ip link add vti6-corp type veth peer name pol-fuzz-peer
ip link set pol-fuzz-peer up
mount -t tmpfs pol-fuzz-sysctl /proc/sys
mkdir -p /proc/sys/net/ipv6/conf/vti6-corp /proc/sys/net/ipv4
echo 0 >/proc/sys/net/ipv6/conf/vti6-corp/disable_policy
echo cubic >/proc/sys/net/ipv4/tcp_congestion_control
export POL_TUNNEL_STANDIN=1
sh "$d/cgroups.sh"
nft -c -f "$d/ruleset.nft"
sh "$d/apply.sh" >/dev/null
sh "$d/apply.sh" >/dev/null
sh "$d/apply.sh" --check >/dev/null
tables=$(nft list tables)
[ "$tables" = "table inet pol" ] || { printf 'unexpected tables: %s\n' "$tables" >&2; exit 3; }
"#;

struct Stats {
    cases: usize,
    refused: usize,
    scripts_checked: usize,
    scripts_executed: usize,
    rulesets: usize,
    canaries: usize,
}

fn line_counts(arts: &[Artifact]) -> Vec<(String, usize)> {
    arts.iter()
        .map(|a| (a.name.clone(), a.contents.split('\n').count()))
        .collect()
}

fn write(dir: &Path, arts: &[Artifact]) {
    std::fs::create_dir_all(dir).unwrap();
    for a in arts {
        let path = dir.join(&a.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &a.contents).unwrap();
    }
}

fn shellcheck(dirs: &[PathBuf]) -> Result<(), String> {
    if dirs.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("shellcheck");
    cmd.args(["-s", "sh"]);
    for d in dirs {
        for s in SCRIPTS {
            cmd.arg(d.join(s));
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("shellcheck: {e} (CI installs it: apt-get install shellcheck)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "shellcheck failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

#[test]
fn hostile_names_and_text_never_become_code() {
    let seed: u64 = std::env::var("POL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                % 1_000_000_007
        });
    let cases: usize = std::env::var("POL_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let root = rustix::process::geteuid().is_root();
    let tmp = tempfile::tempdir().unwrap();
    let canary = format!("/tmp/pol-canary-{}-{seed}", std::process::id());
    let _ = std::fs::remove_file(&canary);
    let c = pol_lang::compile_source("template.pol", TEMPLATE);
    let base = c
        .program
        .unwrap_or_else(|| panic!("the template does not compile: {:?}", c.diagnostics));
    let mut rng = Rng::new(seed);
    let mut st = Stats {
        cases: 0,
        refused: 0,
        scripts_checked: 0,
        scripts_executed: 0,
        rulesets: 0,
        canaries: 0,
    };
    let mut pending = Vec::new();
    let ctx = |case: usize| format!("(seed {seed}, case {case}; rerun with POL_FUZZ_SEED={seed})");
    for case in 0..cases {
        st.cases += 1;
        let texts = Texts::hostile(&mut rng, &canary);
        let (program, sources, opts) = apply(&base, &c.sources, &texts);
        let arts = match build(&program, &sources, &opts) {
            Ok(a) => a,
            Err(errors) => {
                assert!(
                    !texts.names_ok(),
                    "build refused a case it should build {}: {errors:?}",
                    ctx(case)
                );
                st.refused += 1;
                continue;
            }
        };
        assert!(
            texts.names_ok(),
            "build accepted a name that is not an nft identifier {}",
            ctx(case)
        );
        let (hp, hs, ho) = apply(&base, &c.sources, &texts.harmless());
        let reference = build(&hp, &hs, &ho).unwrap();
        if line_counts(&arts) != line_counts(&reference) {
            let names = |v: &[Artifact]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(&arts),
                names(&reference),
                "hostile text changed the artifacts' names {}",
                ctx(case)
            );
            let Some((a, r)) = arts
                .iter()
                .zip(&reference)
                .find(|(a, r)| a.contents.split('\n').count() != r.contents.split('\n').count())
            else {
                unreachable!("same names, and line counts differ")
            };
            panic!(
                "hostile text changed the number of lines of {} {}:\n--- hostile\n{}\n--- harmless\n{}",
                a.name,
                ctx(case),
                a.contents,
                r.contents
            );
        }
        let dir = tmp.path().join(format!("case-{case}"));
        write(&dir, &arts);
        for s in SCRIPTS {
            sh(&format!("sh -n '{}'", dir.join(s).display()))
                .unwrap_or_else(|e| panic!("{e} {}", ctx(case)));
            st.scripts_checked += 1;
        }
        if root {
            let run = tmp.path().join("run.sh");
            std::fs::write(&run, RUN).unwrap();
            let r = sh(&format!(
                "unshare -n -m --propagation private sh '{}' '{}'",
                run.display(),
                dir.display()
            ));
            if Path::new(&canary).exists() {
                st.canaries += 1;
                let _ = std::fs::remove_file(&canary);
            }
            r.unwrap_or_else(|e| {
                panic!(
                    "the artifacts of a hostile case did not run {}: {e}\nentry file {:?}",
                    ctx(case),
                    texts.entry
                )
            });
            // cgroups.sh and apply.sh (which runs cgroups.sh, tunnels.sh
            // and tuning.sh) twice.
            st.scripts_executed += 1 + 2 * 4 + 1;
            st.rulesets += 1;
        }
        pending.push(dir);
        if pending.len() == 50 {
            shellcheck(&pending).unwrap_or_else(|e| panic!("{e} (seed {seed})"));
            for d in pending.drain(..) {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    shellcheck(&pending).unwrap_or_else(|e| panic!("{e} (seed {seed})"));
    // Straight to stderr (not `println!`, which libtest captures), so every
    // run's log says how much was checked.
    let mut err = std::io::stderr();
    if !root {
        let _ = writeln!(
            err,
            "fuzz: *** not root: the scripts were not executed and no ruleset was checked with nft (CI runs as root) ***"
        );
    }
    let _ = writeln!(
        err,
        "fuzz: {} cases tried (seed {seed}), {} refused as they must be, {} scripts passed sh -n and shellcheck, {} scripts executed, {} rulesets checked with nft -c, {} canaries found",
        st.cases, st.refused, st.scripts_checked, st.scripts_executed, st.rulesets, st.canaries
    );
    assert_eq!(st.canaries, 0, "hostile text ran as code (seed {seed})");
}
