//! `mend trends`: weekly charts of moods, promises and reassurance, in the terminal
//! (`crate::charts`) or as an SVG or PNG image (plotters draws the SVG; resvg turns it into
//! PNG).

use std::path::Path;

use anyhow::Result;
use mend_app::model::{trends, Trends};

use crate::charts::{week_label, Style};
use crate::cli::{Global, TrendsArgs};
use crate::fail::fail;
use crate::render;
use crate::unlock::Unlocked;

/// The image formats `--output` writes, by the file's extension (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "svg" => Some(Format::Svg),
        "png" => Some(Format::Png),
        _ => None,
    }
}

/// One panel of the image: its title, whether its values are counts (whole numbers), and its
/// named series of (week index, value).
struct Panel {
    title: &'static str,
    counts: bool,
    series: Vec<(String, Vec<(usize, f64)>)>,
}

fn panels(t: &Trends) -> [Panel; 3] {
    let count = |f: &dyn Fn(&mend_app::model::WeekTrend) -> usize| -> Vec<(usize, f64)> {
        t.weeks
            .iter()
            .enumerate()
            .map(|(i, w)| (i, f(w) as f64))
            .collect()
    };
    [
        Panel {
            title: "Mood by week: the average of the check-ins, 1 (very low) to 5 (very good)",
            counts: false,
            series: t
                .people
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
        },
        Panel {
            title: "Promises by week",
            counts: true,
            series: vec![
                ("kept".into(), count(&|w| w.promises.kept)),
                ("missed".into(), count(&|w| w.promises.missed)),
                ("confirmed".into(), count(&|w| w.promises.confirmed)),
            ],
        },
        Panel {
            title: "Reassurance by week",
            counts: true,
            series: vec![
                ("asked".into(), count(&|w| w.reassurance_asked)),
                ("answered".into(), count(&|w| w.reassurance_answered)),
            ],
        },
    ]
}

/// Runs of consecutive weeks in `pts`: a line joins the weeks of a run, never across a week
/// with nothing.
fn runs(pts: &[(usize, f64)]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    for &p in pts {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| l.0 + 1 == p.0) => run.push(p),
            _ => out.push(vec![p]),
        }
    }
    out
}

/// The charts as an SVG document.
fn svg(t: &Trends) -> Result<String, String> {
    use plotters::prelude::*;
    let n = t.weeks.len().max(1);
    let style = Style {
        width: 80,
        unicode: true,
    };
    let labels: Vec<String> = t.weeks.iter().map(|w| week_label(&w.week, style)).collect();
    let label_of = |i: &usize| labels.get(*i).cloned().unwrap_or_default();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (1000, 1050)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let areas = root.split_evenly((3, 1));
        let colors = [RED, BLUE, GREEN, MAGENTA, CYAN];
        for (area, panel) in areas.iter().zip(panels(t)) {
            let top = panel
                .series
                .iter()
                .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            let empty =
                panel.series.iter().all(|(_, pts)| pts.is_empty()) || (panel.counts && top == 0.0);
            let (ymax, ylabels) = if panel.counts {
                // Whole numbers: a tick per unit up to the busiest week (and one above).
                let ymax = top.ceil().max(1.0) + 1.0;
                (ymax, (ymax as usize + 1).min(12))
            } else {
                (5.5, 6)
            };
            // One week more on the right, so that the last week's point is not on the edge.
            let mut chart = ChartBuilder::on(area)
                .caption(panel.title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(40)
                .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..ymax)
                .map_err(|e| e.to_string())?;
            let counts = panel.counts;
            chart
                .configure_mesh()
                .x_labels(n.min(13))
                .x_label_formatter(&|x: &f64| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        label_of(&(i as usize))
                    } else {
                        String::new()
                    }
                })
                .y_labels(ylabels)
                .y_label_formatter(&|y: &f64| {
                    if counts {
                        format!("{}", y.round() as i64)
                    } else {
                        format!("{y:.0}")
                    }
                })
                .draw()
                .map_err(|e| e.to_string())?;
            if empty {
                let what = if panel.counts {
                    "nothing in these weeks"
                } else {
                    "no check-ins in these weeks yet"
                };
                area.draw(&Text::new(what, (420, 160), ("sans-serif", 20)))
                    .map_err(|e| e.to_string())?;
                continue;
            }
            for (k, (name, pts)) in panel.series.into_iter().enumerate() {
                let color = colors[k % colors.len()];
                let pts: Vec<(f64, f64)> = pts.iter().map(|&(i, v)| (i as f64, v)).collect();
                let as_weeks: Vec<(usize, f64)> =
                    pts.iter().map(|&(x, v)| (x as usize, v)).collect();
                for run in runs(&as_weeks) {
                    chart
                        .draw_series(LineSeries::new(
                            run.into_iter().map(|(i, v)| (i as f64, v)),
                            color.stroke_width(2),
                        ))
                        .map_err(|e| e.to_string())?;
                }
                // A point for every week with something: a single week is seen.
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| e.to_string())?
                    .label(name)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
            chart
                .configure_series_labels()
                .border_style(BLACK)
                .background_style(WHITE)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// `svg` drawn as a PNG image, its text in a sans-serif font of this system.
fn png(svg: &str) -> Result<Vec<u8>, String> {
    use resvg::usvg;
    let mut options = usvg::Options::default();
    let db = options.fontdb_mut();
    db.load_system_fonts();
    let family = [
        "DejaVu Sans",
        "Liberation Sans",
        "Noto Sans",
        "Helvetica",
        "Arial",
    ]
    .into_iter()
    .find(|f| {
        db.faces()
            .any(|face| face.families.iter().any(|(n, _)| n == f))
    })
    .map(str::to_owned)
    .or_else(|| {
        db.faces()
            .find_map(|f| f.families.first().map(|(n, _)| n.clone()))
    });
    if let Some(family) = family {
        db.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or("the image has no size")?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| e.to_string())
}

fn write_image(t: &Trends, path: &Path, format: Format) -> Result<(), String> {
    let drawn = svg(t)?;
    let bytes = match format {
        Format::Svg => drawn.into_bytes(),
        Format::Png => png(&drawn)?,
    };
    std::fs::write(path, bytes).map_err(|e| e.to_string())
}

pub fn run(g: &Global, a: TrendsArgs) -> Result<()> {
    let format = match &a.output {
        Some(out) => Some(format_of(out).ok_or_else(|| {
            fail(
                format!("{} is neither an .svg nor a .png file", out.display()),
                "use --output trends.svg or --output trends.png",
            )
        })?),
        None => None,
    };
    let entries = Unlocked::new(g)?.read_documents()?.shared;
    let t = trends(&entries, chrono::Utc::now(), a.weeks.max(1));
    if a.json {
        return render::print_json(&serde_json::to_value(&t)?);
    }
    match (&a.output, format) {
        (Some(path), Some(format)) => {
            write_image(&t, path, format).map_err(|e| {
                fail(
                    format!("cannot write {}: {e}", path.display()),
                    "check the path",
                )
            })?;
            println!("wrote {}", path.display());
        }
        _ => render::print_all(&crate::charts::render(&t, Style::of_this_terminal()))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_consecutive_weeks_only() {
        let r = runs(&[(0, 1.0), (1, 2.0), (3, 4.0), (5, 1.0), (6, 1.0)]);
        assert_eq!(
            r,
            vec![
                vec![(0, 1.0), (1, 2.0)],
                vec![(3, 4.0)],
                vec![(5, 1.0), (6, 1.0)]
            ]
        );
    }

    #[test]
    fn the_format_comes_from_the_extension_in_any_case() {
        assert_eq!(format_of(Path::new("a.SVG")), Some(Format::Svg));
        assert_eq!(format_of(Path::new("a.Png")), Some(Format::Png));
        assert_eq!(format_of(Path::new("a.jpg")), None);
        assert_eq!(format_of(Path::new("a")), None);
    }
}
