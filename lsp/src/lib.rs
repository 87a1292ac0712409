//! pol-lsp: the Pol language server (`polc lsp`), over stdio.
//!
//! What it offers (docs/editors.md): diagnostics from the front end as you
//! type and the verifier's findings on open and save (with the witness
//! packet and related locations); go to definition and find references of
//! every named item across imports; hover with what a name resolves to (a
//! network's normalised intervals per family, a service's ports, a group's
//! cgroup paths and selectors, a tunnel's link and routes); document
//! symbols; formatting (`polc fmt`'s printer); quick fixes for the edits
//! diagnostics name in their `help:` line.
//!
//! Built on lsp-server's message types and lsp-types' protocol types:
//! synchronous (no async runtime), as rust-analyzer and ruff are; the
//! transport is our own so that a malformed message is answered, not fatal
//! (`transport`).

pub mod convert;
pub mod server;
pub mod text;
pub mod transport;
pub mod uri;
pub mod worker;

/// Serve on stdin/stdout until `exit`; the process exit status (0 after
/// `shutdown` then `exit`, 1 otherwise, as the protocol asks).
pub fn run_stdio(verifier: pol_verifier::Options) -> i32 {
    let (input, output, writer) = transport::stdio();
    let (jobs, done) = worker::start(verifier);
    let server = server::Server::new(output, jobs);
    let exit = server.run(&input, &done);
    // The server (and every sender) is gone: the writer ends once it has
    // written what is queued.
    let _ = writer.join();
    match exit {
        server::Exit::Clean => 0,
        server::Exit::Unclean => 1,
    }
}
