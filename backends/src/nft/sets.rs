//! Named sets and verdict maps of the ruleset.
//!
//! KERNEL-FACTS: load time grows roughly quadratically with the number of
//! sets in one transaction, so every distinct element list becomes exactly
//! one named set, shared by every rule that uses it (deduplicated by kind
//! and content). Names are `KIND_N`, numbered in order of first use, so the
//! output is deterministic. The naive rendering (for the benchmark) writes
//! each list inline as an anonymous set instead.

use pol_lang::ir::CgroupPath;
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
    /// `flags interval`: keys are prefixes and ranges.
    interval: bool,
}

/// One element keyed by a cgroup path, in a set (`verdict: None`) or a
/// verdict map: what a refresh re-adds after the cgroup is re-created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupElement {
    pub path: CgroupPath,
    /// The set or map holding it.
    pub container: String,
    pub verdict: Option<String>,
}

/// All sets and maps of one table.
pub struct Sets {
    inline: bool,
    index: HashMap<(SetKind, Vec<String>), usize>,
    decls: Vec<SetDecl>,
    counts: HashMap<&'static str, usize>,
    maps: Vec<MapDecl>,
    /// Every cgroup-keyed element of every set and map (in declaration
    /// order), including those left out of the file (`deferred`).
    cgroup_elements: Vec<CgroupElement>,
}

impl Sets {
    pub fn new(inline: bool) -> Sets {
        Sets {
            inline,
            index: HashMap::new(),
            decls: Vec::new(),
            counts: HashMap::new(),
            maps: Vec::new(),
            cgroup_elements: Vec::new(),
        }
    }

    /// The set of a group's cgroup paths at one level, named `name` and
    /// declared once: `@name`. Paths in `deferred` (created by systemd, so
    /// possibly absent when the ruleset loads) are left out of the file and
    /// added by a refresh; the others are written as elements, resolved to
    /// cgroup ids when the ruleset loads. In naive mode: the inline literal
    /// or anonymous set of old.
    pub fn cgroup_set(
        &mut self,
        name: &str,
        level: usize,
        paths: &[CgroupPath],
        deferred: &dyn Fn(&CgroupPath) -> bool,
        site: &str,
    ) -> String {
        let literal = |p: &CgroupPath| format!("\"{}\"", p.as_str());
        if self.inline {
            return match paths {
                [one] => literal(one),
                _ => format!(
                    "{{ {} }}",
                    paths.iter().map(literal).collect::<Vec<_>>().join(", ")
                ),
            };
        }
        if !self.decls.iter().any(|d| d.name == name) {
            self.decls.push(SetDecl {
                name: name.to_string(),
                kind: SetKind::Cgroup(level),
                elements: paths.iter().filter(|p| !deferred(p)).map(literal).collect(),
                first_use: site.to_string(),
            });
            for p in paths {
                self.cgroup_elements.push(CgroupElement {
                    path: p.clone(),
                    container: name.to_string(),
                    verdict: None,
                });
            }
        }
        format!("@{name}")
    }

    /// Record that map `map` holds `path : verdict` (for the refresh).
    pub fn note_map_element(&mut self, map: &str, path: &CgroupPath, verdict: &str) {
        self.cgroup_elements.push(CgroupElement {
            path: path.clone(),
            container: map.to_string(),
            verdict: Some(verdict.to_string()),
        });
    }

    /// Every cgroup-keyed element of the table.
    pub fn cgroup_elements(&self) -> &[CgroupElement] {
        &self.cgroup_elements
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
            interval: false,
        });
        name
    }

    /// Declare an interval verdict map keyed by `key_type` (an nft
    /// expression, possibly a concatenation); returns its name.
    pub fn interval_map(
        &mut self,
        key_type: &str,
        elements: Vec<(String, String)>,
        comment: &str,
    ) -> String {
        self.declare("addr", key_type, elements, comment, true)
    }

    /// Declare a verdict map of exact keys (a hash) typed by `key_type`
    /// (an nft expression, possibly a concatenation); returns its name.
    pub fn hash_map(
        &mut self,
        key_type: &str,
        elements: Vec<(String, String)>,
        comment: &str,
    ) -> String {
        self.declare("hash", key_type, elements, comment, false)
    }

    fn declare(
        &mut self,
        prefix: &str,
        key_type: &str,
        elements: Vec<(String, String)>,
        comment: &str,
        interval: bool,
    ) -> String {
        let name = format!("{prefix}_{}", self.maps.len());
        self.maps.push(MapDecl {
            name: name.clone(),
            key_type: key_type.to_string(),
            elements,
            comment: comment.to_string(),
            interval,
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
            if m.interval {
                out.push_str("\t\tflags interval\n");
            }
            out.push_str(&format!("\t\tcomment {}\n", NftString::text(&m.comment)));
            render_map_elements(out, &m.elements);
            out.push_str("\t}\n\n");
        }
    }
}

/// A map's `key : verdict` elements, as `render_elements` lays them out
/// (without building each line first: a map can hold 100,000).
fn render_map_elements(out: &mut String, els: &[(String, String)]) {
    let total: usize = els.iter().map(|(k, v)| k.len() + v.len() + 3).sum();
    if els.is_empty() {
        return;
    }
    if els.len() <= 4 && total < 60 {
        let one: Vec<String> = els.iter().map(|(k, v)| format!("{k} : {v}")).collect();
        out.push_str(&format!("\t\telements = {{ {} }}\n", one.join(", ")));
        return;
    }
    out.reserve(total + 8 * els.len() + 32);
    out.push_str("\t\telements = {\n");
    for (i, (k, v)) in els.iter().enumerate() {
        out.push_str("\t\t\t");
        out.push_str(k);
        out.push_str(" : ");
        out.push_str(v);
        out.push_str(if i + 1 < els.len() { ",\n" } else { "\n" });
    }
    out.push_str("\t\t}\n");
}

/// `elements = { a, b, … }`, one element per line when there are several;
/// nothing for an empty list (a set filled by a refresh only).
fn render_elements<'a>(out: &mut String, els: impl Iterator<Item = &'a str>) {
    let els: Vec<&str> = els.collect();
    if els.is_empty() {
        return;
    }
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
