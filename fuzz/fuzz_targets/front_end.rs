//! The whole front end (parse, resolve, sets) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let c = pol_lang::compile_source("fuzz.pol", text);
    assert!(!c.diagnostics.has_errors() || c.program.is_none());
});
