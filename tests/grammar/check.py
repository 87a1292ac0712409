#!/usr/bin/env python3
"""The editor grammar check (issue 15): the VS Code extension's manifest and
TextMate grammar are consistent, and the grammar tokenises every .pol file
of the repository without a character that no rule matched.

    python3 tests/grammar/check.py [--polc PATH] [--dump] [FILE...]

1. editors/vscode/package.json and language-configuration.json: the
   language id, file extension, grammar path and scopeName agree; every file
   they name exists; `polc.path` defaults to "polc"; activation on the
   language.
2. The grammar: only the TextMate subset tests/grammar/textmate.py
   implements; every include resolves and every repository entry is used;
   every regex compiles in Python and uses only constructs that Oniguruma
   (VS Code) reads the same way; every scope ends in `.pol`.
3. The grammar knows every keyword of lang/src/parse/lexer.rs, and only
   those; a table of lines with the scopes their tokens must get.
4. Self-tests: a broken grammar (an include that does not resolve, a
   regex that does not compile, a non-portable regex, a rule removed) and
   broken input must fail, at the right line and column.
5. Every .pol file under the repository (examples/, tests/fixtures/,
   stdlib/, ...) and every ```pol block of its Markdown files: a
   non-whitespace character that no rule matched is an error
   (FILE:LINE:COL). Fixtures that are lexically malformed on purpose are
   checked exactly: with --polc, the places the grammar finds unmatched
   characters, unterminated strings and bad escapes must be the places
   where `polc check --no-verify` reports P0003, P0004 and P0005; without
   it, only files whose `# expect:` header names those codes may have them.
6. With Node.js on PATH, editors/vscode/test/activate.test.js (extension.js
   against stand-ins for the VS Code API); without it, that part says
   skipped.

Prints one line per part and `grammar check passed` at the end; exits 1 on
any failure. --dump prints each file's tokens as JSON (for
tests/grammar/crosscheck.js, which compares them with vscode-textmate).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import textmate  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / "editors" / "vscode"
LEXER = REPO / "lang" / "src" / "parse" / "lexer.rs"
SKIP_DIRS = {".git", "target", "node_modules"}
LEXICAL = {"P0003": "unmatched", "P0004": "unterminated", "P0005": "escape"}

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}")


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


# ------------------------------------------------------------------ manifest


def check_manifest() -> tuple[dict, str]:
    """package.json and language-configuration.json; returns the grammar
    JSON and the language id."""
    pkg = json.loads((VSCODE / "package.json").read_text())
    problems = []
    langs = pkg.get("contributes", {}).get("languages", [])
    grammars = pkg.get("contributes", {}).get("grammars", [])
    if len(langs) != 1 or len(grammars) != 1:
        problems.append("expected one language and one grammar contribution")
        raise SystemExit("\n".join(problems))
    lang, gram = langs[0], grammars[0]
    lang_id = lang.get("id")
    if lang_id != "pol":
        problems.append(f"language id is {lang_id!r}, not 'pol'")
    if lang.get("extensions") != [".pol"]:
        problems.append(f"language extensions are {lang.get('extensions')!r}, not ['.pol']")
    if gram.get("language") != lang_id:
        problems.append(f"grammar is for language {gram.get('language')!r}, not {lang_id!r}")
    if f"onLanguage:{lang_id}" not in pkg.get("activationEvents", []):
        problems.append(f"no activation event onLanguage:{lang_id}")
    for what, p in [
        ("main", pkg.get("main")),
        ("language configuration", lang.get("configuration")),
        ("grammar", gram.get("path")),
    ]:
        if not p or not (VSCODE / p).is_file():
            problems.append(f"{what} {p!r} is not a file under editors/vscode")
    props = pkg.get("contributes", {}).get("configuration", {}).get("properties", {})
    if props.get("polc.path", {}).get("default") != "polc":
        problems.append('setting polc.path does not default to "polc"')
    if "vscode-languageclient" not in pkg.get("dependencies", {}):
        problems.append("vscode-languageclient is not a dependency")
    if "vscode" not in pkg.get("engines", {}):
        problems.append("no engines.vscode")
    if (VSCODE / "node_modules").exists() and subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--error-unmatch", "editors/vscode/node_modules"],
        capture_output=True,
    ).returncode == 0:
        problems.append("node_modules is committed")
    conf = json.loads((VSCODE / lang.get("configuration", "")).read_text())
    if conf.get("comments", {}).get("lineComment") != "#":
        problems.append("language configuration: line comment is not #")
    pairs = {(p["open"], p["close"]) if isinstance(p, dict) else tuple(p) for p in conf.get("autoClosingPairs", [])}
    for pair in [("{", "}"), ("(", ")"), ('"', '"')]:
        if pair not in pairs:
            problems.append(f"language configuration: no auto-closing pair {pair}")
    if {tuple(b) for b in conf.get("brackets", [])} != {("{", "}"), ("(", ")")}:
        problems.append("language configuration: brackets are not {} and ()")
    for key in ("wordPattern",):
        if key in conf:
            try:
                re.compile(conf[key])
            except re.error as e:
                problems.append(f"language configuration: {key} does not compile: {e}")
    grammar = json.loads((VSCODE / gram["path"]).read_text())
    if grammar.get("scopeName") != gram.get("scopeName"):
        problems.append(f"grammar scopeName {grammar.get('scopeName')!r} is not package.json's {gram.get('scopeName')!r}")
    if problems:
        for p in problems:
            fail(f"editors/vscode: {p}")
    else:
        print(f"ok   manifest: language `{lang_id}` (.pol), grammar {gram['scopeName']} at {gram['path']}")
    return grammar, lang_id


# ------------------------------------------------------------------ keywords


def lexer_keywords() -> list[str]:
    src = LEXER.read_text()
    m = re.search(r"keywords!\s*\{(.*?)\n\}", src, re.S)
    if not m:
        raise SystemExit(f"no keywords! block in {rel(LEXER)}")
    words = re.findall(r'[A-Z][A-Za-z0-9]*\s*=\s*"([a-z0-9]+)"', m.group(1))
    if len(words) < 40:
        raise SystemExit(f"only {len(words)} keywords found in {rel(LEXER)}")
    return words


def grammar_keywords(grammar: dict) -> set[str]:
    words: set[str] = set()
    for rule in grammar["repository"]["keyword"]["patterns"]:
        m = re.fullmatch(r"\(\?:([a-z0-9|]+)\)\(\?!\[A-Za-z0-9_\\-\]\)", rule["match"])
        if not m:
            raise SystemExit(f"keyword rule /{rule['match']}/ is not (?:a|b)(?![A-Za-z0-9_\\-])")
        words.update(m.group(1).split("|"))
    return words


def innermost(g: textmate.Grammar, line: str, col: int) -> str:
    toks = g.tokenize(line + "\n")[0]
    return toks.scopes[col][-1]


def check_keywords(g: textmate.Grammar, grammar: dict) -> None:
    kws = lexer_keywords()
    in_grammar = grammar_keywords(grammar)
    missing = [k for k in kws if k not in in_grammar]
    stale = sorted(in_grammar - set(kws))
    if missing:
        fail(f"keywords of {rel(LEXER)} the grammar does not know: {' '.join(missing)}")
    if stale:
        fail(f"grammar keywords that are not keywords of {rel(LEXER)}: {' '.join(stale)}")
    bad = []
    for k in kws:
        for text in (k, f"{k} x", f"x {k}"):
            col = text.index(k)
            scope = innermost(g, text, col)
            if scope == "variable.other.pol" or scope == g.scope_name:
                bad.append(f"`{text}`: {k} is {scope}")
        # a keyword with a hyphen or more letters is a name
        for text in (f"{k}-x", f"{k}x", f"x-{k}"):
            if innermost(g, text, 0) != "variable.other.pol":
                bad.append(f"`{text}` is {innermost(g, text, 0)}, not a name")
    for b in bad:
        fail(f"keyword: {b}")
    if not missing and not stale and not bad:
        print(f"ok   keywords: the grammar has the {len(kws)} keywords of {rel(LEXER)}, and no others")


# Lines and the innermost scope some of their tokens must get.
SCOPE_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ('import "std/services"  # stdlib', [("import", "keyword.control.import.pol"), ('"std', "punctuation.definition.string.begin.pol"),
                                         ("std/services", "string.quoted.double.pol"), ("# stdlib", "punctuation.definition.comment.pol"), ("stdlib", "comment.line.number-sign.pol")]),
    ("network corp-net = { 10.20.0.0/16, 2001:db8:100::/48, 192.0.2.10-192.0.2.20, ::ffff:192.0.2.1, fe80::1 }",
     [("network", "storage.type.pol"), ("corp-net", "entity.name.type.pol"), ("=", "keyword.operator.assignment.pol"),
      ("{", "punctuation.section.braces.begin.pol"), ("10.20.0.0/16", "constant.numeric.address.ipv4.prefix.pol"),
      (",", "punctuation.separator.comma.pol"), ("2001:db8:100::/48", "constant.numeric.address.ipv6.prefix.pol"),
      ("192.0.2.10-192.0.2.20", "constant.numeric.address.ipv4.range.pol"), ("::ffff:192.0.2.1", "constant.numeric.address.ipv6.pol"),
      ("fe80::1", "constant.numeric.address.ipv6.pol"), ("}", "punctuation.section.braces.end.pol")]),
    ("network internet = !{ rfc1918, link-local }", [("!", "keyword.operator.complement.pol"), ("rfc1918", "variable.other.pol"), ("link-local", "variable.other.pol")]),
    ("service web = { tcp 80, udp 8000-8999, sctp { 20, 21-22 }, icmp, icmpv6, proto esp, proto 50 }",
     [("web", "entity.name.type.pol"), ("tcp", "support.type.protocol.pol"), ("80", "constant.numeric.port.pol"),
      ("8000", "constant.numeric.port.pol"), ("-8999", "keyword.operator.range.pol"), ("8999", "constant.numeric.port.pol"),
      ("sctp", "support.type.protocol.pol"), ("20", "constant.numeric.port.pol"), ("-22", "keyword.operator.range.pol"),
      ("icmp,", "support.type.protocol.pol"), ("icmpv6", "support.type.protocol.pol"), ("proto esp", "keyword.other.proto.pol"),
      ("esp", "support.constant.protocol.pol"), ("50", "support.constant.protocol.pol")]),
    ('group legacy { classid 10:1 }', [("legacy", "entity.name.type.pol"), ("classid", "keyword.other.selector.pol"), ("10:1", "constant.numeric.classid.pol")]),
    ('group chat { slice "app-chat.slice" user 1000; unit "a.service"; uid 34; gid 0x10 }',
     [("slice", "keyword.other.selector.pol"), ("user", "keyword.other.selector.pol"), ("1000", "constant.numeric.integer.decimal.pol"),
      (";", "punctuation.terminator.statement.pol"), ("unit", "keyword.other.selector.pol"), ("uid", "keyword.other.selector.pol"),
      ("0x10", "constant.numeric.integer.hexadecimal.pol")]),
    ("group devtools = { editor, terminal }", [("devtools", "entity.name.type.pol"), ("editor", "variable.other.pol")]),
    ('matcher geo = wasm "geo.wat" { fuel 50000000; memory 64MiB; timeout 2s }',
     [("matcher", "storage.type.pol"), ("geo", "entity.name.type.pol"), ("wasm", "keyword.other.matcher.pol"),
      ("fuel", "keyword.other.matcher.pol"), ("64MiB", "constant.numeric.quantity.pol"), ("MiB", "keyword.other.unit.pol"),
      ("s }", "keyword.other.unit.pol")]),
    ("    net.ipv4.tcp_autocorking = on", [("net.ipv4", "variable.other.property.sysctl.pol"), ("on", "constant.language.boolean.pol")]),
    ('    unsafe "kernel.x" = -1', [("unsafe", "keyword.other.tuning.pol"), ("-1", "keyword.operator.minus.pol"), ("1", "constant.numeric.integer.decimal.pol")]),
    ('    qdisc "eth0" fq', [("qdisc", "keyword.other.tuning.pol"), ("fq", "variable.other.pol")]),
    ("    address fd00:42::1/64", [("address", "keyword.other.tunnel.pol"), ("fd00:42::1/64", "constant.numeric.address.ipv6.prefix.pol")]),
    ("    dev \"vti-x\"; mtu 1400; key 42", [("dev", "keyword.other.tunnel.pol"), ("mtu", "keyword.other.tunnel.pol"), ("key", "keyword.other.tunnel.pol")]),
    ("policy egress {", [("policy", "storage.type.pol"), ("egress", "entity.name.type.pol")]),
    ("    hook output; default drop", [("hook", "keyword.other.policy.pol"), ("output", "constant.language.hook.pol"),
                                      ("default", "keyword.other.policy.pol"), ("drop", "keyword.control.verdict.drop.pol")]),
    ('    allow browser to geo("DE", 3) service web via corp-vpn log "x" counter comment "y"',
     [("allow", "keyword.control.verdict.allow.pol"), ("browser", "variable.other.pol"), ("to", "keyword.other.preposition.pol"),
      ("geo", "entity.name.function.pol"), ("(", "punctuation.section.parens.begin.pol"), ("3", "constant.numeric.integer.decimal.pol"),
      (")", "punctuation.section.parens.end.pol"), ("service", "keyword.other.service.pol"), ("via", "keyword.other.preposition.pol"),
      ("corp-vpn", "variable.other.pol"), ("log", "keyword.other.modifier.pol"), ("counter", "keyword.other.modifier.pol"),
      ("comment", "keyword.other.modifier.pol")]),
    ("    reject legacy from any", [("reject", "keyword.control.verdict.reject.pol"), ("any", "constant.language.any.pol")]),
    ('test "t" { expect some deny browser to 10.0.0.1 tcp 443 in egress }',
     [("test", "storage.type.pol"), ("expect", "keyword.control.expect.pol"), ("some", "keyword.operator.quantifier.pol"),
      ("deny", "keyword.control.verdict.deny.pol"), ("10.0.0.1", "constant.numeric.address.ipv4.pol"),
      ("443", "constant.numeric.port.pol"), ("in", "keyword.other.preposition.pol"), ("egress", "variable.other.pol")]),
    (r'log "a \"q\" \\ \n \t b"', [(r"\"", "constant.character.escape.pol"), (r"\\", "constant.character.escape.pol"),
                                    (r"\n", "constant.character.escape.pol"), (r"\t", "constant.character.escape.pol")]),
    (r'cgroup "a\qb"', [(r"\q", "invalid.illegal.escape.pol")]),
    ('cgroup "apps.slice/x }', [('"apps', "invalid.illegal.unterminated-string.pol")]),
    ("network a = 10.0.0.1.2", [("10.0.0.1.2", "constant.numeric.address.pol")]),
    ("allow-list allowed", [("allow-list", "variable.other.pol"), ("allowed", "variable.other.pol")]),
]


def check_scopes(g: textmate.Grammar) -> None:
    bad = 0
    n = 0
    for line, expect in SCOPE_CASES:
        toks = g.tokenize(line + "\n")[0]
        for needle, scope in expect:
            n += 1
            col = line.find(needle)
            if col < 0:
                raise SystemExit(f"scope case: {needle!r} not in {line!r}")
            got = toks.scopes[col][-1]
            if got != scope:
                bad += 1
                fail(f"scope of {needle!r} in `{line}`: {got} (scopes {toks.scopes[col]}), want {scope}")
        for i, ch in enumerate(line):
            if not ch.isspace() and not toks.covered[i]:
                bad += 1
                fail(f"scope case `{line}`: column {i + 1} ({ch!r}) unmatched")
    if not bad:
        print(f"ok   scopes: {n} tokens in {len(SCOPE_CASES)} lines get their expected scopes")


# ------------------------------------------------------------------ files


def unmatched_positions(lines: list[textmate.Line]) -> dict[str, set[tuple[int, int]]]:
    """The lexical findings of the grammar: characters no rule matched,
    unterminated strings and bad escapes, as 1-based (line, column)."""
    found: dict[str, set[tuple[int, int]]] = {k: set() for k in LEXICAL.values()}
    for ln in lines:
        for i, ch in enumerate(ln.text):
            if not ch.isspace() and not ln.covered[i]:
                found["unmatched"].add((ln.number, i + 1))
            # each bad escape is a backslash and one character
            if ch == "\\" and ln.scopes[i][-1:] == ("invalid.illegal.escape.pol",):
                found["escape"].add((ln.number, i + 1))
        for s, _e, scopes in ln.tokens():
            if "invalid.illegal.unterminated-string.pol" in scopes and (s == 0 or "invalid.illegal.unterminated-string.pol" not in ln.scopes[s - 1]):
                found["unterminated"].add((ln.number, s + 1))

    return found


def polc_lexical(polc: str, paths: list[Path]) -> dict[str, dict[str, set[tuple[int, int]]]]:
    """P0003/P0004/P0005 of `polc check --no-verify` on `paths` (all in one
    directory), by file name."""
    out = subprocess.run(
        [polc, "check", "--no-verify", "--format", "json", *(p.name for p in paths)],
        cwd=paths[0].parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"polc check in {paths[0].parent}: not JSON (exit {out.returncode}):\n{out.stdout}{out.stderr}")
    found = {p.name: {k: set() for k in LEXICAL.values()} for p in paths}
    for d in report.get("diagnostics", []):
        if d.get("code") in LEXICAL and d.get("file") in found:
            found[d["file"]][LEXICAL[d["code"]]].add((d["line"], d["column"]))
    return found


def header_codes(text: str) -> set[str]:
    codes = set()
    for line in text.splitlines():
        rest = line.strip().removeprefix("# expect:")
        if rest != line.strip():
            codes.update(w for w in rest.split("—")[0].split() if w.startswith("P"))
    return codes


def corpus(extra: list[str]) -> list[tuple[str, str, int, Path | None]]:
    """(label, text, first line number, path) of every .pol file and every
    ```pol block of a Markdown file under the repository (or of `extra`)."""
    items = []
    if extra:
        for e in extra:
            p = Path(e).resolve()
            items.append((rel(p), p.read_text(), 1, p))
        return items
    for dirpath, dirnames, filenames in os.walk(REPO):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if f.endswith(".pol"):
                items.append((rel(p), p.read_text(encoding="utf-8", errors="replace"), 1, p))
            elif f.endswith(".md"):
                lines = p.read_text(encoding="utf-8", errors="replace").split("\n")
                i = 0
                while i < len(lines):
                    if lines[i].strip() == "```pol":
                        j = i + 1
                        while j < len(lines) and lines[j].strip() != "```":
                            j += 1
                        items.append((rel(p), "\n".join(lines[i + 1 : j]) + "\n", i + 2, None))
                        i = j
                    i += 1
    return items


def check_corpus(g: textmate.Grammar, polc: str | None, extra: list[str], dump: bool) -> None:
    items = corpus(extra)
    files = blocks = lines_n = tokens_n = 0
    expected_total = 0
    bad_files = 0
    dumped = {}
    for label, text, first, path in items:
        if path is None:
            blocks += 1
        else:
            files += 1
        try:
            lines = g.tokenize(text)
        except textmate.GrammarError as e:
            fail(f"{label}: {e}")
            bad_files += 1
            continue
        lines_n += len(lines)
        tokens_n += sum(1 for ln in lines for s, e, _ in ln.tokens() if ln.text[s:e].strip())
        if dump:
            dumped[f"{label}:{first}"] = {
                "text": text,
                "lines": [[[s, e, list(sc)] for s, e, sc in ln.tokens()] for ln in lines],
            }
            continue
        found = unmatched_positions(lines)
        if path is not None and polc:
            want = polc_lexical(polc, [path])[path.name]
            how = "polc check --no-verify"
        elif path is not None:
            codes = header_codes(text)
            want = {k: (found[k] if code in codes else set()) for code, k in LEXICAL.items()}
            how = "its # expect: header"
        else:
            want = {k: set() for k in LEXICAL.values()}
            how = "a ```pol block"
        ok = True
        for kind in LEXICAL.values():
            extra_found = sorted(found[kind] - want[kind])
            missed = sorted(want[kind] - found[kind])
            for ln, col in extra_found:
                ok = False
                line_text = text.split("\n")[ln - 1]
                ch = line_text[col - 1] if col - 1 < len(line_text) else ""
                what = {
                    "unmatched": f"no grammar rule matches {ch!r}",
                    "unterminated": "the grammar sees an unterminated string",
                    "escape": "the grammar sees an invalid escape",
                }[kind]
                fail(f"{label}:{ln + first - 1}:{col}: {what} (not expected by {how})")
            for ln, col in missed:
                ok = False
                code = [c for c, k in LEXICAL.items() if k == kind][0]
                fail(f"{label}:{ln + first - 1}:{col}: {how} reports {code} here, the grammar does not ({kind})")
        expected_total += sum(len(want[k]) for k in LEXICAL.values())
        if not ok:
            bad_files += 1
    if dump:
        json.dump(dumped, sys.stdout)
        return
    src = "polc check --no-verify puts" if polc else "the # expect: headers put"
    summary = (
        f"{files} .pol files and {blocks} ```pol blocks, {lines_n} lines, {tokens_n} tokens: "
        f"{bad_files} with unexpected findings; {expected_total} lexical errors on purpose, all where {src} them"
    )
    if bad_files:
        fail(f"corpus: {summary}")
    else:
        print(f"ok   corpus: {summary}")


# Pieces of generated input: the lexer's alphabet, tokens, and characters
# outside the language.
ALPHABET = list('abcdefxyzADF019_-.:/ "\\#{}(),;=!@\u00e9\t') + [
    "tcp", "udp", "proto", "classid", "unit", "user", "allow", "net.ipv4", "10.0.0.1", "10.0.0.0/8",
    "192.0.2.1-192.0.2.9", "::1", "fe80::1", "2001:db8::/32", "10:1", "0x", "0x10", "64MiB", "8000-8999",
    '"a\\"b"', '"x\\q"', "ab.cd", "x(",
]


def check_generated(g: textmate.Grammar, polc: str, count: int = 300, seed: int = 15) -> None:
    """Random lines from ALPHABET (fixed seed): the grammar finds its
    unmatched characters, unterminated strings and bad escapes exactly where
    polc's lexer finds P0003, P0004 and P0005."""
    import random

    rng = random.Random(seed)
    tmpdir = Path(tempfile.mkdtemp(prefix="pol-grammar-generated-"))
    try:
        paths = []
        for i in range(count):
            lines = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(6)]
            p = tmpdir / f"g{i}.pol"
            p.write_text("\n".join(lines) + "\n")
            paths.append(p)
        want = polc_lexical(polc, paths)
        agree = 0
        positions = 0
        for p in paths:
            text = p.read_text()
            found = unmatched_positions(g.tokenize(text))
            if found == want[p.name]:
                agree += 1
                positions += sum(len(v) for v in found.values())
            else:
                for kind in LEXICAL.values():
                    for ln, col in sorted(found[kind] ^ want[p.name][kind]):
                        side = "grammar only" if (ln, col) in found[kind] else "polc only"
                        fail(f"generated input (seed {seed}) line {ln} col {col}: {kind}, {side}: {text.split(chr(10))[ln - 1]!r}")
        if agree == count:
            print(f"ok   generated input: {count} files of random tokens and characters (seed {seed}), "
                  f"{positions} lexical errors, all where polc's lexer puts them")
    finally:
        shutil.rmtree(tmpdir)


# ------------------------------------------------------------------ self-tests


def expect_grammar_error(data: dict, needle: str, what: str) -> bool:
    try:
        textmate.load(data)
    except textmate.GrammarError as e:
        if needle in str(e):
            return True
        fail(f"self-test {what}: error does not mention {needle!r}: {e}")
        return False
    fail(f"self-test {what}: the broken grammar was accepted")
    return False


def self_tests(grammar: dict) -> None:
    n_ok = 0
    cases = 0

    def broken(edit) -> dict:
        d = copy.deepcopy(grammar)
        edit(d)
        return d

    checks = [
        ("unresolved include", lambda d: d["patterns"].append({"include": "#no-such-rule"}), "#no-such-rule does not resolve"),
        ("regex that does not compile", lambda d: d["repository"]["name"].update(match="[A-Z"), "does not compile"),
        ("Oniguruma-only regex (\\h)", lambda d: d["repository"]["name"].update(match="\\h+"), "escape \\h"),
        ("Unicode-dependent class (\\d)", lambda d: d["repository"]["name"].update(match="\\d+"), "escape \\d"),
        ("POSIX bracket", lambda d: d["repository"]["name"].update(match="[[:alpha:]]+"), "POSIX bracket"),
        ("back-reference in end", lambda d: d["repository"]["string"]["patterns"][1].update(end="\\1"), "back-reference"),
        ("unused repository entry", lambda d: d["repository"].update(orphan={"match": "x", "name": "x.pol"}), "repository.orphan: never included"),
        ("unsupported key", lambda d: d["repository"]["string"]["patterns"][1].update(applyEndPatternLast=1), "unsupported key `applyEndPatternLast`"),
        ("scope of another language", lambda d: d["repository"]["name"].update(name="variable.other.rust"), "does not end with .pol"),
        ("no scopeName", lambda d: d.pop("scopeName"), "no scopeName"),
    ]
    for what, edit, needle in checks:
        cases += 1
        if expect_grammar_error(broken(edit), needle, what):
            n_ok += 1

    # The real grammar, less the rule for names: names are unmatched, and
    # the check says where.
    cases += 1
    g = textmate.load(broken(lambda d: (d["patterns"].remove({"include": "#name"}), d["repository"].pop("name"))))
    found = unmatched_positions(g.tokenize("network corp = { 10.0.0.0/8 }\nallow corp-apps to corp\n"))["unmatched"]
    # `corp` after `network` is a definition (its own rule); the others are
    # names, but for the `-` of `corp-apps` (then the minus operator)
    want = {(2, c) for c in range(7, 16) if c != 11} | {(2, c) for c in range(20, 24)}
    if found == want:
        n_ok += 1
    else:
        fail(f"self-test grammar without #name: unmatched {sorted(found)}, want {sorted(want)}")

    # Input with characters outside the language.
    cases += 1
    real = textmate.load(grammar)
    found = unmatched_positions(real.tokenize("network a = 10.0.0.1 @ 10/8\n# ok @ here\nlog \"@ fine\" $\n"))["unmatched"]
    if found == {(1, 22), (1, 26), (3, 14)}:
        n_ok += 1
    else:
        fail(f"self-test invalid characters: unmatched {sorted(found)}, want [(1, 22), (1, 26), (3, 14)]")

    # A region left open runs on to the next line, as in VS Code.
    cases += 1
    data = broken(lambda d: d["repository"]["string"]["patterns"].pop(0))
    lines = textmate.load(data).tokenize('x "open\nstill in it" y\n')
    if lines[1].scopes[0][-1] == "string.quoted.double.pol" and lines[1].scopes[13][-1] == "variable.other.pol":
        n_ok += 1
    else:
        fail(f"self-test multi-line region: {lines[1].scopes}")

    # The check itself, run as CI runs it, on a file with a character no
    # rule matches: without polc, and against stand-ins for polc that report
    # nothing, something the grammar does not see, and exactly the `~`.
    tmpdir = Path(tempfile.mkdtemp(prefix="pol-grammar-selftest-"))
    bad = tmpdir / "bad.pol"
    bad.write_text("policy p {\n    allow to 10.0.0.1 ~\n}\n")
    fake = tmpdir / "fake-polc"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "diags = json.loads(os.environ['FAKE_DIAGS'])\n"
        "for d in diags: d['file'] = sys.argv[-1]\n"
        "print(json.dumps({'diagnostics': diags}))\n"
    )
    fake.chmod(0o755)
    tilde = {"code": "P0003", "line": 2, "column": 23}
    runs = [
        ("without polc", [], [], 1, f"{bad}:2:23: no grammar rule matches '~' (not expected by its # expect: header)"),
        ("polc reports nothing", ["--polc", str(fake)], [], 1, f"{bad}:2:23: no grammar rule matches '~' (not expected by polc check --no-verify)"),
        ("polc reports more", ["--polc", str(fake)], [tilde, {"code": "P0004", "line": 1, "column": 1}], 1,
         f"{bad}:1:1: polc check --no-verify reports P0004 here, the grammar does not (unterminated)"),
        ("polc agrees", ["--polc", str(fake)], [tilde], 0, "1 lexical errors on purpose, all where polc check --no-verify puts them"),
    ]
    try:
        for what, opts, diags, status, line in runs:
            cases += 1
            env = {k: v for k, v in os.environ.items() if k != "POLC"}
            env["FAKE_DIAGS"] = json.dumps(diags)
            out = subprocess.run(
                [sys.executable, __file__, "--corpus-only", *opts, str(bad)],
                capture_output=True, text=True, timeout=120, env=env,
            )
            if out.returncode == status and line in out.stdout:
                n_ok += 1
            else:
                fail(f"self-test check.py on a bad file, {what}: exit {out.returncode} (want {status}), "
                     f"no line {line!r} in:\n{out.stdout}{out.stderr}")
    finally:
        shutil.rmtree(tmpdir)

    if n_ok == cases:
        print(f"ok   self-tests: {cases} broken grammars and inputs fail as they must")


# ------------------------------------------------------------------ node


def check_extension_js() -> None:
    node = shutil.which("node")
    if not node:
        print("skip extension.js: no node on PATH")
        return
    out = subprocess.run(
        [node, "--test-reporter=tap", str(VSCODE / "test" / "activate.test.js")],
        capture_output=True, text=True, timeout=120,
    )
    passed = re.search(r"^# pass (\d+)$", out.stdout, re.M)
    failed = re.search(r"^# fail (\d+)$", out.stdout, re.M)
    if out.returncode == 0 and passed and failed and failed.group(1) == "0":
        print(f"ok   extension.js: {passed.group(1)} tests with stand-ins for the VS Code API ({node})")
    else:
        fail(f"extension.js tests (exit {out.returncode}):\n{out.stdout}{out.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--polc", help="polc binary: check lexically malformed fixtures against its diagnostics")
    ap.add_argument("--dump", action="store_true", help="print every file's tokens as JSON, check nothing")
    ap.add_argument("--corpus-only", action="store_true", help="only tokenise the files (used by the self-test)")
    ap.add_argument("files", nargs="*", help="tokenise these instead of every .pol file of the repository")
    args = ap.parse_args()
    polc = args.polc or os.environ.get("POLC") or None
    grammar_path = VSCODE / "syntaxes" / "pol.tmLanguage.json"
    if args.corpus_only or args.dump:
        g = textmate.load(json.loads(grammar_path.read_text()))
        check_corpus(g, None if args.dump else polc, args.files, args.dump)
        return 1 if failures else 0
    grammar, _ = check_manifest()
    try:
        g = textmate.load(grammar)
    except textmate.GrammarError as e:
        fail(f"{rel(grammar_path)}:\n{e}")
        return 1
    n_rules = sum(1 for _ in re.finditer(r'"(match|begin)"', grammar_path.read_text()))
    print(f"ok   grammar: {n_rules} match/begin rules, every include resolves, every regex compiles and is portable")
    check_keywords(g, grammar)
    check_scopes(g)
    self_tests(grammar)
    if polc and not shutil.which(polc) and not Path(polc).is_file():
        fail(f"--polc {polc}: no such program")
        polc = None
    check_corpus(g, polc, args.files, False)
    if polc:
        check_generated(g, polc)
    else:
        print("skip generated input: needs --polc")
    check_extension_js()
    if failures:
        print(f"grammar check FAILED: {len(failures)} problem(s)")
        return 1
    print("grammar check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
