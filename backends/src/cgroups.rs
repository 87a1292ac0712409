//! `cgroups.sh`: the cgroup v2 directories of every `cgroup` selector
//! (parents first) and, for `classid` groups, a net_cls (cgroup v1)
//! hierarchy with one directory per class id.
//!
//! - cgroup v2 root: `${POL_CGROUP2:-/sys/fs/cgroup}`. nft resolves
//!   `socket cgroupv2` paths against /sys/fs/cgroup when the ruleset loads,
//!   so apply.sh runs this first; a cgroup removed and created again later
//!   gets a new id, which `refresh.sh PATH` (or `polc exec`) adds to the
//!   group's sets. `unit`/`slice` paths are systemd's to create.
//! - net_cls: an existing net_cls mount is reused (found in
//!   /proc/self/mounts); otherwise it is mounted at
//!   `${POL_NET_CLS:-/run/pol/net_cls}` — outside /sys/fs/cgroup, which on
//!   a pure cgroup v2 host is the cgroup2 filesystem itself. Class X lives
//!   in `NETCLS/pol/XXXXXXXX` (8 hex digits) with `net_cls.classid` = X.

use crate::shell::{
    Piece::{Code, Word},
    Script, ShComment, ShWord,
};
use pol_lang::ir::{CgroupTree, ClassId, Program};
use pol_lang::span::SourceMap;

/// Every cgroup v2 path the `cgroup` selectors name, with ancestors,
/// parents first. Paths of `unit`/`slice` selectors are left out: systemd
/// creates those (a `mkdir` behind its back would be adopted by no unit).
pub fn cgroup_paths(program: &Program) -> Vec<String> {
    let mut tree = CgroupTree::default();
    for g in &program.groups {
        for p in g.cgroup_paths().filter(|p| !program.systemd_creates(p)) {
            tree.insert(p);
        }
    }
    tree.paths()
        .into_iter()
        .map(|p| p.as_str().to_string())
        .collect()
}

/// Every class id the groups name, sorted.
pub fn classids(program: &Program) -> Vec<ClassId> {
    let mut v: Vec<ClassId> = program.groups.iter().flat_map(|g| g.classids()).collect();
    v.sort();
    v.dedup();
    v
}

/// The directory of class `c` below the net_cls mount.
pub fn classid_dir(c: ClassId) -> String {
    format!("pol/{:08x}", c.0)
}

/// The sh snippet that sets `netcls` to the net_cls mount point (empty when
/// there is none). /proc/self/mounts writes a space, tab, newline and
/// backslash in a mount point as `\040`, `\011`, `\012`, `\134` (decoded
/// here, `\134` last, as `pol_backends::mounts` does); the `/` printed
/// after the path keeps a trailing newline from `$(...)`.
pub const FIND_NET_CLS: &str = r#"netcls=$(awk '$3 == "cgroup" && ("," $4 ",") ~ /,net_cls,/ {
	d = $2
	gsub(/\\040/, " ", d)
	gsub(/\\011/, "\t", d)
	gsub(/\\012/, "\n", d)
	gsub(/\\134/, "\\\\", d)
	printf "%s/", d
	exit
}' /proc/self/mounts)
netcls=${netcls%/}
"#;

pub(crate) fn render(program: &Program, sources: &SourceMap) -> String {
    let mut s = Script::new(
        "cgroups.sh",
        "the cgroups of the policy's groups",
        &ShComment::new(&crate::entry_name(sources)),
    );
    s.code("POL_CGROUP2=${POL_CGROUP2:-/sys/fs/cgroup}\nPOL_NET_CLS=${POL_NET_CLS:-/run/pol/net_cls}\n\n");
    let paths = cgroup_paths(program);
    let cls = classids(program);
    if !paths.is_empty() || !cls.is_empty() {
        s.code("die() {\n\tprintf 'cgroups.sh: %s\\n' \"$*\" >&2\n\texit 1\n}\n\n");
    }
    if !paths.is_empty() {
        s.code("# cgroup v2 directories, parents first. nft resolves these paths to cgroup\n");
        s.code("# ids when the ruleset loads: after creating one again, run refresh.sh PATH.\n");
        s.code("[ -e \"$POL_CGROUP2/cgroup.controllers\" ] ||\n\tdie \"no cgroup v2 hierarchy is mounted at $POL_CGROUP2 (missing feature: cgroup2; set POL_CGROUP2)\"\n");
        for p in &paths {
            let p = ShWord::new(p);
            s.line(&[Code("mkdir -p -- \"$POL_CGROUP2\"/"), Word(&p)], None);
        }
        s.code("\n");
    }
    if !cls.is_empty() {
        s.code("# net_cls (cgroup v1) for classid groups: reuse a mounted net_cls hierarchy,\n");
        s.code("# or mount one at $POL_NET_CLS (outside the cgroup2 tree).\n");
        s.code(FIND_NET_CLS);
        s.code("if [ -z \"$netcls\" ]; then\n");
        s.code("\tgrep -q '^net_cls[[:space:]]' /proc/cgroups ||\n\t\tdie \"the kernel has no net_cls cgroup controller (missing feature: CONFIG_CGROUP_NET_CLASSID), needed by classid groups\"\n");
        s.code("\tmkdir -p -- \"$POL_NET_CLS\"\n");
        s.code("\tmount -t cgroup -o net_cls pol_net_cls \"$POL_NET_CLS\" ||\n\t\tdie \"cannot mount the net_cls controller at $POL_NET_CLS\"\n");
        s.code("\tnetcls=$POL_NET_CLS\nfi\n");
        s.code("set_classid() {\n\tmkdir -p -- \"$netcls/$1\"\n\tprintf '%s\\n' \"$2\" >\"$netcls/$1/net_cls.classid\"\n}\n");
        for c in cls {
            let (dir, id) = (
                ShWord::new(&classid_dir(c)),
                ShWord::new(&format!("0x{:08x}", c.0)),
            );
            s.line(
                &[Code("set_classid "), Word(&dir), Code(" "), Word(&id)],
                Some(&ShComment::new(&c.to_string())),
            );
        }
        s.code("\n");
    }
    s.code("exit 0\n");
    s.finish()
}
