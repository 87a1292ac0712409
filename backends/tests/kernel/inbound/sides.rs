//! The two namespaces of the input test: the network between them, the
//! policy side (loads the ruleset, listens, records what arrived) and the
//! peer (sends every probe at once and sees what came back).

use super::*;

/// How long the peer waits for answers after sending every probe.
pub(super) const WAIT: Duration = Duration::from_millis(250);

/// Both namespaces' network: veth0 (policy side) ↔ veth1 (peer), routes
/// both ways (the neighbours are resolved by the kernel once the ruleset
/// is loaded, through it: `probe::resolve_script`), and no ICMP error rate limits on the policy side (a
/// UDP reject is an ICMP error; the limits would turn some into drops).
pub(super) const NET_SETUP: &str = "set -e
# `ip netns add` keeps its files in /run/netns: a private tmpfs there (or,
# when the host has no /run/netns, on /run) leaves no trace on the host.
mount -t tmpfs pol-netns /run/netns 2>/dev/null || { mount -t tmpfs pol-run /run && mkdir /run/netns; }
ip netns add peer
ip link set lo up
ip -n peer link set lo up
ip link add veth0 address 02:00:00:00:00:01 type veth peer name veth1 address 02:00:00:00:00:02
ip link set veth1 netns peer
echo 0 >/proc/sys/net/ipv6/conf/veth0/router_solicitations
ip netns exec peer sh -c 'echo 0 >/proc/sys/net/ipv6/conf/veth1/router_solicitations'
echo 0 >/proc/sys/net/ipv4/icmp_ratemask
echo 0 >/proc/sys/net/ipv4/icmp_ratelimit
echo 0 >/proc/sys/net/ipv6/icmp/ratelimit
if [ -e /proc/sys/net/ipv6/icmp/ratemask ]; then echo 200 >/proc/sys/net/ipv6/icmp/ratemask; fi
ip addr add 192.0.2.1/24 dev veth0
ip addr add 203.0.113.1/32 dev veth0
ip addr add 203.0.113.77/32 dev veth0
ip -6 addr add 2001:db8:f::1/64 dev veth0 nodad
ip -6 addr add 2001:db8:300::1/128 dev veth0 nodad
ip -6 addr add 2001:db8:300::4d/128 dev veth0 nodad
ip -n peer addr add 192.0.2.2/24 dev veth1
for a in 198.18.0.1 198.18.0.77 198.18.1.5 198.19.255.1; do ip -n peer addr add $a/32 dev veth1; done
ip -n peer -6 addr add 2001:db8:f::2/64 dev veth1 nodad
for a in 2001:db8:100::1 2001:db8:100::4d 2001:db8:101::5 2001:db8:1ff::1; do ip -n peer -6 addr add $a/128 dev veth1 nodad; done
ip link set veth0 up
ip -n peer link set veth1 up
ip route add 198.18.0.0/15 via 192.0.2.2
ip -6 route add 2001:db8:100::/40 via 2001:db8:f::2
ip -n peer route add 203.0.113.0/24 via 192.0.2.1
ip -n peer -6 route add 2001:db8:300::/48 via 2001:db8:f::1
";

/// The addresses a plan uses beyond the fixed ones: each extra source on
/// the peer (a host route to it on the policy side), each extra
/// destination on the policy side (a host route to it on the peer).
pub(super) fn extra_addr_setup(probes: &[InProbe]) -> String {
    let fixed_src = [parse_all(&gen::INPUT_SRC_V4), parse_all(&gen::INPUT_SRC_V6)].concat();
    let fixed_dst = [parse_all(&gen::INPUT_DST_V4), parse_all(&gen::INPUT_DST_V6)].concat();
    let srcs: BTreeSet<IpAddr> = probes
        .iter()
        .map(|p| p.src)
        .filter(|a| !fixed_src.contains(a))
        .collect();
    let dsts: BTreeSet<IpAddr> = probes
        .iter()
        .map(|p| p.dst)
        .filter(|a| !fixed_dst.contains(a))
        .collect();
    let mut s = String::from("set -e\n");
    for a in srcs {
        let _ = match a {
            IpAddr::V4(_) => writeln!(
                s,
                "ip -n peer addr add {a}/32 dev veth1\nip route add {a}/32 via 192.0.2.2"
            ),
            IpAddr::V6(_) => writeln!(
                s,
                "ip -n peer -6 addr add {a}/128 dev veth1 nodad\nip -6 route add {a}/128 via 2001:db8:f::2"
            ),
        };
    }
    for a in dsts {
        let _ = match a {
            IpAddr::V4(_) => writeln!(
                s,
                "ip addr add {a}/32 dev veth0\nip -n peer route add {a}/32 via 192.0.2.1"
            ),
            IpAddr::V6(_) => writeln!(
                s,
                "ip -6 addr add {a}/128 dev veth0 nodad\nip -n peer -6 route add {a}/128 via 2001:db8:f::1"
            ),
        };
    }
    s
}

pub(super) fn family(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    }
}

pub(super) fn wildcard(v6: bool, port: u16) -> SocketAddr {
    if v6 {
        SocketAddr::V6(SocketAddrV6::new(
            std::net::Ipv6Addr::UNSPECIFIED,
            port,
            0,
            0,
        ))
    } else {
        SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, port))
    }
}

pub(super) fn policy_side(dir: &Path) -> Result<(), String> {
    let probes =
        read_plan(&std::fs::read_to_string(dir.join("plan.txt")).map_err(|e| e.to_string())?)?;
    sh(NET_SETUP, &[])?;
    sh(&extra_addr_setup(&probes), &[])?;
    sh(&format!("nft -c -f {0}/ruleset.nft && nft -f {0}/ruleset.nft && nft list ruleset >{0}/listed.nft", dir.display()), &[])?;
    sh(
        &crate::probe::resolve_script(&[
            ("ip", "veth0", "192.0.2.2"),
            ("ip -6", "veth0", "2001:db8:f::2"),
            ("ip -n peer", "veth1", "192.0.2.1"),
            ("ip -n peer -6", "veth1", "2001:db8:f::1"),
        ]),
        &[],
    )?;
    let e = |what: &'static str| move |x: Errno| format!("{what}: {x}");
    // A TCP listener and a UDP socket on every probed (family, port).
    let mut keep = Vec::new();
    let mut udp: Vec<(u16, OwnedFd)> = Vec::new();
    let ports: BTreeSet<(bool, u8, u16)> = probes
        .iter()
        .filter(|p| !is_icmp(p.proto))
        .map(|p| (p.dst.is_ipv6(), p.proto, p.dport))
        .collect();
    for (v6, proto, port) in ports {
        let fam = if v6 {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        };
        let ty = if proto == 6 {
            SocketType::STREAM
        } else {
            SocketType::DGRAM
        };
        let fd = net::socket_with(fam, ty, SocketFlags::NONBLOCK, None).map_err(e("socket"))?;
        if v6 {
            net::sockopt::set_ipv6_v6only(&fd, true).map_err(e("IPV6_V6ONLY"))?;
        }
        net::bind(&fd, &wildcard(v6, port)).map_err(e("bind"))?;
        if proto == 6 {
            net::listen(&fd, 512).map_err(e("listen"))?;
            keep.push(fd);
        } else {
            udp.push((port, fd));
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new("ip")
        .args(["netns", "exec", "peer"])
        .arg(exe)
        .arg("__input_peer")
        .arg(dir)
        .output()
        .map_err(|e| format!("ip netns exec: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "peer failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Every datagram received: (source, source port, destination port).
    let mut got: HashSet<(IpAddr, u16, u16)> = HashSet::new();
    let mut buf = vec![0u8; 2048];
    for (port, fd) in &udp {
        while let Ok((_, _, Some(from))) = net::recvfrom(fd, &mut buf[..], RecvFlags::DONTWAIT) {
            if let Ok(a) = SocketAddr::try_from(from) {
                let ip = match a.ip() {
                    IpAddr::V6(v) => v.to_ipv4_mapped().map_or(IpAddr::V6(v), IpAddr::V4),
                    v4 => v4,
                };
                got.insert((ip, a.port(), *port));
            }
        }
    }
    drop(keep);
    let peer = std::fs::read_to_string(dir.join("peer.txt")).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for line in peer.lines() {
        let w: Vec<&str> = line.splitn(4, ' ').collect();
        let i: usize = w
            .get(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad peer line {line:?}"))?;
        let p = probes
            .get(i)
            .ok_or_else(|| format!("bad peer line {line:?}"))?;
        let mut obs = w.get(2).copied().unwrap_or("?");
        let mut detail = w.get(3).copied().unwrap_or("").to_string();
        if p.proto == 17 {
            let received = got.contains(&(p.src, probe_id(i), p.dport));
            if received {
                obs = "allow";
            }
            detail = format!("received={received} {detail}");
        }
        let _ = writeln!(out, "res {i} {obs} {detail}");
    }
    std::fs::write(dir.join("results.txt"), out).map_err(|e| e.to_string())
}

pub(super) struct Sent {
    fd: Option<OwnedFd>,
    err: Option<Errno>,
}

pub(super) fn peer_side(dir: &Path) -> Result<(), String> {
    let probes =
        read_plan(&std::fs::read_to_string(dir.join("plan.txt")).map_err(|e| e.to_string())?)?;
    let e = |what: &'static str| move |x: Errno| format!("{what}: {x}");
    // Echo replies arrive on these (raw sockets see every ICMP packet).
    let rx4 = net::socket_with(
        AddressFamily::INET,
        SocketType::RAW,
        SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMP),
    )
    .map_err(e("raw icmp socket"))?;
    let rx6 = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMPV6),
    )
    .map_err(e("raw icmpv6 socket"))?;
    let mut replies: HashSet<(IpAddr, u16)> = HashSet::new();
    let mut sent = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let id = probe_id(i);
        let fam = family(p.src);
        let src = SocketAddr::new(p.src, id);
        let dst = SocketAddr::new(p.dst, p.dport);
        match p.proto {
            6 | 17 => {
                let ty = if p.proto == 6 {
                    SocketType::STREAM
                } else {
                    SocketType::DGRAM
                };
                let fd =
                    net::socket_with(fam, ty, SocketFlags::NONBLOCK, None).map_err(e("socket"))?;
                net::bind(&fd, &src).map_err(|x| format!("bind {src}: {x}"))?;
                let mut err = match net::connect(&fd, &dst) {
                    Ok(()) => None,
                    Err(x) if x == Errno::INPROGRESS => None,
                    Err(x) => Some(x),
                };
                if p.proto == 17 && err.is_none() {
                    err = net::send(&fd, b"pol-probe", SendFlags::DONTWAIT).err();
                }
                sent.push(Sent { fd: Some(fd), err });
            }
            1 | 58 => {
                let proto = if p.proto == 1 {
                    net::ipproto::ICMP
                } else {
                    net::ipproto::ICMPV6
                };
                let fd = net::socket(fam, SocketType::RAW, Some(proto)).map_err(e("raw socket"))?;
                net::bind(&fd, &SocketAddr::new(p.src, 0))
                    .map_err(|x| format!("bind {}: {x}", p.src))?;
                let mut pkt = vec![if p.proto == 1 { 8u8 } else { 128u8 }, 0, 0, 0];
                pkt.extend_from_slice(&id.to_be_bytes());
                pkt.extend_from_slice(&1u16.to_be_bytes());
                pkt.extend_from_slice(b"pol-probe");
                if p.proto == 1 {
                    let c = checksum(&pkt);
                    pkt[2..4].copy_from_slice(&c.to_be_bytes());
                }
                // The kernel fills in the ICMPv6 checksum.
                let err =
                    net::sendto(&fd, &pkt, SendFlags::DONTWAIT, &SocketAddr::new(p.dst, 0)).err();
                sent.push(Sent { fd: None, err });
            }
            other => return Err(format!("unsupported probe protocol {other}")),
        }
        // Keep the receive buffers from filling up.
        drain_replies(&rx4, &rx6, &mut replies);
    }
    std::thread::sleep(WAIT);
    drain_replies(&rx4, &rx6, &mut replies);
    let mut out = String::new();
    for (i, (p, s)) in probes.iter().zip(&sent).enumerate() {
        let so_error =
            s.fd.as_ref()
                .and_then(|fd| match net::sockopt::socket_error(fd) {
                    Ok(Err(x)) => Some(x),
                    _ => None,
                });
        let refused = |x: Option<Errno>| matches!(x, Some(x) if x == Errno::CONNREFUSED || x == Errno::HOSTUNREACH || x == Errno::ACCESS);
        let refused = refused(so_error) || refused(s.err);
        let obs = match p.proto {
            6 => {
                let connected =
                    s.fd.as_ref()
                        .is_some_and(|fd| matches!(net::getpeername(fd), Ok(Some(_))));
                if refused {
                    Observed::Reject
                } else if connected && so_error.is_none() && s.err.is_none() {
                    Observed::Allow
                } else {
                    Observed::Drop
                }
            }
            // The policy side upgrades a received datagram to allow.
            17 => {
                if refused {
                    Observed::Reject
                } else {
                    Observed::Drop
                }
            }
            _ => {
                if replies.contains(&(p.dst, probe_id(i))) {
                    Observed::Allow
                } else {
                    Observed::Deny
                }
            }
        };
        let _ = writeln!(
            out,
            "res {i} {} send={:?} so_error={:?}",
            obs.as_str(),
            s.err,
            so_error
        );
    }
    std::fs::write(dir.join("peer.txt"), out).map_err(|e| e.to_string())
}

/// Every echo reply received since the last call, as (replier, echo id).
pub(super) fn drain_replies(rx4: &OwnedFd, rx6: &OwnedFd, replies: &mut HashSet<(IpAddr, u16)>) {
    let mut buf = vec![0u8; 4096];
    let be = |b: &[u8], i: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
    };
    // IPv4 raw sockets receive the IP header too.
    while let Ok((n, _, _)) = net::recvfrom(rx4, &mut buf[..], RecvFlags::DONTWAIT) {
        let b = &buf[..n.min(buf.len())];
        let ihl = usize::from(b.first().copied().unwrap_or(0) & 0x0f) * 4;
        if let (Some(src), Some(0), Some(id)) = (
            b.get(12..16)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(IpAddr::from),
            b.get(ihl).copied(),
            be(b, ihl + 4),
        ) {
            replies.insert((src, id));
        }
    }
    while let Ok((n, _, from)) = net::recvfrom(rx6, &mut buf[..], RecvFlags::DONTWAIT) {
        let b = &buf[..n.min(buf.len())];
        let src = from
            .and_then(|a| SocketAddr::try_from(a).ok())
            .map(|a| a.ip());
        if let (Some(src), Some(129), Some(id)) = (src, b.first().copied(), be(b, 4)) {
            replies.insert((src, id));
        }
    }
}
