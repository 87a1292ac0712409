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
//! its cells: up to four `ip saddr & MASK . meta l4proto . th dport vmap
//! @hash_M` lookups of exact cells (`hashed`) and one `ip saddr . meta
//! l4proto . th dport vmap @addr_M` of the rest, whose elements carry the
//! deciding rule's `FILE:LINE` as their comment. A rule with
//! `counter` or `log` is decided by a one-rule chain `POLICY-rule-N`
//! holding its counter, log, verdict and comment, so each counter still
//! counts one source rule.

use super::cells::{cellable, cells, Cell};
use super::dispatch::{family_ranges, field_set, narrows, pieces, Field};
use super::hashed;
use super::load_cost::LoadCost;
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
use std::fmt::Write;

/// Cells per grouped map of small buckets.
const CHUNK: usize = 256;

/// Rules up to which a bucket may hold its rules rather than cells when
/// the rules load faster (a new flow then tries at most this many).
const FEW_RULES: usize = 8;

fn element(fam: Family, lo: u128, hi: u128) -> String {
    match fam {
        // Ranges of the IPv4 family are u32 widened.
        Family::Ipv4 => v4_element(lo as u32, hi as u32),
        Family::Ipv6 => v6_element(lo, hi),
    }
}

/// Addresses as cell elements write them, each made once: many cells
/// share a destination, and formatting an address costs more than
/// finding it again.
#[derive(Default)]
pub(super) struct AddrTexts(HashMap<(Family, u128, Option<u128>), String>);

impl AddrTexts {
    /// The first address of a prefix, as a hash map's element holds it.
    fn net(&mut self, fam: Family, lo: u128) -> &str {
        self.0.entry((fam, lo, None)).or_insert_with(|| match fam {
            Family::Ipv4 => std::net::Ipv4Addr::from(lo as u32).to_string(),
            Family::Ipv6 => std::net::Ipv6Addr::from(lo).to_string(),
        })
    }

    /// `[lo, hi]` as an interval map's element (`element`).
    fn range(&mut self, fam: Family, lo: u128, hi: u128) -> &str {
        self.0
            .entry((fam, lo, Some(hi)))
            .or_insert_with(|| element(fam, lo, hi))
    }
}

/// `ip daddr & MASK` for a prefix of `len` bits (the bare field for a
/// host address).
fn masked_field(f: Field, fam: Family, len: u32) -> String {
    let b = hashed::bits(fam);
    if len >= b {
        return f.nft(fam);
    }
    let mask = match fam {
        Family::Ipv4 => std::net::Ipv4Addr::from(u32::MAX << (32 - len)).to_string(),
        Family::Ipv6 => std::net::Ipv6Addr::from(u128::MAX << (128 - len)).to_string(),
    };
    format!("{} & {mask}", f.nft(fam))
}

/// A run's dispatch: its field, each family's pieces, and the rule copies
/// its buckets hold.
struct Plan {
    field: Field,
    fams: Vec<(Family, Vec<super::dispatch::Piece>)>,
    copies: usize,
}

/// A cell with its rule, and the dispatch piece it sits in when cells of
/// several pieces share one map.
type Item<'r> = (Option<(u128, u128)>, &'r Rule, Cell);

/// What a bucket becomes.
enum Body {
    /// Disjoint cells, in maps of the bucket's own (`own`: how its cells
    /// split between hash maps and an interval map) or in the grouped
    /// maps of small buckets, keyed by both addresses (`None`).
    Cells {
        cells: Vec<Cell>,
        own: Option<hashed::Split>,
    },
    Rules,
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
                if let Some(lines) =
                    plan.and_then(|p| self.addr_run(policy, base, run, p, skip_groups))
                {
                    out.extend(lines);
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

    /// A planned run: the calling chain's lines, or `None` when its
    /// structure would take nft longer to load than the linear rendering
    /// (`LoadCost`).
    ///
    /// Per family, each bucket as whichever of these loads fastest
    /// (`cheapest`): a chain of its rules; a chain with its own cell map
    /// (keyed by the other address, protocol and port); or its cells in
    /// the grouped maps, in address order, chunks of about `CHUNK` cells,
    /// each a chain with one map keyed by both addresses, protocol and
    /// port (a chain and a map per tiny bucket would cost nft more than the
    /// key's second address).
    fn addr_run(
        &mut self,
        policy: &Policy,
        base: &str,
        run: &[&Rule],
        plan: Plan,
        skip_groups: bool,
    ) -> Option<Vec<String>> {
        let field = plan.field;
        let mut cost = LoadCost::default();
        let mut fams = Vec::new();
        for (fam, pieces) in plan.fams {
            if pieces.is_empty() {
                continue;
            }
            // Each distinct bucket, with the pieces that lead to it (a
            // grouped map holds a bucket's cells once per piece).
            let mut pieces_of: HashMap<&Vec<usize>, Vec<(u128, u128)>> = HashMap::new();
            for p in &pieces {
                pieces_of.entry(&p.rules).or_default().push((p.lo, p.hi));
            }
            let mut bodies: HashMap<Vec<usize>, Body> = HashMap::new();
            let mut grouped = 0;
            for (rules, ranges) in pieces_of {
                let list: Vec<&Rule> = rules.iter().map(|&k| run[k]).collect();
                let (body, c) = self.cheapest(&list, &ranges, field, fam, skip_groups);
                cost += c;
                if let Body::Cells { cells, own: None } = &body {
                    grouped += cells.len() * ranges.len();
                }
                bodies.insert(rules.clone(), body);
            }
            // The grouped maps' chains and maps, as many as they fill.
            cost.objects(2 * grouped.div_ceil(CHUNK));
            cost.interval_elements(fam, pieces.len());
            cost.objects(1);
            fams.push((fam, pieces, bodies));
        }
        let mut linear = LoadCost::default();
        linear.rules(
            run.iter()
                .map(|r| {
                    let to = self.to_of(r);
                    [Family::Ipv4, Family::Ipv6]
                        .iter()
                        .filter(|f| r.matches.from.has_family(**f) && to.has_family(**f))
                        .count()
                })
                .sum(),
        );
        if !self.addr_always && cost.micros() > linear.micros() {
            return None;
        }
        let n = self.addr_runs;
        self.addr_runs += 1;
        let first = self.sources.file_line(run[0].span);
        let last = self.sources.file_line(run[run.len() - 1].span);
        let mut lines = Vec::new();
        for (fam, pieces, bodies) in fams {
            let tag = fam_tag(fam);
            let mut chain_of: HashMap<&Vec<usize>, String> = HashMap::new();
            let mut elements = Vec::new();
            // The open chunk: its chain and cells (piece, rule, cell).
            let mut chunk: Option<String> = None;
            let mut chunk_cells: Vec<Item<'_>> = Vec::new();
            let mut chunks = 0;
            for p in &pieces {
                let body = &bodies[&p.rules];
                let chain = match body {
                    Body::Cells {
                        cells: cs,
                        own: None,
                    } => {
                        let c = chunk.get_or_insert_with(|| {
                            chunks += 1;
                            format!("{base}-a{n}-{tag}c{}", chunks - 1)
                        });
                        let c = c.clone();
                        chunk_cells.extend(cs.iter().map(|cell| {
                            (Some((p.lo, p.hi)), run[p.rules[cell.rule]], cell.clone())
                        }));
                        if chunk_cells.len() >= CHUNK {
                            let items = std::mem::take(&mut chunk_cells);
                            let lines = self.cell_map(policy, items, field, fam, None);
                            self.chains.push((c.clone(), lines));
                            chunk = None;
                        }
                        c
                    }
                    _ => match chain_of.get(&p.rules) {
                        Some(c) => c.clone(),
                        None => {
                            let c = format!("{base}-a{n}-{tag}b{}", chain_of.len());
                            let list: Vec<&Rule> = p.rules.iter().map(|&i| run[i]).collect();
                            let body_lines = match body {
                                Body::Cells { cells: cs, own } => {
                                    let items = cs
                                        .iter()
                                        .map(|cell| (None, list[cell.rule], cell.clone()))
                                        .collect();
                                    self.cell_map(policy, items, field, fam, own.as_ref())
                                }
                                Body::Rules => {
                                    let mut out = Vec::new();
                                    for rule in &list {
                                        self.linear(policy, rule, skip_groups, Some(fam), &mut out);
                                    }
                                    out
                                }
                            };
                            self.chains.push((c.clone(), body_lines));
                            chain_of.insert(&p.rules, c.clone());
                            c
                        }
                    },
                };
                elements.push((element(fam, p.lo, p.hi), format!("jump {chain}")));
            }
            if let Some(c) = chunk {
                let lines = self.cell_map(policy, chunk_cells, field, fam, None);
                self.chains.push((c, lines));
            }
            let key = field.nft(fam);
            let what = format!("rules {first} to {last} by {key}");
            let map = self.sets.interval_map(&key, elements, &what);
            lines.push(format!(
                "{key} vmap @{map} comment {}",
                NftString::text(&what)
            ));
        }
        Some(lines)
    }

    /// What one bucket becomes, and what it costs to load: cells when its
    /// rules allow them and they stay few — in a map of its own or in the
    /// grouped maps, whichever loads faster — else its rules in order; a
    /// bucket of `FEW_RULES` or fewer also holds its rules when they load
    /// faster than its cells. `ranges` are the pieces that lead to it.
    /// The cost returned leaves out the grouped maps' own chains and maps
    /// (the caller counts them once filled), but the choice counts a
    /// bucket's share of them.
    fn cheapest(
        &self,
        list: &[&Rule],
        ranges: &[(u128, u128)],
        field: Field,
        fam: Family,
        skip_groups: bool,
    ) -> (Body, LoadCost) {
        let mut rules = LoadCost::default();
        rules.rules(list.len());
        rules.objects(1);
        let Some(cells) = self.cells_of(list, field, fam, skip_groups) else {
            return (Body::Rules, rules);
        };
        let mut own = LoadCost::default();
        own.objects(1);
        let items: Vec<_> = cells.iter().map(|c| (None, c)).collect();
        let (own_split, own_cells) = hashed::split(fam, &items, self.addr_always);
        own += own_cells;
        // In the grouped maps, each cell as an interval element: a chunk's
        // split (`hashed`) is made over its ~256 cells from many buckets
        // and only ever lowers what it costs, so the estimate stays an
        // upper bound — what the "never slower than linear" guard needs.
        let mut grouped = LoadCost::default();
        for c in &cells {
            for &r in ranges {
                grouped.cell(fam, Some(r), c);
            }
        }
        let mut share = grouped;
        share.objects_shared(2, cells.len() * ranges.len(), CHUNK);
        let cheaper = own.min(share);
        if list.len() <= FEW_RULES && rules < cheaper {
            return (Body::Rules, rules);
        }
        let own_map = own <= share;
        (
            Body::Cells {
                cells,
                own: own_map.then_some(own_split),
            },
            if own_map { own } else { grouped },
        )
    }

    /// A bucket's disjoint cells, when its rules allow them and they stay
    /// few.
    fn cells_of(
        &self,
        list: &[&Rule],
        field: Field,
        fam: Family,
        skip_groups: bool,
    ) -> Option<Vec<Cell>> {
        let plain = |r: &Rule| {
            r.matches.via.is_none()
                && (skip_groups || r.matches.groups.is_none())
                && cellable(r, fam)
        };
        if !list.iter().all(|r| plain(r)) {
            return None;
        }
        let other = field.other();
        let addr_of: fn(&Rule) -> &AddrSet = match other {
            Field::Saddr => |r| &r.matches.from,
            Field::Daddr => |r| &r.matches.to,
        };
        cells(list, &addr_of, fam, 8 * list.len() + 16)
    }

    /// The lines of a chain deciding `items` (disjoint cells, each with
    /// its rule, and the dispatch piece it sits in when cells of several
    /// pieces share the map), declaring its maps: a lookup per hash map of
    /// exact cells (`hashed`), then one of the interval map of the rest.
    /// `split`: how the items split, when the caller has made it already.
    fn cell_map(
        &mut self,
        policy: &Policy,
        items: Vec<Item<'_>>,
        field: Field,
        fam: Family,
        split: Option<&hashed::Split>,
    ) -> Vec<String> {
        let other = field.other();
        let keyed_by_piece = items.iter().any(|(p, _, _)| p.is_some());
        for (_, rule, _) in &items {
            self.cell_tail(policy, rule);
        }
        let typeof_key = if keyed_by_piece {
            format!(
                "{} . {} . meta l4proto . th dport",
                field.nft(fam),
                other.nft(fam)
            )
        } else {
            format!("{} . meta l4proto . th dport", other.nft(fam))
        };
        let made;
        let split = match split {
            Some(s) => s,
            None => {
                let cells: Vec<_> = items.iter().map(|(p, _, c)| (*p, c)).collect();
                made = hashed::split(fam, &cells, self.addr_always).0;
                &made
            }
        };
        let mut texts = std::mem::take(&mut self.addr_texts);
        let mut lines = Vec::new();
        for (tuple, ix) in &split.hashed {
            let mut elements = Vec::with_capacity(ix.len());
            for &i in ix {
                let (piece, rule, c) = &items[i];
                let (comment, verdict) = &self.cell_tails[&(*rule as *const Rule)];
                let mut key = String::with_capacity(64 + comment.len());
                if let Some((lo, _)) = piece {
                    key.push_str(texts.net(fam, *lo));
                    key.push_str(" . ");
                }
                key.push_str(texts.net(fam, c.addr.0));
                let _ = write!(
                    key,
                    " . {} . {} comment {comment}",
                    proto_literal(c.proto),
                    c.ports.0
                );
                elements.push((key, verdict.clone()));
            }
            let masked = |f: Field, len: u32| masked_field(f, fam, len);
            let key = match tuple.piece {
                Some(pl) => format!(
                    "{} . {} . meta l4proto . th dport",
                    masked(field, pl),
                    masked(other, tuple.addr)
                ),
                None => format!("{} . meta l4proto . th dport", masked(other, tuple.addr)),
            };
            let what = self.cells_comment(&items, ix);
            let map = self.sets.hash_map(&typeof_key, elements, &what);
            lines.push(format!("{key} vmap @{map}"));
        }
        if !split.rest.is_empty() {
            let mut elements = Vec::with_capacity(split.rest.len());
            for &i in &split.rest {
                let (piece, rule, c) = &items[i];
                let (comment, verdict) = &self.cell_tails[&(*rule as *const Rule)];
                let mut key = String::with_capacity(80 + comment.len());
                if let Some((lo, hi)) = piece {
                    key.push_str(texts.range(fam, *lo, *hi));
                    key.push_str(" . ");
                }
                key.push_str(texts.range(fam, c.addr.0, c.addr.1));
                let _ = write!(
                    key,
                    " . {} . {} comment {comment}",
                    proto_literal(c.proto),
                    port_element(c.ports.0, c.ports.1),
                );
                elements.push((key, verdict.clone()));
            }
            let what = self.cells_comment(&items, &split.rest);
            let map = self.sets.interval_map(&typeof_key, elements, &what);
            lines.push(format!("{typeof_key} vmap @{map}"));
        }
        self.addr_texts = texts;
        lines
    }

    /// A cell map's comment: how many cells, from which rule on.
    fn cells_comment(&self, items: &[Item<'_>], ix: &[usize]) -> String {
        let site = ix
            .first()
            .map_or_else(String::new, |&i| self.sources.file_line(items[i].1.span));
        format!("{} cells from {site} on", ix.len())
    }

    /// Make `rule`'s elements' quoted comment and verdict, once
    /// (`cell_tails`).
    fn cell_tail(&mut self, policy: &Policy, rule: &Rule) {
        let key = rule as *const Rule;
        if self.cell_tails.contains_key(&key) {
            return;
        }
        let site = self.sources.file_line(rule.span);
        let comment = match &rule.comment {
            Some(t) => format!("{site} {t}"),
            None => site,
        };
        let verdict = self.cell_verdict(policy, rule);
        self.cell_tails
            .insert(key, (NftString::text(&comment).to_string(), verdict));
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
