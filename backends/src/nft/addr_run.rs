//! A list of rules as chain lines: linear where the list is short, and
//! where it is long, runs of rules that narrow one address field become
//! an interval verdict map per family that jumps to the bucket of rules a
//! packet can match (`dispatch`); a bucket of port rules is itself one
//! concatenated map of disjoint cells (`cells`).
//!
//! What `nft list ruleset` shows for such a run: in the calling chain,
//! `ip daddr vmap @addr_run_N comment "rules FILE:L1 to FILE:L2 by ip
//! daddr"` (and its `ip6` twin); chains `CALLER-aN-4bK` / `-6bK`, each
//! holding either the rules of that bucket (with their own comments) or
//! one `ip saddr . meta l4proto . th dport vmap @cells_M`, whose elements
//! carry the deciding rule's `FILE:LINE` as their comment. A rule with
//! `counter` or `log` is decided by a one-rule chain `POLICY-rule-N`
//! holding its counter, log, verdict and comment, so each counter still
//! counts one source rule.

use super::cells::{cellable, cells, Cell};
use super::dispatch::{family_ranges, field_set, narrows, pieces, Field};
use super::rules::{
    port_element, proto_literal, render_rule, rule_tail, v4_element, v6_element, verdict_stmt,
    RuleCtx,
};
use super::Renderer;
use pol_lang::ir::{Policy, Rule};
use pol_lang::safe_text::nft::{NftComment, NftString};
use pol_lang::sets::{AddrSet, Family};
use std::borrow::Cow;
use std::collections::HashMap;

/// Fewest rules in a bucket worth a cell map rather than a short chain.
const CELLS_MIN: usize = 4;

fn element(fam: Family, lo: u128, hi: u128) -> String {
    match fam {
        // Ranges of the IPv4 family are u32 widened.
        Family::Ipv4 => v4_element(lo as u32, hi as u32),
        Family::Ipv6 => v6_element(lo, hi),
    }
}

/// A run's dispatch: its field, each family's pieces, and the rule copies
/// its buckets hold.
struct Plan {
    field: Field,
    fams: Vec<(Family, Vec<super::dispatch::Piece>)>,
    copies: usize,
}

/// Most rule copies a run's pieces may hold (past it: linear).
fn run_budget(run: &[&Rule]) -> usize {
    4 * run.len() + 64
}

fn fam_tag(fam: Family) -> &'static str {
    match fam {
        Family::Ipv4 => "4",
        Family::Ipv6 => "6",
    }
}

impl Renderer<'_> {
    /// `to` of a rule, narrowed to its tunnel's routes.
    fn to_of<'r>(&self, rule: &'r Rule) -> Cow<'r, AddrSet> {
        match rule.matches.via {
            Some(t) => Cow::Owned(rule.matches.to.intersect(&self.program.tunnel(t).routes)),
            None => Cow::Borrowed(&rule.matches.to),
        }
    }

    fn ctx<'b>(&'b self, policy: &Policy, rule: &Rule, family: Option<Family>) -> RuleCtx<'b> {
        RuleCtx {
            program: self.program,
            hook: policy.hook,
            site: self.sources.file_line(rule.span),
            family,
        }
    }

    /// One rule, linear, with a placeholder comment when it matches nothing.
    fn linear(
        &mut self,
        policy: &Policy,
        rule: &Rule,
        skip_groups: bool,
        family: Option<Family>,
        out: &mut Vec<String>,
    ) {
        let ctx = RuleCtx {
            program: self.program,
            hook: policy.hook,
            site: self.sources.file_line(rule.span),
            family,
        };
        let r = render_rule(&ctx, rule, skip_groups, &mut self.sets);
        if r.is_empty() && family.is_none() {
            out.push(format!(
                "# {}",
                NftComment::new(&format!("{}: matches no packet", ctx.site))
            ));
        }
        out.extend(r);
    }

    /// The lines of a chain deciding `rules` in order (`skip_groups`: the
    /// chain is reached only by sockets of the rules' one selector).
    pub(super) fn render_list(
        &mut self,
        policy: &Policy,
        base: &str,
        rules: &[&Rule],
        skip_groups: bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < rules.len() {
            let run_end = |f: Field| {
                let mut j = i;
                while j < rules.len() && {
                    let to = self.to_of(rules[j]);
                    narrows(field_set(rules[j], &to, f))
                } {
                    j += 1;
                }
                j
            };
            let (jd, js) = (run_end(Field::Daddr), run_end(Field::Saddr));
            let j = jd.max(js);
            if j - i >= self.addr_min_run {
                // The longer run; of two equal ones, the field that copies
                // fewer rules into buckets.
                let run = &rules[i..j];
                let plan = match js.cmp(&jd) {
                    std::cmp::Ordering::Greater => self.plan(run, Field::Saddr),
                    std::cmp::Ordering::Less => self.plan(run, Field::Daddr),
                    std::cmp::Ordering::Equal => {
                        match (self.plan(run, Field::Daddr), self.plan(run, Field::Saddr)) {
                            (Some(d), Some(s)) => Some(if s.copies < d.copies { s } else { d }),
                            (d, s) => d.or(s),
                        }
                    }
                };
                if let Some(plan) = plan {
                    out.extend(self.addr_run(policy, base, run, plan, skip_groups));
                    i = j;
                    continue;
                }
            }
            // Too short, or too many copies: linear, through the next rule
            // that starts no run.
            let stop = j.max(i + 1);
            for rule in &rules[i..stop] {
                self.linear(policy, rule, skip_groups, None, &mut out);
            }
            i = stop;
        }
        out
    }

    /// Each rule's ranges in `field` of family `fam` (none when the rule
    /// has no part in that family).
    fn run_ranges(&self, run: &[&Rule], field: Field, fam: Family) -> Vec<Vec<(u128, u128)>> {
        run.iter()
            .map(|r| {
                let to = self.to_of(r);
                let m = &r.matches;
                let has = m.from.has_family(fam)
                    && to.has_family(fam)
                    && m.service
                        .as_ref()
                        .is_none_or(|s| s.families().contains(&fam));
                if has {
                    family_ranges(field_set(r, &to, field), fam)
                } else {
                    Vec::new()
                }
            })
            .collect()
    }

    /// The pieces of `run` on `field`, both families, or `None` when a
    /// family's pieces copy rules past the budget.
    fn plan(&self, run: &[&Rule], field: Field) -> Option<Plan> {
        let mut fams = Vec::new();
        let mut copies = 0;
        for fam in [Family::Ipv4, Family::Ipv6] {
            let ps = pieces(&self.run_ranges(run, field, fam), run_budget(run))?;
            let mut seen: std::collections::HashSet<&Vec<usize>> = std::collections::HashSet::new();
            copies += ps
                .iter()
                .filter(|p| seen.insert(&p.rules))
                .map(|p| p.rules.len())
                .sum::<usize>();
            fams.push((fam, ps));
        }
        Some(Plan {
            field,
            fams,
            copies,
        })
    }

    /// A planned run: the calling chain's lines.
    fn addr_run(
        &mut self,
        policy: &Policy,
        base: &str,
        run: &[&Rule],
        plan: Plan,
        skip_groups: bool,
    ) -> Vec<String> {
        let field = plan.field;
        let n = self.addr_runs;
        self.addr_runs += 1;
        let first = self.sources.file_line(run[0].span);
        let last = self.sources.file_line(run[run.len() - 1].span);
        let mut lines = Vec::new();
        for (fam, pieces) in plan.fams {
            if pieces.is_empty() {
                continue;
            }
            let mut bucket_of: HashMap<Vec<usize>, String> = HashMap::new();
            let mut elements = Vec::new();
            for p in pieces {
                let chain = match bucket_of.get(&p.rules) {
                    Some(c) => c.clone(),
                    None => {
                        let chain = format!("{base}-a{n}-{}b{}", fam_tag(fam), bucket_of.len());
                        let list: Vec<&Rule> = p.rules.iter().map(|&k| run[k]).collect();
                        let body = self.bucket(policy, &list, field, fam, skip_groups);
                        self.chains.push((chain.clone(), body));
                        bucket_of.insert(p.rules.clone(), chain.clone());
                        chain
                    }
                };
                elements.push((element(fam, p.lo, p.hi), format!("jump {chain}")));
            }
            let key = field.nft(fam);
            let what = format!("rules {first} to {last} by {key}");
            let map = self.sets.interval_map(&key, elements, &what);
            lines.push(format!(
                "{key} vmap @{map} comment {}",
                NftString::text(&what)
            ));
        }
        lines
    }

    /// The body of one bucket: a cell map when its rules allow one and the
    /// cells stay few, else its rules in order.
    fn bucket(
        &mut self,
        policy: &Policy,
        list: &[&Rule],
        field: Field,
        fam: Family,
        skip_groups: bool,
    ) -> Vec<String> {
        let plain = |r: &Rule| {
            r.matches.via.is_none()
                && (skip_groups || r.matches.groups.is_none())
                && cellable(r, fam)
        };
        // Tests dispatch everything (`addr_dispatch_min_run` 1): cells too.
        let cells_min = CELLS_MIN.min(self.addr_min_run);
        if list.len() >= cells_min && list.iter().all(|r| plain(r)) {
            let other = field.other();
            let addr_of = |r: &Rule| match other {
                Field::Saddr => r.matches.from.clone(),
                Field::Daddr => r.matches.to.clone(),
            };
            if let Some(cs) = cells(list, &addr_of, fam, 8 * list.len() + 16) {
                return vec![self.cell_map(policy, list, &cs, other, fam)];
            }
        }
        let mut out = Vec::new();
        for rule in list {
            self.linear(policy, rule, skip_groups, Some(fam), &mut out);
        }
        out
    }

    /// The one line of a cell bucket, declaring its map.
    fn cell_map(
        &mut self,
        policy: &Policy,
        list: &[&Rule],
        cells: &[Cell],
        other: Field,
        fam: Family,
    ) -> String {
        let mut elements = Vec::new();
        // Each rule's comment and verdict, once.
        let mut decided: Vec<Option<(String, String)>> = vec![None; list.len()];
        for c in cells {
            let rule = list[c.rule];
            if decided[c.rule].is_none() {
                let site = self.sources.file_line(rule.span);
                let comment = match &rule.comment {
                    Some(t) => format!("{site} {t}"),
                    None => site,
                };
                let verdict = self.cell_verdict(policy, rule);
                decided[c.rule] = Some((NftString::text(&comment).to_string(), verdict));
            }
            let Some((comment, verdict)) = decided[c.rule].clone() else {
                continue;
            };
            elements.push((
                format!(
                    "{} . {} . {} comment {}",
                    element(fam, c.addr.0, c.addr.1),
                    proto_literal(c.proto),
                    port_element(c.ports.0, c.ports.1),
                    comment
                ),
                verdict,
            ));
        }
        let key = format!("{} . meta l4proto . th dport", other.nft(fam));
        let first = self.sources.file_line(list[0].span);
        let what = format!("{} rules from {first} as cells", list.len());
        let map = self.sets.interval_map(&key, elements, &what);
        format!("{key} vmap @{map}")
    }

    /// A cell's verdict: the rule's own when it has no counter or log,
    /// else a jump to its one-rule chain.
    fn cell_verdict(&mut self, policy: &Policy, rule: &Rule) -> String {
        if !rule.counter && rule.log.is_none() {
            if rule.verdict == pol_lang::ast::Verdict::Reject {
                self.uses_reject = true;
            }
            return verdict_stmt(rule.verdict);
        }
        let key = rule as *const Rule;
        if let Some(c) = self.rule_chains.get(&key) {
            return format!("jump {c}");
        }
        let chain = format!(
            "{}-rule-{}",
            super::chain_name(policy),
            self.rule_chains.len()
        );
        let ctx = self.ctx(policy, rule, None);
        let line = rule_tail(&ctx, rule);
        self.chains.push((chain.clone(), vec![line]));
        self.rule_chains.insert(key, chain.clone());
        format!("jump {chain}")
    }
}
