//! Running one matcher call in a fresh store: fuel, a resource limiter on
//! linear memory and tables, an epoch deadline driven by the watchdog
//! thread, and the output checks (size cap, bounds, UTF-8). Every way a call
//! can fail becomes a `MatcherError` with a P06xx code; nothing here panics
//! on module behaviour.

use super::limits::{format_bytes, format_ms, Limits, MAX_TABLE_ELEMENTS};
use super::watchdog::Watchdog;
use super::MatcherError;
use crate::diag::codes;
use std::time::Duration;
use wasmtime::{Engine, InstancePre, ResourceLimiter, Store, Trap, WasmBacktrace};

/// Per-store state: the limits the limiter enforces, and whether it refused
/// a growth (so a later trap or exhaustion is reported as a memory problem).
pub struct Guard {
    memory_limit: usize,
    table_limit: usize,
    refused: Option<Refusal>,
}

#[derive(Clone, Copy, Debug)]
enum Refusal {
    Memory { desired: usize },
    Table { desired: usize },
}

impl Guard {
    fn new(limits: &Limits) -> Guard {
        Guard {
            memory_limit: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            table_limit: MAX_TABLE_ELEMENTS,
            refused: None,
        }
    }
}

impl ResourceLimiter for Guard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // INVARIANT: returning Ok(false) makes `memory.grow` return -1
            // (or instantiation fail); the module is never given the memory.
            self.refused = Some(Refusal::Memory { desired });
            return Ok(false);
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            self.refused = Some(Refusal::Table { desired });
            return Ok(false);
        }
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Which part of the call failed, for the messages.
#[derive(Clone, Copy)]
enum Stage {
    Instantiate,
    Alloc,
    Expand,
}

impl Stage {
    fn text(self) -> &'static str {
        match self {
            Stage::Instantiate => {
                "while instantiating the module (its start function and initialisers)"
            }
            Stage::Alloc => "in `pol_alloc`",
            Stage::Expand => "in `pol_expand`",
        }
    }
}

/// What one call needs to know about its module.
pub struct Call<'a> {
    pub engine: &'a Engine,
    pub pre: &'a InstancePre<Guard>,
    pub display: &'a str,
    pub args_json: &'a str,
    pub limits: &'a Limits,
}

/// What one call did: its output or error, and the fuel it burnt (charged
/// to the run's budget whatever the outcome).
pub struct Outcome {
    pub result: Result<String, MatcherError>,
    pub fuel_used: u64,
}

/// Instantiate and run `pol_expand` once, within `limits`.
pub fn execute(call: &Call<'_>, watchdog: &Watchdog) -> Outcome {
    let limits = call.limits;
    let mut store = Store::new(call.engine, Guard::new(limits));
    store.limiter(|g| g);
    if let Err(e) = store.set_fuel(limits.fuel) {
        return Outcome {
            result: Err(MatcherError::new(
                codes::MATCHER_FUEL,
                format!("cannot set matcher fuel: {e}"),
            )),
            fuel_used: 0,
        };
    }
    let result = execute_in(&mut store, call, watchdog);
    // Out of fuel leaves 0; a store whose fuel cannot be read spent it all.
    let left = store.get_fuel().unwrap_or(0);
    Outcome {
        result,
        fuel_used: limits.fuel.saturating_sub(left),
    }
}

fn execute_in(
    store: &mut Store<Guard>,
    call: &Call<'_>,
    watchdog: &Watchdog,
) -> Result<String, MatcherError> {
    let limits = call.limits;
    store.epoch_deadline_trap();
    store.set_epoch_deadline(1);
    // INVARIANT: the deadline is set before arming, so the one epoch tick the
    // watchdog may send for this call lands after it and interrupts this store.
    let armed = watchdog.arm(Duration::from_millis(limits.timeout_ms));

    let instance = call
        .pre
        .instantiate(&mut *store)
        .map_err(|e| classify(e, &*store, call, Stage::Instantiate))?;
    // The ABI check guarantees these exports; a failure here is still an error, not a panic.
    let memory = instance.get_memory(&mut *store, "memory").ok_or_else(|| {
        MatcherError::new(
            codes::MATCHER_EXPORT,
            format!("matcher module `{}` does not export `memory`", call.display),
        )
    })?;
    let alloc = instance
        .get_typed_func::<i32, i32>(&mut *store, "pol_alloc")
        .map_err(|e| export_error(call.display, "pol_alloc", &e))?;
    let expand = instance
        .get_typed_func::<(i32, i32), i64>(&mut *store, "pol_expand")
        .map_err(|e| export_error(call.display, "pol_expand", &e))?;

    let input = call.args_json.as_bytes();
    let len = i32::try_from(input.len()).map_err(|_| {
        MatcherError::new(
            codes::MATCHER_LIMIT,
            "matcher arguments are larger than 2GiB".to_string(),
        )
    })?;
    let ptr = alloc
        .call(&mut *store, len)
        .map_err(|e| classify(e, &*store, call, Stage::Alloc))?;
    if memory
        .write(&mut *store, ptr as u32 as usize, input)
        .is_err()
    {
        let size = memory.data_size(&*store);
        return Err(runtime_error(
            &*store,
            call,
            MatcherError::new(
                codes::MATCHER_TRAP,
                format!(
                    "`pol_alloc` of matcher module `{}` returned an address outside its memory",
                    call.display
                ),
            )
            .with_note(format!(
                "it returned {:#x} for {} bytes; the memory is {} bytes",
                ptr as u32,
                input.len(),
                size
            )),
        ));
    }
    let ret = expand
        .call(&mut *store, (ptr, len))
        .map_err(|e| classify(e, &*store, call, Stage::Expand))?;
    drop(armed);

    if ret < 0 {
        return Err(runtime_error(
            &*store,
            call,
            MatcherError::new(
                codes::MATCHER_ERROR_CODE,
                format!("matcher module `{}` returned error code `{ret}`", call.display),
            )
            .with_note("a negative return from `pol_expand` is the module's own error; see its documentation"),
        ));
    }
    let out_ptr = (ret >> 32) as usize;
    let out_len = (ret & 0xffff_ffff) as usize;
    if out_len > limits.max_output_bytes as usize {
        return Err(MatcherError::new(
            codes::MATCHER_OUTPUT_BIG,
            format!(
                "matcher module `{}` returned {out_len} bytes of output, more than the limit of {}",
                call.display,
                format_bytes(u64::from(limits.max_output_bytes))
            ),
        )
        .with_note(called_with(call.args_json)));
    }
    let data = memory.data(&*store);
    let Some(bytes) = out_ptr
        .checked_add(out_len)
        .and_then(|end| data.get(out_ptr..end))
    else {
        return Err(MatcherError::new(
            codes::MATCHER_TRAP,
            format!(
                "matcher module `{}` returned output outside its memory",
                call.display
            ),
        )
        .with_note(format!(
            "`pol_expand` returned offset {out_ptr:#x} and length {out_len}; the memory is {} bytes",
            data.len()
        ))
        .with_note(called_with(call.args_json)));
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let at = e.valid_up_to();
            Err(MatcherError::new(
                codes::MATCHER_UTF8,
                format!("output of matcher module `{}` is not UTF-8", call.display),
            )
            .with_note(format!(
                "invalid byte at offset {at} of {out_len}: {}",
                super::abi::hex_prefix(bytes.get(at..).unwrap_or_default(), 16)
            ))
            .with_note(called_with(call.args_json)))
        }
    }
}

/// Turn a wasmtime failure into the right P06xx error. A growth the limiter
/// refused wins: whatever the module did next (trap, spin until fuel or time
/// ran out, return an error code) is a consequence of hitting the memory limit.
fn classify(
    e: wasmtime::Error,
    store: &Store<Guard>,
    call: &Call<'_>,
    stage: Stage,
) -> MatcherError {
    let trap = e.downcast_ref::<Trap>().copied();
    let d = call.display;
    let limits = call.limits;
    let what_happened = match trap {
        Some(Trap::OutOfFuel) => "it ran out of fuel".to_string(),
        Some(Trap::Interrupt) => "it ran out of time".to_string(),
        Some(t) => format!("it trapped: {}", trap_text(t)),
        None => format!("it failed: {}", first_line(&e)),
    };
    if store.data().refused.is_some() {
        let then = match (trap, stage) {
            (None, Stage::Instantiate) => format!(
                "so the module could not be instantiated: {}",
                first_line(&e)
            ),
            _ => format!("then {what_happened} {}", stage.text()),
        };
        return memory_error(store, call)
            .with_note(then)
            .with_note("if the module needs more, raise `memory` on the `matcher` item")
            .with_note(called_with(call.args_json));
    }
    let err = match trap {
        Some(Trap::OutOfFuel) => MatcherError::new(
            codes::MATCHER_FUEL,
            format!(
                "matcher module `{d}` ran out of fuel after {} units",
                limits.fuel
            ),
        )
        .with_note(format!("it ran out {}", stage.text()))
        .with_note(
            "if the module is expected to work this hard, raise `fuel` on the `matcher` item",
        ),
        Some(Trap::Interrupt) => MatcherError::new(
            codes::MATCHER_TIMEOUT,
            format!(
                "matcher module `{d}` did not finish within {}",
                format_ms(limits.timeout_ms)
            ),
        )
        .with_note(format!("it was interrupted {}", stage.text()))
        .with_note("if the module needs more time, raise `timeout` on the `matcher` item"),
        Some(t) => {
            let mut err = MatcherError::new(
                codes::MATCHER_TRAP,
                format!("matcher module `{d}` trapped: {}", trap_text(t)),
            )
            .with_note(format!("the trap happened {}", stage.text()));
            if let Some(bt) = e.downcast_ref::<WasmBacktrace>() {
                if let Some(text) = backtrace_text(bt) {
                    err = err.with_note(text);
                }
            }
            err
        }
        None => MatcherError::new(
            codes::MATCHER_MEMORY,
            format!("matcher module `{d}` could not be instantiated within its limits"),
        )
        .with_note(first_line(&e))
        .with_note("a matcher may have one memory of at most the memory limit and one table"),
    };
    err.with_note(called_with(call.args_json))
}

/// Attach the memory explanation when the limiter refused a growth.
fn runtime_error(store: &Store<Guard>, call: &Call<'_>, err: MatcherError) -> MatcherError {
    if store.data().refused.is_some() {
        return memory_error(store, call)
            .with_note(format!("then: {}", err.message))
            .with_note("if the module needs more, raise `memory` on the `matcher` item")
            .with_note(called_with(call.args_json));
    }
    err.with_note(called_with(call.args_json))
}

fn memory_error(store: &Store<Guard>, call: &Call<'_>) -> MatcherError {
    let limit = format_bytes(call.limits.memory_bytes);
    let asked = match store.data().refused {
        Some(Refusal::Memory { desired }) => {
            format!(
                "it asked for {} of linear memory",
                format_bytes(desired as u64)
            )
        }
        Some(Refusal::Table { desired }) => {
            format!("it asked for a table of {desired} elements (at most {MAX_TABLE_ELEMENTS})")
        }
        None => "it asked for more than it may have".to_string(),
    };
    MatcherError::new(
        codes::MATCHER_MEMORY,
        format!(
            "matcher module `{}` exceeded its memory limit of {limit}",
            call.display
        ),
    )
    .with_note(asked)
}

fn export_error(display: &str, name: &str, e: &wasmtime::Error) -> MatcherError {
    MatcherError::new(
        codes::MATCHER_EXPORT,
        format!("export `{name}` of matcher module `{display}` has the wrong type"),
    )
    .with_note(first_line(e))
}

/// `backtrace: `down` at 0x54, called from `down` at 0x54, …`,
/// innermost first, at most four frames.
fn backtrace_text(bt: &WasmBacktrace) -> Option<String> {
    const SHOWN: usize = 4;
    let frames = bt.frames();
    if frames.is_empty() {
        return None;
    }
    let shown: Vec<String> = frames
        .iter()
        .take(SHOWN)
        .map(|f| {
            let name = f.func_name().map_or_else(
                || format!("function {}", f.func_index()),
                |n| format!("`{n}`"),
            );
            match f.module_offset() {
                Some(off) => format!("{name} at {off:#x}"),
                None => name,
            }
        })
        .collect();
    let mut text = format!("backtrace: {}", shown.join(", called from "));
    if frames.len() > SHOWN {
        text.push_str(", …");
    }
    Some(text)
}

fn trap_text(t: Trap) -> String {
    let s = t.to_string();
    s.strip_prefix("wasm trap: ").unwrap_or(&s).to_string()
}

fn first_line(e: &wasmtime::Error) -> String {
    let s = format!("{e:#}");
    s.lines().next().unwrap_or_default().to_string()
}

pub(super) fn called_with(args_json: &str) -> String {
    const MAX: usize = 200;
    if args_json.len() <= MAX {
        return format!("called with `{args_json}`");
    }
    let mut end = MAX;
    while !args_json.is_char_boundary(end) {
        end -= 1;
    }
    format!("called with `{}…`", &args_json[..end])
}
