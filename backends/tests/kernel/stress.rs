//! Real packets through the structures built to stress address dispatch
//! and cell maps (`support::stress`, in the space this test routes): each
//! policy is built with dispatch forced, loaded, and probed at every
//! boundary of its rules' destination sets and ports (and one past), in
//! random combinations, plus one packet inside each rule, from processes
//! in and out of its groups; what leaves the veth must be what the
//! reference evaluator says.
//!
//! `POL_KERNEL_STRESS_POLICIES` (default 12) sets how many policies.

use super::plan::{Ctx, Probe};
use super::{cleanup_cgroups, first_seed, probe_case, tally, temp_dir};
use crate::support::gen::{self, fam_ranges, Rng};
use crate::support::stress::{stress_policy, Space};
use pol_backends::BuildOptions;
use pol_lang::ir::Program;
use pol_lang::sets::service::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The destinations the test's namespace routes out of its veth:
/// 198.18.0.0/15 and 2001:db8:100::/40.
fn routed(v4: bool, a: u128) -> bool {
    if v4 {
        (0xc612_0000..=0xc613_ffff).contains(&a)
    } else {
        a >> 88 == 0x2001_0db8_0100_0000_0000_0000_0000_0000 >> 88
    }
}

fn text(v4: bool, a: u128) -> String {
    if v4 {
        Ipv4Addr::from(u32::try_from(a).unwrap_or(0)).to_string()
    } else {
        Ipv6Addr::from(a).to_string()
    }
}

/// Boundary values of a family's destination ranges that are routed:
/// lo, hi, one below, one above.
fn dst_bounds(program: &Program, v4: bool) -> Vec<u128> {
    let mut out = Vec::new();
    for r in &program.policies[0].rules {
        for (lo, hi) in fam_ranges(&r.matches.to, v4) {
            for x in [Some(lo), Some(hi), lo.checked_sub(1), hi.checked_add(1)]
                .into_iter()
                .flatten()
            {
                if routed(v4, x) {
                    out.push(x);
                }
            }
        }
    }
    // And somewhere no rule names.
    out.push(if v4 {
        0xc613_fffe
    } else {
        0x2001_0db8_01ff_0000_0000_0000_0000_0007
    });
    out.sort_unstable();
    out.dedup();
    out
}

fn probes(program: &Program, rng: &mut Rng, n: usize) -> Vec<Probe> {
    let mut ports: Vec<u16> = vec![1, 53, 80, 443, 65535];
    for r in &program.policies[0].rules {
        if let Some(s) = &r.matches.service {
            for ps in s.protos.values() {
                for &(lo, hi) in ps.ranges() {
                    ports.extend(
                        [Some(lo), Some(hi), lo.checked_sub(1), hi.checked_add(1)]
                            .into_iter()
                            .flatten()
                            .filter(|&p| p > 0),
                    );
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let mut out = Vec::new();
    for v4 in [true, false] {
        let dsts = dst_bounds(program, v4);
        let icmp = if v4 { PROTO_ICMP } else { PROTO_ICMPV6 };
        for _ in 0..n {
            let proto = *rng.pick(&[PROTO_TCP, PROTO_TCP, PROTO_UDP, icmp]);
            out.push(Probe {
                v6: !v4,
                proto,
                dst: text(v4, *rng.pick(&dsts)),
                dport: if proto == icmp { 0 } else { *rng.pick(&ports) },
            });
        }
        // One packet inside each rule whose destinations are routed.
        for r in &program.policies[0].rules {
            let m = &r.matches;
            let Some(d) = fam_ranges(&m.to, v4)
                .iter()
                .flat_map(|&(lo, hi)| [hi, lo])
                .find(|&x| routed(v4, x))
            else {
                continue;
            };
            let (proto, dport) = match &m.service {
                None => (PROTO_UDP, 9),
                Some(s) => match s.protos.iter().next() {
                    Some((&p, ps)) if p == PROTO_TCP || p == PROTO_UDP => {
                        (p, ps.first().unwrap_or(1).max(1))
                    }
                    Some((&p, _)) if p == PROTO_ICMP && v4 => (p, 0),
                    _ => continue,
                },
            };
            out.push(Probe {
                v6: !v4,
                proto,
                dst: text(v4, d),
                dport,
            });
        }
    }
    out
}

pub fn stress_policies() -> Result<String, String> {
    let n: u64 = std::env::var("POL_KERNEL_STRESS_POLICIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seed0 = first_seed();
    let (mut total, mut with_cells, mut with_hashed, mut rules) = (0, 0, 0, 0);
    let mut stats = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for i in 0..n {
        let seed = seed0 + i;
        let prefix = format!("polstress-{}-{i}", std::process::id());
        let space = Space::Routable {
            cgroup_prefix: prefix.clone(),
        };
        let (program, sources) = stress_policy(seed, &space);
        rules += program.policies[0].rules.len();
        let mut ctxs = Vec::new();
        for cg in [
            None,
            Some(format!("{prefix}/a")),
            Some(format!("{prefix}/a/b")),
        ] {
            for classid in [0, gen::CLASS_1] {
                ctxs.push(Ctx {
                    cgroup: cg.clone(),
                    classid,
                });
            }
        }
        let probes = probes(&program, &mut Rng::new(seed ^ 0x5eed), 120);
        let opts = BuildOptions {
            addr_dispatch_min_run: 1 + (seed % 4) as usize,
            addr_dispatch_always: true,
            ..BuildOptions::default()
        };
        let dir = temp_dir(&format!("stress-{seed}"));
        match probe_case(&dir, &program, &sources, &opts, &ctxs, &probes) {
            Ok(k) => {
                total += k;
                tally(&dir, &mut stats);
                let r = std::fs::read_to_string(dir.join("ruleset.nft")).unwrap_or_default();
                with_cells += usize::from(r.contains("th dport vmap @addr_"));
                with_hashed += usize::from(r.contains("th dport vmap @hash_"));
                if std::env::var_os("POL_KERNEL_KEEP").is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
            Err(e) => failures.push(format!(
                "seed {seed} (rerun with POL_KERNEL_ONLY=stress POL_KERNEL_SEED={seed} POL_KERNEL_STRESS_POLICIES=1): {e}"
            )),
        }
        cleanup_cgroups(&prefix);
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    if n > 0 && with_cells == 0 {
        return Err("no stress policy was rendered with cell maps".into());
    }
    if n > 0 && with_hashed == 0 {
        return Err("no stress policy was rendered with hash maps of cells".into());
    }
    Ok(format!(
        "{n} stress policies (seeds {seed0}..{}; {rules} rules; {with_cells} with interval cell maps, {with_hashed} with hash maps of cells), {total} probes sent, all as evaluated; observed {stats:?}",
        seed0 + n
    ))
}
