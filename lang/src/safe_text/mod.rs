//! Every byte that comes from a source file or a file name passes through
//! here before it reaches an output language: POSIX sh (single-quoted words
//! and `#` comments), nft (quoted strings and comments), systemd unit
//! command lines, the terminal, and
//! SARIF/URIs. One module per output language; nothing else in polc
//! escapes user text on its own.

pub mod nft;
pub mod sh;
pub mod systemd;
pub mod terminal;
pub mod uri;
