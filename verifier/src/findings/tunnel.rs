//! The `tunnel` findings that need the solver:
//! - `via` outside routes (P0210): a rule `… to D via T` where some of `D`
//!   lies outside T's routes — those destinations never leave through T,
//!   so the rule silently matches less than it says. Witness: a packet the
//!   rule would match without `via` whose destination is outside the routes.
//! - IKE blocked (P0211): the policy drops or rejects some of the tunnel's
//!   own key exchange or ESP — for `hook output` packets from `local` to
//!   `remote`, for `hook input` from `remote` to `local`, udp 500/4500 or
//!   esp, from any socket or none. Witness: such a packet and its verdict.

use super::rule_text;
use crate::analysis::PolicyCtx;
use crate::smt::Outcome;
use crate::witness;
use pol_lang::ast::{Hook, Verdict};
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::ir::{Match, Tunnel};
use pol_lang::sets::service::{PROTO_ESP, PROTO_UDP};
use pol_lang::sets::{AddrSet, IntervalSet, ServiceSet};
use pol_lang::span::SourceMap;

pub fn check_via(ctx: &PolicyCtx, sources: &SourceMap, out: &mut Vec<Diagnostic>) {
    for (i, rule) in ctx.policy.rules.iter().enumerate() {
        let Some(t) = rule.matches.via else { continue };
        let tunnel = ctx.program.tunnel(t);
        if rule.matches.to.is_subset(&tunnel.routes) {
            continue;
        }
        let mut unrouted = rule.matches.clone();
        unrouted.via = None;
        let enc = ctx.encoder();
        let f = enc.matches(&unrouted);
        let outside = enc.addr_in(&tunnel.routes, &ctx.smt.vars.daddr).not();
        let mut d = Diagnostic::new(
            codes::VIA_OUTSIDE_ROUTES,
            rule.span,
            format!(
                "rule sends via `{}` to destinations outside its routes",
                tunnel.name
            ),
        )
        .with_label("these destinations never leave through the tunnel")
        .with_related(tunnel.routes_span, format!("routes of `{}`", tunnel.name))
        .with_policy(&ctx.policy.name)
        .with_help(format!(
            "narrow `to` to the routes of `{}`, or add the missing routes",
            tunnel.name
        ));
        match ctx.smt.check("via routes", &[&f, &outside]) {
            Outcome::Sat(p) => {
                let prefer = rule.matches.groups.clone().unwrap_or_default();
                let (_, _, w) = witness::evaluate(ctx.program, ctx.policy, &p, &prefer);
                if unrouted.matches(ctx.program, &p) && !tunnel.routes_contain(p.daddr) {
                    d = d.with_witness(w);
                }
            }
            // Only destinations of families the rule cannot have lie outside.
            Outcome::Unsat => continue,
            Outcome::Unknown(r) => {
                out.push(super::unknown(
                    ctx,
                    sources,
                    i,
                    "whether the destinations lie inside the routes",
                    &r,
                ));
                continue;
            }
        }
        out.push(d);
    }
}

/// The tunnel's own IKE (udp 500, 4500) and ESP packets, in the policy's direction.
pub fn ike_packets(tunnel: &Tunnel, hook: Hook) -> Match {
    let local = AddrSet::v6_prefix(tunnel.local, 128);
    let remote = AddrSet::v6_prefix(tunnel.remote, 128);
    let (from, to) = match hook {
        Hook::Output => (local, remote),
        Hook::Input => (remote, local),
    };
    let ike = ServiceSet::ports(
        PROTO_UDP,
        IntervalSet::from_ranges([(500, 500), (4500, 4500)]),
    );
    Match {
        groups: None,
        from,
        to,
        service: Some(ike.union(&ServiceSet::proto(PROTO_ESP))),
        via: None,
    }
}

pub fn check_ike(ctx: &PolicyCtx, sources: &SourceMap, out: &mut Vec<Diagnostic>) {
    for tunnel in &ctx.program.tunnels {
        let ike = ike_packets(tunnel, ctx.policy.hook);
        let rules = ctx.overlapping(&ctx.summary_of(&ike));
        let default_allows = ctx.policy.default == Verdict::Allow;
        if default_allows && rules.iter().all(|&r| ctx.verdict(r) == Verdict::Allow) {
            continue;
        }
        let f = ctx.encoder().matches(&ike);
        let blocked = ctx
            .chain(&rules, |v| v == Verdict::Allow, default_allows)
            .not();
        let p = match ctx.smt.check("ike", &[&f, &blocked]) {
            Outcome::Unsat => continue,
            Outcome::Sat(p) => p,
            Outcome::Unknown(r) => {
                let d = Diagnostic::new(
                    codes::SOLVER_UNKNOWN,
                    tunnel.span,
                    format!("the solver could not decide whether `{}` lets the IKE and ESP of `{}` through", ctx.policy.name, tunnel.name),
                )
                .with_label(format!("undecided: {r}"))
                .with_policy(&ctx.policy.name);
                out.push(d);
                continue;
            }
        };
        let (by, v, w) = witness::evaluate(ctx.program, ctx.policy, &p, &[]);
        if v == Verdict::Allow || !ike.matches(ctx.program, &p) {
            continue; // re-check failed; never report a false witness
        }
        let (span, what) = match by {
            Some(r) => (
                ctx.policy.rules[r].span,
                format!(
                    "`{}` decides it",
                    rule_text(sources, ctx.policy.rules[r].span)
                ),
            ),
            None => (
                ctx.policy.default_span,
                format!("the default `{}` decides it", v.as_str()),
            ),
        };
        let d = Diagnostic::new(
            codes::IKE_BLOCKED,
            span,
            format!(
                "policy `{}` blocks the IKE or ESP of tunnel `{}`",
                ctx.policy.name, tunnel.name
            ),
        )
        .with_label(format!("{what}: `{}`", v.as_str()))
        .with_related(
            tunnel.span,
            format!(
                "tunnel `{}` needs udp 500/4500 and esp to {}",
                tunnel.name, tunnel.remote
            ),
        )
        .with_policy(&ctx.policy.name)
        .with_help(format!(
            "allow udp 500, udp 4500 and esp between {} and {} before this",
            tunnel.local, tunnel.remote
        ))
        .with_witness(w);
        out.push(d);
    }
}
