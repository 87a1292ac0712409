//! Custom matchers (LANGUAGE.md §7): the WebAssembly sandbox that runs a
//! `matcher` module at compile time and returns the text of the set it
//! computed. Modules are untrusted input: they get no imports, and every
//! call runs in a fresh store with a fuel limit, a memory/table limit, a
//! wall-clock deadline and a cap on the output size. Whatever a module does,
//! the caller gets either the output text or a `MatcherError` with a P06xx
//! code — never a panic, a hang or a host resource.
//!
//! The resolver owns the language side: it reads the module
//! ([`read_module`]), calls [`Sandbox::load`] once per `matcher` item and
//! [`Sandbox::call`] once per call site, then parses the returned text with
//! the front end's own parser and reports errors at the call site.
//!
//! Layout: `limits` (defaults, overrides, CLI cap), `shape` (what may be
//! compiled), `abi` (compile and check the ABI), `run` (store, fuel, limiter,
//! output checks), `watchdog` (the epoch thread), `cache` (module and result
//! caches), `budget` (what all calls of a run may spend together), `path`
//! (finding the file inside the root). docs/matchers.md is the user
//! documentation.

mod abi;
mod budget;
mod cache;
mod limits;
mod path;
mod run;
mod shape;
mod watchdog;

pub use budget::{Budget, Remaining, RunBudget, DEFAULT_BUDGET};
pub use limits::{
    format_bytes, format_ms, LimitCap, Limits, CEILING, DEFAULT_FUEL, DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_MS, MAX_TABLE_ELEMENTS,
};
pub use path::{read_module, ModuleFile, ModuleSearch};
pub use shape::ShapeLimits;

use crate::diag::{codes, Code, Diagnostic};
use crate::span::Span;
use cache::{ModuleHash, ResultCache};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, InstancePre, Linker};

/// A sandbox failure: a P06xx code, a one-line message in the house style
/// (lowercase, no final period, user text in backticks) and notes.
#[derive(Debug, Clone)]
pub struct MatcherError {
    pub code: Code,
    pub message: String,
    /// Text under the caret, when there is more to say than the message.
    pub label: Option<String>,
    pub notes: Vec<String>,
}

impl MatcherError {
    pub fn new(code: Code, message: impl Into<String>) -> MatcherError {
        MatcherError {
            code,
            message: message.into(),
            label: None,
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> MatcherError {
        self.label = Some(label.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> MatcherError {
        self.notes.push(note.into());
        self
    }

    /// The diagnostic at `span` (the call site, or the `matcher` item for load errors).
    pub fn to_diagnostic(&self, span: Span) -> Diagnostic {
        let mut d = Diagnostic::new(self.code, span, self.message.clone());
        if let Some(l) = &self.label {
            d = d.with_label(l.clone());
        }
        d.notes.clone_from(&self.notes);
        d
    }
}

impl std::fmt::Display for MatcherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.id, self.message)
    }
}

impl std::error::Error for MatcherError {}

/// A loaded module, as returned by [`Sandbox::load`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(pub u32);

/// Counters for tests and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Modules compiled (loads of identical bytes compile once).
    pub compiled: u64,
    /// `Sandbox::call` invocations.
    pub calls: u64,
    /// Calls answered from the result cache (a success or a failure).
    pub cache_hits: u64,
    /// Calls and loads not run because the run's budget was used up.
    pub skipped: u64,
    /// Calls that ran a module (instantiate + `pol_expand`).
    pub executed: u64,
    /// Executed calls that failed.
    pub failed: u64,
    /// Wall-clock time spent in executed calls.
    pub exec_time: Duration,
}

/// How a `Sandbox` is set up; `Default` is what polc uses.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Cache results, failures included, per (module, arguments, limits).
    /// On by default.
    pub result_cache: bool,
    /// What all calls of the run may spend together; clones share one
    /// account, so the sandboxes of one run share their budget.
    pub budget: RunBudget,
    /// Keep compiled code in this directory across runs (wasmtime's cache).
    /// Off by default: see docs/matchers.md for why.
    pub disk_cache: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            result_cache: true,
            budget: RunBudget::default(),
            disk_cache: None,
        }
    }
}

struct Loaded {
    display: String,
    hash: ModuleHash,
    pre: InstancePre<run::Guard>,
}

/// The WebAssembly sandbox of one compilation: the engine (fuel and epoch
/// interruption on), the loaded modules, the caches and the watchdog thread
/// (started on the first call, stopped when the sandbox is dropped).
pub struct Sandbox {
    engine: Engine,
    options: SandboxOptions,
    modules: Vec<Loaded>,
    ids: HashMap<(String, ModuleHash), ModuleId>,
    compiled: HashMap<ModuleHash, InstancePre<run::Guard>>,
    results: ResultCache,
    watchdog: Option<watchdog::Watchdog>,
    stats: SandboxStats,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, MatcherError> {
        Sandbox::with_options(SandboxOptions::default())
    }

    pub fn with_options(options: SandboxOptions) -> Result<Sandbox, MatcherError> {
        let mut config = Config::new();
        config.consume_fuel(true);
        config.epoch_interruption(true);
        // Deep recursion traps (`call stack exhausted`) well before the host stack.
        config.max_wasm_stack(512 * 1024);
        if let Some(dir) = &options.disk_cache {
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
            let cache = wasmtime::Cache::new(cc).map_err(|e| {
                MatcherError::new(
                    codes::IO_ERROR,
                    format!("cannot use `{}` as the matcher cache", dir.display()),
                )
                .with_note(format!("{e:#}"))
            })?;
            config.cache(Some(cache));
        }
        let engine = Engine::new(&config).map_err(|e| {
            MatcherError::new(codes::IO_ERROR, "cannot start the WebAssembly sandbox")
                .with_note(format!("{e:#}"))
        })?;
        Ok(Sandbox {
            engine,
            options,
            modules: Vec::new(),
            ids: HashMap::new(),
            compiled: HashMap::new(),
            results: ResultCache::default(),
            watchdog: None,
            stats: SandboxStats::default(),
        })
    }

    /// Compile and validate the ABI. `bytes` may be binary wasm or WAT text
    /// (detected by the `\0asm` magic). `display` is the path for messages.
    /// Loading the same bytes again compiles nothing.
    pub fn load(&mut self, display: &str, bytes: &[u8]) -> Result<ModuleId, MatcherError> {
        let hash = cache::hash(bytes);
        if let Some(id) = self.ids.get(&(display.to_string(), hash)) {
            return Ok(*id);
        }
        let pre = match self.compiled.get(&hash) {
            Some(pre) => pre.clone(),
            None => {
                let budget = &self.options.budget;
                if budget.remaining().is_used_up() {
                    self.stats.skipped += 1;
                    return Err(skipped(
                        budget,
                        format!("matcher module `{display}` was not compiled"),
                    ));
                }
                let started = Instant::now();
                let module = abi::compile(&self.engine, display, bytes);
                budget.charge(0, started.elapsed(), || {
                    format!("the compilation of `{display}`")
                });
                let module = module?;
                self.stats.compiled += 1;
                let linker: Linker<run::Guard> = Linker::new(&self.engine);
                let pre = linker.instantiate_pre(&module).map_err(|e| {
                    MatcherError::new(
                        codes::MATCHER_IMPORT,
                        format!("matcher module `{display}` cannot be linked"),
                    )
                    .with_note(format!("{e:#}"))
                })?;
                self.compiled.insert(hash, pre.clone());
                pre
            }
        };
        let id = ModuleId(u32::try_from(self.modules.len()).unwrap_or(u32::MAX));
        self.modules.push(Loaded {
            display: display.to_string(),
            hash,
            pre,
        });
        self.ids.insert((display.to_string(), hash), id);
        Ok(id)
    }

    /// Run `pol_expand` with `args_json` (the JSON array of the call's
    /// arguments) within `limits`. Returns the output text: UTF-8 checked and
    /// at most `limits.max_output_bytes` long, but not parsed. Successful
    /// results are cached per (module bytes, arguments, limits).
    pub fn call(
        &mut self,
        module: ModuleId,
        args_json: &str,
        limits: &Limits,
    ) -> Result<String, MatcherError> {
        self.stats.calls += 1;
        let loaded = self.modules.get(module.0 as usize).ok_or_else(|| {
            MatcherError::new(
                codes::MATCHER_NOT_FOUND,
                format!("no matcher module with id {}", module.0),
            )
        })?;
        if self.options.result_cache {
            if let Some(result) = self
                .results
                .get(&loaded.hash, &loaded.display, args_json, limits)
            {
                self.stats.cache_hits += 1;
                return result.clone().map_err(|e| {
                    e.with_note(
                        "the same call failed earlier in this compilation; it was not run again",
                    )
                });
            }
        }
        let budget = self.options.budget.clone();
        let remaining = budget.remaining();
        if remaining.is_used_up() {
            self.stats.skipped += 1;
            return Err(skipped(
                &budget,
                format!("matcher module `{}` was not run", loaded.display),
            )
            .with_note(run::called_with(args_json)));
        }
        let effective = remaining.lower(limits);
        if self.watchdog.is_none() {
            let w = watchdog::Watchdog::start(self.engine.clone()).map_err(|e| {
                MatcherError::new(codes::IO_ERROR, "cannot start the matcher watchdog thread")
                    .with_note(e.to_string())
            })?;
            self.watchdog = Some(w);
        }
        let Some(watchdog) = self.watchdog.as_ref() else {
            return Err(MatcherError::new(
                codes::IO_ERROR,
                "cannot start the matcher watchdog thread",
            ));
        };
        let started = Instant::now();
        let outcome = run::execute(
            &run::Call {
                engine: &self.engine,
                pre: &loaded.pre,
                display: &loaded.display,
                args_json,
                limits: &effective,
            },
            watchdog,
        );
        let took = started.elapsed();
        budget.charge(outcome.fuel_used, took, || {
            format!(
                "a call of `{}` {}",
                loaded.display,
                run::called_with(args_json).trim_start_matches("called ")
            )
        });
        self.stats.executed += 1;
        self.stats.exec_time += took;
        let result = match outcome.result {
            Err(e) if cut_short(&e, &effective, limits) => {
                // Not cached: with budget left, the same call may succeed.
                self.stats.failed += 1;
                return Err(budget_error(&budget, &loaded.display, &effective, limits)
                    .with_note(run::called_with(args_json)));
            }
            r => r,
        };
        if result.is_err() {
            self.stats.failed += 1;
        }
        if self.options.result_cache {
            self.results.insert(
                loaded.hash,
                &loaded.display,
                args_json,
                *limits,
                result.clone(),
            );
        }
        result
    }

    /// The path a module was loaded as.
    pub fn display(&self, module: ModuleId) -> Option<&str> {
        self.modules
            .get(module.0 as usize)
            .map(|m| m.display.as_str())
    }

    pub fn stats(&self) -> SandboxStats {
        self.stats
    }

    /// The budget this sandbox charges.
    pub fn budget(&self) -> &RunBudget {
        &self.options.budget
    }
}

/// Whether `e` is running out of fuel or time that the call had only
/// because the run's budget lowered its own limits.
fn cut_short(e: &MatcherError, effective: &Limits, own: &Limits) -> bool {
    (e.code.id == codes::MATCHER_FUEL.id && effective.fuel < own.fuel)
        || (e.code.id == codes::MATCHER_TIMEOUT.id && effective.timeout_ms < own.timeout_ms)
}

/// `P0616`: the call that used the run's budget up.
fn budget_error(
    budget: &RunBudget,
    display: &str,
    effective: &Limits,
    own: &Limits,
) -> MatcherError {
    let left = if effective.fuel < own.fuel {
        format!(
            "this call could use only the {} fuel units left of its own {}",
            effective.fuel, own.fuel
        )
    } else {
        format!(
            "this call could use only the time left, less than its own {}",
            format_ms(own.timeout_ms)
        )
    };
    MatcherError::new(
        codes::MATCHER_BUDGET,
        format!("the matcher budget of this run ran out in this call of `{display}`"),
    )
    .with_note(format!(
        "all matcher calls and compilations of one `polc` run may use {} together",
        budget.budget().text()
    ))
    .with_note(left)
    .with_note("every later matcher call of this run is not run (P0617)")
    .with_note(BUDGET_HELP)
}

/// `P0617`: a call or a load after the budget was used up.
fn skipped(budget: &RunBudget, message: String) -> MatcherError {
    let by = budget
        .used_up_by()
        .unwrap_or_else(|| "earlier matcher calls".to_string());
    MatcherError::new(
        codes::MATCHER_SKIPPED,
        format!("{message}: the matcher budget of this run is used up"),
    )
    .with_note(format!(
        "all matcher calls and compilations of one `polc` run may use {} together; {by} used the rest",
        budget.budget().text()
    ))
    .with_note(BUDGET_HELP)
}

const BUDGET_HELP: &str =
    "the command line sets the budget: `--matcher-budget-fuel N`, `--matcher-budget-ms MS`";
