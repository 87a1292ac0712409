//! pol-lang: the Pol front end.
//!
//! `parse` (lexer + lalrpop grammar) → `ast` → `resolve` (imports, names,
//! types, set algebra, matchers) → `ir`, the resolved program that the
//! verifier and the backends read. `diag` is the one diagnostic type, and
//! `fmt` prints an AST back in canonical layout.
//!
//! The entry point for tools is [`compile`]: load a file and everything it
//! imports, and return the sources, the diagnostics and (when there are no
//! errors) the IR.

pub mod ast;
pub mod compile;
pub mod diag;
pub mod fmt;
pub mod ipv6_control;
pub mod ir;
pub mod matcher;
pub mod parse;
pub mod paths;
pub mod read;
pub mod resolve;
pub mod safe_text;
pub mod sets;
pub mod span;
pub mod stdlib;
pub mod symbols;
pub mod systemd;

pub use compile::{compile, compile_source, compile_with_packet, Compilation, CompileOptions};
