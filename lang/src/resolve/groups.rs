//! Groups: selector blocks checked (cgroup paths, class ids, uid/gid
//! ranges), union groups flattened, and the cgroup path tree built.

use super::names::DefKind;
use super::Resolver;
use crate::ast;
use crate::diag::{codes, Diagnostic};
use crate::ir::{self, CgroupPath, CgroupPathError, CgroupTree, ClassId, GroupId, Selector};
use crate::span::Span;

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
