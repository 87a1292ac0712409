#!/usr/bin/env python3
"""What one map element costs `nft -f` on this machine, by the kind of map
the kernel builds for it (issue 13's load target; docs/performance.md
"Data plane"): N elements (default 20,000) in one verdict map, loaded into
a fresh network namespace, median of 3 of wall, user and system time
(user is nft's parser and evaluation, system the kernel's set backend).

    scripts/dataplane/nft_floor.py [N] [--kernel] [--only=TEXT ...]   # root (unshare, nft)

--only=TEXT measures only the kinds whose name contains TEXT.

--kernel adds, from `perf record -g` of one more load, the time inside the
kernel's batch handler (nfnetlink_rcv_batch, inclusive): what loading
would cost with a parser that took no time at all.

Kinds: hash (exact IPv4 address . port), rbtree (IPv4 or IPv6 prefixes),
pipapo (concatenated intervals: prefix . protocol . port, with a single
port or a port range, IPv4 or IPv6), with and without a per-element
comment (polc's elements carry `comment "FILE:LINE"`).
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time



def v4(i):
    return f"10.{i >> 8 & 255}.{i & 255}"


KINDS = [
    ("hash: ipv4 . port", "ip daddr . th dport", False,
     lambda i: f"{v4(i)}.1 . {1000 + i % 50}"),
    ("rbtree: ipv4 /28", "ip daddr", True, lambda i: f"{v4(i)}.0/28"),
    ("rbtree: ipv6 /48", "ip6 daddr", True, lambda i: f"2001:db8:{i:x}::/48"),
    ("pipapo: ipv4 /28 . tcp . port", "ip daddr . meta l4proto . th dport", True,
     lambda i: f"{v4(i)}.0/28 . tcp . {1000 + i % 50}"),
    ("pipapo: ipv4 /28 . tcp . port range", "ip daddr . meta l4proto . th dport", True,
     lambda i: f"{v4(i)}.0/28 . tcp . {1000 + i % 50}-{1100 + i % 50}"),
    ("pipapo: ipv6 /48 . tcp . port", "ip6 daddr . meta l4proto . th dport", True,
     lambda i: f"2001:db8:{i:x}::/48 . tcp . {1000 + i % 50}"),
    ("pipapo: ipv4 /24 . ipv4 /28 . tcp . port", "ip saddr . ip daddr . meta l4proto . th dport", True,
     lambda i: f"172.16.{i % 200}.0/24 . {v4(i)}.0/28 . tcp . {1000 + i % 50}"),
    ("pipapo: ipv6 /48 . ipv6 /48 . tcp . port", "ip6 saddr . ip6 daddr . meta l4proto . th dport", True,
     lambda i: f"fd00:{i % 200:x}::/48 . 2001:db8:{i:x}::/48 . tcp . {1000 + i % 50}"),
    # Masked exact keys (`ip daddr & MASK . …`): the map holds each
    # prefix's first address, a hash lookup.
    ("hash: ipv4 & /28 . tcp . port", "ip daddr . meta l4proto . th dport", False,
     lambda i: f"{v4(i)}.0 . tcp . {1000 + i % 50}"),
    ("hash: ipv6 & /48 . tcp . port", "ip6 daddr . meta l4proto . th dport", False,
     lambda i: f"2001:db8:{i:x}:: . tcp . {1000 + i % 50}"),
    ("hash: ipv4 & /24 . ipv4 & /28 . tcp . port", "ip saddr . ip daddr . meta l4proto . th dport", False,
     lambda i: f"172.16.{i % 200}.0 . {v4(i)}.0 . tcp . {1000 + i % 50}"),
    ("hash: ipv6 & /48 . ipv6 & /48 . tcp . port", "ip6 saddr . ip6 daddr . meta l4proto . th dport", False,
     lambda i: f"fd00:{i % 200:x}:: . 2001:db8:{i:x}:: . tcp . {1000 + i % 50}"),
]


def ruleset(key, interval, elem, comment, n):
    lines = ["table inet floor {", "\tmap m {", f"\t\ttypeof {key} : verdict"]
    if interval:
        lines.append("\t\tflags interval")
    lines.append("\t\telements = {")
    c = ' comment "policy.pol:{}"' if comment else ""
    lines.append(",\n".join(f"\t\t\t{elem(i)}{c.format(i)} : accept" for i in range(n)))
    lines += ["\t\t}", "\t}", "\tchain out {",
              "\t\ttype filter hook output priority 0; policy accept;",
              f"\t\t{key} vmap @m", "\t}", "}"]
    return "\n".join(lines) + "\n"


def run(path):
    """Load `path` with `nft -f` into a fresh network namespace: wall,
    user and system seconds (classes_floor.py uses it too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(["unshare", "-n", "nft", "-f", path], capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"nft -f {path} failed: {r.stderr[:500]}")
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def in_kernel(path, d):
    """Milliseconds perf samples in nfnetlink_rcv_batch (children) for one load."""
    data = os.path.join(d, "perf.data")
    subprocess.run(["unshare", "-n", "perf", "record", "-q", "-g", "-o", data, "nft", "-f", path],
                   capture_output=True, check=True)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "sym",
                          "-g", "none"], capture_output=True, text=True).stdout
    total = pct = None
    for line in rep.splitlines():
        if "Event count" in line:
            total = int(line.split()[-1])
        w = line.split()
        if len(w) >= 4 and w[-1] == "nfnetlink_rcv_batch" and pct is None:
            pct = float(w[0].rstrip("%"))
    if total is None or pct is None:
        return float("nan")
    return total * pct / 100 / 1e6  # cpu-clock events are nanoseconds


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 20000
    kernel = "--kernel" in sys.argv
    only = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")]
    extra = " kernel's batch handler | per element |" if kernel else ""
    print(f"| map kind ({n} elements) | comment | wall | user | system | per element |{extra}")
    print("|---|---|---:|---:|---:|---:|" + ("---:|---:|" if kernel else ""))
    with tempfile.TemporaryDirectory() as d:
        for name, key, interval, elem in KINDS:
            if only and not any(o in name for o in only):
                continue
            for comment in (False, True):
                path = os.path.join(d, "r.nft")
                with open(path, "w") as f:
                    f.write(ruleset(key, interval, elem, comment, n))
                runs = sorted((run(path) for _ in range(3)), key=lambda x: x[0])
                wall, user, sys_ = runs[1]
                row = (f"| {name} | {'yes' if comment else 'no'} | {wall * 1000:.0f} ms "
                       f"| {user * 1000:.0f} ms | {sys_ * 1000:.0f} ms | {wall / n * 1e6:.1f} µs |")
                if kernel:
                    k = in_kernel(path, d)
                    row += f" {k:.0f} ms | {k / n * 1000:.1f} µs |"
                print(row)


if __name__ == "__main__":
    main()
