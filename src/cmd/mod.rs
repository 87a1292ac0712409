//! One module per subcommand.
pub mod apply;
pub mod build;
pub mod check;
pub mod diff;
pub mod exec;
pub mod explain;
pub mod fmt;
pub mod install;
pub mod lsp;
pub mod status;
pub mod test;
