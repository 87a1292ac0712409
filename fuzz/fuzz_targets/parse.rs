//! The parser never panics, and what it accepts formats to text that parses
//! again to the same layout.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pol_lang::span::SourceMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.pol", text, false);
    let (ast, errs) = pol_lang::parse::parse_file(id, text);
    if errs.is_empty() {
        let once = pol_lang::fmt::format_file(&ast, text);
        let id2 = sources.add("fmt.pol", once.clone(), false);
        let (ast2, errs2) = pol_lang::parse::parse_file(id2, &once);
        assert!(errs2.is_empty());
        assert_eq!(pol_lang::fmt::format_file(&ast2, &once), once);
    }
});
