//! The emulator's whole memory: jobs, defaults, global faults, throttling and call counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::faults::{FaultList, Operation};
use crate::identity::Identities;
use crate::jobs::{Job, JobKey, Timeline};
use crate::throttle::Throttle;
use crate::users::Directory;

pub struct Emulator {
    region: String,
    state: Mutex<State>,
    /// Who signed a request (the registered-user rule).
    pub identities: Identities,
}

#[derive(Debug, Default)]
pub struct State {
    pub jobs: BTreeMap<JobKey, Job>,
    /// Timeline of jobs created by StartDashboardSnapshotJob.
    pub defaults: Timeline,
    /// Faults that apply to every job, checked after the job's own.
    pub faults: FaultList,
    pub latency: Duration,
    pub throttle: Throttle,
    pub calls: CallCounters,
    /// Registered users, and the identity contexts issued for them.
    pub directory: Directory,
    /// How many identity contexts `GetIdentityContext` issued.
    pub identity_contexts: u64,
    /// Access keys of sessions assumed with a user's context (through `sts`), and the user.
    pub sessions: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounters {
    pub total: u64,
    pub start: u64,
    pub describe: u64,
    pub result: u64,
    /// Calls answered with ThrottlingException, by the rate limit or by an injected fault.
    pub throttled: u64,
}

impl CallCounters {
    pub fn record(&mut self, operation: Operation) {
        self.total += 1;
        match operation {
            Operation::Start => self.start += 1,
            Operation::Describe => self.describe += 1,
            Operation::Result => self.result += 1,
        }
    }
}

impl State {
    /// Jobs that hold one of the account's concurrent-job slots.
    pub fn unfinished_jobs(&self, account: &str) -> usize {
        self.jobs
            .values()
            .filter(|job| job.key.account == account && !job.status().is_terminal())
            .count()
    }
}

impl Emulator {
    pub fn new(region: impl Into<String>) -> Arc<Emulator> {
        Emulator::with_identities(region, Identities::by_access_key())
    }

    /// An emulator that names callers through `identities`.
    pub fn with_identities(region: impl Into<String>, identities: Identities) -> Arc<Emulator> {
        Arc::new(Emulator {
            region: region.into(),
            state: Mutex::new(State::default()),
            identities,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The state lock. A handler that panicked while holding it leaves the state as consistent as
    /// any single mutation, so the poison flag is ignored rather than taking every later call down.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets jobs, users, faults and counters. Identity contexts already issued, and the
    /// sessions assumed with them, stay valid until they expire, as a token outlives any job:
    /// a warm poller still holds them.
    pub fn reset(&self) {
        let mut state = self.lock();
        let issued = state.directory.take_issued();
        let sessions = std::mem::take(&mut state.sessions);
        *state = State::default();
        state.directory.restore_issued(issued);
        state.sessions = sessions;
    }
}
