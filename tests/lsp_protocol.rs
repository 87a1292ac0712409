//! `polc lsp` spoken to over JSON-RPC, as an editor would: the real binary
//! on pipes. Two files (`main.pol` imports `lib.pol`); each test checks one
//! part of the protocol: initialize, open (front-end diagnostics, then the
//! verifier's findings with witness and related location), incremental
//! change, definition and references across the import, hover, document
//! symbols, formatting, quick fixes, an edit to the imported file
//! re-checking its importer, shutdown/exit, and malformed input answered
//! per JSON-RPC without ending the session.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/lsp_client.rs"]
mod lsp_client;

use lsp_client::{file_uri, Client};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const POLC: &str = env!("CARGO_BIN_EXE_polc");

const LIB: &str = "network corp = { 10.20.0.0/16, 2001:db8:100::/48 }
service web = { tcp 80, tcp 443 }
group browser { cgroup \"apps.slice/firefox.slice\" }
";

const MAIN: &str = "import \"lib.pol\"

policy egress {
    hook output
    default drop

    allow browser to corp service web
    drop browser to 10.20.1.0/24 tcp 443
}
";

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(t.path()).unwrap();
    std::fs::write(dir.join("lib.pol"), LIB).unwrap();
    std::fs::write(dir.join("main.pol"), MAIN).unwrap();
    (t, dir)
}

fn started(dir: &Path) -> (Client, String, String) {
    let mut c = Client::start(POLC, &[]);
    let init = c.initialize(json!({}));
    assert_eq!(
        init.pointer("/capabilities/textDocumentSync/change"),
        Some(&json!(2))
    );
    let main = file_uri(&dir.join("main.pol"));
    let lib = file_uri(&dir.join("lib.pol"));
    (c, main, lib)
}

fn pos(line: u32, character: u32) -> Value {
    json!({ "line": line, "character": character })
}

fn codes(ds: &[Value]) -> Vec<String> {
    ds.iter()
        .filter_map(|d| d.get("code").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[test]
fn open_publishes_front_end_then_verifier_findings() {
    let (_t, dir) = workspace();
    let (mut c, main, lib) = started(&dir);
    c.open(&main, MAIN);
    // The front end is clean; the verifier then finds the shadowed rule.
    let ds = c.diagnostics(&main, |ds| !ds.is_empty());
    println!("{}", serde_json::to_string_pretty(&ds).unwrap());
    assert_eq!(codes(&ds), ["P0301"]);
    let d = &ds[0];
    assert_eq!(d["range"]["start"], pos(7, 4));
    assert_eq!(d["severity"], json!(1));
    assert_eq!(d["source"], json!("polc"));
    let msg = d["message"].as_str().unwrap();
    assert!(msg.starts_with("rule never matches"), "{msg}");
    assert!(
        msg.contains("witness: group `browser` (cgroup \"apps.slice/firefox.slice\")"),
        "{msg}"
    );
    assert!(
        msg.contains("to 10.20.1.") && msg.contains("tcp") && msg.contains("gets allow"),
        "{msg}"
    );
    let related = d["relatedInformation"].as_array().unwrap();
    assert!(
        related.iter().any(|r| r["location"]["uri"] == json!(main)
            && r["location"]["range"]["start"]["line"] == json!(6)),
        "{related:?}"
    );
    let _ = lib;
    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    assert_eq!(c.finish(), Some(0));
}

#[test]
fn definition_references_hover_and_symbols_across_the_import() {
    let (_t, dir) = workspace();
    let (mut c, main, lib) = started(&dir);
    c.open(&main, MAIN);
    let at_corp = json!({ "textDocument": { "uri": main }, "position": pos(6, 23) });
    let def = c.request("textDocument/definition", at_corp.clone());
    assert_eq!(def["uri"], json!(lib));
    assert_eq!(def["range"]["start"], pos(0, 8));
    assert_eq!(def["range"]["end"], pos(0, 12));

    let mut with_decl = at_corp.clone();
    with_decl["context"] = json!({ "includeDeclaration": true });
    let refs = c.request("textDocument/references", with_decl);
    let refs: Vec<(String, Value)> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["uri"].as_str().unwrap().to_string(),
                l["range"]["start"].clone(),
            )
        })
        .collect();
    assert_eq!(refs, [(lib.clone(), pos(0, 8)), (main.clone(), pos(6, 21))]);

    let hover = c.request("textDocument/hover", at_corp);
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("**network** `corp`"), "{text}");
    assert!(
        text.contains("IPv4: 10.20.0.0/16\nIPv6: 2001:db8:100::/48"),
        "{text}"
    );
    let hover = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": main }, "position": pos(6, 12) }),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("cgroup \"apps.slice/firefox.slice\" (cgroup v2 path, level 2"),
        "{text}"
    );
    let hover = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": main }, "position": pos(6, 35) }),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(text.contains("tcp 80, 443"), "{text}");
    // Nothing named under the cursor: null.
    let none = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": main }, "position": pos(3, 2) }),
    );
    assert!(none.is_null());

    c.open(&lib, LIB);
    let syms = c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": lib } }),
    );
    let names: Vec<(&str, &str)> = syms
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("corp", "network"),
            ("web", "service"),
            ("browser", "group")
        ]
    );
}

#[test]
fn incremental_change_quick_fix_and_formatting() {
    let (_t, dir) = workspace();
    let (mut c, main, _) = started(&dir);
    c.open(&main, MAIN);
    c.diagnostics(&main, |ds| !ds.is_empty());
    // `corp` -> `crop`: an incremental edit of four characters.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": main, "version": 2 },
            "contentChanges": [{ "range": { "start": pos(6, 21), "end": pos(6, 25) }, "text": "crop" }],
        }),
    );
    let ds = c.diagnostics(&main, |ds| {
        codes(ds).contains(&"P0201".to_string()) || codes(ds).iter().any(|c| c != "P0301")
    });
    println!("{}", serde_json::to_string_pretty(&ds).unwrap());
    let unknown = ds
        .iter()
        .find(|d| {
            d["message"]
                .as_str()
                .unwrap()
                .contains("unknown network `crop`")
        })
        .unwrap_or_else(|| panic!("{ds:?}"));
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("help: did you mean `corp`?"));
    assert_eq!(unknown["range"]["start"], pos(6, 21));

    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": main },
            "range": { "start": pos(6, 21), "end": pos(6, 25) },
            "context": { "diagnostics": [] },
        }),
    );
    let a = &actions.as_array().unwrap()[0];
    assert_eq!(a["title"], json!("replace with `corp`"));
    assert_eq!(a["kind"], json!("quickfix"));
    let edit = &a["edit"]["changes"][main.as_str()][0];
    assert_eq!(edit["newText"], json!("corp"));
    assert_eq!(edit["range"]["start"], pos(6, 21));
    assert_eq!(edit["range"]["end"], pos(6, 25));

    // Apply it (as the editor would): the error is gone.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": main, "version": 3 },
            "contentChanges": [{ "range": edit["range"], "text": "corp" }],
        }),
    );
    let ds = c.diagnostics(&main, |ds| !codes(ds).iter().any(|c| c != "P0301"));
    assert!(codes(&ds).iter().all(|c| c == "P0301"), "{ds:?}");

    // Formatting: the whole text replaced by `polc fmt`'s layout.
    let messy = "policy   p{\nhook output\n  default drop\n allow to 192.0.2.1 tcp 22}\n";
    let uri = file_uri(&dir.join("messy.pol"));
    std::fs::write(dir.join("messy.pol"), messy).unwrap();
    c.open(&uri, messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }),
    );
    let new_text = edits[0]["newText"].as_str().unwrap();
    let out = std::process::Command::new(POLC)
        .args(["fmt"])
        .arg(dir.join("messy.pol"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        new_text,
        std::fs::read_to_string(dir.join("messy.pol")).unwrap()
    );
    assert_eq!(edits[0]["range"]["start"], pos(0, 0));
}

#[test]
fn an_edit_to_an_imported_file_rechecks_its_importer() {
    let (_t, dir) = workspace();
    let (mut c, main, lib) = started(&dir);
    c.open(&main, MAIN);
    c.diagnostics(&main, |ds| codes(ds) == ["P0301"]);
    c.open(&lib, LIB);
    // Rename the network in lib.pol (unsaved): main.pol's use breaks.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": lib, "version": 2 },
            "contentChanges": [{ "range": { "start": pos(0, 8), "end": pos(0, 12) }, "text": "office" }],
        }),
    );
    let ds = c.diagnostics(&main, |ds| {
        ds.iter().any(|d| {
            d["message"]
                .as_str()
                .unwrap_or("")
                .contains("unknown network `corp`")
        })
    });
    assert!(!ds.is_empty());
    // Undo: main.pol is clean of front-end errors again.
    c.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": lib, "version": 3 },
            "contentChanges": [{ "text": LIB }],
        }),
    );
    c.diagnostics(&main, |ds| ds.iter().all(|d| d["code"] == json!("P0301")));
}

#[test]
fn an_imported_file_is_checked_through_its_importer() {
    let (_t, dir) = workspace();
    // lib2.pol uses `office`, which only its importer defines: one
    // namespace for every loaded file, so main2.pol is clean.
    let lib2 = "network branch = { 192.0.2.0/24, office }\n";
    let main2 = "import \"lib2.pol\"\nnetwork office = 198.51.100.0/24\n\npolicy p {\n    hook output\n    default drop\n\n    allow to branch tcp 22\n}\n";
    std::fs::write(dir.join("lib2.pol"), lib2).unwrap();
    std::fs::write(dir.join("main2.pol"), main2).unwrap();
    let (mut c, _, _) = started(&dir);
    let (m, l) = (
        file_uri(&dir.join("main2.pol")),
        file_uri(&dir.join("lib2.pol")),
    );
    // Alone, lib2.pol lacks `office`.
    c.open(&l, lib2);
    let ds = c.diagnostics(&l, |ds| !ds.is_empty());
    assert!(
        ds[0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown network `office`"),
        "{ds:?}"
    );
    // With its importer open, it is checked through it: clean.
    c.open(&m, main2);
    c.diagnostics(&l, <[Value]>::is_empty);
    c.diagnostics(&m, <[Value]>::is_empty);
}

#[test]
fn malformed_messages_and_unknown_methods_are_answered_not_fatal() {
    let mut c = Client::start(POLC, &[]);
    // Before initialize: ServerNotInitialized.
    let id = c.request_async("textDocument/hover", json!({}));
    assert_eq!(c.response(id)["error"]["code"], json!(-32002));
    c.initialize(json!({ "general": { "positionEncodings": ["utf-8", "utf-16"] } }));
    // Not JSON: ParseError with a null id.
    c.raw(b"{this is not json");
    let e = c
        .wait_for(Duration::from_secs(10), |m| m.get("error").is_some())
        .unwrap();
    assert_eq!(e["error"]["code"], json!(-32700));
    assert!(e["id"].is_null());
    // JSON, not a request: InvalidRequest, with its id.
    c.raw(br#"{"jsonrpc":"2.0","id":41,"method":7}"#);
    let e = c.response(41);
    assert_eq!(e["error"]["code"], json!(-32600));
    // A header block without Content-Length, then a valid request.
    c.raw_bytes(b"X-Nonsense: yes\r\n\r\n");
    let e = c
        .wait_for(Duration::from_secs(10), |m| m.get("error").is_some())
        .unwrap();
    assert_eq!(e["error"]["code"], json!(-32700));
    // Unknown method: MethodNotFound; unknown notification: ignored.
    c.notify("$/unknownNotification", json!({}));
    let id = c.request_async("workspace/doesNotExist", json!({}));
    assert_eq!(c.response(id)["error"]["code"], json!(-32601));
    // Bad params: InvalidParams.
    let id = c.request_async("textDocument/definition", json!({ "position": 3 }));
    assert_eq!(c.response(id)["error"]["code"], json!(-32602));
    // Still serving.
    let r = c.request("shutdown", Value::Null);
    assert!(r.is_null());
    let id = c.request_async("textDocument/hover", json!({}));
    assert_eq!(c.response(id)["error"]["code"], json!(-32600));
    c.notify("exit", Value::Null);
    assert_eq!(c.finish(), Some(0));
}

#[test]
fn exit_without_shutdown_and_closed_input_end_with_status_1() {
    let mut c = Client::start(POLC, &[]);
    c.initialize(json!({}));
    c.notify("exit", Value::Null);
    assert_eq!(c.finish(), Some(1));
    let mut c = Client::start(POLC, &[]);
    c.initialize(json!({}));
    assert_eq!(c.finish(), Some(1));
}

#[test]
fn utf8_positions_when_the_client_offers_them() {
    let (_t, dir) = workspace();
    let text = "network a = 192.0.2.1\npolicy p {\n    hook output\n    default drop\n    allow to a\n}\ntest \"é𝄞\" { expect allow to a }\n";
    std::fs::write(dir.join("u.pol"), text).unwrap();
    let uri = file_uri(&dir.join("u.pol"));
    // The `a` after `"é𝄞"`: byte column 32, UTF-16 column 29.
    for (offer, enc, character) in [
        (json!(["utf-8", "utf-16"]), "utf-8", 32),
        (json!(["utf-16"]), "utf-16", 29),
    ] {
        let mut c = Client::start(POLC, &[]);
        let init = c.initialize(json!({ "general": { "positionEncodings": offer } }));
        assert_eq!(init["capabilities"]["positionEncoding"], json!(enc));
        c.open(&uri, text);
        let def = c.request(
            "textDocument/definition",
            json!({ "textDocument": { "uri": uri }, "position": pos(6, character) }),
        );
        assert_eq!(def["range"]["start"], pos(0, 8), "{enc}");
        // One column further is past the name: nothing.
        let none = c.request(
            "textDocument/definition",
            json!({ "textDocument": { "uri": uri }, "position": pos(6, character + 2) }),
        );
        assert!(none.is_null(), "{enc}: {none}");
    }
}
