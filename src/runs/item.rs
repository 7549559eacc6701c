//! A report of a reports run (statemachine/reports.asl.json). The run names each item's job
//! `run-<run key>-<index>` (the run key: 64 hex digits, a SHA-256), so the function knows a run's
//! job from the job alone: the state machine hands a poll nothing else. Such a job's notice is
//! the run's to give (one summary) unless `REPORT_ITEM_NOTICES` is on, and its end is recorded in
//! the ledger under the run, for that summary.

/// The prefix of a run item's job id.
const PREFIX: &str = "run-";
/// A run key is a SHA-256, in hex.
const KEY_LEN: usize = 64;

/// Which run, and which of its items, a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunItem<'a> {
    /// The run key.
    pub run: &'a str,
    /// The item's place in the run's manifest, from 0.
    pub index: u32,
}

impl<'a> RunItem<'a> {
    /// The run item a job id names, if it names one.
    pub fn of(job_id: &'a str) -> Option<Self> {
        let rest = job_id.strip_prefix(PREFIX)?;
        let (run, index) = rest.split_once('-')?;
        let is_key = run.len() == KEY_LEN
            && run
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let is_index = (1..=9).contains(&index.len()) && index.bytes().all(|b| b.is_ascii_digit());
        if !is_key || !is_index {
            return None;
        }
        Some(RunItem {
            run,
            index: index.parse().ok()?,
        })
    }

    /// The ledger's partition of the run's records (the `history` index's `kind`).
    pub fn kind(&self) -> String {
        format!("run/{}", self.run)
    }

    /// The ledger item of this item's record.
    pub fn key(&self) -> String {
        format!("run/{}/{}", self.run, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_run_job_id_names_its_run_and_item() {
        let id = format!("run-{KEY}-24");
        let item = RunItem::of(&id).expect("a run item");
        assert_eq!((item.run, item.index), (KEY, 24));
        assert_eq!(item.kind(), format!("run/{KEY}"));
        assert_eq!(item.key(), format!("run/{KEY}/24"));
    }

    #[test]
    fn other_job_ids_are_not_run_items() {
        for id in [
            "daily-export-2026-11-28".to_owned(),
            format!("run-{KEY}"),
            format!("run-{KEY}-"),
            format!("run-{KEY}-x1"),
            format!("run-{}-1", &KEY[1..]),
            format!("run-{}-1", KEY.to_uppercase()),
            format!("run-{KEY}-1234567890"),
            format!("RUN-{KEY}-1"),
        ] {
            assert_eq!(RunItem::of(&id), None, "{id}");
        }
    }
}
