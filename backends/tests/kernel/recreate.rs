//! Groups keep matching when their cgroup is destroyed and created again
//! (issue 11: systemd does that on every restart, and nft matches cgroups
//! by id).
//!
//! One policy with a `cgroup` group, a `unit` group and a `slice` group,
//! each allowed to send UDP to 192.0.2.9 port 9 under `default drop`, built
//! twice (named sets; verdict-map dispatch). In a private network + mount
//! namespace with cgroup2 at /sys/fs/cgroup, apply.sh loads it while the
//! unit's and the slice's cgroups do not exist yet (as at boot). Then, for
//! each group, a process in its cgroup sends (sent); the cgroup is removed
//! and created again and a process in the new one sends without a refresh
//! (EPERM: the rule holds the dead id — the bug); the refresh the feature
//! provides runs (the `cgroup` group: `refresh.sh PATH`; the unit: the
//! drop-in's `ExecStartPre=` command run by hand inside the new cgroup, as
//! systemd runs it; the slice: its refresh service's `ExecStart=` run in
//! the slice) and the process sends again (sent); a process outside every
//! group is dropped throughout. apply.sh run again while the unit runs
//! keeps it matched (its element loads in the same transaction). `polc exec` (the other route) is tested in
//! tests/exec_kernel.rs, where the polc binary is.

use super::temp_dir;
use pol_backends::{build, BuildOptions};
use std::fmt::Write as _;
use std::process::Command;

/// `kernel __udp_send DST PORT`: send one datagram; exit 0 when sent, 3 on
/// EPERM (an nft drop in the output hook), 4 otherwise.
pub fn udp_send_main(dst: &str, port: &str) -> i32 {
    let sock = match std::net::UdpSocket::bind("0.0.0.0:0") {
        Ok(s) => s,
        Err(_) => return 4,
    };
    match sock.send_to(b"pol", format!("{dst}:{port}")) {
        Ok(_) => 0,
        Err(e) if e.raw_os_error() == Some(1) => 3,
        Err(_) => 4,
    }
}

struct Names {
    raw: String,
    unit: String,
    unit_path: String,
    slice: String,
    slice_path: String,
}

fn names() -> Names {
    let id = std::process::id();
    Names {
        raw: format!("polc-kt-{id}.slice/web.service"),
        unit: format!("polc-kt-{id}.service"),
        unit_path: format!("system.slice/polc-kt-{id}.service"),
        slice: format!("polc_kt{id}-web.slice"),
        slice_path: format!("polc_kt{id}.slice/polc_kt{id}-web.slice"),
    }
}

fn policy(n: &Names) -> String {
    format!(
        "group web {{ cgroup \"{}\" }}\ngroup svc {{ unit \"{}\" }}\ngroup sl {{ slice \"{}\" }}\n\
         policy egress {{\n    hook output\n    default drop\n    allow web to 192.0.2.0/24 udp 9\n    \
         allow svc to 192.0.2.0/24 udp 9\n    allow sl to 192.0.2.0/24 udp 9\n}}\n",
        n.raw, n.unit, n.slice
    )
}

/// The scenario: `probe NAME CGROUP EXPECT` lines run a sender in CGROUP
/// (`-` = where the script runs) and print `probe NAME GOT EXPECT`.
fn script(n: &Names, exe: &str, dir: &str) -> String {
    let mut s = format!(
        r#"set -eu
mount -t cgroup2 none /sys/fs/cgroup
# A machine whose systemd does not run the unified hierarchy has no
# system.slice there: make it for the scenario, and remove it after.
made_system=
[ -d /sys/fs/cgroup/system.slice ] || {{ mkdir /sys/fs/cgroup/system.slice; made_system=1; }}
ip link set lo up
ip link add veth0 type veth peer name veth1
ip addr add 192.0.2.1/24 dev veth0
ip link set veth0 up
ip link set veth1 up
ip neigh replace 192.0.2.9 lladdr 02:00:00:00:00:09 dev veth0 nud permanent
D={dir}
KT={exe}
probe() {{
	if [ "$2" = - ]; then
		rc=0; "$KT" __udp_send 192.0.2.9 9 || rc=$?
	else
		rc=0; sh -c 'echo $$ >"/sys/fs/cgroup/$1/cgroup.procs" && exec "$2" __udp_send 192.0.2.9 9' sh "$2" "$KT" || rc=$?
	fi
	case $rc in 0) got=sent ;; 3) got=EPERM ;; *) got=error$rc ;; esac
	echo "probe $1 $got $3"
}}
recreate() {{
	rmdir "/sys/fs/cgroup/$1"
	mkdir "/sys/fs/cgroup/$1"
}}
# The systemd command lines, run by hand inside the cgroup systemd would
# run them in (the `+` only means "as root").
dropin_cmd=$(sed -n 's/^ExecStartPre=+//p' "$D/systemd/{unit}.d/50-polc.conf")
slice_cmd=$(sed -n 's/^ExecStart=//p' "$D/systemd/polc-refresh-{slice_prefix}.service")
run_in() {{
	sh -c 'echo $$ >"/sys/fs/cgroup/$1/cgroup.procs" && eval "$2"' sh "$1" "$2"
}}
RAW='{raw}'
UNIT='{unit_path}'
SLICE='{slice_path}'
trap 'for p in "$SLICE/app.scope" "$SLICE/polc-refresh.service" "$SLICE" "${{SLICE%/*}}" "$UNIT" "$RAW" "${{RAW%/*}}"; do rmdir "/sys/fs/cgroup/$p" 2>/dev/null || true; done; [ -z "$made_system" ] || rmdir /sys/fs/cgroup/system.slice 2>/dev/null || true' EXIT

# Boot: the unit and the slice are not running; the policy loads anyway.
sh "$D/apply.sh" >/dev/null
probe outside - EPERM
"#,
        raw = n.raw,
        unit = n.unit,
        unit_path = n.unit_path,
        slice_path = n.slice_path,
        slice_prefix = n.slice.trim_end_matches(".slice"),
    );
    // cgroup group: cgroups.sh created it; refresh.sh after re-creation.
    s.push_str(
        r#"probe raw-loaded "$RAW" sent
recreate "$RAW"
probe raw-recreated-no-refresh "$RAW" EPERM
sh "$D/refresh.sh" "$RAW"
probe raw-refreshed "$RAW" sent
"#,
    );
    // unit group: systemd starts the unit (creates its cgroup, runs the
    // drop-in inside it), restarts it (a new cgroup), runs the drop-in again.
    s.push_str(
        r#"mkdir "/sys/fs/cgroup/$UNIT"
run_in "$UNIT" "$dropin_cmd"
probe unit-started "$UNIT" sent
# apply.sh again while the unit runs: its element loads with the table.
sh "$D/apply.sh" >/dev/null
probe unit-after-reapply "$UNIT" sent
recreate "$UNIT"
probe unit-restarted-no-dropin "$UNIT" EPERM
run_in "$UNIT" "$dropin_cmd"
probe unit-restarted "$UNIT" sent
"#,
    );
    // slice group: the slice starts with its refresh service inside it; a
    // process below the slice is in the group.
    s.push_str(
        r#"mkdir -p "/sys/fs/cgroup/$SLICE/polc-refresh.service" "/sys/fs/cgroup/$SLICE/app.scope"
run_in "$SLICE/polc-refresh.service" "$slice_cmd"
probe slice-started "$SLICE/app.scope" sent
rmdir "/sys/fs/cgroup/$SLICE/polc-refresh.service" "/sys/fs/cgroup/$SLICE/app.scope"
recreate "$SLICE"
mkdir "/sys/fs/cgroup/$SLICE/polc-refresh.service" "/sys/fs/cgroup/$SLICE/app.scope"
probe slice-restarted-no-refresh "$SLICE/app.scope" EPERM
run_in "$SLICE/polc-refresh.service" "$slice_cmd"
probe slice-restarted "$SLICE/app.scope" sent
probe outside-after - EPERM
"#,
    );
    s
}

/// Build, run the scenario, and compare every probe with its expectation.
fn scenario(opts: &BuildOptions, tag: &str) -> Result<usize, String> {
    let n = names();
    let dir = temp_dir(tag);
    let file = dir.join("recreate.pol");
    std::fs::write(&file, policy(&n)).map_err(|e| e.to_string())?;
    let c = pol_lang::compile(&file, &pol_lang::CompileOptions::default());
    let program = c
        .program
        .ok_or_else(|| format!("the policy does not compile: {:?}", c.diagnostics))?;
    let out = dir.join("out");
    let arts = build(&program, &c.sources, opts).map_err(|e| format!("{e:?}"))?;
    pol_backends::output::write_dir(&out, &arts).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let script = script(&n, &exe.to_string_lossy(), &out.to_string_lossy());
    let res = Command::new("unshare")
        .args(["-n", "-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    let stdout = String::from_utf8_lossy(&res.stdout);
    let mut bad = String::new();
    let mut count = 0;
    for l in stdout.lines().filter(|l| l.starts_with("probe ")) {
        count += 1;
        let w: Vec<&str> = l.split(' ').collect();
        if w.len() != 4 || w[2] != w[3] {
            let _ = writeln!(bad, "  {l}");
        }
    }
    if !res.status.success() || !bad.is_empty() || count != 12 {
        return Err(format!(
            "{tag}: {count} probes, mismatches:\n{bad}\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(count)
}

pub fn groups_survive_recreation() -> Result<String, String> {
    let sets = scenario(&BuildOptions::default(), "recreate-sets")?;
    let maps = scenario(
        &BuildOptions {
            dispatch_min_run: 2,
            ..BuildOptions::default()
        },
        "recreate-vmap",
    )?;
    Ok(format!(
        "{} probes (named sets: {sets}, verdict-map dispatch: {maps}), each as expected: sent before and after re-creation with the refresh, EPERM after re-creation without it, EPERM outside the groups",
        sets + maps
    ))
}
