//! /proc/self/mounts as the kernel writes it: one mount per line, fields
//! separated by spaces, and a space, tab, newline or backslash inside a
//! field written as an octal escape (`\040`, `\011`, `\012`, `\134`). A
//! mount point can hold any byte but NUL, so it is kept as bytes.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One field with its octal escapes decoded; a `\` not followed by three
/// octal digits stays as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let digits = field.get(i + 1..i + 4);
        match (field[i], digits) {
            (b'\\', Some(d)) if d.iter().all(|c| (b'0'..=b'7').contains(c)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                // `\777` does not fit a byte: keep it literally.
                match u8::try_from(v) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&field[i..i + 4]),
                }
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub dir: PathBuf,
    pub fstype: String,
    pub options: Vec<String>,
}

/// Every well-formed line of a mounts table.
pub fn parse(table: &[u8]) -> Vec<Mount> {
    table
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let mut w = line.split(|b| *b == b' ').filter(|f| !f.is_empty());
            let (_source, dir, fstype, options) = (w.next()?, w.next()?, w.next()?, w.next()?);
            let text = |f: &[u8]| String::from_utf8_lossy(&unescape(f)).into_owned();
            Some(Mount {
                dir: PathBuf::from(OsString::from_vec(unescape(dir))),
                fstype: text(fstype),
                options: text(options).split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Where the net_cls (cgroup v1) controller is mounted, if it is.
pub fn net_cls(table: &[u8]) -> Option<PathBuf> {
    parse(table)
        .into_iter()
        .find(|m| m.fstype == "cgroup" && m.options.iter().any(|o| o == "net_cls"))
        .map(|m| m.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_octal_escapes() {
        assert_eq!(unescape(br"/run/net\040cls"), b"/run/net cls");
        assert_eq!(unescape(br"a\011b\012c\134d"), b"a\tb\nc\\d");
        assert_eq!(unescape(br"tail\04"), br"tail\04");
        assert_eq!(unescape(br"x\999"), br"x\999");
        assert_eq!(unescape(br"x\777"), br"x\777");
    }

    #[test]
    fn finds_net_cls_with_a_space() {
        let table = b"sysfs /sys sysfs rw 0 0\n\
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n\
pol_net_cls /run/pol/net\\040cls\\012x cgroup rw,relatime,net_cls,net_prio 0 0\n";
        assert_eq!(net_cls(table), Some(PathBuf::from("/run/pol/net cls\nx")));
        assert_eq!(net_cls(b"cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"), None);
        // `net_cls_x` is another option, not net_cls.
        assert_eq!(net_cls(b"c /x cgroup rw,net_cls_x 0 0\n"), None);
    }
}
