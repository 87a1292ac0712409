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
//!
//! The host crate reads builds, never policies: what it installs is
//! exactly what `polc build` wrote and the verifier proved.

pub mod build_dir;
pub mod error;
pub mod etc_files;
pub mod generations;
pub mod install;
pub mod layout;

pub use error::HostError;
