#!/usr/bin/env bash
# The Ansible role (deploy/ansible) in a real play: ansible-core from PyPI
# runs deploy/ansible/site.yml against localhost (`-c local`) inside a
# throwaway network and mount namespace (`unshare -n -m`), so the tables and
# sysctls polc applies are the namespace's own, with polc's generations and
# /etc files on a tmpfs (`polc_root`): nothing of the real host changes.
#
#   1. policy A: the play changes the host; `polc status` is clean
#   2. A again: no change (changed=0)
#   3. policy B (another port, a sysctl): a new generation, changed
#   4. the table deleted behind polc's back: the play sees the drift and
#      applies the current generation again (no new generation)
#   5. B again: no change
#   6. after the confirm deadline: nothing was reverted (the play confirmed)
#
# Usage (as root): POLC=target/debug/polc bash tests/ansible/run.sh
# ansible-core goes into a venv under /var/cache/polc-ansible
# (POLC_ANSIBLE_CACHE overrides), installed with pip when missing; when
# `python3 -m venv` does not work (Debian without python3-venv) apt-get
# installs python3-venv first.
set -euo pipefail

ANSIBLE_CORE_SPEC=${POLC_ANSIBLE_CORE:-ansible-core==2.19.*}
CACHE=${POLC_ANSIBLE_CACHE:-/var/cache/polc-ansible}
VENV=$CACHE/venv
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIRM=15

die() { echo "ansible test: $*" >&2; exit 1; }

# ansible-core in $VENV, once per machine (and again when the spec changes).
ensure_ansible() {
	[ -f "$VENV/.polc-ready" ] && [ "$(cat "$VENV/.polc-ready")" = "$ANSIBLE_CORE_SPEC" ] && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if [ -f "$VENV/.polc-ready" ] && [ "$(cat "$VENV/.polc-ready")" = "$ANSIBLE_CORE_SPEC" ]; then
		exec 9>&-
		return 0
	fi
	rm -rf "$VENV"
	if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
		echo "ansible test: python3 -m venv failed: installing python3-venv" >&2
		rm -rf "$VENV"
		apt-get install -y --no-install-recommends python3-venv >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y --no-install-recommends python3-venv >/dev/null; }
		python3 -m venv "$VENV"
	fi
	"$VENV/bin/pip" install --quiet --disable-pip-version-check "$ANSIBLE_CORE_SPEC"
	printf '%s\n' "$ANSIBLE_CORE_SPEC" >"$VENV/.polc-ready"
	exec 9>&-
}

# In the namespaces: the plays, and the checks between them.
inside() {
	cd "$WORK"
	mount -t tmpfs -o mode=0755 polc-ansible-root "$WORK/root"
	ROOT=$WORK/root
	export ANSIBLE_CONFIG=$WORK/ansible.cfg ANSIBLE_HOME=$WORK/ansible-home \
		ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ANSIBLE_REMOTE_TMP=$WORK/ansible-tmp \
		ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 PYTHONWARNINGS=ignore
	: >"$ANSIBLE_CONFIG"
	cat >vars.json <<-EOF
		{
		  "polc_policy": "$WORK/policy.pol",
		  "polc_binary": "$POLC",
		  "polc_root": "$ROOT",
		  "polc_confirm_seconds": $CONFIRM,
		  "polc_confirm_any_session": true,
		  "ansible_become": false,
		  "ansible_python_interpreter": "$VENV/bin/python3"
		}
	EOF
	cur() { readlink "$ROOT/var/lib/polc/pol/current" || echo none; }
	state() {
		local ports
		ports=$(nft list table inet pol 2>/dev/null | grep -o 'udp dport [0-9]*' | cut -d' ' -f3 | tr '\n' ' ')
		echo "current -> $(cur), udp ports ${ports% }, tcp_autocorking $(cat /proc/sys/net/ipv4/tcp_autocorking)"
	}
	expect_state() { # LABEL WANT: the generation, the table's ports, the sysctl
		local got
		got=$(state)
		echo "$1: $got"
		[ "$got" = "$2" ] || die "$1: want $2"
	}
	changed() { sed -n 's/.* changed=\([0-9]*\) .*/\1/p' <<<"$1"; }
	play() { # NAME: run site.yml (-v: the log has polc's output); sets RECAP
		local name=$1 start=$SECONDS
		LOG=$WORK/$name.log
		if ! "$VENV/bin/ansible-playbook" -v -i localhost, -c local -e "@$WORK/vars.json" \
			"$REPO/deploy/ansible/site.yml" >"$LOG" 2>&1; then
			cat "$LOG" >&2
			die "$name: ansible-playbook failed"
		fi
		RECAP=$(grep -E '^localhost +:' "$LOG" | tr -s ' ') || { cat "$LOG" >&2; die "$name: no recap"; }
		echo "$name: $RECAP ($((SECONDS - start)) s)"
		grep -E '^\[(WARNING|DEPRECATION)' "$LOG" | sed "s/^/$name: /" || true
	}
	status() { # LABEL: polc status must be clean
		local out rc=0
		out=$("$POLC" status --table pol --root "$ROOT" 2>&1) || rc=$?
		[ "$rc" = 0 ] || { echo "$out" >&2; die "$1: polc status exit $rc"; }
		echo "$1: polc status: $(grep '^status:' <<<"$out")"
	}

	cp policy-a.pol policy.pol
	play "run 1 (policy A)"
	[ "$(changed "$RECAP")" -gt 0 ] || die "run 1 changed nothing"
	expect_state "run 1" "current -> generations/1, udp ports 9, tcp_autocorking 1"
	status "run 1"

	play "run 2 (policy A again)"
	[ "$(changed "$RECAP")" = 0 ] || { cat "$LOG" >&2; die "run 2 changed something"; }
	expect_state "run 2" "current -> generations/1, udp ports 9, tcp_autocorking 1"
	status "run 2"

	cp policy-b.pol policy.pol
	play "run 3 (policy B)"
	[ "$(changed "$RECAP")" -gt 0 ] || die "run 3 changed nothing"
	expect_state "run 3" "current -> generations/2, udp ports 10, tcp_autocorking 0"
	status "run 3"

	nft delete table inet pol
	play "run 4 (table deleted)"
	[ "$(changed "$RECAP")" -gt 0 ] || die "run 4 changed nothing"
	grep -q 'generation 2 was current; applied it again' "$LOG" ||
		{ cat "$LOG" >&2; die "run 4 did not apply generation 2 again"; }
	expect_state "run 4" "current -> generations/2, udp ports 10, tcp_autocorking 0"
	[ ! -e "$ROOT/var/lib/polc/pol/generations/3" ] || die "run 4 made a new generation"
	status "run 4"

	play "run 5 (policy B again)"
	[ "$(changed "$RECAP")" = 0 ] || { cat "$LOG" >&2; die "run 5 changed something"; }

	# The reverts armed by the applies (a detached `polc rollback --after`,
	# as --root is not /) must find nothing to do: the play confirmed.
	sleep $((CONFIRM + 2))
	[ ! -e "$ROOT/var/lib/polc/pol/pending.json" ] || die "a generation is still pending"
	expect_state "after the confirm deadline" "current -> generations/2, udp ports 10, tcp_autocorking 0"
	status "after the confirm deadline"
	echo "all checks passed"
}

if [ "${1:-}" = --inside ]; then
	WORK=$2
	inside
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (unshare, nft)"
POLC=$(realpath "${POLC:?POLC names the polc binary}")
export POLC
command -v nft >/dev/null || die "needs nft"
start=$SECONDS
ensure_ansible
echo "ansible: $("$VENV/bin/ansible-playbook" --version 2>/dev/null | head -n1) ($((SECONDS - start)) s to set up)"

WORK=$(mktemp -d /tmp/polc-ansible.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/root"
cat >"$WORK/policy-a.pol" <<'EOF'
policy egress {
  hook output
  default drop
  allow to 192.0.2.0/24 udp 9
}
EOF
cat >"$WORK/policy-b.pol" <<'EOF'
policy egress {
  hook output
  default drop
  allow to 192.0.2.0/24 udp 10
}
tuning { net.ipv4.tcp_autocorking = 0 }
EOF
export VENV
unshare -n -m --propagation private bash "${BASH_SOURCE[0]}" --inside "$WORK"
