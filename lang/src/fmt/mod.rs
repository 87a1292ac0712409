//! Canonical formatter (owned by the parser work): `format_file`.
