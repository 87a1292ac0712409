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
