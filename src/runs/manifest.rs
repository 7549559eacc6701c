//! A reports run's manifest as the function reads it: each report's label, and what makes a
//! request one StartJob cannot send. A manifest is a JSON array of requests, or CSV with a
//! header row and a column per field (the nested `SnapshotConfiguration` and
//! `UserConfiguration` as JSON text). Nothing else of a request is kept: its tag values stay in
//! the manifest.

use serde_json::{Map, Value};

use crate::error::Error;

/// The fields StartJob reads from a report's request (the poller's `Start?` checks them).
pub const REQUIRED: [&str; 4] = [
    "AwsAccountId",
    "DashboardId",
    "SnapshotConfiguration",
    "UserConfiguration",
];
/// The fields a CSV row gives as JSON text.
const NESTED: [&str; 2] = ["SnapshotConfiguration", "UserConfiguration"];
/// The longest label kept.
const LABEL_MAX: usize = 256;

/// How a manifest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of requests.
    Json,
    /// CSV, its first row the field names.
    Csv,
}

impl Format {
    /// A manifest whose first character (after blanks) opens a JSON array is JSON; anything
    /// else is read as CSV.
    pub fn of(bytes: &[u8]) -> Format {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Format::Json,
            _ => Format::Csv,
        }
    }

    /// As the state machine's ItemReader names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Csv => "CSV",
        }
    }
}

/// One report of a manifest, as far as the function reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Its `label`, when it has one.
    pub label: Option<String>,
    /// Why StartJob cannot send it, naming the field (`DashboardId is missing`).
    pub invalid: Option<String>,
}

/// Reads a manifest's reports, in order. A manifest that is not a JSON array of objects, or
/// CSV with a header row, is refused as `InvalidManifest`, naming what is wrong.
pub fn read(bytes: &[u8]) -> Result<(Format, Vec<Report>), Error> {
    let format = Format::of(bytes);
    let reports = match format {
        Format::Json => {
            let items: Vec<Value> = serde_json::from_slice(bytes).map_err(|err| {
                Error::InvalidManifest(format!("the manifest is not a JSON array: {err}"))
            })?;
            items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::Object(object) => Ok(of_json(object)),
                    _ => Err(Error::InvalidManifest(format!(
                        "report {index} of the manifest is not a JSON object"
                    ))),
                })
                .collect::<Result<_, _>>()?
        }
        Format::Csv => of_csv(bytes)?,
    };
    Ok((format, reports))
}

/// A request given as JSON (an inline manifest's item, a JSON manifest's).
pub fn of_json(object: &Map<String, Value>) -> Report {
    Report {
        label: object.get("label").and_then(Value::as_str).map(label),
        invalid: REQUIRED
            .into_iter()
            .find(|field| !object.contains_key(*field))
            .map(|field| format!("{field} is missing")),
    }
}

fn label(text: &str) -> String {
    crate::text::truncate(text, LABEL_MAX).into_owned()
}

/// The reports of a CSV manifest: a header row, then a row per report. An empty cell is a
/// missing field; a nested field's cell must hold a JSON object.
fn of_csv(bytes: &[u8]) -> Result<Vec<Report>, Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::InvalidManifest("the CSV manifest is not UTF-8".into()))?;
    let mut rows = csv_rows(text.strip_prefix('\u{feff}').unwrap_or(text))?.into_iter();
    let header = rows
        .next()
        .ok_or_else(|| Error::InvalidManifest("the CSV manifest is empty".into()))?;
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let label_at = column("label");
    // The run reads each row by its header: a column it lacks would fail every row.
    let fields = REQUIRED
        .iter()
        .map(|field| match column(field) {
            Some(at) => Ok((*field, at)),
            None => Err(Error::InvalidManifest(format!(
                "the CSV manifest has no {field} column (its first row names the fields)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    rows.filter(|row| !(row.len() == 1 && row[0].is_empty()))
        .enumerate()
        .map(|(index, row)| {
            let cell = |at: usize| row.get(at).map(String::as_str).filter(|c| !c.is_empty());
            // The run turns a nested cell into JSON as it reads the row, and a cell that is not
            // JSON would fail the whole run there, not the row: it is refused here, first.
            for (field, at) in &fields {
                if let Some(text) = cell(*at).filter(|_| NESTED.contains(field)) {
                    if !is_json_object(text) {
                        return Err(Error::InvalidManifest(format!(
                            "report {index} of the CSV manifest: {field} is not a JSON object"
                        )));
                    }
                }
            }
            Ok(Report {
                label: label_at.and_then(cell).map(label),
                invalid: fields
                    .iter()
                    .find(|(_, at)| cell(*at).is_none())
                    .map(|(field, _)| format!("{field} is missing")),
            })
        })
        .collect()
}

fn is_json_object(text: &str) -> bool {
    matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)))
}

/// RFC 4180 rows: fields separated by commas, a quoted field may hold commas, line breaks and
/// doubled quotes; rows end with LF or CRLF.
fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, Error> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(Error::InvalidManifest(
            "the CSV manifest ends inside a quoted field".into(),
        ));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "label,AwsAccountId,DashboardId,SnapshotConfiguration,UserConfiguration\r\n\
        emea,123456789012,d1,\"{\"\"FileGroups\"\": []}\",\"{\"\"AnonymousUsers\"\": [{\"\"RowLevelPermissionTags\"\": [{\"\"Key\"\": \"\"t\"\", \"\"Value\"\": \"\"a,b\"\"}]}]}\"\r\n\
        apac,123456789012,,{},{}\r\n\
        \"amer, north\",123456789012,d1,{},\r\n";

    #[test]
    fn a_csv_manifest_gives_each_rows_label_and_the_field_it_lacks() {
        let (format, reports) = read(CSV.as_bytes()).expect("reads");
        assert_eq!(format, Format::Csv);
        assert_eq!(
            reports,
            [
                Report {
                    label: Some("emea".into()),
                    invalid: None
                },
                Report {
                    label: Some("apac".into()),
                    invalid: Some("DashboardId is missing".into())
                },
                Report {
                    label: Some("amer, north".into()),
                    invalid: Some("UserConfiguration is missing".into())
                },
            ]
        );
    }

    #[test]
    fn a_json_manifest_gives_each_requests_label_and_the_field_it_lacks() {
        let manifest = br#" [{"label": "emea", "AwsAccountId": "1", "DashboardId": "d",
            "SnapshotConfiguration": {}, "UserConfiguration": {}}, {"AwsAccountId": "1"}]"#;
        let (format, reports) = read(manifest).expect("reads");
        assert_eq!(format, Format::Json);
        assert_eq!(reports[0].label.as_deref(), Some("emea"));
        assert_eq!(reports[0].invalid, None);
        assert_eq!(reports[1].label, None);
        assert_eq!(
            reports[1].invalid.as_deref(),
            Some("DashboardId is missing")
        );
    }

    #[test]
    fn an_unusable_manifest_is_refused_naming_why() {
        for (manifest, says) in [
            (&b"[1, 2"[..], "not a JSON array"),
            (b"[1]", "report 0 of the manifest is not a JSON object"),
            (b"", "empty"),
            (b"label\n\"open", "inside a quoted field"),
            (b"\xff\xfe", "not UTF-8"),
            (b"label,AwsAccountId\nx,1\n", "no DashboardId column"),
            (
                b"AwsAccountId,DashboardId,SnapshotConfiguration,UserConfiguration\n1,d,{},{}\n1,d,{x,{}\n",
                "report 1 of the CSV manifest: SnapshotConfiguration is not a JSON object",
            ),
        ] {
            let err = read(manifest).unwrap_err();
            assert_eq!(err.error_type(), "InvalidManifest");
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
