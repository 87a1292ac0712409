//! Hostile matcher modules (tests/fixtures/matcher): each must end with the
//! right P06xx error, within its (lowered) limits, quickly — never a panic,
//! a hang or a crash. The `.pol` fixtures that call them through `polc check`
//! are wired by the resolver's tests; these drive the sandbox API directly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::diag::{codes, Code};
use pol_lang::matcher::{
    read_module, Budget, Limits, MatcherError, RunBudget, Sandbox, SandboxOptions,
};
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
fn failures_are_cached_and_limits_are_part_of_the_key() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "error-code.wat").unwrap();
    let first = sb.call(id, "[]", &test_limits()).unwrap_err();
    let again = sb.call(id, "[]", &test_limits()).unwrap_err();
    assert_eq!(first.code.id, codes::MATCHER_ERROR_CODE.id);
    assert_eq!(
        (again.code.id, &again.message),
        (first.code.id, &first.message)
    );
    assert!(
        again.notes.iter().any(|n| n.contains("not run again")),
        "{:?}",
        again.notes
    );
    assert_eq!((sb.stats().cache_hits, sb.stats().executed), (1, 1));
    // Other limits: another key, so the module runs again.
    let other = Limits {
        fuel: 4_000_000,
        ..test_limits()
    };
    assert!(sb.call(id, "[]", &other).is_err());
    assert_eq!(sb.stats().executed, 2);
}

/// Twenty identical looping calls cost one fuel limit: the failure is cached.
#[test]
fn twenty_identical_looping_calls_run_once() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "loop.wat").unwrap();
    for _ in 0..20 {
        let e = sb.call(id, r#"["x"]"#, &test_limits()).unwrap_err();
        assert_eq!(e.code.id, codes::MATCHER_FUEL.id, "{e}");
    }
    assert_eq!((sb.stats().executed, sb.stats().cache_hits), (1, 19));
    assert_eq!(sb.budget().fuel_used(), test_limits().fuel);
}

/// A sandbox whose run may burn `fuel` units and take `time_ms` in all.
fn budgeted(fuel: u64, time_ms: u64) -> Sandbox {
    Sandbox::with_options(SandboxOptions {
        budget: RunBudget::new(Budget { fuel, time_ms }),
        ..SandboxOptions::default()
    })
    .unwrap()
}

/// Twenty looping calls with different arguments (no cache hit) stop at the
/// run's fuel budget: 20M each against 90M in all, so calls 1-4 run out of
/// their own fuel, call 5 gets the 10M left and is `P0616`, and calls 6-20
/// are `P0617` without running.
#[test]
fn the_run_budget_stops_twenty_looping_calls() {
    let mut sb = budgeted(90_000_000, 600_000);
    let id = load(&mut sb, "loop.wat").unwrap();
    let own = Limits {
        fuel: 20_000_000,
        timeout_ms: 60_000,
        ..test_limits()
    };
    let mut got = Vec::new();
    for i in 0..20 {
        let e = sb.call(id, &format!("[{i}]"), &own).unwrap_err();
        check_style(&e);
        got.push(e);
    }
    let ids: Vec<&str> = got.iter().map(|e| e.code.id).collect();
    let mut want = vec![codes::MATCHER_FUEL.id; 4];
    want.push(codes::MATCHER_BUDGET.id);
    want.extend([codes::MATCHER_SKIPPED.id; 15]);
    assert_eq!(ids, want);
    assert_eq!(sb.stats().executed, 5);
    assert_eq!(sb.stats().skipped, 15);
    assert_eq!(sb.budget().fuel_used(), 90_000_000);
    assert!(got[4]
        .notes
        .iter()
        .any(|n| n.contains("10000000 fuel units left")));
    assert!(
        got[5]
            .notes
            .iter()
            .any(|n| n.contains("a call of `loop.wat` with `[4]`")),
        "{:?}",
        got[5].notes
    );
    // A call stopped or skipped by the budget is not cached as the call's own failure.
    assert_eq!(sb.stats().cache_hits, 0);
}

/// The time budget: a call with fuel to spare and its own 60s deadline is
/// stopped at the run's 300ms, and the next call does not run.
#[test]
fn the_run_budget_bounds_time_too() {
    let mut sb = budgeted(u64::MAX, 300);
    let id = load(&mut sb, "loop.wat").unwrap();
    let own = Limits {
        fuel: 9_000_000_000,
        timeout_ms: 60_000,
        ..test_limits()
    };
    let e = sb.call(id, "[1]", &own).unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_BUDGET.id, "{e} {:?}", e.notes);
    let e = sb.call(id, "[2]", &own).unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_SKIPPED.id, "{e}");
    assert_eq!(sb.stats().executed, 1);
}

/// Sandboxes that share a budget (the compilations of one `polc check DIR`)
/// share what is left: the second one neither compiles nor runs.
#[test]
fn sandboxes_of_one_run_share_the_budget() {
    let budget = RunBudget::new(Budget {
        fuel: 5_000_000,
        time_ms: 600_000,
    });
    let options = SandboxOptions {
        budget: budget.clone(),
        ..SandboxOptions::default()
    };
    let mut first = Sandbox::with_options(options.clone()).unwrap();
    let id = load(&mut first, "loop.wat").unwrap();
    // Its own fuel is the whole budget: `P0605`, and the budget is used up.
    let e = first.call(id, "[1]", &test_limits()).unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_FUEL.id, "{e}");
    let mut second = Sandbox::with_options(options).unwrap();
    let e = load(&mut second, "error-code.wat").unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_SKIPPED.id, "{e}");
    assert_eq!(second.stats().compiled, 0);
    assert_eq!(budget.fuel_used(), 5_000_000);
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

// --- Modules too large to compile, generated here (not committed: the
// first is 7.5 MB). Each is refused by the shape check with `P0615` before
// anything is compiled (`compiled` stays 0), so the cost is one read of the
// bytes.

fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A binary module with the ABI's three exports; `pol_expand` has `locals`
/// i32 locals and the instructions `code` (then `i64.const 0; end`), and
/// `extra` more functions like `pol_alloc` follow.
fn abi_module(locals: u32, code: &[u8], extra: u32) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    section(
        1,
        b"\x02\x60\x01\x7f\x01\x7f\x60\x02\x7f\x7f\x01\x7e",
        &mut m,
    );
    let mut funcs = Vec::new();
    leb(u64::from(2 + extra), &mut funcs);
    funcs.extend([0, 1]);
    funcs.extend(std::iter::repeat_n(0u8, extra as usize));
    section(3, &funcs, &mut m);
    section(5, b"\x01\x00\x01", &mut m);
    let mut exports = vec![3u8];
    for (name, kind, index) in [
        ("memory", 2u8, 0u8),
        ("pol_alloc", 0, 0),
        ("pol_expand", 0, 1),
    ] {
        exports.push(name.len() as u8);
        exports.extend_from_slice(name.as_bytes());
        exports.extend([kind, index]);
    }
    section(7, &exports, &mut m);
    let alloc: &[u8] = b"\x00\x41\x80\x08\x0b";
    let mut expand = Vec::new();
    if locals == 0 {
        expand.push(0);
    } else {
        expand.push(1);
        leb(u64::from(locals), &mut expand);
        expand.push(0x7f);
    }
    expand.extend_from_slice(code);
    expand.extend(b"\x42\x00\x0b");
    let mut bodies = Vec::new();
    leb(u64::from(2 + extra), &mut bodies);
    for body in [alloc, &expand[..]]
        .into_iter()
        .chain(std::iter::repeat_n(alloc, extra as usize))
    {
        leb(body.len() as u64, &mut bodies);
        bodies.extend_from_slice(body);
    }
    section(10, &bodies, &mut m);
    m
}

/// `depth` nested empty blocks: `block … block end … end`.
fn nested_blocks(depth: usize) -> Vec<u8> {
    let mut code = b"\x02\x40".repeat(depth);
    code.extend(std::iter::repeat_n(0x0bu8, depth));
    code
}

fn expect_too_complex(bytes: &[u8], what: &str) -> MatcherError {
    let mut sb = Sandbox::new().unwrap();
    let e = sb.load("hostile.wasm", bytes).unwrap_err();
    assert_eq!(
        e.code.id,
        codes::MATCHER_TOO_COMPLEX.id,
        "{e} {:?}",
        e.notes
    );
    assert!(e.message.contains(what), "{}", e.message);
    assert_eq!(sb.stats().compiled, 0);
    check_style(&e);
    e
}

/// The module of the issue: one function of 2.5 million nested blocks, at
/// wasmparser's largest function body (7,654,321 bytes). It used to compile
/// for 10.5 s in 2.1 GB.
#[test]
fn seven_megabytes_of_nested_blocks_are_refused_before_compiling() {
    let depth = (7_654_321 - 4) / 3;
    let m = abi_module(0, &nested_blocks(depth), 0);
    assert!(m.len() > 7_500_000, "{}", m.len());
    let e = expect_too_complex(&m, "more than 500 nested blocks in function 1");
    assert!(e.notes.iter().any(|n| n.contains("before compiling")));
}

/// The same as WAT text (non-folded: the text parser refuses deep folding).
#[test]
fn nested_blocks_in_text_are_refused_before_compiling() {
    let mut wat = String::from(
        "(module (memory (export \"memory\") 1)\n\
         (func (export \"pol_alloc\") (param i32) (result i32) (i32.const 1024))\n\
         (func (export \"pol_expand\") (param i32 i32) (result i64)\n",
    );
    wat.push_str(&"block\n".repeat(100_000));
    wat.push_str(&"end\n".repeat(100_000));
    wat.push_str("(i64.const 0)))\n");
    expect_too_complex(wat.as_bytes(), "nested blocks");
}

#[test]
fn too_many_functions_are_refused_before_compiling() {
    expect_too_complex(&abi_module(0, b"", 1_000), "more than 1000 functions");
}

#[test]
fn too_many_locals_are_refused_before_compiling() {
    // 40,000 locals pass wasmparser's own limit (50,000); 1,000 is ours.
    expect_too_complex(
        &abi_module(40_000, b"", 0),
        "more than 1000 locals in function 1",
    );
}

#[test]
fn too_many_instructions_are_refused_before_compiling() {
    // `i32.const 0; drop`, 30,000 times: 60,000 instructions in one function.
    let code = b"\x41\x00\x1a".repeat(30_000);
    expect_too_complex(
        &abi_module(0, &code, 0),
        "more than 50000 instructions in function 1",
    );
}

/// At the limits, a module compiles: the shape check refuses only what is over.
#[test]
fn modules_at_the_shape_limits_compile() {
    let mut sb = Sandbox::new().unwrap();
    // 500 nested blocks (the `pol_expand` body's own `end` is not a block).
    let id = sb.load("deep.wasm", &abi_module(0, &nested_blocks(500), 0));
    assert!(id.is_ok(), "{:?}", id.err());
    let id = sb.load("wide.wasm", &abi_module(1_000, b"", 998));
    assert!(id.is_ok(), "{:?}", id.err());
    assert_eq!(sb.stats().compiled, 2);
}
