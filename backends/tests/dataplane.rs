//! The data plane is exact: for random policies — the kernel tests' (output
//! and input hooks, groups) and policies built to stress address dispatch
//! and cells (heavily overlapping prefixes of both families, many small
//! prefixes, port ranges, groups mixed with addresses, source and
//! destination narrowing, counters and logs) — the rendered ruleset, run by
//! an in-process interpreter of the nft subset polc writes
//! (`support/nft_interp.rs`), decides every probe as the IR does. Probes
//! sit on every boundary of every rule's sets (and one past it), in
//! random combinations, plus one inside each rule: every cell of the
//! policy is met.
//!
//! The kernel tests (`tests/kernel`) load the same structures into the
//! real nft and send real packets; this test covers many more policies
//! and the structures' size limits, where the kernel tests would be slow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use pol_backends::{build, BuildOptions};
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{Addr, CgroupPath, Packet, Program, Selector, Socket};
use pol_lang::sets::service::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use pol_lang::sets::AddrSet;
use pol_lang::span::SourceMap;
use proptest::prelude::*;
use support::gen::{self, fam_ranges, Builder, Rng};
use support::nft_interp::Table;
use support::stress::{stress_policy, Space};

/// Boundary values of a family's ranges: lo, hi, one below, one above.
fn bounds(out: &mut Vec<u128>, ranges: &[(u128, u128)], max: u128) {
    for &(lo, hi) in ranges {
        out.push(lo);
        out.push(hi);
        if lo > 0 {
            out.push(lo - 1);
        }
        if hi < max {
            out.push(hi + 1);
        }
    }
}

fn addr(v4: bool, v: u128) -> Addr {
    if v4 {
        Addr::V4(v as u32)
    } else {
        Addr::V6(v)
    }
}

/// The probes of one policy: boundary combinations and one packet inside
/// each rule.
fn probes(program: &Program, pi: usize, rng: &mut Rng, n: usize) -> Vec<Packet> {
    let policy = &program.policies[pi];
    let mut sockets: Vec<Option<Socket>> = vec![None];
    let mut base = Socket {
        cgroup: None,
        classid: 0,
        uid: 1000,
        gid: 1000,
    };
    sockets.push(Some(base.clone()));
    for g in &program.groups {
        for s in &g.selectors {
            let mut k = base.clone();
            match s {
                Selector::Cgroup(p) => {
                    k.cgroup = Some(p.clone());
                    sockets.push(Some(k.clone()));
                    k.cgroup = CgroupPath::parse(&format!("{}/x", p.as_str())).ok();
                }
                Selector::Classid(c) => k.classid = c.0,
                Selector::Uid(u) => k.uid = *u,
                Selector::Gid(x) => k.gid = *x,
            }
            sockets.push(Some(k));
        }
    }
    base.uid = 0;
    sockets.push(Some(base));
    let mut out = Vec::new();
    for v4 in [true, false] {
        let max = if v4 { u128::from(u32::MAX) } else { u128::MAX };
        let (mut src, mut dst) = (vec![0, max, 1], vec![0, max, 1]);
        let mut ports: Vec<u128> = vec![0, 1, 80, 443, 65535];
        let mut protos: Vec<u8> = vec![PROTO_TCP, PROTO_UDP, 47, 132];
        protos.push(if v4 { PROTO_ICMP } else { PROTO_ICMPV6 });
        for r in &policy.rules {
            bounds(&mut src, &fam_ranges(&r.matches.from, v4), max);
            bounds(&mut dst, &fam_ranges(&r.matches.to, v4), max);
            if let Some(s) = &r.matches.service {
                for (p, ps) in &s.protos {
                    protos.push(*p);
                    let rs: Vec<(u128, u128)> = ps
                        .ranges()
                        .iter()
                        .map(|&(a, b)| (u128::from(a), u128::from(b)))
                        .collect();
                    bounds(&mut ports, &rs, 65535);
                }
            }
        }
        for v in [&mut src, &mut dst, &mut ports] {
            v.sort_unstable();
            v.dedup();
        }
        protos.sort_unstable();
        protos.dedup();
        let pick = |v: &[u128], rng: &mut Rng| v[rng.below(v.len())];
        for _ in 0..n {
            out.push(Packet {
                socket: sockets[rng.below(sockets.len())].clone(),
                saddr: addr(v4, pick(&src, rng)),
                daddr: addr(v4, pick(&dst, rng)),
                proto: protos[rng.below(protos.len())],
                sport: 40000,
                dport: pick(&ports, rng) as u16,
            });
        }
        // One packet inside each rule (its lowest corner).
        for r in &policy.rules {
            let m = &r.matches;
            let (Some(s), Some(d)) = (
                fam_ranges(&m.from, v4).first().copied(),
                fam_ranges(&m.to, v4).first().copied(),
            ) else {
                continue;
            };
            let (proto, port) = match &m.service {
                None => (PROTO_UDP, 9),
                Some(svc) => match svc.protos.iter().next() {
                    Some((p, ps)) => (*p, ps.first().unwrap_or(0)),
                    None => continue,
                },
            };
            for sock in &sockets {
                out.push(Packet {
                    socket: sock.clone(),
                    saddr: addr(v4, s.0),
                    daddr: addr(v4, d.1),
                    proto,
                    sport: 40000,
                    dport: port,
                });
            }
        }
    }
    out
}

/// Build with `opts`, interpret, compare with the IR on every probe.
fn agree(program: &Program, sources: &SourceMap, opts: &BuildOptions, seed: u64, n: usize) {
    let arts = build(program, sources, opts).expect("build");
    let ruleset = arts
        .iter()
        .find(|a| a.name == "ruleset.nft")
        .expect("ruleset.nft")
        .contents
        .clone();
    let mut table = Table::parse(&ruleset);
    let mut rng = Rng::new(seed ^ 0x5eed);
    for (pi, policy) in program.policies.iter().enumerate() {
        let chain = pol_backends::nft::chain_name(policy);
        for p in probes(program, pi, &mut rng, n) {
            let (_, want) = support::eval::evaluate(program, policy, &p);
            let got = table.evaluate(&chain, &p);
            assert_eq!(
                got, want,
                "seed {seed}, {opts:?}: the ruleset decides {p:?} as {got:?}, the IR as {want:?}\n{ruleset}"
            );
        }
    }
}

fn opts(k: u64) -> BuildOptions {
    BuildOptions {
        dispatch_min_run: [2, 8][(k % 2) as usize],
        addr_dispatch_min_run: [1, 2, 4, 16][(k / 2 % 4) as usize],
        addr_dispatch_always: k / 2 % 4 < 3,
        ..BuildOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn kernel_test_policies_agree(seed in any::<u64>(), k in 0u64..8) {
        let (program, sources) = gen::kernel_policy(seed, "interp");
        agree(&program, &sources, &opts(k), seed, 300);
        let (program, sources) = gen::kernel_input_policy(seed);
        agree(&program, &sources, &opts(k), seed, 300);
    }

    #[test]
    fn stress_policies_agree(seed in any::<u64>(), k in 0u64..8) {
        let (program, sources) = stress_policy(seed, &Space::Lab);
        agree(&program, &sources, &opts(k), seed, 1500);
    }
}

/// `n` rules allowing one port each to a /24 (four rules per /24).
fn long_policy(n: u8) -> (Program, SourceMap) {
    let mut b = Builder::new();
    let p = b.policy("egress", Hook::Output, Verdict::Drop);
    for i in 0..n {
        b.rule(
            p,
            Verdict::Allow,
            pol_lang::ir::Match {
                groups: None,
                from: AddrSet::any(),
                to: gen::v4(&format!("10.0.{}.0", i / 4), 24),
                service: Some(gen::tcp(1000 + u16::from(i), 1000 + u16::from(i))),
                via: None,
            },
        );
    }
    b.finish("long.pol")
}

/// 24 rules to one IPv6 /48, a port each, then 24 to IPv4 /24s.
fn wide_bucket_policy() -> (Program, SourceMap) {
    let mut b = Builder::new();
    let p = b.policy("egress", Hook::Output, Verdict::Drop);
    for i in 0..48u16 {
        let to = if i < 24 {
            gen::v6("2001:db8:1::", 48)
        } else {
            gen::v4(&format!("10.0.{i}.0"), 24)
        };
        b.rule(
            p,
            Verdict::Allow,
            pol_lang::ir::Match {
                groups: None,
                from: AddrSet::any(),
                to,
                service: Some(gen::tcp(1000 + i, 1000 + i)),
                via: None,
            },
        );
    }
    b.finish("wide.pol")
}

fn ruleset_of(program: &Program, sources: &SourceMap, opts: &BuildOptions) -> String {
    let arts = build(program, sources, opts).unwrap();
    arts.into_iter()
        .find(|a| a.name == "ruleset.nft")
        .unwrap()
        .contents
}

/// A run of rules that all narrow the destination becomes a dispatch with
/// cells where that loads faster than the rules (and with
/// `addr_dispatch_always`), and stays linear where it would not.
#[test]
fn long_runs_become_dispatch_and_cells() {
    let (program, sources) = long_policy(200);
    let r = ruleset_of(&program, &sources, &BuildOptions::default());
    assert!(r.contains("ip daddr vmap @addr_"), "{r}");
    assert!(r.contains("th dport vmap @addr_"), "{r}");
    agree(&program, &sources, &BuildOptions::default(), 1, 2000);
    let (program, sources) = long_policy(20);
    let r = ruleset_of(&program, &sources, &BuildOptions::default());
    assert!(!r.contains("vmap"), "20 rules load faster linear:\n{r}");
    let always = BuildOptions {
        addr_dispatch_always: true,
        ..BuildOptions::default()
    };
    let r = ruleset_of(&program, &sources, &always);
    assert!(r.contains("th dport vmap @addr_"), "{r}");
    agree(&program, &sources, &always, 1, 2000);
}

/// Each form a bucket can take — its own cell map, the grouped cell maps
/// (keyed by both addresses), hash maps of its exact cells (`ip daddr &
/// MASK . …`), a chain of its rules — occurs among the stress policies,
/// and each policy so rendered agrees with the IR.
#[test]
fn every_bucket_form_occurs_and_agrees() {
    let always = BuildOptions {
        addr_dispatch_min_run: 1,
        addr_dispatch_always: true,
        ..BuildOptions::default()
    };
    let (mut own, mut grouped, mut rules, mut hashed) = (0, 0, 0, 0);
    for seed in 0..61u64 {
        // Stress policies' buckets are small; the last has one of 24
        // IPv6 cells (a map of its own loads faster than 24 grouped).
        let (program, sources) = if seed < 60 {
            stress_policy(seed, &Space::Lab)
        } else {
            wide_bucket_policy()
        };
        let r = ruleset_of(&program, &sources, &always);
        let mut chain = "";
        for line in r.lines() {
            let t = line.trim();
            if let Some(name) = t.strip_prefix("chain ") {
                chain = name;
            } else if t.contains(" . meta l4proto . th dport vmap @hash_") {
                hashed += 1;
            } else if t.contains(" . meta l4proto . th dport vmap @addr_") {
                if t.starts_with("ip daddr . ip saddr")
                    || t.starts_with("ip saddr . ip daddr")
                    || t.starts_with("ip6 daddr . ip6 saddr")
                    || t.starts_with("ip6 saddr . ip6 daddr")
                {
                    grouped += 1;
                } else {
                    own += 1;
                }
            } else if t.contains("comment \"stress-")
                && (chain.contains("-4b") || chain.contains("-6b"))
            {
                rules += 1;
            }
        }
        agree(&program, &sources, &always, seed, 300);
    }
    assert!(
        own > 0 && grouped > 0 && rules > 0 && hashed > 0,
        "bucket forms over 60 stress policies and a wide bucket: {own} own interval cell maps, {grouped} grouped, {hashed} hash maps of cells, {rules} rules in bucket chains"
    );
}

/// The real nft accepts the stress policies' structures (it refuses
/// overlapping elements in a concatenated interval map, so this also
/// proves the cells disjoint), loaded in a throwaway network and mount
/// namespace. Needs root; says SKIPPED without it.
#[test]
fn stress_structures_load_into_the_real_nft() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        eprintln!("\n*** SKIPPED stress_structures_load_into_the_real_nft: needs root ***\n");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pol-dataplane-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut loaded = 0;
    for seed in 0..24u64 {
        let (program, sources) = stress_policy(seed, &Space::Lab);
        let arts = build(&program, &sources, &opts(seed % 8)).unwrap();
        let r = &arts
            .iter()
            .find(|a| a.name == "ruleset.nft")
            .unwrap()
            .contents;
        let f = dir.join(format!("s{seed}.nft"));
        std::fs::write(&f, r).unwrap();
        let out = std::process::Command::new("unshare")
            .args(["-n", "-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs pol /sys/fs/cgroup && mkdir -p /sys/fs/cgroup/t.slice/a && nft -f {}",
                f.display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "stress policy {seed}: nft refused it: {}\n{r}",
            String::from_utf8_lossy(&out.stderr)
        );
        loaded += usize::from(r.contains("th dport vmap @addr_"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(loaded > 0, "no stress policy was rendered with cells");
    eprintln!("24 stress policies loaded, {loaded} of them with cell maps");
}
