//! Service expressions to exact `ServiceSet`s: `tcp/udp/sctp PORTS`, `icmp`,
//! `icmpv6`, `proto N|NAME`, service names, sets and matcher calls.

use super::addrs::Scope;
use super::names::DefKind;
use super::{Resolver, MAX_DEPTH};
use crate::ast::{self, PortProto, ProtoRef};
use crate::diag::{codes, did_you_mean, Diagnostic};
use crate::ir::MatcherOrigin;
use crate::sets::service::{
    proto_by_name, PROTO_ICMP, PROTO_ICMPV6, PROTO_NAMES, PROTO_SCTP, PROTO_TCP, PROTO_UDP,
};
use crate::sets::{IntervalSet, ServiceSet};

impl Resolver<'_> {
    pub fn eval_service_def(&mut self, fi: usize, ii: usize) {
        let ast::Item::Service(d) = &self.loaded.files[fi].ast.items[ii] else {
            return;
        };
        let mut origins = Vec::new();
        let set = self.eval_service(&d.expr, 0, &mut origins, Scope::Program);
        self.services
            .insert(d.name.node.clone(), set.map(|s| (s, origins)));
    }

    pub fn eval_service(
        &mut self,
        e: &ast::ServiceExpr,
        depth: usize,
        origins: &mut Vec<MatcherOrigin>,
        scope: Scope,
    ) -> Option<ServiceSet> {
        if depth > MAX_DEPTH {
            self.err(Diagnostic::new(
                codes::TOO_DEEP,
                e.span(),
                "service expression nested too deeply",
            ));
            return None;
        }
        match e {
            ast::ServiceExpr::Ports { proto, ports, .. } => {
                let p = match proto.node {
                    PortProto::Tcp => PROTO_TCP,
                    PortProto::Udp => PROTO_UDP,
                    PortProto::Sctp => PROTO_SCTP,
                };
                let mut ok = true;
                let mut ranges = Vec::new();
                for r in ports {
                    if r.node.lo > 65535 || r.node.hi > 65535 {
                        let written = self.sources.snippet(r.span).to_string();
                        self.err(
                            Diagnostic::new(
                                codes::PORT_OUT_OF_RANGE,
                                r.span,
                                format!("port `{written}` is out of range"),
                            )
                            .with_label("ports are 0–65535"),
                        );
                        ok = false;
                    } else if r.node.lo > r.node.hi {
                        self.err(
                            Diagnostic::new(
                                codes::INVERTED_RANGE,
                                r.span,
                                format!(
                                    "port range `{}-{}` ends before it starts",
                                    r.node.lo, r.node.hi
                                ),
                            )
                            .with_help(format!("write `{}-{}`", r.node.hi, r.node.lo)),
                        );
                        ok = false;
                    } else {
                        ranges.push((r.node.lo as u16, r.node.hi as u16));
                    }
                }
                ok.then(|| ServiceSet::ports(p, IntervalSet::from_ranges(ranges)))
            }
            ast::ServiceExpr::Icmp(_) => Some(ServiceSet::proto(PROTO_ICMP)),
            ast::ServiceExpr::Icmpv6(_) => Some(ServiceSet::proto(PROTO_ICMPV6)),
            ast::ServiceExpr::Proto(p) => match &p.node {
                ProtoRef::Num(n) => match u8::try_from(*n) {
                    Ok(n) => Some(ServiceSet::proto(n)),
                    Err(_) => {
                        self.err(
                            Diagnostic::new(
                                codes::ID_OUT_OF_RANGE,
                                p.span,
                                format!("protocol number `{n}` is out of range"),
                            )
                            .with_label("IP protocol numbers are 0–255"),
                        );
                        None
                    }
                },
                ProtoRef::Name(name) => match proto_by_name(name) {
                    Some(n) => Some(ServiceSet::proto(n)),
                    None => {
                        let mut d = Diagnostic::new(
                            codes::UNKNOWN_PROTO,
                            p.span,
                            format!("unknown protocol `{name}`"),
                        )
                        .with_label("not a protocol name polc knows");
                        d = match did_you_mean(name, PROTO_NAMES.iter().map(|(n, _)| *n)) {
                            Some(h) => d.with_help(h),
                            None => d.with_help("use a protocol number, e.g. `proto 50`"),
                        };
                        self.err(d);
                        None
                    }
                },
            },
            ast::ServiceExpr::Name(id) => {
                if scope == Scope::LiteralsOnly {
                    return self
                        .not_a_literal(id.span, format!("matcher output names `{}`", id.node));
                }
                self.lookup_service(id, origins)
            }
            ast::ServiceExpr::Set(es, _) => {
                let mut parts = Vec::with_capacity(es.len());
                let mut ok = true;
                for x in es {
                    match self.eval_service(x, depth + 1, origins, scope) {
                        Some(v) => parts.push(v),
                        None => ok = false,
                    }
                }
                ok.then(|| ServiceSet::union_all(&parts))
            }
            ast::ServiceExpr::Call(c) => {
                if scope == Scope::LiteralsOnly {
                    return self.not_a_literal(c.span, "matcher output calls a matcher");
                }
                self.call_service(c, origins)
            }
            ast::ServiceExpr::Error(_) => None,
        }
    }

    fn lookup_service(
        &mut self,
        id: &ast::Ident,
        origins: &mut Vec<MatcherOrigin>,
    ) -> Option<ServiceSet> {
        if !self.names_a(id, DefKind::Service) {
            return None;
        }
        let (set, o) = self.services.get(&id.node).cloned().flatten()?;
        origins.extend(o);
        Some(set)
    }
}
