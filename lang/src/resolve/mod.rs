//! The resolver: from the parsed files of a program to the IR.
//!
//! Steps, in order: load files and imports (`imports`), collect the global
//! namespace (`names`), build the definition graph and report its cycles
//! (`defgraph`), load matcher modules (`calls`), evaluate networks,
//! services and groups in dependency order (`addrs`, `services`, `groups`),
//! then tunnels, tuning, policies and tests. Every step reports what it
//! finds and carries on, so one run shows every error it can.

pub mod addrs;
pub mod calls;
pub mod cycles;
pub mod defgraph;
pub mod expects;
pub mod groups;
pub mod imports;
pub mod names;
pub mod packets;
pub mod policies;
pub mod services;
pub mod sysctl_key;
pub mod sysctl_schema;
pub mod tuning;
pub mod tunnels;

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{self, GroupId, MatcherOrigin, TunnelId};
use crate::sets::{AddrSet, ServiceSet};
use crate::span::{SourceMap, Span};
use imports::Loaded;
use names::Namespace;
use std::collections::HashMap;

/// Expressions nested deeper than this are refused (no unbounded recursion
/// on hostile input).
pub const MAX_DEPTH: usize = 256;

/// The state of one resolution.
pub struct Resolver<'a> {
    pub sources: &'a mut SourceMap,
    pub loaded: &'a Loaded,
    pub ns: Namespace,
    pub diags: Diagnostics,
    /// Evaluated networks (None: failed or cyclic; already reported).
    pub nets: HashMap<String, Option<(AddrSet, Vec<MatcherOrigin>)>>,
    pub services: HashMap<String, Option<(ServiceSet, Vec<MatcherOrigin>)>>,
    pub group_ids: HashMap<String, GroupId>,
    pub groups: Vec<ir::Group>,
    pub tunnel_ids: HashMap<String, TunnelId>,
    pub tunnels: Vec<ir::Tunnel>,
    pub matchers: calls::Matchers,
    /// Units and slices named by `unit`/`slice` selectors.
    pub systemd: Vec<ir::SystemdUnit>,
    /// Every name looked up that has a definition: (use, definition's name).
    pub uses: Vec<(Span, Span)>,
}

/// Resolve a loaded program. Returns the IR only when there are no errors.
///
/// `packet`, when given, is resolved against the program's names too (for
/// `polc explain`) and returned as the third value.
pub fn resolve(
    loaded: &Loaded,
    sources: &mut SourceMap,
    matcher_opts: &calls::MatcherOptions,
    packet: Option<&crate::ast::PacketSpec>,
) -> (
    Option<ir::Program>,
    Diagnostics,
    Option<ir::Match>,
    crate::symbols::Symbols,
) {
    let mut diags = Diagnostics::new();
    let ns = Namespace::collect(&loaded.files, &mut diags);
    let mut r = Resolver {
        sources,
        loaded,
        ns,
        diags,
        nets: HashMap::new(),
        services: HashMap::new(),
        group_ids: HashMap::new(),
        groups: Vec::new(),
        tunnel_ids: HashMap::new(),
        tunnels: Vec::new(),
        matchers: calls::Matchers::new(matcher_opts.clone()),
        systemd: Vec::new(),
        uses: Vec::new(),
    };
    r.load_matchers();
    let order = defgraph::evaluation_order(&mut r);
    for def in order {
        match def {
            defgraph::Node::Network(fi, ii) => r.eval_network(fi, ii),
            defgraph::Node::Service(fi, ii) => r.eval_service_def(fi, ii),
            defgraph::Node::Group(fi, ii) => r.eval_group(fi, ii),
        }
    }
    let cgroups = groups::cgroup_tree(&r.groups);
    r.resolve_tunnels();
    let tuning = r.resolve_tuning();
    let policies = r.resolve_policies();
    let tests = r.resolve_tests(&policies);
    let packet = packet.and_then(|p| r.packet_spec(p, &mut Vec::new()));
    let symbols = r.symbols(&policies);
    let mut diags = std::mem::take(&mut r.diags);
    diags.sort_dedup();
    if diags.has_errors() {
        return (None, diags, None, symbols);
    }
    let program = ir::Program {
        groups: r.groups,
        cgroups,
        policies,
        tunnels: r.tunnels,
        tuning,
        tests,
        systemd: r.systemd,
    };
    (Some(program), diags, packet, symbols)
}

impl Resolver<'_> {
    pub fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Whether `id` names a definition of `kind`; an unknown name or one
    /// of another kind is reported here (with its suggestion or its
    /// definition site), once for every resolver step that looks names up.
    pub fn names_a(&mut self, id: &crate::ast::Ident, kind: names::DefKind) -> bool {
        match self.ns.get(&id.node).copied() {
            None => {
                let d = self.ns.unknown(id, &[kind]);
                self.err(d);
                false
            }
            Some(def) if def.kind != kind => {
                let d = self.ns.wrong_kind(id, &def, defgraph::expected_kind(kind));
                self.err(d);
                false
            }
            Some(def) => {
                self.uses.push((id.span, def.span));
                true
            }
        }
    }

    /// The definitions and uses seen, with what each name resolved to.
    fn symbols(&self, policies: &[ir::Policy]) -> crate::symbols::Symbols {
        use crate::symbols::{self as sym, SymbolDef, Symbols};
        let mut defs: Vec<SymbolDef> = self
            .ns
            .defs
            .iter()
            .map(|(name, def)| {
                let detail = match def.kind {
                    names::DefKind::Network => self
                        .nets
                        .get(name)
                        .cloned()
                        .flatten()
                        .map(|(s, _)| sym::describe_addrs(&s)),
                    names::DefKind::Service => self
                        .services
                        .get(name)
                        .cloned()
                        .flatten()
                        .map(|(s, _)| sym::describe_services(&s)),
                    names::DefKind::Group => self
                        .group_ids
                        .get(name)
                        .and_then(|id| self.groups.iter().find(|g| g.id == *id))
                        .map(sym::describe_group),
                    names::DefKind::Tunnel => self
                        .tunnel_ids
                        .get(name)
                        .and_then(|id| self.tunnels.iter().find(|t| t.id == *id))
                        .map(sym::describe_tunnel),
                    names::DefKind::Policy => policies
                        .iter()
                        .find(|p| &p.name == name)
                        .map(sym::describe_policy),
                    names::DefKind::Matcher => {
                        match &self.loaded.files[def.file].ast.items[def.item] {
                            crate::ast::Item::Matcher(m) => {
                                Some(format!("WebAssembly matcher `{}`", m.path.node))
                            }
                            _ => None,
                        }
                    }
                };
                SymbolDef {
                    name: name.clone(),
                    kind: def.kind,
                    span: def.span,
                    detail: detail.unwrap_or_default(),
                }
            })
            .collect();
        defs.sort_by_key(|d| (d.span.file, d.span.start));
        let index: HashMap<Span, usize> =
            defs.iter().enumerate().map(|(i, d)| (d.span, i)).collect();
        let mut uses: Vec<(Span, usize)> = self
            .uses
            .iter()
            .filter_map(|(u, d)| Some((*u, *index.get(d)?)))
            .collect();
        uses.sort_by_key(|(s, d)| (s.file, s.start, s.end, *d));
        uses.dedup();
        Symbols { defs, uses }
    }

    pub fn file(&self, fi: usize) -> &imports::LoadedFile {
        &self.loaded.files[fi]
    }
}
