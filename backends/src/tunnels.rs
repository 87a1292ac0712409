//! `tunnels.sh`: the vti6 interfaces of LANGUAGE.md §5, idempotent.
//!
//! Per tunnel: create the link (`ip link add … type vti6 local A remote B
//! key K`) or update an existing vti6 link in place (`ip link set … type
//! vti6 …`), `ip link set … [mtu N] up`, `ip -6 addr replace`, one
//! `ip route replace` per route prefix (IPv4 prefixes with `ip -4`), and
//! `net.ipv6.conf.DEV.disable_policy=1` (written to /proc/sys, so interface
//! names with dots need no sysctl escaping).
//!
//! `tunnels.sh --check` changes nothing: an existing link of a tunnel's
//! name must be vti6, and a missing one must be creatable, which is tried
//! in a throwaway network namespace (`unshare -n`). apply.sh runs it before
//! anything changes.
//!
//! A kernel without vti6 gets "the kernel lacks vti6 tunnels (missing
//! feature: …)" instead of `ip`'s "Unknown device type". With
//! `POL_TUNNEL_STANDIN=1` an existing interface of the tunnel's name (a
//! veth, say) stands in for the vti6 link, which is how the tests run the
//! address and route commands on such kernels.

use crate::shell::{
    Piece::{Code, Word},
    Script, ShComment, ShWord,
};
use pol_lang::ir::Program;
use pol_lang::sets::addr::{v4_prefixes, v6_prefixes};
use pol_lang::span::SourceMap;

const FUNCTIONS: &str = r#"die() {
	printf 'tunnels.sh: %s\n' "$*" >&2
	exit 1
}

command -v ip >/dev/null 2>&1 || die "ip not found (install iproute2)"

# --check: only check that every tunnel's link can be set up (an existing
# link of its name is a vti6 one; otherwise one can be created, tried in a
# throwaway network namespace; no other vti6 link has its endpoints and
# key); change nothing.
check=0
case ${1:-} in
--check) check=1 ;;
esac

# run CMD...: run it, unless checking.
run() {
	[ "$check" = 1 ] || "$@"
}

# is_vti6 DEV: the link is a vti6 tunnel (its kind, not its name, which
# is vti6-NAME by default).
is_vti6() {
	ip -d -j link show dev "$1" 2>/dev/null | grep -q '"info_kind":"vti6"'
}

# no_clash DEV LOCAL REMOTE KEY: no other vti6 link has these endpoints and
# key (the kernel allows one; creating or updating DEV would fail).
no_clash() {
	k=$(printf '%d.%d.%d.%d' $(($4 >> 24 & 255)) $(($4 >> 16 & 255)) $(($4 >> 8 & 255)) $(($4 & 255)))
	other=$(ip -d -o link show type vti6 2>/dev/null | while read -r _ name rest; do
		name=${name%:}
		name=${name%%@*}
		[ "$name" = "$1" ] && continue
		case " $rest " in
		*" remote $3 "*) ;;
		*) continue ;;
		esac
		case " $rest " in
		*" local $2 "*) ;;
		*) continue ;;
		esac
		case " $rest " in
		*" ikey $k "* | *" key $k "*) printf '%s\n' "$name" ;;
		esac
	done)
	[ -z "$other" ] || die "cannot set up $1: the vti6 link $(printf '%s' "$other" | head -n 1) already has local $2 remote $3 key $4 (the kernel allows one such link)"
}

# vti6_creatable DEV LOCAL REMOTE KEY: in a throwaway network namespace.
vti6_creatable() {
	command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null || return 0
	if ! err=$(unshare -n ip link add name "$1" type vti6 local "$2" remote "$3" key "$4" 2>&1); then
		case $err in
		*"Unknown device type"* | *"not supported"* | *"Not supported"*)
			die "the kernel lacks vti6 tunnels (missing feature: CONFIG_IPV6_VTI, module ip6_vti); cannot create $1" ;;
		*) die "cannot create $1: $err" ;;
		esac
	fi
}

# ensure_vti6 DEV LOCAL REMOTE KEY
ensure_vti6() {
	if [ "$check" = 1 ]; then
		if ip link show dev "$1" >/dev/null 2>&1; then
			[ "${POL_TUNNEL_STANDIN:-0}" = 1 ] && return 0
			is_vti6 "$1" || die "interface $1 exists and is not a vti6 tunnel"
			no_clash "$@"
			return 0
		fi
		if command -v modprobe >/dev/null 2>&1; then
			modprobe -q ip6_vti 2>/dev/null || true
		fi
		no_clash "$@"
		vti6_creatable "$@"
		return 0
	fi
	if ip link show dev "$1" >/dev/null 2>&1; then
		if [ "${POL_TUNNEL_STANDIN:-0}" = 1 ]; then
			printf 'tunnels.sh: %s exists; using it as a stand-in for the vti6 link (POL_TUNNEL_STANDIN=1)\n' "$1" >&2
			return 0
		fi
		is_vti6 "$1" || die "interface $1 exists and is not a vti6 tunnel"
		no_clash "$@"
		if ! err=$(ip link set dev "$1" type vti6 local "$2" remote "$3" key "$4" 2>&1); then
			die "cannot update $1 to local $2 remote $3 key $4: $err"
		fi
		return 0
	fi
	if command -v modprobe >/dev/null 2>&1; then
		modprobe -q ip6_vti 2>/dev/null || true
	fi
	no_clash "$@"
	if ! err=$(ip link add name "$1" type vti6 local "$2" remote "$3" key "$4" 2>&1); then
		case $err in
		*"Unknown device type"* | *"not supported"* | *"Not supported"*)
			die "the kernel lacks vti6 tunnels (missing feature: CONFIG_IPV6_VTI, module ip6_vti); cannot create $1" ;;
		*) die "cannot create $1: $err" ;;
		esac
	fi
}

# disable_policy DEV
disable_policy() {
	[ "$check" = 1 ] && return 0
	f=/proc/sys/net/ipv6/conf/$1/disable_policy
	[ -e "$f" ] || die "no IPv6 configuration for $1 (is IPv6 disabled?)"
	[ "$(cat "$f")" = 1 ] || printf '1\n' >"$f"
}

"#;

pub(crate) fn render(program: &Program, sources: &SourceMap) -> String {
    let mut s = Script::new(
        "tunnels.sh",
        "the vti6 tunnel interfaces",
        &ShComment::new(&crate::entry_name(sources)),
    );
    if !program.tunnels.is_empty() {
        s.code(FUNCTIONS);
    }
    for t in &program.tunnels {
        let dev = ShWord::new(&t.dev);
        s.comment(&ShComment::new(&format!(
            "tunnel {} ({}); the IKE daemon must use xfrm mark {}",
            t.name,
            sources.file_line(t.span),
            t.key
        )));
        let (local, remote, key) = (
            ShWord::new(&t.local.to_string()),
            ShWord::new(&t.remote.to_string()),
            ShWord::new(&t.key.to_string()),
        );
        s.line(
            &[
                Code("ensure_vti6 "),
                Word(&dev),
                Code(" "),
                Word(&local),
                Code(" "),
                Word(&remote),
                Code(" "),
                Word(&key),
            ],
            None,
        );
        match t.mtu {
            Some(m) => {
                let mtu = ShWord::new(&m.to_string());
                s.line(
                    &[
                        Code("run ip link set dev "),
                        Word(&dev),
                        Code(" mtu "),
                        Word(&mtu),
                        Code(" up"),
                    ],
                    None,
                );
            }
            None => s.line(
                &[Code("run ip link set dev "), Word(&dev), Code(" up")],
                None,
            ),
        }
        let addr = ShWord::new(&format!("{}/{}", t.address.0, t.address.1));
        s.line(
            &[
                Code("run ip -6 addr replace "),
                Word(&addr),
                Code(" dev "),
                Word(&dev),
            ],
            None,
        );
        let routes = v6_prefixes(&t.routes.v6)
            .into_iter()
            .map(|(a, l)| ("run ip -6 route replace ", format!("{a}/{l}")))
            .chain(
                v4_prefixes(&t.routes.v4)
                    .into_iter()
                    .map(|(a, l)| ("run ip -4 route replace ", format!("{a}/{l}"))),
            );
        for (cmd, prefix) in routes {
            let prefix = ShWord::new(&prefix);
            s.line(&[Code(cmd), Word(&prefix), Code(" dev "), Word(&dev)], None);
        }
        s.line(&[Code("disable_policy "), Word(&dev)], None);
        s.code("\n");
    }
    s.code("exit 0\n");
    s.finish()
}
