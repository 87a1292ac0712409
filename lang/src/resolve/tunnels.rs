//! Tunnels (LANGUAGE.md §5), checked for everything that needs no solver:
//! required and duplicate fields, IPv6 unicast endpoints, key range,
//! interface name (≤ 15 bytes, valid characters), mtu range, and clashes
//! between tunnels (key, interface name, overlapping routes).

use super::addrs::Scope;
use super::Resolver;
use crate::ast::{self, AddrLit, TunnelField};
use crate::diag::{codes, Diagnostic};
use crate::ir::{self, TunnelId};
use crate::span::{Span, Spanned};
use std::collections::HashMap;
use std::net::Ipv6Addr;

/// Linux `IFNAMSIZ - 1`.
pub const MAX_IFNAME: usize = 15;
/// The smallest MTU IPv6 allows (RFC 8200).
pub const MIN_MTU: u64 = 1280;

impl Resolver<'_> {
    pub fn resolve_tunnels(&mut self) {
        for fi in 0..self.loaded.files.len() {
            for ii in 0..self.loaded.files[fi].ast.items.len() {
                let ast::Item::Tunnel(t) = &self.loaded.files[fi].ast.items[ii] else {
                    continue;
                };
                match self.ns.get(&t.name.node) {
                    Some(def) if def.file == fi && def.item == ii => {}
                    _ => continue,
                }
                if let Some(tun) = self.tunnel(t) {
                    self.tunnel_ids.insert(tun.name.clone(), tun.id);
                    self.tunnels.push(tun);
                }
            }
        }
        self.tunnel_clashes();
    }

    fn tunnel(&mut self, t: &ast::TunnelDef) -> Option<ir::Tunnel> {
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut local = None;
        let mut remote = None;
        let mut key = None;
        let mut address = None;
        let mut routes = None;
        let mut mtu = None;
        let mut dev: Option<(String, Span)> = None;
        let mut ok = true;
        for f in &t.fields {
            let name = field_name(&f.node);
            if let Some(first) = seen.get(name) {
                self.twice(f.span, *first, name);
                ok = false;
                continue;
            }
            seen.insert(name, f.span);
            match &f.node {
                TunnelField::Local(a) => local = self.endpoint(a, f, "local"),
                TunnelField::Remote(a) => remote = self.endpoint(a, f, "remote"),
                TunnelField::Key(k) => {
                    if *k == 0 || *k > u64::from(u32::MAX) {
                        self.err(
                            Diagnostic::new(
                                codes::KEY_OUT_OF_RANGE,
                                f.span,
                                format!("tunnel key `{k}` is out of range"),
                            )
                            .with_label("a key is 1–4294967295")
                            .with_note(
                                "the key is the xfrm mark the IKE daemon must use for this tunnel",
                            ),
                        );
                        ok = false;
                    } else {
                        key = Some(*k as u32);
                    }
                }
                TunnelField::Address(a) => match a {
                    AddrLit::V6(x) => address = Some((*x, 128)),
                    AddrLit::Prefix6(x, n) if *n <= 128 => address = Some((*x, *n)),
                    _ => {
                        self.err(
                            Diagnostic::new(codes::ENDPOINT_NOT_V6, f.span, "a vti6 tunnel address must be one IPv6 address with a prefix length")
                                .with_label("not an IPv6 interface address")
                                .with_help("write e.g. `address fd00:42::1/64`"),
                        );
                        ok = false;
                    }
                },
                TunnelField::Routes(e) => {
                    let mut origins = Vec::new();
                    routes = self
                        .eval_addr(e, 0, &mut origins, Scope::Program)
                        .map(|r| (r, e.span()));
                    ok &= routes.is_some();
                }
                TunnelField::Mtu(m) => {
                    if *m < MIN_MTU || *m > 65535 {
                        self.err(
                            Diagnostic::new(
                                codes::MTU_OUT_OF_RANGE,
                                f.span,
                                format!("mtu `{m}` is out of range"),
                            )
                            .with_label(format!("a vti6 interface needs {MIN_MTU}–65535")),
                        );
                        ok = false;
                    } else {
                        mtu = Some(*m as u32);
                    }
                }
                TunnelField::Dev(d) => dev = Some((d.clone(), f.span)),
            }
        }
        for (field, present) in [
            ("local", local.is_some() || seen.contains_key("local")),
            ("remote", remote.is_some() || seen.contains_key("remote")),
            ("key", seen.contains_key("key")),
            ("address", seen.contains_key("address")),
            ("routes", seen.contains_key("routes")),
        ] {
            if !present {
                self.err(
                    Diagnostic::new(
                        codes::MISSING_FIELD,
                        t.name.span,
                        format!("tunnel `{}` has no `{field}`", t.name.node),
                    )
                    .with_label(format!("`{field}` is required"))
                    .with_help("a tunnel needs `local`, `remote`, `key`, `address` and `routes`"),
                );
                ok = false;
            }
        }
        let (dev, dev_span) = match dev {
            Some((d, s)) => (d, s),
            None => (format!("vti6-{}", t.name.node), t.name.span),
        };
        if let Err(why) = check_ifname(&dev) {
            let code = if dev.len() > MAX_IFNAME {
                codes::IFNAME_TOO_LONG
            } else {
                codes::INVALID_IFNAME
            };
            let mut d = Diagnostic::new(
                code,
                dev_span,
                format!("interface name `{}` is not usable", dev.escape_debug()),
            )
            .with_label(why);
            if dev_span == t.name.span {
                d = d.with_help("give the interface a shorter name with `dev \"name\"`");
            }
            self.err(d);
            ok = false;
        }
        if !ok {
            return None;
        }
        let (routes, routes_span) = routes?;
        Some(ir::Tunnel {
            id: TunnelId(self.tunnels.len() as u32),
            name: t.name.node.clone(),
            dev,
            local: local?,
            remote: remote?,
            key: key?,
            address: address?,
            routes,
            mtu,
            span: t.name.span,
            routes_span,
        })
    }

    fn endpoint(&mut self, a: &AddrLit, f: &Spanned<TunnelField>, which: &str) -> Option<Ipv6Addr> {
        let why = match a {
            AddrLit::V6(x) => match unicast_problem(x) {
                None => return Some(*x),
                Some(w) => w,
            },
            AddrLit::V4(_) => "an IPv4 address: vti6 endpoints are IPv6",
            _ => "a prefix or range, not one address",
        };
        self.err(
            Diagnostic::new(
                codes::ENDPOINT_NOT_V6,
                f.span,
                format!("tunnel `{which}` must be an IPv6 unicast address"),
            )
            .with_label(why),
        );
        None
    }

    fn tunnel_clashes(&mut self) {
        let ts = self.tunnels.clone();
        for (i, a) in ts.iter().enumerate() {
            for b in &ts[..i] {
                if a.key == b.key {
                    self.err(
                        Diagnostic::new(codes::TUNNEL_KEY_CLASH, a.span, format!("tunnels `{}` and `{}` share key {}", b.name, a.name, a.key))
                            .with_label("same key as another tunnel")
                            .with_related(b.span, format!("`{}` uses key {}", b.name, b.key))
                            .with_note("the key is the xfrm mark: two tunnels with one key receive each other's traffic"),
                    );
                }
                if a.dev == b.dev {
                    self.err(
                        Diagnostic::new(
                            codes::TUNNEL_DEV_CLASH,
                            a.span,
                            format!(
                                "tunnels `{}` and `{}` share the interface name `{}`",
                                b.name, a.name, a.dev
                            ),
                        )
                        .with_related(b.span, "the other tunnel"),
                    );
                }
                let both = a.routes.intersect(&b.routes);
                if !both.is_empty() {
                    let example = both
                        .v4
                        .first()
                        .map(|v| std::net::Ipv4Addr::from(v).to_string())
                        .or_else(|| both.v6.first().map(|v| Ipv6Addr::from(v).to_string()))
                        .unwrap_or_default();
                    self.err(
                        Diagnostic::new(
                            codes::TUNNEL_ROUTE_CLASH,
                            a.routes_span,
                            format!("routes of tunnels `{}` and `{}` overlap", b.name, a.name),
                        )
                        .with_label(format!("`{example}` is routed into both"))
                        .with_related(b.routes_span, format!("routes of `{}`", b.name)),
                    );
                }
            }
        }
    }
}

fn field_name(f: &TunnelField) -> &'static str {
    match f {
        TunnelField::Local(_) => "local",
        TunnelField::Remote(_) => "remote",
        TunnelField::Key(_) => "key",
        TunnelField::Address(_) => "address",
        TunnelField::Routes(_) => "routes",
        TunnelField::Mtu(_) => "mtu",
        TunnelField::Dev(_) => "dev",
    }
}

fn unicast_problem(a: &Ipv6Addr) -> Option<&'static str> {
    if a.is_unspecified() {
        Some("the unspecified address `::`")
    } else if a.is_multicast() {
        Some("a multicast address")
    } else if a.is_loopback() {
        Some("the loopback address")
    } else if a.to_ipv4_mapped().is_some() {
        Some("an IPv4-mapped address")
    } else {
        None
    }
}

/// The kernel's rules for interface names (`dev_valid_name`).
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_IFNAME {
        return Err(format!(
            "{} bytes; Linux allows at most {MAX_IFNAME}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are not interface names".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!("contains {:?}, which Linux does not allow", c));
    }
    Ok(())
}
