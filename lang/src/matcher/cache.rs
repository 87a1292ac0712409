//! Caches of one `Sandbox` (one compilation):
//! - compiled modules by content hash, so a module loaded by two `matcher`
//!   items (or two paths with the same bytes) is compiled once;
//! - successful call results by (module hash, argument JSON, limits). Calls
//!   are deterministic (no imports, no clock), so the same call gives the same
//!   set. Limits are part of the key so a result computed with higher limits
//!   is never returned for a call with lower ones; failures are not cached.
//!
//! Compiled code can also be cached on disk across runs with wasmtime's own
//! cache (`SandboxOptions::disk_cache`); docs/matchers.md has the measurement.

use super::Limits;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SHA-256 of a module's bytes.
pub type ModuleHash = [u8; 32];

pub fn hash(bytes: &[u8]) -> ModuleHash {
    Sha256::digest(bytes).into()
}

#[derive(Default)]
pub struct ResultCache {
    map: HashMap<Key, String>,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    module: ModuleHash,
    args_json: String,
    limits: Limits,
}

impl ResultCache {
    pub fn get(&self, module: &ModuleHash, args_json: &str, limits: &Limits) -> Option<&String> {
        // INVARIANT: only successful results are inserted.
        self.map.get(&Key {
            module: *module,
            args_json: args_json.to_string(),
            limits: *limits,
        })
    }

    pub fn insert(&mut self, module: ModuleHash, args_json: &str, limits: Limits, text: String) {
        self.map.insert(
            Key {
                module,
                args_json: args_json.to_string(),
                limits,
            },
            text,
        );
    }
}
