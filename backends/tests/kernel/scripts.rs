//! Script-level kernel tests (filled in below).

pub type Test = (&'static str, &'static dyn Fn() -> Result<String, String>);
pub const TESTS: &[Test] = &[];
