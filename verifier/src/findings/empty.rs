//! `empty-match` (P0300): the rule matches no packet at all, e.g. `icmp` to
//! IPv6 destinations only, or `via T` to destinations outside T's routes.
//! Decided exactly from the rule's summary (a product of interval sets);
//! no solver query is needed.

use crate::analysis::PolicyCtx;
use crate::index::FAMILIES;
use pol_lang::diag::{codes, Diagnostic};
use pol_lang::sets::service::proto_families;
use pol_lang::sets::Family;

/// Reports the rule and returns true when it is empty.
pub fn check(ctx: &PolicyCtx, i: usize, out: &mut Vec<Diagnostic>) -> bool {
    if !ctx.summaries[i].is_empty() {
        return false;
    }
    let rule = &ctx.policy.rules[i];
    let d = Diagnostic::new(codes::EMPTY_MATCH, rule.span, "rule matches no packet")
        .with_label(reason(ctx, i))
        .with_policy(&ctx.policy.name)
        .with_help("remove the rule or fix its sets");
    out.push(d);
    true
}

fn reason(ctx: &PolicyCtx, i: usize) -> String {
    let m = &ctx.policy.rules[i].matches;
    if let Some(gs) = &m.groups {
        if gs
            .iter()
            .all(|g| ctx.program.group(*g).selectors.is_empty())
        {
            return "its groups select no socket".into();
        }
    }
    let mut why = Vec::new();
    for f in FAMILIES {
        let name = match f {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        };
        let why_f = if !m.from.has_family(f) {
            format!("no {name} source")
        } else if !m.to.has_family(f) {
            format!("no {name} destination")
        } else if let Some(t) = m
            .via
            .filter(|t| !m.to.intersect(&ctx.program.tunnel(*t).routes).has_family(f))
        {
            format!(
                "no {name} destination inside the routes of `{}`",
                ctx.program.tunnel(t).name
            )
        } else if m
            .service
            .as_ref()
            .is_some_and(|s| !s.protos.keys().any(|p| proto_families(*p).contains(&f)))
        {
            format!("no protocol of its service exists in {name}")
        } else {
            continue;
        };
        why.push(why_f);
    }
    if why.is_empty() {
        "no packet satisfies all its parts".into()
    } else {
        why.join("; ")
    }
}
