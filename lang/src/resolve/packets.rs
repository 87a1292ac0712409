//! The packet-describing part shared by rules and `expect` (groups, from,
//! to, service, via) to an IR `Match`.

use super::addrs::Scope;
use super::names::DefKind;
use super::Resolver;
use crate::ast;
use crate::ir::{Match, MatcherOrigin, TunnelId};
use crate::sets::AddrSet;

impl Resolver<'_> {
    /// `None` after an error (reported).
    pub fn packet_spec(
        &mut self,
        p: &ast::PacketSpec,
        origins: &mut Vec<MatcherOrigin>,
    ) -> Option<Match> {
        let groups = match &p.groups {
            None => Some(None),
            Some(g) => self.group_expr(g),
        };
        let from = match &p.from {
            None => Some(AddrSet::any()),
            Some(e) => self.eval_addr(e, 0, origins, Scope::Program),
        };
        let to = match &p.to {
            None => Some(AddrSet::any()),
            Some(e) => self.eval_addr(e, 0, origins, Scope::Program),
        };
        let service = match &p.service {
            None => Some(None),
            Some(s) => self
                .eval_service(&s.expr, 0, origins, Scope::Program)
                .map(Some),
        };
        let via = match &p.via {
            None => Some(None),
            Some(id) => self.tunnel_ref(id).map(Some),
        };
        Some(Match {
            groups: groups?,
            from: from?,
            to: to?,
            service: service?,
            via: via?,
        })
    }

    pub fn tunnel_ref(&mut self, id: &ast::Ident) -> Option<TunnelId> {
        if !self.names_a(id, DefKind::Tunnel) {
            return None;
        }
        self.tunnel_ids.get(&id.node).copied()
    }
}
