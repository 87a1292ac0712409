// extension.js against stand-ins for `vscode` and `vscode-languageclient`
// (neither is installed for this test): activation starts `polc lsp` over
// stdio with `polc.path`, for the `pol` language, and a change of
// `polc.path` restarts it with the new command. Needs only Node.js:
//   node editors/vscode/test/activate.test.js
"use strict";

const assert = require("assert");
const Module = require("module");
const path = require("path");
const test = require("node:test");

const state = { settings: { path: "polc" }, clients: [], configListeners: [], commands: {}, errors: [] };

const vscodeStub = {
  workspace: {
    getConfiguration(section) {
      assert.strictEqual(section, "polc");
      return { get: (key) => state.settings[key] };
    },
    workspaceFolders: [{ uri: { fsPath: "/work/policies" } }],
    createFileSystemWatcher: (glob) => ({ glob }),
    onDidChangeConfiguration(listener) {
      state.configListeners.push(listener);
      return { dispose() {} };
    },
  },
  window: {
    showErrorMessage: (msg) => state.errors.push(msg),
  },
  commands: {
    registerCommand(name, fn) {
      state.commands[name] = fn;
      return { dispose() {} };
    },
  },
};

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, started: false, stopped: false });
    state.clients.push(this);
  }
  async start() {
    if (this.serverOptions.command === "/missing/polc") {
      throw new Error("spawn /missing/polc ENOENT");
    }
    this.started = true;
  }
  async stop() {
    this.stopped = true;
  }
}

const clientStub = { LanguageClient, TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 } };

const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") return vscodeStub;
  if (request === "vscode-languageclient/node") return clientStub;
  return originalLoad.call(this, request, parent, isMain);
};

const extension = require(path.join(__dirname, "..", "extension.js"));
const pkg = require(path.join(__dirname, "..", "package.json"));

test("package.json declares what extension.js uses", () => {
  assert.deepStrictEqual(pkg.activationEvents, ["onLanguage:pol"]);
  assert.strictEqual(pkg.main, "./extension.js");
  assert.strictEqual(pkg.contributes.configuration.properties["polc.path"].default, "polc");
  assert.ok(pkg.contributes.commands.some((c) => c.command === "polc.restartServer"));
  assert.ok(pkg.dependencies["vscode-languageclient"]);
});

test("activation starts `polc lsp` over stdio for pol documents", async () => {
  const subscriptions = [];
  await extension.activate({ subscriptions });
  assert.strictEqual(state.clients.length, 1);
  const c = state.clients[0];
  assert.strictEqual(c.id, "polc");
  assert.deepStrictEqual(c.serverOptions, { command: "polc", args: ["lsp"], transport: 0 });
  assert.deepStrictEqual(
    c.clientOptions.documentSelector.map((s) => s.language),
    ["pol", "pol"]
  );
  assert.strictEqual(c.clientOptions.synchronize.fileEvents.glob, "**/*.pol");
  assert.ok(c.started);
  assert.strictEqual(subscriptions.length, 2);
});

test("changing polc.path restarts the server with the new command", async () => {
  state.settings.path = "./bin/polc";
  for (const l of state.configListeners) {
    await l({ affectsConfiguration: (s) => s === "polc.path" });
  }
  assert.strictEqual(state.clients.length, 2);
  assert.ok(state.clients[0].stopped);
  assert.strictEqual(state.clients[1].serverOptions.command, "/work/policies/bin/polc");
  assert.ok(state.clients[1].started);
});

test("another setting does not restart the server", async () => {
  for (const l of state.configListeners) {
    await l({ affectsConfiguration: (s) => s === "editor.tabSize" });
  }
  assert.strictEqual(state.clients.length, 2);
});

test("a polc that cannot start is an error message, not an exception", async () => {
  state.settings.path = "/missing/polc";
  await state.commands["polc.restartServer"]();
  assert.strictEqual(state.clients.length, 3);
  assert.strictEqual(state.errors.length, 1);
  assert.match(state.errors[0], /\/missing\/polc lsp.*ENOENT.*polc\.path/);
});

test("deactivate stops the client", async () => {
  state.settings.path = "polc";
  await state.commands["polc.restartServer"]();
  const last = state.clients[state.clients.length - 1];
  await extension.deactivate();
  assert.ok(last.stopped);
});
