//! Scaling benchmark for the verifier (not a test).
//!
//! `cargo run --release -p pol-verifier --example scale -- gen N SEED > f.pol`
//! writes a policy of N rules with realistic overlap: per-application
//! groups (nested cgroup paths, a few class id and uid groups), each
//! allowed to a handful of destinations and services; about 10% of the
//! rules repeat part of an earlier rule (shadowed or redundant), 5% are
//! wide rules (`to any` for one service) and 15% drop or reject.
//!
//! `cargo run --release -p pol-verifier --example scale -- run f.pol`
//! compiles the file and verifies it, printing the time of each phase, the
//! findings by kind, the solver queries and the peak memory (VmHWM).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PORTS: &[&str] = &[
    "tcp 443",
    "tcp 80",
    "tcp 22",
    "tcp 25",
    "tcp 587",
    "tcp 993",
    "tcp 5432",
    "tcp 3306",
    "tcp 6379",
    "tcp 8000-8999",
    "tcp 9000-9100",
    "udp 53",
    "udp 123",
    "udp 443",
    "tcp 1-1023",
    "icmp",
    "icmpv6",
    "udp 5000-5100",
];

fn dst(r: &mut Rng) -> String {
    match r.below(10) {
        0..=5 => format!("10.{}.{}.0/24", r.below(256), r.below(256)),
        6 | 7 => format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254)),
        8 => format!("2001:db8:{:x}:{:x}::/64", r.below(65536), r.below(65536)),
        _ => format!("172.{}.0.0/16", 16 + r.below(16)),
    }
}

fn gen(n: usize, seed: u64) -> String {
    let mut r = Rng(seed);
    let mut s = String::new();
    let ngroups = (n / 20).max(4);
    let teams = (ngroups / 5).max(1);
    for g in 0..ngroups {
        let team = g % teams;
        match g % 10 {
            0 => writeln!(s, "group g{g} {{ cgroup \"apps.slice/team{team}.slice\" }}").unwrap(),
            7 => writeln!(s, "group g{g} {{ classid 10:{:x} }}", 1 + g).unwrap(),
            8 => writeln!(s, "group g{g} {{ uid {} }}", 1000 + g).unwrap(),
            _ => writeln!(
                s,
                "group g{g} {{ cgroup \"apps.slice/team{team}.slice/app{g}.service\" }}"
            )
            .unwrap(),
        }
    }
    writeln!(s, "\npolicy egress {{\n    hook output\n    default drop\n").unwrap();
    let mut rules: Vec<(usize, String, &str)> = Vec::new();
    for i in 0..n {
        let verdict = match r.below(100) {
            0..=84 => "allow",
            85..=94 => "drop",
            _ => "reject",
        };
        let line = if i > 10 && r.below(100) < 10 {
            // Repeat part of an earlier rule: same group and service, same
            // or narrower destination.
            let (g, d, p) = rules[r.below(rules.len() as u64) as usize].clone();
            let d = match d.strip_suffix(".0/24") {
                Some(net) if r.below(2) == 0 => format!("{net}.{}", 1 + r.below(254)),
                _ => d,
            };
            rules.push((g, d.clone(), p));
            format!("{verdict} g{g} to {d} {p}")
        } else if r.below(100) < 5 {
            let p = PORTS[r.below(PORTS.len() as u64) as usize];
            if r.below(2) == 0 {
                format!("{verdict} to any {p}")
            } else {
                format!("{verdict} g{} to any {p}", r.below(ngroups as u64))
            }
        } else {
            let g = r.below(ngroups as u64) as usize;
            let d = dst(&mut r);
            let p = PORTS[r.below(PORTS.len() as u64) as usize];
            rules.push((g, d.clone(), p));
            format!("{verdict} g{g} to {d} {p}")
        };
        writeln!(s, "    {line}").unwrap();
    }
    s.push_str("}\n");
    s
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let n: usize = args[2].parse().unwrap();
            let seed: u64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(1);
            print!("{}", gen(n, seed));
        }
        Some("run") => {
            let t0 = Instant::now();
            let c = pol_lang::compile(
                std::path::Path::new(&args[2]),
                &pol_lang::CompileOptions::default(),
            );
            let t1 = Instant::now();
            let program = c.program.expect("the generated file compiles");
            let diags =
                pol_verifier::verify(&program, &c.sources, &pol_verifier::Options::default());
            let t2 = Instant::now();
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for d in &diags {
                *kinds.entry(d.code.kind.as_str()).or_default() += 1;
            }
            let rules: usize = program.policies.iter().map(|p| p.rules.len()).sum();
            println!(
                "rules {rules} compile {:.2}s verify {:.2}s total {:.2}s peak {} MiB findings {kinds:?}",
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t2 - t0).as_secs_f64(),
                vm_hwm_kib() / 1024
            );
        }
        _ => eprintln!("usage: scale gen N [SEED] | scale run FILE"),
    }
}
