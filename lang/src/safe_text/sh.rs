//! User text inside a generated POSIX sh script (single-quoted words, `#` comments).
