//! Writing to standard output. A reader that goes away (`polc … | head`) is
//! a normal end, not a failure and not a success: polc stops writing and
//! exits with the status its findings give, computed independently of the
//! printing (docs/decisions.md, "A closed output pipe"). `println!` would
//! panic on the broken pipe, and exiting 0 there would tell a `pipefail`
//! shell that a policy with errors is clean.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reader closed the pipe: every later write is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// A write failed for another reason (disk full, I/O error): exit 2.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Standard output as a `Write` whose failure is already handled: a closed
/// pipe ends the output quietly, another error is reported once on stderr
/// and makes the run's status 2 (see [`final_status`]). Either way every
/// later write fails at once, which stops a streaming renderer; callers
/// ignore the error.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if closed() {
            return Err(gone());
        }
        if let Err(e) = std::io::stdout().lock().write_all(buf) {
            failed(&e);
            return Err(gone());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if closed() {
            return Err(gone());
        }
        if let Err(e) = std::io::stdout().lock().flush() {
            failed(&e);
            return Err(gone());
        }
        Ok(())
    }
}

/// The error every write returns once the output is gone, so a renderer
/// stops at its next write instead of rendering for nobody.
fn gone() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::BrokenPipe)
}

fn failed(e: &std::io::Error) {
    CLOSED.store(true, Ordering::SeqCst);
    if e.kind() != std::io::ErrorKind::BrokenPipe && !FAILED.swap(true, Ordering::SeqCst) {
        eprintln!("polc: cannot write output: {e}");
    }
}

/// Whether the output is gone (nothing more will be written).
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// The exit status of a run whose command computed `status`: unchanged,
/// also after the reader closed the pipe, but at least 2 when writing the
/// output failed for another reason.
pub fn final_status(status: u8) -> u8 {
    if FAILED.load(Ordering::SeqCst) {
        status.max(2)
    } else {
        status
    }
}

/// Write `text` to stdout (see [`Stdout`]).
pub fn print(text: &str) {
    let _ = Stdout.write_all(text.as_bytes());
    let _ = Stdout.flush();
}

/// `print` with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}
