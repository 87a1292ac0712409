#!/usr/bin/env bash
# The pre-commit hooks (.pre-commit-hooks.yaml, issue 15) in a real
# pre-commit from PyPI, on a scratch git repository of policies whose
# .pre-commit-config.yaml points at this repository's hooks:
#
#   0. pre-commit validate-manifest / validate-config accept both files,
#      and the configurations docs/ci.md shows
#   1. a policy with an error (a shadowed rule) and an unformatted file:
#      `pre-commit run --all-files` fails, polc check and polc fmt both
#      Failed, with polc's diagnostic and the file to reformat
#   2. both fixed: the same command passes
#   3. only a non-.pol file: both hooks are Skipped
#   4. `pre-commit install`: `git commit` of the fixed files goes through;
#      of an unformatted file is refused; and goes through once the file
#      is formatted
#
# Each step prints pre-commit's output between `== NAME` and
# `== NAME: exit N`, then a summary line `NAME: exit N; polc check: STATUS;
# polc fmt: STATUS` (tests/precommit.rs asserts on them).
#
# Usage: POLC=target/debug/polc bash tests/precommit/run.sh
#
# The hooks are `language: system`: polc must be on PATH, and the script
# puts POLC there as `polc`. pre-commit (POLC_PRE_COMMIT, default
# pre-commit==4.*) goes into a venv under /var/cache/polc-precommit
# (POLC_PRECOMMIT_CACHE overrides; ~/.cache/polc-precommit when /var/cache
# is not writable), installed with pip once per machine; when `python3 -m
# venv` does not work (Debian without python3-venv) apt-get installs
# python3-venv first. The hook repository pre-commit clones is a one-commit
# copy of this work tree's .pre-commit-hooks.yaml (pre-commit wants a `rev`,
# and the hooks under test may not be committed yet); pre-commit's own cache
# (PRE_COMMIT_HOME) and git's configuration are the scratch directory's.
set -euo pipefail

PRE_COMMIT_SPEC=${POLC_PRE_COMMIT:-pre-commit==4.*}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -n "${POLC_PRECOMMIT_CACHE:-}" ]; then
	CACHE=$POLC_PRECOMMIT_CACHE
elif mkdir -p /var/cache/polc-precommit 2>/dev/null && [ -w /var/cache/polc-precommit ]; then
	CACHE=/var/cache/polc-precommit
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/polc-precommit
fi
VENV=$CACHE/venv

die() { echo "pre-commit test: $*" >&2; exit 1; }

# pre-commit in $VENV, once per machine (and again when the spec changes).
ensure_precommit() {
	[ -f "$VENV/.polc-ready" ] && [ "$(cat "$VENV/.polc-ready")" = "$PRE_COMMIT_SPEC" ] && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if [ -f "$VENV/.polc-ready" ] && [ "$(cat "$VENV/.polc-ready")" = "$PRE_COMMIT_SPEC" ]; then
		exec 9>&-
		return 0
	fi
	rm -rf "$VENV"
	if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
		echo "pre-commit test: python3 -m venv failed: installing python3-venv" >&2
		rm -rf "$VENV"
		[ "$(id -u)" = 0 ] || die "python3 -m venv does not work and only root can apt-get install python3-venv"
		apt-get install -y --no-install-recommends python3-venv >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y --no-install-recommends python3-venv >/dev/null; }
		python3 -m venv "$VENV"
	fi
	"$VENV/bin/pip" install --quiet --disable-pip-version-check "$PRE_COMMIT_SPEC"
	printf '%s\n' "$PRE_COMMIT_SPEC" >"$VENV/.polc-ready"
	exec 9>&-
}

POLC=$(realpath "${POLC:?POLC names the polc binary}")
command -v git >/dev/null || die "needs git"
start=$SECONDS
ensure_precommit
PC=$VENV/bin/pre-commit
echo "pre-commit: $("$PC" --version) ($((SECONDS - start)) s to set up)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/polc-precommit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"
ln -s "$POLC" "$WORK/bin/polc"
export PATH="$WORK/bin:$PATH"
export PRE_COMMIT_HOME="$WORK/pre-commit-home"
export GIT_CONFIG_GLOBAL="$WORK/gitconfig" GIT_CONFIG_NOSYSTEM=1
export NO_COLOR=1 PRE_COMMIT_COLOR=never
git config --global user.name "polc test"
git config --global user.email "polc-test@example.invalid"
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# The hook repository: this work tree's .pre-commit-hooks.yaml, committed.
HOOKS=$WORK/hooks
mkdir "$HOOKS"
cp "$REPO/.pre-commit-hooks.yaml" "$HOOKS/"
git -C "$HOOKS" init -q
git -C "$HOOKS" add .pre-commit-hooks.yaml
git -C "$HOOKS" commit -qm "polc hooks"
REV=$(git -C "$HOOKS" rev-parse HEAD)
"$PC" validate-manifest "$HOOKS/.pre-commit-hooks.yaml" || die "validate-manifest refused .pre-commit-hooks.yaml"
echo "validate-manifest: ok"

# The policy repository.
POL=$WORK/policies
mkdir -p "$POL/lib"
cd "$POL"
git init -q
cat >.pre-commit-config.yaml <<EOF
repos:
  - repo: $HOOKS
    rev: $REV
    hooks:
      - id: polc-check
      - id: polc-fmt
EOF
"$PC" validate-config .pre-commit-config.yaml || die "validate-config refused the configuration"
echo "validate-config: ok"
# The configurations docs/ci.md shows (validate-config reads only the file).
awk -v dir="$WORK" '/^```yaml$/ { n++; f = dir "/docs-" n ".yaml"; inb = 1; next }
	/^```$/ { inb = 0; next }
	inb { print > f }' "$REPO/docs/ci.md"
n=0
for f in "$WORK"/docs-*.yaml; do
	head -n1 "$f" | grep -q '^repos:' || continue
	"$PC" validate-config "$f" || die "validate-config refused a configuration of docs/ci.md"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || die "docs/ci.md: $n pre-commit configurations, want 2"
echo "validate-config docs/ci.md: ok ($n configurations)"

# NAME EXPECTED-EXIT CMD...: run, print the output and a summary line.
step() {
	local name=$1 want=$2 out rc=0 check fmt
	shift 2
	echo "== $name: $*"
	out=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$out"
	echo "== $name: exit $rc"
	check=$(sed -n 's/^polc check\.\.*\([A-Z][a-z]*\)$/\1/p; s/^polc check\.*(no files to check)\([A-Z][a-z]*\)$/\1/p' <<<"$out" | head -n1)
	fmt=$(sed -n 's/^polc fmt\.\.*\([A-Z][a-z]*\)$/\1/p; s/^polc fmt\.*(no files to check)\([A-Z][a-z]*\)$/\1/p' <<<"$out" | head -n1)
	echo "$name: exit $rc; polc check: ${check:-none}; polc fmt: ${fmt:-none}"
	[ "$rc" = "$want" ] || die "$name: exit $rc, want $want"
	OUT=$out
}

cat >policy.pol <<'EOF'
import "std/services"
import "lib/office.pol"

policy egress {
    hook output
    default drop

    allow to office service https
    drop to 192.0.2.1 tcp 443
}
EOF
printf 'network   office={192.0.2.0/24,2001:db8:1::/48}\n' >lib/office.pol
echo "# policies" >README.md
git add -A
step "run 1 (a shadowed rule, an unformatted file)" 1 "$PC" run --all-files --color never
grep -q 'P0301' <<<"$OUT" || die "run 1: no P0301 (shadowed) in polc check's output"
grep -q '^would reformat lib/office.pol$' <<<"$OUT" || die "run 1: polc fmt did not name lib/office.pol"
grep -q 'would reformat policy.pol' <<<"$OUT" && die "run 1: policy.pol is formatted"

cat >policy.pol <<'EOF'
import "std/services"
import "lib/office.pol"

policy egress {
    hook output
    default drop

    allow to office service https
}
EOF
polc fmt lib/office.pol
git add -A
step "run 2 (fixed)" 0 "$PC" run --all-files --color never

step "run 3 (no .pol file)" 0 "$PC" run --files README.md --color never

"$PC" install >/dev/null
step "commit 0 (the fixed files)" 0 git commit -m policies
printf 'network lab={10.1.0.0/16}\n' >lib/lab.pol
git add lib/lab.pol
step "commit 1 (an unformatted file)" 1 git commit -m "lab network"
grep -q '^would reformat lib/lab.pol$' <<<"$OUT" || die "commit 1: polc fmt did not name lib/lab.pol"
polc fmt lib/lab.pol
git add lib/lab.pol
step "commit 2 (formatted)" 0 git commit -m "lab network"
[ "$(git log --format=%s -1)" = "lab network" ] || die "commit 2: not committed"
echo "all checks passed"
