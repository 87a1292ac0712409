//! The IR: a resolved, normalised policy program. The verifier and the
//! backends read only this (plus the `SourceMap` for `FILE:LINE`), never
//! syntax.
//!
//! What "resolved and normalised" means here:
//! - every name is gone: groups are `GroupId`s into `Program::groups`,
//!   tunnels are `TunnelId`s, networks and services are inlined;
//! - every address expression is an exact, minimal `AddrSet` (one sorted
//!   interval list per family), every service expression a `ServiceSet`
//!   (protocol → exact destination-port set), matcher calls already run;
//! - a union group (`group g = { a, b }`) is flattened to its selectors;
//! - every item keeps the `Span` of the source that produced it.
//!
//! Packet semantics (LANGUAGE.md §4), which `Match::matches` implements and
//! the verifier encodes: a packet matches a rule when its socket is in one of
//! the rule's groups (or the rule has none), its source is in `from`, its
//! destination in `to` (both of the packet's family), its protocol and
//! destination port are in `service` (if any), and, with `via T`, it leaves
//! through tunnel T (its destination is in T's routes by longest prefix).

use crate::ast::{ExpectVerdict, Hook, Verdict};
use crate::sets::{AddrSet, Family, ServiceSet};
use crate::span::Span;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv6Addr;

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type! {
    /// Index into `Program::groups`.
    GroupId;
    /// Index into `Program::policies`.
    PolicyId;
    /// Index into `Program::tunnels`.
    TunnelId;
}

/// The whole resolved program.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub groups: Vec<Group>,
    pub cgroups: CgroupTree,
    pub policies: Vec<Policy>,
    pub tunnels: Vec<Tunnel>,
    pub tuning: Tuning,
    pub tests: Vec<Test>,
    /// The systemd units and slices `unit`/`slice` selectors name (their
    /// paths are ordinary `Selector::Cgroup`s of the groups; this says that
    /// systemd, not cgroups.sh, creates them). Deduplicated, source order.
    pub systemd: Vec<SystemdUnit>,
}

/// A unit or slice named by a `unit`/`slice` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdUnit {
    /// The unit's own name (`web.service`, `a-b.slice`).
    pub name: String,
    /// `Some(uid)`: a unit of that user's manager; `None`: the system's.
    pub user: Option<u32>,
    /// Its cgroup path.
    pub path: CgroupPath,
    pub span: Span,
}

impl SystemdUnit {
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }
}

impl Program {
    /// True when systemd (a `unit`/`slice` selector) creates `path`, so
    /// cgroups.sh must not.
    pub fn systemd_creates(&self, path: &CgroupPath) -> bool {
        self.systemd.iter().any(|u| &u.path == path)
    }

    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.index()]
    }
    pub fn policy(&self, id: PolicyId) -> &Policy {
        &self.policies[id.index()]
    }
    pub fn tunnel(&self, id: TunnelId) -> &Tunnel {
        &self.tunnels[id.index()]
    }
    pub fn policy_by_name(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The tunnel a packet to `daddr` leaves through: the one whose routes
    /// contain it (routes of different tunnels never overlap — checked).
    pub fn tunnel_for(&self, daddr: Addr) -> Option<TunnelId> {
        self.tunnels
            .iter()
            .find(|t| t.routes_contain(daddr))
            .map(|t| t.id)
    }
}

/// A group of applications: the union of its selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    /// Flattened (union groups expanded), deduplicated, in source order.
    pub selectors: Vec<Selector>,
    pub span: Span,
}

impl Group {
    pub fn cgroup_paths(&self) -> impl Iterator<Item = &CgroupPath> {
        self.selectors.iter().filter_map(|s| match s {
            Selector::Cgroup(p) => Some(p),
            _ => None,
        })
    }
    pub fn classids(&self) -> impl Iterator<Item = ClassId> + '_ {
        self.selectors.iter().filter_map(|s| match s {
            Selector::Classid(c) => Some(*c),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// The socket's cgroup v2 path is this path or below it.
    Cgroup(CgroupPath),
    /// The socket's net_cls class id (cgroup v1) equals this.
    Classid(ClassId),
    /// The socket's owner uid.
    Uid(u32),
    /// The socket's owner gid.
    Gid(u32),
}

/// Longest cgroup path accepted: `/sys/fs/cgroup/PATH/cgroup.procs` (the
/// directory nft resolves, the file `polc exec` writes) must fit in Linux's
/// `PATH_MAX` of 4096 bytes, NUL included. nft 1.0.6 says "cgroupv2 path
/// fails: File name too long" past it.
pub const MAX_CGROUP_PATH: usize = 4096 - 1 - "/sys/fs/cgroup/".len() - "/cgroup.procs".len();

/// Deepest cgroup path nft can match: the kernel refuses
/// `socket cgroupv2 level 256` (ERANGE, measured on 6.18).
pub const MAX_CGROUP_LEVEL: usize = 255;

/// Name prefixes of the kernel's cgroup v2 interface files (`cgroup.procs`,
/// `cpu.max`, `memory.pressure`, `hugetlb.2MB.max`, ...). A directory named
/// `PREFIX.anything` clashes with them: mkdir fails with EEXIST when the file
/// exists, and an existing directory of that name makes enabling the
/// controller fail later (measured). systemd escapes such unit names with a
/// leading `_` for the same reason.
pub const CGROUP_FILE_PREFIXES: &[&str] = &[
    "cgroup", "cpu", "cpuset", "io", "memory", "hugetlb", "pids", "rdma", "misc", "irq", "dmem",
];

/// Why a text is not a [`CgroupPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPathError {
    /// Not a relative path of plain components (the text says why).
    Invalid(String),
    /// Longer than [`MAX_CGROUP_PATH`] bytes.
    TooLong { bytes: usize },
    /// More than [`MAX_CGROUP_LEVEL`] components.
    TooDeep { levels: usize },
    /// A component named like a kernel interface file (`cgroup.procs`).
    Reserved {
        component: String,
        prefix: &'static str,
    },
}

impl fmt::Display for CgroupPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupPathError::Invalid(why) => f.write_str(why),
            CgroupPathError::TooLong { bytes } => write!(
                f,
                "the path is {bytes} bytes long; `/sys/fs/cgroup/PATH/cgroup.procs` must fit in Linux's 4096-byte PATH_MAX, so at most {MAX_CGROUP_PATH}"
            ),
            CgroupPathError::TooDeep { levels } => write!(
                f,
                "the path has {levels} levels; nft matches cgroups at most {MAX_CGROUP_LEVEL} levels deep"
            ),
            CgroupPathError::Reserved { component, prefix } => write!(
                f,
                "`{}` is named like the kernel's `{prefix}.*` interface files",
                component.escape_debug()
            ),
        }
    }
}

/// A validated cgroup v2 path relative to the cgroup2 root: no leading `/`,
/// no `.`/`..`, no empty components, no control character, at most
/// [`MAX_CGROUP_PATH`] bytes and [`MAX_CGROUP_LEVEL`] levels, no component
/// named like an interface file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CgroupPath(String);

impl CgroupPath {
    /// Checks the path; the error says what is wrong.
    pub fn parse(s: &str) -> Result<CgroupPath, CgroupPathError> {
        let invalid = |why: &str| Err(CgroupPathError::Invalid(why.to_string()));
        if s.is_empty() {
            return invalid("the path is empty");
        }
        if s.starts_with('/') {
            return invalid("the path must be relative to the cgroup2 root (no leading `/`)");
        }
        if s.len() > MAX_CGROUP_PATH {
            return Err(CgroupPathError::TooLong { bytes: s.len() });
        }
        if s.chars().any(|c| c.is_control()) {
            return invalid("the path contains a control character");
        }
        for comp in s.split('/') {
            match comp {
                "" => return invalid("the path has an empty component"),
                "." | ".." => {
                    return Err(CgroupPathError::Invalid(format!(
                        "the path has a `{comp}` component"
                    )))
                }
                _ => {}
            }
            if comp.len() > 255 {
                return invalid("a component is longer than 255 bytes");
            }
            if let Some(prefix) = reserved_prefix(comp) {
                return Err(CgroupPathError::Reserved {
                    component: comp.to_string(),
                    prefix,
                });
            }
        }
        let levels = s.split('/').count();
        if levels > MAX_CGROUP_LEVEL {
            return Err(CgroupPathError::TooDeep { levels });
        }
        Ok(CgroupPath(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Number of components: nft's `socket cgroupv2 level N`.
    pub fn level(&self) -> usize {
        self.0.split('/').count()
    }
    /// True when `self` is `other` or below it.
    pub fn is_within(&self, other: &CgroupPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }
    /// The parent path, `None` at level 1.
    pub fn parent(&self) -> Option<CgroupPath> {
        self.0
            .rsplit_once('/')
            .map(|(p, _)| CgroupPath(p.to_string()))
    }
}

impl fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The interface-file prefix a cgroup directory name clashes with
/// (`cgroup.procs` → `cgroup`), if any.
pub fn reserved_prefix(name: &str) -> Option<&'static str> {
    let (head, _) = name.split_once('.')?;
    CGROUP_FILE_PREFIXES.iter().copied().find(|p| *p == head)
}

/// A net_cls class id, printed as tc does: `MAJOR:MINOR` in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ClassId(pub u32);

impl ClassId {
    pub fn major(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub fn minor(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for ClassId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}:{:x}", self.major(), self.minor())
    }
}

/// Every cgroup v2 path any group names, with all their ancestors, as a
/// tree (edges parent → child). The verifier uses it to enumerate where a
/// socket can be; `cgroups.sh` creates the paths parent first.
#[derive(Debug, Clone, Default)]
pub struct CgroupTree {
    pub graph: DiGraph<CgroupPath, ()>,
    pub roots: Vec<NodeIndex>,
    index: BTreeMap<CgroupPath, NodeIndex>,
}

impl CgroupTree {
    /// Add a path and its ancestors; returns its node.
    pub fn insert(&mut self, path: &CgroupPath) -> NodeIndex {
        if let Some(n) = self.index.get(path) {
            return *n;
        }
        let node = self.graph.add_node(path.clone());
        self.index.insert(path.clone(), node);
        match path.parent() {
            Some(parent) => {
                let p = self.insert(&parent);
                self.graph.add_edge(p, node, ());
            }
            None => self.roots.push(node),
        }
        node
    }
    pub fn node(&self, path: &CgroupPath) -> Option<NodeIndex> {
        self.index.get(path).copied()
    }
    /// All paths, parents before children, sorted within a level.
    pub fn paths(&self) -> Vec<&CgroupPath> {
        let mut v: Vec<&CgroupPath> = self.index.keys().collect();
        v.sort_by(|a, b| a.level().cmp(&b.level()).then(a.cmp(b)));
        v
    }
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// One nftables base chain.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub hook: Hook,
    pub default: Verdict,
    /// The `default` statement (or the policy name when it was left out).
    pub default_span: Span,
    pub rules: Vec<Rule>,
    pub span: Span,
}

/// One rule, in policy order (index = position).
#[derive(Debug, Clone)]
pub struct Rule {
    pub verdict: Verdict,
    pub matches: Match,
    pub log: Option<Log>,
    pub counter: bool,
    pub comment: Option<String>,
    pub span: Span,
    /// Matcher calls whose output is part of this rule's sets.
    pub origins: Vec<MatcherOrigin>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// `log "prefix"`; `None` for a bare `log`.
    pub prefix: Option<String>,
}

/// The packets a rule (or an `expect`) describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// `None` = any socket (and packets with no socket). `Some(v)`: the
    /// socket is in one of these groups (never empty).
    pub groups: Option<Vec<GroupId>>,
    /// Source addresses; `AddrSet::any()` when not given.
    pub from: AddrSet,
    /// Destination addresses; `AddrSet::any()` when not given.
    pub to: AddrSet,
    /// `None` = any protocol.
    pub service: Option<ServiceSet>,
    pub via: Option<TunnelId>,
}

impl Match {
    pub fn any() -> Match {
        Match {
            groups: None,
            from: AddrSet::any(),
            to: AddrSet::any(),
            service: None,
            via: None,
        }
    }

    /// The families a packet matching this can have.
    pub fn families(&self) -> Vec<Family> {
        let mut fams = Vec::new();
        for f in [Family::Ipv4, Family::Ipv6] {
            let svc_ok = self
                .service
                .as_ref()
                .is_none_or(|s| s.families().contains(&f));
            if self.from.has_family(f) && self.to.has_family(f) && svc_ok {
                fams.push(f);
            }
        }
        fams
    }

    /// Concrete first-match semantics for one packet (the executable meaning
    /// of LANGUAGE.md §4, used by reference evaluators and witness checks).
    pub fn matches(&self, program: &Program, p: &Packet) -> bool {
        if let Some(gs) = &self.groups {
            if !gs.iter().any(|g| {
                p.socket
                    .as_ref()
                    .is_some_and(|s| s.in_group(program.group(*g)))
            }) {
                return false;
            }
        }
        if !addr_in(&self.from, p.saddr)
            || !addr_in(&self.to, p.daddr)
            || p.saddr.family() != p.daddr.family()
        {
            return false;
        }
        if let Some(svc) = &self.service {
            let Some(ports) = svc.protos.get(&p.proto) else {
                return false;
            };
            if !crate::sets::service::proto_families(p.proto).contains(&p.daddr.family()) {
                return false;
            }
            if crate::sets::service::has_ports(p.proto) && !ports.contains(p.dport) {
                return false;
            }
        }
        if let Some(t) = self.via {
            if program.tunnel_for(p.daddr) != Some(t) {
                return false;
            }
        }
        true
    }
}

fn addr_in(set: &AddrSet, a: Addr) -> bool {
    match a {
        Addr::V4(v) => set.v4.contains(v),
        Addr::V6(v) => set.v6.contains(v),
    }
}

/// An address as a number of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Addr {
    V4(u32),
    V6(u128),
}

impl Addr {
    pub fn family(self) -> Family {
        match self {
            Addr::V4(_) => Family::Ipv4,
            Addr::V6(_) => Family::Ipv6,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::V4(v) => write!(f, "{}", std::net::Ipv4Addr::from(*v)),
            Addr::V6(v) => write!(f, "{}", Ipv6Addr::from(*v)),
        }
    }
}

/// The sending socket of a packet (absent for packets no local socket owns).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Socket {
    /// The socket's cgroup v2 path; `None` = the cgroup2 root.
    pub cgroup: Option<CgroupPath>,
    /// net_cls class id; 0 = none.
    pub classid: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Socket {
    pub fn in_group(&self, g: &Group) -> bool {
        g.selectors.iter().any(|s| match s {
            Selector::Cgroup(p) => self.cgroup.as_ref().is_some_and(|c| c.is_within(p)),
            Selector::Classid(c) => self.classid == c.0,
            Selector::Uid(u) => self.uid == *u,
            Selector::Gid(g) => self.gid == *g,
        })
    }
}

/// A concrete packet: the first packet of a flow. An ICMPv6 packet
/// (`proto` 58) is any ICMPv6 message except the control messages every
/// policy accepts before its rules (`crate::ipv6_control`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    pub socket: Option<Socket>,
    pub saddr: Addr,
    pub daddr: Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

impl Policy {
    /// First-match evaluation: the deciding rule index (`None` = default)
    /// and the verdict.
    pub fn evaluate(&self, program: &Program, p: &Packet) -> (Option<usize>, Verdict) {
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches.matches(program, p) {
                return (Some(i), r.verdict);
            }
        }
        (None, self.default)
    }
}

/// Provenance of a set computed by a matcher call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherOrigin {
    pub matcher: String,
    pub call: Span,
    /// The call's text, e.g. `geo("DE")`.
    pub text: String,
}

/// One vti6 interface (LANGUAGE.md §5).
#[derive(Debug, Clone)]
pub struct Tunnel {
    pub id: TunnelId,
    pub name: String,
    /// Interface name (`vti6-NAME` unless `dev` was given), ≤ 15 bytes.
    pub dev: String,
    pub local: Ipv6Addr,
    pub remote: Ipv6Addr,
    /// xfrm mark / vti key, 1..=2^32-1.
    pub key: u32,
    /// Interface address with prefix length (host bits allowed).
    pub address: (Ipv6Addr, u8),
    pub routes: AddrSet,
    pub mtu: Option<u32>,
    pub span: Span,
    pub routes_span: Span,
}

impl Tunnel {
    pub fn routes_contain(&self, a: Addr) -> bool {
        addr_in(&self.routes, a)
    }
}

/// `tuning` blocks of all files, merged.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub sysctls: Vec<Sysctl>,
    pub qdiscs: Vec<Qdisc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// Dotted key, e.g. `net.ipv4.tcp_autocorking`.
    pub key: String,
    pub value: SysctlValue,
    /// Whether the key is per network namespace (from the schema; `false`
    /// for unchecked keys).
    pub per_netns: bool,
    /// False for a quoted key that bypassed the schema.
    pub checked: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SysctlValue {
    Int(i64),
    Str(String),
}

impl fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SysctlValue::Int(i) => write!(f, "{i}"),
            SysctlValue::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qdisc {
    pub dev: String,
    /// The qdisc kind (`fq`, `fq_codel`, `pfifo_fast`, …).
    pub kind: String,
    pub span: Span,
}

/// A `test` block.
#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub expects: Vec<Expect>,
    pub span: Span,
}

/// One `expect`: `some` = ∃, otherwise ∀ over `packets`.
#[derive(Debug, Clone)]
pub struct Expect {
    pub some: bool,
    pub verdict: ExpectVerdict,
    pub packets: Match,
    pub policy: PolicyId,
    pub span: Span,
}

impl ExpectVerdict {
    pub fn admits(self, v: Verdict) -> bool {
        matches!(
            (self, v),
            (ExpectVerdict::Allow, Verdict::Allow)
                | (ExpectVerdict::Drop, Verdict::Drop)
                | (ExpectVerdict::Reject, Verdict::Reject)
                | (ExpectVerdict::Deny, Verdict::Drop | Verdict::Reject)
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectVerdict::Allow => "allow",
            ExpectVerdict::Drop => "drop",
            ExpectVerdict::Reject => "reject",
            ExpectVerdict::Deny => "deny",
        }
    }
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Drop => "drop",
            Verdict::Reject => "reject",
        }
    }
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Output => "output",
            Hook::Input => "input",
        }
    }
}
