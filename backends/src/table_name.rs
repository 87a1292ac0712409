//! The nft table `polc build --table NAME` owns: an nft identifier that is
//! not an nft keyword. nft 1.0.6 reads a keyword in the table's place as a
//! syntax error, and it has no quoting for table names (`table inet
//! "counter"` is a syntax error too), so such a name is refused up front.

use pol_lang::safe_text::nft::is_identifier;

/// Every word nft 1.0.6 rejects as a table name in `table inet NAME`,
/// `delete table inet NAME` (ruleset.nft) or `list table inet NAME`
/// (apply.sh): each of the 332 token names in libnftables tried in all
/// three places (`unshare -n nft -c ...`), 153 refused. `list` adds a few
/// of its own (`sets`, `chains`, `maps`, ...).
pub const NFT_KEYWORDS: &[&str] = &[
    "accept",
    "add",
    "ah",
    "all",
    "arp",
    "auto-merge",
    "bridge",
    "cgroup",
    "chain",
    "chains",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "counters",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "exthdr",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flowtables",
    "flush",
    "frag",
    "fwd",
    "gc-interval",
    "get",
    "goto",
    "handle",
    "hbh",
    "hook",
    "hooks",
    "hour",
    "ibriport",
    "ibrname",
    "icmp",
    "icmpv6",
    "igmp",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "limit",
    "limits",
    "list",
    "log",
    "map",
    "maps",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "meters",
    "mh",
    "missing",
    "monitor",
    "netdev",
    "nftrace",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "quotas",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "ruleset",
    "sctp",
    "secmark",
    "secmarks",
    "set",
    "sets",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "symhash",
    "synproxy",
    "synproxys",
    "table",
    "tables",
    "tcp",
    "th",
    "time",
    "timeout",
    "tproxy",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "xt",
];

/// Why `name` cannot be the table, if it cannot.
pub fn check(name: &str) -> Result<(), String> {
    if !is_identifier(name) {
        return Err(format!(
            "table name `{}` is not an nft identifier ([A-Za-z_][A-Za-z0-9_-]*, at most 64 bytes)",
            name.escape_debug()
        ));
    }
    if NFT_KEYWORDS.contains(&name) {
        return Err(format!(
            "table name `{name}` is an nft keyword: nft cannot parse `table inet {name}`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_refused() {
        for bad in [
            "counter", "table", "chain", "accept", "drop", "ip", "inet", "meta", "sets",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        for ok in ["pol", "filter", "nat", "my-table", "_x", "Counter"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert!(check("1abc").is_err() && check("a b").is_err() && check("").is_err());
        let mut sorted = NFT_KEYWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), NFT_KEYWORDS.len());
    }
}
