//! The wall-clock deadline: one thread per `Sandbox`, started on the first
//! call, that sleeps until the armed call's deadline and then increments the
//! engine's epoch, which makes the running store (deadline: one tick) trap
//! with `Interrupt`. Arming and disarming happen under one lock, so a tick is
//! only ever sent while the call it was armed for is still running. Calls
//! that finish in time cost two lock operations, not thread wake-ups. The
//! thread is stopped and joined when the `Sandbox` is dropped.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wasmtime::Engine;

#[derive(Default)]
struct State {
    /// The call being watched: its id and its deadline.
    armed: Option<(u64, Instant)>,
    /// When the thread will wake by itself (`None`: only when notified).
    sleeping_until: Option<Instant>,
    next_id: u64,
    shutdown: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct Watchdog {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

/// Disarms the watchdog when dropped (the call finished, or failed).
pub struct Armed {
    shared: Shared,
    id: u64,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A poisoned lock only means another thread panicked while holding it;
    // the state is still consistent (plain assignments).
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watchdog {
    pub fn start(engine: Engine) -> std::io::Result<Watchdog> {
        let shared: Shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("polc-matcher-watchdog".to_string())
            .spawn(move || run(&theirs, &engine))?;
        Ok(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    /// Watch one call: after `timeout`, interrupt it unless it was disarmed.
    pub fn arm(&self, timeout: Duration) -> Armed {
        let mut st = lock(&self.shared);
        st.next_id += 1;
        let id = st.next_id;
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        st.armed = Some((id, deadline));
        // Wake the thread only if it would otherwise sleep past this deadline:
        // with one timeout for every call it wakes about once per timeout,
        // not twice per call.
        let wake = st.sleeping_until.is_none_or(|t| t > deadline);
        drop(st);
        if wake {
            self.shared.1.notify_all();
        }
        Armed {
            shared: Arc::clone(&self.shared),
            id,
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        if st.armed.is_some_and(|(id, _)| id == self.id) {
            st.armed = None;
        }
        // No wake-up: the thread finds nothing armed (or a later deadline)
        // when its sleep ends.
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared).shutdown = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            // The thread only waits on the condvar; it exits promptly.
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared, engine: &Engine) {
    let mut st = lock(shared);
    loop {
        if st.shutdown {
            return;
        }
        st = match st.armed {
            None => {
                st.sleeping_until = None;
                shared.1.wait(st).unwrap_or_else(|e| e.into_inner())
            }
            Some((_, deadline)) => {
                let now = Instant::now();
                if now >= deadline {
                    engine.increment_epoch();
                    st.armed = None;
                    st
                } else {
                    st.sleeping_until = Some(deadline);
                    shared
                        .1
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            }
        };
    }
}
