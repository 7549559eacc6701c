//! Polls an Amazon QuickSight dashboard snapshot job and answers with a normalized status a
//! Step Functions Choice state can branch on; notifies (SNS) when the job fails.
//!
//! `main.rs` reads the [`Config`], builds an [`App`] once per cold start ([`setup`]) and hands
//! it every invocation. One job's path to QuickSight is three calls deep: `App::handle` →
//! `App::answer` → `Poller::poll` → `Poller::observe`. How an invocation flows through the
//! modules:
//!
//! | step | module |
//! |---|---|
//! | the event's size, then its shape: one job, a batch, an EventBridge envelope | `event`, `reference`, `carried` |
//! | the gate: the event's and answer's sizes, the allow-lists, the callers; one metrics line per invocation | `gate`, `app`, `metrics` |
//! | one job: describe, result, its output (`status`), the wait before the next poll (`wait`), notice, event | `poller`, `quicksight`, `status`, `wait` |
//! | every loop's cap: the most polls an execution's history holds, checked at cold start | `loop_cap` |
//! | whom a job may be polled as; polling as a `roleArn` and a named user (STS, `GetIdentityContext`) | `callers`, `roles`, `users`, `secret` |
//! | the next poll of a `"loop": "scheduler"` chain (EventBridge Scheduler) | `chain` |
//! | many jobs: paced calls, rounds, a failed poll's rule (`batch/failure.rs`), the aggregate answer; a batch's settings are `BatchLimits` (`batch/limits.rs`) | `batch`, `pace` |
//! | the notice: whether one is due, its text (`notice/message.rs`), its channel (SNS); download links | `notice`, `presign` |
//! | one EventBridge event per finished job ("Snapshot Job Finished"), its detail | `job_event` |
//! | one notice and one event per job outcome: the claim, the id, the run history (DynamoDB) | `ledger` |
//! | a reports run: its job known by its id (its end recorded under the run), the manifest surveyed (JSON or CSV, the item cap), the summary, its results file in S3 and its one notice | `runs` (`item`, `manifest`, `store`, `summary`), `ledger`, `notice` |
//! | what goes out: the output contract, what a loop passes back of it, the errorTypes (one table) | [`contract`], [`Error`], `error_types` |
//! | how a failed AWS call reads, for every service: the caller's credentials, one line | `sdk_error` |
//! | the settings table, the environment read into one part per consumer, SDK clients, TLS | `settings`, `config`, [`setup`], `http` |
//! | each consumer's own settings: the SDK's (`setup`), the gate's, the poll policy, a batch's limits, the ledger's, the events', a chain's | `setup`, `gate`, `poll_policy`, `batch`, `ledger`, `job_event`, `chain` |
//! | ids and ARNs, bounded text | `arn`, `text` |
//! | the same binary at a terminal | [`local`] |
#![warn(missing_docs)]

mod app;
mod arn;
mod batch;
mod callers;
mod carried;
mod chain;
mod config;
pub mod contract;
mod error;
mod error_types;
mod event;
mod gate;
mod http;
mod job_event;
mod ledger;
pub mod local;
mod loop_cap;
mod metrics;
mod notice;
mod pace;
mod poll_policy;
mod poller;
mod presign;
mod quicksight;
mod reference;
mod roles;
mod runs;
mod sdk_error;
mod secret;
mod settings;
pub mod setup;
mod status;
mod text;
mod users;
mod wait;

pub use app::App;
pub use chain::{Chain, ChainSettings};
pub use config::{Config, Destination, Notices};
pub use contract::PollOutput;
pub use error::Error;
pub use ledger::LedgerSettings;
pub use metrics::{catalogue as metrics_catalogue, Sink};
pub use notice::{Channel, Notice, Notifier, SnsChannel};
pub use presign::{presign, Presigner};
pub use quicksight::QuickSightClients;
pub use reference::{
    parse_invocation, BatchItem, BatchRequest, Invocation, JobReference, PollRequest,
};
pub use roles::Roles;
/// What an invocation's event is read as; public for the property tests of `tests/`.
pub use settings::catalogue as settings_catalogue;
pub use wait::WaitPolicy;
