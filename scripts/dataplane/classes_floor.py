#!/usr/bin/env python3
"""What the address-class rendering would cost to load (issue 13's load
target; docs/decisions.md "The data plane"), measured on
gen_srcnet.py's policy of N rules (default 10,000), against polc's own
rendering of the same policy.

Address classes: each source address maps to a class (here: its source
pool, IPv4 and IPv6 alike), each destination address to one (a pool's
nested subnet, or the rest of the pool); the rules' cells are keyed on
(source class, destination class, protocol, port) — an exact hash
element per cell, or a port-range element in a second, interval map.
The kernel can chain a lookup's result into the next lookup's key, but
nft 1.0.6's language cannot say so (a map lookup inside a concatenation
is a syntax error, in text and in JSON); this script carries the class
through `meta mark` and `ct mark` instead. That is NOT something polc
may emit (it clobbers the host's marks): it only gives nft and the
kernel the same number and kinds of elements and lookups, so the load
time measured here is what polc's own netlink writer would pay, plus
nft's parser (which that writer would not).

    scripts/dataplane/classes_floor.py [N] [--keep DIR]   # root (unshare, nft)

Prints the element counts and `nft -f` wall/user/system (median of 3)
for the class rendering and for `polc build`'s ruleset.nft.
"""
import ipaddress
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_srcnet  # noqa: E402
import nft_floor  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(args[0]) if args else 10000
keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
if keep in args:
    args.remove(keep)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pieces(outer, inner):
    """`outer` minus `inner` (both networks, inner inside outer), as at
    most two address ranges."""
    o, i = ipaddress.ip_network(outer), ipaddress.ip_network(inner)
    out = []
    if o.network_address < i.network_address:
        out.append(f"{o.network_address}-{i.network_address - 1}")
    if i.broadcast_address < o.broadcast_address:
        out.append(f"{i.broadcast_address + 1}-{o.broadcast_address}")
    return out


def class_ruleset(networks, rules):
    src_class, dst_class = {}, {}
    sc = {4: [], 6: []}
    dc = {4: [], 6: []}
    for name, prefixes in networks.items():
        if name.startswith("src"):
            c = src_class[name] = len(src_class) + 1
            for fam, p in zip((4, 6), prefixes):
                sc[fam].append(f"{p} : {c:#x}")
        elif name.startswith("dst"):
            i = name[3:]
            rest = dst_class[name] = 2 * int(i) + 1
            sub = dst_class[f"sub{i}"] = 2 * int(i) + 2
            for fam, (p, q) in enumerate(zip(prefixes, networks[f"sub{i}"])):
                fam = (4, 6)[fam]
                dc[fam] += [f"{x} : {rest:#x}" for x in pieces(p, q)] + [f"{q} : {sub:#x}"]
    exact, ranges = [], []
    verdicts = {"allow": "accept", "drop": "drop", "reject": "goto do-reject"}
    for line, (verdict, src, dst, svc) in enumerate(rules, 1):
        s = src_class[src]
        ds = [dst_class[dst]] if dst.startswith("sub") else [dst_class[dst], dst_class[dst] + 1]
        c = f' comment "p.pol:{line}" : {verdicts[verdict]}'
        for d in ds:
            if isinstance(svc, str):
                exact += [f"{s:#x} . {d:#x} . {proto} . {port}{c}"
                          for proto, port in gen_srcnet.SERVICES[svc]]
            else:
                ranges.append(f"{s:#x} . {d:#x} . {svc[0]} . {svc[1]}-{svc[2]}{c}")

    def amap(name, typ, elems, interval):
        flags = "\t\tflags interval\n" if interval else ""
        body = ",\n".join(f"\t\t\t{e}" for e in elems)
        return f"\tmap {name} {{\n\t\ttype {typ}\n{flags}\t\telements = {{\n{body}\n\t\t}}\n\t}}\n"

    key = "mark . mark . inet_proto . inet_service : verdict"
    text = "table inet classes {\n"
    text += amap("sc4", "ipv4_addr : mark", sc[4], True) + amap("sc6", "ipv6_addr : mark", sc[6], True)
    text += amap("dc4", "ipv4_addr : mark", dc[4], True) + amap("dc6", "ipv6_addr : mark", dc[6], True)
    text += amap("cells", key, exact, False) + amap("cell_ranges", key, ranges, True)
    text += """\tchain do-reject {
\t\treject
\t}
\tchain out {
\t\ttype filter hook output priority 0; policy drop;
\t\tct state established,related accept
\t\tmeta mark set 0 ct mark set 0
\t\tmeta nfproto ipv4 meta mark set ip saddr map @sc4
\t\tmeta nfproto ipv4 ct mark set ip daddr map @dc4
\t\tmeta nfproto ipv6 meta mark set ip6 saddr map @sc6
\t\tmeta nfproto ipv6 ct mark set ip6 daddr map @dc6
\t\tmeta mark . ct mark . meta l4proto . th dport vmap @cells
\t\tmeta mark . ct mark . meta l4proto . th dport vmap @cell_ranges
\t}
}
"""
    counts = {"source classes": len(sc[4]) + len(sc[6]), "destination classes": len(dc[4]) + len(dc[6]),
              "exact cells": len(exact), "port-range cells": len(ranges)}
    return text, counts


def tuple_ruleset(networks, rules):
    """The same policy as masked exact keys (no marks): one hash map per
    (family, source prefix length, destination prefix length), keyed on
    `ip saddr & MASK . ip daddr & MASK . meta l4proto . th dport`, looked
    up most specific first; port ranges in an interval map per family.
    Exact for this policy: its source pools are all /24 (/48), and no
    source has rules on both a pool and its nested subnet."""
    verdicts = {"allow": "accept", "drop": "drop", "reject": "goto do-reject"}
    maps = {}  # (fam, slen, dlen) -> elements
    ranges = {4: [], 6: []}
    for line, (verdict, src, dst, svc) in enumerate(rules, 1):
        c = f' comment "p.pol:{line}" : {verdicts[verdict]}'
        for fam, (s, d) in zip((4, 6), zip(networks[src], networks[dst])):
            sn, dn = ipaddress.ip_network(s), ipaddress.ip_network(d)
            if isinstance(svc, str):
                maps.setdefault((fam, sn.prefixlen, dn.prefixlen), []).extend(
                    f"{sn.network_address} . {dn.network_address} . {proto} . {port}{c}"
                    for proto, port in gen_srcnet.SERVICES[svc])
            else:
                ranges[fam].append(f"{s} . {d} . {svc[0]} . {svc[1]}-{svc[2]}{c}")
    text = "table inet tuples {\n"
    lookups = []
    addr = {4: ("ip", "ipv4_addr", 32), 6: ("ip6", "ipv6_addr", 128)}
    for (fam, sl, dl) in sorted(maps, key=lambda k: (k[0], -k[1], -k[2])):
        kw, typ, bits = addr[fam]
        name = f"t{fam}_{sl}_{dl}"
        text += (f"\tmap {name} {{\n\t\ttype {typ} . {typ} . inet_proto . inet_service : verdict\n"
                 f"\t\telements = {{\n" + ",\n".join(f"\t\t\t{e}" for e in maps[fam, sl, dl])
                 + "\n\t\t}\n\t}\n")
        sm = ipaddress.ip_network(f"{'0.0.0.0' if fam == 4 else '::'}/{sl}").netmask
        dm = ipaddress.ip_network(f"{'0.0.0.0' if fam == 4 else '::'}/{dl}").netmask
        lookups.append(f"\t\t{kw} saddr & {sm} . {kw} daddr & {dm} . meta l4proto . th dport vmap @{name}")
    for fam in (4, 6):
        kw = addr[fam][0]
        text += (f"\tmap r{fam} {{\n\t\ttypeof {kw} saddr . {kw} daddr . meta l4proto . th dport : verdict\n"
                 f"\t\tflags interval\n\t\telements = {{\n" + ",\n".join(f"\t\t\t{e}" for e in ranges[fam])
                 + "\n\t\t}\n\t}\n")
        lookups.append(f"\t\t{kw} saddr . {kw} daddr . meta l4proto . th dport vmap @r{fam}")
    text += ("\tchain do-reject {\n\t\treject\n\t}\n\tchain out {\n"
             "\t\ttype filter hook output priority 0; policy drop;\n"
             "\t\tct state established,related accept\n" + "\n".join(lookups) + "\n\t}\n}\n")
    counts = {"hash maps": len(maps), "exact cells": sum(map(len, maps.values())),
              "port-range cells": len(ranges[4]) + len(ranges[6])}
    return text, counts


def median_load(path):
    wall, user, sys_ = sorted((nft_floor.run(path) for _ in range(3)), key=lambda x: x[0])[1]
    return f"{wall * 1000:.0f} ms | {user * 1000:.0f} ms | {sys_ * 1000:.0f} ms"


networks, rules = gen_srcnet.generate(n)
with tempfile.TemporaryDirectory() as d:
    d = keep or d
    os.makedirs(d, exist_ok=True)
    text, counts = class_ruleset(networks, rules)
    classes = os.path.join(d, "classes.nft")
    with open(classes, "w") as f:
        f.write(text)
    ttext, tcounts = tuple_ruleset(networks, rules)
    tuples = os.path.join(d, "tuples.nft")
    with open(tuples, "w") as f:
        f.write(ttext)
    pol = os.path.join(d, "p.pol")
    with open(pol, "w") as f:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/dataplane/gen_srcnet.py"), str(n)],
                       stdout=f, check=True)
    polc = os.path.join(ROOT, "target/release/polc")
    subprocess.run([polc, "build", pol, "-o", os.path.join(d, "polc")], capture_output=True, check=True)
    polc_nft = os.path.join(d, "polc", "ruleset.nft")
    with open(polc_nft) as f:
        polc_elems = sum(1 for line in f if " : " in line and "comment" in line)
    print(f"{n} rules: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print("masked keys: " + ", ".join(f"{v} {k}" for k, v in tcounts.items()))
    print(f"polc build: {polc_elems} map elements")
    print("| rendering | nft -f wall | user | system |\n|---|---:|---:|---:|")
    print(f"| address classes (through marks) | {median_load(classes)} |")
    print(f"| masked exact keys (no marks) | {median_load(tuples)} |")
    print(f"| polc build (dispatch) | {median_load(polc_nft)} |")
