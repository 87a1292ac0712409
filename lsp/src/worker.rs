//! The verifier's thread: findings (SMT) for an entry's compiled program,
//! off the thread that answers the editor. Jobs queued for the same entry
//! while one runs are collapsed to the newest; a job's result carries the
//! generation it was computed for, so the server drops findings for a
//! text that has changed since.

use crossbeam_channel::{Receiver, Sender};
use pol_lang::diag::Diagnostic;
use pol_lang::Compilation;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Job {
    /// The entry (its document's URI).
    pub key: String,
    pub generation: u64,
    pub compilation: Arc<Compilation>,
}

pub struct Done {
    pub key: String,
    pub generation: u64,
    pub findings: Vec<Diagnostic>,
}

/// Start the thread; it ends when the job channel closes.
pub fn start(opts: pol_verifier::Options) -> (Sender<Job>, Receiver<Done>) {
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        while let Ok(first) = job_rx.recv() {
            let mut pending: BTreeMap<String, Job> = BTreeMap::new();
            pending.insert(first.key.clone(), first);
            while let Ok(j) = job_rx.try_recv() {
                pending.insert(j.key.clone(), j);
            }
            for (_, job) in pending {
                let Some(program) = &job.compilation.program else {
                    continue;
                };
                let findings =
                    pol_verifier::verify_with_origins(program, &job.compilation.sources, &opts);
                if done_tx
                    .send(Done {
                        key: job.key,
                        generation: job.generation,
                        findings,
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    (job_tx, done_rx)
}
