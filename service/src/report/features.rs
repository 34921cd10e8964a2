//! "Points per feature": one section per feature with its points curve over the range bins and
//! a table of every bin (missing and special-code bins included), so an analyst can check each
//! bin's rows, default rate and points against the curve.

use super::chart::Chart;
use super::esc;
use credit_core::artifact::{FeatureCard, ModelArtifact};
use credit_core::FEATURES;

/// One section per feature, in schema order.
pub(super) fn sections(art: &ModelArtifact) -> Vec<String> {
    art.features
        .iter()
        .zip(FEATURES.iter())
        .map(|(card, spec)| section(spec.name, card))
        .collect()
}

fn section(name: &str, card: &FeatureCard) -> String {
    format!(
        "<section><h3>{} <small>({})</small></h3>{}<details><summary>bins</summary><table><tr><th>bin</th><th>rows</th><th>default rate</th><th>points</th></tr>{}</table></details></section>",
        esc(name),
        esc(&card.reason_code),
        points_chart(name, card),
        bins_table(card)
    )
}

/// Points by range bin, on a y range padded 5 points beyond every bin's points (missing and
/// special bins included, so the axis is the same as the table's).
fn points_chart(name: &str, card: &FeatureCard) -> String {
    let pts: Vec<(f64, f64)> = card
        .range_bins
        .iter()
        .enumerate()
        .map(|(k, b)| (k as f64, b.points))
        .collect();
    let (pmin, pmax) = card
        .all_bins()
        .map(|b| b.points)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let mut c = Chart::new(
        &format!("{name} points by bin"),
        (0.0, (card.range_bins.len().max(2) - 1) as f64),
        ((pmin - 5.0).floor(), (pmax + 5.0).ceil()),
        "bin (low to high value)",
        "points",
    );
    c.line(&pts, "#1f77b4", None);
    c.finish()
}

fn bins_table(card: &FeatureCard) -> String {
    super::bin_rows(card.all_bins())
}
