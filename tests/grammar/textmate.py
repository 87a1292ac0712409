"""A small TextMate grammar tokenizer, for checking the Pol grammar in CI.

It implements the subset of TextMate that
editors/vscode/syntaxes/pol.tmLanguage.json uses, with the semantics of
vscode-textmate (the tokenizer of VS Code):

- a grammar has `scopeName`, `patterns` and a `repository`;
- a rule is `match` (+ `name`, `captures`), `begin`/`end` (+ `name`,
  `contentName`, `beginCaptures`, `endCaptures`, `captures`, `patterns`),
  `include` (`#name`, `$self`, `$base`) or a bare `patterns` group;
- each line is scanned from left to right with its "\\n" appended; at each
  position every candidate rule is searched from there, the match that
  starts first wins, ties go to the rule listed first, and the `end` of
  the enclosing `begin`/`end` region is a candidate listed before its
  `patterns`; text that no rule matched keeps the enclosing scopes;
- a `begin`/`end` region may span lines.

Anything outside that subset (`while`, `applyEndPatternLast`, nested
`repository`, captures with `patterns`, back-references in `end`, empty
`match`/`begin` matches, external grammars) is reported as an error rather than guessed
at. Regexes are compiled with Python's `re`; `portability_problems` lists
the constructs that Oniguruma (VS Code's regex engine) and Python read
differently or only one of them reads, so that a grammar accepted here is
tokenised by VS Code in the same way.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

GRAMMAR_KEYS = {"$schema", "name", "scopeName", "fileTypes", "patterns", "repository", "comment"}
RULE_KEYS = {
    "match",
    "name",
    "captures",
    "begin",
    "end",
    "beginCaptures",
    "endCaptures",
    "contentName",
    "patterns",
    "include",
    "comment",
}

# Escapes Oniguruma and Python both read the same way: escaped
# punctuation, \n \t \r \f, and \s \S.
_PORTABLE_LETTER_ESCAPES = set("ntrfsS")


class GrammarError(Exception):
    """The grammar is malformed or uses something outside the subset."""


def portability_problems(regex: str) -> list[str]:
    """Constructs in `regex` that Oniguruma and Python do not read alike
    (or that this subset keeps out: back-references, atomic groups,
    possessive quantifiers, inline flags, named groups, POSIX classes,
    Unicode-dependent classes such as \\d \\w \\b)."""
    problems = []
    i = 0
    in_class = False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            if i + 1 >= len(regex):
                problems.append("trailing backslash")
                break
            e = regex[i + 1]
            if e.isalpha() and e not in _PORTABLE_LETTER_ESCAPES:
                problems.append(f"escape \\{e} (not read alike by Oniguruma and Python; spell the class out)")
            elif e.isdigit():
                problems.append(f"back-reference or octal escape \\{e}")
            i += 2
            continue
        if in_class:
            if c == "[" and regex[i + 1 : i + 2] == ":":
                problems.append("POSIX bracket expression [[:...:]]")
            elif c == "[":
                problems.append("nested [ in a character class (Oniguruma reads it as a nested class)")
            elif c == "&" and regex[i + 1 : i + 2] == "&":
                problems.append("class intersection &&")
            elif c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            # `]` or `^]` right after `[` is a literal in Python, an error or
            # literal in Oniguruma depending on the version: keep it out.
            rest = regex[i + 1 :]
            if rest.startswith("]") or rest.startswith("^]"):
                problems.append("] first in a character class")
            if rest.startswith("^"):
                i += 1
            i += 1
            continue
        if c == "(" and regex[i + 1 : i + 2] == "?":
            head = regex[i + 2 : i + 4]
            if not (head[:1] in (":", "=", "!") or head in ("<=", "<!")):
                problems.append(f"group (?{head}... (only (?: (?= (?! (?<= (?<! are in the subset)")
        if c in "*+?}" and regex[i + 1 : i + 2] == "+":
            problems.append("possessive quantifier")
        i += 1
    if in_class:
        problems.append("unclosed character class")
    return problems


def _compile(regex: object, where: str, errors: list[str]) -> re.Pattern | None:
    if not isinstance(regex, str):
        errors.append(f"{where}: regex is not a string")
        return None
    for p in portability_problems(regex):
        errors.append(f"{where}: /{regex}/: {p}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(regex)
    except (re.error, FutureWarning, DeprecationWarning) as e:
        errors.append(f"{where}: /{regex}/ does not compile: {e}")
        return None


@dataclass
class Rule:
    where: str
    name: str | None = None
    content_name: str | None = None
    match: re.Pattern | None = None
    begin: re.Pattern | None = None
    end: re.Pattern | None = None
    captures: dict[int, str] = field(default_factory=dict)
    begin_captures: dict[int, str] = field(default_factory=dict)
    end_captures: dict[int, str] = field(default_factory=dict)
    include: str | None = None
    patterns: list["Rule"] = field(default_factory=list)
    flat: list["Rule"] | None = None  # the match/begin rules `patterns` stands for

    @property
    def is_group(self) -> bool:
        return self.match is None and self.begin is None and self.include is None


@dataclass
class Line:
    """One tokenised line: per character, its scopes (outermost first) and
    whether some rule matched it (`covered`); `text` has no newline."""

    number: int
    text: str
    scopes: list[tuple[str, ...]]
    covered: list[bool]

    def tokens(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """Runs of characters with the same scopes: (start, end, scopes)."""
        out: list[tuple[int, int, tuple[str, ...]]] = []
        for i, s in enumerate(self.scopes):
            if out and out[-1][2] == s and out[-1][1] == i:
                out[-1] = (out[-1][0], i + 1, s)
            else:
                out.append((i, i + 1, s))
        return out


@dataclass
class _Frame:
    rule: Rule | None  # None: the grammar's top level
    scopes: tuple[str, ...]  # scopes of the region's content
    outer: tuple[str, ...]  # scopes around the region (for its `end`)
    opaque: bool  # inside a string or comment region: unmatched text is content


class Grammar:
    def __init__(self, data: object):
        self.errors: list[str] = []
        self.used: set[str] = set()
        if not isinstance(data, dict):
            raise GrammarError("the grammar is not a JSON object")
        for k in data:
            if k not in GRAMMAR_KEYS:
                self.errors.append(f"grammar: unknown key `{k}`")
        self.scope_name = data.get("scopeName")
        if not isinstance(self.scope_name, str) or not self.scope_name:
            self.errors.append("grammar: no scopeName")
            self.scope_name = "source.unknown"
        self.suffix = "." + self.scope_name.split(".")[-1]
        repo = data.get("repository", {})
        if not isinstance(repo, dict):
            self.errors.append("grammar: repository is not an object")
            repo = {}
        self.repository: dict[str, Rule] = {}
        for key, raw in repo.items():
            self.repository[key] = self._rule(raw, f"repository.{key}")
        if not isinstance(data.get("patterns"), list):
            self.errors.append("grammar: no top-level patterns")
        self.root = self._rule({"patterns": data.get("patterns", [])}, "patterns")
        # Flatten the top level and every region reachable from it; then
        # every repository entry must have been included somewhere.
        todo, done = [self.root], set()
        while todo:
            r = todo.pop()
            if id(r) in done:
                continue
            done.add(id(r))
            r.flat = self._flatten(r, {id(r)})
            todo.extend(t for t in r.flat if t.begin is not None)
        for key in self.repository:
            if key not in self.used:
                self.errors.append(f"repository.{key}: never included")
        if self.errors:
            raise GrammarError("\n".join(self.errors))

    # ----------------------------------------------------------- building

    def _scope(self, value: object, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", value):
            self.errors.append(f"{where}: bad scope name {value!r}")
            return None
        if not value.endswith(self.suffix):
            self.errors.append(f"{where}: scope {value} does not end with {self.suffix}")
        return value

    def _captures(self, raw: object, where: str) -> dict[int, str]:
        out: dict[int, str] = {}
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.errors.append(f"{where}: not an object")
            return out
        for k, v in raw.items():
            if not k.isdigit():
                self.errors.append(f"{where}: capture key {k!r} is not a group number")
                continue
            if not isinstance(v, dict) or set(v) - {"name", "comment"}:
                self.errors.append(f"{where}.{k}: only `name` is supported in a capture")
                continue
            s = self._scope(v.get("name"), f"{where}.{k}")
            if s:
                out[int(k)] = s
        return out

    def _rule(self, raw: object, where: str) -> Rule:
        r = Rule(where=where)
        if not isinstance(raw, dict):
            self.errors.append(f"{where}: rule is not an object")
            return r
        for k in raw:
            if k not in RULE_KEYS:
                self.errors.append(f"{where}: unsupported key `{k}`")
        kinds = [k for k in ("match", "begin", "include") if k in raw]
        if len(kinds) > 1:
            self.errors.append(f"{where}: has both {' and '.join(kinds)}")
        if "end" in raw and "begin" not in raw:
            self.errors.append(f"{where}: `end` without `begin`")
        if not kinds and "patterns" not in raw:
            self.errors.append(f"{where}: none of match, begin, include, patterns")
        r.name = self._scope(raw.get("name"), f"{where}.name")
        r.content_name = self._scope(raw.get("contentName"), f"{where}.contentName")
        if "match" in raw:
            r.match = _compile(raw["match"], f"{where}.match", self.errors)
            r.captures = self._captures(raw.get("captures"), f"{where}.captures")
            for k in ("beginCaptures", "endCaptures", "contentName", "patterns"):
                if k in raw:
                    self.errors.append(f"{where}: `{k}` in a match rule")
        elif "begin" in raw:
            r.begin = _compile(raw["begin"], f"{where}.begin", self.errors)
            if "end" not in raw:
                self.errors.append(f"{where}: `begin` without `end`")
            else:
                r.end = _compile(raw["end"], f"{where}.end", self.errors)
            both = self._captures(raw.get("captures"), f"{where}.captures")
            r.begin_captures = self._captures(raw.get("beginCaptures"), f"{where}.beginCaptures") or both
            r.end_captures = self._captures(raw.get("endCaptures"), f"{where}.endCaptures") or both
        elif "include" in raw:
            inc = raw["include"]
            if not isinstance(inc, str) or not (inc.startswith("#") or inc in ("$self", "$base")):
                self.errors.append(f"{where}: include {inc!r}: only #name, $self and $base are supported")
            else:
                r.include = inc
        pats = raw.get("patterns", [])
        if not isinstance(pats, list):
            self.errors.append(f"{where}.patterns: not a list")
            pats = []
        if "include" in raw and "patterns" in raw:
            self.errors.append(f"{where}: `patterns` beside `include`")
        r.patterns = [self._rule(p, f"{where}.patterns[{i}]") for i, p in enumerate(pats)]
        return r

    def _resolve(self, rule: Rule) -> Rule | None:
        inc = rule.include
        if inc in ("$self", "$base"):
            return self.root
        assert inc is not None
        target = self.repository.get(inc[1:])
        if target is None:
            self.errors.append(f"{rule.where}: include {inc} does not resolve")
            return None
        self.used.add(inc[1:])
        return target

    def _flatten(self, rule: Rule, groups: set[int]) -> list[Rule]:
        """The match/begin rules that `rule.patterns` stands for, in order
        (includes resolved, groups spliced in)."""
        out: list[Rule] = []
        for p in rule.patterns:
            target: Rule | None = p
            hops = 0
            while target is not None and target.include is not None:
                hops += 1
                if hops > 100:
                    self.errors.append(f"{p.where}: include loop")
                    target = None
                    break
                target = self._resolve(target)
            if target is None:
                continue
            if target.is_group:
                if id(target) not in groups:  # a group inside itself adds nothing
                    out.extend(self._flatten(target, groups | {id(target)}))
            else:
                out.append(target)
        return out

    # ---------------------------------------------------------- tokenising

    def tokenize(self, text: str) -> list[Line]:
        """Tokenise `text` line by line, carrying open regions across lines."""
        stack = [_Frame(None, (self.scope_name,), (self.scope_name,), False)]
        lines = []
        raw_lines = text.split("\n")
        if raw_lines and raw_lines[-1] == "":
            raw_lines.pop()
        for n, raw in enumerate(raw_lines, start=1):
            lines.append(self._line(n, raw, stack))
        return lines

    def _line(self, number: int, raw: str, stack: list[_Frame]) -> Line:
        text = raw + "\n"
        scopes: list[tuple[str, ...]] = [()] * len(text)
        covered = [False] * len(text)
        pos = 0

        def paint(s: int, e: int, base: tuple[str, ...], cov: bool) -> None:
            for i in range(s, e):
                scopes[i] = base
                covered[i] = cov

        def paint_captures(m: re.Match, caps: dict[int, str]) -> None:
            for g in sorted(caps):
                if g > (m.re.groups or 0):
                    raise GrammarError(f"capture {g} of /{m.re.pattern}/: no such group")
                s, e = m.span(g)
                for i in range(max(s, 0), max(e, 0)):
                    scopes[i] = scopes[i] + (caps[g],)

        while pos <= len(text):
            frame = stack[-1]
            candidates: list[tuple[Rule, re.Pattern, bool]] = []
            if frame.rule is not None:
                assert frame.rule.end is not None
                candidates.append((frame.rule, frame.rule.end, True))
            rules = frame.rule.flat if frame.rule is not None else self.root.flat
            for r in rules or []:
                rx = r.match if r.match is not None else r.begin
                assert rx is not None
                candidates.append((r, rx, False))
            best: tuple[re.Match, Rule, bool] | None = None
            for r, rx, is_end in candidates:
                m = rx.search(text, pos)
                if m and (best is None or m.start() < best[0].start()):
                    best = (m, r, is_end)
            if best is None:
                paint(pos, len(text), frame.scopes, frame.opaque)
                break
            m, r, is_end = best
            paint(pos, m.start(), frame.scopes, frame.opaque)
            if m.end() == m.start() and not is_end:
                # An empty `end` (`$`) closes its region, which always makes
                # progress; an empty match or begin would loop.
                raise GrammarError(f"{r.where}: matched the empty string at {number}:{pos + 1} (not supported)")
            if is_end:
                paint(m.start(), m.end(), frame.outer + ((r.name,) if r.name else ()), True)
                paint_captures(m, r.end_captures)
                stack.pop()
            elif r.match is not None:
                paint(m.start(), m.end(), frame.scopes + ((r.name,) if r.name else ()), True)
                paint_captures(m, r.captures)
            else:
                outer = frame.scopes + ((r.name,) if r.name else ())
                paint(m.start(), m.end(), outer, True)
                paint_captures(m, r.begin_captures)
                inner = outer + ((r.content_name,) if r.content_name else ())
                opaque = frame.opaque or any(
                    s is not None and (s.startswith("string.") or s.startswith("comment."))
                    for s in (r.name, r.content_name)
                )
                stack.append(_Frame(r, inner, frame.scopes, opaque))
            pos = m.end()
        return Line(number, raw, scopes[: len(raw)], covered[: len(raw)])


def load(data: object) -> Grammar:
    """Build a Grammar from parsed JSON; raises GrammarError."""
    return Grammar(data)
