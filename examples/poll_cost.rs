//! Poll-cost simulation: how many polls a job costs and how late its end is noticed, for the
//! adaptive wait and for fixed intervals, over a spread of job durations from seconds to an hour;
//! and the same adaptive wait as a poll chain on EventBridge Scheduler (`"loop": "scheduler"`).
//!
//! `cargo run --example poll_cost` prints the table README.md quotes;
//! `cargo run --example poll_cost -- grid` also searches WAIT_AGE_PERCENT / MAX_WAIT_SECONDS.

use std::time::Duration;

use quicksight_snapshot_poller::WaitPolicy;

/// A Lambda poll plus the Step Functions transitions around it take about this long.
const POLL_OVERHEAD_SECONDS: f64 = 0.3;
const DEADLINE: Duration = Duration::from_secs(4 * 3600);
/// What one poll costs in a Standard workflow: three state transitions (Poll, Done?, Wait) at
/// $0.025 per 1,000, plus a Lambda request at $0.20 per million (a 128 MB, few-ms run adds
/// about $0.00000001 more).
const USD_PER_POLL: f64 = 3.0 * 0.000_025 + 0.000_000_2;
/// What one poll of a chain costs: a scheduled invocation at $1.00 per million (beyond
/// Scheduler's 14 million free a month; CreateSchedule itself is not charged) plus the Lambda
/// request. No state transitions.
const USD_PER_CHAIN_POLL: f64 = 0.000_001 + 0.000_000_2;
/// Scheduler runs a one-time schedule within the minute it names: on average half way in.
const CHAIN_PRECISION_MEAN_SECONDS: f64 = 30.0;

/// Job durations log-uniform from 10 s to 3600 s (most exports take seconds to minutes, a
/// few large PDFs or Excel workbooks an hour), taken at evenly spaced quantiles so the
/// result is the same on every run.
fn durations() -> Vec<f64> {
    let (low, high): (f64, f64) = (10.0, 3600.0);
    let n = 2000;
    (0..n)
        .map(|i| {
            let q = (i as f64 + 0.5) / n as f64;
            (low.ln() + q * (high.ln() - low.ln())).exp()
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Policy {
    Fixed(u64),
    Adaptive(WaitPolicy),
    /// The adaptive wait, run by one-time schedules at whole minutes (src/chain.rs).
    Chain(WaitPolicy),
}

impl Policy {
    fn name(&self) -> String {
        match self {
            Policy::Fixed(s) => format!("fixed {s} s"),
            Policy::Adaptive(p) => format!(
                "adaptive {}% of age, {}-{} s",
                p.age_percent, p.min_seconds, p.max_seconds
            ),
            Policy::Chain(p) => format!(
                "scheduler chain, adaptive {}% of age, {}-{} s",
                p.age_percent, p.min_seconds, p.max_seconds
            ),
        }
    }

    fn usd_per_poll(&self) -> f64 {
        match self {
            Policy::Chain(_) => USD_PER_CHAIN_POLL,
            _ => USD_PER_POLL,
        }
    }

    fn wait(&self, age: f64) -> f64 {
        match self {
            Policy::Fixed(s) => *s as f64,
            Policy::Adaptive(p) | Policy::Chain(p) => {
                p.next_wait(Some(Duration::from_secs_f64(age.max(0.0))), DEADLINE) as f64
            }
        }
    }

    /// Seconds from a poll at `t` (since the start) to the next one.
    fn gap(&self, t: f64) -> f64 {
        match self {
            Policy::Chain(_) => {
                // The schedule names the first whole minute at least the wait (and a minute)
                // ahead; Scheduler runs it within that minute.
                let at = ((t + self.wait(t).max(60.0)) / 60.0).ceil() * 60.0;
                at + CHAIN_PRECISION_MEAN_SECONDS - t
            }
            _ => self.wait(t) + POLL_OVERHEAD_SECONDS,
        }
    }
}

/// Polls until one sees the job finished; returns (polls, seconds between the end and that poll).
fn simulate(policy: Policy, duration: f64) -> (u32, f64) {
    // The first poll runs right after StartDashboardSnapshotJob.
    let mut t = POLL_OVERHEAD_SECONDS;
    let mut polls = 1;
    while t < duration {
        t += policy.gap(t);
        polls += 1;
    }
    (polls, t - duration)
}

struct Row {
    name: String,
    usd_per_poll: f64,
    mean_polls: f64,
    p95_polls: u32,
    mean_delay: f64,
    p95_delay: f64,
    mean_relative_delay: f64,
}

fn evaluate(policy: Policy, jobs: &[f64]) -> Row {
    let mut polls: Vec<u32> = Vec::with_capacity(jobs.len());
    let mut delays: Vec<f64> = Vec::with_capacity(jobs.len());
    let mut relative = 0.0;
    for &d in jobs {
        let (p, delay) = simulate(policy, d);
        polls.push(p);
        delays.push(delay);
        relative += delay / d;
    }
    let n = jobs.len() as f64;
    let mean_polls = polls.iter().map(|&p| p as f64).sum::<f64>() / n;
    let mean_delay = delays.iter().sum::<f64>() / n;
    polls.sort_unstable();
    delays.sort_by(f64::total_cmp);
    let p95 = (jobs.len() * 95) / 100;
    Row {
        name: policy.name(),
        usd_per_poll: policy.usd_per_poll(),
        mean_polls,
        p95_polls: polls[p95],
        mean_delay,
        p95_delay: delays[p95],
        mean_relative_delay: relative / n * 100.0,
    }
}

fn print(rows: &[Row]) {
    println!("| policy | polls per job (mean) | polls (p95) | USD per 1,000 jobs | detection delay s (mean) | delay s (p95) | delay / job duration (mean) |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.1} | {} | {:.2} | {:.1} | {:.1} | {:.1} % |",
            r.name,
            r.mean_polls,
            r.p95_polls,
            r.mean_polls * r.usd_per_poll * 1000.0,
            r.mean_delay,
            r.p95_delay,
            r.mean_relative_delay
        );
    }
}

fn main() {
    let jobs = durations();
    let default = WaitPolicy {
        min_seconds: 5,
        max_seconds: 60,
        age_percent: 20,
    };
    let defaults_row = std::env::var("POLICY")
        .ok()
        .and_then(|s| {
            let v: Vec<u64> = s.split(',').filter_map(|x| x.parse().ok()).collect();
            (v.len() == 3).then(|| WaitPolicy {
                min_seconds: v[0],
                max_seconds: v[1],
                age_percent: v[2],
            })
        })
        .unwrap_or(default);
    let rows: Vec<Row> = [
        Policy::Adaptive(defaults_row),
        Policy::Fixed(5),
        Policy::Fixed(60),
        Policy::Fixed(300),
        Policy::Chain(defaults_row),
    ]
    .into_iter()
    .map(|p| evaluate(p, &jobs))
    .collect();
    println!(
        "{} jobs, durations log-uniform 10 s .. 3600 s, {POLL_OVERHEAD_SECONDS} s per poll\n",
        jobs.len()
    );
    print(&rows);

    if std::env::args().any(|a| a == "grid") {
        println!();
        let mut grid = Vec::new();
        for min in [2, 5, 10] {
            for max in [30, 60, 120, 180, 300] {
                for percent in [10, 15, 20, 25, 30, 40, 50] {
                    grid.push(evaluate(
                        Policy::Adaptive(WaitPolicy {
                            min_seconds: min,
                            max_seconds: max,
                            age_percent: percent,
                        }),
                        &jobs,
                    ));
                }
            }
        }
        print(&grid);
    }
}
