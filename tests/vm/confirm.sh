#!/bin/bash
# `polc apply --confirm SECS` under a real systemd as PID 1 (issue 12): the
# revert is a transient systemd timer, it fires when nobody confirms, and
# `polc confirm` disarms it. Runs INSIDE the VM:
#
#   scripts/vm run --systemd -- env POLC=/path/to/polc bash tests/vm/confirm.sh [WORKDIR]
#
# Policy A allows 192.0.2.0/24 udp 9; policy B allows udp 10 and sets
# net.ipv4.tcp_autocorking = 0. `polc apply A`, then `polc apply B --confirm
# 3`, unconfirmed: the timer polc-revert-pol-N.timer is listed, and once it
# fires the current generation is A's again, the table has A's rule only,
# tcp_autocorking has its value from before B, and `polc status` is clean.
# Then `polc apply B --confirm 30` and `polc confirm --any-session`: past the window
# B is still current and the timer is gone. Writes /var/lib/polc and /etc —
# the VM's overlay, thrown away with it. One line per check; exits 0 only
# when all hold.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"
[ "$(cat /proc/1/comm)" = systemd ] || {
    echo "not under systemd as PID 1 (run through scripts/vm run --systemd)" >&2
    exit 2
}
[ ! -e /var/lib/polc/pol ] || {
    echo "/var/lib/polc/pol exists: run this in the VM, whose / is a throwaway overlay" >&2
    exit 2
}
WORK=${1:-$(mktemp -d /tmp/polc-confirm.XXXXXX)}
mkdir -p "$WORK"
CURRENT=/var/lib/polc/pol/current
failed=0

fail() {
    echo "FAIL: $*"
    failed=1
}

cat >"$WORK/a.pol" <<'EOF'
policy egress {
    hook output
    default drop
    allow to 192.0.2.0/24 udp 9
}
EOF
cat >"$WORK/b.pol" <<'EOF'
tuning {
    net.ipv4.tcp_autocorking = 0
}

policy egress {
    hook output
    default drop
    allow to 192.0.2.0/24 udp 10
}
EOF
for p in a b; do
    if ! built=$("$POLC" build "$WORK/$p.pol" -o "$WORK/$p" 2>&1); then
        echo "$built" >&2
        exit 1
    fi
done

# The udp ports table inet pol accepts, e.g. `9` or `10`.
ports() {
    nft list table inet pol 2>/dev/null | sed -n 's/.*udp dport \([0-9]*\) accept.*/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
autocorking() {
    cat /proc/sys/net/ipv4/tcp_autocorking
}
generation() {
    readlink "$CURRENT" 2>/dev/null || echo none
}
# The polc-revert timers systemd knows (loaded, any state), or `none`.
timers() {
    local t
    t=$(systemctl list-timers --all --no-legend 'polc-revert-*' 2>/dev/null |
        grep -o 'polc-revert-[a-z0-9-]*\.timer' | sort -u | tr '\n' ' ' | sed 's/ $//')
    echo "${t:-none}"
}
now() {
    echo "${EPOCHREALTIME/,/.}"
}
since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

corking0=$(autocorking)

# 1. A, applied and kept.
out=$("$POLC" apply "$WORK/a" 2>&1) || {
    echo "$out" >&2
    exit 1
}
gen_a=$(generation)
echo "apply A: current -> $gen_a, udp ports $(ports), tcp_autocorking $(autocorking)"
[ "$(ports)" = 9 ] || fail "A's table does not accept exactly udp 9"

# 2. B with --confirm 8, not confirmed: the timer reverts it.
t0=$(now)
out=$("$POLC" apply "$WORK/b" --confirm 8 2>&1) || {
    echo "$out" >&2
    exit 1
}
# B's state, read at once: the timer fires 8 s after it was armed, and
# under TCG each command here takes a good part of a second.
t1=$(now)
gen_b=$(generation)
corking_b=$(autocorking)
pending_b=no
[ -e /var/lib/polc/pol/pending.json ] && pending_b=yes
ports_b=$(ports)
timers_b=$(timers)
read -r up_b _ </proc/uptime
n=${gen_b##*/}
timer=polc-revert-pol-$n.timer
echo "apply B --confirm 8: current -> $gen_b, udp ports $ports_b, tcp_autocorking $corking_b, pending $pending_b (apply took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; read by $up_b s of uptime)"
armed=$(grep -o 'systemd timer [^ ;,)]*' <<<"$out" || true)
echo "apply B --confirm 8: armed with: ${armed:-?}"
[ "$armed" = "systemd timer $timer" ] || fail "not armed with systemd timer $timer: $out"
echo "apply B --confirm 8: list-timers: $timers_b"
[ "$timers_b" = "$timer" ] || fail "systemctl list-timers does not show $timer"
[ "$ports_b" = 10 ] || fail "B's table does not accept exactly udp 10"
[ "$corking_b" = 0 ] || fail "B did not set tcp_autocorking = 0"
[ "$pending_b" = yes ] || fail "no pending.json after apply --confirm"
# Not confirmed. Wait for the revert (the timer fires at 8 s; the rollback
# runs A's apply.sh), at most 40 s.
for _ in $(seq 400); do
    [ "$(generation)" = "$gen_a" ] && [ ! -e /var/lib/polc/pol/pending.json ] && break
    sleep 0.1
done
sleep 1 # let the rollback service finish and the transient units go
echo "not confirmed: $(since "$t1") s after apply returned, current -> $(generation), udp ports $(ports), tcp_autocorking $(autocorking) (before B: $corking0), timers: $(timers)"
[ "$(generation)" = "$gen_a" ] || fail "not reverted to A ($gen_a)"
[ "$(ports)" = 9 ] || fail "the table after the revert does not accept exactly udp 9"
[ "$(autocorking)" = "$corking0" ] || fail "tcp_autocorking not restored to $corking0"
[ "$(timers)" = none ] || fail "timers left after the revert: $(timers)"
# When the timer was armed and fired, and what the revert did (journal,
# seconds of uptime).
journalctl -b -o short-monotonic --no-pager -u "polc-revert-pol-$n.timer" -u "polc-revert-pol-$n.service" 2>/dev/null |
    sed -n 's/^\[ *\([0-9.]*\)\] [^ ]* [^:]*: /\1 s: /p' | sed 's/^/  journal: /' || true
if st=$("$POLC" status 2>&1); then
    echo "not confirmed: polc status: $(tail -n 1 <<<"$st")"
else
    fail "polc status after the revert: $st"
fi

# 3. B with --confirm 30, confirmed: it stays past the window. (The window
# starts when the revert is armed, before the apply's kernel changes, so it
# must be longer than the apply, which takes up to ~20 s under TCG on a
# loaded machine.)
armed_at=$(date +%s)
out=$("$POLC" apply "$WORK/b" --confirm 30 2>&1) || {
    echo "$out" >&2
    exit 1
}
gen_b2=$(generation)
timer2=polc-revert-pol-${gen_b2##*/}.timer
echo "apply B --confirm 30: current -> $gen_b2, list-timers: $(timers)"
[ "$(timers)" = "$timer2" ] || fail "systemctl list-timers does not show $timer2"
out=$("$POLC" confirm --any-session 2>&1) || fail "polc confirm --any-session: $out"
echo "confirm --any-session: $(tail -n 1 <<<"$out"); timers: $(timers)"
left=$((armed_at + 32 - $(date +%s)))
[ "$left" -le 0 ] || sleep "$left"
echo "confirmed, past the window: current -> $(generation), udp ports $(ports), tcp_autocorking $(autocorking), timers: $(timers)"
[ "$(generation)" = "$gen_b2" ] || fail "B ($gen_b2) did not stay after confirm"
[ "$(ports)" = 10 ] || fail "the table after confirm does not accept exactly udp 10"
[ "$(autocorking)" = 0 ] || fail "tcp_autocorking is not B's 0 after confirm"
[ "$(timers)" = none ] || fail "timer still there after confirm: $(timers)"
if st=$("$POLC" status 2>&1); then
    echo "confirmed: polc status: $(tail -n 1 <<<"$st")"
else
    fail "polc status after confirm: $st"
fi

if [ "$failed" -ne 0 ]; then
    {
        echo "--- nft list ruleset"
        nft list ruleset
        echo "--- journal"
        journalctl -b --no-pager -o short-monotonic | grep -i polc | tail -n 40
    } >&2
    exit 1
fi
echo "all checks passed"
