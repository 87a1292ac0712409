//! Canonical formatter: `format_file` prints a parsed file back in the one
//! layout `polc fmt` produces.
//!
//! Layout: 4-space indentation inside blocks; one statement per line; a
//! blank line between top-level items of different kinds and around
//! multi-line items (single blank lines the author wrote are kept); sets on
//! one line when they fit in 100 columns and hold no comments, otherwise one
//! element per line with a trailing comma; integers in decimal, class ids as
//! `MAJOR:MINOR` hex, strings re-escaped.
//!
//! Comments are never lost: own-line comments stay before the statement (or
//! set element) they precede, end-of-line comments stay at the end of their
//! line, and comments at the end of a block or the file stay there. A comment
//! in a place with no line of its own (inside a call's arguments, after `=`)
//! moves to the line before its statement.
//!
//! INVARIANT: the input parsed without errors (the CLI refuses to format
//! files with syntax errors), so `Error` nodes are printed as their source.

use crate::ast::*;
use crate::span::{Span, Spanned};

const WIDTH: usize = 100;

/// Format a parsed, error-free file. `src` is the text it was parsed from
/// (used for comments and blank lines).
pub fn format_file(file: &File, src: &str) -> String {
    let mut p = Printer {
        src,
        comments: &file.comments,
        used: vec![false; file.comments.len()],
        unused_from: 0,
    };
    let entries: Vec<Entry> = file.items.iter().map(Entry::Item).collect();
    let mut out = p.block_body(&entries, 0, usize::MAX, true);
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[derive(Clone, Copy)]
enum Entry<'a> {
    Item(&'a Item),
    Selector(&'a Selector),
    Limit(&'a Spanned<MatcherLimit>),
    Field(&'a Spanned<TunnelField>),
    Tuning(&'a TuningEntry),
    Stmt(&'a PolicyStmt),
    Expect(&'a Expect),
}

impl Entry<'_> {
    fn span(&self) -> Span {
        match self {
            Entry::Item(i) => i.span(),
            Entry::Selector(s) => s.span(),
            Entry::Limit(l) => l.span,
            Entry::Field(f) => f.span,
            Entry::Tuning(TuningEntry::Sysctl { span, .. } | TuningEntry::Qdisc { span, .. }) => {
                *span
            }
            Entry::Stmt(s) => match s {
                PolicyStmt::Hook(h) => h.span,
                PolicyStmt::Default(d) => d.span,
                PolicyStmt::Rule(r) => r.span,
                PolicyStmt::Error(s) => *s,
            },
            Entry::Expect(e) => e.span,
        }
    }

    /// Item kind for the blank-line rule between top-level items.
    fn kind(&self) -> usize {
        match self {
            Entry::Item(i) => match i {
                Item::Import(_) => 0,
                Item::Network(_) => 1,
                Item::Service(_) => 2,
                Item::Group(_) => 3,
                Item::Matcher(_) => 4,
                Item::Tunnel(_) => 5,
                Item::Tuning(_) => 6,
                Item::Policy(_) => 7,
                Item::Test(_) => 8,
                Item::Error(_) => 9,
            },
            _ => 0,
        }
    }
}

/// An element of a braced set.
#[derive(Clone, Copy)]
enum El<'a> {
    Addr(&'a AddrExpr),
    Svc(&'a ServiceExpr),
    Port(&'a Spanned<PortRange>),
    Name(&'a Ident),
}

impl El<'_> {
    fn span(&self) -> Span {
        match self {
            El::Addr(a) => a.span(),
            El::Svc(s) => s.span(),
            El::Port(p) => p.span,
            El::Name(n) => n.span,
        }
    }
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    used: Vec<bool>,
    /// Every comment before this index is used.
    unused_from: usize,
}

fn ind(level: usize) -> String {
    "    ".repeat(level)
}

/// The column after appending to a line that started at `base`.
fn col_after(s: &str, base: usize) -> usize {
    match s.rfind('\n') {
        Some(i) => s.len() - i - 1,
        None => base + s.len(),
    }
}

fn comment_line(c: &Comment) -> String {
    format!("#{}", c.text)
}

impl<'a> Printer<'a> {
    // ------------------------------------------------------------ comments

    // INVARIANT: `self.comments` is in source order (the lexer's), so the
    // lookups below binary-search by offset instead of scanning every
    // comment for every node (which was quadratic on commented sets).

    /// Index of the first comment starting at or after `pos`.
    fn first_at(&self, pos: usize) -> usize {
        self.comments
            .partition_point(|c| (c.span.start as usize) < pos)
    }

    /// Unused comments that start before `pos`, in order; marks them used.
    fn take_before(&mut self, pos: usize) -> Vec<&'a Comment> {
        let mut out = Vec::new();
        let end = self.first_at(pos);
        for i in self.unused_from..end {
            if !self.used[i] {
                self.used[i] = true;
                out.push(&self.comments[i]);
            }
        }
        while self.unused_from < self.used.len() && self.used[self.unused_from] {
            self.unused_from += 1;
        }
        out
    }

    /// The unused comment that starts at or after `end`, before `limit`, on
    /// the same source line as `end` with only separators before it.
    fn take_eol(&mut self, end: usize, limit: usize) -> Option<&'a Comment> {
        let comments: &'a [Comment] = self.comments;
        for (i, c) in comments.iter().enumerate().skip(self.first_at(end)) {
            let s = c.span.start as usize;
            if s >= limit {
                return None;
            }
            if self.used[i] {
                continue;
            }
            // Only separators may stand between: after `a = 1; b = 2  # c`
            // the comment belongs to `b = 2`, not to `a = 1`.
            let gap = self.src.get(end..s).unwrap_or("\n");
            if gap.contains('\n')
                || !gap
                    .chars()
                    .all(|c| c.is_whitespace() || c == ';' || c == ',')
            {
                return None;
            }
            self.used[i] = true;
            return Some(c);
        }
        None
    }

    fn has_comment_in(&self, span: Span) -> bool {
        let from = self.first_at(span.start as usize);
        self.comments[from..]
            .iter()
            .enumerate()
            .take_while(|(_, c)| c.span.start < span.end)
            .any(|(k, _)| !self.used[from + k])
    }

    fn newlines(&self, a: usize, b: usize) -> usize {
        self.src
            .get(a..b)
            .map(|s| s.matches('\n').count())
            .unwrap_or(0)
    }

    fn text(&self, span: Span) -> String {
        self.src.get(span.range()).unwrap_or("").to_string()
    }

    // ------------------------------------------------------------ blocks

    /// The statements of a block (or the file), each on its own line at
    /// `level`, with their comments; `close` is the offset of the closing
    /// `}` (comments before it are the block's trailing comments).
    fn block_body(
        &mut self,
        entries: &[Entry<'a>],
        level: usize,
        close: usize,
        top: bool,
    ) -> String {
        let mut out = String::new();
        let mut prev: Option<(usize, usize, bool)> = None; // (end, kind, multiline)
        for e in entries {
            let span = e.span();
            let (start, end) = (span.start as usize, span.end as usize);
            let lead = self.take_before(start);
            let body = self.entry(*e, level);
            let stray = self.take_before(end);
            let eol = self.take_eol(end, close);
            let multiline = body.contains('\n');
            if let Some((pend, pkind, pmulti)) = prev {
                let first = lead.first().map(|c| c.span.start as usize).unwrap_or(start);
                let blank = self.newlines(pend, first) >= 2
                    || (top && (pkind != e.kind() || pmulti || multiline));
                if blank {
                    out.push('\n');
                }
            }
            self.push_comments(&mut out, &lead, level);
            if let Some(last) = lead.last() {
                if self.newlines(last.span.end as usize, start) >= 2 {
                    out.push('\n');
                }
            }
            for c in &stray {
                out.push_str(&ind(level));
                out.push_str(&comment_line(c));
                out.push('\n');
            }
            out.push_str(&ind(level));
            out.push_str(&body);
            if let Some(c) = eol {
                out.push_str("  ");
                out.push_str(&comment_line(c));
            }
            out.push('\n');
            let pend = eol.map(|c| c.span.end as usize).unwrap_or(end);
            prev = Some((pend, e.kind(), multiline));
        }
        let trailing = self.take_before(close);
        if let (Some((pend, _, _)), Some(first)) = (prev, trailing.first()) {
            if self.newlines(pend, first.span.start as usize) >= 2 {
                out.push('\n');
            }
        }
        self.push_comments(&mut out, &trailing, level);
        out
    }

    /// Own-line comments, keeping single blank lines between them.
    fn push_comments(&self, out: &mut String, cs: &[&Comment], level: usize) {
        for (i, c) in cs.iter().enumerate() {
            if i > 0 {
                let p = cs[i - 1];
                if self.newlines(p.span.end as usize, c.span.start as usize) >= 2 {
                    out.push('\n');
                }
            }
            out.push_str(&ind(level));
            out.push_str(&comment_line(c));
            out.push('\n');
        }
    }

    /// `{ ... }` around block statements; `after` is an offset before the
    /// `{` (the end of the header), `item` the enclosing item's span.
    fn braced(&mut self, after: usize, item: Span, entries: &[Entry<'a>], level: usize) -> String {
        let open = self
            .src
            .get(after..)
            .and_then(|s| s.find('{'))
            .map(|i| after + i + 1)
            .unwrap_or(after);
        let close = (item.end as usize).saturating_sub(1);
        let first = entries
            .first()
            .map(|e| e.span().start as usize)
            .unwrap_or(close);
        let head = self.take_eol(open, first.min(close));
        let body = self.block_body(entries, level + 1, close, false);
        if body.is_empty() && head.is_none() {
            return "{}".to_string();
        }
        let mut s = String::from("{");
        if let Some(c) = head {
            s.push_str("  ");
            s.push_str(&comment_line(c));
        }
        s.push('\n');
        s.push_str(&body);
        s.push_str(&ind(level));
        s.push('}');
        s
    }

    // ------------------------------------------------------------ statements

    fn entry(&mut self, e: Entry<'a>, level: usize) -> String {
        let base = level * 4;
        match e {
            Entry::Item(i) => self.item(i, level),
            Entry::Selector(s) => selector(s),
            Entry::Limit(l) => limit(l.node),
            Entry::Field(f) => match &f.node {
                TunnelField::Local(a) => format!("local {}", addr_lit(a)),
                TunnelField::Remote(a) => format!("remote {}", addr_lit(a)),
                TunnelField::Key(k) => format!("key {k}"),
                TunnelField::Address(a) => format!("address {}", addr_lit(a)),
                TunnelField::Routes(r) => format!("routes {}", self.addr(r, level, base + 7)),
                TunnelField::Mtu(m) => format!("mtu {m}"),
                TunnelField::Dev(d) => format!("dev {}", quote(d)),
            },
            Entry::Tuning(t) => match t {
                TuningEntry::Sysctl {
                    unsafe_kw,
                    key,
                    value,
                    ..
                } => {
                    let k = if key.node.quoted {
                        quote(&key.node.name)
                    } else {
                        key.node.name.clone()
                    };
                    let v = match &value.node {
                        SysctlValue::Int(n) => n.to_string(),
                        SysctlValue::Str(s) => quote(s),
                        SysctlValue::On => "on".to_string(),
                        SysctlValue::Off => "off".to_string(),
                    };
                    let opt_in = if unsafe_kw.is_some() { "unsafe " } else { "" };
                    format!("{opt_in}{k} = {v}")
                }
                TuningEntry::Qdisc { dev, kind, .. } => {
                    format!("qdisc {} {}", quote(&dev.node), kind.node)
                }
            },
            Entry::Stmt(s) => match s {
                PolicyStmt::Hook(h) => match h.node {
                    Hook::Output => "hook output".to_string(),
                    Hook::Input => "hook input".to_string(),
                },
                PolicyStmt::Default(v) => format!("default {}", verdict(v.node)),
                PolicyStmt::Rule(r) => {
                    let mut s = verdict(r.verdict.node).to_string();
                    self.packets(&mut s, &r.packets, level);
                    for m in &r.modifiers {
                        match &m.node {
                            Modifier::Log(None) => s.push_str(" log"),
                            Modifier::Log(Some(p)) => {
                                s.push_str(" log ");
                                s.push_str(&quote(p));
                            }
                            Modifier::Counter => s.push_str(" counter"),
                            Modifier::Comment(c) => {
                                s.push_str(" comment ");
                                s.push_str(&quote(c));
                            }
                        }
                    }
                    s
                }
                PolicyStmt::Error(sp) => self.text(*sp),
            },
            Entry::Expect(x) => {
                let mut s = String::from("expect");
                if x.some {
                    s.push_str(" some");
                }
                s.push(' ');
                s.push_str(match x.verdict.node {
                    ExpectVerdict::Allow => "allow",
                    ExpectVerdict::Drop => "drop",
                    ExpectVerdict::Reject => "reject",
                    ExpectVerdict::Deny => "deny",
                });
                self.packets(&mut s, &x.packets, level);
                if let Some(p) = &x.policy {
                    s.push_str(" in ");
                    s.push_str(&p.node);
                }
                s
            }
        }
    }

    fn packets(&mut self, s: &mut String, p: &'a PacketSpec, level: usize) {
        let base = level * 4;
        if let Some(g) = &p.groups {
            s.push(' ');
            let t = self.group_expr(g, level, col_after(s, base));
            s.push_str(&t);
        }
        if let Some(a) = &p.from {
            s.push_str(" from ");
            let t = self.addr(a, level, col_after(s, base));
            s.push_str(&t);
        }
        if let Some(a) = &p.to {
            s.push_str(" to ");
            let t = self.addr(a, level, col_after(s, base));
            s.push_str(&t);
        }
        if let Some(svc) = &p.service {
            s.push_str(if svc.keyword { " service " } else { " " });
            let t = self.svc(&svc.expr, level, col_after(s, base));
            s.push_str(&t);
        }
        if let Some(v) = &p.via {
            s.push_str(" via ");
            s.push_str(&v.node);
        }
    }

    fn item(&mut self, i: &'a Item, level: usize) -> String {
        let base = level * 4;
        match i {
            Item::Import(x) => format!("import {}", quote(&x.path.node)),
            Item::Network(n) => {
                let head = format!("network {} = ", n.name.node);
                let e = self.addr(&n.expr, level, base + head.len());
                head + &e
            }
            Item::Service(n) => {
                let head = format!("service {} = ", n.name.node);
                let e = self.svc(&n.expr, level, base + head.len());
                head + &e
            }
            Item::Group(g) => {
                let head = format!("group {} ", g.name.node);
                match &g.body {
                    GroupBody::Union(e) => {
                        let head = head + "= ";
                        let e = self.group_expr(e, level, base + head.len());
                        head + &e
                    }
                    GroupBody::Selectors(sels) => {
                        if sels.len() == 1 && !self.has_comment_in(g.span) {
                            return format!(
                                "{head}{{ {} }}",
                                sels.iter().map(selector).collect::<String>()
                            );
                        }
                        let entries: Vec<Entry> = sels.iter().map(Entry::Selector).collect();
                        head + &self.braced(g.name.span.end as usize, g.span, &entries, level)
                    }
                }
            }
            Item::Matcher(m) => {
                let mut s = format!("matcher {} = wasm {}", m.name.node, quote(&m.path.node));
                let after = m.path.span.end as usize;
                let has_block = self
                    .src
                    .get(after..)
                    .map(|t| t.trim_start().starts_with('{'))
                    .unwrap_or(false);
                if has_block {
                    let entries: Vec<Entry> = m.limits.iter().map(Entry::Limit).collect();
                    let b = self.braced(after, m.span, &entries, level);
                    if b != "{}" {
                        s.push(' ');
                        s.push_str(&b);
                    }
                }
                s
            }
            Item::Tunnel(t) => {
                let entries: Vec<Entry> = t.fields.iter().map(Entry::Field).collect();
                format!("tunnel {} ", t.name.node)
                    + &self.braced(t.name.span.end as usize, t.span, &entries, level)
            }
            Item::Tuning(t) => {
                let entries: Vec<Entry> = t.entries.iter().map(Entry::Tuning).collect();
                "tuning ".to_string()
                    + &self.braced(t.span.start as usize + 6, t.span, &entries, level)
            }
            Item::Policy(p) => {
                let entries: Vec<Entry> = p.stmts.iter().map(Entry::Stmt).collect();
                format!("policy {} ", p.name.node)
                    + &self.braced(p.name.span.end as usize, p.span, &entries, level)
            }
            Item::Test(t) => {
                let entries: Vec<Entry> = t.expects.iter().map(Entry::Expect).collect();
                format!("test {} ", quote(&t.name.node))
                    + &self.braced(t.name.span.end as usize, t.span, &entries, level)
            }
            Item::Error(sp) => self.text(*sp),
        }
    }

    // ------------------------------------------------------------ expressions

    fn group_expr(&mut self, g: &'a GroupExpr, level: usize, col: usize) -> String {
        match g {
            GroupExpr::Any(_) => "any".to_string(),
            GroupExpr::Name(n) => n.node.clone(),
            GroupExpr::Set(v, span) => {
                let els: Vec<El> = v.iter().map(El::Name).collect();
                self.set(*span, &els, level, col)
            }
        }
    }

    fn addr(&mut self, e: &'a AddrExpr, level: usize, col: usize) -> String {
        match e {
            AddrExpr::Set(v, span) => {
                let els: Vec<El> = v.iter().map(El::Addr).collect();
                self.set(*span, &els, level, col)
            }
            AddrExpr::Not(inner, _) => format!("!{}", self.addr(inner, level, col + 1)),
            AddrExpr::Error(sp) => self.text(*sp),
            other => flat_addr(other),
        }
    }

    fn svc(&mut self, e: &'a ServiceExpr, level: usize, col: usize) -> String {
        match e {
            ServiceExpr::Set(v, span) => {
                let els: Vec<El> = v.iter().map(El::Svc).collect();
                self.set(*span, &els, level, col)
            }
            ServiceExpr::Ports {
                proto,
                ports,
                braced: true,
                span,
            } => {
                let head = format!("{} ", port_proto(proto.node));
                let els: Vec<El> = ports.iter().map(El::Port).collect();
                let set_span = Span {
                    start: proto.span.end,
                    ..*span
                };
                head.clone() + &self.set(set_span, &els, level, col + head.len())
            }
            ServiceExpr::Error(sp) => self.text(*sp),
            other => flat_svc(other),
        }
    }

    fn el(&mut self, e: El<'a>, level: usize, col: usize) -> String {
        match e {
            El::Addr(a) => self.addr(a, level, col),
            El::Svc(s) => self.svc(s, level, col),
            El::Port(p) => port_range(p.node),
            El::Name(n) => n.node.clone(),
        }
    }

    /// A braced set: one line when it fits and holds no comments, else one
    /// element per line with a trailing comma.
    fn set(&mut self, span: Span, els: &[El<'a>], level: usize, col: usize) -> String {
        let one = if els.is_empty() {
            "{}".to_string()
        } else {
            format!(
                "{{ {} }}",
                els.iter()
                    .map(|e| flat_el(*e))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if !self.has_comment_in(span) && col + one.len() <= WIDTH {
            return one;
        }
        let inner = level + 1;
        let mut s = String::from("{\n");
        let close = (span.end as usize).saturating_sub(1);
        let mut prev_end: Option<usize> = None;
        for e in els {
            let esp = e.span();
            let lead = self.take_before(esp.start as usize);
            if let (Some(pe), Some(first)) = (prev_end, lead.first()) {
                if self.newlines(pe, first.span.start as usize) >= 2 {
                    s.push('\n');
                }
            }
            self.push_comments(&mut s, &lead, inner);
            let text = self.el(*e, inner, inner * 4);
            let stray = self.take_before(esp.end as usize);
            self.push_comments(&mut s, &stray, inner);
            s.push_str(&ind(inner));
            s.push_str(&text);
            s.push(',');
            let eol = self.take_eol(esp.end as usize, close);
            if let Some(c) = eol {
                s.push_str("  ");
                s.push_str(&comment_line(c));
            }
            s.push('\n');
            prev_end = Some(eol.map(|c| c.span.end as usize).unwrap_or(esp.end as usize));
        }
        let trailing = self.take_before(close);
        self.push_comments(&mut s, &trailing, inner);
        s.push_str(&ind(level));
        s.push('}');
        s
    }
}

// ---------------------------------------------------------------- flat printing

fn flat_el(e: El) -> String {
    match e {
        El::Addr(a) => flat_addr(a),
        El::Svc(s) => flat_svc(s),
        El::Port(p) => port_range(p.node),
        El::Name(n) => n.node.clone(),
    }
}

fn flat_set(items: Vec<String>) -> String {
    if items.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn flat_addr(e: &AddrExpr) -> String {
    match e {
        AddrExpr::Any(_) => "any".to_string(),
        AddrExpr::Lit(l) => addr_lit(&l.node),
        AddrExpr::Name(n) => n.node.clone(),
        AddrExpr::Set(v, _) => flat_set(v.iter().map(flat_addr).collect()),
        AddrExpr::Not(inner, _) => format!("!{}", flat_addr(inner)),
        AddrExpr::Call(c) => call(c),
        AddrExpr::Error(_) => String::new(),
    }
}

fn flat_svc(e: &ServiceExpr) -> String {
    match e {
        ServiceExpr::Ports {
            proto,
            ports,
            braced,
            ..
        } => {
            let ps: Vec<String> = ports.iter().map(|p| port_range(p.node)).collect();
            if *braced || ps.len() != 1 {
                format!("{} {}", port_proto(proto.node), flat_set(ps))
            } else {
                format!("{} {}", port_proto(proto.node), ps.concat())
            }
        }
        ServiceExpr::Icmp(_) => "icmp".to_string(),
        ServiceExpr::Icmpv6(_) => "icmpv6".to_string(),
        ServiceExpr::Proto(p) => match &p.node {
            ProtoRef::Num(n) => format!("proto {n}"),
            ProtoRef::Name(s) => format!("proto {s}"),
        },
        ServiceExpr::Name(n) => n.node.clone(),
        ServiceExpr::Set(v, _) => flat_set(v.iter().map(flat_svc).collect()),
        ServiceExpr::Call(c) => call(c),
        ServiceExpr::Error(_) => String::new(),
    }
}

fn call(c: &Call) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| match &a.node {
            CallArg::Str(s) => quote(s),
            CallArg::Int(n) => n.to_string(),
        })
        .collect();
    format!("{}({})", c.name.node, args.join(", "))
}

fn port_proto(p: PortProto) -> &'static str {
    match p {
        PortProto::Tcp => "tcp",
        PortProto::Udp => "udp",
        PortProto::Sctp => "sctp",
    }
}

fn port_range(p: PortRange) -> String {
    if p.lo == p.hi {
        p.lo.to_string()
    } else {
        format!("{}-{}", p.lo, p.hi)
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Drop => "drop",
        Verdict::Reject => "reject",
    }
}

fn selector(s: &Selector) -> String {
    match s {
        Selector::Cgroup(p) => format!("cgroup {}", quote(&p.node)),
        Selector::Classid(c) => format!("classid {:x}:{:x}", c.node >> 16, c.node & 0xffff),
        Selector::Uid(n) => format!("uid {}", n.node),
        Selector::Gid(n) => format!("gid {}", n.node),
        Selector::Systemd(s) => match &s.user {
            Some(u) => format!(
                "{} {} user {}",
                s.kind.as_str(),
                quote(&s.name.node),
                u.node
            ),
            None => format!("{} {}", s.kind.as_str(), quote(&s.name.node)),
        },
    }
}

fn limit(l: MatcherLimit) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match l {
        MatcherLimit::Fuel(n) => format!("fuel {n}"),
        MatcherLimit::Memory(b) => {
            let size = if b != 0 && b.is_multiple_of(GIB) {
                format!("{}GiB", b / GIB)
            } else if b != 0 && b.is_multiple_of(MIB) {
                format!("{}MiB", b / MIB)
            } else if b != 0 && b.is_multiple_of(KIB) {
                format!("{}KiB", b / KIB)
            } else {
                b.to_string()
            };
            format!("memory {size}")
        }
        MatcherLimit::TimeoutMs(ms) => {
            if ms != 0 && ms.is_multiple_of(1000) {
                format!("timeout {}s", ms / 1000)
            } else {
                format!("timeout {ms}ms")
            }
        }
    }
}

/// An address literal in its canonical text (RFC 5952 for IPv6).
pub fn addr_lit(a: &AddrLit) -> String {
    match a {
        AddrLit::V4(x) => x.to_string(),
        AddrLit::V6(x) => x.to_string(),
        AddrLit::Prefix4(x, n) => format!("{x}/{n}"),
        AddrLit::Prefix6(x, n) => format!("{x}/{n}"),
        AddrLit::Range4(a, b) => format!("{a}-{b}"),
        AddrLit::Range6(a, b) => format!("{a}-{b}"),
    }
}

/// A string literal with `"`, `\`, newline and tab escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
