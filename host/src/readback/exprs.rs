//! One nft match (`{"match": {"op", "left", "right"}}`) into a [`Cond`]: a
//! constraint on the packet in the IR's terms — source and destination
//! address sets per family, a service set, the socket's selectors.
//!
//! The forms are those `pol-backends` writes plus their set/element
//! variants: `ip|ip6 saddr|daddr`, `meta nfproto`, `meta l4proto`,
//! `tcp|udp|sctp|dccp|udplite|th dport`, `meta l4proto . th dport`,
//! `socket cgroupv2 level N`, `meta cgroup` (net_cls), `meta skuid`,
//! `meta skgid`, `ct state`, `icmpv6 type` (the IPv6 control messages
//! only); right sides are a value, a prefix, a range, an anonymous
//! set or `@SET`. Anything else is an error (the caller reports the rule
//! as unmodelable). `meta oifname` is outside the packet model: no
//! constraint, and a note.

use super::nft_json::Table;
use pol_lang::ir::{CgroupPath, ClassId, Selector};
use pol_lang::sets::addr::{prefix_bounds_v4, prefix_bounds_v6};
use pol_lang::sets::service::{has_ports, proto_by_name};
use pol_lang::sets::{AddrSet, IntervalSet, ServiceSet};
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The packets a conjunction of matches admits.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub from: AddrSet,
    pub to: AddrSet,
    /// `None`: any protocol.
    pub svc: Option<ServiceSet>,
    /// `None`: any socket (or none); `Some(v)`: a socket with one of these.
    pub sel: Option<Vec<Selector>>,
}

/// Protocols with ports that `th dport` applies to.
const PORTED: [u8; 5] = [6, 17, 132, 33, 136];

impl Cond {
    pub fn any() -> Cond {
        Cond {
            from: AddrSet::any(),
            to: AddrSet::any(),
            svc: None,
            sel: None,
        }
    }

    /// Both hold.
    pub fn and(&self, o: &Cond) -> Result<Cond, String> {
        let svc = match (&self.svc, &o.svc) {
            (None, x) | (x, None) => x.clone(),
            (Some(a), Some(b)) => Some(a.intersect(b)),
        };
        let sel = match (&self.sel, &o.sel) {
            (None, x) | (x, None) => x.clone(),
            (Some(a), Some(b)) if a == b => Some(a.clone()),
            (Some(a), Some(b)) if a.is_empty() || b.is_empty() => Some(Vec::new()),
            (Some(a), Some(b)) => {
                // A socket has one uid, one gid, one class id: when both
                // lists are of that one kind, the socket's key must be in
                // both. Cgroups nest, and mixed kinds are not a list.
                let kind = std::mem::discriminant(&a[0]);
                let one_kind = a.iter().chain(b.iter()).all(|s| {
                    std::mem::discriminant(s) == kind && !matches!(s, Selector::Cgroup(_))
                });
                if !one_kind {
                    return Err("a rule that matches two different socket keys at once".into());
                }
                Some(a.iter().filter(|s| b.contains(s)).cloned().collect())
            }
        };
        Ok(Cond {
            from: self.from.intersect(&o.from),
            to: self.to.intersect(&o.to),
            svc,
            sel,
        })
    }

    /// Matches no packet at all.
    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
            || self.to.is_empty()
            || self.svc.as_ref().is_some_and(ServiceSet::is_empty)
            || self.sel.as_ref().is_some_and(Vec::is_empty)
            || (self.from.v4.is_empty() || self.to.v4.is_empty())
                && (self.from.v6.is_empty() || self.to.v6.is_empty())
    }
}

/// What reading a match found besides the constraint, and the constraints
/// of named sets already read (a set shared by thousands of rules is read
/// once: `(left side, set name)` → constraint).
#[derive(Debug, Default)]
pub struct Found {
    pub notes: Vec<String>,
    named: std::collections::HashMap<(String, String), Cond>,
}

/// The elements on a match's right side: a named set's, an anonymous
/// set's, or the one value.
fn elements<'a>(t: &'a Table, right: &'a Value) -> Result<Vec<&'a Value>, String> {
    if let Some(name) = right.as_str().and_then(|s| s.strip_prefix('@')) {
        let set = t
            .sets
            .get(name)
            .ok_or_else(|| format!("a set `{name}` the table does not have"))?;
        return Ok(set.elems.iter().map(unwrap_elem).collect());
    }
    if let Some(list) = right.get("set").and_then(Value::as_array) {
        return Ok(list.iter().map(unwrap_elem).collect());
    }
    // A list of flag values (`ct state established,related`).
    if let Some(list) = right.as_array() {
        return Ok(list.iter().collect());
    }
    Ok(vec![right])
}

/// `{"elem": {"val": X, ...}}` (an element with a counter or comment) is X.
pub fn unwrap_elem(v: &Value) -> &Value {
    v.pointer("/elem/val").unwrap_or(v)
}

fn v4(s: &str) -> Result<u32, String> {
    s.parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("`{s}` is not an IPv4 address"))
}

fn v6(s: &str) -> Result<u128, String> {
    s.parse::<Ipv6Addr>()
        .map(u128::from)
        .map_err(|_| format!("`{s}` is not an IPv6 address"))
}

fn addr_elem(e: &Value, six: bool) -> Result<AddrSet, String> {
    let one = |v: &Value| -> Result<(u128, u128), String> {
        let s = v.as_str().ok_or("an address that is not a string")?;
        Ok(if six {
            let a = v6(s)?;
            (a, a)
        } else {
            let a = u128::from(v4(s)?);
            (a, a)
        })
    };
    let (lo, hi) = if let Some(p) = e.get("prefix") {
        let addr = p.get("addr").ok_or("a prefix without an address")?;
        let len = p
            .get("len")
            .and_then(Value::as_u64)
            .and_then(|l| u8::try_from(l).ok())
            .ok_or("a prefix without a length")?;
        let (a, _) = one(addr)?;
        if six {
            prefix_bounds_v6(a, len)
        } else {
            let (l, h) = prefix_bounds_v4(u32::try_from(a).map_err(|_| "bad address")?, len);
            (u128::from(l), u128::from(h))
        }
    } else if let Some(r) = e.get("range").and_then(Value::as_array) {
        let (a, _) = one(r.first().ok_or("an empty range")?)?;
        let (b, _) = one(r.get(1).ok_or("a range without an end")?)?;
        (a, b)
    } else {
        one(e)?
    };
    Ok(if six {
        AddrSet {
            v4: IntervalSet::empty(),
            v6: IntervalSet::range(lo, hi),
        }
    } else {
        let (l, h) = (
            u32::try_from(lo).map_err(|_| "bad address")?,
            u32::try_from(hi).map_err(|_| "bad address")?,
        );
        AddrSet {
            v4: IntervalSet::range(l, h),
            v6: IntervalSet::empty(),
        }
    })
}

fn ports(e: &Value) -> Result<IntervalSet<u16>, String> {
    let n = |v: &Value| -> Result<u16, String> {
        v.as_u64()
            .and_then(|x| u16::try_from(x).ok())
            .ok_or_else(|| format!("`{v}` is not a port"))
    };
    if let Some(r) = e.get("range").and_then(Value::as_array) {
        Ok(IntervalSet::range(
            n(r.first().ok_or("an empty range")?)?,
            n(r.get(1).ok_or("a range without an end")?)?,
        ))
    } else {
        Ok(IntervalSet::single(n(e)?))
    }
}

/// A protocol name as nft prints it: its own names, else /etc/protocols'
/// (where nft takes `ipv6-icmp` for 58 from).
fn proto_named(s: &str) -> Option<u8> {
    if let Some(p) = proto_by_name(s) {
        return Some(p);
    }
    if s == "ipv6-icmp" {
        return Some(58);
    }
    let db = std::fs::read_to_string("/etc/protocols").ok()?;
    db.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let num = w.next()?.parse::<u8>().ok()?;
            (name == s || w.any(|a| a == s)).then_some(num)
        })
}

fn proto(e: &Value) -> Result<u8, String> {
    match e {
        Value::String(s) => proto_named(s).ok_or_else(|| format!("protocol `{s}`")),
        Value::Number(n) => n
            .as_u64()
            .and_then(|x| u8::try_from(x).ok())
            .ok_or_else(|| format!("protocol {n}")),
        _ => Err(format!("protocol `{e}`")),
    }
}

fn number(e: &Value, what: &str) -> Result<u32, String> {
    e.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .ok_or_else(|| format!("{what} `{e}`"))
}

/// The prefix length of a contiguous netmask (`255.255.255.0`,
/// `ffff:ffff::`), or `None`.
fn mask_len(mask: &str, six: bool) -> Option<u8> {
    let (m, bits) = if six {
        (mask.parse::<Ipv6Addr>().ok().map(u128::from)?, 128)
    } else {
        (u128::from(u32::from(mask.parse::<Ipv4Addr>().ok()?)), 32)
    };
    let len = if six {
        m.leading_ones()
    } else {
        (m << 96).leading_ones()
    };
    // Contiguous: the mask is exactly its leading ones.
    let rebuilt = if len == 0 {
        0
    } else {
        (u128::MAX << (128 - len)) >> (128 - bits)
    };
    (rebuilt == m).then(|| u8::try_from(len).ok()).flatten()
}

/// `ip daddr & MASK` keyed by addresses (polc's hash maps of cells,
/// `pol_backends` `nft/hashed.rs`): the packets whose address, masked, is
/// an element — the element's prefix of the mask's length. An element
/// with bits outside the mask is no masked address: it matches nothing.
fn masked_cond(
    t: &Table,
    pair: &[Value],
    right: &Value,
    level: &mut impl Iterator<Item = usize>,
    found: &mut Found,
) -> Result<Cond, String> {
    let [field, mask] = pair else {
        return Err(format!("the bitwise and `{pair:?}`"));
    };
    let proto = field.pointer("/payload/protocol").and_then(Value::as_str);
    let name = field.pointer("/payload/field").and_then(Value::as_str);
    let six = match (proto, name) {
        (Some("ip"), Some("saddr" | "daddr")) => false,
        (Some("ip6"), Some("saddr" | "daddr")) => true,
        _ => return Err(format!("the bitwise and of `{field}`")),
    };
    let len = mask
        .as_str()
        .and_then(|m| mask_len(m, six))
        .ok_or_else(|| format!("the mask `{mask}` (not a prefix mask)"))?;
    let mut prefixes = Vec::new();
    for e in elements(t, right)? {
        let s = e.as_str().ok_or_else(|| format!("masked address `{e}`"))?;
        let is_net = if six {
            let a = v6(s)?;
            prefix_bounds_v6(a, len).0 == a
        } else {
            let a = v4(s)?;
            prefix_bounds_v4(a, len).0 == a
        };
        if is_net {
            prefixes.push(serde_json::json!({"prefix": {"addr": s, "len": len}}));
        }
    }
    let set = serde_json::json!({ "set": prefixes });
    key_cond_uncached(t, field, &set, level, found)
}

/// One match expression (the value of `"match"`) into a constraint.
/// `level` is the next `socket cgroupv2` level of the rule.
pub fn match_cond(
    t: &Table,
    m: &Value,
    level: &mut impl Iterator<Item = usize>,
    found: &mut Found,
) -> Result<Cond, String> {
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    if op != "==" && op != "in" {
        return Err(format!("the operator `{op}`"));
    }
    let left = m.get("left").ok_or("a match without a left side")?;
    let right = m.get("right").ok_or("a match without a right side")?;
    key_cond(t, left, right, level, found)
}

/// The packets whose `left` is one of `right`'s elements.
pub fn key_cond(
    t: &Table,
    left: &Value,
    right: &Value,
    level: &mut impl Iterator<Item = usize>,
    found: &mut Found,
) -> Result<Cond, String> {
    // A named set's constraint depends on the left side and the set only
    // (and the level, part of the left side's key below).
    let Some(name) = right.as_str().filter(|s| s.starts_with('@')) else {
        return key_cond_uncached(t, left, right, level, found);
    };
    let mut lv: Vec<usize> = Vec::new();
    let is_cgroup = left.pointer("/socket/key").is_some();
    if is_cgroup {
        lv.extend(level.next());
    }
    let key = (format!("{left}{lv:?}"), name.to_string());
    if let Some(c) = found.named.get(&key) {
        return Ok(c.clone());
    }
    let c = key_cond_uncached(t, left, right, &mut lv.into_iter(), found)?;
    found.named.insert(key, c.clone());
    Ok(c)
}

fn key_cond_uncached(
    t: &Table,
    left: &Value,
    right: &Value,
    level: &mut impl Iterator<Item = usize>,
    found: &mut Found,
) -> Result<Cond, String> {
    if let Some(pair) = left.get("&").and_then(Value::as_array) {
        return masked_cond(t, pair, right, level, found);
    }
    let els = elements(t, right)?;
    let mut c = Cond::any();
    if let Some(p) = left.get("payload") {
        let proto_name = p.get("protocol").and_then(Value::as_str).unwrap_or("");
        let field = p.get("field").and_then(Value::as_str).unwrap_or("");
        match (proto_name, field) {
            ("ip" | "ip6", "saddr" | "daddr") => {
                let six = proto_name == "ip6";
                // One normalisation for the whole list (a blocklist set
                // has tens of thousands of elements; folding `union` is
                // quadratic).
                let parts = els
                    .into_iter()
                    .map(|e| addr_elem(e, six))
                    .collect::<Result<Vec<_>, _>>()?;
                let set = AddrSet::union_all(&parts);
                if field == "saddr" {
                    c.from = set;
                } else {
                    c.to = set;
                }
            }
            (_, "dport") => {
                let mut ranges = Vec::with_capacity(els.len());
                for e in els {
                    ranges.extend_from_slice(ports(e)?.ranges());
                }
                let ps = IntervalSet::from_ranges(ranges);
                let protos: Vec<u8> = if proto_name == "th" {
                    PORTED.to_vec()
                } else {
                    let p = proto_named(proto_name)
                        .filter(|p| has_ports(*p))
                        .ok_or_else(|| format!("`{proto_name} dport`"))?;
                    vec![p]
                };
                let mut s = ServiceSet::empty();
                for p in protos {
                    s = s.union(&ServiceSet::ports(p, ps.clone()));
                }
                c.svc = Some(s);
            }
            ("icmpv6", "type") => {
                // The IPv6 control messages every policy accepts are not
                // in the packet model (pol_lang::ipv6_control): a match on
                // them matches no packet of it. Other types are.
                for e in els {
                    let name = match e {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    };
                    if !pol_lang::ipv6_control::is_control(&name) {
                        return Err(format!("`icmpv6 type {e}` (the packet model has no ICMPv6 type besides the control messages every policy accepts)"));
                    }
                }
                c.to = AddrSet::empty();
            }
            _ => return Err(format!("the payload field `{proto_name} {field}`")),
        }
        return Ok(c);
    }
    if let Some(key) = left.pointer("/meta/key").and_then(Value::as_str) {
        match key {
            "nfproto" => {
                let (mut four, mut six) = (false, false);
                for e in els {
                    match e.as_str() {
                        Some("ipv4") => four = true,
                        Some("ipv6") => six = true,
                        _ => return Err(format!("meta nfproto `{e}`")),
                    }
                }
                c.from = AddrSet {
                    v4: if four { IntervalSet::full() } else { IntervalSet::empty() },
                    v6: if six { IntervalSet::full() } else { IntervalSet::empty() },
                };
            }
            "l4proto" => {
                let mut s = ServiceSet::empty();
                for e in els {
                    s = s.union(&ServiceSet::proto(proto(e)?));
                }
                c.svc = Some(s);
            }
            "cgroup" => {
                let mut v = Vec::new();
                for e in els {
                    v.push(Selector::Classid(ClassId(number(e, "class id")?)));
                }
                c.sel = Some(v);
            }
            "skuid" | "skgid" => {
                let mut v = Vec::new();
                for e in els {
                    let n = number(e, key)?;
                    v.push(if key == "skuid" {
                        Selector::Uid(n)
                    } else {
                        Selector::Gid(n)
                    });
                }
                c.sel = Some(v);
            }
            "oifname" => found.notes.push(format!(
                "`oifname {}` is outside the packet model (the verifier models `via` by the tunnel's routes)",
                els.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
            )),
            _ => return Err(format!("`meta {key}`")),
        }
        return Ok(c);
    }
    if left.pointer("/ct/key").and_then(Value::as_str) == Some("state") {
        // The packet model is a flow's first packet: `ct state new`.
        let mut new = false;
        for e in els {
            match e.as_str() {
                Some("new") => new = true,
                Some("established" | "related" | "invalid" | "untracked") => {}
                _ => return Err(format!("ct state `{e}`")),
            }
        }
        if !new {
            c.to = AddrSet::empty();
        }
        return Ok(c);
    }
    if left.pointer("/socket/key").and_then(Value::as_str) == Some("cgroupv2") {
        let level = level.next().ok_or("a cgroup match without a level")?;
        let mut v = Vec::new();
        for e in els {
            match e {
                Value::String(s) => {
                    let p = CgroupPath::parse(s).map_err(|_| format!("cgroup `{s}`"))?;
                    // The ancestor at `level` is compared: a path of
                    // another level never matches.
                    if p.level() == level {
                        v.push(Selector::Cgroup(p));
                    }
                }
                // The id of a cgroup that is gone (`listing` turns ids with
                // no path into numbers): it matches nothing, as cgroup ids
                // are never reused. `polc status` lists them (status/table.rs).
                Value::Number(_) => {}
                _ => return Err(format!("cgroup element `{e}`")),
            }
        }
        c.sel = Some(v);
        return Ok(c);
    }
    if let Some(parts) = left.get("concat").and_then(Value::as_array) {
        let is_l4 = parts
            .first()
            .and_then(|p| p.pointer("/meta/key"))
            .and_then(Value::as_str)
            == Some("l4proto");
        let is_dport = parts
            .get(1)
            .and_then(|p| p.pointer("/payload/field"))
            .and_then(Value::as_str)
            == Some("dport")
            && parts
                .get(1)
                .and_then(|p| p.pointer("/payload/protocol"))
                .and_then(Value::as_str)
                == Some("th");
        if parts.len() == 2 && is_l4 && is_dport {
            let mut each = Vec::with_capacity(els.len());
            for e in els {
                let pair = e
                    .get("concat")
                    .and_then(Value::as_array)
                    .filter(|p| p.len() == 2)
                    .ok_or_else(|| format!("element `{e}` of `meta l4proto . th dport`"))?;
                each.push(ServiceSet::ports(proto(&pair[0])?, ports(&pair[1])?));
            }
            c.svc = Some(ServiceSet::union_all(&each));
            return Ok(c);
        }
        // One element of a concatenated map (polc's cells: `ip saddr .
        // meta l4proto . th dport`): the conjunction of its fields.
        if let [e] = els.as_slice() {
            let vals = e
                .get("concat")
                .and_then(Value::as_array)
                .filter(|v| v.len() == parts.len())
                .ok_or_else(|| format!("element `{e}` of the concatenation `{left}`"))?;
            for (part, val) in parts.iter().zip(vals) {
                let one = key_cond_uncached(t, part, val, level, found)?;
                c = c.and(&one)?;
            }
            return Ok(c);
        }
        return Err(format!("the concatenation `{left}`"));
    }
    Err(format!("the match on `{left}`"))
}

#[cfg(test)]
mod tests {
    use super::mask_len;

    #[test]
    fn masks_are_prefix_lengths_or_refused() {
        assert_eq!(mask_len("255.255.255.0", false), Some(24));
        assert_eq!(mask_len("255.255.255.240", false), Some(28));
        assert_eq!(mask_len("255.255.255.255", false), Some(32));
        assert_eq!(mask_len("0.0.0.0", false), Some(0));
        assert_eq!(mask_len("ffff:ffff:ffff::", true), Some(48));
        assert_eq!(mask_len("ffff:ffff:ffff:ffff::", true), Some(64));
        // Not contiguous, or of the other family.
        assert_eq!(mask_len("255.0.255.0", false), None);
        assert_eq!(mask_len("ffff::ffff", true), None);
        assert_eq!(mask_len("ffff::", false), None);
    }
}
