//! `ruleset.nft`: one `table inet NAME`, replaced atomically.
//!
//! Layout (see docs/backends.md):
//! - `table inet T` / `delete table inet T` / `table inet T { … }` in one
//!   file, so `nft -f` replaces the table in one transaction;
//! - named sets (one per distinct list, shared; cgroup v2 paths in one set
//!   per group and level, `cg_GROUP_lN`, never inline, so that a re-created
//!   cgroup can be re-added — `crate::refresh`), then verdict maps;
//! - `do-reject`: TCP reset for TCP, icmpx admin-prohibited otherwise;
//! - per policy, a base chain `policy-NAME` (filter, its hook, priority
//!   filter, policy accept or drop — `default reject` is policy drop plus a
//!   final `goto do-reject`), starting with the stateful preamble and the
//!   rule that accepts IPv6 neighbor discovery, router discovery and MLD
//!   (`pol_lang::ipv6_control`);
//! - runs of consecutive rules that each select exactly one cgroup (at one
//!   level), classid, uid or gid become one verdict-map lookup that jumps to
//!   a per-key chain holding that key's rules in order; a chain that finds
//!   no match returns, and evaluation continues after the run — exact,
//!   because a socket has exactly one key of each kind.

mod addr_run;
mod cells;
mod dispatch;
mod hashed;
mod load_cost;
mod rules;
mod sets;

use crate::BuildOptions;
use pol_lang::ast::Verdict;
use pol_lang::ir::{CgroupPath, Policy, Program, Rule, Selector};
use pol_lang::safe_text::nft::{NftComment, NftString};
use pol_lang::span::SourceMap;
use rules::{cgroup_literal, classid_literal, rule_selectors, verdict_stmt, REJECT_CHAIN};
pub use sets::CgroupElement;
use sets::Sets;

pub use rules::cgroup_set_name;
pub use rules::rule_selectors as selectors_of_rule;

/// The dispatch key kind of a rule that selects exactly one socket key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Cgroup(usize),
    Classid,
    Uid,
    Gid,
}

impl Dim {
    fn key_expr(self) -> String {
        match self {
            Dim::Cgroup(l) => format!("socket cgroupv2 level {l}"),
            Dim::Classid => "meta cgroup".into(),
            Dim::Uid => "meta skuid".into(),
            Dim::Gid => "meta skgid".into(),
        }
    }
}

fn dispatch_key(program: &Program, rule: &pol_lang::ir::Rule) -> Option<(Dim, String)> {
    let sels = rule_selectors(program, rule)?;
    match sels.as_slice() {
        [Selector::Cgroup(p)] => Some((Dim::Cgroup(p.level()), cgroup_literal(p))),
        [Selector::Classid(c)] => Some((Dim::Classid, classid_literal(c.0))),
        [Selector::Uid(u)] => Some((Dim::Uid, u.to_string())),
        [Selector::Gid(g)] => Some((Dim::Gid, g.to_string())),
        _ => None,
    }
}

/// The rule after the stateful preamble that accepts the IPv6 control
/// messages a host needs (`pol_lang::ipv6_control`).
pub fn ipv6_control_rule() -> String {
    let names: Vec<&str> = pol_lang::ipv6_control::IPV6_CONTROL
        .iter()
        .map(|t| t.nft_name)
        .collect();
    format!("icmpv6 type {{ {} }} accept", names.join(", "))
}

/// The base chain name of a policy.
pub fn chain_name(policy: &Policy) -> String {
    format!("policy-{}", policy.name)
}

struct Renderer<'a> {
    program: &'a Program,
    sources: &'a SourceMap,
    sets: Sets,
    /// Non-base chains (dispatch targets), rendered before the base chains.
    chains: Vec<(String, Vec<String>)>,
    min_run: usize,
    /// Shortest run of address-narrowing rules dispatched on the address.
    addr_min_run: usize,
    /// `BuildOptions::addr_dispatch_always`.
    addr_always: bool,
    /// Address runs so far (names their maps' chains).
    addr_runs: usize,
    /// One-rule chains of rules with counter or log decided by cells.
    rule_chains: std::collections::HashMap<*const pol_lang::ir::Rule, String>,
    /// Each rule decided by cells: its elements' quoted comment and their
    /// verdict, made once (a rule's cells can be in many buckets).
    cell_tails: std::collections::HashMap<*const pol_lang::ir::Rule, (String, String)>,
    /// Addresses as cell elements write them, made once each
    /// (`addr_run::AddrTexts`).
    addr_texts: addr_run::AddrTexts,
    uses_reject: bool,
}

impl Renderer<'_> {
    fn policy_chain(&mut self, policy: &Policy) -> String {
        let name = chain_name(policy);
        let mut lines: Vec<String> = Vec::new();
        let chain_policy = match policy.default {
            Verdict::Allow => "accept",
            Verdict::Drop | Verdict::Reject => "drop",
        };
        lines.push(format!(
            "type filter hook {} priority filter; policy {chain_policy};",
            policy.hook.as_str()
        ));
        lines.push("ct state established,related accept".into());
        lines.push("ct state invalid drop".into());
        lines.push(ipv6_control_rule());
        let rules = &policy.rules;
        // Socket-key runs long enough for a dispatch, in order.
        let mut key_runs: Vec<(usize, usize, Dim)> = Vec::new();
        let mut i = 0;
        while i < rules.len() {
            let key = dispatch_key(self.program, &rules[i]);
            let mut j = i + 1;
            if let Some((dim, _)) = &key {
                while j < rules.len()
                    && dispatch_key(self.program, &rules[j]).is_some_and(|(d, _)| d == *dim)
                {
                    j += 1;
                }
                if j - i >= self.min_run {
                    key_runs.push((i, j, *dim));
                }
            }
            i = j;
        }
        // Between them: the rest, as one list each (address runs inside).
        let mut at = 0;
        for (run_no, (i, j, dim)) in key_runs.into_iter().enumerate() {
            if at < i {
                let list: Vec<&Rule> = rules[at..i].iter().collect();
                lines.extend(self.render_list(policy, &name, &list, false));
            }
            lines.push(self.dispatch_run(policy, &name, run_no, dim, i, j));
            at = j;
        }
        if at < rules.len() {
            let list: Vec<&Rule> = rules[at..].iter().collect();
            lines.extend(self.render_list(policy, &name, &list, false));
        }
        let default_site = self.sources.file_line(policy.default_span);
        match policy.default {
            Verdict::Reject => {
                self.uses_reject = true;
                lines.push(format!(
                    "{} comment {}",
                    verdict_stmt(Verdict::Reject),
                    NftString::text(&format!("{default_site} default reject"))
                ));
            }
            v => lines.push(format!(
                "# {}",
                NftComment::new(&format!("default {} ({default_site})", v.as_str()))
            )),
        }
        let mut out = format!(
            "\t# {}\n\tchain {name} {{\n",
            NftComment::new(&format!(
                "policy {} ({})",
                policy.name,
                self.sources.file_line(policy.span)
            ))
        );
        for l in lines {
            out.push_str(&format!("\t\t{l}\n"));
        }
        out.push_str("\t}\n");
        out
    }

    /// Rules `i..j` (one dimension) as a verdict-map dispatch; returns the
    /// base-chain line.
    fn dispatch_run(
        &mut self,
        policy: &Policy,
        base: &str,
        run_no: usize,
        dim: Dim,
        i: usize,
        j: usize,
    ) -> String {
        let mut keys: Vec<String> = Vec::new();
        let mut lists: Vec<Vec<&Rule>> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        // The cgroup path behind each cgroup key (found once, not by a
        // scan of the run per key).
        let mut paths: std::collections::HashMap<String, CgroupPath> =
            std::collections::HashMap::new();
        for rule in &policy.rules[i..j] {
            let Some((_, key)) = dispatch_key(self.program, rule) else {
                continue;
            };
            if let (Dim::Cgroup(_), Some(sels)) = (dim, rule_selectors(self.program, rule)) {
                if let [Selector::Cgroup(p)] = sels.as_slice() {
                    paths.entry(key.clone()).or_insert_with(|| p.clone());
                }
            }
            let k = match index.get(&key) {
                Some(&k) => k,
                None => {
                    index.insert(key.clone(), keys.len());
                    keys.push(key);
                    lists.push(Vec::new());
                    keys.len() - 1
                }
            };
            lists[k].push(rule);
        }
        let mut bodies: Vec<Vec<String>> = Vec::new();
        for (k, list) in lists.iter().enumerate() {
            let chain = format!("{base}-d{run_no}-k{k}");
            bodies.push(self.render_list(policy, &chain, list, true));
        }
        let mut elements = Vec::new();
        // cgroup keys: every one is noted for the refresh; those systemd
        // creates are left out of the file (they may not exist at load).
        let mut noted: Vec<(CgroupPath, String)> = Vec::new();
        for (k, (key, body)) in keys.into_iter().zip(bodies).enumerate() {
            let chain = format!("{base}-d{run_no}-k{k}");
            let verdict = format!("jump {chain}");
            let path = match dim {
                Dim::Cgroup(_) => paths.get(&key).cloned(),
                _ => None,
            };
            if let Some(p) = path {
                noted.push((p.clone(), verdict.clone()));
                if !self.program.systemd_creates(&p) {
                    elements.push((key, verdict));
                }
            } else {
                elements.push((key, verdict));
            }
            self.chains.push((chain, body));
        }
        let first = self.sources.file_line(policy.rules[i].span);
        let last = self.sources.file_line(policy.rules[j - 1].span);
        let what = format!("rules {first} to {last} by {}", dim.key_expr());
        let map = self.sets.map(dim.key_expr(), elements, &what);
        for (p, v) in &noted {
            self.sets.note_map_element(&map, p, v);
        }
        format!(
            "{} vmap @{map} comment {}",
            dim.key_expr(),
            NftString::text(&what)
        )
    }
}

/// Render the ruleset. `naive` writes every list inline and never
/// dispatches (the one-rule-per-line baseline of the benchmark).
pub(crate) fn render(
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
    naive: bool,
) -> String {
    render_with_elements(program, sources, opts, naive).0
}

/// The ruleset and every cgroup-keyed element of its sets and maps (what
/// a refresh re-adds; see `crate::refresh`).
pub fn render_with_elements(
    program: &Program,
    sources: &SourceMap,
    opts: &BuildOptions,
    naive: bool,
) -> (String, Vec<CgroupElement>) {
    let mut r = Renderer {
        program,
        sources,
        sets: Sets::new(naive),
        chains: Vec::new(),
        min_run: if naive {
            usize::MAX
        } else {
            opts.dispatch_min_run.max(1)
        },
        addr_min_run: if naive {
            usize::MAX
        } else {
            opts.addr_dispatch_min_run.max(1)
        },
        addr_always: opts.addr_dispatch_always,
        addr_runs: 0,
        rule_chains: std::collections::HashMap::new(),
        cell_tails: std::collections::HashMap::new(),
        addr_texts: addr_run::AddrTexts::default(),
        uses_reject: false,
    };
    let mut base = String::new();
    for p in &program.policies {
        base.push_str(&r.policy_chain(p));
        base.push('\n');
    }
    let uses_reject = r.uses_reject
        || program
            .policies
            .iter()
            .any(|p| p.rules.iter().any(|x| x.verdict == Verdict::Reject));
    let t = &opts.table;
    let mut out = String::new();
    out.push_str(&format!(
        "# ruleset.nft: generated by polc from {}. Do not edit.\n",
        NftComment::new(&crate::entry_name(sources))
    ));
    out.push_str(&format!(
        "# `nft -f ruleset.nft` replaces table inet {t} in one transaction.\n"
    ));
    out.push_str(&format!(
        "table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n"
    ));
    r.sets.render(&mut out);
    if uses_reject {
        out.push_str(&format!(
            "\tchain {REJECT_CHAIN} {{\n\t\tmeta l4proto tcp reject with tcp reset\n\t\treject with icmpx admin-prohibited\n\t}}\n\n"
        ));
    }
    for (name, body) in &r.chains {
        out.push_str(&format!("\tchain {name} {{\n"));
        for l in body {
            out.push_str(&format!("\t\t{l}\n"));
        }
        out.push_str("\t}\n\n");
    }
    out.push_str(&base);
    if out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str("}\n");
    (out, r.sets.cgroup_elements().to_vec())
}
