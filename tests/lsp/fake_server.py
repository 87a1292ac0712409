#!/usr/bin/env python3
"""A stand-in for `polc lsp`, only to test the Neovim harness
(tests/lsp/nvim.lua) before the real server exists. Not a Pol server.

    python3 tests/lsp/fake_server.py lsp

JSON-RPC with Content-Length framing on stdin/stdout, as LSP clients speak
it. It answers `initialize` (full text sync, definitions), and on
`textDocument/didOpen` and `didChange` publishes exactly one diagnostic
shaped like polc's: the last rule of the first `policy` block, severity
error, code P0301, source "polc", message "rule never matches: every packet
it matches is decided earlier". `textDocument/definition` finds the word
under the cursor and answers the Location of the name in its `network`,
`service`, `group`, `matcher`, `tunnel` or `policy` definition in the same
document, or null. `shutdown` answers null; `exit` exits 0. Other requests
get MethodNotFound; other notifications are ignored.

Environment: FAKE_LSP_NO_DIAGNOSTICS=1 never publishes (to test the
harness's timeout); FAKE_LSP_LOG=FILE appends every method received, and
`rootUri URI` of the initialize request.
"""

from __future__ import annotations

import json
import os
import re
import sys

DEFINING = ("network", "service", "group", "matcher", "tunnel", "policy")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")

docs: dict[str, str] = {}


def log(method: str) -> None:
    path = os.environ.get("FAKE_LSP_LOG")
    if path:
        with open(path, "a") as f:
            f.write(method + "\n")


def read_message() -> dict | None:
    headers = {}
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.decode("ascii").strip()
        if not line:
            break
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = sys.stdin.buffer.read(int(headers["content-length"]))
    return json.loads(body)


def send(msg: dict) -> None:
    data = json.dumps({"jsonrpc": "2.0", **msg}).encode("utf-8")
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
    sys.stdout.buffer.flush()


def last_rule_of_first_policy(text: str) -> tuple[int, int, int] | None:
    """(line, start, end), 0-based, of the last verdict line in the first
    policy block."""
    lines = text.split("\n")
    inside = False
    found = None
    for i, line in enumerate(lines):
        if not inside and re.match(r"\s*policy\s", line):
            inside = True
            continue
        if inside:
            if line.strip() == "}":
                break
            m = re.match(r"(\s*)((allow|drop|reject)\b.*?)\s*(#.*)?$", line)
            if m:
                found = (i, len(m.group(1)), len(m.group(1)) + len(m.group(2)))
    return found


def publish(uri: str) -> None:
    if os.environ.get("FAKE_LSP_NO_DIAGNOSTICS") == "1":
        return
    diags = []
    rule = last_rule_of_first_policy(docs.get(uri, ""))
    if rule:
        line, start, end = rule
        diags.append(
            {
                "range": {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}},
                "severity": 1,
                "code": "P0301",
                "source": "polc",
                "message": "rule never matches: every packet it matches is decided earlier",
            }
        )
    send({"method": "textDocument/publishDiagnostics", "params": {"uri": uri, "diagnostics": diags}})


def definition(params: dict) -> dict | None:
    uri = params["textDocument"]["uri"]
    lines = docs.get(uri, "").split("\n")
    pos = params["position"]
    if pos["line"] >= len(lines):
        return None
    line = lines[pos["line"]]
    word = None
    for m in WORD.finditer(line):
        if m.start() <= pos["character"] < m.end():
            word = m.group(0)
    if word is None:
        return None
    for i, text in enumerate(lines):
        m = re.match(r"\s*(?:%s)\s+(%s)(?![A-Za-z0-9_\-])" % ("|".join(DEFINING), re.escape(word)), text)
        if m:
            return {
                "uri": uri,
                "range": {"start": {"line": i, "character": m.start(1)}, "end": {"line": i, "character": m.end(1)}},
            }
    return None


def main() -> int:
    if sys.argv[1:] != ["lsp"]:
        print("usage: fake_server.py lsp", file=sys.stderr)
        return 2
    shutting_down = False
    while True:
        msg = read_message()
        if msg is None:
            return 1
        method = msg.get("method")
        log(method or "(response)")
        if method == "initialize":
            log(f"rootUri {msg['params'].get('rootUri')}")
        if "id" in msg and method:
            if method == "initialize":
                result = {
                    "capabilities": {"textDocumentSync": 1, "definitionProvider": True},
                    "serverInfo": {"name": "fake polc lsp", "version": "0"},
                }
            elif method == "shutdown":
                shutting_down = True
                result = None
            elif method == "textDocument/definition":
                result = definition(msg["params"])
            else:
                send({"id": msg["id"], "error": {"code": -32601, "message": f"{method}: not implemented"}})
                continue
            send({"id": msg["id"], "result": result})
        elif method == "textDocument/didOpen":
            doc = msg["params"]["textDocument"]
            docs[doc["uri"]] = doc["text"]
            publish(doc["uri"])
        elif method == "textDocument/didChange":
            uri = msg["params"]["textDocument"]["uri"]
            docs[uri] = msg["params"]["contentChanges"][-1]["text"]
            publish(uri)
        elif method == "exit":
            return 0 if shutting_down else 1


if __name__ == "__main__":
    sys.exit(main())
