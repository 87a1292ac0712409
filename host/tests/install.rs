//! `pol_host::install` under a throwaway root: the layout LANGUAGE-level
//! docs promise (generations, `current`, /etc files, the enabled boot
//! unit), re-installing the current build changes nothing, a new build
//! replaces the previous generation's /etc files, and every refusal
//! (tampered build, foreign file in the way, a manifest naming a path
//! outside the build, a held lock) changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pol_host::generations::{self, Lock};
use pol_host::install::{install, Enabled, InstallOptions};
use pol_host::layout::Layout;
use std::fs;
use std::path::{Path, PathBuf};

const WEB: &str = r#"
group web { unit "web.service" }
group db { unit "db.service" }
group browser { slice "polc_browser.slice" }
policy egress {
    hook output
    default drop
    allow web to 192.0.2.0/24 udp 9
    allow db to 192.0.2.0/24 tcp 5432
    allow browser to 198.51.100.0/24 tcp 443
}
tuning { net.ipv4.tcp_autocorking = 0 }
"#;

/// Build `policy` into `dir/NAME` and return the build directory.
fn build(dir: &Path, name: &str, policy: &str) -> PathBuf {
    let file = dir.join(format!("{name}.pol"));
    fs::write(&file, policy).unwrap();
    let c = pol_lang::compile(&file, &pol_lang::CompileOptions::default());
    let program = c.program.unwrap_or_else(|| panic!("{:?}", c.diagnostics));
    let arts =
        pol_backends::build(&program, &c.sources, &pol_backends::BuildOptions::default()).unwrap();
    let out = dir.join(name);
    pol_backends::output::write_dir(&out, &arts).unwrap();
    out
}

/// Every path under `root`, relative, sorted (symlinks shown with their target).
fn tree(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let ty = e.file_type().unwrap();
            if ty.is_symlink() {
                out.push(format!("{rel} -> {}", fs::read_link(&p).unwrap().display()));
            } else if ty.is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

#[test]
fn a_build_becomes_the_current_generation_with_its_etc_files() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    let b = build(t.path(), "web", WEB);
    let done = install(&b, &root, &InstallOptions::default()).unwrap();
    assert_eq!(
        (done.generation, done.previous, done.changed),
        (1, None, true)
    );
    let files = tree(&root);
    for want in [
        "var/lib/polc/pol/current -> generations/1",
        "var/lib/polc/pol/generations/1/apply.sh",
        "var/lib/polc/pol/generations/1/manifest.json",
        "var/lib/polc/pol/generations/1/systemd/polc-pol.service",
        "etc/systemd/system/polc-pol.service",
        "etc/systemd/system/web.service.d/50-polc.conf",
        "etc/systemd/system/db.service.d/50-polc.conf",
        "etc/systemd/system/polc_browser.slice",
        "etc/systemd/system/polc-refresh-polc_browser.service",
        "etc/sysctl.d/60-polc-pol.conf",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} not in {files:#?}");
    }
    // What is installed is byte for byte what was built.
    assert_eq!(
        fs::read(root.join("etc/systemd/system/web.service.d/50-polc.conf")).unwrap(),
        fs::read(b.join("systemd/web.service.d/50-polc.conf")).unwrap()
    );
    assert_eq!(
        fs::read(root.join("etc/sysctl.d/60-polc-pol.conf")).unwrap(),
        fs::read(b.join("sysctl.conf")).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root.join("var/lib/polc/pol/generations/1/apply.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    match done.enabled {
        Enabled::Systemctl(_) => assert!(
            files.iter().any(|f| f
                == "etc/systemd/system/sysinit.target.wants/polc-pol.service -> /etc/systemd/system/polc-pol.service"),
            "{files:#?}"
        ),
        Enabled::NoSystemd => eprintln!("*** no systemctl here: enabling not checked ***"),
    }

    // The same build again: no new generation, nothing written.
    let again = install(&b, &root, &InstallOptions::default()).unwrap();
    assert_eq!((again.generation, again.changed), (1, false));
    assert!(again.etc.is_empty(), "{:?}", again.etc);
    assert_eq!(tree(&root), files);
}

#[test]
fn a_new_build_replaces_the_previous_generations_etc_files() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    install(
        &build(t.path(), "a", WEB),
        &root,
        &InstallOptions::default(),
    )
    .unwrap();
    let fewer = WEB
        .replace("group db { unit \"db.service\" }\n", "")
        .replace("    allow db to 192.0.2.0/24 tcp 5432\n", "")
        .replace("group browser { slice \"polc_browser.slice\" }\n", "")
        .replace("    allow browser to 198.51.100.0/24 tcp 443\n", "");
    let done = install(
        &build(t.path(), "b", &fewer),
        &root,
        &InstallOptions::default(),
    )
    .unwrap();
    assert_eq!((done.generation, done.previous), (2, Some(1)));
    let units = root.join("etc/systemd/system");
    assert!(units.join("web.service.d/50-polc.conf").exists());
    for gone in [
        "db.service.d/50-polc.conf",
        "db.service.d",
        "polc_browser.slice",
        "polc-refresh-polc_browser.service",
    ] {
        assert!(!units.join(gone).exists(), "{gone} was left behind");
    }
    assert_eq!(done.etc.removed.len(), 3, "{:?}", done.etc.removed);
    let layout = Layout::new(&root, "pol");
    assert_eq!(generations::list(&layout).unwrap(), vec![1, 2]);
    assert_eq!(generations::current(&layout).unwrap(), Some(2));
}

#[test]
fn old_generations_are_pruned_but_current_and_previous_stay() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    for port in 1..=5 {
        let p = WEB.replace("udp 9", &format!("udp {port}"));
        install(
            &build(t.path(), &format!("b{port}"), &p),
            &root,
            &InstallOptions { keep: 2 },
        )
        .unwrap();
    }
    let layout = Layout::new(&root, "pol");
    assert_eq!(generations::list(&layout).unwrap(), vec![4, 5]);
    assert_eq!(generations::current(&layout).unwrap(), Some(5));
}

#[test]
fn refusals_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    let b = build(t.path(), "web", WEB);

    // A file edited after the build.
    let tampered = t.path().join("tampered");
    fs::create_dir(&tampered).unwrap();
    for e in fs::read_dir(&b).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), tampered.join(e.file_name())).unwrap();
        }
    }
    let err = install(&tampered, &root, &InstallOptions::default()).unwrap_err();
    assert!(err.message.contains("systemd"), "{err}");
    let mut ruleset = fs::read_to_string(b.join("ruleset.nft")).unwrap();
    ruleset.push_str("flush ruleset\n");
    let edited = t.path().join("edited");
    copy_tree(&b, &edited);
    fs::write(edited.join("ruleset.nft"), ruleset).unwrap();
    let err = install(&edited, &root, &InstallOptions::default()).unwrap_err();
    assert!(
        err.message.contains("does not match manifest.json"),
        "{err}"
    );

    // A manifest that names a path outside the build's files.
    let evil = t.path().join("evil");
    copy_tree(&b, &evil);
    let m = fs::read_to_string(evil.join("manifest.json"))
        .unwrap()
        .replace(
            "\"systemd/web.service.d/50-polc.conf\"",
            "\"systemd/../../../etc/passwd\"",
        );
    fs::write(evil.join("manifest.json"), m).unwrap();
    let err = install(&evil, &root, &InstallOptions::default()).unwrap_err();
    assert!(err.message.contains("not a file polc writes"), "{err}");

    // Not a build directory at all.
    let err = install(t.path(), &root, &InstallOptions::default()).unwrap_err();
    assert!(err.message.contains("has no manifest.json"), "{err}");
    assert_eq!(
        tree(&root),
        Vec::<String>::new(),
        "a refused build left files"
    );

    // Someone else's file where a polc file would go.
    let mine = root.join("etc/systemd/system/polc_browser.slice");
    fs::create_dir_all(mine.parent().unwrap()).unwrap();
    fs::write(&mine, "[Slice]\nCPUWeight=10\n").unwrap();
    let err = install(&b, &root, &InstallOptions::default()).unwrap_err();
    assert!(err.message.contains("polc did not write it"), "{err}");
    assert_eq!(
        fs::read_to_string(&mine).unwrap(),
        "[Slice]\nCPUWeight=10\n"
    );
    let layout = Layout::new(&root, "pol");
    assert!(generations::list(&layout).unwrap().is_empty());
    assert!(!root.join("etc/systemd/system/web.service.d").exists());
    fs::remove_file(&mine).unwrap();

    // Another install holds the lock.
    let lock = Lock::take(&layout).unwrap();
    let err = install(&b, &root, &InstallOptions::default()).unwrap_err();
    assert!(err.message.contains("another polc"), "{err}");
    drop(lock);
    assert!(generations::list(&layout).unwrap().is_empty());
    install(&b, &root, &InstallOptions::default()).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}
