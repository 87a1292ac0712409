//! Caches of one `Sandbox` (one compilation):
//! - compiled modules by content hash, so a module loaded by two `matcher`
//!   items (or two paths with the same bytes) is compiled once;
//! - call results by (module hash and path, argument JSON, limits), failures as well
//!   as successes. Calls are deterministic (no imports, no clock), so the
//!   same call gives the same set or the same error: twenty identical calls
//!   of a looping module cost one limit, not twenty. Limits are part of the
//!   key so a result computed with higher limits is never returned for a
//!   call with lower ones. A call stopped by the run's budget (`P0616`) or
//!   skipped (`P0617`) is not cached: it says nothing about the call.
//!
//! Compiled code can also be cached on disk across runs with wasmtime's own
//! cache (`SandboxOptions::disk_cache`); docs/matchers.md has the measurement.

use super::{Limits, MatcherError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SHA-256 of a module's bytes.
pub type ModuleHash = [u8; 32];

pub fn hash(bytes: &[u8]) -> ModuleHash {
    Sha256::digest(bytes).into()
}

#[derive(Default)]
pub struct ResultCache {
    map: HashMap<Key, Result<String, MatcherError>>,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    module: ModuleHash,
    /// Errors name the module by its path: a module loaded under two paths
    /// has a cache entry per path.
    display: String,
    args_json: String,
    limits: Limits,
}

impl ResultCache {
    pub fn get(
        &self,
        module: &ModuleHash,
        display: &str,
        args_json: &str,
        limits: &Limits,
    ) -> Option<&Result<String, MatcherError>> {
        self.map.get(&Key {
            module: *module,
            display: display.to_string(),
            args_json: args_json.to_string(),
            limits: *limits,
        })
    }

    pub fn insert(
        &mut self,
        module: ModuleHash,
        display: &str,
        args_json: &str,
        limits: Limits,
        result: Result<String, MatcherError>,
    ) {
        self.map.insert(
            Key {
                module,
                display: display.to_string(),
                args_json: args_json.to_string(),
                limits,
            },
            result,
        );
    }
}
