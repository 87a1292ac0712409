//! `apply.sh`: installs everything in order — cgroups.sh, tunnels.sh,
//! tuning.sh, then `nft -c -f` and `nft -f ruleset.nft`.
//!
//! - The previous `table inet NAME` is saved first (`nft -s list table`)
//!   and loaded back if loading the new ruleset fails (nft transactions are
//!   atomic, so this is belt and braces; cgroups, tunnels and sysctls
//!   already applied are not undone).
//! - `apply.sh --check` only checks the ruleset with `nft -c`. nft resolves
//!   cgroup paths when it parses, so when the cgroups do not exist yet the
//!   check runs in a private mount namespace over a throwaway tmpfs at
//!   /sys/fs/cgroup holding the same directories; nothing on the host
//!   changes.
//! - `NFT` overrides the nft binary (tests use it to inject failures).

use crate::shell::{
    Piece::{Code, Word},
    Script, ShComment, ShWord,
};
use crate::BuildOptions;
use pol_lang::ir::Program;
use pol_lang::span::SourceMap;

const BODY_START: &str = r#"usage() {
	printf 'usage: %s [--check]\n' "$0" >&2
	exit 2
}

die() {
	printf 'apply.sh: %s\n' "$*" >&2
	exit 1
}

check=0
case $# in
0) ;;
1) [ "$1" = --check ] || usage; check=1 ;;
*) usage ;;
esac

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
NFT=${NFT:-nft}
command -v "$NFT" >/dev/null 2>&1 || die "nft not found (install nftables)"

# True when every cgroup the ruleset names exists where nft looks for it.
cgroups_exist() {
"#;

const BODY_CHECK: &str = r#"}

check_ruleset() {
	if cgroups_exist; then
		"$NFT" -c -f "$here/ruleset.nft"
	elif command -v unshare >/dev/null 2>&1 && unshare -m true 2>/dev/null; then
		# The cgroups do not exist yet (applying creates them). nft only
		# needs the directories to resolve the paths: check against a
		# throwaway tmpfs in a private mount namespace.
		# shellcheck disable=SC2016 # the inner script expands its own arguments
		unshare -m sh -c '
			set -eu
			nft=$1 ruleset=$2
			shift 2
			mount -t tmpfs pol-check /sys/fs/cgroup
			for p in "$@"; do mkdir -p -- "/sys/fs/cgroup/$p"; done
			exec "$nft" -c -f "$ruleset"' sh "$NFT" "$here/ruleset.nft""#;

const BODY_END: &str = r#"	else
		die "the cgroups the ruleset names do not exist under /sys/fs/cgroup yet, and no private mount namespace is available to check without them"
	fi
}

if [ "$check" = 1 ]; then
	check_ruleset || die "ruleset.nft does not pass nft -c"
	printf 'apply.sh: ruleset.nft passes nft -c\n'
	exit 0
fi

# Save the current table first, to restore it if loading fails.
saved=$(mktemp "${TMPDIR:-/tmp}/pol-saved.XXXXXX")
trap 'rm -f "$saved"' EXIT
{
	printf 'table inet %s\ndelete table inet %s\n' "$table" "$table"
	"$NFT" -s list table inet "$table" 2>/dev/null || true
} >"$saved"

sh "$here/cgroups.sh"
sh "$here/tunnels.sh"
sh "$here/tuning.sh"

"$NFT" -c -f "$here/ruleset.nft" || die "ruleset.nft does not pass nft -c; nothing loaded"
if ! "$NFT" -f "$here/ruleset.nft"; then
	printf 'apply.sh: loading ruleset.nft failed; restoring the previous table inet %s\n' "$table" >&2
	"$NFT" -f "$saved" || die "restoring the previous table failed too"
	exit 1
fi
printf 'apply.sh: loaded table inet %s\n' "$table"
"#;

pub(crate) fn render(program: &Program, sources: &SourceMap, opts: &BuildOptions) -> String {
    let mut s = Script::new(
        "apply.sh",
        "installs cgroups, tunnels, tuning and the nft ruleset, in that order",
        &ShComment::new(&crate::entry_name(sources)),
    );
    let table = ShWord::new(&opts.table);
    s.line(&[Code("table="), Word(&table)], None);
    s.code("\n");
    let paths: Vec<ShWord> = crate::cgroups::cgroup_paths(program)
        .iter()
        .map(|p| ShWord::new(p))
        .collect();
    let mut words = Vec::new();
    for p in &paths {
        words.push(Code(" "));
        words.push(Word(p));
    }
    s.code(BODY_START);
    if paths.is_empty() {
        s.code("\treturn 0\n");
    } else {
        let mut pieces = vec![Code("\tfor p in")];
        pieces.extend(words.iter().copied());
        pieces.push(Code("; do"));
        s.line(&pieces, None);
        s.code("\t\t[ -d \"/sys/fs/cgroup/$p\" ] || return 1\n\tdone\n");
    }
    s.code(BODY_CHECK);
    // The last line of the `unshare` call: the paths as its arguments.
    s.line(&words, None);
    s.code(BODY_END);
    s.finish()
}
