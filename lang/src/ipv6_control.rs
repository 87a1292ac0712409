//! The IPv6 control messages every policy accepts before its rules.
//!
//! IPv6 does not work without neighbor discovery: a host resolves every
//! on-link next hop (its default router included) with neighbor
//! solicitations and advertisements, learns its routers and prefixes from
//! router advertisements, and reports its multicast listeners (the
//! solicited-node groups ND uses) with MLD. These are locally generated
//! ICMPv6 messages that pass the output and input hooks like any other
//! packet, and conntrack marks them untracked: the stateful preamble does
//! not accept them. A `default drop` policy would drop them and cut the
//! host off from its own link (issue 14).
//!
//! So every policy chain accepts exactly these types right after its
//! stateful preamble (RFC 4890 §4.4.1, "must not be dropped", the subset a
//! host needs; redirect is left to the policy). The packet model
//! (docs/verifier.md) is the first packet of a flow; these messages are not
//! in it, like packets of established flows: rules, `expect` and findings
//! speak about every other packet, and an `icmpv6` packet in a witness
//! stands for any other ICMPv6 type (an echo request, an error...).

/// One ICMPv6 control message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlType {
    /// The ICMPv6 type number.
    pub number: u8,
    /// nft's name for it (`icmpv6 type NAME`), as `nft list` prints it.
    pub nft_name: &'static str,
}

/// The accepted types, in type-number order (the order `nft list` uses).
pub const IPV6_CONTROL: [ControlType; 8] = [
    ControlType {
        number: 130,
        nft_name: "mld-listener-query",
    },
    ControlType {
        number: 131,
        nft_name: "mld-listener-report",
    },
    ControlType {
        number: 132,
        nft_name: "mld-listener-done",
    },
    ControlType {
        number: 133,
        nft_name: "nd-router-solicit",
    },
    ControlType {
        number: 134,
        nft_name: "nd-router-advert",
    },
    ControlType {
        number: 135,
        nft_name: "nd-neighbor-solicit",
    },
    ControlType {
        number: 136,
        nft_name: "nd-neighbor-advert",
    },
    ControlType {
        number: 143,
        nft_name: "mld2-listener-report",
    },
];

/// Whether `name` (nft's spelling, or a type number) is one of the
/// accepted control types.
pub fn is_control(name: &str) -> bool {
    IPV6_CONTROL
        .iter()
        .any(|t| t.nft_name == name || name.parse::<u8>().is_ok_and(|n| n == t.number))
}
