//! Compiling a matcher module and checking ABI version 1 (LANGUAGE.md §7)
//! before anything runs: no imports at all, and the exports `memory` (one
//! 32-bit, unshared linear memory), `pol_alloc: (i32) -> i32` and
//! `pol_expand: (i32, i32) -> i64`. Each failure names what is missing or
//! forbidden.

use super::shape::{self, ShapeLimits};
use super::MatcherError;
use crate::diag::codes;
use wasmtime::{Engine, ExternType, FuncType, Module, ValType};

/// The `\0asm` magic that starts every binary module.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Larger modules are refused before compiling (compilation time grows with size).
pub const MAX_MODULE_BYTES: usize = 16 << 20;

/// The exported functions of the ABI: name, parameter types, result types.
const FUNCS: &[(&str, &[ValType], &[ValType])] = &[
    ("pol_alloc", &[ValType::I32], &[ValType::I32]),
    ("pol_expand", &[ValType::I32, ValType::I32], &[ValType::I64]),
];

/// Compile `bytes` (binary WebAssembly, or WAT text when it does not start with
/// the magic) and check the ABI.
pub fn compile(engine: &Engine, display: &str, bytes: &[u8]) -> Result<Module, MatcherError> {
    if bytes.len() > MAX_MODULE_BYTES {
        return Err(MatcherError::new(
            codes::MATCHER_LIMIT,
            format!("matcher module `{display}` is larger than 16MiB"),
        ));
    }
    let text_error = |e: &dyn std::fmt::Display| {
        MatcherError::new(
            codes::MATCHER_NOT_WASM,
            format!("`{display}` is not a valid WebAssembly text module"),
        )
        .with_note(
            format!("{e:#}")
                .replace("<anon>", display)
                .trim_end()
                .to_string(),
        )
    };
    let binary: std::borrow::Cow<'_, [u8]> = if bytes.starts_with(WASM_MAGIC) {
        std::borrow::Cow::Borrowed(bytes)
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        std::borrow::Cow::Owned(wat::parse_str(text).map_err(|e| text_error(&e))?)
    } else {
        return Err(MatcherError::new(
            codes::MATCHER_NOT_WASM,
            format!("`{display}` is not a WebAssembly module"),
        )
        .with_note(format!(
            "it neither starts with the `\\0asm` magic nor is UTF-8 text; it starts with bytes {}",
            hex_prefix(bytes, 8)
        )));
    };
    // INVARIANT: nothing is compiled before the shape check passed; the
    // compiler's time and memory are bounded by the shape limits.
    shape::check(&binary, display, &ShapeLimits::DEFAULT)?;
    let module = Module::from_binary(engine, &binary).map_err(|e| {
        let what = if bytes.starts_with(WASM_MAGIC) {
            "valid WebAssembly"
        } else {
            "a valid WebAssembly text module"
        };
        MatcherError::new(
            codes::MATCHER_NOT_WASM,
            format!("`{display}` is not {what}"),
        )
        .with_note(clean_error(&e, display))
    })?;
    check(&module, display)?;
    Ok(module)
}

/// The ABI check proper, on a module that compiled.
pub fn check(module: &Module, display: &str) -> Result<(), MatcherError> {
    let imports: Vec<String> = module
        .imports()
        .map(|i| {
            format!(
                "{} `{}` from `{}`",
                kind_name(&i.ty()),
                i.name(),
                i.module()
            )
        })
        .collect();
    if let Some(first) = imports.first() {
        let mut err = MatcherError::new(
            codes::MATCHER_IMPORT,
            format!("matcher module `{display}` imports {first}"),
        )
        .with_note(
            "a matcher runs with no host functions, files or clocks: a module may import nothing",
        );
        if imports.len() > 1 {
            err = err.with_note(format!(
                "it has {} imports in all: {}",
                imports.len(),
                imports.join(", ")
            ));
        }
        return Err(err);
    }

    match module.get_export("memory") {
        None => return Err(missing(display, "memory", "(memory 1)")),
        Some(ExternType::Memory(m)) => {
            if m.is_64() {
                return Err(wrong(
                    display,
                    "memory",
                    "a 32-bit memory",
                    "a 64-bit memory",
                ));
            }
            if m.is_shared() {
                return Err(wrong(
                    display,
                    "memory",
                    "an unshared memory",
                    "a shared memory",
                ));
            }
        }
        Some(other) => return Err(wrong(display, "memory", "a memory", kind_name(&other))),
    }

    for (name, params, results) in FUNCS {
        let want = sig_text(params.iter().cloned(), results.iter().cloned());
        match module.get_export(name) {
            None => return Err(missing(display, name, &want)),
            Some(ExternType::Func(f)) => {
                if !sig_is(&f, params, results) {
                    let found = sig_text(f.params(), f.results());
                    return Err(wrong(
                        display,
                        name,
                        &format!("`{want}`"),
                        &format!("`{found}`"),
                    ));
                }
            }
            Some(other) => {
                return Err(wrong(
                    display,
                    name,
                    &format!("`{want}`"),
                    kind_name(&other),
                ))
            }
        }
    }
    Ok(())
}

fn missing(display: &str, name: &str, want: &str) -> MatcherError {
    MatcherError::new(
        codes::MATCHER_EXPORT,
        format!("matcher module `{display}` does not export `{name}`"),
    )
    .with_note(format!("ABI version 1 needs the export `{name}`: `{want}`"))
    .with_note("a matcher exports `memory`, `pol_alloc` and `pol_expand` (docs/matchers.md)")
}

fn wrong(display: &str, name: &str, want: &str, found: &str) -> MatcherError {
    MatcherError::new(
        codes::MATCHER_EXPORT,
        format!("export `{name}` of matcher module `{display}` has the wrong type"),
    )
    .with_note(format!("expected {want}, found {found}"))
}

fn sig_is(f: &FuncType, params: &[ValType], results: &[ValType]) -> bool {
    let same = |a: ValType, b: &ValType| (a.is_i32() && b.is_i32()) || (a.is_i64() && b.is_i64());
    f.params().len() == params.len()
        && f.results().len() == results.len()
        && f.params().zip(params).all(|(a, b)| same(a, b))
        && f.results().zip(results).all(|(a, b)| same(a, b))
}

fn sig_text(
    params: impl Iterator<Item = ValType>,
    results: impl Iterator<Item = ValType>,
) -> String {
    let p: Vec<String> = params.map(|t| t.to_string()).collect();
    let r: Vec<String> = results.map(|t| t.to_string()).collect();
    let mut s = String::from("(func");
    if !p.is_empty() {
        s.push_str(&format!(" (param {})", p.join(" ")));
    }
    if !r.is_empty() {
        s.push_str(&format!(" (result {})", r.join(" ")));
    }
    s.push(')');
    s
}

fn kind_name(t: &ExternType) -> &'static str {
    match t {
        ExternType::Func(_) => "function",
        ExternType::Memory(_) => "memory",
        ExternType::Table(_) => "table",
        ExternType::Global(_) => "global",
        ExternType::Tag(_) => "tag",
    }
}

/// wasmtime's error chain on one line per cause, with the anonymous file
/// name of the WAT parser replaced by the module's path.
fn clean_error(e: &wasmtime::Error, display: &str) -> String {
    let text = format!("{e:#}");
    text.replace("<anon>", display).trim_end().to_string()
}

/// `de ad be ef …` for a note about binary data (never the raw bytes).
pub fn hex_prefix(bytes: &[u8], n: usize) -> String {
    let mut s: Vec<String> = bytes.iter().take(n).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > n {
        s.push("…".to_string());
    }
    format!("`{}`", s.join(" "))
}
