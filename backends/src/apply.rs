//! `apply.sh`: installs everything in order — cgroups.sh, tunnels.sh,
//! tuning.sh, then `nft -c -f` and `nft -f` of ruleset.nft followed by
//! `refresh.sh --print` (the elements of every cgroup that exists now,
//! including those systemd created), in one transaction.
//!
//! - Nothing changes before everything that can be checked is: the ruleset
//!   (`nft -c`, as `--check` below), the tunnels (`tunnels.sh --check`:
//!   each link exists as vti6 or can be created), the tuning
//!   (`tuning.sh --check`: every sysctl exists and is writable, every
//!   interface exists), and that a
//!   build without a policy would not empty a loaded table (unless built
//!   with `--allow-empty`). The load itself is one nft transaction, so the
//!   previous table stays loaded when it fails. Undoing what the scripts
//!   changed (sysctls, tunnels) is `polc apply`'s job: it records the
//!   previous values and re-applies the previous generation (pol-host).
//! - Both modes first make sure they run as root (CAP_NET_ADMIN, which nft
//!   needs), so that a user's mistake reads "must run as root", not "does
//!   not pass nft -c".
//! - `apply.sh --check` checks the ruleset with `nft -c`, after the host
//!   checks cgroups.sh would make (a cgroup v2 hierarchy at
//!   `${POL_CGROUP2:-/sys/fs/cgroup}`, the net_cls controller for classid
//!   groups). nft resolves cgroup paths when it parses, so when the cgroups
//!   do not exist yet the check runs in a private mount namespace over a
//!   throwaway tmpfs at /sys/fs/cgroup holding the same directories;
//!   nothing on the host changes. The tmpfs has none of the kernel's
//!   interface files, which is sound because a `CgroupPath` cannot name
//!   one (`pol_lang::ir::CGROUP_FILE_PREFIXES`).
//! - `apply.sh --confirm SECS` is `polc apply DIR --confirm SECS` (`POLC`
//!   overrides the binary): reverting needs the previous generation, which
//!   only polc keeps (pol-host).
//! - `NFT` overrides the nft binary (tests use it to inject failures).

use crate::shell::{
    Piece::{Code, Word},
    Script, ShComment, ShWord,
};
use crate::BuildOptions;
use pol_lang::ir::Program;
use pol_lang::span::SourceMap;

const BODY_START: &str = r#"usage() {
	printf 'usage: %s [--check | --confirm SECS]\n' "$0" >&2
	exit 2
}

die() {
	printf 'apply.sh: %s\n' "$*" >&2
	exit 1
}

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

check=0
case $# in
0) ;;
1) [ "$1" = --check ] || usage; check=1 ;;
2)
	# Confirm-or-revert needs generations: polc apply keeps them.
	[ "$1" = --confirm ] || usage
	POLC=${POLC:-polc}
	command -v "$POLC" >/dev/null 2>&1 || die "--confirm needs polc (polc apply keeps the generations to revert to); it is not in PATH"
	exec "$POLC" apply "$here" --confirm "$2"
	;;
*) usage ;;
esac
NFT=${NFT:-nft}
command -v "$NFT" >/dev/null 2>&1 || die "nft not found (install nftables)"

# nft needs CAP_NET_ADMIN (bit 12 of the effective capabilities).
cap=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status 2>/dev/null || true)
if [ -n "$cap" ]; then
	low=${cap#"${cap%????}"}
	[ $(( (0x$low >> 12) & 1 )) = 1 ] || die "must run as root (nft needs CAP_NET_ADMIN)"
else
	[ "$(id -u)" = 0 ] || die "must run as root (nft needs CAP_NET_ADMIN)"
fi

# True when every cgroup the ruleset names exists where nft looks for it.
cgroups_exist() {
"#;

const BODY_HOST: &str = r#"}

# What cgroups.sh needs from the host, checked before it runs.
host_ready() {
"#;

const BODY_CHECK: &str = r#"}

check_ruleset() {
	host_ready
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
		die "the cgroups the ruleset names do not exist under /sys/fs/cgroup yet, and unshare -m (a private mount namespace, to check without them) is not available"
	fi
}

# Everything that can be checked is checked before anything changes.
checks() {
	check_ruleset || die "ruleset.nft does not pass nft -c; nothing changed"
	sh "$here/tunnels.sh" --check || die "the tunnels cannot be set up here; nothing changed"
	sh "$here/tuning.sh" --check || die "the tuning cannot be applied here; nothing changed"
	if [ "$empty" = 1 ] && "$NFT" list table inet "$table" >/dev/null 2>&1; then
		die "this build has no policy, and loading it would empty table inet $table, which is loaded now; nothing changed (to mean that, build with polc build --allow-empty)"
	fi
}

checks
if [ "$check" = 1 ]; then
	printf 'apply.sh: ruleset.nft passes nft -c; the tuning can be applied\n'
	exit 0
fi

sh "$here/cgroups.sh"
sh "$here/tunnels.sh"
sh "$here/tuning.sh"

# The ruleset plus the cgroups that exist now (those systemd creates are not
# in ruleset.nft), loaded in one transaction: nft either loads all of it or
# nothing, and the previous table inet $table stays loaded until it does.
load=$(mktemp "${TMPDIR:-/tmp}/pol-load.XXXXXX")
trap 'rm -f "$load"' EXIT
{
	cat "$here/ruleset.nft"
	sh "$here/refresh.sh" --print
} >"$load"

"$NFT" -c -f "$load" || die "ruleset.nft does not pass nft -c; nothing loaded"
"$NFT" -f "$load" || die "loading ruleset.nft failed; the previous table inet $table is still loaded"
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
    // A build without a policy empties the table: only when the author
    // said so (`polc build --allow-empty`).
    s.code(if program.policies.is_empty() && !opts.allow_empty {
        "empty=1\n"
    } else {
        "empty=0\n"
    });
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
    s.code(BODY_HOST);
    let mut host = false;
    if !paths.is_empty() {
        host = true;
        s.code("\t[ -e \"${POL_CGROUP2:-/sys/fs/cgroup}/cgroup.controllers\" ] ||\n\t\tdie \"no cgroup v2 hierarchy is mounted at ${POL_CGROUP2:-/sys/fs/cgroup} (missing feature: cgroup2; set POL_CGROUP2)\"\n");
    }
    if !crate::cgroups::classids(program).is_empty() {
        host = true;
        s.code("\tgrep -q '^net_cls[[:space:]]' /proc/cgroups ||\n\t\tdie \"the kernel has no net_cls cgroup controller (missing feature: CONFIG_CGROUP_NET_CLASSID), needed by classid groups\"\n");
    }
    if !host {
        s.code("\treturn 0\n");
    }
    s.code(BODY_CHECK);
    // The last line of the `unshare` call: the paths as its arguments.
    s.line(&words, None);
    s.code(BODY_END);
    s.finish()
}
