//! Groups: selector blocks checked (cgroup paths, class ids, uid/gid
//! ranges, systemd unit and slice names turned into their cgroup paths),
//! union groups flattened, and the cgroup path tree built.

use super::names::DefKind;
use super::Resolver;
use crate::ast;
use crate::diag::{codes, Diagnostic};
use crate::ir::{self, CgroupPath, CgroupPathError, CgroupTree, ClassId, GroupId, Selector};
use crate::span::Span;
use crate::systemd::{self, NameError};

impl Resolver<'_> {
    pub fn eval_group(&mut self, fi: usize, ii: usize) {
        let ast::Item::Group(d) = &self.loaded.files[fi].ast.items[ii] else {
            return;
        };
        let mut selectors: Vec<Selector> = Vec::new();
        let mut ok = true;
        match &d.body {
            ast::GroupBody::Selectors(sels) => {
                for s in sels {
                    match self.selector(s) {
                        Some(sel) => {
                            if !selectors.contains(&sel) {
                                selectors.push(sel)
                            }
                        }
                        None => ok = false,
                    }
                }
            }
            ast::GroupBody::Union(e) => match self.group_expr(e) {
                Some(Some(ids)) => {
                    for id in ids {
                        for sel in self.groups[id.index()].selectors.clone() {
                            if !selectors.contains(&sel) {
                                selectors.push(sel);
                            }
                        }
                    }
                }
                Some(None) => {
                    self.err(
                        Diagnostic::new(codes::WRONG_KIND, e.span(), "a group cannot be `any`")
                            .with_label("a group names the applications it contains")
                            .with_help("leave the group out of a rule to match any socket"),
                    );
                    ok = false;
                }
                None => ok = false,
            },
        }
        if !ok {
            return;
        }
        let id = GroupId(self.groups.len() as u32);
        self.group_ids.insert(d.name.node.clone(), id);
        self.groups.push(ir::Group {
            id,
            name: d.name.node.clone(),
            selectors,
            span: d.name.span,
        });
    }

    fn selector(&mut self, s: &ast::Selector) -> Option<Selector> {
        match s {
            ast::Selector::Cgroup(p) => match CgroupPath::parse(&p.node) {
                Ok(path) => Some(Selector::Cgroup(path)),
                Err(why) => {
                    self.err(cgroup_diagnostic(&p.node, p.span, &why));
                    None
                }
            },
            ast::Selector::Systemd(sel) => self.systemd_selector(sel),
            ast::Selector::Classid(c) => {
                if c.node == 0 {
                    self.err(
                        Diagnostic::new(
                            codes::INVALID_CLASSID,
                            c.span,
                            "class id `0` means no class",
                        )
                        .with_label("sockets without a net_cls class have class id 0")
                        .with_help("use a class id such as `10:1`"),
                    );
                    return None;
                }
                Some(Selector::Classid(ClassId(c.node)))
            }
            ast::Selector::Uid(n) | ast::Selector::Gid(n) => {
                let is_uid = matches!(s, ast::Selector::Uid(_));
                let what = if is_uid { "uid" } else { "gid" };
                match u32::try_from(n.node) {
                    Ok(v) if v != u32::MAX => Some(if is_uid {
                        Selector::Uid(v)
                    } else {
                        Selector::Gid(v)
                    }),
                    _ => {
                        self.err(
                            Diagnostic::new(
                                codes::ID_OUT_OF_RANGE,
                                n.span,
                                format!("{what} `{}` is out of range", n.node),
                            )
                            .with_label(format!("a {what} is 0–4294967294")),
                        );
                        None
                    }
                }
            }
        }
    }

    /// `unit`/`slice` selectors: systemd's name rules, then the cgroup path
    /// systemd gives the unit (recorded in `self.systemd`).
    fn systemd_selector(&mut self, sel: &ast::SystemdSelector) -> Option<Selector> {
        let is_slice = sel.kind == ast::SystemdKind::Slice;
        let user = match &sel.user {
            None => None,
            Some(u) => match u32::try_from(u.node) {
                Ok(v) if v != u32::MAX => Some(v),
                _ => {
                    self.err(
                        Diagnostic::new(
                            codes::ID_OUT_OF_RANGE,
                            u.span,
                            format!("uid `{}` is out of range", u.node),
                        )
                        .with_label("a uid is 0–4294967294"),
                    );
                    return None;
                }
            },
        };
        let written = sel.name.node.as_str();
        let below = match systemd::unit_path(written, is_slice) {
            Ok(p) => p,
            Err(e) => {
                let d = match e {
                    NameError::Unit(why) => Diagnostic::new(
                        codes::INVALID_UNIT_NAME,
                        sel.name.span,
                        format!("invalid unit name `{}`", written.escape_debug()),
                    )
                    .with_label(why)
                    .with_help("systemd unit names are `NAME.TYPE`, at most 255 of A-Z a-z 0-9 : _ . - @ \\"),
                    NameError::Slice(why) => Diagnostic::new(
                        codes::INVALID_SLICE_NAME,
                        sel.name.span,
                        format!("invalid slice name `{}`", written.escape_debug()),
                    )
                    .with_label(why)
                    .with_help("a slice `a-b.slice` lives in `a.slice`; write the dash-separated parts without empty ones"),
                    NameError::Nesting { written, expected } => Diagnostic::new(
                        codes::SLICE_NESTING,
                        sel.name.span,
                        format!("`{written}` contradicts the slice's name"),
                    )
                    .with_label(format!("systemd puts this slice at `{expected}`"))
                    .with_help("write only the innermost slice; polc derives its parents from its name"),
                };
                self.err(d);
                return None;
            }
        };
        if user.is_none() && systemd::in_user_slice(&below) {
            let top = below.first().cloned().unwrap_or_default();
            self.err(
                Diagnostic::new(
                    codes::USER_SLICE_NO_UID,
                    sel.span,
                    format!("`{top}` is a slice of a user's manager, but no user is given"),
                )
                .with_label("whose manager? each user has their own")
                .with_help(format!(
                    "add the user's uid: `{} \"{written}\" user 1000`",
                    sel.kind.as_str()
                )),
            );
            return None;
        }
        let path = match systemd::cgroup_path(written, is_slice, user)
            .map_err(|_| String::new())
            .and_then(|p| CgroupPath::parse(&p).map_err(|e| e.to_string()))
        {
            Ok(p) => p,
            Err(why) => {
                self.err(
                    Diagnostic::new(
                        codes::INVALID_CGROUP,
                        sel.name.span,
                        format!("`{}` gives no valid cgroup path", written.escape_debug()),
                    )
                    .with_label(why),
                );
                return None;
            }
        };
        let name = below.last().cloned().unwrap_or_default();
        if !self
            .systemd
            .iter()
            .any(|u| u.name == name && u.user == user && u.path == path)
        {
            self.systemd.push(ir::SystemdUnit {
                name,
                user,
                path: path.clone(),
                span: sel.span,
            });
        }
        Some(Selector::Cgroup(path))
    }

    /// Resolve a group expression: `Some(None)` = any, `Some(Some(ids))`,
    /// `None` after an error.
    pub fn group_expr(&mut self, e: &ast::GroupExpr) -> Option<Option<Vec<GroupId>>> {
        match e {
            ast::GroupExpr::Any(_) => Some(None),
            ast::GroupExpr::Name(id) => self.group_id(id).map(|g| Some(vec![g])),
            ast::GroupExpr::Set(ids, _) => {
                let mut out = Vec::new();
                let mut ok = true;
                for id in ids {
                    match self.group_id(id) {
                        Some(g) => {
                            if !out.contains(&g) {
                                out.push(g)
                            }
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Some(out))
            }
        }
    }

    fn group_id(&mut self, id: &ast::Ident) -> Option<GroupId> {
        if !self.names_a(id, DefKind::Group) {
            return None;
        }
        self.group_ids.get(&id.node).copied()
    }
}

/// The tree of every cgroup path the groups name (with ancestors).
pub fn cgroup_tree(groups: &[ir::Group]) -> CgroupTree {
    let mut t = CgroupTree::default();
    for g in groups {
        for p in g.cgroup_paths() {
            t.insert(p);
        }
    }
    t
}

/// The diagnostic for a cgroup path `text` that does not parse.
fn cgroup_diagnostic(text: &str, span: Span, why: &CgroupPathError) -> Diagnostic {
    let code = match why {
        CgroupPathError::Invalid(_) | CgroupPathError::TooLong { .. } => codes::INVALID_CGROUP,
        CgroupPathError::TooDeep { .. } => codes::CGROUP_TOO_DEEP,
        CgroupPathError::Reserved { .. } => codes::CGROUP_RESERVED,
    };
    let mut d = Diagnostic::new(
        code,
        span,
        format!("invalid cgroup path `{}`", text.escape_debug()),
    )
    .with_label(why.to_string());
    match why {
        CgroupPathError::Invalid(_) => {
            if let Some(stripped) = text.strip_prefix('/') {
                if CgroupPath::parse(stripped).is_ok() {
                    d = d.with_help(format!("write `\"{stripped}\"`"));
                }
            }
        }
        CgroupPathError::Reserved { component, prefix } => {
            d = d
                .with_note(format!(
                    "the kernel keeps `{prefix}.*` names for its own files in every cgroup: it refuses to create such a directory, or later refuses to enable the controller"
                ))
                .with_help(format!(
                    "rename the directory (systemd names a unit's cgroup `_{}`)",
                    component.escape_debug()
                ));
        }
        CgroupPathError::TooLong { .. } | CgroupPathError::TooDeep { .. } => {}
    }
    d
}
