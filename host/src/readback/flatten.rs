//! The chain graph of a table into one first-match rule list per base
//! chain, exactly:
//!
//! - a base chain must hold polc's stateful preamble (`ct state
//!   established,related accept`, `ct state invalid drop`): the verifier
//!   models the first packet of a flow (ct state new), which no `ct state`
//!   match on established, related or invalid packets matches — such
//!   rules drop out. Rules placed before the preamble also decide
//!   established flows, which the proof does not cover: a note says so;
//! - the preamble must be followed by polc's rule accepting the IPv6
//!   control messages (`pol_lang::ipv6_control`), which the packet model
//!   leaves out as it leaves out established flows; that rule, and any
//!   other match on those types only, matches no packet of the model;
//! - `accept`/`drop`/`reject` end evaluation: a rule of that verdict;
//! - `jump C` under condition M: C's rules, each under M ∧ its own, in
//!   place; when C falls off its end evaluation continues after the jump,
//!   which is where the following rules are;
//! - `goto C` is the same when C always ends evaluation (its last rule is
//!   an unconditional verdict, as polc's `do-reject` is); otherwise
//!   packets falling off C would skip the rest of the calling chain, which
//!   a first-match list cannot say: unmodelable;
//! - `KEY vmap @M`: for each element `K : V`, V under M ∧ KEY = K;
//! - `counter` and `log` do not change the verdict; an unconditional
//!   `return` ends the chain; anything else is unmodelable;
//! - a rule that matches no packet (an empty set) is left out;
//! - the chain's policy is the default.
//!
//! Each rule of the result has the span of the kernel rule that decides
//! it (its line in the listing); groups are made up, one per distinct
//! selector list.

use super::exprs::{key_cond, match_cond, unwrap_elem, Cond, Found};
use super::nft_json::{Chain, KRule, Table};
use super::{Readback, Unmodelable};
use pol_lang::ast::{Hook, Verdict};
use pol_lang::ir::{
    CgroupTree, Group, GroupId, Match, Policy, PolicyId, Program, Rule, Selector, Tuning,
};
use pol_lang::span::{SourceMap, Span};
use serde_json::Value;
use std::collections::BTreeMap;

/// nft's own limit on nested jumps.
const MAX_DEPTH: usize = 16;

struct Flat {
    cond: Cond,
    verdict: Verdict,
    handle: u64,
}

struct Walk<'a> {
    t: &'a Table,
    out: Vec<Flat>,
    found: Found,
}

/// How a rule ends.
enum End {
    Verdict(Verdict),
    Jump(String),
    Goto(String),
    Vmap(Value, String),
    Return,
    None,
}

fn unmodelable(chain: &str, handle: Option<u64>, what: impl Into<String>) -> Unmodelable {
    Unmodelable {
        chain: chain.to_string(),
        handle,
        what: what.into(),
    }
}

fn is_preamble(r: &KRule, states: &[&str], verdict: &str) -> bool {
    let [m, v] = r.exprs.as_slice() else {
        return false;
    };
    let right = m.pointer("/match/right");
    let set: Vec<&str> = match right {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    m.pointer("/match/left/ct/key").and_then(Value::as_str) == Some("state")
        && set == states
        && v.get(verdict).is_some()
}

/// polc's rule accepting the IPv6 control messages, exactly.
fn is_ipv6_control(r: &KRule) -> bool {
    let [m, v] = r.exprs.as_slice() else {
        return false;
    };
    let names: Vec<&str> = match m
        .pointer("/match/right/set")
        .or_else(|| m.pointer("/match/right"))
    {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    let want: Vec<&str> = pol_lang::ipv6_control::IPV6_CONTROL
        .iter()
        .map(|t| t.nft_name)
        .collect();
    m.pointer("/match/left/payload/protocol")
        .and_then(Value::as_str)
        == Some("icmpv6")
        && m.pointer("/match/left/payload/field")
            .and_then(Value::as_str)
            == Some("type")
        && names == want
        && v.get("accept").is_some()
}

impl Walk<'_> {
    /// One rule's condition (all its matches) and how it ends.
    fn rule(&mut self, chain: &str, r: &KRule) -> Result<(Cond, End), Unmodelable> {
        let err = |w: String| unmodelable(chain, Some(r.handle), w);
        let mut cond = Cond::any();
        let mut end = End::None;
        let mut levels = r.levels.iter().copied();
        for e in &r.exprs {
            let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
                return Err(err(format!("the expression `{e}`")));
            };
            if !matches!(end, End::None) {
                return Err(err(format!("`{k}` after the rule's verdict")));
            }
            match k.as_str() {
                "match" => {
                    let c = match_cond(self.t, v, &mut levels, &mut self.found).map_err(|w| {
                        err(format!(
                            "it matches {w}, which the packet model cannot state exactly"
                        ))
                    })?;
                    cond = cond.and(&c).map_err(err)?;
                }
                "counter" | "log" => {}
                "accept" => end = End::Verdict(Verdict::Allow),
                "drop" => end = End::Verdict(Verdict::Drop),
                "reject" => end = End::Verdict(Verdict::Reject),
                "return" => end = End::Return,
                "jump" | "goto" => {
                    let target = v
                        .get("target")
                        .and_then(Value::as_str)
                        .ok_or_else(|| err(format!("`{k}` without a target")))?
                        .to_string();
                    end = if k == "jump" {
                        End::Jump(target)
                    } else {
                        End::Goto(target)
                    };
                }
                "vmap" => {
                    let key = v.get("key").cloned().unwrap_or(Value::Null);
                    let data = v
                        .get("data")
                        .and_then(Value::as_str)
                        .and_then(|s| s.strip_prefix('@'))
                        .ok_or_else(|| err("a verdict map that is not a named map".into()))?;
                    end = End::Vmap(key, data.to_string());
                }
                other => return Err(err(format!("the statement `{other}`"))),
            }
        }
        Ok((cond, end))
    }

    /// True when every packet reaching `chain` gets a verdict in it.
    fn always_ends(&self, chain: &str) -> bool {
        let Some(c) = self.t.chains.get(chain) else {
            return false;
        };
        c.rules.last().is_some_and(|r| {
            r.exprs.iter().all(|e| {
                e.get("counter").is_some()
                    || e.get("log").is_some()
                    || e.get("accept").is_some()
                    || e.get("drop").is_some()
                    || e.get("reject").is_some()
            }) && r.exprs.iter().any(|e| {
                e.get("accept").is_some() || e.get("drop").is_some() || e.get("reject").is_some()
            })
        })
    }

    fn chain(
        &mut self,
        name: &str,
        skip: usize,
        under: &Cond,
        depth: usize,
    ) -> Result<(), Unmodelable> {
        if depth > MAX_DEPTH {
            return Err(unmodelable(
                name,
                None,
                "jumps nested deeper than nft allows",
            ));
        }
        let c: &Chain =
            self.t.chains.get(name).ok_or_else(|| {
                unmodelable(name, None, "a jump to a chain the table does not have")
            })?;
        let rules: Vec<KRule> = c.rules.iter().skip(skip).cloned().collect();
        for r in &rules {
            let (cond, end) = self.rule(name, r)?;
            let cond = under
                .and(&cond)
                .map_err(|w| unmodelable(name, Some(r.handle), w))?;
            match end {
                End::None => {}
                End::Verdict(v) => self.push(cond, v, r.handle),
                End::Jump(t) => self.chain(&t, 0, &cond, depth + 1)?,
                End::Goto(t) => {
                    if !self.always_ends(&t) {
                        return Err(unmodelable(
                            name,
                            Some(r.handle),
                            format!("`goto {t}`, and {t} can fall off its end"),
                        ));
                    }
                    self.chain(&t, 0, &cond, depth + 1)?;
                }
                End::Return => {
                    if cond != *under {
                        return Err(unmodelable(
                            name,
                            Some(r.handle),
                            "a `return` under a condition",
                        ));
                    }
                    return Ok(());
                }
                End::Vmap(key, map) => self.vmap(name, r, &cond, &key, &map, depth)?,
            }
        }
        Ok(())
    }

    fn vmap(
        &mut self,
        chain: &str,
        r: &KRule,
        under: &Cond,
        key: &Value,
        map: &str,
        depth: usize,
    ) -> Result<(), Unmodelable> {
        let err = |w: String| unmodelable(chain, Some(r.handle), w);
        let m = self
            .t
            .sets
            .get(map)
            .ok_or_else(|| err(format!("a map `{map}` the table does not have")))?;
        // One level for every element of a `socket cgroupv2` key.
        let level = r.levels.first().copied();
        for el in m.elems.clone() {
            let pair = el
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| err(format!("the map element `{el}`")))?;
            let k = unwrap_elem(&pair[0]).clone();
            let mut lv = level.into_iter();
            let kc = key_cond(self.t, key, &k, &mut lv, &mut self.found)
                .map_err(|w| err(format!("its map key matches {w}")))?;
            let cond = under.and(&kc).map_err(err)?;
            let v = &pair[1];
            if v.get("accept").is_some() {
                self.push(cond, Verdict::Allow, r.handle);
            } else if v.get("drop").is_some() {
                self.push(cond, Verdict::Drop, r.handle);
            } else if let Some(t) = v.pointer("/jump/target").and_then(Value::as_str) {
                self.chain(t, 0, &cond, depth + 1)?;
            } else if let Some(t) = v.pointer("/goto/target").and_then(Value::as_str) {
                if !self.always_ends(t) {
                    return Err(err(format!(
                        "`goto {t}` in a map, and {t} can fall off its end"
                    )));
                }
                self.chain(t, 0, &cond, depth + 1)?;
            } else {
                return Err(err(format!("the map verdict `{v}`")));
            }
        }
        Ok(())
    }

    fn push(&mut self, cond: Cond, verdict: Verdict, handle: u64) {
        if !cond.is_empty() {
            self.out.push(Flat {
                cond,
                verdict,
                handle,
            });
        }
    }
}

/// Byte spans of the listing's lines: by rule handle, and by chain name.
fn spans(
    file: pol_lang::span::FileId,
    text: &str,
) -> (BTreeMap<u64, Span>, BTreeMap<String, Span>) {
    let (mut rules, mut chains) = (BTreeMap::new(), BTreeMap::new());
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let span = Span::new(file, at, at + body.len());
        let trimmed = body.trim_start();
        if trimmed.starts_with("table ") {
            // The table's handle is numbered apart from its rules'.
        } else if let Some(rest) = trimmed.strip_prefix("chain ") {
            if let Some(name) = rest.split_whitespace().next() {
                chains.insert(name.to_string(), span);
            }
        } else if let Some((_, h)) = body.rsplit_once("# handle ") {
            if let Ok(h) = h.trim().parse::<u64>() {
                rules.insert(h, span);
            }
        }
        at += line.len();
    }
    (rules, chains)
}

pub fn program(t: &Table, text: &str, name: &str) -> Result<Readback, Unmodelable> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text.to_string(), false);
    let (rule_spans, chain_spans) = spans(file, text);
    let whole = Span::new(file, 0, 0);
    let mut groups: Vec<Group> = Vec::new();
    let mut cgroups = CgroupTree::default();
    let mut policies = Vec::new();
    let mut notes = Vec::new();
    for name in &t.base_order {
        let c = &t.chains[name];
        let hook = match c.hook.as_deref() {
            Some("output") => Hook::Output,
            Some("input") => Hook::Input,
            other => {
                return Err(unmodelable(
                    name,
                    None,
                    format!("a base chain on the `{}` hook", other.unwrap_or("?")),
                ));
            }
        };
        let default = match c.policy.as_deref() {
            Some("drop") => Verdict::Drop,
            _ => Verdict::Allow,
        };
        let pre = (0..c.rules.len().saturating_sub(1)).find(|&i| {
            is_preamble(&c.rules[i], &["established", "related"], "accept")
                && is_preamble(&c.rules[i + 1], &["invalid"], "drop")
        });
        let Some(pre) = pre else {
            return Err(unmodelable(name, None, "it lacks polc's stateful preamble (`ct state established,related accept`, `ct state invalid drop`)"));
        };
        if !c.rules.get(pre + 2).is_some_and(is_ipv6_control) {
            return Err(unmodelable(name, None, format!("its stateful preamble is not followed by polc's IPv6 control rule (`{}`): without it the host's neighbor discovery falls to the rules", pol_backends::nft::ipv6_control_rule())));
        }
        if pre > 0 {
            notes.push(format!("chain {name}: {pre} rule(s) before the stateful preamble also decide packets of established flows, which the proof (first packets) does not cover"));
        }
        let mut w = Walk {
            t,
            out: Vec::new(),
            found: Found::default(),
        };
        // `ct state` matches on established/related/invalid packets match
        // no first packet of a flow: those rules drop out.
        w.chain(name, 0, &Cond::any(), 0)?;
        notes.extend(
            w.found
                .notes
                .into_iter()
                .map(|n| format!("chain {name}: {n}")),
        );
        let chain_span = chain_spans.get(name).copied().unwrap_or(whole);
        let mut rules = Vec::new();
        for f in w.out {
            let groups_of = match f.cond.sel {
                None => None,
                Some(sels) => {
                    let id = match groups.iter().position(|g| g.selectors == sels) {
                        Some(i) => GroupId(u32::try_from(i).unwrap_or(u32::MAX)),
                        None => {
                            for s in &sels {
                                if let Selector::Cgroup(p) = s {
                                    cgroups.insert(p);
                                }
                            }
                            let id = GroupId(u32::try_from(groups.len()).unwrap_or(u32::MAX));
                            groups.push(Group {
                                id,
                                name: format!("kernel-{}", groups.len()),
                                selectors: sels,
                                span: chain_span,
                            });
                            id
                        }
                    };
                    Some(vec![id])
                }
            };
            rules.push(Rule {
                verdict: f.verdict,
                matches: Match {
                    groups: groups_of,
                    from: f.cond.from,
                    to: f.cond.to,
                    service: f.cond.svc,
                    via: None,
                },
                log: None,
                counter: false,
                comment: None,
                span: rule_spans.get(&f.handle).copied().unwrap_or(chain_span),
                origins: Vec::new(),
            });
        }
        policies.push(Policy {
            id: PolicyId(u32::try_from(policies.len()).unwrap_or(u32::MAX)),
            name: name.strip_prefix("policy-").unwrap_or(name).to_string(),
            hook,
            default,
            default_span: chain_span,
            rules,
            span: chain_span,
        });
    }
    notes.sort();
    notes.dedup();
    Ok(Readback {
        program: Program {
            groups,
            cgroups,
            policies,
            tunnels: Vec::new(),
            tuning: Tuning::default(),
            tests: Vec::new(),
            systemd: Vec::new(),
        },
        sources,
        notes,
    })
}
