//! The stdlib, embedded in the binary: `.pol` modules importable as
//! `std/NAME`, and the sysctl schema (data, not code).

/// `(name, source)` of every stdlib module.
pub const MODULES: &[(&str, &str)] = &[
    ("services", include_str!("../../stdlib/services.pol")),
    ("networks", include_str!("../../stdlib/networks.pol")),
];

/// The source of `std/NAME`.
pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The sysctl schema as JSON text (`stdlib/sysctl.json`).
pub const SYSCTL_SCHEMA: &str = include_str!("../../stdlib/sysctl.json");
