//! The shape check that runs before a matcher module is compiled: the
//! module's code is read (not compiled) and refused with `P0615` when it
//! has more functions, locals, instructions or block nesting than the
//! compiler may be given. Compilation cannot be interrupted or limited once
//! it started, so these static counts are what bound its time and memory;
//! docs/matchers.md has the measured cost of the largest module that passes.
//!
//! The check itself is one pass over the bytes: it stops at the first count
//! over its cap and allocates nothing per instruction.

use super::MatcherError;
use crate::diag::codes;
use wasmparser::{Operator, Parser, Payload};

/// What the compiler may be given, per module. The defaults are
/// [`ShapeLimits::DEFAULT`]; tests lower them to check the refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Functions defined by the module.
    pub functions: u64,
    /// Locals of one function (parameters excluded).
    pub locals: u64,
    /// Instructions of one function.
    pub function_instructions: u64,
    /// Instructions of all functions together.
    pub instructions: u64,
    /// Depth of nested `block`, `loop`, `if` and `try` in one function.
    pub nesting: u64,
}

impl ShapeLimits {
    /// Far above what a lookup table or a small computation needs (the
    /// examples have 10 functions and under 1,000 instructions); low,
    /// because compile time grows with the instructions and blocks
    /// (docs/matchers.md, "Compiling", has the measurements).
    pub const DEFAULT: ShapeLimits = ShapeLimits {
        functions: 1_000,
        locals: 1_000,
        function_instructions: 50_000,
        instructions: 200_000,
        nesting: 500,
    };
}

impl Default for ShapeLimits {
    fn default() -> Self {
        ShapeLimits::DEFAULT
    }
}

/// What the check counted, up to where it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub functions: u64,
    pub instructions: u64,
}

/// Check `wasm` (binary) against `limits`. Malformed bytes are left to the
/// compiler, which reports them as `P0602` with its own message: this check
/// only refuses what is well-formed but too big.
pub fn check(wasm: &[u8], display: &str, limits: &ShapeLimits) -> Result<Shape, MatcherError> {
    let mut shape = Shape::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            return Ok(shape);
        };
        match payload {
            Payload::FunctionSection(r) => {
                over(
                    display,
                    limits,
                    "functions",
                    u64::from(r.count()),
                    limits.functions,
                    "",
                )?;
            }
            Payload::CodeSectionEntry(body) => {
                shape.functions += 1;
                let index = shape.functions - 1;
                let Ok(locals) = body.get_locals_reader() else {
                    return Ok(shape);
                };
                let mut count: u64 = 0;
                for l in locals {
                    let Ok((n, _)) = l else {
                        return Ok(shape);
                    };
                    count = count.saturating_add(u64::from(n));
                }
                let at = format!(" in function {index}");
                over(display, limits, "locals", count, limits.locals, &at)?;
                let Ok(mut ops) = body.get_operators_reader() else {
                    return Ok(shape);
                };
                let (mut depth, mut in_function) = (0u64, 0u64);
                while !ops.eof() {
                    let Ok(op) = ops.read() else {
                        return Ok(shape);
                    };
                    in_function += 1;
                    shape.instructions += 1;
                    match op {
                        Operator::Block { .. }
                        | Operator::Loop { .. }
                        | Operator::If { .. }
                        | Operator::Try { .. }
                        | Operator::TryTable { .. } => {
                            depth += 1;
                            over(display, limits, "nested blocks", depth, limits.nesting, &at)?;
                        }
                        Operator::End => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    over(
                        display,
                        limits,
                        "instructions",
                        in_function,
                        limits.function_instructions,
                        &at,
                    )?;
                    over(
                        display,
                        limits,
                        "instructions",
                        shape.instructions,
                        limits.instructions,
                        " in all",
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// `P0615` when `count` is above `max`.
fn over(
    display: &str,
    limits: &ShapeLimits,
    what: &str,
    count: u64,
    max: u64,
    at: &str,
) -> Result<(), MatcherError> {
    if count <= max {
        return Ok(());
    }
    Err(MatcherError::new(
        codes::MATCHER_TOO_COMPLEX,
        format!("matcher module `{display}` is too large to compile: more than {max} {what}{at}"),
    )
    .with_note(format!(
        "a matcher module may have at most {} functions, {} locals and {} instructions per function, {} instructions in all, and {} nested blocks",
        limits.functions,
        limits.locals,
        limits.function_instructions,
        limits.instructions,
        limits.nesting
    ))
    .with_note("the module was refused before compiling: compilation cannot be interrupted, so its size is what bounds its time and memory"))
}
