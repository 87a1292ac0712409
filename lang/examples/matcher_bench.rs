//! Matcher sandbox benchmark (no criterion): the cost of compiling a module
//! (with and without wasmtime's disk cache), of one call (fresh store +
//! instantiate + `pol_alloc` + `pol_expand` + output checks), and of 10,000
//! calls with and without the result cache. Each figure is the median of 3.
//!
//!   cargo run --release -p pol-lang --example matcher_bench
//!
//! docs/matchers.md records the figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::matcher::{read_module, Limits, Sandbox, SandboxOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CALLS: usize = 10_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn median_of_3(mut f: impl FnMut() -> Duration) -> Duration {
    median((0..3).map(|_| f()).collect())
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let geo = read_module(&root, &root, "matchers/geo.wat").unwrap();
    let lab = read_module(&root, &root, "matchers/lab.wat").unwrap();
    let limits = Limits::default();
    let codes = ["DE", "FR", "NL", "US", "JP", "GB"];

    // Sandbox creation (engine; the watchdog thread starts on the first call).
    let t = median_of_3(|| {
        let t = Instant::now();
        let sb = Sandbox::new().unwrap();
        let d = t.elapsed();
        drop(sb);
        d
    });
    println!(
        "sandbox (engine) creation:                 {:>10.3} ms",
        ms(t)
    );

    // Compile: WAT text → validated, compiled module.
    let t = median_of_3(|| {
        let mut sb = Sandbox::new().unwrap();
        let t = Instant::now();
        sb.load(&geo.display, &geo.bytes).unwrap();
        t.elapsed()
    });
    println!(
        "load geo.wat (parse + compile + ABI check): {:>10.3} ms",
        ms(t)
    );

    // Disk cache: the first load in a fresh directory (cold) and a load by a
    // new sandbox (a new polc run) once the directory holds the module (warm).
    let dir = std::env::temp_dir().join(format!("polc-matcher-bench-{}", std::process::id()));
    let with_disk = || SandboxOptions {
        disk_cache: Some(dir.clone()),
        ..SandboxOptions::default()
    };
    let cold = median_of_3(|| {
        let _ = std::fs::remove_dir_all(&dir);
        let mut sb = Sandbox::with_options(with_disk()).unwrap();
        let t = Instant::now();
        sb.load(&geo.display, &geo.bytes).unwrap();
        t.elapsed()
    });
    let warm = median_of_3(|| {
        let mut sb = Sandbox::with_options(with_disk()).unwrap();
        let t = Instant::now();
        sb.load(&geo.display, &geo.bytes).unwrap();
        t.elapsed()
    });
    let warm_total = median_of_3(|| {
        let t = Instant::now();
        let mut sb = Sandbox::with_options(with_disk()).unwrap();
        sb.load(&geo.display, &geo.bytes).unwrap();
        t.elapsed()
    });
    let none_total = median_of_3(|| {
        let t = Instant::now();
        let mut sb = Sandbox::new().unwrap();
        sb.load(&geo.display, &geo.bytes).unwrap();
        t.elapsed()
    });
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "load geo.wat, disk cache cold:             {:>10.3} ms",
        ms(cold)
    );
    println!(
        "load geo.wat, disk cache warm:             {:>10.3} ms",
        ms(warm)
    );
    println!(
        "new sandbox + load, disk cache warm:       {:>10.3} ms",
        ms(warm_total)
    );
    println!(
        "new sandbox + load, no disk cache:         {:>10.3} ms",
        ms(none_total)
    );

    // One call: first call of a sandbox (starts the watchdog thread), then
    // steady state without the result cache.
    let first = median_of_3(|| {
        let mut sb = Sandbox::new().unwrap();
        let id = sb.load(&geo.display, &geo.bytes).unwrap();
        let t = Instant::now();
        sb.call(id, r#"["DE"]"#, &limits).unwrap();
        t.elapsed()
    });
    println!(
        "first call (starts the watchdog):          {:>10.3} µs",
        us(first)
    );

    for (name, file, args) in [
        (
            "geo",
            &geo,
            (0..CALLS)
                .map(|i| format!("[\"{}\"]", codes[i % codes.len()]))
                .collect::<Vec<_>>(),
        ),
        (
            "lab",
            &lab,
            (0..CALLS)
                .map(|i| format!("[{}]", i % 16))
                .collect::<Vec<_>>(),
        ),
    ] {
        let uncached = median_of_3(|| {
            let mut sb = Sandbox::with_options(SandboxOptions {
                result_cache: false,
                ..SandboxOptions::default()
            })
            .unwrap();
            let id = sb.load(&file.display, &file.bytes).unwrap();
            sb.call(id, &args[0], &limits).unwrap(); // warm-up: watchdog thread
            let t = Instant::now();
            for a in &args {
                sb.call(id, a, &limits).unwrap();
            }
            t.elapsed()
        });
        let cached = median_of_3(|| {
            let mut sb = Sandbox::new().unwrap();
            let id = sb.load(&file.display, &file.bytes).unwrap();
            sb.call(id, &args[0], &limits).unwrap();
            let t = Instant::now();
            for a in &args {
                sb.call(id, a, &limits).unwrap();
            }
            let d = t.elapsed();
            assert!(sb.stats().cache_hits as usize >= CALLS - 16);
            d
        });
        println!(
            "{name}: 10,000 calls, no result cache:        {:>10.3} ms  ({:.1} µs/call)",
            ms(uncached),
            us(uncached) / CALLS as f64
        );
        println!(
            "{name}: 10,000 calls, result cache:           {:>10.3} ms  ({:.2} µs/call)",
            ms(cached),
            us(cached) / CALLS as f64
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
