//! Dates like jrnl: a day means the whole local day, phrases people type are understood, the
//! future is refused unless asked for, and back-dated entries say so.

use chrono::{DateTime, Duration, Local, NaiveDate};

use crate::util::{texts, Device};

fn local_of(e: &serde_json::Value) -> DateTime<Local> {
    DateTime::parse_from_rfc3339(e["created_at"].as_str().expect("a date"))
        .expect("RFC 3339")
        .with_timezone(&Local)
}

fn yesterday() -> NaiveDate {
    Local::now().date_naive() - Duration::days(1)
}

/// Alex's journal: one entry now, one yesterday at 21:00, one three days ago.
fn three_days() -> Device {
    let d = Device::new("Alex");
    d.write(&["written now"]);
    d.write(&["--at", "yesterday at 9pm", "yesterday evening"]);
    d.write(&["--at", "3 days ago", "three days back"]);
    d
}

#[test]
fn a_day_means_the_whole_local_day_for_since_until_and_on() {
    let d = three_days();
    assert_eq!(texts(&d.list_json(&["--since", "today"])), ["written now"]);
    assert_eq!(
        texts(&d.list_json(&["--on", "yesterday"])),
        ["yesterday evening"]
    );
    let mut until = texts(&d.list_json(&["--until", "yesterday"]));
    until.sort();
    assert_eq!(until, ["three days back", "yesterday evening"]);
    let day = yesterday().format("%Y-%m-%d").to_string();
    assert_eq!(
        texts(&d.list_json(&["--since", &day, "--until", &day])),
        ["yesterday evening"]
    );
    // The export reads days the same way.
    let out = d.ok(&["export", "--on", &day]);
    assert!(out.contains("yesterday evening") && !out.contains("written now"));
    // --on with --since is refused as a usage error, not guessed.
    let out = d.run(&["list", "--on", "today", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn natural_phrases_people_type_are_understood() {
    let d = Device::new("Alex");
    for (typed, text) in [
        ("yesterday at 9pm", "at nine"),
        ("yesterday noon", "at noon"),
        ("2 days ago", "two days back"),
    ] {
        d.write(&["--at", typed, text]);
    }
    let all = d.list_json(&[]);
    let find = |text: &str| {
        local_of(
            all.iter()
                .find(|e| e["text"] == text)
                .unwrap_or_else(|| panic!("{text}")),
        )
    };
    assert_eq!(
        find("at nine").format("%Y-%m-%d %H:%M").to_string(),
        format!("{} 21:00", yesterday())
    );
    assert_eq!(
        find("at noon").format("%Y-%m-%d %H:%M").to_string(),
        format!("{} 12:00", yesterday())
    );
    assert_eq!(
        find("two days back").date_naive(),
        Local::now().date_naive() - Duration::days(2)
    );
    let err = d.fails(&["write", "--at", "the day after never", "words"]);
    assert!(err.contains("cannot understand the date"), "{err}");
}

#[test]
fn a_date_in_the_future_is_refused_unless_future_is_given() {
    let d = Device::new("Alex");
    d.write(&["already here"]);
    let before = d.snapshot_files();
    let err = d.fails(&["write", "--at", "9999-12-31", "pinned to the top forever"]);
    assert!(
        err.contains("is in the future") && err.contains("--future"),
        "{err}"
    );
    assert_eq!(d.snapshot_files(), before, "nothing written");
    // A promise kept tomorrow is not a record of anything.
    let promise = d.ok(&["promise", "add", "Call at noon"]).trim().to_owned();
    let err = d.fails(&["promise", "kept", &promise, "--at", "tomorrow"]);
    assert!(err.contains("is in the future"), "{err}");
    // Asked for, it is written.
    d.write(&["--at", "tomorrow 10:00", "--future", "a plan for tomorrow"]);
    assert!(texts(&d.list_json(&[])).contains(&"a plan for tomorrow".to_owned()));
}

#[test]
fn entries_written_well_after_their_date_say_so_in_the_list() {
    let d = three_days();
    let list = d.ok(&["list"]);
    let line_of = |text: &str| {
        let lines: Vec<&str> = list.lines().collect();
        let at = lines.iter().position(|l| l.contains(text)).expect(text);
        lines[at - 1].to_owned()
    };
    assert!(
        line_of("three days back").contains("(written 3 days later)"),
        "{list}"
    );
    assert!(!line_of("written now").contains("later"), "{list}");
}
