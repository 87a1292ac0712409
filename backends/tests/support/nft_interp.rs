//! An interpreter of the nft subset polc writes (`ruleset.nft`), in
//! process: the table's sets, maps and chains are parsed from the text and
//! a packet (`pol_lang::ir::Packet`, the first of a flow) is run through a
//! base chain as the kernel would — first match, `jump`/`goto`/`return`,
//! verdict maps, interval and concatenated keys (addresses masked with
//! `&`), the chain's policy.
//!
//! Written from nft's documented semantics, not from the renderer: it
//! refuses (panics with the line) any statement it does not know, so a
//! construct the renderer starts to emit cannot slip past it.

use pol_lang::ast::Verdict;
use pol_lang::ir::{Addr, Packet};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A value of one key field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    Num(u128),
    /// A cgroup path (compared by ancestor at a level), by index.
    Path(usize),
}

/// One element: a key (one interval per field) and, in a map, its data.
#[derive(Debug, Clone)]
struct Elem {
    key: Vec<(Val, Val)>,
    data: Option<Vec<String>>,
}

#[derive(Debug, Default)]
struct Set {
    elems: Vec<Elem>,
}

#[derive(Debug, Default)]
struct Chain {
    policy: Option<Verdict>,
    rules: Vec<Vec<String>>,
}

/// A parsed table.
#[derive(Debug, Default)]
pub struct Table {
    sets: HashMap<String, Set>,
    chains: HashMap<String, Chain>,
    paths: Vec<String>,
}

/// Split a line into tokens: quoted strings whole, `{`, `}`, `,`, `:`, `.`
/// (only when free-standing) apart.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::from('"');
                while let Some(d) = chars.next() {
                    s.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            s.push(e);
                        }
                    } else if d == '"' {
                        break;
                    }
                }
                out.push(s);
            }
            ' ' | '\t' | ';' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            '{' | '}' | ',' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches('"').to_string()
}

impl Table {
    fn path_id(&mut self, p: &str) -> usize {
        match self.paths.iter().position(|x| x == p) {
            Some(i) => i,
            None => {
                self.paths.push(p.to_string());
                self.paths.len() - 1
            }
        }
    }

    /// One field of an element: an address, prefix, range, number, port,
    /// protocol name, class id or cgroup path.
    fn field(&mut self, s: &str) -> (Val, Val) {
        if s.starts_with('"') {
            let id = self.path_id(&unquote(s));
            return (Val::Path(id), Val::Path(id));
        }
        if let Some((a, len)) = s.split_once('/') {
            let len: u32 = len.parse().unwrap_or_else(|_| panic!("prefix `{s}`"));
            let (v, bits) = addr(a);
            let host = if bits - len >= 128 {
                u128::MAX
            } else {
                (1u128 << (bits - len)) - 1
            };
            return (Val::Num(v & !host), Val::Num(v | host));
        }
        if s.starts_with(|c: char| c.is_ascii_alphabetic()) && !s.contains(':') {
            // A name (`tcp`, `ipv4`, `nd-neighbor-solicit`): never a range.
            let v = num(s);
            return (Val::Num(v), Val::Num(v));
        }
        if let Some((a, b)) = s.split_once('-') {
            if a.contains(':') || a.contains('.') {
                return (Val::Num(addr(a).0), Val::Num(addr(b).0));
            }
            return (Val::Num(num(a)), Val::Num(num(b)));
        }
        if s.contains(':') || (s.contains('.') && s.parse::<Ipv4Addr>().is_ok()) {
            let v = addr(s).0;
            return (Val::Num(v), Val::Num(v));
        }
        let v = num(s);
        (Val::Num(v), Val::Num(v))
    }

    /// Parse `ruleset.nft` as polc writes it.
    pub fn parse(text: &str) -> Table {
        let mut t = Table::default();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        // (kind, name)
        let mut block: Option<(String, String)> = None;
        while i < lines.len() {
            let line = lines[i].trim();
            i += 1;
            if line.is_empty()
                || line.starts_with('#')
                || line.starts_with("table ") && !line.ends_with('{')
                || line.starts_with("delete table")
            {
                continue;
            }
            if line.starts_with("table ") {
                continue;
            }
            let tk = tokens(line);
            match tk.first().map(String::as_str) {
                Some("set" | "map") if tk.last().map(String::as_str) == Some("{") => {
                    t.sets.insert(tk[1].clone(), Set::default());
                    block = Some(("set".into(), tk[1].clone()));
                }
                Some("chain") => {
                    t.chains.insert(tk[1].clone(), Chain::default());
                    block = Some(("chain".into(), tk[1].clone()));
                }
                Some("}") => block = None,
                _ => {
                    let (kind, name) = block
                        .clone()
                        .unwrap_or_else(|| panic!("line outside a block: {line}"));
                    if kind == "set" {
                        match tk[0].as_str() {
                            "type" | "typeof" | "flags" | "comment" => {}
                            "elements" => {
                                // Gather the whole `{ … }`.
                                let mut all: Vec<String> = tk[2..].to_vec();
                                let mut depth: i32 = all
                                    .iter()
                                    .map(|x| match x.as_str() {
                                        "{" => 1,
                                        "}" => -1,
                                        _ => 0,
                                    })
                                    .sum();
                                while depth > 0 {
                                    let more = tokens(lines[i].trim());
                                    i += 1;
                                    depth += more
                                        .iter()
                                        .map(|x| match x.as_str() {
                                            "{" => 1,
                                            "}" => -1,
                                            _ => 0,
                                        })
                                        .sum::<i32>();
                                    all.extend(more);
                                }
                                let inner = &all[1..all.len() - 1];
                                for el in inner.split(|x| x == ",") {
                                    let e = t.element(el);
                                    t.sets
                                        .get_mut(&name)
                                        .unwrap_or_else(|| panic!("set {name}"))
                                        .elems
                                        .push(e);
                                }
                            }
                            other => panic!("set {name}: unknown line `{other}`: {line}"),
                        }
                    } else {
                        let c = t
                            .chains
                            .get_mut(&name)
                            .unwrap_or_else(|| panic!("chain {name}"));
                        if tk[0] == "type" {
                            let p = tk
                                .iter()
                                .position(|x| x == "policy")
                                .unwrap_or_else(|| panic!("{line}"));
                            c.policy = Some(match tk[p + 1].as_str() {
                                "accept" => Verdict::Allow,
                                "drop" => Verdict::Drop,
                                o => panic!("policy {o}"),
                            });
                        } else {
                            c.rules.push(tk);
                        }
                    }
                }
            }
        }
        t
    }

    /// `a . b . c [comment "…"] [: data…]`
    fn element(&mut self, toks: &[String]) -> Elem {
        let (key_toks, data) = match toks.iter().position(|x| x == ":") {
            Some(p) => (&toks[..p], Some(toks[p + 1..].to_vec())),
            None => (toks, None),
        };
        let mut key = Vec::new();
        let mut k = 0;
        while k < key_toks.len() {
            match key_toks[k].as_str() {
                "." => {}
                "comment" => k += 1,
                s => key.push(self.field(s)),
            }
            k += 1;
        }
        Elem { key, data }
    }
}

fn addr(s: &str) -> (u128, u32) {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        (u128::from(u32::from(a)), 32)
    } else {
        (
            u128::from(
                s.parse::<Ipv6Addr>()
                    .unwrap_or_else(|_| panic!("address `{s}`")),
            ),
            128,
        )
    }
}

fn num(s: &str) -> u128 {
    match s {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => 1,
        "icmpv6" => 58,
        "sctp" => 132,
        "dccp" => 33,
        "udplite" => 136,
        "ipv4" => 2,
        "ipv6" => 10,
        _ => {
            if let Some(t) = pol_lang::ipv6_control::IPV6_CONTROL
                .iter()
                .find(|t| t.nft_name == s)
            {
                return u128::from(t.number);
            }
            if let Some(h) = s.strip_prefix("0x") {
                u128::from_str_radix(h, 16).unwrap_or_else(|_| panic!("number `{s}`"))
            } else {
                s.parse().unwrap_or_else(|_| panic!("number `{s}`"))
            }
        }
    }
}

/// How a chain ended for a packet.
enum Flow {
    Verdict(Verdict),
    /// Fell off the end or returned.
    Continue,
}

impl Table {
    /// The packet's value of a key expression (`None`: the expression does
    /// not apply to it, and the match fails).
    fn key(&self, toks: &[String], k: &mut usize, p: &Packet) -> Option<Val> {
        let v4 = matches!(p.daddr, Addr::V4(_));
        let a = |x: Addr| match x {
            Addr::V4(v) => u128::from(v),
            Addr::V6(v) => v,
        };
        let w = toks[*k].as_str();
        *k += 1;
        let ported = matches!(p.proto, 6 | 17 | 132 | 33 | 136);
        match w {
            "ip" | "ip6" => {
                let f = toks[*k].as_str();
                *k += 1;
                // `ip daddr & MASK`: the address masked (a hash map of
                // prefixes' first addresses).
                let mask = if toks.get(*k).map(String::as_str) == Some("&") {
                    let m = addr(&toks[*k + 1]).0;
                    *k += 2;
                    m
                } else {
                    u128::MAX
                };
                if (w == "ip") != v4 {
                    return None;
                }
                Some(Val::Num(
                    mask & match f {
                        "saddr" => a(p.saddr),
                        "daddr" => a(p.daddr),
                        o => panic!("ip field {o}"),
                    },
                ))
            }
            "tcp" | "udp" => {
                assert_eq!(toks[*k], "dport");
                *k += 1;
                let want = if w == "tcp" { 6 } else { 17 };
                (p.proto == want).then_some(Val::Num(u128::from(p.dport)))
            }
            "th" => {
                assert_eq!(toks[*k], "dport");
                *k += 1;
                // Only protocols with ports are ever keyed on `th dport` by polc.
                ported.then_some(Val::Num(u128::from(p.dport)))
            }
            "meta" => {
                let f = toks[*k].as_str();
                *k += 1;
                let s = p.socket.as_ref();
                match f {
                    "nfproto" => Some(Val::Num(if v4 { 2 } else { 10 })),
                    "l4proto" => Some(Val::Num(u128::from(p.proto))),
                    "cgroup" => s.map(|s| Val::Num(u128::from(s.classid))),
                    "skuid" => s.map(|s| Val::Num(u128::from(s.uid))),
                    "skgid" => s.map(|s| Val::Num(u128::from(s.gid))),
                    o => panic!("meta {o}"),
                }
            }
            "socket" => {
                assert_eq!(toks[*k], "cgroupv2");
                assert_eq!(toks[*k + 1], "level");
                let level: usize = toks[*k + 2].parse().unwrap_or(0);
                *k += 3;
                let s = p.socket.as_ref()?;
                let path = s.cgroup.as_ref()?;
                let parts: Vec<&str> = path.as_str().split('/').collect();
                if parts.len() < level {
                    return None;
                }
                let anc = parts[..level].join("/");
                // Paths the table never names match no element.
                Some(match self.paths.iter().position(|x| *x == anc) {
                    Some(i) => Val::Path(i),
                    None => Val::Path(usize::MAX),
                })
            }
            "icmpv6" => {
                assert_eq!(toks[*k], "type");
                *k += 1;
                // The packet model's ICMPv6 packets are echo requests.
                (p.proto == 58).then_some(Val::Num(128))
            }
            "oifname" => panic!("oifname needs the route"),
            o => panic!("key `{o}`"),
        }
    }

    /// A key, possibly concatenated (`a . b . c`).
    fn keys(&self, toks: &[String], k: &mut usize, p: &Packet) -> Option<Vec<Val>> {
        let mut out = Vec::new();
        let mut ok = true;
        loop {
            match self.key(toks, k, p) {
                Some(v) => out.push(v),
                None => ok = false,
            }
            if toks.get(*k).map(String::as_str) == Some(".") {
                *k += 1;
            } else {
                break;
            }
        }
        ok.then_some(out)
    }

    /// The right-hand side at `k`: a literal, `{ … }` or `@set`; the elements.
    fn rhs(&mut self, toks: &[String], k: &mut usize) -> Vec<Elem> {
        let w = toks[*k].clone();
        *k += 1;
        if let Some(name) = w.strip_prefix('@') {
            return self
                .sets
                .get(name)
                .unwrap_or_else(|| panic!("set {name}"))
                .elems
                .clone();
        }
        if w == "{" {
            let end = toks[*k..]
                .iter()
                .position(|x| x == "}")
                .unwrap_or_else(|| panic!("no }}"))
                + *k;
            let inner = toks[*k..end].to_vec();
            *k = end + 1;
            return inner.split(|x| x == ",").map(|e| self.element(e)).collect();
        }
        // A single literal, possibly `a . b`.
        let mut parts = vec![w];
        while toks.get(*k).map(String::as_str) == Some(".") {
            parts.push(".".into());
            parts.push(toks[*k + 1].clone());
            *k += 2;
        }
        vec![self.element(&parts)]
    }

    fn hit<'a>(elems: &'a [Elem], key: &[Val]) -> Option<&'a Elem> {
        elems.iter().find(|e| {
            e.key.len() == key.len()
                && e.key
                    .iter()
                    .zip(key)
                    .all(|(&(lo, hi), v)| lo <= *v && *v <= hi)
        })
    }

    /// Run `chain` for `p`.
    fn run(&mut self, chain: &str, p: &Packet, depth: usize) -> Flow {
        assert!(depth < 16, "jumps too deep");
        let rules = self
            .chains
            .get(chain)
            .unwrap_or_else(|| panic!("chain {chain}"))
            .rules
            .clone();
        'rules: for r in &rules {
            let mut k = 0;
            while k < r.len() {
                let w = r[k].as_str();
                match w {
                    "counter" | "log" => {
                        k += 1;
                        if w == "log" && r.get(k).map(String::as_str) == Some("prefix") {
                            k += 2;
                        }
                    }
                    "comment" => k += 2,
                    "accept" => return Flow::Verdict(Verdict::Allow),
                    "drop" => return Flow::Verdict(Verdict::Drop),
                    "reject" => return Flow::Verdict(Verdict::Reject),
                    "return" => return Flow::Continue,
                    "jump" | "goto" => {
                        let target = r[k + 1].clone();
                        match self.run(&target, p, depth + 1) {
                            Flow::Verdict(v) => return Flow::Verdict(v),
                            Flow::Continue if w == "goto" => return Flow::Continue,
                            Flow::Continue => continue 'rules,
                        }
                    }
                    "ct" => {
                        // First packet: `ct state new`.
                        assert_eq!(r[k + 1], "state");
                        let states = r[k + 2].split(',').any(|s| s == "new");
                        if !states {
                            continue 'rules;
                        }
                        k += 3;
                    }
                    _ => {
                        let key = self.keys(r, &mut k, p);
                        if r.get(k).map(String::as_str) == Some("vmap") {
                            k += 1;
                            let elems = self.rhs(r, &mut k);
                            let Some(key) = key else { continue 'rules };
                            let Some(e) = Self::hit(&elems, &key) else {
                                continue 'rules;
                            };
                            let data = e.data.clone().unwrap_or_default();
                            match data[0].as_str() {
                                "accept" => return Flow::Verdict(Verdict::Allow),
                                "drop" => return Flow::Verdict(Verdict::Drop),
                                "jump" | "goto" => match self.run(&data[1], p, depth + 1) {
                                    Flow::Verdict(v) => return Flow::Verdict(v),
                                    Flow::Continue if data[0] == "goto" => return Flow::Continue,
                                    Flow::Continue => continue 'rules,
                                },
                                o => panic!("map verdict {o}"),
                            }
                        }
                        // A match: `KEY RHS`; a bare `meta l4proto tcp` style.
                        let elems = self.rhs(r, &mut k);
                        let Some(key) = key else { continue 'rules };
                        if Self::hit(&elems, &key).is_none() {
                            continue 'rules;
                        }
                    }
                }
            }
        }
        Flow::Continue
    }

    /// The verdict of base chain `chain` for `p`.
    pub fn evaluate(&mut self, chain: &str, p: &Packet) -> Verdict {
        let policy = self
            .chains
            .get(chain)
            .and_then(|c| c.policy)
            .unwrap_or_else(|| panic!("base chain {chain}"));
        match self.run(chain, p, 0) {
            Flow::Verdict(v) => v,
            Flow::Continue => policy,
        }
    }
}
