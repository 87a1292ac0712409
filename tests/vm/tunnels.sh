#!/bin/bash
# The vti6 tunnel of examples/corp-tunnel.pol for real (issue 14): its whole
# build applied on a host namespace, ESP to a gateway namespace, the policy's
# verdicts observed from processes. Runs INSIDE the VM (Debian's kernel has
# ip6_vti, esp6 and xfrm; this machine's does not):
#
#   scripts/vm run -- env POLC=/path/to/polc bash tests/vm/tunnels.sh [WORKDIR]
#
# Two network namespaces joined by a veth (the underlay): `polc-host`
# (2001:db8::1, later also the LAN address 192.0.2.1) and `polc-gw`
# (2001:db8:ffff::1, the corporate addresses 10.20.1.1 and 2001:db8:100::1
# behind a vti6 of its own). On the host side: `polc build`, then apply.sh
# (cgroups.sh, tunnels.sh, tuning.sh, the ruleset). Both ends get what an
# IKE daemon installs for a vti with key 42 (strongSwan's `mark=42`):
# tunnel-mode ESP states (rfc4106(gcm(aes)), fixed keys, xfrm mark 42,
# `flag af-unspec` so one SA carries IPv4 and IPv6) and policies with mark
# 42 whose selectors are the policy's corporate routes. Neighbour caches are
# not pre-filled: the host resolves the gateway by ND through its own
# `default drop` policy.
#
# Checks, one line each: the vti6 link, address and routes tunnels.sh made;
# corp-apps traffic (UDP and TCP, IPv4 and IPv6) echoed through the tunnel,
# the ESP SAs' counters rising on both ends, only ESP (and ND) on the
# underlay; traffic from outside corp-apps dropped (EPERM for UDP, TCP
# pending) with no ESP counter moving; IKE (udp 500 to the gateway) allowed
# under corp-tunnel.pol and dropped under ike-blocked.pol, as `polc check`
# says; tunnels.sh run again changes nothing, fixes a vti6 changed by hand in
# place, and refuses a non-vti6 link of its name and a second vti6 on the
# same endpoints and key. Exits 0 only when all hold.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"
[ -r /polc-vm/mode ] || {
    echo "not in the VM (run through scripts/vm run)" >&2
    exit 2
}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROBE=$HERE/netprobe.py
WORK=${1:-$(mktemp -d /tmp/polc-tunnels.XXXXXX)}
mkdir -p "$WORK"
POL=$REPO/examples/corp-tunnel.pol
IKE_BLOCKED=$REPO/tests/fixtures/verifier/ike-blocked.pol
DEV=vti6-corp-vpn
HOST=2001:db8::1
GW=2001:db8:ffff::1
failed=0
T0=$SECONDS

fail() {
    echo "FAIL: $*"
    failed=1
}
H() { nsenter --net=/run/netns/polc-host "$@"; }
G() { nsenter --net=/run/netns/polc-gw "$@"; }

modprobe -a ip6_vti esp6 esp4 xfrm_user

# ------------------------------------------------------------ polc check, build

# check FILE: runs `polc check --format json FILE` once and sets CHECK to
# `exit N, CODES: IKE`, IKE being the P0211 findings ("blocks the IKE or
# ESP of tunnel ...") with their witnesses, e.g. `P0211 (udp 40000 -> 500
# drop)`, or `no P0211`.
check() {
    local json rc=0
    json=$("$POLC" check --format json "$1" 2>/dev/null) || rc=$?
    CHECK="exit $rc, $(jq -r '([.diagnostics[].code] | unique | if length == 0 then "no findings" else join(" ") end)
        + ": " + ([.diagnostics[] | select(.code == "P0211")
            | "P0211 (\(.witness.proto) \(.witness.sport) -> \(.witness.dport) \(.witness.verdict))"]
           | if length == 0 then "no P0211" else join(", ") end)' <<<"$json")"
}
check "$POL"
echo "polc check corp-tunnel.pol: $CHECK"
[ "$CHECK" = "exit 0, no findings: no P0211" ] || fail "corp-tunnel.pol does not check clean"
if ! out=$("$POLC" build "$POL" -o "$WORK/corp" 2>&1); then
    echo "$out" >&2
    exit 1
fi

# ------------------------------------------------------------ the two ends

ip netns add polc-host
ip netns add polc-gw
ip link add ul0 netns polc-host type veth peer name ul1 netns polc-gw
# DAD is skipped (nodad) so the addresses are usable at once; neighbours are
# left to ND.
H ip -batch - <<EOF
link set lo up
addr add $HOST/32 dev ul0 nodad
link set ul0 up
EOF
G ip -batch - <<EOF
link set lo up
addr add $GW/32 dev ul1 nodad
link set ul1 up
link add vti6-gw type vti6 local $GW remote $HOST key 42
link set vti6-gw up
addr add 10.20.1.1/32 dev lo
addr add 2001:db8:100::1/128 dev lo
route add fd00:42::/64 dev vti6-gw
route add 192.0.2.1/32 dev vti6-gw
EOF

# What an IKE daemon installs for a vti with key 42: tunnel-mode ESP SAs
# with mark 42 (the vti looks them up with its key as the mark), one per
# direction, and policies with mark 42 whose selectors are the tunnel's
# routes. `flag af-unspec` (strongSwan sets XFRM_STATE_AF_UNSPEC too):
# without it the SA's selector is IPv6-only and IPv4 through the tunnel
# finds no state (XfrmOutNoStates).
KEY_OUT=0x0123456789abcdef0123456789abcdef01234567
KEY_IN=0xfedcba9876543210fedcba9876543210fedcba98
SPI_OUT=0x00001001 # host -> gateway
SPI_IN=0x00001002  # gateway -> host
sas() {
    cat <<EOF
xfrm state add src $HOST dst $GW proto esp spi $SPI_OUT reqid 1 mode tunnel flag af-unspec mark 42 aead rfc4106(gcm(aes)) $KEY_OUT 128
xfrm state add src $GW dst $HOST proto esp spi $SPI_IN reqid 1 mode tunnel flag af-unspec mark 42 aead rfc4106(gcm(aes)) $KEY_IN 128
EOF
}
# policies SIDE: SIDE is host or gw; one pair per route of the tunnel.
policies() {
    local any net out_dir in_dir
    if [ "$1" = host ]; then out_dir=out in_dir=in; else out_dir=in in_dir=out; fi
    for net in 10.20.0.0/16 2001:db8:100::/48; do
        case $net in *:*) any=::/0 ;; *) any=0.0.0.0/0 ;; esac
        echo "xfrm policy add dir $out_dir src $any dst $net mark 42 tmpl src $HOST dst $GW proto esp reqid 1 mode tunnel"
        echo "xfrm policy add dir $in_dir src $net dst $any mark 42 tmpl src $GW dst $HOST proto esp reqid 1 mode tunnel"
    done
}
{ sas; policies host; } | H ip -batch -
{ sas; policies gw; } | G ip -batch -

# ------------------------------------------------------------ apply the build

# apply LABEL DIR: apply.sh of a build on the host side.
apply() {
    local out rc=0
    out=$(H sh "$2/apply.sh" 2>&1) || rc=$?
    echo "apply.sh ($1) on the host side: exit $rc: ${out##*$'\n'}"
    [ "$rc" = 0 ] || {
        echo "$out" >&2
        exit 1
    }
}
apply corp-tunnel.pol "$WORK/corp"

# link: sets LINK (`ifindex N vti6 local A remote B ikey K okey K mtu M
# up|down`), ADDRS (its global addresses) and ROUTES (the routes via it
# that are not the kernel's), as the kernel has them.
link() {
    local out
    out=$({
        H ip -d -j addr show dev "$DEV"
        H ip -j -4 route show dev "$DEV"
        H ip -j -6 route show dev "$DEV"
    } | jq -r -s '(.[0][0] |
            "ifindex \(.ifindex) \(.linkinfo.info_kind) local \(.linkinfo.info_data.local) remote \(.linkinfo.info_data.remote) ikey \(.linkinfo.info_data.ikey) okey \(.linkinfo.info_data.okey) mtu \(.mtu) \(if any(.flags[]; . == "UP") then "up" else "down" end)",
            ([.addr_info[] | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | join(" "))),
        ([(.[1] // [])[], (.[2] // [])[] | select(.protocol != "kernel") | .dst] | sort | join(" "))')
    {
        read -r LINK || true
        read -r ADDRS || true
        read -r ROUTES || true
    } <<<"$out"
}
ROUTES_WANT="10.20.0.0/16 2001:db8:100::/48"
LINK_WANT="vti6 local $HOST remote $GW ikey 0.0.0.42 okey 0.0.0.42 mtu 1400 up"
link
echo "vti6 link: $DEV ${LINK#ifindex * }"
[ "${LINK#ifindex * }" = "$LINK_WANT" ] || fail "the link is not the policy's vti6: $LINK"
echo "vti6 address: $ADDRS"
[ "$ADDRS" = fd00:42::1/64 ] || fail "the link's address is not fd00:42::1/64"
echo "vti6 routes: $ROUTES"
[ "$ROUTES" = "$ROUTES_WANT" ] || fail "the routes via $DEV are not the policy's"
dp=$(H cat "/proc/sys/net/ipv6/conf/$DEV/disable_policy")
echo "vti6 disable_policy: $dp"

# The policy gives the tunnel an IPv6 address only: with no IPv4 address on
# the host, IPv4 to the corporate routes has no source address (0.0.0.0,
# which the gateway drops as a martian). Shown, not asserted; the host then
# gets a LAN address, as a dual-stack host has, which the gateway routes
# back through its vti6.
out=$(H ip -4 -o route get 10.20.1.1)
src4=
if [[ $out == *" src "* ]]; then
    src4=${out#* src }
    src4=${src4%% *}
fi
echo "note: IPv4 source for 10.20.1.1 while the host has no IPv4 address: ${src4:-none (0.0.0.0)}"
H ip addr add 192.0.2.1/24 dev ul0
out=$(H ip -6 neigh show dev ul0)
echo "neighbours on ul0 before any traffic: ${out:-none}"

# ------------------------------------------------------------ traffic

# The gateway's side: UDP and TCP echo on the corporate addresses, a UDP
# sink on udp 500 (IKE).
G python3 "$PROBE" serve --ready "$WORK/gw.ready" --log "$WORK/gw.log" \
    --echo 10.20.1.1/9000 --echo 2001:db8:100::1/9000 --sink "$GW/500" &
GW_PID=$!
CAP_PID=
cleanup() {
    kill "$GW_PID" 2>/dev/null || true
    if [ -n "$CAP_PID" ]; then kill "$CAP_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
wait_file() {
    local i
    for i in $(seq 100); do
        [ -e "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    exit 1
}
wait_file "$WORK/gw.ready"

# esp NS: the lifetime counters of NS's ESP states, `SPI BYTES PACKETS` per
# line (from ip -s xfrm state).
esp() {
    local line spi='' next=0 text
    text=$("$1" ip -s xfrm state)
    while IFS= read -r line; do
        if [ "$next" = 1 ]; then
            next=0
            echo "$spi ${line//[!0-9 ]/}"
        fi
        case $line in
        *"proto esp spi "*)
            spi=${line#*spi }
            spi=${spi%%(*}
            ;;
        *"lifetime current:"*) next=1 ;;
        esac
    done <<<"$text"
}
# counters: `HOST_OUT GW_IN GW_OUT HOST_IN`, each `BYTES PACKETS`.
counters() {
    local h g want spi l vals=()
    h=$(esp H)
    g=$(esp G)
    for want in "$h $SPI_OUT" "$g $SPI_OUT" "$g $SPI_IN" "$h $SPI_IN"; do
        spi=${want##* }
        while IFS= read -r l; do
            # shellcheck disable=SC2206 # "BYTES PACKETS": two numbers
            [ "${l%% *}" = "$spi" ] && vals+=(${l#* })
        done <<<"${want% *}"
    done
    echo "${vals[*]}"
}
show_sa() { # LABEL BYTES0 PACKETS0 BYTES1 PACKETS1
    echo "ESP $1: $3 -> $5 packets, $2 -> $4 bytes"
}
prefix() { # PREFIX TEXT: TEXT's lines with PREFIX
    local l
    while IFS= read -r l; do echo "$1$l"; done <<<"$2"
}

H python3 "$PROBE" capture ul0 --ready "$WORK/cap.ready" --stop "$WORK/cap.stop" --out "$WORK/cap.out" &
CAP_PID=$!
wait_file "$WORK/cap.ready"
read -ra b <<<"$(counters)"
corp=$(H "$POLC" exec "$POL" corp-apps -- python3 "$PROBE" client 10.20.1.1/9000 2001:db8:100::1/9000)
read -ra a <<<"$(counters)"
touch "$WORK/cap.stop"
wait "$CAP_PID" || true
CAP_PID=
prefix "corp-apps: " "$corp"
for p in "udp 10.20.1.1/9000 src 192.0.2.1" "tcp 10.20.1.1/9000 src 192.0.2.1" \
    "udp 2001:db8:100::1/9000 src fd00:42::1" "tcp 2001:db8:100::1/9000 src fd00:42::1"; do
    [[ $'\n'$corp$'\n' == *$'\n'"$p echoed"$'\n'* ]] || fail "corp-apps: $p not echoed through the tunnel"
done
show_sa "$SPI_OUT host -> gateway, on the host (out)" "${b[0]}" "${b[1]}" "${a[0]}" "${a[1]}"
show_sa "$SPI_OUT host -> gateway, on the gateway (in)" "${b[2]}" "${b[3]}" "${a[2]}" "${a[3]}"
show_sa "$SPI_IN gateway -> host, on the gateway (out)" "${b[4]}" "${b[5]}" "${a[4]}" "${a[5]}"
show_sa "$SPI_IN gateway -> host, on the host (in)" "${b[6]}" "${b[7]}" "${a[6]}" "${a[7]}"
rose=yes
for i in 1 3 5 7; do
    [ "${a[$i]}" -gt "${b[$i]}" ] || rose=no
done
echo "corp-apps traffic: ESP packet counters rose on both ends in both directions: $rose"
[ "$rose" = yes ] || fail "an ESP counter did not rise"
read -r _ frames _ esp_n _ nd_n _ other_n _ marker_n <"$WORK/cap.out"
echo "underlay capture on ul0 during corp-apps traffic: $frames frames: $esp_n ESP, $nd_n ICMPv6 ND/MLD, $other_n other, $marker_n with the payload in clear"
while IFS= read -r l; do
    [[ $l == other:* ]] && echo "  $l"
done <"$WORK/cap.out"
if [ "$esp_n" -eq 0 ] || [ "$other_n" != 0 ] || [ "$marker_n" != 0 ]; then
    fail "the underlay carried something other than ESP and ND"
fi
out=$(H ip -6 neigh show dev ul0)
neigh=
while IFS= read -r l; do
    read -ra f <<<"$l"
    [ "${f[0]:-}" = "$GW" ] && neigh=${f[${#f[@]} - 1]}
done <<<"$out"
echo "neighbour $GW on ul0: ${neigh:-none} (resolved by ND through the policy, not pre-filled)"
case $neigh in
REACHABLE | STALE | DELAY | PROBE) ;;
*)
    fail "the host did not resolve the gateway by ND (state ${neigh:-none})"
    grep -q nd-neighbor-solicit "$WORK/corp/ruleset.nft" ||
        echo "hint: ruleset.nft has no rule accepting ICMPv6 ND: a default drop policy drops the host's neighbour solicitations"
    ;;
esac
mapfile -t seen <"$WORK/gw.log"

# Outside corp-apps (this script's own cgroup): dropped by the ruleset. And
# IKE (udp 500 to the gateway), which the policy allows to any process.
read -ra b <<<"$(counters)"
outside=$(H python3 "$PROBE" client --timeout 1 10.20.1.1/9000 2001:db8:100::1/9000 "udp:$GW/500")
read -ra a <<<"$(counters)"
mapfile -t seen2 <"$WORK/gw.log"
ike_res=
while IFS= read -r l; do
    if [[ $l == "udp $GW/500 "* ]]; then ike_res=$l; else echo "outside corp-apps: $l"; fi
done <<<"$outside"
for p in "udp 10.20.1.1/9000 src 192.0.2.1 EPERM" "tcp 10.20.1.1/9000 src 192.0.2.1 no-answer" \
    "udp 2001:db8:100::1/9000 src fd00:42::1 EPERM" "tcp 2001:db8:100::1/9000 src fd00:42::1 no-answer"; do
    [[ $'\n'$outside$'\n' == *$'\n'"$p"$'\n'* ]] || fail "outside corp-apps: not \`$p\`"
done
if [ "${b[*]}" = "${a[*]}" ]; then
    echo "outside corp-apps: ESP counters unchanged (host out ${a[1]} packets, gateway in ${a[3]} packets)"
else
    echo "outside corp-apps: ESP counters moved: ${b[*]} -> ${a[*]}"
    fail "traffic from outside corp-apps reached the tunnel"
fi
ike_new=0 other_new=0
for l in "${seen2[@]:${#seen[@]}}"; do
    if [[ $l == "udp $GW/500 from "* ]]; then ike_new=$((ike_new + 1)); else other_new=$((other_new + 1)); fi
done
[ "$other_new" = 0 ] || fail "the gateway received traffic from outside corp-apps"
# ike LABEL RESULT NEW: the IKE line.
ike() {
    if [ "$3" -gt 0 ]; then
        echo "IKE under $1: $2, the gateway received it"
    else
        echo "IKE under $1: $2, the gateway received nothing"
    fi
}
line=$(ike corp-tunnel.pol "$ike_res" "$ike_new")
echo "$line"
[ "$line" = "IKE under corp-tunnel.pol: udp $GW/500 src $HOST sent, the gateway received it" ] ||
    fail "IKE is not let through under corp-tunnel.pol"

# ------------------------------------------------------------ tunnels.sh again

rc=0
link
before=$LINK
out=$(H sh "$WORK/corp/tunnels.sh" 2>&1) || rc=$?
link
if [ "$LINK" = "$before" ] && [ "$ROUTES" = "$ROUTES_WANT" ] && [ "$ADDRS" = fd00:42::1/64 ]; then
    echo "tunnels.sh run again: exit $rc, link unchanged ($LINK)"
else
    echo "tunnels.sh run again: exit $rc, link changed: $before -> $LINK"
    fail "tunnels.sh is not idempotent"
fi
[ "$rc" = 0 ] || fail "tunnels.sh run again failed: $out"

# A vti6 of the tunnel's name with other settings (changed by hand): the
# generated script documents "update an existing vti6 link in place".
printf '%s\n' "link set dev $DEV type vti6 local $HOST remote 2001:db8:eeee::1 key 7" \
    "link set dev $DEV mtu 1300 down" | H ip -batch -
link
changed=$LINK
echo "changed by hand: $changed"
rc=0
out=$(H sh "$WORK/corp/tunnels.sh" 2>&1) || rc=$?
link
if [ "${LINK%% vti6 *}" = "${changed%% vti6 *}" ]; then same="same ifindex"; else same="re-created"; fi
echo "tunnels.sh over it: exit $rc, $same: ${LINK#ifindex * }, routes: $ROUTES"
if [ "$rc" != 0 ] || [ "$same" != "same ifindex" ] || [ "${LINK#ifindex * }" != "$LINK_WANT" ] ||
    [ "$ROUTES" != "$ROUTES_WANT" ]; then
    fail "tunnels.sh did not put the policy's settings back: $out"
fi
res=$(H "$POLC" exec "$POL" corp-apps -- python3 "$PROBE" client --udp-only 2001:db8:100::1/9000)
echo "after the fix, corp-apps: $res"
[ "$res" = "udp 2001:db8:100::1/9000 src fd00:42::1 echoed" ] || fail "no traffic through the fixed tunnel"

# A link of the tunnel's name that is not a vti6, in a throwaway namespace:
# tunnels.sh must refuse it and leave it alone.
modprobe dummy
# shellcheck disable=SC2016 # the inner script expands its own arguments
unshare -n sh -c '
    ip link add "$1" type dummy || exit 1
    sh "$2" --check >"$3.check" 2>&1
    echo "$?" >>"$3.rc"
    sh "$2" >"$3.run" 2>&1
    echo "$?" >>"$3.rc"
    ip -d -o link show dev "$1" | grep -c " dummy " >>"$3.rc"' sh "$DEV" "$WORK/corp/tunnels.sh" "$WORK/dummy" || true
touch "$WORK/dummy.rc" "$WORK/dummy.check" "$WORK/dummy.run"
mapfile -t r <"$WORK/dummy.rc"
r+=('?' '?' '?')
msg_check=$(<"$WORK/dummy.check")
msg_run=$(<"$WORK/dummy.run")
if [ "${r[2]}" = 1 ]; then kept=yes; else kept=no; fi
echo "a dummy named $DEV: tunnels.sh --check exit ${r[0]}${msg_check:+ (${msg_check//$'\n'/ })}; tunnels.sh exit ${r[1]}${msg_run:+ (${msg_run//$'\n'/ })}; still a dummy: $kept"
if [ "${r[1]}" = 0 ] || [ "$kept" != yes ]; then
    fail "tunnels.sh did not refuse a non-vti6 $DEV"
fi

# Another vti6 on the same endpoints and key (the kernel allows one).
rc=0
# shellcheck disable=SC2016 # the inner script expands its own arguments
out=$(unshare -n sh -c 'ip link add other type vti6 local "$1" remote "$2" key 42 && sh "$3" --check' \
    sh "$HOST" "$GW" "$WORK/corp/tunnels.sh" 2>&1) || rc=$?
echo "another vti6 on $HOST -> $GW key 42: tunnels.sh --check exit $rc (${out//$'\n'/ })"
[ "$rc" != 0 ] || fail "tunnels.sh did not refuse a second vti6 on the same endpoints and key"

# ------------------------------------------------------------ ike-blocked.pol

# The fixture also sends via the tunnel outside its routes (P0210, an error:
# it does not build). A copy with that rule narrowed to the routes keeps the
# IKE finding and builds.
check "$IKE_BLOCKED"
echo "polc check ike-blocked.pol: $CHECK"
[[ $CHECK == *"P0211 (udp 40000 -> 500 drop)" ]] || fail "polc check does not report ike-blocked.pol's IKE as blocked"
src=$(<"$IKE_BLOCKED")
narrowed=${src//"allow corp-apps to 10.0.0.0/8 via corp-vpn"/"allow corp-apps to 10.20.0.0/16 via corp-vpn"}
[ "$narrowed" != "$src" ] || fail "ike-blocked.pol no longer has the rule this test narrows"
printf '%s\n' "$narrowed" >"$WORK/ike-blocked.pol"
check "$WORK/ike-blocked.pol"
echo "polc check ike-blocked.pol narrowed to the routes: $CHECK"
[ "$CHECK" = "exit 0, P0211: P0211 (udp 40000 -> 500 drop)" ] || fail "the narrowed copy does not check as expected"
if ! out=$("$POLC" build "$WORK/ike-blocked.pol" -o "$WORK/ike" 2>&1); then
    echo "$out" >&2
    exit 1
fi
apply ike-blocked.pol "$WORK/ike"
mapfile -t seen <"$WORK/gw.log"
res=$(H python3 "$PROBE" client --udp-only --timeout 0.5 "$GW/500")
mapfile -t seen2 <"$WORK/gw.log"
line=$(ike ike-blocked.pol "$res" $((${#seen2[@]} - ${#seen[@]})))
echo "$line"
[ "$line" = "IKE under ike-blocked.pol: udp $GW/500 src $HOST EPERM, the gateway received nothing" ] ||
    fail "IKE is not dropped under ike-blocked.pol"

echo "tunnels.sh scenario: $((SECONDS - T0)) s in the VM" >&2
if [ "$failed" -ne 0 ]; then
    # shellcheck disable=SC2016 # awk's own $2
    {
        echo "--- nft list ruleset (host side)"
        H nft list ruleset
        echo "--- ip -s xfrm state (host side)"
        H ip -s xfrm state
        echo "--- xfrm_stat (host, gateway)"
        H awk '$2 != 0' /proc/net/xfrm_stat
        G awk '$2 != 0' /proc/net/xfrm_stat
        echo "--- gateway log"
        cat "$WORK/gw.log"
    } >&2
    exit 1
fi
echo "all checks passed"
