//! IPv6 control traffic under `default drop` (issue 14): with polc's
//! ruleset loaded (an output and an input policy, both `default drop`, no
//! rules), the kernel resolves its next hop and the peer resolves the host
//! (neighbor discovery both ways, no pre-filled entries), and a router
//! advertisement from the peer gives the host its default route. The
//! negative control: the same ruleset without the rule that accepts the
//! control messages leaves the neighbour unresolved and the advertisement
//! unheard — so the check can
//! fail, and what makes it pass is that rule.

use super::probe::{resolve_script, sh};
use super::{temp_dir, write_artifacts};
use crate::support::gen::Builder;
use pol_backends::BuildOptions;
use pol_lang::ast::{Hook, Verdict};

/// Both ends: this namespace (veth0, the policy) and `peer` (veth1).
const NET: &str = "set -e
mount -t tmpfs pol-netns /run/netns 2>/dev/null || { mount -t tmpfs pol-run /run && mkdir /run/netns; }
ip netns add peer
ip link set lo up
ip link add veth0 type veth peer name veth1
ip link set veth1 netns peer
echo 0 >/proc/sys/net/ipv6/conf/veth0/router_solicitations
echo 0 >/proc/sys/net/ipv6/conf/veth0/forwarding
echo 1 >/proc/sys/net/ipv6/conf/veth0/accept_ra
ip -6 addr add 2001:db8:f::1/64 dev veth0 nodad
ip -n peer -6 addr add 2001:db8:f::2/64 dev veth1 nodad
ip link set veth0 up
ip -n peer link set veth1 up
";

/// A router advertisement (router lifetime 1800 s, no options) from the
/// peer's link-local address to all nodes; the kernel fills in the
/// checksum of a raw ICMPv6 socket.
const SEND_RA: &str = r#"ip netns exec peer python3 -c '
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"veth1")
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
for _ in range(3):
    s.sendto(ra, ("ff02::1", 0, 0, socket.if_nametoindex("veth1")))
    time.sleep(0.1)
'
"#;

pub fn ipv6_control_traffic() -> Result<String, String> {
    let mut b = Builder::new();
    b.policy("egress", Hook::Output, Verdict::Drop);
    b.policy("ingress", Hook::Input, Verdict::Drop);
    let (program, sources) = b.finish("nd.pol");
    let dir = temp_dir("nd");
    write_artifacts(&dir, &program, &sources, &BuildOptions::default())?;
    let d = dir.display();
    let resolve = resolve_script(&[
        ("ip -6", "veth0", "2001:db8:f::2"),
        ("ip -n peer -6", "veth1", "2001:db8:f::1"),
    ]);
    // The link-local address the peer's advertisement comes from.
    let with = format!(
        "{NET}nft -f {d}/ruleset.nft\n{resolve}echo resolved\n{SEND_RA}\
         i=0; until ip -6 route show default dev veth0 | grep -q 'proto ra'; do i=$((i+1)); [ $i -lt 40 ] || break; sleep 0.05; done\n\
         ip -6 route show default dev veth0\n"
    );
    let out = sh(
        &format!("unshare -n -m sh -c '{}'", with.replace('\'', "'\\''")),
        &[],
    )?;
    if !out.lines().any(|l| l == "resolved") {
        return Err(format!("no resolution under the ruleset:\n{out}"));
    }
    let Some(route) = out.lines().find(|l| l.starts_with("default via fe80::")) else {
        return Err(format!(
            "the router advertisement gave no default route under the ruleset:\n{out}"
        ));
    };
    // Without the control rule: the same ruleset, that line removed.
    let rule = pol_backends::nft::ipv6_control_rule();
    let rs = std::fs::read_to_string(dir.join("ruleset.nft")).map_err(|e| e.to_string())?;
    if rs.matches(&rule).count() != 2 {
        return Err(format!("ruleset.nft lacks `{rule}` in each chain:\n{rs}"));
    }
    std::fs::write(dir.join("without.nft"), rs.replace(&rule, "")).map_err(|e| e.to_string())?;
    let without = format!(
        "{NET}nft -f {d}/without.nft\n{SEND_RA}sleep 0.3\necho routes: $(ip -6 route show default dev veth0)\n{resolve}"
    );
    let neg = sh(
        &format!("unshare -n -m sh -c '{}'", without.replace('\'', "'\\''")),
        &[],
    );
    match neg {
        Err(e) if e.contains("did not resolve under the ruleset") && !e.contains("proto ra") => {}
        other => {
            return Err(format!(
                "without the control rule the neighbour should stay unresolved: {other:?}"
            ))
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!(
        "neighbours resolved both ways under default-drop output and input policies; RA gave `{}`; without the control rule: unresolved, and no route from the RA",
        route.split_whitespace().take(5).collect::<Vec<_>>().join(" ")
    ))
}
