//! The namespaced side of the kernel test: runs as `kernel __in_ns DIR`
//! inside `unshare -n -m` (a private network and mount namespace).
//!
//! It mounts cgroup2 at /sys/fs/cgroup, builds a veth whose far end (in a
//! namespace of its own) answers neighbor discovery and takes in nothing
//! else, routes the probe destinations out of it, runs cgroups.sh, loads
//! ruleset.nft, has the kernel resolve the next hops under it, and then,
//! for each context of the plan, moves itself into that context's cgroup
//! v2 directory and net_cls class, sends every probe from fresh sockets,
//! and sees which probes leave the veth (an AF_PACKET socket) — and, for
//! TCP and UDP, which were refused (reject) rather than dropped.

use super::plan::{probe_id, read_plan, Observed};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, Protocol, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::num::NonZeroU32;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const NET_SETUP: &str = "set -e
# `ip netns add` keeps its files in /run/netns: a private tmpfs there (or,
# when the host has no /run/netns, on /run) leaves no trace on the host.
mount -t tmpfs pol-netns /run/netns 2>/dev/null || { mount -t tmpfs pol-run /run && mkdir /run/netns; }
ip netns add sink
ip link set lo up
ip link add veth0 type veth peer name veth1
ip link set veth1 netns sink
echo 0 >/proc/sys/net/ipv6/conf/veth0/router_solicitations
ip addr add 192.0.2.1/24 dev veth0
ip -6 addr add 2001:db8:f::1/64 dev veth0 nodad
ip -n sink addr add 192.0.2.2/24 dev veth1
ip -n sink -6 addr add 2001:db8:f::2/64 dev veth1 nodad
ip link set veth0 up
ip -n sink link set veth1 up
# The next hop answers neighbor discovery and ARP and takes in nothing
# else: no answers (TCP resets, ICMP errors) come back to the probes.
echo 'table inet sink { chain pre { type filter hook prerouting priority raw; policy drop; icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept; }; }' | ip netns exec sink nft -f -
ip route add 198.18.0.0/15 via 192.0.2.2
ip -6 route add 2001:db8:100::/40 via 2001:db8:f::2
# Rejects answer with ICMP errors, which the kernel rate-limits (per
# netns: 1000 a second in bursts of 50, and per peer): probes send more.
for f in ipv4/icmp_msgs_per_sec ipv4/icmp_msgs_burst; do
    if [ -w /proc/sys/net/$f ]; then echo 1000000 >/proc/sys/net/$f; fi
done
echo 0 >/proc/sys/net/ipv4/icmp_ratelimit
echo 0 >/proc/sys/net/ipv6/icmp/ratelimit
";

/// After the ruleset is loaded: the kernel resolves a next hop itself
/// (`managed` neighbours: no address is pre-filled), so IPv6 neighbor
/// discovery must pass the policy (issue 14). The script waits until every
/// `(ip prefix, dev, address)` is REACHABLE and fails after 5 s.
pub fn resolve_script(hops: &[(&str, &str, &str)]) -> String {
    let mut s = String::from("set -e\n");
    let mut all = Vec::new();
    for (ip, dev, addr) in hops {
        s.push_str(&format!("{ip} neigh replace {addr} dev {dev} managed\n"));
        all.push(format!(
            "{ip} neigh show {addr} dev {dev} | grep -q REACHABLE"
        ));
    }
    s.push_str(&format!(
        "i=0\nuntil {}; do\n    i=$((i + 1))\n    if [ $i -gt 100 ]; then\n        echo \"the next hops did not resolve under the ruleset: $({})\" >&2\n        exit 1\n    fi\n    sleep 0.05\ndone\n",
        all.join(" && "),
        hops.iter()
            .map(|(ip, dev, _)| format!("{ip} neigh show dev {dev}"))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    s
}

/// This side's next hops.
pub const NEXT_HOPS: [(&str, &str, &str); 2] = [
    ("ip", "veth0", "192.0.2.2"),
    ("ip -6", "veth0", "2001:db8:f::2"),
];

pub fn sh(script: &str, envs: &[(&str, &str)]) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .envs(envs.iter().copied())
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed ({}):\n{}{}",
            script.lines().next().unwrap_or(""),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn child_main(dir: &Path) -> i32 {
    match run(dir) {
        Ok(()) => 0,
        Err(e) => {
            let _ = std::fs::write(dir.join("error"), &e);
            eprintln!("kernel test child: {e}");
            1
        }
    }
}

/// The net_cls mount point (cgroups.sh mounted it).
fn net_cls_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.len() > 3 && w[2] == "cgroup" && w[3].split(',').any(|o| o == "net_cls"))
            .then(|| w[1].to_string())
    })
}

fn join(procs: &str) -> Result<(), String> {
    std::fs::write(procs, format!("{}\n", std::process::id()))
        .map_err(|e| format!("cannot join {procs}: {e}"))
}

fn run(dir: &Path) -> Result<(), String> {
    sh("mount -t cgroup2 none /sys/fs/cgroup", &[])?;
    sh(NET_SETUP, &[])?;
    if dir.join("setup.sh").exists() {
        sh(&format!("sh {}/setup.sh", dir.display()), &[])?;
    }
    let netcls_dir = dir.join("net_cls");
    let netcls_s = netcls_dir.to_string_lossy().into_owned();
    sh(
        &format!("sh {}/cgroups.sh", dir.display()),
        &[("POL_NET_CLS", &netcls_s)],
    )?;
    let (ctxs, probes) =
        read_plan(&std::fs::read_to_string(dir.join("plan.txt")).map_err(|e| e.to_string())?);
    // The cgroups of `unit`/`slice` groups are systemd's to create; here the
    // test plays systemd. Then the ruleset and the elements of every cgroup
    // that exists load in one transaction, as apply.sh does.
    for c in &ctxs {
        if let Some(p) = &c.cgroup {
            std::fs::create_dir_all(format!("/sys/fs/cgroup/{p}")).map_err(|e| e.to_string())?;
        }
    }
    sh(&format!("{{ cat {0}/ruleset.nft; sh {0}/refresh.sh --print; }} >{0}/load.nft && nft -c -f {0}/load.nft && nft -f {0}/load.nft && nft list ruleset >{0}/listed.nft", dir.display()), &[])?;
    sh(&resolve_script(&NEXT_HOPS), &[])?;
    let orig = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_else(|| "/".into());
    let netcls = net_cls_mount();
    let cap = capture_socket()?;
    drain(&cap);
    let mut out = String::new();
    let result = (|| -> Result<(), String> {
        for (ci, c) in ctxs.iter().enumerate() {
            match &c.cgroup {
                Some(p) => join(&format!("/sys/fs/cgroup/{p}/cgroup.procs"))?,
                None => join(&format!("/sys/fs/cgroup{orig}/cgroup.procs"))?,
            }
            if let Some(m) = &netcls {
                if c.classid == 0 {
                    join(&format!("{m}/cgroup.procs"))?;
                } else {
                    join(&format!("{m}/pol/{:08x}/cgroup.procs", c.classid))?;
                }
            } else if c.classid != 0 {
                return Err("no net_cls mount".into());
            }
            let mut sent = Vec::new();
            let mut seen = HashSet::new();
            for (pi, p) in probes.iter().enumerate() {
                sent.push(send_probe(p, probe_id(ci, pi, probes.len()))?);
                // Drain as we go: the capture buffer must not overflow.
                seen.extend(drain(&cap));
            }
            std::thread::sleep(Duration::from_millis(40));
            seen.extend(drain(&cap));
            for (pi, (p, s)) in probes.iter().zip(&sent).enumerate() {
                let dst: IpAddr = p
                    .dst
                    .parse()
                    .map_err(|_| format!("bad address {}", p.dst))?;
                let key = (
                    p.proto,
                    dst,
                    if is_icmp(p.proto) { 0 } else { p.dport },
                    probe_id(ci, pi, probes.len()),
                );
                let so_error = s.sock_err();
                let obs = if seen.contains(&key) {
                    Observed::Allow
                } else {
                    s.classify(so_error)
                };
                let _ = writeln!(out, "res {ci} {pi} {} {}", obs.as_str(), s.detail(so_error));
            }
        }
        Ok(())
    })();
    // Leave the test cgroups so the driver can remove them.
    let _ = join(&format!("/sys/fs/cgroup{orig}/cgroup.procs"));
    if let Some(m) = &netcls {
        let _ = join(&format!("{m}/cgroup.procs"));
    }
    std::fs::write(dir.join("results.txt"), out).map_err(|e| e.to_string())?;
    result
}

fn is_icmp(proto: u8) -> bool {
    proto == 1 || proto == 58
}

struct Sent {
    fd: Option<OwnedFd>,
    proto: u8,
    send_err: Option<Errno>,
}

impl Sent {
    fn sock_err(&self) -> Option<Errno> {
        let fd = self.fd.as_ref()?;
        match net::sockopt::socket_error(fd) {
            Ok(Err(e)) => Some(e),
            _ => None,
        }
    }
    /// Reads (and so clears) SO_ERROR once.
    fn classify(&self, so_error: Option<Errno>) -> Observed {
        let refused = matches!(so_error, Some(e) if e == Errno::CONNREFUSED || e == Errno::HOSTUNREACH || e == Errno::ACCESS);
        match self.proto {
            6 => {
                if refused || self.send_err == Some(Errno::CONNREFUSED) {
                    Observed::Reject
                } else {
                    Observed::Drop
                }
            }
            17 => {
                if refused {
                    Observed::Reject
                } else {
                    Observed::Drop
                }
            }
            _ => Observed::Deny,
        }
    }
    fn detail(&self, so_error: Option<Errno>) -> String {
        format!("send={:?} so_error={:?}", self.send_err, so_error)
    }
}

fn send_probe(p: &super::plan::Probe, id: u16) -> Result<Sent, String> {
    let fam = if p.v6 {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let dst: IpAddr = p
        .dst
        .parse()
        .map_err(|_| format!("bad address {}", p.dst))?;
    let e = |x: Errno| format!("socket: {x}");
    match p.proto {
        6 | 17 => {
            let ty = if p.proto == 6 {
                SocketType::STREAM
            } else {
                SocketType::DGRAM
            };
            let fd = net::socket_with(fam, ty, SocketFlags::NONBLOCK, None).map_err(e)?;
            let res = match dst {
                IpAddr::V4(a) => {
                    net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), id))
                        .map_err(e)?;
                    net::connect(&fd, &SocketAddrV4::new(a, p.dport))
                }
                IpAddr::V6(a) => {
                    net::bind(
                        &fd,
                        &SocketAddrV6::new(
                            "2001:db8:f::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                            id,
                            0,
                            0,
                        ),
                    )
                    .map_err(e)?;
                    net::connect(&fd, &SocketAddrV6::new(a, p.dport, 0, 0))
                }
            };
            let mut send_err = match res {
                Ok(()) => None,
                Err(x) if x == Errno::INPROGRESS => None,
                Err(x) => Some(x),
            };
            if p.proto == 17 && send_err.is_none() {
                send_err = net::send(&fd, b"pol-probe", SendFlags::DONTWAIT).err();
            }
            Ok(Sent {
                fd: Some(fd),
                proto: p.proto,
                send_err,
            })
        }
        1 | 58 => {
            let proto = if p.proto == 1 {
                net::ipproto::ICMP
            } else {
                net::ipproto::ICMPV6
            };
            let fd = net::socket(fam, SocketType::RAW, Some(proto)).map_err(e)?;
            let mut pkt = vec![if p.proto == 1 { 8u8 } else { 128u8 }, 0, 0, 0];
            pkt.extend_from_slice(&id.to_be_bytes());
            pkt.extend_from_slice(&1u16.to_be_bytes());
            pkt.extend_from_slice(b"pol-probe");
            if p.proto == 1 {
                let c = checksum(&pkt);
                pkt[2..4].copy_from_slice(&c.to_be_bytes());
            }
            let res = match dst {
                IpAddr::V4(a) => {
                    net::sendto(&fd, &pkt, SendFlags::DONTWAIT, &SocketAddrV4::new(a, 0))
                }
                IpAddr::V6(a) => net::sendto(
                    &fd,
                    &pkt,
                    SendFlags::DONTWAIT,
                    &SocketAddrV6::new(a, 0, 0, 0),
                ),
            };
            Ok(Sent {
                fd: None,
                proto: p.proto,
                send_err: res.err(),
            })
        }
        other => Err(format!("unsupported probe protocol {other}")),
    }
}

/// The Internet checksum (RFC 1071) of `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for ch in b.chunks(2) {
        let w = if ch.len() == 2 {
            u16::from_be_bytes([ch[0], ch[1]])
        } else {
            u16::from_be_bytes([ch[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn capture_socket() -> Result<OwnedFd, String> {
    let all = NonZeroU32::new(u32::from(0x0003u16.to_be())).ok_or("ETH_P_ALL")?;
    net::socket_with(
        AddressFamily::PACKET,
        SocketType::RAW,
        SocketFlags::NONBLOCK,
        Some(Protocol::from_raw(all)),
    )
    .map_err(|e| format!("AF_PACKET socket: {e}"))
}

type Key = (u8, IpAddr, u16, u16);

/// Every probe packet seen on any interface since the last call, as
/// (protocol, destination, destination port or 0, source port or echo id).
fn drain(cap: &OwnedFd) -> HashSet<Key> {
    let mut seen = HashSet::new();
    let mut buf = vec![0u8; 65536];
    while let Ok((n, _)) = net::recv(cap, &mut buf[..], RecvFlags::DONTWAIT) {
        if let Some(k) = parse_frame(&buf[..n.min(buf.len())]) {
            seen.insert(k);
        }
    }
    seen
}

fn parse_frame(f: &[u8]) -> Option<Key> {
    let ethertype = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    let ip = f.get(14..)?;
    let (proto, dst, l4) = match ethertype {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (*ip.get(9)?, IpAddr::V4(Ipv4Addr::from(d)), ip.get(ihl..)?)
        }
        0x86dd => {
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (*ip.get(6)?, IpAddr::V6(Ipv6Addr::from(d)), ip.get(40..)?)
        }
        _ => return None,
    };
    let be = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*l4.get(i)?, *l4.get(i + 1)?])) };
    match proto {
        6 | 17 => Some((proto, dst, be(2)?, be(0)?)),
        1 if l4.first() == Some(&8) => Some((proto, dst, 0, be(4)?)),
        58 if l4.first() == Some(&128) => Some((proto, dst, 0, be(4)?)),
        _ => None,
    }
}
