//! Polls an Amazon QuickSight dashboard snapshot job once and answers with a normalized status a
//! Step Functions Choice state can branch on; publishes to SNS when the job fails.
//!
//! `main.rs` builds an [`App`] once per cold start and hands it every invocation.

pub mod app;
pub mod arn;
pub mod batch;
pub mod carried;
pub mod config;
pub mod contract;
pub mod error;
pub mod event;
pub mod http;
pub mod local;
pub mod metrics;
pub mod notify;
pub mod presign;
pub mod quicksight;
pub mod reference;
pub mod setup;
pub mod status;
pub mod text;
pub mod wait;

pub use app::App;
pub use config::Config;
pub use contract::PollOutput;
pub use error::Error;
