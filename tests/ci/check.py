#!/usr/bin/env python3
"""The CI integration files of issue 15, checked without GitHub:

    python3 tests/ci/check.py --polc target/debug/polc

1. action.yml: a composite action whose every `run` step has a shell and no
   `${{ }}` inside its script (inputs reach scripts through `env:`, never
   pasted into them); every `inputs.X` names a declared input; every
   `steps.ID.outputs.Y` names an earlier step that writes Y; `uses:` steps
   are pinned to a major version or a commit; shellcheck (when installed)
   passes on every script.
2. action.yml's steps run here as the runner would run them (bash
   --noprofile --norc -eo pipefail, GITHUB_OUTPUT, GITHUB_ACTION_PATH, the
   step's env with its expressions evaluated; `uses:` steps skipped), with
   the `polc` input set to the given binary, on a scratch directory of
   policies: annotations and the exit status for an error, SARIF written
   whatever the findings, --deny-warnings, bad inputs, the cache key.
3. .pre-commit-hooks.yaml: the hooks docs/ci.md names, each on `\\.pol$`.
4. docs/ci.md: every ```yaml example parses; the workflow passes the action
   only inputs it declares; the pre-commit examples name existing hooks.

Prints one `ok` line per part and `ci files check passed`; exits 1 on any
failure. YAML is read with PyYAML: when the running python3 has none, the
check runs again under /usr/bin/python3 (Debian's python3-yaml, which
scripts/setup installs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    system = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(system) and os.path.exists(system) and not os.environ.get("POLC_CI_CHECK_REEXEC"):
        os.environ["POLC_CI_CHECK_REEXEC"] = "1"
        os.execv(system, [system, *sys.argv])
    sys.exit("tests/ci/check.py: needs PyYAML (Debian: apt-get install python3-yaml; scripts/setup installs it)")

REPO = Path(__file__).resolve().parents[2]
failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL {msg}")


EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
REF_INPUT = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")
REF_STEP = re.compile(r"\bsteps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")
KNOWN_USES_OUTPUTS = {"actions/cache": {"cache-hit", "cache-primary-key", "cache-matched-key"}}


def load_action() -> dict:
    return yaml.safe_load((REPO / "action.yml").read_text())


def strings(node, path=""):
    """Every string in a YAML tree, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def check_action_structure(action: dict) -> None:
    problems = []
    for key in ("name", "description", "inputs", "outputs", "runs"):
        if key not in action:
            problems.append(f"no `{key}`")
    runs = action.get("runs", {})
    if runs.get("using") != "composite":
        problems.append(f"runs.using is {runs.get('using')!r}, not composite")
    inputs = action.get("inputs", {})
    for name, spec in inputs.items():
        if not isinstance(spec, dict) or "description" not in spec:
            problems.append(f"input {name}: no description")
        elif not isinstance(spec.get("default", ""), str):
            problems.append(f"input {name}: default {spec.get('default')!r} is not a string")
    for name in ("paths", "format", "deny-warnings", "sarif-file", "version", "polc"):
        if name not in inputs:
            problems.append(f"no input `{name}`")
    steps = runs.get("steps", [])
    ids: dict[str, dict] = {}
    order: dict[str, int] = {}
    for i, step in enumerate(steps):
        where = f"step {i + 1} ({step.get('name', step.get('id', '?'))})"
        if ("run" in step) == ("uses" in step):
            problems.append(f"{where}: needs exactly one of run and uses")
        if "run" in step:
            if step.get("shell") != "bash":
                problems.append(f"{where}: shell is {step.get('shell')!r}, not bash")
            if "${{" in step["run"]:
                problems.append(f"{where}: `${{{{ }}}}` inside the script (pass it through env:)")
        if "uses" in step and not re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]):
            problems.append(f"{where}: uses {step['uses']} is not pinned to vN or a commit")
        if "id" in step:
            ids[step["id"]] = step
            order[step["id"]] = i
    for path, text in strings(action):
        for expr in EXPR.findall(text):
            for name in REF_INPUT.findall(expr):
                if name not in inputs:
                    problems.append(f"{path}: inputs.{name} is not declared")
            for sid, out in REF_STEP.findall(expr):
                step = ids.get(sid)
                if step is None:
                    problems.append(f"{path}: no step with id {sid}")
                    continue
                m = re.match(r"runs\.steps\[(\d+)\]", path)
                if m and order[sid] >= int(m.group(1)):
                    problems.append(f"{path}: step {sid} does not run before")
                if "run" in step and not re.search(rf"(^|[\s\"']){re.escape(out)}=", step["run"], re.M):
                    problems.append(f"{path}: step {sid} never writes output {out}")
                if "uses" in step and out not in KNOWN_USES_OUTPUTS.get(step["uses"].split("@")[0], set()):
                    problems.append(f"{path}: {step['uses']} has no output {out}")
    for p in problems:
        fail(f"action.yml: {p}")
    if not problems:
        print(f"ok   action.yml: composite, {len(inputs)} inputs, {len(steps)} steps, every expression resolves, no expression inside a script")


def check_action_shellcheck(action: dict) -> None:
    sc = shutil.which("shellcheck")
    if not sc:
        print("skip action.yml shellcheck: no shellcheck on PATH")
        return
    bad = 0
    n = 0
    for i, step in enumerate(action["runs"]["steps"]):
        if "run" not in step:
            continue
        n += 1
        # What the runner executes, with the variables it provides declared.
        script = "#!/bin/bash\n" + step["run"]
        out = subprocess.run(
            [sc, "-s", "bash", "-e", "SC2154", "-"], input=script, capture_output=True, text=True
        )
        if out.returncode != 0:
            bad += 1
            fail(f"action.yml step {i + 1} ({step.get('name')}): shellcheck:\n{out.stdout}{out.stderr}")
    if not bad:
        print(f"ok   action.yml shellcheck: {n} scripts")


class Runner:
    """Runs action.yml's `run` steps as the GitHub runner would."""

    def __init__(self, action: dict, inputs: dict[str, str], workspace: Path, tmp: Path):
        self.action = action
        self.inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
        for k, v in inputs.items():
            if k not in self.inputs:
                raise SystemExit(f"test input {k} is not an input of action.yml")
            self.inputs[k] = v
        self.outputs: dict[str, dict[str, str]] = {}
        (tmp / "github-path").write_text("")
        self.workspace = workspace
        self.tmp = tmp
        self.log: list[str] = []

    def expr(self, text: str) -> str:
        def one(m: re.Match) -> str:
            e = m.group(1).strip()
            if m2 := re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", e):
                return self.inputs[m2.group(1)]
            if m2 := re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", e):
                return self.outputs.get(m2.group(1), {}).get(m2.group(2), "")
            raise SystemExit(f"cannot evaluate ${{{{ {e} }}}} here")

        return EXPR.sub(one, text)

    def run(self, until: str | None = None) -> tuple[int, str]:
        """Run the steps (up to and including id `until`); returns the exit
        status and output of the last step run."""
        status, out = 0, ""
        for step in self.action["runs"]["steps"]:
            if "uses" in step:
                continue
            gh_out = self.tmp / f"output-{len(self.log)}"
            gh_out.write_text("")
            env = {
                "PATH": os.environ["PATH"],
                "HOME": os.environ.get("HOME", "/root"),
                "GITHUB_OUTPUT": str(gh_out),
                "GITHUB_PATH": str(self.tmp / "github-path"),
                "GITHUB_ACTION_PATH": str(REPO),
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_SERVER_URL": "https://github.invalid",
                "RUNNER_TEMP": str(self.tmp),
                "RUNNER_TOOL_CACHE": str(self.tmp / "toolcache"),
                "RUNNER_OS": "Linux",
                "RUNNER_ARCH": "X64",
                "NO_COLOR": "1",
            }
            env.update({k: self.expr(str(v)) for k, v in step.get("env", {}).items()})
            cwd = self.workspace / self.expr(step.get("working-directory", "."))
            script = self.tmp / "step.sh"
            script.write_text(step["run"])
            p = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
            )
            status, out = p.returncode, p.stdout + p.stderr
            self.log.append(f"-- {step.get('name')}: exit {status}\n{out}")
            outs = {}
            for line in gh_out.read_text().splitlines():
                k, _, v = line.partition("=")
                outs[k] = v
            if "id" in step:
                self.outputs[step["id"]] = outs
            if status != 0 or (until is not None and step.get("id") == until):
                break
        return status, out


def check_action_runs(action: dict, polc: str) -> None:
    if not re.search(r"\bapt-get install\b", json.dumps(action)):
        fail("action.yml: no apt-get install step")
    # The dependency step apt-gets what is missing: run it only where that
    # cannot prompt or fail for want of root.
    deps = next(s for s in action["runs"]["steps"] if "libz3-dev" in s.get("run", ""))
    have_deps = all(
        subprocess.run(["dpkg", "-s", p], capture_output=True).returncode == 0
        for p in ("libz3-dev", "clang", "libclang-dev", "pkg-config")
    ) if shutil.which("dpkg") else False
    if not have_deps and os.geteuid() != 0:
        action = {**action, "runs": {**action["runs"], "steps": [s for s in action["runs"]["steps"] if s is not deps]}}
        print("skip action.yml dependency step: packages missing and not root")
    n = 0
    with tempfile.TemporaryDirectory(prefix="polc-action-") as d:
        tmp = Path(d)
        ws = tmp / "workspace"
        (ws / "policies").mkdir(parents=True)
        (ws / "policies" / "bad.pol").write_text(
            "policy egress {\n    hook output\n    default drop\n    allow to 192.0.2.0/24 tcp 443\n    drop to 192.0.2.1 tcp 443\n}\n"
        )
        (ws / "warn").mkdir()
        (ws / "warn" / "warn.pol").write_text(
            "policy egress {\n    hook output\n    default drop\n    allow to 192.0.2.0/24 tcp 80\n    allow to 192.0.2.1 tcp 80\n}\n"
        )
        (ws / "clean.pol").write_text("policy egress {\n    hook output\n    default drop\n    allow to 192.0.2.0/24 tcp 80\n}\n")

        def case(what: str, inputs: dict[str, str], want_status: int, checks) -> None:
            nonlocal n
            n += 1
            r = Runner(action, {"polc": polc, **inputs}, ws, tmp)
            status, out = r.run()
            problems = [] if status == want_status else [f"exit {status}, want {want_status}"]
            problems += [p for p in checks(r, out) if p]
            for p in problems:
                fail(f"action.yml, {what}: {p}\n" + "\n".join(r.log))

        def has(text: str, needle: str) -> str | None:
            return None if needle in text else f"no {needle!r} in the output"

        def sarif_ok(path: Path, rule: str | None) -> str | None:
            if not path.is_file():
                return f"{path} not written"
            s = json.loads(path.read_text())
            if s.get("version") != "2.1.0":
                return f"SARIF version {s.get('version')!r}"
            rules = [r.get("ruleId") for r in s["runs"][0]["results"]]
            if rule and rule not in rules:
                return f"SARIF results {rules}, no {rule}"
            if not rule and rules:
                return f"SARIF results {rules}, want none"
            return None

        case(
            "an error, annotations and SARIF",
            {"paths": "policies", "sarif-file": "out/polc.sarif"},
            1,
            lambda r, out: [
                has(out, "::error file=policies/bad.pol,line=5,col=5,"),
                has(out, "title=P0301 shadowed::rule never matches"),
                sarif_ok(ws / "out" / "polc.sarif", "P0301"),
                None if r.outputs["check"].get("exit-code") == "1" else f"exit-code output {r.outputs['check']}",
                None if r.outputs["install"].get("polc") == os.path.realpath(polc) else f"polc output {r.outputs['install']}",
                None if r.outputs["source"].get("prebuilt") == "true" else f"source outputs {r.outputs['source']}",
                None if os.path.dirname(os.path.realpath(polc)) in (tmp / "github-path").read_text().splitlines()
                else f"GITHUB_PATH has {(tmp / 'github-path').read_text()!r}",
            ],
        )
        case(
            "a warning passes without deny-warnings",
            {"paths": "warn clean.pol", "format": "human", "sarif-file": "warn.sarif"},
            0,
            lambda r, out: [has(out, "warning[P0302/redundant]"), sarif_ok(ws / "warn.sarif", "P0302")],
        )
        case(
            "a warning fails with deny-warnings",
            {"paths": "warn\nclean.pol\n", "deny-warnings": "true"},
            1,
            lambda r, out: [has(out, "::warning file=warn/warn.pol,line=5")],
        )
        case(
            "working-directory and root",
            {"paths": "warn.pol", "working-directory": "warn", "root": ".", "format": "json"},
            0,
            lambda r, out: [has(out, '"code": "P0302"')],
        )
        case("clean", {"paths": "clean.pol", "sarif-file": "clean.sarif"}, 0, lambda r, out: [sarif_ok(ws / "clean.sarif", None)])
        case("format sarif is refused", {"format": "sarif"}, 2, lambda r, out: [has(out, "::error::format must be github, human or json")])
        case("a bad deny-warnings", {"deny-warnings": "yes"}, 2, lambda r, out: [has(out, "::error::deny-warnings must be true or false")])
        case("a missing polc", {"polc": str(tmp / "no-such-polc")}, 2, lambda r, out: [has(out, "::error::polc input:")])

        # Without a prebuilt polc: the source step names this repository and
        # a cache key (the build itself, cargo install, is not run here).
        n += 1
        r = Runner(action, {}, ws, tmp)
        status, out = r.run(until="source")
        src = r.outputs.get("source", {})
        if status != 0 or src.get("dir") != str(REPO) or not re.fullmatch(r"polc-Linux-X64-[0-9a-f]{32}", src.get("key", "")) \
                or src.get("bin") != f"{tmp}/toolcache/polc/{src.get('key', '')[len('polc-Linux-X64-'):]}/bin":
            fail(f"action.yml, source step: exit {status}, outputs {src}\n{out}")
        n += 1
        r = Runner(action, {"version": "v9"}, ws, tmp)
        status, out = r.run(until="source")
        if status != 2 or "::error::version is set: set repository too" not in out:
            fail(f"action.yml, version without a repository outside _actions/: exit {status}\n{out}")
    if not any(f.startswith("action.yml,") for f in failures):
        print(f"ok   action.yml steps: {n} runs with {polc} (annotations, SARIF, deny-warnings, root, bad inputs, cache key)")


def self_tests(action: dict) -> None:
    """Broken copies of action.yml must fail the structure check."""
    import copy

    global failures
    steps = lambda a: a["runs"]["steps"]  # noqa: E731
    cases = [
        ("an undeclared input", lambda a: steps(a)[-1]["env"].update(X="${{ inputs.nope }}"), "inputs.nope is not declared"),
        ("an expression in a script", lambda a: steps(a)[0].update(run=steps(a)[0]["run"] + "\necho ${{ inputs.paths }}\n"), "inside the script"),
        ("an output nobody writes", lambda a: steps(a)[-1]["env"].update(X="${{ steps.source.outputs.nothing }}"), "never writes output nothing"),
        ("a step used before it runs", lambda a: steps(a)[0]["env"].update(X="${{ steps.check.outputs.exit-code }}"), "does not run before"),
        ("a run step without shell", lambda a: steps(a)[0].pop("shell"), "shell is None"),
        ("an unpinned action", lambda a: steps(a)[2].update(uses="actions/cache@main"), "not pinned"),
    ]
    ok = 0
    for what, edit, needle in cases:
        broken = copy.deepcopy(action)
        edit(broken)
        saved, failures = failures, []
        with open(os.devnull, "w") as devnull:
            stdout, sys.stdout = sys.stdout, devnull
            try:
                check_action_structure(broken)
            finally:
                sys.stdout = stdout
        got, failures = failures, saved
        if any(needle in g for g in got):
            ok += 1
        else:
            fail(f"self-test {what}: no failure mentioning {needle!r} (got {got})")
    if ok == len(cases):
        print(f"ok   self-tests: {len(cases)} broken copies of action.yml fail the structure check")


def check_hooks() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    problems = []
    ids = [h.get("id") for h in hooks]
    if ids != ["polc-check", "polc-fmt", "polc-check-build", "polc-fmt-build"]:
        problems.append(f"hook ids {ids}")
    for h in hooks:
        if h.get("files") != r"\.pol$":
            problems.append(f"{h.get('id')}: files {h.get('files')!r}")
        want_lang = "rust" if h["id"].endswith("-build") else "system"
        if h.get("language") != want_lang:
            problems.append(f"{h['id']}: language {h.get('language')!r}, want {want_lang}")
        want_entry = "polc check" if "check" in h["id"] else "polc fmt"
        if h.get("entry") != want_entry:
            problems.append(f"{h['id']}: entry {h.get('entry')!r}")
        if "fmt" in h["id"] and h.get("args") != ["--check"]:
            problems.append(f"{h['id']}: args {h.get('args')!r}, want ['--check']")
    docs = (REPO / "docs" / "ci.md").read_text() if (REPO / "docs" / "ci.md").exists() else ""
    for i in ("polc-check", "polc-fmt"):
        if f"id: {i}" not in docs:
            problems.append(f"docs/ci.md does not show `id: {i}`")
    for p in problems:
        fail(f".pre-commit-hooks.yaml: {p}")
    if not problems:
        print(f"ok   .pre-commit-hooks.yaml: {', '.join(ids)} (pre-commit itself: tests/precommit/run.sh)")


def yaml_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line, text) of each ```yaml block of a Markdown file."""
    lines = path.read_text().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```yaml":
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            out.append((i + 2, "\n".join(lines[i + 1 : j]) + "\n"))
            i = j
        i += 1
    return out


def check_docs(action: dict) -> None:
    """docs/ci.md's YAML parses; its workflow gives the action only inputs
    it has; its pre-commit configurations name only hooks that exist."""
    path = REPO / "docs" / "ci.md"
    hook_ids = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    problems = []
    kinds = []
    for line, text in yaml_blocks(path):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problems.append(f"line {line}: not YAML: {e}")
            continue
        if isinstance(doc, dict) and "repos" in doc:
            kinds.append("pre-commit")
            for repo in doc["repos"]:
                for h in repo.get("hooks", []):
                    if repo["repo"] != "local" and h["id"] not in hook_ids:
                        problems.append(f"line {line}: hook {h['id']} is not in .pre-commit-hooks.yaml")
        elif isinstance(doc, dict) and "jobs" in doc:
            kinds.append("github")
            uses = [st for job in doc["jobs"].values() for st in job.get("steps", []) if "OWNER/polc@" in st.get("uses", "")]
            if not uses:
                problems.append(f"line {line}: the workflow does not use the action")
            for st in uses:
                for k in st.get("with", {}):
                    if k not in action["inputs"]:
                        problems.append(f"line {line}: the workflow sets `{k}`, not an input of action.yml")
        elif isinstance(doc, dict) and any(isinstance(v, dict) and "script" in v for v in doc.values()):
            kinds.append("gitlab")
    for want in ("pre-commit", "github", "gitlab"):
        if want not in kinds:
            problems.append(f"no {want} example")
    for p in problems:
        fail(f"docs/ci.md: {p}")
    if not problems:
        print(f"ok   docs/ci.md: {len(kinds)} YAML examples parse ({', '.join(kinds)}); inputs and hook ids exist")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--polc", default=os.environ.get("POLC"), help="polc binary for the action's steps")
    args = ap.parse_args()
    action = load_action()
    check_action_structure(action)
    self_tests(action)
    check_action_shellcheck(action)
    if args.polc:
        check_action_runs(action, args.polc)
    else:
        print("skip action.yml steps: needs --polc")
    check_hooks()
    check_docs(action)
    if failures:
        print(f"ci files check FAILED: {len(failures)} problem(s)")
        return 1
    print("ci files check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
