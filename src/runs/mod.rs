//! Reports runs (statemachine/reports.asl.json): the function's part in them.
//!
//! - `item`: a run's job, known by its id; its end is recorded under the run (the poller).
//! - `survey`: `{"survey": {"reports": ...}}`, before any job starts: how many reports the
//!   manifest has and how it is written, or `InvalidManifest`.
//! - `summary`: `{"summarize": ...}`, at the end: the run's summary from its records, written
//!   as the results file (`store`) and told once (the ledger's `run/<run key>/summary`).
//! - `manifest`: what the function reads of a manifest (labels, invalid requests), JSON or CSV.

mod item;
mod manifest;
mod store;
mod summary;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use item::RunItem;
pub use manifest::Format;
pub use store::{RunStore, S3Place};
pub use summary::{ManifestSource, SummarizeRequest};

use crate::config::Env;
use crate::contract::{RunSummary, Survey};
use crate::error::Error;
use crate::ledger::Ledger;
use crate::notice::{Notifier, RunNotice};
use crate::presign::Presigner;
use crate::settings;

/// The most bytes of an S3 manifest the function reads: 10,000 requests of 1.6 KB, well
/// within a 128 MB function.
const MANIFEST_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// What a reports run may be and where its results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// `RUN_RESULTS`: where results files go; None: nowhere.
    pub results: Option<S3Place>,
    /// `REPORT_MAX_ITEMS`: the most reports one run may have.
    pub max_items: u64,
}

impl RunSettings {
    /// Reads `RUN_RESULTS` and `REPORT_MAX_ITEMS`.
    pub fn read(env: &Env) -> Result<Self, Error> {
        Ok(RunSettings {
            results: S3Place::read_results(env)?,
            max_items: env.number(&settings::REPORT_MAX_ITEMS)?,
        })
    }
}

/// A run's manifest to survey: `{"reports": [...] or {"bucket", "key"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRequest {
    manifest: ManifestSource,
}

impl SurveyRequest {
    /// Reads the `survey` object.
    pub fn parse(value: &Value) -> Result<Self, Error> {
        ManifestSource::parse(value.get("reports"))
            .map(|manifest| SurveyRequest { manifest })
            .ok_or_else(|| {
                Error::InvalidManifest(
                    "reports must be an array of StartDashboardSnapshotJob requests, or \
                     {\"bucket\": B, \"key\": K} naming a JSON array or CSV of them in S3"
                        .into(),
                )
            })
    }
}

/// The function's part in reports runs: the ledger's records of their reports, their objects
/// in S3, the results file's link.
pub struct Runs {
    ledger: Arc<Ledger>,
    store: RunStore,
    settings: RunSettings,
    /// Signs the results file's link, in the function's region.
    presigner: Option<(Presigner, String)>,
}

impl Runs {
    /// Runs whose records are in `ledger` and whose objects are read and written by `store`.
    pub fn new(ledger: Arc<Ledger>, store: RunStore, settings: RunSettings) -> Self {
        Runs {
            ledger,
            store,
            settings,
            presigner: None,
        }
    }

    /// Signs a download link of each results file, for its notice, in `region`.
    pub fn with_presigner(mut self, presigner: Presigner, region: String) -> Self {
        self.presigner = Some((presigner, region));
        self
    }

    /// How many reports a manifest has and how it is written; a manifest that cannot be run
    /// (unreadable, malformed, empty, over `REPORT_MAX_ITEMS`) is `InvalidManifest`.
    pub async fn survey(&self, request: &SurveyRequest) -> Result<Survey, Error> {
        let (format, reports) = match &request.manifest {
            ManifestSource::Inline(reports) => (Format::Json, reports.len()),
            ManifestSource::S3 { bucket, key } => {
                let bytes = self.store.manifest(bucket, key, MANIFEST_MAX_BYTES).await?;
                let (format, reports) = manifest::read(&bytes)?;
                (format, reports.len())
            }
        };
        let max = self.settings.max_items;
        if reports == 0 {
            return Err(Error::InvalidManifest("the manifest has no reports".into()));
        }
        if reports as u64 > max {
            return Err(Error::InvalidManifest(format!(
                "the manifest has {reports} reports, more than REPORT_MAX_ITEMS ({max}) allows \
                 one run"
            )));
        }
        Ok(Survey {
            reports: reports as u32,
            format: format.as_str().to_owned(),
        })
    }

    /// The run's summary: from its records and its manifest, written as its results file, and
    /// told once through `notifier` within `left` (a summary asked again answers the first
    /// notice).
    pub async fn summarize(
        &self,
        request: &SummarizeRequest,
        notifier: Option<&Notifier>,
        left: Duration,
    ) -> Result<RunSummary, Error> {
        let records = self
            .ledger
            .run_records(&request.run_key, request.reports)
            .await?;
        let manifest = self.manifest(request.manifest.as_ref()).await;
        let (mut summary, results) = request.outcome(&records, &manifest);
        summary.results = self.store.write(&results).await?;
        let link = match (&self.presigner, &summary.results) {
            (Some((presigner, region)), Some(uri)) => presigner.link(uri, region).await,
            _ => None,
        };
        if let Some(notifier) = notifier {
            let notice = RunNotice {
                summary: summary.clone(),
                execution: request.execution.clone(),
                link,
            };
            summary.notification = Some(notifier.tell_run(notice, left).await?);
        }
        Ok(summary)
    }

    /// What the manifest says of each report; none when it cannot be read now (the summary
    /// then has no labels, rather than no summary).
    async fn manifest(&self, source: Option<&ManifestSource>) -> Vec<manifest::Report> {
        match source {
            Some(ManifestSource::Inline(reports)) => reports.clone(),
            Some(ManifestSource::S3 { bucket, key }) => {
                match self.store.manifest(bucket, key, MANIFEST_MAX_BYTES).await {
                    Ok(bytes) => manifest::read(&bytes).map(|(_, r)| r).unwrap_or_default(),
                    Err(err) => {
                        tracing::warn!(error = %err, "the manifest could not be read again: the summary names no labels");
                        Vec::new()
                    }
                }
            }
            None => Vec::new(),
        }
    }
}
