//! The watchdog thread: started by the first call, joined when the sandbox
//! is dropped — no thread outlives the sandbox. One test per binary so the
//! thread count of the process is not disturbed by other tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::matcher::{read_module, Limits, Sandbox};
use std::path::PathBuf;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn no_thread_outlives_the_sandbox() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let before = threads();
    for _ in 0..3 {
        let mut sb = Sandbox::new().unwrap();
        let f = read_module(&root, &root, "examples/matchers/geo.wat").unwrap();
        let geo = sb.load(&f.display, &f.bytes).unwrap();
        let f = read_module(&root, &root, "tests/fixtures/matcher/loop.wat").unwrap();
        let spin = sb.load(&f.display, &f.bytes).unwrap();
        sb.call(geo, r#"["DE"]"#, &Limits::default()).unwrap();
        let limits = Limits {
            fuel: 10_000_000_000_000,
            timeout_ms: 50,
            ..Limits::default()
        };
        assert!(sb.call(spin, "[]", &limits).is_err());
        assert_eq!(
            threads(),
            before + 1,
            "one watchdog thread while the sandbox lives"
        );
        drop(sb);
        assert_eq!(threads(), before, "the watchdog thread is joined on drop");
    }
}
