//! User text printed to a terminal (human diagnostics and messages).
