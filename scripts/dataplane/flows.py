#!/usr/bin/env python3
"""Per-new-flow cost of a loaded ruleset (issue 13), run inside a fresh
network namespace (`unshare -n`): a veth routes 203.0.113.0/24 away; UDP
datagrams to fresh ports of 203.0.113.9 (which no benchmark rule allows,
so each new flow traverses the whole policy to its `default drop`) are
sent from one socket, and the time per `sendto` (EPERM) is measured:
first against an empty `policy drop` chain, then against RULESET.
Prints `empty US` (the empty chain before and after the ruleset, mean of
the two medians), `preamble US` (a chain holding only the stateful
preamble: conntrack's cost), `ruleset US` (medians of 3 batches of BATCH
sends).
With FROM (an IPv4 address, added to the veth), the datagrams are sent
from it too, and `inside US` is printed: for a policy whose subjects are
source networks, a FROM inside one of them makes each new flow go through
that network's part of the policy (its bucket), not past it.

    unshare -n python3 flows.py RULESET [BATCH] [FROM]
"""
import socket
import statistics
import subprocess
import sys
import time

ruleset = sys.argv[1]
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
source = sys.argv[3] if len(sys.argv) > 3 else None


def sh(cmd, inp=None):
    subprocess.run(cmd, shell=True, check=True, input=inp, text=True)


sh("ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 192.0.2.1/24 dev v0 "
   "&& ip link set v0 up && ip link set v1 up && ip route add 203.0.113.0/24 via 192.0.2.2 "
   "&& ip -6 addr add 2001:db8:f::1/64 dev v0 nodad")


def per_flow(bind=None, n=None):
    n = n or batch
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bind:
        s.bind((bind, 0))
    runs = []
    port = 1
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            port = port % 60000 + 1
            try:
                s.sendto(b"x", ("203.0.113.9", 5000 + port % 60000))
            except PermissionError:
                pass
        runs.append((time.perf_counter() - t0) / n * 1e6)
    s.close()
    return statistics.median(runs)


EMPTY = "table inet bench {\n chain o {\n  type filter hook output priority filter; policy drop;\n }\n}\n"
# The stateful preamble alone (what every polc chain starts with): its
# cost is conntrack's, the same for every policy.
PREAMBLE = ("table inet bench {\n chain o {\n  type filter hook output priority filter; policy drop;\n"
            "  ct state established,related accept\n  ct state invalid drop\n }\n}\n")
base_n = max(batch, 5000)
sh("nft -f -", EMPTY)
empties = [per_flow(n=base_n)]
sh("nft delete table inet bench")
sh("nft -f -", PREAMBLE)
preamble = per_flow(n=base_n)
sh("nft delete table inet bench")
sh(f"nft -f {ruleset}")
full = per_flow()
inside = None
if source:
    sh(f"ip addr add {source}/32 dev v0")
    inside = per_flow(source)
# The empty chain again, after: the baseline is the mean of both.
table = next(l.split()[2] for l in open(ruleset) if l.startswith("table inet "))
sh(f"nft delete table inet {table}")
sh("nft -f -", EMPTY)
empties.append(per_flow(n=base_n))
print(f"empty {statistics.mean(empties):.2f}")
print(f"preamble {preamble:.2f}")
print(f"ruleset {full:.2f}")
if inside is not None:
    print(f"inside {inside:.2f}")
