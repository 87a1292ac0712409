//! The live table against the build's, field by field: sets (type, flags,
//! elements), chains (type, hook, priority, policy) and each chain's rules
//! (expressions and comment; handles and counter values are the kernel's
//! own and are left out). Rules are compared as lists: the kernel's extra
//! rules, the build's missing ones, or — same rules — another order.
//! Elements of cgroup sets that are bare ids (cgroups removed or
//! re-created since they were added) are observations, not drift: cgroup
//! ids are never reused, so they match nothing; a missing path element is
//! drift (the group does not match its live cgroup).

use super::{Drift, Report};
use crate::listing::Listing;
use serde_json::Value;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
struct Shape {
    sets: BTreeMap<String, (String, Vec<String>)>,
    chains: BTreeMap<String, String>,
    /// chain → [(normalised rule, handle)]
    rules: BTreeMap<String, Vec<(String, u64)>>,
}

/// Counters' values are the kernel's, not the build's.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(c) = o.get("counter") {
                if c.is_object() {
                    let mut m = serde_json::Map::new();
                    m.insert("counter".into(), Value::Null);
                    return Value::Object(m);
                }
            }
            Value::Object(
                o.iter()
                    .filter(|(k, _)| k.as_str() != "handle")
                    .map(|(k, v)| (k.clone(), normalise(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        x => x.clone(),
    }
}

fn shape(l: &Listing) -> Shape {
    let mut s = Shape::default();
    let v: Value = serde_json::from_str(&l.json).unwrap_or(Value::Null);
    for item in v
        .get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some((kind, body)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match kind.as_str() {
            "set" | "map" => {
                let mut head = normalise(body);
                if let Some(o) = head.as_object_mut() {
                    o.remove("elem");
                }
                let mut elems: Vec<String> = body
                    .get("elem")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(|e| normalise(e).to_string()).collect())
                    .unwrap_or_default();
                elems.sort();
                s.sets
                    .insert(format!("{kind} {name}"), (head.to_string(), elems));
            }
            "chain" => {
                s.chains.insert(name, normalise(body).to_string());
            }
            "rule" => {
                let chain = body
                    .get("chain")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let handle = body.get("handle").and_then(Value::as_u64).unwrap_or(0);
                s.rules
                    .entry(chain)
                    .or_default()
                    .push((normalise(body).to_string(), handle));
            }
            _ => {}
        }
    }
    s
}

/// A listing's rule lines by handle, indexed on first use (a flushed
/// chain drifts by every rule; looking each up by a scan of the whole
/// listing would be quadratic).
struct RuleLines<'a> {
    text: &'a str,
    by_handle: OnceCell<HashMap<u64, &'a str>>,
}

impl<'a> RuleLines<'a> {
    fn new(l: &'a Listing) -> Self {
        RuleLines {
            text: &l.text,
            by_handle: OnceCell::new(),
        }
    }

    /// The listing's line for a rule handle, without the handle.
    fn line(&self, handle: u64) -> String {
        let index = self.by_handle.get_or_init(|| {
            let mut m = HashMap::new();
            for x in self.text.lines() {
                if x.trim_start().starts_with("table ") {
                    continue;
                }
                let Some((rule, h)) = x.trim_end().rsplit_once("# handle ") else {
                    continue;
                };
                if let Ok(h) = h.parse::<u64>() {
                    m.entry(h).or_insert_with(|| rule.trim());
                }
            }
            m
        });
        index
            .get(&handle)
            .map(|x| x.to_string())
            .unwrap_or_else(|| format!("(handle {handle})"))
    }
}

fn push(r: &mut Report, what: String, detail: String) {
    r.drift.push(Drift { what, detail });
}

pub fn compare(live: &Listing, build: &Listing, r: &mut Report) {
    let (k, b) = (shape(live), shape(build));
    let (live_lines, build_lines) = (RuleLines::new(live), RuleLines::new(build));
    let mut n_rules = 0;
    for (name, (head, elems)) in &b.sets {
        match k.sets.get(name) {
            None => push(
                r,
                name.clone(),
                "the kernel's table does not have it".into(),
            ),
            Some((kh, _)) if kh != head => {
                push(r, name.clone(), "its type, flags or comment differ".into())
            }
            Some((_, ke)) => {
                // Both lists are sorted: membership by binary search (a
                // blocklist set holds tens of thousands of elements).
                let in_build = |e: &&String| elems.binary_search(e).is_ok();
                let in_kernel = |e: &&String| ke.binary_search(e).is_ok();
                let (stale, extra): (Vec<&String>, Vec<&String>) = ke
                    .iter()
                    .filter(|e| !in_build(e))
                    .partition(|e| head.contains("cgroupsv2") && dead_cgroup(e));
                if !stale.is_empty() {
                    r.observations.push(format!(
                        "{name} holds {} id(s) of cgroups that no longer exist ({}): they match nothing (cgroup ids are never reused); the next apply drops them",
                        stale.len(),
                        join(&stale)
                    ));
                }
                let missing: Vec<&String> = elems.iter().filter(|e| !in_kernel(e)).collect();
                if !extra.is_empty() {
                    push(
                        r,
                        name.clone(),
                        format!(
                            "the kernel has elements the build does not: {}",
                            join(&extra)
                        ),
                    );
                }
                if !missing.is_empty() {
                    push(
                        r,
                        name.clone(),
                        format!("the kernel lacks elements: {}", join(&missing)),
                    );
                }
            }
        }
    }
    for name in k.sets.keys().filter(|n| !b.sets.contains_key(*n)) {
        push(
            r,
            name.clone(),
            "the kernel has it; the build does not".into(),
        );
    }
    for (name, head) in &b.chains {
        match k.chains.get(name) {
            None => push(
                r,
                format!("chain {name}"),
                "the kernel's table does not have it".into(),
            ),
            Some(kh) if kh != head => push(
                r,
                format!("chain {name}"),
                "its type, hook, priority or policy differ".into(),
            ),
            Some(_) => {}
        }
    }
    for name in k.chains.keys().filter(|n| !b.chains.contains_key(*n)) {
        push(
            r,
            format!("chain {name}"),
            "the kernel has it; the build does not".into(),
        );
    }
    let empty = Vec::new();
    for name in b
        .chains
        .keys()
        .chain(k.chains.keys().filter(|n| !b.chains.contains_key(*n)))
    {
        let br = b.rules.get(name).unwrap_or(&empty);
        let kr = k.rules.get(name).unwrap_or(&empty);
        n_rules += kr.len();
        let mut left: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (x, h) in br {
            left.entry(x.as_str()).or_default().push(*h);
        }
        let mut extra = Vec::new();
        for (x, h) in kr {
            match left.get_mut(x.as_str()).and_then(|v| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.remove(0))
                }
            }) {
                Some(_) => {}
                None => extra.push(*h),
            }
        }
        for h in &extra {
            push(
                r,
                format!("chain {name}"),
                format!(
                    "the kernel has a rule the build does not: {}",
                    live_lines.line(*h)
                ),
            );
        }
        for hs in left.values() {
            for h in hs {
                push(
                    r,
                    format!("chain {name}"),
                    format!(
                        "the kernel lacks the build's rule: {}",
                        build_lines.line(*h)
                    ),
                );
            }
        }
        if extra.is_empty() && left.values().all(Vec::is_empty) {
            let same_order = br.iter().map(|x| &x.0).eq(kr.iter().map(|x| &x.0));
            if !same_order {
                push(
                    r,
                    format!("chain {name}"),
                    "the same rules in another order".into(),
                );
            }
        }
    }
    r.checked.push(format!(
        "table: {} sets and maps, {} chains, {n_rules} rules compared with the build's",
        b.sets.len(),
        b.chains.len()
    ));
}

/// A cgroup set's element (or map key) that nft printed as a bare id: the
/// cgroup is gone.
fn dead_cgroup(e: &str) -> bool {
    let v: Value = serde_json::from_str(e).unwrap_or(Value::Null);
    let key = v.as_array().and_then(|a| a.first()).unwrap_or(&v);
    key.is_number()
        || key
            .as_str()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
}

fn join(v: &[&String]) -> String {
    const MAX: usize = 8;
    let mut s: Vec<String> = v.iter().take(MAX).map(|x| x.to_string()).collect();
    if v.len() > MAX {
        s.push(format!("and {} more", v.len() - MAX));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::RuleLines;
    use crate::listing::Listing;

    #[test]
    fn a_rule_line_is_found_by_its_exact_handle() {
        let l = Listing {
            json: String::new(),
            text: "table inet pol { # handle 1\n\tchain c { # handle 2\n\t\tip daddr 10.0.0.11 accept # handle 11\n\t\tip daddr 10.0.0.1 drop # handle 1\n\t}\n}\n".into(),
        };
        let lines = RuleLines::new(&l);
        assert_eq!(lines.line(11), "ip daddr 10.0.0.11 accept");
        assert_eq!(lines.line(1), "ip daddr 10.0.0.1 drop");
        assert_eq!(lines.line(7), "(handle 7)");
    }
}
