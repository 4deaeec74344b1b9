//! `mend trends`: weekly charts of moods, promises and reassurance, in the terminal (textplots)
//! or as an SVG image (plotters).

use std::path::Path;

use anyhow::Result;
use mend_app::model::{trends, Trends};
use textplots::{Chart, Plot, Shape};

use crate::cli::{Global, TrendsArgs};
use crate::fail::fail;
use crate::render;
use crate::unlock::Unlocked;

fn terminal_chart(title: &str, points: &[(f32, f32)], weeks: usize, ymax: f32) -> String {
    let mut chart = Chart::new_with_y_range(100, 24, 0.0, weeks.max(2) as f32 - 1.0, 0.0, ymax);
    let shape = Shape::Lines(points);
    let c = chart.lineplot(&shape);
    c.axis();
    c.figures();
    format!("{title}\n{c}")
}

fn series(t: &Trends, f: impl Fn(&mend_app::model::WeekTrend) -> Option<f64>) -> Vec<(f32, f32)> {
    t.weeks
        .iter()
        .enumerate()
        .filter_map(|(i, w)| f(w).map(|v| (i as f32, v as f32)))
        .collect()
}

/// The most promises kept, missed or confirmed in any one week (at least 1, to scale a chart).
fn busiest_promise_week(t: &Trends) -> usize {
    t.weeks
        .iter()
        .map(|w| {
            w.promises
                .kept
                .max(w.promises.missed)
                .max(w.promises.confirmed)
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

fn print_terminal(t: &Trends) {
    let n = t.weeks.len();
    let first = t.weeks.first().map(|w| w.week.as_str()).unwrap_or("");
    let last = t.weeks.last().map(|w| w.week.as_str()).unwrap_or("");
    println!("Trends for {n} weeks, {first} to {last} (x: weeks, oldest on the left)\n");
    for who in &t.people {
        let pts = series(t, |w| w.mood.get(who).copied());
        println!(
            "{}",
            terminal_chart(
                &format!("{who}'s mood by week (check-ins, 1 to 5)"),
                &pts,
                n,
                5.0
            )
        );
    }
    let max_promises = busiest_promise_week(t) as f32;
    for (label, pick) in [
        ("Promises kept per week", 0usize),
        ("Promises missed per week", 1),
        ("Promises confirmed per week", 2),
    ] {
        let pts = series(t, |w| {
            Some([w.promises.kept, w.promises.missed, w.promises.confirmed][pick] as f64)
        });
        println!("{}", terminal_chart(label, &pts, n, max_promises));
    }
    let max_r = t
        .weeks
        .iter()
        .map(|w| w.reassurance_asked.max(w.reassurance_answered))
        .max()
        .unwrap_or(0)
        .max(1) as f32;
    let asked = series(t, |w| Some(w.reassurance_asked as f64));
    println!(
        "{}",
        terminal_chart("Reassurance asked per week", &asked, n, max_r)
    );
    let answered = series(t, |w| Some(w.reassurance_answered as f64));
    println!(
        "{}",
        terminal_chart("Reassurance given per week", &answered, n, max_r)
    );
    match t.median_minutes_to_reassure {
        Some(m) => println!(
            "Median time to answer a request for reassurance: {}",
            crate::render::duration_words(m * 60.0)
        ),
        None => println!("No request for reassurance was answered in these weeks."),
    }
    println!();
    print!("{:<10}", "week");
    for who in &t.people {
        print!(" {:>8}", format!("{who:.8}"));
    }
    println!(
        " {:>5} {:>6} {:>9} {:>5} {:>8}",
        "kept", "missed", "confirmed", "asked", "answered"
    );
    for w in &t.weeks {
        print!("{:<10}", w.week);
        for who in &t.people {
            match w.mood.get(who) {
                Some(m) => print!(" {m:>8.1}"),
                None => print!(" {:>8}", "-"),
            }
        }
        println!(
            " {:>5} {:>6} {:>9} {:>5} {:>8}",
            w.promises.kept,
            w.promises.missed,
            w.promises.confirmed,
            w.reassurance_asked,
            w.reassurance_answered
        );
    }
}

/// One chart of the image: its title, the top of its y axis, and its named lines.
type Panel<'a> = (&'a str, f64, Vec<(String, Vec<(usize, f64)>)>);

fn write_svg(t: &Trends, path: &Path) -> Result<()> {
    use plotters::prelude::*;
    let n = t.weeks.len().max(2);
    let labels: Vec<String> = t.weeks.iter().map(|w| w.week.clone()).collect();
    let root = SVGBackend::new(path, (1000, 1050)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((3, 1));
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN];
    let label_of = |i: &usize| labels.get(*i).cloned().unwrap_or_default();
    let panels: [Panel; 3] = [
        (
            "Mood by week (check-ins, 1 to 5)",
            5.5,
            t.people
                .iter()
                .map(|who| {
                    let pts = t
                        .weeks
                        .iter()
                        .enumerate()
                        .filter_map(|(i, w)| w.mood.get(who).map(|m| (i, *m)))
                        .collect();
                    (who.clone(), pts)
                })
                .collect(),
        ),
        (
            "Promises per week",
            busiest_promise_week(t) as f64 * 1.2,
            vec![
                (
                    "kept".into(),
                    t.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| (i, w.promises.kept as f64))
                        .collect(),
                ),
                (
                    "missed".into(),
                    t.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| (i, w.promises.missed as f64))
                        .collect(),
                ),
                (
                    "confirmed".into(),
                    t.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| (i, w.promises.confirmed as f64))
                        .collect(),
                ),
            ],
        ),
        (
            "Reassurance per week",
            t.weeks
                .iter()
                .map(|w| w.reassurance_asked.max(w.reassurance_answered))
                .max()
                .unwrap_or(0)
                .max(1) as f64
                * 1.2,
            vec![
                (
                    "asked".into(),
                    t.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| (i, w.reassurance_asked as f64))
                        .collect(),
                ),
                (
                    "answered".into(),
                    t.weeks
                        .iter()
                        .enumerate()
                        .map(|(i, w)| (i, w.reassurance_answered as f64))
                        .collect(),
                ),
            ],
        ),
    ];
    for (area, (title, ymax, lines)) in areas.iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n - 1, 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_labels(n.min(13))
            .x_label_formatter(&label_of)
            .draw()?;
        for (k, (name, pts)) in lines.into_iter().enumerate() {
            let color = colors[k % colors.len()];
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart.configure_series_labels().border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

pub fn run(g: &Global, a: TrendsArgs) -> Result<()> {
    if let Some(out) = &a.output {
        if out.extension().and_then(|e| e.to_str()) != Some("svg") {
            return Err(fail(
                format!("{} is not an .svg file", out.display()),
                "use --output trends.svg",
            )
            .into());
        }
    }
    let entries = Unlocked::new(g)?.read_documents()?.shared;
    let t = trends(&entries, chrono::Utc::now(), a.weeks.max(1));
    if a.json {
        return render::print_json(&serde_json::to_value(&t)?);
    }
    match &a.output {
        Some(path) => {
            write_svg(&t, path).map_err(|e| {
                fail(
                    format!("cannot write {}: {e}", path.display()),
                    "check the path",
                )
            })?;
            println!("wrote {}", path.display());
        }
        None => print_terminal(&t),
    }
    Ok(())
}
