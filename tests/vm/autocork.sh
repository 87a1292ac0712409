#!/bin/bash
# TCP autocorking set by a policy's tuning, observed (issue 14, the seed's
# experiment). Runs INSIDE the VM with two CPUs:
#
#   scripts/vm run --cpus 2 -- env POLC=/path/to/polc bash tests/vm/autocork.sh [WORKDIR]
#
# Two network namespaces over a veth: the sender (`eth0`, 10.0.0.1) and the
# receiver (10.0.0.2). Two small policies, `tuning { net.ipv4.tcp_autocorking
# = on; qdisc "eth0" fq }` and the same with `off`, are built with polc and
# their tuning.sh run in the sender's namespace (tcp_autocorking is per
# network namespace), after the opposite value was written there, so what
# is observed is the policy's doing. Then a TCP sender (python3,
# TCP_NODELAY, 128-byte writes for SECS seconds, default 2) and the
# TcpExtTCPAutoCorking counter of the sender's namespace (/proc/net/netstat)
# before and after. Checks: with `on` it rises by at least 20, with `off` it
# does not move.
#
# Why two CPUs and RPS: the counter rises only while an earlier segment of
# the flow is still owned by the sender's socket (queued in fq or on its way
# to the receiver). Over a veth on one CPU the receiver processes and frees
# each segment at once, so the counter stays near 0 whatever the setting
# (KERNEL-FACTS, "TCP autocorking, observed"). Here the receiver's veth
# steers its receive processing to CPU 1 (RPS, rps_cpus = 2) and the sender
# runs on CPU 0: measured 129-400 per run with `on` under TCG.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"
[ -r /polc-vm/mode ] || {
    echo "not in the VM (run through scripts/vm run --cpus 2)" >&2
    exit 2
}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$HERE/netprobe.py
WORK=${1:-$(mktemp -d /tmp/polc-autocork.XXXXXX)}
mkdir -p "$WORK"
SECS=${SECS:-2}
MIN_ON=20
failed=0
T0=$SECONDS

fail() {
    echo "FAIL: $*"
    failed=1
}
[ "$(nproc)" -ge 2 ] || {
    echo "needs two CPUs (scripts/vm run --cpus 2): the receiver's processing runs on the second" >&2
    exit 2
}
S() { nsenter --net=/run/netns/polc-snd "$@"; }
R() { nsenter --net=/run/netns/polc-rcv "$@"; }

modprobe -a sch_fq
ip netns add polc-snd
ip netns add polc-rcv
ip link add eth0 netns polc-snd type veth peer name rcv0 netns polc-rcv
S ip -batch - <<EOF
link set lo up
addr add 10.0.0.1/24 dev eth0
link set eth0 up
EOF
R ip -batch - <<EOF
link set lo up
addr add 10.0.0.2/24 dev rcv0
link set rcv0 up
EOF
# RPS: the receiver's veth hands its packets to CPU 1's backlog.
ip netns exec polc-rcv sh -c 'echo 2 >/sys/class/net/rcv0/queues/rx-0/rps_cpus'
R taskset -c 1 python3 "$PROBE" serve --ready "$WORK/rcv.ready" --log "$WORK/rcv.log" --tcp-sink 10.0.0.2/5001 &
RCV_PID=$!
trap 'kill "$RCV_PID" 2>/dev/null || true' EXIT

for v in on off; do
    cat >"$WORK/autocork-$v.pol" <<EOF
# The sender's side of the autocorking experiment.
tuning {
    net.ipv4.tcp_autocorking = $v
    qdisc "eth0" fq
}
EOF
    if ! out=$("$POLC" build "$WORK/autocork-$v.pol" -o "$WORK/$v" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
done

for i in $(seq 100); do
    [ -e "$WORK/rcv.ready" ] && break
    sleep 0.1
done
[ -e "$WORK/rcv.ready" ] || {
    echo "the receiver did not start" >&2
    exit 1
}

# corking: TcpExtTCPAutoCorking of the sender's namespace.
corking() {
    local names values i
    {
        read -ra names
        read -ra values
    } <<<"$(S grep '^TcpExt:' /proc/net/netstat)"
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = TCPAutoCorking ]; then
            echo "${values[$i]}"
            return
        fi
    done
    echo "no TCPAutoCorking in /proc/net/netstat" >&2
    exit 1
}

declare -A delta
for v in on off; do
    if [ "$v" = on ]; then want=1 opposite=0; else want=0 opposite=1; fi
    S sh -c "echo $opposite >/proc/sys/net/ipv4/tcp_autocorking"
    rc=0
    out=$(S sh "$WORK/$v/tuning.sh" 2>&1) || rc=$?
    now=$(S cat /proc/sys/net/ipv4/tcp_autocorking)
    qdisc=$(S tc qdisc show dev eth0 | sed -n '1s/^qdisc \([^ ]*\) [^ ]*: /\1 /p')
    echo "tcp_autocorking = $v: tuning.sh exit $rc${out:+ ($out)}, net.ipv4.tcp_autocorking $opposite -> $now, eth0: ${qdisc%% *}"
    if [ "$rc" != 0 ] || [ "$now" != "$want" ]; then
        fail "tuning.sh of autocork-$v.pol did not set tcp_autocorking = $want"
    fi
    [ "${qdisc%% *}" = fq ] || fail "tuning.sh of autocork-$v.pol did not put fq on eth0"
    before=$(corking)
    sent=$(S taskset -c 0 python3 "$PROBE" cork-send 10.0.0.2/5001 "$SECS" 128)
    after=$(corking)
    delta[$v]=$((after - before))
    echo "tcp_autocorking = $v: TcpExtTCPAutoCorking $before -> $after (+${delta[$v]}) over $SECS s, ${sent% bytes*} of 128 bytes"
done
echo "fq on the sender's eth0: $qdisc"
if [ "${delta[on]}" -ge "$MIN_ON" ] && [ "${delta[off]}" = 0 ]; then
    echo "autocorking counter: on +${delta[on]} (at least $MIN_ON), off +${delta[off]}: the policy's setting decides it"
else
    echo "autocorking counter: on +${delta[on]}, off +${delta[off]}"
    fail "wanted at least $MIN_ON with on and 0 with off"
fi

echo "autocork.sh scenario: $((SECONDS - T0)) s in the VM" >&2
[ "$failed" = 0 ] || exit 1
echo "all checks passed"
