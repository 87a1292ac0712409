#!/usr/bin/env bash
# Headless Neovim as a client of `polc lsp` (tests/lsp/nvim.lua): opens
# FILE, waits for textDocument/publishDiagnostics, prints each diagnostic
# as Neovim holds it, asks textDocument/definition at LINE:COL, prints the
# locations, exits 0 (1 when the exchange failed: no client, the server
# exited, a timeout, an LSP error).
#
# Usage: tests/lsp/nvim.sh FILE.pol [LINE COL]
#
#   POLC=target/debug/polc tests/lsp/nvim.sh examples/server.pol 14 20
#   POL_LSP_CMD="python3 tests/lsp/fake_server.py lsp" tests/lsp/nvim.sh x.pol
#
# Output lines: CLIENT NAME; DIAGNOSTICS N; DIAG LINE:COL SEVERITY CODE
# MESSAGE (sorted; 1-based; CODE `-` when the server sent none); DEF URI
# LINE:COL or DEF none; ERROR MESSAGE on failure. See nvim.lua for the
# environment (POL_LSP_CMD, POL_NVIM_CONFIG, POL_TIMEOUT_MS, POL_SETTLE_MS).
#
# Neovim 0.7 or later (Debian bookworm's is 0.7.2): installed with apt-get
# when missing (as root). It runs with no user configuration (-u NONE, no
# shada, no swap file) and its cache, state, data and config directories in
# a scratch directory; its LSP log is printed to stderr when it fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "nvim.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: tests/lsp/nvim.sh FILE.pol [LINE COL]"
[ -f "$1" ] || die "$1: no such file"

if ! command -v nvim >/dev/null; then
	[ "$(id -u)" = 0 ] || die "needs Neovim 0.7 or later (apt-get install neovim, as root)"
	echo "nvim.sh: installing neovim" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends neovim >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends neovim >/dev/null; }
fi
version=$(nvim --version | sed -n '1s/^NVIM v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<<"$version"
{ [ "${major:-0}" -gt 0 ] || [ "${minor:-0}" -ge 7 ]; } || die "needs Neovim 0.7 or later, not $(nvim --version | head -n1)"

POL_FILE=$(realpath "$1")
export POL_FILE
if [ $# -ge 3 ]; then
	export POL_DEF_LINE=$2 POL_DEF_COL=$3
fi
if [ -n "${POL_NVIM_CONFIG:-}" ]; then
	POL_NVIM_CONFIG=$(realpath "$POL_NVIM_CONFIG")
	export POL_NVIM_CONFIG
fi
if [ -n "${POLC:-}" ] && [ "${POLC#*/}" != "$POLC" ]; then
	POLC=$(realpath "$POLC")
	export POLC
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/polc-nvim.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME=$scratch/cache XDG_STATE_HOME=$scratch/state \
	XDG_DATA_HOME=$scratch/data XDG_CONFIG_HOME=$scratch/config
limit=$(((${POL_TIMEOUT_MS:-20000} * 3) / 1000 + 30))
status=0
(cd "$(dirname "$POL_FILE")" &&
	timeout "$limit" nvim --headless -u NONE -i NONE -n -c "luafile $HERE/nvim.lua" </dev/null) || status=$?
if [ "$status" != 0 ]; then
	[ "$status" != 124 ] || echo "ERROR nvim did not exit within $limit s"
	for log in "$scratch"/cache/nvim/lsp.log "$scratch"/state/nvim/lsp.log; do
		[ -s "$log" ] && { echo "--- $log" >&2; tail -n 50 "$log" >&2; }
	done
fi
exit "$status"
