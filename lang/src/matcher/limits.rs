//! The resource limits of one matcher call: fuel, linear memory, wall-clock
//! time and output size. `Limits::default()` is what a `matcher` item gets
//! when it says nothing; a `{ fuel N; memory SIZE; timeout DURATION }` block
//! overrides them within [`CEILING`]; the command line can then only lower
//! them (`LimitCap`). docs/matchers.md documents the numbers.

use super::MatcherError;
use crate::diag::codes;

/// Limits of one matcher call (instantiation, start function, `pol_alloc`
/// and `pol_expand` together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Fuel units (roughly one per WebAssembly instruction) for the whole call.
    pub fuel: u64,
    /// Largest size of the module's linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit of the whole call, in milliseconds.
    pub timeout_ms: u64,
    /// Largest output text `pol_expand` may return, in bytes.
    pub max_output_bytes: u32,
}

/// Default fuel: 100 million units, a few tenths of a second of work.
pub const DEFAULT_FUEL: u64 = 100_000_000;
/// Default memory: 32 MiB of linear memory (512 pages).
pub const DEFAULT_MEMORY_BYTES: u64 = 32 * MIB;
/// Default wall-clock limit: one second.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_000;
/// Default output cap: 1 MiB of set text.
pub const DEFAULT_MAX_OUTPUT_BYTES: u32 = 1 << 20;

/// Largest number of table elements a module may have (each costs the host a
/// pointer).
pub const MAX_TABLE_ELEMENTS: usize = 65_536;

/// The most a `matcher` item may ask for. Anything above is a `P0614`.
pub const CEILING: Limits = Limits {
    fuel: 10_000_000_000,
    memory_bytes: 1024 * MIB,
    timeout_ms: 60_000,
    max_output_bytes: 16 << 20,
};

/// One WebAssembly page: the smallest useful memory limit.
pub const PAGE_BYTES: u64 = 64 * 1024;

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// Upper bounds from the command line (`--matcher-fuel N`,
/// `--matcher-memory BYTES`, `--matcher-timeout-ms MS`): every matcher's
/// limits are lowered to at most these, whatever its `matcher` item asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitCap {
    pub fuel: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub timeout_ms: Option<u64>,
}

impl Limits {
    /// Lower every limit to at most what `cap` allows. Never raises one.
    pub fn capped(self, cap: &LimitCap) -> Limits {
        let low = |v: u64, c: Option<u64>| c.map_or(v, |c| v.min(c));
        Limits {
            fuel: low(self.fuel, cap.fuel),
            memory_bytes: low(self.memory_bytes, cap.memory_bytes),
            timeout_ms: low(self.timeout_ms, cap.timeout_ms),
            max_output_bytes: self.max_output_bytes,
        }
    }

    /// Apply the per-matcher block `{ fuel N; memory SIZE; timeout T }`.
    /// Each value must be positive and at most [`CEILING`]; memory must be at
    /// least one page. Errors are `P0614` (the resolver points them at the
    /// offending field).
    pub fn with_overrides(
        self,
        fuel: Option<u64>,
        memory_bytes: Option<u64>,
        timeout_ms: Option<u64>,
    ) -> Result<Limits, MatcherError> {
        let mut out = self;
        if let Some(f) = fuel {
            check(
                "fuel",
                f,
                1,
                CEILING.fuel,
                &f.to_string(),
                &CEILING.fuel.to_string(),
            )?;
            out.fuel = f;
        }
        if let Some(m) = memory_bytes {
            check(
                "memory",
                m,
                PAGE_BYTES,
                CEILING.memory_bytes,
                &format_bytes(m),
                &format_bytes(CEILING.memory_bytes),
            )?;
            out.memory_bytes = m;
        }
        if let Some(t) = timeout_ms {
            check(
                "timeout",
                t,
                1,
                CEILING.timeout_ms,
                &format_ms(t),
                &format_ms(CEILING.timeout_ms),
            )?;
            out.timeout_ms = t;
        }
        Ok(out)
    }
}

fn check(
    what: &str,
    v: u64,
    min: u64,
    max: u64,
    shown: &str,
    max_shown: &str,
) -> Result<(), MatcherError> {
    if v < min {
        let why = if what == "memory" {
            "at least one 64KiB page".to_string()
        } else {
            "positive".to_string()
        };
        return Err(MatcherError::new(
            codes::MATCHER_LIMIT,
            format!("matcher {what} limit `{shown}` is too small"),
        )
        .with_note(format!("the {what} limit must be {why}")));
    }
    if v > max {
        return Err(MatcherError::new(
            codes::MATCHER_LIMIT,
            format!("matcher {what} limit `{shown}` is above the maximum `{max_shown}`"),
        ));
    }
    Ok(())
}

/// `33554432` → `32MiB`; sizes that are not whole KiB/MiB print in bytes.
pub fn format_bytes(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{}MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{}KiB", n / 1024)
    } else {
        format!("{n}B")
    }
}

/// `2000` → `2s`, `150` → `150ms`.
pub fn format_ms(ms: u64) -> String {
    if ms >= 1000 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cap_only_lowers() {
        let l = Limits::default();
        let cap = LimitCap {
            fuel: Some(10),
            memory_bytes: Some(u64::MAX),
            timeout_ms: None,
        };
        let c = l.capped(&cap);
        assert_eq!(c.fuel, 10);
        assert_eq!(c.memory_bytes, l.memory_bytes);
        assert_eq!(c.timeout_ms, l.timeout_ms);
    }

    #[test]
    fn overrides_checked() {
        let l = Limits::default()
            .with_overrides(Some(50_000_000), Some(64 * MIB), Some(2000))
            .unwrap();
        assert_eq!(
            (l.fuel, l.memory_bytes, l.timeout_ms),
            (50_000_000, 64 * MIB, 2000)
        );
        let e = Limits::default()
            .with_overrides(Some(0), None, None)
            .unwrap_err();
        assert_eq!(e.code, codes::MATCHER_LIMIT);
        let e = Limits::default()
            .with_overrides(None, Some(2048 * MIB), None)
            .unwrap_err();
        assert_eq!(
            e.message,
            "matcher memory limit `2048MiB` is above the maximum `1024MiB`"
        );
        let e = Limits::default()
            .with_overrides(None, Some(1000), None)
            .unwrap_err();
        assert_eq!(e.code, codes::MATCHER_LIMIT);
    }
}
