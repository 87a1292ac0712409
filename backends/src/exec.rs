//! What `polc exec FILE GROUP -- CMD…` does with a group: the cgroup v2
//! directory and/or net_cls class a process must join so that its sockets
//! match the group's selectors (pure planning; the CLI does the I/O).
//!
//! A group with several selectors of one kind uses the first in source
//! order. `uid`/`gid` selectors are applied only when the group has no
//! cgroup or classid selector, and then the command never keeps root's
//! credentials by accident (docs/backends.md, "polc exec"):
//! - `uid U`: uid U, gid U's primary group from /etc/passwd (65534,
//!   nogroup, when U has no entry);
//! - `gid G`: gid G, uid 65534 (nobody): a socket's gid is all the group
//!   matches, and root could leave the group at will;
//! - both: uid U, gid G;
//! - in every case no supplementary groups.

use crate::cgroups::classid_dir;
use pol_lang::ir::{Program, Selector};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecPlan {
    /// Relative cgroup v2 path to join (under POL_CGROUP2).
    pub cgroup: Option<String>,
    /// net_cls directory to join (below the net_cls mount), and the class.
    pub net_cls: Option<(String, u32)>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The plan for group `name`, or a message saying why there is none.
pub fn plan(program: &Program, name: &str) -> Result<ExecPlan, String> {
    let Some(g) = program.group_by_name(name) else {
        let names: Vec<&str> = program.groups.iter().map(|g| g.name.as_str()).collect();
        return Err(format!(
            "no group `{name}` in the policy (groups: {})",
            names.join(", ")
        ));
    };
    let mut plan = ExecPlan::default();
    for s in &g.selectors {
        match s {
            Selector::Cgroup(p) if plan.cgroup.is_none() => {
                plan.cgroup = Some(p.as_str().to_string())
            }
            Selector::Classid(c) if plan.net_cls.is_none() => {
                plan.net_cls = Some((classid_dir(*c), c.0))
            }
            Selector::Uid(u) if plan.uid.is_none() => plan.uid = Some(*u),
            Selector::Gid(x) if plan.gid.is_none() => plan.gid = Some(*x),
            _ => {}
        }
    }
    if plan.cgroup.is_some() || plan.net_cls.is_some() {
        plan.uid = None;
        plan.gid = None;
    }
    Ok(plan)
}

/// The uid and gid a command runs as (with no supplementary groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
}

/// The overflow uid/gid (`nobody`/`nogroup`): who runs a `gid` group's
/// command, and the group of a `uid` without a passwd entry.
pub const NOBODY: u32 = 65534;

impl ExecPlan {
    /// The credentials to switch to, `None` to keep polc's own (a cgroup or
    /// classid group); `passwd` is the text of /etc/passwd (may be empty).
    pub fn credentials(&self, passwd: &str) -> Option<Credentials> {
        match (self.uid, self.gid) {
            (None, None) => None,
            (Some(uid), Some(gid)) => Some(Credentials { uid, gid }),
            (Some(uid), None) => Some(Credentials {
                uid,
                gid: primary_gid(passwd, uid).unwrap_or(NOBODY),
            }),
            (None, Some(gid)) => Some(Credentials { uid: NOBODY, gid }),
        }
    }
}

/// The primary gid of `uid` in an /etc/passwd text
/// (`name:x:uid:gid:gecos:home:shell`), from its first entry.
pub fn primary_gid(passwd: &str, uid: u32) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let (_name, _pw, u, g) = (f.next()?, f.next()?, f.next()?, f.next()?);
        (u.parse::<u32>().ok()? == uid).then(|| g.parse::<u32>().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nbackup:x:34:34:backup:/var/backups:/usr/sbin/nologin\nodd:x:1000:100::/home/odd:/bin/sh\nbad:x:1001\n";

    #[test]
    fn credentials_never_keep_root_by_accident() {
        let uid = |u| ExecPlan {
            uid: Some(u),
            ..ExecPlan::default()
        };
        assert_eq!(
            uid(1000).credentials(PASSWD),
            Some(Credentials {
                uid: 1000,
                gid: 100
            })
        );
        assert_eq!(
            uid(4242).credentials(PASSWD),
            Some(Credentials {
                uid: 4242,
                gid: NOBODY
            })
        );
        assert_eq!(
            uid(1001).credentials(PASSWD),
            Some(Credentials {
                uid: 1001,
                gid: NOBODY
            })
        );
        let gid = ExecPlan {
            gid: Some(34),
            ..ExecPlan::default()
        };
        assert_eq!(
            gid.credentials(PASSWD),
            Some(Credentials {
                uid: NOBODY,
                gid: 34
            })
        );
        let both = ExecPlan {
            uid: Some(34),
            gid: Some(7),
            ..ExecPlan::default()
        };
        assert_eq!(both.credentials(""), Some(Credentials { uid: 34, gid: 7 }));
        assert_eq!(ExecPlan::default().credentials(PASSWD), None);
        assert_eq!(primary_gid(PASSWD, 34), Some(34));
    }
}
