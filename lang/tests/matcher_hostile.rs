//! Hostile matcher modules (tests/fixtures/matcher): each must end with the
//! right P06xx error, within its (lowered) limits, quickly — never a panic,
//! a hang or a crash. The `.pol` fixtures that call them through `polc check`
//! are wired by the resolver's tests; these drive the sandbox API directly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::diag::{codes, Code};
use pol_lang::matcher::{read_module, Limits, MatcherError, Sandbox};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/matcher")
}

/// The module fixtures (`.wat`, `.wasm`, `.bin`; the `.pol` files beside
/// them belong to the resolver's tests), sorted.
fn module_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wat") || n.ends_with(".wasm") || n.ends_with(".bin"))
        .collect();
    names.sort();
    names
}

/// Limits lowered so every hostile call ends fast.
fn test_limits() -> Limits {
    Limits {
        fuel: 5_000_000,
        memory_bytes: 4 << 20,
        timeout_ms: 2_000,
        max_output_bytes: 64 * 1024,
    }
}

fn load(sb: &mut Sandbox, name: &str) -> Result<pol_lang::matcher::ModuleId, MatcherError> {
    let f = read_module(&fixtures(), &fixtures(), name).expect("fixture readable");
    sb.load(&f.display, &f.bytes)
}

/// Load `name`, call it once with `["x"]`, and return the error and how long the call took.
fn run(name: &str, limits: &Limits) -> (MatcherError, Duration) {
    let mut sb = Sandbox::new().unwrap();
    let id =
        load(&mut sb, name).unwrap_or_else(|e| panic!("{name} should load: {e} {:?}", e.notes));
    let t = Instant::now();
    let r = sb.call(id, r#"["x"]"#, limits);
    let took = t.elapsed();
    match r {
        Ok(text) => panic!("{name} should fail, returned {text:?}"),
        Err(e) => (e, took),
    }
}

fn expect_call(name: &str, limits: &Limits, code: Code) -> MatcherError {
    let (e, took) = run(name, limits);
    assert_eq!(e.code.id, code.id, "{name}: {} {:?}", e.message, e.notes);
    // Within its limits: the wall-clock limit plus scheduling slack.
    assert!(
        took < Duration::from_millis(limits.timeout_ms) + Duration::from_secs(1),
        "{name} took {took:?}"
    );
    check_style(&e);
    e
}

fn expect_load(name: &str, code: Code) -> MatcherError {
    let mut sb = Sandbox::new().unwrap();
    let e = load(&mut sb, name).expect_err(name);
    assert_eq!(e.code.id, code.id, "{name}: {} {:?}", e.message, e.notes);
    check_style(&e);
    e
}

/// House style: lowercase start, no final period, one line.
fn check_style(e: &MatcherError) {
    let m = &e.message;
    assert!(!m.ends_with('.'), "{m}");
    assert!(!m.contains('\n'), "{m}");
    assert!(!m.starts_with(|c: char| c.is_uppercase()), "{m}");
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let e = expect_call("loop.wat", &test_limits(), codes::MATCHER_FUEL);
    assert_eq!(
        e.message,
        "matcher module `loop.wat` ran out of fuel after 5000000 units"
    );
    assert!(
        e.notes.iter().any(|n| n.contains("in `pol_expand`")),
        "{:?}",
        e.notes
    );
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let limits = Limits {
        fuel: 10_000_000_000_000,
        timeout_ms: 200,
        ..test_limits()
    };
    let (e, took) = run("loop.wat", &limits);
    assert_eq!(e.code.id, codes::MATCHER_TIMEOUT.id, "{e}");
    assert_eq!(
        e.message,
        "matcher module `loop.wat` did not finish within 200ms"
    );
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(
        took < Duration::from_millis(900),
        "interrupted late: {took:?}"
    );
}

#[test]
fn start_function_loop_runs_out_of_fuel() {
    let e = expect_call("start-loop.wat", &test_limits(), codes::MATCHER_FUEL);
    assert!(
        e.notes.iter().any(|n| n.contains("instantiating")),
        "{:?}",
        e.notes
    );
}

#[test]
fn start_function_loop_hits_the_deadline() {
    let limits = Limits {
        fuel: 10_000_000_000_000,
        timeout_ms: 150,
        ..test_limits()
    };
    expect_call("start-loop.wat", &limits, codes::MATCHER_TIMEOUT);
}

#[test]
fn unbounded_growth_ignoring_failure() {
    let e = expect_call("grow-loop.wat", &test_limits(), codes::MATCHER_MEMORY);
    assert_eq!(
        e.message,
        "matcher module `grow-loop.wat` exceeded its memory limit of 4MiB"
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.starts_with("then it ran out of fuel")),
        "{:?}",
        e.notes
    );
}

#[test]
fn unbounded_growth_ignoring_failure_until_the_deadline() {
    let limits = Limits {
        fuel: 10_000_000_000_000,
        timeout_ms: 150,
        ..test_limits()
    };
    let e = expect_call("grow-loop.wat", &limits, codes::MATCHER_MEMORY);
    assert!(
        e.notes
            .iter()
            .any(|n| n.starts_with("then it ran out of time")),
        "{:?}",
        e.notes
    );
}

#[test]
fn growth_then_trap() {
    let e = expect_call("grow-trap.wat", &test_limits(), codes::MATCHER_MEMORY);
    assert!(
        e.notes.iter().any(|n| n.contains("asked for 4160KiB")),
        "{:?}",
        e.notes
    );
    assert!(
        e.notes.iter().any(|n| n.contains("then it trapped")),
        "{:?}",
        e.notes
    );
}

#[test]
fn initial_memory_above_the_limit() {
    let e = expect_call("big-memory.wat", &test_limits(), codes::MATCHER_MEMORY);
    assert!(
        e.notes.iter().any(|n| n.contains("512MiB")),
        "{:?}",
        e.notes
    );
}

#[test]
fn unbounded_table_growth() {
    let e = expect_call("table-grow.wat", &test_limits(), codes::MATCHER_MEMORY);
    assert!(
        e.notes.iter().any(|n| n.contains("table of")),
        "{:?}",
        e.notes
    );
}

#[test]
fn huge_output() {
    let e = expect_call("huge-output.wat", &test_limits(), codes::MATCHER_OUTPUT_BIG);
    assert_eq!(
        e.message,
        "matcher module `huge-output.wat` returned 1310720 bytes of output, more than the limit of 64KiB"
    );
    // Also above the default cap of 1 MiB.
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    expect_call("huge-output.wat", &limits, codes::MATCHER_OUTPUT_BIG);
}

#[test]
fn invalid_utf8() {
    let e = expect_call("bad-utf8.wat", &test_limits(), codes::MATCHER_UTF8);
    assert_eq!(
        e.message,
        "output of matcher module `bad-utf8.wat` is not UTF-8"
    );
    assert_eq!(e.notes[0], "invalid byte at offset 11 of 15: `ff fe 20 7d`");
}

#[test]
fn output_that_is_not_a_set_is_returned_for_the_parser() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "not-a-set.wat").unwrap();
    assert_eq!(sb.call(id, "[]", &test_limits()).unwrap(), "hello, world");
}

#[test]
fn traps() {
    let e = expect_call("trap-unreachable.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "matcher module `trap-unreachable.wat` trapped: wasm `unreachable` instruction executed"
    );
    let e = expect_call("trap-div-zero.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "matcher module `trap-div-zero.wat` trapped: integer divide by zero"
    );
    let e = expect_call("trap-oob.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "matcher module `trap-oob.wat` trapped: out of bounds memory access"
    );
    let e = expect_call("trap-stack.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "matcher module `trap-stack.wat` trapped: call stack exhausted"
    );
}

#[test]
fn output_outside_memory() {
    let e = expect_call("output-oob.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "matcher module `output-oob.wat` returned output outside its memory"
    );
}

#[test]
fn alloc_outside_memory() {
    let e = expect_call("alloc-oob.wat", &test_limits(), codes::MATCHER_TRAP);
    assert_eq!(
        e.message,
        "`pol_alloc` of matcher module `alloc-oob.wat` returned an address outside its memory"
    );
}

#[test]
fn negative_return_is_an_error_code() {
    let e = expect_call("error-code.wat", &test_limits(), codes::MATCHER_ERROR_CODE);
    assert_eq!(
        e.message,
        "matcher module `error-code.wat` returned error code `-7`"
    );
    assert!(
        e.notes.iter().any(|n| n == r#"called with `["x"]`"#),
        "{:?}",
        e.notes
    );
}

#[test]
fn missing_exports() {
    let e = expect_load("missing-expand.wat", codes::MATCHER_EXPORT);
    assert_eq!(
        e.message,
        "matcher module `missing-expand.wat` does not export `pol_expand`"
    );
    let e = expect_load("missing-memory.wat", codes::MATCHER_EXPORT);
    assert_eq!(
        e.message,
        "matcher module `missing-memory.wat` does not export `memory`"
    );
    let e = expect_load("wrong-signature.wat", codes::MATCHER_EXPORT);
    assert_eq!(
        e.message,
        "export `pol_expand` of matcher module `wrong-signature.wat` has the wrong type"
    );
    assert_eq!(
        e.notes[0],
        "expected `(func (param i32 i32) (result i64))`, found `(func (param i32 i32) (result i32))`"
    );
}

#[test]
fn imports_are_refused() {
    let e = expect_load("import-wasi.wat", codes::MATCHER_IMPORT);
    assert_eq!(
        e.message,
        "matcher module `import-wasi.wat` imports function `fd_write` from `wasi_snapshot_preview1`"
    );
    let e = expect_load("import-wasi.wasm", codes::MATCHER_IMPORT);
    assert!(
        e.message
            .contains("`fd_write` from `wasi_snapshot_preview1`"),
        "{}",
        e.message
    );
    let e = expect_load("import-host.wat", codes::MATCHER_IMPORT);
    assert_eq!(
        e.message,
        "matcher module `import-host.wat` imports function `now` from `env`"
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("memory `memory` from `env`")),
        "{:?}",
        e.notes
    );
}

#[test]
fn not_webassembly() {
    let e = expect_load("not-wasm.bin", codes::MATCHER_NOT_WASM);
    assert_eq!(e.message, "`not-wasm.bin` is not a WebAssembly module");
    assert!(
        e.notes[0].contains("`7f 45 4c 46 02 01 01 00 …`"),
        "{:?}",
        e.notes
    );
    let e = expect_load("not-wasm.wat", codes::MATCHER_NOT_WASM);
    assert_eq!(
        e.message,
        "`not-wasm.wat` is not a valid WebAssembly text module"
    );
    assert!(e.notes[0].contains("not-wasm.wat:1:1"), "{:?}", e.notes);
    let e = expect_load("bad-binary.wasm", codes::MATCHER_NOT_WASM);
    assert_eq!(e.message, "`bad-binary.wasm` is not valid WebAssembly");
}

#[test]
fn binary_modules_load() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "ok-minimal.wasm").unwrap();
    assert_eq!(sb.call(id, "[]", &test_limits()).unwrap(), "{ 192.0.2.1 }");
}

#[test]
fn paths_escaping_the_root() {
    let root = fixtures();
    let e = read_module(&root, &root, "../../Cargo.toml").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_ESCAPES.id);
    assert_eq!(
        e.message,
        "matcher path `../../Cargo.toml` escapes the root directory"
    );
    let e = read_module(&root, &root, "/etc/passwd").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_ESCAPES.id);
    let e = read_module(&root, &root, "nope.wat").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_NOT_FOUND.id);
    assert_eq!(e.message, "cannot find matcher module `nope.wat`");
    assert_eq!(e.label.as_deref(), Some("no such file"));
}

#[test]
fn symlinks_escaping_the_root() {
    let base = std::env::temp_dir().join(format!("polc-matcher-escape-{}", std::process::id()));
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(base.join("outside.wat"), "(module)").unwrap();
    std::fs::write(root.join("inside.wat"), "(module)").unwrap();
    let link = root.join("link.wat");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(base.join("outside.wat"), &link).unwrap();

    let e = read_module(&root, &root, "link.wat").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_ESCAPES.id, "{e}");
    assert!(e.notes[0].contains("symbolic link"), "{:?}", e.notes);
    let f = read_module(&root, &root.join("sub"), "../inside.wat").unwrap();
    assert_eq!(f.display, "inside.wat");
    assert_eq!(f.bytes, b"(module)");
    let e = read_module(&root, &root.join("sub"), "../../outside.wat").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_ESCAPES.id, "{e}");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn failures_are_not_cached_and_limits_are_part_of_the_key() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "error-code.wat").unwrap();
    assert!(sb.call(id, "[]", &test_limits()).is_err());
    assert!(sb.call(id, "[]", &test_limits()).is_err());
    assert_eq!(sb.stats().cache_hits, 0);
    assert_eq!(sb.stats().executed, 2);
}

#[test]
fn the_sandbox_survives_every_hostile_module() {
    // One sandbox, every fixture in turn, then a good call still works.
    let mut sb = Sandbox::new().unwrap();
    let names = module_fixtures();
    for name in &names {
        if let Ok(id) = load(&mut sb, name) {
            let _ = sb.call(
                id,
                r#"["DE"]"#,
                &Limits {
                    timeout_ms: 300,
                    ..test_limits()
                },
            );
        }
    }
    let id = load(&mut sb, "ok-minimal.wasm").unwrap();
    assert_eq!(sb.call(id, "[]", &test_limits()).unwrap(), "{ 192.0.2.1 }");
}

/// Every fixture's error, as the resolver will show it (code, message,
/// notes), in one reviewed snapshot.
#[test]
fn golden_errors() {
    let mut out = String::new();
    let names = module_fixtures();
    for name in &names {
        let mut sb = Sandbox::new().unwrap();
        let r = load(&mut sb, name).and_then(|id| sb.call(id, r#"["x"]"#, &test_limits()));
        out.push_str(&format!("== {name}\n"));
        match r {
            Ok(text) => out.push_str(&format!("ok: {text:?}\n")),
            Err(e) => {
                out.push_str(&format!("{}: {}\n", e.code.id, e.message));
                for n in &e.notes {
                    out.push_str(&format!("  note: {}\n", n.replace('\n', "\n        ")));
                }
            }
        }
    }
    insta::assert_snapshot!(out);
}
