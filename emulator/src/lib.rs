//! A local emulator of the Amazon QuickSight dashboard snapshot-job API (StartDashboardSnapshotJob,
//! DescribeDashboardSnapshotJob, DescribeDashboardSnapshotJobResult), speaking restJson1 closely
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
pub mod throttle;
pub mod wire;

pub use server::Server;
pub use state::Emulator;
