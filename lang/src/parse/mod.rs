//! Parsing facade: `parse_file`, `parse_addr_expr`, `parse_service_expr`.
//! Callers see only these; the logos lexer (`lexer`) and the lalrpop grammar
//! (`grammar.lalrpop`, with helpers in `actions`) stay behind them.
//!
//! Parsing is tolerant: syntax errors are reported as diagnostics and the
//! parser recovers at statement boundaries, leaving `Error` nodes, so one run
//! reports many errors and the good items still parse.

mod actions;
pub mod lexer;

#[cfg(test)]
mod tests;

lalrpop_util::lalrpop_mod!(
    #[allow(
        clippy::all,
        clippy::pedantic,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )]
    #[allow(
        unused_imports,
        unused_parens,
        dead_code,
        unused_qualifications,
        unreachable_pub
    )]
    grammar,
    "/parse/grammar.rs"
);

use crate::ast;
use crate::diag::{codes, Diagnostic};
use crate::span::{FileId, Span};

fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| d.primary.map(|s| (s.start, s.end)));
    diags.dedup();
}

/// Drop a syntax error at the very next token after a lexical error (a
/// skipped `@`, a string that swallowed the rest of its line): the lexical
/// error already explains it.
fn drop_follow_on_errors(
    src: &str,
    lexical: &[Diagnostic],
    syntax: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let cause_ends: Vec<usize> = lexical
        .iter()
        .filter(|d| d.code == codes::INVALID_CHAR || d.code == codes::UNTERMINATED_STR)
        .filter_map(|d| d.primary.map(|s| s.end as usize))
        .collect();
    syntax
        .into_iter()
        .filter(|d| {
            let follow_on = d.code == codes::UNEXPECTED_TOKEN || d.code == codes::UNEXPECTED_EOF;
            let start = d.primary.map_or(0, |s| s.start as usize);
            !(follow_on
                && cause_ends.iter().any(|&e| {
                    e <= start && src.get(e..start).is_some_and(|gap| gap.trim().is_empty())
                }))
        })
        .collect()
}

/// Parse one file. Never panics; returns the (possibly partial) tree and
/// every lexical and syntax diagnostic, in source order.
pub fn parse_file(file: FileId, src: &str) -> (ast::File, Vec<Diagnostic>) {
    let lexed = lexer::lex(file, src);
    let mut diags = lexed.diags;
    let mut errors = Vec::new();
    let parser = grammar::FileParser::new();
    let items = match parser.parse(file, src, &mut errors, lexed.tokens) {
        Ok(items) => items,
        Err(e) => {
            errors.push(actions::syntax_error(file, src, e));
            Vec::new()
        }
    };
    let errors = drop_follow_on_errors(src, &diags, errors);
    diags.extend(errors);
    sort(&mut diags);
    let f = ast::File {
        items,
        comments: lexed.comments,
        span: Span::new(file, 0, src.len()),
    };
    (f, diags)
}

/// Parse input that must be exactly one address expression (WASM matcher
/// output such as `{ 192.0.2.0/24, 2001:db8::/32 }`).
pub fn parse_addr_expr(file: FileId, src: &str) -> Result<ast::AddrExpr, Vec<Diagnostic>> {
    let lexed = lexer::lex(file, src);
    let mut diags = lexed.diags;
    let mut errors = Vec::new();
    let res = grammar::AddrExprOnlyParser::new().parse(file, src, &mut errors, lexed.tokens);
    finish(file, src, res, diags.split_off(0), errors)
}

/// Parse input that must be exactly one service expression (`{ tcp 443, udp 53 }`).
pub fn parse_service_expr(file: FileId, src: &str) -> Result<ast::ServiceExpr, Vec<Diagnostic>> {
    let lexed = lexer::lex(file, src);
    let mut errors = Vec::new();
    let res = grammar::ServiceExprOnlyParser::new().parse(file, src, &mut errors, lexed.tokens);
    finish(file, src, res, lexed.diags, errors)
}

/// Parse input that must be exactly one packet description, as after
/// `expect allow` in a test, with an optional `in POLICY` (`polc explain`).
pub fn parse_packet_query(
    file: FileId,
    src: &str,
) -> Result<(ast::PacketSpec, Option<ast::Ident>), Vec<Diagnostic>> {
    let lexed = lexer::lex(file, src);
    let mut errors = Vec::new();
    let res = grammar::PacketQueryOnlyParser::new().parse(file, src, &mut errors, lexed.tokens);
    finish(file, src, res, lexed.diags, errors)
}

fn finish<T>(
    file: FileId,
    src: &str,
    res: Result<T, lalrpop_util::ParseError<usize, lexer::Tok, ()>>,
    mut diags: Vec<Diagnostic>,
    errors: Vec<Diagnostic>,
) -> Result<T, Vec<Diagnostic>> {
    diags.extend(errors);
    match res {
        Ok(v) if diags.is_empty() => Ok(v),
        Ok(_) => {
            sort(&mut diags);
            Err(diags)
        }
        Err(e) => {
            diags.push(actions::syntax_error(file, src, e));
            sort(&mut diags);
            Err(diags)
        }
    }
}
