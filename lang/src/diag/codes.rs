//! The stable registry of diagnostic codes. Every diagnostic polc emits has
//! one of these codes; each code has one kind, a default severity and a
//! one-line title. Codes are never reused: retire one by leaving it here.
//!
//! Numbering: P00xx syntax, P01xx names and imports, P02xx tunnels,
//! P03xx verifier findings, P04xx tuning, P05xx tests, P06xx matchers,
//! P09xx solver limits.

use super::{Kind, Severity};
use serde::Serialize;

/// One entry of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Code {
    pub id: &'static str,
    pub kind: Kind,
    pub severity: Severity,
    pub title: &'static str,
}

macro_rules! codes {
    ($( $name:ident = $id:literal, $kind:ident, $sev:ident, $title:literal; )*) => {
        $( pub const $name: Code = Code { id: $id, kind: Kind::$kind, severity: Severity::$sev, title: $title }; )*
        /// Every code, in registry order.
        pub const ALL: &[Code] = &[ $( $name ),* ];
    };
}

codes! {
    // --- syntax
    UNEXPECTED_TOKEN   = "P0001", Syntax, Error, "unexpected token";
    UNEXPECTED_EOF     = "P0002", Syntax, Error, "unexpected end of file";
    INVALID_CHAR       = "P0003", Syntax, Error, "invalid character";
    UNTERMINATED_STR   = "P0004", Syntax, Error, "unterminated string";
    INVALID_ESCAPE     = "P0005", Syntax, Error, "invalid escape in string";
    INT_OVERFLOW       = "P0006", Syntax, Error, "integer out of range";
    INVALID_ADDRESS    = "P0007", Syntax, Error, "invalid address";
    HOST_BITS_SET      = "P0008", Syntax, Error, "prefix has host bits set";
    INVALID_PREFIX_LEN = "P0009", Syntax, Error, "invalid prefix length";
    INVERTED_RANGE     = "P0010", Syntax, Error, "range ends before it starts";
    PORT_OUT_OF_RANGE  = "P0011", Syntax, Error, "port out of range";
    INVALID_CLASSID    = "P0012", Syntax, Error, "invalid class id";
    MIXED_FAMILY_RANGE = "P0013", Syntax, Error, "range mixes IPv4 and IPv6";
    DUPLICATE_FIELD    = "P0014", Syntax, Error, "field given twice";
    MISSING_FIELD      = "P0015", Syntax, Error, "required field missing";
    KEYWORD_AS_NAME    = "P0016", Syntax, Error, "keyword used as a name";
    INVALID_SIZE       = "P0017", Syntax, Error, "invalid size or duration";
    TOO_DEEP           = "P0018", Syntax, Error, "expression nested too deeply";
    // --- imports
    IMPORT_NOT_FOUND   = "P0101", Import, Error, "imported file not found";
    IMPORT_ESCAPES     = "P0102", Import, Error, "import escapes the root directory";
    UNKNOWN_STD_MODULE = "P0103", Import, Error, "unknown stdlib module";
    IMPORT_CYCLE       = "P0104", Cycle, Error, "import cycle";
    IMPORT_IO          = "P0105", Import, Error, "cannot read imported file";
    NOT_REGULAR_FILE   = "P0106", Import, Error, "imported file or matcher module is not a regular file";
    FILE_TOO_LARGE     = "P0107", Import, Error, "imported file is too large";
    TOO_MANY_FILES     = "P0108", Import, Error, "too many imported files";
    CONTROL_IN_PATH    = "P0109", Import, Error, "import or matcher path contains a control character";
    // --- names
    UNKNOWN_NAME       = "P0110", Unresolved, Error, "unknown name";
    DUPLICATE_NAME     = "P0120", Duplicate, Error, "name defined twice";
    DUPLICATE_TEST     = "P0121", Duplicate, Error, "test name used twice";
    DEFINITION_CYCLE   = "P0130", Cycle, Error, "definition cycle";
    // --- types
    WRONG_KIND         = "P0140", Type, Error, "wrong kind of name";
    NOT_A_MATCHER      = "P0141", Type, Error, "call of something that is not a matcher";
    INVALID_CGROUP     = "P0142", Type, Error, "invalid cgroup path";
    POLICY_REQUIRED    = "P0143", Type, Error, "test must name its policy";
    UNKNOWN_PROTO      = "P0144", Type, Error, "unknown protocol";
    ID_OUT_OF_RANGE    = "P0145", Type, Error, "id out of range";
    CGROUP_RESERVED    = "P0146", Type, Error, "cgroup name clashes with the kernel's interface files";
    INPUT_GROUP        = "P0147", Type, Warning, "group on an input policy matches only locally delivered packets";
    CGROUP_TOO_DEEP    = "P0148", Type, Error, "cgroup path too deep";
    INVALID_UNIT_NAME  = "P0150", Type, Error, "invalid systemd unit name";
    INVALID_SLICE_NAME = "P0151", Type, Error, "invalid systemd slice name";
    SLICE_NESTING      = "P0152", Type, Error, "slice nesting contradicts the slice's name";
    USER_SLICE_NO_UID  = "P0153", Type, Error, "unit of a user's manager without a uid";
    // --- tunnels (front end)
    IFNAME_TOO_LONG    = "P0201", Tunnel, Error, "interface name too long";
    KEY_OUT_OF_RANGE   = "P0202", Tunnel, Error, "tunnel key out of range";
    ENDPOINT_NOT_V6    = "P0203", Tunnel, Error, "tunnel endpoint is not an IPv6 unicast address";
    TUNNEL_KEY_CLASH   = "P0204", Tunnel, Error, "two tunnels share a key";
    TUNNEL_DEV_CLASH   = "P0205", Tunnel, Error, "two tunnels share an interface name";
    TUNNEL_ROUTE_CLASH = "P0206", Tunnel, Error, "tunnel routes overlap";
    INVALID_IFNAME     = "P0208", Tunnel, Error, "invalid interface name";
    MTU_OUT_OF_RANGE   = "P0209", Tunnel, Error, "tunnel mtu out of range";
    VIA_OUTSIDE_ROUTES = "P0210", Tunnel, Error, "rule sends via a tunnel outside its routes";
    IKE_BLOCKED        = "P0211", Tunnel, Warning, "policy drops the tunnel's own IKE or ESP";
    // --- verifier findings
    EMPTY_MATCH        = "P0300", EmptyMatch, Error, "rule matches no packet";
    SHADOWED           = "P0301", Shadowed, Error, "rule never matches: every packet it matches is decided earlier";
    REDUNDANT_EARLIER  = "P0302", Redundant, Warning, "rule is redundant: earlier rules give its packets the same verdict";
    REDUNDANT_LATER    = "P0303", Redundant, Warning, "rule is redundant: later rules or the default give the same verdict";
    CONFLICT           = "P0304", Conflict, Warning, "rule partly overlaps an earlier rule with another verdict";
    GENERALIZATION     = "P0305", Generalization, Note, "rule generalizes an earlier rule with another verdict";
    // --- tuning
    UNKNOWN_SYSCTL     = "P0401", Sysctl, Error, "unknown sysctl key";
    SYSCTL_TYPE        = "P0402", Sysctl, Error, "sysctl value has the wrong type";
    SYSCTL_RANGE       = "P0403", Sysctl, Error, "sysctl value out of range";
    SYSCTL_TWICE       = "P0404", Sysctl, Error, "sysctl key set to two values";
    SYSCTL_UNCHECKED   = "P0405", Sysctl, Warning, "quoted sysctl key is not checked";
    INVALID_QDISC      = "P0406", Sysctl, Error, "invalid qdisc";
    SYSCTL_NOT_NETWORK = "P0407", Sysctl, Error, "sysctl outside the network keys needs `unsafe`";
    INVALID_SYSCTL     = "P0408", Sysctl, Error, "invalid sysctl key or value";
    SYSCTL_UNSAFE      = "P0409", Sysctl, Note, "sysctl set with `unsafe`";
    // --- tests
    TEST_FAILED        = "P0501", TestFailed, Error, "expectation does not hold";
    // --- matchers
    MATCHER_NOT_FOUND  = "P0601", Matcher, Error, "matcher module not found";
    MATCHER_NOT_WASM   = "P0602", Matcher, Error, "matcher module is not valid WebAssembly";
    MATCHER_EXPORT     = "P0603", Matcher, Error, "matcher module lacks a required export";
    MATCHER_IMPORT     = "P0604", Matcher, Error, "matcher module imports something";
    MATCHER_FUEL       = "P0605", Matcher, Error, "matcher ran out of fuel";
    MATCHER_MEMORY     = "P0606", Matcher, Error, "matcher exceeded its memory limit";
    MATCHER_TIMEOUT    = "P0607", Matcher, Error, "matcher exceeded its time limit";
    MATCHER_TRAP       = "P0608", Matcher, Error, "matcher trapped";
    MATCHER_OUTPUT_BIG = "P0609", Matcher, Error, "matcher output too large";
    MATCHER_UTF8       = "P0610", Matcher, Error, "matcher output is not UTF-8";
    MATCHER_BAD_SET    = "P0611", Matcher, Error, "matcher output is not a set of the expected kind";
    MATCHER_ERROR_CODE = "P0612", Matcher, Error, "matcher returned an error code";
    MATCHER_ESCAPES    = "P0613", Matcher, Error, "matcher path escapes the root directory";
    MATCHER_LIMIT      = "P0614", Matcher, Error, "invalid matcher limit";
    MATCHER_TOO_COMPLEX = "P0615", Matcher, Error, "matcher module too large to compile";
    MATCHER_BUDGET     = "P0616", Matcher, Error, "matcher budget of the run used up";
    MATCHER_SKIPPED    = "P0617", Matcher, Error, "matcher not run: the run's matcher budget is used up";
    // --- solver
    SOLVER_UNKNOWN     = "P0901", Unknown, Warning, "the solver could not decide";
    // --- command line / I/O (no source span)
    IO_ERROR           = "P0902", Import, Error, "cannot read input";
    INPUT_ESCAPES      = "P0903", Import, Error, "input leads outside its directory";
    INPUT_NOT_REGULAR  = "P0904", Import, Error, "input is not a regular file";
    INPUT_TOO_LARGE    = "P0905", Import, Error, "input file is too large";
}

/// Codes that mean an input named on the command line (or found in a
/// directory named there) could not be read at all: exit status 2, not a
/// finding (LANGUAGE.md §10).
pub fn is_input_failure(code: Code) -> bool {
    [IO_ERROR, INPUT_ESCAPES, INPUT_NOT_REGULAR, INPUT_TOO_LARGE].contains(&code)
}

/// Look a code up by its id (`P0301`).
pub fn by_id(id: &str) -> Option<Code> {
    ALL.iter().copied().find(|c| c.id == id)
}
