//! Named sets and verdict maps of the ruleset.
//!
//! KERNEL-FACTS: load time grows roughly quadratically with the number of
//! sets in one transaction, so every distinct element list becomes exactly
//! one named set, shared by every rule that uses it (deduplicated by kind
//! and content). Names are `KIND_N`, numbered in order of first use, so the
//! output is deterministic. The naive rendering (for the benchmark) writes
//! each list inline as an anonymous set instead.

use pol_lang::safe_text::nft::NftString;
use std::collections::HashMap;

/// What a set holds; decides its type line and name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetKind {
    Addr4,
    Addr6,
    /// `meta l4proto . th dport` with port ranges.
    Service,
    /// Protocol numbers without ports.
    Proto,
    /// cgroup v2 paths at one level.
    Cgroup(usize),
    Classid,
    Uid,
    Gid,
}

impl SetKind {
    fn prefix(self) -> &'static str {
        match self {
            SetKind::Addr4 => "addr4",
            SetKind::Addr6 => "addr6",
            SetKind::Service => "svc",
            SetKind::Proto => "proto",
            SetKind::Cgroup(_) => "cgroup",
            SetKind::Classid => "classid",
            SetKind::Uid => "uid",
            SetKind::Gid => "gid",
        }
    }

    /// The declaration lines (type and flags).
    fn type_lines(self) -> Vec<String> {
        match self {
            SetKind::Addr4 => vec!["type ipv4_addr".into(), "flags interval".into()],
            SetKind::Addr6 => vec!["type ipv6_addr".into(), "flags interval".into()],
            SetKind::Service => vec![
                "typeof meta l4proto . th dport".into(),
                "flags interval".into(),
            ],
            SetKind::Proto => vec!["typeof meta l4proto".into()],
            SetKind::Cgroup(level) => vec![format!("typeof socket cgroupv2 level {level}")],
            SetKind::Classid => vec!["typeof meta cgroup".into()],
            SetKind::Uid => vec!["typeof meta skuid".into()],
            SetKind::Gid => vec!["typeof meta skgid".into()],
        }
    }
}

struct SetDecl {
    name: String,
    kind: SetKind,
    elements: Vec<String>,
    first_use: String,
}

/// A verdict map: key expression type, and `key : verdict` elements.
struct MapDecl {
    name: String,
    key_type: String,
    elements: Vec<(String, String)>,
    comment: String,
}

/// All sets and maps of one table.
pub struct Sets {
    inline: bool,
    index: HashMap<(SetKind, Vec<String>), usize>,
    decls: Vec<SetDecl>,
    counts: HashMap<&'static str, usize>,
    maps: Vec<MapDecl>,
}

impl Sets {
    pub fn new(inline: bool) -> Sets {
        Sets {
            inline,
            index: HashMap::new(),
            decls: Vec::new(),
            counts: HashMap::new(),
            maps: Vec::new(),
        }
    }

    /// A reference to a set of `elements` (two or more): `@name`, or an
    /// inline `{ … }` in naive mode. `site` is the first user's FILE:LINE.
    pub fn reference(&mut self, kind: SetKind, elements: Vec<String>, site: &str) -> String {
        if self.inline {
            return format!("{{ {} }}", elements.join(", "));
        }
        let key = (kind, elements);
        if let Some(&i) = self.index.get(&key) {
            return format!("@{}", self.decls[i].name);
        }
        let n = self.counts.entry(kind.prefix()).or_insert(0);
        let name = format!("{}_{}", kind.prefix(), n);
        *n += 1;
        let (kind, elements) = key.clone();
        self.index.insert(key, self.decls.len());
        self.decls.push(SetDecl {
            name: name.clone(),
            kind,
            elements,
            first_use: site.to_string(),
        });
        format!("@{name}")
    }

    /// Declare a verdict map; returns its name.
    pub fn map(
        &mut self,
        key_type: String,
        elements: Vec<(String, String)>,
        comment: &str,
    ) -> String {
        let name = format!("dispatch_{}", self.maps.len());
        self.maps.push(MapDecl {
            name: name.clone(),
            key_type,
            elements,
            comment: comment.to_string(),
        });
        name
    }

    /// The declarations, in order of first use, tab-indented for a table body.
    pub fn render(&self, out: &mut String) {
        for d in &self.decls {
            out.push_str(&format!("\tset {} {{\n", d.name));
            for l in d.kind.type_lines() {
                out.push_str(&format!("\t\t{l}\n"));
            }
            out.push_str(&format!(
                "\t\tcomment {}\n",
                NftString::text(&format!("first used at {}", d.first_use))
            ));
            render_elements(out, d.elements.iter().map(String::as_str));
            out.push_str("\t}\n\n");
        }
        for m in &self.maps {
            out.push_str(&format!(
                "\tmap {} {{\n\t\ttypeof {} : verdict\n",
                m.name, m.key_type
            ));
            out.push_str(&format!("\t\tcomment {}\n", NftString::text(&m.comment)));
            let els: Vec<String> = m
                .elements
                .iter()
                .map(|(k, v)| format!("{k} : {v}"))
                .collect();
            render_elements(out, els.iter().map(String::as_str));
            out.push_str("\t}\n\n");
        }
    }
}

/// `elements = { a, b, … }`, one element per line when there are several.
fn render_elements<'a>(out: &mut String, els: impl Iterator<Item = &'a str>) {
    let els: Vec<&str> = els.collect();
    if els.len() <= 4 && els.iter().map(|e| e.len()).sum::<usize>() < 60 {
        out.push_str(&format!("\t\telements = {{ {} }}\n", els.join(", ")));
        return;
    }
    out.push_str("\t\telements = {\n");
    for (i, e) in els.iter().enumerate() {
        let sep = if i + 1 < els.len() { "," } else { "" };
        out.push_str(&format!("\t\t\t{e}{sep}\n"));
    }
    out.push_str("\t\t}\n");
}
