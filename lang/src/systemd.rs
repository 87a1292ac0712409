//! systemd unit and slice names: systemd's validity rules and the cgroup
//! path systemd gives a unit (pure; the resolver turns the errors into
//! diagnostics).
//!
//! Rules (systemd 252, `unit_name_is_valid`, `slice_build_parent_slice`,
//! systemd.slice(5), systemd.special(7)):
//! - a unit name is at most 255 bytes of `[A-Za-z0-9:_.\-@\\]`, a
//!   non-empty prefix, a `.` and a unit type; `@` at most once, not first;
//!   `NAME@.TYPE` is a template (no cgroup of its own);
//! - a slice name's prefix is `-`-separated components, none empty (so no
//!   leading, trailing or doubled `-`); `-.slice` is the root slice;
//!   `a-b.slice` lives in `a.slice`: its cgroup is `a.slice/a-b.slice`;
//! - units of the system manager default to `system.slice`; a user's
//!   manager runs in `user.slice/user-UID.slice/user@UID.service`, and its
//!   units default to its `app.slice`.

/// Longest unit name systemd accepts (`UNIT_NAME_MAX` - 1).
pub const MAX_UNIT_NAME: usize = 255;

/// Unit types that have a cgroup of their own (processes can run in them).
const CGROUP_TYPES: &[&str] = &["service", "socket", "mount", "swap", "scope", "slice"];
/// Unit types systemd knows that have no cgroup.
const OTHER_TYPES: &[&str] = &["target", "device", "automount", "timer", "path"];

/// Top-level slices of a user's manager (systemd.special(7)); a slice
/// below one of these names only exists in a user manager.
pub const USER_SLICES: &[&str] = &["app", "background", "session"];

/// Why a name is not what systemd accepts; `Nesting` when a written
/// `SLICE/…` path contradicts the slice's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Unit(String),
    Slice(String),
    Nesting { written: String, expected: String },
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-' | '@' | '\\')
}

/// Check one unit name; returns its type (the suffix).
pub fn check_unit_name(name: &str) -> Result<&str, String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_UNIT_NAME {
        return Err(format!(
            "the name is {} bytes long; systemd allows at most {MAX_UNIT_NAME}",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| !valid_char(*c)) {
        return Err(format!(
            "`{}` is not allowed in a unit name (only A-Z a-z 0-9 : _ . - @ \\)",
            c.escape_debug()
        ));
    }
    let Some((prefix, suffix)) = name.rsplit_once('.') else {
        return Err("the name has no unit type (such as `.service`)".into());
    };
    if !CGROUP_TYPES.contains(&suffix) {
        return Err(if OTHER_TYPES.contains(&suffix) {
            format!("a `.{suffix}` unit runs no processes, so it has no cgroup")
        } else {
            format!("`.{suffix}` is not a systemd unit type")
        });
    }
    if prefix.is_empty() {
        return Err("the name before the unit type is empty".into());
    }
    match prefix.split_once('@') {
        None => {}
        Some(("", _)) => return Err("the name starts with `@`".into()),
        Some((_, inst)) if inst.contains('@') => {
            return Err("the name has more than one `@`".into())
        }
        Some((_, "")) => {
            return Err(
                "`NAME@.TYPE` is a template, which has no cgroup: name an instance (`NAME@INSTANCE.TYPE`)"
                    .into(),
            )
        }
        Some(_) => {}
    }
    Ok(suffix)
}

/// The slice chain of a slice name, outermost first: `a-b.slice` →
/// `["a.slice", "a-b.slice"]`. The root slice `-.slice` is an error here
/// (it is every cgroup, not a group).
pub fn slice_chain(name: &str) -> Result<Vec<String>, String> {
    match check_unit_name(name) {
        Ok("slice") => {}
        Ok(t) => return Err(format!("`{name}` is a `.{t}` unit, not a slice")),
        Err(e) if name != "-.slice" => return Err(e),
        Err(_) => {}
    }
    let prefix = name.strip_suffix(".slice").unwrap_or(name);
    if prefix == "-" {
        return Err("`-.slice` is the root slice: every process is in it".into());
    }
    if prefix.contains('@') {
        return Err("a slice name cannot contain `@`".into());
    }
    let comps: Vec<&str> = prefix.split('-').collect();
    if comps.iter().any(|c| c.is_empty()) {
        return Err(
            "a slice name's `-`-separated parts must not be empty (no leading, trailing or doubled `-`)"
                .into(),
        );
    }
    Ok((1..=comps.len())
        .map(|n| format!("{}.slice", comps[..n].join("-")))
        .collect())
}

/// Where a systemd selector lives, relative to its manager's root cgroup.
/// `written` is a slice (`a-b.slice`, or its full chain `a.slice/a-b.slice`)
/// or a unit, optionally in a slice (`a-b.slice/x.service`); `is_slice`
/// says which selector it came from. Returns the path components below
/// the manager's root, and whether the name sits in a user-manager slice.
pub fn unit_path(written: &str, is_slice: bool) -> Result<Vec<String>, NameError> {
    let parts: Vec<&str> = written.split('/').collect();
    let (slices, unit) = if is_slice {
        (parts.as_slice(), None)
    } else {
        match parts.split_last() {
            Some((u, s)) => (s, Some(*u)),
            None => (parts.as_slice(), None),
        }
    };
    // The slice: the last written slice determines the whole chain.
    let mut path: Vec<String> = Vec::new();
    if let Some(last) = slices.last() {
        let chain = slice_chain(last).map_err(NameError::Slice)?;
        if slices.len() > 1 && slices != chain.as_slice() {
            return Err(NameError::Nesting {
                written: slices.join("/"),
                expected: chain.join("/"),
            });
        }
        path = chain;
    }
    if let Some(u) = unit {
        match check_unit_name(u) {
            Ok("slice") => {
                return Err(NameError::Unit(format!(
                    "`{u}` is a slice: select it with `slice \"{u}\"`"
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(NameError::Unit(e)),
        }
        path.push(u.to_string());
    }
    Ok(path)
}

/// True when the path below a manager's root starts in one of the user
/// manager's own slices (`app.slice`, …).
pub fn in_user_slice(path: &[String]) -> bool {
    path.first().is_some_and(|s| {
        USER_SLICES
            .iter()
            .any(|u| s.strip_suffix(".slice") == Some(u))
    })
}

/// The cgroup root of a manager: `""` for the system manager, and
/// `user.slice/user-UID.slice/user@UID.service` for a user's.
pub fn manager_root(user: Option<u32>) -> String {
    match user {
        None => String::new(),
        Some(uid) => format!("user.slice/user-{uid}.slice/user@{uid}.service"),
    }
}

/// The default slice of a manager's units: `system.slice` or `app.slice`.
pub fn default_slice(user: Option<u32>) -> &'static str {
    if user.is_some() {
        "app.slice"
    } else {
        "system.slice"
    }
}

/// The full cgroup path (relative to the cgroup2 root) of a selector.
pub fn cgroup_path(written: &str, is_slice: bool, user: Option<u32>) -> Result<String, NameError> {
    let mut below = unit_path(written, is_slice)?;
    if !is_slice && below.len() == 1 {
        below.insert(0, default_slice(user).to_string());
    }
    let root = manager_root(user);
    let mut out = root;
    for c in below {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_slices_follow_the_name() {
        assert_eq!(
            cgroup_path("a-b-c.slice", true, None).as_deref(),
            Ok("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(
            cgroup_path("browser.slice", true, None).as_deref(),
            Ok("browser.slice")
        );
        assert_eq!(
            cgroup_path("a.slice/a-b.slice", true, None).as_deref(),
            Ok("a.slice/a-b.slice")
        );
    }

    #[test]
    fn units_default_to_their_managers_slice() {
        assert_eq!(
            cgroup_path("nginx.service", false, None).as_deref(),
            Ok("system.slice/nginx.service")
        );
        assert_eq!(
            cgroup_path("foo.service", false, Some(1000)).as_deref(),
            Ok("user.slice/user-1000.slice/user@1000.service/app.slice/foo.service")
        );
        assert_eq!(
            cgroup_path("app-firefox.slice", true, Some(1000)).as_deref(),
            Ok("user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.slice")
        );
        assert_eq!(
            cgroup_path("web-x.slice/getty@tty1.service", false, None).as_deref(),
            Ok("web.slice/web-x.slice/getty@tty1.service")
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            ".service",
            "a b.service",
            "a.conf",
            "a@.service",
            "@a.service",
            "a@b@c.service",
            "x.target",
        ] {
            assert!(check_unit_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_unit_name(&format!("{}.service", "a".repeat(250))).is_err());
        for bad in ["-.slice", "-a.slice", "a-.slice", "a--b.slice", "a.service"] {
            assert!(slice_chain(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            unit_path("a.slice/c-d.slice", true),
            Err(NameError::Nesting { .. })
        ));
        assert!(matches!(
            unit_path("x.slice", false),
            Err(NameError::Unit(_))
        ));
        assert!(in_user_slice(&["app.slice".to_string()]));
        assert!(!in_user_slice(&["apps.slice".to_string()]));
    }
}
