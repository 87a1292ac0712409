#!/bin/bash
# `polc install --root TREE` lays out the files, and a boot of the real
# systemd with them loads the table before network-pre.target (issue 11).
# Runs ON THE HOST, as root (it boots the VM twice):
#
#   POLC=/path/to/polc bash tests/vm/boot-order.sh [WORKDIR]
#
# Builds examples/workstation.pol, installs it with `polc install OUT --root
# TREE`, and boots systemd as PID 1 with TREE copied over the guest's /
# (`scripts/vm run --systemd --root-overlay TREE`). Inside (this script with
# --inside) it checks that polc-pol.service is active, that table inet pol
# is loaded, that `polc status` finds it clean, and that the unit finished
# before network-pre.target was reached — a target nothing else in the VM
# pulls in. The negative control boots a copy of TREE without the boot unit
# (polc-pol.service and its sysinit.target.wants link): no table, and
# network-pre.target not reached. One line per check; exits 0 only when all
# hold.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"

# ------------------------------------------------------------ in the VM

# Monotonic microseconds as seconds.
secs() {
    printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000))
}

inside() {
    local mode=$1 failed=0 state
    fail() {
        echo "FAIL: $*"
        failed=1
    }
    [ "$(cat /proc/1/comm)" = systemd ] || {
        echo "not under systemd as PID 1" >&2
        exit 2
    }
    state=$(systemctl is-active polc-pol.service || true)
    if [ "$mode" = without ]; then
        if nft list table inet pol >/dev/null 2>&1; then
            fail "without the boot unit the table is loaded: the test cannot tell"
        else
            echo "without the boot unit: no table"
        fi
        echo "without the boot unit: polc-pol.service $state, network-pre.target $(systemctl is-active network-pre.target || true)"
        [ "$state" != active ] || fail "polc-pol.service is active without its unit file"
        systemctl is-active -q network-pre.target &&
            fail "network-pre.target was reached without the boot unit: the ordering check proves nothing"
        return "$failed"
    fi

    echo "polc-pol.service: $state"
    [ "$state" = active ] || fail "polc-pol.service is $state"
    local rules
    if rules=$(nft list table inet pol 2>&1); then
        echo "table inet pol loaded at boot ($(wc -l <<<"$rules") lines in nft list table inet pol)"
    else
        fail "no table inet pol after boot: $rules"
    fi
    local polc_t start_t exit_t npt_t
    start_t=$(systemctl show -p ExecMainStartTimestampMonotonic --value polc-pol.service)
    polc_t=$(systemctl show -p ActiveEnterTimestampMonotonic --value polc-pol.service)
    exit_t=$(systemctl show -p ExecMainExitTimestampMonotonic --value polc-pol.service)
    npt_t=$(systemctl show -p ActiveEnterTimestampMonotonic --value network-pre.target)
    if [ "${polc_t:-0}" -eq 0 ] || [ "${npt_t:-0}" -eq 0 ]; then
        fail "network-pre.target (${npt_t:-?}) or polc-pol.service (${polc_t:-?}) never became active"
    else
        local order=before
        [ "$polc_t" -le "$npt_t" ] && [ "$exit_t" -le "$npt_t" ] || order=AFTER
        echo "polc-pol.service active at $(secs "$polc_t") s (apply.sh ran from $(secs "$start_t") s to $(secs "$exit_t") s); network-pre.target at $(secs "$npt_t") s: $order"
        [ "$order" = before ] || fail "the table was loaded after network-pre.target"
    fi
    local st
    if st=$("$POLC" status 2>&1); then
        echo "polc status after boot: $(tail -n 1 <<<"$st")"
    else
        fail "polc status after boot: $st"
    fi
    return "$failed"
}

if [ "${1:-}" = --inside ]; then
    inside "$2"
    exit
fi

# ------------------------------------------------------------ on the host

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VM=$REPO/scripts/vm
WORK=${1:-$(mktemp -d /tmp/polc-boot-order.XXXXXX)}
mkdir -p "$WORK"
OUT=$WORK/out
WITH=$WORK/with
WITHOUT=$WORK/without

if ! built=$("$POLC" build "$REPO/examples/workstation.pol" -o "$OUT" 2>&1); then
    echo "$built" >&2
    exit 1
fi
mkdir -p "$WITH"
"$POLC" install "$OUT" --root "$WITH" >/dev/null 2>&1 || {
    "$POLC" install "$OUT" --root "$WITH"
    exit 1
}
for f in etc/systemd/system/polc-pol.service etc/systemd/system/sysinit.target.wants/polc-pol.service \
    var/lib/polc/pol/current etc/sysctl.d/60-polc-pol.conf; do
    [ -e "$WITH/$f" ] || [ -L "$WITH/$f" ] || {
        echo "FAIL: polc install --root did not write $f" >&2
        exit 1
    }
done
echo "polc install --root: $(cd "$WITH" && find etc \( -type f -o -type l \) | sort | sed 's|^|/|' | tr '\n' ' ')and /var/lib/polc/pol/current -> $(readlink "$WITH/var/lib/polc/pol/current")"
cp -a "$WITH" "$WITHOUT"
rm "$WITHOUT/etc/systemd/system/polc-pol.service" "$WITHOUT/etc/systemd/system/sysinit.target.wants/polc-pol.service"

failed=0
for mode in with without; do
    t0=$SECONDS
    "$VM" run --systemd --timeout "${POLC_VM_TIMEOUT:-900}" --root-overlay "$WORK/$mode" -- \
        env POLC="$POLC" bash "$REPO/tests/vm/boot-order.sh" --inside "$mode" || failed=1
    echo "boot $mode the boot unit: $((SECONDS - t0)) s"
done
[ -z "${1:-}" ] && rm -rf "$WORK"
if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "all checks passed"
