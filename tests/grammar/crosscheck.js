// Compare tests/grammar/textmate.py with vscode-textmate, VS Code's own
// tokenizer (Oniguruma regexes): every character of every .pol file must get
// the same scopes from both. Not part of CI (it needs two npm packages); run
// it after changing the grammar or textmate.py:
//
//   npm install --prefix /tmp/vstm vscode-textmate@9 vscode-oniguruma@2
//   python3 tests/grammar/check.py --dump > /tmp/pol-tokens.json
//   NODE_PATH=/tmp/vstm/node_modules node tests/grammar/crosscheck.js /tmp/pol-tokens.json
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "..", "editors", "vscode", "syntaxes", "pol.tmLanguage.json");

async function main() {
  const dump = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR),
  });
  const grammar = await registry.loadGrammar("source.pol");
  let files = 0;
  let chars = 0;
  let diffs = 0;
  for (const [label, item] of Object.entries(dump)) {
    files++;
    const lines = item.text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    let state = vsctm.INITIAL;
    lines.forEach((line, n) => {
      const r = grammar.tokenizeLine(line, state);
      state = r.ruleStack;
      const theirs = new Array(line.length);
      for (const t of r.tokens) {
        for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) theirs[i] = t.scopes.join(" ");
      }
      const ours = new Array(line.length);
      for (const [s, e, scopes] of item.lines[n]) {
        for (let i = s; i < e; i++) ours[i] = scopes.join(" ");
      }
      for (let i = 0; i < line.length; i++) {
        chars++;
        if (ours[i] !== theirs[i]) {
          diffs++;
          if (diffs <= 20) {
            console.log(`${label} line ${n + 1} col ${i + 1} ${JSON.stringify(line[i])}:\n  textmate.py:     ${ours[i]}\n  vscode-textmate: ${theirs[i]}`);
          }
        }
      }
    });
  }
  console.log(`${files} files, ${chars} characters: ${diffs} with other scopes in vscode-textmate`);
  process.exit(diffs === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
