#!/usr/bin/env bash
# The Neovim harness (tests/lsp/nvim.sh) against a stand-in server
# (tests/lsp/fake_server.py), before `polc lsp` exists:
#
#   1. the harness's own client: one DIAG line as the server sent it, and
#      the definition of the name under the cursor
#   2. the Neovim 0.7 snippet of docs/editors.md as the user's init.lua,
#      with `polc` on PATH a shim for the stand-in: the same lines, and the
#      server started at the project's root (the directory with .git)
#   3. a server that exits at once: exit 1, ERROR
#   4. a server that never publishes: exit 1, ERROR after the timeout
#
# Usage: bash tests/lsp/selftest.sh   (prints each run; `all checks passed`)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
die() { echo "lsp selftest: $*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/polc-lsp-selftest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/project/policies" "$WORK/bin"
git init -q "$WORK/project"
FILE=$WORK/project/policies/egress.pol
cat >"$FILE" <<'EOF'
import "std/services"

network office = { 192.0.2.0/24, 2001:db8:1::/48 }

policy egress {
    hook output
    default drop

    allow to office service https
    drop to 192.0.2.1 tcp 443  # never reached
}
EOF
# `office` on line 9, column 14; its definition: line 3, column 9.
want_diag="DIAG 10:5 error P0301 rule never matches: every packet it matches is decided earlier"
want_def="DEF file://$FILE 3:9"

# NAME EXPECTED-STATUS CMD...: run, print, keep the output in OUT.
run() {
	local name=$1 want=$2 rc=0
	shift 2
	echo "== $name"
	OUT=$("$@" 2>&1) || rc=$?
	printf '%s\n' "$OUT"
	echo "== $name: exit $rc"
	[ "$rc" = "$want" ] || die "$name: exit $rc, want $want"
}
expect() { grep -qxF -- "$1" <<<"$OUT" || die "$2: no line '$1'"; }

FAKE="python3 $HERE/fake_server.py lsp"
run "harness client" 0 env POL_LSP_CMD="$FAKE" "$HERE/nvim.sh" "$FILE" 9 14
expect "CLIENT polc" "harness client"
expect "DIAGNOSTICS 1" "harness client"
expect "$want_diag" "harness client"
expect "$want_def" "harness client"

# The documented configuration, with `polc` a shim for the stand-in.
awk '/^```lua$/ { inb = 1; n = 0; next } inb && /^```$/ { inb = 0; if (found) exit; next }
	inb { if (n++ == 0 && $0 == "-- polc: Neovim 0.7+ (init.lua)") found = 1; if (found) print }' \
	"$REPO/docs/editors.md" >"$WORK/init.lua"
[ -s "$WORK/init.lua" ] || die "no '-- polc: Neovim 0.7+ (init.lua)' block in docs/editors.md"
printf '#!/bin/sh\nexec python3 %s/fake_server.py "$@"\n' "$HERE" >"$WORK/bin/polc"
chmod +x "$WORK/bin/polc"
run "docs/editors.md's Neovim 0.7 configuration" 0 \
	env PATH="$WORK/bin:$PATH" POL_NVIM_CONFIG="$WORK/init.lua" FAKE_LSP_LOG="$WORK/methods" "$HERE/nvim.sh" "$FILE" 9 14
expect "CLIENT polc" "docs configuration"
expect "$want_diag" "docs configuration"
expect "$want_def" "docs configuration"
grep -qx "textDocument/didOpen" "$WORK/methods" || die "docs configuration: the server saw no didOpen"
# The project root: the directory with .git, not the file's.
grep -qxF "rootUri file://$WORK/project" "$WORK/methods" || die "docs configuration: rootUri is not the project: $(grep rootUri "$WORK/methods")"

run "a server that exits" 1 env POL_LSP_CMD="false" POL_TIMEOUT_MS=5000 "$HERE/nvim.sh" "$FILE" 9 14
grep -q "^ERROR the server exited" <<<"$OUT" || die "a server that exits: no ERROR line"

run "a server that never publishes" 1 env POL_LSP_CMD="$FAKE" FAKE_LSP_NO_DIAGNOSTICS=1 POL_TIMEOUT_MS=2000 "$HERE/nvim.sh" "$FILE"
expect "ERROR no textDocument/publishDiagnostics for $FILE in 2000 ms" "a server that never publishes"
echo "all checks passed"
