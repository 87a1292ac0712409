//! Translation validation: a table read back from nft (`readback`) and a
//! program it should decide as — the policy's IR at build time, the
//! build's own table at status time — compared by the verifier's diff, so
//! "same verdict on every packet" is a proof with a witness packet for
//! each region that differs, not a sample.

use crate::listing::Listing;
use crate::readback::{self, Readback, Unmodelable};
use pol_lang::ir::Program;
use pol_lang::span::SourceMap;
use pol_verifier::diff::DiffReport;

/// The outcome of one proof.
#[derive(Debug)]
pub enum Proof {
    /// Every packet gets the same verdict (`notes`: what the packet model
    /// leaves out).
    Equal { notes: Vec<String> },
    /// Packets whose verdict differs, with witnesses.
    Differs(DiffReport),
    /// The kernel's table holds what the model cannot state exactly.
    Unmodelable(Unmodelable),
    /// The solver could not decide every region.
    Incomplete(DiffReport),
}

impl Proof {
    pub fn is_equal(&self) -> bool {
        matches!(self, Proof::Equal { .. })
    }
}

/// Read `listing` back; `name` names it in witnesses (`kernel`, `build`).
pub fn read(listing: &Listing, table: &str, name: &str) -> Result<Readback, Unmodelable> {
    readback::read(&listing.json, &listing.text, table, name)
}

/// Does `kernel` decide every packet as `expected`? (`expected` is the
/// "old" side of the diff, the kernel the "new".)
pub fn prove(expected: (&Program, &SourceMap), kernel: &Readback) -> Proof {
    if same_rules(expected.0, &kernel.program) {
        return Proof::Equal {
            notes: kernel.notes.clone(),
        };
    }
    let opts = pol_verifier::Options::default();
    let report = pol_verifier::diff(expected, (&kernel.program, &kernel.sources), &[], &opts);
    if report.changed() {
        Proof::Differs(report)
    } else if !report.incomplete.is_empty() {
        Proof::Incomplete(report)
    } else {
        Proof::Equal {
            notes: kernel.notes.clone(),
        }
    }
}

/// `polc build --prove`: write `artifacts` to a temporary directory, load
/// them into a throwaway namespace with the real nft, read the table back
/// and prove it decides every packet as `program`.
pub fn prove_build(
    artifacts: &[pol_backends::Artifact],
    program: &Program,
    sources: &SourceMap,
    table: &str,
) -> Result<Proof, crate::HostError> {
    let tmp = std::env::temp_dir().join(format!("polc-prove-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        pol_backends::output::write_dir(&tmp, artifacts)
            .map_err(|e| crate::HostError::io("write", &tmp, e))?;
        let host = pol_backends::manifest::HostState::of(program);
        let mut paths = host.cgroups;
        paths.extend(host.systemd_cgroups);
        let listing = crate::listing::throwaway(&tmp, table, &paths)?;
        Ok(match read(&listing, table, "kernel") {
            Ok(kernel) => prove((program, sources), &kernel),
            Err(u) => Proof::Unmodelable(u),
        })
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The selectors a rule's groups stand for, sorted (`None`: any socket).
fn selectors(p: &Program, m: &pol_lang::ir::Match) -> Option<Vec<pol_lang::ir::Selector>> {
    m.groups.as_ref().map(|gs| {
        let mut v: Vec<_> = gs
            .iter()
            .flat_map(|g| p.group(*g).selectors.iter().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    })
}

/// True when both programs hold the same policies with the same rules in
/// the same order (groups compared by what they select): then they decide
/// every packet alike without asking the solver — the common case of
/// `polc status` on a host without drift, where both sides are the same
/// build read back.
fn same_rules(a: &Program, b: &Program) -> bool {
    a.policies.len() == b.policies.len()
        && a.policies.iter().all(|pa| {
            let Some(pb) = b.policy_by_name(&pa.name) else {
                return false;
            };
            pa.hook == pb.hook
                && pa.default == pb.default
                && pa.rules.len() == pb.rules.len()
                && pa.rules.iter().zip(&pb.rules).all(|(ra, rb)| {
                    ra.verdict == rb.verdict
                        && ra.matches.from == rb.matches.from
                        && ra.matches.to == rb.matches.to
                        && ra.matches.service == rb.matches.service
                        && ra.matches.via.is_none()
                        && rb.matches.via.is_none()
                        && selectors(a, &ra.matches) == selectors(b, &rb.matches)
                })
        })
}
