//! "Interaction cells" (issue #16): for a model with cells, every candidate pair ranked by its
//! estimated gain (so an analyst sees how clear the choice was, and how often the folds agreed
//! with it) and one heat map per selected pair: the points each cell adds, on a diverging
//! colour scale around zero, since a cell's points are a correction on top of its two
//! features' own points and zero means "no correction".

use super::esc;
use credit_core::artifact::{Bin, Interaction};
use credit_core::train::{PairGain, TrainOutcome};
use std::fmt::Write as _;

/// Size of a heat-map cell: room for its points and its row count ("36419 rows") on two lines.
const CELL_W: f64 = 76.0;
const CELL_H: f64 = 34.0;
/// Margins: row labels on the left; on top the two axis names and the column labels, drawn at
/// 45° so that long labels fit over narrow columns; on the right the overhang of the last
/// column's label; below, the legend.
const LEFT: f64 = 130.0;
const TOP: f64 = 120.0;
const RIGHT: f64 = 60.0;
const BOTTOM: f64 = 56.0;
/// Narrowest heat map: the legend's width.
const MIN_W: f64 = 420.0;
/// Longest group label drawn, in characters (about 110 units at font size 10, which the row
/// labels' margin and the column labels' height hold); the full label is the `<title>`.
const LABEL_CHARS: usize = 18;
/// The diverging scale: fewer points (higher risk) red, none near-white, more points blue
/// (ColorBrewer RdBu ends, readable with the common colour-vision deficiencies).
const RED: [u8; 3] = [0xb2, 0x18, 0x2b];
const MID: [u8; 3] = [0xf7, 0xf7, 0xf7];
const BLUE: [u8; 3] = [0x21, 0x66, 0xac];
/// Swatches in the legend, from the most negative points to the most positive.
const SWATCHES: usize = 11;

const INTRO: &str = "Each selected pair of features adds a grid of cells over coarse groups of the two features' bins: an applicant gets the points of the cell their two values fall in, on top of each feature's own points (so a cell with 0 points changes nothing). Candidate pairs are ranked by their estimated gain (nats of log-likelihood on all training rows: one Newton step on the pair's grid beyond what its two features explain alone); the model keeps the pairs of highest gain; age is in a pair only when asked (--age-pairs), and then no applicant aged 62 or more gets fewer points from age through a cell than a younger one with the same other features (Regulation B). The folds column counts the cross-validation folds that chose the pair on their own training rows.";

/// The section, or an empty string for an additive model (no cells and no candidate pairs),
/// whose page must stay as it was before this section existed.
pub(super) fn section(outcome: &TrainOutcome) -> String {
    let art = &outcome.artifact;
    if art.interactions.is_empty() && outcome.pair_gains.is_empty() {
        return String::new();
    }
    let maps: Vec<String> = art.interactions.iter().map(pair_section).collect();
    format!(
        "\n<h2>Interaction cells</h2>\n<p>{INTRO}</p>\n{}\n{}",
        gain_table(outcome),
        maps.join("\n")
    )
}

/// Every candidate pair by decreasing gain; the selected ones in bold with "yes".
fn gain_table(outcome: &TrainOutcome) -> String {
    let mut ranked: Vec<&PairGain> = outcome.pair_gains.iter().collect();
    ranked.sort_by(|a, b| b.gain.total_cmp(&a.gain));
    let folds = outcome.fold_pairs.len();
    let mut rows = String::new();
    for (rank, g) in ranked.iter().enumerate() {
        let chosen = outcome
            .fold_pairs
            .iter()
            .filter(|pairs| pairs.iter().any(|p| same_pair(p, &g.features)))
            .count();
        let (style, selected) = if g.selected {
            (r#" style="font-weight:bold""#, "yes")
        } else {
            ("", "no")
        };
        let _ = write!(
            rows,
            "<tr{style}><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{selected}</td><td>{chosen} of {folds}</td></tr>",
            rank + 1,
            esc(&g.features[0]),
            esc(&g.features[1]),
            g.gain,
        );
    }
    format!(
        "<table><tr><th>rank</th><th>first feature (rows)</th><th>second feature (columns)</th><th>gain (nats)</th><th>selected</th><th>folds that chose it</th></tr>{rows}</table>"
    )
}

/// The same two features, in either order (a fold's list and the final ranking both use schema
/// order, but nothing here should depend on it).
fn same_pair(a: &[String; 2], b: &[String; 2]) -> bool {
    (a[0] == b[0] && a[1] == b[1]) || (a[0] == b[1] && a[1] == b[0])
}

/// One pair: its heat map and, folded away, the table of its cells.
fn pair_section(inter: &Interaction) -> String {
    let table = super::bin_rows(&inter.cells);
    format!(
        "<section><h3>{} × {}</h3>{}<details><summary>cells</summary><table><tr><th>cell</th><th>rows</th><th>default rate</th><th>points</th></tr>{table}</table></details></section>",
        esc(&inter.features[0]),
        esc(&inter.features[1]),
        heat_map(inter)
    )
}

/// Where a pair's heat map puts things: rows are the first feature's groups, columns the
/// second's.
struct Grid {
    rows: usize,
    cols: usize,
    width: f64,
    height: f64,
    /// Largest points magnitude of the pair's cells: the ends of the colour scale.
    scale: f64,
}

impl Grid {
    fn of(inter: &Interaction) -> Grid {
        let rows = inter.group_labels[0].len();
        let cols = inter.group_labels[1].len();
        Grid {
            rows,
            cols,
            width: (LEFT + cols as f64 * CELL_W + RIGHT).max(MIN_W),
            height: TOP + rows as f64 * CELL_H + BOTTOM,
            scale: inter
                .cells
                .iter()
                .map(|c| c.points.abs())
                .fold(0.0, f64::max),
        }
    }

    fn x(&self, col: usize) -> f64 {
        LEFT + col as f64 * CELL_W
    }

    fn y(&self, row: usize) -> f64 {
        TOP + row as f64 * CELL_H
    }
}

fn heat_map(inter: &Interaction) -> String {
    let g = Grid::of(inter);
    let [a, b] = &inter.features;
    let label = format!(
        "Interaction cells of {a} (rows, {} groups) by {b} (columns, {} groups): points each cell adds to the score",
        g.rows, g.cols
    );
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><rect width="100%" height="100%" fill="#fff"/>"##,
        w = g.width,
        h = g.height,
        label = attr(&label),
    );
    svg.push_str(&axis_labels(inter, &g));
    for (k, cell) in inter.cells.iter().enumerate().take(g.rows * g.cols) {
        svg.push_str(&cell_svg(&g, k / g.cols, k % g.cols, cell));
    }
    svg.push_str(&legend(&g));
    svg.push_str("</svg>");
    svg
}

/// The two axis names on top, the row groups on the left (right-aligned to the grid) and the
/// column groups above the grid at 45°, each shortened with its full label as `<title>`.
fn axis_labels(inter: &Interaction, g: &Grid) -> String {
    let [a, b] = &inter.features;
    let mut s = format!(
        r#"<text x="8" y="16" font-size="11">rows: {}</text><text x="8" y="31" font-size="11">columns: {}</text>"#,
        esc(a),
        esc(b)
    );
    for (r, text) in inter.group_labels[0].iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10"><title>{}</title>{}</text>"#,
            LEFT - 6.0,
            g.y(r) + CELL_H / 2.0 + 3.5,
            esc(text),
            esc(&short_label(text))
        );
    }
    for (c, text) in inter.group_labels[1].iter().enumerate() {
        let (x, y) = (g.x(c) + CELL_W / 2.0 - 3.0, TOP - 6.0);
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" transform="rotate(-45 {x:.1} {y:.1})" font-size="10"><title>{}</title>{}</text>"#,
            esc(text),
            esc(&short_label(text))
        );
    }
    s
}

/// One cell: coloured by its points, labelled with its points and rows; its `<title>` says the
/// same in full, with the default rate.
fn cell_svg(g: &Grid, row: usize, col: usize, cell: &Bin) -> String {
    let (x, y) = (g.x(col), g.y(row));
    let t = if g.scale > 0.0 {
        cell.points / g.scale
    } else {
        0.0
    };
    let ink = if t.abs() > 0.55 { "#fff" } else { "#222" };
    let cx = x + CELL_W / 2.0;
    let rate = if cell.count == 0 {
        "no training rows".to_owned()
    } else {
        format!("default rate {:.1}%", 100.0 * cell.event_rate)
    };
    format!(
        r##"<g><title>{label}: {p:+.2} points, {n} rows, {rate}</title><rect x="{x:.1}" y="{y:.1}" width="{CELL_W}" height="{CELL_H}" fill="{fill}" stroke="#fff"/><text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="{ink}">{pts}</text><text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="9" fill="{ink}">{n} rows</text></g>"##,
        y + 15.0,
        y + 28.0,
        label = esc(&cell.label),
        p = cell.points + 0.0,
        n = cell.count,
        fill = colour(t),
        pts = points_text(cell.points),
    )
}

/// A cell's points as drawn: one decimal with its sign, "0" for a cell without points, and two
/// decimals when one would round a non-zero value to zero.
pub(super) fn points_text(points: f64) -> String {
    let p = points + 0.0; // no "-0"
    if p == 0.0 {
        "0".to_owned()
    } else if (p * 10.0).round() == 0.0 {
        format!("{p:+.2}")
    } else {
        format!("{p:+.1}")
    }
}

/// What the colour means: a row of swatches from the pair's most negative points to its most
/// positive, with the ends and zero labelled.
fn legend(g: &Grid) -> String {
    let top = TOP + g.rows as f64 * CELL_H;
    let mut s = format!(
        r#"<text x="8" y="{:.1}" font-size="10">colour: points the cell adds to the score</text>"#,
        top + 16.0
    );
    let sw = 20.0;
    for k in 0..SWATCHES {
        let t = -1.0 + 2.0 * k as f64 / (SWATCHES - 1) as f64;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{sw}" height="10" fill="{}"/>"#,
            8.0 + sw * k as f64,
            top + 24.0,
            colour(t)
        );
    }
    // An outline, so that the near-white middle swatch shows against the page.
    let _ = write!(
        s,
        r##"<rect x="8" y="{:.1}" width="{}" height="10" fill="none" stroke="#ccc"/>"##,
        top + 24.0,
        sw * SWATCHES as f64
    );
    let ends = [(0, -g.scale), (SWATCHES / 2, 0.0), (SWATCHES - 1, g.scale)];
    for (k, v) in ends {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
            8.0 + sw * (k as f64 + 0.5),
            top + 46.0,
            points_text(v)
        );
    }
    let x = 8.0 + sw * SWATCHES as f64 + 12.0;
    let _ = write!(
        s,
        r#"<text x="{x:.1}" y="{:.1}" font-size="10">red: fewer points, higher risk</text><text x="{x:.1}" y="{:.1}" font-size="10">blue: more points, lower risk</text>"#,
        top + 33.0,
        top + 46.0
    );
    s
}

/// Colour of `t` in [-1, 1] (points over the pair's largest magnitude) on the diverging scale.
pub(super) fn colour(t: f64) -> String {
    let t = t.clamp(-1.0, 1.0);
    let (end, s) = if t < 0.0 { (RED, -t) } else { (BLUE, t) };
    let mix = |k: usize| {
        let (m, e) = (f64::from(MID[k]), f64::from(end[k]));
        (m + (e - m) * s).round() as u8
    };
    format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2))
}

/// A group label short enough to draw: long decimals rounded to four significant digits (the
/// utilisation edges have nine), then cut to [`LABEL_CHARS`] characters with an ellipsis.
pub(super) fn short_label(label: &str) -> String {
    let compact = compact_numbers(label);
    if compact.chars().count() <= LABEL_CHARS {
        return compact;
    }
    let mut s: String = compact.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

fn compact_numbers(label: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for ch in label.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            run.push(ch);
            continue;
        }
        out.push_str(&compact_number(&run));
        run.clear();
        out.push(ch);
    }
    out.push_str(&compact_number(&run));
    out
}

/// `run` (digits and dots) with four significant digits if it is a decimal of more than six
/// characters that gets shorter; otherwise unchanged (`3912.5` stays as it is).
fn compact_number(run: &str) -> String {
    let Ok(v) = run.parse::<f64>() else {
        return run.to_owned();
    };
    if run.len() <= 6 || !run.contains('.') || v == 0.0 || !v.is_finite() {
        return run.to_owned();
    }
    let decimals = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    let short = format!("{v:.decimals$}");
    if short.len() < run.len() {
        short
    } else {
        run.to_owned()
    }
}

/// Text for an attribute value: [`esc`] plus the double quote.
fn attr(s: &str) -> String {
    esc(s).replace('"', "&quot;")
}
