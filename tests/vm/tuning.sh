#!/bin/bash
# tuning.sh for real (issue 14): the sysctls and qdiscs of the examples'
# `tuning` blocks, on Debian's kernel (this machine's lacks sch_fq and most
# qdiscs). Runs INSIDE the VM, whose initial network namespace is
# throwaway, so host-wide sysctls are fine:
#
#   scripts/vm run -- env POLC=/path/to/polc bash tests/vm/tuning.sh [WORKDIR]
#
# 1. Every example with a `tuning` block (today examples/tuning.pol): a
#    dummy interface for each qdisc target (eth0), each sysctl first set to
#    another value, then tuning.sh --check and tuning.sh: every sysctl of the
#    build's sysctl.conf reads back as written, `tc -j qdisc show` shows the
#    policy's qdisc kind at the root, and a second run changes nothing.
# 2. Every qdisc kind the language accepts (QDISCS in
#    lang/src/resolve/tuning.rs), each on its own dummy, through the
#    generated tuning.sh: applied and shown by tc, or refused by tuning.sh
#    with a message naming it (tuning.sh stops at the first refusal, so the
#    policy is rebuilt without the kinds already tried).
# 3. A note (not a check): tuning.sh --check of examples/tuning.pol in a
#    child network namespace, where host-wide sysctls do not exist.
# One line per check; exits 0 only when all hold.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"
[ -r /polc-vm/mode ] || {
    echo "not in the VM (run through scripts/vm run)" >&2
    exit 2
}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${1:-$(mktemp -d /tmp/polc-tuning.XXXXXX)}
mkdir -p "$WORK"
failed=0
T0=$SECONDS

fail() {
    echo "FAIL: $*"
    failed=1
}
build() { # FILE DIR
    local out
    if ! out=$("$POLC" build "$1" -o "$2" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
}
proc_path() { # KEY: its /proc/sys path (keys here have no slashes)
    echo "/proc/sys/${1//.//}"
}
# Values other than the examples' (and the kernel's defaults), written
# before tuning.sh so that each read-back shows tuning.sh's own write.
other_value() {
    case $1 in
    net.core.default_qdisc) echo pfifo_fast ;;
    net.ipv4.tcp_congestion_control) echo reno ;;
    net.ipv4.tcp_autocorking) echo 0 ;;
    net.ipv4.tcp_notsent_lowat) echo 4294967295 ;;
    net.ipv4.tcp_pacing_ss_ratio) echo 150 ;;
    net.ipv4.tcp_pacing_ca_ratio) echo 110 ;;
    net.ipv4.tcp_limit_output_bytes) echo 262144 ;;
    esac
}
modprobe -a dummy sch_fq

# ------------------------------------------------------------ 1. the examples

examples=()
for f in "$REPO"/examples/*.pol; do
    grep -q '^[[:space:]]*tuning[[:space:]]*{' "$f" && examples+=("$f")
done
echo "examples with a tuning block: ${examples[*]##*/}"
[ "${#examples[@]}" -gt 0 ] || fail "no example has a tuning block"
for f in "${examples[@]}"; do
    name=${f##*/}
    dir=$WORK/${name%.pol}
    build "$f" "$dir"
    # The qdisc targets, as dummies.
    qlines=()
    while IFS= read -r l; do
        [[ $l == "set_qdisc "* ]] && qlines+=("$l")
    done <"$dir/tuning.sh"
    for l in "${qlines[@]}"; do
        read -r _ dev kind _ <<<"$l"
        dev=${dev//\'/} kind=${kind//\'/}
        ip link show dev "$dev" >/dev/null 2>&1 || ip link add "$dev" type dummy
        ip link set dev "$dev" up
        echo "$name: tc qdisc on $dev before tuning.sh: $(tc qdisc show dev "$dev" | awk 'NR == 1 { print $2 }')"
    done
    # The sysctls (`key = value` lines of sysctl.conf), set to other values.
    keys=() values=() befores=()
    while IFS= read -r l; do
        [[ $l == \#* || $l != *" = "* ]] && continue
        keys+=("${l%% = *}")
        values+=("${l#* = }")
    done <"$dir/sysctl.conf"
    for i in "${!keys[@]}"; do
        v=$(other_value "${keys[$i]}")
        [ -n "$v" ] && echo "$v" >"$(proc_path "${keys[$i]}")"
        befores+=("$(<"$(proc_path "${keys[$i]}")")")
    done
    rc=0
    out=$(sh "$dir/tuning.sh" --check 2>&1) || rc=$?
    echo "$name: tuning.sh --check: exit $rc${out:+ ($out)}"
    [ "$rc" = 0 ] || fail "$name: tuning.sh --check failed"
    rc=0
    out=$(sh "$dir/tuning.sh" 2>&1) || rc=$?
    echo "$name: tuning.sh: exit $rc${out:+ ($out)}"
    [ "$rc" = 0 ] || fail "$name: tuning.sh failed"
    for i in "${!keys[@]}"; do
        now=$(tr -s ' \t' '  ' <"$(proc_path "${keys[$i]}")")
        echo "$name: ${keys[$i]} = ${values[$i]}: ${befores[$i]} -> $now"
        [ "$now" = "${values[$i]}" ] || fail "$name: ${keys[$i]} reads back $now, not ${values[$i]}"
    done
    for l in "${qlines[@]}"; do
        read -r _ dev kind _ <<<"$l"
        dev=${dev//\'/} kind=${kind//\'/}
        # `qdisc KIND HANDLE: root refcnt N PARAMETERS...`, without the handle.
        shown=$(tc qdisc show dev "$dev" | sed -n '1s/^qdisc \([^ ]*\) [^ ]*: /\1 /p')
        json_kind=$(tc -j qdisc show dev "$dev" | jq -r '.[] | select(.root) | .kind')
        echo "$name: tc qdisc show dev $dev: $shown"
        if [ "$json_kind" != "$kind" ] || [ "${shown%% *}" != "$kind" ]; then
            fail "$name: the root qdisc of $dev is not $kind"
        fi
    done
    # Again: nothing to change, the same values.
    state() {
        local k
        for k in "${keys[@]}"; do cat "$(proc_path "$k")"; done
        for l in "${qlines[@]}"; do
            read -r _ dev _ <<<"$l"
            tc qdisc show dev "${dev//\'/}" | head -n 1
        done
    }
    s1=$(state)
    rc=0
    out=$(sh "$dir/tuning.sh" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ "$(state)" = "$s1" ]; then
        echo "$name: tuning.sh again: exit 0, nothing changed"
    else
        echo "$name: tuning.sh again: exit $rc, state changed${out:+ ($out)}"
        fail "$name: tuning.sh is not idempotent"
    fi
done

# ------------------------------------------------------------ 2. every qdisc kind

# One dummy per kind, left down: a down device has no qdisc (noop) until one
# is attached, so what tc shows afterwards is tuning.sh's doing.

list=$(sed -n '/pub const QDISCS/,/^];/p' "$REPO/lang/src/resolve/tuning.rs" | grep -o '"[a-z_]*"' | tr -d '"')
read -ra kinds <<<"${list//$'\n'/ }"
echo "qdisc kinds the language accepts: ${kinds[*]} (${#kinds[@]})"
[ "${#kinds[@]}" -gt 0 ] || fail "cannot read QDISCS from lang/src/resolve/tuning.rs"
for k in "${kinds[@]}"; do
    ip link add "q-$k" type dummy
done
applied=() refused=() todo=("${kinds[@]}")
round=0
while [ "${#todo[@]}" -gt 0 ]; do
    round=$((round + 1))
    {
        echo "tuning {"
        for k in "${todo[@]}"; do echo "    qdisc \"q-$k\" $k"; done
        echo "}"
    } >"$WORK/kinds-$round.pol"
    build "$WORK/kinds-$round.pol" "$WORK/kinds-$round"
    rc=0
    out=$(sh "$WORK/kinds-$round/tuning.sh" 2>&1) || rc=$?
    # The kinds before the one it stopped at were applied.
    next=()
    stop=
    for k in "${todo[@]}"; do
        if [ -n "$stop" ]; then
            next+=("$k")
        elif [ "$rc" != 0 ] && [[ $out == *" q-$k "* || $out == *"qdisc $k "* ]] &&
            [ "$(tc qdisc show dev "q-$k" | awk 'NR == 1 { print $2 }')" != "$k" ]; then
            stop=$k
            refused+=("$k")
            echo "qdisc $k: refused by tuning.sh (exit $rc): ${out//$'\n'/ }"
        else
            applied+=("$k")
        fi
    done
    if [ "$rc" != 0 ] && [ -z "$stop" ]; then
        fail "tuning.sh failed without naming a qdisc: $out"
        break
    fi
    todo=("${next[@]}")
done
shown_ok=()
for k in "${applied[@]}"; do
    got=$(tc -j qdisc show dev "q-$k" | jq -r '.[] | select(.root) | .kind')
    if [ "$got" = "$k" ]; then shown_ok+=("$k"); else fail "qdisc $k: tc shows ${got:-nothing} at the root of q-$k"; fi
done
echo "qdisc kinds tuning.sh applied, as tc shows them: ${shown_ok[*]} (${#shown_ok[@]})"
echo "qdisc kinds tuning.sh refused: ${refused[*]:-none} (${#refused[@]})"
[ $((${#shown_ok[@]} + ${#refused[@]})) = "${#kinds[@]}" ] || fail "not every kind was applied or refused"
for k in fq fq_codel cake; do
    [[ " ${shown_ok[*]} " == *" $k "* ]] || fail "qdisc $k was not applied"
done

# ------------------------------------------------------------ 3. a child namespace

rc=0
out=$(unshare -n sh "$WORK/tuning/tuning.sh" --check 2>&1) || rc=$?
echo "note: tuning.pol's tuning.sh --check in a child network namespace: exit $rc${out:+ ($out)}"

echo "tuning.sh scenario: $((SECONDS - T0)) s in the VM" >&2
if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "all checks passed"
