//! File paths as URIs (SARIF `artifactLocation.uri`).
