#!/bin/bash
# A `unit` group stays matched across `systemctl restart` through polc's
# generated drop-in, under a real systemd as PID 1. Runs INSIDE the VM:
#
#   scripts/vm run --systemd -- env POLC=/path/to/polc bash tests/vm/systemd-restart.sh [WORKDIR]
#
# Builds a policy that lets only web.service send to 192.0.2.0/24 udp 9,
# loads it (apply.sh), installs the drop-in, and starts a web.service that
# sends one datagram every 0.2 s and logs `sent` or `EPERM` per datagram.
# Checks: sent before a restart; after `systemctl restart web` the unit's
# cgroup id has changed and it still sends; this script (in
# polc-vm-run.service's cgroup, outside the group) gets EPERM; and, as the
# negative control, without the drop-in a restart leaves web with EPERM.
# Prints one line per check; exits 0 only when all hold.
set -euo pipefail

: "${POLC:?set POLC to the polc binary}"
[ "$(cat /proc/1/comm)" = systemd ] || {
    echo "not under systemd as PID 1 (run through scripts/vm run --systemd)" >&2
    exit 2
}
WORK=${1:-$(mktemp -d /tmp/polc-systemd-restart.XXXXXX)}
mkdir -p "$WORK"
OUT=$WORK/out
CG=/sys/fs/cgroup/system.slice/web.service
failed=0

fail() {
    echo "FAIL: $*"
    failed=1
}

cat >"$WORK/web.pol" <<'EOF'
group web { unit "web.service" }

policy egress {
    hook output
    default drop
    allow web to 192.0.2.0/24 udp 9
}
EOF

# One datagram to 192.0.2.1:9 (a fresh socket each time): `sent`, `EPERM`
# or the error. Used by web.service and, outside the group, by this script.
cat >"$WORK/send.sh" <<'EOF'
#!/bin/bash
send_once() {
    local err
    if err=$({ echo x >/dev/udp/192.0.2.1/9; } 2>&1); then
        echo sent
    elif [[ $err == *"Operation not permitted"* ]]; then
        echo EPERM
    else
        echo "error: $err"
    fi
}
if [ "${1:-}" = --loop ]; then
    while :; do
        send_once >>"$2"
        sleep 0.2
    done
else
    send_once
fi
EOF

if ! built=$("$POLC" build "$WORK/web.pol" -o "$OUT" 2>&1); then
    echo "$built" >&2
    exit 1
fi

# 192.0.2.0/24 on a dummy link, so sends are routed (and then dropped by
# the dummy device, not by routing).
modprobe -a dummy
ip link add d0 type dummy
ip addr add 192.0.2.100/24 dev d0
ip link set d0 up

sh "$OUT/apply.sh" >/dev/null
cp -r "$OUT/systemd/." /etc/systemd/system/
cat >/etc/systemd/system/web.service <<EOF
[Unit]
Description=polc test: sends to 192.0.2.1 udp 9

[Service]
Type=simple
ExecStart=/bin/bash $WORK/send.sh --loop $WORK/web.log
EOF
: >"$WORK/web.log"
systemctl daemon-reload

# The result of web's next datagrams: waits for two more lines in its log
# (so they come from the process running now) and prints the last.
observe() {
    local n
    n=$(wc -l <"$WORK/web.log")
    for _ in $(seq 100); do
        if [ "$(wc -l <"$WORK/web.log")" -ge $((n + 2)) ]; then
            tail -n 1 "$WORK/web.log"
            return 0
        fi
        sleep 0.1
    done
    echo "no datagram (web.service: $(systemctl is-active web.service))"
}

cgroup_id() {
    stat -c %i "$CG"
}

systemctl start web.service
r=$(observe)
echo "before restart: $r"
[ "$r" = sent ] || fail "web could not send before the restart"

id1=$(cgroup_id)
systemctl restart web.service
id2=$(cgroup_id)
r=$(observe)
echo "after restart (cgroup id $id1 -> $id2): $r"
[ "$id1" != "$id2" ] || fail "the restart kept cgroup id $id1: it proves nothing"
[ "$r" = sent ] || fail "web could not send after the restart"
# The stop deleted the old cgroup's element: the set holds the live path only.
els=$(nft -j list table inet pol | grep -o '"elem": \[[^]]*\]' | tr '\n' ' ')
echo "set elements after restart: $els"
[ "$els" = '"elem": ["system.slice/web.service"] ' ] || fail "the set holds more than the live cgroup: $els"

r=$(bash "$WORK/send.sh")
echo "outside the group: $r"
[ "$r" = EPERM ] || fail "a process outside the group was not dropped"

# Negative control: the same restart without the drop-in.
rm -r /etc/systemd/system/web.service.d
systemctl daemon-reload
systemctl restart web.service
id3=$(cgroup_id)
r=$(observe)
echo "without the drop-in, after restart: $r"
[ "$id2" != "$id3" ] || fail "the restart kept cgroup id $id2"
[ "$r" = EPERM ] || fail "without the drop-in web still sent: the test cannot tell"
systemctl stop web.service

if [ "$failed" -ne 0 ]; then
    {
        echo "--- nft list ruleset"
        nft list ruleset
        echo "--- systemctl status web.service"
        systemctl status web.service --no-pager || true
    } >&2
    exit 1
fi
echo "all checks passed"
