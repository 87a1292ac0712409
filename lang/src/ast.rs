//! The syntax tree of one `.pol` file, as the parser builds it. Every node
//! carries a `Span`; names are `Ident`s (text + span). The tree keeps what
//! the author wrote (so `polc fmt` can print it back); meaning — name
//! resolution, set normalisation, range checks — is the resolver's job.
//!
//! `Spanned` values compare without their spans, but nodes also carry plain
//! `span: Span` fields, so tree equality does include positions: compare
//! trees of different layouts through the IR (as the round-trip test does)
//! or through their debug output with spans removed.

use crate::span::{Span, Spanned};
use std::net::{Ipv4Addr, Ipv6Addr};

pub type Ident = Spanned<String>;

/// One parsed file. `comments` is every `#` comment in source order, kept
/// for the formatter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Text after the `#`, without the newline.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Import(Import),
    Network(NetworkDef),
    Service(ServiceDef),
    Group(GroupDef),
    Matcher(MatcherDef),
    Tunnel(TunnelDef),
    Tuning(TuningBlock),
    Policy(PolicyDef),
    Test(TestDef),
    /// A top-level item that failed to parse; its diagnostic was reported.
    Error(Span),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Network(i) => i.span,
            Item::Service(i) => i.span,
            Item::Group(i) => i.span,
            Item::Matcher(i) => i.span,
            Item::Tunnel(i) => i.span,
            Item::Tuning(i) => i.span,
            Item::Policy(i) => i.span,
            Item::Test(i) => i.span,
            Item::Error(s) => *s,
        }
    }
}

/// `import "std/services"` or `import "common/office.pol"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: Spanned<String>,
    pub span: Span,
}

/// `network NAME = ADDR-EXPR`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkDef {
    pub name: Ident,
    pub expr: AddrExpr,
    pub span: Span,
}

/// `service NAME = SERVICE-EXPR`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDef {
    pub name: Ident,
    pub expr: ServiceExpr,
    pub span: Span,
}

/// `group NAME { selector... }` or `group NAME = GROUP-EXPR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDef {
    pub name: Ident,
    pub body: GroupBody,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBody {
    Selectors(Vec<Selector>),
    Union(GroupExpr),
}

/// One selector of a group block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `cgroup "a/b"` — the path as written (validated by the resolver).
    Cgroup(Spanned<String>),
    /// `classid 10:1` or `classid 0x00100001`: the 32-bit class id.
    Classid(Spanned<u32>),
    /// `uid N` (as written; range-checked by the resolver).
    Uid(Spanned<u64>),
    /// `gid N`
    Gid(Spanned<u64>),
    /// `unit "NAME"` / `slice "NAME"`, optionally `user UID` (a unit of that
    /// user's systemd manager); names are checked by the resolver.
    Systemd(SystemdSelector),
}

/// Which kind of systemd selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemdKind {
    /// `unit "web.service"` (any unit type but a slice).
    Unit,
    /// `slice "browser.slice"`.
    Slice,
}

impl SystemdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemdKind::Unit => "unit",
            SystemdKind::Slice => "slice",
        }
    }
}

/// `unit "NAME" [user UID]` or `slice "NAME" [user UID]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdSelector {
    pub kind: SystemdKind,
    /// The name as written (possibly `SLICE/UNIT` for a unit).
    pub name: Spanned<String>,
    /// `user UID`: the unit belongs to that user's manager.
    pub user: Option<Spanned<u64>>,
    pub span: Span,
}

impl Selector {
    pub fn span(&self) -> Span {
        match self {
            Selector::Cgroup(s) => s.span,
            Selector::Classid(s) => s.span,
            Selector::Uid(s) => s.span,
            Selector::Gid(s) => s.span,
            Selector::Systemd(s) => s.span,
        }
    }
}

/// `matcher NAME = wasm "path" [{ fuel N; memory SIZE; timeout DURATION }]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherDef {
    pub name: Ident,
    pub path: Spanned<String>,
    pub limits: Vec<Spanned<MatcherLimit>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatcherLimit {
    Fuel(u64),
    /// Bytes (`64MiB` = 67108864; a bare integer is bytes).
    Memory(u64),
    /// Milliseconds (`2s` = 2000, `500ms` = 500).
    TimeoutMs(u64),
}

/// `tunnel NAME { field... }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelDef {
    pub name: Ident,
    pub fields: Vec<Spanned<TunnelField>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelField {
    Local(AddrLit),
    Remote(AddrLit),
    Key(u64),
    /// `address fd00:42::1/64`: an interface address, host bits allowed.
    Address(AddrLit),
    Routes(AddrExpr),
    Mtu(u64),
    Dev(String),
}

/// `tuning { entry... }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuningBlock {
    pub entries: Vec<TuningEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuningEntry {
    /// `net.ipv4.tcp_autocorking = 1`, `"net.foo.bar" = 1` or
    /// `unsafe "kernel.foo" = 1`.
    Sysctl {
        /// The `unsafe` keyword, when written: the opt-in for a key outside
        /// the network keys.
        unsafe_kw: Option<Span>,
        key: Spanned<SysctlKey>,
        value: Spanned<SysctlValue>,
        span: Span,
    },
    /// `qdisc "eth0" fq`
    Qdisc {
        dev: Spanned<String>,
        kind: Ident,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysctlKey {
    pub name: String,
    /// Written as a string: bypasses the schema (with a warning).
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlValue {
    Int(i64),
    Str(String),
    On,
    Off,
}

/// `policy NAME { hook ..; default ..; rules }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDef {
    pub name: Ident,
    pub stmts: Vec<PolicyStmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "rules are the common statement; boxing them costs an allocation each"
)]
pub enum PolicyStmt {
    Hook(Spanned<Hook>),
    Default(Spanned<Verdict>),
    Rule(Rule),
    /// A statement that failed to parse; its diagnostic was reported.
    Error(Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    Output,
    Input,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Allow,
    Drop,
    Reject,
}

/// `verdict [GROUPS] [from ADDRS] [to ADDRS] [SERVICE] [via TUNNEL] modifier*`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub verdict: Spanned<Verdict>,
    pub packets: PacketSpec,
    pub modifiers: Vec<Spanned<Modifier>>,
    pub span: Span,
}

/// The packet-describing part shared by rules and `expect`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketSpec {
    pub groups: Option<GroupExpr>,
    pub from: Option<AddrExpr>,
    pub to: Option<AddrExpr>,
    pub service: Option<RuleService>,
    pub via: Option<Ident>,
}

/// The service part of a rule: `service EXPR` (keyword kept for `fmt`) or an
/// inline `tcp 443` / `icmp` / `proto esp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleService {
    pub keyword: bool,
    pub expr: ServiceExpr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    Log(Option<String>),
    Counter,
    Comment(String),
}

/// `test "name" { expect... }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDef {
    pub name: Spanned<String>,
    pub expects: Vec<Expect>,
    pub span: Span,
}

/// `expect [some] VERDICT PACKETS [in POLICY]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub some: bool,
    pub verdict: Spanned<ExpectVerdict>,
    pub packets: PacketSpec,
    pub policy: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectVerdict {
    Allow,
    Drop,
    Reject,
    /// drop or reject
    Deny,
}

/// Group expressions: `any`, a name, or `{ a, b }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupExpr {
    Any(Span),
    Name(Ident),
    Set(Vec<Ident>, Span),
}

impl GroupExpr {
    pub fn span(&self) -> Span {
        match self {
            GroupExpr::Any(s) => *s,
            GroupExpr::Name(i) => i.span,
            GroupExpr::Set(_, s) => *s,
        }
    }
}

/// Address expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrExpr {
    Any(Span),
    Lit(Spanned<AddrLit>),
    Name(Ident),
    Set(Vec<AddrExpr>, Span),
    Not(Box<AddrExpr>, Span),
    Call(Call),
    /// Failed to parse; already reported.
    Error(Span),
}

impl AddrExpr {
    pub fn span(&self) -> Span {
        match self {
            AddrExpr::Any(s) | AddrExpr::Set(_, s) | AddrExpr::Not(_, s) | AddrExpr::Error(s) => *s,
            AddrExpr::Lit(l) => l.span,
            AddrExpr::Name(i) => i.span,
            AddrExpr::Call(c) => c.span,
        }
    }
}

/// An address literal exactly as written (prefix host bits are checked by
/// the resolver, since a tunnel's `address` may have them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrLit {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    Prefix4(Ipv4Addr, u8),
    Prefix6(Ipv6Addr, u8),
    Range4(Ipv4Addr, Ipv4Addr),
    Range6(Ipv6Addr, Ipv6Addr),
}

/// Service expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceExpr {
    /// `tcp PORTS`, `udp PORTS`, `sctp PORTS`
    Ports {
        proto: Spanned<PortProto>,
        ports: Vec<Spanned<PortRange>>,
        braced: bool,
        span: Span,
    },
    Icmp(Span),
    Icmpv6(Span),
    /// `proto 50` or `proto esp`
    Proto(Spanned<ProtoRef>),
    Name(Ident),
    Set(Vec<ServiceExpr>, Span),
    Call(Call),
    Error(Span),
}

impl ServiceExpr {
    pub fn span(&self) -> Span {
        match self {
            ServiceExpr::Ports { span, .. } => *span,
            ServiceExpr::Icmp(s)
            | ServiceExpr::Icmpv6(s)
            | ServiceExpr::Set(_, s)
            | ServiceExpr::Error(s) => *s,
            ServiceExpr::Proto(p) => p.span,
            ServiceExpr::Name(i) => i.span,
            ServiceExpr::Call(c) => c.span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortProto {
    Tcp,
    Udp,
    Sctp,
}

/// An inclusive port range as written; `lo == hi` for a single port.
/// Values are kept as written (u32) and range-checked by the resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u32,
    pub hi: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProtoRef {
    Num(u64),
    /// `esp`, `gre`, `tcp`, `icmp` …
    Name(String),
}

/// A matcher call `name("arg", 3)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Spanned<CallArg>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallArg {
    Str(String),
    Int(u64),
}
