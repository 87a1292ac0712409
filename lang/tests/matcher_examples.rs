//! The example matcher modules (examples/matchers/*.wat) through the sandbox
//! API: the sets they return, their error codes, and the result cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_lang::diag::codes;
use pol_lang::matcher::{read_module, Limits, ModuleId, Sandbox, SandboxOptions};
use std::path::PathBuf;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn load(sb: &mut Sandbox, rel: &str) -> ModuleId {
    let f = read_module(&examples(), &examples(), rel).unwrap();
    assert_eq!(f.display, rel);
    sb.load(&f.display, &f.bytes)
        .unwrap_or_else(|e| panic!("{rel}: {e} {:?}", e.notes))
}

fn call(sb: &mut Sandbox, id: ModuleId, args: &str) -> Result<String, String> {
    sb.call(id, args, &Limits::default())
        .map_err(|e| format!("{} {}", e.code.id, e.message))
}

#[test]
fn geo() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "matchers/geo.wat");
    assert_eq!(
        call(&mut sb, id, r#"["DE"]"#).unwrap(),
        "{ 192.0.2.0/25, 2001:db8:276::/48 }"
    );
    assert_eq!(
        call(&mut sb, id, r#"["gb"]"#).unwrap(),
        "{ 2001:db8:826::/48 }"
    );
    assert_eq!(
        call(&mut sb, id, r#"[ "fr" , "US" ]"#).unwrap(),
        "{ 192.0.2.128/25, 2001:db8:250::/48, 198.51.100.128/25, 203.0.113.0/25, 2001:db8:840::/48 }"
    );
    assert_eq!(
        call(&mut sb, id, r#"["XX"]"#).unwrap_err(),
        "P0612 matcher module `matchers/geo.wat` returned error code `-2`"
    );
    // a prefix of a code, or a code with more letters, is not a code
    assert!(call(&mut sb, id, r#"["D"]"#).unwrap_err().contains("`-2`"));
    assert!(call(&mut sb, id, r#"["DEU"]"#)
        .unwrap_err()
        .contains("`-2`"));
    for bad in [
        "[]",
        "[1]",
        r#"["DE", 2]"#,
        r#"["D\"E"]"#,
        "not json",
        r#"["DE""#,
        "",
    ] {
        let e = call(&mut sb, id, bad).unwrap_err();
        assert!(e.starts_with("P0612") && e.contains("`-1`"), "{bad}: {e}");
    }
}

#[test]
fn services() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "matchers/services.wat");
    assert_eq!(
        call(&mut sb, id, r#"["web"]"#).unwrap(),
        "{ tcp 80, tcp 443, udp 443 }"
    );
    assert_eq!(
        call(&mut sb, id, r#"["DNS","ntp"]"#).unwrap(),
        "{ udp 53, tcp 53, tcp 853, udp 123 }"
    );
    assert_eq!(
        call(&mut sb, id, r#"["ipsec"]"#).unwrap(),
        "{ udp 500, udp 4500, proto esp }"
    );
    assert!(call(&mut sb, id, r#"["gopher"]"#)
        .unwrap_err()
        .contains("`-2`"));
    assert!(call(&mut sb, id, r#"["we"]"#).unwrap_err().contains("`-2`"));
}

#[test]
fn lab() {
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "matchers/lab.wat");
    assert_eq!(
        call(&mut sb, id, "[3]").unwrap(),
        "{ 198.51.100.48/28, 2001:db8:1ab:3::/64 }"
    );
    assert_eq!(
        call(&mut sb, id, "[0, 15]").unwrap(),
        "{ 198.51.100.0/28, 2001:db8:1ab:0::/64, 198.51.100.240/28, 2001:db8:1ab:f::/64 }"
    );
    assert!(call(&mut sb, id, "[16]").unwrap_err().contains("`-3`"));
    assert!(call(&mut sb, id, "[-1]").unwrap_err().contains("`-3`"));
    assert!(call(&mut sb, id, r#"["3"]"#).unwrap_err().contains("`-1`"));
    assert!(call(&mut sb, id, "[1234567890]")
        .unwrap_err()
        .contains("`-1`"));
}

#[test]
fn large_arguments_grow_memory() {
    // 10,000 arguments do not fit the 16 argument slots (-1), but writing
    // them needs pol_alloc to grow memory past the first page.
    let mut sb = Sandbox::new().unwrap();
    let id = load(&mut sb, "matchers/geo.wat");
    let args = format!("[{}]", vec![r#""DE""#; 10_000].join(","));
    assert!(call(&mut sb, id, &args).unwrap_err().contains("`-1`"));
    let args = format!("[{}]", vec![r#""DE""#; 16].join(","));
    assert!(call(&mut sb, id, &args)
        .unwrap()
        .starts_with("{ 192.0.2.0/25, 2001:db8:276::/48, 192.0.2.0/25"));
}

#[test]
fn results_are_cached_per_module_arguments_and_limits() {
    let mut sb = Sandbox::new().unwrap();
    let geo = load(&mut sb, "matchers/geo.wat");
    let again = load(&mut sb, "matchers/geo.wat");
    assert_eq!(geo, again);
    assert_eq!(sb.stats().compiled, 1);
    let d = Limits::default();
    let a = sb.call(geo, r#"["DE"]"#, &d).unwrap();
    let b = sb.call(geo, r#"["DE"]"#, &d).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        (sb.stats().calls, sb.stats().cache_hits, sb.stats().executed),
        (2, 1, 1)
    );
    // Lower limits are a different key: the call runs again, and fails here.
    let tiny = Limits { fuel: 10, ..d };
    let e = sb.call(geo, r#"["DE"]"#, &tiny).unwrap_err();
    assert_eq!(e.code.id, codes::MATCHER_FUEL.id);
    assert_eq!(sb.stats().cache_hits, 1);
    // Other arguments: a miss.
    sb.call(geo, r#"["FR"]"#, &d).unwrap();
    assert_eq!(sb.stats().executed, 3);
}

#[test]
fn result_cache_can_be_turned_off() {
    let mut sb = Sandbox::with_options(SandboxOptions {
        result_cache: false,
        ..SandboxOptions::default()
    })
    .unwrap();
    let geo = load(&mut sb, "matchers/geo.wat");
    for _ in 0..3 {
        sb.call(geo, r#"["DE"]"#, &Limits::default()).unwrap();
    }
    assert_eq!((sb.stats().cache_hits, sb.stats().executed), (0, 3));
}

#[test]
fn example_modules_are_modest() {
    // Each example call fits in far less than the default limits.
    let mut sb = Sandbox::new().unwrap();
    let small = Limits {
        fuel: 100_000,
        memory_bytes: 64 * 1024,
        timeout_ms: 1_000,
        max_output_bytes: 4096,
    };
    let geo = load(&mut sb, "matchers/geo.wat");
    let svc = load(&mut sb, "matchers/services.wat");
    let lab = load(&mut sb, "matchers/lab.wat");
    sb.call(geo, r#"["DE","FR","NL","US","JP","GB"]"#, &small)
        .unwrap();
    sb.call(
        svc,
        r#"["web","dns","mail","kerberos","ipsec","dev"]"#,
        &small,
    )
    .unwrap();
    sb.call(lab, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]", &small)
        .unwrap();
}
