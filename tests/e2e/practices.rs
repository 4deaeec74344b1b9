//! The practices between two devices syncing over loopback.

use crate::util::Device;
use crate::util::{pair, Background, LOOPBACK};

fn json(d: &Device, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&d.ok(args)).unwrap()
}

fn entry<'a>(list: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_str().unwrap().starts_with(id))
}

#[test]
fn promises_reassurance_sharing_threads_receipts_and_retraction_across_two_laptops() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let sync = || sam.ok(&["sync", "--peer", &addr]);

    // A promise kept by one and confirmed by the other.
    let p = alex
        .ok(&["promise", "add", "--every", "day", "Call", "at", "noon"])
        .trim()
        .to_owned();
    alex.ok(&["promise", "kept", &p, "--note", "called at 12:02"]);
    sync();
    let err = sam.fails(&["promise", "kept", &p]);
    assert!(err.contains("only the one who promised"), "{err}");
    sam.ok(&["promise", "confirm", &p, "--note", "I saw it"]);
    assert!(alex
        .fails(&["promise", "confirm", &p])
        .contains("your own promise"));
    // A daily promise is kept or missed once a day, and not before it was made.
    let err = alex.fails(&["promise", "missed", &p, "--note", "forgot, and said so"]);
    assert!(err.contains("already recorded for"), "{err}");
    let err = alex.fails(&["promise", "missed", &p, "--at", "yesterday 12:00"]);
    assert!(err.contains("before the promise was made"), "{err}");
    // Confirmed once for the one time it was kept: a second confirmation is not a record.
    let err = sam.fails(&["promise", "confirm", &p]);
    assert!(err.contains("confirmed already"), "{err}");
    sync();
    for d in [&alex, &sam] {
        let records = json(d, &["promise", "list", "--json"]);
        let total = &records[0]["total"];
        assert_eq!(
            (
                total["kept"].as_u64(),
                total["missed"].as_u64(),
                total["confirmed"].as_u64()
            ),
            (Some(1), Some(0), Some(1)),
            "{records}"
        );
        assert!(d
            .ok(&["promise", "list"])
            .contains("1 kept · 0 missed · 1 confirmed"));
    }

    // Reassurance asked on one laptop and answered on the other, visible on both.
    let ask = sam
        .ok(&["reassure", "ask", "Tell", "me", "we", "are", "okay"])
        .trim()
        .to_owned();
    sync();
    let status = json(&alex, &["status", "--json"]);
    assert_eq!(status["open_reassurance"][0]["by"], "Sam", "{status}");
    assert!(alex.ok(&["status"]).contains("Sam asked for reassurance"));
    assert!(alex
        .fails(&["reassure", "give", &p, "ok"])
        .contains("not a request"));
    assert!(sam
        .fails(&["reassure", "give", &ask, "ok"])
        .contains("your own request"));
    assert!(alex
        .fails(&["promise", "confirm", &ask])
        .contains("is not a promise"));
    alex.ok(&[
        "reassure", "give", &ask, "We", "are", "okay.", "I", "am", "here.",
    ]);
    sync();
    for d in [&alex, &sam] {
        let status = json(d, &["status", "--json"]);
        assert_eq!(
            status["open_reassurance"],
            serde_json::json!([]),
            "{status}"
        );
        assert!(d.ok(&["list"]).contains("We are okay. I am here."));
    }

    // A private entry stays off the other laptop until it is shared.
    let draft = sam.write(&["--private", "Something I was not ready to say"]);
    sync();
    assert!(!alex.ok(&["list"]).contains("not ready to say"));
    sam.ok(&["share", &draft]);
    sync();
    let list = json(&alex, &["list", "--json"]);
    let shared = entry(&list, &draft).expect("the shared entry arrived");
    assert!(shared["shared_at"].is_string());
    assert_eq!(shared["private"], false);
    assert_eq!(
        json(&sam, &["list", "--json", "--private"]),
        serde_json::json!([])
    );

    // A reply thread and a receipt.
    alex.ok(&["reply", &draft, "Thank you for telling me."]);
    assert!(json(&alex, &["status", "--json"])["unacknowledged"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().starts_with(&draft)));
    alex.ok(&["ack", &draft, "--note", "I hear you"]);
    assert!(!json(&alex, &["status", "--json"])["unacknowledged"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().starts_with(&draft)));
    assert!(alex.fails(&["ack", &p]).contains("your own entry"));
    sync();
    let timeline = sam.ok(&["list"]);
    let at = timeline.find("Something I was not ready to say").unwrap();
    let thread = &timeline[at..];
    assert!(
        thread.contains("Alex reply") && thread.contains("Thank you for telling me."),
        "{timeline}"
    );
    assert!(thread.contains("Alex heard"), "{timeline}");

    // Retraction: gone from the timeline, still in the history, on both laptops.
    let oops = alex.write(&["Words I regret writing"]);
    alex.ok(&["edit", &oops, "--text", "Words I regret writing, softened"]);
    let out = alex.run(&["delete", "--yes", &oops]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("remain in the journal's history"));
    sync();
    for d in [&alex, &sam] {
        let list = json(d, &["list", "--json"]);
        let e = entry(&list, &oops).unwrap();
        assert_eq!(e["text"], "");
        assert_eq!(e["retracted_by"], "Alex");
        assert!(d.ok(&["list"]).contains("retracted by Alex"));
        let history = json(d, &["history", "--json", &oops]);
        let texts: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            vec![
                "Words I regret writing",
                "Words I regret writing, softened",
                ""
            ],
            "{history}"
        );
        assert!(history[0]["by"].as_str().unwrap().starts_with("Alex on"));
        // Each version names the device whose signature was checked, on both laptops.
        for v in history.as_array().unwrap() {
            assert_eq!(v["signature"], "signature checked", "{v}");
            assert!(v["signed_by"].is_string(), "{v}");
        }
    }
    serve.terminate();
}

#[test]
fn checkins_record_mood_and_feelings() {
    let d = Device::new("Alex");
    d.ok(&[
        "checkin",
        "--mood",
        "4",
        "--feeling",
        "tired",
        "hopeful",
        "--note",
        "A calmer day",
    ]);
    let list = json(&d, &["list", "--json", "--kind", "checkin"]);
    assert_eq!(list[0]["mood"], 4);
    assert_eq!(list[0]["feelings"], serde_json::json!(["tired", "hopeful"]));
    assert!(d
        .ok(&["list"])
        .contains("check-in  mood 4/5  (tired, hopeful)"));
    assert_eq!(d.run(&["checkin", "--mood", "7"]).status.code(), Some(2));
    assert!(d
        .fails(&["checkin", "--mood", "3", "--feeling", "two words"])
        .contains("one word"));
}

#[test]
fn reveal_together_keeps_each_answer_sealed_until_both_have_answered() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let sync = || sam.ok(&["sync", "--peer", &addr]);

    sam.ok(&["together", "communicate-1", "MARKER-sams-answer"]);
    sync();
    let status = json(&alex, &["status", "--json"]);
    assert_eq!(
        status["prompts_waiting"],
        serde_json::json!(["communicate-1"]),
        "{status}"
    );
    // Everything Alex's journal key can open: Sam's words are not in it, only sealed bytes.
    let export = alex.ok(&["export"]);
    assert!(!export.contains("MARKER-sams-answer"));
    let list = json(&alex, &["list", "--json"]);
    let sams = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["author"] == "Sam")
        .unwrap();
    assert_eq!(sams["text"], "");
    assert!(sams["sealed"].as_str().unwrap().len() > 64);
    assert!(!alex.ok(&["list"]).contains("MARKER-sams-answer"));

    // Alex answers: the round is complete, Alex's key is published at once.
    alex.ok(&["together", "communicate-1", "MARKER-alexs-answer"]);
    assert!(
        alex.ok(&["list"]).contains("MARKER-alexs-answer"),
        "one reads one's own answer"
    );
    assert!(
        !alex.ok(&["export"]).contains("MARKER-sams-answer"),
        "Sam has not published yet"
    );
    sync(); // Sam receives Alex's answer and key, then publishes Sam's key
    assert!(sam.ok(&["list"]).contains("MARKER-alexs-answer"));
    sync(); // Alex receives Sam's key
    for d in [&alex, &sam] {
        let text = d.ok(&["export"]);
        assert!(
            text.contains("MARKER-sams-answer") && text.contains("MARKER-alexs-answer"),
            "{text}"
        );
    }
    let sams_id = sams["id"].as_str().unwrap();
    assert!(
        alex.ok(&["show", sams_id]).contains("MARKER-sams-answer"),
        "show opens it too"
    );
    serve.terminate();
}

/// Once both have answered, each answer is listed once, with its prompt: the second answer
/// (which refers to the first) is not shown again under the first, in `list` or `show`.
#[test]
fn reveal_together_shows_each_answer_once_with_its_prompt() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let mut serve = Background::start(&alex, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    let sync = || sam.ok(&["sync", "--peer", &addr]);
    let sams_id = sam.ok(&["together", "communicate-1", "MARKER-first"]);
    sync();
    alex.ok(&["together", "communicate-1", "MARKER-second"]);
    sync();
    sync();
    let question = mend_app::model::prompt("communicate-1").unwrap().question;
    for d in [&alex, &sam] {
        let list = d.ok(&["list"]);
        assert_eq!(list.matches("MARKER-first").count(), 1, "{list}");
        assert_eq!(list.matches("MARKER-second").count(), 1, "{list}");
        assert_eq!(
            list.matches(question.as_str()).count(),
            2,
            "each with its prompt: {list}"
        );
        let shown = d.ok(&["show", sams_id.trim()]);
        assert!(shown.contains("MARKER-first"), "{shown}");
        assert!(!shown.contains("MARKER-second"), "{shown}");
    }
    serve.terminate();
}

#[test]
fn trends_chart_a_generated_year() {
    // Robin and Kai each import their own year (an import writes only as the one importing),
    // on their own paired laptops, and sync.
    let d = Device::new("Robin");
    let kai = Device::uninitialised();
    crate::util::pair(&d, &kai, "Kai");
    let now = chrono::Utc::now();
    let people = [("r".repeat(32), "Robin"), ("k".repeat(32), "Kai")];
    let mut entries = Vec::new();
    for week in 0..52i64 {
        for (p, (id, name)) in people.iter().enumerate() {
            for day in 0..3i64 {
                // Robin's mood climbs through the year; Kai's holds at 3 or 4.
                let mood = if p == 0 {
                    1 + (51 - week) / 13
                } else {
                    3 + (day % 2)
                };
                let at = now - chrono::Duration::weeks(week) - chrono::Duration::minutes(day);
                entries.push(serde_json::json!({
                    "id": format!("c{week:02}{p}{day}{}", "0".repeat(26)),
                    "author": name, "author_id": id,
                    "created_at": at.to_rfc3339(), "written_at": at.to_rfc3339(),
                    "text": "", "tags": [], "mood": mood, "kind": "checkin", "private": false,
                }));
            }
        }
    }
    for (who, name) in [(&d, "Robin"), (&kai, "Kai")] {
        let own: Vec<serde_json::Value> = entries
            .iter()
            .filter(|e| e["author"] == name)
            .cloned()
            .collect();
        let export = serde_json::json!({
            "format": "mend-export", "version": 1, "journal_id": "0",
            "exported_at": now.to_rfc3339(),
            "people": [{"id": people[0].0, "name": "Robin"}, {"id": people[1].0, "name": "Kai"}],
            "entries": own,
        });
        let file = who.dir.path().join("year.json");
        std::fs::write(&file, export.to_string()).unwrap();
        assert!(who
            .ok(&["import", file.to_str().unwrap()])
            .contains("imported 156 entries"));
    }
    let mut serve = crate::util::Background::start(
        &d,
        &["serve", "--listen", crate::util::LOOPBACK, "--no-mdns"],
    );
    let addr = serve.address();
    assert!(kai
        .ok(&["sync", "--peer", &addr])
        .contains("received 156 new entries"));
    serve.terminate();

    let t = json(&d, &["trends", "--weeks", "52", "--json"]);
    let weeks = t["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 52);
    assert_eq!(t["people"], serde_json::json!(["Kai", "Robin"]));
    assert_eq!(weeks[0]["mood"]["Robin"], 1.0, "oldest week");
    assert_eq!(weeks[51]["mood"]["Robin"], 4.0, "this week");
    let kai = weeks[30]["mood"]["Kai"].as_f64().unwrap();
    assert!((kai - 10.0 / 3.0).abs() < 1e-9, "{kai}");

    let screen = String::from_utf8(
        d.command(&["trends", "--weeks", "52"])
            .env("LANG", "en_US.UTF-8")
            .env("COLUMNS", "100")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(screen.contains("Mood by week") && screen.contains("Kai") && screen.contains("Robin"));
    // Robin's climb shows in the bars: the oldest week is 1.0, this week 4.0.
    let rows: Vec<&str> = screen.lines().filter(|l| l.starts_with('W')).collect();
    assert_eq!(rows.len(), 52, "{screen}");
    assert!(
        rows[0].contains("1.0") && rows[51].contains("4.0"),
        "{screen}"
    );
    let svg = d.dir.path().join("trends.svg");
    d.ok(&["trends", "--weeks", "52", "--output", svg.to_str().unwrap()]);
    let image = std::fs::read_to_string(&svg).unwrap();
    assert!(image.starts_with("<svg") && image.contains("Robin") && image.contains("<polyline"));
    assert!(d
        .fails(&["trends", "--output", "chart.jpg"])
        .contains("neither an .svg nor a .png file"));
}

/// The charts people read: weeks labelled `W45 ·  2 Nov`, a single week with a check-in drawn
/// (not lost for want of a line), a week with none shown as a gap, both partners in one
/// chart, a sentence instead of empty boxes, the terminal's width kept, plain ASCII outside a
/// UTF-8 locale; images as SVG or PNG (by extension, any case), with whole-number ticks.
#[test]
fn trends_charts_people_can_read() {
    let d = Device::new("Alex");
    let run = |args: &[&str], env: &[(&str, &str)]| -> String {
        let mut c = d.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let utf8 = [("LANG", "en_US.UTF-8"), ("COLUMNS", "90")];
    let empty = run(&["trends", "--weeks", "4"], &utf8);
    assert!(empty.contains("no check-ins in these weeks yet"), "{empty}");
    assert!(
        !empty.contains('█') && !empty.contains('\u{2800}'),
        "{empty}"
    );

    // One check-in, two weeks ago: a single point, between two empty weeks.
    d.ok(&["checkin", "--mood", "4", "--at", "14 days ago"]);
    d.ok(&["promise", "add", "--every", "day", "Say where I am going"]);
    let promise = d.list_json(&["--kind", "promise"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    d.ok(&["promise", "kept", &promise]);
    let screen = run(&["trends", "--weeks", "4"], &utf8);
    let when = chrono::Utc::now() - chrono::Duration::days(14);
    let week = chrono::Datelike::iso_week(&when).week();
    let monday = when.date_naive()
        - chrono::Duration::days(chrono::Datelike::weekday(&when).num_days_from_monday() as i64);
    let label = format!(
        "W{week:02} · {:>2} {}",
        monday.format("%-d"),
        monday.format("%b")
    );
    let row = screen
        .lines()
        .find(|l| l.starts_with(&label))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{screen}"));
    assert!(row.contains('█') && row.contains("4.0"), "{screen}");
    let rows: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("Mood"))
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with('W'))
        .collect();
    assert_eq!(rows.len(), 4, "{screen}");
    let gaps = rows.iter().filter(|r| !r.contains('█')).count();
    assert_eq!(gaps, 3, "the weeks without a check-in are gaps: {screen}");
    for r in &rows {
        assert!(r.chars().count() <= 90, "{r:?}");
    }
    // Counts are whole numbers.
    assert!(screen.contains("Promises by week"), "{screen}");
    assert!(
        !screen
            .lines()
            .filter(|l| l.starts_with('W'))
            .skip(4)
            .any(|l| l.contains(".0")),
        "{screen}"
    );

    // Narrow and plain.
    let ascii = run(
        &["trends", "--weeks", "4"],
        &[("LANG", "C"), ("COLUMNS", "40")],
    );
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(ascii.contains('#'), "{ascii}");
    for l in ascii.lines().filter(|l| l.starts_with('W')) {
        assert!(l.chars().count() <= 40, "{l:?}");
    }

    // Images, by extension in any case.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("trends.PNG");
    run(
        &["trends", "--weeks", "4", "--output", png.to_str().unwrap()],
        &[],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let svg = dir.path().join("trends.Svg");
    run(
        &["trends", "--weeks", "4", "--output", svg.to_str().unwrap()],
        &[],
    );
    let image = std::fs::read_to_string(&svg).unwrap();
    assert!(
        image.contains(&label.replace("  ", " ")) || image.contains(&label),
        "week labels"
    );
    assert!(
        image.contains("<circle"),
        "a single week is drawn as a point"
    );
    // Tick labels are whole numbers: no "0.5" on any axis.
    let decimal_tick = regex_lite_decimal(&image);
    assert!(!decimal_tick, "a fractional tick in the SVG");
}

/// Whether an SVG text element holds a number with a fractional part (`>1.5<`).
fn regex_lite_decimal(svg: &str) -> bool {
    svg.split('>').filter_map(|s| s.split('<').next()).any(|t| {
        let t = t.trim();
        t.contains('.') && t.parse::<f64>().is_ok()
    })
}

/// What one may not answer is refused with a line saying why and what to do, and nothing is
/// written.
#[test]
fn answers_one_may_not_give_are_refused_in_words_and_write_nothing() {
    let alex = Device::new("Alex");
    let promise = alex
        .ok(&["promise", "add", "Call at noon"])
        .trim()
        .to_owned();
    let plain = alex.write(&["Just words"]).trim().to_owned();
    let ask = alex
        .ok(&["reassure", "ask", "Tell me we are okay"])
        .trim()
        .to_owned();
    let before = alex.snapshot_files();
    for (args, said, hint) in [
        (
            vec!["promise", "confirm", promise.as_str()],
            "you cannot confirm your own promise",
            "your partner confirms",
        ),
        (
            vec!["promise", "kept", plain.as_str()],
            "is not a promise",
            "`mend promise list` shows the promises",
        ),
        (
            vec!["ack", plain.as_str()],
            "that is your own entry",
            "`mend status` lists your partner's entries",
        ),
        (
            vec!["reassure", "give", ask.as_str(), "We", "are"],
            "this is your own request",
            "your partner answers it",
        ),
    ] {
        let err = alex.fails(&args);
        assert!(err.contains(said) && err.contains(hint), "{args:?}: {err}");
    }
    assert_eq!(alex.snapshot_files(), before);
}

#[test]
fn records_cannot_inflate_receipts_answers_and_retracted_promises() {
    let (alex, sam, serve, addr) = crate::util::alex_serving_paired_with_sam();
    let sync = || sam.ok(&["sync", "--peer", &addr]);

    let words = alex.write(&["Something hard to say"]);
    let ask = alex
        .ok(&["reassure", "ask", "Are we okay?"])
        .trim()
        .to_owned();
    sync();
    // One receipt and one answer per person: the second of each is refused and writes nothing.
    sam.ok(&["ack", &words]);
    sam.ok(&["reassure", "give", &ask, "We are."]);
    let before = sam.snapshot_files();
    let err = sam.fails(&["ack", &words]);
    assert!(err.contains("already answered"), "{err}");
    let err = sam.fails(&["reassure", "give", &ask, "Still are."]);
    assert!(err.contains("already answered"), "{err}");
    assert_eq!(sam.snapshot_files(), before);
    // Alex's request no longer waits on Sam's laptop, and Sam's answer reads in seconds.
    let status = json(&sam, &["status", "--json"]);
    assert_eq!(
        status["open_reassurance"],
        serde_json::json!([]),
        "{status}"
    );
    sync();
    // Relative times are exact below a minute ("3 seconds ago", not "a minute ago").
    let text = alex.ok(&["status"]);
    assert!(
        text.contains(" seconds ago") || text.contains(" second ago"),
        "{text}"
    );
    assert!(!text.contains("a minute ago"), "{text}");

    // A retracted promise takes no events and leaves the promise list.
    let p = alex
        .ok(&["promise", "add", "Walk on Sundays"])
        .trim()
        .to_owned();
    alex.ok(&["delete", &p, "--yes"]);
    let err = alex.fails(&["promise", "kept", &p]);
    assert!(err.contains("retracted"), "{err}");
    assert_eq!(
        json(&alex, &["promise", "list", "--json"]),
        serde_json::json!([])
    );
    serve.terminate();
}

#[test]
fn answering_a_prompt_again_asks_before_opening_a_new_round() {
    let d = Device::new("Alex");
    d.ok(&["together", "act-1", "My first answer"]);
    let before = d.snapshot_files();
    // Not on a terminal: refused with what to do, nothing written.
    let err = d.fails(&["together", "act-1", "Answered again by mistake"]);
    assert!(
        err.contains("you answered `act-1` already") && err.contains("--again"),
        "{err}"
    );
    assert_eq!(d.snapshot_files(), before);
    // Meant: a new round.
    d.ok(&["together", "act-1", "--again", "A new round, on purpose"]);
    let answers: Vec<serde_json::Value> = d
        .list_json(&["--kind", "together-answer"])
        .into_iter()
        .collect();
    assert_eq!(answers.len(), 2);
    // Another prompt is not affected.
    d.ok(&["together", "act-2", "Something else"]);
}
