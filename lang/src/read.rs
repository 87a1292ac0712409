//! Reading input files (entry files, imports, matcher modules) so that
//! nothing on disk can hang, flood or leak through polc: the file is opened
//! without blocking and without following a final symbolic link, the
//! *opened* descriptor must be a regular file (a FIFO, device, socket or
//! directory is refused before a byte is read; no check-then-open race),
//! and it is read through a bounded reader, never past `limit` bytes
//! (`/proc` files claim size 0, so the size from `fstat` alone is not
//! enough). File names with control characters are refused outright.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest source file polc reads (entry or import): 16 MiB, the matcher
/// module limit. Real policies are a few KiB.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Most files one entry may import, transitively (stdlib modules included).
pub const MAX_IMPORTED_FILES: usize = 10_000;

/// Why an input file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// `open` or `read` failed.
    Io(std::io::Error),
    /// The path names something other than a regular file (the phrase
    /// says what: `a FIFO`, `a directory`, ...).
    NotRegular(&'static str),
    /// The file has more than `limit` bytes.
    TooLarge { limit: usize },
    /// The bytes are not UTF-8 (source files only).
    NotUtf8 { offset: usize },
}

impl ReadError {
    /// A short lowercase phrase for a diagnostic.
    pub fn reason(&self) -> String {
        match self {
            ReadError::Io(e) => crate::paths::io_reason(e),
            ReadError::NotRegular(what) => format!("it is {what}, not a regular file"),
            ReadError::TooLarge { limit } => {
                format!("the file is larger than {}", size_phrase(*limit))
            }
            ReadError::NotUtf8 { offset } => {
                format!("the file is not UTF-8 (invalid byte at offset {offset})")
            }
        }
    }
}

/// `16MiB` for 16 × 2^20, else the number of bytes.
pub fn size_phrase(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{}MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// What a non-regular file is, for messages.
fn kind_phrase(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// `O_NONBLOCK`: opening a FIFO with no writer returns at once instead of
/// waiting forever (regular files ignore the flag).
const O_NONBLOCK: i32 = 0o4000;

/// Open `path` for reading and make sure it is a regular file. With
/// `nofollow`, a symbolic link as the last component is refused
/// (`O_NOFOLLOW`), for paths that were already resolved and checked.
pub fn open_regular(path: &Path, nofollow: bool) -> Result<File, ReadError> {
    let mut flags = O_NONBLOCK;
    if nofollow {
        flags |= O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            // ELOOP: the last component became a symbolic link after it
            // was resolved.
            if nofollow && e.raw_os_error() == Some(ELOOP) {
                ReadError::NotRegular("a symbolic link")
            } else {
                ReadError::Io(e)
            }
        })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind_phrase(meta.file_type())));
    }
    Ok(file)
}

/// Read at most `limit` bytes of a regular file (see [`open_regular`]).
pub fn read_bytes(path: &Path, nofollow: bool, limit: usize) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path, nofollow)?;
    let claimed = file.metadata().map(|m| m.len()).unwrap_or(0);
    let cap = u64::try_from(limit).unwrap_or(u64::MAX);
    if claimed > cap {
        return Err(ReadError::TooLarge { limit });
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Read a source file: a regular file of at most [`MAX_SOURCE_BYTES`], in UTF-8.
pub fn read_source(path: &Path, nofollow: bool) -> Result<String, ReadError> {
    let bytes = read_bytes(path, nofollow, MAX_SOURCE_BYTES)?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// A character no file name polc reads may contain: the C0 and C1 controls
/// and DEL (`char::is_control`), and the Unicode line and paragraph
/// separators. Such names end comments and lines in the scripts polc
/// writes, and in terminals.
pub fn is_forbidden_in_name(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The first forbidden character of `name`, if any.
pub fn forbidden_char(name: &str) -> Option<char> {
    name.chars().find(|&c| is_forbidden_in_name(c))
}

/// `name` with every forbidden character escaped (`\n`, `\u{85}`), for
/// messages about such names.
pub fn escaped_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if is_forbidden_in_name(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `O_NOFOLLOW` and `ELOOP` differ between architectures.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
const O_NOFOLLOW: i32 = 0o100000;
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
const O_NOFOLLOW: i32 = 0o400000;
const ELOOP: i32 = 40;

/// Texts that stand in for files on disk, by canonical path: the unsaved
/// buffers of an editor (`polc lsp`). Empty for the command line.
pub type Overlay = std::sync::Arc<std::collections::HashMap<std::path::PathBuf, String>>;

/// [`read_source`], unless `overlay` holds a text for `path`.
pub fn read_source_overlaid(path: &Path, overlay: &Overlay) -> Result<String, ReadError> {
    match overlay.get(path) {
        Some(t) if t.len() > MAX_SOURCE_BYTES => Err(ReadError::TooLarge {
            limit: MAX_SOURCE_BYTES,
        }),
        Some(t) => Ok(t.clone()),
        None => read_source(path, true),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_forbidden_and_shown_escaped() {
        for c in [
            '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}',
        ] {
            assert!(is_forbidden_in_name(c), "{c:?}");
        }
        assert_eq!(forbidden_char("lib/ok é.pol"), None);
        assert_eq!(escaped_name("a\nb\u{85}.pol"), "a\\nb\\u{85}.pol");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile_dir();
        let fifo = dir.join("f.pol");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        match read_source(&fifo, false) {
            Err(ReadError::NotRegular("a FIFO")) => {}
            other => panic!("{other:?}"),
        }
        match read_source(&dir, false) {
            Err(ReadError::NotRegular("a directory")) => {}
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_big_file_is_refused_without_reading_it() {
        let dir = tempfile_dir();
        let big = dir.join("big.pol");
        let f = File::create(&big).unwrap();
        f.set_len(1 << 40).unwrap();
        match read_source(&big, false) {
            Err(ReadError::TooLarge { limit }) => assert_eq!(limit, MAX_SOURCE_BYTES),
            other => panic!("{:?}", other.map(|s| s.len())),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nofollow_refuses_a_final_symlink() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("t.pol"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("t.pol"), dir.join("l.pol")).unwrap();
        assert!(read_source(&dir.join("l.pol"), false).is_ok());
        match read_source(&dir.join("l.pol"), true) {
            Err(ReadError::NotRegular("a symbolic link")) => {}
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "pol-read-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
