//! Test support shared by the backend tests and the benchmark: a random IR
//! generator (policies are generated as IR, no parser involved) and the
//! reference first-match evaluator.
#![allow(dead_code)]

pub mod eval;
pub mod gen;
pub mod nft_interp;
pub mod stress;
