//! A local emulator of the Amazon QuickSight dashboard snapshot-job API (StartDashboardSnapshotJob,
//! DescribeDashboardSnapshotJob, DescribeDashboardSnapshotJobResult, and GetIdentityContext for
//! registered users, with an STS front that remembers which session acts as which user), speaking restJson1 closely
//! enough for the AWS SDKs, with scripted job timelines and fault injection for tests.

pub mod cli;
pub mod control;
pub mod faults;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod operations;
pub mod routes;
pub mod server;
pub mod shapes;
pub mod state;
pub mod sts;
pub mod throttle;
pub mod users;
pub mod wire;

pub use server::Server;
pub use state::Emulator;
