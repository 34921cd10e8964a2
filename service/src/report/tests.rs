//! The report's page: the interaction section of a model with cells (gain table, one heat map
//! per selected pair with every cell in it) and its absence for an additive model.

use super::{cells, index_html};
use credit_core::train::{train, TrainConfig, TrainOutcome, TrainingSet};
use credit_core::N_FEATURES;
use std::sync::OnceLock;

/// Seeded rows in the schema's layout whose labels come from a logistic model with a
/// utilisation × 90-days-late interaction, so that the trainer finds pairs worth cells.
fn synthetic(n: usize) -> TrainingSet {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut u = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let late = |x: f64| {
        if x < 0.8 {
            0.0
        } else {
            ((x - 0.8) * 20.0).floor() + 1.0
        }
    };
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let util = u() * 1.3;
        let income = if u() < 0.2 {
            f64::NAN
        } else {
            (u() * 15_000.0).floor()
        };
        let r: [f64; N_FEATURES] = [
            util,
            (21.0 + u() * 70.0).floor(),
            late(u()),
            u() * 2.0,
            income,
            (u() * 20.0).floor(),
            late(u()),
            (u() * 4.0).floor(),
            late(u()),
            (u() * 4.0).floor(),
        ];
        let z = -3.0 + 1.5 * util + 0.6 * r[6].min(3.0) + 1.5 * util * r[6].min(2.0)
            - 0.02 * (r[1] - 50.0);
        labels.push(u8::from(u() < 1.0 / (1.0 + (-z).exp())));
        rows.push(r);
    }
    TrainingSet {
        rows,
        labels,
        sha256: String::new(),
    }
}

/// A model trained on 1,500 synthetic rows in 3 folds (so `fold_pairs` has three lists) with
/// `interactions` pairs of cells; small bins keep it fast in a debug build.
fn trained(interactions: usize) -> TrainOutcome {
    let cfg = TrainConfig {
        interactions,
        max_bins: 12,
        folds: 3,
        ..TrainConfig::default()
    };
    train(&synthetic(1500), &cfg, &mut |_| {}).expect("training on synthetic rows")
}

/// The model with two pairs of cells, trained once for the tests that read it.
fn with_cells() -> &'static TrainOutcome {
    static OUTCOME: OnceLock<TrainOutcome> = OnceLock::new();
    OUTCOME.get_or_init(|| trained(2))
}

/// The SVG whose aria-label names this pair.
fn heat_map_of<'a>(html: &'a str, features: &[String; 2]) -> &'a str {
    let key = format!("aria-label=\"Interaction cells of {} (rows", features[0]);
    let start = html.find(&key).expect("a heat map for every pair");
    let start = html[..start].rfind("<svg").expect("inside an svg");
    let end = start + html[start..].find("</svg>").expect("a closed svg");
    &html[start..end]
}

#[test]
fn a_model_with_cells_gets_one_heat_map_per_pair_with_every_cell() {
    let outcome = with_cells();
    let inters = &outcome.artifact.interactions;
    assert_eq!(inters.len(), 2);
    let html = index_html(outcome);
    assert_eq!(html.matches("<h2>Interaction cells</h2>").count(), 1);
    assert_eq!(html.matches("aria-label=\"Interaction cells of").count(), 2);
    assert!(inters
        .iter()
        .flat_map(|i| &i.cells)
        .any(|c| c.points != 0.0));
    for inter in inters {
        let svg = heat_map_of(&html, &inter.features);
        assert!(svg.contains("role=\"img\""));
        let n = inter.group_labels[0].len() * inter.group_labels[1].len();
        assert_eq!(inter.cells.len(), n);
        assert_eq!(svg.matches("<g><title>").count(), n);
        for cell in &inter.cells {
            let title = format!(
                "<title>{}: {:+.2} points, {} rows",
                cell.label.replace('>', "&gt;").replace('<', "&lt;"),
                cell.points + 0.0,
                cell.count
            );
            assert!(svg.contains(&title), "{title} missing");
            let drawn = format!(">{}</text><text", cells::points_text(cell.points));
            assert!(svg.contains(&drawn), "{drawn} missing");
        }
        for label in inter.group_labels.iter().flatten() {
            let full = label.replace('>', "&gt;").replace('<', "&lt;");
            assert!(svg.contains(&format!("<title>{full}</title>")), "{label}");
        }
    }
}

/// One row of the gain table, as drawn.
struct GainRow {
    features: [String; 2],
    gain: f64,
    selected: String,
    bold: bool,
    folds: String,
}

/// The gain table's rows, in page order.
fn gain_rows(html: &str) -> Vec<GainRow> {
    let start = html.find("<th>rank</th>").expect("a gain table");
    let end = start + html[start..].find("</table>").expect("a closed table");
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|row| {
            let tds: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .map(|td| td.split("</td>").next().unwrap_or(""))
                .collect();
            assert_eq!(tds.len(), 6, "{row}");
            GainRow {
                features: [tds[1].into(), tds[2].into()],
                gain: tds[3].parse().expect("a number"),
                selected: tds[4].into(),
                bold: row.starts_with(r#" style="font-weight:bold""#),
                folds: tds[5].into(),
            }
        })
        .collect()
}

#[test]
fn the_gain_table_ranks_every_pair_and_marks_the_selected_ones() {
    let mut outcome = with_cells().clone();
    // The table sorts by itself, whatever order the trainer hands the pairs in.
    outcome.pair_gains.reverse();
    let rows = gain_rows(&index_html(&outcome));
    assert_eq!(rows.len(), outcome.pair_gains.len());
    assert!(
        rows.windows(2).all(|w| w[0].gain >= w[1].gain),
        "not in gain order"
    );
    for g in &outcome.pair_gains {
        let row = rows
            .iter()
            .find(|r| r.features == g.features)
            .expect("every candidate pair has a row");
        assert_eq!(row.selected, if g.selected { "yes" } else { "no" });
        assert_eq!(row.bold, g.selected);
        let chose = outcome
            .fold_pairs
            .iter()
            .filter(|f| f.contains(&g.features))
            .count();
        assert_eq!(row.folds, format!("{chose} of 3"));
    }
    let selected: Vec<_> = rows.iter().filter(|r| r.bold).collect();
    assert_eq!(selected.len(), outcome.artifact.interactions.len());
}

#[test]
fn an_additive_model_has_no_interaction_section() {
    let outcome = trained(0);
    assert!(outcome.artifact.interactions.is_empty() && outcome.pair_gains.is_empty());
    let html = index_html(&outcome);
    assert!(html.contains("<h2>Points per feature</h2>"));
    assert!(!html.contains("Interaction cells"));
    assert!(!html.contains("<th>rank</th>"));
    assert!(html.ends_with("</details></section>\n</body></html>\n"));
}

#[test]
fn long_group_labels_are_shortened() {
    let short = cells::short_label("[0.028933262, 0.153712838)");
    assert_eq!(short, "[0.02893, 0.1537)");
    assert_eq!(cells::short_label(">= 3912.5"), ">= 3912.5");
    let cut = cells::short_label("a group label far longer than a column");
    assert_eq!(cut.chars().count(), 18);
    assert!(cut.ends_with('…'));
}

#[test]
fn points_and_colours_diverge_around_zero() {
    assert_eq!(cells::points_text(-0.0), "0");
    assert_eq!(cells::points_text(0.04), "+0.04");
    assert_eq!(cells::points_text(-2.21), "-2.2");
    assert_eq!(cells::colour(-1.0), "#b2182b");
    assert_eq!(cells::colour(0.0), "#f7f7f7");
    assert_eq!(cells::colour(1.0), "#2166ac");
    assert_eq!(cells::colour(3.0), "#2166ac");
}
