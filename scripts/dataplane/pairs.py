"""`polc build` minus `polc check` on one policy, measured in pairs.

    python3 scripts/dataplane/pairs.py POLC POLICY OUTDIR ROUNDS [BUILD FLAGS...]

Runs `polc check POLICY` then `polc build POLICY -o OUTDIR FLAGS`, back to
back, ROUNDS times, and prints the medians of the differences: wall and
CPU (user + system, from the children's rusage), in milliseconds. On a
noisy 2-core machine the difference of two separately taken medians of
~2 s commands can be off by more than the backend's whole cost; a pair
shares the machine's state of the moment, and CPU time ignores waits.
"""
import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_utime + ru.ru_stime


def main():
    polc, policy, out, rounds = sys.argv[1:5]
    flags = sys.argv[5:]
    wall, cpu = [], []
    for _ in range(int(rounds)):
        cw, cc = run([polc, "check", policy])
        bw, bc = run([polc, "build", policy, "-o", out, *flags])
        wall.append(bw - cw)
        cpu.append(bc - cc)
    print(f"{statistics.median(wall) * 1000:.0f} {statistics.median(cpu) * 1000:.0f}")


if __name__ == "__main__":
    main()
