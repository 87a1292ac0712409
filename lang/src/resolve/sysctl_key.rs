//! Sysctl keys and values as text: what a quoted key may hold (sysctl.d(5)
//! reads a leading `-` as "ignore errors", `*?[` as globs, `=` and
//! whitespace as syntax), the /proc/sys path a key names, whether it is one
//! of the network keys `tuning` is for, and what a value may hold so that
//! sysctl.conf (read at boot) and tuning.sh (run now) write the same bytes.

/// The characters a key may hold: the kernel's names (letters, digits,
/// `_`, `-`) and interface names in per-interface keys (`.`/`/` swapped,
/// `+`, `@`). Nothing else: no whitespace, `=`, `#`, `;`, glob or control
/// character.
fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '@')
}

/// Why `key` cannot be written to sysctl.conf and tuning.sh as one literal
/// key, if it cannot.
pub fn check_key(key: &str) -> Result<(), String> {
    let Some(first) = key.chars().next() else {
        return Err("the key is empty".into());
    };
    if let Some(c) = key.chars().find(|c| !key_char(*c)) {
        return Err(match c {
            '*' | '?' | '[' | ']' => format!("`{c}` makes the key a glob pattern for sysctl.d"),
            ' ' => "the key holds a space".into(),
            '\n' => "the key holds a newline".into(),
            c => format!(
                "`{}` is not allowed (keys hold letters, digits, `_`, `-`, `.`, `/`, `+` and `@`)",
                c.escape_debug()
            ),
        });
    }
    if first == '-' {
        return Err("a leading `-` tells sysctl.d to ignore errors setting the key".into());
    }
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(format!("the key cannot start with `{first}`"));
    }
    if proc_components(key)
        .iter()
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("the key has an empty, `.` or `..` component".into());
    }
    Ok(())
}

/// The components of the /proc/sys path `key` names (sysctl.d(5): when the
/// first separator is `.`, `.` and `/` swap; when it is `/`, both stay).
pub fn proc_components(key: &str) -> Vec<String> {
    let slash_first = match (key.find('.'), key.find('/')) {
        (Some(d), Some(s)) => s < d,
        (None, Some(_)) => true,
        _ => false,
    };
    if slash_first {
        key.split('/').map(str::to_string).collect()
    } else {
        key.split('.').map(|c| c.replace('/', ".")).collect()
    }
}

/// True for the keys `tuning` sets without an explicit `unsafe`: those below
/// /proc/sys/net, except the BPF JIT's (`net.core.bpf_jit_*` weakens
/// kernel hardening for every program, not just the network's).
pub fn is_network(key: &str) -> bool {
    let c = proc_components(key);
    c.first().is_some_and(|f| f == "net")
        && !(c.get(1).is_some_and(|s| s == "core")
            && c.get(2).is_some_and(|s| s.starts_with("bpf_")))
}

/// Why a string value would not reach the kernel as written, if it would
/// not: sysctl.d strips leading and trailing whitespace and ends the value
/// at a newline.
pub fn check_value(value: &str) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the value holds the control character `{}`",
            c.escape_debug()
        ));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err("sysctl.d strips leading and trailing whitespace from values".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in [
            "net.ipv4.tcp_autocorking",
            "net.ipv6.conf.eth0/100.disable_policy",
            "net/ipv4/conf/eth0.100/forwarding",
            "kernel.core_pattern",
            "net.ipv4.conf.br-lan.forwarding",
        ] {
            assert_eq!(check_key(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-kernel.core_pattern",
            "net.ipv4.*.forwarding",
            "net.ipv4.tcp_x = 1",
            "net..x",
            "net.x.",
            ".net.x",
            "/net/x",
            "net/../kernel/core_pattern",
            "net.ipv4.x\nkernel.core_pattern",
            "net.ipv4.x\tb",
            "net;x",
            "net#x",
            "net=x",
            "net.ipv4.conf.[ab].x",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn network_keys() {
        assert!(is_network("net.ipv4.tcp_autocorking"));
        assert!(is_network("net/ipv4/conf/eth0.100/forwarding"));
        assert!(is_network("net.ipv4.conf.eth0/100.forwarding"));
        assert!(!is_network("kernel.core_pattern"));
        assert!(!is_network("kernel/core_pattern"));
        assert!(!is_network("vm.swappiness"));
        assert!(!is_network("netx.foo"));
        assert!(!is_network("net.core.bpf_jit_harden"));
        assert!(!is_network("net/core/bpf_jit_enable"));
        assert!(is_network("net.core.rmem_max"));
        assert_eq!(
            proc_components("net.ipv6.conf.eth0/100.x"),
            ["net", "ipv6", "conf", "eth0.100", "x"]
        );
        assert_eq!(
            proc_components("net/ipv6/conf/eth0.100/x"),
            ["net", "ipv6", "conf", "eth0.100", "x"]
        );
    }

    #[test]
    fn values() {
        assert!(check_value("4096 131072 6291456").is_ok());
        assert!(check_value("|/bin/sh -c x").is_ok());
        assert!(check_value(" 1").is_err());
        assert!(check_value("1 ").is_err());
        assert!(check_value("1\nkernel.x = 2").is_err());
        assert!(check_value("a\tb").is_err());
    }

    #[test]
    fn every_schema_key_is_a_network_key() {
        let schema = super::super::sysctl_schema::Schema::builtin();
        assert!(schema.key_names().count() > 0);
        for k in schema.key_names() {
            assert!(is_network(k), "{k}: the schema is for network keys");
        }
    }
}
