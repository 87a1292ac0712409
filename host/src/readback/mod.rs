//! The kernel's ruleset read back into the IR, so that "does the kernel
//! decide every packet as the policy does" is the verifier's own diff.
//!
//! Input: one table as `nft -j list table inet T` prints it (structure)
//! and as `nft -a list table inet T` prints it (the text, which carries
//! what nft 1.0.6's JSON drops: the `level` of `socket cgroupv2`; and the
//! lines witnesses point at). Output: a [`Readback`] — a `Program` with one
//! policy per base chain `policy-NAME`, and a `SourceMap` whose one file
//! is the listing, so a rule's span is its line.
//!
//! - `nft_json`: the JSON into tables, sets, maps, chains and rules.
//! - `exprs`: one match expression into a constraint on the packet.
//! - `flatten`: the chain graph (jump, goto, verdict maps) into one
//!   first-match list per base chain — exact, see there.
//!
//! Anything outside what the model can state exactly (a `!=` match, a
//! `return` under a condition, an expression it does not know) is an
//! [`Unmodelable`] error naming the chain and rule handle, never an
//! approximation: `polc status` reports it as drift, not as equal.
//! `oifname` (what `via` compiles to beside its addresses) is outside the
//! packet model: it is dropped and listed in [`Readback::notes`].

mod exprs;
mod flatten;
mod nft_json;

use pol_lang::ir::Program;
use pol_lang::span::SourceMap;
use std::fmt;

pub use nft_json::{Table, TableSet};

/// A table read back.
#[derive(Debug)]
pub struct Readback {
    pub program: Program,
    pub sources: SourceMap,
    /// What the packet model leaves out (e.g. `oifname` matches).
    pub notes: Vec<String>,
}

/// What the model cannot state exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmodelable {
    pub chain: String,
    pub handle: Option<u64>,
    pub what: String,
}

impl fmt::Display for Unmodelable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.handle {
            Some(h) => write!(f, "chain {} rule (handle {h}): {}", self.chain, self.what),
            None => write!(f, "chain {}: {}", self.chain, self.what),
        }
    }
}

/// Read back `table` from its JSON and text listings; `name` names the
/// listing in witnesses (`kernel`, `build`).
pub fn read(json: &str, text: &str, table: &str, name: &str) -> Result<Readback, Unmodelable> {
    let t = nft_json::parse(json, text, table)?;
    flatten::program(&t, text, name)
}
