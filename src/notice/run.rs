//! A reports run's one notice: its summary (counts, the failed reports by label and reason,
//! where the results are) and who ran it. The results file's download link is in the notice
//! only, never in the summary the state machine keeps.

use serde_json::{json, Value};

use crate::contract::{RunExecution, RunSummary};

/// What a run's notice carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RunNotice {
    /// How the run ended.
    pub summary: RunSummary,
    /// The run's execution.
    pub execution: RunExecution,
    /// A download link of the results file, when links are on.
    pub link: Option<String>,
}

impl RunNotice {
    /// The notice for machines: `source`, the execution, and the summary, whose `resultsUrl`
    /// is the download link when there is one.
    pub fn json(&self) -> String {
        let mut summary = serde_json::to_value(&self.summary).unwrap_or_default();
        if let (Some(summary), Some(link)) = (summary.as_object_mut(), &self.link) {
            summary.insert("resultsUrl".into(), Value::from(link.as_str()));
        }
        json!({
            "source": "reports-run",
            "execution": self.execution.execution,
            "executionName": self.execution.execution_name,
            "stateMachine": self.execution.state_machine,
            "summary": summary,
        })
        .to_string()
    }

    /// The notice as a person reads it.
    pub fn text(&self) -> String {
        let summary = &self.summary;
        let counts = &summary.counts;
        let mut text = format!(
            "{}\n\n\
             Reports:     {}\n\
             Succeeded:   {}\n\
             Failed:      {}\n\
             Timed out:   {}\n\
             Run key:     {}\n",
            summary.subject,
            summary.reports,
            counts.succeeded,
            counts.failed,
            counts.timed_out,
            summary.run_key,
        );
        if let Some(execution) = &self.execution.execution {
            text.push_str(&format!("Execution:   {execution}\n"));
        }
        if let Some(results) = &summary.results {
            text.push_str(&format!("Results:     {results}\n"));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("  download:  {link}\n"));
        }
        if !summary.failed.is_empty() {
            text.push_str("\nDid not succeed:\n");
            for report in &summary.failed {
                text.push_str(&format!(
                    "  - #{} {}: {}\n",
                    report.index,
                    report.label.as_deref().unwrap_or("(no label)"),
                    report.error
                ));
            }
            if summary.more_failed > 0 {
                text.push_str(&format!(
                    "  ... and {} more (see the results file)\n",
                    summary.more_failed
                ));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Counts, FailedReport, Status};
    use crate::notice::Notice;

    fn run_notice(link: Option<&str>) -> RunNotice {
        RunNotice {
            summary: RunSummary {
                status: Status::Failed,
                run_key: "ab".repeat(32),
                reports: 3,
                counts: Counts {
                    succeeded: 2,
                    failed: 1,
                    ..Counts::default()
                },
                failed: vec![FailedReport {
                    index: 1,
                    label: Some("emea".into()),
                    job_arn: None,
                    status: Status::Failed,
                    error: "NotStarted".into(),
                }],
                more_failed: 0,
                subject: "Reports run abababababab: 1 of 3 did not succeed".into(),
                results: Some("s3://reports/results/abab.json".into()),
                notification: None,
            },
            execution: RunExecution {
                execution: Some("arn:aws:states:us-east-1:1:execution:r:x".into()),
                ..RunExecution::default()
            },
            link: link.map(str::to_owned),
        }
    }

    #[test]
    fn a_runs_notice_names_the_failed_reports_and_where_the_results_are() {
        let notice = Notice::of_run(run_notice(Some("https://signed.example/r")));
        assert_eq!(
            notice.subject,
            "Reports run abababababab: 1 of 3 did not succeed"
        );
        assert_eq!(notice.group_id, "ab".repeat(32));
        let json: Value = serde_json::from_str(&notice.json()).expect("JSON");
        assert_eq!(json["source"], "reports-run");
        assert_eq!(json["summary"]["failed"][0]["label"], "emea");
        assert_eq!(json["summary"]["results"], "s3://reports/results/abab.json");
        assert_eq!(json["summary"]["resultsUrl"], "https://signed.example/r");
        let text = notice.text();
        assert!(text.contains("#1 emea: NotStarted"), "{text}");
        assert!(
            text.contains("download:  https://signed.example/r"),
            "{text}"
        );
    }

    #[test]
    fn a_runs_notice_without_links_carries_none() {
        let notice = Notice::of_run(run_notice(None));
        assert!(!notice.json().contains("resultsUrl"));
        assert!(!notice.text().contains("download"));
        assert_eq!(
            notice.dedup_id,
            Notice::of_run(run_notice(Some("x"))).dedup_id,
            "one notice per run, with or without a link"
        );
    }
}
