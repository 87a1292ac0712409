//! The one error type of the host side: a message that says what was being
//! done to which path and why it failed. Every host error is an I/O or
//! usage failure (exit status 2); none leaves a half-installed generation.

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub message: String,
}

impl HostError {
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            message: message.into(),
        }
    }

    /// `cannot WHAT `PATH`: ERR`.
    pub fn io(what: &str, path: &Path, err: impl fmt::Display) -> Self {
        HostError::new(format!("cannot {what} `{}`: {err}", path.display()))
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}
