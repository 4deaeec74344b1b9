//! Export and import formats: Mend's own JSON (lossless) and jrnl's JSON export.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{normalize_tag, Entry, JournalError, Person};

pub const MEND_EXPORT_FORMAT: &str = "mend-export";
pub const MEND_EXPORT_VERSION: u32 = 1;
/// An import may hold at most this many entries.
pub const IMPORT_MAX_ENTRIES: usize = 1_000_000;

/// Mend's own export: every field of every entry, so that an import restores it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MendExport {
    pub format: String,
    pub version: u32,
    pub journal_id: String,
    pub exported_at: DateTime<Utc>,
    pub people: Vec<Person>,
    pub entries: Vec<Entry>,
}

impl MendExport {
    pub fn new(
        journal_id: String,
        exported_at: DateTime<Utc>,
        people: Vec<Person>,
        entries: Vec<Entry>,
    ) -> Self {
        Self {
            format: MEND_EXPORT_FORMAT.into(),
            version: MEND_EXPORT_VERSION,
            journal_id,
            exported_at,
            people,
            entries,
        }
    }
}

/// What `jrnl --export json` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct JrnlExport {
    pub entries: Vec<JrnlEntry>,
}

/// One jrnl entry: the title (first sentence) and body are split, date and time are separate,
/// tags keep their `@`, and `starred` is set by a leading `*`.
#[derive(Debug, Clone, Deserialize)]
pub struct JrnlEntry {
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub date: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub starred: bool,
}

impl JrnlEntry {
    /// The whole text: title and body joined as jrnl shows them.
    pub fn text(&self) -> String {
        let title = self.title.trim();
        let body = self.body.trim();
        match (title.is_empty(), body.is_empty()) {
            (_, true) => title.to_owned(),
            (true, false) => body.to_owned(),
            (false, false) if body.contains('\n') => format!("{title}\n{body}"),
            (false, false) => format!("{title} {body}"),
        }
    }

    /// Tags without `@`, lowercase; a starred entry also gets the tag `starred`.
    pub fn normalized_tags(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tags {
            if let Some(t) = normalize_tag(t) {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        if self.starred && !out.iter().any(|t| t == "starred") {
            out.push("starred".into());
        }
        out
    }

    /// The local date and time the entry is about.
    pub fn local_datetime(&self) -> Result<NaiveDateTime, JournalError> {
        let date = NaiveDate::parse_from_str(self.date.trim(), "%Y-%m-%d")
            .map_err(|_| JournalError::UnknownImport(format!("bad jrnl date {:?}", self.date)))?;
        let time = match self.time.trim() {
            "" => NaiveTime::MIN,
            t => NaiveTime::parse_from_str(t, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
                .map_err(|_| JournalError::UnknownImport(format!("bad jrnl time {t:?}")))?,
        };
        Ok(date.and_time(time))
    }
}

/// A file to import, by format.
#[derive(Debug)]
pub enum ImportFile {
    Mend(MendExport),
    Jrnl(JrnlExport),
}

impl ImportFile {
    pub fn len(&self) -> usize {
        match self {
            ImportFile::Mend(m) => m.entries.len(),
            ImportFile::Jrnl(j) => j.entries.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Recognise and parse an export: Mend's own (`"format": "mend-export"`) or jrnl's.
pub fn parse_import(bytes: &[u8]) -> Result<ImportFile, JournalError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| JournalError::UnknownImport(format!("not valid JSON ({e})")))?;
    let bad = |e: serde_json::Error| JournalError::UnknownImport(e.to_string());
    let file = match value.get("format").and_then(|f| f.as_str()) {
        Some(MEND_EXPORT_FORMAT) => {
            let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
            if version != u64::from(MEND_EXPORT_VERSION) {
                return Err(JournalError::UnknownImport(format!(
                    "Mend export version {version}; this build reads version {MEND_EXPORT_VERSION}"
                )));
            }
            // Read in place; if that fails, name the first entry that cannot be read.
            match MendExport::deserialize(&value) {
                Ok(export) => ImportFile::Mend(export),
                Err(e) => {
                    let first_bad =
                        value
                            .get("entries")
                            .and_then(|v| v.as_array())
                            .and_then(|list| {
                                list.iter().enumerate().find_map(|(i, entry)| {
                                    Entry::deserialize(entry)
                                        .err()
                                        .map(|e| format!("entry {} of the file: {e}", i + 1))
                                })
                            });
                    return Err(JournalError::UnknownImport(
                        first_bad.unwrap_or_else(|| e.to_string()),
                    ));
                }
            }
        }
        Some(other) => {
            return Err(JournalError::UnknownImport(format!(
                "unknown format {other:?}"
            )))
        }
        None if value.get("entries").is_some_and(|e| e.is_array()) => {
            ImportFile::Jrnl(serde_json::from_value(value).map_err(bad)?)
        }
        None => {
            return Err(JournalError::UnknownImport(
                "it has neither a Mend \"format\" nor jrnl's \"entries\"".into(),
            ))
        }
    };
    if file.len() > IMPORT_MAX_ENTRIES {
        return Err(JournalError::UnknownImport(format!(
            "{} entries is more than the {IMPORT_MAX_ENTRIES} one import may hold",
            file.len()
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"tags":{"@trust":1},"entries":[
        {"title":"Kept my promise.","body":"@promise @trust","date":"2026-11-25","time":"08:15",
         "tags":["@trust","@promise"],"starred":true},
        {"title":"Long talk.","body":"line one\nline two","date":"2026-11-24","time":"21:30",
         "tags":[],"starred":false}]}"#;

    #[test]
    fn reads_jrnl_exports() {
        let ImportFile::Jrnl(j) = parse_import(SAMPLE.as_bytes()).unwrap() else {
            panic!("expected jrnl");
        };
        assert_eq!(j.entries[0].text(), "Kept my promise. @promise @trust");
        assert_eq!(j.entries[1].text(), "Long talk.\nline one\nline two");
        assert_eq!(
            j.entries[0].normalized_tags(),
            vec!["trust", "promise", "starred"]
        );
        assert_eq!(
            j.entries[0].local_datetime().unwrap().to_string(),
            "2026-11-25 08:15:00"
        );
    }

    #[test]
    fn refuses_other_json() {
        assert!(parse_import(b"{\"format\":\"other\"}").is_err());
        assert!(parse_import(b"[1,2,3]").is_err());
        assert!(parse_import(b"not json").is_err());
        assert!(parse_import(b"{\"format\":\"mend-export\",\"version\":9}").is_err());
        let bad_date = r#"{"entries":[{"title":"x","date":"yesterday","time":"10:00"}]}"#;
        let ImportFile::Jrnl(j) = parse_import(bad_date.as_bytes()).unwrap() else {
            panic!()
        };
        assert!(j.entries[0].local_datetime().is_err());
    }

    #[test]
    fn an_unknown_kind_names_the_entry_that_has_it() {
        let entry = |kind: &str| {
            serde_json::json!({
                "id": "0123456789abcdef0123456789abcdef", "author": "Alex",
                "author_id": "a".repeat(32), "created_at": "2026-01-01T00:00:00Z",
                "written_at": "2026-01-01T00:00:00Z", "text": "t", "tags": [],
                "kind": kind, "private": false,
            })
        };
        let file = serde_json::json!({
            "format": MEND_EXPORT_FORMAT, "version": MEND_EXPORT_VERSION,
            "journal_id": "00", "exported_at": "2026-01-01T00:00:00Z", "people": [],
            "entries": [entry("promise"), entry("promises")],
        });
        match parse_import(file.to_string().as_bytes()) {
            Err(JournalError::UnknownImport(why)) => {
                assert!(
                    why.starts_with("entry 2 of the file: unknown variant `promises`"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        let mut good = file.clone();
        good["entries"][1]["kind"] = "promise-kept".into();
        assert!(matches!(
            parse_import(good.to_string().as_bytes()),
            Ok(ImportFile::Mend(m)) if m.entries[1].kind == crate::Kind::PromiseKept
        ));
    }
}
