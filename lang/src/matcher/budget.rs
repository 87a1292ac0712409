//! The matcher budget of one `polc` run: the fuel and wall-clock time all
//! matcher work may spend together, whatever the per-call limits say. Without
//! it, N calls that each run to their own limit cost N times that limit.
//!
//! One [`RunBudget`] is shared (cloning shares it) by every sandbox of the
//! run. Each call gets the smaller of its own limits and what is left; a
//! call stopped because the budget ran out is reported as `P0616`, and
//! every call or module load after that as `P0617` ("not run"), never as
//! a silent success. Compile time is charged to the time budget too.

use super::limits::{format_ms, Limits};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What all matcher work of one run may spend together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Fuel units burnt by all calls together.
    pub fuel: u64,
    /// Wall-clock time of all calls and compilations together, in milliseconds.
    pub time_ms: u64,
}

/// Ten calls' worth of the default per-call limits: far above what real
/// matchers use (the examples run in under 100,000 fuel), and it caps a
/// policy full of runaway calls at about ten seconds of CI time.
pub const DEFAULT_BUDGET: Budget = Budget {
    fuel: 1_000_000_000,
    time_ms: 10_000,
};

impl Default for Budget {
    fn default() -> Self {
        DEFAULT_BUDGET
    }
}

impl Budget {
    /// `1000000000 fuel units and 10s`, for messages.
    pub fn text(&self) -> String {
        format!(
            "{} fuel units and {} of wall-clock time",
            self.fuel,
            format_ms(self.time_ms)
        )
    }
}

/// The shared account of one run. `Clone` shares it.
#[derive(Clone, Debug, Default)]
pub struct RunBudget(Arc<Mutex<Account>>);

#[derive(Debug, Default)]
struct Account {
    budget: Budget,
    fuel_used: u64,
    time_used: Duration,
    /// The call that used the budget up, for the notes of skipped calls.
    used_up_by: Option<String>,
}

/// What a call may still use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remaining {
    pub fuel: u64,
    pub time_ms: u64,
}

impl Remaining {
    pub fn is_used_up(&self) -> bool {
        self.fuel == 0 || self.time_ms == 0
    }

    /// `own` lowered to what is left.
    pub fn lower(&self, own: &Limits) -> Limits {
        Limits {
            fuel: own.fuel.min(self.fuel),
            timeout_ms: own.timeout_ms.min(self.time_ms),
            ..*own
        }
    }
}

impl RunBudget {
    pub fn new(budget: Budget) -> RunBudget {
        RunBudget(Arc::new(Mutex::new(Account {
            budget,
            ..Account::default()
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Account> {
        // A poisoned lock still holds consistent counters (plain additions).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn budget(&self) -> Budget {
        self.lock().budget
    }

    /// Fuel units burnt so far.
    pub fn fuel_used(&self) -> u64 {
        self.lock().fuel_used
    }

    pub fn remaining(&self) -> Remaining {
        let a = self.lock();
        let time_used = u64::try_from(a.time_used.as_millis()).unwrap_or(u64::MAX);
        Remaining {
            fuel: a.budget.fuel.saturating_sub(a.fuel_used),
            time_ms: a.budget.time_ms.saturating_sub(time_used),
        }
    }

    /// Charge what a call or a compilation spent. The first charge that
    /// leaves nothing records `by` as what used the budget up.
    pub fn charge(&self, fuel: u64, time: Duration, by: impl FnOnce() -> String) {
        let used_up = {
            let mut a = self.lock();
            a.fuel_used = a.fuel_used.saturating_add(fuel);
            a.time_used = a.time_used.saturating_add(time);
            a.used_up_by.is_none()
        };
        if used_up && self.remaining().is_used_up() {
            self.lock().used_up_by = Some(by());
        }
    }

    /// What used the budget up (`a call of `loop.wat` with `["x"]``).
    pub fn used_up_by(&self) -> Option<String> {
        self.lock().used_up_by.clone()
    }
}
