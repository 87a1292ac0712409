//! `tuning` blocks of all files merged: sysctl keys checked against the
//! stdlib schema (type, range or allowed values, "did you mean"), one key
//! set to two values anywhere is an error, quoted keys bypass the schema
//! with a warning, and a quoted key outside the network keys needs an
//! explicit `unsafe` (docs/decisions.md); per-interface qdiscs checked.

use super::sysctl_key;
use super::sysctl_schema::{Schema, ValueError};
use super::tunnels::check_ifname;
use super::Resolver;
use crate::ast::{self, SysctlValue as AstValue, TuningEntry};
use crate::diag::{codes, did_you_mean, Diagnostic};
use crate::ir::{self, SysctlValue};
use crate::span::Span;
use std::collections::HashMap;

/// Qdisc kinds `tc qdisc replace … root KIND` accepts without parameters.
/// Qdiscs tc knows that `qdisc` refuses, and why: without the parameters or
/// classes the language cannot give they shape nothing or drop everything
/// (measured under Debian's 6.1 kernel: issue 14, tests/vm/tuning.sh).
pub const REFUSED_QDISCS: &[(&str, &str)] = &[
    (
        "tbf",
        "tbf needs a rate, a burst and a limit, which `qdisc` cannot give",
    ),
    (
        "red",
        "red needs a limit, avpkt and thresholds, which `qdisc` cannot give",
    ),
    (
        "hfsc",
        "hfsc without classes and a default class drops every packet",
    ),
    ("drr", "drr without classes and filters drops every packet"),
    ("qfq", "qfq without classes and filters drops every packet"),
];

/// Qdiscs `qdisc "DEV" KIND` installs as a root qdisc with tc's defaults.
/// `mq` and `multiq` need a device with several transmit queues
/// (tuning.sh --check says so when it has one).
pub const QDISCS: &[&str] = &[
    "pfifo_fast",
    "pfifo",
    "bfifo",
    "fq",
    "fq_codel",
    "fq_pie",
    "cake",
    "sfq",
    "htb",
    "noqueue",
    "mq",
    "prio",
    "netem",
    "pie",
    "codel",
    "multiq",
];

impl Resolver<'_> {
    pub fn resolve_tuning(&mut self) -> ir::Tuning {
        let schema = Schema::builtin();
        let mut out = ir::Tuning::default();
        let mut set_at: HashMap<String, (SysctlValue, Span)> = HashMap::new();
        let mut qdisc_at: HashMap<String, (String, Span)> = HashMap::new();
        for fi in 0..self.loaded.files.len() {
            for ii in 0..self.loaded.files[fi].ast.items.len() {
                let ast::Item::Tuning(block) = &self.loaded.files[fi].ast.items[ii] else {
                    continue;
                };
                for e in &block.entries {
                    match e {
                        TuningEntry::Sysctl {
                            unsafe_kw,
                            key,
                            value,
                            span,
                        } => {
                            let Some(s) = self.sysctl(&schema, *unsafe_kw, key, value, *span)
                            else {
                                continue;
                            };
                            // `a.b/c` and `a/b.c` name one /proc/sys file.
                            let path = sysctl_key::proc_components(&s.key).join("/");
                            match set_at.get(&path) {
                                Some((v, first)) if *v != s.value => {
                                    self.err(
                                        Diagnostic::new(
                                            codes::SYSCTL_TWICE,
                                            key.span,
                                            format!("`{}` is set to two values", s.key),
                                        )
                                        .with_label(format!("set to `{}` here", s.value))
                                        .with_related(*first, format!("set to `{v}` here"))
                                        .with_help("keep one value"),
                                    );
                                }
                                Some(_) => {}
                                None => {
                                    set_at.insert(path, (s.value.clone(), key.span));
                                    out.sysctls.push(s);
                                }
                            }
                        }
                        TuningEntry::Qdisc { dev, kind, span } => {
                            if let Err(why) = check_ifname(&dev.node) {
                                self.err(
                                    Diagnostic::new(
                                        codes::INVALID_QDISC,
                                        dev.span,
                                        format!(
                                            "`{}` is not an interface name",
                                            dev.node.escape_debug()
                                        ),
                                    )
                                    .with_label(why),
                                );
                                continue;
                            }
                            if let Some((_, why)) =
                                REFUSED_QDISCS.iter().find(|(k, _)| *k == kind.node)
                            {
                                self.err(
                                    Diagnostic::new(
                                        codes::INVALID_QDISC,
                                        kind.span,
                                        format!("qdisc `{}` is not supported", kind.node),
                                    )
                                    .with_label(*why)
                                    .with_help("use a qdisc that works with tc's defaults, such as `fq`, `fq_codel` or `cake`"),
                                );
                                continue;
                            }
                            if !QDISCS.contains(&kind.node.as_str()) {
                                let mut d = Diagnostic::new(
                                    codes::INVALID_QDISC,
                                    kind.span,
                                    format!("unknown qdisc `{}`", kind.node),
                                )
                                .with_label("not a qdisc tc knows");
                                if let Some(h) = did_you_mean(&kind.node, QDISCS.iter().copied()) {
                                    d = d.with_help(h);
                                }
                                self.err(d);
                                continue;
                            }
                            match qdisc_at.get(&dev.node) {
                                Some((k, first)) if *k != kind.node => {
                                    self.err(
                                        Diagnostic::new(
                                            codes::SYSCTL_TWICE,
                                            *span,
                                            format!(
                                                "interface `{}` is given two root qdiscs",
                                                dev.node
                                            ),
                                        )
                                        .with_label(format!("`{}` here", kind.node))
                                        .with_related(*first, format!("`{k}` here")),
                                    );
                                }
                                Some(_) => {}
                                None => {
                                    qdisc_at.insert(dev.node.clone(), (kind.node.clone(), *span));
                                    out.qdiscs.push(ir::Qdisc {
                                        dev: dev.node.clone(),
                                        kind: kind.node.clone(),
                                        span: *span,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn sysctl(
        &mut self,
        schema: &Schema,
        unsafe_kw: Option<Span>,
        key: &crate::span::Spanned<ast::SysctlKey>,
        value: &crate::span::Spanned<AstValue>,
        span: Span,
    ) -> Option<ir::Sysctl> {
        let raw = match &value.node {
            AstValue::Int(i) => SysctlValue::Int(*i),
            AstValue::Str(s) => SysctlValue::Str(s.clone()),
            AstValue::On => SysctlValue::Int(1),
            AstValue::Off => SysctlValue::Int(0),
        };
        if let SysctlValue::Str(s) = &raw {
            if let Err(why) = sysctl_key::check_value(s) {
                self.err(
                    Diagnostic::new(
                        codes::INVALID_SYSCTL,
                        value.span,
                        format!("`{}` is not a sysctl value polc can write", s.escape_debug()),
                    )
                    .with_label(why)
                    .with_note("sysctl.conf (read at boot) and tuning.sh (run now) must write the same bytes"),
                );
                return None;
            }
        }
        let name = key.node.name.clone();
        if key.node.quoted {
            if let Err(why) = sysctl_key::check_key(&name) {
                self.err(
                    Diagnostic::new(
                        codes::INVALID_SYSCTL,
                        key.span,
                        format!("`{}` is not a sysctl key", name.escape_debug()),
                    )
                    .with_label(why),
                );
                return None;
            }
            match unsafe_kw {
                Some(u) => self.err(
                    Diagnostic::new(
                        codes::SYSCTL_UNSAFE,
                        key.span,
                        format!("`{name}` is set with `unsafe`: not checked against the schema"),
                    )
                    .with_label("set as written, host-wide")
                    .with_related(u, "opted in here"),
                ),
                None if !sysctl_key::is_network(&name) => {
                    let under_net = sysctl_key::proc_components(&name)
                        .first()
                        .is_some_and(|c| c == "net");
                    let (label, note) = if under_net {
                        (
                            "`net.core.bpf_*` configures the BPF JIT of the whole kernel",
                            "it weakens kernel hardening for every BPF program, not just the network's",
                        )
                    } else {
                        (
                            "outside `net.*`: tuning is for network settings",
                            "keys outside `net.*` reach the whole host: `kernel.core_pattern`, for one, runs a program as root on every crash",
                        )
                    };
                    self.err(
                        Diagnostic::new(
                            codes::SYSCTL_NOT_NETWORK,
                            key.span,
                            format!("`{name}` is not a network sysctl"),
                        )
                        .with_label(label)
                        .with_note(note)
                        .with_help(format!("if you mean it, opt in where reviewers see it: `unsafe \"{name}\" = …`")),
                    );
                    return None;
                }
                None => self.err(
                    Diagnostic::new(
                        codes::SYSCTL_UNCHECKED,
                        key.span,
                        format!("`{name}` is not checked against the schema"),
                    )
                    .with_label("quoted keys bypass the schema")
                    .with_note("polc cannot tell whether this key exists, nor whether it is per network namespace"),
                ),
            }
            return Some(ir::Sysctl {
                key: name,
                value: raw,
                per_netns: false,
                checked: false,
                span,
            });
        }
        let Some(spec) = schema.lookup(&name) else {
            let mut d = Diagnostic::new(
                codes::UNKNOWN_SYSCTL,
                key.span,
                format!("unknown sysctl `{name}`"),
            )
            .with_label("not in the sysctl schema");
            // Suggest concrete keys: a `*` component takes the user's own.
            let user: Vec<&str> = name.split('.').collect();
            let concrete: Vec<String> = schema
                .key_names()
                .map(|k| {
                    let parts: Vec<&str> = k.split('.').collect();
                    if parts.len() == user.len() {
                        parts
                            .iter()
                            .zip(&user)
                            .map(|(p, u)| if *p == "*" { *u } else { *p })
                            .collect::<Vec<_>>()
                            .join(".")
                    } else {
                        k.to_string()
                    }
                })
                .collect();
            d = match did_you_mean(&name, concrete.iter().map(String::as_str)) {
                Some(h) => d.with_help(h),
                None => d.with_help(format!("if the key exists on your kernel, quote it to skip the check: `\"{name}\" = …`")),
            };
            self.err(d);
            return None;
        };
        match spec.check(&raw) {
            Ok(v) => Some(ir::Sysctl {
                key: name,
                value: v,
                per_netns: spec.netns,
                checked: true,
                span,
            }),
            Err(ValueError::Type(why)) => {
                self.err(
                    Diagnostic::new(
                        codes::SYSCTL_TYPE,
                        value.span,
                        format!("wrong type of value for `{name}`"),
                    )
                    .with_label(why),
                );
                None
            }
            Err(ValueError::Range(why, help)) => {
                let mut d = Diagnostic::new(
                    codes::SYSCTL_RANGE,
                    value.span,
                    format!("value not allowed for `{name}`"),
                )
                .with_label(why);
                if let Some(h) = help {
                    d = d.with_help(h);
                }
                self.err(d);
                None
            }
        }
    }
}
