//! What `polc exec FILE GROUP -- CMD…` does with a group: the cgroup v2
//! directory and/or net_cls class a process must join so that its sockets
//! match the group's selectors (pure planning; the CLI does the I/O).
//!
//! A group with several selectors of one kind uses the first in source
//! order. `uid`/`gid` selectors are applied with setuid/setgid only when the
//! group has no cgroup or classid selector.

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
