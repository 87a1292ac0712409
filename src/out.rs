//! Writing to standard output. A reader that goes away (`polc … | head`) is
//! a normal end, not a panic: `println!` would panic on the broken pipe.

use std::io::Write;

/// Write `text` to stdout; on a closed pipe, exit quietly with status 0
/// (what `head` and `grep -q` expect of a producer).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("polc: cannot write output: {e}");
        std::process::exit(2);
    }
}

/// `print` with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}
