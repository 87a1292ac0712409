// The Pol extension: the grammar and language configuration are declared in
// package.json; this file starts the language server, `polc lsp`, over stdio
// for every .pol file and restarts it when `polc.path` changes.
"use strict";

const path = require("path");
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

/** The polc command: `polc.path` as set ("polc" by default); `~/` is the
 * home directory, and a relative path with a slash is taken from the
 * first workspace folder. A bare name is looked up on PATH. */
function polcCommand() {
  const configured = vscode.workspace.getConfiguration("polc").get("path") || "polc";
  let command = configured.trim();
  if (command.startsWith("~/")) {
    command = path.join(require("os").homedir(), command.slice(2));
  }
  const folders = vscode.workspace.workspaceFolders;
  if (!path.isAbsolute(command) && command.includes("/") && folders && folders.length > 0) {
    command = path.join(folders[0].uri.fsPath, command);
  }
  return command;
}

function createClient() {
  const command = polcCommand();
  const serverOptions = {
    command,
    args: ["lsp"],
    transport: TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "pol" },
      { scheme: "untitled", language: "pol" },
    ],
    synchronize: {
      // Imports: a change to any .pol file may change another file's findings.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.pol"),
    },
  };
  return new LanguageClient("polc", "polc", serverOptions, clientOptions);
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (err) {
    const command = polcCommand();
    vscode.window.showErrorMessage(
      `Could not start the Pol language server (\`${command} lsp\`): ${err && err.message ? err.message : err}. ` +
        "Install polc or set `polc.path`."
    );
  }
}

async function stop() {
  if (client) {
    const old = client;
    client = undefined;
    try {
      await old.stop();
    } catch (_) {
      // already stopped (the server exited or never started)
    }
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("polc.restartServer", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("polc.path")) {
        await stop();
        await start();
      }
    })
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate, polcCommand };
