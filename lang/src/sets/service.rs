//! Service sets: for each IP protocol number, the exact set of destination
//! ports allowed. Protocols without ports (icmp, esp, …) always carry the
//! full port set, meaning "no port constraint".
//!
//! ICMP (1) is only meaningful for IPv4 packets and ICMPv6 (58) only for
//! IPv6; the verifier and backends use `ServiceSet::families` for that.

use super::addr::Family;
use super::interval::IntervalSet;
use serde::Serialize;
use std::collections::BTreeMap;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ESP: u8 = 50;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_SCTP: u8 = 132;

/// Protocols whose packets carry ports that rules can match.
pub fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        PROTO_TCP | PROTO_UDP | PROTO_SCTP | 33 /* dccp */ | 136 /* udplite */
    )
}

/// The families a protocol exists in: ICMP only in IPv4, ICMPv6 only in IPv6.
pub fn proto_families(proto: u8) -> &'static [Family] {
    match proto {
        PROTO_ICMP => &[Family::Ipv4],
        PROTO_ICMPV6 => &[Family::Ipv6],
        _ => &[Family::Ipv4, Family::Ipv6],
    }
}

/// Protocol names accepted by `proto NAME` (the nft/`/etc/protocols` names).
pub const PROTO_NAMES: &[(&str, u8)] = &[
    ("icmp", PROTO_ICMP),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", PROTO_TCP),
    ("egp", 8),
    ("udp", PROTO_UDP),
    ("ipv6", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", PROTO_ESP),
    ("ah", 51),
    ("icmpv6", PROTO_ICMPV6),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("l2tp", 115),
    ("sctp", PROTO_SCTP),
    ("dccp", 33),
    ("udplite", 136),
];

pub fn proto_by_name(name: &str) -> Option<u8> {
    PROTO_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
}

pub fn proto_name(proto: u8) -> Option<&'static str> {
    PROTO_NAMES
        .iter()
        .find(|(_, p)| *p == proto)
        .map(|(n, _)| *n)
}

/// An exact set of (protocol, destination port) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct ServiceSet {
    /// INVARIANT: no entry has an empty port set; port-less protocols map to
    /// the full set.
    pub protos: BTreeMap<u8, IntervalSet<u16>>,
}

impl ServiceSet {
    pub fn empty() -> Self {
        ServiceSet::default()
    }

    /// `tcp 80`, `udp 1000-2000`: one protocol with ports.
    pub fn ports(proto: u8, ports: IntervalSet<u16>) -> Self {
        let mut s = ServiceSet::empty();
        if !ports.is_empty() {
            s.protos.insert(proto, ports);
        }
        s
    }

    /// `proto N`, `icmp`: the protocol with any (or no) port.
    pub fn proto(proto: u8) -> Self {
        Self::ports(proto, IntervalSet::full())
    }

    pub fn union(&self, o: &Self) -> Self {
        let mut out = self.clone();
        for (p, ports) in &o.protos {
            let merged = match out.protos.get(p) {
                Some(existing) => existing.union(ports),
                None => ports.clone(),
            };
            out.protos.insert(*p, merged);
        }
        out
    }

    /// The union of many sets in one normalisation per protocol.
    pub fn union_all<'a>(sets: impl IntoIterator<Item = &'a ServiceSet>) -> Self {
        let mut per: BTreeMap<u8, Vec<(u16, u16)>> = BTreeMap::new();
        for s in sets {
            for (p, ports) in &s.protos {
                per.entry(*p).or_default().extend_from_slice(ports.ranges());
            }
        }
        let protos = per
            .into_iter()
            .map(|(p, r)| (p, IntervalSet::from_ranges(r)))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        ServiceSet { protos }
    }

    pub fn intersect(&self, o: &Self) -> Self {
        let mut out = ServiceSet::empty();
        for (p, ports) in &self.protos {
            if let Some(other) = o.protos.get(p) {
                let i = ports.intersect(other);
                if !i.is_empty() {
                    out.protos.insert(*p, i);
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.protos.is_empty()
    }

    pub fn is_subset(&self, o: &Self) -> bool {
        self.protos
            .iter()
            .all(|(p, ports)| o.protos.get(p).is_some_and(|op| ports.is_subset(op)))
    }

    /// The families any of its protocols can occur in.
    pub fn families(&self) -> Vec<Family> {
        let mut v4 = false;
        let mut v6 = false;
        for p in self.protos.keys() {
            for f in proto_families(*p) {
                match f {
                    Family::Ipv4 => v4 = true,
                    Family::Ipv6 => v6 = true,
                }
            }
        }
        let mut out = Vec::new();
        if v4 {
            out.push(Family::Ipv4);
        }
        if v6 {
            out.push(Family::Ipv6);
        }
        out
    }
}
