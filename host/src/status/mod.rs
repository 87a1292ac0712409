//! `polc status [DIR]`: does the live host run what DIR (a build, or an
//! installed generation) sets up? Each part is read from the kernel and
//! compared field by field, and the table is also *proved* equal:
//!
//! - `table`: the live `table inet T` against the build's ruleset loaded
//!   into a throwaway namespace (`listing::throwaway`, with the cgroups
//!   that exist here): sets and their elements (a cgroup re-created since
//!   it was added shows as a bare id), chains, rules and their order;
//! - the proof: both read back into the IR and compared by the verifier
//!   (`prove`): every packet gets the same verdict, or a witness packet
//!   with the kernel's rule and the build's rule (whose comment names the
//!   policy line);
//! - `host`: sysctls (`/proc/sys`), root qdiscs (`tc -j qdisc show`),
//!   tunnel links (`ip -j -d link show`);
//! - observations that are not drift: the TcpExtTCPAutoCorking counter
//!   when the build sets `net.ipv4.tcp_autocorking`.

pub mod host;
pub mod table;

use crate::build_dir::BuildDir;
use crate::listing;
use crate::prove::{self, Proof};
use crate::HostError;
use std::path::Path;

/// One difference between the host and the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What it concerns (`table`, `set cg_web_l2`, `sysctl net.ipv4.x`).
    pub what: String,
    pub detail: String,
}

#[derive(Debug)]
pub struct Report {
    pub table: String,
    /// Lines that describe what was compared (not drift).
    pub checked: Vec<String>,
    pub drift: Vec<Drift>,
    /// The proof's outcome, as lines (witnesses included).
    pub proof: Vec<String>,
    pub observations: Vec<String>,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.drift.is_empty()
    }
}

/// Compare the live host with `dir`.
pub fn status(dir: &Path) -> Result<Report, HostError> {
    let build = BuildDir::open(dir)?;
    let table = build.manifest.table.clone();
    let mut r = Report {
        table: table.clone(),
        checked: Vec::new(),
        drift: Vec::new(),
        proof: Vec::new(),
        observations: Vec::new(),
    };
    let cg_root = std::env::var_os("POL_CGROUP2").unwrap_or_else(|| "/sys/fs/cgroup".into());
    let mut paths = build.manifest.host.cgroups.clone();
    paths.extend(
        build
            .manifest
            .host
            .systemd_cgroups
            .iter()
            .filter(|p| Path::new(&cg_root).join(p).is_dir())
            .cloned(),
    );
    let t = Timer::new();
    // The live listing and the build's load and listing at once.
    let (live, reference) = std::thread::scope(|s| {
        let reference = s.spawn(|| listing::throwaway(&build.dir, &table, &paths));
        let live = listing::live(&table);
        (live, reference.join())
    });
    let reference = reference.map_err(|_| HostError::new("listing the build's table failed"))?;
    match live? {
        None => r.drift.push(Drift {
            what: "table".into(),
            detail: format!("table inet {table} is not loaded"),
        }),
        Some(live) => {
            let reference = reference?;
            t.lap("live listing, and the build's load and listing (at once)");
            table::compare(&live, &reference, &mut r);
            t.lap("field-by-field");
            proof(&live, &reference, &table, &mut r, &t);
        }
    }
    host::compare(&build, &mut r)?;
    Ok(r)
}

/// The proof could not be made: say why, as drift.
fn not_proved(r: &mut Report, why: String) {
    r.proof.push(format!("not proved: {why}"));
    r.drift.push(Drift {
        what: "proof".into(),
        detail: why,
    });
}

/// `POL_STATUS_TIMING=1`: each phase's time on stderr (for benchmarks).
struct Timer(Option<std::cell::Cell<std::time::Instant>>);

impl Timer {
    fn new() -> Self {
        Timer(
            std::env::var_os("POL_STATUS_TIMING")
                .map(|_| std::cell::Cell::new(std::time::Instant::now())),
        )
    }
    fn lap(&self, what: &str) {
        if let Some(c) = &self.0 {
            eprintln!(
                "polc status: {what}: {:.2} s",
                c.get().elapsed().as_secs_f64()
            );
            c.set(std::time::Instant::now());
        }
    }
}

fn proof(
    live: &listing::Listing,
    reference: &listing::Listing,
    table: &str,
    r: &mut Report,
    t: &Timer,
) {
    // Both tables read back at once.
    let (expected, kernel) = std::thread::scope(|s| {
        let expected = s.spawn(|| prove::read(reference, table, "build"));
        let kernel = prove::read(live, table, "kernel");
        (expected.join(), kernel)
    });
    let Ok(expected) = expected else {
        not_proved(r, "reading the build's table back failed".into());
        return;
    };
    let (expected, kernel) = match (expected, kernel) {
        (Ok(e), Ok(k)) => (e, k),
        (Err(e), _) => {
            not_proved(r, format!("the build's own table cannot be modelled: {e}"));
            return;
        }
        (_, Err(e)) => {
            not_proved(
                r,
                format!("the live table holds what the packet model cannot state: {e}"),
            );
            return;
        }
    };
    t.lap("reading both tables back (at once)");
    let outcome = prove::prove((&expected.program, &expected.sources), &kernel);
    t.lap("the proof");
    match outcome {
        Proof::Equal { notes } => {
            r.proof.push(format!(
                "proved: the live table inet {table} decides every first packet of a flow as the build does ({} base chains)",
                kernel.program.policies.len()
            ));
            r.proof
                .extend(notes.into_iter().map(|n| format!("note: {n}")));
        }
        Proof::Differs(report) => {
            r.proof.push("DIFFERS: packets the live table decides otherwise than the build (old = build, new = kernel):".into());
            r.proof
                .extend(report.human().lines().map(|l| format!("  {l}")));
            r.drift.push(Drift {
                what: "proof".into(),
                detail: format!(
                    "{} region(s) of packets get another verdict",
                    report.regions.len() + report.added.len() + report.removed.len()
                ),
            });
        }
        Proof::Incomplete(report) => {
            r.proof
                .push("not proved: the solver could not decide every region:".into());
            r.proof
                .extend(report.incomplete.iter().map(|l| format!("  {l}")));
            r.drift.push(Drift {
                what: "proof".into(),
                detail: "unknown: the solver could not decide".into(),
            });
        }
        Proof::Unmodelable(u) => {
            r.proof.push(format!("not proved: {u}"));
            r.drift.push(Drift {
                what: "proof".into(),
                detail: u.to_string(),
            });
        }
    }
}
