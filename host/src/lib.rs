//! pol-host: a build on a live host.
//!
//! - `layout`: where an installed build lives under a root directory
//!   (`/` on a host, any directory for an image or a test).
//! - `build_dir`: a build directory checked against its `manifest.json`.
//! - `generations`: installed builds as numbered generations, the
//!   `current` link, pruning.
//! - `etc_files`: the files a generation puts under /etc (boot unit,
//!   drop-ins, slices, sysctl.d), replacing the previous generation's.
//! - `install`: the `polc install` step that ties them together.
//! - `sysctl_undo`: the sysctl values a generation changed, recorded first.
//! - `readback`: a table nft lists, back into the IR; `listing`: the live
//!   table's listing, or a build's loaded into a throwaway namespace;
//!   `prove`: the verifier's diff between the two (translation validation).
//! - `apply`: `polc apply` (check, install, apply, revert on failure,
//!   confirm-or-revert), `polc rollback`, `polc confirm`.
//!
//! The host crate reads builds, never policies: what it installs is
//! exactly what `polc build` wrote and the verifier proved.

pub mod apply;
pub mod build_dir;
pub mod error;
pub mod etc_files;
pub mod generations;
pub mod install;
pub mod layout;
pub mod listing;
pub mod prove;
pub mod readback;
pub mod status;
pub mod sysctl_undo;

pub use error::HostError;
