//! Keeping cgroup matches current: the `nft add element` commands that put
//! a (re-)created cgroup's id into every set and verdict map keyed by its
//! path, and `refresh.sh`, which runs them.
//!
//! nft resolves a cgroup path to the cgroup's numeric id when an element is
//! added (when the ruleset loads, or by `nft add element`); a cgroup that
//! is removed and created again gets a new id. So every group's cgroups are
//! matched through named sets (`cg_GROUP_lN`) and dispatch maps, and
//! whatever re-creates a cgroup re-adds its path: systemd through the
//! drop-ins of `crate::systemd` (`ExecStartPre=+nft …`), `polc exec`
//! through [`commands_for`], an operator through `refresh.sh PATH`. The
//! dead cgroup's id stays in the set as an element that matches nothing.

use crate::nft::CgroupElement;
use crate::shell::{
    Piece::{Code, Word},
    Script, ShComment, ShWord,
};
use pol_lang::ir::{CgroupPath, Program};
use pol_lang::span::SourceMap;

/// The nft command (for `nft -f` or the nft command line) that adds one
/// element for `e.path` in table `inet TABLE`.
pub fn command(table: &str, e: &CgroupElement) -> String {
    // INVARIANT: paths are checked quotable by `crate::validate`.
    match &e.verdict {
        None => format!(
            "add element inet {table} {} {{ \"{}\" }}",
            e.container,
            e.path.as_str()
        ),
        Some(v) => format!(
            "add element inet {table} {} {{ \"{}\" : {v} }}",
            e.container,
            e.path.as_str()
        ),
    }
}

/// `delete element …` of `e`'s path (a map's element by its key): what a
/// unit's drop-in runs when it stops, while its cgroup still exists, so
/// the id of a cgroup about to be removed does not stay in the set.
pub fn delete_command(table: &str, e: &CgroupElement) -> String {
    // INVARIANT: paths are checked quotable by `crate::validate`.
    format!(
        "delete element inet {table} {} {{ \"{}\" }}",
        e.container,
        e.path.as_str()
    )
}

/// Every path that has elements, parents first, each with its commands.
pub fn by_path(table: &str, elements: &[CgroupElement]) -> Vec<(CgroupPath, Vec<String>)> {
    let mut paths: Vec<&CgroupPath> = elements.iter().map(|e| &e.path).collect();
    paths.sort_by(|a, b| a.level().cmp(&b.level()).then(a.cmp(b)));
    paths.dedup();
    paths
        .into_iter()
        .map(|p| {
            let cmds = elements
                .iter()
                .filter(|e| &e.path == p)
                .map(|e| command(table, e))
                .collect();
            (p.clone(), cmds)
        })
        .collect()
}

/// The commands that refresh `path` in a build of `program` with `opts`
/// (what `polc exec` runs after creating or before joining a cgroup);
/// empty when no set or map is keyed by it.
pub fn commands_for(
    program: &Program,
    sources: &SourceMap,
    opts: &crate::BuildOptions,
    path: &CgroupPath,
) -> Vec<String> {
    let (_, elements) = crate::nft::render_with_elements(program, sources, opts, false);
    elements
        .iter()
        .filter(|e| &e.path == path)
        .map(|e| command(&opts.table, e))
        .collect()
}

const BODY_START: &str = r#"usage() {
	printf 'usage: %s [--print] [PATH...]\n' "$0" >&2
	exit 2
}

die() {
	printf 'refresh.sh: %s\n' "$1" >&2
	exit "${2:-1}"
}

print=0
if [ "${1:-}" = --print ]; then
	print=1
	shift
fi
case ${1:-} in -*) usage ;; esac

out=$(mktemp "${TMPDIR:-/tmp}/pol-refresh.XXXXXX")
trap 'rm -f "$out"' EXIT
if [ $# -eq 0 ]; then
	# Every cgroup of the policy that exists now (nft resolves the paths
	# against /sys/fs/cgroup).
"#;

const BODY_END: &str = r#"		if [ -z "$p" ] || [ ! -d "/sys/fs/cgroup/$p" ]; then continue; fi
		commands "$p" >>"$out"
	done
else
	for p in "$@"; do
		commands "$p" >>"$out" || die "\`$p\` is not a cgroup path of this policy's sets" 2
		[ -d "/sys/fs/cgroup/$p" ] || die "cgroup \`$p\` does not exist under /sys/fs/cgroup"
	done
fi

if [ "$print" = 1 ]; then
	cat "$out"
	exit 0
fi
[ -s "$out" ] || exit 0
NFT=${NFT:-nft}
"$NFT" -f "$out" || die "nft could not add the elements (is table inet $table loaded? run apply.sh)"
"#;

/// `refresh.sh [--print] [PATH...]`: re-add the given cgroup paths (all
/// existing ones without arguments) to every set and map keyed by them, in
/// one nft transaction; `--print` writes the commands instead (apply.sh
/// appends them to the ruleset it loads).
pub fn render_script(
    opts: &crate::BuildOptions,
    sources: &SourceMap,
    elements: &[CgroupElement],
) -> String {
    let mut s = Script::new(
        "refresh.sh",
        "re-add (re-created) cgroups to the sets and maps that match them",
        &ShComment::new(&crate::entry_name(sources)),
    );
    s.code(
        "# nft turns a cgroup path into the cgroup's id when the element is added;\n\
         # a cgroup removed and created again has a new id. Run this after\n\
         # re-creating a cgroup by any route that does not refresh by itself\n\
         # (the systemd drop-ins and `polc exec` do). Old ids stay in the sets as\n\
         # elements that match nothing.\n",
    );
    let table = ShWord::new(&opts.table);
    s.line(&[Code("table="), Word(&table)], None);
    s.code("\n");
    let plan = by_path(&opts.table, elements);
    s.code("# The commands for one cgroup path; fails for a path no set names.\ncommands() {\n\tcase $1 in\n");
    let mut words = Vec::new();
    for (p, cmds) in &plan {
        let w = ShWord::new(p.as_str());
        s.line(&[Code("\t"), Word(&w), Code(")")], None);
        for c in cmds {
            let c = ShWord::new(c);
            s.line(&[Code("\t\tprintf '%s\\n' "), Word(&c)], None);
        }
        s.code("\t\t;;\n");
        words.push(w);
    }
    s.code("\t*) return 1 ;;\n\tesac\n}\n\n");
    s.code(BODY_START);
    let empty = ShWord::new("");
    let mut pieces = vec![Code("\tfor p in")];
    if words.is_empty() {
        // An empty `for` list is not POSIX sh; loop over nothing instead.
        pieces.extend([Code(" "), Word(&empty)]);
    }
    for w in &words {
        pieces.extend([Code(" "), Word(w)]);
    }
    pieces.push(Code("; do"));
    s.line(&pieces, None);
    s.code(BODY_END);
    s.finish()
}
