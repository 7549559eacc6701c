//! A reports run's records: each report's job end, written under the run when the function
//! sees it (`kind` `run/<run key>` in the `history` index), read back for the run's summary.

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{epoch, history, n, s, Ledger};
use crate::contract::PollOutput;
use crate::error::Error;
use crate::runs::RunItem;

/// What the run's record of one report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The report's job.
    pub job_arn: String,
    /// How its job ended, as the output said it (SUCCEEDED, FAILED, TIMED_OUT).
    pub status: String,
    /// The error type of a job that did not succeed.
    pub error_type: Option<String>,
    /// Where the job's files are (`s3://` URIs).
    pub files: Vec<String>,
}

impl Ledger {
    /// Records how a reports run's job ended, under its run (`run/<run key>/<index>`, in the
    /// `history` index's partition `run/<run key>`), for the run's summary. A repeat of this end
    /// writes the same again.
    pub async fn record_run_item(
        &self,
        output: &PollOutput,
        item: RunItem<'_>,
    ) -> Result<(), Error> {
        let expires = epoch(SystemTime::now() + self.retention);
        let record = history::run_record(output, item)
            .into_iter()
            .chain([("expiresAt", n(expires))])
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        self.client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .send()
            .await
            .map_err(|err| self.classify("PutItem", &err))?;
        Ok(())
    }

    /// The records of run `run_key`'s reports 0..`reports`, by index (None: no record). The
    /// index is read eventually consistent, so an index it lacks is read again from the table
    /// itself, strongly consistent: a report recorded a moment ago is not taken for missing.
    pub async fn run_records(
        &self,
        run_key: &str,
        reports: u32,
    ) -> Result<Vec<Option<RunRecord>>, Error> {
        let mut records: Vec<Option<RunRecord>> = vec![None; reports as usize];
        let mut start = None;
        loop {
            let page = self
                .history_page(&format!("run/{run_key}"), None, start)
                .await?;
            for item in page.items() {
                if let Some((index, record)) = record_of(item) {
                    if let Some(slot) = records.get_mut(index) {
                        *slot = Some(record);
                    }
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        for (index, slot) in records.iter_mut().enumerate() {
            if slot.is_none() {
                let item = self
                    .client()
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(&format!("run/{run_key}/{index}")))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|err| self.classify("GetItem", &err))?;
                *slot = item.item().and_then(record_of).map(|(_, record)| record);
            }
        }
        Ok(records)
    }
}

fn record_of(item: &HashMap<String, AttributeValue>) -> Option<(usize, RunRecord)> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let index = item.get("item")?.as_n().ok()?.parse().ok()?;
    Some((
        index,
        RunRecord {
            job_arn: text("jobArn")?,
            status: text("status")?,
            error_type: text("errorType"),
            files: item
                .get("s3Uris")
                .and_then(|v| v.as_l().ok())
                .map(|uris| {
                    uris.iter()
                        .filter_map(|uri| uri.as_s().ok().cloned())
                        .collect()
                })
                .unwrap_or_default(),
        },
    ))
}
